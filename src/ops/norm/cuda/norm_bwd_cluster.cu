// Host side of the two-CTA cluster kernel of the norm backward (kernels/norm_bwd_rows_cluster.cuh):
// its instantiations (one translation unit of its own: they compile beside the rows engine's) and
// the cluster launch.
#include <string>

#include "kernels/norm_bwd_rows_cluster.cuh"
#include "ops/norm/cuda/norm_bwd_fast_launch.hpp"
#include "ops/norm/cuda/norm_rows_dispatch.cuh"  // check_launch

namespace baracuda::norm::cuda {
namespace {

template <class T, class W>
BwdKernel cluster_kernel(int sums) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  if (sums == 1) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 1>;
  if (sums == 2) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 2>;
  return nullptr;
}

}  // namespace

BwdKernel bwd_cluster_kernel(DType t, DType w, int sums) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return w32 ? cluster_kernel<float, float>(sums) : nullptr;
    case DType::f16:
      return w32 ? cluster_kernel<__half, float>(sums) : w == t ? cluster_kernel<__half, __half>(sums) : nullptr;
    case DType::bf16:
      return w32 ? cluster_kernel<__nv_bfloat16, float>(sums)
                 : w == t ? cluster_kernel<__nv_bfloat16, __nv_bfloat16>(sums) : nullptr;
    default: return nullptr;
  }
}

Status launch_bwd_cluster(BwdKernel k, int64_t grid, int smem_bytes, const BwdParams& p, cudaStream_t stream) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(static_cast<unsigned>(grid));
  cfg.blockDim = dim3(kNcThreads);
  cfg.dynamicSmemBytes = static_cast<size_t>(smem_bytes);
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = 2;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  if (const cudaError_t e = cudaLaunchKernelEx(&cfg, k, p); e != cudaSuccess) {
    (void)cudaGetLastError();
    return backend_error(std::string("[norm] cluster launch of norm_bwd_rows_cluster_kernel failed: ") +
                         cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
  }
  return check_launch("norm_bwd_rows_cluster_kernel");
}

}  // namespace baracuda::norm::cuda
