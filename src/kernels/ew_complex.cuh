#pragma once
// Internal: the complex compute type of the elementwise kernels (complex problems run on the
// strided path only) and its device math. A small trivially copyable struct instead of
// cuda::std::complex: the kernels pass it by value through the engine's parameter structs, and
// the special cases (division by a complex zero, exp of a real value, tanh for large |Re z|) are
// chosen here to match the CPU reference (std::complex, ref_math_complex.cpp).
#include <type_traits>

#include "kernels/ew_functor_common.cuh"

namespace baracuda::ew::cuda {

template <class R>
struct Complex {
  using Real = R;
  R re, im;
  Complex() = default;
  // Explicit: a real value becomes (v, 0) only where a kernel asks for it (scalar operands, loads).
  __host__ __device__ constexpr explicit Complex(R r, R i = R(0)) : re(r), im(i) {}
};

template <class T>
inline constexpr bool kIsComplex = false;
template <class R>
inline constexpr bool kIsComplex<Complex<R>> = true;

// Arithmetic (found by argument-dependent lookup).
template <class R>
__device__ __forceinline__ Complex<R> operator+(Complex<R> a, Complex<R> b) { return Complex<R>(a.re + b.re, a.im + b.im); }
template <class R>
__device__ __forceinline__ Complex<R> operator-(Complex<R> a, Complex<R> b) { return Complex<R>(a.re - b.re, a.im - b.im); }
template <class R>
__device__ __forceinline__ Complex<R> operator-(Complex<R> a) { return Complex<R>(-a.re, -a.im); }
template <class R>
__device__ __forceinline__ Complex<R> operator*(Complex<R> a, Complex<R> b) {
  return Complex<R>(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
template <class R>
__device__ __forceinline__ bool operator==(Complex<R> a, Complex<R> b) { return a.re == b.re && a.im == b.im; }

namespace cx {

template <class R>
__device__ __forceinline__ Complex<R> scale(Complex<R> a, R s) { return Complex<R>(a.re * s, a.im * s); }
template <class R>
__device__ __forceinline__ Complex<R> conj(Complex<R> a) { return Complex<R>(a.re, -a.im); }

// a / b by Smith's method (scaling by the larger part of b, so |b|^2 never overflows). A zero
// divisor gives (a.re / 0, a.im / 0) per part: inf or NaN, as the C library's division does.
template <class R>
__device__ __forceinline__ Complex<R> div(Complex<R> a, Complex<R> b) {
  const R ar = m::fabs(b.re), ai = m::fabs(b.im);
  if (ar >= ai) {
    if (ar == R(0) && ai == R(0)) return Complex<R>(a.re / ar, a.im / ai);
    const R r = b.im / b.re, d = b.re + b.im * r;
    return Complex<R>((a.re + a.im * r) / d, (a.im - a.re * r) / d);
  }
  const R r = b.re / b.im, d = b.im + b.re * r;
  return Complex<R>((a.re * r + a.im) / d, (a.im * r - a.re) / d);
}

template <class R>
__device__ __forceinline__ R abs(Complex<R> z) { return m::hypot(z.re, z.im); }

template <class R>
__device__ __forceinline__ bool is_nan(Complex<R> z) { return z.re != z.re || z.im != z.im; }
template <class R>
__device__ __forceinline__ bool is_inf(Complex<R> z) { return m::fabs(z.re) == kInf<R> || m::fabs(z.im) == kInf<R>; }

// exp(x + iy) = e^x (cos y + i sin y); a real argument stays real (no inf * 0 = NaN for large x).
template <class R>
__device__ __forceinline__ Complex<R> exp(Complex<R> z) {
  const R e = m::exp(z.re);
  if (z.im == R(0)) return Complex<R>(e, z.im);
  return Complex<R>(e * m::cos(z.im), e * m::sin(z.im));
}

// Principal log: (log|z|, arg z), arg in (-pi, pi], the sign of a zero imaginary part picks the side.
template <class R>
__device__ __forceinline__ Complex<R> log(Complex<R> z) { return Complex<R>(m::log(abs(z)), m::atan2(z.im, z.re)); }

// Principal square root (Re >= 0), without cancellation: t = sqrt((|x| + |z|) / 2) is the part of
// larger magnitude, the other is |y| / (2t).
template <class R>
__device__ __forceinline__ Complex<R> sqrt(Complex<R> z) {
  if (z.re == R(0) && z.im == R(0)) return Complex<R>(R(0), z.im);
  if (m::fabs(z.im) == kInf<R>) return Complex<R>(kInf<R>, z.im);
  const R t = m::sqrt((m::fabs(z.re) + abs(z)) * R(0.5));
  if (z.re >= R(0)) return Complex<R>(t, z.im / (R(2) * t));
  return Complex<R>(m::fabs(z.im) / (R(2) * t), m::copysign(t, z.im));
}

template <class R>
__device__ __forceinline__ Complex<R> sin(Complex<R> z) {
  return Complex<R>(m::sin(z.re) * m::cosh(z.im), m::cos(z.re) * m::sinh(z.im));
}
template <class R>
__device__ __forceinline__ Complex<R> cos(Complex<R> z) {
  return Complex<R>(m::cos(z.re) * m::cosh(z.im), -(m::sin(z.re) * m::sinh(z.im)));
}

// tanh(x + iy) = (sinh x cosh x + i sin y cos y) / (sinh^2 x + cos^2 y): the denominator is a sum
// of squares (no cancellation near the poles). For |x| > 20, 1 - |tanh x| is below half an ulp of
// double and the imaginary part is 4 sin y cos y e^{-2|x|} to working precision.
template <class R>
__device__ __forceinline__ Complex<R> tanh(Complex<R> z) {
  const R x = z.re, y = z.im;
  const R sy = m::sin(y), cy = m::cos(y);
  if (m::fabs(x) > R(20)) return Complex<R>(m::copysign(R(1), x), R(4) * sy * cy * m::exp(R(-2) * m::fabs(x)));
  const R sx = m::sinh(x), chx = m::cosh(x);
  const R d = sx * sx + cy * cy;
  return Complex<R>(sx * chx / d, sy * cy / d);
}

template <class R>
__device__ __forceinline__ Complex<R> sigmoid(Complex<R> z) {
  return div(Complex<R>(R(1)), Complex<R>(R(1)) + exp(-z));
}

// a^b = exp(b log a); 0^b is 1 for b == 0 and 0 for Re(b) > 0 (the limit), else exp(b log 0).
template <class R>
__device__ __forceinline__ Complex<R> pow(Complex<R> a, Complex<R> b) {
  if (a.re == R(0) && a.im == R(0)) {
    if (b.re == R(0) && b.im == R(0)) return Complex<R>(R(1));
    if (b.re > R(0)) return Complex<R>(R(0));
  }
  return exp(b * log(a));
}

}  // namespace cx
}  // namespace baracuda::ew::cuda
