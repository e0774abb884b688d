#pragma once
// Internal: plan-time timing of cuBLASLt's ranked tactics (PlanPreference::autotune). The plan
// that asks for it allocates zeroed scratch operands, times every candidate on a private stream
// with CUDA events, keeps the fastest, and remembers the winner per problem for the process.
// Everything here happens in select(), never in run(): it allocates and synchronizes.
#include <cublasLt.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "baracuda/core/status.hpp"

namespace baracuda::gemm {

// A zero-filled device allocation on the current device, freed on destruction (null when
// `bytes` is 0 or the allocation failed: `ok()` says which).
class ScratchBuffer {
 public:
  explicit ScratchBuffer(size_t bytes);
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  ~ScratchBuffer();
  void* get() const { return p_; }
  bool ok() const { return ok_; }

 private:
  void* p_ = nullptr;
  bool ok_ = true;
};

// Makes `device` current for the scope, restoring the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// The median time (ms) of `launch(i, stream)` for each candidate i < count, after warm-up, on a
// private stream of the current device; a candidate whose launch fails gets +infinity.
Result<std::vector<double>> time_candidates(int count, const std::function<cublasStatus_t(int, cudaStream_t)>& launch);

// The process-wide winner cache, keyed by the problem (descriptor, device, limits).
std::optional<cublasLtMatmulAlgo_t> cached_winner(const std::string& key);
void remember_winner(const std::string& key, const cublasLtMatmulAlgo_t& algo);

// Whether BARACUDA_GEMM_AUTOTUNE=1 asks every cuBLASLt GEMM plan to autotune (benchmark A/B).
bool autotune_forced_by_env();

}  // namespace baracuda::gemm
