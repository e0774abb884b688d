#pragma once
// Device side of the cluster row kernels (sm_90): the per-row exchange of two floats between the
// CTAs of a cluster through distributed shared memory, in two forms:
//   - published (cluster_pair_exchange): each CTA writes its pair into its own shared memory,
//     one cluster barrier, then every thread reads the partner's pair remotely;
//   - pushed (ClusterPairMailbox): each CTA's thread 0 stores its pair straight into the
//     partner's shared memory with st.async, whose arrival completes a transaction on the
//     partner's mbarrier, and the partner's threads wait on that mbarrier alone.
// Why the second: the cluster barrier's arrive has release semantics for every thread, so each
// thread first waits for all its outstanding memory operations (the previous row's stores, the
// prefetches) to complete. ncu of the norm backward's cluster kernel (rms_norm 4096x32768 bf16,
// H200, 5564182) put 11% of all warp stall samples on that wait (the MEMBAR before the cluster
// arrive) and 2% more on the barrier. The mailbox orders nothing but the 8 bytes it carries.
#include <cooperative_groups.h>

#include <cstdint>

namespace baracuda::kernels {

// Thread 0 writes this CTA's pair (a, b) into `slot` (shared memory), then the cluster barrier
// (release / acquire across the cluster: afterwards every CTA's pair is written). Called by every
// thread of every CTA of the cluster.
__device__ __forceinline__ void cluster_publish_pair(float (&slot)[2], float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (threadIdx.x == 0) {
    slot[0] = a;
    slot[1] = b;
  }
  cooperative_groups::this_cluster().sync();
#endif
}

// Clusters of two: cluster_publish_pair, then every thread reads the partner's pair. Callers
// alternate two slots between rows: a slot is rewritten two rows later, after the partner passed
// the barrier that follows its read. Called by every thread of both CTAs.
__device__ __forceinline__ float2 cluster_pair_exchange(float (&slot)[2], float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  namespace cg = cooperative_groups;
  const cg::cluster_group cluster = cg::this_cluster();
  cluster_publish_pair(slot, a, b);
  const float* other = cluster.map_shared_rank(&slot[0], cluster.block_rank() ^ 1u);
  return make_float2(other[0], other[1]);
#else
  return make_float2(a, b);  // never called before sm_90 (the kernels trap there)
#endif
}

// The pushed exchange for clusters of two. One per CTA, in static shared memory.
//
// Use k (k = 0, 1, 2, ... : one per row) takes slot k % 2 and completes phase k / 2 of that slot's
// mbarrier, which counts one arrival (this CTA's thread 0, announcing 8 bytes) and the 8 bytes
// the partner's st.async delivers; the two may come in either order (the transaction count may
// go below zero first). A slot is rewritten at use k + 2 only after its use-k value was read:
// every thread reads it right after its wait of use k, before the block barrier inside the next
// row's own reduction, after which thread 0 sends use k + 1; the partner sends use k + 2 only
// after it has waited for that use k + 1 value.
struct ClusterPairMailbox {
  float2 pair[2];               // per slot: the partner's pair
  unsigned long long full[2];   // per slot: the mbarrier that says the pair has landed
};

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Thread 0 initializes the two mbarriers; then one cluster barrier, so that no partner pushes into
// an mbarrier before it is initialized. Called once by every thread of both CTAs.
__device__ __forceinline__ void cluster_mailbox_init(ClusterPairMailbox& m) {
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

// Use `use` of the mailbox (see above): pushes (a, b) to the partner and returns the partner's
// pair. Called by every thread of both CTAs, with the same `use` sequence.
//
// The wait's scope. st.async's complete-tx on the partner's mbarrier releases at cluster scope,
// and an acquire at cluster scope pairs with it by the letter of the PTX memory model; the SASS
// then invalidates the SM's L1 at every wait (CCTL.IVALL), so global data read before the wait
// comes from L2 again after it. CTA_SCOPE waits with a CTA-scope acquire instead, which keeps L1:
// for callers that read global data again after the wait (data no thread of the cluster writes).
// The 8 bytes land in this CTA's own shared memory, which L1 never caches; TMA multicast
// consumers (remote-issued async writes completing a local mbarrier) wait the same way. Alone,
// this form measured no faster (4baf9cb: layer_norm dw+db 0.2433 against 0.2395 ms).
template <bool CTA_SCOPE = false>
__device__ __forceinline__ float2 cluster_mailbox_exchange(ClusterPairMailbox& m, unsigned use, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  const unsigned slot = use & 1u, phase = (use >> 1) & 1u;
  const uint32_t full = shared_address(&m.full[slot]);
  if (threadIdx.x == 0) {
    const unsigned peer = cooperative_groups::this_cluster().block_rank() ^ 1u;
    uint32_t peer_pair, peer_full;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;"
                 : "=r"(peer_pair)
                 : "r"(shared_address(&m.pair[slot])), "r"(peer));
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(peer_full) : "r"(full), "r"(peer));
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], 8;" ::"r"(full) : "memory");
    asm volatile("st.async.shared::cluster.mbarrier::complete_tx::bytes.v2.b32 [%0], {%1, %2}, [%3];" ::"r"(peer_pair),
                 "r"(__float_as_uint(a)), "r"(__float_as_uint(b)), "r"(peer_full)
                 : "memory");
  }
  uint32_t done = 0;
  do {
    if constexpr (CTA_SCOPE) {
      asm volatile(
          "{\n .reg .pred landed;\n"
          " mbarrier.try_wait.parity.acquire.cta.shared::cta.b64 landed, [%1], %2;\n"
          " selp.u32 %0, 1, 0, landed;\n}"
          : "=r"(done)
          : "r"(full), "r"(phase)
          : "memory");
    } else {
      asm volatile(
          "{\n .reg .pred landed;\n"
          " mbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 landed, [%1], %2;\n"
          " selp.u32 %0, 1, 0, landed;\n}"
          : "=r"(done)
          : "r"(full), "r"(phase)
          : "memory");
    }
  } while (done == 0);
  return m.pair[slot];
#else
  return make_float2(a, b);  // never called before sm_90 (the kernels trap there)
#endif
}

}  // namespace baracuda::kernels
