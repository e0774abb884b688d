#pragma once
// Loss family: cross_entropy (class indices or class probabilities, label smoothing, class weights,
// ignore_index, PaLM's z-loss), nll_loss, mse/l1/smooth_l1/huber, binary cross entropy (on
// probabilities and on logits), kl_div, cosine_embedding and margin_ranking losses; reduction
// none/mean/sum; forward, backward, and a fused cross_entropy pass that writes the loss and the
// logits' gradient together.
//
//   LossDescriptor desc{.op = LossOp::cross_entropy,
//                       .input = Operand::tensor(DType::bf16, {8192, 128256}),
//                       .target = Operand::tensor(DType::i64, {8192})};
//   auto plan = LossPlan::select(stream, desc);
//   plan->run(stream, workspace, LossArgs{.input = logits, .target = labels, .loss = out});
//
// Semantics are PyTorch's (torch.nn.functional.*):
//  * Class ops (cross_entropy, nll_loss): input [N, C], [N, C, d1, ..., dk] or [C] (one sample);
//    class-index targets [N] / [N, d1..dk] / [] of i64 or i32; weight [C] of the input's dtype.
//    reduction=mean divides by the sum of the weights of the non-ignored samples (the sample
//    count without weights): NaN when every sample is ignored, as PyTorch.
//    Label smoothing eps: loss = (1-eps) w[t] (lse - x[t]) + eps/C sum_c w[c] (lse - x[c]).
//  * cross_entropy with class-probability targets: target has the input's shape and dtype;
//    eps mixes it with the uniform distribution; mean divides by the sample count (N*d1*..*dk).
//  * z_loss (cross_entropy only): z * lse^2 is added to each sample's loss (PaLM's auxiliary
//    loss, lse = logsumexp of the sample's logits); with class weights and class-index targets it
//    is weighted by w[t] like the rest of the sample's loss, so mean stays a weighted mean (with
//    probability targets it is unweighted). Ignored samples contribute 0.
//  * Pointwise ops: target (and weight / pos_weight, broadcast to the input's shape) have the
//    input's dtype; mse (x-t)^2, l1 |x-t|, smooth_l1 (beta; beta=0 is l1), huber (delta),
//    binary_cross_entropy (logs clamped at -100), binary_cross_entropy_with_logits (pos_weight),
//    kl_div (input = log-probabilities; log_target), margin_ranking (input1 = input,
//    input2 = other, target y: max(0, -y (x1 - x2) + margin)), cosine_embedding (input1, input2
//    [N, D] or [D], target y [N] / [] of any real dtype; y == 1: 1 - cos, y == -1:
//    max(0, cos - margin), other values 0). kl_div's mean is over every element (batchmean is
//    sum / N, the caller's division).
//  * Out-of-range class targets (not ignore_index): the CPU reference returns invalid_argument
//    quoting the value and its position. The CUDA plans cannot report it without a
//    synchronization, so they write NaN as that sample's loss (hence a NaN mean/sum) and NaN
//    across that sample's gradient; they never read or write out of bounds.
//
// Operands (LossArgs, named slots; unused slots stay undefined):
//   forward:          input, [other], target, [weight], [pos_weight] -> loss
//   forward + fused_backward (cross_entropy): also -> grad_input; grad_loss optional (default 1)
//   backward:         grad_loss (the loss's shape), input, [other], target, [weight], [pos_weight]
//                     -> grad_input (the input's shape), grad_other (margin_ranking, cosine)
// Targets are not differentiated (PyTorch differentiates a floating target of some ops; baracuda
// does not yet). On CUDA the pointwise losses take any strides and any broadcast weight; the class
// losses and cosine_embedding need dense row-major operands (cross_entropy also takes [N, C]
// logits with padded rows, strides [ld >= C, 1]); other strided layouts run on the CPU plan.
// Reductions are deterministic: per-sample losses go through workspace and are summed in a fixed
// order.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "baracuda/core/operand.hpp"
#include "baracuda/core/plan.hpp"
#include "baracuda/core/tensor.hpp"

// X(name, torch_name, jax_name)
#define BARACUDA_LOSS_OPS(X)                                                                                   \
  X(cross_entropy, "torch.nn.functional.cross_entropy", "optax.softmax_cross_entropy_with_integer_labels")     \
  X(nll_loss, "torch.nn.functional.nll_loss", "")                                                              \
  X(mse_loss, "torch.nn.functional.mse_loss", "optax.squared_error")                                           \
  X(l1_loss, "torch.nn.functional.l1_loss", "")                                                                \
  X(smooth_l1_loss, "torch.nn.functional.smooth_l1_loss", "")                                                  \
  X(huber_loss, "torch.nn.functional.huber_loss", "optax.huber_loss")                                          \
  X(binary_cross_entropy, "torch.nn.functional.binary_cross_entropy", "")                                      \
  X(binary_cross_entropy_with_logits, "torch.nn.functional.binary_cross_entropy_with_logits",                 \
    "optax.sigmoid_binary_cross_entropy")                                                                      \
  X(kl_div, "torch.nn.functional.kl_div", "optax.kl_divergence")                                               \
  X(cosine_embedding_loss, "torch.nn.functional.cosine_embedding_loss", "")                                    \
  X(margin_ranking_loss, "torch.nn.functional.margin_ranking_loss", "")

namespace baracuda {

enum class LossOp : uint8_t {
#define BARACUDA_X(name, ...) name,
  BARACUDA_LOSS_OPS(BARACUDA_X)
#undef BARACUDA_X
};

struct LossOpInfo {
  LossOp op;
  std::string_view name;
  std::string_view torch_name;
  std::string_view jax_name;
};
const LossOpInfo& loss_op_info(LossOp op);
std::span<const LossOpInfo> all_loss_ops();

enum class LossReduction : uint8_t { none, mean, sum };
std::string_view loss_reduction_name(LossReduction r);

struct LossDescriptor {
  LossOp op = LossOp::cross_entropy;
  Direction direction = Direction::forward;
  bool fused_backward = false;         // cross_entropy forward that also writes grad_input
  LossReduction reduction = LossReduction::mean;
  Operand input;                       // logits / log-probs / predictions / input1
  std::optional<Operand> other;        // input2 of margin_ranking and cosine_embedding
  Operand target;                      // class indices, probabilities, targets, or y
  std::optional<Operand> weight;       // class weights [C] / elementwise weight (bce, bce_with_logits)
  std::optional<Operand> pos_weight;   // bce_with_logits
  int64_t ignore_index = -100;         // cross_entropy / nll_loss with class indices
  double label_smoothing = 0.0;        // cross_entropy, in [0, 1]
  double z_loss = 0.0;                 // cross_entropy, >= 0
  double beta = 1.0;                   // smooth_l1_loss, >= 0
  double delta = 1.0;                  // huber_loss, > 0
  double margin = 0.0;                 // cosine_embedding_loss, margin_ranking_loss
  bool log_target = false;             // kl_div
};

struct LossArgs {
  TensorRef input, other, target, weight, pos_weight;
  TensorRef grad_loss;                 // backward (required), fused forward (optional: 1)
  TensorMut loss;                      // forward
  TensorMut grad_input, grad_other;    // backward / fused forward
};

struct LossFamily {
  static constexpr std::string_view name = "loss";
  using Descriptor = LossDescriptor;
  using Args = LossArgs;
  static Status validate(const Descriptor& desc);
  static std::string describe(const Descriptor& desc);
  static std::span<const Implementation<LossFamily>> implementations();
};

using LossPlan = Plan<LossFamily>;

// What select() infers: the problem's geometry and every operand's expected layout.
struct LossSignature {
  bool class_op = false;               // cross_entropy / nll_loss
  bool class_indices = false;          // class targets are indices (else probabilities)
  int64_t batch = 1;                   // N (1 for an unbatched [C] input)
  int64_t classes = 1;                 // C (cosine_embedding: D, the reduced feature size)
  int64_t inner = 1;                   // d1 * ... * dk
  int64_t samples = 0;                 // losses before reduction (numel of the none-loss)
  std::vector<int64_t> loss_shape;     // output shape for this reduction
  // Expected operands (nullopt: the slot must stay undefined).
  std::optional<Operand> input, other, target, weight, pos_weight, grad_loss;
  std::optional<Operand> loss, grad_input, grad_other;
};
Result<LossSignature> infer_signature(const LossDescriptor& desc);

}  // namespace baracuda
