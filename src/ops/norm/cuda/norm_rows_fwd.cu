// Forward launches of the norm row engine. Kernel choice by row width (in 16-byte packs):
//   <= 4 packs per lane of a warp   -> one warp per row, 8 rows per 256-thread CTA;
//   2049 .. 4096 packs, no residual, not f64 -> the staged kernel (norm_rows_staged.cuh): a
//      persistent 1024-thread block per SM prefetching its next row into shared memory;
//   <= 8 packs per thread of <= 512 threads -> one CTA per row, row in registers (the thread
//      count is the smallest multiple of 32 covering the row with P packs: P in {2, 4} up to
//      256 threads, then P = 4 up to 512, then P = 8);
//   otherwise, or without 16-byte alignment -> the streaming kernel (three passes, L1/L2).
#include <type_traits>

#include "kernels/norm_rows.cuh"
#include "kernels/norm_rows_staged.cuh"
#include "ops/norm/cuda/norm_rows_dispatch.cuh"
#include "ops/norm/cuda/norm_rows_launch.hpp"

namespace baracuda::norm::cuda {
namespace {

// The staged kernel (kernels/norm_rows_staged.cuh): exactly the resident blocks (persistent; a
// second wave would double the time of the rows it holds), sized from the kernel's occupancy.
// The shared-memory attribute is set per launch (host-side, not a stream operation: graph-capture
// safe) so that every device the plan runs on has it.
template <class T, class W, int VEC>
Status launch_staged(const FwdParams& p, int sm_count, cudaStream_t s, bool pdl) {
  constexpr int smem = staged_fwd_smem_bytes<T>();
  auto* kernel = norm_fwd_staged<T, W, VEC>;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem) != cudaSuccess)
    return check_launch("norm_fwd_staged (shared memory attribute)");
  int per_sm = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kStagedThreads, smem) != cudaSuccess)
    return check_launch("norm_fwd_staged (occupancy query)");
  const int64_t resident = static_cast<int64_t>(per_sm > 0 ? per_sm : 1) * sm_count;
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(p.rows < resident ? p.rows : resident)), dim3(kStagedThreads),
                                static_cast<size_t>(smem), s, pdl};
  return kernels::launch_kernel(l, "norm", "norm_fwd_staged", "", kernel, p);
}

template <class T, class W, int VEC>
Status launch_typed(const FwdParams& p, int sm_count, cudaStream_t s, bool pdl) {
  using Acc = typename AccOf<T>::type;
  const int64_t packs = (p.cols + VEC - 1) / VEC;
  const int64_t max_grid = static_cast<int64_t>(sm_count) * 64;
  auto grid_for = [&](int64_t ctas) { return static_cast<unsigned>(ctas < max_grid ? ctas : max_grid); };
  auto go = [&](auto* kernel, unsigned grid, unsigned block, const char* what) {
    return kernels::launch_kernel({dim3(grid), dim3(block), 0, s, pdl}, "norm", what, "", kernel, p);
  };
  if constexpr (VEC > 1) {
    if (packs <= 32 * 4) {
      const int64_t ctas = (p.rows + 7) / 8;
      if (packs <= 32) return go(norm_fwd_cached<T, W, Acc, VEC, 1, true>, grid_for(ctas), 256, "norm_fwd_cached<warp>");
      if (packs <= 64) return go(norm_fwd_cached<T, W, Acc, VEC, 2, true>, grid_for(ctas), 256, "norm_fwd_cached<warp>");
      return go(norm_fwd_cached<T, W, Acc, VEC, 4, true>, grid_for(ctas), 256, "norm_fwd_cached<warp>");
    }
    // 2 or 4 packs per thread up to 256 threads, then up to 512, then 8 packs with 512 threads.
    // 16 packs per thread (the old choice for 4096 packs, 256 threads) made ptxas keep the row in
    // local memory (680-byte stack, 2 KB of spill loads per thread: 13% of copy bandwidth on the
    // H200); 8 packs with 512 threads take 124 registers and do not spill (ptxas -v, sm_90a).
    // Rows of more than 4096 packs take the streaming kernel.
    struct Choice {
      int pp, limit;
    };
    if constexpr (!std::is_same_v<T, double>) {
      if (packs > 2048 && packs <= kStagedThreads * kStagedPacks && !p.residual) return launch_staged<T, W, VEC>(p, sm_count, s, pdl);
    }
    for (const Choice ch : {Choice{2, 256}, Choice{4, 256}, Choice{4, 512}, Choice{8, 512}}) {
      const int64_t threads = (packs + ch.pp - 1) / ch.pp;
      if (threads > ch.limit) continue;
      const unsigned block = static_cast<unsigned>(round_up32(threads));
      const unsigned grid = grid_for(p.rows);
      switch (ch.pp) {
        case 2: return go(norm_fwd_cached<T, W, Acc, VEC, 2, false>, grid, block, "norm_fwd_cached<block>");
        case 4: return go(norm_fwd_cached<T, W, Acc, VEC, 4, false>, grid, block, "norm_fwd_cached<block>");
        default: return go(norm_fwd_cached<T, W, Acc, VEC, 8, false>, grid, block, "norm_fwd_cached<block>");
      }
    }
  }
  const unsigned block = static_cast<unsigned>(round_up32(packs < 512 ? (packs > 0 ? packs : 1) : 512));
  return go(norm_fwd_stream<T, W, Acc, VEC>, grid_for(p.rows), block, "norm_fwd_stream");
}

}  // namespace

Status launch_fwd(DType t, DType w, const FwdParams& p, bool vec, int sm_count, cudaStream_t stream, bool pdl) {
  if (p.rows == 0) return Status::ok();
  return dispatch_types(t, w, [&]<class T, class W>() -> Status {
    constexpr int kVec = 16 / sizeof(T);
    return vec ? launch_typed<T, W, kVec>(p, sm_count, stream, pdl) : launch_typed<T, W, 1>(p, sm_count, stream, pdl);
  });
}

}  // namespace baracuda::norm::cuda
