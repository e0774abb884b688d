// Extreme-value kernels in stats mode (the values a backward needs), every accumulator.
#include "kernels/rd_engine.cuh"

namespace baracuda::rd::cuda {

Status launch_extreme_stats(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                            const LaunchContext& ctx) {
  return launch_family<ExtremeOp, true>(p, x, out, partials, ctx);
}

}  // namespace baracuda::rd::cuda
