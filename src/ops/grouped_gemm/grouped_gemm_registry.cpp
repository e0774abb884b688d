// The grouped GEMM family's ordered implementation list: the CUTLASS sm_90a kernel (builds with
// the CUTLASS headers only), the CPU reference last.
//
// A CUDA build without the CUTLASS headers still lists cutlass_sm90_grouped, refusing with the
// reason: explain() then says how to get the kernel, and the implementation list (docs/ops.md,
// checked by the ctest ops_catalog_up_to_date) depends only on BARACUDA_CUDA, as every other
// family's does, not on whether tools/fetch-cutlass ran.
#include "ops/grouped_gemm/grouped_gemm_args.hpp"
#include "ops/grouped_gemm/grouped_gemm_impls.hpp"

namespace baracuda {

#if BARACUDA_HAS_CUDA && !BARACUDA_HAS_CUTLASS
namespace grouped_gemm {
namespace {

Status cutlass_absent(const GroupedGemmDescriptor&, const Device&) {
  return not_supported(kTag + "this build has no CUTLASS headers (run tools/fetch-cutlass, then reconfigure)");
}

Result<GroupedGemmExecPtr> cutlass_absent_make(const GroupedGemmDescriptor& desc, const Device& device) {
  return cutlass_absent(desc, device);
}

}  // namespace
}  // namespace grouped_gemm
#endif

std::span<const Implementation<GroupedGemmFamily>> GroupedGemmFamily::implementations() {
  static const Implementation<GroupedGemmFamily> impls[] = {
#if BARACUDA_HAS_CUTLASS
      {"cutlass_sm90_grouped", "cutlass", DeviceKind::cuda, grouped_gemm::cutlass_supports,
       grouped_gemm::cutlass_make},
#elif BARACUDA_HAS_CUDA
      {"cutlass_sm90_grouped", "cutlass", DeviceKind::cuda, grouped_gemm::cutlass_absent,
       grouped_gemm::cutlass_absent_make},
#endif
      {"cpu_reference", "cpu-reference", DeviceKind::cpu, grouped_gemm::ref_supports, grouped_gemm::ref_make},
  };
  return impls;
}

}  // namespace baracuda
