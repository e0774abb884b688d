// The per-device cuBLASLt handle pool (cublaslt_handle_pool.hpp).
#include "ops/gemm/cuda/cublaslt_handle_pool.hpp"

#include <cuda_runtime_api.h>

#include <map>
#include <mutex>

namespace baracuda::gemm {

Status cublaslt_error(const std::string& call, cublasStatus_t status) {
  return backend_error("[gemm] " + call + " failed: " + cublasLtGetStatusName(status) + " (" +
                       cublasLtGetStatusString(status) + ")");
}

Result<cublasLtHandle_t> cublaslt_handle(int device_ordinal) {
  static std::mutex mutex;
  static std::map<int, cublasLtHandle_t> handles;
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = handles.find(device_ordinal); it != handles.end()) return it->second;
  // The handle belongs to the device current when it is created: switch to ours and back.
  int previous = 0;
  if (cudaError_t e = cudaGetDevice(&previous); e != cudaSuccess)
    return backend_error(std::string("[gemm] cudaGetDevice failed: ") + cudaGetErrorString(e));
  if (cudaError_t e = cudaSetDevice(device_ordinal); e != cudaSuccess)
    return backend_error("[gemm] cudaSetDevice(" + std::to_string(device_ordinal) + ") failed: " + cudaGetErrorString(e));
  cublasLtHandle_t h = nullptr;
  const cublasStatus_t st = cublasLtCreate(&h);
  (void)cudaSetDevice(previous);
  if (st != CUBLAS_STATUS_SUCCESS) return cublaslt_error("cublasLtCreate", st);
  handles.emplace(device_ordinal, h);
  return h;
}

}  // namespace baracuda::gemm
