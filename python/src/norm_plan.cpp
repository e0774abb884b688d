// baracuda._C.NormPlan: Plan<NormFamily> for Python; norm_catalog, norm_infer_signature,
// norm_explain. Operand slots are named by role (signature's input_roles / output_roles).
#include <optional>

#include "bindings.hpp"
#include "plan_holder.hpp"

namespace baracuda::py {
namespace {

NormRole norm_role_from_name(std::string_view name) {
  for (int r = 0; r <= static_cast<int>(NormRole::dbias); ++r)
    if (norm_role_name(static_cast<NormRole>(r)) == name) return static_cast<NormRole>(r);
  throw_invalid("[norm] unknown operand role '" + std::string(name) + "'");
}

std::string norm_tag(const NormDescriptor& d) {
  return "[norm." + std::string(norm_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

// The descriptor's options as Python passes them (keyword arguments of NormPlan and friends).
struct NormOptions {
  nb::handle normalized_shape;
  std::string_view direction = "forward";
  bool weight = true, bias = true;
  nb::handle param_dtype, eps, strides;
  int64_t num_groups = 1;
  bool training = true, track_running_stats = true;
  double momentum = 0.1;
  bool save_stats = true;
  bool param_grads = true;
};

NormDescriptor make_norm_descriptor(std::string_view op, nb::handle input, const NormOptions& o) {
  NormDescriptor d;
  d.op = op_from_name(all_norm_ops(), op, "norm");
  d.direction = parse_direction(o.direction, "[norm." + std::string(op) + "]");
  d.input = to_operand(input, "input spec");
  d.normalized_shape = to_dims(o.normalized_shape, "normalized_shape");
  d.weight = o.weight;
  d.bias = o.bias;
  if (o.param_dtype.is_valid() && !o.param_dtype.is_none())
    d.param_dtype = parse_dtype(nb::cast<std::string_view>(o.param_dtype));
  if (o.eps.is_valid() && !o.eps.is_none()) d.eps = nb::cast<double>(o.eps);
  d.num_groups = o.num_groups;
  d.training = o.training;
  d.track_running_stats = o.track_running_stats;
  d.momentum = o.momentum;
  d.save_stats = o.save_stats;
  d.param_grads = o.param_grads;
  if (o.strides.is_valid() && !o.strides.is_none()) {
    if (!nb::isinstance<nb::dict>(o.strides)) throw nb::type_error("strides must be a dict {role name: strides}");
    for (auto [k, v] : nb::borrow<nb::dict>(o.strides))
      d.strides.push_back({norm_role_from_name(nb::cast<std::string_view>(k)), to_dims(v, "strides")});
  }
  return d;
}

nb::dict norm_signature_to_dict(const NormSignature& sig) {
  nb::dict d;
  nb::list in_roles, out_roles;
  for (NormRole r : sig.input_roles) in_roles.append(std::string(norm_role_name(r)));
  for (NormRole r : sig.output_roles) out_roles.append(std::string(norm_role_name(r)));
  d["inputs"] = operand_tuples(sig.inputs);
  d["outputs"] = operand_tuples(sig.outputs);
  d["input_roles"] = in_roles;
  d["output_roles"] = out_roles;
  d["param_dtype"] = std::string(dtype_name(sig.param_dtype));
  d["stats_dtype"] = std::string(dtype_name(sig.stats_dtype));
  d["eps"] = sig.eps;
  return d;
}

class PyNormPlan : public PlanHolder<NormFamily> {
 public:
  PyNormPlan(std::string_view op, nb::handle input, const NormOptions& o, std::string_view device, uintptr_t stream,
             nb::handle force, nb::handle exclude, bool deterministic)
      : PlanHolder(make_norm_descriptor(op, input, o), parse_device(device), stream,
                   to_preference(force, exclude, deterministic)),
        sig_(unwrap(infer_signature(desc_))) {}

  nb::dict signature() const { return norm_signature_to_dict(sig_); }
  std::string op() const { return std::string(norm_op_info(desc_.op).name); }
  std::string direction() const { return desc_.direction == Direction::backward ? "backward" : "forward"; }
  int num_inputs() const { return static_cast<int>(sig_.inputs.size()); }
  int num_outputs() const { return static_cast<int>(sig_.outputs.size()); }

  bool can_implement(nb::handle inputs, nb::handle outputs) const {
    return can_implement_bound(
        [&](auto& keep_in, auto& keep_out) { return make_args(inputs, outputs, keep_in, keep_out); });
  }
  void run(nb::handle stream, nb::handle workspace, size_t workspace_bytes, nb::handle inputs, nb::handle outputs) {
    run_bound(stream, workspace, workspace_bytes,
              [&](auto& keep_in, auto& keep_out) { return make_args(inputs, outputs, keep_in, keep_out); });
  }
  std::string repr() const { return "<baracuda.NormPlan " + describe() + " on " + device() + ": " + sku_string() + ">"; }

 private:
  std::string roles(const std::vector<NormRole>& r) const {
    std::string s;
    for (size_t i = 0; i < r.size(); ++i) s += (i ? ", " : "") + std::string(norm_role_name(r[i]));
    return s;
  }

  NormArgs make_args(nb::handle inputs, nb::handle outputs, std::vector<InArray>& keep_in,
                     std::vector<OutArray>& keep_out) const {
    const std::string where = norm_tag(desc_);
    NormArgs args;
    if (!nb::isinstance<nb::sequence>(inputs)) throw nb::type_error("inputs must be a sequence");
    if (static_cast<int>(nb::len(inputs)) != num_inputs())
      throw_invalid(where + "run() takes " + std::to_string(num_inputs()) + " input(s) (" + roles(sig_.input_roles) +
                    "), got " + std::to_string(nb::len(inputs)));
    nb::sequence in = nb::borrow<nb::sequence>(inputs);
    keep_in.reserve(NormArgs::kMaxInputs);
    for (int j = 0; j < num_inputs(); ++j) {
      nb::handle h = in[j];
      if (h.is_none()) throw_invalid(where + "input " + std::to_string(j) + " is missing (None)");
      args.inputs[j] = to_tensor_ref(h, keep_in);
    }
    if (!outputs.is_valid() || outputs.is_none() || !nb::isinstance<nb::sequence>(outputs))
      throw_invalid(where + "run() needs the outputs (" + roles(sig_.output_roles) + ")");
    if (static_cast<int>(nb::len(outputs)) != num_outputs())
      throw_invalid(where + "run() takes " + std::to_string(num_outputs()) + " output(s) (" +
                    roles(sig_.output_roles) + "), got " + std::to_string(nb::len(outputs)));
    nb::sequence outs = nb::borrow<nb::sequence>(outputs);
    keep_out.reserve(NormArgs::kMaxOutputs + 1);
    for (int k = 0; k < num_outputs(); ++k) {
      nb::handle h = outs[k];
      if (h.is_none()) throw_invalid(where + "output " + std::to_string(k) + " is missing (None)");
      args.outputs[k] = to_tensor_mut(h, keep_out);
    }
    return args;
  }

  NormSignature sig_;
};

NormOptions options(nb::handle normalized_shape, std::string_view direction, bool weight, bool bias,
                    nb::handle param_dtype, nb::handle eps, int64_t num_groups, bool training,
                    bool track_running_stats, double momentum, bool save_stats, nb::handle strides,
                    bool param_grads = true) {
  return {normalized_shape, direction, weight, bias, param_dtype, eps, strides, num_groups, training,
          track_running_stats, momentum, save_stats, param_grads};
}

}  // namespace

void register_norm(nb::module_& m) {
  m.def(
      "norm_catalog",
      []() { return family_catalog(all_norm_ops(), "norm"); },
      "Every normalization op: dicts with name, differentiable, torch_name, jax_name, family.");

  m.def(
      "norm_infer_signature",
      [](std::string_view op, nb::handle input, nb::handle normalized_shape, std::string_view direction, bool weight,
         bool bias, nb::handle param_dtype, nb::handle eps, int64_t num_groups, bool training, bool track_running_stats,
         double momentum, bool save_stats, nb::handle strides) {
        NormDescriptor d = make_norm_descriptor(op, input, options(normalized_shape, direction, weight, bias, param_dtype, eps,
                                                                   num_groups, training, track_running_stats, momentum,
                                                                   save_stats, strides));
        return norm_signature_to_dict(unwrap(infer_signature(d)));
      },
      nb::arg("op"), nb::arg("input"), nb::arg("normalized_shape") = nb::none(), nb::arg("direction") = "forward",
      nb::arg("weight") = true, nb::arg("bias") = true, nb::arg("param_dtype") = nb::none(), nb::arg("eps") = nb::none(),
      nb::arg("num_groups") = 1, nb::arg("training") = true, nb::arg("track_running_stats") = true,
      nb::arg("momentum") = 0.1, nb::arg("save_stats") = true, nb::arg("strides") = nb::none(),
      "Operand specs and roles select() infers: {'inputs', 'outputs': [(dtype, shape, strides, is_scalar)], "
      "'input_roles', 'output_roles': [names], 'param_dtype', 'stats_dtype', 'eps'}.");

  m.def(
      "norm_explain",
      [](std::string_view op, nb::handle input, nb::handle normalized_shape, std::string_view direction, bool weight,
         bool bias, int64_t num_groups, bool training, std::string_view device, uintptr_t stream) {
        NormDescriptor d = make_norm_descriptor(op, input, options(normalized_shape, direction, weight, bias, nb::none(),
                                                                   nb::none(), num_groups, training, true, 0.1, true,
                                                                   nb::none()));
        check(NormFamily::validate(d));
        return candidates_to_list(NormPlan::explain(plan_stream("norm", parse_device(device), stream), d));
      },
      nb::arg("op"), nb::arg("input"), nb::arg("normalized_shape") = nb::none(), nb::arg("direction") = "forward",
      nb::arg("weight") = true, nb::arg("bias") = true, nb::arg("num_groups") = 1, nb::arg("training") = true,
      nb::arg("device") = "cpu", nb::arg("stream") = 0,
      "Every norm implementation with its status, without selecting: [(impl, backend, status, chosen)].");

  with_plan_members(nb::class_<PyNormPlan>(m, "NormPlan",
                         "A normalization plan: select() runs in the constructor (raises when no implementation can "
                         "run the problem)."))
      .def(
          "__init__",
          [](PyNormPlan* self, std::string_view op, nb::handle input, nb::handle normalized_shape,
             std::string_view direction, bool weight, bool bias, nb::handle param_dtype, nb::handle eps,
             int64_t num_groups, bool training, bool track_running_stats, double momentum, bool save_stats,
             nb::handle strides, std::string_view device, uintptr_t stream, nb::handle force, nb::handle exclude,
             bool deterministic, bool param_grads) {
            new (self) PyNormPlan(op, input,
                                  options(normalized_shape, direction, weight, bias, param_dtype, eps, num_groups, training,
                                          track_running_stats, momentum, save_stats, strides, param_grads),
                                  device, stream, force, exclude, deterministic);
          },
          nb::arg("op"), nb::arg("input"), nb::arg("normalized_shape") = nb::none(), nb::arg("direction") = "forward",
          nb::arg("weight") = true, nb::arg("bias") = true, nb::arg("param_dtype") = nb::none(),
          nb::arg("eps") = nb::none(), nb::arg("num_groups") = 1, nb::arg("training") = true,
          nb::arg("track_running_stats") = true, nb::arg("momentum") = 0.1, nb::arg("save_stats") = true,
          nb::arg("strides") = nb::none(), nb::arg("device") = "cpu", nb::arg("stream") = 0,
          nb::arg("force") = nb::none(), nb::arg("exclude") = nb::none(), nb::arg("deterministic") = false,
          nb::arg("param_grads") = true,
          "op: name from norm_catalog(); input: x's spec (dtype, shape, strides or None); normalized_shape: "
          "layer/rms trailing dims; weight / bias: affine parameters present; param_dtype: their dtype (x's or "
          "'f32'); eps: None = the op's default; num_groups: group_norm; training / track_running_stats / "
          "momentum: batch_norm; save_stats: forward also writes mean/rstd; strides: {role: strides} for x-shaped "
          "operands; device / stream / force / exclude / deterministic as for the other plans; param_grads: "
          "backward also computes dweight/dbias (False: dx only, torch's mask when the parameters need no "
          "gradient).")
      .def_prop_ro("signature", &PyNormPlan::signature)
      .def_prop_ro("op", &PyNormPlan::op)
      .def_prop_ro("direction", &PyNormPlan::direction)
      .def_prop_ro("num_inputs", &PyNormPlan::num_inputs)
      .def_prop_ro("num_outputs", &PyNormPlan::num_outputs)
      .def("can_implement", &PyNormPlan::can_implement, nb::arg("inputs"), nb::arg("outputs"))
      .def("run", &PyNormPlan::run, nb::arg("stream") = nb::none(), nb::arg("workspace_ptr") = nb::none(),
           nb::arg("workspace_bytes") = 0, nb::arg("inputs") = nb::list(), nb::arg("outputs") = nb::none(),
           "Enqueues the work (CPU: runs it). inputs / outputs in the order of signature['input_roles'] / "
           "['output_roles'].")
      .def("__repr__", &PyNormPlan::repr);
}

}  // namespace baracuda::py
