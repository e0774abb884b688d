// The softmax section of docs/ops.md.
#include <ostream>
#include <string>
#include <vector>

#include "catalog_sections.hpp"

namespace baracuda::catalog {

void write_softmax(std::ostream& o) {
  o << "\n## Softmax (`SoftmaxPlan`)\n\n"
    << "Along any one dim, with temperature, a boolean or additive mask (broadcastable), and dtype=.\n"
    << "Dtypes: input -> output with the default output dtype; `dtype=f32` is also accepted on every\n"
    << "backend for 16-bit inputs. Backward inputs: dy and the forward output y.\n\n"
    << "| op | forward dtypes (-> output) | backward | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|---|\n";
  for (const SoftmaxOpInfo& info : all_softmax_ops()) {
    std::string fwd, bwd, impls;
    for (DType t : kCatalogDTypes) {
      SoftmaxDescriptor d{.op = info.op, .input = Operand::tensor(t, {8, 64})};
      auto sig = infer_signature(d);
      if (sig) fwd += (fwd.empty() ? "" : ", ") + std::string(dtype_name(t)) + "->" + std::string(dtype_name(sig->outputs[0].dtype));
      d.direction = Direction::backward;
      if (infer_signature(d)) bwd += (bwd.empty() ? "" : " ") + std::string(dtype_name(t));
    }
    for (const auto& impl : SoftmaxFamily::implementations()) {
      Device dev = impl.device_kind == DeviceKind::cuda ? Device::cuda(0, 90) : Device::cpu();
      bool any = false;
      for (DType t : kCatalogDTypes)
        if (impl.supports(SoftmaxDescriptor{.op = info.op, .input = Operand::tensor(t, {8, 64})}, dev).is_ok()) any = true;
      if (any) impls += (impls.empty() ? "" : ", ") + std::string(impl.name);
    }
    o << "| " << info.name << " | " << (fwd.empty() ? "-" : fwd) << " | " << (bwd.empty() ? "-" : bwd) << " | " << impls
      << " | `" << info.torch_name << "` | `" << info.jax_name << "` |\n";
  }
}

}  // namespace baracuda::catalog
