// The grouped GEMM family's ordered implementation list: the CUTLASS sm_90a kernel (builds with
// the CUTLASS headers only), the CPU reference last.
#include "ops/grouped_gemm/grouped_gemm_impls.hpp"

namespace baracuda {

std::span<const Implementation<GroupedGemmFamily>> GroupedGemmFamily::implementations() {
  static const Implementation<GroupedGemmFamily> impls[] = {
#if BARACUDA_HAS_CUTLASS
      {"cutlass_sm90_grouped", "cutlass", DeviceKind::cuda, grouped_gemm::cutlass_supports,
       grouped_gemm::cutlass_make},
#endif
      {"cpu_reference", "cpu-reference", DeviceKind::cpu, grouped_gemm::ref_supports, grouped_gemm::ref_make},
  };
  return impls;
}

}  // namespace baracuda
