// The CUDA reduction plan against the CPU reference plan (Stream::cpu()) on the same random
// inputs: every op (norm for several p, var with two corrections) x every input dtype, forward
// and backward; axes {last}, {first}, {middle}, {all}, {0, 2} on rank 3 with keepdim both ways;
// rows and columns of odd sizes (1, 7, 33, 1000, 4097, 100000); a full reduction split across
// blocks; permuted / strided inputs and outputs; empty groups and empty outputs; NaN inputs; tied
// values. Outputs are poisoned (0xFF, then 0x00) before each run and checked fully written.
// Also: the error statuses of run() on a CUDA stream, and that results are identical run to run.
//
// Without a GPU every test skips. The last line printed is
//   "GPU reduce: N passed, M failed, K not supported"
// where K counts op x dtype combinations infer_signature refuses (on every backend).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gpu_test_support.hpp"
#include "device_buffer.hpp"
#include "gtest_helpers.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::DeviceBuffer;
using bt::HostTensor;

using bt::have_gpu;
BT_GPU_FAMILY_COUNTS("reduce");  // the "GPU reduce: ..." summary line

constexpr double kInf = std::numeric_limits<double>::infinity();

const DType kAllDTypes[] = {DType::f32, DType::f16, DType::bf16, DType::f64, DType::i64,
                            DType::i32, DType::i16, DType::i8,   DType::u8,  DType::boolean};
const DType kFloatDTypes[] = {DType::f32, DType::f16, DType::bf16, DType::f64};

// An op with its parameters (norm's p, var's correction).
struct OpCase {
  ReduceOp op;
  double p = 2.0;
  double correction = 1.0;
  std::string name() const {
    std::string s(reduce_op_info(op).name);
    if (op == ReduceOp::norm) s += "(p=" + std::to_string(p) + ")";
    if (op == ReduceOp::var || op == ReduceOp::std || op == ReduceOp::var_mean) s += "(c=" + std::to_string(correction) + ")";
    return s;
  }
};

std::vector<OpCase> op_cases() {
  std::vector<OpCase> v;
  for (const ReduceOpInfo& info : all_reduce_ops()) {
    if (info.op == ReduceOp::norm) {
      for (double p : {2.0, 1.0, 0.0, 3.0, 0.5, kInf, -kInf, -1.0}) v.push_back({info.op, p});
    } else if (info.op == ReduceOp::var || info.op == ReduceOp::std || info.op == ReduceOp::var_mean) {
      v.push_back({info.op, 2.0, 1.0});
      v.push_back({info.op, 2.0, 0.0});
    } else {
      v.push_back({info.op});
    }
  }
  return v;
}

// A layout to test: shape, axes, keepdim, input strides (empty = contiguous), output strides.
// Op case `oc` in direction `dir` over an input of dtype `dt` (shape, strides; empty = dense)
// reduced over `axes`.
ReduceDescriptor case_descriptor(const OpCase& oc, Direction dir, DType dt, const std::vector<int64_t>& shape,
                                 const std::vector<int64_t>& strides, const std::vector<int>& axes, bool keepdim) {
  ReduceDescriptor d;
  d.op = oc.op;
  d.p = oc.p;
  d.correction = oc.correction;
  d.direction = dir;
  d.input = Operand::tensor(dt, shape, strides);
  d.axes = axes;
  d.keepdim = keepdim;
  return d;
}

struct Shape {
  std::vector<int64_t> shape;
  std::vector<int> axes;
  bool keepdim = false;
  std::vector<int64_t> strides;
  std::vector<int64_t> out_strides;  // forward output 0 layout (empty = dense)
  std::string label;
};

std::vector<Shape> shapes(bool full) {
  std::vector<Shape> s;
  // Rank 3, every axis form, keepdim both ways.
  for (bool kd : {false, true}) {
    s.push_back({{5, 7, 33}, {2}, kd, {}, {}, "[5,7,33] {last}"});
    s.push_back({{5, 7, 33}, {0}, kd, {}, {}, "[5,7,33] {first}"});
    s.push_back({{5, 7, 33}, {1}, kd, {}, {}, "[5,7,33] {middle}"});
    s.push_back({{5, 7, 33}, {}, kd, {}, {}, "[5,7,33] {all}"});
    s.push_back({{5, 7, 33}, {0, 2}, kd, {}, {}, "[5,7,33] {0,2}"});
    s.push_back({{6, 9, 16}, {1}, kd, {}, {}, "[6,9,16] {middle} (vector columns)"});
  }
  // Rows of odd lengths (warp and block per row; unaligned row starts) and columns.
  for (int64_t n : {1, 7, 33, 1000, 4097}) {
    s.push_back({{3, n}, {1}, false, {}, {}, "rows [3," + std::to_string(n) + "]"});
    s.push_back({{n, 40}, {0}, false, {}, {}, "columns [" + std::to_string(n) + ",40]"});
    s.push_back({{n, 33}, {0}, false, {}, {}, "columns [" + std::to_string(n) + ",33] (strided engine)"});
  }
  if (full) {
    s.push_back({{2, 100000}, {1}, false, {}, {}, "long rows [2,100000] (split)"});
    s.push_back({{100003}, {}, false, {}, {}, "full [100003] (split)"});
    s.push_back({{20000, 16}, {0}, false, {}, {}, "tall columns [20000,16] (split)"});
  }
  // A permuted input (a transposed view of a dense [6, 33, 17]) and a strided (every other) one.
  s.push_back({{33, 17, 6}, {1}, false, {17, 1, 33 * 17}, {}, "permuted [33,17,6] {1}"});
  s.push_back({{33, 17, 6}, {0, 2}, true, {17, 1, 33 * 17}, {}, "permuted [33,17,6] {0,2}"});
  s.push_back({{33, 17, 6}, {2}, false, {17, 1, 33 * 17}, {}, "permuted [33,17,6] {2}"});
  s.push_back({{9, 50}, {1}, false, {100, 2}, {}, "strided rows [9,50] step 2"});
  s.push_back({{40, 24}, {0}, false, {48, 1}, {}, "padded columns [40,24] ld 48"});
  // A transposed output.
  s.push_back({{6, 10, 8}, {1}, false, {}, {1, 6}, "[6,10,8] {1} -> transposed output"});
  // Empty groups and an empty output.
  s.push_back({{4, 0}, {1}, false, {}, {}, "empty groups [4,0]"});
  s.push_back({{0, 5}, {1}, false, {}, {}, "empty output [0,5]"});
  return s;
}

// Inputs: uniform [-2, 2] (prod: [0.95, 1.05], products of 1e5 stay finite), integer-valued half
// the time for the max/min family (ties), NaN at ~3% when asked.
void fill_input(HostTensor& x, ReduceOp op, bool nans, std::mt19937_64& rng) {
  const bool extreme = op == ReduceOp::amax || op == ReduceOp::amin || op == ReduceOp::max || op == ReduceOp::min ||
                       op == ReduceOp::argmax || op == ReduceOp::argmin || (op == ReduceOp::norm);
  if (op == ReduceOp::prod && is_floating(x.dtype())) {
    bt::fill_uniform(x, rng, 0.95, 1.05);
  } else if (x.dtype() == DType::u8) {
    bt::fill_uniform(x, rng, 0, 9);
  } else {
    bt::fill_uniform(x, rng, -2.0, 2.0, extreme && (rng() & 1));
  }
  if (nans && is_floating(x.dtype())) {
    std::uniform_int_distribution<int> d(0, 31);
    for (int64_t i = 0; i < x.numel(); ++i)
      if (d(rng) == 0) x.set(i, std::numeric_limits<double>::quiet_NaN());
  }
}

// Tolerance for an output: the dtype's default, widened by the accumulation error of the op over
// n elements in its accumulator (f32 for f32/f16/bf16 inputs, f64 for f64).
bt::Tolerance tolerance(const OpCase& oc, Direction dir, DType out, bool f64_acc, int64_t n) {
  bt::Tolerance t = bt::default_tolerance(out);
  const double eps = f64_acc ? 2.2e-16 : 1.2e-7;
  const double rn = std::sqrt(static_cast<double>(std::max<int64_t>(n, 1)));
  const ReduceOp op = oc.op;
  if (op == ReduceOp::sum || op == ReduceOp::nansum || (op == ReduceOp::norm && oc.p == 1))
    t.atol = std::max(t.atol, 100 * eps * rn);
  if (op == ReduceOp::mean || op == ReduceOp::nanmean) t.atol = std::max(t.atol, 100 * eps / rn);
  if (op == ReduceOp::prod) t.rtol = std::max(t.rtol, 4 * eps * static_cast<double>(n));
  if (op == ReduceOp::var || op == ReduceOp::std || op == ReduceOp::var_mean || op == ReduceOp::logsumexp ||
      op == ReduceOp::norm)
    t.rtol = std::max(t.rtol, 100 * eps), t.atol = std::max(t.atol, 100 * eps);
  if (dir == Direction::backward) t.atol = std::max(t.atol, 100 * eps);
  return t;
}

class GpuReduce : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount == 0): GPU reduce tests skipped";
    ASSERT_EQ(cudaStreamCreateWithFlags(&cs_, cudaStreamNonBlocking), cudaSuccess);
    auto s = Stream::cuda(cs_);
    ASSERT_TRUE(s) << s.status().to_string();
    gpu_ = *s;
  }
  void TearDown() override {
    if (cs_) (void)cudaStreamDestroy(cs_);
  }

  // Runs `d` on the CPU reference and on CUDA with the same inputs; compares every output after
  // runs with poisoned outputs. Returns "" on success, else why.
  std::string compare_plans(const OpCase& oc, const ReduceDescriptor& d, const std::vector<HostTensor>& ins) {
    auto sig = infer_signature(d);
    if (!sig) return "signature: " + sig.status().to_string();
    std::vector<HostTensor> want;
    for (const Operand& o : sig->outputs) want.emplace_back(o.dtype, o.shape, o.strides);
    {
      auto ref = ReducePlan::select(Stream::cpu(), d);
      if (!ref) return "no CPU plan: " + ref.status().to_string();
      ReduceArgs a;
      for (size_t i = 0; i < ins.size(); ++i) a.inputs[i] = ins[i].ref();
      for (size_t i = 0; i < want.size(); ++i) a.outputs[i] = want[i].mut();
      if (Status s = ref->run(Stream::cpu(), {}, a); !s.is_ok()) return "CPU reference failed: " + s.to_string();
    }
    auto plan = ReducePlan::select(gpu_, d);
    if (!plan) return "no CUDA plan for a valid descriptor: " + plan.status().to_string();
    if (plan->sku().backend != "baracuda-cuda") return "expected the CUDA plan, got " + plan->sku().to_string();
    if (!plan->precision_guarantee().deterministic) return "the CUDA plan does not promise determinism";
    const Device dev = gpu_.device();
    std::vector<DeviceBuffer> in_bufs, out_bufs;
    ReduceArgs args;
    for (size_t i = 0; i < ins.size(); ++i) {
      in_bufs.emplace_back(ins[i].storage().size());
      if (!in_bufs.back() || in_bufs.back().upload(ins[i].storage().data(), ins[i].storage().size()) != cudaSuccess)
        return "device allocation/upload failed";
      args.inputs[i] = ins[i].ref_at(in_bufs.back().get(), dev);
    }
    for (size_t i = 0; i < want.size(); ++i) {
      out_bufs.emplace_back(want[i].storage().size());
      if (!out_bufs.back()) return "device allocation failed";
      args.outputs[i] = want[i].mut_at(out_bufs.back().get(), dev);
    }
    DeviceBuffer ws(plan->workspace_size());
    // Group size n, for the tolerance: x's elements per output element (per incoming gradient).
    int64_t m = 1;
    for (int64_t e : sig->outputs[0].shape) m *= e;
    if (d.direction == Direction::backward) m = ins[0].numel();
    const int64_t n = ins.back().numel() / std::max<int64_t>(m, 1);
    std::vector<std::vector<std::byte>> first_bytes;
    for (uint8_t poison : {uint8_t{0xFF}, uint8_t{0x00}}) {
      for (auto& b : out_bufs) (void)b.fill(poison);
      (void)ws.fill(0xFF);  // the plan must not depend on the workspace's contents
      if (Status s = plan->run(gpu_, Workspace{ws.get(), plan->workspace_size()}, args); !s.is_ok())
        return "run failed: " + s.to_string() + " [" + plan->sku().to_string() + "]";
      if (cudaError_t e = cudaStreamSynchronize(cs_); e != cudaSuccess)
        return std::string("kernel failed: ") + cudaGetErrorString(e) + " [" + plan->sku().to_string() + "]";
      for (size_t k = 0; k < want.size(); ++k) {
        HostTensor got = want[k];
        if (out_bufs[k].download(got.storage().data(), got.storage().size()) != cudaSuccess) return "download failed";
        const bool f64_acc = sig->accumulate == DType::f64;
        auto cmp = bt::compare(got, want[k], tolerance(oc, d.direction, got.dtype(), f64_acc, n));
        if (cmp.mismatches) {
          char p[8];
          std::snprintf(p, sizeof p, "0x%02X", poison);
          return "output " + std::to_string(k) + " (poison " + p + "): " + cmp.to_string() + " [" + plan->sku().to_string() + "]";
        }
        // Deterministic: the second run reproduces the first bit for bit.
        std::vector<std::byte> bytes(got.storage().data(), got.storage().data() + got.storage().size());
        if (poison == 0xFF) first_bytes.push_back(std::move(bytes));
        else if (bytes != first_bytes[k]) return "output " + std::to_string(k) + " differs between two runs";
      }
    }
    return "";
  }

  // Forward of one op x dtype over every layout; false if the op refuses the dtype outright.
  bool run_forward(const OpCase& oc, DType dt, bool full) {
    bool any_accepted = false;
    for (const Shape& sh : shapes(full)) {
      for (bool nans : {false, true}) {
        if (nans && (!is_floating(dt) || sh.shape.size() != 3 || sh.strides.size())) continue;
        ReduceDescriptor d = case_descriptor(oc, Direction::forward, dt, sh.shape, sh.strides, sh.axes, sh.keepdim);
        auto sig = infer_signature(d);
        if (!sig) continue;  // refused on every backend (dtype, or an empty group of amax & co.)
        if (!sh.out_strides.empty()) {
          d.outputs = sig->outputs;
          d.outputs[0].strides = sh.out_strides;
        }
        any_accepted = true;
        HostTensor x(dt, sh.shape, sh.strides);
        const std::string seed = oc.name() + std::string(dtype_name(dt)) + sh.label + (nans ? "nan" : "");
        std::mt19937_64 rng(std::hash<std::string>{}(seed));
        fill_input(x, oc.op, nans, rng);
        record(oc.name() + " " + std::string(dtype_name(dt)) + " " + sh.label + (sh.keepdim ? " keepdim" : "") +
                   (nans ? " with NaN" : ""),
               compare_plans(oc, d, {x}));
      }
    }
    return any_accepted;
  }

  // Backward: grads random in [-1, 1] in the signature's dtypes.
  void run_backward(const OpCase& oc, DType dt, bool full) {
    for (const Shape& sh : shapes(full)) {
      if (!sh.out_strides.empty()) continue;
      ReduceDescriptor d = case_descriptor(oc, Direction::backward, dt, sh.shape, sh.strides, sh.axes, sh.keepdim);
      auto sig = infer_signature(d);
      if (!sig) continue;
      std::mt19937_64 rng(std::hash<std::string>{}(oc.name() + std::string(dtype_name(dt)) + sh.label + "bwd"));
      std::vector<HostTensor> ins;
      for (size_t g = 0; g + 1 < sig->inputs.size(); ++g) {
        ins.emplace_back(sig->inputs[g].dtype, sig->inputs[g].shape);
        bt::fill_uniform(ins.back(), rng, -1.0, 1.0);
      }
      ins.emplace_back(dt, sh.shape, sh.strides);
      fill_input(ins.back(), oc.op, false, rng);
      record(oc.name() + ".backward " + std::string(dtype_name(dt)) + " " + sh.label + (sh.keepdim ? " keepdim" : ""),
             compare_plans(oc, d, ins));
    }
  }

  void record(const std::string& name, const std::string& why) {
    if (why.empty()) {
      ++counts().passed;
    } else {
      ++counts().failed;
      ADD_FAILURE() << name << ": " << why;
    }
  }

  // Runs the plan once inside a CUDA graph capture on cs_, then launches the graph and waits:
  // the graph-capture checks (the caller compares the outputs with its eager run).
  void run_captured(const ReducePlan& plan, const Workspace& w, const ReduceArgs& a) {
    cudaGraph_t graph = nullptr;
    ASSERT_EQ(cudaStreamBeginCapture(cs_, cudaStreamCaptureModeGlobal), cudaSuccess);
    Status s = plan.run(gpu_, w, a);
    ASSERT_EQ(cudaStreamEndCapture(cs_, &graph), cudaSuccess);
    ASSERT_OK(s);
    cudaGraphExec_t exec = nullptr;
    const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
    (void)cudaGraphDestroy(graph);
    ASSERT_EQ(inst, cudaSuccess);
    const cudaError_t launched = cudaGraphLaunch(exec, cs_);
    const cudaError_t synced = cudaStreamSynchronize(cs_);
    (void)cudaGraphExecDestroy(exec);
    ASSERT_EQ(launched, cudaSuccess);
    ASSERT_EQ(synced, cudaSuccess);
  }

  Stream gpu_ = Stream::cpu();
  cudaStream_t cs_ = nullptr;
};

TEST_F(GpuReduce, EveryOpEveryDtypeForward) {
  for (const OpCase& oc : op_cases()) {
    for (DType dt : kAllDTypes) {
      // The long / split layouts once per op, in f32 and bf16.
      const bool full = dt == DType::f32 || dt == DType::bf16;
      if (!run_forward(oc, dt, full)) ++counts().not_supported;
    }
  }
}

TEST_F(GpuReduce, EveryOpEveryDtypeBackward) {
  for (const OpCase& oc : op_cases()) {
    if (!reduce_op_info(oc.op).differentiable) continue;
    for (DType dt : kFloatDTypes) run_backward(oc, dt, dt == DType::f32);
  }
}

// ---- The backward's rows fast path (ops/reduce/cuda/rd_bwd_rows.cu) ----
// x and dx collapse to [rows, contiguous group]: one warp per tile of 16-byte vectors, the row's
// gradient and statistics read once per tile. Each case runs under the default (the plan's
// tactic must name "rows-vec16", or "general f64" where the layout is not covered) and under
// BARACUDA_REDUCE_BWD_ENGINE=legacy (always "general f64"), against the CPU reference.

// Sets the engine switch `name` to "legacy" (or unsets it) while alive; restores the old value.
struct LegacyEngineEnv : bt::ScopedEnv {
  LegacyEngineEnv(const char* name, bool legacy) : bt::ScopedEnv(name, legacy ? "legacy" : nullptr) {}
};

// Sets BARACUDA_REDUCE_BWD_ENGINE=legacy (or unsets it) while alive; restores the old value.
struct ReduceBwdEngineEnv : LegacyEngineEnv {
  explicit ReduceBwdEngineEnv(bool legacy) : LegacyEngineEnv("BARACUDA_REDUCE_BWD_ENGINE", legacy) {}
};

struct BwdRowsLayout {
  std::vector<int64_t> shape, strides;
  std::vector<int> axes;
  bool keepdim = false;
  bool rows = true;  // the default plan takes the rows path
  std::string label;
};

std::vector<BwdRowsLayout> bwd_rows_layouts() {
  return {
      {{3, 1000}, {}, {1}, false, true, "rows [3,1000]"},
      {{5, 1001}, {}, {1}, false, true, "rows [5,1001] (unaligned row starts: heads and tails)"},
      {{4, 3, 67}, {}, {2}, true, true, "[4,3,67] {2} keepdim (kept dims merge)"},
      {{4, 5, 40}, {}, {1, 2}, false, true, "[4,5,40] {1,2} (reduced dims merge)"},
      {{3, 5003}, {}, {1}, false, true, "rows [3,5003] (several tiles per row)"},
      {{20011}, {}, {}, false, true, "full [20011] (one row, many tiles)"},
      {{7, 1000}, {1008, 1}, {1}, false, true, "padded rows [7,1000] ld 1008"},
      {{33}, {}, {0}, false, true, "one row of 33"},
      {{40, 64}, {1, 40}, {0}, false, false, "transposed [40,64] {0} (general kernel)"},
      {{6, 31}, {}, {1}, false, false, "short rows [6,31] (general kernel)"},
  };
}

class GpuReduceBwdRows : public GpuReduce {
 protected:
  // One backward case: checks the tactic, then compares with the CPU reference. `fill` writes x.
  void run_case(const OpCase& oc, DType dt, const BwdRowsLayout& l, bool legacy, bool expect_rows,
                const std::function<void(HostTensor&, std::mt19937_64&)>& fill, const std::string& what) {
    ReduceDescriptor d = case_descriptor(oc, Direction::backward, dt, l.shape, l.strides, l.axes, l.keepdim);
    auto sig = infer_signature(d);
    if (!sig) return;
    const std::string name = oc.name() + ".backward " + std::string(dtype_name(dt)) + " " + l.label + what +
                             (legacy ? " (legacy)" : "");
    auto plan = ReducePlan::select(gpu_, d);
    ASSERT_TRUE(plan) << name << ": " << plan.status().to_string();
    const std::string& tactic = plan->sku().tactic;
    if (expect_rows && !legacy) EXPECT_NE(tactic.find("dx: rows-vec16"), std::string::npos) << name << ": " << tactic;
    else EXPECT_NE(tactic.find("dx: general f64"), std::string::npos) << name << ": " << tactic;
    std::mt19937_64 rng(std::hash<std::string>{}(oc.name() + std::string(dtype_name(dt)) + l.label + what));
    std::vector<HostTensor> ins;
    for (size_t g = 0; g + 1 < sig->inputs.size(); ++g) {
      ins.emplace_back(sig->inputs[g].dtype, sig->inputs[g].shape);
      bt::fill_uniform(ins.back(), rng, -1.0, 1.0);
    }
    ins.emplace_back(dt, l.shape, l.strides);
    fill(ins.back(), rng);
    record(name, compare_plans(oc, d, ins));
  }
};

// Every differentiable op (norm for every p, var / std / var_mean with both corrections) x every
// float dtype x every layout, default and legacy; NaN inputs for the NaN-aware selection ops.
TEST_F(GpuReduceBwdRows, EveryOpEveryDtype) {
  for (bool legacy : {false, true}) {
    ReduceBwdEngineEnv env(legacy);
    for (const OpCase& oc : op_cases()) {
      if (!reduce_op_info(oc.op).differentiable) continue;
      const bool nan_aware = oc.op == ReduceOp::sum || oc.op == ReduceOp::mean || oc.op == ReduceOp::nansum ||
                             oc.op == ReduceOp::nanmean || oc.op == ReduceOp::amax || oc.op == ReduceOp::amin ||
                             oc.op == ReduceOp::max || oc.op == ReduceOp::min;
      for (DType dt : kFloatDTypes) {
        for (const BwdRowsLayout& l : bwd_rows_layouts()) {
          for (bool nans : {false, true}) {
            if (nans && !(nan_aware && l.rows)) continue;
            run_case(oc, dt, l, legacy, l.rows,
                     [&](HostTensor& x, std::mt19937_64& rng) { fill_input(x, oc.op, nans, rng); },
                     nans ? " with NaN" : "");
          }
        }
      }
    }
  }
}

// The benchmark's backward cases (bench/reduce_bench.cu: [16384, 16384] reduced over dim 1) take
// the rows path with the expected formula (plan only: nothing runs).
TEST_F(GpuReduceBwdRows, BenchShapesTakeRows) {
  ReduceBwdEngineEnv env(false);
  struct C {
    OpCase oc;
    DType dt;
    const char* kind;
  };
  for (const C& c : {C{{ReduceOp::sum}, DType::bf16, "broadcast"}, C{{ReduceOp::mean}, DType::bf16, "broadcast"},
                     C{{ReduceOp::amax}, DType::bf16, "ties"}, C{{ReduceOp::var, 2.0, 1.0}, DType::bf16, "moments"},
                     C{{ReduceOp::norm, 2.0}, DType::bf16, "scaled"}, C{{ReduceOp::logsumexp}, DType::f32, "exp-shift"}}) {
    ReduceDescriptor d;
    d.op = c.oc.op;
    d.p = c.oc.p;
    d.correction = c.oc.correction;
    d.direction = Direction::backward;
    d.input = Operand::tensor(c.dt, {16384, 16384});
    d.axes = {1};
    auto plan = ReducePlan::select(gpu_, d);
    ASSERT_TRUE(plan) << c.oc.name() << ": " << plan.status().to_string();
    EXPECT_NE(plan->sku().tactic.find(std::string("dx: rows-vec16, ") + c.kind), std::string::npos)
        << c.oc.name() << ": " << plan->sku().to_string();
  }
}

// var / std / var_mean with n - correction <= 0 (the inf / NaN rule) stay on the general kernel.
TEST_F(GpuReduceBwdRows, DegenerateCorrectionUsesGeneralKernel) {
  const BwdRowsLayout l{{3, 40}, {}, {1}, false, false, "rows [3,40]"};
  for (ReduceOp op : {ReduceOp::var, ReduceOp::std, ReduceOp::var_mean})
    for (double c : {40.0, 41.5})
      for (DType dt : {DType::f32, DType::bf16})
        run_case({op, 2.0, c}, dt, l, false, false,
                 [&](HostTensor& x, std::mt19937_64& rng) { fill_input(x, op, false, rng); }, "");
}

// The special-value rows of SpecialValues and SpecialAndScaledRows: without and with infinities.
const std::vector<std::vector<double>>& special_finite_rows() {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  static const std::vector<std::vector<double>> rows = {
      {nan, nan, nan, nan}, {3, 3, 3, 3}, {-0.0, 0.0, -0.0, 0.0}, {0, 0, 0, 0}, {0, 2, 0, 3}, {1, nan, 2, nan}};
  return rows;
}
const std::vector<std::vector<double>>& special_inf_rows() {
  constexpr double inf = kInf, nan = std::numeric_limits<double>::quiet_NaN();
  static const std::vector<std::vector<double>> rows = {
      {1, inf, 2, -inf}, {-inf, -inf, -inf, -inf}, {inf, inf, 1, 1}, {inf, nan, -inf, 1}, {-inf, 2, -inf, 2}};
  return rows;
}

// Rows of special values (the SpecialValues patterns tiled to 40 elements: rows path), and rows
// whose scale sends the arithmetic kinds to the per-row f64 formula (|statistic| > 1e30) or tests
// the f32 formula's accuracy (a mean of 1000 with a small spread: x - mean in two parts).
TEST_F(GpuReduceBwdRows, SpecialAndScaledRows) {
  const std::vector<std::vector<double>>& finite_rows = special_finite_rows();
  const std::vector<std::vector<double>>& inf_rows = special_inf_rows();
  constexpr int64_t kCols = 40;
  for (bool legacy : {false, true}) {
    ReduceBwdEngineEnv env(legacy);
    for (bool with_inf : {false, true}) {
      const auto& rows = with_inf ? inf_rows : finite_rows;
      const BwdRowsLayout l{{static_cast<int64_t>(rows.size()), kCols}, {}, {1}, false, true,
                            with_inf ? "infinity rows" : "special rows"};
      for (DType dt : kFloatDTypes) {
        for (const OpCase& oc : op_cases()) {
          if (!reduce_op_info(oc.op).differentiable) continue;
          const bool moments = oc.op == ReduceOp::var || oc.op == ReduceOp::std || oc.op == ReduceOp::var_mean;
          if (with_inf && (moments || oc.op == ReduceOp::prod)) continue;  // see SpecialValues
          run_case(oc, dt, l, legacy, true,
                   [&](HostTensor& x, std::mt19937_64&) {
                     for (size_t r = 0; r < rows.size(); ++r)
                       for (int64_t c = 0; c < kCols; ++c)
                         x.set(static_cast<int64_t>(r) * kCols + c, rows[r][static_cast<size_t>(c % 4)]);
                   },
                   "");
        }
      }
    }
    // Per-row scales: 1, 1e-17, 1e17 (var 1e34: the f64 formula), and 1000 + [-0.01, 0.01].
    const BwdRowsLayout l{{4, 333}, {}, {1}, false, true, "scaled rows [4,333]"};
    for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
      for (const OpCase& oc : op_cases()) {
        if (!reduce_op_info(oc.op).differentiable || oc.op == ReduceOp::prod) continue;
        if (oc.op == ReduceOp::norm && oc.p == 3) continue;  // |1e17 x|^3 leaves the f32 stats' range
        // bf16 rows at 1e17 hold tied maxima; their lse = max + ln 2 rounds to max in the f32
        // statistic (PyTorch's statistic is the bf16 output: the same), so each tie gets dy where
        // the f64 reference gives dy / 2. Both engines agree on it; the case tests nothing of theirs.
        if (oc.op == ReduceOp::logsumexp && dt == DType::bf16) continue;
        run_case(oc, dt, l, legacy, true,
                 [&](HostTensor& x, std::mt19937_64& rng) {
                   std::uniform_real_distribution<double> u(-2.0, 2.0);
                   const double scale[4] = {1.0, 1e-17, 1e17, 0.005};
                   const double offset[4] = {0.0, 0.0, 0.0, 1000.0};
                   for (int64_t r = 0; r < 4; ++r)
                     for (int64_t c = 0; c < 333; ++c) x.set(r * 333 + c, offset[r] + scale[r] * u(rng));
                 },
                 "");
      }
    }
  }
}

// sum / nansum / prod / mean with dtype= (integer math on floats, f64 math on f32, ...).
TEST_F(GpuReduce, OutputDtypeOverride) {
  struct C {
    ReduceOp op;
    DType in, out;
  };
  for (C c : {C{ReduceOp::sum, DType::f32, DType::f64}, C{ReduceOp::sum, DType::i32, DType::f32},
              C{ReduceOp::sum, DType::f32, DType::i64}, C{ReduceOp::mean, DType::i16, DType::f32},
              C{ReduceOp::mean, DType::bf16, DType::f64}, C{ReduceOp::prod, DType::i8, DType::f64},
              C{ReduceOp::norm, DType::f16, DType::f64}, C{ReduceOp::nanmean, DType::f32, DType::f16}}) {
    for (const Shape& sh : shapes(false)) {
      ReduceDescriptor d;
      d.op = c.op;
      d.input = Operand::tensor(c.in, sh.shape, sh.strides);
      d.axes = sh.axes;
      d.keepdim = sh.keepdim;
      d.output_dtype = c.out;
      if (!infer_signature(d)) continue;
      HostTensor x(c.in, sh.shape, sh.strides);
      std::mt19937_64 rng(std::hash<std::string>{}(sh.label + std::string(dtype_name(c.in)) + std::string(dtype_name(c.out))));
      fill_input(x, c.op, false, rng);
      record(std::string(reduce_op_info(c.op).name) + " " + std::string(dtype_name(c.in)) + "->" +
                 std::string(dtype_name(c.out)) + " " + sh.label,
             compare_plans({c.op}, d, {x}));
    }
  }
}

// Special values: NaN-only rows, ties everywhere, -0.0 vs 0.0, zeros (every op), and rows with
// infinities. With infinities two backward formulas legitimately differ from the reference, which
// the test skips: var/std/var_mean backward, and prod's backward (product / x, PyTorch's formula,
// is NaN at an infinite x; the reference multiplies the others). The forward moments must match:
// the mean falls back to sum / n where Welford's running mean met inf - inf (PyTorch gives inf).
TEST_F(GpuReduce, SpecialValues) {
  const std::vector<std::vector<double>>& finite_rows = special_finite_rows();
  const std::vector<std::vector<double>>& inf_rows = special_inf_rows();
  for (bool with_inf : {false, true}) {
    const auto& rows = with_inf ? inf_rows : finite_rows;
    for (DType dt : kFloatDTypes) {
      HostTensor x(dt, {static_cast<int64_t>(rows.size()), 4});
      for (size_t r = 0; r < rows.size(); ++r)
        for (size_t c = 0; c < 4; ++c) x.set(static_cast<int64_t>(r * 4 + c), rows[r][c]);
      for (const OpCase& oc : op_cases()) {
        for (Direction dir : {Direction::forward, Direction::backward}) {
          const bool moments = oc.op == ReduceOp::var || oc.op == ReduceOp::std || oc.op == ReduceOp::var_mean;
          if (with_inf && dir == Direction::backward && (moments || oc.op == ReduceOp::prod)) continue;
          ReduceDescriptor d;
          d.op = oc.op;
          d.p = oc.p;
          d.correction = oc.correction;
          d.direction = dir;
          d.input = x.operand();
          d.axes = {1};
          auto sig = infer_signature(d);
          if (!sig) continue;
          std::vector<HostTensor> ins;
          for (size_t g = 0; g + 1 < sig->inputs.size(); ++g) {
            ins.emplace_back(sig->inputs[g].dtype, sig->inputs[g].shape);
            for (int64_t i = 0; i < ins.back().numel(); ++i) ins.back().set(i, 0.5 + 0.25 * static_cast<double>(i));
          }
          ins.push_back(x);
          record(oc.name() + (dir == Direction::backward ? ".backward " : " ") + std::string(dtype_name(dt)) +
                     (with_inf ? " infinities" : " special values"),
                 compare_plans(oc, d, ins));
        }
      }
    }
  }
}

// The packed extreme path (ExtremeOp::add_raw: NaN-propagating packed max/min per 16-byte pack,
// the winning pack's position resolved once per thread) under every row tactic: warp per row,
// block per row, rows split across blocks. Each row gets planted values: the extreme at a random
// position and again later in the same pack and in later packs (ties: the first position wins),
// NaNs (NaN is the extreme: the first NaN wins), zeros of both signs above negative values, or
// nothing (bf16 / f16 draws tie often on their own).
TEST_F(GpuReduce, PlantedExtremesEveryRowTactic) {
  struct L {
    int64_t rows, cols;
    const char* what;
  };
  const L layouts[] = {{64, 520, "warp per row"}, {5, 4099, "block per row"}, {2, 150001, "split rows"}};
  const ReduceOp ops[] = {ReduceOp::argmax, ReduceOp::argmin, ReduceOp::max,
                          ReduceOp::min,    ReduceOp::amax,   ReduceOp::amin};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : kFloatDTypes) {
    for (const L& l : layouts) {
      HostTensor x(dt, {l.rows, l.cols});
      std::mt19937_64 rng(std::hash<std::string>{}(std::string(dtype_name(dt)) + l.what));
      bt::fill_uniform(x, rng, -2.0, 2.0);
      std::uniform_int_distribution<int64_t> col(0, l.cols - 1);
      for (int64_t r = 0; r < l.rows; ++r) {
        const int64_t base = r * l.cols, hi = col(rng), lo = col(rng);
        auto plant = [&](int64_t c, double v) {
          if (c < l.cols) x.set(base + c, v);
        };
        switch (r % 4) {
          case 0:  // ties of the extreme: same pack, next pack, far away
            for (int64_t d : {int64_t{0}, int64_t{1}, int64_t{9}, int64_t{333}}) plant(hi + d, 3.0);
            for (int64_t d : {int64_t{0}, int64_t{2}, int64_t{8}, int64_t{1000}}) plant(lo + d, -3.0);
            break;
          case 1:  // NaNs after and before a planted maximum
            plant(hi, 3.0);
            plant(lo, nan);
            plant(lo + 5, nan);
            plant(lo + 77, nan);
            break;
          case 2:  // negative values with zeros of both signs: -0.0 and 0.0 tie
            for (int64_t c = 0; c < l.cols; ++c) x.set(base + c, -1.0 - static_cast<double>(c % 7) / 8);
            plant(hi, -0.0);
            plant(hi + 2, 0.0);
            plant(hi + 11, -0.0);
            break;
          default: break;  // as drawn
        }
      }
      for (ReduceOp op : ops) {
        ReduceDescriptor d;
        d.op = op;
        d.input = x.operand();
        d.axes = {1};
        record(std::string(reduce_op_info(op).name) + " " + std::string(dtype_name(dt)) + " planted, " + l.what,
               compare_plans({op}, d, {x}));
      }
    }
  }
}

// Many long rows take a warp per row (no block-wide synchronization per row) when every
// resident warp gets the same number of rows: 2 x (SMs x 32) rows here, each longer than the
// 4096 bytes below which rows always take a warp. Checks the tactic and the results of the ops
// whose row path changed (plain sum, logsumexp, the packed extremes) and of the others.
TEST_F(GpuReduce, ManyLongRowsWarpPerRow) {
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, gpu_.device().ordinal), cudaSuccess);
  const int64_t rows = int64_t{2} * sms * 32;  // kResidentBlocks (4) x 8 warps per SM, twice
  for (DType dt : {DType::bf16, DType::f32}) {
    const int64_t cols = dt == DType::bf16 ? 2056 : 1030;  // 4112 / 4120 bytes
    HostTensor x(dt, {rows, cols});
    std::mt19937_64 rng(std::hash<std::string>{}(std::string("many long rows ") + std::string(dtype_name(dt))));
    bt::fill_uniform(x, rng, -2.0, 2.0);
    for (int64_t i = 0; i < x.numel(); i += 4099) x.set(i, std::numeric_limits<double>::quiet_NaN());
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::nansum, ReduceOp::logsumexp, ReduceOp::var_mean,
                        ReduceOp::argmax, ReduceOp::amin, ReduceOp::norm}) {
      ReduceDescriptor d;
      d.op = op;
      d.input = x.operand();
      d.axes = {1};
      auto plan = ReducePlan::select(gpu_, d);
      ASSERT_TRUE(plan) << plan.status().to_string();
      EXPECT_EQ(plan->sku().layout.rfind("row-vec16, warp", 0), 0u) << ReduceFamily::describe(d) << ": " << plan->sku().to_string();
      record(std::string(reduce_op_info(op).name) + " " + std::string(dtype_name(dt)) + " many long rows",
             compare_plans({op}, d, {x}));
    }
  }
}

// run() argument errors on a CUDA stream: a too-small or null workspace, host pointers, a tensor
// on the CPU device, a null pointer, a wrong output dtype or shape.
TEST_F(GpuReduce, RunErrorsOnCudaStream) {
  ReduceDescriptor d;
  d.op = ReduceOp::sum;
  d.input = Operand::tensor(DType::f32, {1 << 20});  // a full reduction: split, needs a workspace
  auto plan = ReducePlan::select(gpu_, d);
  ASSERT_TRUE(plan) << plan.status().to_string();
  ASSERT_GT(plan->workspace_size(), 0u);
  const Device dev = gpu_.device();
  DeviceBuffer x(sizeof(float) << 20), y(sizeof(float)), ws(plan->workspace_size());
  ASSERT_EQ(x.fill(0), cudaSuccess);
  auto args = [&] {
    ReduceArgs a;
    a.inputs[0] = *make_tensor_ref(x.get(), DType::f32, {1 << 20}, dev);
    a.outputs[0] = *make_tensor_mut(y.get(), DType::f32, std::span<const int64_t>{}, {}, dev);
    return a;
  };
  const Workspace good{ws.get(), plan->workspace_size()};
  EXPECT_OK(plan->run(gpu_, good, args()));
  EXPECT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);

  Status s = plan->run(gpu_, Workspace{ws.get(), plan->workspace_size() - 1}, args());
  EXPECT_EQ(s.code(), StatusCode::workspace_too_small) << s.to_string();
  s = plan->run(gpu_, Workspace{nullptr, plan->workspace_size()}, args());
  EXPECT_FALSE(s.is_ok());
  std::vector<float> host_x(1 << 20, 1.0f);
  float host_y = 0;
  ReduceArgs a = args();
  a.inputs[0] = *make_tensor_ref(host_x.data(), DType::f32, {1 << 20});  // a CPU tensor
  s = plan->run(gpu_, good, a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find("input 0"), std::string::npos) << s.to_string();
  a = args();
  a.outputs[0] = *make_tensor_mut(&host_y, DType::f32, std::span<const int64_t>{});
  s = plan->run(gpu_, good, a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  a = args();
  a.inputs[0].data = nullptr;
  s = plan->run(gpu_, good, a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  a = args();
  a.outputs[0].dtype = DType::f16;
  EXPECT_FALSE(plan->run(gpu_, good, a).is_ok());
  a = args();
  a.inputs[0] = *make_tensor_ref(x.get(), DType::f32, {1 << 19}, dev);
  EXPECT_FALSE(plan->run(gpu_, good, a).is_ok());
  a = args();
  a.outputs[1] = a.outputs[0];
  EXPECT_FALSE(plan->run(gpu_, good, a).is_ok());
  EXPECT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
}

// ---- Forward fast paths (BARACUDA_REDUCE_FWD; rd_launch_logical.cu, NormPackedOp, the row
// engine over runs). Each case runs under the default (the fast path, named in sku().tactic) and
// under BARACUDA_REDUCE_FWD=legacy (the engines they replaced), against the CPU reference.

// Sets BARACUDA_REDUCE_FWD for the plans selected in its scope (the plan reads it at select time).
struct ReduceFwdEnv : LegacyEngineEnv {
  explicit ReduceFwdEnv(bool legacy) : LegacyEngineEnv("BARACUDA_REDUCE_FWD", legacy) {}
};

struct FastCase {
  OpCase oc;
  DType dt;
  std::vector<int64_t> shape, strides;
  std::vector<int> axes;
  bool keepdim = false;
};

std::string describe_fast(const FastCase& c, bool legacy) {
  std::string s = c.oc.name() + " " + std::string(dtype_name(c.dt)) + " [";
  for (size_t i = 0; i < c.shape.size(); ++i) s += (i ? "," : "") + std::to_string(c.shape[i]);
  s += "] axes {";
  for (size_t i = 0; i < c.axes.size(); ++i) s += (i ? "," : "") + std::to_string(c.axes[i]);
  s += "}";
  if (!c.strides.empty()) s += " strided";
  if (c.keepdim) s += " keepdim";
  return s + (legacy ? " (legacy)" : "");
}

ReduceDescriptor fast_descriptor(const FastCase& c) {
  return case_descriptor(c.oc, Direction::forward, c.dt, c.shape, c.strides, c.axes, c.keepdim);
}

// Byte inputs for any / all / count_nonzero: mostly nonzero (so some groups are all-true), with
// zeros at a rate that differs per seed, and nonzero values that are not 1 where the dtype can
// hold them (-128 and 255: a sign bit or every bit set must still count as true).
void fill_bytes_logical(HostTensor& x, std::mt19937_64& rng) {
  const int64_t zero_every = 50 + static_cast<int64_t>(rng() % 5000);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const uint64_t r = rng();
    double v = r % zero_every == 0 ? 0.0 : 1.0;
    if (v != 0 && x.dtype() == DType::i8 && (r >> 20) % 3 == 0) v = -128;
    if (v != 0 && x.dtype() == DType::u8 && (r >> 20) % 3 == 0) v = 255;
    x.set(i, v);
  }
}

// Runs every case under the default and under the legacy switch: `tactic` must appear in the
// default plan's sku().layout + tactic, "legacy" in the legacy plan's tactic.
class GpuReduceFastFwd : public GpuReduce {
 protected:
  using Filler = std::function<void(HostTensor&, std::mt19937_64&)>;
  void run_cases(const std::vector<FastCase>& cases, const std::string& tactic, const Filler& fill) {
    for (bool legacy : {false, true}) {
      ReduceFwdEnv env(legacy);
      for (const FastCase& c : cases) {
        const ReduceDescriptor d = fast_descriptor(c);
        const std::string name = describe_fast(c, legacy);
        auto plan = ReducePlan::select(gpu_, d);
        ASSERT_TRUE(plan) << name << ": " << plan.status().to_string();
        const std::string where = plan->sku().layout + " / " + plan->sku().tactic;
        if (legacy) EXPECT_NE(plan->sku().tactic.find("legacy"), std::string::npos) << name << ": " << where;
        else EXPECT_NE(where.find(tactic), std::string::npos) << name << ": " << where;
        HostTensor x(c.dt, c.shape, c.strides);
        std::mt19937_64 rng(std::hash<std::string>{}(describe_fast(c, false)));
        fill(x, rng);
        record(name, compare_plans(c.oc, d, {x}));
      }
    }
  }
};

// any / all / count_nonzero of bool, u8, i8 read as raw bytes: a full reduction split over blocks
// (odd length: an unaligned tail), warp-per-row and block-per-row rows of odd length (unaligned
// row starts), vector and strided columns, a strided (non-unit) row view.
TEST_F(GpuReduceFastFwd, ByteLogical) {
  std::vector<FastCase> cases;
  for (ReduceOp op : {ReduceOp::any, ReduceOp::all, ReduceOp::count_nonzero})
    for (DType dt : {DType::boolean, DType::u8, DType::i8}) {
      cases.push_back({{op}, dt, {1000003}, {}, {}});
      cases.push_back({{op}, dt, {37, 4133}, {}, {1}});
      cases.push_back({{op}, dt, {3, 100001}, {}, {1}});
      cases.push_back({{op}, dt, {5, 7, 33}, {}, {0, 2}, true});
      cases.push_back({{op}, dt, {999, 40}, {}, {0}});
      cases.push_back({{op}, dt, {999, 33}, {}, {0}});
      cases.push_back({{op}, dt, {9, 50}, {100, 2}, {1}});
      cases.push_back({{op}, dt, {4, 0}, {}, {1}});
    }
  auto fill = [](HostTensor& x, std::mt19937_64& rng) { fill_bytes_logical(x, rng); };
  run_cases(cases, "byte-logical", fill);
}

// vector_norm p = 1, 2, inf through NormPackedOp: warp and block per row, split
// rows, a split full reduction; NaN and +-inf planted in some rows (a NaN row is NaN, an inf row
// is inf; NaN wins over inf).
TEST_F(GpuReduceFastFwd, PackedNorm) {
  std::vector<FastCase> cases;
  for (double p : {1.0, 2.0, kInf})
    for (DType dt : kFloatDTypes) {
      OpCase oc{ReduceOp::norm, p};
      cases.push_back({oc, dt, {37, 4133}, {}, {1}});
      cases.push_back({oc, dt, {3, 100001}, {}, {1}});
      cases.push_back({oc, dt, {1000003}, {}, {}});
      cases.push_back({oc, dt, {64, 1000}, {}, {1}});
    }
  auto fill = [](HostTensor& x, std::mt19937_64& rng) {
    bt::fill_uniform(x, rng, -2.0, 2.0, (rng() & 1) != 0);
    if (x.shape().size() != 2 || x.shape()[0] != 64) return;
    const int64_t n = x.shape()[1];
    const double nan = std::numeric_limits<double>::quiet_NaN();
    // Row 1: a NaN; row 2: +inf; row 3: -inf and NaN; row 4: a NaN in the last (tail) element;
    // row 5: the largest |x| in the first element.
    x.set(1 * n + 517, nan);
    x.set(2 * n + 3, kInf);
    x.set(3 * n + 10, -kInf);
    x.set(3 * n + 900, nan);
    x.set(4 * n + n - 1, nan);
    x.set(5 * n, -7.5);
  };
  run_cases(cases, "packed-norm", fill);
}

// Groups of contiguous runs (innermost reduced dim unit-stride, reduced dims that do not merge)
// through the row engine a warp per run: odd run lengths (unaligned run starts), block per row,
// warp per row, split groups, two kept dims, keepdim, a padded (strided) input, and the ops whose
// state carries positions (argmax: ties resolved across runs) or NaN counts.
TEST_F(GpuReduceFastFwd, Runs) {
  std::vector<FastCase> cases;
  const OpCase ops[] = {{ReduceOp::sum},        {ReduceOp::mean},       {ReduceOp::nansum}, {ReduceOp::amax},
                        {ReduceOp::argmax},     {ReduceOp::min},        {ReduceOp::norm, 2.0}, {ReduceOp::var},
                        {ReduceOp::logsumexp},  {ReduceOp::prod}};
  for (const OpCase& oc : ops)
    for (DType dt : kFloatDTypes) {
      cases.push_back({oc, dt, {5, 7, 1031}, {}, {0, 2}});
      cases.push_back({oc, dt, {3, 4, 2048}, {}, {0, 2}, true});
      cases.push_back({oc, dt, {40, 3, 1024}, {}, {0, 2}});
      cases.push_back({oc, dt, {2, 3, 4, 1030}, {}, {1, 3}});
      cases.push_back({oc, dt, {4, 6, 1100}, {6 * 1200, 1200, 1}, {0, 2}});
    }
  for (ReduceOp op : {ReduceOp::any, ReduceOp::all, ReduceOp::count_nonzero}) {
    cases.push_back({{op}, DType::boolean, {3, 5, 2500}, {}, {0, 2}});
    cases.push_back({{op}, DType::u8, {7, 2, 2049}, {}, {0, 2}});
  }
  auto fill = [](HostTensor& x, std::mt19937_64& rng) {
    if (!is_floating(x.dtype())) return fill_bytes_logical(x, rng);
    bt::fill_uniform(x, rng, -2.0, 2.0, (rng() & 1) != 0);  // integer-valued half the time: ties
    if (rng() % 3 != 0) return;
    for (int k = 0; k < 4; ++k) x.set(static_cast<int64_t>(rng() % static_cast<uint64_t>(x.numel())),
                                      std::numeric_limits<double>::quiet_NaN());
  };
  // prod over ~10^4 elements of [-2, 2] over/underflows; keep it to [0.999, 1.001].
  std::vector<FastCase> prod_cases, other_cases;
  for (const FastCase& c : cases) (c.oc.op == ReduceOp::prod ? prod_cases : other_cases).push_back(c);
  run_cases(other_cases, "row-runs", fill);
  auto fill_prod = [](HostTensor& x, std::mt19937_64& rng) { bt::fill_uniform(x, rng, 0.999, 1.001); };
  run_cases(prod_cases, "row-runs", fill_prod);
}

// The classification behind the speed: which engine each layout gets (the SKU's layout names it)
// and whether a long group is split across blocks.
TEST_F(GpuReduce, EngineSelection) {
  struct C {
    ReduceOp op;
    DType dt;
    std::vector<int64_t> shape, strides;
    std::vector<int> axes;
    const char* layout;  // a prefix of sku().layout
    bool split;          // tactic "1 split(s)" or more
  };
  const std::vector<C> cases = {
      {ReduceOp::sum, DType::bf16, {int64_t{1} << 28}, {}, {}, "row-vec16, block", true},
      // 16384 long rows: enough for every resident warp of 132 SMs (4 rounds, 97% busy).
      {ReduceOp::sum, DType::bf16, {16384, 16384}, {}, {1}, "row-vec16, warp", false},
      {ReduceOp::sum, DType::bf16, {16384, 16384}, {}, {0}, "column-vec", true},
      {ReduceOp::argmax, DType::bf16, {16384, 16384}, {}, {1}, "row-vec16, warp", false},
      {ReduceOp::var_mean, DType::f32, {16384, 16384}, {}, {1}, "row-vec16, warp", false},
      // 1000 long rows: too few for a warp each, enough for a block each.
      {ReduceOp::sum, DType::bf16, {1000, 16384}, {}, {1}, "row-vec16, block", false},
      {ReduceOp::logsumexp, DType::f32, {16384, 128}, {}, {1}, "row-vec16, warp", false},
      {ReduceOp::logsumexp, DType::f32, {16384, 16384}, {}, {1}, "row-vec16, warp", false},
      {ReduceOp::amax, DType::f32, {8, 64, 128}, {}, {0, 2}, "strided", true},  // 64 outputs: split the groups
      {ReduceOp::sum, DType::f32, {64, 128}, {1, 64}, {0}, "row-vec16", false},  // a transposed view: rows again
      {ReduceOp::mean, DType::f16, {2, 3, 4096}, {}, {0, 1}, "column-vec", false},
  };
  for (const C& c : cases) {
    ReduceDescriptor d;
    d.op = c.op;
    d.input = Operand::tensor(c.dt, c.shape, c.strides);
    d.axes = c.axes;
    auto plan = ReducePlan::select(gpu_, d);
    ASSERT_TRUE(plan) << ReduceFamily::describe(d) << ": " << plan.status().to_string();
    const KernelSku& sku = plan->sku();
    EXPECT_EQ(sku.layout.rfind(c.layout, 0), 0u) << ReduceFamily::describe(d) << ": " << sku.to_string();
    EXPECT_EQ(sku.tactic.rfind("1 split", 0) != 0, c.split) << ReduceFamily::describe(d) << ": " << sku.to_string();
    EXPECT_EQ(plan->workspace_size() > 0, c.split) << ReduceFamily::describe(d);
    EXPECT_TRUE(plan->precision_guarantee().deterministic);
    EXPECT_EQ(plan->precision_guarantee().accumulator, c.dt == DType::f64 ? DType::f64 : DType::f32);
  }
}

// The plan records the SM count at plan time and never allocates: a run inside CUDA graph
// capture must succeed and the replayed graph must reproduce the eager result.
TEST_F(GpuReduce, GraphCapture) {
  ReduceDescriptor d;
  d.op = ReduceOp::var_mean;
  d.input = Operand::tensor(DType::bf16, {4, 50000});
  d.axes = {1};
  auto plan = ReducePlan::select(gpu_, d);
  ASSERT_TRUE(plan) << plan.status().to_string();
  HostTensor x(DType::bf16, {4, 50000});
  std::mt19937_64 rng(7);
  bt::fill_uniform(x, rng, -2, 2);
  const Device dev = gpu_.device();
  DeviceBuffer xb(x.storage().size()), vb(8), mb(8), ws(plan->workspace_size());
  ASSERT_EQ(xb.upload(x.storage().data(), x.storage().size()), cudaSuccess);
  ReduceArgs a;
  a.inputs[0] = x.ref_at(xb.get(), dev);
  a.outputs[0] = *make_tensor_mut(vb.get(), DType::bf16, {4}, dev);
  a.outputs[1] = *make_tensor_mut(mb.get(), DType::bf16, {4}, dev);
  const Workspace w{ws.get(), plan->workspace_size()};
  ASSERT_OK(plan->run(gpu_, w, a));
  ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
  uint16_t eager[8], replay[8];
  ASSERT_EQ(vb.download(eager, 8), cudaSuccess);
  ASSERT_EQ(mb.download(eager + 4, 8), cudaSuccess);
  ASSERT_EQ(vb.fill(0), cudaSuccess);
  ASSERT_EQ(mb.fill(0), cudaSuccess);
  ASSERT_NO_FATAL_FAILURE(run_captured(*plan, w, a));
  ASSERT_EQ(vb.download(replay, 8), cudaSuccess);
  ASSERT_EQ(mb.download(replay + 4, 8), cudaSuccess);
  EXPECT_EQ(std::memcmp(eager, replay, sizeof eager), 0);
}

// ---- BARACUDA_PDL: every reduce kernel as a programmatic dependent launch (sm_90+ default) ----
// PDL changes only when a kernel starts (each waits for the previous grid in-kernel), so each case
// must match the CPU reference and be bitwise equal to BARACUDA_PDL=0's plain launches; the tactic
// names it exactly on an sm_90+ device with BARACUDA_PDL=1; a captured graph with the
// programmatic edges replays to the same bits.

// Sets BARACUDA_PDL to "1" or "0" while alive; restores the old value.
struct PdlEnv : bt::ScopedEnv {
  explicit PdlEnv(bool on) : bt::ScopedEnv("BARACUDA_PDL", on ? "1" : "0") {}
};

constexpr const char* kPdlTactic = ", programmatic dependent launch";

class GpuReducePdl : public GpuReduce {
 protected:
  // The outputs' bytes of one run of d's CUDA plan (selected under the current environment) on
  // x (and the incoming gradients before it, backward); "" in `err` on success.
  std::vector<std::byte> output_bytes(const ReduceDescriptor& d, const std::vector<HostTensor>& ins, std::string& err) {
    std::vector<std::byte> bytes;
    auto sig = infer_signature(d);
    auto plan = ReducePlan::select(gpu_, d);
    if (!sig || !plan) {
      err = "no signature or plan";
      return bytes;
    }
    const Device dev = gpu_.device();
    std::vector<DeviceBuffer> in_bufs, out_bufs;
    ReduceArgs args;
    for (size_t i = 0; i < ins.size(); ++i) {
      in_bufs.emplace_back(ins[i].storage().size());
      if (!in_bufs.back() || in_bufs.back().upload(ins[i].storage().data(), ins[i].storage().size()) != cudaSuccess) {
        err = "device allocation/upload failed";
        return bytes;
      }
      args.inputs[i] = ins[i].ref_at(in_bufs.back().get(), dev);
    }
    std::vector<HostTensor> outs;
    for (const Operand& o : sig->outputs) outs.emplace_back(o.dtype, o.shape, o.strides);
    for (size_t i = 0; i < outs.size(); ++i) {
      out_bufs.emplace_back(outs[i].storage().size());
      (void)out_bufs.back().fill(0xFF);
      args.outputs[i] = outs[i].mut_at(out_bufs.back().get(), dev);
    }
    DeviceBuffer ws(plan->workspace_size());
    if (Status s = plan->run(gpu_, Workspace{ws.get(), plan->workspace_size()}, args); !s.is_ok()) {
      err = "run failed: " + s.to_string();
      return bytes;
    }
    if (cudaError_t e = cudaStreamSynchronize(cs_); e != cudaSuccess) {
      err = std::string("kernel failed: ") + cudaGetErrorString(e);
      return bytes;
    }
    for (size_t i = 0; i < outs.size(); ++i) {
      const size_t at = bytes.size(), n = outs[i].storage().size();
      bytes.resize(at + n);
      if (out_bufs[i].download(bytes.data() + at, n) != cudaSuccess) err = "download failed";
    }
    return bytes;
  }

  // One case under BARACUDA_PDL=0 and =1: both against the CPU reference, the PDL plan's tactic
  // naming it on sm_90+, and the two results bitwise equal. `split`: whether the forward is split.
  void run_pdl_case(const OpCase& oc, const ReduceDescriptor& d, const std::vector<HostTensor>& ins, bool split,
                    const std::string& name) {
    std::vector<std::byte> bytes[2];
    for (bool pdl : {false, true}) {
      PdlEnv env(pdl);
      auto plan = ReducePlan::select(gpu_, d);
      ASSERT_TRUE(plan) << name << ": " << plan.status().to_string();
      const std::string& tactic = plan->sku().tactic;
      EXPECT_EQ(tactic.find(kPdlTactic) != std::string::npos, pdl && gpu_.device().sm >= 90)
          << name << (pdl ? " (PDL)" : "") << ": " << plan->sku().to_string();
      if (d.direction == Direction::forward) {
        EXPECT_EQ(tactic.rfind("1 split", 0) != 0, split) << name << ": " << plan->sku().to_string();
      }
      record(name + (pdl ? " (PDL)" : ""), compare_plans(oc, d, ins));
      std::string err;
      bytes[pdl] = output_bytes(d, ins, err);
      ASSERT_TRUE(err.empty()) << name << (pdl ? " (PDL)" : "") << ": " << err;
    }
    EXPECT_TRUE(bytes[0] == bytes[1]) << name << ": the PDL finalize differs from the default";
  }
};

// sum / mean / norm / argmax / var_mean, f32 and bf16: a large flat tensor (a split full
// reduction), long rows split across blocks, tall columns split along y; rows that are not split
// (no finalize); and a stats-mode backward whose forward is split.
TEST_F(GpuReducePdl, SplitReductionsMatchDefaultBitwise) {
  struct C {
    std::vector<int64_t> shape;
    std::vector<int> axes;
    bool split;
    const char* label;
  };
  const C layouts[] = {
      {{(int64_t{1} << 22) + 3}, {}, true, "flat [2^22+3]"},
      {{3, 100001}, {1}, true, "rows [3,100001] (split)"},
      {{20000, 16}, {0}, true, "tall columns [20000,16] (split)"},
      {{64, 1000}, {1}, false, "rows [64,1000] (not split)"},
  };
  const OpCase ops[] = {{ReduceOp::sum}, {ReduceOp::mean}, {ReduceOp::norm, 2.0}, {ReduceOp::argmax},
                        {ReduceOp::var_mean}};
  for (const OpCase& oc : ops)
    for (DType dt : {DType::f32, DType::bf16})
      for (const C& l : layouts) {
        const ReduceDescriptor d = case_descriptor(oc, Direction::forward, dt, l.shape, {}, l.axes, false);
        const std::string name = oc.name() + " " + std::string(dtype_name(dt)) + " " + l.label;
        HostTensor x(dt, l.shape);
        std::mt19937_64 rng(std::hash<std::string>{}(name + "pdl"));
        fill_input(x, oc.op, false, rng);
        ASSERT_NO_FATAL_FAILURE(run_pdl_case(oc, d, {x}, l.split, name));
      }
  // Backward: the statistics come from a split forward (its finalize under PDL), then dx.
  for (const OpCase& oc : {OpCase{ReduceOp::norm, 2.0}, OpCase{ReduceOp::var}}) {
    const ReduceDescriptor d = case_descriptor(oc, Direction::backward, DType::f32, {100003}, {}, {}, false);
    auto sig = infer_signature(d);
    ASSERT_TRUE(sig) << sig.status().to_string();
    std::mt19937_64 rng(std::hash<std::string>{}(oc.name() + "pdl bwd"));
    std::vector<HostTensor> ins;
    for (size_t g = 0; g + 1 < sig->inputs.size(); ++g) {
      ins.emplace_back(sig->inputs[g].dtype, sig->inputs[g].shape);
      bt::fill_uniform(ins.back(), rng, -1.0, 1.0);
    }
    ins.emplace_back(DType::f32, std::vector<int64_t>{100003});
    fill_input(ins.back(), oc.op, false, rng);
    ASSERT_NO_FATAL_FAILURE(run_pdl_case(oc, d, ins, true, oc.name() + ".backward f32 full [100003] (split)"));
  }
}

// A PDL finalize inside CUDA graph capture (a programmatic edge): the replay reproduces the eager
// result, which equals the default launch's.
TEST_F(GpuReducePdl, GraphCapture) {
  ReduceDescriptor d;
  d.op = ReduceOp::norm;
  d.p = 2.0;
  d.input = Operand::tensor(DType::f32, {(int64_t{1} << 22) + 3});
  HostTensor x(DType::f32, {(int64_t{1} << 22) + 3});
  std::mt19937_64 rng(11);
  bt::fill_uniform(x, rng, -2, 2);
  std::string err;
  std::vector<std::byte> want;
  {
    PdlEnv env(false);
    want = output_bytes(d, {x}, err);
    ASSERT_TRUE(err.empty()) << err;
  }
  PdlEnv env(true);
  auto plan = ReducePlan::select(gpu_, d);
  ASSERT_TRUE(plan) << plan.status().to_string();
  EXPECT_EQ(plan->sku().tactic.find(kPdlTactic) != std::string::npos, gpu_.device().sm >= 90) << plan->sku().to_string();
  const Device dev = gpu_.device();
  DeviceBuffer xb(x.storage().size()), yb(4), ws(plan->workspace_size());
  ASSERT_EQ(xb.upload(x.storage().data(), x.storage().size()), cudaSuccess);
  ReduceArgs a;
  a.inputs[0] = x.ref_at(xb.get(), dev);
  a.outputs[0] = *make_tensor_mut(yb.get(), DType::f32, std::span<const int64_t>{}, {}, dev);
  const Workspace w{ws.get(), plan->workspace_size()};
  ASSERT_OK(plan->run(gpu_, w, a));
  ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
  std::byte eager[4], replay[4];
  ASSERT_EQ(yb.download(eager, 4), cudaSuccess);
  ASSERT_EQ(want.size(), 4u);
  EXPECT_EQ(std::memcmp(eager, want.data(), 4), 0) << "the PDL run differs from the default";
  ASSERT_EQ(yb.fill(0), cudaSuccess);
  ASSERT_NO_FATAL_FAILURE(run_captured(*plan, w, a));
  ASSERT_EQ(yb.download(replay, 4), cudaSuccess);
  EXPECT_EQ(std::memcmp(eager, replay, 4), 0) << "the graph replay differs from the eager run";
}

}  // namespace
