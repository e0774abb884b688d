#pragma once
// Device conversions between storage dtypes and the compute type C (float, double or int64_t).
// They match the host conversions in baracuda/core/scalar_convert.hpp: RNE for narrowing floats,
// saturation for fp8, truncation + saturation (NaN -> 0) for float -> integer, wrap for
// integer -> integer, nonzero -> true for bool.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <limits>
#include <type_traits>

#include "baracuda/core/dtype.hpp"

namespace baracuda::ew::cuda {

template <class I, class F>
__device__ __forceinline__ I saturating_trunc(F v) {
  if (v != v) return 0;
  F t = trunc(v);
  constexpr F lo = static_cast<F>(std::numeric_limits<I>::min());
  constexpr F hi = static_cast<F>(std::numeric_limits<I>::max());
  if (t <= lo) return std::numeric_limits<I>::min();
  if (t >= hi) return std::numeric_limits<I>::max();
  return static_cast<I>(t);
}

// Storage type -> compute type.
template <class C, class T>
__device__ __forceinline__ C to_compute(T v) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16> ||
                std::is_same_v<T, __nv_fp8_e4m3> || std::is_same_v<T, __nv_fp8_e5m2>) {
    return static_cast<C>(static_cast<float>(v));
  } else if constexpr (std::is_integral_v<C> && std::is_floating_point_v<T>) {
    return saturating_trunc<C>(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    return static_cast<C>(v ? 1 : 0);
  } else {
    return static_cast<C>(v);
  }
}

// Compute type -> storage type.
template <class T, class C>
__device__ __forceinline__ T from_compute(C v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v != C(0);  // NaN is true
  } else if constexpr (std::is_same_v<T, __half>) {
    if constexpr (std::is_same_v<C, double>) return __double2half(v);
    else return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    if constexpr (std::is_same_v<C, double>) return __double2bfloat16(v);
    else return __float2bfloat16_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, __nv_fp8_e4m3> || std::is_same_v<T, __nv_fp8_e5m2>) {
    constexpr __nv_fp8_interpretation_t kind = std::is_same_v<T, __nv_fp8_e4m3> ? __NV_E4M3 : __NV_E5M2;
    T r;
    if constexpr (std::is_same_v<C, double>) r.__x = __nv_cvt_double_to_fp8(v, __NV_SATFINITE, kind);
    else r.__x = __nv_cvt_float_to_fp8(static_cast<float>(v), __NV_SATFINITE, kind);
    return r;
  } else if constexpr (std::is_integral_v<T> && std::is_floating_point_v<C>) {
    return saturating_trunc<T>(v);
  } else {
    return static_cast<T>(v);
  }
}

// Calls f.template operator()<StorageType>() for a runtime dtype (complex excluded).
template <class F>
__host__ __device__ __forceinline__ auto visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::f64: return f(double{});
    case DType::f16: return f(__half{});
    case DType::bf16: return f(__nv_bfloat16{});
    case DType::f8e4m3: return f(__nv_fp8_e4m3{});
    case DType::f8e5m2: return f(__nv_fp8_e5m2{});
    case DType::i64: return f(int64_t{});
    case DType::i32: return f(int32_t{});
    case DType::i16: return f(int16_t{});
    case DType::i8: return f(int8_t{});
    case DType::u8: return f(uint8_t{});
    case DType::boolean: return f(bool{});
    default: return f(float{});
  }
}

template <class C>
__device__ __forceinline__ C load_dyn(const char* p, DType t) {
  return visit_dtype(t, [p](auto tag) { return to_compute<C>(*reinterpret_cast<const decltype(tag)*>(p)); });
}

template <class C>
__device__ __forceinline__ void store_dyn(char* p, DType t, C v) {
  visit_dtype(t, [p, v](auto tag) {
    using T = decltype(tag);
    *reinterpret_cast<T*>(p) = from_compute<T>(v);
    return 0;
  });
}

}  // namespace baracuda::ew::cuda
