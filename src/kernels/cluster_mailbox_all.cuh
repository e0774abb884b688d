#pragma once
// The pushed per-row exchange (kernels/cluster_pair_exchange.cuh, ClusterPairMailbox) for clusters
// of N CTAs: each CTA's thread 0 pushes its pair of floats into every other CTA's shared memory
// with st.async, and every CTA's threads wait on their own mbarrier for the N - 1 pairs, then add
// all N in rank order, so every CTA holds bitwise the same totals. Why a second form instead of
// a template of the first: the two-CTA kernels' SASS is measured and tested as it is.
#include <cooperative_groups.h>

#include <cstdint>

#include "kernels/cluster_pair_exchange.cuh"  // shared_address

namespace baracuda::kernels {

// One per CTA, in static shared memory. Use k (one per row) takes slot k % 2 and completes phase
// k / 2 of that slot's mbarrier: one arrival (this CTA's thread 0, announcing (N - 1) x 8 bytes)
// and the N - 1 pairs the others' st.async deliver, in any order. Slot k % 2 is rewritten at use
// k + 2 only after its use-k values were read: every thread reads them right after its wait of use
// k, before the block barrier of the next row's own reduction, after which thread 0 sends use
// k + 1; a peer sends use k + 2 only after its wait of use k + 1, which needs that value.
template <int N>
struct ClusterMailboxAll {
  float2 pair[2][N];            // per slot: the pair of each rank (this CTA's own entry unused)
  unsigned long long full[2];   // per slot: the mbarrier that says the N - 1 pairs have landed
};

// Thread 0 initializes the mbarriers; then one cluster barrier, so that no peer pushes into an
// mbarrier before it is initialized. Called once by every thread of every CTA of the cluster.
template <int N>
__device__ __forceinline__ void cluster_mailbox_all_init(ClusterMailboxAll<N>& m) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < 2; ++s)
      asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(shared_address(&m.full[s])));
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  cooperative_groups::this_cluster().sync();
#endif
}

// Use `use` of the mailbox: pushes (a, b) to every other CTA of the cluster and waits for theirs.
// Returns the use's slot: m.pair[slot][k] then holds rank k's pair for every k but this CTA's own
// rank, until the next use's block barrier (above). Called by every thread of every CTA, with the
// same `use` sequence. The wait acquires at CTA scope (the pairs land in this CTA's own shared
// memory, which L1 never caches; see cluster_mailbox_exchange), so it keeps L1 valid.
template <int N>
__device__ __forceinline__ unsigned cluster_mailbox_all_exchange(ClusterMailboxAll<N>& m, unsigned use, float a,
                                                                 float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  const unsigned slot = use & 1u, phase = (use >> 1) & 1u;
  const unsigned rank = cooperative_groups::this_cluster().block_rank();
  const uint32_t full = shared_address(&m.full[slot]);
  if (threadIdx.x == 0) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(full), "n"(8 * (N - 1)) : "memory");
    const uint32_t own_entry = shared_address(&m.pair[slot][rank]);
#pragma unroll
    for (unsigned peer = 0; peer < N; ++peer) {
      if (peer == rank) continue;
      uint32_t peer_entry, peer_full;
      asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(peer_entry) : "r"(own_entry), "r"(peer));
      asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(peer_full) : "r"(full), "r"(peer));
      asm volatile("st.async.shared::cluster.mbarrier::complete_tx::bytes.v2.b32 [%0], {%1, %2}, [%3];" ::"r"(
                       peer_entry),
                   "r"(__float_as_uint(a)), "r"(__float_as_uint(b)), "r"(peer_full)
                   : "memory");
    }
  }
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n .reg .pred landed;\n"
        " mbarrier.try_wait.parity.acquire.cta.shared::cta.b64 landed, [%1], %2;\n"
        " selp.u32 %0, 1, 0, landed;\n}"
        : "=r"(done)
        : "r"(full), "r"(phase)
        : "memory");
  } while (done == 0);
  return slot;
#else
  return 0;  // never called before sm_90 (the kernels trap there)
#endif
}

// Rank k's pair of a use that returned `slot` (own: this CTA's, for k == its rank).
template <int N>
__device__ __forceinline__ float2 cluster_mailbox_all_pair(const ClusterMailboxAll<N>& m, unsigned slot, unsigned k,
                                                           unsigned rank, float2 own) {
  return k == rank ? own : m.pair[slot][k];
}

// cluster_mailbox_all_exchange, then the sum of all N pairs in rank order (((p0 + p1) + p2) + ...):
// bitwise the same in every CTA.
template <int N>
__device__ __forceinline__ float2 cluster_mailbox_all_total(ClusterMailboxAll<N>& m, unsigned use, float a, float b) {
  const unsigned slot = cluster_mailbox_all_exchange(m, use, a, b);
  const unsigned rank = cooperative_groups::this_cluster().block_rank();
  const float2 own = make_float2(a, b);
  float2 total = cluster_mailbox_all_pair(m, slot, 0, rank, own);
#pragma unroll
  for (unsigned k = 1; k < N; ++k) {
    const float2 v = cluster_mailbox_all_pair(m, slot, k, rank, own);
    total.x += v.x;
    total.y += v.y;
  }
  return total;
}

}  // namespace baracuda::kernels
