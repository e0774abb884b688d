// Reduction descriptors: the op table, axis normalization, PyTorch's dtype rules, output shapes.
#include <algorithm>
#include <cmath>
#include <string>

#include "baracuda/ops/reduce.hpp"

namespace baracuda {
namespace {

constexpr ReduceOpInfo kOps[] = {
#define BARACUDA_X(name, diff, torch, jax) {ReduceOp::name, #name, diff != 0, torch, jax},
    BARACUDA_REDUCE_OPS(BARACUDA_X)
#undef BARACUDA_X
};

std::string tag(const ReduceDescriptor& d) {
  return "[reduce." + std::string(reduce_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

// The ops that need a non-empty group (PyTorch raises for them on empty input).
bool needs_elements(ReduceOp op) {
  return op == ReduceOp::amax || op == ReduceOp::amin || op == ReduceOp::max || op == ReduceOp::min ||
         op == ReduceOp::argmax || op == ReduceOp::argmin;
}

}  // namespace

std::span<const ReduceOpInfo> all_reduce_ops() { return kOps; }

const ReduceOpInfo& reduce_op_info(ReduceOp op) {
  auto i = static_cast<size_t>(op);
  if (i >= std::size(kOps)) {
    static const ReduceOpInfo invalid{op, "invalid", false, "", ""};
    return invalid;
  }
  return kOps[i];
}

Result<ReduceSignature> infer_signature(const ReduceDescriptor& d) {
  const ReduceOpInfo& info = reduce_op_info(d.op);
  const std::string where = tag(d);
  if (info.name == "invalid") return invalid_argument("[reduce] unknown op id " + std::to_string(static_cast<int>(d.op)));
  const Operand& x = d.input;
  if (x.is_scalar) return invalid_argument(where + "the input must be a tensor");
  auto layout = Layout::make(x.shape, x.strides);
  if (!layout) return invalid_argument(where + layout.status().message());
  if (is_complex(x.dtype) || is_fp8(x.dtype))
    return not_supported(where + "dtype " + std::string(dtype_name(x.dtype)) + " is not supported by reductions");

  ReduceSignature sig;
  // Axes: normalized, sorted, unique; empty means every axis.
  const int rank = static_cast<int>(x.shape.size());
  std::vector<bool> seen(std::max(rank, 1), false);
  for (int a : d.axes) {
    const int bound = std::max(rank, 1);  // a 0-d tensor accepts dim 0 / -1, as PyTorch does
    if (a < -bound || a >= bound)
      return invalid_argument(where + "dim " + std::to_string(a) + " is out of range for rank " + std::to_string(rank));
    int n = a < 0 ? a + bound : a;
    if (seen[n]) return invalid_argument(where + "dim " + std::to_string(a) + " appears more than once in the axes");
    seen[n] = true;
  }
  for (int i = 0; i < rank; ++i)
    if (d.axes.empty() || seen[i]) sig.axes.push_back(i);

  // Output shape.
  std::vector<int64_t> out_shape;
  int64_t group = 1;
  for (int i = 0; i < rank; ++i) {
    bool reduced = std::find(sig.axes.begin(), sig.axes.end(), i) != sig.axes.end();
    if (reduced) group *= x.shape[i];
    if (!reduced) out_shape.push_back(x.shape[i]);
    else if (d.keepdim) out_shape.push_back(1);
  }
  // vector_norm with p = +-inf or p < 0 has no identity either.
  const bool norm_needs_elements = d.op == ReduceOp::norm && (std::isinf(d.p) || d.p < 0);
  if ((needs_elements(d.op) || norm_needs_elements) && group == 0)
    return invalid_argument(where + "cannot reduce an empty group (input " + shape_to_string(x.shape) +
                            "): the result is undefined");

  // Dtypes, PyTorch's rules.
  const DType t = x.dtype;
  const bool integral_in = is_integral(t) || t == DType::boolean;
  auto need_float = [&]() -> Status {
    if (!is_plain_floating(t))
      return invalid_argument(where + "needs a floating input (f64, f32, f16, bf16), got " + std::string(dtype_name(t)));
    return Status::ok();
  };
  std::vector<DType> outs;
  switch (d.op) {
    case ReduceOp::sum: case ReduceOp::nansum: case ReduceOp::prod:
      outs = {d.output_dtype ? *d.output_dtype : (integral_in ? DType::i64 : t)};
      break;
    case ReduceOp::mean: case ReduceOp::nanmean:
      if (d.output_dtype) {
        if (!is_plain_floating(*d.output_dtype))
          return invalid_argument(where + "output dtype " + std::string(dtype_name(*d.output_dtype)) + " is not floating");
      } else {
        BARACUDA_TRY(need_float());
      }
      outs = {d.output_dtype ? *d.output_dtype : t};
      break;
    case ReduceOp::amax: case ReduceOp::amin: outs = {t}; break;
    case ReduceOp::max: case ReduceOp::min: outs = {t, DType::i64}; break;
    case ReduceOp::argmax: case ReduceOp::argmin: outs = {DType::i64}; break;
    case ReduceOp::var: case ReduceOp::std:
      BARACUDA_TRY(need_float());
      outs = {t};
      break;
    case ReduceOp::var_mean:
      BARACUDA_TRY(need_float());
      outs = {t, t};
      break;
    case ReduceOp::norm:
      BARACUDA_TRY(need_float());
      if (std::isnan(d.p)) return invalid_argument(where + "p is NaN");
      outs = {d.output_dtype ? *d.output_dtype : t};
      break;
    case ReduceOp::logsumexp: outs = {integral_in ? DType::f32 : t}; break;
    case ReduceOp::any: case ReduceOp::all: outs = {t == DType::u8 ? DType::u8 : DType::boolean}; break;
    case ReduceOp::count_nonzero: outs = {DType::i64}; break;
  }
  if (d.output_dtype && !(d.op == ReduceOp::sum || d.op == ReduceOp::nansum || d.op == ReduceOp::prod ||
                          d.op == ReduceOp::mean || d.op == ReduceOp::nanmean || d.op == ReduceOp::norm))
    return invalid_argument(where + "output_dtype is not an option of this op");
  for (DType o : outs)
    if (is_complex(o) || is_fp8(o)) return not_supported(where + "output dtype " + std::string(dtype_name(o)) + " is not supported");
  // sum/nansum/prod with dtype= convert the input to that dtype first (PyTorch), so an integral
  // dtype sums truncated inputs in integer math and a floating one sums in float math.
  const bool summing = d.op == ReduceOp::sum || d.op == ReduceOp::nansum || d.op == ReduceOp::prod;
  const bool float_math = summing ? is_floating(outs[0])
                                  : (!integral_in || d.op == ReduceOp::logsumexp || d.op == ReduceOp::mean ||
                                     d.op == ReduceOp::nanmean);
  sig.accumulate = float_math ? (outs[0] == DType::f64 || t == DType::f64 ? DType::f64 : DType::f32) : DType::i64;

  if (d.direction == Direction::forward) {
    sig.inputs = {x};
    for (DType o : outs) sig.outputs.push_back(Operand::tensor(o, out_shape));
  } else {
    if (!info.differentiable) return invalid_argument(where + "op is not differentiable");
    BARACUDA_TRY(need_float());
    // One incoming gradient per floating result.
    for (DType o : outs)
      if (is_floating(o)) sig.inputs.push_back(Operand::tensor(o, out_shape));
    if (!d.grad_outputs.empty()) {
      if (d.grad_outputs.size() != sig.inputs.size())
        return invalid_argument(where + "expects " + std::to_string(sig.inputs.size()) + " grad_output layouts, got " +
                                std::to_string(d.grad_outputs.size()));
      for (size_t i = 0; i < d.grad_outputs.size(); ++i) {
        if (d.grad_outputs[i].shape != out_shape || !is_plain_floating(d.grad_outputs[i].dtype))
          return invalid_argument(where + "grad_output " + std::to_string(i) + " must be a floating tensor of shape " +
                                  shape_to_string(out_shape));
        sig.inputs[i] = d.grad_outputs[i];
      }
    }
    sig.inputs.push_back(x);
    sig.outputs = {Operand::tensor(t, x.shape)};
  }
  if (!d.outputs.empty()) {
    if (d.outputs.size() != sig.outputs.size())
      return invalid_argument(where + "expects " + std::to_string(sig.outputs.size()) + " output layouts, got " +
                              std::to_string(d.outputs.size()));
    for (size_t i = 0; i < d.outputs.size(); ++i) {
      if (d.outputs[i].shape != sig.outputs[i].shape || d.outputs[i].dtype != sig.outputs[i].dtype)
        return invalid_argument(where + "output " + std::to_string(i) + " must be " +
                                std::string(dtype_name(sig.outputs[i].dtype)) + shape_to_string(sig.outputs[i].shape));
      auto l = Layout::make(d.outputs[i].shape, d.outputs[i].strides);
      if (!l) return invalid_argument(where + l.status().message());
      sig.outputs[i] = d.outputs[i];
    }
  }
  return sig;
}

Status ReduceFamily::validate(const ReduceDescriptor& desc) { return infer_signature(desc).status(); }

std::string ReduceFamily::describe(const ReduceDescriptor& d) {
  std::string s = std::string(reduce_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward(" : "(");
  s += std::string(dtype_name(d.input.dtype)) + shape_to_string(d.input.shape) + ", axes [";
  for (size_t i = 0; i < d.axes.size(); ++i) s += (i ? ", " : "") + std::to_string(d.axes[i]);
  s += "]";
  if (d.keepdim) s += ", keepdim";
  return s + ")";
}

}  // namespace baracuda
