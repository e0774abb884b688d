// The norm section of docs/ops.md.
#include <ostream>
#include <string>
#include <vector>

#include "catalog_sections.hpp"

namespace baracuda::catalog {

void write_norm(std::ostream& o) {
  o << "\n## Normalization (`NormPlan`)\n\n"
    << "layer/rms over the trailing normalized_shape; group/instance/batch over (N, C, *). Parameters may be\n"
    << "x's dtype or f32; statistics are f32 (f64 for f64 x). Implementations: those that serve the op for\n"
    << "some dtype.\n\n"
    << "| op | forward dtypes | backward dtypes | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|---|\n";
  for (const NormOpInfo& info : all_norm_ops()) {
    auto sample_norm = [&](DType t, Direction dir) {
      const bool rows = info.op == NormOp::layer_norm || info.op == NormOp::rms_norm ||
                        info.op == NormOp::add_layer_norm || info.op == NormOp::add_rms_norm;
      NormDescriptor d{.op = info.op, .direction = dir,
                       .input = Operand::tensor(t, rows ? std::vector<int64_t>{8, 64} : std::vector<int64_t>{8, 64, 4})};
      if (rows) d.normalized_shape = {64};
      d.num_groups = 8;
      return d;
    };
    std::string fwd, bwd, impls;
    for (DType t : kCatalogDTypes) {
      if (infer_signature(sample_norm(t, Direction::forward))) fwd += (fwd.empty() ? "" : " ") + std::string(dtype_name(t));
      if (infer_signature(sample_norm(t, Direction::backward))) bwd += (bwd.empty() ? "" : " ") + std::string(dtype_name(t));
    }
    for (const auto& impl : NormFamily::implementations()) {
      Device dev = impl.device_kind == DeviceKind::cuda ? Device::cuda(0, 90) : Device::cpu();
      bool any = false;
      for (DType t : kCatalogDTypes)
        for (Direction dir : {Direction::forward, Direction::backward})
          if (infer_signature(sample_norm(t, dir)) && impl.supports(sample_norm(t, dir), dev).is_ok()) any = true;
      if (any) impls += (impls.empty() ? "" : ", ") + std::string(impl.name);
    }
    o << "| " << info.name << " | " << (fwd.empty() ? "-" : fwd) << " | " << (bwd.empty() ? "-" : bwd) << " | " << impls
      << " | `" << info.torch_name << "` | "
      << (info.jax_name.empty() ? std::string("-") : "`" + std::string(info.jax_name) + "`") << " |\n";
  }
}

}  // namespace baracuda::catalog
