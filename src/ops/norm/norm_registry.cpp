// The norm family's ordered implementation list: the CUDA row engine (layer/rms norms and their
// fused residual-add variants), the CUDA (N, C, *) kernels (group/instance/batch norm on dense
// tensors), then the CPU reference.
#include "ops/norm/norm_impls.hpp"

namespace baracuda {

std::span<const Implementation<NormFamily>> NormFamily::implementations() {
  static const Implementation<NormFamily> impls[] = {
#if BARACUDA_HAS_CUDA
      {"cuda_rows", "baracuda-cuda", DeviceKind::cuda, norm_cuda_rows_supports, norm_cuda_rows_make},
      {"cuda_groups", "baracuda-cuda", DeviceKind::cuda, norm_cuda_groups_supports, norm_cuda_groups_make},
#endif
      {"cpu_reference", "cpu-reference", DeviceKind::cpu, norm_ref_supports, norm_ref_make},
  };
  return impls;
}

}  // namespace baracuda
