#pragma once
// Internal: one cuBLASLt handle per CUDA device, created lazily at plan time (never inside run())
// and kept for the process's lifetime (destroying it at exit could run after the CUDA runtime has
// shut down). Thread-safe.
#include <cublasLt.h>

#include <string>

#include "baracuda/core/status.hpp"

namespace baracuda::gemm {

Result<cublasLtHandle_t> cublaslt_handle(int device_ordinal);

// "cublasLtMatmul failed: CUBLAS_STATUS_NOT_SUPPORTED" for a failed call.
Status cublaslt_error(const std::string& call, cublasStatus_t status);

}  // namespace baracuda::gemm
