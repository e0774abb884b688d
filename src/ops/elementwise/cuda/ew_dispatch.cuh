#pragma once
// Internal: maps (op, direction, compute dtype, path) to a launcher, expanding the op table.
// A launch group (one .cu file) passes a filter saying which (arity, category, direction) it owns.
#include "kernels/ew_engine.cuh"
#include "kernels/ew_functors.cuh"
#include "kernels/ew_functors_fast.cuh"
#include "ops/elementwise/cuda/ew_launchers.hpp"

namespace baracuda::ew::cuda {

// Every functor template is named by the dispatch table, defined or not (e.g. the backward of a
// non-differentiable op); only those that pass the filters are instantiated.
#define BARACUDA_X(name, F, ...) \
  template <class C>             \
  struct F##Fwd;                 \
  template <class C>             \
  struct F##Bwd;
BARACUDA_ELEMENTWISE_OPS(BARACUDA_X)
#undef BARACUDA_X

using Cat = ElementwiseCategory;
using GroupFilter = bool (*)(int arity, Cat cat, Direction dir);

constexpr bool has_float_compute(Cat c) { return c != Cat::integer; }
constexpr bool has_int_compute(Cat c) { return c == Cat::same || c == Cat::predicate || c == Cat::integer || c == Cat::where; }
constexpr bool can_vectorize(Cat c) {
  return c == Cat::float_math || c == Cat::same || c == Cat::float_only || c == Cat::gated;
}

template <template <class> class Fn, int NIN, int NOUT, bool Float, bool Int>
Status run_strided(const Problem& p, const Bound& b, const LaunchContext& ctx) {
  if constexpr (Int)
    if (p.sig.compute == DType::i64) return launch_strided<Fn<int64_t>, int64_t, NIN, NOUT>(b, ctx, Fn<int64_t>(p.desc.attrs));
  if constexpr (Float) {
    if (p.sig.compute == DType::f64) return launch_strided<Fn<double>, double, NIN, NOUT>(b, ctx, Fn<double>(p.desc.attrs));
    if (p.sig.compute == DType::f32) return launch_strided<Fn<float>, float, NIN, NOUT>(b, ctx, Fn<float>(p.desc.attrs));
  }
  return internal_error("[elementwise." + std::string(p.info.name) + "] no strided kernel for compute dtype " +
                        std::string(dtype_name(p.sig.compute)));
}

template <template <class> class Fn, int NIN, int NOUT>
Status run_vectorized(const Problem& p, const Bound& b, const LaunchContext& ctx) {
  return launch_vectorized<Fn<float>, NIN, NOUT>(b, ctx, Fn<float>(p.desc.attrs), p.in_dtype[0]);
}

template <GroupFilter Filter, template <class> class Fwd, template <class> class Bwd, int Arity, Cat C, bool Diff>
Launcher pick(const Problem& p, bool vectorized) {
  // Kernel operand counts (elementwise_problem.hpp).
  constexpr int kFwdIn = C == Cat::gated ? 2 : Arity;
  constexpr int kBwdOut = C == Cat::gated ? 2 : Arity;
  if (p.desc.direction == Direction::forward) {
    if constexpr (Filter(Arity, C, Direction::forward)) {
      if (vectorized) {
        if constexpr (can_vectorize(C)) return &run_vectorized<Fwd, kFwdIn, 1>;
        return nullptr;
      }
      return &run_strided<Fwd, kFwdIn, 1, has_float_compute(C), has_int_compute(C)>;
    }
    return nullptr;
  }
  if constexpr (Diff && Filter(Arity, C, Direction::backward)) {
    if (vectorized) {
      if constexpr (can_vectorize(C)) return &run_vectorized<Bwd, kFwdIn + 1, kBwdOut>;
      return nullptr;
    }
    return &run_strided<Bwd, kFwdIn + 1, kBwdOut, true, false>;
  }
  return nullptr;
}

// The fast forward functors for 16-bit storage (ew_functors_fast.cuh), or nullptr.
template <GroupFilter Filter>
Launcher find_fast_launcher(const Problem& p) {
  switch (p.desc.op) {
#define BARACUDA_FAST(name, F, arity, cat, nin)                              \
  case ElementwiseOp::name:                                                 \
    if constexpr (Filter(arity, Cat::cat, Direction::forward)) return &run_vectorized<F, nin, 1>; \
    return nullptr;
    BARACUDA_FAST(exp, ExpFwdFast, 1, float_math, 1)
    BARACUDA_FAST(sigmoid, SigmoidFwdFast, 1, float_math, 1)
    BARACUDA_FAST(silu, SiluFwdFast, 1, float_only, 1)
    BARACUDA_FAST(gelu_tanh, GeluTanhFwdFast, 1, float_only, 1)
    BARACUDA_FAST(swiglu, SwigluFwdFast, 1, gated, 2)
    BARACUDA_FAST(geglu_tanh, GegluTanhFwdFast, 1, gated, 2)
#undef BARACUDA_FAST
    default: return nullptr;
  }
}

template <GroupFilter Filter>
Launcher find_launcher(const Problem& p, bool vectorized) {
  if (vectorized && uses_fast_math(p)) return find_fast_launcher<Filter>(p);
  switch (p.desc.op) {
#define BARACUDA_X(name, F, arity, cat, diff, ...) \
  case ElementwiseOp::name:                        \
    return pick<Filter, F##Fwd, F##Bwd, arity, Cat::cat, diff != 0>(p, vectorized);
    BARACUDA_ELEMENTWISE_OPS(BARACUDA_X)
#undef BARACUDA_X
  }
  return nullptr;
}

}  // namespace baracuda::ew::cuda
