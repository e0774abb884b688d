// Host side of the two-CTA cluster kernel of the norm backward (kernels/norm_bwd_rows_cluster.cuh):
// its instantiations (one translation unit of its own: they compile beside the rows engine's) and
// the cluster launch.
#include "kernels/norm_bwd_rows_cluster.cuh"
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_bwd_fast_launch.hpp"

namespace baracuda::norm::cuda {
namespace {

template <class T, class W>
BwdKernel cluster_kernel(int sums, bool split) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  if (sums == 1) return split ? norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 1, true>
                              : norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 1, false>;
  if (sums == 2) return split ? norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 2, true>
                              : norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 2, false>;
  return nullptr;
}

}  // namespace

BwdKernel bwd_cluster_kernel(DType t, DType w, int sums, bool split) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return w32 ? cluster_kernel<float, float>(sums, split) : nullptr;
    case DType::f16:
      return w32 ? cluster_kernel<__half, float>(sums, split) : w == t ? cluster_kernel<__half, __half>(sums, split) : nullptr;
    case DType::bf16:
      return w32 ? cluster_kernel<__nv_bfloat16, float>(sums, split)
                 : w == t ? cluster_kernel<__nv_bfloat16, __nv_bfloat16>(sums, split) : nullptr;
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
