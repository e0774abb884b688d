// The f16 grouped GEMM kernel with the 128x256x64 tile, 1x2 cluster (Tiling::m128n256_c1x2), for B
// [G, N, K] only: see grouped_cutlass_kernel.cuh and grouped_cutlass_tiling.hpp.
#include "ops/grouped_gemm/cuda/grouped_cutlass_kernel.cuh"

namespace baracuda::grouped_gemm::cutlass_sm90 {

template size_t rows_workspace_bytes<Element::f16, Tiling::m128n256_c1x2, true>(int, int);
template Status rows_launch<Element::f16, Tiling::m128n256_c1x2, true>(const LaunchParams&);

}  // namespace baracuda::grouped_gemm::cutlass_sm90
