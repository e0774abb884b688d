// Launches of the fused scan kernel: the CUDA backward of cumprod / cummax / cummin /
// logcumsumexp (two passes through a dense temporary in the workspace), cumsum's backward with a dy
// dtype other than x's, and dtype= conversions of cumsum / cumprod. Every pass clears the look-back
// counter and flags first (stream-ordered, so the passes reuse one look-back region).
#include <climits>
#include <string>

#include "kernels/scan_cumprod_backward_lines.cuh"
#include "kernels/scan_fused_passes.cuh"
#include "ops/scan/cuda/scan_launch.cuh"
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

// cumprod's backward of many contiguous aligned lines: the two block-per-line kernels of
// scan_cumprod_backward_lines.cuh (the suffix walked from the end into the f32 temporary, then the
// exclusive product times it). `taken` stays false when the launch does not qualify: unit stride
// along the axis, every line start 16-byte aligned in x, dy and dx, and at least kRowCarryMinWaves
// lines per resident block (fewer lines keep the look-back passes, which split lines into tiles).
template <class T>
Status cumprod_backward_lines(const PassContext& ctx, bool& taken) {
  const FusedLaunchArgs& a = *ctx.a;
  Geometry g = *a.geometry;
  g.exclusive = a.config.exclusive;
  const FusedOperand& x = a.args.opnd[kX];
  const FusedOperand& dy = a.args.opnd[kDy];
  const FusedOperand& dx = a.args.opnd[kOut];
  const auto lines_aligned = [&](const FusedOperand& o) {
    if (o.strides.axis != 1 || reinterpret_cast<uintptr_t>(o.data) % 16 != 0) return false;
    for (int d = 0; d < g.n_outer; ++d)
      if (g.outer_sizes[d] != 1 && (o.strides.outer[d] * static_cast<int64_t>(sizeof(T))) % 16 != 0) return false;
    return true;
  };
  if (!lines_aligned(x) || !lines_aligned(dy) || !lines_aligned(dx)) return Status::ok();
  const int64_t pitch = cumprod_temp_pitch(g.n);
  if (ctx.layout.temp + static_cast<size_t>(g.outer * pitch) * sizeof(float) > a.workspace_bytes ||
      reinterpret_cast<uintptr_t>(ctx.ws + ctx.layout.temp) % 16 != 0)  // a caller's workspace may be unaligned
    return Status::ok();
  static const int per_sm = std::min(blocks_per_sm(cumprod_bwd_suffix_lines_kernel<T>),
                                     blocks_per_sm(cumprod_bwd_apply_lines_kernel<T>));
  int64_t resident = 0;
  BARACUDA_TRY(resident_blocks(per_sm, resident));
  if (g.outer < kRowCarryMinWaves * resident || g.outer > INT_MAX) return Status::ok();
  taken = true;
  float* tmp = reinterpret_cast<float*>(ctx.ws + ctx.layout.temp);
  const auto lines = static_cast<unsigned>(g.outer);
  cumprod_bwd_suffix_lines_kernel<T><<<lines, kThreads, 0, a.stream>>>(
      static_cast<const T*>(x.data), static_cast<const T*>(dy.data), tmp, pitch, g, x.strides, dy.strides);
  BARACUDA_TRY(check_launch("cumprod_bwd_suffix_lines_kernel"));
  cumprod_bwd_apply_lines_kernel<T><<<lines, kThreads, 0, a.stream>>>(
      static_cast<const T*>(x.data), tmp, static_cast<T*>(const_cast<void*>(dx.data)), pitch, g, x.strides, dx.strides);
  return check_launch("cumprod_bwd_apply_lines_kernel");
}

// Whether the plan-time facts allow the block-per-line kernels (the launcher checks the rest).
bool cumprod_lines_may_apply(const FusedLaunchArgs& a) {
  const FusedConfig& c = a.config;
  const Geometry& g = *a.geometry;
  const DType t = a.args.opnd[kX].dtype;
  return c.kind == FusedKind::cumprod_backward && c.cumprod_lines && !c.reverse && !c.acc_f64 && !a.args.round_x &&
         g.width == 1 && g.inner == 1 && g.n >= kTile && g.outer > 1 &&
         (t == DType::f32 || t == DType::bf16 || t == DType::f16) && a.args.opnd[kDy].dtype == t &&
         a.args.opnd[kOut].dtype == t;
}

Status try_cumprod_backward_lines(const PassContext& ctx, bool& taken) {
  taken = false;
  if (!cumprod_lines_may_apply(*ctx.a)) return Status::ok();
  switch (ctx.a->args.opnd[kX].dtype) {
    case DType::f32: return cumprod_backward_lines<float>(ctx, taken);
    case DType::bf16: return cumprod_backward_lines<__nv_bfloat16>(ctx, taken);
    case DType::f16: return cumprod_backward_lines<__half>(ctx, taken);
    default: return Status::ok();
  }
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
  bool taken = false;
  BARACUDA_TRY(try_cumprod_backward_lines(ctx, taken));
  if (taken) return Status::ok();
  return a.config.acc_f64 ? run_kind<double>(ctx, a.args) : run_kind<float>(ctx, a.args);
}

}  // namespace baracuda::sc::cuda
