#pragma once
// The part of a Python plan object that every family shares: the Plan<Family> selected in the
// constructor, one Stream per cudaStream_t handle (made outside run(): Stream::cuda queries the
// device), the workspace argument, and run() with the GIL released. Also the pieces of each
// family's module functions that are the same everywhere: the op by name, the direction, the
// catalog, operand tuples.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"

namespace baracuda::py {

// `direction` as Python names it ("forward" or "backward"); `where` starts the error, e.g.
// "[scan.cumsum]".
inline Direction parse_direction(std::string_view direction, const std::string& where) {
  if (direction == "forward") return Direction::forward;
  if (direction == "backward") return Direction::backward;
  throw_invalid(where + " direction must be 'forward' or 'backward', got '" + std::string(direction) + "'");
}

// The op called `name` among a family's op infos `ops` (each with .name and .op); the error names
// the family's catalog function (baracuda.<family>_catalog()).
template <class Infos>
auto op_from_name(const Infos& ops, std::string_view name, std::string_view family) {
  for (const auto& i : ops)
    if (i.name == name) return i.op;
  throw_invalid("[" + std::string(family) + "] unknown op '" + std::string(name) + "' (see baracuda." +
                std::string(family) + "_catalog())");
}

// A family's catalog for Python: a dict per op with name, differentiable (the info's flag where it
// has one, else true: every op of the family is), torch_name, jax_name and family.
template <class Infos>
nb::list family_catalog(const Infos& ops, const char* family) {
  nb::list l;
  for (const auto& i : ops) {
    nb::dict d;
    d["name"] = std::string(i.name);
    if constexpr (requires { i.differentiable; }) d["differentiable"] = i.differentiable;
    else d["differentiable"] = true;
    d["torch_name"] = std::string(i.torch_name);
    d["jax_name"] = std::string(i.jax_name);
    d["family"] = family;
    l.append(d);
  }
  return l;
}

// The Stream a plan of `family` on `device` runs on: the CPU executor (handle must be 0), or the
// cudaStream_t `handle` (0 = the legacy default stream).
inline Stream plan_stream(std::string_view family, const Device& device, uintptr_t handle) {
  if (device.is_cpu()) {
    if (handle != 0)
      throw_invalid("[" + std::string(family) + "] a CPU plan takes stream 0 (or None), got " + std::to_string(handle));
    return Stream::cpu();
  }
  return unwrap(Stream::cuda(reinterpret_cast<void*>(handle), device.ordinal));
}

// force / exclude (None or names) / deterministic -> PlanPreference.
inline PlanPreference to_preference(nb::handle force, nb::handle exclude, bool deterministic) {
  PlanPreference pref;
  if (force.is_valid() && !force.is_none()) pref.force = nb::cast<std::string>(force);
  if (exclude.is_valid() && !exclude.is_none())
    for (nb::handle h : exclude) pref.exclude.push_back(nb::cast<std::string>(h));
  pref.deterministic = deterministic;
  return pref;
}

// Optional slots of a family's Python API (None = absent): an operand spec, its tuple form, and
// a run() tensor for a named Args slot.
inline std::optional<Operand> optional_operand(nb::handle spec, const char* what) {
  if (!spec.is_valid() || spec.is_none()) return std::nullopt;
  return to_operand(spec, what);
}
inline nb::object opt_tuple(const std::optional<Operand>& o) {
  if (!o) return nb::none();
  return operand_to_tuple(*o);
}
// A signature's operands as a list of tuples (operand_to_tuple).
inline nb::list operand_tuples(const std::vector<Operand>& operands) {
  nb::list l;
  for (const Operand& o : operands) l.append(operand_to_tuple(o));
  return l;
}
inline TensorRef opt_ref(nb::handle h, std::vector<InArray>& keep) {
  if (!h.is_valid() || h.is_none()) return {};
  return to_tensor_ref(h, keep);
}
inline TensorMut opt_mut(nb::handle h, std::vector<OutArray>& keep) {
  if (!h.is_valid() || h.is_none()) return {};
  return to_tensor_mut(h, keep);
}

// run()'s tensors for a family whose Args index their operands (inputs[], outputs[]): exactly
// nin inputs (`operands` names them in the message, e.g. " (dy, x)") and nout outputs, given as
// sequences of DLPack tensors, none of them None. keep_in / keep_out hold the converted arrays.
template <class Args>
Args bind_indexed_args(nb::handle inputs, nb::handle outputs, int nin, int nout, const std::string& where,
                       const std::string& operands, std::vector<InArray>& keep_in, std::vector<OutArray>& keep_out) {
  Args args;
  if (!nb::isinstance<nb::sequence>(inputs)) throw nb::type_error("inputs must be a sequence");
  if (static_cast<int>(nb::len(inputs)) != nin)
    throw_invalid(where + "run() takes " + std::to_string(nin) + " input(s)" + operands + ", got " +
                  std::to_string(nb::len(inputs)));
  nb::sequence in = nb::borrow<nb::sequence>(inputs);
  keep_in.reserve(Args::kMaxInputs);
  for (int j = 0; j < nin; ++j) {
    nb::handle h = in[j];
    if (h.is_none()) throw_invalid(where + "input " + std::to_string(j) + " is missing (None)");
    args.inputs[j] = to_tensor_ref(h, keep_in);
  }
  if (!outputs.is_valid() || outputs.is_none())
    throw_invalid(where + "run() needs " + std::to_string(nout) + " output tensor(s)");
  if (!nb::isinstance<nb::sequence>(outputs)) throw nb::type_error("outputs must be a sequence");
  const size_t n = nb::len(outputs);
  if (static_cast<int>(n) != nout)
    throw_invalid(where + "run() takes " + std::to_string(nout) + " output(s), got " + std::to_string(n));
  nb::sequence outs = nb::borrow<nb::sequence>(outputs);
  for (size_t k = 0; k < n; ++k) {
    nb::handle h = outs[k];
    if (h.is_none()) throw_invalid(where + "output " + std::to_string(k) + " is missing (None)");
    args.outputs[k] = to_tensor_mut(h, keep_out);
  }
  return args;
}

template <class Family>
class PlanHolder {
 public:
  using Descriptor = typename Family::Descriptor;
  using Args = typename Family::Args;

  PlanHolder(Descriptor desc, Device device, uintptr_t stream, PlanPreference pref)
      : desc_(std::move(desc)), device_(device), stream_handle_(stream), pref_(std::move(pref)) {
    stream_.emplace(make_stream(stream));
    plan_.emplace(unwrap(Plan<Family>::select(*stream_, desc_, pref_)));
  }

  nb::list explain() const { return candidates_to_list(Plan<Family>::explain(*stream_, desc_, pref_)); }
  size_t workspace_size() const { return plan_->workspace_size(); }
  nb::dict sku() const { return sku_to_dict(plan_->sku()); }
  std::string sku_string() const { return plan_->sku().to_string(); }
  nb::dict precision() const { return precision_to_dict(plan_->precision_guarantee()); }
  std::string device() const { return device_name(device_); }
  std::string describe() const { return Family::describe(desc_); }

 protected:
  void can_implement_args(const Args& args) const { check(plan_->can_implement(args)); }

  // can_implement() and run() of a Python plan whose `bind(keep_in, keep_out)` converts its run()
  // tensors to Args (the arrays it converts stay in keep_in / keep_out for the call).
  template <class Bind>
  bool can_implement_bound(const Bind& bind) const {
    std::vector<InArray> keep_in;
    std::vector<OutArray> keep_out;
    can_implement_args(bind(keep_in, keep_out));
    return true;
  }
  template <class Bind>
  void run_bound(nb::handle stream, nb::handle workspace, size_t workspace_bytes, const Bind& bind) {
    std::vector<InArray> keep_in;
    std::vector<OutArray> keep_out;
    const Args args = bind(keep_in, keep_out);
    run_args(stream, workspace, workspace_bytes, args, keep_out);
  }

  // stream: None (the plan's) or a cudaStream_t as int; workspace: None, an int address (with
  // workspace_bytes) or a DLPack buffer (its size, capped by workspace_bytes when given).
  void run_args(nb::handle stream, nb::handle workspace, size_t workspace_bytes, const Args& args,
                std::vector<OutArray>& keep_out) {
    Stream s = stream.is_none() ? *stream_ : stream_for(nb::cast<uintptr_t>(stream));
    Workspace ws;
    if (!workspace.is_none()) {
      if (PyLong_Check(workspace.ptr())) {
        ws.data = reinterpret_cast<void*>(nb::cast<uintptr_t>(workspace));
        ws.bytes = workspace_bytes;
      } else {
        TensorMut w = to_tensor_mut(workspace, keep_out);
        ws.data = w.data;
        size_t n = w.numel() > 0 ? static_cast<size_t>(w.numel()) * dtype_size(w.dtype) : 0;
        ws.bytes = workspace_bytes ? std::min(workspace_bytes, n) : n;
      }
    }
    Status st;
    {
      nb::gil_scoped_release release;
      st = plan_->run(s, ws, args);
    }
    check(st);
  }

  Descriptor desc_;
  Device device_;

 private:
  Stream make_stream(uintptr_t handle) const { return plan_stream(Family::name, device_, handle); }
  // The last other stream used by run() is kept, so a steady caller makes no Stream per call.
  Stream stream_for(uintptr_t handle) {
    if (handle == stream_handle_) return *stream_;
    if (last_stream_ && last_handle_ == handle) return *last_stream_;
    Stream s = make_stream(handle);
    last_stream_.emplace(s);
    last_handle_ = handle;
    return s;
  }

  uintptr_t stream_handle_ = 0;
  PlanPreference pref_;
  std::optional<Stream> stream_;
  std::optional<Stream> last_stream_;
  uintptr_t last_handle_ = 0;
  std::optional<Plan<Family>> plan_;
};

// The members every Python plan class has (PlanHolder's), bound once here: explain,
// workspace_size, sku, sku_string, precision_guarantee, device, describe. Usage:
//   with_plan_members(nb::class_<PyXPlan>(m, "XPlan", doc)).def(nb::init<...>(), ...)...;
template <class PyPlan>
nb::class_<PyPlan> with_plan_members(nb::class_<PyPlan> cls) {
  cls.def("explain", [](const PyPlan& p) { return p.explain(); },
          "[(impl, backend, status string, chosen)] for every candidate.")
      .def_prop_ro("workspace_size", [](const PyPlan& p) { return p.workspace_size(); },
                   "Bytes of scratch memory run() needs.")
      .def_prop_ro("sku", [](const PyPlan& p) { return p.sku(); }, "Which kernel runs (dict).")
      .def_prop_ro("sku_string", [](const PyPlan& p) { return p.sku_string(); })
      .def_prop_ro("precision_guarantee", [](const PyPlan& p) { return p.precision(); },
                   "What the implementation promises: math, accumulator, determinism.")
      .def_prop_ro("device", [](const PyPlan& p) { return p.device(); })
      .def("describe", [](const PyPlan& p) { return p.describe(); });
  return cls;
}

}  // namespace baracuda::py
