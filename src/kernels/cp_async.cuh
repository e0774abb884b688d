#pragma once
// Asynchronous global -> shared copies (cp.async, sm_80+), for kernels that stream the next block of
// data into a second staging buffer while they work on the current one (the norm forward's staged
// rows, the chunked scan). Below sm_80 the copy is a plain synchronous 16-byte move. Also the L2
// prefetch of the register-resident rows kernels.
#include <cuda_runtime.h>

namespace baracuda::kernels {

// One 16-byte copy; both addresses 16-byte aligned. L2 only (.cg): the data is read once.
__device__ __forceinline__ void stage_copy16(void* smem, const void* gmem) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(s), "l"(gmem) : "memory");
#else
  *static_cast<uint4*>(smem) = *static_cast<const uint4*>(gmem);
#endif
}
// stage_copy16 when `pred`, as one predicated instruction rather than a branch around each copy:
// a kernel that prefetches between loading a row into registers and using it stays one
// straight-line block (the staged softmax backward: 46-50 registers instead of 52-56 at two
// vectors per thread, ptxas -v).
__device__ __forceinline__ void stage_copy16_if(void* smem, const void* gmem, bool pred) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile(
      "{\n\t.reg .pred p;\n\tsetp.ne.b32 p, %2, 0;\n\t@p cp.async.cg.shared.global [%0], [%1], 16;\n\t}" ::"r"(s),
      "l"(gmem), "r"(static_cast<int>(pred))
      : "memory");
#else
  if (pred) *static_cast<uint4*>(smem) = *static_cast<const uint4*>(gmem);
#endif
}
// Closes this thread's group of copies issued since the last commit (possibly empty).
__device__ __forceinline__ void stage_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}
// Waits until every committed group of this thread has landed (a single-stage buffer: the group
// being waited for is the only one in flight).
__device__ __forceinline__ void stage_wait_all() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group 0;" ::: "memory");
#endif
}
// Waits until at most the newest committed group of this thread is still in flight.
__device__ __forceinline__ void stage_wait_all_but_newest() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group 1;" ::: "memory");
#endif
}
// Waits until at most N of this thread's committed groups are still in flight (a ring of N + 1
// stages: this row's group landed, the N newer ones may not have).
template <int N>
__device__ __forceinline__ void stage_wait_all_but() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

// Asks L2 for the 128-byte line holding `gmem` without waiting for it or holding a register: the
// rows kernels issue it for the next row before a row's reductions, so HBM keeps streaming across
// the barrier (the row's real loads then hit L2).
__device__ __forceinline__ void prefetch_l2(const void* gmem) {
  asm volatile("prefetch.global.L2 [%0];" ::"l"(gmem));
}

// Asks L2 for `bytes` (a multiple of 16) at `gmem` (16-byte aligned) with one instruction: the
// bulk form of prefetch_l2 (sm_90; a no-op before).
__device__ __forceinline__ void prefetch_l2_bulk(const void* gmem, unsigned bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(gmem), "r"(bytes) : "memory");
#endif
}

}  // namespace baracuda::kernels
