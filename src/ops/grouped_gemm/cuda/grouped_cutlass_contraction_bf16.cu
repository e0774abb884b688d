// The bf16 grouped GEMM kernel of the contraction split: see grouped_cutlass_contraction.cuh.
#include "ops/grouped_gemm/cuda/grouped_cutlass_contraction.cuh"

namespace baracuda::grouped_gemm::cutlass_sm90 {

size_t contraction_workspace_bytes_bf16(int groups, int sm_count) {
  return grouped_contraction_workspace_bytes<cutlass::bfloat16_t>(groups, sm_count);
}

Status contraction_launch_bf16(const ContractionLaunchParams& p) { return grouped_contraction_launch<cutlass::bfloat16_t>(p); }

}  // namespace baracuda::grouped_gemm::cutlass_sm90
