#pragma once
// Internal: an elementwise descriptor resolved once at plan time (Problem), and the arguments of
// one run bound to the iteration space (Bound). The CPU reference and the CUDA engine both
// consume these, so shape/dtype/stride logic lives in one place (elementwise.cpp).
#include <array>
#include <cstdint>

#include "baracuda/ops/elementwise.hpp"

namespace baracuda::ew {

inline constexpr int kMaxKernelInputs = 4;   // backward ternary: dy, a, b, c
inline constexpr int kMaxKernelOutputs = 3;  // backward ternary: da, db, dc

// What the kernel computes, in kernel-operand order:
//   forward:  in = forward inputs (gated: the halves a, b; prelu: x, weight broadcast), out = {y}
//   backward: in = {dy, forward inputs...}, out = one gradient per forward input
//             (prelu: {dx, per-element weight-gradient contribution}, reduced per channel).
struct Problem {
  ElementwiseDescriptor desc;
  ElementwiseOpInfo info;
  ElementwiseSignature sig;
  int nin = 0;   // kernel inputs
  int nout = 0;  // kernel outputs
  std::array<DType, kMaxKernelInputs> in_dtype{};
  std::array<bool, kMaxKernelInputs> in_scalar{};
  std::array<DType, kMaxKernelOutputs> out_dtype{};
  bool int_compute() const { return sig.compute == DType::i64; }
};

Result<Problem> resolve(const ElementwiseDescriptor& desc);

// Complex operands (elementwise_complex_rules.cpp): whether `op` in direction `dir` takes them,
// and the real dtype of a complex dtype's parts (c64 -> f32, c128 -> f64).
bool takes_complex(ElementwiseOp op, Direction dir);
DType complex_part_dtype(DType complex_dtype);

// One kernel operand seen through the iteration space: strides are over Bound::sizes (0 where
// broadcast). A scalar operand carries its value instead of data.
struct BoundInput {
  const char* data = nullptr;
  DType dtype = DType::f32;
  Dims strides{};
  bool is_scalar = false;
  double f = 0.0;
  int64_t i = 0;
};
struct BoundOutput {
  char* data = nullptr;  // nullptr: not wanted
  DType dtype = DType::f32;
  Dims strides{};
};
struct Bound {
  int rank = 0;
  Dims sizes{};
  int64_t numel = 0;
  int nin = 0, nout = 0;
  std::array<BoundInput, kMaxKernelInputs> in{};
  std::array<BoundOutput, kMaxKernelOutputs> out{};
  // prelu backward: where the weight gradient goes (channel dim of the iteration space, or -1
  // when the weight has one element).
  char* prelu_dweight = nullptr;
  DType prelu_dweight_dtype = DType::f32;
  int prelu_channel_dim = -1;
  int64_t prelu_channels = 1;
  // cast with amax: the f32 output receiving max|x|.
  float* amax = nullptr;
};

// Validates the run's arguments against the resolved problem: defined/null tensors, device,
// dtypes, shapes, strides, alignment (element and descriptor promise), overlap between outputs
// and inputs (exact aliasing is allowed), internal overlap of outputs.
Status check_args(const Problem& p, const ElementwiseArgs& args, const Device& device);

// Builds the iteration-space view. Call only after check_args succeeded.
Bound bind(const Problem& p, const ElementwiseArgs& args);

// Merges dims that are contiguous for every operand and drops size-1 dims; orders dims so the
// first output's strides decrease (coalescing for permuted outputs). Keeps semantics.
Bound collapse(const Bound& b);

}  // namespace baracuda::ew
