// The norm forward's TMA bulk-copy kernels for short rows (kernels/norm_fwd_rows_bulk.cuh), one
// per (x dtype, parameter dtype) pair the rows engine takes.
#include "kernels/norm_fwd_rows_bulk.cuh"
#include "ops/norm/cuda/norm_fwd_fast_launch.hpp"

namespace baracuda::norm::cuda {

FwdFastKernel fwd_bulk_kernel(DType t, DType w) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return w32 ? norm_fwd_rows_bulk_kernel<float, float, 4> : nullptr;
    case DType::f16:
      return w32 ? norm_fwd_rows_bulk_kernel<__half, float, 8>
                 : (w == t ? norm_fwd_rows_bulk_kernel<__half, __half, 8> : nullptr);
    case DType::bf16:
      return w32 ? norm_fwd_rows_bulk_kernel<__nv_bfloat16, float, 8>
                 : (w == t ? norm_fwd_rows_bulk_kernel<__nv_bfloat16, __nv_bfloat16, 8> : nullptr);
    default: return nullptr;
  }
}

}  // namespace baracuda::norm::cuda
