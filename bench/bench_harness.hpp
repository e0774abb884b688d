#pragma once
// What every C++ benchmark driver shares: CUDA error checks, device buffers, the event timer
// (median of many runs after warm-up), the same-run copy roofline and the command line.
// Each driver (baracuda_<family>_bench) keeps its cases and its JSON records (DESIGN.md section 7).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#define CHECK_CUDA(x)                                                                                    \
  do {                                                                                                   \
    cudaError_t e_ = (x);                                                                                \
    if (e_ != cudaSuccess) {                                                                             \
      std::fprintf(stderr, "%s failed: %s (%s:%d)\n", #x, cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                                      \
    }                                                                                                    \
  } while (0)

namespace bench {

// Device memory for one benchmark input or output (at least one byte, so empty cases allocate).
struct Buffer {
  void* p = nullptr;
  size_t bytes = 0;
  explicit Buffer(size_t b) : bytes(b) { CHECK_CUDA(cudaMalloc(&p, b > 0 ? b : 1)); }
  ~Buffer() { cudaFree(p); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

// Median time of launch() in ms over reps runs (after 5 warm-up runs), CUDA events on stream s.
template <class F>
double median_ms(F&& launch, int reps, cudaStream_t s) {
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  for (int i = 0; i < 5; ++i) launch();
  CHECK_CUDA(cudaStreamSynchronize(s));
  std::vector<float> ms;
  for (int i = 0; i < reps; ++i) {
    CHECK_CUDA(cudaEventRecord(a, s));
    launch();
    CHECK_CUDA(cudaEventRecord(b, s));
    CHECK_CUDA(cudaEventSynchronize(b));
    float t = 0;
    CHECK_CUDA(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// The roofline every record is a fraction of: a 1 GiB device-to-device copy, bytes read + written.
inline double copy_bandwidth_gbs(int reps, cudaStream_t s) {
  const size_t bytes = size_t(1) << 30;
  Buffer a(bytes), b(bytes);
  CHECK_CUDA(cudaMemsetAsync(a.p, 1, bytes, s));
  const double ms = median_ms([&] { CHECK_CUDA(cudaMemcpyAsync(b.p, a.p, bytes, cudaMemcpyDeviceToDevice, s)); }, reps, s);
  return 2.0 * bytes / (ms * 1e6);
}

// [--json out.json] [--reps N]
struct Options {
  std::string json_path;
  int reps = 30;
};
inline Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) o.json_path = argv[++i];
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) o.reps = std::atoi(argv[++i]);
  }
  return o;
}

}  // namespace bench
