// Softmax descriptors: the op table, dim normalization, mask broadcasting, dtype rules (torch's
// dtype=), operand lists for both directions.
#include <cmath>
#include <string>

#include "baracuda/ops/softmax.hpp"

namespace baracuda {
namespace {

constexpr SoftmaxOpInfo kOps[] = {
#define BARACUDA_X(name, torch, jax) {SoftmaxOp::name, #name, torch, jax},
    BARACUDA_SOFTMAX_OPS(BARACUDA_X)
#undef BARACUDA_X
};

std::string tag(const SoftmaxDescriptor& d) {
  return "[softmax." + std::string(softmax_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

std::string name_of(DType t) { return std::string(dtype_name(t)); }

// A user-given layout for an operand whose dtype and shape are implied: checks and adopts it.
Status adopt_layout(const std::string& where, const std::string& what, const std::optional<Operand>& given,
                    Operand& implied) {
  if (!given) return Status::ok();
  if (given->is_scalar) return invalid_argument(where + what + " must be a tensor");
  if (given->dtype != implied.dtype)
    return invalid_argument(where + what + " dtype " + name_of(given->dtype) + " does not match the expected " +
                            name_of(implied.dtype));
  if (given->shape != implied.shape)
    return invalid_argument(where + what + " shape " + shape_to_string(given->shape) + " does not match the expected " +
                            shape_to_string(implied.shape));
  auto l = Layout::make(given->shape, given->strides);
  if (!l) return invalid_argument(where + what + ": " + l.status().message());
  implied = *given;
  return Status::ok();
}

}  // namespace

std::span<const SoftmaxOpInfo> all_softmax_ops() { return kOps; }

const SoftmaxOpInfo& softmax_op_info(SoftmaxOp op) {
  auto i = static_cast<size_t>(op);
  if (i >= std::size(kOps)) {
    static const SoftmaxOpInfo invalid{op, "invalid", "", ""};
    return invalid;
  }
  return kOps[i];
}

bool broadcasts_to(const std::vector<int64_t>& mask, const std::vector<int64_t>& x) {
  if (mask.size() > x.size()) return false;
  const size_t lead = x.size() - mask.size();
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i] != 1 && mask[i] != x[lead + i]) return false;
  return true;
}

Result<SoftmaxSignature> infer_signature(const SoftmaxDescriptor& d) {
  if (softmax_op_info(d.op).name == "invalid")
    return invalid_argument("[softmax] unknown op id " + std::to_string(static_cast<int>(d.op)));
  const std::string where = tag(d);
  const Operand& x = d.input;
  if (x.is_scalar) return invalid_argument(where + "the input must be a tensor");
  auto layout = Layout::make(x.shape, x.strides);
  if (!layout) return invalid_argument(where + layout.status().message());
  if (!is_plain_floating(x.dtype))
    return invalid_argument(where + "needs a floating input (f64, f32, f16, bf16), got " + name_of(x.dtype));
  const int rank = static_cast<int>(x.shape.size());
  const int bound = rank > 0 ? rank : 1;  // a 0-d tensor accepts dim 0 / -1, as PyTorch does
  if (d.dim < -bound || d.dim >= bound)
    return invalid_argument(where + "dim " + std::to_string(d.dim) + " is out of range for rank " + std::to_string(rank) +
                            " (expected [" + std::to_string(-bound) + ", " + std::to_string(bound - 1) + "])");
  if (!(std::isfinite(d.temperature) && d.temperature > 0))
    return invalid_argument(where + "temperature must be finite and > 0, got " + std::to_string(d.temperature));

  SoftmaxSignature sig;
  sig.dim = d.dim < 0 ? d.dim + bound : d.dim;
  sig.output_dtype = d.output_dtype.value_or(x.dtype);
  if (!is_plain_floating(sig.output_dtype))
    return invalid_argument(where + "output dtype " + name_of(sig.output_dtype) + " is not f64, f32, f16 or bf16");
  sig.accumulate = (x.dtype == DType::f64 || sig.output_dtype == DType::f64) ? DType::f64 : DType::f32;

  std::optional<Operand> mask;
  if (d.mask) {
    if (d.mask->is_scalar) return invalid_argument(where + "the mask must be a tensor");
    if (d.mask->dtype != DType::boolean && !is_plain_floating(d.mask->dtype))
      return invalid_argument(where + "the mask must be boolean or floating (f64, f32, f16, bf16), got " +
                              name_of(d.mask->dtype));
    auto ml = Layout::make(d.mask->shape, d.mask->strides);
    if (!ml) return invalid_argument(where + "mask: " + ml.status().message());
    if (!broadcasts_to(d.mask->shape, x.shape))
      return invalid_argument(where + "mask shape " + shape_to_string(d.mask->shape) +
                              " is not broadcastable to the input shape " + shape_to_string(x.shape));
    sig.boolean_mask = d.mask->dtype == DType::boolean;
    mask = d.mask;
  }

  const Operand y_dense = Operand::tensor(sig.output_dtype, x.shape);
  if (d.direction == Direction::forward) {
    if (d.grad_output || d.forward_output)
      return invalid_argument(where + "grad_output / forward_output layouts are backward options");
    sig.inputs = {x};
    sig.outputs = {y_dense};
  } else {
    Operand dy = y_dense, y = y_dense;
    BARACUDA_TRY(adopt_layout(where, "grad_output", d.grad_output, dy));
    BARACUDA_TRY(adopt_layout(where, "forward_output", d.forward_output, y));
    sig.inputs = {dy, y};
    sig.outputs = {Operand::tensor(x.dtype, x.shape)};
  }
  if (mask) sig.inputs.push_back(*mask);
  BARACUDA_TRY(adopt_layout(where, "output", d.output, sig.outputs[0]));
  return sig;
}

Status SoftmaxFamily::validate(const SoftmaxDescriptor& desc) { return infer_signature(desc).status(); }

std::string SoftmaxFamily::describe(const SoftmaxDescriptor& d) {
  std::string s = std::string(softmax_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward(" : "(");
  s += std::string(dtype_name(d.input.dtype)) + shape_to_string(d.input.shape) + ", dim " + std::to_string(d.dim);
  if (d.temperature != 1.0) s += ", temperature " + std::to_string(d.temperature);
  if (d.mask) s += ", mask " + std::string(dtype_name(d.mask->dtype)) + shape_to_string(d.mask->shape);
  if (d.output_dtype) s += ", dtype " + std::string(dtype_name(*d.output_dtype));
  return s + ")";
}

}  // namespace baracuda
