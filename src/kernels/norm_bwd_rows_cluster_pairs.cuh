#pragma once
// The wide-row norm backward with fused dweight/dbias (sm_90), two rows per step: the two-CTA
// cluster kernel of kernels/norm_bwd_rows_cluster.cuh (each CTA half a row, the dweight/dbias sums
// of its columns in its own shared-memory slots), but each step holds rows r and r + clusters
// together. Why: at one row per step the H200 ran layer_norm dweight/dbias 4096x32768 bf16 at
// 2833 GB/s and rms_norm dweight at 3153, against 4068 for dx alone, because per row
//   - every thread read-modified-wrote its 16 columns' sums in shared memory (16 B per column and
//     row for two parameters: about 16 MB per SM at 4096 rows, some 70 us at 128 B/clock), and
//     while all warps did that, no load of the next row was in flight (one 1024-thread CTA per SM);
//   - the CTA barrier and the cluster barrier of the row statistics drained the load pipe.
// With two rows per step, 128 KB of x and dy are in flight per SM (as in the dx-only kernel), the
// sums are read and written once for both rows (half the shared-memory traffic), the weight is
// loaded once for both, and the statistics of both rows share one CTA and one cluster barrier.
// Both rows' statistics are reduced in one group reduction of four values (the same order per
// value as nb_group_sum2), and the sums take row r's term before row r + clusters', as the one-row
// kernel does: for a given grid, the same operations in the same order as the one-row kernel
// (deterministic; equal to it up to how the compiler contracts multiply-adds in each kernel).
//
// Row b travels by cp.async into 64 KB of shared memory beside the sums (each thread its own
// slots, so no barrier), row a into registers: both rows in registers spilled 50-200 bytes at the
// 64-register cap of 1024 threads.
//
// Launch as norm_bwd_rows_cluster_kernel: grid.x = 2 x clusters, cluster dims (2, 1, 1),
// kNcThreads threads, nb_smem_sums_bytes(32, ITEMS, VEC, SUMS) + nb_pair_stage_bytes(ITEMS) of
// dynamic shared memory; p.cols a
// multiple of 2 x VEC with p.cols / 2 <= kNcThreads * ITEMS * VEC. SUMS: 1 (dweight), 2 (dweight,
// dbias).
#include <cooperative_groups.h>

#include <type_traits>

#include "kernels/cp_async.cuh"          // stage_copy16_if, stage_commit, stage_wait_all
#include "kernels/norm_bwd_rows_fast.cuh"  // nb_* helpers, Pack, load_pack, store_pack

namespace baracuda::norm::cuda {

// Row b's staging: ITEMS 16-byte vectors of x and of dy per thread.
constexpr int nb_pair_stage_bytes(int items) { return 2 * items * kNcThreads * 16; }

// N values summed over a row group of GW warps, returned to every thread of it: per value the
// order of nb_group_sum2 (so a row's totals do not depend on how many rows share the reduction).
// `slots` holds N * GW floats; callers alternate two slot arrays between steps, as there.
template <int GW, int N>
__device__ __forceinline__ void nb_group_sum_n(float (&v)[N], float* slots, int bar_id) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
#pragma unroll
    for (int k = 0; k < N; ++k) v[k] += __shfl_xor_sync(0xffffffffu, v[k], o);
  }
  if constexpr (GW > 1) {
    const int lane = threadIdx.x & 31, w = (threadIdx.x >> 5) % GW;
    if (lane == 0) {
#pragma unroll
      for (int k = 0; k < N; ++k) slots[k * GW + w] = v[k];
    }
    nb_group_barrier(bar_id, GW * 32);
#pragma unroll
    for (int k = 0; k < N; ++k) v[k] = lane < GW ? slots[k * GW + lane] : 0.f;
#pragma unroll
    for (int o = (GW > 16 ? 16 : GW / 2); o > 0; o >>= 1) {
#pragma unroll
      for (int k = 0; k < N; ++k) v[k] += __shfl_xor_sync(0xffffffffu, v[k], o);
    }
#pragma unroll
    for (int k = 0; k < N; ++k) v[k] = __shfl_sync(0xffffffffu, v[k], 0);
  }
}

// Elements j, j + 1 of a dx pack from f32 (j even), rounded as nb_round does.
template <class T, int VEC>
__device__ __forceinline__ void nb_set_pair(Pack<T, VEC>& o, int j, float a, float b) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    reinterpret_cast<__nv_bfloat162*>(o.v)[j / 2] = __floats2bfloat162_rn(a, b);
  } else if constexpr (std::is_same_v<T, __half>) {
    reinterpret_cast<__half2*>(o.v)[j / 2] = __floats2half2_rn(a, b);
  } else {
    o.v[j] = a;
    o.v[j + 1] = b;
  }
}

template <class T, class W, int VEC, int ITEMS, int SUMS>
__global__ void __launch_bounds__(kNcThreads, 1) norm_bwd_rows_cluster_pairs_kernel(const BwdParams p) {
  kernels::pdl_enter();
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  static_assert(SUMS == 1 || SUMS == 2, "dweight, or dweight and dbias");
  constexpr int WT = kNcThreads, E = ITEMS * VEC, GW = WT / 32;
  static_assert(E % 4 == 0 && VEC % 4 == 0, "sums in 16-byte quads");
  namespace cg = cooperative_groups;
  const cg::cluster_group cluster = cg::this_cluster();
  const unsigned rank = cluster.block_rank();
  __shared__ float red[2][4 * GW];
  __shared__ float xchg[2][4];  // per parity: this CTA's (sum g, sum g*(x - mean)) of rows a and b
  // The sums, [SUMS][E / 4][WT][4] floats, then row b's staging: [ITEMS][x, dy][WT] 16-byte vectors.
  extern __shared__ __align__(16) float nc_sums[];

  const int t = static_cast<int>(threadIdx.x);
  const int n = static_cast<int>(p.cols);
  const int half = n / 2;
  const int c0 = static_cast<int>(rank) * half;  // this CTA's first column
  const float inv_n = 1.f / static_cast<float>(n);
  const W* w = static_cast<const W*>(p.weight);
  const float* mean_p = static_cast<const float*>(p.mean);  // null: rms
  const float* rstd_p = static_cast<const float*>(p.rstd);
  const int64_t step = gridDim.x / 2;  // clusters: row b of a step is row a + step
  constexpr int kDbQuads = (E / 4) * WT;
  float4* const quads = reinterpret_cast<float4*>(nc_sums) + t;  // quad q at quads[q * WT]
  uint4* const stage = reinterpret_cast<uint4*>(nc_sums + SUMS * E * WT) + t;  // vector (i, k) at [(2i + k) WT]
  // Row b's vector i of x (k = 0) or dy (k = 1), as this thread staged it.
  const auto staged = [&](int i, int k) {
    Pack<T, VEC> v;
    *reinterpret_cast<uint4*>(&v) = stage[(2 * i + k) * WT];
    return v;
  };
#pragma unroll
  for (int q = 0; q < E / 4; ++q) {
    quads[q * WT] = make_float4(0.f, 0.f, 0.f, 0.f);
    if constexpr (SUMS == 2) quads[kDbQuads + q * WT] = make_float4(0.f, 0.f, 0.f, 0.f);
  }

  int parity = 0;
  for (int64_t row = blockIdx.x / 2; row < p.rows; row += 2 * step, parity ^= 1) {
    // TWO: row b exists (false only on a cluster's last step, for both of its CTAs alike), a
    // compile-time flag so that the pair's code carries no per-element test of it.
    const auto rows_step = [&](auto two) {
      constexpr bool TWO = decltype(two)::value;
      const T* xa = static_cast<const T*>(p.x) + row * p.x_stride + c0;
      const T* dya = static_cast<const T*>(p.dy) + row * p.dy_stride + c0;
      const T* xb = xa + step * p.x_stride;
      const T* dyb = dya + step * p.dy_stride;
      // The next step's rows of this half into L2, so that HBM streams while this step reduces,
      // exchanges and updates the sums.
      if (p.row_prefetch) {
        if (row + 2 * step < p.rows)
          nb_prefetch_row<VEC, ITEMS, WT>(xa, dya, 2 * step, p.x_stride, p.dy_stride, t, half);
        if (row + 3 * step < p.rows)
          nb_prefetch_row<VEC, ITEMS, WT>(xb, dyb, 2 * step, p.x_stride, p.dy_stride, t, half);
      }
      // Row b into this thread's staging slots, row a into registers.
      if constexpr (TWO) {
#pragma unroll
        for (int i = 0; i < ITEMS; ++i) {
          const int col = (i * WT + t) * VEC;
          kernels::stage_copy16_if(&stage[(2 * i) * WT], xb + col, col < half);
          kernels::stage_copy16_if(&stage[(2 * i + 1) * WT], dyb + col, col < half);
        }
        kernels::stage_commit();
      }
      Pack<T, VEC> xva[ITEMS], dva[ITEMS];
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        const int col = (i * WT + t) * VEC;  // within the half
        if (col < half) {
          xva[i] = load_pack<T, VEC>(xa + col);
          dva[i] = load_pack<T, VEC>(dya + col);
        }
      }
      const float mean_a = mean_p ? mean_p[row] : 0.f, rstd_a = rstd_p[row];
      const float mean_b = TWO && mean_p ? mean_p[row + step] : 0.f, rstd_b = TWO ? rstd_p[row + step] : 0.f;
      // Pass 1 by quads of elements with a 4-element weight load each (a whole vector of f32
      // weights beside both rows' packs spilled at the 64-register cap).
      float sga[2] = {0.f, 0.f}, sgda[2] = {0.f, 0.f}, sgb[2] = {0.f, 0.f}, sgdb[2] = {0.f, 0.f};
      if constexpr (TWO) kernels::stage_wait_all();  // this thread's own copies: no barrier needed
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        const int col = (i * WT + t) * VEC;
        if (col < half) {
          const Pack<T, VEC> xvb = TWO ? staged(i, 0) : xva[i], dvb = TWO ? staged(i, 1) : dva[i];
#pragma unroll
          for (int jq = 0; jq < VEC; jq += 4) {
            Pack<W, 4> wq;
            if (w) wq = load_pack<W, 4>(w + c0 + col + jq);
#pragma unroll
            for (int u = 0; u < 4; ++u) {
              const int j = jq + u;
              const float wj = w ? nb_elem(wq, u) : 0.f;
              nb_pass1_element(nb_elem(dva[i], j), nb_elem(xva[i], j), wj, w != nullptr, mean_a, sga[j & 1], sgda[j & 1]);
              if constexpr (TWO)
                nb_pass1_element(nb_elem(dvb, j), nb_elem(xvb, j), wj, w != nullptr, mean_b, sgb[j & 1],
                                 sgdb[j & 1]);
            }
          }
        }
      }
      float s[4] = {sga[0] + sga[1], sgda[0] + sgda[1], sgb[0] + sgb[1], sgdb[0] + sgdb[1]};
      nb_group_sum_n<GW, 4>(s, red[parity], 1);
      // The halves' sums through distributed shared memory: thread 0 publishes, one cluster
      // barrier, every thread reads the partner's (a slot is rewritten two steps later, after the
      // partner passed the barrier that follows its read).
      if (t == 0) {
#pragma unroll
        for (int k = 0; k < 4; ++k) xchg[parity][k] = s[k];
      }
      cluster.sync();
      const float* other = cluster.map_shared_rank(&xchg[parity][0], rank ^ 1u);
      float tot[4];
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const float o = other[k];
        tot[k] = rank == 0 ? s[k] + o : o + s[k];  // rank order, as the one-row kernel
      }
      const float mg_a = p.rms ? 0.f : tot[0] * inv_n, mgx_a = rstd_a * tot[1] * inv_n;
      const float mg_b = p.rms ? 0.f : tot[2] * inv_n, mgx_b = rstd_b * tot[3] * inv_n;
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        nb_keep_packed(xva[i]);
        nb_keep_packed(dva[i]);
      }
      T* dxa = static_cast<T*>(p.dx) + row * p.dx_stride + c0;
      T* dxb = dxa + step * p.dx_stride;
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        const int col = (i * WT + t) * VEC;
        if (col < half) {
          const Pack<T, VEC> xvb = TWO ? staged(i, 0) : xva[i], dvb = TWO ? staged(i, 1) : dva[i];
          Pack<T, VEC> oa, ob;  // dx, rounded a pair of elements at a time (fewer live floats)
#pragma unroll
          for (int jq = 0; jq < VEC; jq += 4) {
            Pack<W, 4> wq;
            if (w) wq = load_pack<W, 4>(w + c0 + col + jq);
            const int q = (i * VEC + jq) / 4;
            // One read and one write of each 16-byte sum quad for both rows, row a's term first;
            // dweight's quad, then dbias' (fewer sums live at once).
            float4 sw = quads[q * WT];
            float* swf = reinterpret_cast<float*>(&sw);
            float dxa_prev = 0.f, dxb_prev = 0.f;
#pragma unroll
            for (int u = 0; u < 4; ++u) {
              const int j = jq + u;
              const float wj = w ? nb_elem(wq, u) : 0.f;
              const float da = nb_elem(dva[i], j);
              const NbDx ra = nb_dx_value(da, nb_elem(xva[i], j), wj, w != nullptr, mean_a, rstd_a, mg_a, mgx_a);
              if (u % 2 == 1) nb_set_pair(oa, j - 1, dxa_prev, ra.dx);
              dxa_prev = ra.dx;
              swf[u] = fmaf(da, ra.xhat, swf[u]);
              if constexpr (TWO) {
                const float db = nb_elem(dvb, j);
                const NbDx rb = nb_dx_value(db, nb_elem(xvb, j), wj, w != nullptr, mean_b, rstd_b, mg_b, mgx_b);
                if (u % 2 == 1) nb_set_pair(ob, j - 1, dxb_prev, rb.dx);
                dxb_prev = rb.dx;
                swf[u] = fmaf(db, rb.xhat, swf[u]);
              }
            }
            quads[q * WT] = sw;
            if constexpr (SUMS == 2) {
              float4 sb = quads[kDbQuads + q * WT];
              float* sbf = reinterpret_cast<float*>(&sb);
#pragma unroll
              for (int u = 0; u < 4; ++u) {
                sbf[u] += nb_elem(dva[i], jq + u);
                if constexpr (TWO) sbf[u] += nb_elem(dvb, jq + u);
              }
              quads[kDbQuads + q * WT] = sb;
            }
          }
          store_pack<T, VEC>(dxa + col, oa);
          if constexpr (TWO) store_pack<T, VEC>(dxb + col, ob);
        }
      }
    };
    if (row + step < p.rows) rows_step(std::true_type{});
    else rows_step(std::false_type{});
  }
  // The partner may still read this CTA's exchange slots: neither leaves before both are done.
  cluster.sync();

  // This CTA's half of the cluster's partial rows: element e = i * VEC + j of the thread sits at
  // column c0 + (i * WT + t) * VEC + j.
  const int64_t at = static_cast<int64_t>(blockIdx.x / 2) * p.cols + c0;
  const auto store_half = [&](float* out, int first_quad) {
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + t) * VEC;
      if (col < half) {
#pragma unroll
        for (int j = 0; j < VEC; j += 4)
          *reinterpret_cast<float4*>(out + col + j) = quads[first_quad + ((i * VEC + j) / 4) * WT];
      }
    }
  };
  if (p.partial_dw) store_half(static_cast<float*>(p.partial_dw) + at, 0);
  if (SUMS == 2 && p.partial_db) store_half(static_cast<float*>(p.partial_db) + at, kDbQuads);
#else
  __trap();  // the host launches it on sm_90 and newer only
#endif
}

}  // namespace baracuda::norm::cuda
