#pragma once
// softmax / log_softmax forward on short unmasked rows (x rows of at most 4 KB, 16-byte vectors,
// one merged outer dim), sm_90: a warp per row, the rows streamed by TMA bulk copies. The same
// ring as norm_fwd_rows_bulk_kernel (kernels/norm_fwd_rows_bulk.cuh says why): stages of
// kSmBulkRows consecutive rows filled by one copy (dense rows) or one per row (padded), warp w owns
// row w of every stage, no block barrier anywhere, thread 0 refills the stage of the item before
// the current one once every warp has released it.
//
// Two passes over the staged row: an online (max, sum of exp(x - max)) per lane, combined across
// the warp by a butterfly (every lane ends with the same pair: each step adds the same two
// rescaled sums, in either order, and float addition commutes), then the output. Special values
// as the register engines: the max ignores NaN and exp(NaN) makes the row NaN; +inf gives
// exp(inf - inf) = NaN; an all -inf row has sum 0 and exp(-inf + inf) = NaN: the rows torch
// makes NaN.
#include <cstdint>

#include "kernels/bulk_ring.cuh"
#include "kernels/softmax_rows_fast.cuh"  // exp_shifted, kLog2e, store_vec, Vec

namespace baracuda::sm::cuda {

constexpr int kSmBulkThreads = 256;
constexpr int kSmBulkRows = kSmBulkThreads / 32;  // rows per stage: one per warp
constexpr int kSmBulkMaxStages = 8;
constexpr int64_t kSmBulkMaxRowBytes = 4096;

// s * exp(m - mn), 0 for an empty sum (m may then be -inf).
template <bool kFast>
__device__ __forceinline__ float sm_rescaled(float s, float m, float mn) {
  return s == 0.f ? 0.f : s * exp_shifted<kFast>(m, mn, mn * kLog2e);
}

// Launch with kSmBulkThreads threads, p.bulk_stages * kSmBulkRows * n * sizeof(Tl) bytes of
// dynamic shared memory and at most ceil(rows / kSmBulkRows) blocks. Needs 16-byte aligned x and
// row strides, n % VEC == 0, n * sizeof(Tl) <= kSmBulkMaxRowBytes, outer_rank <= 1, no mask.
template <class Tl, class Ts, int VEC, bool kLog>
__global__ void __launch_bounds__(kSmBulkThreads) softmax_rows_fwd_bulk_kernel(const KernelParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(VEC * sizeof(Tl) == 16, "16-byte vectors");
  constexpr bool kFast = sizeof(Ts) == 2;
  using P = Vec<Tl, VEC>;
  extern __shared__ __align__(128) unsigned char sm_bulk_ring[];
  __shared__ kernels::BulkRing<kSmBulkMaxStages> ring;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int n = static_cast<int>(p.n);
  const int vectors = n / VEC;
  const float scale = static_cast<float>(p.scale);
  const int64_t in_stride = p.outer_rank == 0 ? p.n : p.in0.outer[0];
  const int64_t out_stride = p.outer_rank == 0 ? p.n : p.out.outer[0];
  kernels::stream_row_groups<kSmBulkRows>(
      ring, sm_bulk_ring, p.bulk_stages, static_cast<const unsigned char*>(p.in0.data), p.rows,
      static_cast<unsigned>(n * static_cast<int>(sizeof(Tl))), in_stride * static_cast<int64_t>(sizeof(Tl)),
      [&](int64_t row, const unsigned char* staged) {
        const P* xs = reinterpret_cast<const P*>(staged);
        // Pass 1: the lane's online max and sum, one rescale per vector at most.
        float m = neg_inf<float>(), sum = 0.f;
        for (int i = lane; i < vectors; i += 32) {
          const P v = xs[i];
          float x[VEC];
          float vmax = neg_inf<float>();
#pragma unroll
          for (int j = 0; j < VEC; ++j) {
            x[j] = to_compute<float>(v.v[j]) * scale;
            vmax = fmaxf(vmax, x[j]);
          }
          const float mn = fmaxf(m, vmax);
          if (mn == neg_inf<float>()) {  // every value so far -inf (or NaN): nothing to add but NaN
#pragma unroll
            for (int j = 0; j < VEC; ++j)
              if (x[j] != x[j]) sum = x[j];
            continue;
          }
          float acc = mn == m ? sum : sm_rescaled<kFast>(sum, m, mn);
          const float mb = mn * kLog2e;
#pragma unroll
          for (int j = 0; j < VEC; ++j) acc += exp_shifted<kFast>(x[j], mn, mb);
          sum = acc;
          m = mn;
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
          const float om = __shfl_xor_sync(0xffffffffu, m, o), os = __shfl_xor_sync(0xffffffffu, sum, o);
          const float mn = fmaxf(m, om);
          sum = mn == neg_inf<float>() ? sum + os : sm_rescaled<kFast>(sum, m, mn) + sm_rescaled<kFast>(os, om, mn);
          m = mn;
        }
        // Pass 2: the outputs, from the staged row again.
        Ts* y = static_cast<Ts*>(const_cast<void*>(p.out.data)) + row * out_stride;
        const float mb = m * kLog2e;
        const float ls = kLog ? logf(sum) : 0.f, inv = kLog ? 0.f : 1.f / sum;
        for (int i = lane; i < vectors; i += 32) {
          const P v = xs[i];
          float o[VEC];
#pragma unroll
          for (int j = 0; j < VEC; ++j) {
            const float x = to_compute<float>(v.v[j]) * scale;
            o[j] = kLog ? (x - m) - ls : exp_shifted<kFast>(x, m, mb) * inv;
          }
          store_vec<Ts, VEC>(o, y, i * VEC, n);
        }
      });
#else
  (void)p;
  __trap();  // the plan chooses this kernel on sm_90+ only
#endif
}

}  // namespace baracuda::sm::cuda
