// The softmax CUDA plan against the CPU reference plan on the same inputs: softmax and
// log_softmax, forward and backward, every dtype (f32, f16, bf16, f64, and bf16/f16 -> f32), dims
// first / middle / last, widths 1 ... 65536 (every engine: rows, rows_staged, warp, block, online,
// column, with and without 16-byte vectors; the staged backward against its A/B switch, bitwise),
// many rows (grid-stride loops), strided / transposed / padded inputs and
// strided outputs, boolean and additive masks (broadcast, fully masked rows), temperature,
// NaN / +-inf inputs, 0-d and empty tensors, CUDA graph capture.
//
// Every output is checked fully written: each case runs twice, with the output poisoned with 0xFF
// bytes (NaN) and with 0x55 bytes (a finite value no softmax produces), and both results must
// match the reference. Without a GPU every test skips.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gpu_test_support.hpp"
#include "device_buffer.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::DeviceBuffer;
using bt::HostTensor;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

using bt::have_gpu;

const char* op_name(SoftmaxOp op) { return op == SoftmaxOp::softmax ? "softmax" : "log_softmax"; }

// One problem: the descriptor and its inputs (SoftmaxArgs order) for the backward or forward.
struct Problem {
  std::string name;
  SoftmaxDescriptor desc;
  std::vector<HostTensor> inputs;
};

HostTensor random_tensor(DType t, const std::vector<int64_t>& shape, uint64_t seed,
                         const std::vector<int64_t>& strides = {}, double lo = -5, double hi = 5) {
  HostTensor x(t, shape, strides);
  std::mt19937_64 rng(seed);
  bt::fill_uniform(x, rng, lo, hi);
  return x;
}

HostTensor output_for(const SoftmaxDescriptor& d) {
  auto sig = infer_signature(d);
  EXPECT_TRUE(sig.has_value()) << sig.status().message();
  const Operand& o = sig->outputs[0];
  return HostTensor(o.dtype, o.shape, o.strides);
}

Status run_cpu(const Problem& p, HostTensor& out) {
  auto plan = SoftmaxPlan::select(Stream::cpu(), p.desc);
  if (!plan) return plan.status();
  SoftmaxArgs a;
  for (size_t i = 0; i < p.inputs.size(); ++i) a.inputs[i] = p.inputs[i].ref();
  a.outputs[0] = out.mut();
  return plan->run(Stream::cpu(), {}, a);
}

bt::Tolerance tolerance(DType out, Direction dir) {
  bt::Tolerance t = bt::default_tolerance(out);
  if (dir == Direction::backward && out == DType::f32) t.atol = 1e-5;  // dy - sum(...) cancels
  return t;
}

class GpuSoftmax : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount == 0): GPU softmax tests skipped";
    ASSERT_EQ(cudaStreamCreateWithFlags(&cs_, cudaStreamNonBlocking), cudaSuccess);
    auto s = Stream::cuda(cs_);
    ASSERT_TRUE(s) << s.status().to_string();
    gpu_ = *s;
  }
  void TearDown() override {
    if (cs_) (void)cudaStreamDestroy(cs_);
  }

  // p's inputs on the device (one buffer each, kept in `ins`), bound to a.inputs.
  void upload_inputs(const Problem& p, std::vector<DeviceBuffer>& ins, SoftmaxArgs& a) {
    ins.reserve(p.inputs.size());
    for (size_t i = 0; i < p.inputs.size(); ++i) {
      ins.emplace_back(p.inputs[i].storage().size());
      ASSERT_EQ(ins.back().upload(p.inputs[i].storage().data(), p.inputs[i].storage().size()), cudaSuccess);
      a.inputs[i] = p.inputs[i].ref_at(ins.back().get(), gpu_.device());
    }
  }

  // The CUDA plan vs the CPU reference on `p`, output poisoned twice.
  void check(const Problem& p) {
    SCOPED_TRACE(p.name);
    HostTensor want = output_for(p.desc);
    ASSERT_TRUE(run_cpu(p, want).is_ok());
    auto plan = SoftmaxPlan::select(gpu_, p.desc);
    ASSERT_TRUE(plan) << plan.status().to_string();
    EXPECT_EQ(plan->sku().impl, "cuda_rows");
    const Device dev = gpu_.device();
    std::vector<DeviceBuffer> ins;
    SoftmaxArgs a;
    ASSERT_NO_FATAL_FAILURE(upload_inputs(p, ins, a));
    HostTensor got = output_for(p.desc);
    DeviceBuffer out(got.storage().size());
    a.outputs[0] = got.mut_at(out.get(), dev);
    ASSERT_EQ(plan->workspace_size(), 0u);
    for (uint8_t poison : {uint8_t{0xFF}, uint8_t{0x55}}) {
      ASSERT_EQ(out.fill(poison), cudaSuccess);
      Status s = plan->run(gpu_, {}, a);
      ASSERT_TRUE(s.is_ok()) << s.to_string();
      ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
      ASSERT_EQ(out.download(got.storage().data(), got.storage().size()), cudaSuccess);
      bt::CompareResult r = bt::compare(got, want, tolerance(want.dtype(), p.desc.direction));
      EXPECT_EQ(r.mismatches, 0) << "poison 0x" << std::hex << int{poison} << std::dec << ": " << r.to_string();
    }
    ++checked_;
  }

  // Forward of x (and the matching backward with y = the reference forward output) for one
  // descriptor template; `extra` are the inputs after x / after dy, y (the mask).
  void check_both(SoftmaxDescriptor d, const HostTensor& x, const std::vector<HostTensor>& extra,
                  const std::string& name, uint64_t seed) {
    d.direction = Direction::forward;
    d.input = x.operand();
    Problem f{name + " fwd", d, {x}};
    for (const HostTensor& e : extra) f.inputs.push_back(e);
    check(f);
    HostTensor y = output_for(d);
    ASSERT_TRUE(run_cpu(f, y).is_ok());
    HostTensor dy = random_tensor(y.dtype(), y.shape(), seed ^ 0xD1, {}, -1, 1);
    d.direction = Direction::backward;
    d.forward_output = y.operand();
    Problem b{name + " bwd", d, {dy, y}};
    for (const HostTensor& e : extra) b.inputs.push_back(e);
    check(b);
  }

  // The backward problem of x for descriptor template d (unmasked): y is the reference forward of
  // x, dy uniform in [-1, 1].
  Problem backward_of(SoftmaxDescriptor d, const HostTensor& x, const std::string& name, uint64_t seed) {
    d.direction = Direction::forward;
    d.input = x.operand();
    HostTensor y = output_for(d);
    EXPECT_TRUE(run_cpu(Problem{"", d, {x}}, y).is_ok());
    HostTensor dy = random_tensor(y.dtype(), y.shape(), seed ^ 0xD1, {}, -1, 1);
    d.direction = Direction::backward;
    d.forward_output = y.operand();
    return Problem{name + " bwd", d, {dy, y}};
  }

  // The tactic of the plan select() makes for d now (the environment is read when a plan is made).
  std::string tactic_of(const SoftmaxDescriptor& d) {
    auto plan = SoftmaxPlan::select(gpu_, d);
    return plan ? plan->sku().tactic : "select failed: " + plan.status().to_string();
  }

  // p's output bytes from one run of `plan` (output poisoned with 0xFF first).
  void run_bytes(const SoftmaxPlan& plan, const Problem& p, std::vector<uint8_t>& bytes) {
    const Device dev = gpu_.device();
    std::vector<DeviceBuffer> ins;
    SoftmaxArgs a;
    ASSERT_NO_FATAL_FAILURE(upload_inputs(p, ins, a));
    HostTensor got = output_for(p.desc);
    DeviceBuffer out(got.storage().size());
    a.outputs[0] = got.mut_at(out.get(), dev);
    ASSERT_EQ(out.fill(0xFF), cudaSuccess);
    Status s = plan.run(gpu_, {}, a);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
    bytes.resize(got.storage().size());
    ASSERT_EQ(out.download(bytes.data(), bytes.size()), cudaSuccess);
  }

  int sm_count() {
    int sms = 0;
    EXPECT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, gpu_.device().ordinal), cudaSuccess);
    return sms > 0 ? sms : 1;
  }

  cudaStream_t cs_ = nullptr;
  Stream gpu_ = Stream::cpu();
  int checked_ = 0;
};

const DType kDTypes[] = {DType::f32, DType::f16, DType::bf16, DType::f64};
const SoftmaxOp kOps[] = {SoftmaxOp::softmax, SoftmaxOp::log_softmax};

std::string tag(SoftmaxOp op, DType t, const std::vector<int64_t>& shape, int dim) {
  return std::string(op_name(op)) + " " + std::string(dtype_name(t)) + shape_to_string(shape) + " dim " + std::to_string(dim);
}

TEST_F(GpuSoftmax, EveryDtypeDimAndWidth) {
  uint64_t seed = 1;
  for (SoftmaxOp op : kOps)
    for (DType t : kDTypes)
      for (int64_t w : {1, 7, 33, 1000, 1024, 4097, 40000})
        for (int where : {0, 1, 2}) {  // dim first, middle, last
          std::vector<int64_t> shape = where == 0 ? std::vector<int64_t>{w, 5}
                                      : where == 1 ? std::vector<int64_t>{2, w, 3}
                                                   : std::vector<int64_t>{3, w};
          const int dim = where == 0 ? 0 : (where == 1 ? 1 : -1);
          HostTensor x = random_tensor(t, shape, ++seed);
          SoftmaxDescriptor d;
          d.op = op;
          d.dim = dim;
          check_both(d, x, {}, tag(op, t, shape, dim), seed);
        }
}

// Widths that land on each engine and item count (bf16/f16: 8 per vector, f32: 4, f64: 2), and
// enough rows to go around the grid-stride loops. The rows engines (unmasked, f32 math): one warp
// per row with 1, 2, 4 (f32: 8) vectors per thread up to 1024 elements, then 2, 4, 8, 16, 32
// warps per row up to 32768 (backward: 2 vectors per thread, 4 with 32 warps); the staged forward
// for 16 and 32 warps per row (f32: 16 only), with rows > the resident blocks so that each block
// prefetches and consumes several rows through both shared-memory stages.
TEST_F(GpuSoftmax, EveryEngineLastDim) {
  uint64_t seed = 1000;
  const std::vector<std::vector<int64_t>> shapes = {
      {5, 64},    {5, 256},    {5, 512},    {5, 1024},   {5, 2048},    {5, 4096},    {5, 8192},
      {2, 16384}, {2, 32768},  {2, 65536},  {20000, 64}, {1000, 2048}, {150, 20000}, {4, 100003},
      {1500, 1024}, {300, 4096}, {200, 16384}, {140, 32768}, {37, 3000}, {9, 12000}};
  for (SoftmaxOp op : kOps)
    for (DType t : kDTypes)
      for (const auto& shape : shapes) {
        HostTensor x = random_tensor(t, shape, ++seed);
        SoftmaxDescriptor d;
        d.op = op;
        d.dim = 1;
        check_both(d, x, {}, tag(op, t, shape, 1), seed);
      }
}

TEST_F(GpuSoftmax, StridedInputsAndOutputs) {
  uint64_t seed = 2000;
  for (SoftmaxOp op : kOps)
    for (DType t : kDTypes)
      for (int64_t w : {7, 1000, 4097}) {
        const std::vector<std::vector<int64_t>> strides = {
            {1, 3},          // transposed storage: the dim is not unit-stride (column engine)
            {2 * w, 2},      // every other column (column engine, along stride 2)
            {w + 8, 1},      // padded rows, 16-byte aligned row starts (vector path when w allows)
            {w + 3, 1}};     // padded rows, misaligned row starts (scalar path)
        for (const auto& st : strides)
          for (bool transposed_out : {false, true}) {
            HostTensor x = random_tensor(t, {3, w}, ++seed, st);
            SoftmaxDescriptor d;
            d.op = op;
            d.dim = 1;
            if (transposed_out) d.output = Operand::tensor(t, {3, w}, {1, 3});  // column engine
            check_both(d, x, {}, tag(op, t, {3, w}, 1) + " strides " + shape_to_string(st) +
                                     (transposed_out ? " transposed output" : ""), seed);
          }
      }
  // Rank 4 with a permuted input, softmax over a middle dim.
  HostTensor x = random_tensor(DType::bf16, {4, 6, 33, 5}, 2999, {5, 660, 20, 1});
  SoftmaxDescriptor d;
  d.dim = 2;
  check_both(d, x, {}, "bf16 rank-4 permuted", 2999);
}

// Rows whose start is not 16-byte aligned (the data pointer is offset by one element): the plan
// must fall back to element loads, not issue misaligned vector loads.
TEST_F(GpuSoftmax, MisalignedDataPointer) {
  for (SoftmaxOp op : kOps)
    for (DType t : {DType::bf16, DType::f32})
      for (int64_t w : {256, 1024, 8192}) {
        SCOPED_TRACE(tag(op, t, {5, w}, -1) + " data pointer + 1 element");
        HostTensor x = random_tensor(t, {5, w}, 77 + w);
        SoftmaxDescriptor d;
        d.op = op;
        d.input = x.operand();
        HostTensor want = output_for(d);
        ASSERT_TRUE(run_cpu(Problem{"", d, {x}}, want).is_ok());
        auto plan = SoftmaxPlan::select(gpu_, d);
        ASSERT_TRUE(plan) << plan.status().to_string();
        const size_t es = dtype_size(t);
        DeviceBuffer xb(x.storage().size() + es), yb(want.storage().size() + es);
        ASSERT_EQ(cudaMemcpy(static_cast<char*>(xb.get()) + es, x.storage().data(), x.storage().size(),
                             cudaMemcpyHostToDevice), cudaSuccess);
        ASSERT_EQ(yb.fill(0xFF), cudaSuccess);
        HostTensor got = output_for(d);
        SoftmaxArgs a;
        a.inputs[0] = x.ref_at(static_cast<char*>(xb.get()) + es, gpu_.device());
        a.outputs[0] = got.mut_at(static_cast<char*>(yb.get()) + es, gpu_.device());
        Status s = plan->run(gpu_, {}, a);
        ASSERT_TRUE(s.is_ok()) << s.to_string();
        ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
        ASSERT_EQ(cudaMemcpy(got.storage().data(), static_cast<char*>(yb.get()) + es, got.storage().size(),
                             cudaMemcpyDeviceToHost), cudaSuccess);
        bt::CompareResult r = bt::compare(got, want, bt::default_tolerance(t));
        EXPECT_EQ(r.mismatches, 0) << r.to_string();
      }
}

TEST_F(GpuSoftmax, MasksAndTemperature) {
  uint64_t seed = 3000;
  for (SoftmaxOp op : kOps)
    for (DType t : kDTypes)
      for (int64_t w : {33, 1024, 40000}) {
        const std::vector<int64_t> shape{4, w};
        HostTensor x = random_tensor(t, shape, ++seed);
        // Boolean [w] broadcast over rows (about a third false); row 2 fully masked (NaN row).
        HostTensor bm(DType::boolean, {w});
        for (int64_t i = 0; i < w; ++i) bm.set(i, (i * 7919) % 3 != 0 ? 1 : 0);
        HostTensor rows_mask(DType::boolean, {4, 1});
        rows_mask.set_all({1, 1, 0, 1});
        // Additive: full-shape bf16 with some -inf, and a [4, 1] f32 column.
        HostTensor am = random_tensor(DType::bf16, shape, ++seed, {}, -2, 2);
        for (int64_t i = 0; i < am.numel(); i += 5) am.set(i, -kInf);
        HostTensor col = random_tensor(DType::f32, {4, 1}, ++seed);
        for (const HostTensor* m : {&bm, &rows_mask, &am, &col})
          for (double temp : {1.0, 0.5}) {
            SoftmaxDescriptor d;
            d.op = op;
            d.dim = -1;
            d.temperature = temp;
            d.mask = m->operand();
            check_both(d, x, {*m}, tag(op, t, shape, -1) + " mask " + std::string(dtype_name(m->dtype())) +
                                       shape_to_string(m->shape()) + " T=" + std::to_string(temp), seed);
          }
        // A mask along a non-innermost dim (column engine): [w, 4] input, softmax over dim 0.
        HostTensor xt = random_tensor(t, {w, 4}, ++seed);
        HostTensor mt(DType::boolean, {w, 1});
        for (int64_t i = 0; i < w; ++i) mt.set(i, i % 4 != 1 ? 1 : 0);
        SoftmaxDescriptor d;
        d.op = op;
        d.dim = 0;
        d.temperature = 3.0;
        d.mask = mt.operand();
        check_both(d, xt, {mt}, tag(op, t, {w, 4}, 0) + " column mask", seed);
      }
}

TEST_F(GpuSoftmax, SpecialValues) {
  uint64_t seed = 4000;
  for (SoftmaxOp op : kOps)
    for (DType t : kDTypes)
      for (int64_t w : {7, 33, 1000, 1024, 4096, 32768, 40000})
        for (int dim : {0, 1}) {
          const std::vector<int64_t> shape = dim == 1 ? std::vector<int64_t>{6, w} : std::vector<int64_t>{w, 6};
          HostTensor x = random_tensor(t, shape, ++seed);
          // Row r (along the dim) at position k: logical index of element k of row r.
          auto at = [&](int64_t r, int64_t k) { return dim == 1 ? r * w + k : k * 6 + r; };
          x.set(at(0, w / 2), kNaN);                                   // row 0: NaN -> NaN row
          x.set(at(1, w - 1), kInf);                                   // row 1: +inf -> NaN row
          for (int64_t k = 0; k < w; ++k) x.set(at(2, k), -kInf);      // row 2: all -inf -> NaN row
          x.set(at(3, 0), -kInf);                                      // row 3: one -inf -> 0 / -inf there
          for (int64_t k = 0; k < w; ++k) x.set(at(4, k), 1.5);        // row 4: uniform
          SoftmaxDescriptor d;
          d.op = op;
          d.dim = dim;
          check_both(d, x, {}, tag(op, t, shape, dim) + " specials", seed);
        }
}

// The rows engines' edges: a single row (no row stride, so any width takes 16-byte vectors) whose
// last vector is partial, padded up to the row group's width; temperature without a mask (the
// rows engines scale in registers); rows whose maximum is far from 0 (the fast exp's shifted
// argument); tiny probabilities (the 16-bit results' flush-to-zero exp).
TEST_F(GpuSoftmax, RowsEngineEdges) {
  uint64_t seed = 4500;
  for (SoftmaxOp op : kOps)
    for (DType t : kDTypes) {
      for (int64_t w : {9, 1001, 4097, 16385, 32767}) {
        HostTensor x = random_tensor(t, {1, w}, ++seed);
        SoftmaxDescriptor d;
        d.op = op;
        d.dim = -1;
        check_both(d, x, {}, tag(op, t, {1, w}, -1) + " single row", seed);
      }
      for (int64_t w : {256, 1024, 4096, 32768})
        for (double temp : {0.5, 3.0}) {
          HostTensor x = random_tensor(t, {6, w}, ++seed);
          SoftmaxDescriptor d;
          d.op = op;
          d.dim = -1;
          d.temperature = temp;
          check_both(d, x, {}, tag(op, t, {6, w}, -1) + " T=" + std::to_string(temp), seed);
        }
      for (int64_t w : {1024, 8192}) {
        HostTensor x = random_tensor(t, {4, w}, ++seed, {}, 200, 260);      // max far from 0
        HostTensor tiny = random_tensor(t, {4, w}, ++seed, {}, -100, 0);  // exp down to e^-100
        for (int64_t k = 0; k < w; k += 97) tiny.set(k, 0.0);
        SoftmaxDescriptor d;
        d.op = op;
        d.dim = -1;
        check_both(d, x, {}, tag(op, t, {4, w}, -1) + " offset", seed);
        check_both(d, tiny, {}, tag(op, t, {4, w}, -1) + " tiny", seed);
      }
    }
}

TEST_F(GpuSoftmax, OutputDtypeF32From16Bit) {
  uint64_t seed = 5000;
  for (SoftmaxOp op : kOps)
    for (DType t : {DType::bf16, DType::f16})
      for (int64_t w : {33, 1024, 8192, 40000}) {
        HostTensor x = random_tensor(t, {3, w}, ++seed);
        SoftmaxDescriptor d;
        d.op = op;
        d.dim = -1;
        d.output_dtype = DType::f32;
        check_both(d, x, {}, tag(op, t, {3, w}, -1) + " dtype=f32", seed);
      }
}

TEST_F(GpuSoftmax, ZeroDimAndEmpty) {
  for (SoftmaxOp op : kOps) {
    HostTensor s = random_tensor(DType::f32, {}, 1);
    SoftmaxDescriptor d;
    d.op = op;
    d.dim = 0;
    check_both(d, s, {}, std::string(op_name(op)) + " 0-d", 1);
    for (std::vector<int64_t> shape : {std::vector<int64_t>{0, 8}, std::vector<int64_t>{8, 0}}) {
      HostTensor e(DType::bf16, shape);
      d.dim = 1;
      d.input = e.operand();
      auto plan = SoftmaxPlan::select(gpu_, d);
      ASSERT_TRUE(plan) << plan.status().to_string();
      DeviceBuffer xb(16), yb(16);
      SoftmaxArgs a;
      a.inputs[0] = e.ref_at(xb.get(), gpu_.device());
      HostTensor y(DType::bf16, shape);
      a.outputs[0] = y.mut_at(yb.get(), gpu_.device());
      EXPECT_TRUE(plan->run(gpu_, {}, a).is_ok());
      EXPECT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
    }
  }
}

TEST_F(GpuSoftmax, RejectsHostPointersAndWrongArgs) {
  HostTensor x = random_tensor(DType::f32, {4, 64}, 9);
  SoftmaxDescriptor d;
  d.input = x.operand();
  auto plan = SoftmaxPlan::select(gpu_, d);
  ASSERT_TRUE(plan) << plan.status().to_string();
  HostTensor y(DType::f32, {4, 64});
  SoftmaxArgs a;
  a.inputs[0] = x.ref();  // a CPU tensor on a CUDA plan
  DeviceBuffer yb(y.storage().size());
  a.outputs[0] = y.mut_at(yb.get(), gpu_.device());
  EXPECT_FALSE(plan->run(gpu_, {}, a).is_ok());
}

// ---- the staged backward (softmax_rows_bwd_staged_kernel) ----
constexpr const char* kStagedBwd = "softmax_rows_bwd_staged_kernel";

// Sets an environment variable for a scope; unsets it when the scope ends, also when an assertion
// leaves it early.
struct ScopedEnv {
  const char* name;
  ScopedEnv(const char* n, const char* v) : name(n) { EXPECT_EQ(setenv(n, v, 1), 0); }
  ~ScopedEnv() { (void)unsetenv(name); }
};

// A loaded dtype and the output dtype asked for (dtype=f32 from a 16-bit input), if any.
struct DtypeCase {
  DType t;
  std::optional<DType> out;
};

// A softmax (log_softmax) over the last dim, in the output dtype asked for, if any.
SoftmaxDescriptor last_dim_desc(SoftmaxOp op, std::optional<DType> out) {
  SoftmaxDescriptor d;
  d.op = op;
  d.dim = -1;
  d.output_dtype = out;
  return d;
}

// body(legacy) with legacy = false, then true with `var`=legacy set (the generic engines in place
// of the one under test). An assertion in body leaves that pass only.
template <class F>
void with_and_without_legacy(const char* var, F&& body) {
  for (bool legacy : {false, true}) {
    std::optional<ScopedEnv> env;
    if (legacy) env.emplace(var, "legacy");
    body(legacy);
  }
}

// The plan's tactic names `kernel` (named) or does not (!named).
void expect_kernel(const std::string& tactic, const char* kernel, bool named, const std::string& name) {
  if (named) EXPECT_NE(tactic.find(kernel), std::string::npos) << name << ": " << tactic;
  else EXPECT_EQ(tactic.find(kernel), std::string::npos) << name << ": " << tactic;
}

// A width the staged backward takes and the warps per row the plan gives it: 16-bit rows of
// 4097..32768 elements (16 warps up to 8192, 32 above; 4 vectors per thread above 16384), f32 rows
// of 2049..16384 (16 warps up to 4096), each a multiple of the 16-byte vector.
struct StagedWidth {
  int64_t n;
  int warps;
};

// Rows enough that every block of the persistent grid loops over at least two rows: more than
// 2 x SMs x the most blocks of this size an SM can hold (by its 2048-thread limit).
int64_t looping_rows(int sms, int warps) { return 2 * int64_t{sms} * (2048 / (32 * warps)) + 3; }

// Every dtype the staged backward loads, both ops, each width at many rows and at fewer rows than
// SMs (a grid of fewer blocks than SMs, one row each), against the reference (poisoned outputs,
// check()); the plan's tactic names the kernel. bf16 with dtype=f32 has an f32 -> bf16 backward
// (f32 loads, 8-byte stores).
TEST_F(GpuSoftmax, StagedBackward) {
  const int sms = sm_count();
  uint64_t seed = 6000;
  struct Case {
    DType t;
    std::optional<DType> out;
    std::vector<StagedWidth> widths;
  };
  const std::vector<StagedWidth> w16 = {{32768, 32}, {20000, 32}, {16384, 32}, {5000, 16}};
  const std::vector<StagedWidth> w32 = {{16384, 32}, {12000, 32}, {8192, 32}, {3000, 16}};
  const Case cases[] = {{DType::bf16, std::nullopt, w16},
                        {DType::f16, std::nullopt, w16},
                        {DType::f32, std::nullopt, w32},
                        {DType::bf16, DType::f32, {{16384, 32}}}};
  for (SoftmaxOp op : kOps)
    for (const Case& c : cases)
      for (const StagedWidth& w : c.widths)
        for (int64_t rows : {looping_rows(sms, w.warps), int64_t{std::max(1, sms / 3)}}) {
          const std::vector<int64_t> shape{rows, w.n};
          HostTensor x = random_tensor(c.t, shape, ++seed);
          SoftmaxDescriptor d = last_dim_desc(op, c.out);
          const Problem b = backward_of(d, x, tag(op, c.t, shape, -1) + (c.out ? " dtype=f32" : ""), seed);
          const std::string tactic = tactic_of(b.desc);
          EXPECT_NE(tactic.find(kStagedBwd), std::string::npos) << b.name << ": " << tactic;
          check(b);
        }
}

// BARACUDA_SOFTMAX_BWD_STAGED=0 (read when the plan is made): the plan keeps the register kernel
// (softmax_rows_bwd_kernel), correct on its own, and both kernels give bitwise the same dx (same
// per-thread chains, padding and group reduction). Also: rows whose width is not a multiple of the
// vector never take the staged kernel.
TEST_F(GpuSoftmax, StagedBackwardSwitchOffAndBitwise) {
  const int sms = sm_count();
  uint64_t seed = 7000;
  struct Case {
    DType t;
    StagedWidth w;
  };
  const Case cases[] = {{DType::bf16, {32768, 32}}, {DType::bf16, {6000, 16}}, {DType::f16, {24576, 32}},
                        {DType::f32, {16384, 32}},  {DType::f32, {8192, 32}},  {DType::f32, {4096, 16}}};
  for (SoftmaxOp op : kOps)
    for (const Case& c : cases) {
      const std::vector<int64_t> shape{looping_rows(sms, c.w.warps), c.w.n};
      HostTensor x = random_tensor(c.t, shape, ++seed);
      SoftmaxDescriptor d;
      d.op = op;
      d.dim = -1;
      const Problem b = backward_of(d, x, tag(op, c.t, shape, -1), seed);
      SCOPED_TRACE(b.name);
      ASSERT_EQ(unsetenv("BARACUDA_SOFTMAX_BWD_STAGED"), 0);
      auto staged = SoftmaxPlan::select(gpu_, b.desc);
      ASSERT_TRUE(staged) << staged.status().to_string();
      EXPECT_NE(staged->sku().tactic.find(kStagedBwd), std::string::npos) << staged->sku().tactic;
      std::vector<uint8_t> staged_dx, register_dx;
      run_bytes(*staged, b, staged_dx);
      {
        ScopedEnv off("BARACUDA_SOFTMAX_BWD_STAGED", "0");
        auto reg = SoftmaxPlan::select(gpu_, b.desc);
        ASSERT_TRUE(reg) << reg.status().to_string();
        const std::string tactic = reg->sku().tactic;
        EXPECT_EQ(tactic.find(kStagedBwd), std::string::npos) << tactic;
        EXPECT_NE(tactic.find("BARACUDA_SOFTMAX_BWD_STAGED=0"), std::string::npos) << tactic;
        run_bytes(*reg, b, register_dx);
        check(b);  // the register kernel against the reference (check()'s plan is made under the switch too)
      }
      ASSERT_EQ(staged_dx.size(), register_dx.size());
      EXPECT_EQ(std::memcmp(staged_dx.data(), register_dx.data(), staged_dx.size()), 0)
          << "the staged and register backward kernels differ";
    }
  // n % 8 != 0 (a single row takes 16-byte vectors anyway): the register kernel.
  for (DType t : {DType::bf16, DType::f32}) {
    HostTensor x = random_tensor(t, {1, 32767}, ++seed);
    SoftmaxDescriptor d;
    d.dim = -1;
    const Problem b = backward_of(d, x, tag(SoftmaxOp::softmax, t, {1, 32767}, -1), seed);
    const std::string tactic = tactic_of(b.desc);
    EXPECT_EQ(tactic.find(kStagedBwd), std::string::npos) << tactic;
    check(b);
  }
}

// ---- the staged forward's three stages (the default for 64 KB stages) ----
// The forward's rows on three shared-memory stages of x (the rows one and two steps ahead in
// flight; BARACUDA_SOFTMAX_FWD_STAGES unset or =3): the tactic says so, every case against the
// reference (poisoned outputs, check()), and bitwise the two-stage kernel's output
// (BARACUDA_SOFTMAX_FWD_STAGES=2; the same per-row math, only when the copies are issued
// differs). Both ops, every dtype the staged forward loads (bf16 with dtype=f32), the widest
// rows and a narrower staged width (both 64 KB a stage, 192 KB for three), at rows enough for
// every block to go around the ring several times, at fewer rows than SMs and at between one and
// two rows a block (the ring's prologue with its second row missing).
TEST_F(GpuSoftmax, StagedForwardThreeStages) {
  const int sms = sm_count();
  uint64_t seed = 9000;
  const DtypeCase cases[] = {{DType::bf16, std::nullopt}, {DType::f16, std::nullopt}, {DType::f32, std::nullopt},
                             {DType::bf16, DType::f32}};
  for (SoftmaxOp op : kOps)
    for (const DtypeCase& c : cases) {
      const bool f32_loads = c.t == DType::f32;
      for (int64_t n : f32_loads ? std::vector<int64_t>{16384, 12000} : std::vector<int64_t>{32768, 20000})
        for (int64_t rows : {int64_t{4} * sms + 5, int64_t{std::max(1, sms / 3)}, int64_t{sms} + 7}) {
          const std::vector<int64_t> shape{rows, n};
          HostTensor x = random_tensor(c.t, shape, ++seed);
          SoftmaxDescriptor d = last_dim_desc(op, c.out);
          d.input = x.operand();
          const Problem f{tag(op, c.t, shape, -1) + (c.out ? " dtype=f32" : ""), d, {x}};
          SCOPED_TRACE(f.name);
          std::vector<uint8_t> two_y;
          {
            ScopedEnv two_stages("BARACUDA_SOFTMAX_FWD_STAGES", "2");
            auto two = SoftmaxPlan::select(gpu_, f.desc);
            ASSERT_TRUE(two) << two.status().to_string();
            EXPECT_NE(two->sku().tactic.find("two shared-memory stages of x"), std::string::npos) << two->sku().tactic;
            run_bytes(*two, f, two_y);
          }
          for (const char* three_stages : {"", "3"}) {  // the default, then the switch
            std::optional<ScopedEnv> env;
            if (*three_stages) env.emplace("BARACUDA_SOFTMAX_FWD_STAGES", three_stages);
            auto three = SoftmaxPlan::select(gpu_, f.desc);
            ASSERT_TRUE(three) << three.status().to_string();
            EXPECT_NE(three->sku().tactic.find("three shared-memory stages of x"), std::string::npos)
                << three->sku().tactic;
            std::vector<uint8_t> three_y;
            run_bytes(*three, f, three_y);
            ASSERT_EQ(two_y.size(), three_y.size());
            EXPECT_EQ(std::memcmp(two_y.data(), three_y.data(), two_y.size()), 0)
                << "three stages (BARACUDA_SOFTMAX_FWD_STAGES=" << three_stages << ") differ from two";
            check(f);  // check()'s plan is made under the same setting
          }
        }
    }
}

// ---- the backward's short rows (4 or 8 warps per row) on the staged kernel ----
// The log_softmax backward takes softmax_rows_bwd_staged_kernel by default (8 warps x 2 vectors,
// 4 x 2 for shorter rows); BARACUDA_SOFTMAX_LOG_BWD=legacy: the register kernel. The softmax
// backward keeps the register kernel. Every mode against the reference (poisoned outputs), the
// tactic naming the kernel and geometry, and the log_softmax's staged kernel bitwise equal to the
// register kernel (same geometry, same per-thread chains and group reduction). Every dtype the
// path loads (bf16 with dtype=f32: f32 loads, 8-byte bf16 stores), many rows (each persistent
// block loops) and fewer rows than SMs, padded rows (strided y and dx), and rows whose width is
// not a multiple of the vector (never staged).
struct ShortBwdMode {
  const char* env;    // nullptr: the default
  const char* value;
  bool staged;
};

// The part of a rows tactic that names its geometry, as the plan writes it.
std::string rows_geometry(int warps, int items) {
  return "(" + std::to_string(warps) + " warp(s)/row, " + std::to_string(items) + " x 16-byte vectors";
}

// The backward problems of the rows-kernel cases: both ops, every dtype the rows path loads (bf16
// with dtype=f32: f32 loads), each width of w16 (16-bit loads) or w32 (f32 loads) at many rows
// (each block of the grid loops), at fewer rows than SMs and, at the widest width, padded rows (the
// forward's y and the backward's dx; d.output is dx's layout there, so dx has y's dtype: not with
// dtype=f32). Calls fn(op, width, problem) under SCOPED_TRACE(problem.name); `backward` is the
// fixture's backward_of. Stops at the first fatal failure.
template <class Backward, class Fn>
void for_each_rows_backward(int sms, uint64_t& seed, const std::vector<StagedWidth>& w16,
                            const std::vector<StagedWidth>& w32, Backward&& backward, Fn&& fn) {
  const DtypeCase cases[] = {{DType::bf16, std::nullopt}, {DType::f16, std::nullopt}, {DType::f32, std::nullopt},
                        {DType::bf16, DType::f32}};
  for (SoftmaxOp op : kOps)
    for (const DtypeCase& c : cases) {
      const bool f32_loads = c.t == DType::f32 || c.out.has_value();
      for (const StagedWidth& w : f32_loads ? w32 : w16)
        for (int variant = 0; variant < 3; ++variant) {  // many rows, few rows, padded rows
          if (variant == 2 && (c.out || w.n != (f32_loads ? 2048 : 4096))) continue;
          const int64_t rows = variant == 1 ? int64_t{std::max(1, sms / 3)} : looping_rows(sms, w.warps);
          const std::vector<int64_t> shape{rows, w.n};
          HostTensor x = random_tensor(c.t, shape, ++seed);
          SoftmaxDescriptor d = last_dim_desc(op, c.out);
          // 16-byte aligned row starts (the rows kernels' requirement).
          if (variant == 2) d.output = Operand::tensor(c.t, shape, {w.n + 16, 1});
          const Problem b = backward(d, x,
                                     tag(op, c.t, shape, -1) + (c.out ? " dtype=f32" : "") +
                                         (variant == 2 ? " padded rows" : ""),
                                     seed);
          SCOPED_TRACE(b.name);
          fn(op, w, b);
          if (testing::Test::HasFatalFailure()) return;
        }
    }
}

TEST_F(GpuSoftmax, ShortRowsStagedBackward) {
  const int sms = sm_count();
  uint64_t seed = 9500;
  // Widths of the loaded dtype: 4 warps per row, then 8 (16-bit: 512 elements a warp, f32: 256).
  const std::vector<StagedWidth> w16 = {{1032, 4}, {2048, 4}, {3000, 8}, {4096, 8}};
  const std::vector<StagedWidth> w32 = {{520, 4}, {1024, 4}, {1500, 8}, {2048, 8}};
  const std::vector<ShortBwdMode> log_modes = {{nullptr, nullptr, true}, {"BARACUDA_SOFTMAX_LOG_BWD", "legacy", false}};
  const std::vector<ShortBwdMode> softmax_modes = {{nullptr, nullptr, false}};
  // 16-bit rows of 3000 and 4096 take the one-vector geometry by default
  // (BackwardOneVectorDefaultReach); here the two-vector kernels are asked for.
  ScopedEnv two_vectors("BARACUDA_SOFTMAX_BWD_ONE_VECTOR", "0");
  ASSERT_EQ(unsetenv("BARACUDA_SOFTMAX_LOG_BWD"), 0);
  auto backward = [this](const SoftmaxDescriptor& d, const HostTensor& x, const std::string& name, uint64_t s) {
    return backward_of(d, x, name, s);
  };
  for_each_rows_backward(sms, seed, w16, w32, backward, [&](SoftmaxOp op, const StagedWidth& w, const Problem& b) {
    std::vector<uint8_t> staged_dx, register_dx;  // default geometry, staged and register kernel
    for (const ShortBwdMode& m : op == SoftmaxOp::log_softmax ? log_modes : softmax_modes) {
      std::optional<ScopedEnv> env;
      if (m.env) env.emplace(m.env, m.value);
      SCOPED_TRACE(m.env ? std::string(m.env) + "=" + m.value : std::string("default"));
      auto plan = SoftmaxPlan::select(gpu_, b.desc);
      ASSERT_TRUE(plan) << plan.status().to_string();
      const std::string tactic = plan->sku().tactic;
      EXPECT_EQ(tactic.find(kStagedBwd) != std::string::npos, m.staged) << tactic;
      EXPECT_NE(tactic.find(rows_geometry(w.warps, 2)), std::string::npos) << tactic;
      check(b);  // check()'s plan is made under the same switch
      run_bytes(*plan, b, m.staged ? staged_dx : register_dx);
    }
    if (op != SoftmaxOp::log_softmax) return;  // one mode: nothing to compare
    ASSERT_EQ(staged_dx.size(), register_dx.size());
    EXPECT_EQ(std::memcmp(staged_dx.data(), register_dx.data(), staged_dx.size()), 0)
        << "the staged and register backward kernels differ";
  });
  // A width that is not a multiple of the vector (one row: 16-byte vectors with a partial last
  // one): the register kernel, also by default.
  for (DType t : {DType::bf16, DType::f32}) {
    const int64_t n = t == DType::f32 ? 2047 : 4095;
    HostTensor x = random_tensor(t, {1, n}, ++seed);
    SoftmaxDescriptor d;
    d.op = SoftmaxOp::log_softmax;
    d.dim = -1;
    const Problem b = backward_of(d, x, tag(SoftmaxOp::log_softmax, t, {1, n}, -1), seed);
    const std::string tactic = tactic_of(b.desc);
    EXPECT_EQ(tactic.find(kStagedBwd), std::string::npos) << tactic;
    check(b);
  }
}

// ---- the register rows kernels' grid cap (BARACUDA_SOFTMAX_GRID_WAVES, _BWD_GRID_WAVES) ----
// The grid only decides which block takes which rows, so every setting gives bitwise the default's
// output: =0 (a block per row group, no cap), =1 (every block strides over many rows) and =8
// (both variables set alike) against the defaults (8 waves; 16 for the backward's rows longer than
// 2048), for the one-vector backward (16-bit rows of 4096, its default reach) and the register
// forward (rows of 1024), both ops, at rows beyond 8 waves of blocks.
TEST_F(GpuSoftmax, GridWavesSwitch) {
  const int sms = sm_count();
  uint64_t seed = 9950;
  for (SoftmaxOp op : kOps)
    for (bool bwd : {true, false}) {
      const int64_t n = bwd ? 4096 : 1024;
      const std::vector<int64_t> shape{int64_t{sms} * 40 + 3, n};
      HostTensor x = random_tensor(DType::bf16, shape, ++seed);
      SoftmaxDescriptor d = last_dim_desc(op, std::nullopt);
      d.input = x.operand();
      const Problem f{tag(op, DType::bf16, shape, -1), d, {x}};
      const Problem p = bwd ? backward_of(d, x, f.name + " backward", seed) : f;
      SCOPED_TRACE(p.name);
      std::vector<uint8_t> base;
      {
        auto plan = SoftmaxPlan::select(gpu_, p.desc);
        ASSERT_TRUE(plan) << plan.status().to_string();
        EXPECT_EQ(plan->sku().tactic.find(kStagedBwd), std::string::npos) << plan->sku().tactic;
        run_bytes(*plan, p, base);
      }
      for (const char* waves : {"0", "1", "8"}) {
        ScopedEnv env("BARACUDA_SOFTMAX_GRID_WAVES", waves), env_bwd("BARACUDA_SOFTMAX_BWD_GRID_WAVES", waves);
        auto plan = SoftmaxPlan::select(gpu_, p.desc);
        ASSERT_TRUE(plan) << plan.status().to_string();
        std::vector<uint8_t> got;
        run_bytes(*plan, p, got);
        ASSERT_EQ(got.size(), base.size());
        EXPECT_EQ(std::memcmp(got.data(), base.data(), base.size()), 0) << "grid waves " << waves;
        check(p);
      }
    }
}

// ---- the backward's one-vector geometry everywhere it fits (BARACUDA_SOFTMAX_BWD_ONE_VECTOR=1) ----
// Rows that fit 16 warps x one 16-byte vector of dy and y per thread (16-bit up to 4096 elements,
// f32 loads up to 2048) take the register kernel at one vector per thread, twice the default warps
// per row, never staged; wider rows keep the default geometry. Both ops, every dtype the path
// loads (bf16 with dtype=f32: f32 loads, 8-byte bf16 stores), 2 .. 16 warps per row, many rows
// (each block of the grid loops), fewer rows than SMs, padded rows (strided y and dx), a width that
// is not a multiple of the vector, against the reference (poisoned outputs, check()), the tactic
// naming the geometry; then widths that do not fit (the default geometry, staged).
TEST_F(GpuSoftmax, BackwardOneVector) {
  constexpr const char* kOneVector = "one vector per thread, 1536 threads per SM";
  const int sms = sm_count();
  uint64_t seed = 9900;
  // Widths of the loaded dtype (multiples of the vector: rows stay 16-byte aligned) and the warps
  // per row they take (16-bit: 256 elements a warp, f32: 128).
  const std::vector<StagedWidth> w16 = {{504, 2}, {1024, 4}, {1032, 8}, {2048, 8}, {3000, 16}, {4096, 16}};
  const std::vector<StagedWidth> w32 = {{200, 2}, {512, 4}, {520, 8}, {1024, 8}, {1500, 16}, {2048, 16}};
  ScopedEnv on("BARACUDA_SOFTMAX_BWD_ONE_VECTOR", "1");
  auto backward = [this](const SoftmaxDescriptor& d, const HostTensor& x, const std::string& name, uint64_t s) {
    return backward_of(d, x, name, s);
  };
  for_each_rows_backward(sms, seed, w16, w32, backward, [&](SoftmaxOp, const StagedWidth& w, const Problem& b) {
    const std::string tactic = tactic_of(b.desc);
    EXPECT_EQ(tactic.find(kStagedBwd), std::string::npos) << tactic;
    EXPECT_NE(tactic.find(rows_geometry(w.warps, 1)), std::string::npos) << tactic;
    EXPECT_NE(tactic.find(kOneVector), std::string::npos) << tactic;
    check(b);  // check()'s plan is made under the same switch
  });
  // A width that is not a multiple of the vector (one row: 16-byte vectors with a partial last one).
  for (SoftmaxOp op : kOps)
    for (DType t : {DType::bf16, DType::f32}) {
      const int64_t n = t == DType::f32 ? 2047 : 4095;
      HostTensor x = random_tensor(t, {1, n}, ++seed);
      const Problem b = backward_of(last_dim_desc(op, std::nullopt), x, tag(op, t, {1, n}, -1), seed);
      const std::string tactic = tactic_of(b.desc);
      EXPECT_NE(tactic.find(rows_geometry(16, 1)), std::string::npos) << b.name << ": " << tactic;
      check(b);
    }
  // Widths that do not fit: the default geometry (16 warps x 2 vectors, staged), switch or not.
  for (SoftmaxOp op : kOps)
    for (DType t : {DType::bf16, DType::f32}) {
      const int64_t n = t == DType::f32 ? 4096 : 8192;
      const std::vector<int64_t> shape{looping_rows(sms, 16), n};
      HostTensor x = random_tensor(t, shape, ++seed);
      const Problem b = backward_of(last_dim_desc(op, std::nullopt), x, tag(op, t, shape, -1), seed);
      const std::string tactic = tactic_of(b.desc);
      EXPECT_NE(tactic.find(kStagedBwd), std::string::npos) << b.name << ": " << tactic;
      EXPECT_NE(tactic.find(rows_geometry(16, 2)), std::string::npos) << b.name << ": " << tactic;
      EXPECT_EQ(tactic.find(kOneVector), std::string::npos) << b.name << ": " << tactic;
      check(b);
    }
}

// The one-vector geometry's default reach (switch unset): the softmax and log_softmax backward of
// 16-bit rows of 2049..4096 elements only; not 16-bit rows of 1024 or 2048, not f32; and
// BARACUDA_SOFTMAX_BWD_ONE_VECTOR=0 turns it off. Every case against the reference.
TEST_F(GpuSoftmax, BackwardOneVectorDefaultReach) {
  constexpr const char* kOneVector = "one vector per thread, 1536 threads per SM";
  const int64_t rows = looping_rows(sm_count(), 16);
  uint64_t seed = 9990;
  struct Case {
    SoftmaxOp op;
    DType t;
    int64_t n;
    const char* env;  // BARACUDA_SOFTMAX_BWD_ONE_VECTOR, or null: unset
    bool one_vector;
  };
  const Case cases[] = {
      {SoftmaxOp::softmax, DType::bf16, 4096, nullptr, true},
      {SoftmaxOp::softmax, DType::f16, 2056, nullptr, true},
      {SoftmaxOp::softmax, DType::bf16, 2048, nullptr, false},
      {SoftmaxOp::softmax, DType::bf16, 1024, nullptr, false},
      {SoftmaxOp::softmax, DType::f32, 2048, nullptr, false},
      {SoftmaxOp::log_softmax, DType::bf16, 4096, nullptr, true},
      {SoftmaxOp::log_softmax, DType::bf16, 1024, nullptr, false},
      {SoftmaxOp::softmax, DType::bf16, 4096, "0", false},
      {SoftmaxOp::log_softmax, DType::bf16, 4096, "1", true},
  };
  for (const Case& k : cases) {
    std::optional<ScopedEnv> env;
    if (k.env) env.emplace("BARACUDA_SOFTMAX_BWD_ONE_VECTOR", k.env);
    else (void)unsetenv("BARACUDA_SOFTMAX_BWD_ONE_VECTOR");
    HostTensor x = random_tensor(k.t, {rows, k.n}, ++seed);
    const Problem b = backward_of(last_dim_desc(k.op, std::nullopt), x, tag(k.op, k.t, {rows, k.n}, -1), seed);
    const std::string tactic = tactic_of(b.desc);
    EXPECT_EQ(tactic.find(kOneVector) != std::string::npos, k.one_vector)
        << b.name << " (switch " << (k.env ? k.env : "unset") << "): " << tactic;
    check(b);
  }
}

// ---- the masked rows kernels (kernels/softmax_rows_masked.cuh) ----
constexpr const char* kMaskedFwd = "softmax_rows_masked_fwd_kernel";
constexpr const char* kMaskedBwd = "softmax_rows_masked_bwd_kernel";

// A mask along the last dim with unit stride, boolean or additive of x's dtype, full-shape or
// broadcast over the rows: the forward takes the masked rows kernel, the boolean backward its
// masked backward, the additive backward (mask unread) the unmasked rows kernels. Widths: one
// warp with 1, 2 vectors per thread, 2 .. 32 warps per row with 2 (up to 16384 16-bit or 8192 f32
// elements; wider rows take the generic engines), partial last vectors (broadcast masks, whose row stride 0 keeps them aligned), enough
// rows to loop the grid; a fully masked row (NaN forward, 0 backward), -inf additive entries,
// temperature. Every result against the reference with poisoned outputs (check()), then the same
// problems with BARACUDA_SOFTMAX_MASKED=legacy (the generic engines), also correct.
TEST_F(GpuSoftmax, MaskedRowsKernels) {
  uint64_t seed = 8000;
  const DtypeCase cases[] = {{DType::bf16, std::nullopt}, {DType::f16, std::nullopt}, {DType::f32, std::nullopt},
                        {DType::bf16, DType::f32}};
  with_and_without_legacy("BARACUDA_SOFTMAX_MASKED", [&](bool legacy) {
    for (SoftmaxOp op : kOps)
      for (const DtypeCase& c : cases)
        for (int64_t w : {8, 200, 256, 400, 1024, 2048, 4096, 4097, 8192, 16384, 32768}) {
          if (legacy && w != 4096 && w != 4097) continue;  // the legacy engines: a few widths
          // 4097: one row (no row stride, so 16-byte vectors with a partial last one).
          const int64_t rows = w == 4097 ? 1 : (w <= 256 ? 3000 : (w <= 4096 ? 37 : 3));
          const bool full_ok = w % 8 == 0;  // full-shape masks keep 16-byte aligned rows
          const std::vector<int64_t> shape{rows, w};
          HostTensor x = random_tensor(c.t, shape, ++seed);
          HostTensor bfull(DType::boolean, shape);
          for (int64_t i = 0; i < bfull.numel(); ++i) bfull.set(i, (i * 7919 + i / w) % 4 != 0 ? 1 : 0);
          if (rows > 1)
            for (int64_t k = 0; k < w; ++k) bfull.set(1 * w + k, 0);  // row 1 fully masked
          HostTensor brow(DType::boolean, {w});
          for (int64_t k = 0; k < w; ++k) brow.set(k, (k * 31) % 5 != 0 ? 1 : 0);
          HostTensor afull = random_tensor(c.t, shape, ++seed, {}, -2, 2);
          for (int64_t i = 0; i < afull.numel(); i += 7) afull.set(i, -kInf);
          HostTensor arow = random_tensor(c.t, {1, w}, ++seed, {}, -2, 2);
          arow.set(w / 2, -kInf);
          std::vector<const HostTensor*> masks = {&brow, &arow};
          if (full_ok) {
            masks.push_back(&bfull);
            masks.push_back(&afull);
          }
          // The masked kernels' widest row: 32 warps x 2 vectors per thread of the loaded dtype.
          const bool fits = w <= (c.t == DType::f32 ? 8192 : 16384);
          for (const HostTensor* m : masks)
            for (double temp : {1.0, 0.5}) {
              if (temp != 1.0 && m != &bfull && m != &afull && full_ok) continue;
              const bool boolean = m->dtype() == DType::boolean;
              SoftmaxDescriptor d;
              d.op = op;
              d.dim = -1;
              d.temperature = temp;
              d.output_dtype = c.out;
              d.mask = m->operand();
              d.input = x.operand();
              d.direction = Direction::forward;
              const std::string name = tag(op, c.t, shape, -1) + (c.out ? " dtype=f32" : "") + " mask " +
                                       std::string(dtype_name(m->dtype())) + shape_to_string(m->shape()) +
                                       " T=" + std::to_string(temp) + (legacy ? " legacy" : "");
              Problem f{name + " fwd", d, {x, *m}};
              const std::string ft = tactic_of(d);
              expect_kernel(ft, kMaskedFwd, !legacy && fits, name);
              check(f);
              HostTensor y = output_for(d);
              ASSERT_TRUE(run_cpu(f, y).is_ok());
              HostTensor dy = random_tensor(y.dtype(), y.shape(), seed ^ 0xD1, {}, -1, 1);
              d.direction = Direction::backward;
              d.forward_output = y.operand();
              Problem b{name + " bwd", d, {dy, y, *m}};
              const std::string bt_ = tactic_of(d);
              // The backward loads y's dtype (f32 for dtype=f32): 2 vectors per thread, 32 warps.
              const bool bwd_masked = !legacy && boolean && w <= (c.t == DType::f32 || c.out ? 8192 : 16384);
              expect_kernel(bt_, kMaskedBwd, bwd_masked, name);
              check(b);
            }
        }
  });
}

// ---- the columns engine (kernels/softmax_columns.cuh): softmax over a dim that is not innermost ----
constexpr const char* kColumns = "softmax_columns_kernel";

// Every dtype pair (f64: the generic column engine), both ops, forward and backward: 16-byte vectors (inner a multiple of the
// vector) at several tile widths (wide inner: 32 threads across; few columns: down to 2), the
// scalar fallback (odd inner), a dim shorter than the block's split and one much longer, a
// padded (strided) input, a rank-4 problem with merged outer dims, NaN / +inf / all -inf columns;
// then BARACUDA_SOFTMAX_COLUMNS=legacy (the generic column engine) on a few of them.
TEST_F(GpuSoftmax, ColumnsEngine) {
  uint64_t seed = 9000;
  const DtypeCase cases[] = {{DType::bf16, std::nullopt}, {DType::f16, std::nullopt}, {DType::f32, std::nullopt},
                        {DType::f64, std::nullopt},  {DType::bf16, DType::f32}};
  struct Shape {
    std::vector<int64_t> shape, strides;
    int dim;
  };
  const std::vector<Shape> shapes = {
      {{600, 2048}, {}, 0},        {{3000, 24}, {}, 0},        {{33, 7}, {}, 0},
      {{3, 512}, {}, 0},           {{64, 300, 64}, {}, 1},     {{5, 1000, 3}, {}, 1},
      {{2, 77, 5, 40}, {}, 1},     {{700, 64}, {72, 1}, 0},    {{9, 17, 4096}, {}, 1}};
  with_and_without_legacy("BARACUDA_SOFTMAX_COLUMNS", [&](bool legacy) {
    for (SoftmaxOp op : kOps)
      for (const DtypeCase& c : cases)
        for (size_t si = 0; si < shapes.size(); ++si) {
          if (legacy && si % 3 != 0) continue;
          const Shape& sh = shapes[si];
          HostTensor x = random_tensor(c.t, sh.shape, ++seed, sh.strides);
          SoftmaxDescriptor d;
          d.op = op;
          d.dim = sh.dim;
          d.output_dtype = c.out;
          d.input = x.operand();
          const std::string name = tag(op, c.t, sh.shape, sh.dim) + (c.out ? " dtype=f32" : "") +
                                   (sh.strides.empty() ? "" : " strides " + shape_to_string(sh.strides)) +
                                   (legacy ? " legacy" : "");
          const bool columns = !legacy && c.t != DType::f64;  // f64 keeps the generic column engine
          const std::string ft = tactic_of(d);
          expect_kernel(ft, kColumns, columns, name);
          const Problem b = backward_of(d, x, name, seed);
          const std::string bt_ = tactic_of(b.desc);
          expect_kernel(bt_, kColumns, columns, name);
          check(Problem{name + " fwd", d, {x}});
          check(b);
        }
  });
  // Special values in columns of a vectorized problem ([w, 64] over dim 0): column 0 has a NaN,
  // column 9 a +inf, column 17 is all -inf, column 30 has one -inf, column 40 is uniform.
  for (SoftmaxOp op : kOps)
    for (DType t : {DType::bf16, DType::f32})
      for (int64_t w : {5, 1000}) {
        HostTensor x = random_tensor(t, {w, 64}, ++seed);
        x.set(w / 2 * 64 + 0, kNaN);
        x.set((w - 1) * 64 + 9, kInf);
        for (int64_t k = 0; k < w; ++k) x.set(k * 64 + 17, -kInf);
        x.set(30, -kInf);
        for (int64_t k = 0; k < w; ++k) x.set(k * 64 + 40, 1.5);
        SoftmaxDescriptor d;
        d.op = op;
        d.dim = 0;
        d.input = x.operand();
        EXPECT_NE(tactic_of(d).find(kColumns), std::string::npos) << tactic_of(d);
        check_both(d, x, {}, tag(op, t, {w, 64}, 0) + " specials", seed);
      }
}

// 4096: the rows engine; 32768: the staged engine, whose launch sets its shared-memory attribute
// and queries its occupancy on the host while the stream is being captured.
TEST_F(GpuSoftmax, GraphCapture) {
  for (int64_t w : {4096, 32768}) {
    SCOPED_TRACE(w);
    HostTensor x = random_tensor(DType::bf16, {64, w}, 11);
    SoftmaxDescriptor d;
    d.input = x.operand();
    auto plan = SoftmaxPlan::select(gpu_, d);
    ASSERT_TRUE(plan) << plan.status().to_string();
    Problem p{"graph", d, {x}};
    HostTensor want = output_for(d);
    ASSERT_TRUE(run_cpu(p, want).is_ok());
    DeviceBuffer xb(x.storage().size()), yb(want.storage().size());
    ASSERT_EQ(xb.upload(x.storage().data(), x.storage().size()), cudaSuccess);
    ASSERT_EQ(yb.fill(0xFF), cudaSuccess);
    HostTensor got = output_for(d);
    SoftmaxArgs a;
    a.inputs[0] = x.ref_at(xb.get(), gpu_.device());
    a.outputs[0] = got.mut_at(yb.get(), gpu_.device());
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    ASSERT_EQ(cudaStreamBeginCapture(cs_, cudaStreamCaptureModeThreadLocal), cudaSuccess);
    Status s = plan->run(gpu_, {}, a);
    ASSERT_EQ(cudaStreamEndCapture(cs_, &graph), cudaSuccess);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    ASSERT_EQ(cudaGraphLaunch(exec, cs_), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(cs_), cudaSuccess);
    ASSERT_EQ(yb.download(got.storage().data(), got.storage().size()), cudaSuccess);
    bt::CompareResult r = bt::compare(got, want, bt::default_tolerance(DType::bf16));
    EXPECT_EQ(r.mismatches, 0) << r.to_string();
    (void)cudaGraphExecDestroy(exec);
    (void)cudaGraphDestroy(graph);
  }
}

}  // namespace
