// Forward launchers: sum / mean / nansum / nanmean and prod (every input dtype, f32/f64/i64 math).
#include "kernels/rd_engine.cuh"

namespace baracuda::rd::cuda {

Status launch_sum(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials, const LaunchContext& ctx) {
  return launch_family<SumOp, kIn16And32 | kInInt, kInAll, kInAll>(p, x, out, partials, ctx);
}

Status launch_prod(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials, const LaunchContext& ctx) {
  return launch_family<ProdOp, kIn16And32 | kInInt, kInAll, kInAll>(p, x, out, partials, ctx);
}

}  // namespace baracuda::rd::cuda
