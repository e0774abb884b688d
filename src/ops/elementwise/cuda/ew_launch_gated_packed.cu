// Launch group: gated activations with halves narrower than a 16-byte pack, forward and backward
// (ew_gated_packed.cuh). Forward on f16/bf16 takes the fast functors wherever the vectorized
// kernel does (uses_fast_math), so the two paths round alike.
#include "kernels/ew_functors.cuh"
#include "kernels/ew_functors_fast.cuh"
#include "kernels/ew_gated_packed.cuh"
#include "ops/elementwise/cuda/ew_launchers.hpp"

namespace baracuda::ew::cuda {
namespace {

template <template <class> class Fn, bool kBackward>
Status run_packed(const Problem& p, const Bound& b, const LaunchContext& ctx) {
  return launch_gated_packed<Fn<float>, kBackward>(b, ctx, Fn<float>(p.desc.attrs), p.in_dtype[0], gated_half_cols(p));
}

template <template <class> class Fwd, template <class> class Bwd, template <class> class FwdFast = Fwd>
Launcher pick_packed(const Problem& p) {
  if (p.desc.direction == Direction::backward) return &run_packed<Bwd, true>;
  return uses_fast_math(p) ? &run_packed<FwdFast, false> : &run_packed<Fwd, false>;
}

}  // namespace

Launcher find_gated_packed(const Problem& p) {
  switch (p.desc.op) {
    case ElementwiseOp::glu: return pick_packed<GluFwd, GluBwd>(p);
    case ElementwiseOp::swiglu: return pick_packed<SwigluFwd, SwigluBwd, SwigluFwdFast>(p);
    case ElementwiseOp::geglu: return pick_packed<GegluFwd, GegluBwd>(p);
    case ElementwiseOp::geglu_tanh: return pick_packed<GegluTanhFwd, GegluTanhBwd, GegluTanhFwdFast>(p);
    case ElementwiseOp::reglu: return pick_packed<RegluFwd, RegluBwd>(p);
    default: return nullptr;
  }
}

}  // namespace baracuda::ew::cuda
