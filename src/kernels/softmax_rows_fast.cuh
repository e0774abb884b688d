#pragma once
// The "rows" engines: unmasked softmax / log_softmax over unit-stride rows with 16-byte vectors
// and f32 math (loaded dtype f32, f16 or bf16). Built for bandwidth:
//   - a row group of GW warps owns a row; a block holds several groups (8 warps) for short rows,
//     one group of up to 32 warps for long rows. Groups run independently (named barriers), so
//     one group's reduction never stalls another group's loads;
//   - every vector of the row is loaded once, up front (ITEMS 16-byte loads in flight per
//     thread), and the row stays in registers: the forward keeps it as f32 (at most 32 per
//     thread) so each element is converted once and exponentiated once; the backward keeps the
//     two inputs as loaded (at most 64 bytes each per thread) and converts on use;
//   - no per-element bounds checks: vectors past the row end are padded with a neutral value
//     (-inf forward: adds nothing to the max or the sum; 0 backward) and only the row's last,
//     partial vector is loaded and stored element by element;
//   - NaN needs no test: the max ignores NaN (fmaxf), then exp(NaN - max) makes the sum NaN and
//     the whole row NaN, as torch; +inf gives exp(inf - inf) = NaN, an all -inf row
//     exp(-inf + inf) = NaN, the same rows torch makes NaN;
//   - 16-bit results use the hardware ex2 (flush-to-zero: results below 2^-126, which no 16-bit
//     softmax output distinguishes from 0 within its rounding, become 0); f32 results use expf.
// The staged variants (long rows, forward and backward) stream the block's next row into shared
// memory with cp.async while the current one is computed, so a block that owns a whole SM's
// register file still keeps the memory system busy between rows.
#include <type_traits>

#include "kernels/cp_async.cuh"
#include "kernels/softmax_common.cuh"
#include "kernels/softmax_engines.cuh"  // reload_barrier

namespace baracuda::sm::cuda {

constexpr float kLog2e = 1.4426950408889634f;

__device__ __forceinline__ float ex2_ftz(float v) {
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(v));
  return r;
}

// exp(v - m) for a result rounded to Ts; `mb` is m * log2(e) (fast path only).
template <bool kFast>
__device__ __forceinline__ float exp_shifted(float v, float m, float mb) {
  if constexpr (kFast) return ex2_ftz(fmaf(v, kLog2e, -mb));
  else return expf(v - m);
}

template <bool kFast>
__device__ __forceinline__ float exp_plain(float v) {
  if constexpr (kFast) return ex2_ftz(v * kLog2e);
  else return expf(v);
}

// Threads of one row group wait for each other; groups of a block use distinct barriers (1..15;
// 0 is __syncthreads'), so they never wait for each other.
__device__ __forceinline__ void group_barrier(int id, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

struct FMax {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct FAdd {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};

// v reduced over the row group (GW warps), returned to every thread of it in a fixed order
// (deterministic). `slots` is the group's GW floats of shared memory. Callers alternate two slot
// arrays, so one barrier per reduction is enough: a slot array is written again only after every
// warp of the group has passed the barrier of the other array's reduction, which follows its read.
template <int GW, class Op>
__device__ __forceinline__ float group_reduce_fast(float v, Op op, float identity, float* slots, int bar_id) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  if constexpr (GW == 1) {
    return v;
  } else {
    const int lane = threadIdx.x & 31, w = (threadIdx.x >> 5) % GW;
    if (lane == 0) slots[w] = v;
    group_barrier(bar_id, GW * 32);
    v = lane < GW ? slots[lane] : identity;
#pragma unroll
    for (int o = (GW > 16 ? 16 : GW / 2); o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return __shfl_sync(0xffffffffu, v, 0);  // lanes >= GW hold partial butterflies: take lane 0's total
  }
}

// Loads the vector at `col`: whole when inside the row, element by element for the row's partial
// last vector, `pad` beyond the row.
template <class T, int VEC>
__device__ __forceinline__ void load_or_pad(Vec<T, VEC>& r, const T* row, int col, int n, T pad) {
  if (col + VEC <= n) {
    r = *reinterpret_cast<const Vec<T, VEC>*>(row + col);
  } else {
#pragma unroll
    for (int j = 0; j < VEC; ++j) r.v[j] = col + j < n ? row[col + j] : pad;
  }
}

// VEC floats rounded to Ts; 16-bit pairs with one paired conversion.
template <class Ts, int VEC>
__device__ __forceinline__ Vec<Ts, VEC> pack_vec(const float* f) {
  Vec<Ts, VEC> o;
  if constexpr (std::is_same_v<Ts, __nv_bfloat16> && VEC % 2 == 0) {
#pragma unroll
    for (int j = 0; j < VEC; j += 2) reinterpret_cast<__nv_bfloat162*>(o.v)[j / 2] = __floats2bfloat162_rn(f[j], f[j + 1]);
  } else if constexpr (std::is_same_v<Ts, __half> && VEC % 2 == 0) {
#pragma unroll
    for (int j = 0; j < VEC; j += 2) reinterpret_cast<__half2*>(o.v)[j / 2] = __floats2half2_rn(f[j], f[j + 1]);
  } else {
#pragma unroll
    for (int j = 0; j < VEC; ++j) o.v[j] = from_compute<Ts>(f[j]);
  }
  return o;
}

template <class Ts, int VEC>
__device__ __forceinline__ void store_vec(const float* f, Ts* row, int col, int n) {
  const Vec<Ts, VEC> o = pack_vec<Ts, VEC>(f);
  if (col + VEC <= n) {
    *reinterpret_cast<Vec<Ts, VEC>*>(row + col) = o;
  } else {
#pragma unroll
    for (int j = 0; j < VEC; ++j)
      if (col + j < n) row[col + j] = o.v[j];
  }
}

// Sum of N floats through 4 independent chains (shorter dependency chains than one running sum;
// still a fixed order).
template <int N>
__device__ __forceinline__ float sum4(const float* a) {
  float s[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
  for (int k = 0; k < N; ++k) s[k % 4] += a[k];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

// Thread geometry of a row group: t is the thread's index in its row (0 .. GW*32-1), g the
// group's index in the block.
template <int GW>
struct GroupPos {
  int t, g;
  __device__ __forceinline__ GroupPos() {
    const int warp = static_cast<int>(threadIdx.x >> 5);
    t = (warp % GW) * 32 + static_cast<int>(threadIdx.x & 31);
    g = warp / GW;
  }
};

// The forward of one row whose E = VEC*ITEMS elements per thread are in v (pads -inf): writes y.
template <class Ts, int VEC, int ITEMS, int GW, bool kLog>
__device__ __forceinline__ void forward_row(float (&v)[VEC * ITEMS], float scale, Ts* y, int n, int t,
                                            float* red_max, float* red_sum, int bar_id) {
  constexpr int E = VEC * ITEMS, W = GW * 32;
  constexpr bool kFast = sizeof(Ts) == 2;
  if (scale != 1.f) {
#pragma unroll
    for (int k = 0; k < E; ++k) v[k] *= scale;
  }
  float mx[4] = {v[0], v[E > 1 ? 1 : 0], v[E > 2 ? 2 : 0], v[E > 3 ? 3 : 0]};
#pragma unroll
  for (int k = 4; k < E; ++k) mx[k % 4] = fmaxf(mx[k % 4], v[k]);
  float m = fmaxf(fmaxf(mx[0], mx[1]), fmaxf(mx[2], mx[3]));
  m = group_reduce_fast<GW>(m, FMax{}, neg_inf<float>(), red_max, bar_id);
  const float mb = m * kLog2e;
  float e[E];
#pragma unroll
  for (int k = 0; k < E; ++k) e[k] = exp_shifted<kFast>(v[k], m, mb);
  float s = sum4<E>(e);
  s = group_reduce_fast<GW>(s, FAdd{}, 0.f, red_sum, bar_id);
  float o[E];
  if constexpr (kLog) {
    const float ls = logf(s);
#pragma unroll
    for (int k = 0; k < E; ++k) o[k] = (v[k] - m) - ls;
  } else {
    const float inv = 1.f / s;
#pragma unroll
    for (int k = 0; k < E; ++k) o[k] = e[k] * inv;
  }
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) store_vec<Ts, VEC>(o + i * VEC, y, (i * W + t) * VEC, n);
}

template <class Tl, int VEC, int ITEMS>
__device__ __forceinline__ void unpack_items(const Vec<Tl, VEC> (&raw)[ITEMS], float (&v)[VEC * ITEMS]) {
#pragma unroll
  for (int i = 0; i < ITEMS; ++i)
#pragma unroll
    for (int j = 0; j < VEC; ++j) v[i * VEC + j] = to_compute<float>(raw[i].v[j]);
}

constexpr int rows_block_threads(int gw) { return gw * 32 > 256 ? gw * 32 : 256; }
// Blocks per SM the register budget must allow: at most 64 registers per thread (half the
// SM's threads resident at least), which is what keeps enough loads in flight.
constexpr int rows_min_blocks(int threads) { return 65536 / (64 * threads); }

// Forward, rows in registers: blockDim.x = rows_block_threads(GW), blockDim.x / (GW*32) rows at a time.
template <class Tl, class Ts, int VEC, int ITEMS, int GW, bool kLog>
__global__ void __launch_bounds__(rows_block_threads(GW), rows_min_blocks(rows_block_threads(GW))) softmax_rows_fwd_kernel(const KernelParams p) {
  constexpr int W = GW * 32;
  __shared__ float red[2][32];
  const GroupPos<GW> pos;
  const int64_t per_block = blockDim.x / W;
  if (p.pdl_prefetch >= 2)
    prefetch_rows_before_wait<Tl, VEC, ITEMS, W>(p, false, blockIdx.x * per_block + pos.g, 0, 1, pos.t);
  kernels::pdl_enter();
  const int n = static_cast<int>(p.n);  // <= 32768: the plan's limit for these engines
  const Tl pad = from_compute<Tl>(neg_inf<float>());
  for (int64_t row = blockIdx.x * per_block + pos.g; row < p.rows; row += gridDim.x * per_block) {
    const RowBases b = row_bases(p, row);
    const Tl* x = static_cast<const Tl*>(p.in0.data) + b.in0;
    Vec<Tl, VEC> raw[ITEMS];
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) load_or_pad(raw[i], x, (i * W + pos.t) * VEC, n, pad);
    // The group's next row into L2 while this one is reduced and written, so HBM keeps streaming
    // across the row's barriers (as the norm rows kernels do; no registers held). Rows one merged
    // outer dim apart only: the general case would need a division per row.
    const int64_t next = row + gridDim.x * per_block;
    if (p.row_prefetch && p.outer_rank <= 1 && next < p.rows) {
      const Tl* xn = x + (next - row) * p.in0.outer[0];
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        const int col = (i * W + pos.t) * VEC;
        if (col < n) kernels::prefetch_l2(xn + col);  // a warp's prefetches coalesce into its lines
      }
    }
    float v[VEC * ITEMS];
    unpack_items(raw, v);
    forward_row<Ts, VEC, ITEMS, GW, kLog>(v, static_cast<float>(p.scale),
                                          static_cast<Ts*>(const_cast<void*>(p.out.data)) + b.out, n, pos.t,
                                          red[0] + pos.g * GW, red[1] + pos.g * GW, 1 + pos.g);
  }
}

// Rows first, first + step, ... (count of them, those below p.rows) of the kernel's inputs (x;
// dy and y when `both`) into L2, each thread its own vectors: a kernel's first rows, issued
// before griddepcontrol.wait (kernels/pdl.cuh, "Before the wait").
template <class Tl, int VEC, int ITEMS, int W>
__device__ __forceinline__ void prefetch_rows_before_wait(const KernelParams& p, bool both, int64_t first,
                                                          int64_t step, int count, int t) {
  const int n = static_cast<int>(p.n);
  for (int k = 0; k < count && first + k * step < p.rows; ++k) {
    const RowBases b = row_bases(p, first + k * step);
    const Tl* a = static_cast<const Tl*>(p.in0.data) + b.in0;
    const Tl* c = both ? static_cast<const Tl*>(p.in1.data) + b.in1 : nullptr;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * W + t) * VEC;
      if (col < n) {
        kernels::prefetch_l2(a + col);
        if (both) kernels::prefetch_l2(c + col);
      }
    }
  }
}

// ---- staged forward: one row group per block, the next row prefetched into shared memory ----

using kernels::stage_commit;
using kernels::stage_copy16;

// Dynamic shared memory of the staged kernel: STAGES stages of the row (2 by default), at most
// kStagedSmemLimit (under Hopper's 227 KB per block; the plan also checks the device's opt-in
// limit, 163 KB on an A100).
constexpr int kStagedSmemLimit = 200 * 1024;
template <class Tl, int VEC, int ITEMS, int GW, int STAGES = 2>
constexpr int staged_smem_bytes() {
  return STAGES * ITEMS * GW * 32 * VEC * static_cast<int>(sizeof(Tl));
}

// Needs n % VEC == 0 (every vector of the row whole) and 16-byte aligned rows. Each thread copies
// and later reads only its own slots, so the stages need no block barrier: cp.async.wait_group
// makes a thread's own copies visible to it, and a stage is refilled only after this thread
// consumed its values into registers for this row's reductions (the next row's copies are issued
// at the top of each row, into the other stage). Refilling the stage just read with the row two
// ahead instead (two rows in flight per block) measured slower on the H200 (7bc01c7, 4096x32768
// bf16: softmax 0.1497 ms against 0.1441, log_softmax 0.1470 against 0.1418) and was removed.
// STAGES = 3 (the default for 64 KB stages; BARACUDA_SOFTMAX_FWD_STAGES=2|3) is the norm staged
// forward's ring instead: the copies of the row two steps ahead issued at the top of each row,
// into the stage read one row ago. It measured faster (4096x32768 bf16 at 360e9be: log_softmax
// 0.1425 -> 0.1391 ms, softmax 0.1414 -> 0.1409), unlike the early refill: that one issued its
// copies between a row's loads and its reductions.
template <class Tl, class Ts, int VEC, int ITEMS, int GW, bool kLog, int STAGES = 2>
__global__ void __launch_bounds__(GW * 32, rows_min_blocks(GW * 32)) softmax_rows_fwd_staged_kernel(const KernelParams p) {
  constexpr int W = GW * 32;
  extern __shared__ __align__(16) unsigned char stage_mem[];
  __shared__ float red[2][32];
  const GroupPos<GW> pos;
  const int n = static_cast<int>(p.n);  // <= 32768: the plan's limit for these engines
  // The rows of the two stages' first copies.
  if (p.pdl_prefetch >= 1) prefetch_rows_before_wait<Tl, VEC, ITEMS, W>(p, false, blockIdx.x, gridDim.x, 2, pos.t);
  kernels::pdl_enter();
  Vec<Tl, VEC>* stages = reinterpret_cast<Vec<Tl, VEC>*>(stage_mem);
  auto slot = [&](int stage, int i) { return stages + (stage * ITEMS + i) * W + pos.t; };
  auto prefetch = [&](int64_t row, int stage) {
    const Tl* x = static_cast<const Tl*>(p.in0.data) + row_bases(p, row).in0;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * W + pos.t) * VEC;
      if (col < n) stage_copy16(slot(stage, i), x + col);
    }
  };
  const Tl pad = from_compute<Tl>(neg_inf<float>());
  static_assert(STAGES == 2 || STAGES == 3, "two or three stages");
  int64_t row = blockIdx.x;
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (row + s * static_cast<int64_t>(gridDim.x) < p.rows) prefetch(row + s * static_cast<int64_t>(gridDim.x), s);
    stage_commit();
  }
  for (int stage = 0; row < p.rows; row += gridDim.x, stage = stage + 1 == STAGES ? 0 : stage + 1) {
    const int64_t ahead = row + (STAGES - 1) * static_cast<int64_t>(gridDim.x);
    if (ahead < p.rows) prefetch(ahead, stage == 0 ? STAGES - 1 : stage - 1);
    stage_commit();  // possibly empty: keeps "all but the newest STAGES - 1" meaning "this row's"
    kernels::stage_wait_all_but<STAGES - 1>();
    Vec<Tl, VEC> raw[ITEMS];
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * W + pos.t) * VEC;
      if (col < n) {
        raw[i] = *slot(stage, i);
      } else {
#pragma unroll
        for (int j = 0; j < VEC; ++j) raw[i].v[j] = pad;
      }
    }
    float v[VEC * ITEMS];
    unpack_items(raw, v);
    forward_row<Ts, VEC, ITEMS, GW, kLog>(v, static_cast<float>(p.scale),
                                          static_cast<Ts*>(const_cast<void*>(p.out.data)) + row_bases(p, row).out, n,
                                          pos.t, red[0], red[1], 1);
  }
}

// ---- backward: dy and y kept as loaded, converted on use ----
// The two halves of a backward row shared by the register and the staged kernels (so both give
// bitwise the same dx): this thread's part of s = sum(dy * y) (log_softmax: sum(dy)) through 4
// chains in a fixed order, and dx = scale * y * (dy - s) (log_softmax: scale * (dy - exp(y) * s)).
// Vectors past the row end are padded with 0 by the callers (they add nothing; stores skip them).
// A vector R is a Vec<Tl, VEC> (the register kernel) or a Words16<Tl> (the staged kernel); elem()
// gives its element j as f32, exactly as loaded.
template <class T, int VEC>
__device__ __forceinline__ float elem(const Vec<T, VEC>& v, int j) {
  return to_compute<float>(v.v[j]);
}

// A 16-byte vector held as four 32-bit words, 16-bit elements two to a register. As a
// Vec<__nv_bfloat16, 8> selected element-wise (loaded or padded), the compiler kept one register
// per element, which at 32 warps x 4 vectors per row spilled (SASS: an STL.S16 per element).
// The conversions are exact, so the values are those of the Vec.
template <class T>
struct Words16 {
  uint32_t w[4];
};

template <class T>
__device__ __forceinline__ float elem(const Words16<T>& r, int j) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    const uint32_t w = r.w[j / 2];
    return __uint_as_float(j % 2 ? w & 0xffff0000u : w << 16);  // bf16 is the top half of an f32
  } else if constexpr (std::is_same_v<T, __half>) {
    const uint32_t w = r.w[j / 2];
    return __half2float(__ushort_as_half(static_cast<unsigned short>(j % 2 ? w >> 16 : w & 0xffffu)));
  } else {
    static_assert(std::is_same_v<T, float>, "f32, f16 or bf16 loads");
    return __uint_as_float(r.w[j]);
  }
}

template <class T>
__device__ __forceinline__ void reload_barrier(Words16<T>& r) {
#pragma unroll
  for (int i = 0; i < 4; ++i) asm volatile("" : "+r"(r.w[i]));
}

// r with every word XORed with z, a zero the compiler cannot see (read back from shared memory):
// the empty-asm reload_barrier stops only the front end, and ptxas then shares pass 1's
// conversions with pass 2 and keeps them all live (spilled) across the reduction.
template <class T>
__device__ __forceinline__ void rekey(Words16<T>& r, uint32_t z) {
#pragma unroll
  for (int i = 0; i < 4; ++i) r.w[i] ^= z;
}

template <int VEC, int ITEMS, bool kLog, class R>
__device__ __forceinline__ float bwd_partial_dot(const R (&dy)[ITEMS], const R (&y)[ITEMS]) {
  float acc[4] = {0.f, 0.f, 0.f, 0.f};  // 4 chains in a fixed order
#pragma unroll
  for (int i = 0; i < ITEMS; ++i)
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      const int k = (i * VEC + j) % 4;
      if constexpr (kLog) acc[k] += elem(dy[i], j);
      else acc[k] = fmaf(elem(dy[i], j), elem(y[i], j), acc[k]);
    }
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// kWhole: n % VEC == 0, so a vector is either whole or past the row end (no element-wise tail).
template <class Ts, int VEC, int ITEMS, int GW, bool kLog, bool kWhole = false, class R>
__device__ __forceinline__ void bwd_write_row(R (&dy)[ITEMS], R (&y)[ITEMS], float s, float scale, Ts* dxr, int n,
                                              int t) {
  constexpr int W = GW * 32;
  constexpr bool kFast = sizeof(Ts) == 2;
  // Convert again below rather than keep pass 1's f32 copies alive (2x the registers).
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    reload_barrier(dy[i]);
    if constexpr (!kLog) reload_barrier(y[i]);
  }
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    float o[VEC];
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      const float d = elem(dy[i], j), yv = elem(y[i], j);
      o[j] = scale * (kLog ? d - exp_plain<kFast>(yv) * s : yv * (d - s));
    }
    const int col = (i * W + t) * VEC;
    if constexpr (kWhole) {
      if (col < n) *reinterpret_cast<Vec<Ts, VEC>*>(dxr + col) = pack_vec<Ts, VEC>(o);
    } else {
      store_vec<Ts, VEC>(o, dxr, col, n);
    }
  }
}

// Blocks per SM of the backward register kernel: rows_min_blocks, except the one-vector geometry
// (ITEMS 1 at 2 .. 16 warps per row; the plan's BwdOneVector), whose blocks
// must give the SM 1536 threads (at most 40 registers; ptxas -v, sm_90a: softmax and log_softmax
// 40, no spills, since log_softmax loads y with dy there; with both load orders compiled it spilled
// 64 bytes). 2048 threads (32 registers) spilled the row's vectors (f32 loads: 56-100 bytes).
template <int ITEMS, int GW>
constexpr int rows_bwd_min_blocks() {
  return ITEMS == 1 && GW > 1 ? 1536 / rows_block_threads(GW) : rows_min_blocks(rows_block_threads(GW));
}

template <class Tl, class Ts, int VEC, int ITEMS, int GW, bool kLog>
__global__ void __launch_bounds__(rows_block_threads(GW), (rows_bwd_min_blocks<ITEMS, GW>())) softmax_rows_bwd_kernel(const KernelParams p) {
  constexpr int W = GW * 32;
  __shared__ float red[2][32];
  const GroupPos<GW> pos;
  const int64_t per_block = blockDim.x / W;
  if (p.pdl_prefetch >= 2)
    prefetch_rows_before_wait<Tl, VEC, ITEMS, W>(p, true, blockIdx.x * per_block + pos.g, 0, 1, pos.t);
  kernels::pdl_enter();
  const int n = static_cast<int>(p.n);  // <= 32768: the plan's limit for these engines
  const float scale = static_cast<float>(p.scale);
  const Tl zero = from_compute<Tl>(0.f);
  int parity = 0;  // alternates the two reduction slot arrays between rows
  for (int64_t row = blockIdx.x * per_block + pos.g; row < p.rows; row += gridDim.x * per_block, parity ^= 1) {
    const RowBases b = row_bases(p, row);
    const Tl* dyr = static_cast<const Tl*>(p.in0.data) + b.in0;
    const Tl* yr = static_cast<const Tl*>(p.in1.data) + b.in1;
    Vec<Tl, VEC> dy[ITEMS], y[ITEMS];
    // log_softmax needs y only after the reduction: by default its loads overlap the reduction
    // (p.log_bwd_y_late). Loading it with dy instead (A/B) keeps twice the bytes in flight while
    // the reduction waits, but measured slower on the H200 (32768 x 4096 bf16: 0.2490 vs 0.2409
    // ms). Never at 4 vectors per thread: both inputs up front spill there (272 bytes, ptxas -v).
    // Always early in the one-vector geometry (1 vector, 2+ warps per row; the plan's
    // BwdOneVector): one vector of dy alone leaves too little in flight, and compiling both orders
    // spilled 64 bytes at its 40-register bound.
    constexpr bool kOneVector = ITEMS == 1 && GW >= 2;
    const bool y_late = kLog && !kOneVector && (ITEMS > 2 || p.log_bwd_y_late);
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * W + pos.t) * VEC;
      load_or_pad(dy[i], dyr, col, n, zero);
      if (!y_late) load_or_pad(y[i], yr, col, n, zero);
    }
    float s = bwd_partial_dot<VEC, ITEMS, kLog>(dy, y);
    s = group_reduce_fast<GW>(s, FAdd{}, 0.f, red[parity] + pos.g * GW, 1 + pos.g);
    if (y_late) {  // the loads overlap the reduction
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) load_or_pad(y[i], yr, (i * W + pos.t) * VEC, n, zero);
    }
    bwd_write_row<Ts, VEC, ITEMS, GW, kLog>(dy, y, s, scale, static_cast<Ts*>(const_cast<void*>(p.out.data)) + b.out,
                                            n, pos.t);
  }
}

// ---- staged backward: one row group per block, the next row's dy and y prefetched ----
//
// The register kernel above has nothing in flight between rows at 16-32 warps per row: every warp
// of the SM waits on the row's reduction, then stores, then issues the next row's loads (63% of
// copy bandwidth at 4096 x 32768 bf16 against 93% at 32768 x 4096). Here the block's next row
// streams into shared memory (cp.async) while the current one is reduced and written.
//
// ONE stage of both inputs: two stages of dy and y would be 256 KB at 32768 16-bit elements, over
// the per-block limit. The stage is refilled as soon as it is consumed, which is early: each
// thread copies and reads only its own slots, and reads all of them into registers (the
// register kernel's layout, dy and y as loaded) at the row's start. Per row:
//   wait for this row's copies -> slots into registers -> issue the next row's copies into the
//   same slots -> partial dot, group reduction, output from registers.
// So the next row's copies overlap this row's reduction, conversions and stores. No block barrier
// is needed for the stage: cp.async.wait_group makes a thread's own copies visible to it, and a
// slot is rewritten only by a copy its thread issues after its read of that slot in program order
// (the copies' memory clobbers keep the compiler from moving the shared loads past them; in SASS
// the LDS of the slots precede the LDGSTS into them).
//
// Registers (ptxas -v, sm_90a, at most 64 by the launch bounds): no spills for any instantiation,
// 46-50 at 2 vectors per thread, 64 at 4 (the register kernel spills 52-104 bytes there). That
// takes three things: the row held as 32-bit words (Words16), the copies predicated rather than
// branched over (stage_copy16_if), and the words re-keyed after the reduction (rekey).
//
// Needs n % VEC == 0 (every vector of the row whole) and 16-byte aligned rows of dy and y; the
// numerics are softmax_rows_bwd_kernel's (same halves, same padding, same group reduction, exact
// conversions): dx is bitwise the same.
//
// Short rows (4 or 8 warps per row; the log_softmax backward by default, the softmax backward
// opt-in: the plan decides) take it too. There the register kernel runs several row groups per
// SM, but each group still has nothing in flight while it reduces and exponentiates (log_softmax:
// one ex2 per element); a staged block keeps its next row's 16 KB streaming through that phase,
// and at 48 registers (ptxas -v, sm_90a, 8 warps x 2 vectors) five such blocks fit an SM.
template <class Tl, int VEC, int ITEMS, int GW>
constexpr int staged_bwd_smem_bytes() {
  return 2 * ITEMS * GW * 32 * VEC * static_cast<int>(sizeof(Tl));  // dy and y, one stage
}

using kernels::stage_copy16_if;
using kernels::stage_wait_all;

// This thread's 16-byte slot, or zeros past the row end (+0 in every dtype, the register
// kernel's pad), selected as whole words.
template <class T, int VEC>
__device__ __forceinline__ Words16<T> slot_or_zero(const Vec<T, VEC>* slot, bool inside) {
  static_assert(sizeof(Vec<T, VEC>) == sizeof(uint4), "16-byte vectors");
  const uint4 u = inside ? *reinterpret_cast<const uint4*>(slot) : make_uint4(0u, 0u, 0u, 0u);
  return Words16<T>{{u.x, u.y, u.z, u.w}};
}

template <class Tl, class Ts, int VEC, int ITEMS, int GW, bool kLog>
__global__ void __launch_bounds__(GW * 32, rows_min_blocks(GW * 32)) softmax_rows_bwd_staged_kernel(const KernelParams p) {
  // The zero slot is read after the first reduction's barrier: one-warp groups have none.
  static_assert(GW >= 2, "the staged backward needs at least 2 warps per row");
  constexpr int W = GW * 32;
  if (p.pdl_prefetch >= 2)
    prefetch_rows_before_wait<Tl, VEC, ITEMS, W>(p, true, blockIdx.x, gridDim.x, 2, static_cast<int>(threadIdx.x));
  kernels::pdl_enter();
  extern __shared__ __align__(16) unsigned char stage_mem[];
  __shared__ float red[2][32];
  __shared__ uint32_t opaque_zero;  // see rekey()
  const GroupPos<GW> pos;  // one group per block: pos.g == 0
  // Volatile: a plain store and load of the one value 0 fold to the constant.
  volatile uint32_t* const zero_slot = &opaque_zero;
  if (threadIdx.x == 0) *zero_slot = 0;  // read only after the first reduction's barrier
  const int n = static_cast<int>(p.n);  // <= 32768: the plan's limit for these engines
  const float scale = static_cast<float>(p.scale);
  Vec<Tl, VEC>* stage = reinterpret_cast<Vec<Tl, VEC>*>(stage_mem);
  // This thread's slot for vector i of dy (input 0) or y (input 1).
  auto slot = [&](int input, int i) { return stage + (input * ITEMS + i) * W + pos.t; };
  auto prefetch = [&](const RowBases& b, bool on) {
    const Tl* dyr = static_cast<const Tl*>(p.in0.data) + b.in0;
    const Tl* yr = static_cast<const Tl*>(p.in1.data) + b.in1;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * W + pos.t) * VEC;
      stage_copy16_if(slot(0, i), dyr + col, on && col < n);
      stage_copy16_if(slot(1, i), yr + col, on && col < n);
    }
    stage_commit();
  };
  int64_t row = blockIdx.x;
  RowBases b;  // of `row`
  if (row < p.rows) {
    b = row_bases(p, row);
    prefetch(b, true);
  }
  int parity = 0;  // alternates the two reduction slot arrays between rows
  for (; row < p.rows; row += gridDim.x, parity ^= 1) {
    const int64_t next = row + gridDim.x;
    const bool more = next < p.rows;
    // The next row's bases before this row's data is in registers (with several outer dims they
    // take 64-bit divisions); also its dx base, carried to the next iteration.
    const RowBases nb = row_bases(p, more ? next : row);
    stage_wait_all();  // this row's group: the only one in flight
    Words16<Tl> dy[ITEMS], y[ITEMS];
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const bool inside = (i * W + pos.t) * VEC < n;
      dy[i] = slot_or_zero(slot(0, i), inside);
      y[i] = slot_or_zero(slot(1, i), inside);
    }
    prefetch(nb, more);  // the slots are consumed: refill them with the block's next row
    float s = bwd_partial_dot<VEC, ITEMS, kLog>(dy, y);
    s = group_reduce_fast<GW>(s, FAdd{}, 0.f, red[parity], 1);
    const uint32_t z = *zero_slot;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      rekey(dy[i], z);
      rekey(y[i], z);
    }
    bwd_write_row<Ts, VEC, ITEMS, GW, kLog, true>(dy, y, s, scale,
                                                  static_cast<Ts*>(const_cast<void*>(p.out.data)) + b.out, n, pos.t);
    b = nb;
  }
}

}  // namespace baracuda::sm::cuda
