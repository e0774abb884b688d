// Host side of the four-CTA cluster kernel of the norm backward (kernels/norm_bwd_rows_quad.cuh):
// its instantiations, how many of its clusters the device holds at once, and its launch.
#include "kernels/norm_bwd_rows_quad.cuh"
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_bwd_fast_launch.hpp"

namespace baracuda::norm::cuda {
namespace {

template <class T, class W>
BwdKernel quad_kernel(bool dbias) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  return dbias ? norm_bwd_rows_quad_kernel<T, W, V, true> : norm_bwd_rows_quad_kernel<T, W, V, false>;
}

}  // namespace

BwdKernel bwd_quad_kernel(DType t, DType w, bool dbias) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return w32 ? quad_kernel<float, float>(dbias) : nullptr;
    case DType::f16:
      return w32 ? quad_kernel<__half, float>(dbias) : w == t ? quad_kernel<__half, __half>(dbias) : nullptr;
    case DType::bf16:
      return w32 ? quad_kernel<__nv_bfloat16, float>(dbias)
                 : w == t ? quad_kernel<__nv_bfloat16, __nv_bfloat16>(dbias) : nullptr;
    default: return nullptr;
  }
}

int bwd_quad_max_clusters(BwdKernel k) {
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeClusterDimension;
  attr.val.clusterDim.x = kNqCtas;
  attr.val.clusterDim.y = 1;
  attr.val.clusterDim.z = 1;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(kNqCtas);
  cfg.blockDim = dim3(kNcThreads);
  cfg.attrs = &attr;
  cfg.numAttrs = 1;
  int clusters = 0;
  if (k == nullptr || cudaOccupancyMaxActiveClusters(&clusters, k, &cfg) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return clusters;
}

Status launch_bwd_quad(BwdKernel k, int64_t grid, const BwdParams& p, cudaStream_t stream, bool pdl) {
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(grid)), dim3(kNcThreads), 0, stream, pdl, kNqCtas};
  return kernels::launch_kernel(l, "norm", "norm_bwd_rows_quad_kernel", " (clusters of 4 CTAs)", k, p);
}

}  // namespace baracuda::norm::cuda
