// Launch group: casts. The vectorized path covers every pair of f32/f16/bf16/fp8 storage types
// (optionally with scale and amax); the strided path covers every dtype pair.
#include "ops/elementwise/cuda/ew_dispatch.cuh"

namespace baracuda::ew::cuda {
namespace {

template <class Tin, class Tout>
Status launch_pair(const Problem& p, const Bound& b, const LaunchContext& ctx) {
  return launch_vectorized_typed<CastFwd<float>, float, Tin, Tout, 1, 1, true>(b, ctx, CastFwd<float>(p.desc.attrs));
}

template <class Tin>
Launcher pick_out(DType out) {
  switch (out) {
    case DType::f32: return &launch_pair<Tin, float>;
    case DType::f16: return &launch_pair<Tin, __half>;
    case DType::bf16: return &launch_pair<Tin, __nv_bfloat16>;
    case DType::f8e4m3: return &launch_pair<Tin, __nv_fp8_e4m3>;
    case DType::f8e5m2: return &launch_pair<Tin, __nv_fp8_e5m2>;
    default: return nullptr;
  }
}

Launcher pick_vectorized(DType in, DType out) {
  switch (in) {
    case DType::f32: return pick_out<float>(out);
    case DType::f16: return pick_out<__half>(out);
    case DType::bf16: return pick_out<__nv_bfloat16>(out);
    case DType::f8e4m3: return pick_out<__nv_fp8_e4m3>(out);
    case DType::f8e5m2: return pick_out<__nv_fp8_e5m2>(out);
    default: return nullptr;
  }
}

}  // namespace

Launcher find_cast(const Problem& p, bool vectorized) {
  if (p.info.category != Cat::cast) return nullptr;
  const bool bwd = p.desc.direction == Direction::backward;
  // Backward reads dy and x of different dtypes: strided path only.
  if (vectorized) return bwd ? nullptr : pick_vectorized(p.desc.inputs[0].dtype, *p.desc.output_dtype);
  if (bwd) return &run_strided<CastBwd, 2, 1, true, false>;
  return &run_strided<CastFwd, 1, 1, true, true>;
}

}  // namespace baracuda::ew::cuda
