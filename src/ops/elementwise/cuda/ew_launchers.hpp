#pragma once
// Internal: finding the kernel launcher for a resolved problem. Each launch group lives in its own
// .cu file so the (many) instantiations compile in parallel.
#include <cuda_runtime_api.h>

#include "ops/elementwise/elementwise_problem.hpp"

namespace baracuda::ew::cuda {

struct LaunchContext {
  cudaStream_t stream;
  int sm_count;  // for sizing grid-stride launches
};

// Maps cudaGetLastError after a launch to backend_error naming the kernel.
Status check_launch(const char* what);
using Launcher = Status (*)(const Problem& p, const Bound& b, const LaunchContext& ctx);

// Whether the vectorized kernel (or the packed gated one) runs this problem with the fast
// 16-bit-storage functors (forward exp, sigmoid, silu, gelu_tanh, swiglu, geglu_tanh on f16/bf16;
// ew_functors_fast.cuh).
inline bool uses_fast_math(const Problem& p) {
  if (p.desc.direction != Direction::forward) return false;
  if (p.in_dtype[0] != DType::bf16 && p.in_dtype[0] != DType::f16) return false;
  switch (p.desc.op) {
    case ElementwiseOp::exp: case ElementwiseOp::sigmoid: case ElementwiseOp::silu:
    case ElementwiseOp::gelu_tanh: case ElementwiseOp::swiglu: case ElementwiseOp::geglu_tanh:
      return true;
    default:
      return false;
  }
}

// Elements per half row of a gated problem: half the gated dim times the dims after it (x is
// [outer, 2 * half] when dense).
inline int64_t gated_half_cols(const Problem& p) {
  const auto& x = p.desc.inputs[0].shape;
  const int rank = static_cast<int>(x.size());
  const int dim = p.desc.attrs.dim < 0 ? p.desc.attrs.dim + rank : p.desc.attrs.dim;
  int64_t half = x[dim] / 2;
  for (int d = dim + 1; d < rank; ++d) half *= x[d];
  return half;
}

// Each returns nullptr when the op is not in its group (or the path is not available for it).
Launcher find_unary_fwd(const Problem& p, bool vectorized);
Launcher find_unary_bwd(const Problem& p, bool vectorized);
Launcher find_binary_fwd(const Problem& p, bool vectorized);
Launcher find_binary_bwd(const Problem& p, bool vectorized);
Launcher find_ternary(const Problem& p, bool vectorized);
Launcher find_gated(const Problem& p, bool vectorized);
// Gated problems whose 16-byte packs of x hold whole rows (ew_gated_packed.cuh).
Launcher find_gated_packed(const Problem& p);
Launcher find_cast(const Problem& p, bool vectorized);
// Problems with complex compute (c64/c128), strided path only (ew_launch_complex.cu).
Launcher find_complex(const Problem& p);

// prelu backward's weight gradient: a deterministic two-stage per-channel sum.
size_t prelu_dweight_workspace(const Problem& p);
Status launch_prelu_dweight(const Problem& p, const Bound& b, void* workspace, const LaunchContext& ctx);

}  // namespace baracuda::ew::cuda
