#pragma once
// Internal: device functors of the ternary elementwise ops (see ew_functor_common.cuh).
//   Fwd: C operator()(C a, C b, C c)     Bwd: Vec<C, 3> operator()(C dy, C a, C b, C c)
// where, clamp, addcmul and fma: forward also for C = int64_t (wrapping). Backward: floating C.
#include "kernels/ew_functor_common.cuh"

namespace baracuda::ew::cuda {

template <class C>
struct WhereFwd {  // cond != 0 (NaN included) selects a
  BARACUDA_EW_NO_ATTRS(WhereFwd)
  __device__ __forceinline__ C operator()(C cond, C a, C b) const { return cond != C(0) ? a : b; }
};
template <class C>
struct WhereBwd {
  BARACUDA_EW_NO_ATTRS(WhereBwd)
  __device__ __forceinline__ Vec<C, 3> operator()(C dy, C cond, C, C) const {
    const bool t = cond != C(0);
    return {{C(0), t ? dy : C(0), t ? C(0) : dy}};
  }
};

// lerp(a, b, w): PyTorch's two-sided form, exact at w = 0 and w = 1.
template <class C>
struct LerpFwd {
  BARACUDA_EW_NO_ATTRS(LerpFwd)
  __device__ __forceinline__ C operator()(C a, C b, C w) const {
    const C d = b - a;
    return m::fabs(w) < C(0.5) ? a + w * d : b - d * (C(1) - w);
  }
};
template <class C>
struct LerpBwd {
  BARACUDA_EW_NO_ATTRS(LerpBwd)
  __device__ __forceinline__ Vec<C, 3> operator()(C dy, C a, C b, C w) const {
    return {{dy * (C(1) - w), dy * w, dy * (b - a)}};
  }
};

// clamp(x, lo, hi) = min(max(x, lo), hi) (so hi wins when lo > hi); NaN in any operand gives NaN.
template <class C>
struct ClampFwd {
  BARACUDA_EW_NO_ATTRS(ClampFwd)
  __device__ __forceinline__ C operator()(C x, C lo, C hi) const {
    if constexpr (kIsInt<C>) {
      const C t = x > lo ? x : lo;
      return t < hi ? t : hi;
    } else {
      const C r = m::fmin(m::fmax(x, lo), hi);
      return (x != x || lo != lo || hi != hi) ? x + lo + hi : r;
    }
  }
};
// dx where lo <= x <= hi; dlo where x < lo (and lo < hi); dhi where x > hi (or hi < lo: the
// result is then hi everywhere). The lo/hi ordering terms are PyTorch's clamp_backward_min_max.
template <class C>
struct ClampBwd {
  BARACUDA_EW_NO_ATTRS(ClampBwd)
  __device__ __forceinline__ Vec<C, 3> operator()(C dy, C x, C lo, C hi) const {
    return {{(x >= lo && x <= hi) ? dy : C(0),   //
             (x < lo && lo < hi) ? dy : C(0),    //
             (x > hi || hi < lo) ? dy : C(0)}};
  }
};

template <class C>
struct AddcmulFwd {  // a + alpha*b*c (int64: alpha truncated to an integer)
  C alpha;
  __host__ explicit AddcmulFwd(const ElementwiseAttrs& attrs) : alpha(attr_as<C>(attrs.alpha)) {}
  __device__ __forceinline__ C operator()(C a, C b, C c) const {
    if constexpr (kIsInt<C>) return wrap_add(a, wrap_mul(wrap_mul(alpha, b), c));
    else return a + alpha * b * c;
  }
};
template <class C>
struct AddcmulBwd {
  C alpha;
  __host__ explicit AddcmulBwd(const ElementwiseAttrs& attrs) : alpha(C(attrs.alpha)) {}
  __device__ __forceinline__ Vec<C, 3> operator()(C dy, C, C b, C c) const {
    const C g = alpha * dy;
    return {{dy, g * c, g * b}};
  }
};

template <class C>
struct AddcdivFwd {  // a + alpha*(b/c)
  C alpha;
  __host__ explicit AddcdivFwd(const ElementwiseAttrs& attrs) : alpha(C(attrs.alpha)) {}
  __device__ __forceinline__ C operator()(C a, C b, C c) const { return a + alpha * (b / c); }
};
template <class C>
struct AddcdivBwd {  // {dy, alpha*dy/c, -alpha*dy*b/c^2} (not via 1/c: it overflows for subnormal c)
  C alpha;
  __host__ explicit AddcdivBwd(const ElementwiseAttrs& attrs) : alpha(C(attrs.alpha)) {}
  __device__ __forceinline__ Vec<C, 3> operator()(C dy, C, C b, C c) const {
    const C g = alpha * dy / c;
    return {{dy, g, -g * (b / c)}};
  }
};

template <class C>
struct FmaFwd {  // a*b + c, one rounding for floats
  BARACUDA_EW_NO_ATTRS(FmaFwd)
  __device__ __forceinline__ C operator()(C a, C b, C c) const {
    if constexpr (kIsInt<C>) return wrap_add(wrap_mul(a, b), c);
    else return m::fma(a, b, c);
  }
};
template <class C>
struct FmaBwd {
  BARACUDA_EW_NO_ATTRS(FmaBwd)
  __device__ __forceinline__ Vec<C, 3> operator()(C dy, C a, C b, C) const { return {{dy * b, dy * a, dy}}; }
};

}  // namespace baracuda::ew::cuda
