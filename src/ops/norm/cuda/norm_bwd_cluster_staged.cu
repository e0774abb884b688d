// Host side of the staged two-CTA cluster kernel of the norm backward
// (kernels/norm_bwd_rows_cluster_staged.cuh): its instantiations, in a translation unit of their
// own. It launches through launch_bwd_cluster (same signature, same cluster dims).
#include "kernels/norm_bwd_rows_cluster_staged.cuh"
#include "ops/norm/cuda/norm_bwd_fast_launch.hpp"

namespace baracuda::norm::cuda {
namespace {

template <class T, class W>
BwdKernel staged_kernel(bool dbias) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  return dbias ? norm_bwd_rows_cluster_staged_kernel<T, W, V, kNcItems, true>
               : norm_bwd_rows_cluster_staged_kernel<T, W, V, kNcItems, false>;
}

}  // namespace

BwdKernel bwd_cluster_staged_kernel(DType t, DType w, bool dbias) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return w32 ? staged_kernel<float, float>(dbias) : nullptr;
    case DType::f16:
      return w32 ? staged_kernel<__half, float>(dbias) : w == t ? staged_kernel<__half, __half>(dbias) : nullptr;
    case DType::bf16:
      return w32 ? staged_kernel<__nv_bfloat16, float>(dbias)
                 : w == t ? staged_kernel<__nv_bfloat16, __nv_bfloat16>(dbias) : nullptr;
    default: return nullptr;
  }
}

}  // namespace baracuda::norm::cuda
