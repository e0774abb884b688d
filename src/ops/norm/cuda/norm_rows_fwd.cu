// Forward launches of the norm row engine. Kernel choice by row width (in 16-byte packs):
//   <= 4 packs per lane of a warp   -> one warp per row, 8 rows per 256-thread CTA;
//   <= 16 packs per thread of <= 512 threads -> one CTA per row, row in registers (the thread
//      count is the smallest multiple of 32 covering the row with P packs, P in {2, 4, 8, 16},
//      preferring <= 256 threads);
//   otherwise, or without 16-byte alignment -> the streaming kernel (three passes, L1/L2).
#include "kernels/norm_rows.cuh"
#include "ops/norm/cuda/norm_rows_dispatch.cuh"
#include "ops/norm/cuda/norm_rows_launch.hpp"

namespace baracuda::norm::cuda {
namespace {

template <class T, class W, int VEC>
Status launch_typed(const FwdParams& p, int sm_count, cudaStream_t s) {
  using Acc = typename AccOf<T>::type;
  const int64_t packs = (p.cols + VEC - 1) / VEC;
  const int64_t max_grid = static_cast<int64_t>(sm_count) * 64;
  auto grid_for = [&](int64_t ctas) { return static_cast<unsigned>(ctas < max_grid ? ctas : max_grid); };
  if constexpr (VEC > 1) {
    if (packs <= 32 * 4) {
      const int64_t ctas = (p.rows + 7) / 8;
      if (packs <= 32) norm_fwd_cached<T, W, Acc, VEC, 1, true><<<grid_for(ctas), 256, 0, s>>>(p);
      else if (packs <= 64) norm_fwd_cached<T, W, Acc, VEC, 2, true><<<grid_for(ctas), 256, 0, s>>>(p);
      else norm_fwd_cached<T, W, Acc, VEC, 4, true><<<grid_for(ctas), 256, 0, s>>>(p);
      return check_launch("norm_fwd_cached<warp>");
    }
    for (int limit : {256, 512}) {
      for (int pp : {2, 4, 8, 16}) {
        const int64_t threads = (packs + pp - 1) / pp;
        if (threads > limit) continue;
        const unsigned block = static_cast<unsigned>(round_up32(threads));
        const unsigned grid = grid_for(p.rows);
        switch (pp) {
          case 2: norm_fwd_cached<T, W, Acc, VEC, 2, false><<<grid, block, 0, s>>>(p); break;
          case 4: norm_fwd_cached<T, W, Acc, VEC, 4, false><<<grid, block, 0, s>>>(p); break;
          case 8: norm_fwd_cached<T, W, Acc, VEC, 8, false><<<grid, block, 0, s>>>(p); break;
          default: norm_fwd_cached<T, W, Acc, VEC, 16, false><<<grid, block, 0, s>>>(p); break;
        }
        return check_launch("norm_fwd_cached<block>");
      }
    }
  }
  const unsigned block = static_cast<unsigned>(round_up32(packs < 512 ? (packs > 0 ? packs : 1) : 512));
  norm_fwd_stream<T, W, Acc, VEC><<<grid_for(p.rows), block, 0, s>>>(p);
  return check_launch("norm_fwd_stream");
}

}  // namespace

Status launch_fwd(DType t, DType w, const FwdParams& p, bool vec, int sm_count, cudaStream_t stream) {
  if (p.rows == 0) return Status::ok();
  return dispatch_types(t, w, [&]<class T, class W>() -> Status {
    constexpr int kVec = 16 / sizeof(T);
    return vec ? launch_typed<T, W, kVec>(p, sm_count, stream) : launch_typed<T, W, 1>(p, sm_count, stream);
  });
}

}  // namespace baracuda::norm::cuda
