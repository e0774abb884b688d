// Forward launchers: amax / amin / max / min / argmax / argmin, and any / all / count_nonzero
// (floating inputs in their own precision, integer and bool inputs in i64).
#include "kernels/rd_engine.cuh"

namespace baracuda::rd::cuda {

Status launch_extreme(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                      const LaunchContext& ctx) {
  // Forward launches take the variant without the stats-mode code path (fewer registers).
  if (!p.op.stats) return launch_family<ExtremeForwardOp, true>(p, x, out, partials, ctx);
  return launch_family<ExtremeOp, true>(p, x, out, partials, ctx);
}

Status launch_logical(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                      const LaunchContext& ctx) {
  return launch_family<LogicalOp, true>(p, x, out, partials, ctx);
}

}  // namespace baracuda::rd::cuda
