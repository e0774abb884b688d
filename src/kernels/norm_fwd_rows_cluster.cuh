#pragma once
// The layer_norm / rms_norm forward (and the fused residual-add variants) for wide rows on sm_90:
// a cluster of two CTAs shares each row, each CTA owning one half of the columns at 2 vectors per
// thread held as f32 (the register geometry of norm_fwd_rows_fast_kernel, which reaches ~90% of
// copy at 4096 columns), where one CTA holds a 32768-column 16-bit row only through shared
// memory (the staged kernel: 84% for layer_norm on the H200) and a residual row not at all (the
// legacy kernels: 61% for add_rms_norm).
//
// Per row each CTA reduces its half over its 1024 threads; the halves' statistics then meet
// through distributed shared memory after one cluster barrier, combined in rank order (both CTAs
// hold bitwise the same result):
//   - rms norm: the two sums of x^2 added;
//   - layer norm: each half's mean m_h and centered sum of squares M2_h (two passes over the
//     registers, as the one-CTA kernel), combined as Chan et al.: mean = (m_0 + m_1) / 2,
//     M2 = M2_0 + M2_1 + (m_1 - m_0)^2 n / 4 (equal halves): never E[x^2] - E[x]^2.
// The exchange slots alternate between rows (rewritten two rows later, after the partner passed
// the barrier that follows its read; MAILBOX: pushed into the partner's shared memory, each CTA
// waiting on its own mbarrier, kernels/cluster_pair_exchange.cuh); the next row of the half is
// prefetched into L2 before the barrier (not with a residual: two input rows are already in flight).
//
// CS = 4: clusters of four CTAs, each a quarter of the row, for rows wider than two CTAs hold
// (65536 16-bit columns; pushed exchange only, kernels/cluster_mailbox_all.cuh): every CTA gets
// all four parts' statistics and combines them in rank order; layer norm as Chan et al. for equal
// parts: mean = sum m_k / 4, M2 = sum M2_k + (n / 4) sum (m_k - mean)^2.
//
// Launch: grid.x = CS x clusters, cluster dims (CS, 1, 1), kNcThreads threads, no dynamic shared
// memory; p.cols a multiple of CS x VEC with p.cols / CS <= kNcThreads * kNcItems * VEC.
#include <cooperative_groups.h>

#include <type_traits>

#include "kernels/cluster_mailbox_all.cuh"
#include "kernels/cluster_pair_exchange.cuh"
#include "kernels/norm_fwd_rows_fast.cuh"  // nf_group_sum, nb_* helpers, Pack, load_pack, store_pack

namespace baracuda::norm::cuda {

template <class T, class W, int VEC, bool RES, bool MAILBOX, int CS = 2>
__global__ void __launch_bounds__(kNcThreads, 1) norm_fwd_rows_cluster_kernel(const FwdParams p) {
  kernels::pdl_enter();
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  constexpr int WT = kNcThreads, ITEMS = kNcItems, E = ITEMS * VEC, GW = WT / 32, kSpan = WT * VEC;
  static_assert(E <= 16, "at most 16 f32 values of the row per thread (32 spill at the 64-register cap)");
  static_assert(CS == 2 || (CS == 4 && MAILBOX), "clusters of 2, or of 4 with the pushed exchange");
  using P = Pack<T, VEC>;
  namespace cg = cooperative_groups;
  const cg::cluster_group cluster = cg::this_cluster();
  const unsigned rank = cluster.block_rank();
  __shared__ float red[2][GW];
  __shared__ float xchg[2][2];  // per parity: this half's (sum x^2) or (mean, M2)
  // MAILBOX: the partner's pair (CS 2) or the other three CTAs' pairs (CS 4), pushed
  __shared__ std::conditional_t<CS == 2, kernels::ClusterPairMailbox, kernels::ClusterMailboxAll<CS>> mailbox;

  const int t = static_cast<int>(threadIdx.x);
  const int half = static_cast<int>(p.cols) / CS;  // this CTA's part (a half at CS 2)
  const int c0 = static_cast<int>(rank) * half;
  const int tcol = t * VEC;
  const int left = half - tcol;  // item i is in the half iff i * kSpan < left
  const float inv_n = 1.f / static_cast<float>(p.cols), inv_half = static_cast<float>(CS) * inv_n;
  const float eps = static_cast<float>(p.eps);
  const W* w = p.weight ? static_cast<const W*>(p.weight) + c0 + tcol : nullptr;
  const W* b = p.bias ? static_cast<const W*>(p.bias) + c0 + tcol : nullptr;
  const int64_t step = gridDim.x / CS;

  if constexpr (CS == 4) kernels::cluster_mailbox_all_init(mailbox);
  else if constexpr (MAILBOX) kernels::cluster_mailbox_init(mailbox);

  int parity = 0;
  unsigned use = 0;
  for (int64_t row = blockIdx.x / CS; row < p.rows; row += step, parity ^= 1, ++use) {
    P xv[ITEMS], rv[RES ? ITEMS : 1];
    const T* xt = static_cast<const T*>(p.x) + row * p.x_stride + c0 + tcol;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if (i * kSpan < left) {
        xv[i] = load_pack<T, VEC>(xt + i * kSpan);
        if constexpr (RES)
          rv[i] = load_pack<T, VEC>(static_cast<const T*>(p.residual) + row * p.res_stride + c0 + tcol + i * kSpan);
      }
    }
    if constexpr (!RES) {
      // CS 4: p.wide_prefetch_rows rows ahead (the rows before it were asked for already).
      const int64_t ahead = CS == 4 ? p.wide_prefetch_rows * step : step;
      if (p.row_prefetch && row + ahead < p.rows) {
#pragma unroll
        for (int i = 0; i < ITEMS; ++i)
          if (i * kSpan < left) kernels::prefetch_l2(xt + ahead * p.x_stride + i * kSpan);
      }
    }
    float v[E];  // this thread's values as f32; pads 0
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if (i * kSpan < left) {
        if constexpr (RES) {
          float s[VEC];  // x + residual rounded once to T (as the one-CTA kernel)
#pragma unroll
          for (int j = 0; j < VEC; ++j) s[j] = nb_elem(xv[i], j) + nb_elem(rv[i], j);
          xv[i] = nb_round<T, VEC>(s);
        }
#pragma unroll
        for (int j = 0; j < VEC; ++j) v[i * VEC + j] = nb_elem(xv[i], j);
      } else {
#pragma unroll
        for (int j = 0; j < VEC; ++j) v[i * VEC + j] = 0.f;
      }
    }
    if constexpr (RES) {
      if (p.sum) {
        T* st = static_cast<T*>(p.sum) + row * p.sum_stride + c0 + tcol;
#pragma unroll
        for (int i = 0; i < ITEMS; ++i)
          if (i * kSpan < left) store_pack<T, VEC>(st + i * kSpan, xv[i]);
      }
    }
    // ---- this half's statistics ----
    float a = 0.f, bq = 0.f;  // rms: (sum x^2, -); layer norm: (mean of the half, M2 of the half)
    {
      float acc[4] = {0.f, 0.f, 0.f, 0.f};
      if (p.rms) {
#pragma unroll
        for (int k = 0; k < E; ++k) acc[k % 4] = fmaf(v[k], v[k], acc[k % 4]);
        a = nf_group_sum<GW>((acc[0] + acc[1]) + (acc[2] + acc[3]), red[parity], 1);
      } else {
#pragma unroll
        for (int k = 0; k < E; ++k) acc[k % 4] += v[k];
        a = nf_group_sum<GW>((acc[0] + acc[1]) + (acc[2] + acc[3]), red[0], 1) * inv_half;
        float q[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int i = 0; i < ITEMS; ++i) {
          if (i * kSpan >= left) continue;
#pragma unroll
          for (int j = 0; j < VEC; ++j) {
            const float d = v[i * VEC + j] - a;
            q[j % 4] = fmaf(d, d, q[j % 4]);
          }
        }
        bq = nf_group_sum<GW>((q[0] + q[1]) + (q[2] + q[3]), red[1], 1);
      }
    }
    float mean = 0.f, rstd;
    if constexpr (CS == 4) {
      const unsigned slot = kernels::cluster_mailbox_all_exchange(mailbox, use, a, bq);
      const float2 own = make_float2(a, bq);
      float2 part[CS];
#pragma unroll
      for (int k = 0; k < CS; ++k) part[k] = kernels::cluster_mailbox_all_pair(mailbox, slot, k, rank, own);
      if (p.rms) {
        rstd = 1.f / sqrtf((((part[0].x + part[1].x) + part[2].x) + part[3].x) * inv_n + eps);
      } else {
        mean = 0.25f * (((part[0].x + part[1].x) + part[2].x) + part[3].x);
        float m2 = 0.f, between = 0.f;
#pragma unroll
        for (int k = 0; k < CS; ++k) {
          const float dm = part[k].x - mean;
          m2 += part[k].y;
          between = fmaf(dm, dm, between);
        }
        rstd = 1.f / sqrtf((m2 + between * (0.25f * static_cast<float>(p.cols))) * inv_n + eps);
      }
    } else {
      const float2 other = MAILBOX ? kernels::cluster_mailbox_exchange(mailbox, use, a, bq)
                                   : kernels::cluster_pair_exchange(xchg[parity], a, bq);
      const float oa = other.x, ob = other.y;
      const float a0 = rank == 0 ? a : oa, a1 = rank == 0 ? oa : a;  // rank order
      const float b0 = rank == 0 ? bq : ob, b1 = rank == 0 ? ob : bq;
      if (p.rms) {
        rstd = 1.f / sqrtf((a0 + a1) * inv_n + eps);
      } else {
        mean = 0.5f * (a0 + a1);
        const float dm = a1 - a0;
        const float m2 = (b0 + b1) + dm * dm * (0.25f * static_cast<float>(p.cols));
        rstd = 1.f / sqrtf(m2 * inv_n + eps);
      }
    }
    if (rank == 0 && t == 0) {
      if (p.mean) static_cast<float*>(p.mean)[row] = mean;
      if (p.rstd) static_cast<float*>(p.rstd)[row] = rstd;
    }
    T* yt = static_cast<T*>(p.y) + row * p.y_stride + c0 + tcol;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      if (i * kSpan >= left) continue;
      nf_store_vector<T, W, VEC>(yt + i * kSpan, w ? w + i * kSpan : nullptr, b ? b + i * kSpan : nullptr, rstd,
                                 [&](int j) { return v[i * VEC + j] - mean; });
    }
  }
  cluster.sync();  // the partner may still read this CTA's exchange slots, or have a push in flight
#else
  __trap();  // the host launches it on sm_90 and newer only
#endif
}

}  // namespace baracuda::norm::cuda
