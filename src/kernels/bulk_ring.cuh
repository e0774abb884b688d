#pragma once
// A ring of shared-memory stages filled by TMA bulk copies (sm_90), for kernels that stream groups
// of rows through shared memory: thread 0 fills a stage with one copy (rows contiguous in memory)
// or one per row, the block's warps consume it and release it, and thread 0 refills it with the
// item `stages` further on once every warp has released it. Item q lives in stage q % stages; its
// barriers' phases have parity (q / stages) & 1.
//
// The kernel declares the ring __shared__; thread 0 calls init(), then the block synchronizes
// (stream_row_groups below does all of it for the kernels that take rows a warp each).
#include <cstdint>

#include "kernels/bulk_copy.cuh"

namespace baracuda::kernels {

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900

template <int kMaxStages>
struct BulkRing {
  uint64_t full[kMaxStages];   // one arrival (the filling thread's) plus the copies' bytes
  uint64_t empty[kMaxStages];  // one arrival per consumer (a warp)

  __device__ __forceinline__ void init(int stages, unsigned consumers) {
    for (int s = 0; s < stages; ++s) {
      mbarrier_init(&full[s], 1);
      mbarrier_init(&empty[s], consumers);
    }
    mbarrier_init_fence();
  }

  // Thread 0: `count` rows of `row_bytes` bytes, `stride_bytes` apart from `src`, into `dst`
  // (packed), counted on item q's full barrier. Every address and size a multiple of 16 bytes.
  __device__ __forceinline__ void fill_rows(int64_t q, int stages, unsigned char* dst, const unsigned char* src,
                                            int64_t count, unsigned row_bytes, int64_t stride_bytes) {
    uint64_t* bar = &full[q % stages];
    mbarrier_arrive_expect_bytes(bar, static_cast<unsigned>(count) * row_bytes);
    if (stride_bytes == row_bytes) {  // contiguous rows: one copy
      bulk_copy_to_shared(dst, src, static_cast<unsigned>(count) * row_bytes, bar);
    } else {
      for (int64_t r = 0; r < count; ++r) bulk_copy_to_shared(dst + r * row_bytes, src + r * stride_bytes, row_bytes, bar);
    }
  }

  __device__ __forceinline__ void wait_filled(int64_t q, int stages) {
    mbarrier_wait(&full[q % stages], static_cast<unsigned>((q / stages) & 1));
  }
  // One consumer is done with item q's stage (call from one lane per warp, after __syncwarp).
  __device__ __forceinline__ void release(int64_t q, int stages) { mbarrier_arrive(&empty[q % stages]); }
  __device__ __forceinline__ void wait_released(int64_t q, int stages) {
    mbarrier_wait(&empty[q % stages], static_cast<unsigned>((q / stages) & 1));
  }
};

// Streams the rows of a matrix (`rows` rows of `row_bytes` bytes, `stride_bytes` apart from
// `src`) through `ring` and `ring_mem` (dynamic shared memory of stages * kRowsPerStage *
// row_bytes bytes) in groups of kRowsPerStage consecutive rows, block b taking the groups b,
// b + gridDim.x, ...; warp w calls per_row(row, staged) for row w of each of its block's groups
// that exists, `staged` pointing at that row's bytes in shared memory. A warp's per_row never
// waits for another warp (no block barrier in the loop); thread 0 refills the stage of the group
// before the current one once every warp has released it. Called by every thread of a block of
// kRowsPerStage warps.
template <int kRowsPerStage, int kMaxStages, class PerRow>
__device__ __forceinline__ void stream_row_groups(BulkRing<kMaxStages>& ring, unsigned char* ring_mem, int stages,
                                                  const unsigned char* src, int64_t rows, unsigned row_bytes,
                                                  int64_t stride_bytes, PerRow&& per_row) {
  const int lane = static_cast<int>(threadIdx.x) & 31, warp = static_cast<int>(threadIdx.x) >> 5;
  const int64_t stage_bytes = static_cast<int64_t>(row_bytes) * kRowsPerStage;
  const int64_t groups = (rows + kRowsPerStage - 1) / kRowsPerStage;
  const int64_t mine = groups > blockIdx.x ? (groups - 1 - blockIdx.x) / gridDim.x + 1 : 0;
  const auto first_row = [&](int64_t q) { return (static_cast<int64_t>(blockIdx.x) + q * gridDim.x) * kRowsPerStage; };
  const auto fill = [&](int64_t q) {  // thread 0: group q into its stage
    const int64_t first = first_row(q);
    const int64_t count = rows - first < kRowsPerStage ? rows - first : kRowsPerStage;
    ring.fill_rows(q, stages, ring_mem + (q % stages) * stage_bytes, src + first * stride_bytes, count, row_bytes,
                   stride_bytes);
  };
  if (threadIdx.x == 0) ring.init(stages, kRowsPerStage);
  __syncthreads();
  if (threadIdx.x == 0)
    for (int64_t q = 0; q < stages && q < mine; ++q) fill(q);
  for (int64_t q = 0; q < mine; ++q) {
    const int64_t row = first_row(q) + warp;
    ring.wait_filled(q, stages);
    if (row < rows) per_row(row, ring_mem + (q % stages) * stage_bytes + warp * static_cast<int64_t>(row_bytes));
    __syncwarp();
    if (lane == 0) ring.release(q, stages);
    if (threadIdx.x == 0 && q >= 1 && q - 1 + stages < mine) {
      ring.wait_released(q - 1, stages);
      fill(q - 1 + stages);
    }
  }
}

#endif  // __CUDA_ARCH__ >= 900

}  // namespace baracuda::kernels
