// Scan descriptors: the op table, axis normalization, PyTorch's dtype rules, operand layouts.
#include <string>

#include "baracuda/ops/scan.hpp"

namespace baracuda {
namespace {

constexpr ScanOpInfo kOps[] = {
#define BARACUDA_X(name, diff, torch, jax) {ScanOp::name, #name, diff != 0, torch, jax},
    BARACUDA_SCAN_OPS(BARACUDA_X)
#undef BARACUDA_X
};

std::string tag(const ScanDescriptor& d) {
  return "[scan." + std::string(scan_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

std::string name_of(DType t) { return std::string(dtype_name(t)); }

Status check_layout(const std::string& where, const Operand& o, const std::vector<int64_t>& shape, DType dtype,
                    const std::string& what) {
  if (o.is_scalar) return invalid_argument(where + what + " must be a tensor");
  if (o.shape != shape || o.dtype != dtype)
    return invalid_argument(where + what + " must be " + name_of(dtype) + shape_to_string(shape) + ", got " +
                            name_of(o.dtype) + shape_to_string(o.shape));
  auto l = Layout::make(o.shape, o.strides);
  if (!l) return invalid_argument(where + what + ": " + l.status().message());
  return Status::ok();
}

}  // namespace

std::span<const ScanOpInfo> all_scan_ops() { return kOps; }

const ScanOpInfo& scan_op_info(ScanOp op) {
  auto i = static_cast<size_t>(op);
  if (i >= std::size(kOps)) {
    static const ScanOpInfo invalid{op, "invalid", false, "", ""};
    return invalid;
  }
  return kOps[i];
}

Result<ScanSignature> infer_signature(const ScanDescriptor& d) {
  const ScanOpInfo& info = scan_op_info(d.op);
  if (info.name == "invalid") return invalid_argument("[scan] unknown op id " + std::to_string(static_cast<int>(d.op)));
  const std::string where = tag(d);
  const Operand& x = d.input;
  if (x.is_scalar) return invalid_argument(where + "the input must be a tensor");
  auto layout = Layout::make(x.shape, x.strides);
  if (!layout) return invalid_argument(where + layout.status().message());
  const DType t = x.dtype;
  if (is_complex(t) || is_fp8(t)) return not_supported(where + "dtype " + name_of(t) + " is not supported by scans");

  ScanSignature sig;
  const int rank = static_cast<int>(x.shape.size());
  const int bound = rank == 0 ? 1 : rank;  // a 0-d tensor accepts dim 0 / -1, as PyTorch does
  if (d.axis < -bound || d.axis >= bound)
    return invalid_argument(where + "dim " + std::to_string(d.axis) + " is out of range for rank " + std::to_string(rank) +
                            " (expected [" + std::to_string(-bound) + ", " + std::to_string(bound - 1) + "])");
  sig.axis = d.axis < 0 ? d.axis + bound : d.axis;

  const bool cum_arith = d.op == ScanOp::cumsum || d.op == ScanOp::cumprod;
  const bool maxmin = d.op == ScanOp::cummax || d.op == ScanOp::cummin;
  if (d.output_dtype && !cum_arith) return invalid_argument(where + "output_dtype is an option of cumsum and cumprod only");
  if (d.exclusive && maxmin) return invalid_argument(where + "an exclusive cummax/cummin is not defined (no identity index)");

  std::vector<DType> outs;
  if (cum_arith) {
    DType o = d.output_dtype ? *d.output_dtype : ((is_integral(t) || t == DType::boolean) ? DType::i64 : t);
    if (o == DType::boolean || is_complex(o) || is_fp8(o))
      return not_supported(where + "output dtype " + name_of(o) + " is not supported (use a float or integer dtype)");
    outs = {o};
    sig.compute = o;  // dtype= converts the input first (PyTorch)
  } else if (maxmin) {
    outs = {t, DType::i64};
    sig.compute = t;
  } else {
    if (!is_plain_floating(t))
      return invalid_argument(where + "needs a floating input (f64, f32, f16, bf16), got " + name_of(t));
    outs = {t};
    sig.compute = t;
  }
  sig.accumulate = is_floating(sig.compute) ? (sig.compute == DType::f64 ? DType::f64 : DType::f32) : DType::i64;

  if (d.direction == Direction::forward) {
    if (d.grad_output) return invalid_argument(where + "grad_output is given for a forward scan");
    sig.inputs = {x};
    for (DType o : outs) sig.outputs.push_back(Operand::tensor(o, x.shape));
  } else {
    if (!info.differentiable) return invalid_argument(where + "op is not differentiable");
    if (!is_plain_floating(t))
      return invalid_argument(where + "backward needs a floating input (f64, f32, f16, bf16), got " + name_of(t));
    if (!is_plain_floating(outs[0]))
      return invalid_argument(where + "backward needs a floating result, output_dtype is " + name_of(outs[0]));
    Operand dy = Operand::tensor(outs[0], x.shape);
    if (d.grad_output) {
      BARACUDA_TRY(check_layout(where, *d.grad_output, x.shape, outs[0], "grad_output"));
      dy = *d.grad_output;
    }
    sig.inputs = {dy, x};
    sig.outputs = {Operand::tensor(t, x.shape)};
  }
  if (!d.outputs.empty()) {
    if (d.outputs.size() != sig.outputs.size())
      return invalid_argument(where + "expects " + std::to_string(sig.outputs.size()) + " output layouts, got " +
                              std::to_string(d.outputs.size()));
    for (size_t i = 0; i < d.outputs.size(); ++i) {
      BARACUDA_TRY(check_layout(where, d.outputs[i], sig.outputs[i].shape, sig.outputs[i].dtype, "output " + std::to_string(i)));
      sig.outputs[i] = d.outputs[i];
    }
  }
  return sig;
}

Status ScanFamily::validate(const ScanDescriptor& desc) { return infer_signature(desc).status(); }

std::string ScanFamily::describe(const ScanDescriptor& d) {
  std::string s = std::string(scan_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward(" : "(");
  s += name_of(d.input.dtype) + shape_to_string(d.input.shape) + ", axis " + std::to_string(d.axis);
  if (d.exclusive) s += ", exclusive";
  if (d.reverse) s += ", reverse";
  if (d.output_dtype) s += ", dtype " + name_of(*d.output_dtype);
  return s + ")";
}

}  // namespace baracuda
