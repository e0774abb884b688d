// The CUDA implementation of layer_norm / rms_norm and their fused residual-add variants: the
// capability check (x-shaped operands must be [rows, cols] views with contiguous rows), the
// workspace booking of the backward's dweight/dbias partials, and the executable that binds the
// arguments and launches the row engine.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "core/env_switch.hpp"
#include "core/pdl_switch.hpp"
#include "ops/norm/cuda/norm_bwd_fast_launch.hpp"
#include "ops/norm/cuda/norm_fwd_fast_launch.hpp"
#include "ops/norm/cuda/norm_rows_launch.hpp"
#include "ops/norm/norm_impls.hpp"

namespace baracuda {
namespace {

std::string tag(const NormDescriptor& d) {
  return "[norm." + std::string(norm_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

bool is_row_op(NormOp op) {
  return op == NormOp::layer_norm || op == NormOp::rms_norm || op == NormOp::add_layer_norm ||
         op == NormOp::add_rms_norm;
}

// The row stride (elements) of an x-shaped layout whose last k dims are one dense block and
// whose leading dims collapse into a single stride; nullopt when it is not such a view.
std::optional<int64_t> row_stride(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides_in, size_t k) {
  const std::vector<int64_t> strides = strides_in.empty() ? contiguous_strides(shape) : strides_in;
  const size_t rank = shape.size();
  int64_t expect = 1;
  for (size_t i = rank; i-- > rank - k;) {
    if (shape[i] != 1 && strides[i] != expect) return std::nullopt;
    expect *= shape[i];
  }
  const int64_t cols = expect;
  std::optional<int64_t> stride;  // of the innermost non-trivial leading dim
  int64_t inner_rows = 1;
  for (size_t i = rank - k; i-- > 0;) {
    if (shape[i] == 1) continue;
    if (!stride) stride = strides[i];
    else if (strides[i] != *stride * inner_rows) return std::nullopt;
    inner_rows *= shape[i];
  }
  if (stride && *stride < cols && inner_rows > 1) return std::nullopt;  // rows would overlap
  return stride ? *stride : cols;
}

Status check_cuda_device(const Device& device) {
  if (!device.is_cuda()) return not_supported("needs a CUDA stream");
  if (device.sm < 80) return not_supported("needs sm_80 or newer, the device is sm_" + std::to_string(device.sm));
  return Status::ok();
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Which backward kernels the plan may pick: the rows engine (default), the rows engine with
// dweight/dbias always by the column pass ("column_pass"), or the legacy column-sliced kernels
// ("legacy"). Environment BARACUDA_NORM_BWD_ENGINE, read when the plan is made. The rows engine
// became the default after its sweep (GpuNormBackwardSweep.*) passed the GPU suite and
// compute-sanitizer on the H200 (main @ c62d44f); it ran 1.3-3.1x faster than the legacy kernels
// on the benchmark shapes (docs/perf/rows.md).
enum class BwdEngine { rows, column_pass, legacy };

BwdEngine bwd_engine_from_env() {
  if (env_is("BARACUDA_NORM_BWD_ENGINE", "legacy")) return BwdEngine::legacy;
  if (env_is("BARACUDA_NORM_BWD_ENGINE", "column_pass")) return BwdEngine::column_pass;
  return BwdEngine::rows;
}

// Which forward kernels the plan may pick: the rows engine (default), the rows engine without its
// staged kernel for 16-bit rows of 16385..32768 elements ("rows_unstaged": those rows take the
// legacy kernels; an A/B knob for the staging), or the legacy kernels ("legacy"). Environment
// BARACUDA_NORM_FWD_ENGINE, read when the plan is made. The engine became the default after it
// passed the GPU suite and compute-sanitizer on the H200 (main @ 1fa5702) and ran faster than the
// legacy kernels on the 6 layer_norm / rms_norm benchmark shapes (1-13%) and within 2.5% on the
// 3 add_rms_norm ones (docs/perf/rows.md).
enum class FwdEngine { rows, rows_unstaged, legacy };

FwdEngine fwd_engine_from_env() {
  if (env_is("BARACUDA_NORM_FWD_ENGINE", "legacy")) return FwdEngine::legacy;
  if (env_is("BARACUDA_NORM_FWD_ENGINE", "rows_unstaged")) return FwdEngine::rows_unstaged;
  return FwdEngine::rows;
}

// The register-resident rows kernels (forward, and the backward at <= 2 vectors per thread) load
// each next row while the current one is reduced; BARACUDA_NORM_ROW_PREFETCH=0, read when the plan
// is made, loads every row only when its turn comes (A/B).
bool row_prefetch_from_env() {
  return env_switch_on("BARACUDA_NORM_ROW_PREFETCH");
}

// How many rows ahead the cluster kernels' clusters of four CTAs prefetch into L2
// (BARACUDA_NORM_WIDE_PREFETCH_ROWS, 1..4, read when the plan is made, sets both directions).
// Default: 2 forward, 1 backward (H200, c8c8b1d, bf16 4096x65536, 3 interleaved rounds, ms, for
// 1 / 2 / 3 rows: layer_norm 0.4597 / 0.4010 / 0.4213, rms_norm 0.3871 / 0.3477 / 0.3766; their
// backward with parameter gradients 0.5166 / 0.5418 / 0.6279 and 0.4841 / 0.5157 / 0.6203).
int wide_prefetch_rows_from_env(Direction dir) {
  const int64_t fallback = dir == Direction::forward ? 2 : 1;
  return static_cast<int>(std::clamp<int64_t>(env_count("BARACUDA_NORM_WIDE_PREFETCH_ROWS", fallback), 1, 4));
}

// Where the rows engine keeps the fused dweight/dbias sums (norm::cuda::BwdSums), environment
// BARACUDA_NORM_BWD_SUMS read when the plan is made. Unset: shared memory wherever it fits, which
// leaves the dx kernel its registers for loads (H200, dae5e11, bf16, against register sums:
// rms_norm dweight 65536x1024 0.1279 -> 0.1133 ms, 32768x4096 0.2492 -> 0.2230; layer_norm
// dweight/dbias 0.1299 -> 0.1272, 0.2572 -> 0.2488) and, beyond the register sums' 8192 columns,
// replaces the column pass that reads x and dy again (151c784: rms_norm dweight 4096x32768
// 0.3417 -> 0.2926 ms). Rows one CTA holds only at 4 vectors per thread (16-bit > 16384, f32 >
// 8192 columns) go, on sm_90, to a cluster of two CTAs per row (kernels/norm_bwd_rows_cluster.cuh;
// H200, 0b87af5, bf16 4096x32768, same call: layer_norm dweight/dbias 0.3467 -> 0.2863 ms, rms_norm
// dweight 0.2945 -> 0.2504). A/B: "shared" (one CTA per row everywhere: the column pass for
// layer_norm's two sums at 32768 columns), "registers" (register sums, the column pass beyond 8192
// columns), "wide" (register sums, shared memory beyond).
norm::cuda::BwdSums bwd_sums_from_env(BwdEngine engine) {
  using norm::cuda::BwdSums;
  if (engine == BwdEngine::column_pass) return BwdSums::column_pass;
  if (env_is("BARACUDA_NORM_BWD_SUMS", "registers")) return BwdSums::registers;
  if (env_is("BARACUDA_NORM_BWD_SUMS", "wide")) return BwdSums::wide_shared;
  if (env_is("BARACUDA_NORM_BWD_SUMS", "shared")) return BwdSums::shared;
  return BwdSums::cluster;
}

// 16-bit rows held packed at 4 vectors per thread, so fewer warps share a row (one warp for 1024
// columns: no barrier between warps per row). On the H200 (dae5e11, bf16) that helped the residual
// ops on one-warp rows (add_rms_norm 65536x1024 0.1432 -> 0.1389 ms) and slowed the others
// (layer_norm 65536x1024 0.0731 -> 0.0805, 32768x4096 0.1418 -> 0.1572), so by default only
// residual rows of at most one warp (1024 16-bit values) are packed. BARACUDA_NORM_FWD_PACKED
// (read when the plan is made): "1" packs every 16-bit row up to 4096 values, "0" none.
bool fwd_packed(bool residual, int64_t cols, int vec) {
  if (env_is("BARACUDA_NORM_FWD_PACKED", "1")) return true;
  if (env_is("BARACUDA_NORM_FWD_PACKED", "0")) return false;
  return residual && cols <= static_cast<int64_t>(32) * vec * norm::cuda::kFwdPackedItems16;
}

// Wide rows (16-bit 16385 .. 32768, f32 8193 .. 16384 values) split over a cluster of two CTAs on
// sm_90 (kernels/norm_fwd_rows_cluster.cuh). H200, 0b87af5, bf16 4096x32768, same call: faster for
// the residual ops (add_rms_norm 0.4143 -> 0.3113 ms against the legacy kernel), slower for the
// plain ones (layer_norm 0.1491 -> 0.2220, rms_norm 0.1400 -> 0.2032 against the staged rows
// kernel), so by default only residual rows take it. BARACUDA_NORM_FWD_CLUSTER (read when the plan
// is made): "1" every wide row, "0" none.
bool fwd_cluster(bool residual) {
  if (env_is("BARACUDA_NORM_FWD_CLUSTER", "1")) return true;
  if (env_is("BARACUDA_NORM_FWD_CLUSTER", "0")) return false;
  return residual;
}

// The register rows kernel (not the staged or cluster ones) launched as softmax's rows engine is,
// one block per row group up to 8 waves of resident blocks, instead of one persistent wave. Why:
// at 65536x1024 bf16 the persistent 528 blocks x 8 warps give each warp 15.5 rows, so a quarter of
// the warps run one row more than the rest. The kernel strides by its grid, so any grid is
// correct; each row's arithmetic is the same, so the output is bitwise the same. H200, b5d1a5e,
// same call, persistent -> waves (ms): layer_norm bf16 65536x1024 0.0723 -> 0.0692, 32768x4096
// 0.1410 -> 0.1377; rms_norm bf16 0.0707 -> 0.0675, 0.1373 -> 0.1339; add_rms_norm 0.1398 -> 0.1344;
// f16 layer_norm 0.1436 -> 0.1399; but f32 layer_norm 32768x4096 0.2634 -> 0.2688 (rms_norm f32
// 0.2702 -> 0.2648). So by default 16-bit inputs take the waves and f32 keeps the persistent grid.
// BARACUDA_NORM_FWD_WAVES (read when the plan is made): "1" every dtype, "0" none.
bool fwd_waves(DType input) {
  if (env_is("BARACUDA_NORM_FWD_WAVES", "1")) return true;
  if (env_is("BARACUDA_NORM_FWD_WAVES", "0")) return false;
  return input == DType::f16 || input == DType::bf16;
}
constexpr int64_t kFwdWaves = 8;

// The staged kernel's options (16-bit rows of 16385..32768 without a residual; kNfStaged* in
// kernels/norm_rows_params.hpp). H200, 7bc01c7, tools/ab-interleaved (5 rounds, medians; spreads
// under 1%), 4096x32768 bf16 with bf16 weight (and bias), ms:
//               default   merged   params   both
//   layer_norm   0.1482   0.1573   0.1510   0.1401
//   rms_norm     0.1384   0.1381   0.1468   0.1471
// Neither option helps alone, and holding the weight in registers slows rms_norm; together they
// take layer_norm from 3622 to 3832 GB/s. So layer_norm with a 16-bit weight takes both, everything
// else neither (f32 parameters cannot be held, and "merged" alone is slower). The cause of the
// interaction is not known (not profiled). BARACUDA_NORM_FWD_STAGED (read when the plan is made)
// = "none", "merged", "params" or "both" overrides it.
// Only the options that apply are kept (so the tactic says what runs): "merged" for layer_norm,
// "params" for a 16-bit weight.
int fwd_staged_opt(NormOp op, bool weight, DType param_dtype) {
  constexpr int merged = norm::cuda::kNfStagedMergedStats, params = norm::cuda::kNfStagedParamsInRegs;
  const bool ln = op == NormOp::layer_norm, held = weight && dtype_size(param_dtype) == 2;
  int bits = ln && held ? merged | params : 0;
  if (env_is("BARACUDA_NORM_FWD_STAGED", "none")) bits = 0;
  if (env_is("BARACUDA_NORM_FWD_STAGED", "merged")) bits = merged;
  if (env_is("BARACUDA_NORM_FWD_STAGED", "params")) bits = params;
  if (env_is("BARACUDA_NORM_FWD_STAGED", "both")) bits = merged | params;
  return (ln ? bits : bits & ~merged) & (held ? ~0 : ~params);
}

// The wave grid for `rows` rows (the register rows kernel only; others keep their grid).
void use_wave_grid(norm::cuda::FwdFastConfig& c, int64_t rows, int sm_count) {
  if (!c.group_warps || c.cluster || c.stages > 0) return;
  const int64_t groups = c.threads / (c.group_warps * 32);
  c.grid = std::max<int64_t>(1, std::min((rows + groups - 1) / groups,
                                          static_cast<int64_t>(sm_count) * c.blocks_per_sm * kFwdWaves));
  c.waves = true;
}

std::string fwd_fast_tactic(const norm::cuda::FwdFastConfig& c, int vec, bool prefetch, int wide_ahead) {
  const std::string ahead = c.cluster_ctas == 4 && wide_ahead > 1 ? "the row " + std::to_string(wide_ahead) + " ahead"
                                                                  : "next row";
  std::string t = "rows engine: ";
  if (c.cluster)
    t += "each row split over a cluster of " + std::to_string(c.cluster_ctas) + " CTAs (sm_90), " + std::to_string(c.items) +
         " x 16-byte vectors per thread held as f32" + (prefetch ? ", " + ahead + " prefetched into L2" : "") +
         (c.cluster_ctas == 2 ? ", halves'" : ", parts'") + std::string(" statistics exchanged through distributed shared memory") +
         (c.cluster_mailbox ? " (pushed, mbarrier-completed)" : " (behind a cluster barrier)");
  else if (c.stages > 0)
    t += "staged, " + std::to_string(c.group_warps) + " warps/row, " + std::to_string(c.items) +
         " x 16-byte vectors per thread re-read from shared memory, " + std::to_string(c.stages) +
         "-stage cp.async prefetch (" + std::to_string(c.smem / 1024) + " KB)" +
         ((c.staged_opt & norm::cuda::kNfStagedMergedStats) ? ", layer norm statistics from one reduction" : "") +
         ((c.staged_opt & norm::cuda::kNfStagedParamsInRegs) ? ", 16-bit weight and bias held in registers" : "");
  else
    t += std::to_string(c.group_warps) + " warp(s)/row, " + std::to_string(c.items) +
         " x 16-byte vectors per thread held as " + (c.items * vec > 16 ? "loaded" : "f32") +
         (prefetch ? ", next row prefetched into L2" : "");
  return t + ", " + std::to_string(c.grid) +
         (c.waves ? " blocks (up to 8 waves of blocks; BARACUDA_NORM_FWD_WAVES=0: one persistent wave) of " : " persistent blocks of ") +
         std::to_string(c.threads) + "; legacy kernels for unaligned pointers";
}

std::string fast_tactic(const norm::cuda::BwdFastConfig& c, bool prefetch) {
  // The cluster kernel: 2 or 4 CTAs of group_warps warps per row, each a part; prefetch: its own rule.
  const bool prefetched = c.cluster ? prefetch : prefetch && c.items == 1 && c.group_warps * 32 == c.threads;
  const std::string ctas = std::to_string(c.cluster_ctas);
  std::string t = "rows engine: " + (c.cluster ? ctas + " x " : std::string()) + std::to_string(c.group_warps) +
                  " warp(s)/row, " + std::to_string(c.items) + " x 16-byte vectors of x and dy per thread held as loaded, " +
                  (prefetched ? "next row prefetched into L2, " : "") + std::to_string(c.grid) + " persistent blocks of " +
                  std::to_string(c.threads);
  if (c.cluster)
    t += ", each row split over a cluster of " + ctas + " CTAs (sm_90), " +
         (c.cluster_ctas == 2 ? "halves'" : "parts'") + " sums exchanged through distributed shared memory" +
         std::string(c.cluster_mailbox ? " (pushed, mbarrier-completed)" : " (behind a cluster barrier)") +
         (c.reread ? ", per-cluster dweight partials summed in registers (x and dy re-read from L1)"
                   : ", per-cluster dweight/dbias partials summed in shared memory" +
                         std::string(c.db_in_registers ? " (dbias in registers)" : "")) +
         (c.weight_form == 1   ? ", the weight's half row copied into shared memory"
          : c.weight_form == 2 ? ", the weight read through a half-row base pointer"
          : c.cluster_mailbox && c.cluster_sums() >= 3 ? ", the weight read at its column"
                               : "");
  else if (c.shared_sums) t += ", per-block dweight/dbias partials summed in shared memory";
  else if (c.fused_params()) t += ", per-block dweight/dbias partials";
  else if (c.params) t += ", dweight/dbias by a column pass (" + std::to_string(c.col_chunks) + " row chunks)";
  if (c.params) t += ", fixed-order sum";
  return t + "; legacy kernel for unaligned pointers";
}

class CudaRowsNorm final : public Executable<NormFamily> {
 public:
  CudaRowsNorm(NormDescriptor d, NormSignature sig, Device device, int sm_count, BwdEngine engine, FwdEngine fwd_engine)
      : d_(std::move(d)), sig_(std::move(sig)), device_(device), sm_count_(sm_count) {
    sku_.family = "norm";
    sku_.op = std::string(norm_op_info(d_.op).name) + (d_.direction == Direction::backward ? ".backward" : "");
    sku_.dtypes = norm_sku_dtypes(sig_);
    sku_.layout = "rows";
    sku_.arch = "sm_" + std::to_string(device.sm);
    sku_.backend = "baracuda-cuda";
    sku_.impl = "cuda_rows";
    sku_.tactic = d_.direction == Direction::forward
                      ? "warp/row <= 4 packs per lane, CTA/row with the row in registers, else streaming; 16-byte packs"
                      : "legacy: CTA per row chunk and column slice, dweight/dbias partials in workspace, fixed-order sum";
    pg_.math = std::string(acc_is_f64() ? "f64" : "f32") +
               " accumulation, two-pass variance, fixed-order reductions, one rounding to the output dtype";
    pg_.accumulator = acc_is_f64() ? DType::f64 : DType::f32;
    if (d_.direction == Direction::forward && fwd_engine != FwdEngine::legacy) {
      const bool residual = d_.op == NormOp::add_layer_norm || d_.op == NormOp::add_rms_norm;
      fwd_ = norm::cuda::fwd_fast_config(d_.input.dtype, sig_.param_dtype, sig_.outer, sig_.channels, residual,
                                         sm_count_, device.ordinal, fwd_engine == FwdEngine::rows,
                                         fwd_packed(residual, sig_.channels, norm::cuda::pack_elems(d_.input.dtype)),
                                         fwd_cluster(residual), fwd_staged_opt(d_.op, d_.weight, sig_.param_dtype));
      if (fwd_waves(d_.input.dtype)) use_wave_grid(fwd_, sig_.outer, sm_count_);
      if (fwd_.group_warps)
        sku_.tactic = fwd_fast_tactic(fwd_, norm::cuda::pack_elems(d_.input.dtype), row_prefetch_ && !residual,
                                      wide_prefetch_rows_);
    }
    if (d_.direction == Direction::backward) {
      want_dw_ = sig_.output_index(NormRole::dweight) >= 0;
      want_db_ = sig_.output_index(NormRole::dbias) >= 0;
      // The rows engine: layer_norm / rms_norm (no dsum input), f32/f16/bf16, rows it holds.
      if (engine != BwdEngine::legacy && (d_.op == NormOp::layer_norm || d_.op == NormOp::rms_norm))
        fast_ = norm::cuda::bwd_fast_config(d_.input.dtype, sig_.param_dtype, sig_.outer, sig_.channels,
                                            (want_dw_ ? 1 : 0) + (want_db_ ? 1 : 0), want_dw_, sm_count_,
                                            bwd_sums_from_env(engine));
      // With the rows engine the legacy fallback (pointers not 16-byte aligned at run time) uses
      // the engine's partial rows, so the workspace is booked once for either.
      chunks_ = fast_.group_warps && fast_.params
                    ? fast_.partial_rows()
                    : norm::cuda::bwd_row_chunks(d_.input.dtype, sig_.outer, sig_.channels, sm_count_);
      if (fast_.group_warps) sku_.tactic = fast_tactic(fast_, row_prefetch_);
      const size_t one = round_up(static_cast<size_t>(chunks_ * sig_.channels) * acc_size());
      workspace_ = (want_dw_ ? one : 0) + (want_db_ ? one : 0);
    }
    fwd_.pdl = fast_.pdl = pdl_;
    if (pdl_) sku_.tactic += kPdlTactic;
    if (pdl_prefetch_ > 0 && d_.direction == Direction::forward && fwd_.group_warps && fwd_.stages > 0)
      sku_.tactic += ", first rows prefetched before the wait";
  }

  Status can_implement(const NormArgs& args) const override {
    return check_norm_args(tag(d_), sig_, args, device_, 1);
  }
  size_t workspace_size() const override { return workspace_; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream& stream, Workspace ws, const NormArgs& args) const override {
    auto st = static_cast<cudaStream_t>(stream.cuda_stream());
    const size_t k = d_.normalized_shape.size();
    const int vec = norm::cuda::pack_elems(d_.input.dtype);
    bool vec_ok = sig_.channels % vec == 0;
    auto rs = [&](const auto& t) {  // row stride of a bound x-shaped tensor (validated at plan time)
      std::vector<int64_t> shape(t.shape().begin(), t.shape().end()), strides(t.layout.stride().begin(), t.layout.stride().end());
      const int64_t r = row_stride(shape, strides, k).value_or(sig_.channels);
      vec_ok = vec_ok && aligned16(t.data) && (sig_.outer <= 1 || r % vec == 0);
      return r;
    };
    auto in = [&](NormRole r) -> const TensorRef* { int i = sig_.input_index(r); return i < 0 ? nullptr : &args.inputs[i]; };
    auto out = [&](NormRole r) -> const TensorMut* { int i = sig_.output_index(r); return i < 0 ? nullptr : &args.outputs[i]; };
    auto param_ok = [&](const void* p) { vec_ok = vec_ok && (p == nullptr || aligned16(p)); };

    if (d_.direction == Direction::forward) {
      norm::cuda::FwdParams p{};
      p.x = in(NormRole::x)->data;
      p.x_stride = rs(*in(NormRole::x));
      if (const TensorRef* r = in(NormRole::residual)) { p.residual = r->data; p.res_stride = rs(*r); }
      if (const TensorRef* w = in(NormRole::weight)) p.weight = w->data;
      if (const TensorRef* b = in(NormRole::bias)) p.bias = b->data;
      p.y = out(NormRole::y)->data;
      p.y_stride = rs(*out(NormRole::y));
      if (const TensorMut* s = out(NormRole::sum)) { p.sum = s->data; p.sum_stride = rs(*s); }
      if (const TensorMut* m = out(NormRole::mean)) p.mean = m->data;
      if (const TensorMut* r = out(NormRole::rstd)) p.rstd = r->data;
      param_ok(p.weight);
      param_ok(p.bias);
      p.rows = sig_.outer;
      p.cols = sig_.channels;
      p.eps = sig_.eps;
      p.rms = d_.op == NormOp::rms_norm || d_.op == NormOp::add_rms_norm;
      p.row_prefetch = row_prefetch_;
      p.wide_prefetch_rows = wide_prefetch_rows_;
      p.pdl_prefetch = pdl_prefetch_;
      if (fwd_.group_warps && vec_ok) return norm::cuda::launch_fwd_fast(d_.input.dtype, sig_.param_dtype, fwd_, p, st);
      return norm::cuda::launch_fwd(d_.input.dtype, sig_.param_dtype, p, vec_ok, sm_count_, st, pdl_);
    }
    if (ws.bytes < workspace_ || (workspace_ > 0 && ws.data == nullptr))
      return workspace_too_small(tag(d_) + "needs " + std::to_string(workspace_) + " bytes of workspace, got " +
                                 std::to_string(ws.bytes));
    norm::cuda::BwdParams p{};
    p.dy = in(NormRole::dy)->data;
    p.dy_stride = rs(*in(NormRole::dy));
    if (const TensorRef* s = in(NormRole::dsum)) { p.dsum = s->data; p.dsum_stride = rs(*s); }
    p.x = in(NormRole::x)->data;
    p.x_stride = rs(*in(NormRole::x));
    if (const TensorRef* m = in(NormRole::mean)) p.mean = m->data;
    p.rstd = in(NormRole::rstd)->data;
    if (const TensorRef* w = in(NormRole::weight)) p.weight = w->data;
    param_ok(p.weight);
    p.dx = out(NormRole::dx)->data;
    p.dx_stride = rs(*out(NormRole::dx));
    char* base = static_cast<char*>(ws.data);
    const size_t one = round_up(static_cast<size_t>(chunks_ * sig_.channels) * acc_size());
    if (want_dw_) { p.partial_dw = base; base += one; }
    if (want_db_) p.partial_db = base;
    p.rows = sig_.outer;
    p.cols = sig_.channels;
    p.inv_cols = 1.f / static_cast<float>(p.cols);
    p.rms = d_.op == NormOp::rms_norm || d_.op == NormOp::add_rms_norm;
    p.row_prefetch = row_prefetch_;
    p.wide_prefetch_rows = wide_prefetch_rows_;
    void* dw = want_dw_ ? out(NormRole::dweight)->data : nullptr;
    void* db = want_db_ ? out(NormRole::dbias)->data : nullptr;
    if (fast_.group_warps && vec_ok && (!fast_.params || aligned16(ws.data)))
      return norm::cuda::launch_bwd_fast(d_.input.dtype, sig_.param_dtype, fast_, p, dw, db, st);
    return norm::cuda::launch_bwd(d_.input.dtype, sig_.param_dtype, p, dw, db, vec_ok, chunks_, st, pdl_);
  }

 private:
  bool acc_is_f64() const { return d_.input.dtype == DType::f64; }
  size_t acc_size() const { return acc_is_f64() ? 8 : 4; }
  static size_t round_up(size_t n) { return (n + 255) / 256 * 256; }

  NormDescriptor d_;
  NormSignature sig_;
  Device device_;
  int sm_count_;
  bool row_prefetch_ = row_prefetch_from_env();
  int wide_prefetch_rows_ = wide_prefetch_rows_from_env(d_.direction);
  // Every kernel, forward and backward, a programmatic dependent launch (BARACUDA_PDL, read when
  // the plan is made; core/pdl_switch.hpp).
  bool pdl_ = pdl_from_env(device_);
  int pdl_prefetch_ = pdl_prefetch_from_env(device_);  // first rows into L2 before the wait (>= 1: staged forward)
  norm::cuda::BwdFastConfig fast_;  // group_warps == 0: the legacy backward kernels
  norm::cuda::FwdFastConfig fwd_;   // group_warps == 0: the legacy forward kernels
  int64_t chunks_ = 0;
  bool want_dw_ = false, want_db_ = false;
  size_t workspace_ = 0;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status norm_cuda_rows_supports(const NormDescriptor& desc, const Device& device) {
  BARACUDA_TRY(check_cuda_device(device));
  if (!is_row_op(desc.op))
    return not_supported("the row engine serves layer_norm, rms_norm and their add_ variants, not " +
                         std::string(norm_op_info(desc.op).name));
  BARACUDA_ASSIGN_OR_RETURN(NormSignature sig, infer_signature(desc));
  const size_t k = desc.normalized_shape.size();
  auto check = [&](const std::vector<Operand>& ops, const std::vector<NormRole>& roles) -> Status {
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].shape != desc.input.shape) continue;  // params and stats are dense by signature
      if (ops[i].dtype != desc.input.dtype) continue;
      if (!row_stride(ops[i].shape, ops[i].strides, k))
        return not_supported(std::string(norm_role_name(roles[i])) + " " +
                             shape_to_string(ops[i].shape) + " is not a view of contiguous rows (strides " +
                             shape_to_string(ops[i].strides) + ")");
    }
    return Status::ok();
  };
  BARACUDA_TRY(check(sig.inputs, sig.input_roles));
  return check(sig.outputs, sig.output_roles);
}

Result<NormExecPtr> norm_cuda_rows_make(const NormDescriptor& desc, const Device& device) {
  BARACUDA_TRY(norm_cuda_rows_supports(desc, device));
  BARACUDA_ASSIGN_OR_RETURN(NormSignature sig, infer_signature(desc));
  int sms = 0;
  if (cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device.ordinal); e != cudaSuccess)
    return backend_error(std::string("[norm] cudaDeviceGetAttribute(MultiProcessorCount) failed: ") +
                         cudaGetErrorString(e));
  return NormExecPtr(std::make_shared<CudaRowsNorm>(desc, std::move(sig), device, sms, bwd_engine_from_env(),
                                                        fwd_engine_from_env()));
}

}  // namespace baracuda
