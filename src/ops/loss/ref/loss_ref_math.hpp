#pragma once
// Internal: the CPU reference's per-element and per-sample loss math, in double, written from the
// PyTorch definitions. The oracle for the CUDA losses.
#include <cstdint>

#include "baracuda/ops/loss.hpp"

namespace baracuda::loss::ref {

struct PointwiseParams {
  LossOp op;
  double beta = 1.0, delta = 1.0, margin = 0.0;
  bool log_target = false;
  bool has_pos_weight = false;
};

// One element's loss and d loss / d x (before the weight and the incoming gradient).
// x: input (margin_ranking: x1 - x2), t: target (margin_ranking: y), w: weight, pw: pos_weight.
double pointwise_loss(const PointwiseParams& p, double x, double t, double w, double pw);
double pointwise_grad(const PointwiseParams& p, double x, double t, double w, double pw);

// One softmax cross-entropy sample over C logits `x` (class stride 1 here; the caller gathers).
struct CrossEntropyParams {
  double label_smoothing = 0.0;
  double z_loss = 0.0;
  const double* weight = nullptr;  // [C] or null
};
// Class-index target `t` (in range): returns the loss; `grad` (optional, C values) receives
// d loss / d x scaled by `scale`.
double cross_entropy_index(const CrossEntropyParams& p, const double* x, int64_t C, int64_t t, double scale, double* grad);
// Class-probability target `q` (C values).
double cross_entropy_probs(const CrossEntropyParams& p, const double* x, const double* q, int64_t C, double scale,
                           double* grad);
// logsumexp of C values, NaN if any is NaN.
double logsumexp(const double* x, int64_t C);

}  // namespace baracuda::loss::ref
