// The f16 grouped GEMM kernels (both B storages): see grouped_cutlass_kernel.cuh.
#include "ops/grouped_gemm/cuda/grouped_cutlass_kernel.cuh"

namespace baracuda::grouped_gemm::cutlass_sm90 {

size_t workspace_bytes_f16(bool b_k_contiguous, int groups, int sm_count) {
  return b_k_contiguous ? grouped_workspace_bytes<cutlass::half_t, cutlass::layout::ColumnMajor>(groups, sm_count)
                        : grouped_workspace_bytes<cutlass::half_t, cutlass::layout::RowMajor>(groups, sm_count);
}

Status launch_f16(bool b_k_contiguous, const LaunchParams& p) {
  return b_k_contiguous ? grouped_launch<cutlass::half_t, cutlass::layout::ColumnMajor>(p)
                        : grouped_launch<cutlass::half_t, cutlass::layout::RowMajor>(p);
}

}  // namespace baracuda::grouped_gemm::cutlass_sm90
