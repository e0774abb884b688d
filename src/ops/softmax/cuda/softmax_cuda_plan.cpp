// The softmax CUDA plan ("cuda_rows"): checks the arguments, builds the row view of every tensor
// from the actual strides (size-1 outer dims dropped, outer dims merged where every tensor allows),
// picks an engine and launches it. run() never allocates or synchronizes; no workspace is needed
// (every reduction is within one block, in a fixed order: results are deterministic).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/env_switch.hpp"
#include "core/pdl_switch.hpp"
#include "ops/softmax/cuda/softmax_launch.hpp"
#include "ops/softmax/softmax_impls.hpp"
#include "ops/softmax/softmax_rows.hpp"

namespace baracuda::sm {
namespace {

std::string tag(const SoftmaxDescriptor& d) {
  return "[softmax." + std::string(softmax_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

Status check_cuda_device(const Device& device) {
  if (!device.is_cuda()) return not_supported("needs a CUDA stream");
  if (device.sm < 80) return not_supported("needs sm_80 or newer, the device is sm_" + std::to_string(device.sm));
  return Status::ok();
}

// Dtypes the kernels load and store for a descriptor.
struct Pair {
  DType load, store;
};
Pair kernel_pair(const SoftmaxDescriptor& d, const SoftmaxSignature& sig) {
  return d.direction == Direction::backward ? Pair{sig.output_dtype, d.input.dtype} : Pair{d.input.dtype, sig.output_dtype};
}

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Which engines the plan may pick: all (default), all but the staged kernels (forward and
// backward), or only those that predate the rows engines (A/B measurements; environment
// BARACUDA_SOFTMAX_ENGINES = "no_staged" / "legacy", read when the plan is made).
enum class EnginePolicy { all, no_staged, legacy };

EnginePolicy engine_policy_from_env() {
  if (env_is("BARACUDA_SOFTMAX_ENGINES", "legacy")) return EnginePolicy::legacy;
  if (env_is("BARACUDA_SOFTMAX_ENGINES", "no_staged")) return EnginePolicy::no_staged;
  return EnginePolicy::all;
}

// Whether the backward may take its staged kernel (softmax_rows_bwd_staged_kernel): on unless
// the environment has BARACUDA_SOFTMAX_BWD_STAGED=0 when the plan is made (the A/B switch against
// the register kernel, softmax_rows_bwd_kernel, which gives bitwise the same dx).
bool bwd_staged_from_env() {
  return env_switch_on("BARACUDA_SOFTMAX_BWD_STAGED");
}

// Whether the forward rows engine prefetches each next row into L2: on unless the environment has
// BARACUDA_SOFTMAX_ROW_PREFETCH=0 when the plan is made (A/B).
bool row_prefetch_from_env() {
  return env_switch_on("BARACUDA_SOFTMAX_ROW_PREFETCH");
}

// Whether masked calls may take the masked rows kernels (kernels/softmax_rows_masked.cuh): on
// unless the environment has BARACUDA_SOFTMAX_MASKED=legacy when the plan is made (A/B and
// fallback: the masked calls then take the warp / block / online engines as before).
bool masked_rows_from_env() { return !env_is("BARACUDA_SOFTMAX_MASKED", "legacy"); }
// The staged forward's shared-memory stages of x (read when the plan is made): by default three for
// the widest staged rows (64 KB a stage: 16-bit rows of 16385..32768, f32 of 8193..16384), two
// below; BARACUDA_SOFTMAX_FWD_STAGES=2 or =3 everywhere (where three fit). Three is the norm staged
// forward's ring, two rows in flight a block. Interleaved A/B on the H200 at 360e9be (5 rounds,
// 4096x32768 bf16, ms): softmax 0.1414 (two) -> 0.1409 (three), log_softmax 0.1425 -> 0.1391;
// narrower staged rows were not timed.
int fwd_stages_from_env() {
  if (env_is("BARACUDA_SOFTMAX_FWD_STAGES", "2")) return 2;
  if (env_is("BARACUDA_SOFTMAX_FWD_STAGES", "3")) return 3;
  return 0;  // the default: by stage size
}

// The register rows kernels' grid cap, in waves of resident blocks (read when the plan is made; the
// kernels stride over the rows past it): 8, except 16 for the backward of rows longer than 2048
// elements; BARACUDA_SOFTMAX_GRID_WAVES=N (the forward, and the backward's shorter rows) and
// BARACUDA_SOFTMAX_BWD_GRID_WAVES=N (the backward's longer rows) set N, =0 lifts the cap (a block
// per row group, as PyTorch's one block per row). Interleaved A/B on the H200, bf16, 3 rounds, ms:
//   742b7ba, 32768x4096, 8 / 16 / uncapped: backward softmax 0.1933 / 0.1918 / 0.2018, log_softmax
//     0.1953 / 0.1938 / 0.2046, masked and temperature backward alike; the forward slower at 16
//     (softmax 0.1288 / 0.1324, log_softmax 0.1332 / 0.1407);
//   e5b9d57, 16 / 8 / 24 / 32: 32768x4096 backward softmax 0.1924 / 0.1937 / 0.1929 / 0.1937,
//     log_softmax 0.1946 / 0.1955 / 0.1963 / 0.1980; but 65536x1024 softmax backward 0.0985 /
//     0.0966 / 0.0986 / 0.0988: rows of 1024 keep 8.
constexpr int64_t kBwdLongRowElements = 2048;  // the backward's rows longer than this take bwd_grid_waves_
// The grid for `groups` row groups of blocks of `threads`: at most `waves` waves of resident blocks
// (0: no cap).
int64_t rows_grid(int64_t groups, int threads, int sm_count, int64_t waves) {
  const int64_t per_wave = static_cast<int64_t>(sm_count) * (2048 / threads);
  return waves == 0 || waves > (int64_t{1} << 20) ? groups : std::min(groups, per_wave * waves);
}

// Whether a dim that is not innermost may take the columns engine (kernels/softmax_columns.cuh):
// on unless the environment has BARACUDA_SOFTMAX_COLUMNS=legacy when the plan is made (A/B and
// fallback: the generic column engine, one thread per column, as before).
bool columns_from_env() { return !env_is("BARACUDA_SOFTMAX_COLUMNS", "legacy"); }

// Must equal kColumnsThreads / kColumnsBlocksPerSm in kernels/softmax_columns.cuh.
constexpr int kColumnsThreads = 256;
constexpr int kColumnsBlocksPerSm = 3;

// Must mirror kMaskedFwdMaxItems / kMaskedBwdMaxItems in kernels/softmax_rows_masked.cuh.
constexpr int kMaskedFwdMaxItems = 2;
constexpr int kMaskedBwdMaxItems = 2;

// Must equal kStagedSmemLimit in kernels/softmax_rows_fast.cuh (this file is plain C++).
constexpr int64_t kStagedSmemLimit = 200 * 1024;

// The backward's short rows (4 or 8 warps per row, 2 vectors per thread) and the staged kernel
// (softmax_rows_bwd_staged_kernel, which streams the block's next row while the current one is
// reduced and written). The log_softmax backward takes it by default (its exps leave the register
// kernel without loads in flight: 32768x4096 bf16 0.2409 -> 0.2160 ms on the H200);
// BARACUDA_SOFTMAX_LOG_BWD=legacy, read when the plan is made, keeps the register kernel
// (softmax_rows_bwd_kernel). The softmax backward keeps the register kernel (staged there it was
// slower: 0.2039 -> 0.2153 ms). BARACUDA_SOFTMAX_BWD_STAGED=0 turns every staged backward off.
enum class ShortBwd { register_kernel, staged };

ShortBwd log_bwd_from_env() {
  return env_is("BARACUDA_SOFTMAX_LOG_BWD", "legacy") ? ShortBwd::register_kernel : ShortBwd::staged;
}

// The one-vector backward geometry: the unmasked backward's rows that fit 16 warps x one 16-byte
// vector of dy and y per thread (16-bit up to 4096 elements, f32 up to 2048) take the register
// kernel (softmax_rows_bwd_kernel) at one vector per thread, twice the default warps per row (4096
// 16-bit: 16 warps x 1 in place of 8 x 2), never staged, blocks of at most 512 threads bounded to
// 40 registers (rows_bwd_min_blocks: 1536 threads per SM; at 32 registers for all 2048 the vectors
// spilled): close to the geometry of PyTorch's backward (one block per row, one vector per operand
// per thread). Where, read when the plan is made from BARACUDA_SOFTMAX_BWD_ONE_VECTOR:
//   default: the softmax and log_softmax backward's 16-bit rows of 2049..4096 elements (16
//            warps). Measured on the H200, bf16 32768x4096: softmax 0.1937 ms (c917ae4) against
//            the two-vector kernel's 0.2039 (c7d0f5f); log_softmax (its y loaded with dy: one
//            vector each leaves nothing else in flight during the reduction) 0.1949 against the
//            staged kernel's 0.2130 (9d70547, same run). At 4 warps (65536x1024) it lost: softmax
//            0.1069 against 0.1001 (9d70547).
//   1:       every row that fits.
//   0:       never (the two-vector kernel, as before).
enum class BwdOneVector { never, rows_16_warps, everywhere };
BwdOneVector bwd_one_vector_from_env() {
  if (env_is("BARACUDA_SOFTMAX_BWD_ONE_VECTOR", "1")) return BwdOneVector::everywhere;
  if (env_is("BARACUDA_SOFTMAX_BWD_ONE_VECTOR", "0")) return BwdOneVector::never;
  return BwdOneVector::rows_16_warps;
}
constexpr int kBwdOneVectorMaxWarps = 16;

class CudaSoftmax final : public Executable<SoftmaxFamily> {
 public:
  CudaSoftmax(SoftmaxDescriptor d, SoftmaxSignature sig, Device device, int sm_count, int64_t smem_optin,
              EnginePolicy policy, bool bwd_staged)
      : d_(std::move(d)), sig_(std::move(sig)), device_(device), sm_count_(sm_count), smem_optin_(smem_optin),
        policy_(policy), bwd_staged_(bwd_staged) {
    const Pair pr = kernel_pair(d_, sig_);
    sku_.family = "softmax";
    sku_.op = std::string(softmax_op_info(d_.op).name) + (d_.direction == Direction::backward ? ".backward" : "");
    for (size_t i = 0; i < sig_.inputs.size(); ++i) sku_.dtypes += (i ? "," : "") + std::string(dtype_name(sig_.inputs[i].dtype));
    sku_.dtypes += "->" + std::string(dtype_name(sig_.outputs[0].dtype));
    sku_.layout = "rows (rows / rows_staged / masked rows / warp / block / online / columns / column engines, chosen "
                  "per call from strides, alignment and mask)";
    sku_.arch = "sm_" + std::to_string(device.sm);
    sku_.backend = "baracuda-cuda";
    sku_.impl = "cuda_rows";
    sku_.tactic = std::string(dtype_name(pr.load)) + " loads, 16-byte vectors when rows are aligned";
    if (const std::string e = aligned_engine(); !e.empty()) sku_.tactic += "; this shape, aligned: " + e;
    if (pdl_) sku_.tactic += std::string(kPdlTactic) + " (every engine but columns)";
    if (pdl_prefetch_)
      sku_.tactic += pdl_prefetch_ > 1 ? ", first rows prefetched before the wait (rows engines)"
                                       : ", first rows prefetched before the wait (staged forward)";
    pg_.accumulator = sig_.accumulate;
    pg_.math = std::string(dtype_name(sig_.accumulate)) +
               " math (max, sum of exp, fixed-order warp/block reductions), one rounding to the output dtype; "
               "16-bit results of the register and columns engines use the hardware exp (ex2; in the rows engines with "
               "exp results below 2^-126 flushed to 0)";
  }

  Status can_implement(const SoftmaxArgs& args) const override {
    return check_softmax_args(tag(d_), sig_, args, device_);
  }
  size_t workspace_size() const override { return 0; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream& stream, Workspace, const SoftmaxArgs& args) const override {
    const bool bwd = d_.direction == Direction::backward;
    const TensorMut& out = args.outputs[0];
    if (out.numel() == 0) return Status::ok();
    cuda::KernelParams p = build_params(args);
    const Pair pr = kernel_pair(d_, sig_);
    cuda::LaunchConfig c = choose(p, args, pr, bwd);
    // Not the columns engine: with PDL it measured slower on the H200 (9d70547, softmax backward over
    // dim 1 of 64x4096x256 bf16: 0.2580 ms against 0.2447 plain; forward 0.2111 against 0.2080).
    c.pdl = pdl_ && c.engine != cuda::Engine::columns;
    return cuda::launch_softmax(bwd, pr.load, pr.store, p, c, static_cast<cudaStream_t>(stream.cuda_stream()));
  }

 private:
  // The row view of every tensor from the arguments' actual strides.
  cuda::KernelParams build_params(const SoftmaxArgs& args) const {
    const bool bwd = d_.direction == Direction::backward;
    const TensorMut& out = args.outputs[0];
    const int rank = out.rank();
    const int dim = sig_.dim;
    const TensorRef* mask = d_.mask ? &args.inputs[sig_.inputs.size() - 1] : nullptr;
    std::vector<int64_t> mask_strides(static_cast<size_t>(rank), 0);
    if (mask) mask_strides = broadcast_strides(mask->shape(), mask->layout.stride(), static_cast<size_t>(rank));

    cuda::KernelParams p;
    p.in0.data = args.inputs[0].data;
    p.in1.data = bwd ? args.inputs[1].data : nullptr;
    p.out.data = out.data;
    p.mask.data = mask ? mask->data : nullptr;
    p.n = rank == 0 ? 1 : out.size(dim);
    if (rank > 0) {
      p.in0.along = args.inputs[0].stride(dim);
      p.in1.along = bwd ? args.inputs[1].stride(dim) : 0;
      p.out.along = out.stride(dim);
      p.mask.along = mask_strides[static_cast<size_t>(dim)];
    }
    if (p.n == 1) p.in0.along = p.in1.along = p.out.along = p.mask.along = 1;  // never stepped
    // Outer dims, outermost first; size-1 dims dropped; a dim merged into the previous one when
    // every tensor's strides make the pair one dim.
    p.rows = 1;
    for (int i = 0; i < rank; ++i) {
      if (i == dim || out.size(i) == 1) continue;
      const int64_t size = out.size(i);
      const int64_t s0 = args.inputs[0].stride(i), s1 = bwd ? args.inputs[1].stride(i) : 0, so = out.stride(i),
                    sm = mask_strides[static_cast<size_t>(i)];
      p.rows *= size;
      const int k = p.outer_rank - 1;
      if (k >= 0 && p.in0.outer[k] == s0 * size && p.in1.outer[k] == s1 * size && p.out.outer[k] == so * size &&
          p.mask.outer[k] == sm * size) {
        p.outer_sizes[k] *= size;
        p.in0.outer[k] = s0;
        p.in1.outer[k] = s1;
        p.out.outer[k] = so;
        p.mask.outer[k] = sm;
        continue;
      }
      p.outer_sizes[p.outer_rank] = size;
      p.in0.outer[p.outer_rank] = s0;
      p.in1.outer[p.outer_rank] = s1;
      p.out.outer[p.outer_rank] = so;
      p.mask.outer[p.outer_rank] = sm;
      ++p.outer_rank;
    }
    p.mask_kind = !mask ? cuda::MaskKind::none
                        : (mask->dtype == DType::boolean ? cuda::MaskKind::boolean : cuda::MaskKind::additive);
    // The backward never reads an additive mask (d(x + m)/dx = 1; the generic engines skip it
    // too): as unmasked, it takes the unmasked rows kernels.
    if (bwd && p.mask_kind == cuda::MaskKind::additive) {
      p.mask_kind = cuda::MaskKind::none;
      p.mask.data = nullptr;
    }
    p.mask_dtype = mask ? mask->dtype : DType::boolean;
    p.mask_esize = mask ? static_cast<int>(dtype_size(mask->dtype)) : 1;
    p.log = d_.op == SoftmaxOp::log_softmax;
    p.scale = 1.0 / d_.temperature;
    p.row_prefetch = row_prefetch_;
    p.log_bwd_y_late = log_bwd_y_late_;
    p.pdl_prefetch = pdl_prefetch_;
    return p;
  }

  // The engine for this call: rows along a unit stride go to the register-cached engines (warp for
  // short rows, block up to 4096 vectors) or the online engine; anything else to the column engine.
  cuda::LaunchConfig choose(const cuda::KernelParams& p, const SoftmaxArgs& args, Pair pr, bool bwd) const {
    cuda::LaunchConfig c;
    const int64_t sms = sm_count_;
    const bool unit = p.in0.along == 1 && p.out.along == 1 && (!bwd || p.in1.along == 1);
    if (!unit) {
      if (choose_columns(p, pr, bwd, c)) return c;
      c.engine = cuda::Engine::column;
      c.threads = 256;
      c.grid = std::min(ceil_div(p.rows, 256), sms * 8);
      return c;
    }
    const int V = 16 / static_cast<int>(dtype_size(pr.load));
    const size_t store_vec_bytes = static_cast<size_t>(V) * dtype_size(pr.store);
    bool vec_ok = p.n >= V && aligned(p.in0.data, 16) && (!bwd || aligned(p.in1.data, 16)) &&
                  aligned(p.out.data, std::min<size_t>(store_vec_bytes, 32));
    for (int k = 0; k < p.outer_rank; ++k)
      vec_ok = vec_ok && p.in0.outer[k] % V == 0 && (!bwd || p.in1.outer[k] % V == 0) && p.out.outer[k] % V == 0;
    (void)args;
    c.vec = vec_ok ? V : 1;
    if (vec_ok && choose_rows(p, pr, bwd, c)) return c;
    const int64_t nv = ceil_div(p.n, c.vec);
    if (vec_ok && nv <= 128) {
      c.engine = cuda::Engine::warp;
      c.items = nv <= 32 ? 1 : (nv <= 64 ? 2 : 4);
      c.threads = 128;  // 4 rows per block
      c.grid = std::min(ceil_div(p.rows, 4), sms * 32);
      return c;
    }
    if (nv <= 4096) {
      c.engine = cuda::Engine::block;
      c.items = nv <= 128 ? 1 : (nv <= 256 ? 2 : (nv <= 512 ? 4 : 8));
      c.threads = static_cast<int>(ceil_div(ceil_div(nv, c.items), 32) * 32);
      c.grid = std::min(p.rows, sms * 32);  // one row per block at a time; the scheduler balances
      return c;
    }
    c.engine = cuda::Engine::online;
    c.threads = 512;
    c.grid = std::min(p.rows, sms * 32);
    return c;
  }

  // The rows engines (f32 math, 16-byte vectors, rows of up to 32 warps x the
  // per-thread limit): the fewest warps per row whose registers hold the row; with one warp, the
  // fewest vectors per thread. The limits mirror rows_max_items (softmax_launch_impl.cuh). A
  // masked call takes the masked rows kernels when its mask fits them (masked_rows_fit), with
  // their smaller per-thread limit and never staged.
  bool choose_rows(const cuda::KernelParams& p, Pair pr, bool bwd, cuda::LaunchConfig& c) const {
    if (policy_ == EnginePolicy::legacy) return false;
    if (d_.mask && !masked_rows_) return false;  // BARACUDA_SOFTMAX_MASKED=legacy
    if (pr.load == DType::f64 || pr.store == DType::f64) return false;
    const bool masked = p.mask_kind != cuda::MaskKind::none;
    if (masked && !masked_rows_fit(p, pr, c.vec)) return false;
    const int V = c.vec;
    const int max_items = masked ? (bwd ? kMaskedBwdMaxItems : kMaskedFwdMaxItems) : (bwd ? 2 : 32 / V);
    const int64_t per_warp = static_cast<int64_t>(32) * V * max_items;
    int gw = 1;
    while (gw < 32 && p.n > gw * per_warp) gw *= 2;
    int items = max_items;
    if (p.n > gw * per_warp) {
      if (masked || !bwd || p.n > gw * per_warp * 2) return false;
      items = 4;  // the backward's long rows: kRowsBwdLongItems
    }
    if (gw == 1)
      for (items = 1; items < max_items && p.n > static_cast<int64_t>(32) * V * items;) items *= 2;
    if (bwd && !masked && one_vector_wanted(p, V)) {
      for (gw = 1; p.n > static_cast<int64_t>(32) * V * gw;) gw *= 2;
      c.group_warps = gw;
      c.items = 1;
      c.sm_count = sm_count_;
      c.engine = cuda::Engine::rows;  // the register kernel (bwd_one_vector_)
      c.threads = std::max(256, gw * 32);
      c.grid = rows_grid(ceil_div(p.rows, c.threads / (gw * 32)), c.threads, sm_count_,
                         p.n > kBwdLongRowElements ? bwd_grid_waves_ : grid_waves_);
      return true;
    }
    c.group_warps = gw;
    c.items = items;
    c.sm_count = sm_count_;
    if (!masked && policy_ != EnginePolicy::no_staged && (!bwd || bwd_staged_) && staged_fits(p, c, bwd)) {
      c.engine = cuda::Engine::rows_staged;  // block size and grid: from the kernel's occupancy
      c.threads = gw * 32;
      // Three stages of x where they fit (the launcher instantiates them only under the limit).
      const int64_t stage = static_cast<int64_t>(c.items) * gw * 32 * 16;
      const bool wanted = fwd_stages_ == 3 || (fwd_stages_ == 0 && stage == 64 * 1024);
      if (!bwd && wanted && 3 * stage <= std::min<int64_t>(kStagedSmemLimit, smem_optin_ - 1024)) c.fwd_stages = 3;
      return true;
    }
    c.engine = cuda::Engine::rows;
    c.threads = std::max(256, gw * 32);
    const int64_t rows_per_block = c.threads / (gw * 32);
    // One block per rows_per_block rows, capped at a few waves of resident blocks (the kernels
    // stride over the rest).
    c.grid = rows_grid(ceil_div(p.rows, rows_per_block), c.threads, sm_count_,
                       bwd && p.n > kBwdLongRowElements ? bwd_grid_waves_ : grid_waves_);
    return true;
  }

  // The columns engine: unmasked, the innermost merged outer dim contiguous in every operand
  // (the dim is then strided: softmax over a dim that is not innermost). 16-byte vectors of
  // inner columns when every pointer and stride allows; the tile as wide as still gives every SM
  // its resident blocks (at least 2 vectors across: 32-byte rows of a tile). Not f64 (its exp
  // spills at the kernel's register bound: the generic column engine keeps it).
  bool choose_columns(const cuda::KernelParams& p, Pair pr, bool bwd, cuda::LaunchConfig& c) const {
    if (policy_ == EnginePolicy::legacy || !columns_) return false;
    if (pr.load == DType::f64 || pr.store == DType::f64) return false;
    if (p.mask_kind != cuda::MaskKind::none || p.outer_rank < 1) return false;
    const int k = p.outer_rank - 1;
    if (p.in0.outer[k] != 1 || p.out.outer[k] != 1 || (bwd && p.in1.outer[k] != 1)) return false;
    const int64_t inner = p.outer_sizes[k];
    const int V = 16 / static_cast<int>(dtype_size(pr.load));
    const size_t store_vec_bytes = static_cast<size_t>(V) * dtype_size(pr.store);
    bool vec_ok = inner % V == 0 && aligned(p.in0.data, 16) && (!bwd || aligned(p.in1.data, 16)) &&
                  aligned(p.out.data, store_vec_bytes) && p.in0.along % V == 0 && p.out.along % V == 0 &&
                  (!bwd || p.in1.along % V == 0);
    for (int j = 0; j < k; ++j)
      vec_ok = vec_ok && p.in0.outer[j] % V == 0 && (!bwd || p.in1.outer[j] % V == 0) && p.out.outer[j] % V == 0;
    c.vec = vec_ok ? V : 1;
    const int64_t groups = p.rows / inner;
    auto tiles = [&](int tx) { return groups * ceil_div(inner, static_cast<int64_t>(tx) * c.vec); };
    int tx_log2 = 5;
    if (vec_ok)
      while (tx_log2 > 1 && tiles(1 << tx_log2) < kColumnsBlocksPerSm * static_cast<int64_t>(sm_count_)) --tx_log2;
    c.engine = cuda::Engine::columns;
    c.columns_tx_log2 = tx_log2;
    c.threads = kColumnsThreads;
    // Tiles beyond a few waves: the kernel's grid-stride loop.
    c.grid = std::min(tiles(1 << tx_log2), static_cast<int64_t>(sm_count_) * kColumnsBlocksPerSm * 8);
    return true;
  }

  // Whether a masked call fits the masked rows kernels: the mask read along the dim with unit
  // stride in vectors of V elements (its data and outer strides aligned to them), boolean or an
  // additive mask of x's dtype (forward; the backward reads a boolean mask only).
  static bool masked_rows_fit(const cuda::KernelParams& p, Pair pr, int V) {
    if (p.mask.along != 1) return false;
    if (p.mask_kind == cuda::MaskKind::additive && p.mask_dtype != pr.load) return false;
    if (!aligned(p.mask.data, static_cast<size_t>(V) * static_cast<size_t>(p.mask_esize))) return false;
    for (int k = 0; k < p.outer_rank; ++k)
      if (p.mask.outer[k] % V != 0) return false;
    return true;
  }

  // Whether the unmasked backward of rows of p.n elements at V per vector takes the one-vector
  // geometry (see BwdOneVector).
  bool one_vector_wanted(const cuda::KernelParams& p, int V) const {
    const int64_t per_warp = static_cast<int64_t>(32) * V;
    if (p.n > per_warp * kBwdOneVectorMaxWarps) return false;
    switch (bwd_one_vector_) {
      case BwdOneVector::everywhere: return true;
      case BwdOneVector::rows_16_warps:  // measured for 16-bit rows only
        return V == 8 && p.n > per_warp * (kBwdOneVectorMaxWarps / 2);
      case BwdOneVector::never: return false;
    }
    return false;
  }

  // Whether choose_rows gave the backward the one-vector geometry.
  bool one_vector_geometry(const cuda::KernelParams& p, const cuda::LaunchConfig& c) const {
    return p.mask_kind == cuda::MaskKind::none && c.engine == cuda::Engine::rows && c.group_warps > 1 && c.items == 1 &&
           one_vector_wanted(p, c.vec);
  }

  // How the backward's short rows (4-8 warps per row) run for this op (see ShortBwd).
  ShortBwd short_bwd(const cuda::KernelParams& p) const { return p.log ? log_bwd_ : ShortBwd::register_kernel; }

  // Whether a rows geometry (group_warps, items, vec set) has a staged kernel that fits: 16 or 32
  // warps per row (the backward also 4 or 8 when short_bwd takes the staged kernel), whole
  // vectors (n % vec == 0) and its shared memory within the limit and the device's opt-in. The
  // forward's is two stages of x, the backward's one stage of dy and y: both 2 x items x 16 bytes
  // per thread.
  bool staged_fits(const cuda::KernelParams& p, const cuda::LaunchConfig& c, bool bwd) const {
    const int64_t stage_bytes = 2 * static_cast<int64_t>(c.items) * c.group_warps * 32 * 16;
    const bool warps_ok =
        c.group_warps >= 16 || (bwd && c.group_warps >= 4 && short_bwd(p) != ShortBwd::register_kernel);
    return warps_ok && p.n % c.vec == 0 &&
           stage_bytes <= std::min<int64_t>(kStagedSmemLimit, smem_optin_ - 1024);  // 1 KB: static shared memory
  }

  // What run() takes for this descriptor when every pointer is 16-byte aligned, for the tactic
  // string ("" for empty tensors). The descriptor fixes every shape and stride (run() checks
  // them), so only the pointers' alignment is left to the call: the row view and the engine are
  // built here from a 256-byte-aligned placeholder address, which is never dereferenced.
  std::string aligned_engine() const {
    const bool bwd = d_.direction == Direction::backward;
    const void* const placeholder = reinterpret_cast<const void*>(uintptr_t{256});
    SoftmaxArgs a;
    for (size_t i = 0; i < sig_.inputs.size(); ++i) {
      const Operand& o = sig_.inputs[i];
      auto r = make_tensor_ref(placeholder, o.dtype, o.shape, o.strides, device_);
      if (!r) return "";
      a.inputs[i] = *r;
    }
    const Operand& oo = sig_.outputs[0];
    auto w = make_tensor_mut(const_cast<void*>(placeholder), oo.dtype, oo.shape, oo.strides, device_);
    if (!w || w->numel() <= 0) return "";
    a.outputs[0] = *w;
    const cuda::KernelParams p = build_params(a);
    const Pair pr = kernel_pair(d_, sig_);
    const cuda::LaunchConfig c = choose(p, a, pr, bwd);
    const std::string geom = std::to_string(c.group_warps) + " warp(s)/row, " + std::to_string(c.items) + " x 16-byte vectors";
    const std::string kb = std::to_string(2 * c.items * c.group_warps * 32 * 16 / 1024) + " KB";
    switch (c.engine) {
      case cuda::Engine::rows_staged:
        return bwd ? "staged backward kernel softmax_rows_bwd_staged_kernel (" + geom +
                         " of dy and y per thread; one " + kb +
                         " shared-memory stage of dy and y, refilled with the block's next row by cp.async as soon "
                         "as its values are in registers; persistent blocks)"
                   : c.fwd_stages == 3
                         ? "staged forward kernel softmax_rows_fwd_staged_kernel (" + geom +
                               " per thread; three shared-memory stages of x, " +
                               std::to_string(3 * c.items * c.group_warps * 32 * 16 / 1024) +
                               " KB, the rows one and two steps ahead by cp.async; persistent blocks)"
                         : "staged forward kernel softmax_rows_fwd_staged_kernel (" + geom +
                               " per thread; two shared-memory stages of x, " + kb + ", the next row by cp.async; "
                               "persistent blocks)";
      case cuda::Engine::rows: {
        if (p.mask_kind != cuda::MaskKind::none)
          return std::string("masked rows kernel ") +
                 (bwd ? "softmax_rows_masked_bwd_kernel" : "softmax_rows_masked_fwd_kernel") + " (" + geom +
                 (bwd ? " of dy and y" : "") + " per thread, the " +
                 (p.mask_kind == cuda::MaskKind::boolean ? "boolean" : "additive") + " mask in the same pass)";
        std::string t = "rows engine (" + geom + (bwd ? " of dy and y" : "") + " per thread)";
        if (bwd && one_vector_geometry(p, c))
          return t + ", one vector per thread, 1536 threads per SM (one-vector backward; off: "
                     "BARACUDA_SOFTMAX_BWD_ONE_VECTOR=0)";
        if (bwd && !bwd_staged_ && policy_ != EnginePolicy::no_staged && staged_fits(p, c, bwd))
          t += ", staged backward kernel off (BARACUDA_SOFTMAX_BWD_STAGED=0)";
        if (bwd && p.log && (c.group_warps == 4 || c.group_warps == 8) && log_bwd_ == ShortBwd::register_kernel)
          t += ", short-row staged backward off (BARACUDA_SOFTMAX_LOG_BWD=legacy)";
        if (!bwd && p.row_prefetch && p.outer_rank <= 1) t += ", next row prefetched into L2";
        return t;
      }
      case cuda::Engine::warp: return "warp engine";
      case cuda::Engine::block: return "block engine";
      case cuda::Engine::online: return "online engine";
      case cuda::Engine::column: return "column engine";
      case cuda::Engine::columns:
        return "columns engine softmax_columns_kernel (" + std::to_string(1 << c.columns_tx_log2) + " x " +
               std::to_string(c.vec) + " columns per tile, the dim split over " +
               std::to_string(kColumnsThreads >> c.columns_tx_log2) + " threads, tree merge in shared memory)";
    }
    return "";
  }

  SoftmaxDescriptor d_;
  SoftmaxSignature sig_;
  Device device_;
  int sm_count_;
  int64_t smem_optin_;
  EnginePolicy policy_;
  bool bwd_staged_;
  bool pdl_ = pdl_from_env(device_);  // every kernel as a programmatic dependent launch
  int pdl_prefetch_ = pdl_prefetch_from_env(device_);  // first rows into L2 before the wait: 0, 1 or 2
  bool row_prefetch_ = row_prefetch_from_env();
  int fwd_stages_ = fwd_stages_from_env();
  int64_t grid_waves_ = env_count("BARACUDA_SOFTMAX_GRID_WAVES", 8);
  int64_t bwd_grid_waves_ = env_count("BARACUDA_SOFTMAX_BWD_GRID_WAVES", 16);
  bool masked_rows_ = masked_rows_from_env();
  bool columns_ = columns_from_env();
  // The log_softmax backward register kernel (rows the staged kernel does not take, and
  // BARACUDA_SOFTMAX_LOG_BWD=legacy) loads y after the row's reduction unless
  // BARACUDA_SOFTMAX_LOG_BWD_Y=early (read when the plan is made; A/B). At 32768 x 4096 bf16 on the
  // H200 late was the faster (0.2409 vs 0.2490 ms early).
  bool log_bwd_y_late_ = !env_is("BARACUDA_SOFTMAX_LOG_BWD_Y", "early");
  // The backward's short rows: staged or the register kernel, per op (see ShortBwd).
  ShortBwd log_bwd_ = log_bwd_from_env();
  // Where the backward takes the one-vector geometry (bwd_one_vector_from_env).
  BwdOneVector bwd_one_vector_ = bwd_one_vector_from_env();
  // (Removed opt-ins, measured on the H200: the log_softmax backward's exps before its reduction,
  // 0.1952 ms against the default's 0.1948 at 32768x4096 bf16, b5d1a5e; the staged forward's early
  // refill, see softmax_rows_fwd_staged_kernel.)
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status cuda_rows_supports(const SoftmaxDescriptor& desc, const Device& device) {
  BARACUDA_TRY(check_cuda_device(device));
  BARACUDA_ASSIGN_OR_RETURN(SoftmaxSignature sig, infer_signature(desc));
  const Pair pr = kernel_pair(desc, sig);
  if (!cuda::has_kernels(desc.direction == Direction::backward, pr.load, pr.store))
    return not_supported("no CUDA kernel loads " + std::string(dtype_name(pr.load)) + " and stores " +
                         std::string(dtype_name(pr.store)) +
                         " (CUDA has equal dtypes, and f16/bf16 -> f32 with its backward)");
  return Status::ok();
}

Result<ExecPtr> cuda_rows_make(const SoftmaxDescriptor& desc, const Device& device) {
  BARACUDA_TRY(cuda_rows_supports(desc, device));
  BARACUDA_ASSIGN_OR_RETURN(SoftmaxSignature sig, infer_signature(desc));
  int sms = 0;
  if (cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device.ordinal); e != cudaSuccess)
    return backend_error(std::string("[softmax] cudaDeviceGetAttribute(MultiProcessorCount) failed: ") +
                         cudaGetErrorString(e));
  int optin = 0;
  if (cudaError_t e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device.ordinal);
      e != cudaSuccess)
    return backend_error(std::string("[softmax] cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin) failed: ") +
                         cudaGetErrorString(e));
  return ExecPtr(std::make_shared<CudaSoftmax>(desc, std::move(sig), device, std::max(sms, 1), optin,
                                               engine_policy_from_env(), bwd_staged_from_env()));
}

}  // namespace baracuda::sm
