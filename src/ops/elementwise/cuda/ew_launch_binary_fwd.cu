// Launch group: binary ops (and prelu), forward.
#include "ops/elementwise/cuda/ew_dispatch.cuh"

namespace baracuda::ew::cuda {
namespace {
constexpr bool in_group(int arity, Cat cat, Direction dir) {
  (void)arity; (void)cat; (void)dir;
  return arity == 2 && dir == Direction::forward;
}
}  // namespace

Launcher find_binary_fwd(const Problem& p, bool vectorized) { return find_launcher<in_group>(p, vectorized); }

}  // namespace baracuda::ew::cuda
