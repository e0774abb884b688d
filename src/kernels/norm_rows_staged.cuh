#pragma once
// The staged forward of layer_norm / rms_norm for wide rows (2049 .. 4096 16-byte packs: 16K-32K
// 16-bit elements, 8K-16K f32), without a residual: one 1024-thread block per SM, persistent over
// rows, each thread owning 4 packs of the row (read back from shared memory on each pass). While a row is normalized, the block's next row is
// already streaming into the other half of a two-stage shared-memory buffer (cp.async), so the
// memory system never idles between rows. The register-cached kernel (norm_rows.cuh) holds one
// row per SM with nothing in flight during its reductions (14% of copy bandwidth at 4096x32768).
// Math as norm_fwd_cached: f32, two-pass variance, fixed-order reductions (deterministic).
#include "kernels/cp_async.cuh"
#include "kernels/norm_rows.cuh"

namespace baracuda::norm::cuda {

constexpr int kStagedThreads = 1024;
constexpr int kStagedPacks = 4;  // per thread

template <class T>
constexpr int staged_fwd_smem_bytes() {
  return 2 * kStagedPacks * kStagedThreads * 16;
}

using kernels::stage_commit;
using kernels::stage_copy16;
using kernels::stage_wait_all_but_newest;

// Sum over the block with one barrier: callers alternate `slots` between two arrays (a slot array
// is rewritten only after every warp passed the other array's barrier, which follows its read).
__device__ __forceinline__ float staged_block_sum(float v, float* slots) {
  v = warp_sum(v);
  const int lane = threadIdx.x & 31;
  if (lane == 0) slots[threadIdx.x >> 5] = v;
  __syncthreads();
  return warp_sum(lane < static_cast<int>(blockDim.x >> 5) ? slots[lane] : 0.f);
}

// Needs: 16-byte packs (every pointer and row stride aligned, cols % VEC == 0), no residual,
// cols <= kStagedThreads * kStagedPacks * VEC, blockDim.x == kStagedThreads. Each thread copies
// and reads back only its own shared-memory slots: cp.async.wait_group makes them visible to it,
// and a stage is refilled (by the next iteration's prefetch) only after this thread's last read of
// it fed the stores of this row.
template <class T, class W, int VEC>
__global__ void __launch_bounds__(kStagedThreads, 1) norm_fwd_staged(FwdParams p) {
  kernels::pdl_enter();
  constexpr int NT = kStagedThreads, ITEMS = kStagedPacks;
  extern __shared__ __align__(16) unsigned char stage_mem[];
  __shared__ float red[2][32];
  using P = Pack<T, VEC>;
  P* stages = reinterpret_cast<P*>(stage_mem);
  const int t = threadIdx.x;
  const int n = static_cast<int>(p.cols);  // <= 32768 (see above)
  auto slot = [&](int stage, int i) { return stages + (stage * ITEMS + i) * NT + t; };
  auto prefetch = [&](int64_t row, int stage) {
    const T* x = static_cast<const T*>(p.x) + row * p.x_stride;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * NT + t) * VEC;
      if (col < n) stage_copy16(slot(stage, i), x + col);
    }
  };
  const float nf = static_cast<float>(n);
  int64_t row = blockIdx.x;
  if (row < p.rows) prefetch(row, 0);
  stage_commit();
  for (int stage = 0; row < p.rows; row += gridDim.x, stage ^= 1) {
    if (row + gridDim.x < p.rows) prefetch(row + gridDim.x, stage ^ 1);
    stage_commit();  // possibly empty: "all but the newest" stays "this row's"
    stage_wait_all_but_newest();
    // Each pass reads the row back from shared memory (3 x 16 bytes per pack, cheap next to the
    // DRAM time of a row) instead of holding 32 f32 values: 64 registers would spill.
    auto load_row = [&](int i, float (&f)[VEC]) {
      const P raw = *slot(stage, i);
#pragma unroll
      for (int j = 0; j < VEC; ++j) f[j] = to_acc<float>(raw.v[j]);
    };
    float acc[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if ((i * NT + t) * VEC >= n) continue;
      float f[VEC];
      load_row(i, f);
#pragma unroll
      for (int j = 0; j < VEC; ++j) acc[j % 4] += f[j];
    }
    // Reduced for rms_norm too: the two alternating reductions per row are what make one
    // barrier per reduction safe.
    const float sum = staged_block_sum((acc[0] + acc[1]) + (acc[2] + acc[3]), red[0]);
    const float mean = p.rms ? 0.f : sum / nf;
#pragma unroll
    for (int k = 0; k < 4; ++k) acc[k] = 0.f;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if ((i * NT + t) * VEC >= n) continue;
      float f[VEC];
      load_row(i, f);
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        const float d = f[j] - mean;
        acc[j % 4] = fmaf(d, d, acc[j % 4]);
      }
    }
    const float q = staged_block_sum((acc[0] + acc[1]) + (acc[2] + acc[3]), red[1]);
    const float rstd = inv_sqrt(q / nf + static_cast<float>(p.eps));
    T* yrow = static_cast<T*>(p.y) + row * p.y_stride;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * NT + t) * VEC;
      if (col >= n) continue;
      Pack<W, VEC> w, b;
      if (p.weight) w = load_pack<W, VEC>(static_cast<const W*>(p.weight) + col);
      if (p.bias) b = load_pack<W, VEC>(static_cast<const W*>(p.bias) + col);
      float f[VEC];
      load_row(i, f);
      P out;
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        float r = (f[j] - mean) * rstd;
        if (p.weight) r *= to_acc<float>(w.v[j]);
        if (p.bias) r += to_acc<float>(b.v[j]);
        out.v[j] = from_acc<T>(r);
      }
      store_pack<T, VEC>(yrow + col, out);
    }
    if (t == 0) write_stats(p, row, mean, rstd);
  }
}

}  // namespace baracuda::norm::cuda
