// Launch group: unary ops, backward.
#include "ops/elementwise/cuda/ew_dispatch.cuh"

namespace baracuda::ew::cuda {
namespace {
constexpr bool in_group(int arity, Cat cat, Direction dir) {
  (void)arity; (void)cat; (void)dir;
  return arity == 1 && cat != Cat::gated && cat != Cat::cast && dir == Direction::backward;
}
}  // namespace

Launcher find_unary_bwd(const Problem& p, bool vectorized) { return find_launcher<in_group>(p, vectorized); }

}  // namespace baracuda::ew::cuda
