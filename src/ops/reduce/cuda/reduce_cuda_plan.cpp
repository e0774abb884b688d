// The CUDA reduction plan: at plan time it collapses the problem (rd_problem.hpp), classifies it
// for the row or the column engine (rd_engine.cuh), picks the tactic from the SM count and books
// the workspace; run() only binds pointers and launches.
//
// Backward runs a stats-mode forward pass (the group statistics its formula needs, as f64 pairs
// in the workspace) and then the broadcast elementwise kernel (rd_launch_backward.cu), or its
// rows fast path (rd_bwd_rows.cu) where x and dx collapse to [rows, contiguous group].
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/env_switch.hpp"
#include "core/pdl_switch.hpp"
#include "ops/reduce/cuda/rd_bwd_rows.hpp"
#include "ops/reduce/cuda/rd_problem.hpp"
#include "ops/reduce/reduce_impls.hpp"

namespace baracuda::rd {
namespace {

using namespace cuda;

using ForwardLauncher = Status (*)(const ForwardProblem&, const void*, const OutputSpec&, void*, const LaunchContext&);

ForwardLauncher launcher_for(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: case ReduceOp::mean: case ReduceOp::nansum: case ReduceOp::nanmean: return launch_sum;
    case ReduceOp::prod: return launch_prod;
    case ReduceOp::amax: case ReduceOp::amin: case ReduceOp::max: case ReduceOp::min:
    case ReduceOp::argmax: case ReduceOp::argmin: return launch_extreme;
    case ReduceOp::var: case ReduceOp::std: case ReduceOp::var_mean: return launch_welford;
    case ReduceOp::norm: return launch_norm;
    case ReduceOp::logsumexp: return launch_logsumexp;
    case ReduceOp::any: case ReduceOp::all: case ReduceOp::count_nonzero: return launch_logical;
  }
  return nullptr;
}

// Whether the backward formula needs group statistics (see rd_launch_backward.cu).
bool backward_needs_stats(const ReduceDescriptor& d) {
  switch (d.op) {
    case ReduceOp::sum: case ReduceOp::nansum: case ReduceOp::mean: return false;
    case ReduceOp::norm: return d.p != 0 && d.p != 1;
    default: return true;
  }
}

std::vector<int64_t> strides_of(const Operand& o) { return o.strides.empty() ? contiguous_strides(o.shape) : o.strides; }

// One dim of the collapsed problem: its size and its stride in up to three tensors.
struct Dim {
  int64_t size;
  int64_t stride[3];
};

// Merges logically adjacent dims that are contiguous with each other in every tensor.
std::vector<Dim> merge_dims(const std::vector<Dim>& dims) {
  std::vector<Dim> out;
  for (const Dim& d : dims) push_merged_dim(out, d);
  return out;
}

// The collapsed geometry and the tactic for the launch of `desc` (stats mode for backward).
ForwardProblem make_forward(const ReduceDescriptor& d, const ReduceSignature& sig, int sm_count, bool legacy) {
  ForwardProblem p;
  const Operand& x = d.input;
  const std::vector<int64_t> xs = strides_of(x);
  const bool stats = d.direction == Direction::backward;
  std::vector<int64_t> os[2];
  if (!stats)
    for (size_t k = 0; k < sig.outputs.size(); ++k) os[k] = strides_of(sig.outputs[k]);
  std::vector<Dim> kept, red;
  p.M = 1;
  p.N = 1;
  int kept_pos = 0;
  for (int i = 0; i < static_cast<int>(x.shape.size()); ++i) {
    const int64_t size = x.shape[i];
    if (std::binary_search(sig.axes.begin(), sig.axes.end(), i)) {
      p.N *= size;
      if (size != 1) red.push_back({size, {xs[i], 0, 0}});
      continue;
    }
    const int out_dim = d.keepdim ? i : kept_pos++;
    p.M *= size;
    if (size != 1)
      kept.push_back({size, {xs[i], os[0].empty() ? 0 : os[0][out_dim], os[1].empty() ? 0 : os[1][out_dim]}});
  }
  kept = merge_dims(kept);
  red = merge_dims(red);
  p.kept.n = static_cast<int>(kept.size());
  for (size_t i = 0; i < kept.size(); ++i) {
    p.kept.size[i] = kept[i].size;
    p.kept.x_stride[i] = kept[i].stride[0];
    p.kept.out_stride[0][i] = kept[i].stride[1];
    p.kept.out_stride[1][i] = kept[i].stride[2];
  }
  p.red.n = static_cast<int>(red.size());
  for (size_t i = 0; i < red.size(); ++i) {
    p.red.size[i] = red[i].size;
    p.red.x_stride[i] = red[i].stride[0];
  }
  p.x_dtype = x.dtype;
  p.acc = sig.accumulate;
  p.op = OpParams{d.op, d.correction, d.p, p.N, stats, legacy};

  // Tactic. Resident teams: kResidentBlocks blocks of 256 threads (8 warps each) per SM.
  const int64_t esize = static_cast<int64_t>(dtype_size(x.dtype));
  const int64_t vec = 16 / esize;
  // A group of contiguous runs long enough to fill a warp's four 16-byte loads per lane (2 KiB)
  // takes the row engine a warp per run (rd_engine.cuh, accumulate_runs); shorter runs stay with
  // the column engine.
  const bool runs = !legacy && p.N > 1 && p.red.n > 1 && p.red.x_stride[p.red.n - 1] == 1 &&
                    p.red.size[p.red.n - 1] * esize >= 2048;
  if (runs || (p.N > 1 && p.red.n == 1 && p.red.x_stride[0] == 1)) {
    p.engine = Engine::row;
    p.run = runs ? p.red.size[p.red.n - 1] : 0;
    // A warp per row for short rows, and also for long rows when there are enough of them to
    // give every resident warp about the same number (>= 90% of the warps busy in the last
    // round): a warp needs no __syncthreads per row, while a block per row stalls its 8 warps
    // twice per row in team_reduce ([16384, 16384] bf16 sum over dim 1 ran at 82% of copy that
    // way). Fewer rows than that keep the block per row (or split, below).
    const int64_t resident_warps = static_cast<int64_t>(sm_count) * kResidentBlocks * 8;
    const int64_t rounds = (p.M + resident_warps - 1) / resident_warps;
    const bool warps_balanced = p.M >= 2 * resident_warps && p.M * 10 >= rounds * resident_warps * 9;
    p.warp_per_row = p.N * esize <= 4096 || warps_balanced;
    const int64_t team = p.warp_per_row ? 32 : 256;
    const int64_t resident = static_cast<int64_t>(sm_count) * kResidentBlocks * (p.warp_per_row ? 8 : 1);
    int64_t splits = 1;
    if (p.M < resident) splits = std::max<int64_t>(1, std::min(resident / std::max<int64_t>(p.M, 1), p.N / (team * vec * 4)));
    p.chunk = (p.N + splits - 1) / splits;
    // Chunk starts stay 16-byte aligned within a row, or on run boundaries.
    const int64_t unit = p.run > 0 ? p.run : vec;
    p.chunk = (p.chunk + unit - 1) / unit * unit;
  } else {
    p.engine = Engine::column;
    // Vector columns: the last kept dim contiguous, a multiple of 8 long, every other stride a
    // multiple of 8 elements (so every thread's first column is aligned once x is).
    bool v = p.kept.n > 0 && p.kept.x_stride[p.kept.n - 1] == 1 && p.kept.size[p.kept.n - 1] % 8 == 0;
    for (int i = 0; i + 1 < p.kept.n; ++i) v &= p.kept.x_stride[i] % 8 == 0;
    for (int i = 0; i < p.red.n; ++i) v &= p.red.x_stride[i] % 8 == 0;
    p.vec = v ? 8 : 1;
    const int64_t col_blocks = std::max<int64_t>(1, (p.M / (v ? 8 : 1) + 31) / 32);
    const int64_t target = static_cast<int64_t>(sm_count) * kResidentBlocks;
    int64_t splits = std::max<int64_t>(1, std::min(target / col_blocks, p.N / (kColumnRows * 4)));
    splits = std::min<int64_t>(splits, 65535);
    p.chunk = std::max<int64_t>(1, (p.N + splits - 1) / splits);
  }
  p.splits = p.N == 0 ? 1 : static_cast<int>((p.N + p.chunk - 1) / p.chunk);
  if (p.N == 0) p.chunk = 0;
  return p;
}

BackwardProblem make_backward(const ReduceDescriptor& d, const ReduceSignature& sig) {
  BackwardProblem b;
  const Operand& x = d.input;
  const std::vector<int64_t> xs = strides_of(x), dxs = strides_of(sig.outputs[0]);
  b.ndy = static_cast<int>(sig.inputs.size()) - 1;
  std::vector<int64_t> gs[2];
  for (int g = 0; g < b.ndy; ++g) {
    gs[g] = strides_of(sig.inputs[g]);
    b.dy_dtype[g] = sig.inputs[g].dtype;
  }
  b.rank = static_cast<int>(x.shape.size());
  b.numel = 1;
  int kept_pos = 0;
  for (int i = 0; i < b.rank; ++i) {
    b.size[i] = x.shape[i];
    b.numel *= x.shape[i];
    b.reduced[i] = std::binary_search(sig.axes.begin(), sig.axes.end(), i);
    b.x_stride[i] = xs[i];
    b.dx_stride[i] = dxs[i];
    const int out_dim = d.keepdim ? i : (b.reduced[i] ? -1 : kept_pos++);
    for (int g = 0; g < b.ndy; ++g) b.dy_stride[g][i] = b.reduced[i] ? 0 : gs[g][out_dim];
  }
  b.x_dtype = x.dtype;
  int64_t n = 1;
  for (int a : sig.axes) n *= x.shape[a];
  b.op = OpParams{d.op, d.correction, d.p, n, true};
  return b;
}

std::string engine_name(const ForwardProblem& p) {
  if (p.engine == Engine::row) {
    const std::string kind = p.run > 0 ? "row-runs-vec16" : "row-vec16";
    return kind + (p.warp_per_row ? ", warp per row" : ", block per row");
  }
  return p.vec > 1 ? "column-vec, 32x8 threads" : "strided-int64, 32x8 threads";
}

// The forward fast paths of this plan, for the tactic string (the GPU tests assert on them):
// BARACUDA_REDUCE_FWD=legacy turns them all off (runs groups through the column engine, 1-byte
// logical inputs through the run-time dtype kernel, norms element by element).
std::string fast_path_name(const ReduceDescriptor& d, const ForwardProblem& p) {
  if (p.op.legacy) return "legacy";
  std::string s;
  auto add = [&s](const char* name) { s += (s.empty() ? "" : "+") + std::string(name); };
  const DType x = d.input.dtype;
  const bool one_byte = x == DType::boolean || x == DType::u8 || x == DType::i8;
  if ((d.op == ReduceOp::any || d.op == ReduceOp::all || d.op == ReduceOp::count_nonzero) && one_byte &&
      p.acc == DType::i64)
    add("byte-logical");
  if (d.op == ReduceOp::norm && !p.op.stats && (d.p == 1 || d.p == 2 || d.p == INFINITY)) add("packed-norm");
  if (p.run > 0) add("runs");
  return s.empty() ? "generic" : s;
}

class CudaReduce final : public Executable<ReduceFamily> {
 public:
  CudaReduce(ReduceDescriptor d, ReduceSignature sig, Device device, int sm_count)
      : d_(std::move(d)), sig_(std::move(sig)), device_(device), sm_count_(sm_count) {
    const bool bwd = d_.direction == Direction::backward;
    launch_ = launcher_for(d_.op);
    fwd_ = make_forward(d_, sig_, sm_count_, env_is("BARACUDA_REDUCE_FWD", "legacy"));
    run_stats_ = bwd && backward_needs_stats(d_);
    if (bwd) {
      bwd_ = make_backward(d_, sig_);
      rows_ = plan_backward_rows(bwd_, sm_count_);  // usable = false: the general kernel
    }
    WorkspaceLayout ws;
    if (fwd_.splits > 1 && (!bwd || run_stats_))
      partials_offset_ = ws.book(static_cast<size_t>(fwd_.M) * fwd_.splits * kMaxStateBytes);
    if (run_stats_) stats_offset_ = ws.book(static_cast<size_t>(fwd_.M) * 2 * sizeof(double));
    workspace_ = ws.total();
    pdl_ = pdl_from_env(device_);

    sku_.family = "reduce";
    sku_.op = std::string(reduce_op_info(d_.op).name) + (bwd ? ".backward" : "");
    for (size_t i = 0; i < sig_.inputs.size(); ++i) sku_.dtypes += (i ? "," : "") + std::string(dtype_name(sig_.inputs[i].dtype));
    sku_.dtypes += "->";
    for (size_t i = 0; i < sig_.outputs.size(); ++i) sku_.dtypes += (i ? "," : "") + std::string(dtype_name(sig_.outputs[i].dtype));
    sku_.layout = bwd ? "broadcast-elementwise" : engine_name(fwd_);
    sku_.arch = "sm_" + std::to_string(device_.sm);
    sku_.backend = "baracuda-cuda";
    sku_.impl = "cuda";
    sku_.tactic = (bwd ? (run_stats_ ? "stats: " + engine_name(fwd_) + ", " : std::string()) : std::string()) +
                  std::to_string(fwd_.splits) + " split(s), " + fast_path_name(d_, fwd_);
    if (bwd) sku_.tactic += "; dx: " + (rows_.usable ? backward_rows_tactic(rows_) : std::string("general f64"));
    if (pdl_) sku_.tactic += kPdlTactic;
    pg_.accumulator = sig_.accumulate;
    pg_.math = std::string(dtype_name(sig_.accumulate)) +
               " accumulation, fixed combination order (no atomics), one rounding to the output dtype" +
               (bwd ? (rows_.usable ? "; gradients in f32 (f64 for f64 inputs, prod and out-of-range rows)"
                                    : "; gradients in f64")
                    : "");
    pg_.deterministic = true;
    pg_.bit_stable = true;
  }

  Status can_implement(const ReduceArgs& args) const override { return check_args(d_, sig_, args, device_); }
  size_t workspace_size() const override { return workspace_; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream& stream, Workspace ws, const ReduceArgs& args) const override {
    const std::string where = "[reduce." + sku_.op + "] ";
    if (ws.bytes < workspace_)
      return workspace_too_small(where + "workspace of " + std::to_string(ws.bytes) + " bytes, the plan needs " +
                                 std::to_string(workspace_));
    if (workspace_ > 0 && ws.data == nullptr) return invalid_argument(where + "null workspace pointer");
    char* base = static_cast<char*>(ws.data);
    const LaunchContext ctx{stream.cuda_stream(), sm_count_, pdl_};
    const TensorRef& x = args.inputs[sig_.inputs.size() - 1];
    if (d_.direction == Direction::forward) {
      if (fwd_.M == 0) return Status::ok();
      OutputSpec out;
      out.count = static_cast<int>(sig_.outputs.size());
      for (int k = 0; k < out.count; ++k) {
        out.dtype[k] = sig_.outputs[k].dtype;
        out.data[k] = args.outputs[k].data;
      }
      return launch_(fwd_, x.data, out, base + partials_offset_, ctx);
    }
    if (bwd_.numel == 0) return Status::ok();
    const double* stats = nullptr;
    if (run_stats_) {
      OutputSpec out;
      out.stats = reinterpret_cast<double*>(base + stats_offset_);
      BARACUDA_TRY(launch_(fwd_, x.data, out, base + partials_offset_, ctx));
      stats = out.stats;
    }
    const void* dy[2] = {args.inputs[0].data, bwd_.ndy > 1 ? args.inputs[1].data : nullptr};
    if (rows_.usable && backward_rows_aligned(rows_, x.data, args.outputs[0].data))
      return launch_backward_rows(rows_, x.data, dy, stats, args.outputs[0].data, ctx);
    return launch_backward(bwd_, x.data, dy, stats, args.outputs[0].data, ctx);
  }

 private:
  ReduceDescriptor d_;
  ReduceSignature sig_;
  Device device_;
  int sm_count_;
  ForwardLauncher launch_ = nullptr;
  ForwardProblem fwd_;
  BackwardProblem bwd_;
  BackwardRows rows_;  // the backward's rows fast path (rd_bwd_rows.hpp)
  bool run_stats_ = false;
  bool pdl_ = false;  // every kernel a programmatic dependent launch (LaunchContext::pdl)
  size_t partials_offset_ = 0, stats_offset_ = 0, workspace_ = 0;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status cuda_supports(const ReduceDescriptor& desc, const Device& device) {
  if (!device.is_cuda()) return not_supported("needs a CUDA stream");
  if (device.sm < 80) return not_supported("needs sm_80 or newer, the device is sm_" + std::to_string(device.sm));
  if (desc.input.shape.size() > static_cast<size_t>(kMaxDims))
    return not_supported("rank " + std::to_string(desc.input.shape.size()) + " is above " + std::to_string(kMaxDims));
  return Status::ok();
}

Result<ExecPtr> cuda_make(const ReduceDescriptor& desc, const Device& device) {
  BARACUDA_TRY(cuda_supports(desc, device));
  BARACUDA_ASSIGN_OR_RETURN(ReduceSignature sig, infer_signature(desc));
  int sms = 0;
  if (cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device.ordinal); e != cudaSuccess)
    return backend_error(std::string("[reduce] cudaDeviceGetAttribute(MultiProcessorCount) failed: ") +
                         cudaGetErrorString(e));
  return ExecPtr(std::make_shared<CudaReduce>(desc, std::move(sig), device, sms));
}

}  // namespace baracuda::rd
