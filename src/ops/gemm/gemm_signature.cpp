// GEMM descriptors: shape inference (inner dims, broadcast batch dims), the dtype rules
// (PyTorch's, plus torch._scaled_mm's for fp8 and torch._int_mm's for int8), the epilogue
// operands, and every operand's expected layout.
#include <cmath>
#include <string>

#include "baracuda/ops/gemm.hpp"
#include "ops/gemm/gemm_args.hpp"

namespace baracuda {
namespace {

std::string dn(DType t) { return std::string(dtype_name(t)); }
std::string num(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

Status check_layout(const std::string& what, const Operand& o) {
  if (o.is_scalar) return invalid_argument(gemm::kTag + what + " must be a tensor, not a scalar");
  auto l = Layout::make(o.shape, o.strides);
  if (!l) return invalid_argument(gemm::kTag + what + ": " + l.status().message());
  return Status::ok();
}

// The dtype a bias / bias_grad / pre_activation / C may have for this GEMM.
Status check_epilogue_dtype(const std::string& what, DType got, DType d, bool fp8_inputs) {
  if (!fp8_inputs) {
    if (got != d) return invalid_argument(gemm::kTag + what + " must have D's dtype " + dn(d) + ", got " + dn(got));
    return Status::ok();
  }
  // fp8 GEMMs: the vectors and C are never fp8 themselves (cuBLASLt's and _scaled_mm's rule).
  if (is_fp8(d) ? (got != DType::bf16 && got != DType::f16) : (got != d && !(got == DType::bf16 || got == DType::f16)))
    return invalid_argument(gemm::kTag + what + " of an fp8 GEMM with D " + dn(d) + " must be " +
                            (is_fp8(d) ? std::string("bf16 or f16") : dn(d) + ", bf16 or f16") + ", got " + dn(got));
  return Status::ok();
}

Status check_vector(const std::string& what, const Operand& o, GemmVectorAxis axis, int64_t m, int64_t n) {
  BARACUDA_TRY(check_layout(what, o));
  const int64_t len = axis == GemmVectorAxis::rows ? m : n;
  if (o.shape != std::vector<int64_t>{len})
    return invalid_argument(gemm::kTag + what + " has shape " + shape_to_string(o.shape) + ", expected [" +
                            std::to_string(len) + "] (" + std::string(gemm_vector_axis_name(axis)) + ": one per " +
                            (axis == GemmVectorAxis::rows ? "row, M=" : "column, N=") + std::to_string(len) + ")");
  return Status::ok();
}

bool is_integral_value(double v) { return std::isfinite(v) && std::floor(v) == v && std::fabs(v) <= 2147483647.0; }

int64_t blocks_of(int64_t len) { return (len + 127) / 128; }

// The f32 scale tensor of one fp8 operand: a scalar in the tensor mode; otherwise the mode's shape
// (gemm.hpp), with the strides of the descriptor's layout when it gives one.
Result<Operand> scale_operand(const char* what, GemmScaleMode mode, const std::optional<Operand>& layout, bool is_a,
                              const GemmSignature& sig) {
  const std::string name = std::string(what);
  if (gemm_scale_mode_name(mode) == "invalid")
    return invalid_argument(gemm::kTag + "unknown " + name + " mode id " + std::to_string(static_cast<int>(mode)));
  if (mode == GemmScaleMode::tensor) {
    if (layout)
      return invalid_argument(gemm::kTag + name + " layout is given but its mode is 'tensor' (a scalar needs none)");
    return Operand::tensor(DType::f32, {});
  }
  if (!sig.fp8)
    return invalid_argument(gemm::kTag + name + " mode " + std::string(gemm_scale_mode_name(mode)) +
                            " needs fp8 inputs");
  if (sig.batch != 1)
    return invalid_argument(gemm::kTag + name + " mode " + std::string(gemm_scale_mode_name(mode)) +
                            " takes a single batch entry, got batch shape " + shape_to_string(sig.batch_shape));
  const int64_t outer = is_a ? sig.m : sig.n, kb = blocks_of(sig.k);
  std::vector<int64_t> inner_outer;  // [outer-ish, k-ish] for A, transposed for B
  switch (mode) {
    case GemmScaleMode::outer_vector: inner_outer = {outer, 1}; break;
    case GemmScaleMode::block_1x128: inner_outer = {outer, kb}; break;
    case GemmScaleMode::block_128x128: inner_outer = {blocks_of(outer), kb}; break;
    case GemmScaleMode::tensor: break;
  }
  const std::vector<int64_t> shape = is_a ? inner_outer : std::vector<int64_t>{inner_outer[1], inner_outer[0]};
  if (!layout) return Operand::tensor(DType::f32, shape);
  BARACUDA_TRY(check_layout(name, *layout));
  if (layout->dtype != DType::f32)
    return invalid_argument(gemm::kTag + name + " must be f32, got " + dn(layout->dtype));
  if (layout->shape != shape)
    return invalid_argument(gemm::kTag + name + " has shape " + shape_to_string(layout->shape) + ", expected " +
                            shape_to_string(shape) + " for mode " + std::string(gemm_scale_mode_name(mode)) +
                            " (M=" + std::to_string(sig.m) + ", N=" + std::to_string(sig.n) + ", K=" +
                            std::to_string(sig.k) + ")");
  return *layout;
}

}  // namespace

std::string_view gemm_scale_mode_name(GemmScaleMode m) {
  switch (m) {
    case GemmScaleMode::tensor: return "tensor";
    case GemmScaleMode::outer_vector: return "outer_vector";
    case GemmScaleMode::block_1x128: return "block_1x128";
    case GemmScaleMode::block_128x128: return "block_128x128";
  }
  return "invalid";
}

std::string_view gemm_activation_name(GemmActivation a) {
  switch (a) {
    case GemmActivation::none: return "none";
    case GemmActivation::relu: return "relu";
    case GemmActivation::gelu_erf: return "gelu_erf";
    case GemmActivation::gelu_tanh: return "gelu_tanh";
    case GemmActivation::silu: return "silu";
  }
  return "invalid";
}

std::string_view gemm_vector_axis_name(GemmVectorAxis a) {
  switch (a) {
    case GemmVectorAxis::rows: return "rows";
    case GemmVectorAxis::columns: return "columns";
  }
  return "invalid";
}

Result<GemmSignature> infer_signature(const GemmDescriptor& d) {
  const std::string& tag = gemm::kTag;
  if (gemm_activation_name(d.activation) == "invalid")
    return invalid_argument(tag + "unknown activation id " + std::to_string(static_cast<int>(d.activation)));
  if (gemm_vector_axis_name(d.bias_axis) == "invalid" || gemm_vector_axis_name(d.bias_grad_axis) == "invalid")
    return invalid_argument(tag + "unknown bias axis id");
  BARACUDA_TRY(check_layout("A", d.a));
  BARACUDA_TRY(check_layout("B", d.b));
  BARACUDA_TRY(check_layout("D", d.d));
  const int ra = static_cast<int>(d.a.shape.size()), rb = static_cast<int>(d.b.shape.size());
  if (ra < 2 || rb < 2)
    return invalid_argument(tag + "A and B need rank >= 2 ([batch..., M, K] and [batch..., K, N]), got A " +
                            shape_to_string(d.a.shape) + " and B " + shape_to_string(d.b.shape));

  GemmSignature sig;
  sig.m = d.a.shape[ra - 2];
  sig.k = d.a.shape[ra - 1];
  sig.n = d.b.shape[rb - 1];
  if (d.b.shape[rb - 2] != sig.k)
    return invalid_argument(tag + "inner dimensions disagree: A " + shape_to_string(d.a.shape) + " has K=" +
                            std::to_string(sig.k) + ", B " + shape_to_string(d.b.shape) + " has K=" +
                            std::to_string(d.b.shape[rb - 2]));

  // Batch dims: right-aligned broadcast (torch.matmul).
  const int nb = std::max(ra, rb) - 2;
  sig.batch_shape.assign(static_cast<size_t>(nb), 1);
  for (int i = 0; i < nb; ++i) {
    const int ia = ra - 2 - nb + i, ib = rb - 2 - nb + i;
    const int64_t sa = ia >= 0 ? d.a.shape[ia] : 1, sb = ib >= 0 ? d.b.shape[ib] : 1;
    if (sa != sb && sa != 1 && sb != 1)
      return invalid_argument(tag + "batch dims of A " + shape_to_string(d.a.shape) + " and B " +
                              shape_to_string(d.b.shape) + " do not broadcast (" + std::to_string(sa) + " vs " +
                              std::to_string(sb) + " at batch dim " + std::to_string(i) + ")");
    sig.batch_shape[i] = sa == 1 ? sb : sa;
  }
  sig.batch = 1;
  for (int64_t s : sig.batch_shape) sig.batch *= s;

  // Dtypes.
  const DType ta = d.a.dtype, tb = d.b.dtype, td = d.d.dtype;
  const auto combo = [&] { return "A " + dn(ta) + ", B " + dn(tb) + " -> D " + dn(td); };
  if (is_fp8(ta) || is_fp8(tb)) {
    if (!is_fp8(ta) || !is_fp8(tb))
      return invalid_argument(tag + "unsupported dtype combination " + combo() + ": fp8 A needs fp8 B and vice versa");
    if (!(td == DType::bf16 || td == DType::f16 || td == DType::f32 || is_fp8(td)))
      return invalid_argument(tag + "unsupported dtype combination " + combo() +
                              ": an fp8 GEMM writes bf16, f16, f32, f8e4m3 or f8e5m2");
    sig.fp8 = true;
  } else if (ta == DType::i8 || tb == DType::i8) {
    if (ta != DType::i8 || tb != DType::i8 || td != DType::i32)
      return invalid_argument(tag + "unsupported dtype combination " + combo() + ": the integer GEMM is i8 x i8 -> i32");
    sig.integer = true;
  } else {
    if (ta != tb || !is_plain_floating(ta) || td != ta)
      return invalid_argument(tag + "unsupported dtype combination " + combo() +
                              " (supported: f64/f32/f16/bf16 with D of the same dtype, fp8 x fp8 -> "
                              "bf16/f16/f32/fp8, i8 x i8 -> i32)");
  }
  sig.accumulator = ta == DType::f64 ? DType::f64 : (sig.integer ? DType::i32 : DType::f32);

  // D.
  std::vector<int64_t> d_shape = sig.batch_shape;
  d_shape.push_back(sig.m);
  d_shape.push_back(sig.n);
  if (d.d.shape != d_shape)
    return invalid_argument(tag + "D has shape " + shape_to_string(d.d.shape) + ", expected " + shape_to_string(d_shape) +
                            " for A " + shape_to_string(d.a.shape) + " x B " + shape_to_string(d.b.shape));

  // alpha / beta / C.
  if (sig.integer && (!is_integral_value(d.alpha) || !is_integral_value(d.beta)))
    return invalid_argument(tag + "the integer GEMM needs integral alpha and beta (int32), got alpha " + num(d.alpha) +
                            ", beta " + num(d.beta));
  if (d.beta != 0.0 && !d.c)
    return invalid_argument(tag + "beta " + num(d.beta) + " needs the C operand (beta * C is added to the product)");
  if (d.c) {
    BARACUDA_TRY(check_layout("C", *d.c));
    const auto& cs = d.c->shape;
    bool ok = cs.size() <= d_shape.size();
    for (size_t i = 0; ok && i < cs.size(); ++i) {
      const int64_t c = cs[cs.size() - 1 - i], t = d_shape[d_shape.size() - 1 - i];
      ok = c == 1 || c == t;
    }
    if (!ok)
      return invalid_argument(tag + "C of shape " + shape_to_string(cs) + " does not broadcast to D's shape " +
                              shape_to_string(d_shape));
    if (sig.integer) {
      if (d.c->dtype != DType::i32) return invalid_argument(tag + "C of the integer GEMM must be i32, got " + dn(d.c->dtype));
    } else {
      BARACUDA_TRY(check_epilogue_dtype("C", d.c->dtype, td, sig.fp8));
    }
  }

  // Epilogue.
  const bool any_epilogue = d.bias || d.activation != GemmActivation::none || d.pre_activation || d.bias_grad;
  if (sig.integer && any_epilogue)
    return invalid_argument(tag + "the integer GEMM (i8 x i8 -> i32) takes no bias, activation, pre_activation or "
                            "bias_grad epilogue");
  if (d.bias) {
    BARACUDA_TRY(check_vector("bias", *d.bias, d.bias_axis, sig.m, sig.n));
    BARACUDA_TRY(check_epilogue_dtype("bias", d.bias->dtype, td, sig.fp8));
  }
  if (d.pre_activation) {
    BARACUDA_TRY(check_layout("pre_activation", *d.pre_activation));
    if (d.pre_activation->shape != d_shape)
      return invalid_argument(tag + "pre_activation has shape " + shape_to_string(d.pre_activation->shape) +
                              ", expected D's shape " + shape_to_string(d_shape));
    BARACUDA_TRY(check_epilogue_dtype("pre_activation", d.pre_activation->dtype, td, sig.fp8));
  }
  if (d.bias_grad) {
    BARACUDA_TRY(check_vector("bias_grad", *d.bias_grad, d.bias_grad_axis, sig.m, sig.n));
    BARACUDA_TRY(check_epilogue_dtype("bias_grad", d.bias_grad->dtype, td, sig.fp8));
    if (sig.batch != 1)
      return invalid_argument(tag + "bias_grad needs a single batch entry, got batch shape " +
                              shape_to_string(sig.batch_shape) + " (flatten the tokens into M or K)");
  }
  if (d.amax && !is_fp8(td))
    return invalid_argument(tag + "amax is an output of fp8 GEMMs with an fp8 D, got D " + dn(td));
  if (d.fp8_fast_accum && !sig.fp8)
    return invalid_argument(tag + "fp8_fast_accum is an option of fp8 GEMMs, got A " + dn(d.a.dtype) + " and B " +
                            dn(d.b.dtype));

  sig.a = d.a;
  sig.b = d.b;
  sig.c = d.c;
  sig.d = d.d;
  sig.bias = d.bias;
  sig.pre_activation = d.pre_activation;
  sig.bias_grad = d.bias_grad;
  const Operand scalar = Operand::tensor(DType::f32, {});
  BARACUDA_ASSIGN_OR_RETURN(Operand a_scale, scale_operand("a_scale", d.a_scale_mode, d.a_scale, true, sig));
  BARACUDA_ASSIGN_OR_RETURN(Operand b_scale, scale_operand("b_scale", d.b_scale_mode, d.b_scale, false, sig));
  if ((d.a_scale_mode != GemmScaleMode::tensor || d.b_scale_mode != GemmScaleMode::tensor) && d.bias_grad)
    return invalid_argument(tag + "bias_grad (the sum of op(A) or op(B) over k) is not defined with per-row or "
                            "per-block scales");
  if (sig.fp8) {
    sig.a_scale = a_scale;
    sig.b_scale = b_scale;
    if (is_fp8(td)) sig.d_scale = scalar;
  }
  if (d.amax) sig.amax = scalar;
  return sig;
}

Status GemmFamily::validate(const GemmDescriptor& desc) { return infer_signature(desc).status(); }

std::string GemmFamily::describe(const GemmDescriptor& d) {
  auto op = [](const Operand& o) {
    std::string s = dn(o.dtype) + shape_to_string(o.shape);
    if (!o.strides.empty()) s += " strides " + shape_to_string(o.strides);
    return s;
  };
  std::string s = "gemm(" + op(d.a) + " x " + op(d.b) + " -> " + op(d.d);
  if (d.alpha != 1.0) s += ", alpha " + num(d.alpha);
  if (d.beta != 0.0 || d.c) s += ", beta " + num(d.beta) + (d.c ? " C " + op(*d.c) : "");
  if (d.bias) s += ", bias " + std::string(gemm_vector_axis_name(d.bias_axis)) + " " + dn(d.bias->dtype);
  if (d.activation != GemmActivation::none) s += ", " + std::string(gemm_activation_name(d.activation));
  if (d.pre_activation) s += ", pre_activation";
  if (d.bias_grad) s += ", bias_grad " + std::string(gemm_vector_axis_name(d.bias_grad_axis));
  if (d.amax) s += ", amax";
  if (d.a_scale_mode != GemmScaleMode::tensor) s += ", a_scale " + std::string(gemm_scale_mode_name(d.a_scale_mode));
  if (d.b_scale_mode != GemmScaleMode::tensor) s += ", b_scale " + std::string(gemm_scale_mode_name(d.b_scale_mode));
  if (d.allow_tf32) s += ", allow_tf32";
  if (d.fp8_fast_accum) s += ", fp8_fast_accum";
  return s + ")";
}

}  // namespace baracuda
