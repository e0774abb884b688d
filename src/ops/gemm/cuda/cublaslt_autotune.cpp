// Plan-time timing of cuBLASLt tactics (cublaslt_autotune.hpp).
#include "ops/gemm/cuda/cublaslt_autotune.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>

#include "core/env_switch.hpp"

namespace baracuda::gemm {

ScratchBuffer::ScratchBuffer(size_t bytes) {
  if (bytes == 0) return;
  if (cudaMalloc(&p_, bytes) != cudaSuccess || cudaMemset(p_, 0, bytes) != cudaSuccess) {
    (void)cudaGetLastError();
    if (p_) (void)cudaFree(p_);
    p_ = nullptr;
    ok_ = false;
  }
}

ScratchBuffer::~ScratchBuffer() {
  if (p_) (void)cudaFree(p_);
}

DeviceGuard::DeviceGuard(int device) {
  if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
  (void)cudaSetDevice(device);
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) (void)cudaSetDevice(previous_);
}

namespace {

constexpr int kWarmup = 2;
constexpr int kSamples = 7;

Status cuda_failure(const char* what, cudaError_t e) {
  return backend_error(std::string("[gemm.autotune] ") + what + ": " + cudaGetErrorString(e));
}

}  // namespace

Result<std::vector<double>> time_candidates(int count, const std::function<cublasStatus_t(int, cudaStream_t)>& launch) {
  cudaStream_t s = nullptr;
  if (cudaError_t e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking); e != cudaSuccess)
    return cuda_failure("cudaStreamCreateWithFlags", e);
  cudaEvent_t start = nullptr, stop = nullptr;
  (void)cudaEventCreate(&start);
  (void)cudaEventCreate(&stop);
  std::vector<double> ms(static_cast<size_t>(count), std::numeric_limits<double>::infinity());
  Status failure = Status::ok();
  for (int i = 0; i < count && failure.is_ok(); ++i) {
    bool launched = true;
    for (int w = 0; w < kWarmup && launched; ++w) launched = launch(i, s) == CUBLAS_STATUS_SUCCESS;
    if (!launched) continue;  // this tactic cannot run the problem: it stays at +infinity
    std::vector<double> samples;
    for (int r = 0; r < kSamples; ++r) {
      (void)cudaEventRecord(start, s);
      const cublasStatus_t st = launch(i, s);
      (void)cudaEventRecord(stop, s);
      if (cudaError_t e = cudaEventSynchronize(stop); e != cudaSuccess) {
        failure = cuda_failure("timing a tactic", e);
        break;
      }
      if (st != CUBLAS_STATUS_SUCCESS) break;
      float t = 0;
      (void)cudaEventElapsedTime(&t, start, stop);
      samples.push_back(t);
    }
    if (samples.size() == static_cast<size_t>(kSamples)) {
      std::nth_element(samples.begin(), samples.begin() + kSamples / 2, samples.end());
      ms[static_cast<size_t>(i)] = samples[kSamples / 2];
    }
  }
  (void)cudaStreamSynchronize(s);
  (void)cudaEventDestroy(start);
  (void)cudaEventDestroy(stop);
  (void)cudaStreamDestroy(s);
  if (!failure.is_ok()) return failure;
  return ms;
}

namespace {

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}

std::map<std::string, cublasLtMatmulAlgo_t>& cache() {
  static std::map<std::string, cublasLtMatmulAlgo_t> c;
  return c;
}

}  // namespace

std::optional<cublasLtMatmulAlgo_t> cached_winner(const std::string& key) {
  std::lock_guard<std::mutex> lock(cache_mutex());
  auto it = cache().find(key);
  if (it == cache().end()) return std::nullopt;
  return it->second;
}

void remember_winner(const std::string& key, const cublasLtMatmulAlgo_t& algo) {
  std::lock_guard<std::mutex> lock(cache_mutex());
  cache()[key] = algo;
}

bool autotune_forced_by_env() {
  return env_is("BARACUDA_GEMM_AUTOTUNE", "1");
}

}  // namespace baracuda::gemm
