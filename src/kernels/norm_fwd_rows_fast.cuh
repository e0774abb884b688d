#pragma once
// The rows engine of the layer_norm / rms_norm forward and of their fused residual-add variants
// (add_layer_norm / add_rms_norm also write x + residual): unit-stride rows of f32 / f16 / bf16
// with 16-byte vectors (row length and row strides multiples of the vector, 16-byte aligned
// bases), f32 statistics. The softmax rows-engine design (kernels/softmax_rows_fast.cuh, 84-88% of
// copy on the H200), shared helpers from the backward engine (kernels/norm_bwd_rows_fast.cuh):
//   - a row group of GW warps owns a row; a block of max(256, GW*32) threads holds several groups
//     for short rows; groups synchronize with named barriers only;
//   - ONE pass over global memory: every vector of x (and of the residual) is loaded once, up
//     front (ITEMS, or 2 x ITEMS, 16-byte loads in flight per thread), and the row stays in
//     registers as f32: each element is converted once;
//   - layer norm: the mean from the registers, then the sum of (x - mean)^2 from the same
//     registers (x - mean kept in place for the output): never E[x^2] - E[x]^2; rms norm: one
//     reduction (sum of x^2). Warp shuffles, one shared-memory exchange and one named barrier per
//     reduction (two slot arrays used alternately, so no second barrier);
//   - the fused add rounds x + residual to x's dtype once (as torch and the legacy kernels), stores
//     it with 16-byte stores and normalizes the rounded values;
//   - int32 column math, row bases row * stride (no 64-bit division), no per-element bounds
//     checks (vectors past the row end hold 0 and are neither reduced nor stored);
//   - __launch_bounds__ capping at 64 registers; persistent blocks (grid = SMs x resident blocks);
//   - at most 16 row values per thread (ptxas, sm_90a, 64-register cap: 32 f32 values per thread
//     spill 50-330 bytes once the weight/bias packs of the output pass are live; 16 do not), so
//     one group of up to 32 warps holds 16384 16-bit elements (ITEMS 2 at VEC 8), and f32 rows
//     up to 8192 (ITEMS 2 at VEC 4: 4 items spilled with a residual, see norm_fwd_fast.cu).
// Wider 16-bit rows without a residual (16385 .. 32768) take norm_fwd_rows_staged_kernel: one
// 1024-thread block per SM, the row in shared memory (each pass re-reads the thread's own slots:
// no register copy of the row), and the block's next S-1 rows streaming in by cp.async while the
// current one is reduced and written (S = 3 stages, 192 KB at 32768 bf16: two rows in flight per
// SM; the legacy staged kernel has one, and reached 73-79% of copy).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/norm_bwd_rows_fast.cuh"  // NbGroupPos, nb_group_barrier, nb_elem, nb_round, block sizes
#include "kernels/norm_rows.cuh"           // Pack, load_pack, store_pack
#include "kernels/norm_rows_params.hpp"
#include "kernels/norm_rows_staged.cuh"    // stage_copy16, stage_commit (cp.async)

namespace baracuda::norm::cuda {

// v summed over the row group and returned to every thread of it, in a fixed order (bitwise
// reproducible). `slots` holds the group's GW floats; callers alternate two slot arrays (see
// nb_group_sum2), so one barrier per reduction suffices.
template <int GW>
__device__ __forceinline__ float nf_group_sum(float v, float* slots, int bar_id) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if constexpr (GW > 1) {
    const int lane = threadIdx.x & 31, w = (threadIdx.x >> 5) % GW;
    if (lane == 0) slots[w] = v;
    nb_group_barrier(bar_id, GW * 32);
    v = lane < GW ? slots[lane] : 0.f;
#pragma unroll
    for (int o = (GW > 16 ? 16 : GW / 2); o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    v = __shfl_sync(0xffffffffu, v, 0);  // lanes >= GW hold partial butterflies: lane 0 has the total
  }
  return v;
}

// A set of values' count, mean and M2 (sum of squared deviations from the mean).
struct NfStats {
  float n, mean, m2;
};

// Two disjoint sets' NfStats combined (Chan, Golub and LeVeque's pairwise update): the mean of the
// union, and M2 = M2_a + M2_b + d^2 n_a n_b / n with d the difference of the means. Never E[x^2] -
// E[x]^2. Equal counts (every full thread of a row) take the division-free form: n_a n_b / n =
// n_a / 2. Empty sets (pad lanes) leave the other unchanged.
__device__ __forceinline__ NfStats nf_stats_merge(const NfStats& a, const NfStats& b) {
  const float d = b.mean - a.mean;
  if (a.n == b.n) return {a.n + b.n, 0.5f * (a.mean + b.mean), (a.m2 + b.m2) + d * d * (0.5f * a.n)};
  if (b.n == 0.f) return a;
  if (a.n == 0.f) return b;
  const float n = a.n + b.n;
  return {n, (a.n * a.mean + b.n * b.mean) / n, (a.m2 + b.m2) + d * d * (a.n * b.n / n)};
}

// Each thread's NfStats combined over the row group (of GW warps) and returned to every thread of
// it: one shuffle tree and one shared-memory exchange (3 x GW floats of `slots`; callers alternate
// two slot arrays, as for nf_group_sum), so a layer norm row needs one barrier instead of two
// (nf_group_sum of x, then of (x - mean)^2). Lane 0's result is broadcast: deterministic.
template <int GW>
__device__ __forceinline__ NfStats nf_group_stats(NfStats v, float* slots, int bar_id) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const NfStats other{__shfl_xor_sync(0xffffffffu, v.n, o), __shfl_xor_sync(0xffffffffu, v.mean, o),
                        __shfl_xor_sync(0xffffffffu, v.m2, o)};
    v = nf_stats_merge(v, other);
  }
  if constexpr (GW > 1) {
    const int lane = threadIdx.x & 31, w = (threadIdx.x >> 5) % GW;
    if (lane == 0) {
      slots[w] = v.n;
      slots[GW + w] = v.mean;
      slots[2 * GW + w] = v.m2;
    }
    nb_group_barrier(bar_id, GW * 32);
    v = lane < GW ? NfStats{slots[lane], slots[GW + lane], slots[2 * GW + lane]} : NfStats{0.f, 0.f, 0.f};
#pragma unroll
    for (int o = (GW > 16 ? 16 : GW / 2); o > 0; o >>= 1) {
      const NfStats other{__shfl_xor_sync(0xffffffffu, v.n, o), __shfl_xor_sync(0xffffffffu, v.mean, o),
                          __shfl_xor_sync(0xffffffffu, v.m2, o)};
      v = nf_stats_merge(v, other);
    }
  }
  return {v.n, __shfl_sync(0xffffffffu, v.mean, 0), __shfl_sync(0xffffffffu, v.m2, 0)};
}

// One output vector: y_j = centered(j) * rstd (* w_j) (+ b_j) (the legacy kernels' order), rounded
// to T, one 16-byte store; centered(j) is x_j - mean (rms: x_j). w_at / b_at may be null. Shared
// by the rows and cluster kernels.
template <class T, class W, int VEC, class Centered>
__device__ __forceinline__ void nf_store_vector(T* y_at, const W* w_at, const W* b_at, float rstd, Centered centered) {
  Pack<W, VEC> wv, bv;
  if (w_at) wv = load_pack<W, VEC>(w_at);
  if (b_at) bv = load_pack<W, VEC>(b_at);
  float o[VEC];
#pragma unroll
  for (int j = 0; j < VEC; ++j) {
    float r = centered(j) * rstd;
    if (w_at) r *= nb_elem(wv, j);
    if (b_at) r += nb_elem(bv, j);
    o[j] = r;
  }
  store_pack<T, VEC>(y_at, nb_round<T, VEC>(o));
}

// Launch with nb_block_threads(GW) threads; p.cols <= GW*32*ITEMS*VEC and a multiple of VEC;
// RES == (p.residual != null).
template <class T, class W, int VEC, int ITEMS, int GW, bool RES>
__global__ void __launch_bounds__(nb_block_threads(GW), nb_min_blocks(nb_block_threads(GW)))
    norm_fwd_rows_fast_kernel(const FwdParams p) {
  kernels::pdl_enter();
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  constexpr int WT = GW * 32, kThreads = nb_block_threads(GW), kGroups = kThreads / WT, E = ITEMS * VEC;
  // Up to 16 values per thread the row is held as f32 (converted once); beyond, as loaded (16-bit
  // packs, 4 registers per 8 values) and converted where used: 32 f32 values spill at the
  // 64-register cap. Packed rows let one warp hold a 1024-element row (4 vectors per lane), with
  // no barrier between warps per row.
  constexpr bool kPacked = E > 16;
  static_assert(E <= 32 && (!kPacked || sizeof(T) == 2), "at most 16 f32 or 32 16-bit values per thread");
  using P = Pack<T, VEC>;
  __shared__ float red[2][kThreads / 32];
  const NbGroupPos<GW> pos;
  // Item i of a thread covers columns tcol + i * kSpan .. + VEC: the per-item offsets are
  // compile-time constants (immediate offsets of the loads and stores, no per-item 64-bit
  // addresses held across the row loop), and `left` = n - tcol turns each bounds test into a
  // comparison with a constant.
  constexpr int kSpan = WT * VEC;
  const int tcol = pos.t * VEC;
  const int left = static_cast<int>(p.cols) - tcol;  // the plan keeps cols <= 32768
  const float inv_n = 1.f / static_cast<float>(p.cols);
  const float eps = static_cast<float>(p.eps);
  const W* w = p.weight ? static_cast<const W*>(p.weight) + tcol : nullptr;
  const W* b = p.bias ? static_cast<const W*>(p.bias) + tcol : nullptr;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kGroups;

  int64_t row = static_cast<int64_t>(blockIdx.x) * kGroups + pos.g;
  int parity = 0;  // rms norm: alternates the two reduction slot arrays between rows
  for (; row < p.rows; row += step, parity ^= 1) {
    // ---- the row's vectors, once ----
    P xv[ITEMS], rv[RES ? ITEMS : 1];
    {
      const T* xt = static_cast<const T*>(p.x) + row * p.x_stride + tcol;
      const T* rt = RES ? static_cast<const T*>(p.residual) + row * p.res_stride + tcol : nullptr;
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        if (i * kSpan < left) {
          xv[i] = load_pack<T, VEC>(xt + i * kSpan);
          if constexpr (RES) rv[i] = load_pack<T, VEC>(rt + i * kSpan);
        }
      }
      // The group's next row into L2 while this one is worked on: HBM keeps streaming across this
      // row's reductions and stores, where the pipe would drain (a prefetch into registers spilled
      // at the 64-register cap; here, right after the loads, the addresses cost no long-lived
      // registers). On the H200 it gained 2-13% without a residual and lost 3-5% with one (two
      // input rows in flight already), so the residual ops do not prefetch.
      if constexpr (!RES) {
        if (p.row_prefetch && row + step < p.rows) {
#pragma unroll
          for (int i = 0; i < ITEMS; ++i)  // a warp's 32 prefetches coalesce into its lines, as its loads do
            if (i * kSpan < left) kernels::prefetch_l2(xt + step * p.x_stride + i * kSpan);
        }
      }
    }
    float v[kPacked ? 1 : E];  // the row as f32 (unused when packed); pads 0
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if (i * kSpan < left) {
        if constexpr (RES) {
          // x + residual rounded once to T: the stored sum and the normalized values agree.
          float s[VEC];
#pragma unroll
          for (int j = 0; j < VEC; ++j) s[j] = nb_elem(xv[i], j) + nb_elem(rv[i], j);
          xv[i] = nb_round<T, VEC>(s);
        }
        if constexpr (!kPacked) {
#pragma unroll
          for (int j = 0; j < VEC; ++j) v[i * VEC + j] = nb_elem(xv[i], j);
        }
      } else if constexpr (!kPacked) {
#pragma unroll
        for (int j = 0; j < VEC; ++j) v[i * VEC + j] = 0.f;  // pads: add nothing to the first sum
      }
    }
    // Element j of item i as f32 (pads: 0 when held as f32; packed pads are never read).
    const auto val = [&](int i, int j) {
      if constexpr (kPacked) return nb_elem(xv[i], j);
      else return v[i * VEC + j];
    };
    if constexpr (RES) {
      if (p.sum) {
        T* st = static_cast<T*>(p.sum) + row * p.sum_stride + tcol;
#pragma unroll
        for (int i = 0; i < ITEMS; ++i)
          if (i * kSpan < left) store_pack<T, VEC>(st + i * kSpan, xv[i]);
      }
    }
    // ---- first row sum: sum x (layer norm) or sum x^2 (rms norm); 4 chains, a fixed order ----
    float acc[4] = {0.f, 0.f, 0.f, 0.f};
    const auto first_sum = [&](auto add) {
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        if (kPacked && i * kSpan >= left) continue;
#pragma unroll
        for (int j = 0; j < VEC; ++j) add(acc[j % 4], val(i, j));
      }
    };
    if (p.rms) first_sum([](float& a, float x) { a = fmaf(x, x, a); });
    else first_sum([](float& a, float x) { a += x; });
    const float first = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    float mean = 0.f, rstd;
    if (p.rms) {
      rstd = 1.f / sqrtf(nf_group_sum<GW>(first, red[parity] + pos.g * GW, 1 + pos.g) * inv_n + eps);
    } else {
      // Two reductions per row, red[0] then red[1]: the alternation that makes one barrier each safe.
      mean = nf_group_sum<GW>(first, red[0] + pos.g * GW, 1 + pos.g) * inv_n;
      float q[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        if (i * kSpan >= left) continue;  // pads out of the sum
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          const float d = val(i, j) - mean;
          if constexpr (!kPacked) v[i * VEC + j] = d;  // x - mean, kept for the output
          q[j % 4] = fmaf(d, d, q[j % 4]);
        }
      }
      const float sq = (q[0] + q[1]) + (q[2] + q[3]);
      rstd = 1.f / sqrtf(nf_group_sum<GW>(sq, red[1] + pos.g * GW, 1 + pos.g) * inv_n + eps);
    }
    if (pos.t == 0) {
      if (p.mean) static_cast<float*>(p.mean)[row] = mean;
      if (p.rstd) static_cast<float*>(p.rstd)[row] = rstd;
    }
    // ---- y = (x - mean) * rstd * w + b (the legacy kernels' order), 16-byte stores ----
    T* yt = static_cast<T*>(p.y) + row * p.y_stride + tcol;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if (i * kSpan >= left) continue;
      // x - mean (held as f32: v already is; rms: mean is 0)
      nf_store_vector<T, W, VEC>(yt + i * kSpan, w ? w + i * kSpan : nullptr, b ? b + i * kSpan : nullptr, rstd,
                                 [&](int j) { return kPacked ? val(i, j) - mean : val(i, j); });
    }
  }
}

// ---- staged: 16-bit rows of 16385 .. 32768 elements, no residual ----
constexpr int kNfStagedThreads = 1024, kNfStagedItems = 4;  // 32 warps x 4 vectors of 8: 32768

// OPT: kNfStaged* option bits (kernels/norm_rows_params.hpp).

template <int STAGES>
constexpr int nf_staged_smem_bytes() {
  return STAGES * kNfStagedItems * kNfStagedThreads * 16;
}

// Launch with kNfStagedThreads threads, nf_staged_smem_bytes<STAGES>() dynamic shared memory and
// at most the resident blocks (persistent: block b takes rows b, b + gridDim.x, ...). Needs
// 16-byte vectors (aligned bases and row strides, cols % VEC == 0), no residual, cols <=
// kNfStagedThreads * kNfStagedItems * VEC. Each thread copies and reads back only its own slots:
// cp.async.wait_group makes them visible to it, and a stage is refilled (prefetch of the row
// STAGES-1 ahead) only in the iteration after this thread's last read of it fed its stores.
template <class T, class W, int VEC, int STAGES, int OPT = 0>
__global__ void __launch_bounds__(kNfStagedThreads, 1) norm_fwd_rows_staged_kernel(const FwdParams p) {
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  static_assert(STAGES >= 2, "at least one row ahead");
  constexpr int NT = kNfStagedThreads, ITEMS = kNfStagedItems, kSpan = NT * VEC;
  constexpr bool kMerged = (OPT & kNfStagedMergedStats) != 0;
  constexpr bool kParamsInRegs = (OPT & kNfStagedParamsInRegs) != 0 && sizeof(W) == 2;
  using P = Pack<T, VEC>;
  extern __shared__ __align__(16) unsigned char nf_stage_mem[];
  __shared__ float red[2][(kMerged ? 3 : 1) * NT / 32];
  P* my_slots = reinterpret_cast<P*>(nf_stage_mem) + threadIdx.x;  // stage s, item i: [(s * ITEMS + i) * NT]
  const int tcol = static_cast<int>(threadIdx.x) * VEC;
  const int left = static_cast<int>(p.cols) - tcol;
  const float inv_n = 1.f / static_cast<float>(p.cols);
  const float eps = static_cast<float>(p.eps);
  const W* w = p.weight ? static_cast<const W*>(p.weight) + tcol : nullptr;
  const W* b = p.bias ? static_cast<const W*>(p.bias) + tcol : nullptr;
  const int64_t step = gridDim.x;
  if (p.pdl_prefetch >= 1 && left > 0) {  // the rows of the first copies, into L2 (kernels/pdl.cuh, "Before the wait")
    for (int64_t r = blockIdx.x, k = 0; k < STAGES - 1 && r < p.rows; ++k, r += step)
      kernels::pdl_prefetch_lines(reinterpret_cast<const char*>(static_cast<const T*>(p.x) + r * p.x_stride + tcol),
                                  kSpan * static_cast<int>(sizeof(T)), min(ITEMS, (left + kSpan - 1) / kSpan));
  }
  kernels::pdl_enter();
  Pack<W, VEC> w_held[kParamsInRegs ? ITEMS : 1], b_held[kParamsInRegs ? ITEMS : 1];
  if constexpr (kParamsInRegs) {
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if (i * kSpan >= left) continue;
      if (w) w_held[i] = load_pack<W, VEC>(w + i * kSpan);
      if (b) b_held[i] = load_pack<W, VEC>(b + i * kSpan);
    }
  }
  auto prefetch = [&](int64_t row, int stage) {
    if (row < p.rows) {
      const T* xt = static_cast<const T*>(p.x) + row * p.x_stride + tcol;
#pragma unroll
      for (int i = 0; i < ITEMS; ++i)
        if (i * kSpan < left) stage_copy16(my_slots + (stage * ITEMS + i) * NT, xt + i * kSpan);
    }
    stage_commit();  // possibly empty: "all but the newest STAGES-1" keeps meaning "this row's"
  };
  int64_t row = blockIdx.x;
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) prefetch(row + s * step, s);
  int parity = 0;
  for (int stage = 0; row < p.rows; row += step, stage = stage + 1 == STAGES ? 0 : stage + 1, parity ^= 1) {
    prefetch(row + (STAGES - 1) * step, stage == 0 ? STAGES - 1 : stage - 1);
    kernels::stage_wait_all_but<STAGES - 1>();
    const P* slots = my_slots + stage * ITEMS * NT;
    auto elem = [&](int i, int j) { return nb_elem(slots[i * NT], j); };
    // This thread's sum of (x - center)^2, 4 chains in a fixed order.
    const auto squared_deviations = [&](float center) {
      float q[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        if (i * kSpan >= left) continue;
        const P v = slots[i * NT];
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          const float d = nb_elem(v, j) - center;
          q[j % 4] = fmaf(d, d, q[j % 4]);
        }
      }
      return (q[0] + q[1]) + (q[2] + q[3]);
    };
    float mean = 0.f, rstd;
    if (kMerged && !p.rms) {
      // This thread's count, sum and (after its own mean) M2, then one group reduction.
      float acc[4] = {0.f, 0.f, 0.f, 0.f};
      int count = 0;
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        if (i * kSpan >= left) continue;
        const P v = slots[i * NT];
        count += VEC;
#pragma unroll
        for (int j = 0; j < VEC; ++j) acc[j % 4] += nb_elem(v, j);
      }
      const float n_t = static_cast<float>(count);
      const float m_t = count ? ((acc[0] + acc[1]) + (acc[2] + acc[3])) / n_t : 0.f;
      const NfStats st = nf_group_stats<32>({n_t, m_t, squared_deviations(m_t)}, red[parity], 1);
      mean = st.mean;
      rstd = 1.f / sqrtf(st.m2 * inv_n + eps);
    } else {
      float acc[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        if (i * kSpan >= left) continue;
        const P v = slots[i * NT];
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          const float x = nb_elem(v, j);
          acc[j % 4] = p.rms ? fmaf(x, x, acc[j % 4]) : acc[j % 4] + x;
        }
      }
      const float first = (acc[0] + acc[1]) + (acc[2] + acc[3]);
      if (p.rms) {
        rstd = 1.f / sqrtf(nf_group_sum<32>(first, red[parity], 1) * inv_n + eps);
      } else {
        mean = nf_group_sum<32>(first, red[0], 1) * inv_n;
        rstd = 1.f / sqrtf(nf_group_sum<32>(squared_deviations(mean), red[1], 1) * inv_n + eps);
      }
    }
    if (threadIdx.x == 0) {
      if (p.mean) static_cast<float*>(p.mean)[row] = mean;
      if (p.rstd) static_cast<float*>(p.rstd)[row] = rstd;
    }
    T* yt = static_cast<T*>(p.y) + row * p.y_stride + tcol;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if (i * kSpan >= left) continue;
      Pack<W, VEC> wv, bv;
      if constexpr (kParamsInRegs) {
        wv = w_held[i];
        bv = b_held[i];
      } else {
        if (w) wv = load_pack<W, VEC>(w + i * kSpan);
        if (b) bv = load_pack<W, VEC>(b + i * kSpan);
      }
      float o[VEC];
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        float r = (elem(i, j) - mean) * rstd;
        if (w) r *= nb_elem(wv, j);
        if (b) r += nb_elem(bv, j);
        o[j] = r;
      }
      store_pack<T, VEC>(yt + i * kSpan, nb_round<T, VEC>(o));
    }
  }
}

}  // namespace baracuda::norm::cuda
