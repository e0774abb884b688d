#pragma once
// Internal: host entry points of the norm row engine (src/kernels/norm_rows.cuh). They pick the
// kernel variant (warp per row, block per row with the row in registers, or the streaming
// fallback) from the row width and whether every pointer and row stride allows 16-byte packs.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "baracuda/core/dtype.hpp"
#include "baracuda/core/status.hpp"
#include "kernels/norm_rows_params.hpp"

namespace baracuda::norm::cuda {

// Elements per 16-byte pack of dtype t.
inline int pack_elems(DType t) { return 16 / static_cast<int>(dtype_size(t)); }

// Forward: x dtype t, parameter dtype w. `vec` says 16-byte packs are allowed; `pdl`: every kernel
// as a programmatic dependent launch (kernels/pdl.cuh).
Status launch_fwd(DType t, DType w, const FwdParams& p, bool vec, int sm_count, cudaStream_t stream, bool pdl);

// Backward: the number of row chunks (one workspace row of partials each) for a problem.
int64_t bwd_row_chunks(DType t, int64_t rows, int64_t cols, int sm_count);
// p.partial_dw/db point into the workspace (row_chunks * cols Acc each) when dweight/dbias are
// wanted; dweight/dbias (w dtype) receive the fixed-order sums. `pdl`: every kernel as a
// programmatic dependent launch.
Status launch_bwd(DType t, DType w, BwdParams p, void* dweight, void* dbias, bool vec, int64_t row_chunks,
                  cudaStream_t stream, bool pdl);

}  // namespace baracuda::norm::cuda
