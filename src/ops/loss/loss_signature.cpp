// Loss descriptors: the op table, shape and dtype checks (PyTorch's rules), the loss shape for each
// reduction, and every operand's expected layout.
#include <cmath>
#include <string>

#include "baracuda/ops/loss.hpp"
#include "ops/loss/loss_args.hpp"

namespace baracuda {
namespace {

constexpr LossOpInfo kOps[] = {
#define BARACUDA_X(name, torch, jax) {LossOp::name, #name, torch, jax},
    BARACUDA_LOSS_OPS(BARACUDA_X)
#undef BARACUDA_X
};

using loss::tag;

std::string dn(DType t) { return std::string(dtype_name(t)); }
std::string operand_str(const Operand& o) { return dn(o.dtype) + shape_to_string(o.shape); }

Status check_layout(const std::string& where, const std::string& what, const Operand& o) {
  if (o.is_scalar) return invalid_argument(where + what + " must be a tensor, not a scalar");
  auto l = Layout::make(o.shape, o.strides);
  if (!l) return invalid_argument(where + what + ": " + l.status().message());
  return Status::ok();
}

// Whether `b` broadcasts to `shape` (NumPy rules, right-aligned, b's rank <= shape's).
bool broadcasts_to(const std::vector<int64_t>& b, const std::vector<int64_t>& shape) {
  if (b.size() > shape.size()) return false;
  for (size_t i = 0; i < b.size(); ++i) {
    int64_t bs = b[b.size() - 1 - i], s = shape[shape.size() - 1 - i];
    if (bs != 1 && bs != s) return false;
  }
  return true;
}

bool is_class_op(LossOp op) { return op == LossOp::cross_entropy || op == LossOp::nll_loss; }

}  // namespace

std::span<const LossOpInfo> all_loss_ops() { return kOps; }

const LossOpInfo& loss_op_info(LossOp op) {
  auto i = static_cast<size_t>(op);
  if (i >= std::size(kOps)) {
    static const LossOpInfo invalid{op, "invalid", "", ""};
    return invalid;
  }
  return kOps[i];
}

std::string_view loss_reduction_name(LossReduction r) {
  switch (r) {
    case LossReduction::none: return "none";
    case LossReduction::mean: return "mean";
    case LossReduction::sum: return "sum";
  }
  return "invalid";
}

Result<LossSignature> infer_signature(const LossDescriptor& d) {
  const LossOpInfo& info = loss_op_info(d.op);
  if (info.name == "invalid") return invalid_argument("[loss] unknown op id " + std::to_string(static_cast<int>(d.op)));
  const std::string where = tag(d);
  if (loss_reduction_name(d.reduction) == "invalid")
    return invalid_argument(where + "unknown reduction id " + std::to_string(static_cast<int>(d.reduction)));
  if (d.fused_backward && (d.op != LossOp::cross_entropy || d.direction != Direction::forward))
    return invalid_argument(where + "fused_backward is a forward option of cross_entropy only");

  const Operand& x = d.input;
  BARACUDA_TRY(check_layout(where, "input", x));
  BARACUDA_TRY(check_layout(where, "target", d.target));
  if (!is_plain_floating(x.dtype))
    return invalid_argument(where + "input must be f64, f32, f16 or bf16, got " + dn(x.dtype));
  const DType t = x.dtype;

  // Options that belong to other ops.
  const bool two_inputs = d.op == LossOp::margin_ranking_loss || d.op == LossOp::cosine_embedding_loss;
  if (two_inputs != d.other.has_value())
    return invalid_argument(where + (two_inputs ? "needs the second input (other)" : "takes no second input (other)"));
  const bool takes_weight = is_class_op(d.op) || d.op == LossOp::binary_cross_entropy ||
                            d.op == LossOp::binary_cross_entropy_with_logits;
  if (d.weight && !takes_weight) return invalid_argument(where + "takes no weight");
  if (d.pos_weight && d.op != LossOp::binary_cross_entropy_with_logits) return invalid_argument(where + "takes no pos_weight");
  if (d.op != LossOp::cross_entropy && (d.label_smoothing != 0.0 || d.z_loss != 0.0))
    return invalid_argument(where + "label_smoothing and z_loss are options of cross_entropy");
  if (!(d.label_smoothing >= 0.0 && d.label_smoothing <= 1.0))
    return invalid_argument(where + "label_smoothing must be in [0, 1], got " + std::to_string(d.label_smoothing));
  if (!(d.z_loss >= 0.0) || std::isinf(d.z_loss)) return invalid_argument(where + "z_loss must be finite and >= 0, got " + std::to_string(d.z_loss));
  if (d.op == LossOp::smooth_l1_loss && !(d.beta >= 0.0))
    return invalid_argument(where + "beta must be >= 0, got " + std::to_string(d.beta));
  if (d.op == LossOp::huber_loss && !(d.delta > 0.0))
    return invalid_argument(where + "delta must be > 0, got " + std::to_string(d.delta));
  if (std::isnan(d.margin)) return invalid_argument(where + "margin is NaN");

  LossSignature sig;
  sig.input = x;
  std::vector<int64_t> none_shape;  // the loss's shape with reduction none

  if (is_class_op(d.op)) {
    sig.class_op = true;
    const int rank = static_cast<int>(x.shape.size());
    if (rank < 1) return invalid_argument(where + "input must have a class dimension, got shape " + shape_to_string(x.shape));
    const bool unbatched = rank == 1;
    sig.batch = unbatched ? 1 : x.shape[0];
    sig.classes = unbatched ? x.shape[0] : x.shape[1];
    sig.inner = 1;
    for (int i = 2; i < rank; ++i) sig.inner *= x.shape[i];
    if (!unbatched) none_shape.push_back(x.shape[0]);
    for (int i = 2; i < rank; ++i) none_shape.push_back(x.shape[i]);
    const bool indices = d.target.dtype == DType::i64 || d.target.dtype == DType::i32;
    if (indices) {
      sig.class_indices = true;
      if (d.target.shape != none_shape)
        return invalid_argument(where + "class-index target must have shape " + shape_to_string(none_shape) +
                                " for input " + shape_to_string(x.shape) + ", got " + shape_to_string(d.target.shape));
    } else if (d.op == LossOp::cross_entropy && is_plain_floating(d.target.dtype)) {
      if (d.target.dtype != t)
        return invalid_argument(where + "probability target must have the input's dtype " + dn(t) + ", got " + dn(d.target.dtype));
      if (d.target.shape != x.shape)
        return invalid_argument(where + "probability target must have the input's shape " + shape_to_string(x.shape) +
                                ", got " + shape_to_string(d.target.shape));
    } else {
      return invalid_argument(where + "target must hold class indices (i64 or i32)" +
                              std::string(d.op == LossOp::cross_entropy ? " or class probabilities (the input's dtype)" : "") +
                              ", got " + dn(d.target.dtype));
    }
    if (d.weight) {
      BARACUDA_TRY(check_layout(where, "weight", *d.weight));
      if (d.weight->shape != std::vector<int64_t>{sig.classes} || d.weight->dtype != t)
        return invalid_argument(where + "weight must be " + dn(t) + shape_to_string(std::vector<int64_t>{sig.classes}) +
                                " (one per class), got " + operand_str(*d.weight));
      sig.weight = d.weight;
    }
    if (sig.classes == 0 && sig.batch * sig.inner > 0)
      return invalid_argument(where + "input " + shape_to_string(x.shape) + " has no classes");
  } else if (d.op == LossOp::cosine_embedding_loss) {
    const int rank = static_cast<int>(x.shape.size());
    if (rank != 1 && rank != 2) return invalid_argument(where + "input1 must be [N, D] or [D], got " + shape_to_string(x.shape));
    BARACUDA_TRY(check_layout(where, "input2", *d.other));
    if (d.other->shape != x.shape || d.other->dtype != t)
      return invalid_argument(where + "input2 must match input1 " + operand_str(x) + ", got " + operand_str(*d.other));
    sig.other = d.other;
    sig.batch = rank == 2 ? x.shape[0] : 1;
    sig.classes = x.shape[rank - 1];
    if (rank == 2) none_shape = {x.shape[0]};
    if (d.target.shape != none_shape)
      return invalid_argument(where + "target must have shape " + shape_to_string(none_shape) + " for inputs " +
                              shape_to_string(x.shape) + ", got " + shape_to_string(d.target.shape));
    if (!(is_plain_floating(d.target.dtype) || is_signed_integral(d.target.dtype)))
      return invalid_argument(where + "target must be a real number type, got " + dn(d.target.dtype));
  } else {
    none_shape = x.shape;
    sig.classes = 1;
    sig.batch = 1;
    for (int64_t s : x.shape) sig.batch *= s;
    if (d.other) {
      BARACUDA_TRY(check_layout(where, "input2", *d.other));
      if (d.other->shape != x.shape || d.other->dtype != t)
        return invalid_argument(where + "input2 must match input1 " + operand_str(x) + ", got " + operand_str(*d.other));
      sig.other = d.other;
    }
    if (d.target.shape != x.shape)
      return invalid_argument(where + "target shape " + shape_to_string(d.target.shape) + " does not match input shape " +
                              shape_to_string(x.shape));
    if (d.target.dtype != t)
      return invalid_argument(where + "target must have the input's dtype " + dn(t) + ", got " + dn(d.target.dtype));
    auto check_bcast = [&](const std::optional<Operand>& w, const char* what) -> Status {
      if (!w) return Status::ok();
      BARACUDA_TRY(check_layout(where, what, *w));
      if (w->dtype != t) return invalid_argument(where + what + " must have the input's dtype " + dn(t) + ", got " + dn(w->dtype));
      if (!broadcasts_to(w->shape, x.shape))
        return invalid_argument(where + what + " of shape " + shape_to_string(w->shape) + " does not broadcast to the input's shape " +
                                shape_to_string(x.shape));
      return Status::ok();
    };
    BARACUDA_TRY(check_bcast(d.weight, "weight"));
    BARACUDA_TRY(check_bcast(d.pos_weight, "pos_weight"));
    sig.weight = d.weight;
    sig.pos_weight = d.pos_weight;
  }
  sig.target = d.target;
  sig.samples = 1;
  for (int64_t s : none_shape) sig.samples *= s;
  if (d.op == LossOp::cosine_embedding_loss || is_class_op(d.op)) sig.samples = sig.batch * sig.inner;

  sig.loss_shape = d.reduction == LossReduction::none ? none_shape : std::vector<int64_t>{};
  const Operand loss = Operand::tensor(t, sig.loss_shape);
  if (d.direction == Direction::forward) {
    sig.loss = loss;
    if (d.fused_backward) {
      sig.grad_input = Operand::tensor(t, x.shape);
      sig.grad_loss = loss;  // optional in this mode
    }
  } else {
    sig.grad_loss = loss;
    sig.grad_input = Operand::tensor(t, x.shape);
    if (two_inputs) sig.grad_other = Operand::tensor(t, x.shape);
  }
  return sig;
}

Status LossFamily::validate(const LossDescriptor& desc) { return infer_signature(desc).status(); }

std::string LossFamily::describe(const LossDescriptor& d) {
  std::string s = std::string(loss_op_info(d.op).name);
  s += d.direction == Direction::backward ? ".backward(" : (d.fused_backward ? ".fused_backward(" : "(");
  s += dn(d.input.dtype) + shape_to_string(d.input.shape) + ", target " + dn(d.target.dtype) + shape_to_string(d.target.shape);
  if (d.weight) s += ", weight";
  if (d.pos_weight) s += ", pos_weight";
  s += ", reduction " + std::string(loss_reduction_name(d.reduction));
  if (d.label_smoothing != 0.0) s += ", label_smoothing " + std::to_string(d.label_smoothing);
  if (d.z_loss != 0.0) s += ", z_loss " + std::to_string(d.z_loss);
  return s + ")";
}

}  // namespace baracuda
