// Forward launchers: sum / mean / nansum / nanmean and prod (f32, f64 or i64 math).
#include "kernels/rd_engine.cuh"

namespace baracuda::rd::cuda {

// sum and mean take the count-free PlainSumOp (4-byte f32 state); nansum and nanmean need SumOp's
// non-NaN count.
Status launch_sum(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials, const LaunchContext& ctx) {
  if (p.op.op == ReduceOp::sum || p.op.op == ReduceOp::mean) return launch_family<PlainSumOp, true>(p, x, out, partials, ctx);
  return launch_family<SumOp, true>(p, x, out, partials, ctx);
}

Status launch_prod(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials, const LaunchContext& ctx) {
  return launch_family<ProdOp, true>(p, x, out, partials, ctx);
}

}  // namespace baracuda::rd::cuda
