#pragma once
// Benchmark inputs: deterministic uniform values from a 64-bit hash of (index, seed), written on
// the device (no host copy of multi-GB inputs). Shared by every C++ benchmark driver.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "bench_harness.hpp"

namespace bench {

// Uniform in [lo, hi): the top 24 bits of a mixed (index, seed) hash.
__device__ __forceinline__ float hash_uniform(int64_t i, uint64_t seed, float lo, float hi) {
  uint64_t h = (static_cast<uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ull ^ seed;
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return lo + ((h >> 40) / float(1 << 24)) * (hi - lo);
}

template <class T>
__global__ void fill_uniform_kernel(T* p, int64_t n, uint64_t seed, float lo, float hi) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    p[i] = T(hash_uniform(i, seed, lo, hi));
}

// Fills n elements of type T at p on stream s (enqueued; checked for launch errors).
template <class T>
void fill_uniform(void* p, int64_t n, uint64_t seed, float lo, float hi, cudaStream_t s) {
  fill_uniform_kernel<T><<<1024, 256, 0, s>>>(static_cast<T*>(p), n, seed, lo, hi);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace bench
