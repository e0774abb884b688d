// Backward of every differentiable reduction: one broadcast elementwise kernel over x. Each
// element reads x, its group's incoming gradient(s) and, where the formula needs them, the
// group's statistics (written to the workspace by a stats-mode forward pass), and computes dx in
// f64 with the CPU reference's rules (ops/reduce/ref/reduce_ref_math.cpp):
//   sum 1; nansum 0 at NaN; mean 1/n; nanmean 1/count at non-NaN; prod the product of the others
//   (stats: product of nonzeros, zero count); amax/amin dy / ties at ties (stats: value, ties);
//   max/min dy at the returned index (stats: value, index); var/std/var_mean PyTorch's
//   var_backward (stats: mean, var); norm by p (stats: norm, ties for +-inf); logsumexp
//   dy * exp(x - lse) (stats: lse).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/ew_load_store.cuh"
#include "kernels/pdl.cuh"
#include "ops/reduce/cuda/rd_problem.hpp"

namespace baracuda::rd::cuda {
namespace {

using ew::cuda::from_compute;
using ew::cuda::load_dyn;
using ew::cuda::to_compute;

__device__ __forceinline__ double sign_of(double v) { return v != v ? v : (v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0)); }

// dx for element v at group position r. s0/s1: the group's statistics; g0/g1: incoming grads.
__device__ double grad_of(const OpParams& prm, double v, int64_t r, double g0, double g1, double s0, double s1) {
  const double n = static_cast<double>(prm.n);
  const double nan = __longlong_as_double(0x7ff8000000000000LL);
  switch (prm.op) {
    case ReduceOp::sum: return g0;
    case ReduceOp::nansum: return v != v ? 0.0 : g0;
    case ReduceOp::mean: return g0 / n;
    case ReduceOp::nanmean: return v != v ? 0.0 : g0 / s1;
    case ReduceOp::prod:  // s0: product of the nonzero elements, s1: zero count
      if (s1 == 0) return g0 * (s0 / v);
      return (s1 == 1 && v == 0) ? g0 * s0 : 0.0;
    case ReduceOp::amax:
    case ReduceOp::amin: {  // s0: result, s1: ties
      const bool tie = s0 != s0 ? v != v : v == s0;
      return tie ? g0 / s1 : 0.0;
    }
    case ReduceOp::max:
    case ReduceOp::min: return r == static_cast<int64_t>(s1) ? g0 : 0.0;  // s1: returned index
    case ReduceOp::var:
    case ReduceOp::std:
    case ReduceOp::var_mean: {  // s0: mean, s1: var
      double dvar = g0;
      if (prm.op == ReduceOp::std) {
        const double sd = sqrt(s1);
        dvar = sd == 0 ? 0.0 : g0 / (2.0 * sd);
      }
      const double dof = n - prm.correction;
      const double g = dof > 0 ? dvar * 2.0 * (v - s0) / dof : dvar * (v == s0 ? nan : INFINITY);
      return prm.op == ReduceOp::var_mean ? g + g1 / n : g;
    }
    case ReduceOp::norm: {  // s0: norm, s1: ties (p = +-inf)
      const double p = prm.p;
      if (p == 0) return 0.0;
      if (p == 1) return g0 * sign_of(v);
      if (isinf(p)) {
        const double a = fabs(v);
        return (a == s0 || a != a) ? sign_of(v) * (g0 / s1) : 0.0;
      }
      if (p == 2) return s0 == 0 ? 0.0 : g0 * (v / s0);
      return (v == 0 || s0 == 0) ? 0.0 : g0 * sign_of(v) * pow(fabs(v) / s0, p - 1.0);
    }
    case ReduceOp::logsumexp: return g0 * exp(v - s0);  // s0: lse
    default: return nan;  // not differentiable (select() refuses these)
  }
}

template <class In>
__global__ void __launch_bounds__(256) backward_kernel(BackwardProblem p, const In* __restrict__ x, const char* dy0,
                                                       const char* dy1, const double* __restrict__ stats,
                                                       In* __restrict__ dx) {
  kernels::pdl_enter();
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t dy_size0 = static_cast<int64_t>(dtype_size(p.dy_dtype[0]));
  const int64_t dy_size1 = static_cast<int64_t>(dtype_size(p.dy_dtype[1]));
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < p.numel; e += step) {
    int64_t rem = e, xo = 0, dxo = 0, go0 = 0, go1 = 0, o = 0, r = 0, o_mul = 1, r_mul = 1;
    for (int d = p.rank - 1; d >= 0; --d) {
      const int64_t i = rem % p.size[d];
      rem /= p.size[d];
      xo += i * p.x_stride[d];
      dxo += i * p.dx_stride[d];
      go0 += i * p.dy_stride[0][d];
      go1 += i * p.dy_stride[1][d];
      if (p.reduced[d]) {
        r += i * r_mul;
        r_mul *= p.size[d];
      } else {
        o += i * o_mul;
        o_mul *= p.size[d];
      }
    }
    const double g0 = load_dyn<double>(dy0 + go0 * dy_size0, p.dy_dtype[0]);
    const double g1 = p.ndy > 1 ? load_dyn<double>(dy1 + go1 * dy_size1, p.dy_dtype[1]) : 0.0;
    const double s0 = stats != nullptr ? stats[2 * o] : 0.0;
    const double s1 = stats != nullptr ? stats[2 * o + 1] : 0.0;
    dx[dxo] = from_compute<In>(grad_of(p.op, to_compute<double>(x[xo]), r, g0, g1, s0, s1));
  }
}

template <class In>
Status launch_typed(const BackwardProblem& p, const void* x, const void* const dy[2], const double* stats, void* dx,
                    const LaunchContext& ctx) {
  const int64_t blocks = std::min<int64_t>((p.numel + 255) / 256, static_cast<int64_t>(ctx.sm_count) * 16);
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(blocks)), dim3(256), 0, static_cast<cudaStream_t>(ctx.stream),
                                ctx.pdl};
  return kernels::launch_kernel(l, "reduce", "reduce backward", "", backward_kernel<In>, p, static_cast<const In*>(x),
                                static_cast<const char*>(dy[0]), static_cast<const char*>(dy[1]), stats,
                                static_cast<In*>(dx));
}

}  // namespace

Status check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return Status::ok();
  return backend_error(std::string("[reduce] launch of ") + what + " failed: " + cudaGetErrorName(e) + " (" +
                       cudaGetErrorString(e) + ")");
}

Status launch_backward(const BackwardProblem& p, const void* x, const void* const dy[2], const double* stats, void* dx,
                       const LaunchContext& ctx) {
  if (p.numel == 0) return Status::ok();
  switch (p.x_dtype) {
    case DType::f64: return launch_typed<double>(p, x, dy, stats, dx, ctx);
    case DType::f32: return launch_typed<float>(p, x, dy, stats, dx, ctx);
    case DType::f16: return launch_typed<__half>(p, x, dy, stats, dx, ctx);
    case DType::bf16: return launch_typed<__nv_bfloat16>(p, x, dy, stats, dx, ctx);
    default: return internal_error("[reduce] no backward kernel for dtype " + std::string(dtype_name(p.x_dtype)));
  }
}

}  // namespace baracuda::rd::cuda
