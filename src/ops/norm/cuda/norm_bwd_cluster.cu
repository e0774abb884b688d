// Host side of the cluster kernel of the norm backward (clusters of 2 CTAs; of 4 as an experiment) (kernels/norm_bwd_rows_cluster.cuh):
// its instantiations (one translation unit of its own: they compile beside the rows engine's) and
// the cluster launch.
#include "kernels/norm_bwd_rows_cluster.cuh"
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_bwd_fast_launch.hpp"

namespace baracuda::norm::cuda {
namespace {

template <class T, class W, bool MAILBOX, int CL>
BwdKernel cluster_kernel_with(int sums) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  if (sums == 1) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 1, MAILBOX, CL>;
  if (sums == 2) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 2, MAILBOX, CL>;
  if (sums == 3) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 3, MAILBOX, CL>;
  if constexpr (MAILBOX) {  // the re-read form waits at CTA scope, on the mailbox only
    if (sums == 4) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 4, true, CL>;
  }
  return nullptr;
}

template <class T, class W>
BwdKernel cluster_kernel(int sums, bool mailbox, int ctas) {
  if (ctas == 4) return mailbox ? cluster_kernel_with<T, W, true, 4>(sums) : cluster_kernel_with<T, W, false, 4>(sums);
  if (ctas != 2) return nullptr;
  return mailbox ? cluster_kernel_with<T, W, true, 2>(sums) : cluster_kernel_with<T, W, false, 2>(sums);
}

}  // namespace

BwdKernel bwd_cluster_kernel(DType t, DType w, int sums, bool mailbox, int ctas) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return w32 ? cluster_kernel<float, float>(sums, mailbox, ctas) : nullptr;
    case DType::f16:
      return w32 ? cluster_kernel<__half, float>(sums, mailbox, ctas)
                 : w == t ? cluster_kernel<__half, __half>(sums, mailbox, ctas) : nullptr;
    case DType::bf16:
      return w32 ? cluster_kernel<__nv_bfloat16, float>(sums, mailbox, ctas)
                 : w == t ? cluster_kernel<__nv_bfloat16, __nv_bfloat16>(sums, mailbox, ctas) : nullptr;
    default: return nullptr;
  }
}

Status launch_bwd_cluster(BwdKernel k, int ctas, int64_t grid, int smem_bytes, const BwdParams& p,
                          cudaStream_t stream, bool pdl) {
  const int threads = ctas == 4 ? nc_threads<4>() : nc_threads<2>();
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(grid)), dim3(static_cast<unsigned>(threads)),
                                static_cast<size_t>(smem_bytes), stream, pdl, static_cast<unsigned>(ctas)};
  return kernels::launch_kernel(l, "norm", "norm_bwd_rows_cluster_kernel",
                                ctas == 4 ? " (clusters of 4 CTAs)" : " (clusters of 2 CTAs)", k, p);
}

int bwd_cluster_max_active(BwdKernel k, int ctas, int smem_bytes) {
  const int threads = ctas == 4 ? nc_threads<4>() : nc_threads<2>();
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(static_cast<unsigned>(ctas));
  cfg.blockDim = dim3(static_cast<unsigned>(threads));
  cfg.dynamicSmemBytes = static_cast<size_t>(smem_bytes);
  cudaLaunchAttribute cluster;
  cluster.id = cudaLaunchAttributeClusterDimension;
  cluster.val.clusterDim.x = static_cast<unsigned>(ctas);
  cluster.val.clusterDim.y = 1;
  cluster.val.clusterDim.z = 1;
  cfg.attrs = &cluster;
  cfg.numAttrs = 1;
  int clusters = 0;
  if (cudaOccupancyMaxActiveClusters(&clusters, k, &cfg) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return clusters;
}

}  // namespace baracuda::norm::cuda
