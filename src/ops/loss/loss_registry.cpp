// The loss family's ordered implementation list: the CUDA kernels first, the CPU reference last.
#include "ops/loss/loss_impls.hpp"

namespace baracuda {

std::span<const Implementation<LossFamily>> LossFamily::implementations() {
  static const Implementation<LossFamily> impls[] = {
#if BARACUDA_HAS_CUDA
      {"cuda_loss", "baracuda-cuda", DeviceKind::cuda, loss::cuda_supports, loss::cuda_make},
#endif
      {"cpu_reference", "cpu-reference", DeviceKind::cpu, loss::ref_supports, loss::ref_make},
  };
  return impls;
}

}  // namespace baracuda
