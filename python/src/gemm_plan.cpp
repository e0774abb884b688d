// baracuda._C.GemmPlan: Plan<GemmFamily> for Python; gemm_infer_signature.
#include <optional>

#include "bindings.hpp"
#include "plan_holder.hpp"

namespace baracuda::py {
namespace {

GemmActivation activation_from_name(std::string_view name) {
  for (GemmActivation a : {GemmActivation::none, GemmActivation::relu, GemmActivation::gelu_erf,
                           GemmActivation::gelu_tanh, GemmActivation::silu})
    if (gemm_activation_name(a) == name) return a;
  throw_invalid("[gemm] activation must be 'none', 'relu', 'gelu_erf', 'gelu_tanh' or 'silu', got '" +
                std::string(name) + "'");
}

GemmVectorAxis axis_from_name(std::string_view what, std::string_view name) {
  for (GemmVectorAxis a : {GemmVectorAxis::rows, GemmVectorAxis::columns})
    if (gemm_vector_axis_name(a) == name) return a;
  throw_invalid("[gemm] " + std::string(what) + " must be 'rows' or 'columns', got '" + std::string(name) + "'");
}

GemmScaleMode scale_mode_from_name(std::string_view what, std::string_view name) {
  for (GemmScaleMode m : {GemmScaleMode::tensor, GemmScaleMode::outer_vector, GemmScaleMode::block_1x128,
                          GemmScaleMode::block_128x128})
    if (gemm_scale_mode_name(m) == name) return m;
  throw_invalid("[gemm] " + std::string(what) + " must be 'tensor', 'outer_vector', 'block_1x128' or "
                "'block_128x128', got '" + std::string(name) + "'");
}

// Every descriptor field as Python passes it (operand specs: (dtype, shape, strides or None, False)).
struct GemmSpecs {
  nb::handle a, b, c, d, bias, pre_activation, bias_grad;
  nb::handle a_scale, b_scale;  // the scale tensors' specs (non-tensor scale modes only)
  std::string_view a_scale_mode = "tensor", b_scale_mode = "tensor";
  double alpha = 1.0, beta = 0.0;
  bool allow_tf32 = false, amax = false, autotune = false, fp8_fast_accum = false;
  std::string_view bias_axis = "columns", activation = "none", bias_grad_axis = "rows";
  size_t alignment = 16;
  size_t max_workspace_bytes = size_t{32} << 20;
};

GemmDescriptor make_gemm_descriptor(const GemmSpecs& s) {
  GemmDescriptor d;
  d.a = to_operand(s.a, "a spec");
  d.b = to_operand(s.b, "b spec");
  d.c = optional_operand(s.c, "c spec");
  d.d = to_operand(s.d, "d spec");
  d.alpha = s.alpha;
  d.beta = s.beta;
  d.allow_tf32 = s.allow_tf32;
  d.fp8_fast_accum = s.fp8_fast_accum;
  d.bias = optional_operand(s.bias, "bias spec");
  d.bias_axis = axis_from_name("bias_axis", s.bias_axis);
  d.activation = activation_from_name(s.activation);
  d.pre_activation = optional_operand(s.pre_activation, "pre_activation spec");
  d.bias_grad = optional_operand(s.bias_grad, "bias_grad spec");
  d.bias_grad_axis = axis_from_name("bias_grad_axis", s.bias_grad_axis);
  d.amax = s.amax;
  d.a_scale_mode = scale_mode_from_name("a_scale_mode", s.a_scale_mode);
  d.b_scale_mode = scale_mode_from_name("b_scale_mode", s.b_scale_mode);
  d.a_scale = optional_operand(s.a_scale, "a_scale spec");
  d.b_scale = optional_operand(s.b_scale, "b_scale spec");
  d.alignment = s.alignment;
  d.max_workspace_bytes = s.max_workspace_bytes;
  return d;
}

nb::dict gemm_signature_to_dict(const GemmSignature& s) {
  nb::dict d;
  d["m"] = s.m;
  d["n"] = s.n;
  d["k"] = s.k;
  d["batch_shape"] = nb::tuple(nb::cast(s.batch_shape));
  d["batch"] = s.batch;
  d["fp8"] = s.fp8;
  d["integer"] = s.integer;
  d["accumulator"] = std::string(dtype_name(s.accumulator));
  for (auto [name, o] : {std::pair{"a", &s.a}, {"b", &s.b}, {"c", &s.c}, {"d", &s.d}, {"bias", &s.bias},
                         {"pre_activation", &s.pre_activation}, {"bias_grad", &s.bias_grad},
                         {"a_scale", &s.a_scale}, {"b_scale", &s.b_scale}, {"d_scale", &s.d_scale}, {"amax", &s.amax}})
    d[name] = opt_tuple(*o);
  return d;
}

PlanPreference with_autotune(PlanPreference pref, bool autotune) {
  pref.autotune = autotune;
  return pref;
}

class PyGemmPlan : public PlanHolder<GemmFamily> {
 public:
  PyGemmPlan(const GemmSpecs& specs, std::string_view device, uintptr_t stream, nb::handle force, nb::handle exclude,
             bool deterministic)
      : PlanHolder(make_gemm_descriptor(specs), parse_device(device), stream,
                   with_autotune(to_preference(force, exclude, deterministic), specs.autotune)),
        sig_(unwrap(infer_signature(desc_))) {}

  nb::dict signature() const { return gemm_signature_to_dict(sig_); }

  void run(nb::handle stream, nb::handle workspace, size_t workspace_bytes, nb::handle a, nb::handle b, nb::handle c,
           nb::handle bias, nb::handle a_scale, nb::handle b_scale, nb::handle d_scale, nb::handle d,
           nb::handle pre_activation, nb::handle bias_grad, nb::handle amax) {
    std::vector<InArray> keep_in;
    std::vector<OutArray> keep_out;
    keep_in.reserve(7);
    keep_out.reserve(5);
    GemmArgs g;
    g.a = opt_ref(a, keep_in);
    g.b = opt_ref(b, keep_in);
    g.c = opt_ref(c, keep_in);
    g.bias = opt_ref(bias, keep_in);
    g.a_scale = opt_ref(a_scale, keep_in);
    g.b_scale = opt_ref(b_scale, keep_in);
    g.d_scale = opt_ref(d_scale, keep_in);
    g.d = opt_mut(d, keep_out);
    g.pre_activation = opt_mut(pre_activation, keep_out);
    g.bias_grad = opt_mut(bias_grad, keep_out);
    g.amax = opt_mut(amax, keep_out);
    run_args(stream, workspace, workspace_bytes, g, keep_out);
  }

  std::string repr() const { return "<baracuda.GemmPlan " + describe() + " on " + device() + ": " + sku_string() + ">"; }

 private:
  GemmSignature sig_;
};

GemmSpecs specs_from(nb::handle a, nb::handle b, nb::handle d, nb::handle c, nb::handle bias,
                     nb::handle pre_activation, nb::handle bias_grad, double alpha, double beta, bool allow_tf32,
                     std::string_view bias_axis, std::string_view activation, std::string_view bias_grad_axis,
                     bool amax, size_t alignment, size_t max_workspace_bytes, bool autotune = false,
                     nb::handle a_scale = nb::none(), nb::handle b_scale = nb::none(),
                     std::string_view a_scale_mode = "tensor", std::string_view b_scale_mode = "tensor") {
  GemmSpecs s;
  s.a_scale = a_scale, s.b_scale = b_scale, s.a_scale_mode = a_scale_mode, s.b_scale_mode = b_scale_mode;
  s.a = a, s.b = b, s.d = d, s.c = c, s.bias = bias, s.pre_activation = pre_activation, s.bias_grad = bias_grad;
  s.alpha = alpha, s.beta = beta, s.allow_tf32 = allow_tf32, s.amax = amax;
  s.bias_axis = bias_axis, s.activation = activation, s.bias_grad_axis = bias_grad_axis;
  s.alignment = alignment, s.max_workspace_bytes = max_workspace_bytes, s.autotune = autotune;
  return s;
}

}  // namespace

void register_gemm(nb::module_& m) {
  m.def(
      "gemm_infer_signature",
      [](nb::handle a, nb::handle b, nb::handle d, nb::handle c, nb::handle bias, nb::handle pre_activation,
         nb::handle bias_grad, double alpha, double beta, bool allow_tf32, std::string_view bias_axis,
         std::string_view activation, std::string_view bias_grad_axis, bool amax, nb::handle a_scale,
         nb::handle b_scale, std::string_view a_scale_mode, std::string_view b_scale_mode) {
        return gemm_signature_to_dict(unwrap(infer_signature(make_gemm_descriptor(
            specs_from(a, b, d, c, bias, pre_activation, bias_grad, alpha, beta, allow_tf32, bias_axis, activation,
                       bias_grad_axis, amax, 16, size_t{32} << 20, false, a_scale, b_scale, a_scale_mode,
                       b_scale_mode)))));
      },
      nb::arg("a"), nb::arg("b"), nb::arg("d"), nb::arg("c") = nb::none(), nb::arg("bias") = nb::none(),
      nb::arg("pre_activation") = nb::none(), nb::arg("bias_grad") = nb::none(), nb::arg("alpha") = 1.0,
      nb::arg("beta") = 0.0, nb::arg("allow_tf32") = false, nb::arg("bias_axis") = "columns",
      nb::arg("activation") = "none", nb::arg("bias_grad_axis") = "rows", nb::arg("amax") = false,
      nb::arg("a_scale") = nb::none(), nb::arg("b_scale") = nb::none(), nb::arg("a_scale_mode") = "tensor",
      nb::arg("b_scale_mode") = "tensor",
      "The geometry and operand layouts select() infers: {'m', 'n', 'k', 'batch_shape', 'batch', 'fp8', "
      "'integer', 'accumulator', and every operand slot as (dtype, shape, strides, is_scalar) or None}.");

  with_plan_members(nb::class_<PyGemmPlan>(m, "GemmPlan",
                         "A GEMM plan, D = act(alpha * A @ B + beta * C + bias): select() runs in the constructor "
                         "(raises when no implementation can run the problem)."))
      .def(
          "__init__",
          [](PyGemmPlan* self, nb::handle a, nb::handle b, nb::handle d, nb::handle c, nb::handle bias,
             nb::handle pre_activation, nb::handle bias_grad, double alpha, double beta, bool allow_tf32,
             std::string_view bias_axis, std::string_view activation, std::string_view bias_grad_axis, bool amax,
             size_t alignment, size_t max_workspace_bytes, bool autotune, nb::handle a_scale, nb::handle b_scale,
             std::string_view a_scale_mode, std::string_view b_scale_mode, std::string_view device, uintptr_t stream,
             nb::handle force, nb::handle exclude, bool deterministic, bool fp8_fast_accum) {
            GemmSpecs specs = specs_from(a, b, d, c, bias, pre_activation, bias_grad, alpha, beta, allow_tf32, bias_axis,
                                         activation, bias_grad_axis, amax, alignment, max_workspace_bytes, autotune,
                                         a_scale, b_scale, a_scale_mode, b_scale_mode);
            specs.fp8_fast_accum = fp8_fast_accum;
            new (self) PyGemmPlan(specs, device, stream, force, exclude, deterministic);
          },
          nb::arg("a"), nb::arg("b"), nb::arg("d"), nb::arg("c") = nb::none(), nb::arg("bias") = nb::none(),
          nb::arg("pre_activation") = nb::none(), nb::arg("bias_grad") = nb::none(), nb::arg("alpha") = 1.0,
          nb::arg("beta") = 0.0, nb::arg("allow_tf32") = false, nb::arg("bias_axis") = "columns",
          nb::arg("activation") = "none", nb::arg("bias_grad_axis") = "rows", nb::arg("amax") = false,
          nb::arg("alignment") = 16, nb::arg("max_workspace_bytes") = size_t{32} << 20, nb::arg("autotune") = false,
          nb::arg("a_scale") = nb::none(), nb::arg("b_scale") = nb::none(), nb::arg("a_scale_mode") = "tensor",
          nb::arg("b_scale_mode") = "tensor", nb::arg("device") = "cpu",
          nb::arg("stream") = 0, nb::arg("force") = nb::none(), nb::arg("exclude") = nb::none(),
          nb::arg("deterministic") = false, nb::arg("fp8_fast_accum") = false,
          "a, b, d (and c, bias, pre_activation, bias_grad when used): specs (dtype, shape, strides or None); "
          "bias_axis / bias_grad_axis: 'rows' or 'columns'; activation: 'none', 'relu', 'gelu_erf', 'gelu_tanh' "
          "or 'silu'; amax: fp8 D also writes max|y|; autotune: time cuBLASLt's ranked algorithms at plan time; "
          "a_scale_mode / b_scale_mode: 'tensor', 'outer_vector', 'block_1x128' or 'block_128x128' (fp8), with "
          "a_scale / b_scale the scale tensors' specs; fp8_fast_accum: fp8 only, the tensor cores' fast "
          "accumulation (torch._scaled_mm's use_fast_accum); "
          "device: 'cpu' or 'cuda:N'; stream: cudaStream_t as int; "
          "force / exclude / deterministic: PlanPreference.")
      .def_prop_ro("signature", &PyGemmPlan::signature)
      .def("run", &PyGemmPlan::run, nb::arg("stream") = nb::none(), nb::arg("workspace_ptr") = nb::none(),
           nb::arg("workspace_bytes") = 0, nb::arg("a") = nb::none(), nb::arg("b") = nb::none(),
           nb::arg("c") = nb::none(), nb::arg("bias") = nb::none(), nb::arg("a_scale") = nb::none(),
           nb::arg("b_scale") = nb::none(), nb::arg("d_scale") = nb::none(), nb::arg("d") = nb::none(),
           nb::arg("pre_activation") = nb::none(), nb::arg("bias_grad") = nb::none(), nb::arg("amax") = nb::none(),
           "Enqueues the work (CPU: runs it). Tensors by slot name; unused slots stay None.")
      .def("__repr__", &PyGemmPlan::repr);
}

}  // namespace baracuda::py
