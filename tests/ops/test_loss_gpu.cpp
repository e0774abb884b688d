// The CUDA loss plans against the CPU reference plan on the same random inputs: every op x dtype
// (f32, f16, bf16, f64) x reduction (none, mean, sum) x pass (forward, backward, and the fused
// cross_entropy forward+backward); class counts 1, 7, 1000, 32000, 128256; ignore_index, label
// smoothing, z-loss, class weights, i32 targets, probability targets, the [N, C, d] layout;
// outputs poisoned (0xFF and 0x00) before each run and checked fully written. Also: out-of-range
// targets give NaN for that sample only, the unaligned (scalar-load) row path, padded logits rows,
// determinism and CUDA-graph capture.
//
// Without a GPU every test skips (GTEST_SKIP). The last line printed is
//   "GPU loss: N passed, M failed"
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <algorithm>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gpu_test_support.hpp"
#include "device_buffer.hpp"
#include "gtest_helpers.hpp"
#include "loss_test_support.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::DeviceBuffer;
using bt::HostTensor;
using bt::LossInputs;

using bt::have_gpu;
BT_GPU_FAMILY_COUNTS("loss");  // the "GPU loss: ..." summary line

const DType kDTypes[] = {DType::f32, DType::f16, DType::bf16, DType::f64};
const LossReduction kReductions[] = {LossReduction::none, LossReduction::mean, LossReduction::sum};
enum class Pass { forward, backward, fused };
const char* pass_name(Pass p) { return p == Pass::forward ? "forward" : (p == Pass::backward ? "backward" : "fused"); }

// The outputs of one pass, on the host.
struct Outputs {
  HostTensor loss, grad_input, grad_other;
  bool has_loss = false, has_grad = false, has_other = false;
};

struct GpuCase {
  std::string name;
  LossDescriptor desc;  // operands filled from `in`
  LossInputs in;
  HostTensor grad_loss;  // backward; fused: given when defined (numel > 0 or scalar) and use_grad_loss
  bool use_grad_loss = false;
  // Bytes every operand and output is placed past its buffer's (256-byte aligned) start: one
  // element makes them all miss 16-byte alignment (operands of one dtype only).
  size_t misalign = 0;
};

Outputs make_outputs(const LossDescriptor& d, const LossSignature& sig) {
  Outputs o;
  if (sig.loss) {
    o.loss = HostTensor(sig.loss->dtype, sig.loss->shape);
    o.has_loss = true;
  }
  if (sig.grad_input) {
    o.grad_input = HostTensor(sig.grad_input->dtype, sig.grad_input->shape);
    o.has_grad = true;
  }
  if (sig.grad_other) {
    o.grad_other = HostTensor(sig.grad_other->dtype, sig.grad_other->shape);
    o.has_other = true;
  }
  (void)d;
  return o;
}

Status run_cpu(const GpuCase& c, Outputs& o) {
  BARACUDA_ASSIGN_OR_RETURN(auto plan, LossPlan::select(Stream::cpu(), c.desc));
  LossArgs a = bt::loss_input_args(c.in);
  if (c.use_grad_loss) a.grad_loss = c.grad_loss.ref();
  if (o.has_loss) a.loss = o.loss.mut();
  if (o.has_grad) a.grad_input = o.grad_input.mut();
  if (o.has_other) a.grad_other = o.grad_other.mut();
  return plan.run(Stream::cpu(), {}, a);
}

struct Uploaded {
  std::vector<DeviceBuffer> bufs;
  size_t offset = 0;  // GpuCase::misalign
  TensorRef up(const HostTensor& t, Device dev) {
    bufs.emplace_back(t.storage().size() + offset);
    if (offset == 0) {
      (void)bufs.back().upload(t.storage().data(), t.storage().size());
      return t.ref_at(bufs.back().get(), dev);
    }
    char* at = static_cast<char*>(bufs.back().get()) + offset;
    (void)cudaMemcpy(at, t.storage().data(), t.storage().size(), cudaMemcpyHostToDevice);
    (void)cudaDeviceSynchronize();
    return t.ref_at(at, dev);
  }
};

// A case on the device: its operands uploaded and the buffers of `got` allocated, each
// c.misalign bytes past its buffer's start, and the plan's arguments pointing at them.
struct DeviceCase {
  Uploaded u;
  LossArgs a;
  size_t off;
  DeviceBuffer dl, dg, dgo;
  DeviceCase(const GpuCase& c, Outputs& got, Device dev)
      : off(c.misalign),
        dl(got.loss.storage().size() + off),
        dg(got.grad_input.storage().size() + off),
        dgo(got.grad_other.storage().size() + off) {
    u.offset = c.misalign;
    a.input = u.up(c.in.input, dev);
    a.target = u.up(c.in.target, dev);
    if (c.in.other) a.other = u.up(*c.in.other, dev);
    if (c.in.weight) a.weight = u.up(*c.in.weight, dev);
    if (c.in.pos_weight) a.pos_weight = u.up(*c.in.pos_weight, dev);
    if (c.use_grad_loss) a.grad_loss = u.up(c.grad_loss, dev);
    if (got.has_loss) a.loss = got.loss.mut_at(at(dl), dev);
    if (got.has_grad) a.grad_input = got.grad_input.mut_at(at(dg), dev);
    if (got.has_other) a.grad_other = got.grad_other.mut_at(at(dgo), dev);
  }
  void* at(const DeviceBuffer& b) const { return static_cast<char*>(b.get()) + off; }
  void fill_outputs(uint8_t poison) {
    (void)dl.fill(poison);
    (void)dg.fill(poison);
    (void)dgo.fill(poison);
  }
};

bt::Tolerance tolerance(DType t, const LossDescriptor& d) {
  bt::Tolerance tol = bt::default_tolerance(t);
  // f32 class losses sum up to 128k exps (hardware exp, tree order vs the reference's sequence).
  if (t == DType::f32) tol.atol = std::max(tol.atol, 1e-5);
  if (t == DType::f16) tol.atol = std::max(tol.atol, 1e-4);
  if (t == DType::bf16) tol.atol = std::max(tol.atol, 1e-3);
  (void)d;
  return tol;
}

// Runs `c` on the CUDA plan and compares with the CPU reference; returns "" when it matches.
std::string check(const GpuCase& c, const Stream& gpu) {
  auto sig = infer_signature(c.desc);
  if (!sig) return "infer_signature: " + sig.status().to_string();
  Outputs want = make_outputs(c.desc, *sig);
  if (Status s = run_cpu(c, want); !s.is_ok()) return "CPU reference: " + s.to_string();
  auto plan = LossPlan::select(gpu, c.desc);
  if (!plan) return "no CUDA plan: " + plan.status().to_string();
  Outputs got = make_outputs(c.desc, *sig);
  DeviceCase d(c, got, gpu.device());
  DeviceBuffer ws(plan->workspace_size());
  const bt::Tolerance tol = tolerance(c.desc.input.dtype, c.desc);
  for (uint8_t poison : {uint8_t{0xFF}, uint8_t{0x00}}) {
    d.fill_outputs(poison);
    // The workspace is poisoned too: the plan must not read anything it did not write.
    (void)ws.fill(poison);
    if (Status s = plan->run(gpu, Workspace{ws.get(), plan->workspace_size()}, d.a); !s.is_ok())
      return "run: " + s.to_string() + " [" + plan->sku().to_string() + "]";
    if (cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess)
      return std::string("kernel failed: ") + cudaGetErrorString(e) + " [" + plan->sku().to_string() + "]";
    auto cmp = [&](HostTensor& g, const HostTensor& w, const DeviceBuffer& b, const char* what) -> std::string {
      if (d.off == 0) {
        (void)b.download(g.storage().data(), g.storage().size());
      } else {
        (void)cudaMemcpy(g.storage().data(), d.at(b), g.storage().size(), cudaMemcpyDeviceToHost);
        (void)cudaDeviceSynchronize();
      }
      bt::CompareResult r = bt::compare(g, w, tol);
      if (r.mismatches == 0) return "";
      return std::string(what) + " (poison " + std::to_string(poison) + "): " + r.to_string() + " [" +
             plan->sku().to_string() + "]";
    };
    if (got.has_loss)
      if (std::string e = cmp(got.loss, want.loss, d.dl, "loss"); !e.empty()) return e;
    if (got.has_grad)
      if (std::string e = cmp(got.grad_input, want.grad_input, d.dg, "grad_input"); !e.empty()) return e;
    if (got.has_other)
      if (std::string e = cmp(got.grad_other, want.grad_other, d.dgo, "grad_other"); !e.empty()) return e;
  }
  return "";
}

void run_and_record(const GpuCase& c, const Stream& gpu) {
  const std::string err = check(c, gpu);
  if (err.empty()) {
    ++counts().passed;
  } else {
    ++counts().failed;
    ADD_FAILURE() << c.name << ": " << err;
  }
}

// Runs the case after checking that its plan's tactic names `part` exactly when `named`.
void run_and_record_tactic(const GpuCase& c, const Stream& gpu, const char* part, bool named) {
  auto plan = LossPlan::select(gpu, c.desc);
  ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
  EXPECT_EQ(plan->sku().tactic.find(part) != std::string::npos, named) << c.name << ": " << plan->sku().to_string();
  run_and_record(c, gpu);
}

// Sets the environment switch `var` to `mode`, or unsets it for the default ("").
void set_switch(const char* var, const char* mode) {
  if (*mode) setenv(var, mode, 1);
  else unsetenv(var);
}

// Builds the case of one pass: the descriptor from the inputs, a random grad_loss.
GpuCase make_case(std::string name, LossDescriptor d, LossInputs in, Pass pass, uint64_t seed) {
  d.direction = pass == Pass::backward ? Direction::backward : Direction::forward;
  d.fused_backward = pass == Pass::fused;
  GpuCase c{name + " " + std::string(dtype_name(in.input.dtype())) + " " + std::string(loss_reduction_name(d.reduction)) +
                " " + pass_name(pass),
            bt::loss_desc(d, in), std::move(in), HostTensor(), false};
  auto sig = infer_signature(c.desc);
  if (sig && sig->grad_loss) {
    c.grad_loss = HostTensor(c.desc.input.dtype, sig->grad_loss->shape);
    std::mt19937_64 rng(seed);
    bt::fill_uniform(c.grad_loss, rng, 0.5, 1.5);
    c.use_grad_loss = pass == Pass::backward || seed % 2 == 1;  // fused: sometimes the implicit 1
  }
  return c;
}

// The bulk-copy kernel's variants the tests run: its stage count, or 4 stages with the generic
// fold of 16-bit stages (BARACUDA_CE_PACKED_FOLD=0).
const char* const kBulkVariants[] = {"4", "3", "4 generic fold"};
void set_bulk_variant(const std::string& variant) {
  setenv("BARACUDA_CE_BULK_STAGES", variant.substr(0, 1).c_str(), 1);
  if (variant.size() > 1) setenv("BARACUDA_CE_PACKED_FOLD", "0", 1);
  else unsetenv("BARACUDA_CE_PACKED_FOLD");
}

class LossGpu : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
    auto s = Stream::cuda();
    ASSERT_TRUE(s.has_value()) << s.status().to_string();
    stream_ = *s;
  }
  Stream stream_ = Stream::cpu();
};

TEST_F(LossGpu, CrossEntropyEveryClassCountDtypeReductionPass) {
  const int64_t classes[] = {1, 7, 1000, 32000, 128256};
  uint64_t seed = 1;
  for (int64_t C : classes) {
    // 5 samples for the long rows: sample 3 is ignored (random_loss_inputs ignores i % 5 == 3),
    // so the block-per-row kernel sees an ignored row among live ones.
    const int64_t N = C >= 32000 ? 5 : (C >= 1000 ? 17 : 33);
    for (DType dt : kDTypes)
      for (LossReduction r : kReductions)
        for (Pass pass : {Pass::forward, Pass::backward, Pass::fused}) {
          LossDescriptor d;
          d.op = LossOp::cross_entropy;
          d.reduction = r;
          const std::string base = "cross_entropy C=" + std::to_string(C);
          // Plain, ignore_index present, i64 targets.
          run_and_record(make_case(base + " ignore", d,
                                   bt::random_loss_inputs(LossOp::cross_entropy, dt, N, C, {}, DType::i64, true, -100, seed),
                                   pass, seed), stream_);
          ++seed;
          // Label smoothing, z-loss, class weights, i32 targets, another ignore_index.
          LossDescriptor s = d;
          s.label_smoothing = 0.1;
          s.z_loss = 1e-3;
          s.ignore_index = 0;
          LossInputs in = bt::random_loss_inputs(LossOp::cross_entropy, dt, N, C, {}, DType::i32, true, 0, seed);
          in.weight = HostTensor(dt, {C});
          std::mt19937_64 rng(seed);
          bt::fill_uniform(*in.weight, rng, 0.25, 2.0);
          run_and_record(make_case(base + " smoothing z_loss weight i32", s, std::move(in), pass, seed), stream_);
          ++seed;
          // Probability targets.
          if (C <= 32000) {
            LossDescriptor p = d;
            p.label_smoothing = 0.05;
            run_and_record(make_case(base + " probabilities", p,
                                     bt::random_loss_inputs(LossOp::cross_entropy, dt, N, C, {}, dt, false, -100, seed),
                                     pass, seed), stream_);
            ++seed;
          }
        }
  }
}

TEST_F(LossGpu, CrossEntropySpatialLayoutAndUnalignedRows) {
  uint64_t seed = 100;
  for (DType dt : kDTypes)
    for (LossReduction r : kReductions)
      for (Pass pass : {Pass::forward, Pass::backward, Pass::fused}) {
        LossDescriptor d;
        d.op = LossOp::cross_entropy;
        d.reduction = r;
        d.label_smoothing = 0.2;
        const std::vector<std::pair<int64_t, std::vector<int64_t>>> layouts{{7, {5}}, {1000, {3}}, {5, {2, 3}}};
        for (const auto& [C, inner] : layouts) {
          run_and_record(make_case("cross_entropy [N,C,d] C=" + std::to_string(C), d,
                                   bt::random_loss_inputs(LossOp::cross_entropy, dt, 4, C, inner, DType::i64, true, -100, seed),
                                   pass, seed), stream_);
          ++seed;
        }
        // A row length that is not a 16-byte multiple (the scalar-load path), long and short rows.
        for (int64_t C : {int64_t{8195}, int64_t{33}}) {
          run_and_record(make_case("cross_entropy odd row C=" + std::to_string(C), d,
                                   bt::random_loss_inputs(LossOp::cross_entropy, dt, 5, C, {}, DType::i64, true, -100, seed),
                                   pass, seed), stream_);
          ++seed;
        }
        // Padded rows: [N, C] logits whose rows are C + pad elements apart (a slice of a wider
        // buffer), pad 8 keeps 16-byte rows for 16-bit types, pad 3 does not.
        for (int64_t pad : {int64_t{8}, int64_t{3}}) {
          for (int64_t C : {int64_t{8192}, int64_t{40}}) {
            LossInputs in = bt::random_loss_inputs(LossOp::cross_entropy, dt, 5, C, {}, DType::i64, true, -100, seed);
            HostTensor padded(dt, {5, C}, {C + pad, 1});
            for (int64_t i = 0; i < 5 * C; ++i) padded.set(i, in.input.get(i));
            in.input = padded;
            run_and_record(make_case("cross_entropy padded rows C=" + std::to_string(C) + " pad=" + std::to_string(pad), d,
                                     std::move(in), pass, seed), stream_);
            ++seed;
          }
        }
        // nll_loss with weights and ignore_index, [N, C] and [N, C, d].
        LossDescriptor n;
        n.op = LossOp::nll_loss;
        n.reduction = r;
        if (pass != Pass::fused) {
          for (auto inner : {std::vector<int64_t>{}, std::vector<int64_t>{3}}) {
            LossInputs in = bt::random_loss_inputs(LossOp::nll_loss, dt, 9, 7, inner, DType::i64, true, -100, seed);
            in.weight = HostTensor(dt, {7});
            std::mt19937_64 rng(seed);
            bt::fill_uniform(*in.weight, rng, 0.25, 2.0);
            run_and_record(make_case("nll_loss", n, std::move(in), pass, seed), stream_);
            ++seed;
          }
        }
      }
}

TEST_F(LossGpu, PointwiseLossesEveryDtypeReductionPass) {
  const LossOp ops[] = {LossOp::mse_loss, LossOp::l1_loss, LossOp::smooth_l1_loss, LossOp::huber_loss,
                        LossOp::binary_cross_entropy, LossOp::binary_cross_entropy_with_logits, LossOp::kl_div,
                        LossOp::cosine_embedding_loss, LossOp::margin_ranking_loss};
  const std::pair<int64_t, int64_t> shapes[] = {{1, 1}, {7, 33}, {97, 4097}};
  uint64_t seed = 500;
  for (LossOp op : ops)
    for (DType dt : kDTypes)
      for (LossReduction r : kReductions)
        for (Pass pass : {Pass::forward, Pass::backward})
          for (auto [N, C] : shapes) {
            LossDescriptor d;
            d.op = op;
            d.reduction = r;
            d.beta = 0.5;
            d.delta = 1.5;
            d.margin = op == LossOp::cosine_embedding_loss ? 0.1 : 0.3;
            d.log_target = (seed % 2) == 1 && op == LossOp::kl_div;
            LossInputs in = bt::random_loss_inputs(op, dt, N, C, {}, dt, false, 0, seed);
            if (d.log_target) {
              std::mt19937_64 rng(seed);
              bt::fill_uniform(in.target, rng, -3.0, 0.0);
            }
            const std::string name = std::string(loss_op_info(op).name) + " [" + std::to_string(N) + "," + std::to_string(C) + "]";
            run_and_record(make_case(name, d, in, pass, seed), stream_);
            if (op == LossOp::binary_cross_entropy || op == LossOp::binary_cross_entropy_with_logits) {
              std::mt19937_64 rng(seed);
              in.weight = HostTensor(dt, {C});
              bt::fill_uniform(*in.weight, rng, 0.25, 2.0);
              if (op == LossOp::binary_cross_entropy_with_logits) {
                in.pos_weight = HostTensor(dt, {1, C});
                bt::fill_uniform(*in.pos_weight, rng, 0.25, 3.0);
              }
              run_and_record(make_case(name + " weights", d, std::move(in), pass, seed), stream_);
            }
            // Strided operands (pointwise ops): a column-major input, a target (and input2) taking
            // every other element of wider rows, a weight broadcast over columns ([N, 1]).
            if (N == 7 && op != LossOp::cosine_embedding_loss) {
              LossInputs st = bt::random_loss_inputs(op, dt, N, C, {}, dt, false, 0, seed + 1000);
              auto restride = [&](const HostTensor& t, std::vector<int64_t> strides) {
                HostTensor r(t.dtype(), t.shape(), std::move(strides));
                for (int64_t i = 0; i < t.numel(); ++i) r.set(i, t.get(i));
                return r;
              };
              st.input = restride(st.input, {1, N});
              st.target = restride(st.target, {2 * C, 2});
              if (st.other) st.other = restride(*st.other, {2 * C + 1, 2});
              if (op == LossOp::binary_cross_entropy || op == LossOp::binary_cross_entropy_with_logits) {
                std::mt19937_64 rng(seed);
                st.weight = HostTensor(dt, {N, 1});
                bt::fill_uniform(*st.weight, rng, 0.25, 2.0);
              }
              run_and_record(make_case(name + " strided", d, std::move(st), pass, seed), stream_);
            }
            ++seed;
          }
}

TEST_F(LossGpu, OutOfRangeTargetGivesNaNForThatSampleOnly) {
  // Short rows (a warp per row) and 128k-class rows (a block per row); then more 32000-class rows
  // than a wave of blocks, so the bad row sits among rows a persistent block walks.
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  struct Shape {
    int64_t C, N;
  };
  for (const Shape sh : {Shape{1000, 4}, Shape{128256, 4}, Shape{32000, 4 * sms + 7}}) {
    const int64_t C = sh.C, N = sh.N;
    for (DType dt : {DType::f32, DType::bf16}) {
      LossInputs in = bt::random_loss_inputs(LossOp::cross_entropy, dt, N, C, {}, DType::i64, false, -100, 9);
      in.target.set_int(2, C);
      LossDescriptor d;
      d.op = LossOp::cross_entropy;
      d.reduction = LossReduction::none;
      d.fused_backward = true;
      d = bt::loss_desc(d, in);
      auto plan = LossPlan::select(stream_, d);
      ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
      Uploaded u;
      LossArgs a;
      a.input = u.up(in.input, stream_.device());
      a.target = u.up(in.target, stream_.device());
      HostTensor loss(dt, {N}), grad(dt, {N, C});
      DeviceBuffer dl(loss.storage().size()), dg(grad.storage().size()), ws(plan->workspace_size());
      a.loss = loss.mut_at(dl.get(), stream_.device());
      a.grad_input = grad.mut_at(dg.get(), stream_.device());
      ASSERT_OK(plan->run(stream_, Workspace{ws.get(), plan->workspace_size()}, a));
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      (void)dl.download(loss.storage().data(), loss.storage().size());
      (void)dg.download(grad.storage().data(), grad.storage().size());
      for (int64_t n = 0; n < N; ++n) {
        EXPECT_EQ(std::isnan(loss.get(n)), n == 2) << "sample " << n;
        for (int64_t c = 0; c < C; c += 111) EXPECT_EQ(std::isnan(grad.get(n * C + c)), n == 2) << n << "," << c;
      }
    }
  }
}

// The persistent grid: more rows than one wave of resident blocks, so blocks loop over rows and
// each row after a block's first starts from the previous row's prefetch (long rows: the forward's
// 256-thread blocks and the gradient's 512-thread ones; short rows: a warp per row). Ignored rows
// (i % 5 == 3) sit among live ones (OutOfRangeTargetGivesNaNForThatSampleOnly covers a bad target
// on the persistent grid). BARACUDA_CE_ROWS=per_block (one block
// per row group, no cross-row prefetch) must give the same answers. The forward's TMA bulk-copy
// kernel is switched off here (BARACUDA_CE_BULK_STAGES=0): this test covers the register-pipelined one.
TEST_F(LossGpu, CrossEntropyPersistentGridManyRowsPerBlock) {
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  struct Shape {
    int64_t C, N;
  };
  // Long rows: > 2 waves of 2 blocks per SM. Short rows: > 1 wave of 8 blocks of 8 rows per SM.
  const Shape shapes[] = {{32000, 4 * sms + 7}, {1000, 72 * sms + 5}};
  uint64_t seed = 500;
  setenv("BARACUDA_CE_BULK_STAGES", "0", 1);
  for (const char* mode : {"", "per_block"}) {
    set_switch("BARACUDA_CE_ROWS", mode);
    for (const Shape& sh : shapes)
      for (DType dt : {DType::bf16, DType::f32})
        for (Pass pass : {Pass::forward, Pass::backward, Pass::fused}) {
          LossDescriptor d;
          d.op = LossOp::cross_entropy;
          d.reduction = LossReduction::mean;
          const std::string base = std::string("cross_entropy persistent") + (*mode ? " per_block" : "") +
                                   " C=" + std::to_string(sh.C) + " N=" + std::to_string(sh.N);
          LossInputs in = bt::random_loss_inputs(LossOp::cross_entropy, dt, sh.N, sh.C, {}, DType::i64, true, -100, seed);
          LossDescriptor none = d;
          none.reduction = LossReduction::none;
          run_and_record(make_case(base + " ignore", none, std::move(in), pass, seed), stream_);
          ++seed;
          LossDescriptor s = d;
          s.label_smoothing = 0.1;
          run_and_record(make_case(base + " smoothing", s,
                                   bt::random_loss_inputs(LossOp::cross_entropy, dt, sh.N, sh.C, {}, DType::i64, true,
                                                          -100, seed),
                                   pass, seed), stream_);
          ++seed;
        }
  }
  unsetenv("BARACUDA_CE_ROWS");
  unsetenv("BARACUDA_CE_BULK_STAGES");
}

// The TMA bulk-copy forward (the default on sm_90; BARACUDA_CE_BULK_STAGES, and
// BARACUDA_CE_PACKED_FOLD=0 for the generic fold of 16-bit stages): rows of one 16 KB stage exactly,
// of several stages with a partial last one (down to 16 bytes), more rows than one wave (blocks
// stream several rows back to back through the ring), ignored targets among live ones, every
// reduction. Each stage count must give the reference's answers, and the sku must say the bulk
// kernel ran.
TEST_F(LossGpu, CrossEntropyBulkStagesMatchReference) {
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  struct Shape {
    DType dt;
    int64_t C, N;
  };
  const Shape shapes[] = {{DType::bf16, 8192, 5 * sms + 3},  {DType::bf16, 32000, 2 * sms + 1},
                          {DType::f32, 4100, 4 * sms + 7},   {DType::f16, 12008, 3 * sms},
                          {DType::bf16, 128256, sms / 2 + 3}};
  uint64_t seed = 900;
  for (const char* stages : kBulkVariants) {
    set_bulk_variant(stages);
    for (const Shape& sh : shapes)
      for (LossReduction red : kReductions) {
        LossDescriptor d;
        d.op = LossOp::cross_entropy;
        d.reduction = red;
        d.z_loss = seed % 2 ? 1e-4 : 0.0;
        const std::string name = std::string("cross_entropy bulk stages=") + stages + " C=" + std::to_string(sh.C) +
                                 " N=" + std::to_string(sh.N);
        GpuCase c = make_case(name, d,
                              bt::random_loss_inputs(LossOp::cross_entropy, sh.dt, sh.N, sh.C, {}, DType::i64, true,
                                                     -100, seed),
                              Pass::forward, seed);
        ++seed;
        auto plan = LossPlan::select(stream_, c.desc);
        ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
        EXPECT_NE(plan->sku().tactic.find("TMA bulk-copy"), std::string::npos) << name << ": " << plan->sku().to_string();
        run_and_record(c, stream_);
      }
  }
  unsetenv("BARACUDA_CE_BULK_STAGES");
  unsetenv("BARACUDA_CE_PACKED_FOLD");
}

// The gradient through the TMA bulk-copy stages (the default; set explicitly: BARACUDA_CE_BULK_GRAD=1), backward and
// fused: each row streams twice through 32 KB stages of a 512-thread block, one block per SM.
// Rows of exactly one stage, one stage plus 16 bytes, less than one stage (the 16 KB minimum of a
// long row), several stages with a partial last one, more rows than blocks (a block streams
// several rows, both passes, back to back through the ring), ignored targets among live ones,
// every reduction; odd seeds add z-loss, class weights and i32 targets with ignore_index 0. Then
// an out-of-range target among the persistent rows: NaN for that sample only. The sku must say
// the gradient streamed through the bulk stages.
TEST_F(LossGpu, CrossEntropyBulkGradientMatchesReference) {
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  int major = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0), cudaSuccess);
  if (major < 9) GTEST_SKIP() << "the TMA bulk-copy kernel needs sm_90";
  struct Shape {
    DType dt;
    int64_t C, N;
  };
  const Shape shapes[] = {{DType::bf16, 16384, 3 * sms + 1}, {DType::f32, 8196, 2 * sms + 5},
                          {DType::bf16, 8192, sms + 3},      {DType::f16, 12008, 3 * sms},
                          {DType::bf16, 32000, 2 * sms + 1}, {DType::bf16, 128256, sms + 5}};
  const auto tactic_ok = [](const std::string& t) {
    return t.find("then the gradient") != std::string::npos && t.find("TMA bulk-copy") != std::string::npos;
  };
  // The switches are read when a plan is made; restored on every way out (an ASSERT returns early).
  struct RestoreEnv {
    ~RestoreEnv() {
      unsetenv("BARACUDA_CE_BULK_GRAD");
      unsetenv("BARACUDA_CE_BULK_STAGES");
      unsetenv("BARACUDA_CE_PACKED_FOLD");
    }
  } restore;
  setenv("BARACUDA_CE_BULK_GRAD", "1", 1);
  uint64_t seed = 1300;
  for (const char* stages : kBulkVariants) {
    set_bulk_variant(stages);
    for (const Shape& sh : shapes)
      for (LossReduction red : kReductions)
        for (Pass pass : {Pass::backward, Pass::fused}) {
          LossDescriptor d;
          d.op = LossOp::cross_entropy;
          d.reduction = red;
          const bool extras = seed % 2 == 1;
          if (extras) {
            d.z_loss = 1e-3;
            d.ignore_index = 0;
          }
          const std::string name = std::string("cross_entropy bulk gradient stages=") + stages +
                                   " C=" + std::to_string(sh.C) + " N=" + std::to_string(sh.N) +
                                   (extras ? " z_loss weight i32" : "");
          LossInputs in = bt::random_loss_inputs(LossOp::cross_entropy, sh.dt, sh.N, sh.C, {},
                                                 extras ? DType::i32 : DType::i64, true, d.ignore_index, seed);
          if (extras) {
            in.weight = HostTensor(sh.dt, {sh.C});
            std::mt19937_64 rng(seed);
            bt::fill_uniform(*in.weight, rng, 0.25, 2.0);
          }
          GpuCase c = make_case(name, d, std::move(in), pass, seed);
          ++seed;
          auto plan = LossPlan::select(stream_, c.desc);
          ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
          EXPECT_TRUE(tactic_ok(plan->sku().tactic)) << name << ": " << plan->sku().to_string();
          run_and_record(c, stream_);
        }
  }
  unsetenv("BARACUDA_CE_BULK_STAGES");
  unsetenv("BARACUDA_CE_PACKED_FOLD");

  // An out-of-range target on a block's second row (row sms + 2), fused and backward.
  for (DType dt : {DType::f32, DType::bf16})
    for (Pass pass : {Pass::fused, Pass::backward}) {
      const int64_t C = 32000, N = 2 * sms + 7, bad = sms + 2;
      LossInputs in = bt::random_loss_inputs(LossOp::cross_entropy, dt, N, C, {}, DType::i64, false, -100, 17);
      in.target.set_int(bad, C);
      LossDescriptor d;
      d.op = LossOp::cross_entropy;
      d.reduction = LossReduction::none;
      d.direction = pass == Pass::backward ? Direction::backward : Direction::forward;
      d.fused_backward = pass == Pass::fused;
      d = bt::loss_desc(d, in);
      auto plan = LossPlan::select(stream_, d);
      ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
      EXPECT_TRUE(tactic_ok(plan->sku().tactic)) << plan->sku().to_string();
      Uploaded u;
      LossArgs a;
      a.input = u.up(in.input, stream_.device());
      a.target = u.up(in.target, stream_.device());
      HostTensor loss(dt, {N}), grad(dt, {N, C}), gl(dt, {N});
      std::mt19937_64 rng(5);
      bt::fill_uniform(gl, rng, 0.5, 1.5);
      DeviceBuffer dl(loss.storage().size()), dg(grad.storage().size()), ws(plan->workspace_size());
      if (pass == Pass::backward) a.grad_loss = u.up(gl, stream_.device());
      else a.loss = loss.mut_at(dl.get(), stream_.device());
      a.grad_input = grad.mut_at(dg.get(), stream_.device());
      ASSERT_OK(plan->run(stream_, Workspace{ws.get(), plan->workspace_size()}, a));
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      (void)dg.download(grad.storage().data(), grad.storage().size());
      if (pass == Pass::fused) {
        (void)dl.download(loss.storage().data(), loss.storage().size());
        for (int64_t n = 0; n < N; ++n) EXPECT_EQ(std::isnan(loss.get(n)), n == bad) << "sample " << n;
      }
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; c += 111) {
          const double g = grad.get(n * C + c);
          EXPECT_EQ(std::isnan(g), n == bad) << pass_name(pass) << " " << n << "," << c;
          if (n != bad) {
            EXPECT_TRUE(std::isfinite(g)) << pass_name(pass) << " " << n << "," << c;
          }
        }
    }
}

const LossOp kVectorOps[] = {LossOp::mse_loss, LossOp::l1_loss, LossOp::smooth_l1_loss, LossOp::huber_loss,
                             LossOp::binary_cross_entropy, LossOp::binary_cross_entropy_with_logits, LossOp::kl_div,
                             LossOp::margin_ranking_loss};

// The pointwise case of op / dtype / reduction / pass with the options the vector tests use.
GpuCase vector_case(const std::string& name, LossOp op, DType dt, LossReduction r, Pass pass, int64_t N, int64_t C,
                    uint64_t seed) {
  LossDescriptor d;
  d.op = op;
  d.reduction = r;
  d.beta = 0.5;
  d.delta = 1.5;
  d.margin = 0.3;
  d.log_target = (seed % 2) == 1 && op == LossOp::kl_div;
  LossInputs in = bt::random_loss_inputs(op, dt, N, C, {}, dt, false, 0, seed);
  if (d.log_target) {
    std::mt19937_64 rng(seed);
    bt::fill_uniform(in.target, rng, -3.0, 0.0);
  }
  return make_case(name + " [" + std::to_string(N) + "," + std::to_string(C) + "]", d, std::move(in), pass, seed);
}

// The vectorized pointwise kernels (loss_pointwise_vector.cu, the default for dense operands
// without weights) and the scalar kernel they replace (BARACUDA_LOSS_POINTWISE=legacy), each
// against the reference: every pointwise op x dtype x reduction x pass, with sizes below one
// 16-byte pack, one step with a ragged tail and many full steps plus a tail, each with aligned
// operands and with every operand one element past 16-byte alignment (the element-wise loads).
// The plan's tactic names the path.
TEST_F(LossGpu, PointwiseVectorPathAndLegacySwitch) {
  const std::pair<int64_t, int64_t> shapes[] = {{1, 3}, {3, 1365}, {97, 4097}};
  uint64_t seed = 9000;
  for (const char* mode : {"", "legacy"}) {
    set_switch("BARACUDA_LOSS_POINTWISE", mode);
    for (LossOp op : kVectorOps)
      for (DType dt : kDTypes)
        for (LossReduction r : kReductions)
          for (Pass pass : {Pass::forward, Pass::backward})
            for (auto [N, C] : shapes)
              for (bool misaligned : {false, true}) {
                // Misaligned operands matter to the vectorized path only, and only past one pack.
                if (misaligned && (*mode || C == 3)) continue;
                GpuCase c = vector_case(std::string(loss_op_info(op).name) + " vector" + (*mode ? " legacy" : "") +
                                            (misaligned ? " misaligned" : ""),
                                        op, dt, r, pass, N, C, seed);
                c.misalign = misaligned ? static_cast<size_t>(dtype_size(dt)) : 0;
                ASSERT_NO_FATAL_FAILURE(run_and_record_tactic(c, stream_, "vectorized", *mode == '\0'));
                ++seed;
              }
  }
  unsetenv("BARACUDA_LOSS_POINTWISE");
}

// The vectorized kernels over more elements than one wave of blocks covers in a step (each block
// loops several times; the tail is ragged): f32 and bf16, an op with and without transcendentals,
// mean (the fixed-grid partial sums) and none, forward and backward, default path only.
TEST_F(LossGpu, PointwiseVectorPathManyGridStrides) {
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  unsetenv("BARACUDA_LOSS_POINTWISE");
  // sms * 32 + 1 rows of 1031: more than sms x 4 blocks x 8192 bf16 elements (the widest step).
  const int64_t N = static_cast<int64_t>(sms) * 32 + 1, C = 1031;
  uint64_t seed = 9500;
  for (LossOp op : {LossOp::mse_loss, LossOp::binary_cross_entropy})
    for (DType dt : {DType::f32, DType::bf16})
      for (LossReduction r : {LossReduction::mean, LossReduction::none})
        for (Pass pass : {Pass::forward, Pass::backward}) {
          LossDescriptor d;
          d.op = op;
          d.reduction = r;
          GpuCase c = make_case(std::string(loss_op_info(op).name) + " vector many strides", d,
                                bt::random_loss_inputs(op, dt, N, C, {}, dt, false, 0, seed), pass, seed);
          run_and_record(c, stream_);
          ++seed;
        }
}

// The vectorized forward's sum does not depend on the operands' alignment: the element-wise loads
// of a misaligned operand add in the same order as the 16-byte ones (and runs repeat bitwise).
TEST_F(LossGpu, PointwiseVectorSumSameBitsAlignedOrNot) {
  unsetenv("BARACUDA_LOSS_POINTWISE");
  for (DType dt : {DType::f32, DType::bf16}) {
    const int64_t N = 301, C = 3001;
    LossInputs in = bt::random_loss_inputs(LossOp::smooth_l1_loss, dt, N, C, {}, dt, false, 0, 77);
    LossDescriptor d;
    d.op = LossOp::smooth_l1_loss;
    d.reduction = LossReduction::sum;
    d = bt::loss_desc(d, in);
    auto plan = LossPlan::select(stream_, d);
    ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
    EXPECT_NE(plan->sku().tactic.find("vectorized"), std::string::npos) << plan->sku().to_string();
    std::vector<std::vector<uint8_t>> results;
    for (size_t off : {size_t{0}, static_cast<size_t>(dtype_size(dt)), size_t{0}}) {
      Uploaded u;
      u.offset = off;
      LossArgs a;
      a.input = u.up(in.input, stream_.device());
      a.target = u.up(in.target, stream_.device());
      HostTensor loss(dt, {});
      DeviceBuffer dl(loss.storage().size()), ws(plan->workspace_size());
      a.loss = loss.mut_at(dl.get(), stream_.device());
      ASSERT_OK(plan->run(stream_, Workspace{ws.get(), plan->workspace_size()}, a));
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      std::vector<uint8_t> bytes(loss.storage().size());
      (void)dl.download(bytes.data(), bytes.size());
      results.push_back(bytes);
    }
    EXPECT_TRUE(results[0] == results[1]) << dtype_name(dt) << ": aligned and misaligned operands differ";
    EXPECT_TRUE(results[0] == results[2]) << dtype_name(dt) << ": two runs differ";
  }
}

// The vectorized path's streams without a reduction (forward with reduction none, every
// backward) in one pass of blocks (the default) and on the wave grid
// (BARACUDA_LOSS_POINTWISE_GRID=wave), each against the reference: every pointwise op x dtype,
// sizes below one pack, a ragged single block, hundreds of blocks with a ragged tail, and about a
// thousand blocks; aligned operands and every operand one element past 16-byte alignment (the
// element-wise path). The tactic names the geometry; a mean forward keeps the wave grid.
TEST_F(LossGpu, PointwiseOnePassAndWaveSwitch) {
  const std::pair<int64_t, int64_t> shapes[] = {{1, 3}, {3, 683}, {97, 4097}, {257, 4099}};
  const std::pair<LossReduction, Pass> streams[] = {{LossReduction::none, Pass::forward},
                                                    {LossReduction::none, Pass::backward},
                                                    {LossReduction::mean, Pass::backward},
                                                    {LossReduction::sum, Pass::backward},
                                                    {LossReduction::mean, Pass::forward}};
  unsetenv("BARACUDA_LOSS_POINTWISE");
  uint64_t seed = 12000;
  for (const char* mode : {"", "wave"}) {
    set_switch("BARACUDA_LOSS_POINTWISE_GRID", mode);
    for (LossOp op : kVectorOps)
      for (DType dt : kDTypes)
        for (auto [r, pass] : streams)
          for (auto [N, C] : shapes)
            for (bool misaligned : {false, true}) {
              if (misaligned && C == 3) continue;
              // The mean forward (never one pass) only checks its tactic and one shape.
              const bool reduced_forward = pass == Pass::forward && r != LossReduction::none;
              if (reduced_forward && (N != 97 || misaligned)) continue;
              GpuCase c = vector_case(std::string(loss_op_info(op).name) + " one-pass" + (*mode ? " wave" : "") +
                                          (misaligned ? " misaligned" : ""),
                                      op, dt, r, pass, N, C, seed);
              c.misalign = misaligned ? static_cast<size_t>(dtype_size(dt)) : 0;
              auto plan = LossPlan::select(stream_, c.desc);
              ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
              const std::string& tactic = plan->sku().tactic;
              EXPECT_NE(tactic.find("vectorized"), std::string::npos) << c.name << ": " << plan->sku().to_string();
              EXPECT_EQ(tactic.find("one pass") != std::string::npos, *mode == '\0' && !reduced_forward)
                  << c.name << ": " << plan->sku().to_string();
              run_and_record(c, stream_);
              ++seed;
            }
  }
  unsetenv("BARACUDA_LOSS_POINTWISE_GRID");
}

// Runs c's plan (as selected under the current environment) and returns the bytes of its outputs
// (loss, or grad_input then grad_other), or a failure message in `err`.
std::vector<uint8_t> output_bytes(const GpuCase& c, const Stream& gpu, std::string& err) {
  std::vector<uint8_t> bytes;
  auto sig = infer_signature(c.desc);
  auto plan = LossPlan::select(gpu, c.desc);
  if (!sig || !plan) {
    err = "no signature or plan";
    return bytes;
  }
  Outputs got = make_outputs(c.desc, *sig);
  DeviceCase d(c, got, gpu.device());
  DeviceBuffer ws(plan->workspace_size());
  d.fill_outputs(0xFF);
  if (Status s = plan->run(gpu, Workspace{ws.get(), plan->workspace_size()}, d.a); !s.is_ok()) {
    err = "run: " + s.to_string();
    return bytes;
  }
  if (cudaDeviceSynchronize() != cudaSuccess) {
    err = "kernel failed";
    return bytes;
  }
  auto append = [&](const HostTensor& t, const DeviceBuffer& b) {
    const size_t n = t.storage().size(), at0 = bytes.size();
    bytes.resize(at0 + n);
    (void)cudaMemcpy(bytes.data() + at0, d.at(b), n, cudaMemcpyDeviceToHost);
  };
  if (got.has_loss) append(got.loss, d.dl);
  if (got.has_grad) append(got.grad_input, d.dg);
  if (got.has_other) append(got.grad_other, d.dgo);
  return bytes;
}

// The largest distance in units in the last place between two equally long byte runs of
// elements of `elem` bytes (IEEE values, compared through their sign-magnitude order).
int64_t max_ulp_distance(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, size_t elem) {
  int64_t worst = a.size() == b.size() ? 0 : INT64_MAX;
  for (size_t at = 0; worst != INT64_MAX && at + elem <= a.size(); at += elem) {
    const auto ordered = [&](const std::vector<uint8_t>& v) {
      uint64_t bits = 0;
      std::memcpy(&bits, v.data() + at, elem);
      const uint64_t sign = uint64_t{1} << (8 * elem - 1);
      const int64_t mag = static_cast<int64_t>(bits & (sign - 1));
      return (bits & sign) ? -mag : mag;
    };
    const int64_t d = ordered(a) - ordered(b);
    worst = std::max(worst, d < 0 ? -d : d);
  }
  return worst;
}

// How many elements of two equally long byte runs of `dt` values differ by more than `ulps` units
// in the last place and also by more than `atol` (every element when the lengths differ).
int64_t count_beyond_ulps_and_atol(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, DType dt,
                                   int64_t ulps, double atol) {
  const size_t elem = static_cast<size_t>(dtype_size(dt));
  if (a.size() != b.size()) return static_cast<int64_t>(std::max(a.size(), b.size()) / elem);
  int64_t beyond = 0;
  for (size_t at = 0; at + elem <= a.size(); at += elem) {
    const std::vector<uint8_t> one_a(a.begin() + at, a.begin() + at + elem), one_b(b.begin() + at, b.begin() + at + elem);
    if (max_ulp_distance(one_a, one_b, elem) <= ulps) continue;
    const double va = load_as_double(a.data() + at, dt), vb = load_as_double(b.data() + at, dt);
    if (!(std::fabs(va - vb) <= atol)) ++beyond;
  }
  return beyond;
}

// The one-pass geometry computes the same bits as the wave grid (each element through the same
// expression; only the thread that computes it changes), aligned or not: every pointwise op x
// dtype, the none forward, the none and mean backward, over ~1000 blocks with a ragged tail.
// bce_with_logits excepted: on the H200 its f32 forward differed between the two kernels' 16-byte
// paths (the compiler contracts (1 - t) x + lw (...) into an FMA in one and not the other). Where
// those terms cancel to near zero that is thousands of ulps of the result (8631 at c917ae4) but
// about 1e-7 absolute, so for it each element must agree to 2 ulps or to 1e-6 absolute.
TEST_F(LossGpu, PointwiseOnePassSameBitsAsWaveGrid) {
  unsetenv("BARACUDA_LOSS_POINTWISE");
  uint64_t seed = 13000;
  for (LossOp op : kVectorOps)
    for (DType dt : kDTypes)
      for (auto [r, pass] : {std::pair{LossReduction::none, Pass::forward}, std::pair{LossReduction::none, Pass::backward},
                             std::pair{LossReduction::mean, Pass::backward}})
        for (bool misaligned : {false, true}) {
          GpuCase c = vector_case(std::string(loss_op_info(op).name) + " one-pass bits", op, dt, r, pass, 257, 4099, seed++);
          c.misalign = misaligned ? static_cast<size_t>(dtype_size(dt)) : 0;
          std::string err;
          unsetenv("BARACUDA_LOSS_POINTWISE_GRID");
          const std::vector<uint8_t> one_pass = output_bytes(c, stream_, err);
          setenv("BARACUDA_LOSS_POINTWISE_GRID", "wave", 1);
          const std::vector<uint8_t> wave = output_bytes(c, stream_, err);
          unsetenv("BARACUDA_LOSS_POINTWISE_GRID");
          ASSERT_TRUE(err.empty()) << c.name << ": " << err;
          ASSERT_FALSE(one_pass.empty()) << c.name;
          if (op == LossOp::binary_cross_entropy_with_logits) {
            EXPECT_EQ(count_beyond_ulps_and_atol(one_pass, wave, dt, 2, 1e-6), 0)
                << c.name << (misaligned ? " misaligned" : "") << ": the one-pass and wave geometries differ";
            continue;
          }
          EXPECT_TRUE(one_pass == wave) << c.name << (misaligned ? " misaligned" : "")
                                        << ": the one-pass and wave geometries differ";
        }
}

// nll_loss [N, C] backward a warp per row (the default) and the one-thread-per-element kernel
// (BARACUDA_LOSS_NLL_GRAD=legacy), each against the reference: every dtype x reduction, rows that
// are 16-byte multiples (packs) and rows that are not (element stores), more rows than one wave
// of warps, class weights or none, ignore_index present, i64 and i32 targets.
TEST_F(LossGpu, NllRowsBackwardAndLegacySwitch) {
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  const std::pair<int64_t, int64_t> shapes[] = {{9, 7}, {33, 1024}, {17, 1001}, {5, 1000}, {int64_t{sms} * 64 + 3, 16}};
  uint64_t seed = 9700;
  for (const char* mode : {"", "legacy"}) {
    set_switch("BARACUDA_LOSS_NLL_GRAD", mode);
    for (DType dt : kDTypes)
      for (LossReduction r : kReductions)
        for (auto [N, C] : shapes)
          for (bool weighted : {false, true}) {
            LossDescriptor d;
            d.op = LossOp::nll_loss;
            d.reduction = r;
            LossInputs in = bt::random_loss_inputs(LossOp::nll_loss, dt, N, C, {}, seed % 2 ? DType::i32 : DType::i64,
                                                   true, -100, seed);
            if (weighted) {
              in.weight = HostTensor(dt, {C});
              std::mt19937_64 rng(seed);
              bt::fill_uniform(*in.weight, rng, 0.25, 2.0);
            }
            GpuCase c = make_case(std::string("nll_loss rows") + (*mode ? " legacy" : "") + " [" + std::to_string(N) +
                                      "," + std::to_string(C) + "]" + (weighted ? " weight" : ""),
                                  d, std::move(in), Pass::backward, seed);
            ASSERT_NO_FATAL_FAILURE(run_and_record_tactic(c, stream_, "warp per row", *mode == '\0'));
            ++seed;
          }
  }
  unsetenv("BARACUDA_LOSS_NLL_GRAD");
}

// nll_loss [N, C] backward a warp per row: an out-of-range target makes that row's gradient NaN
// and no other (packed rows and element-stored rows).
TEST_F(LossGpu, NllRowsBackwardOutOfRangeTargetGivesNaNRow) {
  unsetenv("BARACUDA_LOSS_NLL_GRAD");
  for (int64_t C : {int64_t{1024}, int64_t{1001}})
    for (DType dt : {DType::f32, DType::bf16}) {
      const int64_t N = 6;
      LossInputs in = bt::random_loss_inputs(LossOp::nll_loss, dt, N, C, {}, DType::i64, false, -100, 3);
      in.target.set_int(2, C);
      LossDescriptor d;
      d.op = LossOp::nll_loss;
      d.reduction = LossReduction::sum;
      d.direction = Direction::backward;
      d = bt::loss_desc(d, in);
      auto plan = LossPlan::select(stream_, d);
      ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
      EXPECT_NE(plan->sku().tactic.find("warp per row"), std::string::npos) << plan->sku().to_string();
      Uploaded u;
      LossArgs a;
      a.input = u.up(in.input, stream_.device());
      a.target = u.up(in.target, stream_.device());
      HostTensor gl(dt, {}), grad(dt, {N, C});
      gl.set(0, 1.0);
      a.grad_loss = u.up(gl, stream_.device());
      DeviceBuffer dg(grad.storage().size()), ws(plan->workspace_size());
      (void)dg.fill(0xFF);
      a.grad_input = grad.mut_at(dg.get(), stream_.device());
      ASSERT_OK(plan->run(stream_, Workspace{ws.get(), plan->workspace_size()}, a));
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      (void)dg.download(grad.storage().data(), grad.storage().size());
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c) {
          const double g = grad.get(n * C + c);
          ASSERT_EQ(std::isnan(g), n == 2) << C << " " << dtype_name(dt) << " " << n << "," << c;
          if (n != 2) {
            ASSERT_TRUE(std::isfinite(g)) << n << "," << c;
          }
        }
    }
}

// Captures plan.run(gs, w, a) on cs (gs's CUDA stream) into a CUDA graph, replays it once and
// expects the outputs' bytes (snapshot()) to equal `first`, a direct run's.
template <class Plan, class Snapshot>
void expect_graph_replay_matches(const Plan& plan, const Stream& gs, const Workspace& w, const LossArgs& a,
                                 cudaStream_t cs, const Snapshot& snapshot, const std::vector<uint8_t>& first) {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(cs, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  const Status captured = plan.run(gs, w, a);
  ASSERT_EQ(cudaStreamEndCapture(cs, &graph), cudaSuccess);
  ASSERT_OK(captured);
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, cs), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(cs), cudaSuccess);
  EXPECT_TRUE(snapshot() == first) << "the graph replay differs from a direct run";
  (void)cudaGraphExecDestroy(exec);
  (void)cudaGraphDestroy(graph);
}

// Deterministic (bitwise equal run after run) and CUDA-graph safe: a captured run replays to the
// same bits as a direct one.
TEST_F(LossGpu, DeterministicAndGraphCapturable) {
  cudaStream_t cs = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&cs, cudaStreamNonBlocking), cudaSuccess);
  auto gs = Stream::cuda(cs);
  ASSERT_TRUE(gs.has_value()) << gs.status().to_string();
  LossInputs in = bt::random_loss_inputs(LossOp::cross_entropy, DType::bf16, 64, 32000, {}, DType::i64, true, -100, 21);
  LossDescriptor d;
  d.op = LossOp::cross_entropy;
  d.fused_backward = true;
  d.label_smoothing = 0.1;
  d = bt::loss_desc(d, in);
  auto plan = LossPlan::select(*gs, d);
  ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
  Uploaded u;
  LossArgs a;
  a.input = u.up(in.input, gs->device());
  a.target = u.up(in.target, gs->device());
  HostTensor loss(DType::bf16, {}), grad(DType::bf16, {64, 32000});
  DeviceBuffer dl(loss.storage().size()), dg(grad.storage().size()), ws(plan->workspace_size());
  a.loss = loss.mut_at(dl.get(), gs->device());
  a.grad_input = grad.mut_at(dg.get(), gs->device());
  const Workspace w{ws.get(), plan->workspace_size()};
  auto snapshot = [&]() {
    std::vector<uint8_t> bytes(loss.storage().size() + grad.storage().size());
    (void)dl.download(bytes.data(), loss.storage().size());
    (void)dg.download(bytes.data() + loss.storage().size(), grad.storage().size());
    return bytes;
  };
  ASSERT_OK(plan->run(*gs, w, a));
  ASSERT_EQ(cudaStreamSynchronize(cs), cudaSuccess);
  const std::vector<uint8_t> first = snapshot();
  ASSERT_OK(plan->run(*gs, w, a));
  ASSERT_EQ(cudaStreamSynchronize(cs), cudaSuccess);
  EXPECT_TRUE(snapshot() == first) << "two runs differ";
  (void)dl.fill(0xFF);
  (void)dg.fill(0xFF);
  ASSERT_NO_FATAL_FAILURE(expect_graph_replay_matches(*plan, *gs, w, a, cs, snapshot, first));
  (void)cudaStreamDestroy(cs);
}

// BARACUDA_PDL (on by default on sm_90+): the loss kernels, the pointwise forward's mean / sum
// finish_kernel among them, as programmatic dependent launches. PDL changes only when a kernel
// starts (each waits for the previous grid in-kernel), so each case must match the CPU reference
// and be bitwise equal to BARACUDA_PDL=0's plain launches, on the vectorized path and on the
// scalar one (BARACUDA_LOSS_POINTWISE=legacy), over one wave and over many grid strides. The
// tactic names it exactly with BARACUDA_PDL=1 on sm_90+.
TEST_F(LossGpu, PointwisePdlFinishMatchesDefaultBitwise) {
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), cudaSuccess);
  const bool sm90 = stream_.device().sm >= 90;
  const char* const kPdl = ", programmatic dependent launch";
  const std::pair<int64_t, int64_t> shapes[] = {{97, 4097}, {int64_t{sms} * 32 + 1, 1031}};
  uint64_t seed = 14000;
  for (const char* mode : {"", "legacy"}) {
    set_switch("BARACUDA_LOSS_POINTWISE", mode);
    for (LossOp op : {LossOp::mse_loss, LossOp::binary_cross_entropy, LossOp::smooth_l1_loss})
      for (DType dt : {DType::f32, DType::bf16})
        for (auto [r, pass] : {std::pair{LossReduction::mean, Pass::forward}, std::pair{LossReduction::sum, Pass::forward},
                               std::pair{LossReduction::none, Pass::forward}, std::pair{LossReduction::mean, Pass::backward}})
          for (auto [N, C] : shapes) {
            const bool finish = pass == Pass::forward && r != LossReduction::none;
            if (!finish && N != 97) continue;  // the streams without a finish kernel: one shape
            GpuCase c = vector_case(std::string(loss_op_info(op).name) + " pdl" + (*mode ? " legacy" : ""), op, dt, r,
                                    pass, N, C, seed++);
            std::vector<uint8_t> bytes[2];
            for (bool pdl : {false, true}) {
              set_switch("BARACUDA_PDL", pdl ? "1" : "0");
              ASSERT_NO_FATAL_FAILURE(run_and_record_tactic(c, stream_, kPdl, pdl && sm90));
              std::string err;
              bytes[pdl] = output_bytes(c, stream_, err);
              ASSERT_TRUE(err.empty()) << c.name << (pdl ? " (PDL)" : "") << ": " << err;
            }
            unsetenv("BARACUDA_PDL");
            ASSERT_FALSE(bytes[0].empty()) << c.name;
            EXPECT_TRUE(bytes[0] == bytes[1]) << c.name << ": the PDL finish differs from the default";
          }
  }
  unsetenv("BARACUDA_LOSS_POINTWISE");
  unsetenv("BARACUDA_PDL");
}

// A PDL finish inside CUDA graph capture (a programmatic edge): the replay reproduces the direct
// run, which equals the default launch's bits.
TEST_F(LossGpu, PointwisePdlFinishGraphCapturable) {
  unsetenv("BARACUDA_LOSS_POINTWISE");
  cudaStream_t cs = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&cs, cudaStreamNonBlocking), cudaSuccess);
  auto gs = Stream::cuda(cs);
  ASSERT_TRUE(gs.has_value()) << gs.status().to_string();
  GpuCase c = vector_case("mse_loss pdl graph", LossOp::mse_loss, DType::f32, LossReduction::mean, Pass::forward, 301,
                          3001, 14500);
  std::string err;
  setenv("BARACUDA_PDL", "0", 1);
  const std::vector<uint8_t> want = output_bytes(c, *gs, err);
  ASSERT_TRUE(err.empty()) << err;
  setenv("BARACUDA_PDL", "1", 1);
  auto plan = LossPlan::select(*gs, c.desc);
  unsetenv("BARACUDA_PDL");
  ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
  EXPECT_EQ(plan->sku().tactic.find(", programmatic dependent launch") != std::string::npos,
            gs->device().sm >= 90)
      << plan->sku().to_string();
  Uploaded u;
  LossArgs a;
  a.input = u.up(c.in.input, gs->device());
  a.target = u.up(c.in.target, gs->device());
  HostTensor loss(DType::f32, {});
  DeviceBuffer dl(loss.storage().size()), ws(plan->workspace_size());
  a.loss = loss.mut_at(dl.get(), gs->device());
  const Workspace w{ws.get(), plan->workspace_size()};
  auto snapshot = [&]() {
    std::vector<uint8_t> bytes(loss.storage().size());
    (void)dl.download(bytes.data(), bytes.size());
    return bytes;
  };
  ASSERT_OK(plan->run(*gs, w, a));
  ASSERT_EQ(cudaStreamSynchronize(cs), cudaSuccess);
  const std::vector<uint8_t> first = snapshot();
  EXPECT_TRUE(first == want) << "the PDL run differs from the default";
  (void)dl.fill(0xFF);
  ASSERT_NO_FATAL_FAILURE(expect_graph_replay_matches(*plan, *gs, w, a, cs, snapshot, first));
  (void)cudaStreamDestroy(cs);
}

// Class losses take dense operands (and padded [N, C] rows): a transposed one is refused with the
// reason, so select() on a CUDA stream explains why.
TEST_F(LossGpu, StridedOperandsAreRefusedWithAReason) {
  LossDescriptor d;
  d.op = LossOp::cross_entropy;
  d.input = Operand::tensor(DType::f32, {4, 7}, {1, 4});
  d.target = Operand::tensor(DType::i64, {4});
  auto plan = LossPlan::select(stream_, d);
  ASSERT_FALSE(plan.has_value());
  EXPECT_NE(plan.status().message().find("dense"), std::string::npos) << plan.status().message();
}

}  // namespace
