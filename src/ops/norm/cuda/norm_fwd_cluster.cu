// Host side of the two-CTA cluster kernel of the norm forward (kernels/norm_fwd_rows_cluster.cuh):
// its instantiations (a translation unit of its own) and the cluster launch.
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
FwdFastKernel cluster_kernel(bool residual, bool mailbox) {
  return mailbox ? cluster_kernel_with<T, W, true>(residual) : cluster_kernel_with<T, W, false>(residual);
}

}  // namespace

FwdFastKernel fwd_cluster_kernel(DType t, DType w, bool residual, bool mailbox) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return w32 ? cluster_kernel<float, float>(residual, mailbox) : nullptr;
    case DType::f16:
      return w32 ? cluster_kernel<__half, float>(residual, mailbox)
                 : w == t ? cluster_kernel<__half, __half>(residual, mailbox) : nullptr;
    case DType::bf16:
      return w32 ? cluster_kernel<__nv_bfloat16, float>(residual, mailbox)
                 : w == t ? cluster_kernel<__nv_bfloat16, __nv_bfloat16>(residual, mailbox) : nullptr;
    default: return nullptr;
  }
}

Status launch_fwd_cluster(FwdFastKernel k, int64_t grid, const FwdParams& p, cudaStream_t stream, bool pdl) {
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(grid)), dim3(kNcThreads), 0, stream, pdl, 2};
  return kernels::launch_kernel(l, "norm", "norm_fwd_rows_cluster_kernel", " (clusters of 2 CTAs)", k, p);
}

}  // namespace baracuda::norm::cuda
