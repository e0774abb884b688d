#pragma once
// Internal: device functors of the gated activations and of cast (see ew_functor_common.cuh).
// Gated ops are arity 1 in the op table, but the kernel splits x in halves a, b and passes both:
//   Fwd: C operator()(C a, C b)     Bwd: Vec<C, 2> operator()(C dy, C a, C b) = {da, db}
// glu = a*sigmoid(b); the others act(a)*b. Floating C only.
#include "kernels/ew_functor_common.cuh"

namespace baracuda::ew::cuda {

template <class C>
struct GluFwd {
  BARACUDA_EW_NO_ATTRS(GluFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return a * sigmoid(b); }
};
template <class C>
struct GluBwd {  // {s, a*s*(1-s)} * dy, s = sigmoid(b)
  BARACUDA_EW_NO_ATTRS(GluBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const SigmoidPair<C> p = sigmoid_pair(b);
    return {{dy * p.s, dy * a * p.s * p.sm}};
  }
};

template <class C>
struct SwigluFwd {
  BARACUDA_EW_NO_ATTRS(SwigluFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return silu(a) * b; }
};
template <class C>
struct SwigluBwd {  // {b*silu'(a), silu(a)} * dy from one sigmoid: silu = a*s, silu' = s*(1 + a*(1-s))
  BARACUDA_EW_NO_ATTRS(SwigluBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const SigmoidPair<C> p = sigmoid_pair(a);
    return {{dy * b * p.s * (C(1) + a * p.sm), dy * a * p.s}};
  }
};

template <class C>
struct GegluFwd {
  BARACUDA_EW_NO_ATTRS(GegluFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return gelu_erf(a) * b; }
};
template <class C>
struct GegluBwd {  // gelu = a*Phi(a), gelu' = Phi(a) + a*phi(a)
  BARACUDA_EW_NO_ATTRS(GegluBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    const C cdf = norm_cdf(a);
    return {{dy * b * (cdf + a * norm_pdf(a)), dy * a * cdf}};
  }
};

template <class C>
struct GegluTanhFwd {
  BARACUDA_EW_NO_ATTRS(GegluTanhFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return gelu_tanh(a) * b; }
};
template <class C>
struct GegluTanhBwd {
  BARACUDA_EW_NO_ATTRS(GegluTanhBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    return {{dy * b * gelu_tanh_grad(a), dy * gelu_tanh(a)}};
  }
};

template <class C>
struct RegluFwd {
  BARACUDA_EW_NO_ATTRS(RegluFwd)
  __device__ __forceinline__ C operator()(C a, C b) const { return relu(a) * b; }
};
template <class C>
struct RegluBwd {
  BARACUDA_EW_NO_ATTRS(RegluBwd)
  __device__ __forceinline__ Vec<C, 2> operator()(C dy, C a, C b) const {
    return {{a <= C(0) ? C(0) : dy * b, dy * relu(a)}};
  }
};

// ================================================================================================
// cast: the math part is the scale; conversion, saturation and amax belong to the engine.

template <class C>
struct CastFwd {
  C scale;
  __host__ explicit CastFwd(const ElementwiseAttrs& a) : scale(attr_as<C>(a.scale)) {}
  __device__ __forceinline__ C operator()(C x) const {
    if constexpr (kIsInt<C>) return wrap_mul(x, scale);  // integer compute: scale truncated
    else return x * scale;
  }
};
template <class C>
struct CastBwd {
  C scale;
  __host__ explicit CastBwd(const ElementwiseAttrs& a) : scale(C(a.scale)) {}
  __device__ __forceinline__ C operator()(C dy, C) const { return dy * scale; }
};

}  // namespace baracuda::ew::cuda
