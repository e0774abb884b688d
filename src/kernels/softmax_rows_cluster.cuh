#pragma once
// The softmax / log_softmax forward for wide rows on sm_90 (16385 .. 32768 elements): a cluster
// of two CTAs of 16 warps shares each row, each CTA holding one half in registers at the rows
// kernel's vectors per thread (4 of 16-bit data, 8 of f32: the geometry that reaches 95% of copy
// at 4096 columns on the H200), where one CTA holds the row only through shared-memory stages
// (softmax_rows_fwd_staged_kernel: 86% at 32768 bf16). Two 512-thread CTAs fit an SM, so an SM
// streams two rows' halves at once.
//
// Per row each CTA reduces its half: its max m_h and s_h = sum exp(x - m_h) (a half of -inf
// contributes s_h = 0), exchanges (m_h, s_h) with its partner through distributed shared memory
// after one cluster barrier, and combines in rank order (both CTAs hold bitwise the same M, S):
// M = max(m_0, m_1), S = s_0 exp(m_0 - M) + s_1 exp(m_1 - M). softmax: y = exp(x - m_h) *
// (exp(m_h - M) / S) from the exps already in registers; log_softmax: y = (x - M) - log S. NaN
// and +inf propagate to the whole row as in the one-CTA kernels (S is NaN). The exchange slots
// alternate between rows; the next row of the half is prefetched into L2 before the barrier.
//
// Launch: grid.x = 2 x clusters, cluster dims (2, 1, 1), kSmClusterThreads threads; unmasked rows,
// p.n a multiple of 2 x VEC, p.n / 2 <= kSmClusterThreads * ITEMS * VEC, 16-byte aligned rows.
#include <cooperative_groups.h>

#include "kernels/cluster_pair_exchange.cuh"
#include "kernels/softmax_rows_fast.cuh"

namespace baracuda::sm::cuda {

constexpr int kSmClusterWarps = 16, kSmClusterThreads = kSmClusterWarps * 32;

template <class Tl, class Ts, int VEC, int ITEMS, bool kLog>
__global__ void __launch_bounds__(kSmClusterThreads, rows_min_blocks(kSmClusterThreads))
    softmax_rows_fwd_cluster_kernel(const KernelParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  constexpr int GW = kSmClusterWarps, W = kSmClusterThreads, E = VEC * ITEMS;
  constexpr bool kFast = sizeof(Ts) == 2;
  namespace cg = cooperative_groups;
  const cg::cluster_group cluster = cg::this_cluster();
  const unsigned rank = cluster.block_rank();
  __shared__ float red[2][32];
  __shared__ float xchg[2][2];  // per parity: this half's (max, sum of exps)
  const int t = static_cast<int>(threadIdx.x);
  const int half = static_cast<int>(p.n) / 2;
  const int c0 = static_cast<int>(rank) * half;
  const Tl pad = from_compute<Tl>(neg_inf<float>());
  const float scale = static_cast<float>(p.scale);
  const int64_t step = gridDim.x / 2;
  int parity = 0;
  for (int64_t row = blockIdx.x / 2; row < p.rows; row += step, parity ^= 1) {
    const RowBases b = row_bases(p, row);
    const Tl* x = static_cast<const Tl*>(p.in0.data) + b.in0 + c0;
    Vec<Tl, VEC> raw[ITEMS];
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) load_or_pad(raw[i], x, (i * W + t) * VEC, half, pad);
    if (p.row_prefetch && p.outer_rank <= 1 && row + step < p.rows) {
      const Tl* xn = x + step * p.in0.outer[0];
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        const int col = (i * W + t) * VEC;
        if (col < half) kernels::prefetch_l2(xn + col);
      }
    }
    float v[E];
    unpack_items(raw, v);
    if (scale != 1.f) {
#pragma unroll
      for (int k = 0; k < E; ++k) v[k] *= scale;
    }
    float mx[4] = {v[0], v[1], v[2], v[3]};
#pragma unroll
    for (int k = 4; k < E; ++k) mx[k % 4] = fmaxf(mx[k % 4], v[k]);
    const float m_h = group_reduce_fast<GW>(fmaxf(fmaxf(mx[0], mx[1]), fmaxf(mx[2], mx[3])), FMax{}, neg_inf<float>(),
                                            red[0], 1);
    // A half of -inf contributes nothing (exps of 0 against a shift of 0), not NaN.
    const float shift = m_h == neg_inf<float>() ? 0.f : m_h;
    const float sb = shift * kLog2e;
    float e[E];
#pragma unroll
    for (int k = 0; k < E; ++k) e[k] = exp_shifted<kFast>(v[k], shift, sb);
    const float s_h = group_reduce_fast<GW>(sum4<E>(e), FAdd{}, 0.f, red[1], 1);
    const float2 other = kernels::cluster_pair_exchange(xchg[parity], m_h, s_h);
    const float om = other.x, os = other.y;
    const float m0 = rank == 0 ? m_h : om, m1 = rank == 0 ? om : m_h;  // rank order
    const float s0 = rank == 0 ? s_h : os, s1 = rank == 0 ? os : s_h;
    const float M = fmaxf(m0, m1);
    const float S = s0 * expf(m0 - M) + s1 * expf(m1 - M);
    float o[E];
    if constexpr (kLog) {
      const float ls = M + logf(S);
#pragma unroll
      for (int k = 0; k < E; ++k) o[k] = v[k] - ls;
    } else {
      // exp(m_h - M): 0 for a half of -inf beside a finite one; NaN when the whole row is -inf.
      const float f = expf(m_h - M) / S;
#pragma unroll
      for (int k = 0; k < E; ++k) o[k] = e[k] * f;
    }
    Ts* y = static_cast<Ts*>(const_cast<void*>(p.out.data)) + b.out + c0;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) store_vec<Ts, VEC>(o + i * VEC, y, (i * W + t) * VEC, half);
  }
  cluster.sync();  // the partner may still read this CTA's exchange slots
#else
  __trap();  // the host launches it on sm_90 and newer only
#endif
}

}  // namespace baracuda::sm::cuda
