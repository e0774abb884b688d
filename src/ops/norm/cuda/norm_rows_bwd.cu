// Backward launches of the norm row engine: norm_bwd_rows (dx, per-chunk dweight/dbias partials
// in workspace) then norm_bwd_params (fixed-order column sums). Each thread owns 2 packs of its
// column slice; a row wider than 2 packs x 512 threads is split into column slices whose CTAs
// share the row's first pass through L2. Without dweight/dbias (torch's mask when the parameters
// need no gradient) no per-column accumulators are held, so rows of up to 8 packs x 512 threads
// stay in registers in one slice.
#include <algorithm>

#include "kernels/norm_rows.cuh"
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_rows_dispatch.cuh"
#include "ops/norm/cuda/norm_rows_launch.hpp"

namespace baracuda::norm::cuda {
namespace {

constexpr int kPacksPerThread = 2;

int bwd_threads(int64_t cols, int vec) {
  const int64_t packs = (cols + vec - 1) / vec;
  const int64_t threads = (packs + kPacksPerThread - 1) / kPacksPerThread;
  return round_up32(threads < 32 ? 32 : (threads > 512 ? 512 : threads));
}

template <class T, class W, int VEC>
Status launch_typed(BwdParams p, void* dweight, void* dbias, int64_t row_chunks, cudaStream_t s, bool pdl) {
  using Acc = typename AccOf<T>::type;
  const bool params = dweight || dbias;
  p.rows_per_block = (p.rows + row_chunks - 1) / row_chunks;
  if (p.rows_per_block == 0) p.rows_per_block = 1;
  auto rows_kernel = [&](auto* kernel, dim3 grid, int threads) {
    return kernels::launch_kernel({grid, dim3(static_cast<unsigned>(threads)), 0, s, pdl}, "norm", "norm_bwd_rows", "",
                                  kernel, p);
  };
  if constexpr (VEC > 1) {
    const int64_t packs = p.cols / VEC;
    if (!params && packs > 512 * kPacksPerThread && packs <= 512 * 8) {
      const int threads = round_up32((packs + 7) / 8);
      p.slice_cols = static_cast<int64_t>(threads) * VEC * 8;
      return rows_kernel(norm_bwd_rows<T, W, Acc, VEC, 8, true, false>, dim3(1, static_cast<unsigned>(row_chunks)),
                         threads);
    }
  }
  const int threads = bwd_threads(p.cols, VEC);
  p.slice_cols = static_cast<int64_t>(threads) * VEC * kPacksPerThread;
  const int64_t slices = (p.cols + p.slice_cols - 1) / p.slice_cols;
  const dim3 grid(static_cast<unsigned>(slices), static_cast<unsigned>(row_chunks));
  if (slices == 1) {
    BARACUDA_TRY(params ? rows_kernel(norm_bwd_rows<T, W, Acc, VEC, kPacksPerThread, true, true>, grid, threads)
                        : rows_kernel(norm_bwd_rows<T, W, Acc, VEC, kPacksPerThread, true, false>, grid, threads));
  } else {
    BARACUDA_TRY(params ? rows_kernel(norm_bwd_rows<T, W, Acc, VEC, kPacksPerThread, false, true>, grid, threads)
                        : rows_kernel(norm_bwd_rows<T, W, Acc, VEC, kPacksPerThread, false, false>, grid, threads));
  }
  if (!params) return Status::ok();
  const int64_t blocks = (p.cols + 31) / 32;  // 32 columns per block
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(blocks < 65535 ? blocks : 65535)), dim3(kParamWarps * 32), 0,
                                s, pdl};
  return kernels::launch_kernel(l, "norm", "norm_bwd_params", "", norm_bwd_params<W, Acc>,
                                static_cast<const Acc*>(p.partial_dw), static_cast<const Acc*>(p.partial_db),
                                static_cast<W*>(dweight), static_cast<W*>(dbias), row_chunks, p.cols);
}

}  // namespace

int64_t bwd_row_chunks(DType t, int64_t rows, int64_t cols, int sm_count) {
  const int threads = bwd_threads(cols, pack_elems(t));
  const int64_t per_sm = std::min<int64_t>(16, 2048 / threads);
  const int64_t chunks = static_cast<int64_t>(sm_count) * per_sm;
  // At least one chunk so the parameter pass writes zeros for an empty batch.
  return std::max<int64_t>(1, std::min<int64_t>(rows, std::min<int64_t>(chunks, 65535)));
}

Status launch_bwd(DType t, DType w, BwdParams p, void* dweight, void* dbias, bool vec, int64_t row_chunks,
                  cudaStream_t stream, bool pdl) {
  if (p.cols == 0) return Status::ok();
  return dispatch_types(t, w, [&]<class T, class W>() -> Status {
    constexpr int kVec = 16 / sizeof(T);
    return vec ? launch_typed<T, W, kVec>(p, dweight, dbias, row_chunks, stream, pdl)
               : launch_typed<T, W, 1>(p, dweight, dbias, row_chunks, stream, pdl);
  });
}

}  // namespace baracuda::norm::cuda
