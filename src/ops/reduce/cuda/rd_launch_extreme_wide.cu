// Extreme-value forward kernels with an f64 accumulator (f64 inputs) or integer math (i64).
#include "kernels/rd_engine.cuh"

namespace baracuda::rd::cuda {

Status launch_extreme_forward_wide(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                                   const LaunchContext& ctx) {
  if (p.acc == DType::f64) return launch_with_acc<double, ExtremeForwardOp>(p, x, out, partials, ctx);
  return launch_with_acc<int64_t, ExtremeForwardOp>(p, x, out, partials, ctx);
}

}  // namespace baracuda::rd::cuda
