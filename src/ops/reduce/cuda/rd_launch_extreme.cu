// Forward launcher of amax / amin / max / min / argmax / argmin: picks one of the translation units
// below. The extreme kernels are split over four files because one file holding them all took
// five minutes to compile (the critical path of the whole build).
#include "ops/reduce/cuda/rd_problem.hpp"

namespace baracuda::rd::cuda {

Status launch_extreme(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                      const LaunchContext& ctx) {
  // Forward launches take the variant without the stats-mode code path (fewer registers).
  if (p.op.stats) return launch_extreme_stats(p, x, out, partials, ctx);
  if (p.acc == DType::f32) return launch_extreme_forward_f32(p, x, out, partials, ctx);
  return launch_extreme_forward_wide(p, x, out, partials, ctx);
}

}  // namespace baracuda::rd::cuda
