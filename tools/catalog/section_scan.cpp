// The scan section of docs/ops.md.
#include <ostream>
#include <string>
#include <vector>

#include "catalog_sections.hpp"

namespace baracuda::catalog {

void write_scan(std::ostream& o) {
  o << "\n## Scans (`ScanPlan`)\n\n"
    << "Along one axis (negative allowed), with exclusive / reverse (not for cummax/cummin). Dtypes: those the\n"
    << "forward accepts (output dtype for that input). Implementations: those that serve the op for some\n"
    << "dtype, forward (backward).\n\n"
    << "| op | forward dtypes (-> output) | backward dtypes | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|---|\n";
  for (const ScanOpInfo& info : all_scan_ops()) {
    std::string fwd, bwd, impls;
    for (DType t : kCatalogDTypes) {
      ScanDescriptor d{.op = info.op, .input = Operand::tensor(t, {8, 64}), .axis = 1};
      auto sig = infer_signature(d);
      if (sig) {
        fwd += (fwd.empty() ? "" : ", ") + std::string(dtype_name(t)) + "->";
        for (size_t i = 0; i < sig->outputs.size(); ++i)
          fwd += (i ? "+" : "") + std::string(dtype_name(sig->outputs[i].dtype));
      }
      d.direction = Direction::backward;
      if (info.differentiable && infer_signature(d)) bwd += (bwd.empty() ? "" : " ") + std::string(dtype_name(t));
    }
    for (const auto& impl : ScanFamily::implementations()) {
      Device dev = impl.device_kind == DeviceKind::cuda ? Device::cuda(0, 90) : Device::cpu();
      bool f = false, b = false;
      for (DType t : kCatalogDTypes) {
        ScanDescriptor d{.op = info.op, .input = Operand::tensor(t, {8, 64}), .axis = 1};
        f = f || (infer_signature(d) && impl.supports(d, dev).is_ok());
        d.direction = Direction::backward;
        b = b || (infer_signature(d) && impl.supports(d, dev).is_ok());
      }
      if (f || b)
        impls += (impls.empty() ? "" : ", ") + std::string(impl.name) + (f && b ? "" : f ? " (forward)" : " (backward)");
    }
    o << "| " << info.name << " | " << (fwd.empty() ? "-" : fwd) << " | "
      << (info.differentiable ? (bwd.empty() ? "-" : bwd) : std::string("not differentiable")) << " | " << impls
      << " | `" << info.torch_name << "` | " << (info.jax_name.empty() ? std::string("-") : "`" + std::string(info.jax_name) + "`")
      << " |\n";
  }
}

}  // namespace baracuda::catalog
