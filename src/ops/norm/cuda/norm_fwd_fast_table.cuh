#pragma once
// Internal: the instantiated kernels of the norm forward rows engine for one x dtype, looked up by
// geometry. Included by norm_fwd_fast_{f32,f16,bf16}.cu (one dtype each, so the three compile in
// parallel).
#include <type_traits>

#include "kernels/norm_fwd_rows_fast.cuh"
#include "ops/norm/cuda/norm_fwd_fast_launch.hpp"

namespace baracuda::norm::cuda {

template <class T, class W>
FwdFastKernel fwd_fast_kernel_typed(int gw, int items, bool residual, int stages, int staged_opt) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  constexpr int I = sizeof(T) == 2 ? kFwdMaxItems16 : kFwdMaxItems32;
  if (stages > 0) {
    if constexpr (sizeof(T) == 2) {
      if (residual || gw != kFwdStagedGw || items != kFwdStagedItems) return nullptr;
#define BARACUDA_NF_STAGED(S)                                                                   \
  if (stages == S) {                                                                            \
    switch (staged_opt) {                                                                       \
      case 0: return norm_fwd_rows_staged_kernel<T, W, V, S, 0>;                                \
      case kNfStagedMergedStats: return norm_fwd_rows_staged_kernel<T, W, V, S, kNfStagedMergedStats>; \
      case kNfStagedParamsInRegs: return norm_fwd_rows_staged_kernel<T, W, V, S, kNfStagedParamsInRegs>; \
      case kNfStagedMergedStats | kNfStagedParamsInRegs:                                        \
        return norm_fwd_rows_staged_kernel<T, W, V, S, kNfStagedMergedStats | kNfStagedParamsInRegs>; \
      default: return nullptr;                                                                  \
    }                                                                                           \
  }
      BARACUDA_NF_STAGED(3)
      BARACUDA_NF_STAGED(2)
#undef BARACUDA_NF_STAGED
    }
    return nullptr;
  }
#define BARACUDA_NF_KERNEL(GW, IT)                                                 \
  if (gw == GW && items == IT)                                                     \
    return residual ? norm_fwd_rows_fast_kernel<T, W, V, IT, GW, true>             \
                    : norm_fwd_rows_fast_kernel<T, W, V, IT, GW, false>;
  BARACUDA_NF_KERNEL(1, 1)
  BARACUDA_NF_KERNEL(1, I)
  BARACUDA_NF_KERNEL(2, I)
  BARACUDA_NF_KERNEL(4, I)
  BARACUDA_NF_KERNEL(8, I)
  BARACUDA_NF_KERNEL(16, I)
  BARACUDA_NF_KERNEL(32, I)
  if constexpr (sizeof(T) == 2) {  // rows held packed: 4 vectors per thread up to 4 warps (4096 columns)
    BARACUDA_NF_KERNEL(1, kFwdPackedItems16)
    BARACUDA_NF_KERNEL(2, kFwdPackedItems16)
    BARACUDA_NF_KERNEL(4, kFwdPackedItems16)
  }
#undef BARACUDA_NF_KERNEL
  return nullptr;
}

}  // namespace baracuda::norm::cuda
