// Descriptor validation: type promotion, broadcasting and the dtypes/shapes of every operand.
#include <algorithm>
#include <string>

#include "baracuda/core/scalar_convert.hpp"
#include "ops/elementwise/elementwise_problem.hpp"

namespace baracuda {
namespace {

std::string tag(const ElementwiseDescriptor& d) {
  return "[elementwise." + std::string(op_info(d.op).name) +
         (d.direction == Direction::backward ? ".backward] " : "] ");
}

DType to_complex(DType t) { return t == DType::f64 ? DType::c128 : DType::c64; }

// PyTorch's combine_categories: `higher` is the result of a higher-priority tier.
std::optional<DType> combine(std::optional<DType> higher, std::optional<DType> lower) {
  if (!higher) return lower;
  if (!lower) return higher;
  if (is_complex(*higher)) return higher;
  if (is_complex(*lower)) return is_floating(*higher) ? to_complex(*higher) : *lower;
  if (is_floating(*higher)) return higher;
  if (*higher == DType::boolean || is_floating(*lower)) return promote_types(*higher, *lower);
  return higher;
}

// The dtype a Python number of this kind participates with (torch's default dtypes).
DType scalar_participation(DType kind) {
  if (kind == DType::boolean) return DType::boolean;
  if (is_complex(kind)) return DType::c64;
  if (is_floating(kind)) return DType::f32;
  return DType::i64;
}

DType compute_dtype_for(DType result) {
  if (is_complex(result)) return result;
  if (result == DType::f64) return DType::f64;
  if (is_floating(result)) return DType::f32;
  return DType::i64;
}

Status broadcast_into(std::vector<int64_t>& acc, std::span<const int64_t> shape, const std::string& where) {
  if (shape.size() > acc.size()) acc.insert(acc.begin(), shape.size() - acc.size(), 1);
  size_t off = acc.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t& a = acc[off + i];
    if (shape[i] == a || shape[i] == 1) continue;
    if (a == 1) { a = shape[i]; continue; }
    return invalid_argument(where + "shapes do not broadcast: size " + std::to_string(shape[i]) +
                            " against " + std::to_string(a) + " at dim " + std::to_string(off + i));
  }
  return Status::ok();
}

Status check_operand(const Operand& o, const std::string& where) {
  if (o.is_scalar) {
    if (o.dtype != DType::boolean && o.dtype != DType::i64 && o.dtype != DType::f64)
      return invalid_argument(where + "a scalar operand's kind must be boolean, i64 or f64, got " +
                              std::string(dtype_name(o.dtype)));
    return Status::ok();
  }
  auto layout = Layout::make(o.shape, o.strides);
  if (!layout) return invalid_argument(where + layout.status().message());
  return Status::ok();
}

}  // namespace

Result<DType> result_type(std::span<const Operand> operands) {
  std::optional<DType> tiers[3];  // dimensioned tensors, zero-dim tensors, Python scalars
  for (const Operand& o : operands) {
    int tier = o.is_scalar ? 2 : o.shape.empty() ? 1 : 0;
    DType t = o.is_scalar ? scalar_participation(o.dtype) : o.dtype;
    if (!tiers[tier]) { tiers[tier] = t; continue; }
    auto p = promote_types(*tiers[tier], t);
    if (!p)
      return invalid_argument("[promotion] no common dtype for " + std::string(dtype_name(*tiers[tier])) + " and " +
                              std::string(dtype_name(t)) + " (float8 never promotes)");
    tiers[tier] = p;
  }
  auto r = combine(tiers[0], combine(tiers[1], tiers[2]));
  if (!r) return invalid_argument("[promotion] no operands, or float8 mixed with another dtype");
  return *r;
}

Result<ElementwiseSignature> infer_signature(const ElementwiseDescriptor& d) {
  const ElementwiseOpInfo& info = op_info(d.op);
  const std::string where = tag(d);
  if (info.name == "invalid") return invalid_argument("[elementwise] unknown op id " + std::to_string(static_cast<int>(d.op)));
  if (static_cast<int>(d.inputs.size()) != info.arity)
    return invalid_argument(where + "expects " + std::to_string(info.arity) + " inputs, got " + std::to_string(d.inputs.size()));
  if (d.direction == Direction::backward && !info.differentiable)
    return invalid_argument(where + "op is not differentiable");
  bool any_tensor = false;
  for (const Operand& o : d.inputs) {
    BARACUDA_TRY(check_operand(o, where));
    any_tensor |= !o.is_scalar;
  }
  if (!any_tensor) return invalid_argument(where + "needs at least one tensor operand");
  for (const Operand& o : d.inputs)
    if (!o.is_scalar && is_complex(o.dtype) && !ew::takes_complex(d.op, d.direction))
      return not_supported(where + "complex operands are not supported by this op" +
                           (d.direction == Direction::backward ? std::string(" (backward)") : std::string()) +
                           " (got " + std::string(dtype_name(o.dtype)) + ")");

  ElementwiseSignature sig;
  // Iteration shape: the broadcast of every tensor input.
  // (prelu's weight is per channel, not broadcast: its branch below sets the shape.)
  for (size_t i = 0; i < d.inputs.size(); ++i)
    if (!d.inputs[i].is_scalar && !(info.category == ElementwiseCategory::prelu && i == 1))
      BARACUDA_TRY(broadcast_into(sig.iteration_shape, d.inputs[i].shape, where));

  const ElementwiseCategory cat = info.category;
  DType result = DType::f32;
  auto need_float = [&](DType t) -> Status {
    if (!is_plain_floating(t))
      return invalid_argument(where + "requires floating inputs (f64, f32, f16, bf16), got " + std::string(dtype_name(t)));
    return Status::ok();
  };

  switch (cat) {
    case ElementwiseCategory::float_math:
    case ElementwiseCategory::same:
    case ElementwiseCategory::float_only:
    case ElementwiseCategory::predicate:
    case ElementwiseCategory::integer: {
      BARACUDA_ASSIGN_OR_RETURN(result, result_type(d.inputs));
      if (is_fp8(result)) return not_supported(where + "float8 operands are supported by cast only");
      if (cat == ElementwiseCategory::float_math && !is_floating(result) && !is_complex(result)) result = DType::f32;
      if (cat == ElementwiseCategory::float_only) BARACUDA_TRY(need_float(result));
      if (cat == ElementwiseCategory::integer) {
        bool shift = d.op == ElementwiseOp::shift_left || d.op == ElementwiseOp::shift_right;
        if (!(is_integral(result) || (!shift && result == DType::boolean)))
          return invalid_argument(where + "requires integer" + (shift ? "" : " or bool") + " inputs, got " +
                                  std::string(dtype_name(result)));
      }
      // square(bool) is pow(x, 2): PyTorch promotes it to int64.
      if (d.op == ElementwiseOp::square && result == DType::boolean) result = DType::i64;
      if (cat == ElementwiseCategory::same && result == DType::boolean &&
          (d.op == ElementwiseOp::sub || d.op == ElementwiseOp::neg))
        return invalid_argument(where + "is not defined for bool (PyTorch: use logical_not / logical_xor)");
      sig.compute = compute_dtype_for(result);
      break;
    }
    case ElementwiseCategory::where: {
      const Operand& cond = d.inputs[0];
      if (cond.dtype != DType::boolean && cond.dtype != DType::u8)
        return invalid_argument(where + "condition must be bool (or u8), got " + std::string(dtype_name(cond.dtype)));
      BARACUDA_ASSIGN_OR_RETURN(result, result_type(std::span<const Operand>(d.inputs).subspan(1)));
      if (is_fp8(result)) return not_supported(where + "float8 operands are supported by cast only");
      sig.compute = compute_dtype_for(result);
      break;
    }
    case ElementwiseCategory::gated: {
      const Operand& x = d.inputs[0];
      if (x.is_scalar) return invalid_argument(where + "input must be a tensor");
      BARACUDA_TRY(need_float(x.dtype));
      int rank = static_cast<int>(x.shape.size());
      if (rank == 0) return invalid_argument(where + "input must have rank >= 1");
      int dim = d.attrs.dim < 0 ? d.attrs.dim + rank : d.attrs.dim;
      if (dim < 0 || dim >= rank)
        return invalid_argument(where + "dim=" + std::to_string(d.attrs.dim) + " out of range for rank " + std::to_string(rank));
      if (x.shape[dim] % 2 != 0)
        return invalid_argument(where + "size " + std::to_string(x.shape[dim]) + " along dim " + std::to_string(dim) +
                                " is not even");
      sig.iteration_shape = x.shape;
      sig.iteration_shape[dim] /= 2;
      result = x.dtype;
      sig.compute = compute_dtype_for(result);
      break;
    }
    case ElementwiseCategory::cast: {
      const Operand& x = d.inputs[0];
      if (x.is_scalar) return invalid_argument(where + "input must be a tensor");
      if (!d.output_dtype) return invalid_argument(where + "output_dtype (the target dtype) is required");
      result = *d.output_dtype;
      bool both_int = !is_floating(x.dtype) && !is_floating(result);
      bool wide = x.dtype == DType::f64 || result == DType::f64;
      sig.compute = both_int ? DType::i64 : wide ? DType::f64 : DType::f32;
      if (is_complex(x.dtype) || is_complex(result))  // complex math, c128 when either side is 64-bit float
        sig.compute = (wide || x.dtype == DType::c128 || result == DType::c128) ? DType::c128 : DType::c64;
      if ((d.attrs.scale != 1.0 || d.attrs.amax) && !is_floating(x.dtype))
        return invalid_argument(where + "scale and amax need a floating input, got " + std::string(dtype_name(x.dtype)));
      if (d.attrs.scale != 1.0 && !is_floating(result))
        return invalid_argument(where + "scale needs a floating target, got " + std::string(dtype_name(result)));
      if (d.direction == Direction::backward && (!is_floating(x.dtype) || !is_floating(result)))
        return invalid_argument(where + "backward of a cast needs floating source and target");
      break;
    }
    case ElementwiseCategory::prelu: {
      const Operand& x = d.inputs[0];
      const Operand& w = d.inputs[1];
      if (x.is_scalar || w.is_scalar) return invalid_argument(where + "x and weight must be tensors");
      BARACUDA_TRY(need_float(x.dtype));
      if (w.dtype != x.dtype)
        return invalid_argument(where + "weight dtype " + std::string(dtype_name(w.dtype)) + " differs from x dtype " +
                                std::string(dtype_name(x.dtype)));
      int64_t wn = 1;
      for (int64_t s : w.shape) wn *= s;
      int64_t channels = x.shape.size() >= 2 ? x.shape[1] : 1;
      if (w.shape.size() > 1 || (wn != 1 && wn != channels))
        return invalid_argument(where + "weight of shape " + shape_to_string(w.shape) + " must have 1 or " +
                                std::to_string(channels) + " (x.shape[1]) elements");
      sig.iteration_shape = x.shape;
      result = x.dtype;
      sig.compute = compute_dtype_for(result);
      break;
    }
  }

  if (d.direction == Direction::forward) {
    DType out = result;
    if (cat == ElementwiseCategory::predicate) out = DType::boolean;
    if (d.op == ElementwiseOp::abs && is_complex(out)) out = ew::complex_part_dtype(out);  // |z| is real
    if (d.output_dtype && cat != ElementwiseCategory::cast) {
      if (!can_cast(out, *d.output_dtype))
        return invalid_argument(where + "result dtype " + std::string(dtype_name(out)) + " can't be cast to output dtype " +
                                std::string(dtype_name(*d.output_dtype)));
      out = *d.output_dtype;
    }
    sig.outputs.push_back(Operand::tensor(out, sig.iteration_shape));
    if (cat == ElementwiseCategory::cast && d.attrs.amax) sig.outputs.push_back(Operand::tensor(DType::f32, {1}));
  } else {
    if (!is_floating(sig.compute) && !is_complex(sig.compute))
      return invalid_argument(where + "backward needs floating operands");
    bool any_float_tensor = false;
    for (const Operand& in : d.inputs)
      any_float_tensor |= !in.is_scalar && (is_floating(in.dtype) || is_complex(in.dtype));
    if (!any_float_tensor)
      return invalid_argument(where + "backward needs a floating tensor input (integer inputs have no gradient)");
    for (const Operand& in : d.inputs) {
      std::vector<int64_t> shape = sig.iteration_shape;
      if (cat == ElementwiseCategory::gated) shape = in.shape;
      if (cat == ElementwiseCategory::prelu && &in == &d.inputs[1]) shape = in.shape;
      sig.outputs.push_back(Operand::tensor(in.is_scalar ? result : in.dtype, shape));
    }
  }
  // Caller-provided output layouts override strides (and dtype, if castable).
  if (!d.outputs.empty()) {
    if (d.outputs.size() != sig.outputs.size())
      return invalid_argument(where + "expects " + std::to_string(sig.outputs.size()) + " output layouts, got " +
                              std::to_string(d.outputs.size()));
    for (size_t i = 0; i < d.outputs.size(); ++i) {
      const Operand& o = d.outputs[i];
      BARACUDA_TRY(check_operand(o, where));
      if (o.shape != sig.outputs[i].shape)
        return invalid_argument(where + "output " + std::to_string(i) + " has shape " + shape_to_string(o.shape) +
                                ", expected " + shape_to_string(sig.outputs[i].shape));
      if (o.dtype != sig.outputs[i].dtype && !can_cast(sig.outputs[i].dtype, o.dtype))
        return invalid_argument(where + "output " + std::to_string(i) + " dtype " + std::string(dtype_name(o.dtype)) +
                                " can't hold a " + std::string(dtype_name(sig.outputs[i].dtype)) + " result");
      sig.outputs[i] = o;
    }
  }
  // Complex outputs need complex math (the kernels of real ops write real values).
  for (const Operand& o : sig.outputs)
    if (is_complex(o.dtype) && !is_complex(sig.compute))
      return not_supported(where + "a " + std::string(dtype_name(o.dtype)) + " output for a real " +
                           std::string(dtype_name(result)) + " result is not supported (cast the result)");
  if (d.grad_output) {
    if (d.direction != Direction::backward) return invalid_argument(where + "grad_output is only for backward");
    BARACUDA_TRY(check_operand(*d.grad_output, where));
    if (d.grad_output->is_scalar || d.grad_output->shape != sig.iteration_shape)
      return invalid_argument(where + "grad_output has shape " + shape_to_string(d.grad_output->shape) + ", expected " +
                              shape_to_string(sig.iteration_shape));
    const DType g = d.grad_output->dtype;
    const bool complex_dy = is_complex(g) && is_complex(sig.compute);
    if (!complex_dy && (!is_floating(g) || is_fp8(g)))
      return invalid_argument(where + "grad_output must be f64/f32/f16/bf16 (c64/c128 for complex operands), got " +
                              std::string(dtype_name(g)));
  }
  if (d.alignment == 0 || (d.alignment & (d.alignment - 1)) != 0)
    return invalid_argument(where + "alignment " + std::to_string(d.alignment) + " is not a power of two");
  auto it = Layout::make(sig.iteration_shape);
  if (!it) return invalid_argument(where + it.status().message());
  return sig;
}

namespace ew {

Result<Problem> resolve(const ElementwiseDescriptor& desc) {
  Problem p;
  p.desc = desc;
  p.info = op_info(desc.op);
  BARACUDA_ASSIGN_OR_RETURN(p.sig, infer_signature(desc));
  // bitwise_not on bool is logical not (PyTorch); the kernel computes in i64, so say so.
  if (desc.op == ElementwiseOp::bitwise_not && desc.inputs[0].dtype == DType::boolean)
    p.desc.op = ElementwiseOp::logical_not;
  // PyTorch's shrink kernels convert lambd to the tensor's dtype before comparing (lambd = 0.8 is
  // 0.80078125 in bf16, so x = +-0.80078125 shrinks to 0); do the same for 16-bit inputs.
  if ((desc.op == ElementwiseOp::hardshrink || desc.op == ElementwiseOp::softshrink) && !desc.inputs.empty()) {
    double& lambd = p.desc.attrs.lambd;
    DType x = desc.inputs[0].dtype;
    if (x == DType::bf16) lambd = bf16_bits_to_float(float_to_bf16_bits(lambd));
    if (x == DType::f16) lambd = f16_bits_to_float(float_to_f16_bits(lambd));
  }
  const bool bwd = desc.direction == Direction::backward;
  const bool gated = p.info.category == ElementwiseCategory::gated;
  int k = 0;
  if (bwd) {
    // dy defaults to the forward result's dtype.
    DType dy = DType::f32;
    if (desc.grad_output) {
      dy = desc.grad_output->dtype;
    } else {
      ElementwiseDescriptor fwd = desc;
      fwd.direction = Direction::forward;
      fwd.outputs.clear();
      BARACUDA_ASSIGN_OR_RETURN(ElementwiseSignature fsig, infer_signature(fwd));
      dy = fsig.outputs[0].dtype;
    }
    p.in_dtype[k] = dy;
    p.in_scalar[k++] = false;
  }
  for (const Operand& o : desc.inputs) {
    p.in_dtype[k] = o.dtype;
    p.in_scalar[k++] = o.is_scalar;
    if (gated) {  // the second half
      p.in_dtype[k] = o.dtype;
      p.in_scalar[k++] = false;
    }
  }
  p.nin = k;
  if (!bwd) {
    p.nout = 1;
    p.out_dtype[0] = p.sig.outputs[0].dtype;
  } else if (gated) {
    p.nout = 2;
    p.out_dtype[0] = p.out_dtype[1] = p.sig.outputs[0].dtype;
  } else {
    p.nout = static_cast<int>(p.sig.outputs.size());
    for (int i = 0; i < p.nout; ++i) p.out_dtype[i] = p.sig.outputs[i].dtype;
  }
  return p;
}

}  // namespace ew

Status ElementwiseFamily::validate(const ElementwiseDescriptor& desc) { return infer_signature(desc).status(); }

std::string ElementwiseFamily::describe(const ElementwiseDescriptor& d) {
  std::string s = std::string(op_info(d.op).name) + (d.direction == Direction::backward ? ".backward(" : "(");
  for (size_t i = 0; i < d.inputs.size(); ++i) {
    const Operand& o = d.inputs[i];
    s += (i ? ", " : "") + std::string(o.is_scalar ? "scalar:" : "") + std::string(dtype_name(o.dtype)) +
         (o.is_scalar ? "" : shape_to_string(o.shape)) + (o.strides.empty() ? "" : " strides " + shape_to_string(o.strides));
  }
  if (d.output_dtype) s += " -> " + std::string(dtype_name(*d.output_dtype));
  return s + ")";
}

}  // namespace baracuda
