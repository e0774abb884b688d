// Host side of the cluster kernel of the norm backward (kernels/norm_bwd_rows_cluster.cuh): its
// instantiations (one translation unit of its own: they compile beside the rows engine's), how
// many clusters the device holds, and the cluster launch.
#include "kernels/norm_bwd_rows_cluster.cuh"
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_bwd_fast_launch.hpp"

namespace baracuda::norm::cuda {
namespace {

template <class T, class W, bool MAILBOX>
BwdKernel cluster_kernel_with(int sums, int weight_form) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  if constexpr (MAILBOX) {  // the weight's other forms (A/B): the two default kernels only
    if (weight_form == 1 && sums == 3) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 3, true, 1>;
    if (weight_form == 1 && sums == 4) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 4, true, 1>;
    if (weight_form == 2 && sums == 3) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 3, true, 2>;
    if (weight_form == 2 && sums == 4) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 4, true, 2>;
  }
  if (weight_form != 0) return nullptr;
  if (sums == 1) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 1, MAILBOX>;
  if (sums == 2) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 2, MAILBOX>;
  if (sums == 3) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 3, MAILBOX>;
  if constexpr (MAILBOX) {  // the re-read form waits at CTA scope, on the mailbox only
    if (sums == 4) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 4, true>;
  }
  return nullptr;
}

// Clusters of 4 (rows of up to 4 CTA spans): the pushed exchange and each SUMS' default weight
// form only (SUMS 1 and 4 at the column, SUMS 3 through the base pointer).
template <class T, class W>
BwdKernel quad_kernel(int sums) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  if (sums == 1) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 1, true, 0, 4>;
  if (sums == 3) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 3, true, 2, 4>;
  if (sums == 4) return norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 4, true, 0, 4>;
  return nullptr;
}

template <class T, class W>
BwdKernel cluster_kernel(int sums, bool mailbox, int weight_form, int ctas) {
  if (ctas == 4) return mailbox ? quad_kernel<T, W>(sums) : nullptr;
  return mailbox ? cluster_kernel_with<T, W, true>(sums, weight_form)
                 : cluster_kernel_with<T, W, false>(sums, weight_form);
}

}  // namespace

BwdKernel bwd_cluster_kernel(DType t, DType w, int sums, bool mailbox, int weight_form, int ctas) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return w32 ? cluster_kernel<float, float>(sums, mailbox, weight_form, ctas) : nullptr;
    case DType::f16:
      return w32 ? cluster_kernel<__half, float>(sums, mailbox, weight_form, ctas)
                 : w == t ? cluster_kernel<__half, __half>(sums, mailbox, weight_form, ctas) : nullptr;
    case DType::bf16:
      return w32 ? cluster_kernel<__nv_bfloat16, float>(sums, mailbox, weight_form, ctas)
                 : w == t ? cluster_kernel<__nv_bfloat16, __nv_bfloat16>(sums, mailbox, weight_form, ctas) : nullptr;
    default: return nullptr;
  }
}

int bwd_cluster_max_active(BwdKernel k, int ctas, int smem_bytes) {
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeClusterDimension;
  attr.val.clusterDim.x = static_cast<unsigned>(ctas);
  attr.val.clusterDim.y = attr.val.clusterDim.z = 1;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(static_cast<unsigned>(ctas));
  cfg.blockDim = dim3(kNcThreads);
  cfg.dynamicSmemBytes = static_cast<size_t>(smem_bytes);
  cfg.attrs = &attr;
  cfg.numAttrs = 1;
  int clusters = 0;
  if (k == nullptr || cudaOccupancyMaxActiveClusters(&clusters, k, &cfg) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return clusters;
}

Status launch_bwd_cluster(BwdKernel k, int64_t grid, int smem_bytes, int ctas, const BwdParams& p,
                          cudaStream_t stream, bool pdl) {
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(grid)), dim3(kNcThreads), static_cast<size_t>(smem_bytes),
                                stream, pdl, static_cast<unsigned>(ctas)};
  return kernels::launch_kernel(l, "norm", "norm_bwd_rows_cluster_kernel",
                                ctas == 4 ? " (clusters of 4 CTAs)" : " (clusters of 2 CTAs)", k, p);
}

}  // namespace baracuda::norm::cuda
