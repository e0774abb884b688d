// Extreme-value forward kernels with an f32 accumulator (f32, f16, bf16 inputs, and DynIn).
#include "kernels/rd_engine.cuh"

namespace baracuda::rd::cuda {

Status launch_extreme_forward_f32(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                                  const LaunchContext& ctx) {
  return launch_with_acc<float, ExtremeForwardOp>(p, x, out, partials, ctx);
}

}  // namespace baracuda::rd::cuda
