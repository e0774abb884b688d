#pragma once
// Device conversions between storage dtypes and the compute type C (float, double, int64_t, or
// Complex<float> / Complex<double> for complex problems, strided path only).
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
#include "kernels/ew_complex.cuh"

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
__device__ __forceinline__ C load_dyn(const char* p, DType t);

// Complex compute (PyTorch's conversions): complex storage converts part by part, real storage
// reads as (v, 0). The parts load one by one (c128 elements need only 8-byte alignment here).
template <class C>
__device__ __forceinline__ C load_complex_dyn(const char* p, DType t) {
  using R = typename C::Real;
  if (t == DType::c64) {
    const float* q = reinterpret_cast<const float*>(p);
    return C(static_cast<R>(q[0]), static_cast<R>(q[1]));
  }
  if (t == DType::c128) {
    const double* q = reinterpret_cast<const double*>(p);
    return C(static_cast<R>(q[0]), static_cast<R>(q[1]));
  }
  return C(load_dyn<R>(p, t), R(0));
}

template <class C>
__device__ __forceinline__ C load_dyn(const char* p, DType t) {
  if constexpr (kIsComplex<C>) return load_complex_dyn<C>(p, t);
  else return visit_dtype(t, [p](auto tag) { return to_compute<C>(*reinterpret_cast<const decltype(tag)*>(p)); });
}

// Two-step dynamic load for the strided kernel: load_bits issues the load (1, 2, 4 or 8 bytes,
// zero-extended) and decode_bits converts later. load_dyn converts right after its load, so a
// thread waits for memory before it issues its next load; splitting lets all loads of an unrolled
// step be in flight together. Real compute types only (complex elements are 16 bytes).
__device__ __forceinline__ uint64_t load_bits(const char* p, int bytes) {
  switch (bytes) {
    case 1: return *reinterpret_cast<const uint8_t*>(p);
    case 2: return *reinterpret_cast<const uint16_t*>(p);
    case 4: return *reinterpret_cast<const uint32_t*>(p);
    default: return *reinterpret_cast<const uint64_t*>(p);
  }
}

template <class C>
__device__ __forceinline__ C decode_bits(uint64_t bits, DType t) {
  return visit_dtype(t, [bits](auto tag) {
    using T = decltype(tag);
    T v;
    memcpy(&v, &bits, sizeof(T));  // the low bytes (little-endian)
    return to_compute<C>(v);
  });
}

template <class C>
__device__ __forceinline__ void store_dyn(char* p, DType t, C v);

// Complex compute -> any storage: complex dtypes round each part to nearest even; real dtypes keep
// the real part (float->integer rules for integers; fp8 through f32); bool is re != 0 || im != 0.
template <class C>
__device__ __forceinline__ void store_complex_dyn(char* p, DType t, C v) {
  using R = typename C::Real;
  switch (t) {
    case DType::c64: {
      float* q = reinterpret_cast<float*>(p);
      q[0] = static_cast<float>(v.re);
      q[1] = static_cast<float>(v.im);
      return;
    }
    case DType::c128: {
      double* q = reinterpret_cast<double*>(p);
      q[0] = static_cast<double>(v.re);
      q[1] = static_cast<double>(v.im);
      return;
    }
    case DType::boolean: *reinterpret_cast<bool*>(p) = v.re != R(0) || v.im != R(0); return;  // NaN is true
    case DType::f8e4m3: case DType::f8e5m2: store_dyn<float>(p, t, static_cast<float>(v.re)); return;
    default: store_dyn<R>(p, t, v.re); return;
  }
}

template <class C>
__device__ __forceinline__ void store_dyn(char* p, DType t, C v) {
  if constexpr (kIsComplex<C>) {
    store_complex_dyn<C>(p, t, v);
  } else {
    visit_dtype(t, [p, v](auto tag) {
      using T = decltype(tag);
      *reinterpret_cast<T*>(p) = from_compute<T>(v);
      return 0;
    });
  }
}

}  // namespace baracuda::ew::cuda
