// The elementwise family's ordered implementation list: fastest first, the CPU reference last.
#include "ops/elementwise/elementwise_impls.hpp"

namespace baracuda {
namespace ew {

KernelSku make_sku(const Problem& p, std::string impl, std::string backend, std::string layout, std::string arch) {
  KernelSku s;
  s.family = "elementwise";
  s.op = std::string(p.info.name) + (p.desc.direction == Direction::backward ? ".backward" : "");
  for (int i = 0; i < p.nin; ++i)
    s.dtypes += (i ? "," : "") + std::string(p.in_scalar[i] ? "scalar:" : "") + std::string(dtype_name(p.in_dtype[i]));
  s.dtypes += "->";
  for (size_t i = 0; i < p.sig.outputs.size(); ++i)
    s.dtypes += (i ? "," : "") + std::string(dtype_name(p.sig.outputs[i].dtype));
  s.layout = std::move(layout);
  if (p.info.category == ElementwiseCategory::cast && p.desc.attrs.amax) s.epilogue = "amax";
  s.arch = std::move(arch);
  s.backend = std::move(backend);
  s.impl = std::move(impl);
  return s;
}

}  // namespace ew

std::span<const Implementation<ElementwiseFamily>> ElementwiseFamily::implementations() {
  static const Implementation<ElementwiseFamily> impls[] = {
#if BARACUDA_HAS_CUDA
      {"cuda_vectorized", "baracuda-cuda", DeviceKind::cuda, ew::cuda_vectorized_supports, ew::cuda_vectorized_make},
      {"cuda_strided", "baracuda-cuda", DeviceKind::cuda, ew::cuda_strided_supports, ew::cuda_strided_make},
#endif
      {"cpu_reference", "cpu-reference", DeviceKind::cpu, ew::ref_supports, ew::ref_make},
  };
  return impls;
}

}  // namespace baracuda
