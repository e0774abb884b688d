// Host side of the two-CTA cluster kernel of the norm backward (kernels/norm_bwd_rows_cluster.cuh):
// its instantiations (one translation unit of its own: they compile beside the rows engine's) and
// the cluster launch.
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

template <class T, class W>
BwdKernel cluster_kernel(int sums, bool mailbox, int weight_form) {
  return mailbox ? cluster_kernel_with<T, W, true>(sums, weight_form)
                 : cluster_kernel_with<T, W, false>(sums, weight_form);
}

}  // namespace

BwdKernel bwd_cluster_kernel(DType t, DType w, int sums, bool mailbox, int weight_form) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return w32 ? cluster_kernel<float, float>(sums, mailbox, weight_form) : nullptr;
    case DType::f16:
      return w32 ? cluster_kernel<__half, float>(sums, mailbox, weight_form)
                 : w == t ? cluster_kernel<__half, __half>(sums, mailbox, weight_form) : nullptr;
    case DType::bf16:
      return w32 ? cluster_kernel<__nv_bfloat16, float>(sums, mailbox, weight_form)
                 : w == t ? cluster_kernel<__nv_bfloat16, __nv_bfloat16>(sums, mailbox, weight_form) : nullptr;
    default: return nullptr;
  }
}

Status launch_bwd_cluster(BwdKernel k, int64_t grid, int smem_bytes, const BwdParams& p, cudaStream_t stream,
                          bool pdl) {
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(grid)), dim3(kNcThreads), static_cast<size_t>(smem_bytes),
                                stream, pdl, 2};
  return kernels::launch_kernel(l, "norm", "norm_bwd_rows_cluster_kernel", " (clusters of 2 CTAs)", k, p);
}

}  // namespace baracuda::norm::cuda
