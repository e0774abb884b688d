// Forward launchers: amax / amin / max / min / argmax / argmin, and any / all / count_nonzero
// (floating inputs in their own precision, integer and bool inputs in i64).
#include "kernels/rd_engine.cuh"

namespace baracuda::rd::cuda {

Status launch_extreme(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                      const LaunchContext& ctx) {
  return launch_family<ExtremeOp, kIn16And32, kInF64, kInInt>(p, x, out, partials, ctx);
}

Status launch_logical(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                      const LaunchContext& ctx) {
  return launch_family<LogicalOp, kIn16And32, kInF64, kInInt>(p, x, out, partials, ctx);
}

}  // namespace baracuda::rd::cuda
