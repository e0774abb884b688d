#pragma once
// Internal: launching one (load, store) dtype pair's kernels. Each softmax_launch_<dtype>.cu
// instantiates the pairs whose loaded dtype is <dtype>, so the instantiations compile in parallel.
#include <string>
#include <type_traits>

#include "kernels/softmax_engines.cuh"

namespace baracuda::sm::cuda {

// The register engines (warp, block) for one mask variant.
template <class Tl, class Ts, class A, bool kBwd, bool kMask>
Status launch_cached(const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  constexpr int V = 16 / static_cast<int>(sizeof(Tl));
  const dim3 grid(static_cast<unsigned>(c.grid)), block(static_cast<unsigned>(c.threads));
  const bool vec = c.vec == V;
  if (c.engine == Engine::warp) {
    if (!vec) return internal_error("[softmax] the warp engine needs full-width vectors");
    switch (c.items) {
      case 1: softmax_cached_kernel<Tl, Ts, A, V, 1, true, kBwd, kMask><<<grid, block, 0, stream>>>(p); break;
      case 2: softmax_cached_kernel<Tl, Ts, A, V, 2, true, kBwd, kMask><<<grid, block, 0, stream>>>(p); break;
      case 4: softmax_cached_kernel<Tl, Ts, A, V, 4, true, kBwd, kMask><<<grid, block, 0, stream>>>(p); break;
      default: return internal_error("[softmax] warp engine: unsupported items " + std::to_string(c.items));
    }
    return check_softmax_launch("warp", kBwd);
  }
#define BARACUDA_SOFTMAX_BLOCK(VW)                                                                               \
  switch (c.items) {                                                                                             \
    case 1: softmax_cached_kernel<Tl, Ts, A, VW, 1, false, kBwd, kMask><<<grid, block, 0, stream>>>(p); break;   \
    case 2: softmax_cached_kernel<Tl, Ts, A, VW, 2, false, kBwd, kMask><<<grid, block, 0, stream>>>(p); break;   \
    case 4: softmax_cached_kernel<Tl, Ts, A, VW, 4, false, kBwd, kMask><<<grid, block, 0, stream>>>(p); break;   \
    case 8: softmax_cached_kernel<Tl, Ts, A, VW, 8, false, kBwd, kMask><<<grid, block, 0, stream>>>(p); break;   \
    default: return internal_error("[softmax] block engine: unsupported items " + std::to_string(c.items));    \
  }
  if (vec) {
    BARACUDA_SOFTMAX_BLOCK(V)
  } else {
    BARACUDA_SOFTMAX_BLOCK(1)
  }
#undef BARACUDA_SOFTMAX_BLOCK
  return check_softmax_launch("block", kBwd);
}

template <class Tl, class Ts, bool kBwd>
Status launch_pair(const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  using A = std::conditional_t<std::is_same_v<Tl, double> || std::is_same_v<Ts, double>, double, float>;
  constexpr int V = 16 / static_cast<int>(sizeof(Tl));
  const dim3 grid(static_cast<unsigned>(c.grid)), block(static_cast<unsigned>(c.threads));
  const bool vec = c.vec == V;
  if (c.vec != V && c.vec != 1) return internal_error("[softmax] unsupported vector width " + std::to_string(c.vec));
  switch (c.engine) {
    case Engine::warp:
    case Engine::block:
      return p.mask_kind == MaskKind::none ? launch_cached<Tl, Ts, A, kBwd, false>(p, c, stream)
                                           : launch_cached<Tl, Ts, A, kBwd, true>(p, c, stream);
    case Engine::online:
      if (vec) softmax_online_kernel<Tl, Ts, A, V, kBwd><<<grid, block, 0, stream>>>(p);
      else softmax_online_kernel<Tl, Ts, A, 1, kBwd><<<grid, block, 0, stream>>>(p);
      return check_softmax_launch("online", kBwd);
    case Engine::column:
      softmax_column_kernel<Tl, Ts, A, kBwd><<<grid, block, 0, stream>>>(p);
      return check_softmax_launch("column", kBwd);
  }
  return internal_error("[softmax] unknown engine");
}

}  // namespace baracuda::sm::cuda
