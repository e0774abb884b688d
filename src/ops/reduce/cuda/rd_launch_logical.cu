// Forward launcher of any / all / count_nonzero (every input dtype, integer math).
#include "kernels/rd_engine.cuh"

namespace baracuda::rd::cuda {

Status launch_logical(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                      const LaunchContext& ctx) {
  return launch_family<LogicalOp, true>(p, x, out, partials, ctx);
}

}  // namespace baracuda::rd::cuda
