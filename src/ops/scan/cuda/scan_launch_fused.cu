// Launches of the fused scan kernel: the CUDA backward of cumprod / cummax / cummin /
// logcumsumexp (two passes through a dense temporary in the workspace), cumsum's backward with a dy
// dtype other than x's, and dtype= conversions of cumsum / cumprod. Every pass clears the look-back
// counter and flags first (stream-ordered, so the passes reuse one look-back region).
#include <climits>
#include <string>

#include "kernels/scan_fused_passes.cuh"
#include "ops/scan/cuda/scan_launchers.hpp"

namespace baracuda::sc::cuda {
namespace {

// Dense (row-major) strides of the tensor the geometry describes, for the workspace temporary.
TensorStrides dense_strides(const Geometry& g) {
  TensorStrides s;
  int64_t step = 1;
  for (int i = g.n_inner - 1; i >= 0; --i) s.inner[i] = step, step *= g.inner_sizes[i];
  s.axis = step;
  step *= g.n;
  for (int i = g.n_outer - 1; i >= 0; --i) s.outer[i] = step, step *= g.outer_sizes[i];
  return s;
}

struct PassContext {
  const FusedLaunchArgs* a;
  FusedWorkspace layout;
  char* ws;
};

// One pass: clear the look-back counter and flags, launch one block per tile.
template <class Pass>
Status run_pass(const PassContext& ctx, const Pass& pass, const FusedArgs& args, bool reverse) {
  using State = typename Pass::Op::State;
  static_assert(sizeof(State) <= kFusedStateBytes, "fused state larger than the workspace booked for it");
  Geometry g = *ctx.a->geometry;
  g.reverse = reverse;
  const LookbackLayout& l = ctx.layout.lookback;
  if (cudaError_t e = cudaMemsetAsync(ctx.ws, 0, l.clear_bytes, ctx.a->stream); e != cudaSuccess)
    return backend_error(std::string("[scan] cudaMemsetAsync(look-back flags) failed: ") + cudaGetErrorString(e));
  LookbackStorage<State> st{reinterpret_cast<unsigned long long*>(ctx.ws + l.counter), reinterpret_cast<int*>(ctx.ws + l.flags),
                            reinterpret_cast<State*>(ctx.ws + l.aggregate), reinterpret_cast<State*>(ctx.ws + l.inclusive)};
  scan_fused_kernel<Pass><<<static_cast<unsigned>(g.tiles), kThreads, 0, ctx.a->stream>>>(pass, args, g, st);
  return check_launch("scan_fused_kernel");
}

template <class Acc>
Status run_kind(const PassContext& ctx, FusedArgs args) {
  const FusedConfig& c = ctx.a->config;
  const bool fwd = c.reverse, suffix = !c.reverse;  // scan order / the opposite one
  args.opnd[kTmp].data = ctx.ws + ctx.layout.temp;
  args.opnd[kTmp].strides = dense_strides(*ctx.a->geometry);
  args.opnd[kTmp].dtype = sizeof(Acc) == 8 ? DType::f64 : DType::f32;
  switch (c.kind) {
    case FusedKind::cumsum_backward: return run_pass(ctx, SumBackwardPass<Acc>{c.exclusive}, args, suffix);
    case FusedKind::cumprod_backward:
      BARACUDA_TRY(run_pass(ctx, CumprodSuffixPass<Acc>{c.exclusive}, args, suffix));
      return run_pass(ctx, CumprodApplyPass<Acc>{}, args, fwd);
    case FusedKind::cummax_backward:
      args.opnd[kTmp].dtype = DType::u8;
      BARACUDA_TRY(run_pass(ctx, MaxMinFlagPass<Acc, true>{}, args, fwd));
      return run_pass(ctx, MaxMinBackwardPass<Acc>{}, args, suffix);
    case FusedKind::cummin_backward:
      args.opnd[kTmp].dtype = DType::u8;
      BARACUDA_TRY(run_pass(ctx, MaxMinFlagPass<Acc, false>{}, args, fwd));
      return run_pass(ctx, MaxMinBackwardPass<Acc>{}, args, suffix);
    case FusedKind::logcumsumexp_backward:
      BARACUDA_TRY(run_pass(ctx, LseForwardPass<Acc>{c.exclusive}, args, fwd));
      return run_pass(ctx, LseBackwardPass<Acc>{c.exclusive}, args, suffix);
    case FusedKind::convert_cumsum:
      if (c.int_math) return run_pass(ctx, ConvertIntPass<SumOp<unsigned long long>>{c.exclusive}, args, fwd);
      return run_pass(ctx, ConvertFloatPass<SumOp<Acc>, Acc>{c.exclusive}, args, fwd);
    case FusedKind::convert_cumprod:
      if (c.int_math) return run_pass(ctx, ConvertIntPass<ProdOp<unsigned long long>>{c.exclusive}, args, fwd);
      return run_pass(ctx, ConvertFloatPass<ProdOp<Acc>, Acc>{c.exclusive}, args, fwd);
  }
  return internal_error("[scan] unknown fused kind");
}

}  // namespace

Status launch_fused(const FusedLaunchArgs& a) {
  const Geometry& g = *a.geometry;
  if (g.tiles == 0) return Status::ok();
  if (g.tiles > INT_MAX) return not_supported("[scan] " + std::to_string(g.tiles) + " tiles exceed the grid limit");
  const FusedWorkspace layout = fused_workspace(g, a.config);
  if (layout.total > a.workspace_bytes)  // the plan books exactly this: a bug, not bad input
    return internal_error("[scan] the fused kernel needs " + std::to_string(layout.total) + " bytes of workspace, the plan booked " +
                          std::to_string(a.workspace_bytes));
  PassContext ctx{&a, layout, static_cast<char*>(a.workspace)};
  return a.config.acc_f64 ? run_kind<double>(ctx, a.args) : run_kind<float>(ctx, a.args);
}

}  // namespace baracuda::sc::cuda
