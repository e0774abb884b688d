// The norm forward rows engine's kernels for f32 x (parameters: f32).
#include "ops/norm/cuda/norm_fwd_fast_table.cuh"

namespace baracuda::norm::cuda {

FwdFastKernel fwd_fast_kernel_f32(DType w, int gw, int items, bool residual, int stages, int staged_opt) {
  (void)w;
  return fwd_fast_kernel_typed<float, float>(gw, items, residual, stages, staged_opt);
}

}  // namespace baracuda::norm::cuda
