// The CUDA implementation of the scan family: capability checks, the tile geometry (chosen from
// the shape at plan time, so workspace_size() is exact), and the executable that clears the
// look-back flags and enqueues the single-pass kernel.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "core/env_switch.hpp"
#include "core/pdl_switch.hpp"
#include "ops/scan/cuda/scan_launchers.hpp"
#include "ops/scan/scan_impls.hpp"

namespace baracuda::sc {
namespace cuda {

Status check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return Status::ok();
  return backend_error(std::string("[scan] launch of ") + what + " failed: " + cudaGetErrorName(e) + " (" +
                       cudaGetErrorString(e) + ")");
}

}  // namespace cuda

namespace {

Status check_cuda_device(const Device& device) {
  if (!device.is_cuda()) return not_supported("needs a CUDA stream");
  if (device.sm < 80) return not_supported("needs sm_80 or newer, the device is sm_" + std::to_string(device.sm));
  return Status::ok();
}

// The kernel that computes a descriptor: a launcher of the one-input engine (scan_engine.cuh), or
// the fused engine (scan_fused_engine.cuh) for backward passes and dtype= conversions.
struct Choice {
  cuda::Launcher launcher = nullptr;
  bool fused = false;
  cuda::FusedConfig config;
};

// cumprod's backward of many contiguous aligned f32/bf16/f16 lines: two block-per-line kernels
// (scan_cumprod_backward_lines.cuh) instead of the fused look-back passes (16384 x 16384 f32: 7.50 ms
// on the H200, PyTorch 4.53). BARACUDA_SCAN_CUMPROD_BWD=legacy (read when the plan is made) keeps
// the look-back passes (A/B switch).
bool cumprod_lines_enabled() {
  return !env_is("BARACUDA_SCAN_CUMPROD_BWD", "legacy");
}

Result<Choice> pick_kernel(const ScanDescriptor& d, const ScanSignature& sig) {
  const DType x = d.input.dtype;
  const DType out = sig.outputs[0].dtype;
  Choice ch;
  ch.config.exclusive = d.exclusive;
  ch.config.reverse = d.reverse;
  if (d.direction == Direction::backward) {
    const DType dy = sig.inputs[0].dtype;
    if (d.op == ScanOp::cumsum && dy == x) {  // the opposite-direction cumsum of dy, vectorized engine
      ch.launcher = cuda::find_sum_launcher(x, x);
      if (ch.launcher) return ch;
    }
    ch.fused = true;
    ch.config.acc_f64 = x == DType::f64 || dy == DType::f64;
    switch (d.op) {
      case ScanOp::cumsum: ch.config.kind = cuda::FusedKind::cumsum_backward; break;
      case ScanOp::cumprod:
        ch.config.kind = cuda::FusedKind::cumprod_backward;
        ch.config.cumprod_lines = cumprod_lines_enabled();
        break;
      case ScanOp::cummax: ch.config.kind = cuda::FusedKind::cummax_backward; break;
      case ScanOp::cummin: ch.config.kind = cuda::FusedKind::cummin_backward; break;
      case ScanOp::logcumsumexp: ch.config.kind = cuda::FusedKind::logcumsumexp_backward; break;
    }
    return ch;
  }
  switch (d.op) {
    case ScanOp::cumsum: ch.launcher = cuda::find_sum_launcher(x, out); break;
    case ScanOp::cumprod: ch.launcher = cuda::find_prod_launcher(x, out); break;
    case ScanOp::cummax: ch.launcher = cuda::find_maxmin_launcher(true, x); break;
    case ScanOp::cummin: ch.launcher = cuda::find_maxmin_launcher(false, x); break;
    case ScanOp::logcumsumexp: ch.launcher = cuda::find_logcumsumexp_launcher(x); break;
  }
  if (ch.launcher) return ch;
  if (d.op == ScanOp::cumsum || d.op == ScanOp::cumprod) {  // dtype=: convert in the fused kernel
    ch.fused = true;
    ch.config.kind = d.op == ScanOp::cumsum ? cuda::FusedKind::convert_cumsum : cuda::FusedKind::convert_cumprod;
    ch.config.int_math = sig.accumulate == DType::i64;
    ch.config.acc_f64 = sig.accumulate == DType::f64;
    return ch;
  }
  return not_supported("no CUDA scan kernel for " + std::string(dtype_name(x)) + " -> " + std::string(dtype_name(out)));
}

// BARACUDA_SCAN_LINE_KERNEL=0 keeps scan_lookback_kernel for every look-back launch (A/B timing of
// the line kernel, see docs/perf/scan.md).
bool line_kernel_enabled() {
  return env_switch_on("BARACUDA_SCAN_LINE_KERNEL");
}

// One long contiguous line (>= 2^20 elements, 16-byte aligned) takes the chunked reduce-then-scan
// kernels (scan_chunked_engine.cuh): on the H200 (main @ 53b7e22) the f32 2^28 line ran in 0.820 ms
// against 1.595 ms for the look-back kernel, and ScanGpu.ChunkedLongLines passed.
// BARACUDA_SCAN_CHUNKED=0 (read when the plan is made) keeps the look-back kernel (A/B switch).
// Many contiguous lines, each at least a tile (row_carry_applies): a block per line carrying the
// prefix tile to tile (scan_row_carry_kernel). BARACUDA_SCAN_ROW_CARRY=0 (read when the plan is
// made) keeps the look-back line kernel (A/B switch).
bool row_carry_enabled() {
  return env_switch_on("BARACUDA_SCAN_ROW_CARRY");
}

// Reverse scans (reverse=true, cumsum's backward) of the same lines: the row-carry kernel walked
// from the end (scan_row_carry_reverse_kernel, scan_reverse_engine.cuh); they took the classic
// look-back kernel before (16384 x 16384 f32 reverse cumsum: 3.12 ms on the H200, the forward
// 0.53). BARACUDA_SCAN_REVERSE_LINES=legacy (read when the plan is made) keeps the look-back kernel.
bool row_carry_reverse_enabled() {
  return !env_is("BARACUDA_SCAN_REVERSE_LINES", "legacy");
}

// cummax/cummin over the same lines, values and int64 indices (scan_row_carry_indices_kernel,
// scan_indices_engine.cuh); they took the classic look-back kernel before (16384 x 16384 f32:
// 4.93 ms on the H200). BARACUDA_SCAN_INDEX_LINES=legacy (read when the plan is made) keeps it.
bool row_carry_indices_enabled() {
  return !env_is("BARACUDA_SCAN_INDEX_LINES", "legacy");
}

bool chunked_enabled() {
  return env_switch_on("BARACUDA_SCAN_CHUNKED");
}

// The chunked scan as one kernel with a look-back over chunk folds (scan_chunk_onchip_kernel: each
// chunk held in shared memory, so HBM sees one read and one write). H200, same call (51184af + this
// kernel), cumsum f32 over one 2^28 line: 0.6856 ms at 4 tiles a chunk against 0.7727 for the
// earlier one-kernel form (fold, look-back, rescan from global memory at 8 tiles; removed).
// BARACUDA_SCAN_CHUNK_LOOKBACK=0, read when the plan is made, keeps the two kernels (A/B).
bool chunk_lookback_enabled() {
  return env_switch_on("BARACUDA_SCAN_CHUNK_LOOKBACK");
}
// Its chunk length in tiles of 4096 elements (96 KB of f32: 2 blocks per SM). Same call: 2 tiles
// 0.8495 ms, 3 tiles 0.7254, 4 tiles 0.6856, 6 tiles 0.6833, 13 tiles (208 KB) 0.8272; later
// (bench/results/NOTES.md) 6 tiles against 4: cumsum bf16 2^28 0.3994 ms vs 0.4610, f32 0.6893 vs
// 0.6947, so 6 is the default. BARACUDA_SCAN_CHUNK_TILES=N (N >= 1) is the tuning knob of its A/B.
constexpr int64_t kDefaultChunkTiles = 6;
// A positive tile count from the variable `name`, else `fallback`.
int64_t tiles_from_env(const char* name, int64_t fallback) {
  const int64_t n = env_count(name, fallback);
  return n > 0 ? n : fallback;
}
int64_t chunk_tiles_from_env() { return tiles_from_env("BARACUDA_SCAN_CHUNK_TILES", kDefaultChunkTiles); }

// The same lines through the pipelined flat kernel (scan_flat_pipelined_kernel, scan_flat_engine.cuh:
// a persistent grid, the next chunk's loads in flight during the current chunk's look-back and
// scan, a look-back of 128 predecessors a round trip over fence-free status words). The default
// since the H200 timed its rework (4d4b36d) at b5d1a5e, same call: cumsum f32 2^28 0.6518 ms
// against scan_chunk_onchip_kernel's 0.6808, bf16 0.3486 against 0.3983 (its first version, with
// a serial chain of look-backs, was six times slower). BARACUDA_SCAN_FLAT=legacy (read when the
// plan is made) keeps the on-chip kernel.
// BARACUDA_SCAN_FLAT_TILES=N (N >= 2) sets its chunk length in tiles (default: about 48 KB of
// staging, 3 f32 tiles, 6 16-bit ones).
bool flat_pipelined_enabled() {
  return !env_is("BARACUDA_SCAN_FLAT", "legacy");
}
int64_t flat_tiles_from_env() { return tiles_from_env("BARACUDA_SCAN_FLAT_TILES", 0); }
// Its L2 lead (scan_flat_engine.cuh): each round one bulk L2 prefetch of the chunk whose copies
// start that many rounds later; 0: none. Default 1; BARACUDA_SCAN_FLAT_L2_LEAD=0..4 (read when the
// plan is made) sets it. H200, cumsum 2^28, interleaved (ms):
//   - 9f4ef28, three stages for f32 and two for bf16, the lead then counted from `after` + 1 round
//     (3 rounds): f32 0.6297 without, 0.5989 at 1, 0.7184 at 2, 0.7555 at 3; bf16 (1.5 rounds
//     ahead) 0.3571 without, 0.3886;
//   - d770646, counted as now (5 rounds): two stages at lead 1 f32 **0.5683**, bf16 **0.3243**;
//     the defaults of then (f32: three stages at lead 1; bf16: two, no lead) 0.6014 / 0.3570;
//     three stages of 2 tiles at lead 1 0.5738 / 0.5280. More in docs/perf/scan.md.
int flat_l2_lead_from_env() {
  for (const char* v : {"0", "1", "2", "3", "4"})
    if (env_is("BARACUDA_SCAN_FLAT_L2_LEAD", v)) return v[0] - '0';
  return 1;
}
// Its chunk stages: two, or three (the loads of the chunk after next in flight while the current
// chunk is scanned and stored): BARACUDA_SCAN_FLAT_STAGES=2|3 (read when the plan is made). Three
// were f32's default until the L2 lead (above). Why they were: ncu at 093b016 put the two-stage
// kernel at 68% of DRAM peak with no eligible warp in 66% of cycles, a block's loads and its scan
// never overlapping. Interleaved A/B on the H200 at 6692fed (4 rounds, 2^28 elements, ms, no L2
// lead): f32 two stages of 3 tiles 0.6595, three of 3 tiles 0.6683 (one block per SM), of 2 tiles
// 0.6523 (two), of 4 tiles **0.6240** (one block of 192 KB per SM: f32's default then); bf16 two
// stages of 6 tiles 0.3529, three of 4 tiles 0.3519, of 6 tiles 0.4531, of 2 tiles 0.4899.
// Since the L2 lead (eighteenth session, d770646) two stages for every dtype: with the lead, f32's
// two stages of 3 tiles (two blocks per SM) beat its three of 4 (0.5683 against 0.6014 ms): the
// lead keeps the frontier streaming from HBM into L2 without holding shared memory for it.
int flat_stages_for() { return env_is("BARACUDA_SCAN_FLAT_STAGES", "3") ? 3 : 2; }
// Its launch (read when the plan is made; BARACUDA_PDL=0 turns it off with every other PDL launch).
// 0 (BARACUDA_SCAN_FLAT_PDL=0): the counter and the chunk words cleared by cudaMemsetAsync, then
// a plain launch. 1 (the default): a clearing kernel, then the scan, both programmatic dependent
// launches, so each one's launch and CTA placement overlap the kernel before it. 2: also each
// block's likely first two chunks bulk-prefetched into L2 before griddepcontrol.wait, while the
// clearing kernel runs (scan_flat_engine.cuh). H200, cumsum 2^28, 4 interleaved rounds (ms, ffb6b0f):
// f32 0.5647 / **0.5623** / 0.5630, bf16 0.3242 / 0.3223 / 0.3216 for 0 / 1 / 2.
int flat_pdl_for(const Device& device) {
  if (!pdl_from_env(device) || env_is("BARACUDA_SCAN_FLAT_PDL", "0")) return 0;
  return env_is("BARACUDA_SCAN_FLAT_PDL", "2") ? 2 : 1;
}

size_t state_bytes(const ScanDescriptor& d, const ScanSignature& sig) {
  if (d.direction == Direction::forward && (d.op == ScanOp::cummax || d.op == ScanOp::cummin)) return 16;  // value + i64
  return sig.accumulate == DType::f32 ? 4 : 8;
}

// Tile geometry from the shape alone (strides are filled in by run()).
cuda::Geometry plan_geometry(const ScanDescriptor& d, const ScanSignature& sig) {
  cuda::Geometry g;
  const auto& shape = d.input.shape;
  const int rank = static_cast<int>(shape.size());
  g.n = rank == 0 ? 1 : shape[sig.axis];
  int64_t outer = 1;
  for (int i = 0; i < sig.axis && i < rank; ++i) g.outer_sizes[g.n_outer++] = shape[i], outer *= shape[i];
  for (int i = sig.axis + 1; i < rank; ++i) g.inner_sizes[g.n_inner++] = shape[i], g.inner *= shape[i];
  int w = 1;
  while (w < g.inner && w < cuda::kThreads) w *= 2;
  g.width = w;
  const int64_t chunk_len = static_cast<int64_t>(cuda::kItems) * (cuda::kThreads / w);
  g.chunks = g.n == 0 ? 0 : (g.n + chunk_len - 1) / chunk_len;
  g.col_blocks = (g.inner + w - 1) / w;
  g.tiles = outer * g.col_blocks * g.chunks;
  g.outer = outer;
  // Short rows: one warp per row beats 4096-position tiles that would mostly idle.
  g.rows = g.inner == 1 && g.n <= cuda::kRowKernelMaxLength;
  g.reverse = d.reverse != (d.direction == Direction::backward);  // cumsum backward runs the other way
  g.exclusive = d.exclusive;
  return g;
}

template <class T>
cuda::TensorStrides strides_of(const T& t, int axis) {
  cuda::TensorStrides s;
  const int rank = t.rank();
  if (rank == 0) return s;
  s.axis = t.stride(axis);
  for (int i = 0; i < axis; ++i) s.outer[i] = t.stride(i);
  for (int i = axis + 1; i < rank; ++i) s.inner[i - axis - 1] = t.stride(i);
  return s;
}

class CudaScan final : public Executable<ScanFamily> {
 public:
  CudaScan(ScanDescriptor d, ScanSignature sig, Device device, Choice choice)
      : d_(std::move(d)), sig_(std::move(sig)), device_(device), choice_(choice) {
    geometry_ = plan_geometry(d_, sig_);
    // The line kernel's gain is in many short chains: cumsum over 16384 rows of 16384 f32 rose
    // from 1944 to 2921 GB/s on the H200, while one 2^28-element line (a 65536-tile look-back
    // chain) fell from 1314 to 1128 GB/s (bench/results/NOTES.md). A single line keeps the
    // classic kernel until the chain itself is fixed (docs/perf/scan.md, next steps).
    geometry_.line_kernel = line_kernel_enabled() && geometry_.outer > 1;
    geometry_.chunked = chunked_enabled() && geometry_.outer == 1 && !geometry_.rows && !choice_.fused &&
                        geometry_.n >= cuda::kChunkedMinLength;
    geometry_.chunk_lookback = geometry_.chunked && chunk_lookback_enabled();
    geometry_.chunk_tiles = chunk_tiles_from_env();
    geometry_.flat_pipelined = flat_pipelined_enabled();
    geometry_.flat_tiles = flat_tiles_from_env();
    geometry_.flat_stages = flat_stages_for();
    geometry_.flat_l2_lead = flat_l2_lead_from_env();
    geometry_.flat_pdl = flat_pdl_for(device_);
    geometry_.row_carry = row_carry_enabled() && geometry_.outer > 1 && !geometry_.rows && !choice_.fused;
    geometry_.row_carry_reverse = row_carry_reverse_enabled();
    geometry_.row_carry_indices = row_carry_indices_enabled();
    if (choice_.fused) {  // always the look-back tiles; the launcher sets each pass's direction
      geometry_.rows = false;
      geometry_.reverse = d_.reverse;
      workspace_bytes_ = cuda::fused_workspace(geometry_, choice_.config).total;
    } else if (!geometry_.rows) {
      layout_ = cuda::lookback_layout(geometry_.tiles * geometry_.width, state_bytes(d_, sig_));
      workspace_bytes_ = layout_.total;
    }
    sku_.family = "scan";
    sku_.op = std::string(scan_op_info(d_.op).name) + (d_.direction == Direction::backward ? ".backward" : "");
    for (size_t i = 0; i < sig_.inputs.size(); ++i) sku_.dtypes += (i ? "," : "") + std::string(dtype_name(sig_.inputs[i].dtype));
    sku_.dtypes += "->";
    for (size_t i = 0; i < sig_.outputs.size(); ++i) sku_.dtypes += (i ? "," : "") + std::string(dtype_name(sig_.outputs[i].dtype));
    sku_.layout = geometry_.rows ? "short rows (nothing after the axis)"
                  : geometry_.width == 1 ? "lines (nothing after the axis)" : "columns (dims after the axis)";
    sku_.arch = "sm_" + std::to_string(device.sm);
    sku_.backend = "baracuda-cuda";
    sku_.impl = "cuda_scan";
    sku_.tactic = geometry_.rows ? "one warp per row, 32 x 16 items per step, prefix carried across steps"
                                 : "single pass, decoupled look-back (deterministic fold), 256 threads x 16 items, " +
                                       std::to_string(geometry_.width) + " column(s) per tile";
    sku_.tactic += ", 16-byte vectors on contiguous runs";
    if (!geometry_.rows && geometry_.width == 1 && !geometry_.reverse && geometry_.line_kernel)
      sku_.tactic += " (contiguous aligned lines: the line kernel, coalesced through swizzled shared memory)";
    if (geometry_.row_carry && geometry_.width == 1 && !geometry_.reverse)
      sku_.tactic += " (many contiguous aligned lines of 2-4 byte elements, each >= 4096 long, >= 8 per resident "
                     "block: a block per line carrying the prefix tile to tile, no look-back)";
    if (geometry_.row_carry && geometry_.row_carry_indices && geometry_.width == 1 && !geometry_.reverse &&
        (d_.op == ScanOp::cummax || d_.op == ScanOp::cummin) && d_.direction == Direction::forward &&
        (d_.input.dtype == DType::f32 || d_.input.dtype == DType::bf16 || d_.input.dtype == DType::f16))
      sku_.tactic += " (many contiguous aligned lines, each >= 4096 long, >= 8 per resident block: a block per line "
                     "carrying the running value and index tile to tile, values and int64 indices stored coalesced "
                     "through swizzled shared memory, no look-back)";
    if (geometry_.row_carry && geometry_.row_carry_reverse && geometry_.width == 1 && geometry_.reverse &&
        d_.op != ScanOp::cummax && d_.op != ScanOp::cummin)
      sku_.tactic += " (many contiguous aligned lines of 2-4 byte elements, each >= 4096 long, >= 8 per resident "
                     "block: a block per line walking it from the end, carrying the suffix tile to tile, no look-back)";
    if (geometry_.chunked && geometry_.width == 1 && !geometry_.reverse)
      sku_.tactic += geometry_.chunk_lookback && geometry_.flat_pipelined
                         ? " (one long line, contiguous and 16-byte aligned, 2-4 byte elements, not cummax/cummin: "
                           "one pass, a persistent grid " +
                               std::string(geometry_.flat_stages == 3 ? "triple" : "double") + "-buffering chunks of " +
                               (geometry_.flat_tiles > 0 ? std::to_string(geometry_.flat_tiles) + " tiles"
                                : geometry_.flat_stages == 3 ? std::string("about 64 KB")
                                                             : std::string("about 48 KB")) +
                               " in shared memory, the next chunk loading while the current one is looked back "
                               "over, 128 chunks a round trip, and scanned" +
                               (geometry_.flat_stages == 3 ? ", the chunk after next loading during the scan" : "") +
                               (geometry_.flat_l2_lead > 0
                                    ? ", the frontier " + std::to_string(geometry_.flat_l2_lead) +
                                          " round(s) ahead prefetched into L2" +
                                          std::string(geometry_.flat_pdl > 0 ? kPdlTactic : "") +
                                          (geometry_.flat_pdl > 1 ? ", its first chunks prefetched before the wait)"
                                                                  : ")")
                                    : std::string(geometry_.flat_pdl > 0 ? kPdlTactic : "") + ")")
                     : geometry_.chunk_lookback
                         ? " (one long line, contiguous and 16-byte aligned, 2-4 byte elements, not cummax/cummin: "
                           "reduce-then-scan in one kernel, chunks of up to " +
                               std::to_string(geometry_.chunk_tiles) +
                               " tiles held in shared memory, folded, looked back over and scanned from there)"
                         : " (one long line, contiguous and 16-byte aligned, 2-4 byte elements, not cummax/cummin: "
                           "reduce-then-scan over one chunk per resident block, no look-back)";
    if (choice_.fused)
      sku_.tactic = d_.direction == Direction::backward && d_.op != ScanOp::cumsum
                        ? "fused look-back kernel, two passes (a helper scan into a workspace temporary, then the "
                          "opposite-direction scan), scalar loads, runtime dtypes"
                        : "fused look-back kernel, one pass, scalar loads, runtime dtypes (dtype conversion)";
    if (cumprod_lines_planned())
      sku_.tactic = "cumprod backward lines: two block-per-line kernels (the suffix of dy through x walked from the "
                    "end into an f32 workspace temporary, then the exclusive product of x times it walked forward), "
                    "coalesced 16-byte loads and stores through swizzled shared memory (many contiguous aligned "
                    "f32/bf16/f16 lines, each >= 4096 long, >= 8 per resident block; otherwise " +
                    sku_.tactic + ")";
    pg_.math = sig_.accumulate == DType::i64 ? "i64 math (wrapping)"
                                             : std::string(sig_.accumulate == DType::f64 ? "f64" : "f32") +
                                                   " accumulation in a fixed tree order (16 per thread, then threads, "
                                                   "then tiles), one rounding to the output dtype";
    if (geometry_.row_carry)
      pg_.math += "; many long aligned lines (a block per line): each line's tiles folded in order, the same on "
                  "every device";
    if (geometry_.chunked && !choice_.fused)
      pg_.math += geometry_.chunk_lookback && geometry_.flat_pipelined
                      ? "; a long aligned line: each chunk's warp segments folded in a fixed tree, the chunk folds "
                        "folded in order by the look-back, then the segments in order (chunk length fixed by the "
                        "dtype: the same on every device)"
                  : geometry_.chunk_lookback
                      ? "; a long aligned line: each chunk folded in a fixed tree, the chunk folds folded in order by "
                        "the look-back, then its tiles in order (the same on every device)"
                      : "; a long aligned line: the totals of the chunks before a chunk folded in a fixed tree, then "
                        "its tiles in order (the chunk count follows the device's SM count)";
    pg_.accumulator = sig_.accumulate;
    pg_.deterministic = true;  // the look-back folds prefixes in sequence order, whatever the timing
    pg_.bit_stable = true;
  }

  Status can_implement(const ScanArgs& args) const override { return check_scan_args(d_, sig_, args, device_); }
  size_t workspace_size() const override { return geometry_.tiles == 0 ? 0 : workspace_bytes_; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream& stream, Workspace ws, const ScanArgs& args) const override {
    if (geometry_.tiles == 0) return Status::ok();  // empty tensor
    if (workspace_bytes_ > 0 && (ws.bytes < workspace_bytes_ || ws.data == nullptr))
      return workspace_too_small(tag(d_) + "needs " + std::to_string(workspace_bytes_) + " bytes of workspace, got " +
                                 std::to_string(ws.bytes));
    const bool bwd = d_.direction == Direction::backward;
    cudaStream_t s = static_cast<cudaStream_t>(stream.cuda_stream());
    if (choice_.fused) return run_fused(s, ws, args);
    const TensorRef& src = args.inputs[0];  // x forward, dy backward (cumsum's backward scans dy)
    cuda::Geometry g = geometry_;
    g.in = strides_of(src, sig_.axis);
    g.out = strides_of(args.outputs[0], sig_.axis);
    if (!bwd && sig_.outputs.size() == 2) g.idx = strides_of(args.outputs[1], sig_.axis);
    cuda::LaunchArgs a;
    a.x = src.data;
    a.y = args.outputs[0].data;
    a.indices = sig_.outputs.size() == 2 && !bwd ? static_cast<int64_t*>(args.outputs[1].data) : nullptr;
    a.geometry = &g;
    a.workspace = ws.data;
    a.workspace_bytes = ws.bytes;
    a.clear_bytes = g.rows ? 0 : layout_.clear_bytes;  // the look-back's counter and flags: zero on every run
    a.stream = s;
    return choice_.launcher(a);
  }

 private:
  Status run_fused(cudaStream_t s, Workspace ws, const ScanArgs& args) const {
    const bool bwd = d_.direction == Direction::backward;
    const TensorRef& x = args.inputs[bwd ? 1 : 0];
    cuda::FusedLaunchArgs a;
    a.config = choice_.config;
    auto role = [&](int k, const auto& t) {
      a.args.opnd[k].data = t.data;
      a.args.opnd[k].dtype = t.dtype;
      a.args.opnd[k].strides = strides_of(t, sig_.axis);
    };
    if (bwd) role(cuda::kDy, args.inputs[0]);
    role(cuda::kX, x);
    role(cuda::kOut, args.outputs[0]);
    a.args.compute = sig_.compute;
    a.args.round_x = is_floating(sig_.compute) && sig_.compute != x.dtype;
    a.geometry = &geometry_;
    a.workspace = ws.data;
    a.workspace_bytes = ws.bytes;
    a.stream = s;
    return cuda::launch_fused(a);
  }

  // Whether the plan may take the cumprod backward line kernels (the launcher checks strides,
  // alignment and the line count at run time; the same conditions as cumprod_lines_may_apply).
  bool cumprod_lines_planned() const {
    if (!choice_.fused || choice_.config.kind != cuda::FusedKind::cumprod_backward || !choice_.config.cumprod_lines)
      return false;
    const DType t = d_.input.dtype;
    const bool typed = (t == DType::f32 || t == DType::bf16 || t == DType::f16) && sig_.inputs[0].dtype == t &&
                       sig_.outputs[0].dtype == t && sig_.compute == t;
    return typed && !choice_.config.reverse && !choice_.config.acc_f64 && geometry_.width == 1 &&
           geometry_.inner == 1 && geometry_.n >= static_cast<int64_t>(cuda::kThreads) * cuda::kItems &&
           geometry_.outer > 1;
  }

  ScanDescriptor d_;
  ScanSignature sig_;
  Device device_;
  Choice choice_;
  cuda::Geometry geometry_;
  cuda::LookbackLayout layout_;
  size_t workspace_bytes_ = 0;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status cuda_supports(const ScanDescriptor& desc, const Device& device) {
  BARACUDA_TRY(check_cuda_device(device));
  BARACUDA_ASSIGN_OR_RETURN(ScanSignature sig, infer_signature(desc));
  return pick_kernel(desc, sig).status();
}

Result<ExecPtr> cuda_make(const ScanDescriptor& desc, const Device& device) {
  BARACUDA_TRY(check_cuda_device(device));
  BARACUDA_ASSIGN_OR_RETURN(ScanSignature sig, infer_signature(desc));
  BARACUDA_ASSIGN_OR_RETURN(Choice choice, pick_kernel(desc, sig));
  return ExecPtr(std::make_shared<CudaScan>(desc, std::move(sig), device, choice));
}

}  // namespace baracuda::sc
