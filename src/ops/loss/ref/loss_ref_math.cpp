// The CPU reference's loss math in double (see loss_ref_math.hpp).
#include "ops/loss/ref/loss_ref_math.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace baracuda::loss::ref {
namespace {

double sign(double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : (std::isnan(v) ? v : 0.0)); }
double softplus_neg(double x) { return std::log1p(std::exp(-std::fabs(x))) + std::max(-x, 0.0); }  // log(1 + e^-x)
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

double pointwise_loss(const PointwiseParams& p, double x, double t, double w, double pw) {
  const double d = x - t;
  const double a = std::fabs(d);
  switch (p.op) {
    case LossOp::mse_loss: return d * d;
    case LossOp::l1_loss: return a;
    case LossOp::smooth_l1_loss:
      if (p.beta == 0.0) return a;
      return a < p.beta ? 0.5 * d * d / p.beta : a - 0.5 * p.beta;
    case LossOp::huber_loss: return a < p.delta ? 0.5 * d * d : p.delta * (a - 0.5 * p.delta);
    case LossOp::binary_cross_entropy: {
      const double lx = std::max(std::log(x), -100.0), l1x = std::max(std::log1p(-x), -100.0);
      return -w * (t * lx + (1.0 - t) * l1x);
    }
    case LossOp::binary_cross_entropy_with_logits: {
      const double lw = p.has_pos_weight ? 1.0 + (pw - 1.0) * t : 1.0;
      return w * ((1.0 - t) * x + lw * softplus_neg(x));
    }
    case LossOp::kl_div:
      if (p.log_target) return std::exp(t) * (t - x);
      return (t == 0.0 ? 0.0 : t * std::log(t)) - t * x;
    case LossOp::margin_ranking_loss: return std::max(0.0, -t * x + p.margin);  // x = x1 - x2, t = y
    default: return std::numeric_limits<double>::quiet_NaN();
  }
}

double pointwise_grad(const PointwiseParams& p, double x, double t, double w, double pw) {
  const double d = x - t;
  const double a = std::fabs(d);
  switch (p.op) {
    case LossOp::mse_loss: return 2.0 * d;
    case LossOp::l1_loss: return sign(d);
    case LossOp::smooth_l1_loss:
      if (p.beta == 0.0) return sign(d);
      return a < p.beta ? d / p.beta : sign(d);
    case LossOp::huber_loss: return a < p.delta ? d : p.delta * sign(d);
    case LossOp::binary_cross_entropy: return w * (x - t) / std::max((1.0 - x) * x, 1e-12);
    case LossOp::binary_cross_entropy_with_logits: {
      if (!p.has_pos_weight) return w * (sigmoid(x) - t);
      const double lw = 1.0 + (pw - 1.0) * t;
      return w * (lw * sigmoid(x) - pw * t);
    }
    case LossOp::kl_div: return p.log_target ? -std::exp(t) : -t;
    case LossOp::margin_ranking_loss: return (-t * x + p.margin) >= 0.0 ? -t : 0.0;  // clamp_min passes at 0
    default: return std::numeric_limits<double>::quiet_NaN();
  }
}

double logsumexp(const double* x, int64_t C) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < C; ++c) {
    if (std::isnan(x[c])) return x[c];
    m = std::max(m, x[c]);
  }
  if (std::isinf(m)) return m;  // all -inf: -inf; any +inf: +inf (the loss then is NaN, as PyTorch)
  double s = 0.0;
  for (int64_t c = 0; c < C; ++c) s += std::exp(x[c] - m);
  return m + std::log(s);
}

double cross_entropy_index(const CrossEntropyParams& p, const double* x, int64_t C, int64_t t, double scale, double* grad) {
  const double eps = p.label_smoothing;
  const double lse = logsumexp(x, C);
  const double wt = p.weight ? p.weight[t] : 1.0;
  double W = 0.0, sxw = 0.0;
  for (int64_t c = 0; c < C; ++c) {
    const double wc = p.weight ? p.weight[c] : 1.0;
    W += wc;
    if (eps != 0.0) sxw += wc * x[c];
  }
  double loss = (1.0 - eps) * wt * (lse - x[t]) + p.z_loss * wt * lse * lse;
  if (eps != 0.0) loss += eps / static_cast<double>(C) * (W * lse - sxw);
  if (grad) {
    const double A = (1.0 - eps) * wt + eps * W / static_cast<double>(C) + 2.0 * p.z_loss * wt * lse;
    for (int64_t c = 0; c < C; ++c) {
      const double wc = p.weight ? p.weight[c] : 1.0;
      double g = A * std::exp(x[c] - lse) - eps / static_cast<double>(C) * wc;
      if (c == t) g -= (1.0 - eps) * wt;
      grad[c] = scale * g;
    }
  }
  return loss;
}

double cross_entropy_probs(const CrossEntropyParams& p, const double* x, const double* q, int64_t C, double scale,
                           double* grad) {
  const double eps = p.label_smoothing;
  const double lse = logsumexp(x, C);
  auto smoothed = [&](int64_t c) { return (1.0 - eps) * q[c] + eps / static_cast<double>(C); };
  double sq = 0.0, loss = 0.0;
  for (int64_t c = 0; c < C; ++c) {
    const double wq = (p.weight ? p.weight[c] : 1.0) * smoothed(c);
    sq += wq;
    loss += wq * (lse - x[c]);
  }
  loss += p.z_loss * lse * lse;
  if (grad) {
    const double A = sq + 2.0 * p.z_loss * lse;
    for (int64_t c = 0; c < C; ++c)
      grad[c] = scale * (A * std::exp(x[c] - lse) - (p.weight ? p.weight[c] : 1.0) * smoothed(c));
  }
  return loss;
}

}  // namespace baracuda::loss::ref
