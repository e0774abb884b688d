// Programmatic dependent launch (BARACUDA_PDL, on by default on sm_90+; kernels/pdl.cuh): every
// kernel of softmax, the norms (forward and backward), reduce and loss begins by waiting for the previous
// grid on the stream, then lets the next one launch. PDL may change only when a kernel starts, so:
//   * one plan's outputs with PDL on are bitwise those with BARACUDA_PDL=0 (plain launches);
//   * a chain of plans where each reads the previous one's output, queued several times without
//     synchronizing, matches the CPU reference and the plain launches bitwise (a kernel reading
//     before its wait, or a wait missing, would read a stale or half-written buffer here);
//   * such a chain captured in a CUDA graph (programmatic edges) replays to the same bits.
// Without a GPU every test skips.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "device_buffer.hpp"
#include "gpu_test_support.hpp"
#include "norm_cases.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::DeviceBuffer;
using bt::HostTensor;

// BARACUDA_PDL on or off while alive.
class PdlSwitch : public bt::ScopedEnv {
 public:
  explicit PdlSwitch(bool on) : bt::ScopedEnv("BARACUDA_PDL", on ? "1" : "0") {}
};

std::vector<std::byte> bytes_of(const HostTensor& t) {
  return std::vector<std::byte>(t.storage().data(), t.storage().data() + t.storage().size());
}

// Random dense inputs for every input operand of d's signature.
template <class Desc>
std::vector<HostTensor> random_inputs(const Desc& d, uint64_t seed) {
  std::vector<HostTensor> ins;
  auto sig = infer_signature(d);
  EXPECT_TRUE(sig.has_value()) << sig.status().to_string();
  if (!sig) return ins;
  std::mt19937_64 rng(seed);
  for (const Operand& o : sig->inputs) {
    ins.emplace_back(o.dtype, o.shape);
    bt::fill_uniform(ins.back(), rng, -2.0, 2.0);
  }
  return ins;
}

template <class Desc>
std::vector<HostTensor> outputs_for(const Desc& d) {
  std::vector<HostTensor> outs;
  auto sig = infer_signature(d);
  EXPECT_TRUE(sig.has_value()) << sig.status().to_string();
  if (sig)
    for (const Operand& o : sig->outputs) outs.emplace_back(o.dtype, o.shape);
  return outs;
}

// The CPU reference plan's outputs for d on `ins`.
// Compares output `k` of a plan run on `ins` with the CPU reference's; "" when it matches.
using OutputCheck = std::function<std::string(const std::vector<HostTensor>& ins, size_t k, const HostTensor& got,
                                              const HostTensor& want)>;

double max_abs(const HostTensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.get(i)));
  return m;
}

// "" when every |got - want| <= rtol |want| + atol scale (NaN fails), else the count and the first.
std::string scaled_mismatches(const HostTensor& got, const HostTensor& want, double rtol, double atol, double scale) {
  int64_t bad = 0;
  std::string first;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got.get(i), v = want.get(i);
    if (std::fabs(g - v) <= rtol * std::fabs(v) + atol * scale) continue;  // NaN fails
    if (bad++ == 0) first = "element " + std::to_string(i) + ": got " + std::to_string(g) + ", want " + std::to_string(v);
  }
  return bad == 0 ? "" : std::to_string(bad) + " mismatches, first " + first;
}

// The default check, scaled by the output's largest magnitude: softmax backward outputs are
// differences of terms that cancel and row sums add thousands of rounded terms, so an f32 result
// sits ~5e-5 relative from the double reference where it is small (H200, 9d70547: softmax bwd f32
// 0.0935566 against 0.0935613). The families' own tests hold the kernels to tighter tolerances;
// here the reference only guards against PDL on and off being wrong alike.
std::string default_check(const std::vector<HostTensor>&, size_t, const HostTensor& got, const HostTensor& want) {
  if (want.dtype() != DType::f32 && want.dtype() != DType::f16 && want.dtype() != DType::bf16) {
    const bt::CompareResult r = bt::compare(got, want, bt::default_tolerance(want.dtype()));
    return r.mismatches == 0 ? "" : r.to_string();
  }
  const bool wide = want.dtype() == DType::f32;
  return scaled_mismatches(got, want, wide ? 1e-4 : 1.6e-2, wide ? 1e-5 : 8e-3, max_abs(want));
}

// A norm's outputs as tests/ops/test_norm_gpu.cpp compares them: |got - want| <= rtol |want| +
// atol * scale with scale = max|want|, because dweight/dbias are sums over rows whose error grows
// with them and dx is a difference of terms of size |dy| |w| rstd that can cancel (its scale is at
// least that size). `sig`: the plan's signature.
OutputCheck norm_check(const NormSignature& sig) {
  return [sig](const std::vector<HostTensor>& ins, size_t k, const HostTensor& got, const HostTensor& want) {
    // The tolerance of x's dtype (parameters in f32 beside 16-bit x carry x's rounding).
    const bool wide = sig.inputs[static_cast<size_t>(sig.input_index(NormRole::x))].dtype == DType::f32;
    const double rtol = wide ? 1e-4 : 1.6e-2, atol = wide ? 1e-5 : 8e-3;
    double scale = max_abs(want);
    if (sig.output_roles[k] == NormRole::dx) {
      const int dy = sig.input_index(NormRole::dy), w = sig.input_index(NormRole::weight),
                rs = sig.input_index(NormRole::rstd);
      scale = std::max(scale, (dy >= 0 ? max_abs(ins[static_cast<size_t>(dy)]) : 1.0) *
                                  (w >= 0 ? max_abs(ins[static_cast<size_t>(w)]) : 1.0) *
                                  (rs >= 0 ? max_abs(ins[static_cast<size_t>(rs)]) : 1.0));
    }
    return scaled_mismatches(got, want, rtol, atol, scale);
  };
}

template <class Family>
std::vector<HostTensor> run_cpu(const typename Family::Descriptor& d, const std::vector<HostTensor>& ins) {
  std::vector<HostTensor> outs = outputs_for(d);
  auto plan = Plan<Family>::select(Stream::cpu(), d);
  EXPECT_TRUE(plan.has_value()) << plan.status().to_string();
  if (!plan) return {};
  typename Family::Args a;
  for (size_t i = 0; i < ins.size(); ++i) a.inputs[i] = ins[i].ref();
  for (size_t i = 0; i < outs.size(); ++i) a.outputs[i] = outs[i].mut();
  std::vector<std::byte> ws(plan->workspace_size());
  const Status s = plan->run(Stream::cpu(), Workspace{ws.data(), ws.size()}, a);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return outs;
}

// One plan bound to device memory: its inputs (uploaded, or another plan's output buffer), its
// outputs and workspace. Made under the current BARACUDA_PDL.
template <class Family>
struct DevicePlan {
  std::optional<Plan<Family>> plan;
  std::vector<HostTensor> outs;  // host copies, filled by download()
  std::vector<DeviceBuffer> in_bufs, out_bufs;
  DeviceBuffer ws;
  typename Family::Args args;

  // `inputs[i]` null: upload host_ins[i]; else read that device pointer (dense, host_ins[i]'s layout).
  void bind(const Stream& gpu, const typename Family::Descriptor& d, const std::vector<HostTensor>& host_ins,
            const std::vector<const void*>& inputs = {}) {
    auto p = Plan<Family>::select(gpu, d);
    ASSERT_TRUE(p.has_value()) << p.status().to_string();
    plan.emplace(std::move(*p));
    const Device dev = gpu.device();
    for (size_t i = 0; i < host_ins.size(); ++i) {
      const void* given = i < inputs.size() ? inputs[i] : nullptr;
      if (given == nullptr) {
        in_bufs.emplace_back(host_ins[i].storage().size());
        ASSERT_EQ(in_bufs.back().upload(host_ins[i].storage().data(), host_ins[i].storage().size()), cudaSuccess);
        given = in_bufs.back().get();
      }
      args.inputs[i] = host_ins[i].ref_at(given, dev);
    }
    outs = outputs_for(d);
    for (size_t i = 0; i < outs.size(); ++i) {
      out_bufs.emplace_back(outs[i].storage().size());
      ASSERT_EQ(out_bufs.back().fill(0xFF), cudaSuccess);
      args.outputs[i] = outs[i].mut_at(out_bufs.back().get(), dev);
    }
    ws = DeviceBuffer(plan->workspace_size());
  }
  Status run(const Stream& gpu) const { return plan->run(gpu, Workspace{ws.get(), plan->workspace_size()}, args); }
  void download() {
    for (size_t i = 0; i < outs.size(); ++i)
      ASSERT_EQ(out_bufs[i].download(outs[i].storage().data(), outs[i].storage().size()), cudaSuccess);
  }
  std::vector<std::byte> all_bytes() const {
    std::vector<std::byte> b;
    for (const HostTensor& t : outs) {
      const std::vector<std::byte> one = bytes_of(t);
      b.insert(b.end(), one.begin(), one.end());
    }
    return b;
  }
};

class GpuPdl : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!bt::have_gpu()) GTEST_SKIP() << "no CUDA device";
    ASSERT_EQ(cudaStreamCreateWithFlags(&cs_, cudaStreamNonBlocking), cudaSuccess);
    auto s = Stream::cuda(cs_);
    ASSERT_TRUE(s.has_value()) << s.status().to_string();
    gpu_ = *s;
  }
  void TearDown() override {
    if (cs_ != nullptr) (void)cudaStreamDestroy(cs_);
  }

  // d's plan run once with PDL on and once off: the tactic names PDL exactly when on (sm_90+), the
  // two results are bitwise equal and match the CPU reference (by `check`).
  template <class Family>
  void expect_pdl_matches_plain(const typename Family::Descriptor& d, const std::vector<HostTensor>& ins,
                                const std::string& name, const OutputCheck& check = default_check) {
    const bool sm90 = gpu_.device().sm >= 90;
    std::vector<std::byte> bytes[2];
    for (bool pdl : {false, true}) {
      PdlSwitch sw(pdl);
      DevicePlan<Family> p;
      ASSERT_NO_FATAL_FAILURE(p.bind(gpu_, d, ins));
      EXPECT_EQ(p.plan->sku().tactic.find(", programmatic dependent launch") != std::string::npos, pdl && sm90)
          << name << ": " << p.plan->sku().to_string();
      ASSERT_TRUE(p.run(gpu_).is_ok()) << name;
      ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess) << name;
      ASSERT_NO_FATAL_FAILURE(p.download());
      bytes[pdl] = p.all_bytes();
      if (pdl) {
        const std::vector<HostTensor> want = run_cpu<Family>(d, ins);
        ASSERT_EQ(want.size(), p.outs.size()) << name;
        for (size_t i = 0; i < want.size(); ++i) {
          const std::string m = check(ins, i, p.outs[i], want[i]);
          EXPECT_TRUE(m.empty()) << name << " output " << i << ": " << m;
        }
      }
    }
    EXPECT_TRUE(bytes[0] == bytes[1]) << name << ": PDL on differs from BARACUDA_PDL=0";
  }

  Stream gpu_ = Stream::cpu();
  cudaStream_t cs_ = nullptr;
};

SoftmaxDescriptor softmax_desc(SoftmaxOp op, Direction dir, DType t, std::vector<int64_t> shape) {
  SoftmaxDescriptor d;
  d.op = op;
  d.direction = dir;
  d.input = Operand::tensor(t, std::move(shape));
  return d;
}

NormDescriptor norm_desc(NormOp op, DType t, int64_t rows, int64_t cols) {
  NormDescriptor d;
  d.op = op;
  d.input = Operand::tensor(t, {rows, cols});
  d.normalized_shape = {cols};
  return d;
}

ReduceDescriptor reduce_desc(ReduceOp op, DType t, std::vector<int64_t> shape, std::vector<int> axes) {
  ReduceDescriptor d;
  d.op = op;
  d.input = Operand::tensor(t, std::move(shape));
  d.axes = std::move(axes);
  return d;
}

// Odd shapes on each engine: register rows (1023 x 1000), the staged / long rows (64 x 32768
// bf16), the column engines (a dim that is not innermost).
TEST_F(GpuPdl, SoftmaxMatchesPlainLaunches) {
  struct S {
    std::vector<int64_t> shape;
    int dim;
  };
  const S shapes[] = {{{1023, 1000}, -1}, {{64, 32768}, -1}, {{37, 129, 3}, 1}};
  uint64_t seed = 1;
  for (SoftmaxOp op : {SoftmaxOp::softmax, SoftmaxOp::log_softmax})
    for (Direction dir : {Direction::forward, Direction::backward})
      for (DType t : {DType::f32, DType::bf16})
        for (const S& s : shapes) {
          SoftmaxDescriptor d = softmax_desc(op, dir, t, s.shape);
          d.dim = s.dim;
          const std::string name = std::string(op == SoftmaxOp::softmax ? "softmax" : "log_softmax") +
                                   (dir == Direction::backward ? " bwd " : " fwd ") + std::string(dtype_name(t)) + " " +
                                   std::to_string(s.shape[0]) + "x" + std::to_string(s.shape[1]);
          ASSERT_NO_FATAL_FAILURE(expect_pdl_matches_plain<SoftmaxFamily>(d, random_inputs(d, seed++), name));
        }
}

// layer_norm / rms_norm forward: one warp per row, rows of several warps (1023 x 1000 has no
// 16-byte rows in bf16: the legacy kernels), the staged / cluster range (64 x 32768 bf16), and
// add_rms_norm (the cluster kernel by default at 32768 columns on sm_90).
TEST_F(GpuPdl, NormForwardMatchesPlainLaunches) {
  const std::pair<int64_t, int64_t> shapes[] = {{1023, 1000}, {1023, 1024}, {257, 4096}, {64, 32768}};
  uint64_t seed = 100;
  for (NormOp op : {NormOp::layer_norm, NormOp::rms_norm, NormOp::add_rms_norm})
    for (DType t : {DType::f32, DType::bf16})
      for (auto [rows, cols] : shapes) {
        if (t == DType::f32 && cols > 16384) continue;
        const NormDescriptor d = norm_desc(op, t, rows, cols);
        const std::string name = std::string(norm_op_info(op).name) + " " + std::string(dtype_name(t)) + " " +
                                 std::to_string(rows) + "x" + std::to_string(cols);
        ASSERT_NO_FATAL_FAILURE(expect_pdl_matches_plain<NormFamily>(d, random_inputs(d, seed++), name));
      }
}

// layer_norm with dweight and dbias, rms_norm with dweight, backward: the rows engine's dx kernel
// with its fused partials and norm_bwd_params (1023 x 1000: shared-memory sums; 257 x 4096), the
// two-CTA cluster kernels of wide 16-bit rows (64 x 32768, 300 x 24576), the legacy kernels of f32
// rows wider than the engine's 16384. Inputs from bt::make_norm_case (mean/rstd of x).
TEST_F(GpuPdl, NormBackwardMatchesPlainLaunches) {
  const std::pair<int64_t, int64_t> shapes[] = {{1023, 1000}, {257, 4096}, {64, 32768}, {300, 24576}};
  uint64_t seed = 150;
  for (NormOp op : {NormOp::layer_norm, NormOp::rms_norm})
    for (DType t : {DType::f32, DType::bf16})
      for (auto [rows, cols] : shapes) {
        NormDescriptor d = norm_desc(op, t, rows, cols);
        d.direction = Direction::backward;
        auto c = bt::make_norm_case(d, seed++);
        ASSERT_TRUE(c.has_value()) << c.status().to_string();
        const std::string name = std::string(norm_op_info(op).name) + " backward " + std::string(dtype_name(t)) + " " +
                                 std::to_string(rows) + "x" + std::to_string(cols);
        ASSERT_NO_FATAL_FAILURE(
            expect_pdl_matches_plain<NormFamily>(d, c->inputs, name, norm_check(c->sig)));
      }
}

// group_norm, instance_norm and batch_norm (training, no running stats), forward and backward
// with dweight/dbias: the split-plane engine's chunk / finalize / apply kernels then
// norm_bwd_params (37 x 41 planes: one element per access; 32 x 32: 16-byte packs) and the legacy
// one-CTA-per-group kernels (7 x 9 planes, under the split-plane engine's 256 elements).
TEST_F(GpuPdl, GroupNormsMatchPlainLaunches) {
  const std::vector<int64_t> shapes[] = {{6, 48, 37, 41}, {8, 24, 32, 32}, {4, 12, 7, 9}};
  uint64_t seed = 250;
  for (NormOp op : {NormOp::group_norm, NormOp::instance_norm, NormOp::batch_norm})
    for (Direction dir : {Direction::forward, Direction::backward})
      for (DType t : {DType::f32, DType::bf16})
        for (const std::vector<int64_t>& shape : shapes) {
          NormDescriptor d;
          d.op = op;
          d.direction = dir;
          d.input = Operand::tensor(t, shape);
          d.num_groups = 6;
          d.track_running_stats = false;
          auto c = bt::make_norm_case(d, seed++);
          ASSERT_TRUE(c.has_value()) << c.status().to_string();
          const std::string name = std::string(norm_op_info(op).name) +
                                   (dir == Direction::backward ? " bwd " : " fwd ") + std::string(dtype_name(t)) + " " +
                                   std::to_string(shape[2]) + "x" + std::to_string(shape[3]);
          ASSERT_NO_FATAL_FAILURE(expect_pdl_matches_plain<NormFamily>(d, c->inputs, name, norm_check(c->sig)));
        }
}

// sum over rows (no finalize), norm2 of a flat tensor (split, with the finalize kernel), and a
// stats-mode backward (forward statistics, then dx).
TEST_F(GpuPdl, ReduceMatchesPlainLaunches) {
  uint64_t seed = 200;
  for (DType t : {DType::f32, DType::bf16}) {
    const ReduceDescriptor sum_rows = reduce_desc(ReduceOp::sum, t, {1023, 1000}, {1});
    ASSERT_NO_FATAL_FAILURE(expect_pdl_matches_plain<ReduceFamily>(sum_rows, random_inputs(sum_rows, seed++),
                                                                   "sum rows " + std::string(dtype_name(t))));
    ReduceDescriptor norm2 = reduce_desc(ReduceOp::norm, t, {(int64_t{1} << 22) + 3}, {});
    norm2.p = 2.0;
    ASSERT_NO_FATAL_FAILURE(expect_pdl_matches_plain<ReduceFamily>(norm2, random_inputs(norm2, seed++),
                                                                   "norm2 flat " + std::string(dtype_name(t))));
  }
  ReduceDescriptor var_bwd = reduce_desc(ReduceOp::var, DType::f32, {100003}, {});
  var_bwd.direction = Direction::backward;
  ASSERT_NO_FATAL_FAILURE(expect_pdl_matches_plain<ReduceFamily>(var_bwd, random_inputs(var_bwd, seed++), "var bwd"));
}

// mse_loss mean forward (partials, then finish_kernel) and its backward.
TEST_F(GpuPdl, LossMatchesPlainLaunches) {
  const bool sm90 = gpu_.device().sm >= 90;
  for (Direction dir : {Direction::forward, Direction::backward})
    for (DType t : {DType::f32, DType::bf16}) {
      const std::string name = std::string("mse_loss ") + (dir == Direction::forward ? "fwd " : "bwd ") +
                               std::string(dtype_name(t));
      const std::vector<int64_t> shape{1023, 1001};
      LossDescriptor d;
      d.op = LossOp::mse_loss;
      d.direction = dir;
      d.reduction = LossReduction::mean;
      d.input = Operand::tensor(t, shape);
      d.target = Operand::tensor(t, shape);
      std::mt19937_64 rng(300 + static_cast<int>(t));
      HostTensor x(t, shape), y(t, shape), g(t, {});
      bt::fill_uniform(x, rng, -2, 2);
      bt::fill_uniform(y, rng, -2, 2);
      g.set(0, 0.75);
      auto sig = infer_signature(d);
      ASSERT_TRUE(sig.has_value()) << sig.status().to_string();
      HostTensor out = dir == Direction::forward ? HostTensor(t, {}) : HostTensor(t, shape);
      std::vector<std::byte> bytes[2];
      for (bool pdl : {false, true}) {
        PdlSwitch sw(pdl);
        auto plan = LossPlan::select(gpu_, d);
        ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
        EXPECT_EQ(plan->sku().tactic.find(", programmatic dependent launch") != std::string::npos, pdl && sm90)
            << name << ": " << plan->sku().to_string();
        const Device dev = gpu_.device();
        DeviceBuffer xb(x.storage().size()), yb(y.storage().size()), gb(g.storage().size()), ob(out.storage().size()),
            ws(plan->workspace_size());
        ASSERT_EQ(xb.upload(x.storage().data(), x.storage().size()), cudaSuccess);
        ASSERT_EQ(yb.upload(y.storage().data(), y.storage().size()), cudaSuccess);
        ASSERT_EQ(gb.upload(g.storage().data(), g.storage().size()), cudaSuccess);
        ASSERT_EQ(ob.fill(0xFF), cudaSuccess);
        LossArgs a;
        a.input = x.ref_at(xb.get(), dev);
        a.target = y.ref_at(yb.get(), dev);
        if (dir == Direction::forward) {
          a.loss = out.mut_at(ob.get(), dev);
        } else {
          a.grad_loss = g.ref_at(gb.get(), dev);
          a.grad_input = out.mut_at(ob.get(), dev);
        }
        ASSERT_TRUE(plan->run(gpu_, Workspace{ws.get(), plan->workspace_size()}, a).is_ok()) << name;
        ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess) << name;
        ASSERT_EQ(ob.download(out.storage().data(), out.storage().size()), cudaSuccess);
        bytes[pdl] = bytes_of(out);
        if (pdl) {
          auto cpu = LossPlan::select(Stream::cpu(), d);
          ASSERT_TRUE(cpu.has_value()) << cpu.status().to_string();
          HostTensor want = dir == Direction::forward ? HostTensor(t, {}) : HostTensor(t, shape);
          LossArgs c;
          c.input = x.ref();
          c.target = y.ref();
          if (dir == Direction::forward) {
            c.loss = want.mut();
          } else {
            c.grad_loss = g.ref();
            c.grad_input = want.mut();
          }
          std::vector<std::byte> cws(cpu->workspace_size());
          ASSERT_TRUE(cpu->run(Stream::cpu(), Workspace{cws.data(), cws.size()}, c).is_ok()) << name;
          const bt::CompareResult r = bt::compare(out, want, bt::default_tolerance(t));
          EXPECT_EQ(r.mismatches, 0) << name << ": " << r.to_string();
        }
      }
      EXPECT_TRUE(bytes[0] == bytes[1]) << name << ": PDL on differs from BARACUDA_PDL=0";
    }
}

// The chains: plan A's outputs feed plan B's inputs (by default A's first output B's first
// input). Each round has its own x and its own B outputs while A's linked output buffers are
// shared, so a B kernel that read before A finished (or an A kernel that overwrote one while the
// previous round's B still read) changes a result.
struct ChainResult {
  std::vector<std::vector<std::byte>> rounds;  // B's outputs' bytes per round
};

// One link of a chain: A's output `a_out` is B's input `b_in`.
struct ChainLink {
  size_t a_out, b_in;
};
using ChainLinks = std::vector<ChainLink>;

// B's inputs: A's output a_like[a_out] where a link says so, the next of `b_extra` elsewhere.
std::vector<HostTensor> chain_b_inputs(const ChainLinks& links, size_t b_count, const std::vector<HostTensor>& a_like,
                                       const std::vector<HostTensor>& b_extra) {
  std::vector<HostTensor> ins;
  size_t next = 0;
  for (size_t i = 0; i < b_count; ++i) {
    const auto l = std::find_if(links.begin(), links.end(), [&](const ChainLink& k) { return k.b_in == i; });
    ins.push_back(l != links.end() ? a_like[l->a_out] : b_extra[next++]);
  }
  return ins;
}

class GpuPdlChain : public GpuPdl {
 protected:
  static constexpr int kRounds = 6;

  // Queues kRounds of (A on x_r, B on A's output) without synchronizing, or captures them into one
  // graph and replays it twice (`graph`), under BARACUDA_PDL = pdl. Returns B's outputs per round.
  template <class FA, class FB>
  void run_chain(const typename FA::Descriptor& da, const typename FB::Descriptor& db,
                 const std::vector<std::vector<HostTensor>>& xs, const std::vector<HostTensor>& b_extra,
                 const ChainLinks& links, bool pdl, bool graph, ChainResult& res) {
    PdlSwitch sw(pdl);
    std::vector<DevicePlan<FA>> a(kRounds);
    std::vector<DevicePlan<FB>> b(kRounds);
    ASSERT_NO_FATAL_FAILURE(a[0].bind(gpu_, da, xs[0]));
    for (int r = 1; r < kRounds; ++r) {
      ASSERT_NO_FATAL_FAILURE(a[r].bind(gpu_, da, xs[static_cast<size_t>(r)]));
      // Every round writes A's linked outputs into round 0's buffers (the shared intermediates).
      for (const ChainLink& l : links)
        a[r].args.outputs[l.a_out] = a[r].outs[l.a_out].mut_at(a[0].out_bufs[l.a_out].get(), gpu_.device());
    }
    const std::vector<HostTensor> b_ins =
        chain_b_inputs(links, b_extra.size() + links.size(), outputs_for(da), b_extra);
    std::vector<const void*> given(b_ins.size(), nullptr);
    for (const ChainLink& l : links) given[l.b_in] = a[0].out_bufs[l.a_out].get();
    for (int r = 0; r < kRounds; ++r) ASSERT_NO_FATAL_FAILURE(b[r].bind(gpu_, db, b_ins, given));
    ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
    auto queue = [&]() -> Status {
      for (int r = 0; r < kRounds; ++r) {
        BARACUDA_TRY(a[r].run(gpu_));
        BARACUDA_TRY(b[r].run(gpu_));
      }
      return Status::ok();
    };
    if (!graph) {
      ASSERT_TRUE(queue().is_ok());
    } else {
      cudaGraph_t g = nullptr;
      ASSERT_EQ(cudaStreamBeginCapture(cs_, cudaStreamCaptureModeGlobal), cudaSuccess);
      const Status s = queue();
      ASSERT_EQ(cudaStreamEndCapture(cs_, &g), cudaSuccess);
      ASSERT_TRUE(s.is_ok()) << s.to_string();
      cudaGraphExec_t exec = nullptr;
      const cudaError_t inst = cudaGraphInstantiate(&exec, g, 0);
      (void)cudaGraphDestroy(g);
      ASSERT_EQ(inst, cudaSuccess);
      const cudaError_t l1 = cudaGraphLaunch(exec, cs_);
      const cudaError_t l2 = cudaGraphLaunch(exec, cs_);
      const cudaError_t synced = cudaStreamSynchronize(cs_);
      (void)cudaGraphExecDestroy(exec);
      ASSERT_EQ(l1, cudaSuccess);
      ASSERT_EQ(l2, cudaSuccess);
      ASSERT_EQ(synced, cudaSuccess);
    }
    ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
    res.rounds.clear();
    for (int r = 0; r < kRounds; ++r) {
      ASSERT_NO_FATAL_FAILURE(b[r].download());
      res.rounds.push_back(b[r].all_bytes());
    }
  }

  // The chain with PDL on (eager and as a graph) against plain launches bitwise, and each round's
  // first B output against the CPU reference of B(A(x_r)) (by `check`).
  template <class FA, class FB>
  void check_chain(const typename FA::Descriptor& da, const typename FB::Descriptor& db, uint64_t seed,
                   const std::string& name, const ChainLinks& links = {{0, 0}},
                   const OutputCheck& check = default_check) {
    std::vector<std::vector<HostTensor>> xs;
    for (int r = 0; r < kRounds; ++r) xs.push_back(random_inputs(da, seed + static_cast<uint64_t>(r)));
    std::vector<HostTensor> b_extra;  // B's inputs that no link gives
    {
      std::vector<HostTensor> all = random_inputs(db, seed + 99);
      for (size_t i = 0; i < all.size(); ++i)
        if (std::none_of(links.begin(), links.end(), [&](const ChainLink& l) { return l.b_in == i; }))
          b_extra.push_back(all[i]);
    }
    ChainResult plain, eager, replay;
    ASSERT_NO_FATAL_FAILURE((run_chain<FA, FB>(da, db, xs, b_extra, links, false, false, plain)));
    ASSERT_NO_FATAL_FAILURE((run_chain<FA, FB>(da, db, xs, b_extra, links, true, false, eager)));
    ASSERT_NO_FATAL_FAILURE((run_chain<FA, FB>(da, db, xs, b_extra, links, true, true, replay)));
    for (int r = 0; r < kRounds; ++r) {
      const auto i = static_cast<size_t>(r);
      EXPECT_TRUE(eager.rounds[i] == plain.rounds[i]) << name << " round " << r << ": PDL differs from plain launches";
      EXPECT_TRUE(replay.rounds[i] == plain.rounds[i]) << name << " round " << r << ": graph replay differs";
      std::vector<HostTensor> mid = run_cpu<FA>(da, xs[i]);
      ASSERT_FALSE(mid.empty()) << name;
      const std::vector<HostTensor> b_ins = chain_b_inputs(links, b_extra.size() + links.size(), mid, b_extra);
      const std::vector<HostTensor> want = run_cpu<FB>(db, b_ins);
      ASSERT_FALSE(want.empty()) << name;
      HostTensor got(want[0].dtype(), want[0].shape());
      ASSERT_LE(got.storage().size(), eager.rounds[i].size());
      std::memcpy(got.storage().data(), eager.rounds[i].data(), got.storage().size());
      const std::string m = check(b_ins, 0, got, want[0]);
      EXPECT_TRUE(m.empty()) << name << " round " << r << ": " << m;
    }
  }
};

TEST_F(GpuPdlChain, SoftmaxOfSoftmax) {
  const SoftmaxDescriptor d = softmax_desc(SoftmaxOp::softmax, Direction::forward, DType::f32, {1023, 1000});
  check_chain<SoftmaxFamily, SoftmaxFamily>(d, d, 400, "softmax(softmax)");
}

TEST_F(GpuPdlChain, NormOfNorm) {
  const NormDescriptor a = norm_desc(NormOp::layer_norm, DType::f32, 1023, 1024);
  const NormDescriptor b = norm_desc(NormOp::rms_norm, DType::f32, 1023, 1024);
  check_chain<NormFamily, NormFamily>(a, b, 500, "rms_norm(layer_norm)");
}

// The backward right behind the forward it differentiates: layer_norm backward reads the forward's
// y as its dy and the forward's saved mean and rstd (x and weight its own), and its dx kernel,
// then norm_bwd_params, each wait for the kernel before. bf16 300 x 24576 runs the two-CTA cluster
// kernel on sm_90 (f32 rows that wide the legacy kernels); 1023 x 1000 the rows engine.
TEST_F(GpuPdlChain, NormBackwardOfNormForward) {
  const std::pair<int64_t, int64_t> shapes[] = {{1023, 1000}, {300, 24576}};
  uint64_t seed = 700;
  for (DType t : {DType::f32, DType::bf16})
    for (auto [rows, cols] : shapes) {
      const NormDescriptor fwd = norm_desc(NormOp::layer_norm, t, rows, cols);
      NormDescriptor bwd = fwd;
      bwd.direction = Direction::backward;
      auto fsig = infer_signature(fwd);
      auto sig = infer_signature(bwd);
      ASSERT_TRUE(fsig.has_value() && sig.has_value());
      ChainLinks links;
      for (auto [out, in] : {std::pair{NormRole::y, NormRole::dy}, std::pair{NormRole::mean, NormRole::mean},
                             std::pair{NormRole::rstd, NormRole::rstd}}) {
        ASSERT_TRUE(fsig->output_index(out) >= 0 && sig->input_index(in) >= 0);
        links.push_back({static_cast<size_t>(fsig->output_index(out)), static_cast<size_t>(sig->input_index(in))});
      }
      const std::string name = std::string("layer_norm backward(forward) ") + std::string(dtype_name(t)) + " " +
                               std::to_string(rows) + "x" + std::to_string(cols);
      ASSERT_NO_FATAL_FAILURE(
          (check_chain<NormFamily, NormFamily>(fwd, bwd, seed, name, links, norm_check(*sig))));
      seed += 100;
    }
}

// Rows kernels prefetch their first rows into L2 before griddepcontrol.wait (kernels/pdl.cuh,
// "Before the wait"; BARACUDA_PDL_PREFETCH: by default softmax's rows kernels and the staged norm
// forward, "staged" the staged forwards only, "0" none) while the kernel before them may still
// write those rows. Chains where it does: softmax(softmax) and softmax backward fed the forward's
// y, over 300 x 32768 bf16 rows (the staged kernels) and 1023 x 1000 f32 rows (the register rows
// kernels); layer_norm(layer_norm) over 300 x 32768 bf16 rows (the staged norm forward). The
// tactic names the prefetch exactly when it is on (PDL, sm_90).
TEST_F(GpuPdlChain, PrefetchBeforeWaitReadsFinalValues) {
  const bool sm90 = gpu_.device().sm >= 90;
  const SoftmaxDescriptor wide = softmax_desc(SoftmaxOp::softmax, Direction::forward, DType::bf16, {300, 32768});
  for (const char* v : {"0", "staged", "all"}) {
    bt::ScopedEnv sw("BARACUDA_PDL_PREFETCH", v);
    PdlSwitch on(true);
    auto p = SoftmaxPlan::select(gpu_, wide);
    ASSERT_TRUE(p.has_value()) << p.status().to_string();
    EXPECT_EQ(p->sku().tactic.find("prefetched before the wait") != std::string::npos, sm90 && v[0] != '0')
        << v << ": " << p->sku().to_string();
  }
  uint64_t seed = 800;
  for (const char* v : {"staged", "all"}) {
    bt::ScopedEnv sw("BARACUDA_PDL_PREFETCH", v);
    for (const SoftmaxDescriptor& fwd :
         {wide, softmax_desc(SoftmaxOp::softmax, Direction::forward, DType::f32, {1023, 1000})}) {
      SoftmaxDescriptor bwd = fwd;
      bwd.direction = Direction::backward;
      const std::string shape = std::string(dtype_name(fwd.input.dtype)) + " " + std::to_string(fwd.input.shape[0]) +
                                "x" + std::to_string(fwd.input.shape[1]) + ", BARACUDA_PDL_PREFETCH=" + v;
      ASSERT_NO_FATAL_FAILURE(
          (check_chain<SoftmaxFamily, SoftmaxFamily>(fwd, fwd, seed++, "softmax(softmax) " + shape)));
      ASSERT_NO_FATAL_FAILURE(
          (check_chain<SoftmaxFamily, SoftmaxFamily>(fwd, bwd, seed++, "softmax backward(forward) " + shape, {{0, 1}})));
    }
  }
  const NormDescriptor ln = norm_desc(NormOp::layer_norm, DType::bf16, 300, 32768);
  {
    PdlSwitch on(true);
    auto p = NormPlan::select(gpu_, ln);
    ASSERT_TRUE(p.has_value()) << p.status().to_string();
    EXPECT_EQ(p->sku().tactic.find("prefetched before the wait") != std::string::npos, sm90) << p->sku().to_string();
  }
  ASSERT_NO_FATAL_FAILURE((check_chain<NormFamily, NormFamily>(ln, ln, seed++, "layer_norm(layer_norm) bf16 300x32768")));
}

TEST_F(GpuPdlChain, ReduceOfNorm) {
  const NormDescriptor a = norm_desc(NormOp::rms_norm, DType::f32, 4099, 1024);
  ReduceDescriptor b = reduce_desc(ReduceOp::norm, DType::f32, {4099, 1024}, {});
  b.p = 2.0;
  check_chain<NormFamily, ReduceFamily>(a, b, 600, "norm2(rms_norm)");
}

}  // namespace
