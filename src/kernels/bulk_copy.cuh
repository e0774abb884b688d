#pragma once
// Bulk (TMA, sm_90) global -> shared copies completed on shared-memory mbarriers: a kernel streams
// long rows through a ring of shared-memory stages, one thread issuing a whole stage with one
// instruction, so tens of kilobytes per block stay in flight while every thread computes on a
// stage that has landed. The register-pipelined loads they replace keep only what the registers
// can hold in flight (about 32 KB per SM at 128 B a thread), too little to cover HBM's latency.
//
// Only for sm_90+: callers compile these paths under __CUDA_ARCH__ >= 900 and choose them on the
// host by the device's compute capability.
#include <cuda_runtime.h>

#include <cstdint>

namespace baracuda::kernels {

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900

__device__ __forceinline__ unsigned smem_address(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// Sets up a barrier that completes a phase after `arrivals` arrivals (and any expected bytes).
// Make the initialization visible (mbarrier_init_fence + __syncthreads) before any other thread
// or the copy engine uses it.
__device__ __forceinline__ void mbarrier_init(uint64_t* bar, unsigned arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_address(bar)), "r"(arrivals) : "memory");
}
__device__ __forceinline__ void mbarrier_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

// One arrival that also tells the barrier to wait for `bytes` more bytes of bulk copies.
__device__ __forceinline__ void mbarrier_arrive_expect_bytes(uint64_t* bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_address(bar)), "r"(bytes)
               : "memory");
}

// One plain arrival (a consumer saying it is done with a stage).
__device__ __forceinline__ void mbarrier_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_address(bar)) : "memory");
}

// Blocks until the barrier's phase with parity `parity` has completed. A phase's parity is the
// number of phases completed before it, modulo 2.
__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, unsigned parity) {
  const unsigned addr = smem_address(bar);
  unsigned done = 0;
  do {
    asm volatile(
        "{\n\t.reg .pred p;\n\t"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\t"
        "selp.u32 %0, 1, 0, p;\n\t}"
        : "=r"(done)
        : "r"(addr), "r"(parity)
        : "memory");
  } while (!done);
}

// Copies `bytes` (a multiple of 16; both addresses 16-byte aligned) from global to shared memory
// and counts them on `bar` when they land. The bytes must have been announced on the barrier by
// mbarrier_arrive_expect_bytes in the same phase.
__device__ __forceinline__ void bulk_copy_to_shared(void* smem, const void* gmem, unsigned bytes, uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
          smem_address(smem)),
      "l"(gmem), "r"(bytes), "r"(smem_address(bar))
      : "memory");
}

#endif  // __CUDA_ARCH__ >= 900

}  // namespace baracuda::kernels
