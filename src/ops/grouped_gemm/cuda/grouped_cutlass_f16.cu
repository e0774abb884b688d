// The f16 grouped GEMM kernels of the default tiling (both B storages): see
// grouped_cutlass_kernel.cuh; the other tilings are in grouped_cutlass_f16_<tiling>.cu.
#include "ops/grouped_gemm/cuda/grouped_cutlass_kernel.cuh"

namespace baracuda::grouped_gemm::cutlass_sm90 {

template size_t rows_workspace_bytes<Element::f16, kDefaultTiling, true>(int, int);
template size_t rows_workspace_bytes<Element::f16, kDefaultTiling, false>(int, int);
template Status rows_launch<Element::f16, kDefaultTiling, true>(const LaunchParams&);
template Status rows_launch<Element::f16, kDefaultTiling, false>(const LaunchParams&);

}  // namespace baracuda::grouped_gemm::cutlass_sm90
