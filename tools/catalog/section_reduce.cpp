// The reduce section of docs/ops.md.
#include <ostream>
#include <string>
#include <vector>

#include "catalog_sections.hpp"

namespace baracuda::catalog {

void write_reduce(std::ostream& o) {
  o << "\n## Reductions (`ReducePlan`)\n\n"
    << "Over any set of axes, with keepdim. Dtypes: those the forward accepts (output dtype for that input).\n\n"
    << "| op | forward dtypes (-> output) | backward | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|---|\n";
  for (const ReduceOpInfo& info : all_reduce_ops()) {
    std::string fwd, bwd, impls;
    for (DType t : kCatalogDTypes) {
      ReduceDescriptor d{.op = info.op, .input = Operand::tensor(t, {8, 64}), .axes = {1}};
      auto sig = infer_signature(d);
      if (sig) {
        fwd += (fwd.empty() ? "" : ", ") + std::string(dtype_name(t)) + "->";
        for (size_t i = 0; i < sig->outputs.size(); ++i)
          fwd += (i ? "+" : "") + std::string(dtype_name(sig->outputs[i].dtype));
      }
      d.direction = Direction::backward;
      if (info.differentiable && infer_signature(d)) bwd += (bwd.empty() ? "" : " ") + std::string(dtype_name(t));
    }
    for (const auto& impl : ReduceFamily::implementations()) impls += (impls.empty() ? "" : ", ") + std::string(impl.name);
    o << "| " << info.name << " | " << (fwd.empty() ? "-" : fwd) << " | "
      << (info.differentiable ? bwd : std::string("not differentiable")) << " | " << impls << " | `" << info.torch_name
      << "` | " << (info.jax_name.empty() ? std::string("-") : "`" + std::string(info.jax_name) + "`") << " |\n";
  }
}

}  // namespace baracuda::catalog
