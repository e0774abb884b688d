#pragma once
// Internal, CUDA sources only (launches a kernel): the parameter-gradient tail shared by both
// (N, C, *) engines (norm_groups.cu, norm_groups_fast.cu).
#include <algorithm>
#include <cstdint>

#include "kernels/norm_groups_params.hpp"
#include "kernels/norm_rows.cuh"  // norm_bwd_params, kParamWarps
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_rows_dispatch.cuh"

namespace baracuda::norm::cuda {

// Backward with dweight or dbias: their fixed-order sums (W) of the partial_rows x channels Acc
// partials in p.partial_dw / p.partial_db (norm_bwd_params; pdl: as a programmatic dependent
// launch). Otherwise nothing to do.
template <class W, class Acc>
Status launch_group_param_grads(const GroupParams& p, bool backward, void* dweight, void* dbias,
                                int64_t partial_rows, cudaStream_t stream, bool pdl) {
  if (!backward || (!dweight && !dbias) || p.channels == 0) return Status::ok();
  const int64_t blocks = (p.channels + 31) / 32;  // 32 channels per block
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(std::min<int64_t>(blocks, 65535))),
                                dim3(kParamWarps * 32), 0, stream, pdl};
  return kernels::launch_kernel(l, "norm", "norm_bwd_params", "", norm_bwd_params<W, Acc>,
                                static_cast<const Acc*>(p.partial_dw), static_cast<const Acc*>(p.partial_db),
                                static_cast<W*>(dweight), static_cast<W*>(dbias), partial_rows, p.channels);
}

}  // namespace baracuda::norm::cuda
