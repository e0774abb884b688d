// CUDA pointwise losses (mse, l1, smooth_l1, huber, bce, bce_with_logits, kl_div, margin_ranking)
// and cosine_embedding_loss.
//
// Pointwise forward: one kernel computes each element's loss; reduction none stores it, mean/sum
// sum it per thread over a fixed grid-stride assignment (the grid is fixed at plan time), per
// block in a fixed tree, and one block sums the block partials in order: deterministic.
// Backward is one elementwise pass. cosine_embedding: one warp per row (dot product and the two
// squared norms), per-row losses through workspace like the class losses.
#include <cmath>

#include "baracuda/core/workspace.hpp"
#include "ops/loss/cuda/loss_common.cuh"
#include "ops/loss/cuda/loss_pointwise_math.cuh"

namespace baracuda::loss::cuda {
namespace {

constexpr int kThreads = 256;

// The element's (x, t, w, pw).
template <class T>
struct ElementInputs {
  Acc<T> x, t, w, pw;
};
template <class T>
__device__ __forceinline__ ElementInputs<T> element_inputs(const LaunchParams& p, int64_t i) {
  using A = Acc<T>;
  ElementInputs<T> e;
  if (p.strided) {
    // Offsets of logical element i in every operand (one div/mod per dim, shared).
    const StridedOperands& s = p.strides;
    int64_t oi = 0, oo = 0, ot = 0, ow = 0, op = 0, rest = i;
    for (int d = s.rank - 1; d >= 0; --d) {
      const int64_t idx = rest % s.sizes[d];
      rest /= s.sizes[d];
      oi += idx * s.input[d];
      oo += idx * s.other[d];
      ot += idx * s.target[d];
      ow += idx * s.weight[d];
      op += idx * s.pos_weight[d];
    }
    e.x = to_acc(static_cast<const T*>(p.input)[oi]);
    if (p.other) e.x -= to_acc(static_cast<const T*>(p.other)[oo]);
    e.t = to_acc(static_cast<const T*>(p.target)[ot]);
    e.w = p.weight ? to_acc(static_cast<const T*>(p.weight)[ow]) : A(1);
    e.pw = p.pos_weight ? to_acc(static_cast<const T*>(p.pos_weight)[op]) : A(1);
    return e;
  }
  e.x = to_acc(static_cast<const T*>(p.input)[i]);
  if (p.other) e.x -= to_acc(static_cast<const T*>(p.other)[i]);
  e.t = to_acc(static_cast<const T*>(p.target)[i]);
  e.w = p.weight ? to_acc(static_cast<const T*>(p.weight)[i % p.weight_period]) : A(1);
  e.pw = p.pos_weight ? to_acc(static_cast<const T*>(p.pos_weight)[i % p.pos_weight_period]) : A(1);
  return e;
}

template <class T>
__global__ void __launch_bounds__(kThreads) pointwise_forward_kernel(LaunchParams p, double* partials) {
  kernels::pdl_enter();
  double mine = 0.0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < p.samples;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const ElementInputs<T> e = element_inputs<T>(p, i);
    const Acc<T> l = element_loss(p.op, p, e.x, e.t, e.w, e.pw);
    if (p.reduction == LossReduction::none) static_cast<T*>(p.loss)[i] = from_acc<T>(l);
    else mine += static_cast<double>(l);
  }
  if (p.reduction == LossReduction::none) return;
  __shared__ double part[kThreads];
  part[threadIdx.x] = mine;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) part[threadIdx.x] += part[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = part[0];
}

template <class T>
__global__ void __launch_bounds__(kThreads) pointwise_backward_kernel(LaunchParams p) {
  kernels::pdl_enter();
  using A = Acc<T>;
  const T* gl = static_cast<const T*>(p.grad_loss);
  double reduced_scale = 0.0;
  if (p.reduction != LossReduction::none) {
    reduced_scale = static_cast<double>(to_acc(gl[0]));
    if (p.reduction == LossReduction::mean) reduced_scale /= static_cast<double>(p.samples);
  }
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < p.samples;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const ElementInputs<T> e = element_inputs<T>(p, i);
    const A scale = p.reduction == LossReduction::none ? to_acc(gl[i]) : static_cast<A>(reduced_scale);
    const A g = scale * element_grad(p.op, p, e.x, e.t, e.w, e.pw);
    static_cast<T*>(p.grad_input)[i] = from_acc<T>(g);
    if (p.grad_other) static_cast<T*>(p.grad_other)[i] = from_acc<T>(-g);
  }
}

// cosine_embedding_loss: one warp per row of D features.
template <class T>
__global__ void __launch_bounds__(kThreads) cosine_kernel(LaunchParams p, double* loss_ws) {
  kernels::pdl_enter();
  using A = Acc<T>;
  const int lane = threadIdx.x % 32;
  const int64_t D = p.C;
  const T* X1 = static_cast<const T*>(p.input);
  const T* X2 = static_cast<const T*>(p.other);
  for (int64_t n = (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x) / 32; n < p.N;
       n += static_cast<int64_t>(gridDim.x) * (kThreads / 32)) {
    A dot = A(0), s1 = A(0), s2 = A(0);
    for (int64_t j = lane; j < D; j += 32) {
      const A u = to_acc(X1[n * D + j]), v = to_acc(X2[n * D + j]);
      dot += u * v;
      s1 += u * u;
      s2 += v * v;
    }
#pragma unroll
    for (int off = 16; off > 0; off /= 2) {
      dot += __shfl_xor_sync(0xffffffffu, dot, off);
      s1 += __shfl_xor_sync(0xffffffffu, s1, off);
      s2 += __shfl_xor_sync(0xffffffffu, s2, off);
    }
    const A m1 = s1 + static_cast<A>(1e-12), m2 = s2 + static_cast<A>(1e-12);  // PyTorch's EPSILON
    const A denom = sqrt(m1 * m2), cos = dot / denom;
    double y;
    switch (p.target_dtype) {
      case DType::f64: y = static_cast<const double*>(p.target)[n]; break;
      case DType::f32: y = static_cast<const float*>(p.target)[n]; break;
      case DType::f16: y = __half2float(static_cast<const __half*>(p.target)[n]); break;
      case DType::bf16: y = __bfloat162float(static_cast<const __nv_bfloat16*>(p.target)[n]); break;
      case DType::i64: y = static_cast<double>(static_cast<const int64_t*>(p.target)[n]); break;
      case DType::i32: y = static_cast<const int32_t*>(p.target)[n]; break;
      case DType::i16: y = static_cast<const int16_t*>(p.target)[n]; break;
      default: y = static_cast<const int8_t*>(p.target)[n]; break;
    }
    const A margin = static_cast<A>(p.margin);
    A loss = A(0), coef = A(0);  // coef = d loss / d cos
    if (y == 1.0) {
      loss = A(1) - cos;
      coef = A(-1);
    } else if (y == -1.0) {
      loss = fmax(A(0), cos - margin);
      coef = cos - margin >= A(0) ? A(1) : A(0);
    }
    if (p.write_loss && lane == 0) {
      if (p.reduction == LossReduction::none) static_cast<T*>(p.loss)[n] = from_acc<T>(loss);
      else loss_ws[n] = static_cast<double>(loss);
    }
    if (!p.write_grad) continue;
    double g = static_cast<double>(to_acc(static_cast<const T*>(p.grad_loss)[p.reduction == LossReduction::none ? n : 0]));
    if (p.reduction == LossReduction::mean) g /= static_cast<double>(p.N);
    const A scale = static_cast<A>(g) * coef;
    for (int64_t j = lane; j < D; j += 32) {
      const A u = to_acc(X1[n * D + j]), v = to_acc(X2[n * D + j]);
      static_cast<T*>(p.grad_input)[n * D + j] = from_acc<T>(scale * (v / denom - cos * u / m1));
      static_cast<T*>(p.grad_other)[n * D + j] = from_acc<T>(scale * (u / denom - cos * v / m2));
    }
  }
}

unsigned elementwise_grid(int64_t n, int sm_count) {
  const int64_t want = (n + kThreads - 1) / kThreads;
  const int64_t cap = static_cast<int64_t>(sm_count) * 16;
  return static_cast<unsigned>(want < 1 ? 1 : (want < cap ? want : cap));
}

template <class T>
Status pointwise_typed(const LaunchParams& p) {
  if (p.write_grad) {
    if (p.samples <= 0) return check_launch("loss pointwise_backward_kernel");
    return launch_loss_kernel(p, "loss pointwise_backward_kernel", elementwise_grid(p.samples, p.sm_count), kThreads,
                              pointwise_backward_kernel<T>, p);
  }
  double* partials = static_cast<double*>(p.workspace);
  if (p.samples > 0) {
    const unsigned grid = p.reduction == LossReduction::none ? elementwise_grid(p.samples, p.sm_count)
                                                             : static_cast<unsigned>(p.pointwise_blocks);
    BARACUDA_TRY(launch_loss_kernel(p, "loss pointwise_forward_kernel", grid, kThreads, pointwise_forward_kernel<T>, p,
                                    partials));
  }
  return finish_pointwise_partials<T>(p, partials);
}

template <class T>
Status cosine_typed(const LaunchParams& p) {
  double* loss_ws = static_cast<double*>(p.workspace);
  if (p.N > 0) {
    const int64_t want = (p.N + kThreads / 32 - 1) / (kThreads / 32);
    const unsigned grid = static_cast<unsigned>(want < (int64_t{1} << 30) ? want : (int64_t{1} << 30));
    BARACUDA_TRY(launch_loss_kernel(p, "loss cosine_kernel", grid, kThreads, cosine_kernel<T>, p, loss_ws));
  }
  if (p.write_loss && p.reduction != LossReduction::none) {
    BARACUDA_TRY(launch_loss_kernel(p, "loss finish_kernel", 1, kFinishThreads, finish_kernel<T>,
                                    static_cast<const double*>(loss_ws), p.N, p.reduction == LossReduction::mean,
                                    static_cast<const double*>(nullptr), static_cast<double>(p.N),
                                    static_cast<T*>(p.loss)));
  }
  return Status::ok();
}

}  // namespace

size_t pointwise_workspace(const LaunchParams& p) {
  if (p.write_grad || p.reduction == LossReduction::none) return 0;
  return static_cast<size_t>(p.pointwise_blocks) * sizeof(double);
}

size_t cosine_workspace(const LaunchParams& p) {
  if (!p.write_loss || p.reduction == LossReduction::none) return 0;
  return static_cast<size_t>(p.N) * sizeof(double);
}

Status launch_pointwise(const LaunchParams& p) {
  if (p.pointwise_vector) return launch_pointwise_vector(p);  // loss_pointwise_vector.cu
  return dispatch_loss_dtype(p.dtype, [&](auto tag) { return pointwise_typed<typename decltype(tag)::type>(p); });
}

Status launch_cosine(const LaunchParams& p) {
  return dispatch_loss_dtype(p.dtype, [&](auto tag) { return cosine_typed<typename decltype(tag)::type>(p); });
}

}  // namespace baracuda::loss::cuda
