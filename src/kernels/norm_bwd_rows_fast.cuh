#pragma once
// The rows engine of the layer_norm / rms_norm backward (dx, optionally per-block dweight/dbias
// partials): unit-stride rows of f32 / f16 / bf16 with 16-byte vectors (row length and row
// strides multiples of the vector, 16-byte aligned bases), f32 math. Same design as the softmax
// rows engines (kernels/softmax_rows_fast.cuh), which reached 92% of copy on the H200:
//   - a row group of GW warps owns a row; a block of max(256, GW*32) threads holds several groups
//     for short rows; groups synchronize with named barriers only, so one group's reduction never
//     stalls another group's loads;
//   - every vector of x and dy is loaded once, up front (2 x ITEMS 16-byte loads in flight per
//     thread), and kept AS LOADED (16-bit data stays packed: 4 registers per 8 elements); each
//     element is converted when used (pass 1: the two row sums; pass 2: dx);
//   - the two row sums (sum g and sum g*(x - mean), g = dy*w) are reduced together: warp
//     shuffles, then one shared-memory exchange and one barrier per row and group;
//   - int32 column math; row bases are row * stride (no 64-bit division); at most 64 registers
//     (__launch_bounds__ min blocks), which is what keeps enough bytes in flight per SM;
//   - persistent blocks (grid = SMs x resident blocks): with PARAMS each thread accumulates
//     dy*xhat and dy for its own columns over all rows its group handles, in registers (or, with
//     SHARED_SUMS, in its own shared-memory slots, which leaves the registers to loads); the
//     groups of a block are then added in group order through shared memory and the block writes
//     ONE partial row per parameter (workspace [gridDim.x, cols] f32), which norm_bwd_params
//     sums in a fixed order. No atomics: bitwise reproducible for a given grid.
// Rows wider than the register sums allow (> 8192 columns) take the shared-memory sums where
// they fit, else get dweight/dbias from norm_bwd_cols_kernel, a column pass over dy and x after
// dx (bottom of this file).
// dx = rstd * (g - mean_j(g) - xhat * mean_j(g * xhat)), xhat = (x - mean) * rstd (layer norm);
// rms norm: mean = 0 and no mean_j(g) term.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/cp_async.cuh"   // prefetch_l2
#include "kernels/norm_rows.cuh"  // Pack, load_pack, store_pack, to_acc
#include "kernels/norm_rows_params.hpp"
#include "kernels/pdl.cuh"  // every kernel begins with kernels::pdl_enter

namespace baracuda::norm::cuda {

// Threads of one row group wait for each other; groups of a block use distinct barriers (1..15;
// 0 is __syncthreads').
__device__ __forceinline__ void nb_group_barrier(int id, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

// Ties a loaded pack to this point of the program, so the compiler converts it again where it is
// used next instead of keeping pass 1's f32 copies alive across the reduction (twice the registers).
template <class T, int VEC>
__device__ __forceinline__ void nb_keep_packed(Pack<T, VEC>& r) {
  static_assert(sizeof(r) % 4 == 0, "a 16-byte pack");
  uint32_t* w = reinterpret_cast<uint32_t*>(&r);
#pragma unroll
  for (int i = 0; i < static_cast<int>(sizeof(r) / 4); ++i) asm volatile("" : "+r"(w[i]));
}

// Thread geometry of a row group: t is the thread's index in its row (0 .. GW*32-1), g the
// group's index in the block.
template <int GW>
struct NbGroupPos {
  int t, g;
  __device__ __forceinline__ NbGroupPos() {
    const int warp = static_cast<int>(threadIdx.x >> 5);
    t = (warp % GW) * 32 + static_cast<int>(threadIdx.x & 31);
    g = warp / GW;
  }
};

// (a, b) summed over the row group, returned to every thread of it, in a fixed order. `slots`
// holds the group's 2*GW floats. Callers alternate two slot arrays between rows, so one barrier
// per row suffices: a slot array is rewritten only after every warp of the group passed the
// barrier of the other array's exchange, which follows its read of this one.
template <int GW>
__device__ __forceinline__ void nb_group_sum2(float& a, float& b, float* slots, int bar_id) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    a += __shfl_xor_sync(0xffffffffu, a, o);
    b += __shfl_xor_sync(0xffffffffu, b, o);
  }
  if constexpr (GW > 1) {
    const int lane = threadIdx.x & 31, w = (threadIdx.x >> 5) % GW;
    if (lane == 0) {
      slots[w] = a;
      slots[GW + w] = b;
    }
    nb_group_barrier(bar_id, GW * 32);
    a = lane < GW ? slots[lane] : 0.f;
    b = lane < GW ? slots[GW + lane] : 0.f;
#pragma unroll
    for (int o = (GW > 16 ? 16 : GW / 2); o > 0; o >>= 1) {
      a += __shfl_xor_sync(0xffffffffu, a, o);
      b += __shfl_xor_sync(0xffffffffu, b, o);
    }
    a = __shfl_sync(0xffffffffu, a, 0);  // lanes >= GW hold partial butterflies: lane 0 has the total
    b = __shfl_sync(0xffffffffu, b, 0);
  }
}

// VEC floats rounded to T; 16-bit pairs with one paired conversion.
template <class T, int VEC>
__device__ __forceinline__ Pack<T, VEC> nb_round(const float* f) {
  Pack<T, VEC> o;
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
#pragma unroll
    for (int j = 0; j < VEC; j += 2) reinterpret_cast<__nv_bfloat162*>(o.v)[j / 2] = __floats2bfloat162_rn(f[j], f[j + 1]);
  } else if constexpr (std::is_same_v<T, __half>) {
#pragma unroll
    for (int j = 0; j < VEC; j += 2) reinterpret_cast<__half2*>(o.v)[j / 2] = __floats2half2_rn(f[j], f[j + 1]);
  } else {
#pragma unroll
    for (int j = 0; j < VEC; ++j) o.v[j] = f[j];
  }
  return o;
}

// Element j of a pack as f32. bf16 by a shift of its packed 32-bit word (the generic
// conversion kept more registers alive: the bf16 column pass spilled at 64 and 80 registers
// with it, none at 64 with the shift).
template <class T, int VEC>
__device__ __forceinline__ float nb_elem(const Pack<T, VEC>& v, int j) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    const uint32_t w = reinterpret_cast<const uint32_t*>(v.v)[j / 2];
    return __uint_as_float(j % 2 == 0 ? w << 16 : w & 0xffff0000u);
  } else {
    return to_acc<float>(v.v[j]);
  }
}

// The row `ahead` rows below (x at xr, dy at dyr; row strides x_stride, dy_stride) into L2:
// this thread's ITEMS vectors, item i at column (i * WT + t) * VEC, those below n. A warp's 32
// prefetches coalesce into its lines, as its loads do. Shared by the rows and cluster kernels.
template <int VEC, int ITEMS, int WT, class T>
__device__ __forceinline__ void nb_prefetch_row(const T* xr, const T* dyr, int64_t ahead, int64_t x_stride,
                                                int64_t dy_stride, int t, int n) {
#pragma unroll
  for (int i = 0; i < ITEMS; ++i) {
    const int col = (i * WT + t) * VEC;
    if (col < n) {
      kernels::prefetch_l2(xr + ahead * x_stride + col);
      kernels::prefetch_l2(dyr + ahead * dy_stride + col);
    }
  }
}

// One element of pass 1 (weight wj, ignored unless weighted): adds g into sg and g * (x - mean)
// into sgd.
__device__ __forceinline__ void nb_pass1_element(float d, float x, float wj, bool weighted, float mean, float& sg,
                                                 float& sgd) {
  const float g = weighted ? d * wj : d;
  sg += g;
  sgd = fmaf(g, x - mean, sgd);
}
// Pass 1 of a row, one vector (weight w, or null, at column col): adds its g = dy * w (dy without
// weight) into sg and g * (x - mean) into sgd, two chains each by element parity (a fixed order).
// Shared by the rows and cluster kernels, so both sum a vector the same way.
template <class T, class W, int VEC>
__device__ __forceinline__ void nb_pass1_vector(const Pack<T, VEC>& dv, const Pack<T, VEC>& xv, const W* w, int col,
                                                float mean, float (&sg)[2], float (&sgd)[2]) {
  Pack<W, VEC> wv;
  if (w) wv = load_pack<W, VEC>(w + col);
#pragma unroll
  for (int j = 0; j < VEC; ++j)
    nb_pass1_element(nb_elem(dv, j), nb_elem(xv, j), w ? nb_elem(wv, j) : 0.f, w != nullptr, mean, sg[j & 1],
                     sgd[j & 1]);
}

// Pass 2, one element: xhat = (x - mean) * rstd and dx = rstd * (g - mg - xhat * mgx).
struct NbDx {
  float xhat, dx;
};
// The same from the element's values (weight wj, ignored unless weighted).
__device__ __forceinline__ NbDx nb_dx_value(float d, float x, float wj, bool weighted, float mean, float rstd, float mg,
                                            float mgx) {
  const float g = weighted ? d * wj : d;
  const float xhat = (x - mean) * rstd;
  return {xhat, rstd * fmaf(-xhat, mgx, g - mg)};
}
template <class T, class W, int VEC>
__device__ __forceinline__ NbDx nb_dx_element(const Pack<T, VEC>& dv, const Pack<T, VEC>& xv, const Pack<W, VEC>& wv,
                                              bool weighted, int j, float mean, float rstd, float mg, float mgx) {
  return nb_dx_value(nb_elem(dv, j), nb_elem(xv, j), weighted ? nb_elem(wv, j) : 0.f, weighted, mean, rstd, mg, mgx);
}

constexpr int nb_block_threads(int gw) { return gw * 32 > 256 ? gw * 32 : 256; }
// Dynamic shared memory of the SHARED_SUMS backward kernel: one f32 sum per element a block holds,
// per parameter summed (SHARED_SUMS of them).
constexpr int nb_smem_sums_bytes(int gw, int items, int vec, int params) {
  return params * nb_block_threads(gw) * items * vec * 4;
}
// Whether the backward rows kernel prefetches each next row into L2 (see its loop).
template <int ITEMS, int GROUPS>
inline constexpr bool kBwdRowPrefetch = ITEMS == 1 && GROUPS == 1;
// At most 64 registers per thread: half the SM's threads resident at least.
constexpr int nb_min_blocks(int threads) { return 65536 / (64 * threads); }

// Launch with nb_block_threads(GW) threads; p.rows rows of p.cols (<= GW*32*ITEMS*VEC) columns;
// p.dsum must be null. PARAMS: p.partial_dw / p.partial_db (either may be null) have gridDim.x
// rows of p.cols floats; every block writes its whole row (zeros when it had no rows).
// SHARED_SUMS (1: dweight, p.partial_dw set and p.partial_db null; 2: dweight then dbias, either
// partial pointer may be null): the per-column sums live in nb_smem_sums_bytes of dynamic shared
// memory instead of registers (a compile-time count: runtime choices cost registers), each slot
// touched by its owner only until the blocks' groups are added (no barrier per row). That frees
// the registers the sums took, so the kernel runs the dx-only geometry (2 or 4 vectors of x and
// dy per thread in flight instead of 1), and rows too wide for register sums (> 8192 columns)
// still get dweight/dbias in the same pass instead of the column pass over x and dy.
// Per parameter the sums are [group][element quad q = e / 4][thread of the group][e % 4] (a
// thread's 4 consecutive sums are one 16-byte word, a warp's 16-byte accesses contiguous) up to 2
// vectors per thread; at 4 vectors, [group][element][thread] with one 4-byte access per sum: the
// quads' four live xhat values spilled there (84 bytes at the 64-register cap), the scalar form
// 8 bytes.
template <class T, class W, int VEC, int ITEMS, int GW, bool PARAMS, int SHARED_SUMS = 0>
__global__ void __launch_bounds__(nb_block_threads(GW), nb_min_blocks(nb_block_threads(GW)))
    norm_bwd_rows_fast_kernel(const BwdParams p) {
  kernels::pdl_enter();
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  constexpr int WT = GW * 32, kThreads = nb_block_threads(GW), kGroups = kThreads / WT, E = ITEMS * VEC;
  constexpr bool SMEM_SUMS = SHARED_SUMS > 0;
  static_assert(SHARED_SUMS >= 0 && SHARED_SUMS <= 2 && (!SMEM_SUMS || PARAMS), "shared-memory sums are parameter sums");
  static_assert(E % 4 == 0, "sums in 16-byte quads");
  constexpr bool kRegSums = PARAMS && !SMEM_SUMS;
  __shared__ float red[2][2 * (kThreads / 32)];
  extern __shared__ __align__(16) float nb_smem_sums[];  // SMEM_SUMS: [param][group] blocks of E x WT sums
  constexpr bool kQuadSums = ITEMS <= 2;
  const NbGroupPos<GW> pos;
  const int n = static_cast<int>(p.cols);  // the plan keeps it <= GW*32*ITEMS*VEC
  const float inv_n = 1.f / static_cast<float>(n);
  const W* w = static_cast<const W*>(p.weight);
  const float* mean_p = static_cast<const float*>(p.mean);  // null: rms
  const float* rstd_p = static_cast<const float*>(p.rstd);
  float dw[kRegSums ? E : 1], db[kRegSums ? E : 1];
#pragma unroll
  for (int e = 0; e < (kRegSums ? E : 1); ++e) dw[e] = db[e] = 0.f;
  // SMEM_SUMS: this thread's sum of element e for parameter prm (0: dweight, 1: dbias) in group g.
  const auto sum_slot = [&](int prm, int g, int e) -> float& {
    const int block = (prm * kGroups + g) * E * WT;
    return kQuadSums ? nb_smem_sums[block + ((e / 4) * WT + pos.t) * 4 + e % 4] : nb_smem_sums[block + e * WT + pos.t];
  };
  if constexpr (SMEM_SUMS) {
#pragma unroll
    for (int e = 0; e < E; ++e) {
      sum_slot(0, pos.g, e) = 0.f;
      if constexpr (SHARED_SUMS == 2) sum_slot(1, pos.g, e) = 0.f;
    }
  }

  int parity = 0;  // alternates the two reduction slot arrays between rows
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kGroups + pos.g; row < p.rows;
       row += static_cast<int64_t>(gridDim.x) * kGroups, parity ^= 1) {
    const T* xr = static_cast<const T*>(p.x) + row * p.x_stride;
    const T* dyr = static_cast<const T*>(p.dy) + row * p.dy_stride;
    Pack<T, VEC> xv[ITEMS], dv[ITEMS];
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + pos.t) * VEC;
      if (col < n) {
        xv[i] = load_pack<T, VEC>(xr + col);
        dv[i] = load_pack<T, VEC>(dyr + col);
      }
    }
    // The group's next row into L2 while this one is worked on: HBM keeps streaming across this
    // row's reduction and stores, where the pipe would drain (a prefetch into registers spilled at
    // the 64-register cap; here, right after the loads, the addresses cost no long-lived registers).
    // Only where a block is one row group with one vector per thread (kBwdRowPrefetch): on the H200
    // that gained 5-6% (dweight/dbias at 32768x4096), while rows of 2 and 4 vectors per thread, or
    // blocks of several groups (whose other groups stream during a group's barrier), lost 1-18%.
    if (kBwdRowPrefetch<ITEMS, kGroups> && p.row_prefetch && row + static_cast<int64_t>(gridDim.x) * kGroups < p.rows) {
      nb_prefetch_row<VEC, ITEMS, WT>(xr, dyr, static_cast<int64_t>(gridDim.x) * kGroups, p.x_stride, p.dy_stride,
                                      pos.t, n);
    }
    const float mean = mean_p ? mean_p[row] : 0.f, rstd = rstd_p[row];
    // Pass 1: sum g and sum g*(x - mean) (two chains each, a fixed order).
    float sg[2] = {0.f, 0.f}, sgd[2] = {0.f, 0.f};
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + pos.t) * VEC;
      if (col < n) nb_pass1_vector<T, W, VEC>(dv[i], xv[i], w, col, mean, sg, sgd);
    }
    float s_g = sg[0] + sg[1], s_gd = sgd[0] + sgd[1];
    nb_group_sum2<GW>(s_g, s_gd, red[parity] + pos.g * 2 * GW, 1 + pos.g);
    const float mg = p.rms ? 0.f : s_g * inv_n;  // layer norm only
    const float mgx = rstd * s_gd * inv_n;       // mean_j(g * xhat)
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      nb_keep_packed(xv[i]);
      nb_keep_packed(dv[i]);
    }
    // Pass 2: dx (and the parameter sums) from the packs still held.
    T* dxr = static_cast<T*>(p.dx) + row * p.dx_stride;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + pos.t) * VEC;
      if (col < n) {
        Pack<W, VEC> wv;
        if (w) wv = load_pack<W, VEC>(w + col);
        float o[VEC];
        // Four elements at a time: with quad sums one 16-byte read-modify-write per parameter (the
        // same FMAs as the register sums) right after the four are computed.
#pragma unroll
        for (int jq = 0; jq < VEC; jq += 4) {
          float xq[4];
#pragma unroll
          for (int u = 0; u < 4; ++u) {
            const int j = jq + u;
            const float d = nb_elem(dv[i], j);
            const NbDx r = nb_dx_element<T, W, VEC>(dv[i], xv[i], wv, w != nullptr, j, mean, rstd, mg, mgx);
            const float xhat = r.xhat;
            o[j] = r.dx;
            xq[u] = xhat;
            if constexpr (kRegSums) {
              dw[i * VEC + j] = fmaf(d, xhat, dw[i * VEC + j]);
              db[i * VEC + j] += d;
            } else if constexpr (SMEM_SUMS && !kQuadSums) {
              float& sw = sum_slot(0, pos.g, i * VEC + j);
              sw = fmaf(d, xhat, sw);
              if constexpr (SHARED_SUMS == 2) sum_slot(1, pos.g, i * VEC + j) += d;
            }
          }
          if constexpr (SMEM_SUMS && kQuadSums) {
            const int e = i * VEC + jq;
            const float d0 = nb_elem(dv[i], jq), d1 = nb_elem(dv[i], jq + 1), d2 = nb_elem(dv[i], jq + 2),
                        d3 = nb_elem(dv[i], jq + 3);
            float4& sw = reinterpret_cast<float4&>(sum_slot(0, pos.g, e));
            sw = make_float4(fmaf(d0, xq[0], sw.x), fmaf(d1, xq[1], sw.y), fmaf(d2, xq[2], sw.z), fmaf(d3, xq[3], sw.w));
            if constexpr (SHARED_SUMS == 2) {
              float4& sb = reinterpret_cast<float4&>(sum_slot(1, pos.g, e));
              sb = make_float4(sb.x + d0, sb.y + d1, sb.z + d2, sb.w + d3);
            }
          }
        }
        store_pack<T, VEC>(dxr + col, nb_round<T, VEC>(o));
      }
    }
  }

  // The thread's sums into a block's partial row: element e = i * VEC + j sits at column
  // (i * WT + t) * VEC + j; VEC consecutive sums per vector, 16-byte stores (cols % VEC == 0).
  const auto store_partial = [&](float* row, auto sum_of) {
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + pos.t) * VEC;
      if (col < n) {
#pragma unroll
        for (int j = 0; j < VEC; j += 4) {
          const int e = i * VEC + j;
          *reinterpret_cast<float4*>(row + col + j) = make_float4(sum_of(e), sum_of(e + 1), sum_of(e + 2), sum_of(e + 3));
        }
      }
    }
  };
  if constexpr (SMEM_SUMS) {
    // The groups of the block added in group order by group 0's threads (each reads the slots of
    // its own columns in every group).
    if constexpr (kGroups > 1) {
      __syncthreads();
      if (pos.g != 0) return;
    }
    const int64_t at = static_cast<int64_t>(blockIdx.x) * p.cols;
    const auto group_sum = [&](int prm, int e) {
      float s = sum_slot(prm, 0, e);
#pragma unroll
      for (int g = 1; g < kGroups; ++g) s += sum_slot(prm, g, e);
      return s;
    };
    if (p.partial_dw) store_partial(static_cast<float*>(p.partial_dw) + at, [&](int e) { return group_sum(0, e); });
    if (SHARED_SUMS == 2 && p.partial_db)
      store_partial(static_cast<float*>(p.partial_db) + at, [&](int e) { return group_sum(1, e); });
  } else if constexpr (PARAMS) {
    float* pdw = static_cast<float*>(p.partial_dw);
    float* pdb = static_cast<float*>(p.partial_db);
    const int64_t at = static_cast<int64_t>(blockIdx.x) * p.cols;
    if constexpr (kGroups > 1) {
      // Groups of the block added in group order: [param][group][element][thread of the group].
      __shared__ float comb[2][kGroups][E][WT];
#pragma unroll
      for (int e = 0; e < E; ++e) {
        comb[0][pos.g][e][pos.t] = dw[e];
        comb[1][pos.g][e][pos.t] = db[e];
      }
      __syncthreads();
      if (pos.g != 0) return;
#pragma unroll
      for (int e = 0; e < E; ++e) {
        float sw = comb[0][0][e][pos.t], sb = comb[1][0][e][pos.t];
#pragma unroll
        for (int g = 1; g < kGroups; ++g) {
          sw += comb[0][g][e][pos.t];
          sb += comb[1][g][e][pos.t];
        }
        dw[e] = sw;
        db[e] = sb;
      }
    }
    if (pdw) store_partial(pdw + at, [&](int e) { return dw[e]; });
    if (pdb) store_partial(pdb + at, [&](int e) { return db[e]; });
  }
}

// dweight/dbias of rows too wide for the fused partials (their per-thread sums would not fit
// the register budget): a column pass over dy and x after the dx kernel. Block = kColWarps warps
// over 32*VEC adjacent columns (each lane one 16-byte vector per row: 512 contiguous bytes per
// warp and row) and a chunk of rows (blockIdx.y); warp w takes rows w, w + kColWarps, ... of the
// chunk, kColUnroll rows per step (2 x kColUnroll loads in flight per thread); the warps are then
// added in warp order through shared memory and the block writes row blockIdx.y of the partials
// ([gridDim.y, cols] floats each; either pointer may be null), which norm_bwd_params sums.
constexpr int kColWarps = 8, kColUnroll = 4;

template <class T, int VEC>
__global__ void __launch_bounds__(kColWarps * 32, 4) norm_bwd_cols_kernel(const BwdParams p, int64_t rows_per_chunk) {
  kernels::pdl_enter();
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  __shared__ float part[2][kColWarps][VEC][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int n = static_cast<int>(p.cols);
  const int col = (static_cast<int>(blockIdx.x) * 32 + lane) * VEC;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < p.rows ? r0 + rows_per_chunk : p.rows;
  const float* mean_p = static_cast<const float*>(p.mean);
  const float* rstd_p = static_cast<const float*>(p.rstd);
  float dw[VEC], db[VEC];
#pragma unroll
  for (int j = 0; j < VEC; ++j) dw[j] = db[j] = 0.f;
  if (col < n) {
    for (int64_t r = r0 + warp; r < r1; r += kColWarps * kColUnroll) {
      Pack<T, VEC> xv[kColUnroll], dv[kColUnroll];
#pragma unroll
      for (int u = 0; u < kColUnroll; ++u) {
        const int64_t row = r + static_cast<int64_t>(u) * kColWarps;
        if (row < r1) {
          xv[u] = load_pack<T, VEC>(static_cast<const T*>(p.x) + row * p.x_stride + col);
          dv[u] = load_pack<T, VEC>(static_cast<const T*>(p.dy) + row * p.dy_stride + col);
        }
      }
#pragma unroll
      for (int u = 0; u < kColUnroll; ++u) {
        const int64_t row = r + static_cast<int64_t>(u) * kColWarps;
        if (row < r1) {
          const float mean = mean_p ? mean_p[row] : 0.f, rstd = rstd_p[row];
#pragma unroll
          for (int j = 0; j < VEC; ++j) {
            const float d = nb_elem(dv[u], j);
            dw[j] = fmaf(d, (nb_elem(xv[u], j) - mean) * rstd, dw[j]);
            db[j] += d;
          }
        }
      }
    }
  }
#pragma unroll
  for (int j = 0; j < VEC; ++j) {
    part[0][warp][j][lane] = dw[j];
    part[1][warp][j][lane] = db[j];
  }
  __syncthreads();
  if (warp != 0 || col >= n) return;
#pragma unroll
  for (int j = 0; j < VEC; ++j) {
    float sw = part[0][0][j][lane], sb = part[1][0][j][lane];
#pragma unroll
    for (int k = 1; k < kColWarps; ++k) {
      sw += part[0][k][j][lane];
      sb += part[1][k][j][lane];
    }
    dw[j] = sw;
    db[j] = sb;
  }
  float* pdw = static_cast<float*>(p.partial_dw);
  float* pdb = static_cast<float*>(p.partial_db);
  const int64_t at = static_cast<int64_t>(blockIdx.y) * p.cols + col;
#pragma unroll
  for (int j = 0; j < VEC; j += 4) {
    if (pdw) *reinterpret_cast<float4*>(pdw + at + j) = make_float4(dw[j], dw[j + 1], dw[j + 2], dw[j + 3]);
    if (pdb) *reinterpret_cast<float4*>(pdb + at + j) = make_float4(db[j], db[j + 1], db[j + 2], db[j + 3]);
  }
}

}  // namespace baracuda::norm::cuda
