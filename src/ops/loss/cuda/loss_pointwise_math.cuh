#pragma once
// Internal: the per-element math of the pointwise losses (mse, l1, smooth_l1, huber, bce,
// bce_with_logits, kl_div, margin_ranking), shared by the legacy grid-stride kernel and the
// vectorized one (loss_pointwise_vector.cu). `op` is a parameter so that a kernel instantiated
// for one op folds the switch away; the legacy kernel passes p.op at run time.
#include <cmath>

#include "ops/loss/cuda/loss_launch.hpp"

namespace baracuda::loss::cuda {

template <class A>
__device__ __forceinline__ A sign_of(A v) {
  return v > A(0) ? A(1) : (v < A(0) ? A(-1) : v);  // keeps +-0 and NaN
}
template <class A>
__device__ __forceinline__ A sigmoid(A x) {
  return A(1) / (A(1) + exp(-x));
}

// The options the element math reads (beta, delta, margin, log_target, and whether pos_weight is
// given): a kernel that takes them as a small struct of its own (ElementOptions) keeps them in
// registers instead of addressing the whole LaunchParams.
struct ElementOptions {
  double beta = 1.0, delta = 1.0, margin = 0.0;
  bool log_target = false;
  const void* pos_weight = nullptr;
};

// One element's loss (x: input, or x1 - x2 for margin_ranking; t: target, or y). P: LaunchParams
// or ElementOptions.
template <class A, class P>
__device__ __forceinline__ A element_loss(LossOp op, const P& p, A x, A t, A w, A pw) {
  const A d = x - t, a = fabs(d);
  switch (op) {
    case LossOp::mse_loss: return d * d;
    case LossOp::l1_loss: return a;
    case LossOp::smooth_l1_loss: {
      const A beta = static_cast<A>(p.beta);
      if (beta == A(0)) return a;
      return a < beta ? A(0.5) * d * d / beta : a - A(0.5) * beta;
    }
    case LossOp::huber_loss: {
      const A delta = static_cast<A>(p.delta);
      return a < delta ? A(0.5) * d * d : delta * (a - A(0.5) * delta);
    }
    case LossOp::binary_cross_entropy: {
      const A lx = fmax(log(x), A(-100)), l1x = fmax(log1p(-x), A(-100));
      return -w * (t * lx + (A(1) - t) * l1x);
    }
    case LossOp::binary_cross_entropy_with_logits: {
      const A lw = p.pos_weight ? A(1) + (pw - A(1)) * t : A(1);
      return w * ((A(1) - t) * x + lw * (log1p(exp(-fabs(x))) + fmax(-x, A(0))));
    }
    case LossOp::kl_div:
      if (p.log_target) return exp(t) * (t - x);
      return (t == A(0) ? A(0) : t * log(t)) - t * x;
    case LossOp::margin_ranking_loss: return fmax(A(0), -t * x + static_cast<A>(p.margin));
    default: return static_cast<A>(NAN);
  }
}

// d element_loss / d x.
template <class A, class P>
__device__ __forceinline__ A element_grad(LossOp op, const P& p, A x, A t, A w, A pw) {
  const A d = x - t, a = fabs(d);
  switch (op) {
    case LossOp::mse_loss: return A(2) * d;
    case LossOp::l1_loss: return sign_of(d);
    case LossOp::smooth_l1_loss: {
      const A beta = static_cast<A>(p.beta);
      if (beta == A(0)) return sign_of(d);
      return a < beta ? d / beta : sign_of(d);
    }
    case LossOp::huber_loss: {
      const A delta = static_cast<A>(p.delta);
      return a < delta ? d : delta * sign_of(d);
    }
    case LossOp::binary_cross_entropy: return w * (x - t) / fmax((A(1) - x) * x, static_cast<A>(1e-12));
    case LossOp::binary_cross_entropy_with_logits: {
      if (!p.pos_weight) return w * (sigmoid(x) - t);
      const A lw = A(1) + (pw - A(1)) * t;
      return w * (lw * sigmoid(x) - pw * t);
    }
    case LossOp::kl_div: return p.log_target ? -exp(t) : -t;
    case LossOp::margin_ranking_loss: return (-t * x + static_cast<A>(p.margin)) >= A(0) ? -t : A(0);
    default: return static_cast<A>(NAN);
  }
}

}  // namespace baracuda::loss::cuda
