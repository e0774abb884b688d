#pragma once
// Fast forward functors for 16-bit storage (f16, bf16). The vectorized kernel moves 2-byte
// elements at ~4 TB/s, i.e. ~2 elements per ns per SM-lane budget: the accurate f32 functions
// (expf's range reduction, IEEE division) make silu/gelu/exp compute-bound there. These use the
// hardware approximations (ex2.approx via __expf, rcp.approx via __fdividef); their relative
// error (a few f32 ulp, growing ~|x|*2^-23 for __expf) is far below one ulp of f16 (2^-11) or
// bf16 (2^-8), so the rounded 16-bit results are those of the accurate functors up to an
// occasional 1-ulp tie flip. f32 and f64 storage always use the accurate functors.
#include "kernels/ew_functor_common.cuh"

namespace baracuda::ew::cuda {

// 1 / (1 + exp(-x)): exp overflows to inf for x << 0 and the quotient is then 0, as it should be.
__device__ __forceinline__ float fast_sigmoid(float x) { return __fdividef(1.f, 1.f + __expf(-x)); }

template <class C>
struct ExpFwdFast {
  __host__ explicit ExpFwdFast(const ElementwiseAttrs&) {}
  __device__ __forceinline__ float operator()(float x) const { return __expf(x); }
};
template <class C>
struct SigmoidFwdFast {
  __host__ explicit SigmoidFwdFast(const ElementwiseAttrs&) {}
  __device__ __forceinline__ float operator()(float x) const { return fast_sigmoid(x); }
};
template <class C>
struct SiluFwdFast {
  __host__ explicit SiluFwdFast(const ElementwiseAttrs&) {}
  __device__ __forceinline__ float operator()(float x) const { return x * fast_sigmoid(x); }
};
// gelu_tanh(x) = 0.5x(1 + tanh(u)) = x * sigmoid(2u) = x / (1 + 2^t) with
// t = -2u*log2(e) = x * (A + B x^2): the sigmoid form has no cancellation for x << 0, and with the
// constants folded it is three FP32 operations, ex2, an add, rcp and a multiply per element (the
// bf16 kernel runs near the instruction budget of a 2-byte element at 4 TB/s).
__device__ __forceinline__ float fast_exp2(float t) {
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(t));
  return r;
}
__device__ __forceinline__ float fast_gelu_tanh(float x) {
  constexpr double kA = -2.0 * kSqrt2OverPi * 1.4426950408889634;  // -2 sqrt(2/pi) log2(e)
  constexpr float A = static_cast<float>(kA), B = static_cast<float>(kA * kGeluTanhCoeff);
  const float t = x * fmaf(B, x * x, A);
  return __fdividef(x, 1.f + fast_exp2(t));
}
template <class C>
struct GeluTanhFwdFast {
  __host__ explicit GeluTanhFwdFast(const ElementwiseAttrs&) {}
  __device__ __forceinline__ float operator()(float x) const { return fast_gelu_tanh(x); }
};
template <class C>
struct SwigluFwdFast {
  __host__ explicit SwigluFwdFast(const ElementwiseAttrs&) {}
  __device__ __forceinline__ float operator()(float a, float b) const { return a * fast_sigmoid(a) * b; }
};
template <class C>
struct GegluTanhFwdFast {
  __host__ explicit GegluTanhFwdFast(const ElementwiseAttrs&) {}
  __device__ __forceinline__ float operator()(float a, float b) const { return fast_gelu_tanh(a) * b; }
};

}  // namespace baracuda::ew::cuda
