// baracuda._C.SoftmaxPlan: Plan<SoftmaxFamily> for Python; softmax_catalog, softmax_infer_signature,
// softmax_explain.
#include <optional>

#include "bindings.hpp"
#include "plan_holder.hpp"

namespace baracuda::py {
namespace {

std::string softmax_tag(const SoftmaxDescriptor& d) {
  return "[softmax." + std::string(softmax_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

SoftmaxDescriptor make_softmax_descriptor(std::string_view op, nb::handle input, int dim, std::string_view direction,
                                          double temperature, nb::handle mask, nb::handle output_dtype,
                                          nb::handle grad_output, nb::handle forward_output, nb::handle output) {
  SoftmaxDescriptor d;
  d.op = op_from_name(all_softmax_ops(), op, "softmax");
  d.direction = parse_direction(direction, "[softmax." + std::string(op) + "]");
  d.input = to_operand(input, "input spec");
  d.dim = dim;
  d.temperature = temperature;
  d.mask = optional_operand(mask, "mask spec");
  if (output_dtype.is_valid() && !output_dtype.is_none())
    d.output_dtype = parse_dtype(nb::cast<std::string_view>(output_dtype));
  d.grad_output = optional_operand(grad_output, "grad_output spec");
  d.forward_output = optional_operand(forward_output, "forward_output spec");
  d.output = optional_operand(output, "output spec");
  return d;
}

nb::dict softmax_signature_to_dict(const SoftmaxSignature& sig) {
  nb::dict d;
  d["dim"] = sig.dim;
  d["output_dtype"] = std::string(dtype_name(sig.output_dtype));
  d["accumulate"] = std::string(dtype_name(sig.accumulate));
  d["inputs"] = operand_tuples(sig.inputs);
  d["outputs"] = operand_tuples(sig.outputs);
  return d;
}

class PySoftmaxPlan : public PlanHolder<SoftmaxFamily> {
 public:
  PySoftmaxPlan(std::string_view op, nb::handle input, int dim, std::string_view direction, double temperature,
                nb::handle mask, nb::handle output_dtype, std::string_view device, uintptr_t stream,
                nb::handle grad_output, nb::handle forward_output, nb::handle output, nb::handle force,
                nb::handle exclude, bool deterministic)
      : PlanHolder(make_softmax_descriptor(op, input, dim, direction, temperature, mask, output_dtype, grad_output,
                                           forward_output, output),
                   parse_device(device), stream, to_preference(force, exclude, deterministic)),
        sig_(unwrap(infer_signature(desc_))) {}

  nb::dict signature() const { return softmax_signature_to_dict(sig_); }
  std::string op() const { return std::string(softmax_op_info(desc_.op).name); }
  std::string direction() const { return backward() ? "backward" : "forward"; }
  int dim() const { return sig_.dim; }
  int num_inputs() const { return static_cast<int>(sig_.inputs.size()); }

  bool can_implement(nb::handle inputs, nb::handle outputs) const {
    return can_implement_bound(
        [&](auto& keep_in, auto& keep_out) { return make_args(inputs, outputs, keep_in, keep_out); });
  }

  void run(nb::handle stream, nb::handle workspace, size_t workspace_bytes, nb::handle inputs, nb::handle outputs) {
    run_bound(stream, workspace, workspace_bytes,
              [&](auto& keep_in, auto& keep_out) { return make_args(inputs, outputs, keep_in, keep_out); });
  }

  std::string repr() const {
    return "<baracuda.SoftmaxPlan " + describe() + " on " + device() + ": " + sku_string() + ">";
  }

 private:
  bool backward() const { return desc_.direction == Direction::backward; }

  SoftmaxArgs make_args(nb::handle inputs, nb::handle outputs, std::vector<InArray>& keep_in,
                        std::vector<OutArray>& keep_out) const {
    const std::string operands = std::string(backward() ? " (dy, y" : " (x") + (desc_.mask ? ", mask)" : ")");
    return bind_indexed_args<SoftmaxArgs>(inputs, outputs, num_inputs(), 1, softmax_tag(desc_), operands, keep_in,
                                          keep_out);
  }

  SoftmaxSignature sig_;
};

}  // namespace

void register_softmax(nb::module_& m) {
  m.def(
      "softmax_catalog",
      []() { return family_catalog(all_softmax_ops(), "softmax"); },
      "Every softmax op: dicts with name, differentiable, torch_name, jax_name, family.");

  m.def(
      "softmax_infer_signature",
      [](std::string_view op, nb::handle input, int dim, std::string_view direction, double temperature,
         nb::handle mask, nb::handle output_dtype, nb::handle grad_output, nb::handle forward_output,
         nb::handle output) {
        SoftmaxDescriptor d = make_softmax_descriptor(op, input, dim, direction, temperature, mask, output_dtype,
                                                      grad_output, forward_output, output);
        return softmax_signature_to_dict(unwrap(infer_signature(d)));
      },
      nb::arg("op"), nb::arg("input"), nb::arg("dim") = -1, nb::arg("direction") = "forward",
      nb::arg("temperature") = 1.0, nb::arg("mask") = nb::none(), nb::arg("output_dtype") = nb::none(),
      nb::arg("grad_output") = nb::none(), nb::arg("forward_output") = nb::none(), nb::arg("output") = nb::none(),
      "The shapes and dtypes select() infers: {'dim' (normalized), 'output_dtype', 'accumulate', 'inputs': "
      "[(dtype, shape, strides, is_scalar)] (forward: x[, mask]; backward: dy, y[, mask]), 'outputs': [...]}.");

  m.def(
      "softmax_explain",
      [](std::string_view op, nb::handle input, int dim, std::string_view direction, double temperature,
         nb::handle mask, nb::handle output_dtype, std::string_view device, uintptr_t stream) {
        SoftmaxDescriptor d = make_softmax_descriptor(op, input, dim, direction, temperature, mask, output_dtype,
                                                      nb::none(), nb::none(), nb::none());
        check(SoftmaxFamily::validate(d));
        return candidates_to_list(SoftmaxPlan::explain(plan_stream("softmax", parse_device(device), stream), d));
      },
      nb::arg("op"), nb::arg("input"), nb::arg("dim") = -1, nb::arg("direction") = "forward",
      nb::arg("temperature") = 1.0, nb::arg("mask") = nb::none(), nb::arg("output_dtype") = nb::none(),
      nb::arg("device") = "cpu", nb::arg("stream") = 0,
      "Every softmax implementation with its status, without selecting: [(impl, backend, status, chosen)].");

  with_plan_members(nb::class_<PySoftmaxPlan>(m, "SoftmaxPlan",
                            "A softmax plan: select() runs in the constructor (raises when no implementation can "
                            "run the problem)."))
      .def(nb::init<std::string_view, nb::handle, int, std::string_view, double, nb::handle, nb::handle,
                    std::string_view, uintptr_t, nb::handle, nb::handle, nb::handle, nb::handle, nb::handle, bool>(),
           nb::arg("op"), nb::arg("input"), nb::arg("dim") = -1, nb::arg("direction") = "forward",
           nb::arg("temperature") = 1.0, nb::arg("mask") = nb::none(), nb::arg("output_dtype") = nb::none(),
           nb::arg("device") = "cpu", nb::arg("stream") = 0, nb::arg("grad_output") = nb::none(),
           nb::arg("forward_output") = nb::none(), nb::arg("output") = nb::none(), nb::arg("force") = nb::none(),
           nb::arg("exclude") = nb::none(), nb::arg("deterministic") = false,
           "op: 'softmax' or 'log_softmax'; input: x's spec (dtype, shape, strides or None); dim (negative "
           "allowed); direction: 'forward' or 'backward'; temperature: softmax(x / temperature); mask: spec of a "
           "boolean (False = -inf) or floating (added) mask broadcastable to x; output_dtype: PyTorch's dtype=; "
           "device: 'cpu' or 'cuda:N'; stream: cudaStream_t as int; grad_output / forward_output / output: "
           "optional specs (strides) of dy, y (backward) and of the output; force / exclude / deterministic: "
           "PlanPreference.")
      .def_prop_ro("signature", &PySoftmaxPlan::signature)
      .def_prop_ro("op", &PySoftmaxPlan::op)
      .def_prop_ro("direction", &PySoftmaxPlan::direction)
      .def_prop_ro("dim", &PySoftmaxPlan::dim)
      .def_prop_ro("num_inputs", &PySoftmaxPlan::num_inputs)
      .def("can_implement", &PySoftmaxPlan::can_implement, nb::arg("inputs"), nb::arg("outputs"),
           "True when the arguments fit the plan; raises the BaracudaError explaining why not otherwise.")
      .def("run", &PySoftmaxPlan::run, nb::arg("stream") = nb::none(), nb::arg("workspace_ptr") = nb::none(),
           nb::arg("workspace_bytes") = 0, nb::arg("inputs") = nb::list(), nb::arg("outputs") = nb::none(),
           "Enqueues the work (CPU: runs it). inputs: forward [x(, mask)], backward [dy, y(, mask)]; outputs: [y] "
           "or [dx].")
      .def("__repr__", &PySoftmaxPlan::repr);
}

}  // namespace baracuda::py
