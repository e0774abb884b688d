#pragma once
// The layer_norm / rms_norm backward with fused dweight/dbias for wide rows (sm_90): a cluster
// of two CTAs shares each row, each CTA owning one half of the columns. Why: one CTA of 1024
// threads holds a 32768-column 16-bit row only at 4 vectors of x and dy per thread, its
// shared-memory sums then need 128 KB per parameter (layer_norm's dweight + dbias do not fit, so
// they took a column pass reading x and dy again: 55% of copy on the H200), and rms_norm's
// dweight ran at 64%. Split over two SMs, each thread holds 2 vectors (the geometry of the
// fast kernels), and a CTA's sums of its half take 64 KB per parameter.
//
// Per row: each CTA sums its half (sum g, sum g*(x - mean)) over its 1024 threads, writes the pair
// into its exchange slot, and after one cluster barrier reads its partner's slot through
// distributed shared memory; both add the pairs in rank order, so both halves see the same
// totals. The slots alternate between rows (a slot is rewritten two rows later, after the
// partner passed the barrier that follows its read). MAILBOX: the pair is pushed into the
// partner's shared memory instead, and each CTA waits on its own mbarrier, not on a cluster
// barrier (kernels/cluster_pair_exchange.cuh says why). The next row is prefetched into L2 before
// the barrier so that HBM keeps streaming across it. Each CTA keeps its columns' dweight/dbias
// sums in its own shared-memory slots (16-byte quads, [parameter][quad][thread]) and writes its
// half of the cluster's partial row at the end ([clusters, cols] f32 per parameter, summed by
// norm_bwd_params in a fixed order): deterministic for a given grid, no atomics.
//
// Launch: grid.x = CS x clusters, cluster dims (CS, 1, 1) (cudaLaunchKernelEx), kNcThreads threads,
// nb_smem_sums_bytes(32, ITEMS, VEC, SUMS == 2 ? 2 : 1) of dynamic shared memory (none at SUMS 4),
// plus p.cols / CS weights at WFORM 1;
// p.cols a multiple of CS x VEC with p.cols / CS <= kNcThreads * ITEMS * VEC. SUMS: 1 (dweight),
// 2 (dweight, dbias), 3 (dweight in shared memory, dbias in registers: half the shared-memory
// traffic per row; layer_norm's row time exceeds rms_norm's by about what its dbias slots cost),
// 4 (dweight alone, in registers, no dynamic shared memory): x and dy are not held across the
// exchange but read again after it, from L1 (the half row of each is 32 KB; the mailbox then
// waits at CTA scope, which leaves L1 valid and the weight in it, so MAILBOX must be set): the
// registers the held row took carry the sums, and their shared-memory round trip per row goes
// (H200, rms_norm dw 4096x32768 bf16: 0.2162 against 0.2191 ms). With dbias beside it the form
// lost: both sums in registers spilled 124 bytes (0.3769 against 0.2414 ms, a4c08e1), dbias in
// shared memory beside the re-read ran 0.2730 against 0.2494 (c42180b), and dweight in shared
// memory beside register dbias with the re-read 0.2698 against SUMS 3's 0.2407 (667ba05). Not for
// want of L1: ncu at 162f398 showed the 100 KB shared-memory configuration for both, an L1 hit
// rate of 34% against 18%, and a larger carve-out (168 KB) slower still (0.3003 ms).
#include <cooperative_groups.h>

#include <type_traits>

#include "kernels/cluster_mailbox_all.cuh"
#include "kernels/cluster_pair_exchange.cuh"
#include "kernels/norm_bwd_rows_fast.cuh"  // nb_* helpers, Pack, load_pack, store_pack

namespace baracuda::norm::cuda {

// WFORM, where the passes read the weight (BARACUDA_NORM_BWD_WEIGHT; the host picks 2 for SUMS 3
// and 0 for the others):
//   0: from global memory at w + c0 + col;
//   1: from a copy of the weight's half row in shared memory, made once (after the sums' slots).
//      Why: SUMS 1-3 wait at cluster scope, whose acquire invalidates L1 every row, so each row
//      fetches the 32 KB half row from L2 twice, the second time after the exchange, on the
//      row's critical path;
//   2: from global memory through a base pointer w + c0 set before the row loop (ptxas, bf16
//      SUMS 3: no spill, against 4 bytes at 0). H200, layer_norm dw+db 4096x32768 bf16: 0.2394
//      (0), 0.2373 (1), 0.2376 ms (2); rms_norm dw (SUMS 4) 0.2153 / 0.2273 / 0.2168.
// CS: CTAs per cluster (per row), each owning 1 / CS of the columns. 2 for rows up to 2 x the
// CTA's span; 4 (pushed exchange only, kernels/cluster_mailbox_all.cuh) for rows up to 4 x (65536
// 16-bit columns): fewer clusters fit on the device (30 of 4 CTAs on the H200, 120 SMs).
template <class T, class W, int VEC, int ITEMS, int SUMS, bool MAILBOX, int WFORM = 0, int CS = 2>
__global__ void __launch_bounds__(kNcThreads, 1) norm_bwd_rows_cluster_kernel(const BwdParams p) {
  kernels::pdl_enter();
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  static_assert(SUMS >= 1 && SUMS <= 4, "dweight, or dweight and dbias (see above)");
  constexpr bool kReread = SUMS == 4;  // dweight in registers, x and dy read again after the exchange
  static_assert(!kReread || MAILBOX, "the re-read needs L1 valid after the exchange: the CTA-scope mailbox wait");
  static_assert(CS == 2 || (CS == 4 && MAILBOX), "clusters of 2, or of 4 with the pushed exchange");
  constexpr bool kDwRegs = kReread, kDbShared = SUMS == 2, kDbRegs = SUMS == 3;
  constexpr int WT = kNcThreads, E = ITEMS * VEC, GW = WT / 32;
  static_assert(E % 4 == 0, "sums in 16-byte quads");
  namespace cg = cooperative_groups;
  const cg::cluster_group cluster = cg::this_cluster();
  const unsigned rank = cluster.block_rank();
  __shared__ float red[2][2 * GW];
  __shared__ float xchg[2][2];  // per parity: this CTA's (sum g, sum g*(x - mean)) of its half
  // MAILBOX: the partner's pair (CS 2) or the other three CTAs' pairs (CS 4), pushed
  __shared__ std::conditional_t<CS == 2, kernels::ClusterPairMailbox, kernels::ClusterMailboxAll<CS>> mailbox;
  extern __shared__ __align__(16) float nc_sums[];  // [1 or 2][E / 4][WT][4]: dweight, dbias (none at SUMS 4)

  const int t = static_cast<int>(threadIdx.x);
  const int n = static_cast<int>(p.cols);
  const int half = n / CS;  // this CTA's part of the row (a half at CS 2)
  const int c0 = static_cast<int>(rank) * half;  // this CTA's first column
  const W* w = static_cast<const W*>(p.weight);
  const float* mean_p = static_cast<const float*>(p.mean);  // null: rms
  const float* rstd_p = static_cast<const float*>(p.rstd);
  // SUMS 3: 1 / cols from the constant bank (the host's division, bitwise the same): a register
  // holding it spilled in the row loop (ptxas, bf16: 12 -> 4 bytes of spill). The other forms keep
  // their own division (ptxas spilled 8 bytes in the f16 SUMS 4 kernel with the parameter instead).
  const float inv_n = kDbRegs ? p.inv_cols : 1.f / static_cast<float>(n);
  const int64_t clusters = gridDim.x / CS, step = clusters;
  constexpr int kDbQuads = (E / 4) * WT;  // the dbias slots' first quad
  float4* const quads = reinterpret_cast<float4*>(nc_sums) + t;  // quad q at quads[q * WT]
#pragma unroll
  for (int q = 0; q < E / 4; ++q) {
    if constexpr (!kDwRegs) quads[q * WT] = make_float4(0.f, 0.f, 0.f, 0.f);
    if constexpr (kDbShared) quads[kDbQuads + q * WT] = make_float4(0.f, 0.f, 0.f, 0.f);
  }
  float dw_regs[kDwRegs ? E : 1];  // SUMS 4: this thread's dweight sums
  float db_regs[kDbRegs ? E : 1];  // SUMS 3: this thread's dbias sums
#pragma unroll
  for (int e = 0; e < (kDwRegs ? E : 1); ++e) dw_regs[e] = 0.f;
#pragma unroll
  for (int e = 0; e < (kDbRegs ? E : 1); ++e) db_regs[e] = 0.f;

  // WFORM 1: each thread copies its own vectors of the weight and reads back only those, so no
  // barrier is needed. Null when the problem has no weight. WFORM 2: the global half row.
  constexpr int kSlotFloats = (kDwRegs ? 0 : kDbShared ? 2 : 1) * E * WT;
  constexpr bool W_SMEM = WFORM == 1;
  W* const w_smem = W_SMEM && w ? reinterpret_cast<W*>(nc_sums + kSlotFloats) : nullptr;
  const W* const w_half = w ? w + c0 : nullptr;
  if constexpr (W_SMEM) {
    if (w) {
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        const int col = (i * WT + t) * VEC;
        if (col < half) store_pack<W, VEC>(w_smem + col, load_pack<W, VEC>(w + c0 + col));
      }
    }
  }
  if constexpr (CS == 4) kernels::cluster_mailbox_all_init(mailbox);
  else if constexpr (MAILBOX) kernels::cluster_mailbox_init(mailbox);

  int parity = 0;
  unsigned use = 0;
  for (int64_t row = blockIdx.x / CS; row < p.rows; row += step, parity ^= 1, ++use) {
    const T* xr = static_cast<const T*>(p.x) + row * p.x_stride + c0;
    const T* dyr = static_cast<const T*>(p.dy) + row * p.dy_stride + c0;
    Pack<T, VEC> xv[ITEMS], dv[ITEMS];
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + t) * VEC;  // within the half
      if (col < half) {
        xv[i] = load_pack<T, VEC>(xr + col);
        dv[i] = load_pack<T, VEC>(dyr + col);
      }
    }
    // The next row of this part into L2 (CS 4: p.wide_prefetch_rows rows ahead).
    const int64_t ahead = CS == 4 ? p.wide_prefetch_rows * step : step;
    if (p.row_prefetch && row + ahead < p.rows)
      nb_prefetch_row<VEC, ITEMS, WT>(xr, dyr, ahead, p.x_stride, p.dy_stride, t, half);
    const float mean = mean_p ? mean_p[row] : 0.f, rstd = rstd_p[row];
    float sg[2] = {0.f, 0.f}, sgd[2] = {0.f, 0.f};
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + t) * VEC;
      if (col < half) {
        if constexpr (W_SMEM) nb_pass1_vector<T, W, VEC>(dv[i], xv[i], w_smem, col, mean, sg, sgd);
        else if constexpr (WFORM == 2) nb_pass1_vector<T, W, VEC>(dv[i], xv[i], w_half, col, mean, sg, sgd);
        else nb_pass1_vector<T, W, VEC>(dv[i], xv[i], w, c0 + col, mean, sg, sgd);
      }
    }
    float s_g = sg[0] + sg[1], s_gd = sgd[0] + sgd[1];
    nb_group_sum2<GW>(s_g, s_gd, red[parity], 1);
    float tot_g, tot_gd;  // in rank order, so every CTA holds bitwise the same totals
    if constexpr (CS == 4) {
      // CTA-scope wait: the data read after it (x, dy in registers or re-read, the weight) is
      // written by no thread of the grid, so L1 may stay valid.
      const float2 tot = kernels::cluster_mailbox_all_total<CS>(mailbox, use, s_g, s_gd);
      tot_g = tot.x;
      tot_gd = tot.y;
    } else {
      const float2 other = MAILBOX ? kernels::cluster_mailbox_exchange<kReread>(mailbox, use, s_g, s_gd)
                                   : kernels::cluster_pair_exchange(xchg[parity], s_g, s_gd);
      const float o_g = other.x, o_gd = other.y;
      tot_g = rank == 0 ? s_g + o_g : o_g + s_g;
      tot_gd = rank == 0 ? s_gd + o_gd : o_gd + s_gd;
    }
    const float mg = p.rms ? 0.f : tot_g * inv_n;
    const float mgx = rstd * tot_gd * inv_n;
    if constexpr (!kReread) {
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        nb_keep_packed(xv[i]);
        nb_keep_packed(dv[i]);
      }
    }
    T* dxr = static_cast<T*>(p.dx) + row * p.dx_stride + c0;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + t) * VEC;
      if (col < half) {
        if constexpr (kReread) {
          // The exchange's wait clobbers memory, so these are loads again (L1 hits), not copies of
          // the registers of pass 1, which it has let go.
          xv[i] = load_pack<T, VEC>(xr + col);
          dv[i] = load_pack<T, VEC>(dyr + col);
        }
        Pack<W, VEC> wv;
        if (w)
          wv = load_pack<W, VEC>(W_SMEM ? w_smem + col : WFORM == 2 ? w_half + col : w + c0 + col);
        float o[VEC];
#pragma unroll
        for (int jq = 0; jq < VEC; jq += 4) {
          float xq[4];
#pragma unroll
          for (int u = 0; u < 4; ++u) {
            const NbDx r = nb_dx_element<T, W, VEC>(dv[i], xv[i], wv, w != nullptr, jq + u, mean, rstd, mg, mgx);
            xq[u] = r.xhat;
            o[jq + u] = r.dx;
          }
          const float d0 = nb_elem(dv[i], jq), d1 = nb_elem(dv[i], jq + 1), d2 = nb_elem(dv[i], jq + 2),
                      d3 = nb_elem(dv[i], jq + 3);
          if constexpr (kDwRegs) {
            float* sw = dw_regs + i * VEC + jq;
            sw[0] = fmaf(d0, xq[0], sw[0]);
            sw[1] = fmaf(d1, xq[1], sw[1]);
            sw[2] = fmaf(d2, xq[2], sw[2]);
            sw[3] = fmaf(d3, xq[3], sw[3]);
          } else {
            float4& sw = quads[((i * VEC + jq) / 4) * WT];
            sw = make_float4(fmaf(d0, xq[0], sw.x), fmaf(d1, xq[1], sw.y), fmaf(d2, xq[2], sw.z),
                             fmaf(d3, xq[3], sw.w));
          }
          if constexpr (kDbShared) {
            float4& sb = quads[kDbQuads + ((i * VEC + jq) / 4) * WT];
            sb = make_float4(sb.x + d0, sb.y + d1, sb.z + d2, sb.w + d3);
          }
          if constexpr (kDbRegs) {
            float* sb = db_regs + i * VEC + jq;
            sb[0] += d0;
            sb[1] += d1;
            sb[2] += d2;
            sb[3] += d3;
          }
        }
        store_pack<T, VEC>(dxr + col, nb_round<T, VEC>(o));
        // One vector's re-read at a time: hoisting the next vector's loads above this one's sums
        // would hold 8 more registers beside the 32 sums.
        if constexpr (kReread) asm volatile("" ::: "memory");
      }
    }
  }
  // The partner may still read this CTA's exchange slots (published) or have a push in flight
  // (mailbox): neither leaves before both are done.
  cluster.sync();

  // This CTA's half of the cluster's partial rows: element e = i * VEC + j of the thread sits at
  // column c0 + (i * WT + t) * VEC + j.
  const int64_t at = static_cast<int64_t>(blockIdx.x / CS) * p.cols + c0;
  // quad_at(e): the 4 sums of elements e .. e + 3.
  const auto store_half = [&](float* row, const auto& quad_at) {
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * WT + t) * VEC;
      if (col < half) {
#pragma unroll
        for (int j = 0; j < VEC; j += 4) *reinterpret_cast<float4*>(row + col + j) = quad_at(i * VEC + j);
      }
    }
  };
  float* const dw = static_cast<float*>(p.partial_dw);
  float* const db = static_cast<float*>(p.partial_db);
  if constexpr (kDwRegs) {
    if (dw)
      store_half(dw + at, [&](int e) { return make_float4(dw_regs[e], dw_regs[e + 1], dw_regs[e + 2], dw_regs[e + 3]); });
  } else {
    if (dw) store_half(dw + at, [&](int e) { return quads[(e / 4) * WT]; });
  }
  if constexpr (kDbShared) {
    if (db) store_half(db + at, [&](int e) { return quads[kDbQuads + (e / 4) * WT]; });
  }
  if constexpr (kDbRegs) {
    if (db)
      store_half(db + at, [&](int e) { return make_float4(db_regs[e], db_regs[e + 1], db_regs[e + 2], db_regs[e + 3]); });
  }
#else
  __trap();  // the host launches it on sm_90 and newer only
#endif
}

}  // namespace baracuda::norm::cuda
