// The rows split's dispatch from a KernelKey to its built kernel (grouped_cutlass_launch.hpp). A
// plain C++ file on purpose: it names every kernel, so it must not see their definitions
// (grouped_cutlass_kernel.cuh), or it would instantiate them all; the kernels' own translation
// units instantiate one tiling each.
#include "ops/grouped_gemm/cuda/grouped_cutlass_launch.hpp"

namespace baracuda::grouped_gemm::cutlass_sm90 {
namespace {

// Calls f.template operator()<E, T, BKContiguous>() for the kernel built for `key` (the default
// tiling where key's is not built).
template <Element E, class F>
decltype(auto) visit_built_kernel_of(KernelKey key, F&& f) {
  if (key.b_k_contiguous) {
    switch (key.tiling) {
      case Tiling::m128n128_c1x2: return f.template operator()<E, Tiling::m128n128_c1x2, true>();
      case Tiling::m128n256_c1x2: return f.template operator()<E, Tiling::m128n256_c1x2, true>();
      case Tiling::m128n128_c2x1: break;
    }
    return f.template operator()<E, kDefaultTiling, true>();
  }
  return f.template operator()<E, kDefaultTiling, false>();
}

template <class F>
decltype(auto) visit_built_kernel(KernelKey key, F&& f) {
  return key.element == Element::bf16 ? visit_built_kernel_of<Element::bf16>(key, f)
                                      : visit_built_kernel_of<Element::f16>(key, f);
}

}  // namespace

size_t workspace_bytes(KernelKey key, int groups, int sm_count) {
  return visit_built_kernel(key, [&]<Element E, Tiling T, bool BK>() {
    return rows_workspace_bytes<E, T, BK>(groups, sm_count);
  });
}

Status launch(KernelKey key, const LaunchParams& p) {
  return visit_built_kernel(key, [&]<Element E, Tiling T, bool BK>() { return rows_launch<E, T, BK>(p); });
}

}  // namespace baracuda::grouped_gemm::cutlass_sm90
