#pragma once
// Internal: host entry point of the (N, C, *) normalization kernels (src/kernels/norm_groups.cuh).
#include <cuda_runtime_api.h>

#include <cstdint>

#include "baracuda/core/dtype.hpp"
#include "baracuda/core/status.hpp"
#include "kernels/norm_groups_fast_geometry.hpp"
#include "kernels/norm_groups_params.hpp"

namespace baracuda::norm::cuda {

// Forward or backward of group/instance/batch norm. Backward: p.partial_dw/db hold partial_rows
// x channels Acc values (workspace); dweight/dbias (w dtype) receive their fixed-order sums.
// pdl: every kernel as a programmatic dependent launch (kernels/pdl.cuh).
Status launch_groups(DType t, DType w, const GroupParams& p, bool backward, void* dweight, void* dbias,
                     int64_t partial_rows, int sm_count, cudaStream_t stream, bool pdl);

// The same through the split-plane engine (norm_groups_fast.cuh): `scratch` holds `ws.total()`
// bytes laid out as group_fast_workspace describes (besides p.partial_dw / p.partial_db).
Status launch_groups_fast(DType t, DType w, const GroupParams& p, bool backward, void* dweight, void* dbias,
                          int64_t partial_rows, const GroupFastWorkspace& ws, void* scratch, cudaStream_t stream,
                          bool pdl);

}  // namespace baracuda::norm::cuda
