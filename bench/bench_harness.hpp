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

#include "baracuda/core/stream.hpp"

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

// Keeps the GPU busy for about `ns` nanoseconds (one thread spinning on the global timer).
__global__ inline void gpu_busy_wait(unsigned long long ns) {
  unsigned long long start, now;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  do {
    __nanosleep(1000);
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  } while (now - start < ns);
}

// Calls per timed sample in median_ms.
inline constexpr int kBatch = 4;

// Median time of launch() in ms (after 5 warm-up runs): each of reps samples is the mean of kBatch
// back-to-back runs between two CUDA events on stream s, queued behind a ~1 ms busy-wait kernel so
// that the host's launch path (a plan's run() and the driver call inside) is off the clock. This
// is how bench/torch_compare.py and bench/python/bench_vs_torch.py time PyTorch (torch.cuda._sleep
// + a batch); without it, a 34-us decode GEMM measured 20% slower here than in the Python runner.
template <class F>
double median_ms(F&& launch, int reps, cudaStream_t s) {
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  for (int i = 0; i < 5; ++i) launch();
  CHECK_CUDA(cudaStreamSynchronize(s));
  std::vector<float> ms;
  for (int i = 0; i < reps; ++i) {
    gpu_busy_wait<<<1, 1, 0, s>>>(1000000ull);
    CHECK_CUDA(cudaGetLastError());
    CHECK_CUDA(cudaEventRecord(a, s));
    for (int j = 0; j < kBatch; ++j) launch();
    CHECK_CUDA(cudaEventRecord(b, s));
    CHECK_CUDA(cudaEventSynchronize(b));
    float t = 0;
    CHECK_CUDA(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t / kBatch);
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

// One measured case, as written to the JSON (DESIGN.md section 7; torch_compare.py adds torch's).
struct Record {
  std::string op, cas, dtype, shape, impl;
  double ms, gbs;
  double tflops = -1.0;  // compute-bound drivers (GEMM); negative: not applicable (null)
};

// What every driver starts with: a non-blocking stream (raw, and as the baracuda Stream the plans
// run on), the device's properties and the same-run copy bandwidth (the roofline), printed.
struct Session {
  cudaStream_t raw = nullptr;
  baracuda::Stream stream = baracuda::Stream::cpu();
  cudaDeviceProp prop{};
  double copy_gbs = 0;
};

inline Session open_session(int reps) {
  Session session;
  CHECK_CUDA(cudaStreamCreateWithFlags(&session.raw, cudaStreamNonBlocking));
  auto stream = baracuda::Stream::cuda(session.raw);
  if (!stream) {
    std::fprintf(stderr, "%s\n", stream.status().to_string().c_str());
    std::exit(1);
  }
  session.stream = *stream;
  CHECK_CUDA(cudaGetDeviceProperties(&session.prop, 0));
  session.copy_gbs = copy_bandwidth_gbs(reps, session.raw);
  std::printf("device %s, copy bandwidth %.1f GB/s\n", session.prop.name, session.copy_gbs);
  return session;
}

// Writes {"gpu", "copy_gb_per_s", "records": [...]} to path; false (with a message) when it can't.
inline bool write_json(const std::string& path, const std::string& family, const char* gpu, double copy_gbs,
                       const std::vector<Record>& records) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::perror(("open " + path).c_str());
    return false;
  }
  std::fprintf(f, "{\"gpu\": \"%s\", \"copy_gb_per_s\": %.1f, \"records\": [\n", gpu, copy_gbs);
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    std::fprintf(f,
                 "  {\"family\": \"%s\", \"op\": \"%s\", \"case\": \"%s\", \"dtype\": \"%s\", \"shape\": \"%s\", "
                 "\"impl\": \"%s\", \"ms\": %.5f, \"gb_per_s\": %.1f, \"tflop_per_s\": %s, \"torch_ms\": null, "
                 "\"speedup_vs_torch\": null, \"fraction_of_roofline\": %.4f}%s\n",
                 family.c_str(), r.op.c_str(), r.cas.c_str(), r.dtype.c_str(), r.shape.c_str(), r.impl.c_str(), r.ms,
                 r.gbs, r.tflops < 0 ? "null" : std::to_string(r.tflops).c_str(), r.gbs / copy_gbs, i + 1 < records.size() ? "," : "");
  }
  std::fprintf(f, "]}\n");
  std::fclose(f);
  return true;
}

// [--json out.json] [--reps N] [--only SUBSTRING]
struct Options {
  std::string json_path;
  int reps = 30;
  std::string only;  // time only the cases whose name contains it (an interleaved A/B of a few cases)
  // Rows of the norm and softmax drivers' 32768-column shape (4096, the baseline's): environment
  // BENCH_WIDE_ROWS, so that tools/ab-interleaved can time the same kernel at other row counts
  // (a probe of the last partial wave of rows: 4096 rows over 132 SMs are 31 rows a block and 4 over).
  int64_t wide_rows = 4096;
};

// Whether case `name` is timed under --only (drivers that honour it: norm, softmax, scan).
inline bool wanted(const Options& o, const std::string& name) {
  return o.only.empty() || name.find(o.only) != std::string::npos;
}
inline Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) o.json_path = argv[++i];
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) o.reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) o.only = argv[++i];
  }
  if (const char* w = std::getenv("BENCH_WIDE_ROWS"); w && std::atoll(w) > 0) o.wide_rows = std::atoll(w);
  return o;
}

}  // namespace bench
