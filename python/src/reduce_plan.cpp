// baracuda._C.ReducePlan: Plan<ReduceFamily> for Python; reduce_catalog, reduce_infer_signature,
// reduce_explain.
#include <cmath>
#include <optional>

#include "bindings.hpp"
#include "plan_holder.hpp"

namespace baracuda::py {
namespace {

std::string reduce_tag(const ReduceDescriptor& d) {
  return "[reduce." + std::string(reduce_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

// axes: None (every axis), an int, or a sequence of ints.
std::vector<int> to_axes(nb::handle axes) {
  std::vector<int> v;
  if (!axes.is_valid() || axes.is_none()) return v;
  if (PyLong_Check(axes.ptr()) && !PyBool_Check(axes.ptr())) {
    v.push_back(nb::cast<int>(axes));
    return v;
  }
  if (!nb::isinstance<nb::sequence>(axes) || nb::isinstance<nb::str>(axes))
    throw nb::type_error("axes must be None, an int or a sequence of ints");
  for (nb::handle h : axes) {
    if (!PyLong_Check(h.ptr()) || PyBool_Check(h.ptr())) throw nb::type_error("axes must be ints");
    v.push_back(nb::cast<int>(h));
  }
  return v;
}

ReduceDescriptor make_reduce_descriptor(std::string_view op, nb::handle input, nb::handle axes, bool keepdim,
                                        std::string_view direction, double correction, double p,
                                        nb::handle output_dtype, nb::handle grad_outputs, nb::handle outputs) {
  ReduceDescriptor d;
  d.op = op_from_name(all_reduce_ops(), op, "reduce");
  d.direction = parse_direction(direction, "[reduce." + std::string(op) + "]");
  d.input = to_operand(input, "input spec");
  d.axes = to_axes(axes);
  d.keepdim = keepdim;
  d.correction = correction;
  d.p = p;
  if (output_dtype.is_valid() && !output_dtype.is_none())
    d.output_dtype = parse_dtype(nb::cast<std::string_view>(output_dtype));
  if (grad_outputs.is_valid() && !grad_outputs.is_none())
    for (nb::handle h : grad_outputs) d.grad_outputs.push_back(to_operand(h, "grad_output spec"));
  if (outputs.is_valid() && !outputs.is_none())
    for (nb::handle h : outputs) d.outputs.push_back(to_operand(h, "output spec"));
  return d;
}

nb::dict reduce_signature_to_dict(const ReduceSignature& sig) {
  nb::dict d;
  d["axes"] = nb::tuple(nb::cast(sig.axes));
  d["accumulate"] = std::string(dtype_name(sig.accumulate));
  d["inputs"] = operand_tuples(sig.inputs);
  d["outputs"] = operand_tuples(sig.outputs);
  return d;
}

class PyReducePlan : public PlanHolder<ReduceFamily> {
 public:
  PyReducePlan(std::string_view op, nb::handle input, nb::handle axes, bool keepdim, std::string_view direction,
               double correction, double p, nb::handle output_dtype, std::string_view device, uintptr_t stream,
               nb::handle grad_outputs, nb::handle outputs, nb::handle force, nb::handle exclude, bool deterministic)
      : PlanHolder(make_reduce_descriptor(op, input, axes, keepdim, direction, correction, p, output_dtype, grad_outputs,
                                          outputs),
                   parse_device(device), stream, to_preference(force, exclude, deterministic)),
        sig_(unwrap(infer_signature(desc_))) {}

  nb::dict signature() const { return reduce_signature_to_dict(sig_); }
  std::string op() const { return std::string(reduce_op_info(desc_.op).name); }
  std::string direction() const { return backward() ? "backward" : "forward"; }
  nb::tuple axes() const { return nb::tuple(nb::cast(sig_.axes)); }
  bool keepdim() const { return desc_.keepdim; }
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

  std::string repr() const {
    return "<baracuda.ReducePlan " + describe() + " on " + device() + ": " + sku_string() + ">";
  }

 private:
  bool backward() const { return desc_.direction == Direction::backward; }

  ReduceArgs make_args(nb::handle inputs, nb::handle outputs, std::vector<InArray>& keep_in,
                       std::vector<OutArray>& keep_out) const {
    const char* operands = backward() ? " (the gradient of each floating result, then x)" : " (x)";
    return bind_indexed_args<ReduceArgs>(inputs, outputs, num_inputs(), num_outputs(), reduce_tag(desc_), operands,
                                         keep_in, keep_out);
  }

  ReduceSignature sig_;
};

}  // namespace

void register_reduce(nb::module_& m) {
  m.def(
      "reduce_catalog",
      []() { return family_catalog(all_reduce_ops(), "reduce"); },
      "Every reduction op: dicts with name, differentiable, torch_name, jax_name, family.");

  m.def(
      "reduce_infer_signature",
      [](std::string_view op, nb::handle input, nb::handle axes, bool keepdim, std::string_view direction,
         double correction, double p, nb::handle output_dtype, nb::handle grad_outputs, nb::handle outputs) {
        ReduceDescriptor d =
            make_reduce_descriptor(op, input, axes, keepdim, direction, correction, p, output_dtype, grad_outputs, outputs);
        return reduce_signature_to_dict(unwrap(infer_signature(d)));
      },
      nb::arg("op"), nb::arg("input"), nb::arg("axes") = nb::none(), nb::arg("keepdim") = false,
      nb::arg("direction") = "forward", nb::arg("correction") = 1.0, nb::arg("p") = 2.0,
      nb::arg("output_dtype") = nb::none(), nb::arg("grad_outputs") = nb::none(), nb::arg("outputs") = nb::none(),
      "The shapes and dtypes select() infers: {'axes' (normalized), 'accumulate', 'inputs': [(dtype, shape, "
      "strides, is_scalar)] (backward: the gradients then x), 'outputs': [...]}.");

  m.def(
      "reduce_explain",
      [](std::string_view op, nb::handle input, nb::handle axes, bool keepdim, std::string_view direction,
         double correction, double p, nb::handle output_dtype, std::string_view device, uintptr_t stream) {
        ReduceDescriptor d =
            make_reduce_descriptor(op, input, axes, keepdim, direction, correction, p, output_dtype, nb::none(), nb::none());
        check(ReduceFamily::validate(d));
        return candidates_to_list(ReducePlan::explain(plan_stream("reduce", parse_device(device), stream), d));
      },
      nb::arg("op"), nb::arg("input"), nb::arg("axes") = nb::none(), nb::arg("keepdim") = false,
      nb::arg("direction") = "forward", nb::arg("correction") = 1.0, nb::arg("p") = 2.0,
      nb::arg("output_dtype") = nb::none(), nb::arg("device") = "cpu", nb::arg("stream") = 0,
      "Every reduction implementation with its status, without selecting: [(impl, backend, status, chosen)].");

  with_plan_members(nb::class_<PyReducePlan>(m, "ReducePlan",
                           "A reduction plan: select() runs in the constructor (raises when no implementation can "
                           "run the problem)."))
      .def(nb::init<std::string_view, nb::handle, nb::handle, bool, std::string_view, double, double, nb::handle,
                    std::string_view, uintptr_t, nb::handle, nb::handle, nb::handle, nb::handle, bool>(),
           nb::arg("op"), nb::arg("input"), nb::arg("axes") = nb::tuple(), nb::arg("keepdim") = false,
           nb::arg("direction") = "forward", nb::arg("correction") = 1.0, nb::arg("p") = 2.0,
           nb::arg("output_dtype") = nb::none(), nb::arg("device") = "cpu", nb::arg("stream") = 0,
           nb::arg("grad_outputs") = nb::none(), nb::arg("outputs") = nb::none(), nb::arg("force") = nb::none(),
           nb::arg("exclude") = nb::none(), nb::arg("deterministic") = false,
           "op: name from reduce_catalog(); input: x's spec (dtype, shape, strides or None); axes: reduced dims "
           "(int or sequence, negative allowed; empty or None = every dim); keepdim; direction: 'forward' or "
           "'backward'; correction: var/std/var_mean divide by N - correction; p: norm order (float('inf') "
           "allowed); output_dtype: PyTorch's dtype= (sum, nansum, prod, mean, nanmean, norm); device: 'cpu' or "
           "'cuda:N'; stream: cudaStream_t as int; grad_outputs / outputs: optional specs of the incoming "
           "gradients / of the outputs (strides); force / exclude / deterministic: PlanPreference.")
      .def_prop_ro("signature", &PyReducePlan::signature)
      .def_prop_ro("op", &PyReducePlan::op)
      .def_prop_ro("direction", &PyReducePlan::direction)
      .def_prop_ro("axes", &PyReducePlan::axes)
      .def_prop_ro("keepdim", &PyReducePlan::keepdim)
      .def_prop_ro("num_inputs", &PyReducePlan::num_inputs)
      .def_prop_ro("num_outputs", &PyReducePlan::num_outputs)
      .def("can_implement", &PyReducePlan::can_implement, nb::arg("inputs"), nb::arg("outputs"),
           "True when the arguments fit the plan; raises the BaracudaError explaining why not otherwise.")
      .def("run", &PyReducePlan::run, nb::arg("stream") = nb::none(), nb::arg("workspace_ptr") = nb::none(),
           nb::arg("workspace_bytes") = 0, nb::arg("inputs") = nb::list(), nb::arg("outputs") = nb::none(),
           "Enqueues the work (CPU: runs it). stream: cudaStream_t as int (None: the plan's); workspace_ptr: int "
           "address or a DLPack buffer; inputs: forward [x], backward [grad of each floating result..., x]; "
           "outputs: every output (forward: the results, e.g. max: [values, indices]; backward: [dx]).")
      .def("__repr__", &PyReducePlan::repr);
}

}  // namespace baracuda::py
