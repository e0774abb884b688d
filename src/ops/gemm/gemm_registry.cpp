// The GEMM family's ordered implementation list: cuBLASLt first (CUTLASS to come), cuBLASLt
// followed by an elementwise activation pass for the epilogues cuBLASLt lacks, the CPU reference last.
#include "ops/gemm/gemm_impls.hpp"

namespace baracuda {

std::span<const Implementation<GemmFamily>> GemmFamily::implementations() {
  static const Implementation<GemmFamily> impls[] = {
#if BARACUDA_HAS_CUDA
      {"cublaslt", "cublaslt", DeviceKind::cuda, gemm::cublaslt_supports, gemm::cublaslt_make,
       gemm::cublaslt_make_with_preference},
      {"cublaslt_then_activation", "cublaslt", DeviceKind::cuda, gemm::cublaslt_then_activation_supports,
       gemm::cublaslt_then_activation_make, gemm::cublaslt_then_activation_make_with_preference},
#endif
      {"cpu_reference", "cpu-reference", DeviceKind::cpu, gemm::ref_supports, gemm::ref_make},
  };
  return impls;
}

}  // namespace baracuda
