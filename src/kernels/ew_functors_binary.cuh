#pragma once
// Internal: device functors of the binary elementwise ops (see ew_functor_common.cuh).
//   Fwd: C operator()(C a, C b)     Bwd: Vec<C, 2> operator()(C dy, C a, C b) = {da, db}
// Category same, predicate and integer: forward also for C = int64_t (wrapping arithmetic;
// division and modulo by zero give 0). Backward: floating C only.
#include "kernels/ew_functor_common.cuh"

namespace baracuda::ew::cuda {

// ================================================================================================
// Arithmetic that keeps the dtype (same)

template <class C>
struct AddFwd {  // a + alpha*b (int64: alpha truncated to an integer)
  C alpha;
  __host__ explicit AddFwd(const ElementwiseAttrs& attrs) : alpha(attr_as<C>(attrs.alpha)) {}
  __device__ __forceinline__ C operator()(C a, C b) const {
    if constexpr (kIsInt<C>) return wrap_add(a, wrap_mul(alpha, b));
    else return a + alpha * b;
  }
};
template <class C>
struct AddBwd {
  C alpha;
  __host__ explicit AddBwd(const ElementwiseAttrs& attrs) : alpha(C(attrs.alpha)) {}
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C, C) const { return {{dy, alpha * dy}}; }
};

template <class C>
struct SubFwd {  // a - alpha*b
  C alpha;
  __host__ explicit SubFwd(const ElementwiseAttrs& attrs) : alpha(attr_as<C>(attrs.alpha)) {}
  __device__ __forceinline__ C operator()(C a, C b) const {
    if constexpr (kIsInt<C>) return wrap_sub(a, wrap_mul(alpha, b));
    else return a - alpha * b;
  }
};
template <class C>
struct SubBwd {
  C alpha;
  __host__ explicit SubBwd(const ElementwiseAttrs& attrs) : alpha(C(attrs.alpha)) {}
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C, C) const { return {{dy, -alpha * dy}}; }
};

template <class C>
struct MulFwd {
  BARACUDA_EW_NO_ATTRS(MulFwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    if constexpr (kIsInt<C>) return wrap_mul(a, b);
    else return a * b;
  }
};
template <class C>
struct MulBwd {
  BARACUDA_EW_NO_ATTRS(MulBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const { return {{dy * b, dy * a}}; }
};

// Floor division of floats exactly as PyTorch's div_floor_floating: the quotient is built from
// fmod so that it is the floor of the true quotient even where floor(a/b) would be off by one.
template <class C>
__device__ __forceinline__ C div_floor_float(C a, C b) {
  if (b == C(0)) return a / b;  // +-inf or NaN
  const C mod = m::fmod(a, b);
  C div = (a - mod) / b;  // a - mod is an exact multiple of b
  if (mod != C(0) && (b < C(0)) != (mod < C(0))) div -= C(1);
  if (div == C(0)) return m::copysign(C(0), a / b);
  const C f = m::floor(div);
  return div - f > C(0.5) ? f + C(1) : f;
}

template <class C>
struct DivFloorFwd {
  BARACUDA_EW_NO_ATTRS(DivFloorFwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    if constexpr (kIsInt<C>) return idiv_floor(a, b);
    else return div_floor_float(a, b);
  }
};
template <class C>
struct DivFloorBwd {
  BARACUDA_EW_NO_ATTRS(DivFloorBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C, C, C) const { return {{C(0), C(0)}}; }
};

template <class C>
struct DivTruncFwd {
  BARACUDA_EW_NO_ATTRS(DivTruncFwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    if constexpr (kIsInt<C>) return idiv_trunc(a, b);
    else return div_trunc(a, b);
  }
};
template <class C>
struct DivTruncBwd {
  BARACUDA_EW_NO_ATTRS(DivTruncBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C, C, C) const { return {{C(0), C(0)}}; }
};

template <class C>
struct PowFwd {
  BARACUDA_EW_NO_ATTRS(PowFwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    if constexpr (kIsInt<C>) return ipow(a, b);
    else return m::pow(a, b);
  }
};
// da = b*a^(b-1) (0 where b == 0); db = a^b*log(a) (0 where a == 0 and b >= 0).
template <class C>
struct PowBwd {
  BARACUDA_EW_NO_ATTRS(PowBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const C da = b == C(0) ? C(0) : dy * b * m::pow(a, b - C(1));
    const C db = (a == C(0) && b >= C(0)) ? C(0) : dy * m::pow(a, b) * m::log(a);
    return {{da, db}};
  }
};

template <class C>
struct FmodFwd {  // sign of the dividend
  BARACUDA_EW_NO_ATTRS(FmodFwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    if constexpr (kIsInt<C>) return imod_trunc(a, b);
    else return m::fmod(a, b);
  }
};
template <class C>
struct FmodBwd {
  BARACUDA_EW_NO_ATTRS(FmodBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    return {{dy, -dy * div_trunc(a, b)}};
  }
};

template <class C>
struct RemainderFwd {  // sign of the divisor
  BARACUDA_EW_NO_ATTRS(RemainderFwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    if constexpr (kIsInt<C>) {
      return imod_floor(a, b);
    } else {
      const C mod = m::fmod(a, b);
      return (mod != C(0) && (b < C(0)) != (mod < C(0))) ? mod + b : mod;
    }
  }
};
template <class C>
struct RemainderBwd {  // {dy, -dy * (a // b)} with PyTorch's floor division
  BARACUDA_EW_NO_ATTRS(RemainderBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    return {{dy, -dy * div_floor_float(a, b)}};
  }
};

// Gradient of maximum / minimum (PyTorch): dy/2 each on a tie, else 0 to the operand that lost
// (a_loses: a < b for maximum), dy to the other. A NaN operand loses nothing: both get dy.
template <class C>
__device__ __forceinline__ Vec<C, 2> tie_split_grad(C dy, bool a_loses, bool b_loses, bool tie) {
  const C half = C(0.5) * dy;
  return {{tie ? half : (a_loses ? C(0) : dy), tie ? half : (b_loses ? C(0) : dy)}};
}

template <class C>
struct MaximumFwd {  // NaN-propagating
  BARACUDA_EW_NO_ATTRS(MaximumFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return max_nan(a, b); }
};
template <class C>
struct MaximumBwd {
  BARACUDA_EW_NO_ATTRS(MaximumBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    return tie_split_grad(dy, a < b, a > b, a == b);
  }
};

template <class C>
struct MinimumFwd {  // NaN-propagating
  BARACUDA_EW_NO_ATTRS(MinimumFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return min_nan(a, b); }
};
template <class C>
struct MinimumBwd {
  BARACUDA_EW_NO_ATTRS(MinimumBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    return tie_split_grad(dy, a > b, a < b, a == b);
  }
};

// fmax / fmin ignore a NaN operand, and so does their gradient (PyTorch): all of dy goes to a
// where a wins or ties or b is NaN, else to b.
template <class C>
struct FmaxFwd {
  BARACUDA_EW_NO_ATTRS(FmaxFwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    if constexpr (kIsInt<C>) return a > b ? a : b;
    else return m::fmax(a, b);
  }
};
template <class C>
struct FmaxBwd {
  BARACUDA_EW_NO_ATTRS(FmaxBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const bool to_a = a >= b || b != b;
    return {{to_a ? dy : C(0), to_a ? C(0) : dy}};
  }
};

template <class C>
struct FminFwd {
  BARACUDA_EW_NO_ATTRS(FminFwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    if constexpr (kIsInt<C>) return a < b ? a : b;
    else return m::fmin(a, b);
  }
};
template <class C>
struct FminBwd {
  BARACUDA_EW_NO_ATTRS(FminBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const bool to_a = a <= b || b != b;
    return {{to_a ? dy : C(0), to_a ? C(0) : dy}};
  }
};

template <class C>
struct ClampMinFwd {  // max(x, m), NaN-propagating
  BARACUDA_EW_NO_ATTRS(ClampMinFwd)
  __device__ __forceinline__ C operator()(C x, C mn) const { return max_nan(x, mn); }
};
template <class C>
struct ClampMinBwd {
  BARACUDA_EW_NO_ATTRS(ClampMinBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C x, C mn) const {
    return {{x >= mn ? dy : C(0), x < mn ? dy : C(0)}};
  }
};

template <class C>
struct ClampMaxFwd {  // min(x, m), NaN-propagating
  BARACUDA_EW_NO_ATTRS(ClampMaxFwd)
  __device__ __forceinline__ C operator()(C x, C mx) const { return min_nan(x, mx); }
};
template <class C>
struct ClampMaxBwd {
  BARACUDA_EW_NO_ATTRS(ClampMaxBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C x, C mx) const {
    return {{x <= mx ? dy : C(0), x > mx ? dy : C(0)}};
  }
};

// ================================================================================================
// Binary math (float_math) and nextafter (float_only)

template <class C>
struct DivFwd {
  BARACUDA_EW_NO_ATTRS(DivFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return a / b; }
};
template <class C>
struct DivBwd {  // {dy/b, -dy*a/b^2} (not via 1/b: it overflows for subnormal b)
  BARACUDA_EW_NO_ATTRS(DivBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const C q = dy / b;
    return {{q, -q * (a / b)}};
  }
};

template <class C>
struct Atan2Fwd {
  BARACUDA_EW_NO_ATTRS(Atan2Fwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return m::atan2(a, b); }
};
template <class C>
struct Atan2Bwd {  // {b, -a} * dy/(a^2 + b^2)
  BARACUDA_EW_NO_ATTRS(Atan2Bwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const C r = dy / (a * a + b * b);
    return {{b * r, -a * r}};
  }
};

template <class C>
struct HypotFwd {
  BARACUDA_EW_NO_ATTRS(HypotFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return m::hypot(a, b); }
};
template <class C>
struct HypotBwd {  // {a/h, b/h} * dy, h = hypot(a, b) (ratios <= 1: no overflow for subnormal h)
  BARACUDA_EW_NO_ATTRS(HypotBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const C h = m::hypot(a, b);
    return {{dy * (a / h), dy * (b / h)}};
  }
};

// logaddexp(a, b) = max(a, b) + log1p(exp(-|a - b|)); equal infinities return themselves
// (inf - inf would be NaN). A NaN operand reaches |a - b| and propagates.
template <class C>
struct LogaddexpFwd {
  BARACUDA_EW_NO_ATTRS(LogaddexpFwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    const C r = m::fmax(a, b) + m::log1p(m::exp(-m::fabs(a - b)));
    return (a == b && is_inf(a)) ? a : r;
  }
};
template <class C>
struct LogaddexpBwd {  // {sigmoid(a - b), sigmoid(b - a)} * dy
  BARACUDA_EW_NO_ATTRS(LogaddexpBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const SigmoidPair<C> p = sigmoid_pair(a - b);
    return {{dy * p.s, dy * p.sm}};
  }
};

template <class C>
struct Logaddexp2Fwd {
  BARACUDA_EW_NO_ATTRS(Logaddexp2Fwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    const C r = m::fmax(a, b) + m::log1p(m::exp2(-m::fabs(a - b))) * C(1 / kLn2);
    return (a == b && is_inf(a)) ? a : r;
  }
};
template <class C>
struct Logaddexp2Bwd {  // {1/(1 + 2^(b-a)), 1/(1 + 2^(a-b))} * dy
  BARACUDA_EW_NO_ATTRS(Logaddexp2Bwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const C d = a - b;
    const SigmoidPair<C> p = sigmoid_pair_from(d, m::exp2(-m::fabs(d)));
    return {{dy * p.s, dy * p.sm}};
  }
};

// xlogy(a, b): NaN if b is NaN; 0 if a == 0; else a*log(b).
template <class C>
__device__ __forceinline__ C xlogy(C a, C b) {
  return b != b ? b : (a == C(0) ? C(0) : a * m::log(b));
}

template <class C>
struct XlogyFwd {
  BARACUDA_EW_NO_ATTRS(XlogyFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return xlogy(a, b); }
};
// da = xlogy(dy, b), 0 where a == 0 and b <= 0 (PyTorch); db = dy*a/b.
template <class C>
struct XlogyBwd {
  BARACUDA_EW_NO_ATTRS(XlogyBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const C da = (a == C(0) && b <= C(0)) ? C(0) : xlogy(dy, b);
    return {{da, dy * a / b}};
  }
};

template <class C>
struct CopysignFwd {
  BARACUDA_EW_NO_ATTRS(CopysignFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return m::copysign(a, b); }
};
template <class C>
struct CopysignBwd {  // da = dy * (copysign(a, b)/a: +-1, NaN for NaN or infinite a; 0 at a == 0)
  BARACUDA_EW_NO_ATTRS(CopysignBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    return {{dy * (a == C(0) ? C(0) : m::copysign(a, b) / a), C(0)}};
  }
};

template <class C>
struct NextafterFwd {
  BARACUDA_EW_NO_ATTRS(NextafterFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return m::nextafter(a, b); }
};

// ================================================================================================
// Comparisons and logical ops: C(1) / C(0). Logical ops: nonzero (NaN included) is true.

template <class C>
struct EqFwd {
  BARACUDA_EW_NO_ATTRS(EqFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C(a == b); }
};
template <class C>
struct NeFwd {
  BARACUDA_EW_NO_ATTRS(NeFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C(a != b); }
};
template <class C>
struct LtFwd {
  BARACUDA_EW_NO_ATTRS(LtFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C(a < b); }
};
template <class C>
struct LeFwd {
  BARACUDA_EW_NO_ATTRS(LeFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C(a <= b); }
};
template <class C>
struct GtFwd {
  BARACUDA_EW_NO_ATTRS(GtFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C(a > b); }
};
template <class C>
struct GeFwd {
  BARACUDA_EW_NO_ATTRS(GeFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C(a >= b); }
};
template <class C>
struct LogicalAndFwd {
  BARACUDA_EW_NO_ATTRS(LogicalAndFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C(a != C(0) && b != C(0)); }
};
template <class C>
struct LogicalOrFwd {
  BARACUDA_EW_NO_ATTRS(LogicalOrFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C(a != C(0) || b != C(0)); }
};
template <class C>
struct LogicalXorFwd {
  BARACUDA_EW_NO_ATTRS(LogicalXorFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C((a != C(0)) != (b != C(0))); }
};

// ================================================================================================
// Bitwise ops (integer compute; a floating C goes through int64, see as_i64)

template <class C>
struct BitwiseAndFwd {
  BARACUDA_EW_NO_ATTRS(BitwiseAndFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C(as_i64(a) & as_i64(b)); }
};
template <class C>
struct BitwiseOrFwd {
  BARACUDA_EW_NO_ATTRS(BitwiseOrFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C(as_i64(a) | as_i64(b)); }
};
template <class C>
struct BitwiseXorFwd {
  BARACUDA_EW_NO_ATTRS(BitwiseXorFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return C(as_i64(a) ^ as_i64(b)); }
};

template <class C>
struct ShiftLeftFwd {  // shift amount < 0 or >= 64: 0
  BARACUDA_EW_NO_ATTRS(ShiftLeftFwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    const int64_t x = as_i64(a), s = as_i64(b);
    return C((s < 0 || s >= 64) ? int64_t(0) : static_cast<int64_t>(static_cast<uint64_t>(x) << s));
  }
};
template <class C>
struct ShiftRightFwd {  // arithmetic; amount outside [0, 63): all sign bits (PyTorch: x >> 63)
  BARACUDA_EW_NO_ATTRS(ShiftRightFwd)
  __device__ __forceinline__ C operator()(C a, C b) const {
    const int64_t x = as_i64(a), s = as_i64(b);
    return C(x >> ((s < 0 || s >= 63) ? int64_t(63) : s));
  }
};

// ================================================================================================
// prelu(x, w) = x > 0 ? x : w*x (w already broadcast per element by the engine)

template <class C>
struct PreluFwd {
  BARACUDA_EW_NO_ATTRS(PreluFwd)
  __device__ __forceinline__ C operator()(C x, C w) const { return x > C(0) ? x : w * x; }
};
template <class C>
struct PreluBwd {  // {dx, per-element contribution to dw}
  BARACUDA_EW_NO_ATTRS(PreluBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C x, C w) const {
    const bool pos = x > C(0);
    return {{pos ? dy : w * dy, pos ? C(0) : x * dy}};
  }
};

}  // namespace baracuda::ew::cuda
