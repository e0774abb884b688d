// Elementwise descriptors from Python arguments; infer_signature, explain, catalog, promotion.
#include "bindings.hpp"
#include "plan_holder.hpp"

namespace baracuda::py {
namespace {

void set_attrs(ElementwiseAttrs& a, nb::handle attrs) {
  if (attrs.is_none()) return;
  if (!nb::isinstance<nb::dict>(attrs)) throw nb::type_error("attrs must be a dict");
  for (auto [k, v] : nb::borrow<nb::dict>(attrs)) {
    std::string key = nb::cast<std::string>(k);
    if (v.is_none()) continue;
    if (key == "alpha") a.alpha = nb::cast<double>(v);
    else if (key == "beta") a.beta = nb::cast<double>(v);
    else if (key == "threshold") a.threshold = nb::cast<double>(v);
    else if (key == "value") a.value = nb::cast<double>(v);
    else if (key == "lambd") a.lambd = nb::cast<double>(v);
    else if (key == "negative_slope") a.negative_slope = nb::cast<double>(v);
    else if (key == "min_val") a.min_val = nb::cast<double>(v);
    else if (key == "max_val") a.max_val = nb::cast<double>(v);
    else if (key == "eps") a.eps = nb::cast<double>(v);
    else if (key == "dim") a.dim = nb::cast<int>(v);
    else if (key == "scale") a.scale = nb::cast<double>(v);
    else if (key == "amax") a.amax = nb::cast<bool>(v);
    else
      throw_invalid("[elementwise] unknown attribute '" + key +
                    "' (alpha beta threshold value lambd negative_slope min_val max_val eps dim scale amax)");
  }
}

}  // namespace

std::vector<int64_t> to_dims(nb::handle seq, const char* what) {
  std::vector<int64_t> v;
  if (seq.is_none()) return v;
  if (!nb::isinstance<nb::sequence>(seq)) throw nb::type_error((std::string(what) + " must be a sequence of ints").c_str());
  for (nb::handle h : seq) v.push_back(nb::cast<int64_t>(h));
  return v;
}

// (dtype, shape, strides or None, is_scalar); shape/strides/is_scalar optional. A scalar's dtype
// is its kind: "bool", "i64" or "f64" (Python bool / int / float).
Operand to_operand(nb::handle spec, const char* what) {
  if (nb::isinstance<nb::str>(spec)) {  // shorthand: a bare dtype name is a 0-dim tensor
    return Operand::tensor(parse_dtype(nb::cast<std::string_view>(spec)), {});
  }
  if (!nb::isinstance<nb::sequence>(spec) || nb::len(spec) < 1 || nb::len(spec) > 4)
    throw nb::type_error((std::string(what) + " must be a tuple (dtype, shape, strides or None, is_scalar)").c_str());
  nb::sequence s = nb::borrow<nb::sequence>(spec);
  size_t n = nb::len(s);
  Operand o;
  o.dtype = parse_dtype(nb::cast<std::string_view>(s[0]));
  if (n > 1) o.shape = to_dims(s[1], what);
  if (n > 2) o.strides = to_dims(s[2], what);
  if (n > 3) o.is_scalar = nb::cast<bool>(s[3]);
  if (o.is_scalar) {
    o.shape.clear();
    o.strides.clear();
  }
  return o;
}

nb::tuple operand_to_tuple(const Operand& o) {
  return nb::make_tuple(std::string(dtype_name(o.dtype)), nb::tuple(nb::cast(o.shape)),
                        o.strides.empty() ? nb::object(nb::none()) : nb::object(nb::tuple(nb::cast(o.strides))),
                        o.is_scalar);
}

ElementwiseDescriptor make_descriptor(std::string_view op, nb::handle inputs, std::string_view direction,
                                      nb::handle output_dtype, nb::handle attrs, size_t alignment,
                                      nb::handle grad_output, nb::handle outputs) {
  ElementwiseDescriptor d;
  auto id = elementwise_op_from_name(op);
  if (!id) throw_invalid("[elementwise] unknown op '" + std::string(op) + "' (see baracuda.catalog())");
  d.op = *id;
  d.direction = parse_direction(direction, "[elementwise." + std::string(op) + "]");
  if (!nb::isinstance<nb::sequence>(inputs)) throw nb::type_error("inputs must be a sequence of operand specs");
  for (nb::handle h : inputs) d.inputs.push_back(to_operand(h, "input spec"));
  if (output_dtype.is_valid() && !output_dtype.is_none())
    d.output_dtype = parse_dtype(nb::cast<std::string_view>(output_dtype));
  set_attrs(d.attrs, attrs);
  d.alignment = alignment;
  if (grad_output.is_valid() && !grad_output.is_none()) d.grad_output = to_operand(grad_output, "grad_output spec");
  if (outputs.is_valid() && !outputs.is_none())
    for (nb::handle h : outputs) d.outputs.push_back(to_operand(h, "output spec"));
  return d;
}

nb::dict signature_to_dict(const ElementwiseSignature& sig) {
  nb::dict d;
  d["compute"] = std::string(dtype_name(sig.compute));
  d["iteration_shape"] = nb::tuple(nb::cast(sig.iteration_shape));
  nb::list outs;
  for (const Operand& o : sig.outputs) outs.append(operand_to_tuple(o));
  d["outputs"] = outs;
  return d;
}

nb::list candidates_to_list(const std::vector<Candidate>& cands) {
  nb::list l;
  for (const Candidate& c : cands)
    l.append(nb::make_tuple(c.impl, c.backend, c.status.is_ok() ? std::string("ok") : c.status.to_string(), c.chosen));
  return l;
}

void register_elementwise_info(nb::module_& m) {
  m.def(
      "catalog",
      []() {
        nb::list l;
        for (const ElementwiseOpInfo& i : all_elementwise_ops()) {
          nb::dict d;
          d["name"] = std::string(i.name);
          d["arity"] = i.arity;
          d["category"] = std::string(category_name(i.category));
          d["differentiable"] = i.differentiable;
          d["torch_name"] = std::string(i.torch_name);
          d["jax_name"] = std::string(i.jax_name);
          d["family"] = "elementwise";
          l.append(d);
        }
        return l;
      },
      "Every elementwise op: dicts with name, arity, category, differentiable, torch_name, jax_name, family.");

  m.def(
      "infer_signature",
      [](std::string_view op, nb::handle inputs, std::string_view direction, nb::handle output_dtype, nb::handle attrs,
         nb::handle grad_output, nb::handle outputs) {
        ElementwiseDescriptor d = make_descriptor(op, inputs, direction, output_dtype, attrs, 16, grad_output, outputs);
        return signature_to_dict(unwrap(infer_signature(d)));
      },
      nb::arg("op"), nb::arg("inputs"), nb::arg("direction") = "forward", nb::arg("output_dtype") = nb::none(),
      nb::arg("attrs") = nb::none(), nb::arg("grad_output") = nb::none(), nb::arg("outputs") = nb::none(),
      "The dtypes and shapes select() infers: {'compute', 'iteration_shape', 'outputs': [(dtype, shape, strides, "
      "is_scalar)]}. Forward: one output (cast with amax: y and amax f32[1]); backward: one gradient per forward "
      "input, at the broadcast shape.");

  m.def(
      "explain",
      [](std::string_view op, nb::handle inputs, std::string_view direction, nb::handle output_dtype, nb::handle attrs,
         size_t alignment, std::string_view device, uintptr_t stream, nb::handle grad_output, nb::handle outputs) {
        ElementwiseDescriptor d =
            make_descriptor(op, inputs, direction, output_dtype, attrs, alignment, grad_output, outputs);
        Device dev = parse_device(device);
        Stream s = plan_stream("elementwise", dev, stream);
        check(ElementwiseFamily::validate(d));
        return candidates_to_list(ElementwisePlan::explain(s, d));
      },
      nb::arg("op"), nb::arg("inputs"), nb::arg("direction") = "forward", nb::arg("output_dtype") = nb::none(),
      nb::arg("attrs") = nb::none(), nb::arg("alignment") = 16, nb::arg("device") = "cpu", nb::arg("stream") = 0,
      nb::arg("grad_output") = nb::none(), nb::arg("outputs") = nb::none(),
      "Every implementation with its status, without selecting: [(impl, backend, status, chosen)].");

  m.def(
      "result_type",
      [](nb::handle specs) {
        std::vector<Operand> ops;
        for (nb::handle h : specs) ops.push_back(to_operand(h, "operand spec"));
        return std::string(dtype_name(unwrap(result_type(ops))));
      },
      nb::arg("operands"), "PyTorch's result_type over operand specs (tensors, 0-dim tensors, Python scalars).");
  m.def(
      "promote_types",
      [](std::string_view a, std::string_view b) {
        auto r = promote_types(parse_dtype(a), parse_dtype(b));
        if (!r) throw_invalid("[promotion] no common dtype for " + std::string(a) + " and " + std::string(b));
        return std::string(dtype_name(*r));
      },
      nb::arg("a"), nb::arg("b"));
  m.def("can_cast", [](std::string_view from, std::string_view to) { return can_cast(parse_dtype(from), parse_dtype(to)); },
        nb::arg("from_"), nb::arg("to"));
  m.def("dtype_size", [](std::string_view t) { return dtype_size(parse_dtype(t)); }, nb::arg("dtype"));
  m.def("dtype_names", []() {
    std::vector<std::string> v;
    for (DType t : kAllDTypes) v.emplace_back(dtype_name(t));
    return v;
  });
}

}  // namespace baracuda::py
