#pragma once
// Internal: device functors of the unary elementwise ops (see ew_functor_common.cuh).
//   Fwd: C operator()(C x)          Bwd: C operator()(C dy, C x)
// Categories float_math and float_only: C = float or double. Categories same, predicate and
// integer: also C = int64_t (forward only).
// Backward masks are selects, not products (a masked-out dy that is inf or NaN still gives 0),
// and their comparisons are PyTorch's, which decide where a NaN x sends the gradient
// (relu: x <= 0 ? 0 : dy, so NaN x passes dy).
#include "kernels/ew_functor_common.cuh"

namespace baracuda::ew::cuda {

// ================================================================================================
// Unary math (float_math)

template <class C>
struct ExpFwd {
  BARACUDA_EW_NO_ATTRS(ExpFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::exp(x); }
};
template <class C>
struct ExpBwd {
  BARACUDA_EW_NO_ATTRS(ExpBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * m::exp(x); }
};

template <class C>
struct Exp2Fwd {
  BARACUDA_EW_NO_ATTRS(Exp2Fwd)
  __device__ __forceinline__ C operator()(C x) const { return m::exp2(x); }
};
template <class C>
struct Exp2Bwd {
  BARACUDA_EW_NO_ATTRS(Exp2Bwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * m::exp2(x) * C(kLn2); }
};

template <class C>
struct Expm1Fwd {
  BARACUDA_EW_NO_ATTRS(Expm1Fwd)
  __device__ __forceinline__ C operator()(C x) const { return m::expm1(x); }
};
template <class C>
struct Expm1Bwd {
  BARACUDA_EW_NO_ATTRS(Expm1Bwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * m::exp(x); }
};

template <class C>
struct LogFwd {
  BARACUDA_EW_NO_ATTRS(LogFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::log(x); }
};
template <class C>
struct LogBwd {
  BARACUDA_EW_NO_ATTRS(LogBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy / x; }
};

template <class C>
struct Log2Fwd {
  BARACUDA_EW_NO_ATTRS(Log2Fwd)
  __device__ __forceinline__ C operator()(C x) const { return m::log2(x); }
};
template <class C>
struct Log2Bwd {
  BARACUDA_EW_NO_ATTRS(Log2Bwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy / (x * C(kLn2)); }
};

template <class C>
struct Log10Fwd {
  BARACUDA_EW_NO_ATTRS(Log10Fwd)
  __device__ __forceinline__ C operator()(C x) const { return m::log10(x); }
};
template <class C>
struct Log10Bwd {
  BARACUDA_EW_NO_ATTRS(Log10Bwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy / (x * C(kLn10)); }
};

template <class C>
struct Log1pFwd {
  BARACUDA_EW_NO_ATTRS(Log1pFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::log1p(x); }
};
template <class C>
struct Log1pBwd {
  BARACUDA_EW_NO_ATTRS(Log1pBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy / (C(1) + x); }
};

template <class C>
struct SqrtFwd {
  BARACUDA_EW_NO_ATTRS(SqrtFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::sqrt(x); }
};
template <class C>
struct SqrtBwd {  // dy / (2 sqrt(x))
  BARACUDA_EW_NO_ATTRS(SqrtBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return C(0.5) * dy * m::rsqrt(x); }
};

template <class C>
struct RsqrtFwd {
  BARACUDA_EW_NO_ATTRS(RsqrtFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::rsqrt(x); }
};
template <class C>
struct RsqrtBwd {  // -x^(-3/2) / 2
  BARACUDA_EW_NO_ATTRS(RsqrtBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    const C r = m::rsqrt(x);
    return C(-0.5) * dy * r * r * r;
  }
};

template <class C>
struct ReciprocalFwd {
  BARACUDA_EW_NO_ATTRS(ReciprocalFwd)
  __device__ __forceinline__ C operator()(C x) const { return C(1) / x; }
};
template <class C>
struct ReciprocalBwd {
  BARACUDA_EW_NO_ATTRS(ReciprocalBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    const C r = C(1) / x;
    return -dy * r * r;
  }
};

template <class C>
struct SinFwd {
  BARACUDA_EW_NO_ATTRS(SinFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::sin(x); }
};
template <class C>
struct SinBwd {
  BARACUDA_EW_NO_ATTRS(SinBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * m::cos(x); }
};

template <class C>
struct CosFwd {
  BARACUDA_EW_NO_ATTRS(CosFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::cos(x); }
};
template <class C>
struct CosBwd {
  BARACUDA_EW_NO_ATTRS(CosBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return -dy * m::sin(x); }
};

template <class C>
struct TanFwd {
  BARACUDA_EW_NO_ATTRS(TanFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::tan(x); }
};
template <class C>
struct TanBwd {  // 1 + tan^2
  BARACUDA_EW_NO_ATTRS(TanBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    const C t = m::tan(x);
    return dy * m::fma(t, t, C(1));
  }
};

// 1 - x^2 is computed as fma(-x, x, 1) (x^2 - 1 as fma(x, x, -1)): one rounding, so no
// cancellation near |x| = 1.
template <class C>
struct AsinFwd {
  BARACUDA_EW_NO_ATTRS(AsinFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::asin(x); }
};
template <class C>
struct AsinBwd {
  BARACUDA_EW_NO_ATTRS(AsinBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * m::rsqrt(m::fma(-x, x, C(1))); }
};

template <class C>
struct AcosFwd {
  BARACUDA_EW_NO_ATTRS(AcosFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::acos(x); }
};
template <class C>
struct AcosBwd {
  BARACUDA_EW_NO_ATTRS(AcosBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return -dy * m::rsqrt(m::fma(-x, x, C(1))); }
};

template <class C>
struct AtanFwd {
  BARACUDA_EW_NO_ATTRS(AtanFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::atan(x); }
};
template <class C>
struct AtanBwd {
  BARACUDA_EW_NO_ATTRS(AtanBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy / m::fma(x, x, C(1)); }
};

template <class C>
struct SinhFwd {
  BARACUDA_EW_NO_ATTRS(SinhFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::sinh(x); }
};
template <class C>
struct SinhBwd {
  BARACUDA_EW_NO_ATTRS(SinhBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * m::cosh(x); }
};

template <class C>
struct CoshFwd {
  BARACUDA_EW_NO_ATTRS(CoshFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::cosh(x); }
};
template <class C>
struct CoshBwd {
  BARACUDA_EW_NO_ATTRS(CoshBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * m::sinh(x); }
};

template <class C>
struct TanhFwd {
  BARACUDA_EW_NO_ATTRS(TanhFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::tanh(x); }
};
// 1 - tanh^2(x) = sech^2(x) = 4e/(1+e)^2 with e = exp(-2|x|): no cancellation for large |x|.
template <class C>
struct TanhBwd {
  BARACUDA_EW_NO_ATTRS(TanhBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    const C e = m::exp(C(-2) * m::fabs(x));
    const C d = C(1) + e;
    return dy * C(4) * e / (d * d);
  }
};

template <class C>
struct AsinhFwd {
  BARACUDA_EW_NO_ATTRS(AsinhFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::asinh(x); }
};
template <class C>
struct AsinhBwd {  // 1/sqrt(x^2 + 1), without overflow of x^2
  BARACUDA_EW_NO_ATTRS(AsinhBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * m::rhypot(x, C(1)); }
};

template <class C>
struct AcoshFwd {
  BARACUDA_EW_NO_ATTRS(AcoshFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::acosh(x); }
};
template <class C>
struct AcoshBwd {  // 1/sqrt(x^2 - 1), x^2 - 1 as fma(x, x, -1)
  BARACUDA_EW_NO_ATTRS(AcoshBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * m::rsqrt(m::fma(x, x, C(-1))); }
};

template <class C>
struct AtanhFwd {
  BARACUDA_EW_NO_ATTRS(AtanhFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::atanh(x); }
};
template <class C>
struct AtanhBwd {
  BARACUDA_EW_NO_ATTRS(AtanhBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy / m::fma(-x, x, C(1)); }
};

template <class C>
struct ErfFwd {
  BARACUDA_EW_NO_ATTRS(ErfFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::erf(x); }
};
template <class C>
struct ErfBwd {  // 2/sqrt(pi) exp(-x^2)
  BARACUDA_EW_NO_ATTRS(ErfBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * C(k2OverSqrtPi) * m::exp(-x * x); }
};

template <class C>
struct ErfcFwd {
  BARACUDA_EW_NO_ATTRS(ErfcFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::erfc(x); }
};
template <class C>
struct ErfcBwd {
  BARACUDA_EW_NO_ATTRS(ErfcBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return -dy * C(k2OverSqrtPi) * m::exp(-x * x); }
};

template <class C>
struct ErfinvFwd {
  BARACUDA_EW_NO_ATTRS(ErfinvFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::erfinv(x); }
};
template <class C>
struct ErfinvBwd {  // 1/erf'(erfinv(x)) = sqrt(pi)/2 exp(erfinv(x)^2)
  BARACUDA_EW_NO_ATTRS(ErfinvBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    const C y = m::erfinv(x);
    return dy * C(kSqrtPiOver2) * m::exp(y * y);
  }
};

template <class C>
struct LgammaFwd {
  BARACUDA_EW_NO_ATTRS(LgammaFwd)
  __device__ __forceinline__ C operator()(C x) const { return m::lgamma(x); }
};
template <class C>
struct LgammaBwd {
  BARACUDA_EW_NO_ATTRS(LgammaBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * digamma(x); }
};

template <class C>
struct DigammaFwd {
  BARACUDA_EW_NO_ATTRS(DigammaFwd)
  __device__ __forceinline__ C operator()(C x) const { return digamma(x); }
};
template <class C>
struct DigammaBwd {
  BARACUDA_EW_NO_ATTRS(DigammaBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * trigamma(x); }
};

template <class C>
struct SigmoidFwd {
  BARACUDA_EW_NO_ATTRS(SigmoidFwd)
  __device__ __forceinline__ C operator()(C x) const { return sigmoid(x); }
};
template <class C>
struct SigmoidBwd {  // s(1-s) = sigmoid(x) * sigmoid(-x)
  BARACUDA_EW_NO_ATTRS(SigmoidBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    const SigmoidPair<C> p = sigmoid_pair(x);
    return dy * p.s * p.sm;
  }
};

// logit: with eps >= 0, x is clamped to [eps, 1-eps]; eps < 0 is stored as the no-op range
// (-inf, inf). NaN passes the clamp.
template <class C>
struct LogitFwd {
  C lo, hi;
  __host__ explicit LogitFwd(const ElementwiseAttrs& a)
      : lo(a.eps >= 0 ? C(a.eps) : -kInf<C>), hi(a.eps >= 0 ? C(1) - C(a.eps) : kInf<C>) {}
  __device__ __forceinline__ C operator()(C x) const {
    const C z = x < lo ? lo : (x > hi ? hi : x);
    return m::log(z / (C(1) - z));
  }
};
// eps >= 0: 0 outside [eps, 1-eps], else dy/(x(1-x)). eps < 0 (PyTorch): NaN outside [0, 1],
// dy*inf at 0 and 1 (which dy/0 gives), else dy/(x(1-x)).
template <class C>
struct LogitBwd {
  C lo, hi;
  bool clamped;
  __host__ explicit LogitBwd(const ElementwiseAttrs& a)
      : lo(a.eps >= 0 ? C(a.eps) : C(0)), hi(a.eps >= 0 ? C(1) - C(a.eps) : C(1)), clamped(a.eps >= 0) {}
  __device__ __forceinline__ C operator()(C dy, C x) const {
    const C outside = clamped ? C(0) : kNaN<C>;
    return (x < lo || x > hi) ? outside : dy / m::fabs(x * (C(1) - x));  // fabs: x = -0 gives dy*inf
  }
};

// ================================================================================================
// Unary ops that keep the dtype (same): forward also for C = int64_t (wrapping), backward floating.

template <class C>
struct AbsFwd {
  BARACUDA_EW_NO_ATTRS(AbsFwd)
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (kIsInt<C>) return x < 0 ? wrap_neg(x) : x;
    else return m::fabs(x);
  }
};
template <class C>
struct AbsBwd {  // dy * sign(x) (a product, as in PyTorch: NaN dy at x == 0 stays NaN)
  BARACUDA_EW_NO_ATTRS(AbsBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * (C(C(0) < x) - C(x < C(0))); }
};

template <class C>
struct NegFwd {
  BARACUDA_EW_NO_ATTRS(NegFwd)
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (kIsInt<C>) return wrap_neg(x);
    else return -x;
  }
};
template <class C>
struct NegBwd {
  BARACUDA_EW_NO_ATTRS(NegBwd)
  __device__ __forceinline__ C operator()(C dy, C) const { return -dy; }
};

template <class C>
struct SignFwd {  // (0 < x) - (x < 0): sign(NaN) = 0
  BARACUDA_EW_NO_ATTRS(SignFwd)
  __device__ __forceinline__ C operator()(C x) const { return C(C(0) < x) - C(x < C(0)); }
};
template <class C>
struct SignBwd {
  BARACUDA_EW_NO_ATTRS(SignBwd)
  __device__ __forceinline__ C operator()(C, C) const { return C(0); }
};

template <class C>
struct SquareFwd {
  BARACUDA_EW_NO_ATTRS(SquareFwd)
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (kIsInt<C>) return wrap_mul(x, x);
    else return x * x;
  }
};
template <class C>
struct SquareBwd {
  BARACUDA_EW_NO_ATTRS(SquareBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * C(2) * x; }
};

// Rounding ops: identity on integers; zero gradient.
template <class C>
struct FloorFwd {
  BARACUDA_EW_NO_ATTRS(FloorFwd)
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (kIsInt<C>) return x;
    else return m::floor(x);
  }
};
template <class C>
struct FloorBwd {
  BARACUDA_EW_NO_ATTRS(FloorBwd)
  __device__ __forceinline__ C operator()(C, C) const { return C(0); }
};

template <class C>
struct CeilFwd {
  BARACUDA_EW_NO_ATTRS(CeilFwd)
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (kIsInt<C>) return x;
    else return m::ceil(x);
  }
};
template <class C>
struct CeilBwd {
  BARACUDA_EW_NO_ATTRS(CeilBwd)
  __device__ __forceinline__ C operator()(C, C) const { return C(0); }
};

template <class C>
struct RoundFwd {  // half to even
  BARACUDA_EW_NO_ATTRS(RoundFwd)
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (kIsInt<C>) return x;
    else return m::rint(x);
  }
};
template <class C>
struct RoundBwd {
  BARACUDA_EW_NO_ATTRS(RoundBwd)
  __device__ __forceinline__ C operator()(C, C) const { return C(0); }
};

template <class C>
struct TruncFwd {
  BARACUDA_EW_NO_ATTRS(TruncFwd)
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (kIsInt<C>) return x;
    else return m::trunc(x);
  }
};
template <class C>
struct TruncBwd {
  BARACUDA_EW_NO_ATTRS(TruncBwd)
  __device__ __forceinline__ C operator()(C, C) const { return C(0); }
};

// ================================================================================================
// Unary, floating only: activations.
// Forward NaN propagates (as in PyTorch 2.x); backward masks use PyTorch's comparisons.

template <class C>
struct FracFwd {
  BARACUDA_EW_NO_ATTRS(FracFwd)
  __device__ __forceinline__ C operator()(C x) const { return x - m::trunc(x); }
};
template <class C>
struct FracBwd {
  BARACUDA_EW_NO_ATTRS(FracBwd)
  __device__ __forceinline__ C operator()(C dy, C) const { return dy; }
};

template <class C>
struct ReluFwd {
  BARACUDA_EW_NO_ATTRS(ReluFwd)
  __device__ __forceinline__ C operator()(C x) const { return relu(x); }
};
template <class C>
struct ReluBwd {
  BARACUDA_EW_NO_ATTRS(ReluBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return x <= C(0) ? C(0) : dy; }
};

// hardsigmoid(x) = x <= -3 ? 0 : x >= 3 ? 1 : x/6 + 1/2 (NaN propagates).
template <class C>
__device__ __forceinline__ C hardsigmoid(C x) {
  return x <= C(-3) ? C(0) : (x >= C(3) ? C(1) : x * C(1.0 / 6) + C(0.5));
}

// hardtanh(x, lo, hi) = min(max(x, lo), hi), NaN passing through; gradient on lo < x < hi
// (PyTorch: x <= lo || x >= hi ? 0 : dy, so NaN x passes dy).
template <class C>
__device__ __forceinline__ C hardtanh(C x, C lo, C hi) {
  const C t = x < lo ? lo : x;
  return t > hi ? hi : t;
}

template <class C>
struct Relu6Fwd {
  BARACUDA_EW_NO_ATTRS(Relu6Fwd)
  __device__ __forceinline__ C operator()(C x) const { return hardtanh(x, C(0), C(6)); }
};
template <class C>
struct Relu6Bwd {
  BARACUDA_EW_NO_ATTRS(Relu6Bwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return (x <= C(0) || x >= C(6)) ? C(0) : dy; }
};

template <class C>
struct LeakyReluFwd {
  C slope;
  __host__ explicit LeakyReluFwd(const ElementwiseAttrs& a) : slope(C(a.negative_slope)) {}
  __device__ __forceinline__ C operator()(C x) const { return x > C(0) ? x : x * slope; }
};
template <class C>
struct LeakyReluBwd {
  C slope;
  __host__ explicit LeakyReluBwd(const ElementwiseAttrs& a) : slope(C(a.negative_slope)) {}
  __device__ __forceinline__ C operator()(C dy, C x) const { return x > C(0) ? dy : dy * slope; }
};

template <class C>
struct EluFwd {
  C alpha;
  __host__ explicit EluFwd(const ElementwiseAttrs& a) : alpha(C(a.alpha)) {}
  __device__ __forceinline__ C operator()(C x) const { return x > C(0) ? x : alpha * m::expm1(x); }
};
template <class C>
struct EluBwd {
  C alpha;
  __host__ explicit EluBwd(const ElementwiseAttrs& a) : alpha(C(a.alpha)) {}
  __device__ __forceinline__ C operator()(C dy, C x) const { return x <= C(0) ? dy * alpha * m::exp(x) : dy; }
};

template <class C>
struct SeluFwd {  // scale * elu(x, alpha)
  BARACUDA_EW_NO_ATTRS(SeluFwd)
  __device__ __forceinline__ C operator()(C x) const {
    return x > C(0) ? C(kSeluScale) * x : C(kSeluScale * kSeluAlpha) * m::expm1(x);
  }
};
template <class C>
struct SeluBwd {
  BARACUDA_EW_NO_ATTRS(SeluBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    return x <= C(0) ? C(kSeluScale * kSeluAlpha) * dy * m::exp(x) : C(kSeluScale) * dy;
  }
};

// celu(x) = max(0, x) + min(0, alpha*expm1(x/alpha)) = x > 0 ? x : alpha*expm1(x/alpha)
// (PyTorch: elu with input_scale 1/alpha, multiplied like here).
template <class C>
struct CeluFwd {
  C alpha, inv_alpha;
  __host__ explicit CeluFwd(const ElementwiseAttrs& a) : alpha(C(a.alpha)), inv_alpha(C(1 / a.alpha)) {}
  __device__ __forceinline__ C operator()(C x) const { return x > C(0) ? x : alpha * m::expm1(x * inv_alpha); }
};
template <class C>
struct CeluBwd {
  C inv_alpha;
  __host__ explicit CeluBwd(const ElementwiseAttrs& a) : inv_alpha(C(1 / a.alpha)) {}
  __device__ __forceinline__ C operator()(C dy, C x) const { return x <= C(0) ? dy * m::exp(x * inv_alpha) : dy; }
};

template <class C>
struct GeluFwd {
  BARACUDA_EW_NO_ATTRS(GeluFwd)
  __device__ __forceinline__ C operator()(C x) const { return gelu_erf(x); }
};
template <class C>
struct GeluBwd {
  BARACUDA_EW_NO_ATTRS(GeluBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * gelu_erf_grad(x); }
};

template <class C>
struct GeluTanhFwd {
  BARACUDA_EW_NO_ATTRS(GeluTanhFwd)
  // f32: two packs a thread measured faster than one (ew_engine.cuh, unroll_for).
  static constexpr bool kTwoF32Packs = true;
  __device__ __forceinline__ C operator()(C x) const { return gelu_tanh(x); }
};
template <class C>
struct GeluTanhBwd {
  BARACUDA_EW_NO_ATTRS(GeluTanhBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * gelu_tanh_grad(x); }
};

template <class C>
struct SiluFwd {
  BARACUDA_EW_NO_ATTRS(SiluFwd)
  __device__ __forceinline__ C operator()(C x) const { return silu(x); }
};
template <class C>
struct SiluBwd {
  BARACUDA_EW_NO_ATTRS(SiluBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const { return dy * silu_grad(x); }
};

// mish(x) = x*tanh(softplus(x)), softplus with beta 1 and threshold 20 (x > 20: tanh(x) = 1).
// With e = exp(x) and n = e(e+2): tanh(log1p(e)) = n/(n+2), one exp and no cancellation as
// x -> -inf.
template <class C>
struct MishFwd {
  BARACUDA_EW_NO_ATTRS(MishFwd)
  __device__ __forceinline__ C operator()(C x) const {
    const C e = m::exp(x), n = e * (e + C(2));
    return x > C(20) ? x : x * n / (n + C(2));
  }
};
// mish'(x) = t + x*sigmoid(x)*(1 - t^2), t = n/d, d = n + 2; sigmoid(x)(1 - t^2) = 4e(1+e)/d^2.
// Above the threshold t = 1 and the gradient is 1 (+ x*0: NaN at +inf, like the plain formula).
template <class C>
struct MishBwd {
  BARACUDA_EW_NO_ATTRS(MishBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    const C e = m::exp(x), n = e * (e + C(2)), d = n + C(2);
    const C g = (n * d + C(4) * e * (e + C(1)) * x) / (d * d);  // x last: 4x may overflow, e*x not
    return dy * (x > C(20) ? C(1) + x * C(0) : g);
  }
};

// softplus(x) = log1p(exp(beta x))/beta, or x where beta x > threshold. log1p(exp(y)) is
// evaluated as max(y, 0) + log1p(exp(-|y|)), which cannot overflow.
template <class C>
struct SoftplusFwd {
  C beta, inv_beta, threshold;
  __host__ explicit SoftplusFwd(const ElementwiseAttrs& a)
      : beta(C(a.beta)), inv_beta(C(1 / a.beta)), threshold(C(a.threshold)) {}
  __device__ __forceinline__ C operator()(C x) const {
    const C y = x * beta;
    const C sp = (y > C(0) ? y : C(0)) + m::log1p(m::exp(-m::fabs(y)));
    return y > threshold ? x : sp * inv_beta;
  }
};
template <class C>
struct SoftplusBwd {  // sigmoid(beta x), or dy above the threshold
  C beta, threshold;
  __host__ explicit SoftplusBwd(const ElementwiseAttrs& a) : beta(C(a.beta)), threshold(C(a.threshold)) {}
  __device__ __forceinline__ C operator()(C dy, C x) const {
    const C y = x * beta;
    return y > threshold ? dy : dy * sigmoid(y);
  }
};

template <class C>
struct SoftsignFwd {
  BARACUDA_EW_NO_ATTRS(SoftsignFwd)
  __device__ __forceinline__ C operator()(C x) const { return x / (C(1) + m::fabs(x)); }
};
template <class C>
struct SoftsignBwd {
  BARACUDA_EW_NO_ATTRS(SoftsignBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    const C d = C(1) + m::fabs(x);
    return dy / (d * d);
  }
};

template <class C>
struct HardtanhFwd {
  C lo, hi;
  __host__ explicit HardtanhFwd(const ElementwiseAttrs& a) : lo(C(a.min_val)), hi(C(a.max_val)) {}
  __device__ __forceinline__ C operator()(C x) const { return hardtanh(x, lo, hi); }
};
template <class C>
struct HardtanhBwd {
  C lo, hi;
  __host__ explicit HardtanhBwd(const ElementwiseAttrs& a) : lo(C(a.min_val)), hi(C(a.max_val)) {}
  __device__ __forceinline__ C operator()(C dy, C x) const { return (x <= lo || x >= hi) ? C(0) : dy; }
};

template <class C>
struct HardsigmoidFwd {
  BARACUDA_EW_NO_ATTRS(HardsigmoidFwd)
  __device__ __forceinline__ C operator()(C x) const { return hardsigmoid(x); }
};
template <class C>
struct HardsigmoidBwd {
  BARACUDA_EW_NO_ATTRS(HardsigmoidBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    return (C(-3) < x && x < C(3)) ? dy * C(1.0 / 6) : C(0);
  }
};

template <class C>
struct HardswishFwd {  // x * hardsigmoid(x) (a product, as in PyTorch: -inf gives NaN)
  BARACUDA_EW_NO_ATTRS(HardswishFwd)
  __device__ __forceinline__ C operator()(C x) const { return x * hardsigmoid(x); }
};
template <class C>
struct HardswishBwd {  // as PyTorch: x < -3: 0; x <= 3: x/3 + 1/2; else 1
  BARACUDA_EW_NO_ATTRS(HardswishBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    return x < C(-3) ? C(0) : (x <= C(3) ? dy * (x * C(1.0 / 3) + C(0.5)) : dy);
  }
};

template <class C>
struct TanhshrinkFwd {
  BARACUDA_EW_NO_ATTRS(TanhshrinkFwd)
  __device__ __forceinline__ C operator()(C x) const { return x - m::tanh(x); }
};
template <class C>
struct TanhshrinkBwd {
  BARACUDA_EW_NO_ATTRS(TanhshrinkBwd)
  __device__ __forceinline__ C operator()(C dy, C x) const {
    const C t = m::tanh(x);
    return dy * t * t;
  }
};

template <class C>
struct SoftshrinkFwd {  // NaN propagates (PyTorch 2.x)
  C lambd;
  __host__ explicit SoftshrinkFwd(const ElementwiseAttrs& a) : lambd(C(a.lambd)) {}
  __device__ __forceinline__ C operator()(C x) const {
    return x > lambd ? x - lambd : (x < -lambd ? x + lambd : (x != x ? x : C(0)));
  }
};
template <class C>
struct SoftshrinkBwd {
  C lambd;
  __host__ explicit SoftshrinkBwd(const ElementwiseAttrs& a) : lambd(C(a.lambd)) {}
  __device__ __forceinline__ C operator()(C dy, C x) const { return (x >= -lambd && x <= lambd) ? C(0) : dy; }
};

template <class C>
struct HardshrinkFwd {  // NaN propagates (PyTorch: |x| <= lambd ? 0 : x)
  C lambd;
  __host__ explicit HardshrinkFwd(const ElementwiseAttrs& a) : lambd(C(a.lambd)) {}
  __device__ __forceinline__ C operator()(C x) const { return m::fabs(x) <= lambd ? C(0) : x; }
};
template <class C>
struct HardshrinkBwd {
  C lambd;
  __host__ explicit HardshrinkBwd(const ElementwiseAttrs& a) : lambd(C(a.lambd)) {}
  __device__ __forceinline__ C operator()(C dy, C x) const { return (x >= -lambd && x <= lambd) ? C(0) : dy; }
};

template <class C>
struct ThresholdFwd {  // x > threshold ? x : value; NaN propagates (PyTorch: x <= th ? value : x)
  C threshold, value;
  __host__ explicit ThresholdFwd(const ElementwiseAttrs& a) : threshold(C(a.threshold)), value(C(a.value)) {}
  __device__ __forceinline__ C operator()(C x) const { return x <= threshold ? value : x; }
};
template <class C>
struct ThresholdBwd {
  C threshold;
  __host__ explicit ThresholdBwd(const ElementwiseAttrs& a) : threshold(C(a.threshold)) {}
  __device__ __forceinline__ C operator()(C dy, C x) const { return x <= threshold ? C(0) : dy; }
};

// ================================================================================================
// Unary predicates: C(1) / C(0). Integers are never NaN or infinite.

template <class C>
struct IsnanFwd {
  BARACUDA_EW_NO_ATTRS(IsnanFwd)
  __device__ __forceinline__ C operator()(C x) const { return C(is_nan(x)); }
};
template <class C>
struct IsinfFwd {
  BARACUDA_EW_NO_ATTRS(IsinfFwd)
  __device__ __forceinline__ C operator()(C x) const { return C(is_inf(x)); }
};
template <class C>
struct IsfiniteFwd {
  BARACUDA_EW_NO_ATTRS(IsfiniteFwd)
  __device__ __forceinline__ C operator()(C x) const { return C(is_finite(x)); }
};
template <class C>
struct LogicalNotFwd {  // NaN is nonzero, so true, so not(NaN) = 0
  BARACUDA_EW_NO_ATTRS(LogicalNotFwd)
  __device__ __forceinline__ C operator()(C x) const { return C(x == C(0)); }
};

// ================================================================================================
// Integer unary

template <class C>
struct BitwiseNotFwd {
  BARACUDA_EW_NO_ATTRS(BitwiseNotFwd)
  __device__ __forceinline__ C operator()(C x) const { return C(~as_i64(x)); }
};

}  // namespace baracuda::ew::cuda
