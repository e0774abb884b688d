// baracuda._C.ScanPlan: Plan<ScanFamily> for Python; scan_catalog, scan_infer_signature,
// scan_explain.
#include <optional>

#include "bindings.hpp"
#include "plan_holder.hpp"

namespace baracuda::py {
namespace {

std::string scan_tag(const ScanDescriptor& d) {
  return "[scan." + std::string(scan_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

ScanDescriptor make_scan_descriptor(std::string_view op, nb::handle input, int axis, bool exclusive, bool reverse,
                                    std::string_view direction, nb::handle output_dtype, nb::handle grad_output,
                                    nb::handle outputs) {
  ScanDescriptor d;
  d.op = op_from_name(all_scan_ops(), op, "scan");
  d.direction = parse_direction(direction, "[scan." + std::string(op) + "]");
  d.input = to_operand(input, "input spec");
  d.axis = axis;
  d.exclusive = exclusive;
  d.reverse = reverse;
  if (output_dtype.is_valid() && !output_dtype.is_none())
    d.output_dtype = parse_dtype(nb::cast<std::string_view>(output_dtype));
  if (grad_output.is_valid() && !grad_output.is_none()) d.grad_output = to_operand(grad_output, "grad_output spec");
  if (outputs.is_valid() && !outputs.is_none())
    for (nb::handle h : outputs) d.outputs.push_back(to_operand(h, "output spec"));
  return d;
}

nb::dict scan_signature_to_dict(const ScanSignature& sig) {
  nb::dict d;
  d["axis"] = sig.axis;
  d["compute"] = std::string(dtype_name(sig.compute));
  d["accumulate"] = std::string(dtype_name(sig.accumulate));
  d["inputs"] = operand_tuples(sig.inputs);
  d["outputs"] = operand_tuples(sig.outputs);
  return d;
}

class PyScanPlan : public PlanHolder<ScanFamily> {
 public:
  PyScanPlan(std::string_view op, nb::handle input, int axis, bool exclusive, bool reverse, std::string_view direction,
             nb::handle output_dtype, std::string_view device, uintptr_t stream, nb::handle grad_output,
             nb::handle outputs, nb::handle force, nb::handle exclude, bool deterministic)
      : PlanHolder(make_scan_descriptor(op, input, axis, exclusive, reverse, direction, output_dtype, grad_output, outputs),
                   parse_device(device), stream, to_preference(force, exclude, deterministic)),
        sig_(unwrap(infer_signature(desc_))) {}

  nb::dict signature() const { return scan_signature_to_dict(sig_); }
  std::string op() const { return std::string(scan_op_info(desc_.op).name); }
  std::string direction() const { return backward() ? "backward" : "forward"; }
  int axis() const { return sig_.axis; }
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

  std::string repr() const { return "<baracuda.ScanPlan " + describe() + " on " + device() + ": " + sku_string() + ">"; }

 private:
  bool backward() const { return desc_.direction == Direction::backward; }

  ScanArgs make_args(nb::handle inputs, nb::handle outputs, std::vector<InArray>& keep_in,
                     std::vector<OutArray>& keep_out) const {
    return bind_indexed_args<ScanArgs>(inputs, outputs, num_inputs(), num_outputs(), scan_tag(desc_),
                                       backward() ? " (dy, x)" : " (x)", keep_in, keep_out);
  }

  ScanSignature sig_;
};

}  // namespace

void register_scan(nb::module_& m) {
  m.def(
      "scan_catalog",
      []() { return family_catalog(all_scan_ops(), "scan"); },
      "Every scan op: dicts with name, differentiable, torch_name, jax_name, family.");

  m.def(
      "scan_infer_signature",
      [](std::string_view op, nb::handle input, int axis, bool exclusive, bool reverse, std::string_view direction,
         nb::handle output_dtype, nb::handle grad_output, nb::handle outputs) {
        ScanDescriptor d =
            make_scan_descriptor(op, input, axis, exclusive, reverse, direction, output_dtype, grad_output, outputs);
        return scan_signature_to_dict(unwrap(infer_signature(d)));
      },
      nb::arg("op"), nb::arg("input"), nb::arg("axis") = -1, nb::arg("exclusive") = false, nb::arg("reverse") = false,
      nb::arg("direction") = "forward", nb::arg("output_dtype") = nb::none(), nb::arg("grad_output") = nb::none(),
      nb::arg("outputs") = nb::none(),
      "The shapes and dtypes select() infers: {'axis' (normalized), 'compute', 'accumulate', 'inputs': [(dtype, "
      "shape, strides, is_scalar)] (backward: dy then x), 'outputs': [...]}.");

  m.def(
      "scan_explain",
      [](std::string_view op, nb::handle input, int axis, bool exclusive, bool reverse, std::string_view direction,
         nb::handle output_dtype, std::string_view device, uintptr_t stream) {
        ScanDescriptor d =
            make_scan_descriptor(op, input, axis, exclusive, reverse, direction, output_dtype, nb::none(), nb::none());
        check(ScanFamily::validate(d));
        return candidates_to_list(ScanPlan::explain(plan_stream("scan", parse_device(device), stream), d));
      },
      nb::arg("op"), nb::arg("input"), nb::arg("axis") = -1, nb::arg("exclusive") = false, nb::arg("reverse") = false,
      nb::arg("direction") = "forward", nb::arg("output_dtype") = nb::none(), nb::arg("device") = "cpu",
      nb::arg("stream") = 0,
      "Every scan implementation with its status, without selecting: [(impl, backend, status, chosen)].");

  with_plan_members(nb::class_<PyScanPlan>(m, "ScanPlan",
                         "A scan plan: select() runs in the constructor (raises when no implementation can run the "
                         "problem)."))
      .def(nb::init<std::string_view, nb::handle, int, bool, bool, std::string_view, nb::handle, std::string_view,
                    uintptr_t, nb::handle, nb::handle, nb::handle, nb::handle, bool>(),
           nb::arg("op"), nb::arg("input"), nb::arg("axis") = -1, nb::arg("exclusive") = false,
           nb::arg("reverse") = false, nb::arg("direction") = "forward", nb::arg("output_dtype") = nb::none(),
           nb::arg("device") = "cpu", nb::arg("stream") = 0, nb::arg("grad_output") = nb::none(),
           nb::arg("outputs") = nb::none(), nb::arg("force") = nb::none(), nb::arg("exclude") = nb::none(),
           nb::arg("deterministic") = false,
           "op: name from scan_catalog(); input: x's spec (dtype, shape, strides or None); axis: the scanned dim "
           "(negative allowed); exclusive / reverse: jax-style options; direction: 'forward' or 'backward'; "
           "output_dtype: PyTorch's dtype= (cumsum, cumprod); device: 'cpu' or 'cuda:N'; stream: cudaStream_t as "
           "int; grad_output / outputs: optional specs (strides); force / exclude / deterministic: PlanPreference.")
      .def_prop_ro("signature", &PyScanPlan::signature)
      .def_prop_ro("op", &PyScanPlan::op)
      .def_prop_ro("direction", &PyScanPlan::direction)
      .def_prop_ro("axis", &PyScanPlan::axis)
      .def_prop_ro("num_inputs", &PyScanPlan::num_inputs)
      .def_prop_ro("num_outputs", &PyScanPlan::num_outputs)
      .def("can_implement", &PyScanPlan::can_implement, nb::arg("inputs"), nb::arg("outputs"),
           "True when the arguments fit the plan; raises the BaracudaError explaining why not otherwise.")
      .def("run", &PyScanPlan::run, nb::arg("stream") = nb::none(), nb::arg("workspace_ptr") = nb::none(),
           nb::arg("workspace_bytes") = 0, nb::arg("inputs") = nb::list(), nb::arg("outputs") = nb::none(),
           "Enqueues the work (CPU: runs it). stream: cudaStream_t as int (None: the plan's); workspace_ptr: int "
           "address or a DLPack buffer; inputs: forward [x], backward [dy, x]; outputs: forward [y] (cummax/cummin: "
           "[values, indices]), backward [dx].")
      .def("__repr__", &PyScanPlan::repr);
}

}  // namespace baracuda::py
