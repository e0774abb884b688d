// Host side of the cluster kernel of the norm forward (kernels/norm_fwd_rows_cluster.cuh): its
// instantiations (a translation unit of its own), how many clusters the device holds, and the
// cluster launch.
#include "kernels/norm_fwd_rows_cluster.cuh"
#include "kernels/norm_rows_params.hpp"  // kNcThreads
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_fwd_fast_launch.hpp"

namespace baracuda::norm::cuda {
namespace {

template <class T, class W, bool MAILBOX>
FwdFastKernel cluster_kernel_with(bool residual) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  return residual ? norm_fwd_rows_cluster_kernel<T, W, V, true, MAILBOX>
                  : norm_fwd_rows_cluster_kernel<T, W, V, false, MAILBOX>;
}

template <class T, class W>
FwdFastKernel cluster_kernel(bool residual, bool mailbox, int ctas) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  if (ctas == 4) {  // the pushed exchange only
    if (!mailbox) return nullptr;
    return residual ? norm_fwd_rows_cluster_kernel<T, W, V, true, true, 4>
                    : norm_fwd_rows_cluster_kernel<T, W, V, false, true, 4>;
  }
  return mailbox ? cluster_kernel_with<T, W, true>(residual) : cluster_kernel_with<T, W, false>(residual);
}

}  // namespace

FwdFastKernel fwd_cluster_kernel(DType t, DType w, bool residual, bool mailbox, int ctas) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return w32 ? cluster_kernel<float, float>(residual, mailbox, ctas) : nullptr;
    case DType::f16:
      return w32 ? cluster_kernel<__half, float>(residual, mailbox, ctas)
                 : w == t ? cluster_kernel<__half, __half>(residual, mailbox, ctas) : nullptr;
    case DType::bf16:
      return w32 ? cluster_kernel<__nv_bfloat16, float>(residual, mailbox, ctas)
                 : w == t ? cluster_kernel<__nv_bfloat16, __nv_bfloat16>(residual, mailbox, ctas) : nullptr;
    default: return nullptr;
  }
}

int fwd_cluster_max_active(FwdFastKernel k, int ctas) {
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeClusterDimension;
  attr.val.clusterDim.x = static_cast<unsigned>(ctas);
  attr.val.clusterDim.y = attr.val.clusterDim.z = 1;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(static_cast<unsigned>(ctas));
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

Status launch_fwd_cluster(FwdFastKernel k, int64_t grid, int ctas, const FwdParams& p, cudaStream_t stream, bool pdl) {
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(grid)), dim3(kNcThreads), 0, stream, pdl,
                                static_cast<unsigned>(ctas)};
  return kernels::launch_kernel(l, "norm", "norm_fwd_rows_cluster_kernel",
                                ctas == 4 ? " (clusters of 4 CTAs)" : " (clusters of 2 CTAs)", k, p);
}

}  // namespace baracuda::norm::cuda
