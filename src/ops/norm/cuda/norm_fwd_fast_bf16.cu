// The norm forward rows engine's kernels for bf16 x (parameters: bf16 or f32).
#include "ops/norm/cuda/norm_fwd_fast_table.cuh"

namespace baracuda::norm::cuda {

FwdFastKernel fwd_fast_kernel_bf16(DType w, int gw, int items, bool residual, int stages, int staged_opt) {
  return w == DType::f32 ? fwd_fast_kernel_typed<__nv_bfloat16, float>(gw, items, residual, stages, staged_opt)
                         : fwd_fast_kernel_typed<__nv_bfloat16, __nv_bfloat16>(gw, items, residual, stages, staged_opt);
}

}  // namespace baracuda::norm::cuda
