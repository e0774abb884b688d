#pragma once
// Internal: shared pieces of the elementwise device functors (ew_functors_*.cuh).
//
// Every op of the table (elementwise_ops.hpp) with Functor name F has F##Fwd<C> and, when
// differentiable, F##Bwd<C>: class templates over the compute type C (float or double; also
// int64_t, forward only, for the categories same, predicate, integer and where). Each is built on
// the host from ElementwiseAttrs (host doubles, converted to C once) and passed to the kernels by
// value, so it stays trivially copyable. Call signatures, in kernel operand order:
//   arity 1 (and cast):     Fwd  C(C x)                 Bwd  C(C dy, C x)
//   arity 2 (and prelu):    Fwd  C(C a, C b)            Bwd  Vec<C,2>(C dy, C a, C b) = {da, db}
//   arity 3 (and where):    Fwd  C(C a, C b, C c)       Bwd  Vec<C,3>(C dy, C a, C b, C c)
//   gated (the two halves): Fwd  C(C a, C b)            Bwd  Vec<C,2>(C dy, C a, C b)
// Predicates return C(1) / C(0); logical ops treat any nonzero value, NaN included, as true.
//
// Accuracy: the math goes through the accurate CUDA functions (expf / exp, log1pf / log1p, ...),
// never the fast intrinsics; m:: below picks the float or double one by overload, so a float
// functor never silently computes in double.
#include <cstdint>
#include <limits>
#include <type_traits>

#include "baracuda/ops/elementwise.hpp"

namespace baracuda::ew::cuda {

// A small fixed-size result (the gradients of a binary or ternary op), returned in registers.
template <class T, int N>
struct Vec {
  T v[N];
};

// ------------------------------------------------------------------------------------------------
// Constants (double; converted with C(k...) at the use site).
inline constexpr double kPi = 3.14159265358979323846;
inline constexpr double kLn2 = 0.693147180559945309417;
inline constexpr double kLn10 = 2.30258509299404568402;
inline constexpr double kSqrt1_2 = 0.707106781186547524401;      // 1/sqrt(2)
inline constexpr double kInvSqrt2Pi = 0.398942280401432677940;   // 1/sqrt(2*pi)
inline constexpr double k2OverSqrtPi = 1.12837916709551257390;   // 2/sqrt(pi)
inline constexpr double kSqrtPiOver2 = 0.886226925452758013649;  // sqrt(pi)/2
inline constexpr double kSqrt2OverPi = 0.797884560802865355879;  // sqrt(2/pi)
inline constexpr double kGeluTanhCoeff = 0.044715;
inline constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
inline constexpr double kSeluScale = 1.0507009873554804934193349852946;

template <class C>
inline constexpr C kInf = std::numeric_limits<C>::infinity();
template <class C>
inline constexpr C kNaN = std::numeric_limits<C>::quiet_NaN();

template <class C>
inline constexpr bool kIsInt = std::is_integral_v<C>;

// An attribute (a host double) as C. For int64 compute (add/sub/addcmul alpha, cast scale):
// truncated toward zero, saturated, NaN -> 0.
template <class C>
__host__ inline C attr_as(double v) {
  if constexpr (kIsInt<C>) {
    if (v != v) return 0;
    if (v >= 9223372036854775808.0) return std::numeric_limits<C>::max();
    if (v < -9223372036854775808.0) return std::numeric_limits<C>::min();
  }
  return static_cast<C>(v);
}

// The constructor of a functor that reads no attribute.
#define BARACUDA_EW_NO_ATTRS(F) \
  __host__ explicit F(const ElementwiseAttrs&) {}

// ------------------------------------------------------------------------------------------------
// m::fn(x): the accurate CUDA math function of x's precision (fnf for float, fn for double).
namespace m {
#define BARACUDA_EW_MATH1(fn)                                              \
  __device__ __forceinline__ float fn(float x) { return ::fn##f(x); }      \
  __device__ __forceinline__ double fn(double x) { return ::fn(x); }
#define BARACUDA_EW_MATH2(fn)                                                       \
  __device__ __forceinline__ float fn(float x, float y) { return ::fn##f(x, y); }   \
  __device__ __forceinline__ double fn(double x, double y) { return ::fn(x, y); }

BARACUDA_EW_MATH1(exp)
BARACUDA_EW_MATH1(exp2)
BARACUDA_EW_MATH1(expm1)
BARACUDA_EW_MATH1(log)
BARACUDA_EW_MATH1(log2)
BARACUDA_EW_MATH1(log10)
BARACUDA_EW_MATH1(log1p)
BARACUDA_EW_MATH1(sqrt)
BARACUDA_EW_MATH1(rsqrt)
BARACUDA_EW_MATH1(sin)
BARACUDA_EW_MATH1(cos)
BARACUDA_EW_MATH1(tan)
BARACUDA_EW_MATH1(asin)
BARACUDA_EW_MATH1(acos)
BARACUDA_EW_MATH1(atan)
BARACUDA_EW_MATH1(sinh)
BARACUDA_EW_MATH1(cosh)
BARACUDA_EW_MATH1(tanh)
BARACUDA_EW_MATH1(asinh)
BARACUDA_EW_MATH1(acosh)
BARACUDA_EW_MATH1(atanh)
BARACUDA_EW_MATH1(erf)
BARACUDA_EW_MATH1(erfc)
BARACUDA_EW_MATH1(erfinv)
BARACUDA_EW_MATH1(lgamma)
BARACUDA_EW_MATH1(sinpi)  // sin(pi*x) with exact argument reduction
BARACUDA_EW_MATH1(cospi)
BARACUDA_EW_MATH1(floor)
BARACUDA_EW_MATH1(ceil)
BARACUDA_EW_MATH1(rint)   // round half to even
BARACUDA_EW_MATH1(trunc)
BARACUDA_EW_MATH1(fabs)
BARACUDA_EW_MATH2(fmod)
BARACUDA_EW_MATH2(pow)
BARACUDA_EW_MATH2(atan2)
BARACUDA_EW_MATH2(hypot)
BARACUDA_EW_MATH2(rhypot)  // 1/hypot(x, y) without overflow
BARACUDA_EW_MATH2(copysign)
BARACUDA_EW_MATH2(nextafter)
BARACUDA_EW_MATH2(fmax)    // ignores NaN
BARACUDA_EW_MATH2(fmin)    // ignores NaN
#undef BARACUDA_EW_MATH1
#undef BARACUDA_EW_MATH2

__device__ __forceinline__ float fma(float x, float y, float z) { return ::fmaf(x, y, z); }
__device__ __forceinline__ double fma(double x, double y, double z) { return ::fma(x, y, z); }
}  // namespace m

// ------------------------------------------------------------------------------------------------
// Classification, valid for integer C too (integers are never NaN or infinite).
template <class C>
__device__ __forceinline__ bool is_nan(C x) {
  if constexpr (kIsInt<C>) return false;
  else return x != x;
}
template <class C>
__device__ __forceinline__ bool is_inf(C x) {
  if constexpr (kIsInt<C>) return false;
  else return m::fabs(x) == kInf<C>;
}
template <class C>
__device__ __forceinline__ bool is_finite(C x) {
  if constexpr (kIsInt<C>) return true;
  else return m::fabs(x) < kInf<C>;  // false for NaN
}

// PyTorch's maximum / minimum: NaN in either operand gives NaN (a + b is then NaN).
template <class C>
__device__ __forceinline__ C max_nan(C a, C b) {
  if constexpr (kIsInt<C>) return a > b ? a : b;
  else return (a != a || b != b) ? a + b : m::fmax(a, b);
}
template <class C>
__device__ __forceinline__ C min_nan(C a, C b) {
  if constexpr (kIsInt<C>) return a < b ? a : b;
  else return (a != a || b != b) ? a + b : m::fmin(a, b);
}

// ------------------------------------------------------------------------------------------------
// int64 arithmetic that wraps like two's complement (done in uint64: no signed-overflow UB).
__device__ __forceinline__ int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
__device__ __forceinline__ int64_t wrap_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
__device__ __forceinline__ int64_t wrap_mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
__device__ __forceinline__ int64_t wrap_neg(int64_t a) { return wrap_sub(0, a); }

// Integer division family. By zero: 0 (see elementwise.hpp). INT64_MIN / -1 wraps to INT64_MIN
// and INT64_MIN % -1 is 0; b == -1 is special-cased because the hardware ops are UB there.
__device__ __forceinline__ int64_t idiv_trunc(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return wrap_neg(a);
  return a / b;
}
__device__ __forceinline__ int64_t imod_trunc(int64_t a, int64_t b) {  // sign of the dividend
  if (b == 0 || b == -1) return 0;
  return a % b;
}
__device__ __forceinline__ int64_t idiv_floor(int64_t a, int64_t b) {  // Python's a // b
  if (b == 0) return 0;
  if (b == -1) return wrap_neg(a);
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
__device__ __forceinline__ int64_t imod_floor(int64_t a, int64_t b) {  // sign of the divisor
  const int64_t r = imod_trunc(a, b);
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
// Integer power by squaring (wrapping). Negative exponents: 1 -> 1, -1 -> +-1, others -> 0.
__device__ __forceinline__ int64_t ipow(int64_t base, int64_t e) {
  if (e < 0) return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
  uint64_t result = 1, b = static_cast<uint64_t>(base);
  for (uint64_t k = static_cast<uint64_t>(e); k != 0; k >>= 1) {
    if (k & 1) result *= b;
    b *= b;
  }
  return static_cast<int64_t>(result);
}

// The int64 value that the integer-only ops (bitwise, shifts) work on. Those ops are meant for
// integer compute; a floating C (never chosen by the planner) goes through int64 so that generic
// dispatch code still compiles.
template <class C>
__device__ __forceinline__ int64_t as_i64(C x) {
  return static_cast<int64_t>(x);
}

// ------------------------------------------------------------------------------------------------
// Activation pieces shared by the unary and the gated functors (floating C only).

// sigmoid(x) and sigmoid(-x) = 1 - sigmoid(x), both to full relative accuracy (1 - s would
// cancel for large x; exp(-x) would overflow for x << 0 where sigmoid(x) is still a normal or
// subnormal number). One exp, one reciprocal.
template <class C>
struct SigmoidPair {
  C s;   // sigmoid(x)
  C sm;  // sigmoid(-x)
};
// 1 / d for d = 1 + exp(-|x|) in [1, 2] (NaN passes through). f32: the hardware reciprocal and
// one Newton step, within 1 ulp of the IEEE quotient; on this range the division's range check
// and slow-path branch can never fire, and dropping them is what lets the f32 sigmoid-based ops
// stream (H200, bench/results/experiments/ew_variants_f32_h200.log: silu f32 at one pack a thread
// 94.3% -> 99.2% of copy bandwidth). Other types: the division.
template <class C>
__device__ __forceinline__ C reciprocal_1_to_2(C d) {
  if constexpr (std::is_same_v<C, float>) {
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(d));
    return fmaf(r, fmaf(-d, r, 1.f), r);
  } else {
    return C(1) / d;
  }
}
template <class C>
__device__ __forceinline__ SigmoidPair<C> sigmoid_pair_from(C x, C e) {  // e = exp(-|x|)
  const C big = reciprocal_1_to_2(C(1) + e);  // sigmoid(|x|)
  const C small = e * big;                     // sigmoid(-|x|)
  return x >= C(0) ? SigmoidPair<C>{big, small} : SigmoidPair<C>{small, big};
}
template <class C>
__device__ __forceinline__ SigmoidPair<C> sigmoid_pair(C x) {
  return sigmoid_pair_from(x, m::exp(-m::fabs(x)));
}
template <class C>
__device__ __forceinline__ C sigmoid(C x) {
  return sigmoid_pair(x).s;
}

// relu with NaN propagation (PyTorch's clamp_min(x, 0)).
template <class C>
__device__ __forceinline__ C relu(C x) {
  return (x > C(0) || x != x) ? x : C(0);
}

// silu(x) = x*sigmoid(x); silu'(x) = s*(1 + x*(1-s)).
template <class C>
__device__ __forceinline__ C silu(C x) {
  return x * sigmoid(x);
}
template <class C>
__device__ __forceinline__ C silu_grad(C x) {
  const SigmoidPair<C> p = sigmoid_pair(x);
  return p.s * (C(1) + x * p.sm);
}

// Normal cdf/pdf. Phi(x) = 0.5*erfc(-x/sqrt2) equals 0.5*(1 + erf(x/sqrt2)) but does not cancel
// in the left tail.
template <class C>
__device__ __forceinline__ C norm_cdf(C x) {
  return C(0.5) * m::erfc(-x * C(kSqrt1_2));
}
template <class C>
__device__ __forceinline__ C norm_pdf(C x) {
  return C(kInvSqrt2Pi) * m::exp(C(-0.5) * x * x);
}

// gelu (erf form): x*Phi(x); gelu'(x) = Phi(x) + x*phi(x).
template <class C>
__device__ __forceinline__ C gelu_erf(C x) {
  return x * norm_cdf(x);
}
template <class C>
__device__ __forceinline__ C gelu_erf_grad(C x) {
  return norm_cdf(x) + x * norm_pdf(x);
}

// gelu (tanh form): 0.5x(1 + tanh(u)), u = sqrt(2/pi)(x + 0.044715x^3). Since
// 0.5(1 + tanh(u)) = sigmoid(2u), it is computed as x*sigmoid(2u), which does not cancel for
// very negative x.
template <class C>
__device__ __forceinline__ C gelu_tanh_u(C x) {
  return x * (C(kSqrt2OverPi) + C(kSqrt2OverPi * kGeluTanhCoeff) * x * x);
}
template <class C>
__device__ __forceinline__ C gelu_tanh(C x) {
  return x * sigmoid(C(2) * gelu_tanh_u(x));
}
// d/dx x*sigmoid(2u) = s + 2x*u'*s*(1-s), s = sigmoid(2u), u' = sqrt(2/pi)(1 + 3*0.044715x^2).
// Past |x| = 1e4 the gradient has saturated to 1 (or 0); finite x is clamped there so that x^2
// cannot overflow into inf*0. +-inf still give NaN, as PyTorch's formula does.
template <class C>
__device__ __forceinline__ C gelu_tanh_grad(C x) {
  const C lim = C(1e4);
  const C xc = (m::fabs(x) > lim && m::fabs(x) < kInf<C>) ? m::copysign(lim, x) : x;
  const SigmoidPair<C> p = sigmoid_pair(C(2) * gelu_tanh_u(xc));
  const C du = C(kSqrt2OverPi) + C(3 * kSqrt2OverPi * kGeluTanhCoeff) * xc * xc;
  return p.s * (C(1) + C(2) * xc * du * p.sm);
}

// ------------------------------------------------------------------------------------------------
// Special functions missing from CUDA (floating C only).

// trunc(a/b) for floats. The quotient a/b is correctly rounded, so it can round up onto an
// integer that the true quotient has not reached (3/0.3f: 9.99999996 -> 10). fma(-t, b, a) =
// a - t*b has the exact sign, which is opposite to a's just when t overshot; then step back.
// Doubles keep trunc(a/b) as computed: that is PyTorch's and the double reference's result.
template <class C>
__device__ __forceinline__ C div_trunc(C a, C b) {
  C t = m::trunc(a / b);
  if constexpr (std::is_same_v<C, float>) {
    const C r = m::fma(-t, b, a);
    if ((a > C(0) && r < C(0)) || (a < C(0) && r > C(0))) t -= m::copysign(C(1), t);
  }
  return t;
}

// digamma(x). Reflection psi(x) = psi(1-x) - pi*cot(pi*x) for x < 0 (sinpi/cospi: exact
// argument reduction), the recurrence psi(x) = psi(x+1) - 1/x up to x >= N, then the asymptotic series
// psi(x) ~ ln x - 1/(2x) - sum_k B_2k / (2k x^2k), k = 1..7 (the Cephes / PyTorch coefficients).
// Its first omitted term is below 1.1e-8 relative at x >= 3 and 5e-17 at x >= 10: N = 3 for
// float, 10 for double. Poles: psi(+-0) = -+inf (PyTorch: copysign(inf, -x)); negative integers
// and -inf: NaN.
template <class C>
__device__ __forceinline__ C digamma(C x) {
  if (x == C(0)) return m::copysign(kInf<C>, -x);
  C acc = C(0);
  if (x < C(0)) {
    if (x == m::trunc(x)) return kNaN<C>;
    acc = -C(kPi) * m::cospi(x) / m::sinpi(x);
    x = C(1) - x;
  }
  // sum_k 1/(x+k) over the recurrence steps, kept as one fraction p/q: one division in all.
  C p = C(0), q = C(1);
  while (x < C(std::is_same_v<C, double> ? 10 : 3)) {
    p = p * x + q;
    q *= x;
    x += C(1);
  }
  const C r = C(1) / x, z = r * r;
  C poly = C(1.0 / 12);  // sum_k B_2k/(2k) z^(k-1), Horner from k = 7
  poly = poly * z - C(691.0 / 32760);
  poly = poly * z + C(1.0 / 132);
  poly = poly * z - C(1.0 / 240);
  poly = poly * z + C(1.0 / 252);
  poly = poly * z - C(1.0 / 120);
  poly = poly * z + C(1.0 / 12);
  return acc - p / q + m::log(x) - C(0.5) * r - z * poly;
}

// trigamma(x) = psi'(x). Poles (non-positive integers and -inf): +inf. Reflection
// psi1(x) = pi^2/sin^2(pi*x) - psi1(1-x) for x < 1/2, the recurrence psi1(x) = psi1(x+1) + 1/x^2
// up to x >= N, then psi1(x) ~ 1/x + 1/(2x^2) + sum_k B_2k / x^(2k+1), k = 1..8. The first
// omitted term is below 1e-9 relative at x >= 4 and 1e-16 at x >= 10: N = 4 for float, 10 for
// double.
template <class C>
__device__ __forceinline__ C trigamma(C x) {
  if (x <= C(0) && x == m::floor(x)) return kInf<C>;
  C sign = C(1), acc = C(0);
  if (x < C(0.5)) {
    const C s = m::sinpi(x);
    acc = -C(kPi * kPi) / (s * s);
    sign = C(-1);
    x = C(1) - x;
  }
  C p = C(0), q = C(1);  // sum_k 1/(x+k)^2 as one fraction p/q
  while (x < C(std::is_same_v<C, double> ? 10 : 4)) {
    const C x2 = x * x;
    p = p * x2 + q;
    q *= x2;
    x += C(1);
  }
  const C r = C(1) / x, z = r * r;
  C poly = C(-3617.0 / 510);  // sum_k B_2k z^(k-1), Horner from k = 8
  poly = poly * z + C(7.0 / 6);
  poly = poly * z - C(691.0 / 2730);
  poly = poly * z + C(5.0 / 66);
  poly = poly * z - C(1.0 / 30);
  poly = poly * z + C(1.0 / 42);
  poly = poly * z - C(1.0 / 30);
  poly = poly * z + C(1.0 / 6);
  return sign * (acc + p / q + r + C(0.5) * z + r * z * poly);
}

}  // namespace baracuda::ew::cuda
