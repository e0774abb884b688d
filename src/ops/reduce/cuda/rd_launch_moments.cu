// Forward launchers: var / std / var_mean (Welford), vector norm, logsumexp (floating math only;
// logsumexp also takes integer inputs, in f32).
#include "kernels/rd_engine.cuh"

namespace baracuda::rd::cuda {

Status launch_welford(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                      const LaunchContext& ctx) {
  return launch_family<WelfordOp, false>(p, x, out, partials, ctx);
}

// p = 1, 2, inf forward: NormPackedOp (lean state, packed adds); stats mode, other p and
// BARACUDA_REDUCE_FWD=legacy: NormOp.
Status launch_norm(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                   const LaunchContext& ctx) {
  if (NormPackedOp<float>::serves(p.op)) return launch_family<NormPackedOp, false>(p, x, out, partials, ctx);
  return launch_family<NormOp, false>(p, x, out, partials, ctx);
}

Status launch_logsumexp(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                        const LaunchContext& ctx) {
  return launch_family<LseOp, false>(p, x, out, partials, ctx);
}

}  // namespace baracuda::rd::cuda
