#pragma once
// Internal: maps the runtime (x dtype, parameter dtype) pair to the kernel's C++ types.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "baracuda/core/dtype.hpp"
#include "baracuda/core/status.hpp"

#include <string>

namespace baracuda::norm::cuda {

template <class T> struct AccOf { using type = float; };
template <> struct AccOf<double> { using type = double; };

// Calls f.template operator()<T, W>() for the supported pairs (W is T or f32).
template <class F>
Status dispatch_types(DType t, DType w, F&& f) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return f.template operator()<float, float>();
    case DType::f64: return w32 ? f.template operator()<double, float>() : f.template operator()<double, double>();
    case DType::f16: return w32 ? f.template operator()<__half, float>() : f.template operator()<__half, __half>();
    case DType::bf16:
      return w32 ? f.template operator()<__nv_bfloat16, float>() : f.template operator()<__nv_bfloat16, __nv_bfloat16>();
    default: break;
  }
  return not_supported(std::string("[norm] no CUDA kernel for x ") + std::string(dtype_name(t)) + " with parameters " +
                       std::string(dtype_name(w)));
}

inline Status check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return Status::ok();
  return backend_error(std::string("[norm] launch of ") + what + " failed: " + cudaGetErrorName(e) + " (" +
                       cudaGetErrorString(e) + ")");
}

inline int round_up32(int64_t n) { return static_cast<int>(((n + 31) / 32) * 32); }

}  // namespace baracuda::norm::cuda
