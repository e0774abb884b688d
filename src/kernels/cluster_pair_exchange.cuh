#pragma once
// Device side of the cluster row kernels (sm_90): the per-row exchange of two floats between the
// CTAs of a cluster through distributed shared memory.
#include <cooperative_groups.h>

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

}  // namespace baracuda::kernels
