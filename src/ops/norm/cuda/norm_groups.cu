// Launches of the (N, C, *) normalization kernels: one 256-thread CTA per group, grid capped at 8
// CTAs per SM (the CTAs loop over groups); the backward's parameter gradients go through
// norm_bwd_params (fixed-order sum of the per-plane partials).
#include <algorithm>

#include "kernels/norm_groups.cuh"
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_groups_launch.hpp"
#include "ops/norm/cuda/norm_groups_param_grads.hpp"
#include "ops/norm/cuda/norm_rows_dispatch.cuh"

namespace baracuda::norm::cuda {

Status launch_groups(DType t, DType w, const GroupParams& p, bool backward, void* dweight, void* dbias,
                     int64_t partial_rows, int sm_count, cudaStream_t stream, bool pdl) {
  return dispatch_types(t, w, [&]<class T, class W>() -> Status {
    using Acc = typename AccOf<T>::type;
    if (p.groups > 0) {
      const unsigned grid = static_cast<unsigned>(std::min<int64_t>(p.groups, static_cast<int64_t>(sm_count) * 8));
      const kernels::KernelLaunch l{dim3(grid), dim3(256), 0, stream, pdl};
      BARACUDA_TRY(backward ? kernels::launch_kernel(l, "norm", "norm_groups_bwd", "", norm_groups_bwd<T, W, Acc>, p)
                            : kernels::launch_kernel(l, "norm", "norm_groups_fwd", "", norm_groups_fwd<T, W, Acc>, p));
    }
    return launch_group_param_grads<W, Acc>(p, backward, dweight, dbias, partial_rows, stream, pdl);
  });
}

}  // namespace baracuda::norm::cuda
