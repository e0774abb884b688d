#pragma once
// layer_norm / rms_norm forward on short rows (x rows of at most 4 KB: 2048 16-bit or 1024 f32
// elements), no residual, sm_90: a warp per row, the rows streamed by TMA bulk copies.
//
// The register-resident rows kernel (norm_fwd_rows_fast_kernel) reached 86-87% of copy at
// 65536 x 1024 bf16 with at most 32 KB per SM in flight plus an L2 prefetch of the next row.
// cross_entropy went from 58% to 97% of copy when its rows moved to a ring of shared-memory
// stages filled by one bulk copy each (docs/perf/loss.md); a norm backward ring of per-row 2-8 KB
// copies and per-row block barriers was slower (docs/perf/rows.md). So here:
//   - a stage is kNfBulkRows consecutive rows (one 16 KB copy at 1024 bf16 when the rows are
//     dense; one copy per row when they are padded), about 64 KB of stages per block;
//   - warp w of the block owns row w of every stage: its reductions are warp shuffles, so no
//     block barrier anywhere in the loop; a warp releases the stage (an mbarrier arrival) when
//     its row is written, and thread 0 refills the stage of the item before the current one;
//   - nothing of the row is held in registers: each pass (the sum, the squared deviations for
//     layer norm, the output) reads it again from shared memory.
// Results match the other kernels' to rounding (the row sums are added in another order); each
// is deterministic (fixed shuffle trees).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/bulk_ring.cuh"
#include "kernels/norm_bwd_rows_fast.cuh"  // nb_elem, nb_round
#include "kernels/norm_rows.cuh"           // Pack, load_pack, store_pack
#include "kernels/norm_rows_params.hpp"

namespace baracuda::norm::cuda {

constexpr int kNfBulkThreads = 256;
constexpr int kNfBulkRows = kNfBulkThreads / 32;  // rows per stage: one per warp
constexpr int kNfBulkMaxStages = 8;
constexpr int64_t kNfBulkMaxRowBytes = 4096;

__device__ __forceinline__ float nf_warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Launch with kNfBulkThreads threads, p.bulk_stages * kNfBulkRows * cols * sizeof(T) bytes of
// dynamic shared memory, and at most ceil(rows / kNfBulkRows) blocks (block b takes the row
// groups b, b + gridDim.x, ...). Needs 16-byte aligned x and y, row strides that are multiples
// of the vector, cols % VEC == 0, cols * sizeof(T) <= kNfBulkMaxRowBytes, no residual.
template <class T, class W, int VEC>
__global__ void __launch_bounds__(kNfBulkThreads) norm_fwd_rows_bulk_kernel(const FwdParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  using P = Pack<T, VEC>;
  extern __shared__ __align__(128) unsigned char nf_bulk_ring[];
  __shared__ kernels::BulkRing<kNfBulkMaxStages> ring;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int n = static_cast<int>(p.cols);
  const int vectors = n / VEC;
  const float inv_n = 1.f / static_cast<float>(n);
  const float eps = static_cast<float>(p.eps);
  const W* w = static_cast<const W*>(p.weight);
  const W* b = static_cast<const W*>(p.bias);
  const auto row_bytes = static_cast<unsigned>(n * static_cast<int>(sizeof(T)));
  kernels::stream_row_groups<kNfBulkRows>(
      ring, nf_bulk_ring, p.bulk_stages, static_cast<const unsigned char*>(p.x), p.rows, row_bytes,
      p.x_stride * static_cast<int64_t>(sizeof(T)), [&](int64_t row, const unsigned char* staged) {
        const P* xs = reinterpret_cast<const P*>(staged);
        // The first row sum: sum x (layer norm) or sum x^2 (rms norm), two chains per lane.
        float a[2] = {0.f, 0.f};
        for (int i = lane; i < vectors; i += 32) {
          const P v = xs[i];
#pragma unroll
          for (int j = 0; j < VEC; ++j) {
            const float x = nb_elem(v, j);
            a[j & 1] = p.rms ? fmaf(x, x, a[j & 1]) : a[j & 1] + x;
          }
        }
        const float first = nf_warp_sum(a[0] + a[1]);
        float mean = 0.f, rstd;
        if (p.rms) {
          rstd = 1.f / sqrtf(first * inv_n + eps);
        } else {
          mean = first * inv_n;
          float d2[2] = {0.f, 0.f};  // then sum (x - mean)^2: never E[x^2] - E[x]^2
          for (int i = lane; i < vectors; i += 32) {
            const P v = xs[i];
#pragma unroll
            for (int j = 0; j < VEC; ++j) {
              const float d = nb_elem(v, j) - mean;
              d2[j & 1] = fmaf(d, d, d2[j & 1]);
            }
          }
          rstd = 1.f / sqrtf(nf_warp_sum(d2[0] + d2[1]) * inv_n + eps);
        }
        if (lane == 0) {
          if (p.mean) static_cast<float*>(p.mean)[row] = mean;
          if (p.rstd) static_cast<float*>(p.rstd)[row] = rstd;
        }
        // y = (x - mean) * rstd * w + b (the other kernels' order), 16-byte stores.
        T* yr = static_cast<T*>(p.y) + row * p.y_stride;
        for (int i = lane; i < vectors; i += 32) {
          const P v = xs[i];
          Pack<W, VEC> wv, bv;
          if (w) wv = load_pack<W, VEC>(w + i * VEC);
          if (b) bv = load_pack<W, VEC>(b + i * VEC);
          float o[VEC];
#pragma unroll
          for (int j = 0; j < VEC; ++j) {
            float r = (nb_elem(v, j) - mean) * rstd;
            if (w) r *= nb_elem(wv, j);
            if (b) r += nb_elem(bv, j);
            o[j] = r;
          }
          store_pack<T, VEC>(yr + i * VEC, nb_round<T, VEC>(o));
        }
      });
#else
  (void)p;
  __trap();  // the plan chooses this kernel on sm_90+ only
#endif
}

}  // namespace baracuda::norm::cuda
