// baracuda._C.GroupedGemmPlan: Plan<GroupedGemmFamily> for Python (MoE grouped GEMM, both splits);
// grouped_gemm_infer_signature.
#include "bindings.hpp"
#include "plan_holder.hpp"

namespace baracuda::py {
namespace {

// Every descriptor field as Python passes it (operand specs: (dtype, shape, strides or None, False)).
struct GroupedGemmSpecs {
  nb::handle a, b, d;
  std::string_view offsets_dtype = "i32";
  double alpha = 1.0;
  bool status = false;
  size_t alignment = 16;
  std::string_view split = "rows";
};

// "rows" or "contraction" (InvalidArgumentError otherwise).
GroupedGemmSplit parse_split(std::string_view name) {
  if (name == "rows") return GroupedGemmSplit::rows;
  if (name == "contraction") return GroupedGemmSplit::contraction;
  throw_invalid("[grouped_gemm] split must be 'rows' or 'contraction', got '" + std::string(name) + "'");
}

GroupedGemmDescriptor make_grouped_gemm_descriptor(const GroupedGemmSpecs& s) {
  GroupedGemmDescriptor d;
  d.a = to_operand(s.a, "a spec");
  d.b = to_operand(s.b, "b spec");
  d.d = to_operand(s.d, "d spec");
  d.offsets_dtype = parse_dtype(s.offsets_dtype);
  d.alpha = s.alpha;
  d.status = s.status;
  d.alignment = s.alignment;
  d.split = parse_split(s.split);
  return d;
}

nb::dict grouped_gemm_signature_to_dict(const GroupedGemmSignature& s) {
  nb::dict d;
  d["m_total"] = s.m_total;
  d["n"] = s.n;
  d["k"] = s.k;
  d["groups"] = s.groups;
  d["split"] = std::string(grouped_gemm_split_name(s.split));
  return d;
}

class PyGroupedGemmPlan : public PlanHolder<GroupedGemmFamily> {
 public:
  PyGroupedGemmPlan(const GroupedGemmSpecs& specs, std::string_view device, uintptr_t stream, nb::handle force,
                    nb::handle exclude, bool deterministic)
      : PlanHolder(make_grouped_gemm_descriptor(specs), parse_device(device), stream,
                   to_preference(force, exclude, deterministic)),
        sig_(unwrap(infer_signature(desc_))) {}

  nb::dict signature() const { return grouped_gemm_signature_to_dict(sig_); }

  void run(nb::handle stream, nb::handle workspace, size_t workspace_bytes, nb::handle a, nb::handle b,
           nb::handle group_offsets, nb::handle d, nb::handle status) {
    std::vector<InArray> keep_in;
    std::vector<OutArray> keep_out;
    keep_in.reserve(3);
    keep_out.reserve(3);  // d, status, and a DLPack workspace buffer
    GroupedGemmArgs g;
    g.a = opt_ref(a, keep_in);
    g.b = opt_ref(b, keep_in);
    g.group_offsets = opt_ref(group_offsets, keep_in);
    g.d = opt_mut(d, keep_out);
    g.status = opt_mut(status, keep_out);
    run_args(stream, workspace, workspace_bytes, g, keep_out);
  }

  std::string repr() const {
    return "<baracuda.GroupedGemmPlan " + describe() + " on " + device() + ": " + sku_string() + ">";
  }

 private:
  GroupedGemmSignature sig_;
};

GroupedGemmSpecs specs_from(nb::handle a, nb::handle b, nb::handle d, std::string_view offsets_dtype, double alpha,
                            bool status, size_t alignment, std::string_view split) {
  GroupedGemmSpecs s;
  s.a = a, s.b = b, s.d = d;
  s.offsets_dtype = offsets_dtype, s.alpha = alpha, s.status = status, s.alignment = alignment, s.split = split;
  return s;
}

}  // namespace

void register_grouped_gemm(nb::module_& m) {
  m.def(
      "grouped_gemm_infer_signature",
      [](nb::handle a, nb::handle b, nb::handle d, std::string_view offsets_dtype, double alpha, bool status,
         std::string_view split) {
        return grouped_gemm_signature_to_dict(unwrap(
            infer_signature(make_grouped_gemm_descriptor(specs_from(a, b, d, offsets_dtype, alpha, status, 16, split)))));
      },
      nb::arg("a"), nb::arg("b"), nb::arg("d"), nb::arg("offsets_dtype") = "i32", nb::arg("alpha") = 1.0,
      nb::arg("status") = false, nb::arg("split") = "rows",
      "The geometry select() infers: {'m_total', 'n', 'k', 'groups', 'split'}; m_total and k are A's extents "
      "(split='contraction': M and K_total). Raises for an invalid descriptor.");

  with_plan_members(nb::class_<PyGroupedGemmPlan>(
                        m, "GroupedGemmPlan",
                        "A grouped GEMM plan (mixture of experts), split='rows': D[offs[g]:offs[g+1]] = alpha * "
                        "A[offs[g]:offs[g+1]] @ B[g]; split='contraction': D[g] = alpha * A[:, offs[g]:offs[g+1]] "
                        "@ B[offs[g]:offs[g+1]]. select() runs in the constructor (raises when no implementation "
                        "can run the problem). The offsets are run-time data: one plan serves every routing."))
      .def(
          "__init__",
          [](PyGroupedGemmPlan* self, nb::handle a, nb::handle b, nb::handle d, std::string_view offsets_dtype,
             double alpha, bool status, size_t alignment, std::string_view device, uintptr_t stream, nb::handle force,
             nb::handle exclude, bool deterministic, std::string_view split) {
            new (self) PyGroupedGemmPlan(specs_from(a, b, d, offsets_dtype, alpha, status, alignment, split), device,
                                         stream, force, exclude, deterministic);
          },
          nb::arg("a"), nb::arg("b"), nb::arg("d"), nb::arg("offsets_dtype") = "i32", nb::arg("alpha") = 1.0,
          nb::arg("status") = false, nb::arg("alignment") = 16, nb::arg("device") = "cpu", nb::arg("stream") = 0,
          nb::arg("force") = nb::none(), nb::arg("exclude") = nb::none(), nb::arg("deterministic") = false,
          nb::arg("split") = "rows",
          "split='rows': a [M_total, K], b [G, K, N], d [M_total, N]; split='contraction': a [M, K_total], "
          "b [K_total, N], d [G, M, N]. Specs (dtype, shape, strides or None, False), all bf16 or "
          "all f16; offsets_dtype: 'i32' or 'i64' (group_offsets [G + 1]); status: run() takes an i32 status "
          "output (CUDA: 1 when the offsets are invalid, D untouched); alignment: bytes the caller promises "
          "for A, B and D; device: 'cpu' or 'cuda:N'; stream: cudaStream_t as int; force / exclude / "
          "deterministic: PlanPreference.")
      .def_prop_ro("signature", &PyGroupedGemmPlan::signature)
      .def("run", &PyGroupedGemmPlan::run, nb::arg("stream") = nb::none(), nb::arg("workspace_ptr") = nb::none(),
           nb::arg("workspace_bytes") = 0, nb::arg("a") = nb::none(), nb::arg("b") = nb::none(),
           nb::arg("group_offsets") = nb::none(), nb::arg("d") = nb::none(), nb::arg("status") = nb::none(),
           "Enqueues the work (CPU: runs it, and raises for invalid offsets quoting them). Tensors by slot "
           "name; status only when the plan was made with status=True.")
      .def("__repr__", &PyGroupedGemmPlan::repr);
}

}  // namespace baracuda::py
