// baracuda._C.ElementwisePlan: Plan<ElementwiseFamily> for Python.
#include <optional>

#include "bindings.hpp"
#include "plan_holder.hpp"

namespace baracuda::py {

nb::dict sku_to_dict(const KernelSku& s) {
  nb::dict d;
  d["family"] = s.family;
  d["op"] = s.op;
  d["dtypes"] = s.dtypes;
  d["layout"] = s.layout;
  d["epilogue"] = s.epilogue;
  d["arch"] = s.arch;
  d["backend"] = s.backend;
  d["impl"] = s.impl;
  d["tactic"] = s.tactic;
  d["string"] = s.to_string();
  return d;
}

nb::dict precision_to_dict(const PrecisionGuarantee& p) {
  nb::dict d;
  d["math"] = p.math;
  d["accumulator"] = std::string(dtype_name(p.accumulator));
  d["deterministic"] = p.deterministic;
  d["bit_stable"] = p.bit_stable;
  d["string"] = p.to_string();
  return d;
}

namespace {

bool is_python_number(nb::handle h) { return PyBool_Check(h.ptr()) || PyLong_Check(h.ptr()) || PyFloat_Check(h.ptr()); }

class PyElementwisePlan : public PlanHolder<ElementwiseFamily> {
 public:
  PyElementwisePlan(std::string_view op, nb::handle inputs, std::string_view direction, nb::handle output_dtype,
                    nb::handle attrs, size_t alignment, std::string_view device, uintptr_t stream,
                    nb::handle grad_output, nb::handle outputs, nb::handle force, nb::handle exclude,
                    bool deterministic)
      : PlanHolder(make_descriptor(op, inputs, direction, output_dtype, attrs, alignment, grad_output, outputs),
                   parse_device(device), stream, to_preference(force, exclude, deterministic)),
        sig_(unwrap(infer_signature(desc_))) {}

  nb::dict signature() const { return signature_to_dict(sig_); }
  std::string op() const { return std::string(op_info(desc_.op).name); }
  std::string direction() const { return desc_.direction == Direction::backward ? "backward" : "forward"; }
  size_t alignment() const { return desc_.alignment; }
  int num_inputs() const { return static_cast<int>(desc_.inputs.size()) + (backward() ? 1 : 0); }
  int num_outputs() const { return static_cast<int>(sig_.outputs.size()); }

  bool can_implement(nb::handle inputs, nb::handle scalars, nb::handle outputs) const {
    return can_implement_bound(
        [&](auto& keep_in, auto& keep_out) { return make_args(inputs, scalars, outputs, keep_in, keep_out); });
  }

  void run(nb::handle stream, nb::handle workspace, size_t workspace_bytes, nb::handle inputs, nb::handle scalars,
           nb::handle outputs) {
    run_bound(stream, workspace, workspace_bytes,
              [&](auto& keep_in, auto& keep_out) { return make_args(inputs, scalars, outputs, keep_in, keep_out); });
  }

  std::string repr() const {
    return "<baracuda.ElementwisePlan " + describe() + " on " + device() + ": " + sku_string() + ">";
  }

 private:
  bool backward() const { return desc_.direction == Direction::backward; }

  ElementwiseArgs make_args(nb::handle inputs, nb::handle scalars, nb::handle outputs, std::vector<InArray>& keep_in,
                            std::vector<OutArray>& keep_out) const {
    const std::string where = "[elementwise." + op() + (backward() ? ".backward] " : "] ");
    ElementwiseArgs args;
    const int nin = num_inputs();
    const int first = backward() ? 1 : 0;
    if (!nb::isinstance<nb::sequence>(inputs)) throw nb::type_error("inputs must be a sequence");
    if (static_cast<int>(nb::len(inputs)) != nin)
      throw_invalid(where + "run() takes " + std::to_string(nin) + " inputs" +
                    (backward() ? " (grad_output, then the forward inputs)" : "") + ", got " +
                    std::to_string(nb::len(inputs)));
    nb::sequence in = nb::borrow<nb::sequence>(inputs);
    const bool have_scalars = scalars.is_valid() && !scalars.is_none();
    if (have_scalars && static_cast<int>(nb::len(scalars)) != static_cast<int>(desc_.inputs.size()))
      throw_invalid(where + "scalars must have one entry (or None) per forward input: " +
                    std::to_string(desc_.inputs.size()));
    keep_in.reserve(ElementwiseArgs::kMaxInputs);
    for (int j = 0; j < nin; ++j) {
      nb::handle h = in[j];
      const int i = j - first;  // forward-input index
      if (i >= 0 && desc_.inputs[i].is_scalar) {
        nb::handle v = h;
        if (v.is_none() && have_scalars) v = nb::borrow<nb::sequence>(scalars)[i];
        if (v.is_none() || !is_python_number(v))
          throw_invalid(where + "input " + std::to_string(i) + " is a scalar operand: pass a Python number (in "
                        "inputs or scalars)");
        args.scalars[i] = to_scalar(v);
        continue;
      }
      if (h.is_none()) throw_invalid(where + "input " + std::to_string(j) + " is missing (None)");
      args.inputs[j] = to_tensor_ref(h, keep_in);
    }
    if (outputs.is_valid() && !outputs.is_none()) {
      if (!nb::isinstance<nb::sequence>(outputs)) throw nb::type_error("outputs must be a sequence");
      size_t n = nb::len(outputs);
      if (n > static_cast<size_t>(ElementwiseArgs::kMaxOutputs) || static_cast<int>(n) > num_outputs())
        throw_invalid(where + "takes at most " + std::to_string(num_outputs()) + " outputs, got " + std::to_string(n));
      nb::sequence outs = nb::borrow<nb::sequence>(outputs);
      for (size_t k = 0; k < n; ++k) {
        nb::handle h = outs[k];
        if (!h.is_none()) args.outputs[k] = to_tensor_mut(h, keep_out);
      }
    }
    return args;
  }

  ElementwiseSignature sig_;
};

}  // namespace

void register_elementwise_plan(nb::module_& m) {
  with_plan_members(nb::class_<PyElementwisePlan>(m, "ElementwisePlan",
                                "An elementwise plan: select() runs in the constructor (raises when no "
                                "implementation can run the problem)."))
      .def(nb::init<std::string_view, nb::handle, std::string_view, nb::handle, nb::handle, size_t, std::string_view,
                    uintptr_t, nb::handle, nb::handle, nb::handle, nb::handle, bool>(),
           nb::arg("op"), nb::arg("inputs"), nb::arg("direction") = "forward", nb::arg("output_dtype") = nb::none(),
           nb::arg("attrs") = nb::none(), nb::arg("alignment") = 16, nb::arg("device") = "cpu",
           nb::arg("stream") = 0, nb::arg("grad_output") = nb::none(), nb::arg("outputs") = nb::none(),
           nb::arg("force") = nb::none(), nb::arg("exclude") = nb::none(), nb::arg("deterministic") = false,
           "op: name from catalog(); inputs: forward input specs (dtype, shape, strides or None, is_scalar) -- a "
           "scalar's dtype is its kind 'bool' / 'i64' / 'f64'; direction: 'forward' or 'backward'; output_dtype: "
           "result dtype override (cast: the target); attrs: dict of ElementwiseAttrs fields; alignment: byte "
           "alignment promised for every pointer; device: 'cpu' or 'cuda:N'; stream: cudaStream_t as int; "
           "grad_output / outputs: optional specs of dy / of the outputs (strides, castable dtypes); force / "
           "exclude / deterministic: PlanPreference.")
      .def_prop_ro("signature", &PyElementwisePlan::signature)
      .def_prop_ro("op", &PyElementwisePlan::op)
      .def_prop_ro("direction", &PyElementwisePlan::direction)
      .def_prop_ro("alignment", &PyElementwisePlan::alignment)
      .def_prop_ro("num_inputs", &PyElementwisePlan::num_inputs)
      .def_prop_ro("num_outputs", &PyElementwisePlan::num_outputs)
      .def("can_implement", &PyElementwisePlan::can_implement, nb::arg("inputs"), nb::arg("scalars") = nb::none(),
           nb::arg("outputs") = nb::none(),
           "True when the arguments fit the plan; raises the BaracudaError explaining why not otherwise.")
      .def("run", &PyElementwisePlan::run, nb::arg("stream") = nb::none(), nb::arg("workspace_ptr") = nb::none(),
           nb::arg("workspace_bytes") = 0, nb::arg("inputs") = nb::list(), nb::arg("scalars") = nb::none(),
           nb::arg("outputs") = nb::none(),
           "Enqueues the work (CPU: runs it). stream: cudaStream_t as int (None: the plan's); workspace_ptr: int "
           "address or a DLPack buffer (bytes from workspace_bytes or the buffer's size); inputs: DLPack objects "
           "(backward: grad_output first), a Python number or None at scalar operands; scalars: optional values "
           "by forward-input index; outputs: DLPack objects (None: a gradient not wanted).")
      .def("__repr__", &PyElementwisePlan::repr);
}

}  // namespace baracuda::py
