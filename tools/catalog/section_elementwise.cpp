// The elementwise section of docs/ops.md.
#include <ostream>
#include <string>
#include <vector>

#include "catalog_sections.hpp"

namespace baracuda::catalog {

namespace {

// A descriptor for `op` whose tensor inputs all have dtype t (shape [8, 64]).
ElementwiseDescriptor sample(const ElementwiseOpInfo& info, DType t, Direction dir) {
  ElementwiseDescriptor d{.op = info.op, .direction = dir};
  for (int i = 0; i < info.arity; ++i) {
    DType dt = (info.category == ElementwiseCategory::where && i == 0) ? DType::boolean : t;
    std::vector<int64_t> shape{8, 64};
    if (info.category == ElementwiseCategory::prelu && i == 1) shape = {64};
    d.inputs.push_back(Operand::tensor(dt, shape));
  }
  if (info.category == ElementwiseCategory::cast) d.output_dtype = DType::f32;
  if (info.category == ElementwiseCategory::prelu) d.inputs[0].shape = {8, 64, 3};
  return d;
}

std::string dtypes_accepted(const ElementwiseOpInfo& info, Direction dir) {
  std::string s;
  for (DType t : kCatalogDTypes)
    if (infer_signature(sample(info, t, dir))) s += (s.empty() ? "" : " ") + std::string(dtype_name(t));
  return s.empty() ? "-" : s;
}

// Implementations whose supports() accepts the op for some dtype (on an sm_90 device for CUDA ones).
std::string implementations(const ElementwiseOpInfo& info) {
  std::string s;
  for (const auto& impl : ElementwiseFamily::implementations()) {
    Device dev = impl.device_kind == DeviceKind::cuda ? Device::cuda(0, 90) : Device::cpu();
    bool any = false;
    for (DType t : kCatalogDTypes)
      for (Direction dir : {Direction::forward, Direction::backward})
        if (infer_signature(sample(info, t, dir)) && impl.supports(sample(info, t, dir), dev).is_ok()) any = true;
    if (any) s += (s.empty() ? "" : ", ") + std::string(impl.name);
  }
  return s;
}

}  // namespace

void write_elementwise(std::ostream& o) {
  o << "## Elementwise (`ElementwisePlan`)\n\n"
    << "| op | arity | category | forward dtypes | backward dtypes | implementations | PyTorch | JAX |\n"
    << "|---|---:|---|---|---|---|---|---|\n";
  for (const ElementwiseOpInfo& info : all_elementwise_ops()) {
    std::string fwd = dtypes_accepted(info, Direction::forward);
    if (info.category == ElementwiseCategory::cast) fwd = "any pair of " + fwd;
    std::string bwd = info.differentiable ? dtypes_accepted(info, Direction::backward) : "not differentiable";
    o << "| " << info.name << " | " << info.arity << " | " << category_name(info.category) << " | " << fwd << " | "
      << bwd << " | " << implementations(info) << " | `" << info.torch_name << "` | "
      << (info.jax_name.empty() ? std::string("-") : "`" + std::string(info.jax_name) + "`") << " |\n";
  }
}

}  // namespace baracuda::catalog
