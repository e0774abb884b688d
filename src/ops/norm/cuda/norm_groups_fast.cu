// Launch sequence of the split-plane group/instance/batch norm engine (norm_groups_fast.cuh):
// forward = chunk stats -> per-group finalize -> elementwise apply; backward = chunk sums ->
// per-group finalize -> elementwise apply -> norm_bwd_params (fixed-order dweight / dbias sums of
// the per-plane partials, as the legacy path). 16-byte packs when the plane length and the
// pointers allow, else one element per access (same kernels, VEC = 1).
#include <algorithm>
#include <cstdint>

#include "kernels/norm_groups_fast.cuh"
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_groups_launch.hpp"
#include "ops/norm/cuda/norm_groups_param_grads.hpp"
#include "ops/norm/cuda/norm_rows_dispatch.cuh"

namespace baracuda::norm::cuda {
namespace {

bool aligned16(const void* ptr) { return ptr == nullptr || reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

template <class T, class W, class Acc, int VEC>
Status launch_fast(const GroupParams& p, bool backward, const GroupFastWorkspace& ws, void* scratch,
                   cudaStream_t stream, bool pdl) {
  const int64_t k = group_chunks_per_plane(p.inner);
  const int64_t chunks = p.segments * p.groups * k;  // every (n, c) plane's chunks, once
  const kernels::KernelLaunch per_chunk{dim3(static_cast<unsigned>(chunks)), dim3(kGroupThreads), 0, stream, pdl};
  const kernels::KernelLaunch per_group{
      dim3(static_cast<unsigned>((p.groups + kGroupFinalizeWarps - 1) / kGroupFinalizeWarps)),
      dim3(kGroupFinalizeWarps * 32), 0, stream, pdl};
  char* base = static_cast<char*>(scratch);
  Acc* part_a = reinterpret_cast<Acc*>(base);
  Acc* part_b = reinterpret_cast<Acc*>(base + ws.chunk_bytes);
  Acc* coef = reinterpret_cast<Acc*>(base + (ws.chunk_sums ? 2 * ws.chunk_bytes : 0));
  if (!backward) {
    if (!p.use_running)
      BARACUDA_TRY(kernels::launch_kernel(per_chunk, "norm", "norm_groups_fast_stats", "",
                                          norm_groups_fast_stats<T, Acc, VEC>, static_cast<const T*>(p.x), p.inner, k,
                                          part_a, part_b));
    BARACUDA_TRY(kernels::launch_kernel(per_group, "norm", "norm_groups_fast_fwd_finalize", "",
                                        norm_groups_fast_fwd_finalize<W, Acc>, p, k, part_a, part_b, coef, ws.ncoef));
    return kernels::launch_kernel(per_chunk, "norm", "norm_groups_fast_fwd_apply", "",
                                  norm_groups_fast_fwd_apply<T, Acc, VEC>, p, k, coef, ws.ncoef);
  }
  // Eval batch_norm needs no dy / dy * xhat sums unless dweight / dbias are wanted.
  const bool sums = !p.use_running || p.partial_dw || p.partial_db;
  if (sums)
    BARACUDA_TRY(kernels::launch_kernel(per_chunk, "norm", "norm_groups_fast_bwd_reduce", "",
                                        norm_groups_fast_bwd_reduce<T, W, Acc, VEC>, p, k, part_a, part_b));
  BARACUDA_TRY(kernels::launch_kernel(per_group, "norm", "norm_groups_fast_bwd_finalize", "",
                                      norm_groups_fast_bwd_finalize<W, Acc>, p, k, sums, part_a, part_b, coef,
                                      ws.ncoef));
  return p.use_running ? kernels::launch_kernel(per_chunk, "norm", "norm_groups_fast_bwd_apply", "",
                                                norm_groups_fast_bwd_apply<T, Acc, VEC, false>, p, k, coef, ws.ncoef)
                       : kernels::launch_kernel(per_chunk, "norm", "norm_groups_fast_bwd_apply", "",
                                                norm_groups_fast_bwd_apply<T, Acc, VEC, true>, p, k, coef, ws.ncoef);
}

}  // namespace

Status launch_groups_fast(DType t, DType w, const GroupParams& p, bool backward, void* dweight, void* dbias,
                          int64_t partial_rows, const GroupFastWorkspace& ws, void* scratch, cudaStream_t stream,
                          bool pdl) {
  return dispatch_types(t, w, [&]<class T, class W>() -> Status {
    using Acc = typename AccOf<T>::type;
    if (p.groups > 0 && p.segments > 0 && p.inner > 0) {
      constexpr int kVec = static_cast<int>(16 / sizeof(T));
      const bool packed = p.inner % kVec == 0 && aligned16(p.x) && aligned16(p.y) && aligned16(p.dy) && aligned16(p.dx);
      const Status s = packed ? launch_fast<T, W, Acc, kVec>(p, backward, ws, scratch, stream, pdl)
                              : launch_fast<T, W, Acc, 1>(p, backward, ws, scratch, stream, pdl);
      if (!s.is_ok()) return s;
    }
    return launch_group_param_grads<W, Acc>(p, backward, dweight, dbias, partial_rows, stream, pdl);
  });
}

}  // namespace baracuda::norm::cuda
