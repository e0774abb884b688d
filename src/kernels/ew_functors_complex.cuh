#pragma once
// Internal: device functors of the elementwise ops that take complex operands (the list is
// takes_complex() in elementwise_complex_rules.cpp). C is Complex<float> (c64 problems) or
// Complex<double> (c128); real operands arrive as (v, 0) and real outputs keep the real part
// (ew_load_store.cuh). Call signatures as in ew_functor_common.cuh.
//
// Backward follows PyTorch's convention for complex autograd: the gradient is the conjugate
// Wirtinger derivative, grad_in = grad_out * conj(f'(z)) for holomorphic f; abs (real-valued)
// gives grad_out * z / |z|, 0 at z = 0.
#include "kernels/ew_complex.cuh"

namespace baracuda::ew::cuda {

#define BARACUDA_CX_NO_ATTRS(F) \
  __host__ explicit F(const ElementwiseAttrs&) {}

template <class C>
__device__ __forceinline__ C cx_bool(bool v) {
  using R = typename C::Real;
  return C(v ? R(1) : R(0));
}
template <class C>
__device__ __forceinline__ bool cx_truthy(C v) {
  using R = typename C::Real;
  return v.re != R(0) || v.im != R(0);
}

// ------------------------------------------------------------------------------------------------
// Forward, unary.
#define BARACUDA_CX_UNARY(F, expr)                                        \
  template <class C>                                                      \
  struct F {                                                              \
    using R = typename C::Real;                                           \
    BARACUDA_CX_NO_ATTRS(F)                                               \
    __device__ __forceinline__ C operator()(C z) const { return (expr); } \
  };
BARACUDA_CX_UNARY(CxExpFwd, cx::exp(z))
BARACUDA_CX_UNARY(CxLogFwd, cx::log(z))
BARACUDA_CX_UNARY(CxSqrtFwd, cx::sqrt(z))
BARACUDA_CX_UNARY(CxReciprocalFwd, cx::div(C(R(1)), z))
BARACUDA_CX_UNARY(CxSinFwd, cx::sin(z))
BARACUDA_CX_UNARY(CxCosFwd, cx::cos(z))
BARACUDA_CX_UNARY(CxTanhFwd, cx::tanh(z))
BARACUDA_CX_UNARY(CxSigmoidFwd, cx::sigmoid(z))
BARACUDA_CX_UNARY(CxAbsFwd, C(cx::abs(z)))
BARACUDA_CX_UNARY(CxNegFwd, -z)
BARACUDA_CX_UNARY(CxSquareFwd, z * z)
BARACUDA_CX_UNARY(CxIsnanFwd, cx_bool<C>(cx::is_nan(z)))
BARACUDA_CX_UNARY(CxIsinfFwd, cx_bool<C>(cx::is_inf(z)))
BARACUDA_CX_UNARY(CxIsfiniteFwd, cx_bool<C>(!cx::is_nan(z) && !cx::is_inf(z)))
BARACUDA_CX_UNARY(CxCastFwd, z)  // the conversions are the loads and stores
#undef BARACUDA_CX_UNARY

// ------------------------------------------------------------------------------------------------
// Forward, binary and ternary.
template <class C>
struct CxAddFwd {  // a + alpha*b (alpha real)
  using R = typename C::Real;
  R alpha;
  __host__ explicit CxAddFwd(const ElementwiseAttrs& attrs) : alpha(static_cast<R>(attrs.alpha)) {}
  __device__ __forceinline__ C operator()(C a, C b) const { return a + cx::scale(b, alpha); }
};
template <class C>
struct CxSubFwd {
  using R = typename C::Real;
  R alpha;
  __host__ explicit CxSubFwd(const ElementwiseAttrs& attrs) : alpha(static_cast<R>(attrs.alpha)) {}
  __device__ __forceinline__ C operator()(C a, C b) const { return a - cx::scale(b, alpha); }
};
#define BARACUDA_CX_BINARY(F, expr)                                             \
  template <class C>                                                            \
  struct F {                                                                    \
    BARACUDA_CX_NO_ATTRS(F)                                                     \
    __device__ __forceinline__ C operator()(C a, C b) const { return (expr); }  \
  };
BARACUDA_CX_BINARY(CxMulFwd, a * b)
BARACUDA_CX_BINARY(CxDivFwd, cx::div(a, b))
BARACUDA_CX_BINARY(CxPowFwd, cx::pow(a, b))
BARACUDA_CX_BINARY(CxEqFwd, cx_bool<C>(a == b))
BARACUDA_CX_BINARY(CxNeFwd, cx_bool<C>(!(a == b)))
#undef BARACUDA_CX_BINARY

template <class C>
struct CxWhereFwd {  // where(cond, a, b); the condition (bool or u8) arrives as (0/1.., 0)
  BARACUDA_CX_NO_ATTRS(CxWhereFwd)
  __device__ __forceinline__ C operator()(C cond, C a, C b) const { return cx_truthy(cond) ? a : b; }
};

// ------------------------------------------------------------------------------------------------
// Backward: grad_in = dy * conj(f'(z)).
#define BARACUDA_CX_UNARY_BWD(F, expr)                                             \
  template <class C>                                                               \
  struct F {                                                                       \
    using R = typename C::Real;                                                    \
    BARACUDA_CX_NO_ATTRS(F)                                                        \
    __device__ __forceinline__ C operator()(C dy, C z) const { return (expr); }    \
  };
BARACUDA_CX_UNARY_BWD(CxExpBwd, dy * cx::conj(cx::exp(z)))
BARACUDA_CX_UNARY_BWD(CxLogBwd, cx::div(dy, cx::conj(z)))
BARACUDA_CX_UNARY_BWD(CxSqrtBwd, cx::div(dy, cx::scale(cx::conj(cx::sqrt(z)), R(2))))
BARACUDA_CX_UNARY_BWD(CxSinBwd, dy * cx::conj(cx::cos(z)))
BARACUDA_CX_UNARY_BWD(CxCosBwd, -(dy * cx::conj(cx::sin(z))))
BARACUDA_CX_UNARY_BWD(CxNegBwd, -dy)
BARACUDA_CX_UNARY_BWD(CxSquareBwd, dy * cx::scale(cx::conj(z), R(2)))
#undef BARACUDA_CX_UNARY_BWD

template <class C>
struct CxReciprocalBwd {  // d(1/z)/dz = -1/z^2
  BARACUDA_CX_NO_ATTRS(CxReciprocalBwd)
  __device__ __forceinline__ C operator()(C dy, C z) const {
    using R = typename C::Real;
    const C r = cx::div(C(R(1)), z);
    return -(dy * cx::conj(r * r));
  }
};
template <class C>
struct CxTanhBwd {  // 1 - tanh^2
  BARACUDA_CX_NO_ATTRS(CxTanhBwd)
  __device__ __forceinline__ C operator()(C dy, C z) const {
    using R = typename C::Real;
    const C t = cx::tanh(z);
    return dy * cx::conj(C(R(1)) - t * t);
  }
};
template <class C>
struct CxSigmoidBwd {  // s (1 - s)
  BARACUDA_CX_NO_ATTRS(CxSigmoidBwd)
  __device__ __forceinline__ C operator()(C dy, C z) const {
    using R = typename C::Real;
    const C s = cx::sigmoid(z);
    return dy * cx::conj(s * (C(R(1)) - s));
  }
};
template <class C>
struct CxAbsBwd {  // dy (real) times the unit vector z / |z|; 0 at z = 0
  BARACUDA_CX_NO_ATTRS(CxAbsBwd)
  __device__ __forceinline__ C operator()(C dy, C z) const {
    using R = typename C::Real;
    const R mag = cx::abs(z);
    if (mag == R(0)) return C(R(0));
    return dy * C(z.re / mag, z.im / mag);
  }
};

template <class C>
struct CxAddBwd {
  using R = typename C::Real;
  R alpha;
  __host__ explicit CxAddBwd(const ElementwiseAttrs& attrs) : alpha(static_cast<R>(attrs.alpha)) {}
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C, C) const { return {{dy, cx::scale(dy, alpha)}}; }
};
template <class C>
struct CxSubBwd {
  using R = typename C::Real;
  R alpha;
  __host__ explicit CxSubBwd(const ElementwiseAttrs& attrs) : alpha(static_cast<R>(attrs.alpha)) {}
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C, C) const { return {{dy, cx::scale(dy, -alpha)}}; }
};
template <class C>
struct CxMulBwd {
  BARACUDA_CX_NO_ATTRS(CxMulBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const { return {{dy * cx::conj(b), dy * cx::conj(a)}}; }
};
template <class C>
struct CxDivBwd {  // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
  BARACUDA_CX_NO_ATTRS(CxDivBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const C q = cx::div(a, b);
    return {{cx::div(dy, cx::conj(b)), -(dy * cx::conj(cx::div(q, b)))}};
  }
};
template <class C>
struct CxWhereBwd {  // the condition gets no gradient
  BARACUDA_CX_NO_ATTRS(CxWhereBwd)
  __device__ __forceinline__ Vec<C, 3> operator()(C dy, C cond, C, C) const {
    using R = typename C::Real;
    const C zero(R(0));
    const bool t = cx_truthy(cond);
    return {{zero, t ? dy : zero, t ? zero : dy}};
  }
};

#undef BARACUDA_CX_NO_ATTRS

}  // namespace baracuda::ew::cuda
