// The CUDA elementwise plans against the CPU reference plan (Stream::cpu()) on the same inputs:
// every op x every dtype it accepts, forward and backward; every cast pair; odd sizes, strided,
// broadcast, scalar and special-value inputs; outputs poisoned before each run and checked fully
// written. Also: cast amax, prelu's weight gradient, CUDA graph capture, > 2^31 elements, and the
// packed kernel of gated ops with halves narrower than 16 bytes (its tails, grid strides,
// misaligned bases and off switch).
//
// Without a GPU every test skips (GTEST_SKIP). The last line printed is
//   "GPU elementwise: N passed, M failed, K not supported"
// where K counts op x dtype combinations the op legitimately refuses (infer_signature rejects
// them on every backend); a valid combination the CUDA plan can't run is a failure.
//
// Environment: BARACUDA_TEST_SKIP_LARGE=1 skips the > 2^31-element case and the packed gated
// kernel's many-grid-strides cases (e.g. under compute-sanitizer, where they are slow).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gpu_test_support.hpp"
#include "device_buffer.hpp"
#include "gtest_helpers.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::Case;
using bt::DeviceBuffer;
using bt::HostTensor;
using bt::Variant;

using bt::have_gpu;
BT_GPU_FAMILY_COUNTS("elementwise");  // the "GPU elementwise: ..." summary line

const DType kFloatDTypes[] = {DType::f32, DType::f16, DType::bf16, DType::f64};
const DType kValueDTypes[] = {DType::f32, DType::f16, DType::bf16, DType::f64, DType::i64, DType::i32,
                              DType::i16, DType::i8,  DType::u8,   DType::boolean};
const DType kRealDTypes[] = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::f8e4m3, DType::f8e5m2,
                             DType::i64, DType::i32, DType::i16, DType::i8,   DType::u8,     DType::boolean};

// Tolerance for output `o` of case `c`. Per-op slack, used sparingly:
//  * lgamma, digamma, erfinv (and their backward) in f32: the CUDA f32 special functions are
//    accurate to a few ulp of their arguments' scale, not of the result, near the results' zeros
//    (lgamma(1) = lgamma(2) = 0, digamma(1.4616) = 0, erfinv(0) = 0): atol 1e-5.
//  * prelu's weight gradient is a sum over every element: atol grows with the element count.
bt::Tolerance tolerance_for(const Case& c, size_t o, const HostTensor& want) {
  bt::Tolerance t = bt::default_tolerance(want.dtype());
  const ElementwiseOp op = c.desc.op;
  if ((op == ElementwiseOp::lgamma || op == ElementwiseOp::digamma || op == ElementwiseOp::erfinv) &&
      want.dtype() == DType::f32)
    t.atol = 1e-5;
  if (op == ElementwiseOp::prelu && c.desc.direction == Direction::backward && o == 1) {
    const double n = static_cast<double>(c.inputs[1].numel());
    t.atol = std::max(t.atol, (want.dtype() == DType::f64 ? 1e-14 : 1e-6) * n);
  }
  return t;
}

enum class Outcome { pass, fail };

// Copies `n` bytes to / from device memory `offset` bytes past the start of `b` (the buffers'
// own transfers start at their base). Waits for the device, as DeviceBuffer's transfers do.
cudaError_t upload_at(DeviceBuffer& b, size_t offset, const void* src, size_t n) {
  cudaError_t e = cudaMemcpy(static_cast<char*>(b.get()) + offset, src, n, cudaMemcpyHostToDevice);
  return e != cudaSuccess ? e : cudaDeviceSynchronize();
}
cudaError_t download_at(const DeviceBuffer& b, size_t offset, void* dst, size_t n) {
  cudaError_t e = cudaMemcpy(dst, static_cast<const char*>(b.get()) + offset, n, cudaMemcpyDeviceToHost);
  return e != cudaSuccess ? e : cudaDeviceSynchronize();
}

// Runs `c` on the CPU reference and on the CUDA plan and compares every output. Every device
// tensor starts `offset` bytes into its allocation (a misaligned base pointer when offset is not a
// multiple of 16).
Outcome check_case(Case& c, const Stream& gpu, cudaStream_t cs, bool expect_vectorized, std::string& why,
                   size_t offset = 0) {
  Case ref = c;
  if (Status s = bt::run_case_cpu(ref); !s.is_ok()) {
    why = "CPU reference failed: " + s.to_string();
    return Outcome::fail;
  }
  auto plan = ElementwisePlan::select(gpu, c.desc);
  if (!plan) {
    why = "no CUDA plan for a valid descriptor: " + plan.status().to_string();
    return Outcome::fail;
  }
  if (expect_vectorized && plan->sku().impl != "cuda_vectorized") {
    why = "expected the vectorized kernel, got " + plan->sku().to_string();
    return Outcome::fail;
  }
  const Device dev = gpu.device();
  std::vector<DeviceBuffer> in_bufs, out_bufs;
  ElementwiseArgs args;
  args.scalars = c.scalars;
  for (size_t k = 0; k < c.inputs.size(); ++k) {
    in_bufs.emplace_back(offset + c.inputs[k].storage().size());
    if (c.input_is_scalar[k]) continue;
    if (!in_bufs.back() ||
        upload_at(in_bufs.back(), offset, c.inputs[k].storage().data(), c.inputs[k].storage().size()) != cudaSuccess) {
      why = "device allocation/upload failed";
      return Outcome::fail;
    }
    args.inputs[k] = c.inputs[k].ref_at(static_cast<char*>(in_bufs.back().get()) + offset, dev);
  }
  for (size_t k = 0; k < c.outputs.size(); ++k) {
    out_bufs.emplace_back(offset + c.outputs[k].storage().size());
    if (!out_bufs.back()) {
      why = "device allocation failed";
      return Outcome::fail;
    }
    if (c.output_wanted[k]) args.outputs[k] = c.outputs[k].mut_at(static_cast<char*>(out_bufs.back().get()) + offset, dev);
  }
  DeviceBuffer ws(plan->workspace_size());
  for (uint8_t poison : {uint8_t{0xFF}, uint8_t{0x00}}) {
    for (auto& b : out_bufs) (void)b.fill(poison);
    Status s = plan->run(gpu, Workspace{ws.get(), plan->workspace_size()}, args);
    if (!s.is_ok()) {
      why = "run failed: " + s.to_string() + " [" + plan->sku().to_string() + "]";
      return Outcome::fail;
    }
    if (cudaError_t e = cudaStreamSynchronize(cs); e != cudaSuccess) {
      why = std::string("kernel failed: ") + cudaGetErrorString(e) + " [" + plan->sku().to_string() + "]";
      return Outcome::fail;
    }
    for (size_t k = 0; k < c.outputs.size(); ++k) {
      if (!c.output_wanted[k]) continue;
      HostTensor got = c.outputs[k];
      if (download_at(out_bufs[k], offset, got.storage().data(), got.storage().size()) != cudaSuccess) {
        why = "download failed";
        return Outcome::fail;
      }
      auto cmp = bt::compare(got, ref.outputs[k], tolerance_for(c, k, ref.outputs[k]));
      if (cmp.mismatches) {
        char p[8];
        std::snprintf(p, sizeof p, "0x%02X", poison);
        why = "output " + std::to_string(k) + " (poison " + p + "): " + cmp.to_string() + " [" +
              plan->sku().to_string() + "]";
        if (cmp.first.index >= 0 && c.inputs.size() > (c.desc.direction == Direction::backward ? 1u : 0u)) {
          const size_t first_in = c.desc.direction == Direction::backward ? 1 : 0;
          if (!c.input_is_scalar[first_in] && cmp.first.index < c.inputs[first_in].numel())
            why += " input0=" + std::to_string(c.inputs[first_in].get(cmp.first.index));
        }
        return Outcome::fail;
      }
    }
  }
  return Outcome::pass;
}

uint64_t seed_of(ElementwiseOp op, DType a, DType b, Direction dir, Variant v, int64_t n) {
  uint64_t h = 1469598103934665603ull;
  for (uint64_t x : {static_cast<uint64_t>(op), static_cast<uint64_t>(a), static_cast<uint64_t>(b),
                     static_cast<uint64_t>(dir), static_cast<uint64_t>(v), static_cast<uint64_t>(n)})
    h = (h ^ x) * 1099511628211ull;
  return h;
}

class GpuElementwise : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount == 0): GPU elementwise tests skipped";
    ASSERT_EQ(cudaStreamCreateWithFlags(&cs_, cudaStreamNonBlocking), cudaSuccess);
    auto s = Stream::cuda(cs_);
    ASSERT_TRUE(s) << s.status().to_string();
    gpu_ = *s;
  }
  void TearDown() override {
    if (cs_) (void)cudaStreamDestroy(cs_);
  }

  // Records one case's outcome; failures are reported with the case name (incl. its seed).
  void record(Case& c, bool expect_vectorized = false) {
    std::string why;
    if (check_case(c, gpu_, cs_, expect_vectorized, why) == Outcome::pass) {
      ++counts().passed;
    } else {
      ++counts().failed;
      ADD_FAILURE() << c.name << ": " << why;
    }
  }

  // Every variant/size of one op x dtype x direction. Returns false if the op refuses the dtype.
  bool run_op(ElementwiseOp op, DType dtype, Direction dir, bool big) {
    const ElementwiseOpInfo& info = op_info(op);
    const auto cat = info.category;
    const bool unary_vec = info.arity == 1 && (cat == ElementwiseCategory::float_math || cat == ElementwiseCategory::same ||
                                               cat == ElementwiseCategory::float_only);
    const bool vec_dtype = dtype == DType::f32 || dtype == DType::bf16;
    struct V {
      Variant v;
      int64_t n;
    };
    std::vector<V> variants = {{Variant::contiguous, 1}, {Variant::contiguous, 7}, {Variant::contiguous, 4097},
                               {Variant::strided, 0},    {Variant::broadcast, 0}};
    if (big) variants.push_back({Variant::contiguous, 1000003});
    if (info.arity >= 2 && cat != ElementwiseCategory::prelu) variants.push_back({Variant::scalar, 7});
    if (dir == Direction::forward && is_floating(dtype)) variants.push_back({Variant::specials, 97});
    bool first = true;
    for (const V& v : variants) {
      bt::CaseOptions opt;
      opt.n = v.n;
      opt.ties = info.arity == 2;
      opt.seed = seed_of(op, dtype, dtype, dir, v.v, v.n);
      auto c = bt::make_case(op, dtype, dir, v.v, opt);
      if (!c) {
        if (first) return false;  // the op refuses this dtype (on every backend)
        ++counts().failed;
        ADD_FAILURE() << info.name << " " << dtype_name(dtype) << " " << bt::variant_name(v.v)
                      << ": case refused though the contiguous one was accepted: " << c.status().to_string();
        continue;
      }
      first = false;
      record(*c, unary_vec && vec_dtype && v.v == Variant::contiguous);
    }
    if (cat == ElementwiseCategory::gated && vec_dtype) {
      // Rows of 64 elements per half: 16-byte aligned rows, the vectorized kernel runs.
      bt::CaseOptions opt;
      opt.n = 33;
      opt.gated_half = 64;
      opt.seed = seed_of(op, dtype, dtype, dir, Variant::contiguous, 33 * 128);
      auto c = bt::make_case(op, dtype, dir, Variant::contiguous, opt);
      if (c) record(*c, /*expect_vectorized=*/true);
    }
    return true;
  }

  Stream gpu_ = Stream::cpu();
  cudaStream_t cs_ = nullptr;
};

// ---------------------------------------------------------------------------------------------

TEST_F(GpuElementwise, EveryOpEveryDtypeForward) {
  for (const ElementwiseOpInfo& info : all_elementwise_ops()) {
    if (info.category == ElementwiseCategory::cast) continue;
    bool big_done = false;
    for (DType dt : kValueDTypes) {
      // One large case per op, in its first accepted dtype (f32 where it takes floats).
      bool ok = run_op(info.op, dt, Direction::forward, !big_done);
      if (ok) big_done = true;
      else ++counts().not_supported;
    }
    // fp8 operands are refused by every op but cast.
    for (DType dt : {DType::f8e4m3, DType::f8e5m2}) {
      bt::CaseOptions opt;
      auto c = bt::make_case(info.op, dt, Direction::forward, Variant::contiguous, opt);
      EXPECT_FALSE(c) << info.name << " accepted " << dtype_name(dt);
      if (!c) ++counts().not_supported;
    }
  }
}

TEST_F(GpuElementwise, EveryOpEveryDtypeBackward) {
  for (const ElementwiseOpInfo& info : all_elementwise_ops()) {
    if (!info.differentiable || info.category == ElementwiseCategory::cast) continue;
    bool big_done = false;
    for (DType dt : kFloatDTypes) {
      bool ok = run_op(info.op, dt, Direction::backward, !big_done);
      if (ok) {
        big_done = true;
      } else {
        ++counts().not_supported;
        ADD_FAILURE() << info.name << ".backward refuses " << dtype_name(dt);  // differentiable ops take floats
      }
    }
  }
}

TEST_F(GpuElementwise, CastEveryPair) {
  for (DType src : kRealDTypes) {
    for (DType dst : kRealDTypes) {
      struct V {
        Variant v;
        int64_t n;
      };
      std::vector<V> variants = {{Variant::contiguous, 1}, {Variant::contiguous, 7}, {Variant::contiguous, 4097},
                                 {Variant::strided, 0},    {Variant::broadcast, 0}};
      if (is_floating(src)) variants.push_back({Variant::specials, 97});
      if (src == DType::f32 && dst == DType::bf16) variants.push_back({Variant::contiguous, 1000003});
      for (const V& v : variants) {
        bt::CaseOptions opt;
        opt.n = v.n;
        opt.seed = seed_of(ElementwiseOp::cast, src, dst, Direction::forward, v.v, v.n);
        auto c = bt::make_cast_case(src, dst, Direction::forward, v.v, opt);
        if (!c) {
          ++counts().failed;
          ADD_FAILURE() << "cast " << dtype_name(src) << "->" << dtype_name(dst) << " refused: " << c.status().to_string();
          continue;
        }
        const bool vec = v.v == Variant::contiguous &&
                         (src == DType::f32 || src == DType::bf16 || src == DType::f16 || is_fp8(src)) &&
                         (dst == DType::f32 || dst == DType::bf16 || dst == DType::f16 || is_fp8(dst));
        record(*c, vec);
      }
      // Scaled casts with amax, and the backward, between floating dtypes.
      if (is_floating(src) && is_floating(dst)) {
        bt::CaseOptions opt;
        opt.n = 4097;
        opt.seed = seed_of(ElementwiseOp::cast, src, dst, Direction::forward, Variant::contiguous, 4097) + 1;
        auto c = bt::make_cast_case(src, dst, Direction::forward, Variant::contiguous, opt, 0.5, true);
        ASSERT_TRUE(c) << c.status().to_string();
        record(*c);
        auto s = bt::make_cast_case(src, dst, Direction::forward, Variant::strided, opt, 4.0, true);
        ASSERT_TRUE(s) << s.status().to_string();
        record(*s);
        if (!is_fp8(dst)) {
          for (Variant v : {Variant::contiguous, Variant::strided}) {
            auto b = bt::make_cast_case(src, dst, Direction::backward, v, opt, 2.0);
            ASSERT_TRUE(b) << b.status().to_string();
            record(*b);
          }
        }
      }
    }
  }
}

TEST_F(GpuElementwise, CastAmaxLarge) {
  bt::CaseOptions opt;
  opt.n = 1000003;
  opt.seed = 4242;
  auto c = bt::make_cast_case(DType::f32, DType::f8e4m3, Direction::forward, Variant::contiguous, opt, 0.25, true);
  ASSERT_TRUE(c) << c.status().to_string();
  c->inputs[0].set(777777, -1234.5);  // the unique max |x|
  std::string why;
  Outcome o = check_case(*c, gpu_, cs_, /*expect_vectorized=*/true, why);
  EXPECT_EQ(o, Outcome::pass) << c->name << ": " << why;
  (o == Outcome::pass ? counts().passed : counts().failed)++;
}

TEST_F(GpuElementwise, PreluWeightGradient) {
  // x [N, C, L] with per-channel weights; the weight gradient is reduced over N and L.
  for (DType dt : kFloatDTypes) {
    std::mt19937_64 rng(99 + static_cast<uint64_t>(dt));
    Case c;
    c.name = std::string("prelu.backward dweight ") + std::string(dtype_name(dt)) + " x[64, 5, 300]";
    c.desc.op = ElementwiseOp::prelu;
    c.desc.direction = Direction::backward;
    HostTensor dy(dt, {64, 5, 300}), x(dt, {64, 5, 300}), w(dt, {5});
    bt::fill_uniform(dy, rng, -1, 1);
    bt::fill_uniform(x, rng, -2, 2);
    bt::fill_uniform(w, rng, 0.05, 0.5);
    c.desc.inputs = {x.operand(), w.operand()};
    auto sig = infer_signature(c.desc);
    if (!sig) {
      // prelu's weight must broadcast along dim 1 (x.shape[1]), not the last dim.
      ++counts().failed;
      ADD_FAILURE() << c.name << ": descriptor refused: " << sig.status().to_string();
      continue;
    }
    c.inputs = {dy, x, w};
    c.input_is_scalar = {false, false, false};
    c.outputs = {HostTensor(dt, {64, 5, 300}), HostTensor(dt, {5})};
    c.output_wanted = {true, true};
    record(c);
    // Only the weight gradient.
    c.output_wanted = {false, true};
    record(c);
  }
}

TEST_F(GpuElementwise, GraphCapture) {
  for (bool cast : {false, true}) {
    bt::CaseOptions opt;
    opt.n = 4097;
    opt.seed = 5;
    auto c = cast ? bt::make_cast_case(DType::f32, DType::bf16, Direction::forward, Variant::contiguous, opt, 2.0, true)
                  : bt::make_case(ElementwiseOp::gelu, DType::f32, Direction::forward, Variant::contiguous, opt);
    ASSERT_TRUE(c) << c.status().to_string();
    Case ref = *c;
    ASSERT_TRUE(bt::run_case_cpu(ref).is_ok());
    auto plan = ElementwisePlan::select(gpu_, c->desc);
    ASSERT_TRUE(plan) << plan.status().to_string();
    const Device dev = gpu_.device();
    DeviceBuffer xin(c->inputs[0].storage().size());
    ASSERT_EQ(xin.upload(c->inputs[0].storage().data(), xin.bytes()), cudaSuccess);
    std::vector<DeviceBuffer> outs;
    ElementwiseArgs a;
    a.inputs[0] = c->inputs[0].ref_at(xin.get(), dev);
    for (size_t k = 0; k < c->outputs.size(); ++k) {
      outs.emplace_back(c->outputs[k].storage().size());
      ASSERT_EQ(outs.back().fill(0xFF), cudaSuccess);
      a.outputs[k] = c->outputs[k].mut_at(outs.back().get(), dev);
    }
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    ASSERT_EQ(cudaStreamBeginCapture(cs_, cudaStreamCaptureModeThreadLocal), cudaSuccess);
    Status s = plan->run(gpu_, {}, a);
    ASSERT_EQ(cudaStreamEndCapture(cs_, &graph), cudaSuccess);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    // Nothing ran during capture.
    uint8_t first = 0;
    ASSERT_EQ(cudaMemcpy(&first, outs[0].get(), 1, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_EQ(first, 0xFF);
    for (int launch = 0; launch < 2; ++launch) {
      ASSERT_EQ(cudaGraphLaunch(exec, cs_), cudaSuccess);
      ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
      for (size_t k = 0; k < c->outputs.size(); ++k) {
        HostTensor got = c->outputs[k];
        ASSERT_EQ(outs[k].download(got.storage().data(), got.storage().size()), cudaSuccess);
        auto cmp = bt::compare(got, ref.outputs[k], bt::default_tolerance(got.dtype()));
        EXPECT_EQ(cmp.mismatches, 0) << c->name << " output " << k << ": " << cmp.to_string();
      }
    }
    (void)cudaGraphExecDestroy(exec);
    (void)cudaGraphDestroy(graph);
  }
}

// ---------------------------------------------------------------------------------------------
// Gated halves narrower than a 16-byte pack (h = 1, 2, 4 elements in f16/bf16; 1, 2 in f32): x of
// [rows, 2h] runs on the packed kernel (ew_gated_packed.cuh), forward and backward, every gated
// op. Row counts leave every tail a pack of r = 16 / (2h * element size) rows can leave, and one
// count makes every thread of a full-occupancy grid loop several times. A base pointer one element
// off 16 bytes is refused under the default 16-byte promise and runs on the strided kernel when
// the plan is selected for the pointer's alignment; BARACUDA_EW_GATED_PACKED=0 keeps the strided
// kernel too.

const ElementwiseOp kGatedOps[] = {ElementwiseOp::glu, ElementwiseOp::swiglu, ElementwiseOp::geglu,
                                   ElementwiseOp::geglu_tanh, ElementwiseOp::reglu};
struct GatedWidth {
  DType dt;
  int64_t h;
};
const GatedWidth kPackedWidths[] = {{DType::bf16, 1}, {DType::bf16, 2}, {DType::bf16, 4}, {DType::f16, 1},
                                    {DType::f16, 2},  {DType::f16, 4},  {DType::f32, 1},  {DType::f32, 2}};
int64_t rows_per_pack(const GatedWidth& w) { return 16 / (2 * w.h * static_cast<int64_t>(dtype_size(w.dt))); }

bool is_packed_sku(const KernelSku& s) {
  return s.impl == "cuda_vectorized" && s.layout == "gated-packed-rows16" &&
         s.tactic.find("ew_gated_packed_kernel") != std::string::npos;
}

Result<Case> packed_case(ElementwiseOp op, const GatedWidth& w, Direction dir, int64_t rows) {
  bt::CaseOptions opt;
  opt.n = rows;
  opt.gated_half = w.h;
  opt.seed = seed_of(op, w.dt, w.dt, dir, Variant::contiguous, rows * 8 + w.h);
  return bt::make_case(op, w.dt, dir, Variant::contiguous, opt);
}

// x of shape [rows, 2, inner] split along dim 1: half rows of `inner` elements, x still dense
// [rows, 2 * inner] (the half width counts the dims after the gated one).
Case gated_dim1_case(ElementwiseOp op, DType dt, Direction dir, int64_t rows, int64_t inner) {
  std::mt19937_64 rng(seed_of(op, dt, dt, dir, Variant::contiguous, rows * 8 + inner) + 1);
  Case c;
  c.name = std::string(op_info(op).name) + (dir == Direction::backward ? ".backward " : " ") +
           std::string(dtype_name(dt)) + " x[" + std::to_string(rows) + ", 2, " + std::to_string(inner) + "] dim=1";
  c.desc.op = op;
  c.desc.direction = dir;
  c.desc.attrs = bt::test_attrs(op);
  c.desc.attrs.dim = 1;
  HostTensor x(dt, {rows, 2, inner});
  bt::fill_uniform(x, rng, -3, 3);
  c.desc.inputs = {x.operand()};
  const std::vector<int64_t> half_shape{rows, 1, inner};
  if (dir == Direction::backward) {
    HostTensor dy(dt, half_shape);
    bt::fill_uniform(dy, rng, -2, 2);
    c.inputs = {dy, x};
    c.input_is_scalar = {false, false};
    c.outputs = {HostTensor(dt, {rows, 2, inner})};
  } else {
    c.inputs = {x};
    c.input_is_scalar = {false};
    c.outputs = {HostTensor(dt, half_shape)};
  }
  c.output_wanted = {true};
  return c;
}

// Whether the plan of `c` is (want_packed) or is not the packed kernel; a failure otherwise.
bool expect_packed_plan(const Stream& gpu, const Case& c, bool want_packed) {
  auto plan = ElementwisePlan::select(gpu, c.desc);
  if (!plan) {
    ADD_FAILURE() << c.name << ": no CUDA plan: " << plan.status().to_string();
    return false;
  }
  if (is_packed_sku(plan->sku()) != want_packed) {
    ADD_FAILURE() << c.name << ": expected " << (want_packed ? "the packed kernel" : "another kernel") << ", got "
                  << plan->sku().to_string();
    return false;
  }
  return true;
}

TEST_F(GpuElementwise, GatedPackedNarrowHalves) {
  for (ElementwiseOp op : kGatedOps)
    for (const GatedWidth& w : kPackedWidths)
      for (Direction dir : {Direction::forward, Direction::backward}) {
        // 1 .. 2r + 1 rows: every tail (rows % r), with and without whole packs before it.
        std::vector<int64_t> row_counts{4097};
        for (int64_t n = 1; n <= 2 * rows_per_pack(w) + 1; ++n) row_counts.push_back(n);
        for (int64_t rows : row_counts) {
          auto c = packed_case(op, w, dir, rows);
          if (!c) {
            ++counts().failed;
            ADD_FAILURE() << op_info(op).name << " " << dtype_name(w.dt) << " h=" << w.h << " refused: " << c.status().to_string();
            continue;
          }
          if (!expect_packed_plan(gpu_, *c, true)) {
            ++counts().failed;
            continue;
          }
          record(*c, /*expect_vectorized=*/true);
        }
      }
  // The gated dim before the last: the half width is the product of the dims after it.
  for (Direction dir : {Direction::forward, Direction::backward})
    for (const GatedWidth& w : {GatedWidth{DType::bf16, 1}, GatedWidth{DType::f16, 2}, GatedWidth{DType::f32, 2}}) {
      Case c = gated_dim1_case(ElementwiseOp::swiglu, w.dt, dir, 1001, w.h);
      if (!expect_packed_plan(gpu_, c, true)) {
        ++counts().failed;
        continue;
      }
      record(c, /*expect_vectorized=*/true);
    }
}

// Enough packs that every thread of a full grid (<= 2048 resident threads per SM, <= 2 packs per
// step) loops at least 3 times, plus the largest tail.
TEST_F(GpuElementwise, GatedPackedManyGridStrides) {
  if (const char* e = std::getenv("BARACUDA_TEST_SKIP_LARGE"); e && std::string(e) == "1")
    GTEST_SKIP() << "BARACUDA_TEST_SKIP_LARGE=1";
  int sms = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, gpu_.device().ordinal), cudaSuccess);
  const int64_t packs = int64_t{3} * sms * 2048 * 2;
  for (const GatedWidth& w : kPackedWidths)
    for (Direction dir : {Direction::forward, Direction::backward})
      // swiglu (fast 16-bit forward); geglu's backward holds the most registers (fewest resident blocks).
      for (ElementwiseOp op : {ElementwiseOp::swiglu, ElementwiseOp::geglu}) {
        if (op == ElementwiseOp::geglu && dir == Direction::forward) continue;
        const int64_t r = rows_per_pack(w);
        auto c = packed_case(op, w, dir, packs * r + r - 1);
        ASSERT_TRUE(c) << c.status().to_string();
        if (!expect_packed_plan(gpu_, *c, true)) {
          ++counts().failed;
          continue;
        }
        record(*c, /*expect_vectorized=*/true);
      }
}

TEST_F(GpuElementwise, GatedPackedMisalignedBase) {
  for (const GatedWidth& w : kPackedWidths)
    for (Direction dir : {Direction::forward, Direction::backward}) {
      auto c = packed_case(ElementwiseOp::swiglu, w, dir, 4097);
      ASSERT_TRUE(c) << c.status().to_string();
      const size_t el = dtype_size(w.dt);
      // Under the default 16-byte promise the packed plan refuses the pointers before any launch.
      {
        auto plan = ElementwisePlan::select(gpu_, c->desc);
        ASSERT_TRUE(plan) << plan.status().to_string();
        EXPECT_TRUE(is_packed_sku(plan->sku())) << c->name << ": " << plan->sku().to_string();
        std::vector<DeviceBuffer> bufs;
        ElementwiseArgs a;
        for (size_t k = 0; k < c->inputs.size(); ++k) {
          bufs.emplace_back(el + c->inputs[k].storage().size());
          ASSERT_NE(bufs.back().get(), nullptr);
          a.inputs[k] = c->inputs[k].ref_at(static_cast<char*>(bufs.back().get()) + el, gpu_.device());
        }
        bufs.emplace_back(el + c->outputs[0].storage().size());
        ASSERT_NE(bufs.back().get(), nullptr);
        a.outputs[0] = c->outputs[0].mut_at(static_cast<char*>(bufs.back().get()) + el, gpu_.device());
        Status s = plan->run(gpu_, {}, a);
        EXPECT_EQ(s.code(), StatusCode::misaligned) << c->name << ": " << s.to_string();
        (s.code() == StatusCode::misaligned ? counts().passed : counts().failed)++;
      }
      // Selected for the alignment the pointers have: the strided kernel, right results.
      c->desc.alignment = el;
      c->name += " base+1 element";
      if (!expect_packed_plan(gpu_, *c, false)) {
        ++counts().failed;
        continue;
      }
      std::string why;
      const Outcome o = check_case(*c, gpu_, cs_, /*expect_vectorized=*/false, why, /*offset=*/el);
      EXPECT_EQ(o, Outcome::pass) << c->name << ": " << why;
      (o == Outcome::pass ? counts().passed : counts().failed)++;
    }
}

// Half widths the packed kernel does not take keep their kernels: 16-byte multiples the row-strided
// vectorized one, rows that do not tile a pack (bf16 h = 3: 12 bytes) and f64 the strided one.
TEST_F(GpuElementwise, GatedPackedOnlyWhereRowsTileAPack) {
  struct W {
    DType dt;
    int64_t h;
    const char* impl;
  };
  for (const W& w : {W{DType::bf16, 8, "cuda_vectorized"}, W{DType::f32, 4, "cuda_vectorized"},
                     W{DType::bf16, 3, "cuda_strided"}, W{DType::f16, 6, "cuda_strided"}, W{DType::f64, 1, "cuda_strided"}})
    for (Direction dir : {Direction::forward, Direction::backward}) {
      auto c = packed_case(ElementwiseOp::swiglu, GatedWidth{w.dt, w.h}, dir, 257);
      ASSERT_TRUE(c) << c.status().to_string();
      auto plan = ElementwisePlan::select(gpu_, c->desc);
      ASSERT_TRUE(plan) << plan.status().to_string();
      EXPECT_EQ(plan->sku().impl, w.impl) << c->name << ": " << plan->sku().to_string();
      if (!expect_packed_plan(gpu_, *c, false)) {
        ++counts().failed;
        continue;
      }
      record(*c);
    }
}

// Unsets the variable when the scope ends, also when an assertion leaves it early.
struct UnsetEnvAtExit {
  const char* name;
  ~UnsetEnvAtExit() { (void)unsetenv(name); }
};

TEST_F(GpuElementwise, GatedPackedSwitchOff) {
  {
    UnsetEnvAtExit unset{"BARACUDA_EW_GATED_PACKED"};
    ASSERT_EQ(setenv("BARACUDA_EW_GATED_PACKED", "0", 1), 0);
    for (const GatedWidth& w : {GatedWidth{DType::bf16, 1}, GatedWidth{DType::f16, 4}, GatedWidth{DType::f32, 2}})
      for (Direction dir : {Direction::forward, Direction::backward}) {
        auto c = packed_case(ElementwiseOp::swiglu, w, dir, 4097);
        ASSERT_TRUE(c) << c.status().to_string();
        auto plan = ElementwisePlan::select(gpu_, c->desc);
        ASSERT_TRUE(plan) << plan.status().to_string();
        EXPECT_EQ(plan->sku().impl, "cuda_strided") << c->name << ": " << plan->sku().to_string();
        if (!expect_packed_plan(gpu_, *c, false)) {
          ++counts().failed;
          continue;
        }
        record(*c);
      }
  }
  // Read when the plan is made: unset, the next plan is the packed kernel again.
  auto c = packed_case(ElementwiseOp::swiglu, GatedWidth{DType::bf16, 1}, Direction::forward, 4097);
  ASSERT_TRUE(c) << c.status().to_string();
  EXPECT_TRUE(expect_packed_plan(gpu_, *c, true));
}

TEST_F(GpuElementwise, MoreThan2To31Elements) {
  if (const char* e = std::getenv("BARACUDA_TEST_SKIP_LARGE"); e && std::string(e) == "1")
    GTEST_SKIP() << "BARACUDA_TEST_SKIP_LARGE=1";
  const int64_t n = (int64_t{1} << 31) + 17;
  size_t free_b = 0, total_b = 0;
  ASSERT_EQ(cudaMemGetInfo(&free_b, &total_b), cudaSuccess);
  if (free_b < static_cast<size_t>(2 * n) + (size_t{1} << 30))
    GTEST_SKIP() << "needs " << 2 * n << " bytes of device memory, " << free_b << " free";
  // i8 neg: the strided kernel's int64 indexing; u8 -> bool logical_not too.
  for (ElementwiseOp op : {ElementwiseOp::neg, ElementwiseOp::logical_not}) {
    const DType in_dt = op == ElementwiseOp::neg ? DType::i8 : DType::u8;
    ElementwiseDescriptor d;
    d.op = op;
    d.inputs = {Operand::tensor(in_dt, {n})};
    auto plan = ElementwisePlan::select(gpu_, d);
    ASSERT_TRUE(plan) << plan.status().to_string();
    DeviceBuffer x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
    ASSERT_TRUE(x && y);
    ASSERT_EQ(x.fill(3), cudaSuccess);
    ASSERT_EQ(y.fill(0xFF), cudaSuccess);
    // Distinct values around the 2^31 boundary and at both ends.
    const int64_t marks[] = {0, 1, (int64_t{1} << 31) - 1, int64_t{1} << 31, (int64_t{1} << 31) + 1, n - 1};
    int8_t v = 10;
    for (int64_t m : marks) {
      int8_t val = op == ElementwiseOp::neg ? v++ : 0;
      ASSERT_EQ(cudaMemcpy(static_cast<char*>(x.get()) + m, &val, 1, cudaMemcpyHostToDevice), cudaSuccess);
    }
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);  // the marks are on the legacy stream; the plan runs on cs_
    ElementwiseArgs a;
    a.inputs[0] = *make_tensor_ref(x.get(), in_dt, {n}, gpu_.device());
    a.outputs[0] = *make_tensor_mut(y.get(), op == ElementwiseOp::neg ? DType::i8 : DType::boolean, {n}, gpu_.device());
    ASSERT_TRUE(plan->run(gpu_, {}, a).is_ok());
    ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
    // Windows around each mark: every element written and right.
    for (int64_t m : marks) {
      const int64_t lo = std::max<int64_t>(0, m - 64), hi = std::min<int64_t>(n, m + 64);
      std::vector<int8_t> xs(static_cast<size_t>(hi - lo)), ys(static_cast<size_t>(hi - lo));
      ASSERT_EQ(cudaMemcpy(xs.data(), static_cast<char*>(x.get()) + lo, xs.size(), cudaMemcpyDeviceToHost), cudaSuccess);
      ASSERT_EQ(cudaMemcpy(ys.data(), static_cast<char*>(y.get()) + lo, ys.size(), cudaMemcpyDeviceToHost), cudaSuccess);
      int bad = 0;
      for (size_t i = 0; i < xs.size(); ++i) {
        int8_t want = op == ElementwiseOp::neg ? static_cast<int8_t>(-xs[i]) : static_cast<int8_t>(xs[i] == 0);
        if (ys[i] != want && bad++ < 3)
          ADD_FAILURE() << op_info(op).name << " element " << lo + static_cast<int64_t>(i) << ": got " << int(ys[i])
                        << ", want " << int(want);
      }
      EXPECT_EQ(bad, 0);
    }
    // A sparse random sample elsewhere.
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<int64_t> pick(0, n - 1);
    int bad = 0;
    for (int i = 0; i < 256; ++i) {
      int64_t at = pick(rng);
      int8_t xv = 0, yv = 0;
      ASSERT_EQ(cudaMemcpy(&xv, static_cast<char*>(x.get()) + at, 1, cudaMemcpyDeviceToHost), cudaSuccess);
      ASSERT_EQ(cudaMemcpy(&yv, static_cast<char*>(y.get()) + at, 1, cudaMemcpyDeviceToHost), cudaSuccess);
      int8_t want = op == ElementwiseOp::neg ? static_cast<int8_t>(-xv) : static_cast<int8_t>(xv == 0);
      bad += yv != want;
    }
    EXPECT_EQ(bad, 0) << op_info(op).name;
    (bad == 0 ? counts().passed : counts().failed)++;
  }
}

// ---------------------------------------------------------------------------------------------
// Complex dtypes (c64, c128): the strided kernel against the CPU reference, every complex op x
// direction x dtype, odd sizes, strided/broadcast/scalar inputs, special values where both sides
// define them the same way; mixed real/complex operands; casts between complex and every dtype.

struct ComplexOp {
  ElementwiseOp op;
  bool backward;  // has a complex backward
  bool specials;  // NaN/inf inputs compared too (ops whose special values are not implementation-defined)
};
const ComplexOp kComplexOps[] = {
    {ElementwiseOp::add, true, true},         {ElementwiseOp::sub, true, true},     {ElementwiseOp::mul, true, false},
    {ElementwiseOp::div, true, false},        {ElementwiseOp::neg, true, true},     {ElementwiseOp::reciprocal, true, false},
    {ElementwiseOp::square, true, false},     {ElementwiseOp::abs, true, true},     {ElementwiseOp::exp, true, false},
    {ElementwiseOp::log, true, false},        {ElementwiseOp::sqrt, true, false},   {ElementwiseOp::sin, true, false},
    {ElementwiseOp::cos, true, false},        {ElementwiseOp::tanh, true, false},   {ElementwiseOp::sigmoid, true, false},
    {ElementwiseOp::pow, false, false},       {ElementwiseOp::eq, false, true},     {ElementwiseOp::ne, false, true},
    {ElementwiseOp::where, true, true},       {ElementwiseOp::isnan, false, true},  {ElementwiseOp::isinf, false, true},
    {ElementwiseOp::isfinite, false, true},
};

// The complex plan must be the strided kernel (the vectorized one refuses complex).
bool expect_strided_plan(const Stream& gpu, const Case& c) {
  auto plan = ElementwisePlan::select(gpu, c.desc);
  EXPECT_TRUE(plan) << c.name << ": " << plan.status().to_string();
  if (!plan) return false;
  EXPECT_EQ(plan->sku().impl, "cuda_strided") << c.name << ": " << plan->sku().to_string();
  return plan->sku().impl == "cuda_strided";
}

TEST_F(GpuElementwise, ComplexEveryOpForwardAndBackward) {
  for (const ComplexOp& co : kComplexOps) {
    const ElementwiseOpInfo& info = op_info(co.op);
    for (DType dt : {DType::c64, DType::c128}) {
      for (Direction dir : {Direction::forward, Direction::backward}) {
        if (dir == Direction::backward && !co.backward) continue;
        struct V {
          Variant v;
          int64_t n;
        };
        std::vector<V> variants = {{Variant::contiguous, 1}, {Variant::contiguous, 7}, {Variant::contiguous, 4097},
                                   {Variant::strided, 0},    {Variant::broadcast, 0}};
        if (info.arity >= 2) variants.push_back({Variant::scalar, 33});
        if (dir == Direction::forward && co.specials) variants.push_back({Variant::specials, 97});
        for (const V& v : variants) {
          bt::CaseOptions opt;
          opt.n = v.n;
          opt.ties = info.arity == 2;
          opt.seed = seed_of(co.op, dt, dt, dir, v.v, v.n);
          auto c = bt::make_case(co.op, dt, dir, v.v, opt);
          if (!c) {
            ++counts().failed;
            ADD_FAILURE() << info.name << (dir == Direction::backward ? ".backward " : " ") << dtype_name(dt) << " "
                          << bt::variant_name(v.v) << " refused: " << c.status().to_string();
            continue;
          }
          if (v.v == Variant::contiguous && v.n == 7 && !expect_strided_plan(gpu_, *c)) {
            ++counts().failed;
            continue;
          }
          record(*c);
        }
      }
    }
  }
}

// Real and complex tensors in one op: the result is complex (c128 when f64 meets c64); the real
// input's gradient is the real part of the complex one.
TEST_F(GpuElementwise, ComplexMixedWithReal) {
  struct Mix {
    ElementwiseOp op;
    DType a, b;
  };
  const Mix mixes[] = {{ElementwiseOp::mul, DType::c64, DType::f32},  {ElementwiseOp::add, DType::f64, DType::c64},
                       {ElementwiseOp::div, DType::bf16, DType::c64}, {ElementwiseOp::sub, DType::c128, DType::i32},
                       {ElementwiseOp::eq, DType::c64, DType::f16},   {ElementwiseOp::div, DType::c128, DType::f64}};
  for (const Mix& m : mixes) {
    for (Direction dir : {Direction::forward, Direction::backward}) {
      if (dir == Direction::backward && m.op == ElementwiseOp::eq) continue;  // not differentiable
      for (int64_t n : {int64_t{7}, int64_t{1000}}) {
        std::mt19937_64 rng(seed_of(m.op, m.a, m.b, dir, Variant::contiguous, n));
        Case c;
        c.name = std::string(op_info(m.op).name) + (dir == Direction::backward ? ".backward " : " ") +
                 std::string(dtype_name(m.a)) + "," + std::string(dtype_name(m.b)) + " n=" + std::to_string(n);
        c.desc.op = m.op;
        c.desc.direction = dir;
        c.desc.attrs = bt::test_attrs(m.op);
        HostTensor a(m.a, {n}), b(m.b, {n});
        bt::fill_uniform(a, rng, -2, 2, !is_floating(m.a) && !is_complex(m.a));
        bt::fill_uniform(b, rng, 0.5, 2, !is_floating(m.b) && !is_complex(m.b));  // nonzero divisors
        c.desc.inputs = {a.operand(), b.operand()};
        auto sig = infer_signature(c.desc);
        ASSERT_TRUE(sig) << c.name << ": " << sig.status().to_string();
        if (dir == Direction::backward) {
          ElementwiseDescriptor fwd = c.desc;
          fwd.direction = Direction::forward;
          auto fsig = infer_signature(fwd);
          ASSERT_TRUE(fsig);
          HostTensor dy(fsig->outputs[0].dtype, {n});
          bt::fill_uniform(dy, rng, -1, 1);
          c.inputs = {dy, a, b};
          c.input_is_scalar = {false, false, false};
        } else {
          c.inputs = {a, b};
          c.input_is_scalar = {false, false};
        }
        for (size_t o = 0; o < sig->outputs.size(); ++o) {
          c.outputs.emplace_back(sig->outputs[o].dtype, sig->outputs[o].shape);
          const DType in_dt = o == 0 ? m.a : m.b;
          c.output_wanted.push_back(dir == Direction::forward || is_floating(in_dt) || is_complex(in_dt));
        }
        record(c);
      }
    }
  }
}

TEST_F(GpuElementwise, ComplexCastEveryPair) {
  for (DType src : kAllDTypes) {
    for (DType dst : kAllDTypes) {
      if (!is_complex(src) && !is_complex(dst)) continue;
      struct V {
        Variant v;
        int64_t n;
      };
      std::vector<V> variants = {{Variant::contiguous, 1}, {Variant::contiguous, 7}, {Variant::contiguous, 4097},
                                 {Variant::strided, 0},    {Variant::broadcast, 0}};
      if (is_floating(src) || is_complex(src)) variants.push_back({Variant::specials, 97});
      for (const V& v : variants) {
        bt::CaseOptions opt;
        opt.n = v.n;
        opt.seed = seed_of(ElementwiseOp::cast, src, dst, Direction::forward, v.v, v.n);
        auto c = bt::make_cast_case(src, dst, Direction::forward, v.v, opt);
        if (!c) {
          ++counts().failed;
          ADD_FAILURE() << "cast " << dtype_name(src) << "->" << dtype_name(dst) << " refused: " << c.status().to_string();
          continue;
        }
        if (v.v == Variant::contiguous && v.n == 7 && !expect_strided_plan(gpu_, *c)) {
          ++counts().failed;
          continue;
        }
        record(*c);
      }
    }
  }
}

// In-place on a complex tensor (output == input) and a permuted (non-dense) output.
TEST_F(GpuElementwise, ComplexInPlace) {
  for (DType dt : {DType::c64, DType::c128}) {
    bt::CaseOptions opt;
    opt.n = 1001;
    opt.seed = 77 + static_cast<uint64_t>(dt);
    auto c = bt::make_case(ElementwiseOp::exp, dt, Direction::forward, Variant::contiguous, opt);
    ASSERT_TRUE(c) << c.status().to_string();
    Case ref = *c;
    ASSERT_OK(bt::run_case_cpu(ref));
    auto plan = ElementwisePlan::select(gpu_, c->desc);
    ASSERT_TRUE(plan) << plan.status().to_string();
    DeviceBuffer buf(c->inputs[0].storage().size());
    ASSERT_EQ(buf.upload(c->inputs[0].storage().data(), buf.bytes()), cudaSuccess);
    ElementwiseArgs a;
    a.inputs[0] = c->inputs[0].ref_at(buf.get(), gpu_.device());
    a.outputs[0] = c->outputs[0].mut_at(buf.get(), gpu_.device());
    ASSERT_OK(plan->run(gpu_, {}, a));
    ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
    HostTensor got = c->outputs[0];
    ASSERT_EQ(buf.download(got.storage().data(), got.storage().size()), cudaSuccess);
    auto cmp = bt::compare(got, ref.outputs[0], bt::default_tolerance(dt));
    EXPECT_EQ(cmp.mismatches, 0) << c->name << " in place: " << cmp.to_string();
    (cmp.mismatches == 0 ? counts().passed : counts().failed)++;
  }
}

// Misuse on the GPU: a host tensor given to a CUDA plan is refused before any kernel runs.
TEST_F(GpuElementwise, HostTensorOnCudaPlanRefused) {
  ElementwiseDescriptor d;
  d.op = ElementwiseOp::exp;
  d.inputs = {Operand::tensor(DType::f32, {4})};
  auto plan = ElementwisePlan::select(gpu_, d);
  ASSERT_TRUE(plan) << plan.status().to_string();
  HostTensor x(DType::f32, {4}), y(DType::f32, {4});
  ElementwiseArgs a;
  a.inputs[0] = x.ref();
  a.outputs[0] = y.mut();
  Status s = plan->run(gpu_, {}, a);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument);
  EXPECT_NE(s.message().find("the plan runs on cuda"), std::string::npos) << s.message();
  // And a CPU stream given to the CUDA plan.
  Status s2 = plan->run(Stream::cpu(), {}, a);
  EXPECT_EQ(s2.code(), StatusCode::invalid_argument);
  EXPECT_NE(s2.message().find("device mismatch"), std::string::npos) << s2.message();
}

}  // namespace
