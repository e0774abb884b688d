// Host side of the two-CTA cluster kernels of the norm backward (kernels/norm_bwd_rows_cluster.cuh,
// one row per step, and kernels/norm_bwd_rows_cluster_pairs.cuh, two): their instantiations (one
// translation unit of their own: they compile beside the rows engine's) and the cluster launch.
#include "kernels/norm_bwd_rows_cluster.cuh"
#include "kernels/norm_bwd_rows_cluster_pairs.cuh"
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_bwd_fast_launch.hpp"

namespace baracuda::norm::cuda {
namespace {

template <class T, class W>
BwdKernel cluster_kernel(int sums, bool row_pairs) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  if (sums == 1) return row_pairs ? norm_bwd_rows_cluster_pairs_kernel<T, W, V, kNcItems, 1>
                                  : norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 1>;
  if (sums == 2) return row_pairs ? norm_bwd_rows_cluster_pairs_kernel<T, W, V, kNcItems, 2>
                                  : norm_bwd_rows_cluster_kernel<T, W, V, kNcItems, 2>;
  return nullptr;
}

}  // namespace

BwdKernel bwd_cluster_kernel(DType t, DType w, int sums, bool row_pairs) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return w32 ? cluster_kernel<float, float>(sums, row_pairs) : nullptr;
    case DType::f16:
      return w32 ? cluster_kernel<__half, float>(sums, row_pairs)
                 : w == t ? cluster_kernel<__half, __half>(sums, row_pairs) : nullptr;
    case DType::bf16:
      return w32 ? cluster_kernel<__nv_bfloat16, float>(sums, row_pairs)
                 : w == t ? cluster_kernel<__nv_bfloat16, __nv_bfloat16>(sums, row_pairs) : nullptr;
    default: return nullptr;
  }
}

Status launch_bwd_cluster(BwdKernel k, bool row_pairs, int64_t grid, int smem_bytes, const BwdParams& p,
                          cudaStream_t stream, bool pdl) {
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(grid)), dim3(kNcThreads), static_cast<size_t>(smem_bytes),
                                stream, pdl, 2};
  return kernels::launch_kernel(l, "norm",
                                row_pairs ? "norm_bwd_rows_cluster_pairs_kernel" : "norm_bwd_rows_cluster_kernel",
                                " (clusters of 2 CTAs)", k, p);
}

}  // namespace baracuda::norm::cuda
