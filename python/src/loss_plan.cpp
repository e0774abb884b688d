// baracuda._C.LossPlan: Plan<LossFamily> for Python; loss_catalog, loss_infer_signature.
#include <optional>

#include "bindings.hpp"
#include "plan_holder.hpp"

namespace baracuda::py {
namespace {

LossReduction reduction_from_name(std::string_view op, std::string_view name) {
  for (LossReduction r : {LossReduction::none, LossReduction::mean, LossReduction::sum})
    if (loss_reduction_name(r) == name) return r;
  throw_invalid("[loss." + std::string(op) + "] reduction must be 'none', 'mean' or 'sum', got '" + std::string(name) + "'");
}

// Every option of a loss descriptor, as Python passes them.
struct LossOptions {
  std::string_view reduction = "mean";
  std::string_view direction = "forward";
  bool fused_backward = false;
  int64_t ignore_index = -100;
  double label_smoothing = 0.0, z_loss = 0.0, beta = 1.0, delta = 1.0, margin = 0.0;
  bool log_target = false;
};

LossDescriptor make_loss_descriptor(std::string_view op, nb::handle input, nb::handle target, nb::handle other,
                                    nb::handle weight, nb::handle pos_weight, const LossOptions& o) {
  LossDescriptor d;
  d.op = op_from_name(all_loss_ops(), op, "loss");
  d.direction = parse_direction(o.direction, "[loss." + std::string(op) + "]");
  d.reduction = reduction_from_name(op, o.reduction);
  d.fused_backward = o.fused_backward;
  d.input = to_operand(input, "input spec");
  d.target = to_operand(target, "target spec");
  d.other = optional_operand(other, "other spec");
  d.weight = optional_operand(weight, "weight spec");
  d.pos_weight = optional_operand(pos_weight, "pos_weight spec");
  d.ignore_index = o.ignore_index;
  d.label_smoothing = o.label_smoothing;
  d.z_loss = o.z_loss;
  d.beta = o.beta;
  d.delta = o.delta;
  d.margin = o.margin;
  d.log_target = o.log_target;
  return d;
}

nb::dict loss_signature_to_dict(const LossSignature& s) {
  nb::dict d;
  d["loss_shape"] = nb::tuple(nb::cast(s.loss_shape));
  d["batch"] = s.batch;
  d["classes"] = s.classes;
  d["inner"] = s.inner;
  d["samples"] = s.samples;
  d["class_indices"] = s.class_indices;
  d["loss"] = opt_tuple(s.loss);
  d["grad_input"] = opt_tuple(s.grad_input);
  d["grad_other"] = opt_tuple(s.grad_other);
  d["grad_loss"] = opt_tuple(s.grad_loss);
  return d;
}

class PyLossPlan : public PlanHolder<LossFamily> {
 public:
  PyLossPlan(std::string_view op, nb::handle input, nb::handle target, nb::handle other, nb::handle weight,
             nb::handle pos_weight, std::string_view reduction, std::string_view direction, bool fused_backward,
             int64_t ignore_index, double label_smoothing, double z_loss, double beta, double delta, double margin,
             bool log_target, std::string_view device, uintptr_t stream, nb::handle force, nb::handle exclude,
             bool deterministic)
      : PlanHolder(make_loss_descriptor(op, input, target, other, weight, pos_weight,
                                        LossOptions{reduction, direction, fused_backward, ignore_index, label_smoothing,
                                                    z_loss, beta, delta, margin, log_target}),
                   parse_device(device), stream, to_preference(force, exclude, deterministic)),
        sig_(unwrap(infer_signature(desc_))) {}

  nb::dict signature() const { return loss_signature_to_dict(sig_); }
  std::string op() const { return std::string(loss_op_info(desc_.op).name); }

  void run(nb::handle stream, nb::handle workspace, size_t workspace_bytes, nb::handle input, nb::handle target,
           nb::handle other, nb::handle weight, nb::handle pos_weight, nb::handle grad_loss, nb::handle loss,
           nb::handle grad_input, nb::handle grad_other) {
    std::vector<InArray> keep_in;
    std::vector<OutArray> keep_out;
    keep_in.reserve(6);
    keep_out.reserve(4);
    LossArgs a;
    a.input = opt_ref(input, keep_in);
    a.target = opt_ref(target, keep_in);
    a.other = opt_ref(other, keep_in);
    a.weight = opt_ref(weight, keep_in);
    a.pos_weight = opt_ref(pos_weight, keep_in);
    a.grad_loss = opt_ref(grad_loss, keep_in);
    a.loss = opt_mut(loss, keep_out);
    a.grad_input = opt_mut(grad_input, keep_out);
    a.grad_other = opt_mut(grad_other, keep_out);
    run_args(stream, workspace, workspace_bytes, a, keep_out);
  }

  std::string repr() const { return "<baracuda.LossPlan " + describe() + " on " + device() + ": " + sku_string() + ">"; }

 private:
  LossSignature sig_;
};

}  // namespace

void register_loss(nb::module_& m) {
  m.def(
      "loss_catalog",
      []() { return family_catalog(all_loss_ops(), "loss"); },
      "Every loss op: dicts with name, differentiable, torch_name, jax_name, family.");

  m.def(
      "loss_infer_signature",
      [](std::string_view op, nb::handle input, nb::handle target, nb::handle other, nb::handle weight,
         nb::handle pos_weight, std::string_view reduction, std::string_view direction, bool fused_backward) {
        LossOptions o;
        o.reduction = reduction;
        o.direction = direction;
        o.fused_backward = fused_backward;
        return loss_signature_to_dict(unwrap(infer_signature(make_loss_descriptor(op, input, target, other, weight, pos_weight, o))));
      },
      nb::arg("op"), nb::arg("input"), nb::arg("target"), nb::arg("other") = nb::none(), nb::arg("weight") = nb::none(),
      nb::arg("pos_weight") = nb::none(), nb::arg("reduction") = "mean", nb::arg("direction") = "forward",
      nb::arg("fused_backward") = false,
      "The shapes select() infers: {'loss_shape', 'batch', 'classes', 'inner', 'samples', 'class_indices', 'loss', "
      "'grad_input', 'grad_other', 'grad_loss'} (operands as (dtype, shape, strides, is_scalar) or None).");

  with_plan_members(nb::class_<PyLossPlan>(m, "LossPlan",
                         "A loss plan: select() runs in the constructor (raises when no implementation can run the "
                         "problem)."))
      .def(nb::init<std::string_view, nb::handle, nb::handle, nb::handle, nb::handle, nb::handle, std::string_view,
                    std::string_view, bool, int64_t, double, double, double, double, double, bool, std::string_view,
                    uintptr_t, nb::handle, nb::handle, bool>(),
           nb::arg("op"), nb::arg("input"), nb::arg("target"), nb::arg("other") = nb::none(),
           nb::arg("weight") = nb::none(), nb::arg("pos_weight") = nb::none(), nb::arg("reduction") = "mean",
           nb::arg("direction") = "forward", nb::arg("fused_backward") = false, nb::arg("ignore_index") = -100,
           nb::arg("label_smoothing") = 0.0, nb::arg("z_loss") = 0.0, nb::arg("beta") = 1.0, nb::arg("delta") = 1.0,
           nb::arg("margin") = 0.0, nb::arg("log_target") = false, nb::arg("device") = "cpu", nb::arg("stream") = 0,
           nb::arg("force") = nb::none(), nb::arg("exclude") = nb::none(), nb::arg("deterministic") = false,
           "op: name from loss_catalog(); input / target / other / weight / pos_weight: specs (dtype, shape, strides "
           "or None); reduction: 'none', 'mean' or 'sum'; direction: 'forward' or 'backward'; fused_backward: "
           "cross_entropy forward that also writes grad_input; the op options as in torch.nn.functional; device: "
           "'cpu' or 'cuda:N'; stream: cudaStream_t as int; force / exclude / deterministic: PlanPreference.")
      .def_prop_ro("signature", &PyLossPlan::signature)
      .def_prop_ro("op", &PyLossPlan::op)
      .def("run", &PyLossPlan::run, nb::arg("stream") = nb::none(), nb::arg("workspace_ptr") = nb::none(),
           nb::arg("workspace_bytes") = 0, nb::arg("input") = nb::none(), nb::arg("target") = nb::none(),
           nb::arg("other") = nb::none(), nb::arg("weight") = nb::none(), nb::arg("pos_weight") = nb::none(),
           nb::arg("grad_loss") = nb::none(), nb::arg("loss") = nb::none(), nb::arg("grad_input") = nb::none(),
           nb::arg("grad_other") = nb::none(),
           "Enqueues the work (CPU: runs it). Tensors by slot name; unused slots stay None.")
      .def("__repr__", &PyLossPlan::repr);
}

}  // namespace baracuda::py
