#pragma once
// The wide layer_norm / rms_norm backward with fused dweight/dbias (sm_90), staged: the two-CTA
// cluster kernel's geometry (kernels/norm_bwd_rows_cluster.cuh: each CTA of 1024 threads owns half
// of every row its cluster takes, the halves' row sums pushed to the partner), but x and dy reach
// the CTA by bulk copies (TMA) into a ring of shared-memory stages instead of register loads.
//
// Why: the register kernel holds its half row in registers (16 of them for 16 columns of x and
// dy), and the dweight and dbias sums of those 16 columns take 32 more. At the 64-register bound
// of 1024-thread CTAs that does not fit, so layer_norm keeps dweight in shared-memory slots (a
// read-modify-write of 64 KB per row) and the register form spilled (0.3769 ms against 0.2414,
// a4c08e1). Here the half rows live in shared memory (32 KB of x and 32 KB of dy per stage, one
// bulk copy each, issued by one thread), both parameters' sums stay in registers, and the copies
// of the next `stages - 1` rows are in flight while a row is worked on: up to 128 KB per SM,
// against the register kernel's 64 KB plus its L2 prefetch.
//
// Per row k of the cluster (row = first + k * clusters): wait for stage k % stages; pass 1 (the
// two row sums) reads x and dy from the stage; the block reduction's barrier says every thread is
// done with row k - 1, so thread 0 refills that stage with row k - 1 + stages; the pair goes to the
// partner (the mailbox, CTA-scope wait: the weight stays in L1); pass 2 reads the stage again,
// stores dx and adds into the register sums. Every value is computed by the same helpers in the
// same order as the register kernel's, so dx and the partials are bitwise those of its SUMS 3 /
// SUMS 4 forms. The partials' layout is the register kernel's ([clusters, cols] per parameter),
// summed by norm_bwd_params.
//
// Launch: grid.x = 2 x clusters (clusters <= rows, or 1), cluster dims (2, 1, 1), kNcThreads
// threads, norm_bwd_staged_weight_bytes and then 2..kNbStagedMaxStages stages of
// norm_bwd_staged_stage_bytes of dynamic shared memory (the kernel counts its stages from that size); p.cols a multiple of 2 x VEC, p.cols / 2 <=
// kNcThreads * ITEMS * VEC; x and dy bases and row strides 16-byte aligned (the engine's rule). DB: dbias summed too (p.partial_db), else only
// dweight; either partial pointer may be null (that sum is then dropped).
#include <cooperative_groups.h>

#include "kernels/bulk_copy.cuh"
#include "kernels/cluster_pair_exchange.cuh"
#include "kernels/norm_bwd_rows_fast.cuh"  // nb_* helpers, Pack, load_pack, store_pack

namespace baracuda::norm::cuda {

template <class T, class W, int VEC, int ITEMS, bool DB>
__global__ void __launch_bounds__(kNcThreads, 1) norm_bwd_rows_cluster_staged_kernel(const BwdParams p) {
  kernels::pdl_enter();
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  constexpr int WT = kNcThreads, E = ITEMS * VEC, GW = WT / 32;
  namespace cg = cooperative_groups;
  const cg::cluster_group cluster = cg::this_cluster();
  const unsigned rank = cluster.block_rank();
  __shared__ float red[2][2 * GW];
  __shared__ kernels::ClusterPairMailbox mailbox;
  __shared__ uint64_t full[kNbStagedMaxStages];  // per stage: its x and dy half rows have landed
  __shared__ uint64_t weight_full;                // the weight's half row has landed
  // [the weight's half row, padded to 128 bytes][stages][x half row, dy half row]
  extern __shared__ __align__(128) unsigned char nb_dynamic[];

  const int t = static_cast<int>(threadIdx.x);
  const int half = static_cast<int>(p.cols) / 2;
  const int c0 = static_cast<int>(rank) * half;  // this CTA's first column
  const unsigned half_bytes = static_cast<unsigned>(half) * sizeof(T);
  // The stages are what the launch gave of dynamic shared memory past the weight (the kernel keeps
  // the register kernel's signature, so both share one launch path).
  const W* w = static_cast<const W*>(p.weight);
  unsigned smem_bytes;
  asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(smem_bytes));
  const unsigned weight_bytes = static_cast<unsigned>(norm_bwd_staged_weight_bytes(p.cols, sizeof(W)));
  const int stages = static_cast<int>(
      min((smem_bytes - weight_bytes) / (2 * half_bytes), static_cast<unsigned>(kNbStagedMaxStages)));
  const W* w_s = w ? reinterpret_cast<const W*>(nb_dynamic) : nullptr;  // column c0 + col at w_s[col]
  unsigned char* const nb_stages = nb_dynamic + weight_bytes;
  const float* mean_p = static_cast<const float*>(p.mean);  // null: rms
  const float* rstd_p = static_cast<const float*>(p.rstd);
  const float inv_n = p.inv_cols;
  const int64_t clusters = gridDim.x / 2, first = blockIdx.x / 2;
  const int64_t my_rows = first < p.rows ? (p.rows - 1 - first) / clusters + 1 : 0;
  const auto stage_x = [&](int s) { return reinterpret_cast<T*>(nb_stages) + static_cast<size_t>(s) * 2 * half; };
  // Thread 0: the copies of the cluster's row k into stage k % stages.
  const auto issue = [&](int64_t k) {
    const int s = static_cast<int>(k % stages);
    const int64_t row = first + k * clusters;
    T* xs = stage_x(s);
    kernels::mbarrier_arrive_expect_bytes(&full[s], 2 * half_bytes);
    kernels::bulk_copy_to_shared(xs, static_cast<const T*>(p.x) + row * p.x_stride + c0, half_bytes, &full[s]);
    kernels::bulk_copy_to_shared(xs + half, static_cast<const T*>(p.dy) + row * p.dy_stride + c0, half_bytes, &full[s]);
  };

  float dw_regs[E], db_regs[DB ? E : 1];
#pragma unroll
  for (int e = 0; e < E; ++e) dw_regs[e] = 0.f;
#pragma unroll
  for (int e = 0; e < (DB ? E : 1); ++e) db_regs[e] = 0.f;

  if (t == 0) {
    for (int s = 0; s < stages; ++s) kernels::mbarrier_init(&full[s], 1);
    kernels::mbarrier_init(&weight_full, 1);
    kernels::mbarrier_init_fence();
  }
  kernels::cluster_mailbox_init(mailbox);  // its cluster barrier also publishes the stages' barriers
  if (t == 0) {
    // The weight once, in shared memory: read from L1 or L2 twice a row, its first load's latency
    // stood bare in each pass (the x and dy it used to hide behind now come from shared memory).
    if (w) {
      const unsigned bytes = static_cast<unsigned>(half) * sizeof(W);
      kernels::mbarrier_arrive_expect_bytes(&weight_full, bytes);
      kernels::bulk_copy_to_shared(nb_dynamic, w + c0, bytes, &weight_full);
    }
    for (int64_t k = 0; k < stages && k < my_rows; ++k) issue(k);
  }
  if (w) kernels::mbarrier_wait(&weight_full, 0);

  for (int64_t k = 0; k < my_rows; ++k) {
    const int64_t row = first + k * clusters;
    const int s = static_cast<int>(k % stages);
    const float mean = mean_p ? mean_p[row] : 0.f, rstd = rstd_p[row];
    kernels::mbarrier_wait(&full[s], static_cast<unsigned>((k / stages) & 1));
    const T* xs = stage_x(s);
    const T* ds = xs + half;
    float sg[2] = {0.f, 0.f}, sgd[2] = {0.f, 0.f};
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + t) * VEC;  // within the half
      if (col < half)
        nb_pass1_vector<T, W, VEC>(*reinterpret_cast<const Pack<T, VEC>*>(ds + col),
                                   *reinterpret_cast<const Pack<T, VEC>*>(xs + col), w_s, col, mean, sg, sgd);
    }
    float s_g = sg[0] + sg[1], s_gd = sgd[0] + sgd[1];
    nb_group_sum2<GW>(s_g, s_gd, red[k & 1], 1);
    // Past that block barrier every thread is done with row k - 1: its stage takes row k - 1 + stages.
    if (t == 0 && k >= 1 && k - 1 + stages < my_rows) issue(k - 1 + stages);
    const float2 other = kernels::cluster_mailbox_exchange<true>(mailbox, static_cast<unsigned>(k), s_g, s_gd);
    // Rank order, so both CTAs hold bitwise the same totals.
    const float tot_g = rank == 0 ? s_g + other.x : other.x + s_g;
    const float tot_gd = rank == 0 ? s_gd + other.y : other.y + s_gd;
    const float mg = p.rms ? 0.f : tot_g * inv_n;
    const float mgx = rstd * tot_gd * inv_n;
    T* dxr = static_cast<T*>(p.dx) + row * p.dx_stride + c0;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + t) * VEC;
      if (col < half) {
        const Pack<T, VEC> xv = *reinterpret_cast<const Pack<T, VEC>*>(xs + col);
        const Pack<T, VEC> dv = *reinterpret_cast<const Pack<T, VEC>*>(ds + col);
        Pack<W, VEC> wv;
        if (w) wv = *reinterpret_cast<const Pack<W, VEC>*>(w_s + col);
        float o[VEC];
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          const NbDx r = nb_dx_element<T, W, VEC>(dv, xv, wv, w != nullptr, j, mean, rstd, mg, mgx);
          o[j] = r.dx;
          const float d = nb_elem(dv, j);
          dw_regs[i * VEC + j] = fmaf(d, r.xhat, dw_regs[i * VEC + j]);
          if constexpr (DB) db_regs[i * VEC + j] += d;
        }
        store_pack<T, VEC>(dxr + col, nb_round<T, VEC>(o));
      }
    }
  }
  // The partner may have a push in flight into this CTA's mailbox: neither leaves before both are done.
  cluster.sync();

  // This CTA's half of the cluster's partial rows: element e = i * VEC + j of the thread sits at
  // column c0 + (i * WT + t) * VEC + j.
  const int64_t at = first * p.cols + c0;
  const auto store_half = [&](float* out, const float* sums) {
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + t) * VEC;
      if (col < half) {
#pragma unroll
        for (int j = 0; j < VEC; j += 4)
          *reinterpret_cast<float4*>(out + at + col + j) =
              make_float4(sums[i * VEC + j], sums[i * VEC + j + 1], sums[i * VEC + j + 2], sums[i * VEC + j + 3]);
      }
    }
  };
  if (p.partial_dw) store_half(static_cast<float*>(p.partial_dw), dw_regs);
  if constexpr (DB) {
    if (p.partial_db) store_half(static_cast<float*>(p.partial_db), db_regs);
  }
#else
  __trap();  // the host launches it on sm_90 and newer only
#endif
}

}  // namespace baracuda::norm::cuda
