#pragma once
// The layer_norm / rms_norm backward with fused dweight (and dbias) for wide rows, each row split
// over a cluster of FOUR CTAs (sm_90): each CTA owns a quarter of the columns, each of its 1024
// threads ONE 16-byte vector of them. Why, beside the two-CTA kernel (norm_bwd_rows_cluster.cuh):
// there each thread owns 2 vectors, so its dweight and dbias sums (32 floats) do not fit beside the
// held row under the 64-register cap of 1024-thread CTAs, and dweight's go through shared memory
// (read and written every row). Here a thread's sums are 2 x VEC floats, all in registers, and the
// registers left over hold the NEXT row's vectors: its loads are issued before this row's
// reduction and exchange, so each CTA keeps a row's bytes in flight across them without L2
// prefetches. The weight's vector is read in each pass, from L1 (the mailbox waits at CTA scope,
// which keeps L1 valid): held in registers across the rows, it made ptxas spill in the bf16 kernel
// with dbias.
//
// Per row: pass 1 sums (sum g, sum g*(x - mean)) over the CTA's quarter (g = dy * w), the four
// CTAs' pairs are exchanged through distributed shared memory (kernels/cluster_mailbox_all.cuh:
// pushed, one mbarrier wait, all four added in rank order, so every quarter sees the same totals),
// pass 2 writes dx and adds dy * xhat and dy into the thread's sums. At the end each CTA writes its
// quarter of the cluster's partial row ([clusters, cols] f32 per parameter), which norm_bwd_params
// sums in a fixed order: deterministic for a given grid, no atomics.
//
// Launch: grid.x = 4 x clusters, cluster dims (4, 1, 1), kNcThreads threads, no dynamic shared
// memory; p.cols a multiple of 4 x VEC with p.cols / 4 <= kNcThreads * VEC. DBIAS: the dbias sums
// too (p.partial_db, when set); without it p.partial_db is ignored.
#include <cooperative_groups.h>

#include "kernels/cluster_mailbox_all.cuh"
#include "kernels/norm_bwd_rows_fast.cuh"  // nb_* helpers, Pack, load_pack, store_pack

namespace baracuda::norm::cuda {

template <class T, class W, int VEC, bool DBIAS>
__global__ void __launch_bounds__(kNcThreads, 1) norm_bwd_rows_quad_kernel(const BwdParams p) {
  kernels::pdl_enter();
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  constexpr int WT = kNcThreads, GW = WT / 32;
  namespace cg = cooperative_groups;
  const cg::cluster_group cluster = cg::this_cluster();
  const unsigned rank = cluster.block_rank();
  __shared__ float red[2][2 * GW];
  __shared__ kernels::ClusterMailboxAll<kNqCtas> mailbox;

  const int t = static_cast<int>(threadIdx.x);
  const int n = static_cast<int>(p.cols);
  const int quarter = n / kNqCtas;
  const int col = static_cast<int>(rank) * quarter + t * VEC;  // this thread's first column
  const bool active = t * VEC < quarter;
  const W* w = static_cast<const W*>(p.weight);
  const bool weighted = w != nullptr;
  const float* mean_p = static_cast<const float*>(p.mean);  // null: rms
  const float* rstd_p = static_cast<const float*>(p.rstd);
  const float inv_n = p.inv_cols;
  const int64_t step = gridDim.x / kNqCtas;

  Pack<W, VEC> wv;
  float dw[VEC], db[DBIAS ? VEC : 1];
#pragma unroll
  for (int j = 0; j < VEC; ++j) dw[j] = 0.f;
#pragma unroll
  for (int j = 0; j < (DBIAS ? VEC : 1); ++j) db[j] = 0.f;
  kernels::cluster_mailbox_all_init(mailbox);

  // The pipeline: (xv, dv, mean, rstd) hold row `row`, loaded one iteration ahead.
  int64_t row = blockIdx.x / kNqCtas;
  Pack<T, VEC> xv, dv;
  float mean = 0.f, rstd = 0.f;
  if (row < p.rows) {
    if (active) {
      xv = load_pack<T, VEC>(static_cast<const T*>(p.x) + row * p.x_stride + col);
      dv = load_pack<T, VEC>(static_cast<const T*>(p.dy) + row * p.dy_stride + col);
    }
    mean = mean_p ? mean_p[row] : 0.f;
    rstd = rstd_p[row];
  }
  int parity = 0;
  unsigned use = 0;
  for (; row < p.rows; row += step, parity ^= 1, ++use) {
    const int64_t next = row + step;
    Pack<T, VEC> xn, dn;
    float mean_n = 0.f, rstd_n = 0.f;
    if (next < p.rows) {
      if (active) {
        xn = load_pack<T, VEC>(static_cast<const T*>(p.x) + next * p.x_stride + col);
        dn = load_pack<T, VEC>(static_cast<const T*>(p.dy) + next * p.dy_stride + col);
        if (p.row_prefetch && next + step < p.rows) {  // the row after it into L2
          kernels::prefetch_l2(static_cast<const T*>(p.x) + (next + step) * p.x_stride + col);
          kernels::prefetch_l2(static_cast<const T*>(p.dy) + (next + step) * p.dy_stride + col);
        }
      }
      mean_n = mean_p ? mean_p[next] : 0.f;
      rstd_n = rstd_p[next];
    }
    float sg[2] = {0.f, 0.f}, sgd[2] = {0.f, 0.f};
    if (active) {
      if (weighted) wv = load_pack<W, VEC>(w + col);
#pragma unroll
      for (int j = 0; j < VEC; ++j)
        nb_pass1_element(nb_elem(dv, j), nb_elem(xv, j), weighted ? nb_elem(wv, j) : 0.f, weighted, mean, sg[j & 1],
                         sgd[j & 1]);
    }
    float s_g = sg[0] + sg[1], s_gd = sgd[0] + sgd[1];
    nb_group_sum2<GW>(s_g, s_gd, red[parity], 1);
    const float2 tot = kernels::cluster_mailbox_all_total<kNqCtas>(mailbox, use, s_g, s_gd);
    const float mg = p.rms ? 0.f : tot.x * inv_n;
    const float mgx = rstd * tot.y * inv_n;
    if (active) {
      if (weighted) wv = load_pack<W, VEC>(w + col);
      float o[VEC];
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        const NbDx r = nb_dx_element<T, W, VEC>(dv, xv, wv, weighted, j, mean, rstd, mg, mgx);
        const float d = nb_elem(dv, j);
        o[j] = r.dx;
        dw[j] = fmaf(d, r.xhat, dw[j]);
        if constexpr (DBIAS) db[j] += d;
      }
      store_pack<T, VEC>(static_cast<T*>(p.dx) + row * p.dx_stride + col, nb_round<T, VEC>(o));
    }
    xv = xn;
    dv = dn;
    mean = mean_n;
    rstd = rstd_n;
  }
  // A peer may still have a push in flight into this CTA's mailbox: nobody leaves before all are done.
  cluster.sync();

  if (!active) return;
  const int64_t at = static_cast<int64_t>(blockIdx.x / kNqCtas) * p.cols + col;
  const auto store_sums = [&](float* row_base, const float* s) {
#pragma unroll
    for (int j = 0; j < VEC; j += 4)
      *reinterpret_cast<float4*>(row_base + j) = make_float4(s[j], s[j + 1], s[j + 2], s[j + 3]);
  };
  if (float* const pdw = static_cast<float*>(p.partial_dw)) store_sums(pdw + at, dw);
  if constexpr (DBIAS) {
    if (float* const pdb = static_cast<float*>(p.partial_db)) store_sums(pdb + at, db);
  }
#else
  __trap();  // the host launches it on sm_90 and newer only
#endif
}

}  // namespace baracuda::norm::cuda
