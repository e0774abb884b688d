// The norm family's CUDA row engine against the CPU reference: layer_norm, rms_norm and their
// fused residual-add variants, forward and backward, every dtype (f32, f16, bf16, f64; f32
// parameters with 16-bit x), widths 1..40000 (warp-per-row, CTA-per-row in registers, streaming,
// column-sliced backward), odd row counts, with/without affine, padded row strides (16-byte
// aligned and not), outputs and workspace poisoned with 0xFF, gaps of strided outputs checked
// untouched, and bitwise-repeatable dweight/dbias; group/instance/batch norm (train with the
// running-stat update, eval) on dense (N, C, *) tensors likewise. Without a GPU every test skips.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>  // setenv / unsetenv (POSIX)
#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gpu_test_support.hpp"
#include "device_buffer.hpp"
#include "gtest_helpers.hpp"
#include "norm_cases.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::DeviceBuffer;
using bt::HostTensor;
using bt::NormCase;

using bt::have_gpu;

// |got - want| <= rtol |want| + atol max|want|: 16-bit outputs of a normalization carry an
// absolute error of about one ulp of the row's largest value.
struct Tol {
  double rtol, atol;
};
Tol tol_for(DType t) {
  switch (t) {
    case DType::f64: return {1e-10, 1e-10};
    case DType::f32: return {1e-4, 1e-5};
    case DType::f16: return {4e-3, 2e-3};
    default: return {1.6e-2, 8e-3};
  }
}

// scale_floor: a lower bound for the error scale (max|want| by default). dx is a difference of
// terms of size |dy| |w| rstd that cancel exactly when a row or group has one element (width 1,
// a group of one channel): the CPU reference gets ~0 in f64, the GPU f32 rounding noise of the terms.
std::string first_mismatch(const HostTensor& got, const HostTensor& want, Tol tol, bool exact, double scale_floor = 0) {
  double maxabs = scale_floor;
  for (int64_t i = 0; i < want.numel(); ++i) maxabs = std::max(maxabs, std::fabs(want.get(i)));
  int64_t bad = 0;
  std::string first;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got.get(i), w = want.get(i);
    const bool ok = exact ? (g == w || (std::isnan(g) && std::isnan(w)))
                          : (std::isnan(w) ? std::isnan(g) : std::fabs(g - w) <= tol.rtol * std::fabs(w) + tol.atol * maxabs);
    if (!ok && bad++ == 0) first = "element " + std::to_string(i) + ": got " + std::to_string(g) + ", want " + std::to_string(w);
  }
  return bad ? std::to_string(bad) + " mismatches, first " + first : "";
}

double max_abs(const HostTensor& t) {
  double m = 0;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.get(i)));
  return m;
}

// Every byte of `t`'s storage that no logical element covers must still be 0xFF.
bool gaps_untouched(const HostTensor& t) {
  std::vector<unsigned char> bytes(t.storage().size());
  std::memcpy(bytes.data(), t.storage().data(), bytes.size());
  const size_t es = dtype_size(t.dtype());
  for (int64_t i = 0; i < t.numel(); ++i) {
    const size_t at = t.base_bytes() + static_cast<size_t>(t.offset_of(i)) * es;
    std::memset(bytes.data() + at, 0xFF, es);
  }
  return std::all_of(bytes.begin(), bytes.end(), [](unsigned char b) { return b == 0xFF; });
}

class GpuNorm : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_gpu()) GTEST_SKIP() << "no CUDA device (cudaGetDeviceCount == 0): GPU norm tests skipped";
    ASSERT_EQ(cudaStreamCreateWithFlags(&cs_, cudaStreamNonBlocking), cudaSuccess);
    auto s = Stream::cuda(cs_);
    ASSERT_TRUE(s) << s.status().to_string();
    gpu_ = *s;
  }
  void TearDown() override {
    if (cs_) (void)cudaStreamDestroy(cs_);
  }

  // Runs `c` on the GPU (outputs poisoned) and returns the downloaded outputs.
  std::vector<HostTensor> run_gpu(NormCase& c, std::string& why) {
    auto plan = NormPlan::select(gpu_, c.desc);
    if (!plan) {
      why = "select: " + plan.status().to_string();
      return {};
    }
    if (plan->sku().backend != "baracuda-cuda") {
      why = "chose " + plan->sku().impl;
      return {};
    }
    const Device dev = gpu_.device();
    std::vector<DeviceBuffer> ins, outs;
    NormArgs a;
    for (size_t k = 0; k < c.inputs.size(); ++k) {
      ins.emplace_back(c.inputs[k].storage().size());
      if (!ins.back() || ins.back().upload(c.inputs[k].storage().data(), c.inputs[k].storage().size()) != cudaSuccess) {
        why = "device allocation/upload failed";
        return {};
      }
      a.inputs[k] = c.inputs[k].ref_at(ins.back().get(), dev);
    }
    for (size_t k = 0; k < c.outputs.size(); ++k) {
      outs.emplace_back(c.outputs[k].storage().size());
      // Running stats are read-modify-write: start from the host values; everything else poisoned.
      const NormRole r = c.sig.output_roles[k];
      const bool inout = r == NormRole::running_mean || r == NormRole::running_var;
      if (!outs.back() || (inout ? outs.back().upload(c.outputs[k].storage().data(), c.outputs[k].storage().size())
                                 : outs.back().fill(0xFF)) != cudaSuccess) {
        why = "device allocation failed";
        return {};
      }
      a.outputs[k] = c.outputs[k].mut_at(outs.back().get(), dev);
    }
    DeviceBuffer ws(plan->workspace_size());
    if (ws.fill(0xFF) != cudaSuccess) {
      why = "workspace allocation failed";
      return {};
    }
    if (Status s = plan->run(gpu_, {ws.get(), plan->workspace_size()}, a); !s.is_ok()) {
      why = "run: " + s.to_string();
      return {};
    }
    if (cudaError_t e = cudaStreamSynchronize(cs_); e != cudaSuccess) {
      why = std::string("kernel failed: ") + cudaGetErrorString(e);
      return {};
    }
    std::vector<HostTensor> got;
    for (size_t k = 0; k < c.outputs.size(); ++k) {
      HostTensor t = c.outputs[k];
      if (outs[k].download(t.storage().data(), t.storage().size()) != cudaSuccess) {
        why = "download failed";
        return {};
      }
      got.push_back(std::move(t));
    }
    return got;
  }

  // One case: CUDA vs the CPU reference on the same inputs. Returns "" on success.
  // `adjust` may change the generated inputs first (adversarial data).
  std::string check(const NormDescriptor& d, uint64_t seed, const std::function<void(NormCase&)>& adjust = {}) {
    auto made = bt::make_norm_case(d, seed);
    if (!made) return "case: " + made.status().to_string();
    NormCase c = std::move(made).value();
    if (adjust) adjust(c);
    NormCase want = c;
    if (Status s = bt::run_norm_cpu(d, want.args()); !s.is_ok()) return "reference: " + s.to_string();
    std::string why;
    std::vector<HostTensor> got = run_gpu(c, why);
    if (got.empty()) return why;
    for (size_t k = 0; k < got.size(); ++k) {
      const NormRole r = c.sig.output_roles[k];
      const bool exact = r == NormRole::sum;  // x + residual rounds once in both
      const DType t = got[k].dtype();
      // dweight/dbias sum over rows: their error grows with the row count.
      Tol tol = tol_for(t == DType::f32 && d.input.dtype != DType::f32 ? d.input.dtype : t);
      if (r == NormRole::mean || r == NormRole::rstd) tol = tol_for(t);
      double floor = 0;
      if (r == NormRole::dx) {  // the size of the terms dx is made of: |dy| |w| rstd
        const int dy = c.sig.input_index(NormRole::dy), w = c.sig.input_index(NormRole::weight),
                  rs = c.sig.input_index(NormRole::rstd);
        floor = (dy >= 0 ? max_abs(c.inputs[dy]) : 1.0) * (w >= 0 ? max_abs(c.inputs[w]) : 1.0) *
                (rs >= 0 ? max_abs(c.inputs[rs]) : 1.0);
      }
      if (std::string m = first_mismatch(got[k], want.outputs[k], tol, exact, floor); !m.empty())
        return std::string(norm_role_name(r)) + ": " + m;
      if (!gaps_untouched(got[k])) return std::string(norm_role_name(r)) + ": bytes outside the view were written";
    }
    if (d.direction == Direction::backward && c.sig.output_index(NormRole::dweight) >= 0) {
      std::vector<HostTensor> again = run_gpu(c, why);
      if (again.empty()) return "second run: " + why;
      const int k = c.sig.output_index(NormRole::dweight);
      if (std::memcmp(again[k].storage().data(), got[k].storage().data(), got[k].storage().size()) != 0)
        return "dweight differs bitwise between two runs";
    }
    return "";
  }

  // check(d, seed) in a sweep: a mismatch counts in `failures` and is reported as "<what>: <m>".
  void check_counted(const NormDescriptor& d, uint64_t seed, const std::string& what, int& failures,
                     const std::function<void(NormCase&)>& adjust = {}) {
    const std::string m = check(d, seed, adjust);
    if (m.empty()) return;
    ++failures;
    ADD_FAILURE() << what << ": " << m;
  }

  // One case run with `env` set to a.value and then to b.value, on the same inputs: "" when the
  // outputs are bitwise equal and each plan's tactic names its form (a.marker, b.marker).
  struct EnvForm {
    const char* value;
    const char* marker;
  };
  std::string same_bits_under(const NormDescriptor& d, uint64_t seed, const char* env, EnvForm a, EnvForm b) {
    auto made = bt::make_norm_case(d, seed);
    if (!made) return "case: " + made.status().to_string();
    NormCase c = std::move(made).value();
    std::vector<HostTensor> got[2];
    const EnvForm forms[2] = {a, b};
    for (int k = 0; k < 2; ++k) {
      bt::ScopedEnv set(env, forms[k].value);
      auto plan = NormPlan::select(gpu_, d);
      if (!plan) return std::string(forms[k].value) + ": select: " + plan.status().to_string();
      if (plan->sku().tactic.find(forms[k].marker) == std::string::npos)
        return std::string(forms[k].value) + ": tactic " + plan->sku().tactic + " does not name " + forms[k].marker;
      std::string why;
      got[k] = run_gpu(c, why);
      if (got[k].empty()) return std::string(forms[k].value) + ": " + why;
    }
    for (size_t k = 0; k < got[0].size(); ++k)
      if (std::memcmp(got[0][k].storage().data(), got[1][k].storage().data(), got[0][k].storage().size()) != 0)
        return std::string(norm_role_name(c.sig.output_roles[k])) + " differs bitwise between " + a.value + " and " +
               b.value;
    return "";
  }

  cudaStream_t cs_ = nullptr;
  // The forward of every row op over `dtypes` x `widths` x affine (none, x's dtype, f32), with the
  // environment variable `env` set to "1": each case against the CPU reference, and its tactic
  // containing `marker` exactly where `expected(dtype, cols)` says (defined below row_desc).
  struct FwdWidth {
    int64_t cols, rows;
  };
  void forward_sweep(const char* env, std::initializer_list<DType> dtypes, std::initializer_list<FwdWidth> widths,
                     const char* marker, const std::function<bool(DType, int64_t)>& expected, uint64_t seed);

  Stream gpu_ = Stream::cpu();
};

const NormOp kRowOps[] = {NormOp::layer_norm, NormOp::rms_norm, NormOp::add_layer_norm, NormOp::add_rms_norm};
// 1024 / 8192 / 16384 / 32768 (16-bit) land on the warp, 4-pack 256-thread, 4-pack 512-thread and
// staged forward kernels; f32 16384 on the staged one too.
const int64_t kWidths[] = {1, 7, 33, 1000, 1024, 4097, 8192, 16384, 32768, 40000};

NormDescriptor row_desc(NormOp op, DType t, int64_t rows, int64_t cols, Direction dir) {
  NormDescriptor d;
  d.op = op;
  d.direction = dir;
  d.input = Operand::tensor(t, {rows, cols});
  d.normalized_shape = {cols};
  return d;
}

// A group/instance/batch norm case of the every-dtype sweeps: affine 0 none, 1 params in x's
// dtype, 2 f32 params; mode 0 / 1: group_norm G = 3 / 6, batch_norm training / eval.
NormDescriptor group_desc(NormOp op, DType t, const std::vector<int64_t>& shape, Direction dir, int affine, int mode) {
  NormDescriptor d;
  d.op = op;
  d.direction = dir;
  d.input = Operand::tensor(t, shape);
  d.weight = d.bias = affine > 0;
  if (affine == 2) d.param_dtype = DType::f32;
  d.num_groups = mode == 0 ? 3 : 6;
  d.training = mode == 0;
  d.momentum = 0.3;
  return d;
}

void GpuNorm::forward_sweep(const char* env, std::initializer_list<DType> dtypes, std::initializer_list<FwdWidth> widths,
                   const char* marker, const std::function<bool(DType, int64_t)>& expected, uint64_t seed) {
  ASSERT_EQ(setenv(env, "1", 1), 0);
  int failures = 0, cases = 0;
  for (NormOp op : kRowOps)
    for (DType t : dtypes)
      for (const FwdWidth& wd : widths)
        for (int affine = 0; affine < 3; ++affine) {
          if (affine == 2 && t == DType::f32) continue;
          if (t == DType::f32 && wd.cols > 16384) continue;  // beyond every engine of f32
          NormDescriptor d = row_desc(op, t, wd.rows, wd.cols, Direction::forward);
          d.weight = affine > 0;
          d.bias = affine > 0 && (op == NormOp::layer_norm || op == NormOp::add_layer_norm);
          if (affine == 2) d.param_dtype = DType::f32;
          d.save_stats = (cases % 3) != 2;
          ++cases;
          auto plan = NormPlan::select(gpu_, d);
          if (!plan) {
            ++failures;
            ADD_FAILURE() << NormFamily::describe(d) << ": select: " << plan.status().to_string();
            continue;
          }
          const std::string& tactic = plan->sku().tactic;
          if ((tactic.find(marker) != std::string::npos) != expected(t, wd.cols)) {
            ++failures;
            ADD_FAILURE() << NormFamily::describe(d) << ": tactic " << tactic;
          }
          check_counted(d, seed + static_cast<uint64_t>(cases), NormFamily::describe(d) + " [" + tactic + "]", failures);
        }
  ASSERT_EQ(unsetenv(env), 0);
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed (" << env << ")";
}

TEST_F(GpuNorm, RowOpsEveryDtypeAndWidth) {
  int failures = 0, cases = 0;
  for (NormOp op : kRowOps)
    for (DType t : {DType::f32, DType::f16, DType::bf16, DType::f64})
      for (int64_t cols : kWidths)
        for (Direction dir : {Direction::forward, Direction::backward})
          for (int affine = 0; affine < 3; ++affine) {  // 0: none, 1: params in x's dtype, 2: f32 params
            if (affine == 2 && (t == DType::f32 || t == DType::f64)) continue;
            const int64_t rows = cols >= 4097 ? 5 : 37;
            NormDescriptor d = row_desc(op, t, rows, cols, dir);
            d.weight = d.bias = affine > 0;
            if (affine == 2) d.param_dtype = DType::f32;
            ++cases;
            check_counted(d, 1000 + cases, NormFamily::describe(d), failures);
          }
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed";
}

TEST_F(GpuNorm, StridedRowsAndLeadingDims) {
  for (NormOp op : kRowOps)
    for (DType t : {DType::f32, DType::bf16})
      for (int64_t cols : {33, 1024, 4097, 32768})
        for (int64_t pad : {1, 8})  // pad 1 breaks 16-byte packs, pad 8 keeps them for 16-bit
          for (Direction dir : {Direction::forward, Direction::backward}) {
            NormDescriptor d = row_desc(op, t, 7, cols, dir);
            d.input.strides = bt::padded_strides({7, cols}, pad);
            const std::vector<int64_t> s = bt::padded_strides({7, cols}, pad + 3);
            for (NormRole r : {NormRole::residual, NormRole::y, NormRole::sum, NormRole::dy, NormRole::dsum, NormRole::dx})
              d.strides.push_back({r, s});
            // Drop roles the op does not have (the signature refuses none of these; unused ones are ignored).
            const std::string m = check(d, 77 + static_cast<uint64_t>(cols + pad));
            EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << " pad " << pad << ": " << m;
          }
  // Leading dims [3, 5] collapsing into one row stride; normalized over two dims.
  NormDescriptor d;
  d.op = NormOp::layer_norm;
  d.input = Operand::tensor(DType::bf16, {3, 5, 4, 64});
  d.normalized_shape = {4, 64};
  for (Direction dir : {Direction::forward, Direction::backward}) {
    d.direction = dir;
    const std::string m = check(d, 5);
    EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << ": " << m;
  }
}

TEST_F(GpuNorm, ManyRowsBackwardChunks) {
  // More rows than row chunks: each CTA walks a chunk; partial sums reduce in a fixed order.
  for (DType t : {DType::f32, DType::bf16})
    for (int64_t cols : {33, 1024, 4096}) {
      NormDescriptor d = row_desc(NormOp::layer_norm, t, 4099, cols, Direction::backward);
      const std::string m = check(d, 9);
      EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << ": " << m;
      d = row_desc(NormOp::rms_norm, t, 4099, cols, Direction::forward);
      const std::string m2 = check(d, 10);
      EXPECT_TRUE(m2.empty()) << NormFamily::describe(d) << ": " << m2;
    }
}

TEST_F(GpuNorm, StagedForwardManyRows) {
  // The staged forward (2049..4096 packs, no residual) keeps one persistent block per SM: more
  // rows than blocks make each block prefetch and consume rows through both shared-memory stages.
  // Widths with and without a padded last slice of the 1024 threads x 4 packs; with and without
  // affine parameters; f16 and f32 parameters.
  for (DType t : {DType::bf16, DType::f16, DType::f32})
    for (int64_t cols : {16392, 24576, 32768})
      for (NormOp op : {NormOp::layer_norm, NormOp::rms_norm})
        for (int affine = 0; affine < 3; ++affine) {
          if (t == DType::f32 && cols > 16384) continue;  // 4096 packs of 4: f32's staged limit
          if (affine == 2 && t == DType::f32) continue;
          NormDescriptor d = row_desc(op, t, 301, cols, Direction::forward);
          d.weight = affine > 0;
          d.bias = affine > 0 && op == NormOp::layer_norm;
          if (affine == 2) d.param_dtype = DType::f32;
          const std::string m = check(d, 31 + static_cast<uint64_t>(cols + affine));
          EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << ": " << m;
        }
  // f32 rows just over 2048 packs (the staged kernel's lower bound).
  NormDescriptor d = row_desc(NormOp::layer_norm, DType::f32, 301, 8196, Direction::forward);
  d.weight = d.bias = true;
  const std::string m = check(d, 41);
  EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << ": " << m;
}

TEST_F(GpuNorm, BackwardWithoutParameterGradients) {
  // torch's mask when weight/bias need no gradient: dx only, the row kept in registers (up to 8
  // packs per thread) or column-sliced beyond that.
  for (DType t : {DType::bf16, DType::f32, DType::f16})
    for (int64_t cols : {1000, 16384, 32768, 40000})
      for (NormOp op : {NormOp::layer_norm, NormOp::add_rms_norm}) {
        NormDescriptor d = row_desc(op, t, 33, cols, Direction::backward);
        d.param_grads = false;
        const std::string m = check(d, 21);
        EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << ": " << m;
      }
}

// The backward rows engine (kernels/norm_bwd_rows_fast.cuh) and, with
// BARACUDA_NORM_BWD_ENGINE=column_pass / =legacy, its column pass for every dweight/dbias and the
// legacy kernels on the same cases: layer_norm and rms_norm,
// f32/f16/bf16, with and without affine parameters (x's dtype or f32), with and without
// dweight/dbias. Widths: one vector per lane (8), a partial last vector round of a warp (264),
// 1000 / 1024 / 4096 / 4104, the fused-partials limit (8192), the column pass just above it
// (8200), 16384 (f32's dx limit), 24576 and 32768 (32 warps x 4 vectors). Row counts make the
// persistent groups walk several rows (fused partials accumulate over them).
// One sweep per engine mode, each its own test so that sharded runs spread them (as one test the
// four sweeps ran past a shard's 270-second limit on the H200).
class GpuNormBackwardSweep : public GpuNorm {
 protected:
  // sums: BARACUDA_NORM_BWD_SUMS ("": unset, the default, and "cluster": shared memory, and rows
  // one CTA holds only at 4 vectors per thread split over a cluster of two CTAs on sm_90;
  // "shared": shared memory wherever one CTA's fit; "registers": register sums up to 8192
  // columns, the column pass beyond; "wide": register sums, shared memory beyond). One CTA's
  // shared-memory sums fit everywhere except dweight and dbias together on 16-bit rows wider than
  // 16384 (2 x 128 KB per block).
  void run_all(const std::string& mode, const std::string& sums = "") {
    struct Width {
      int64_t cols, rows;
    };
    const Width widths[] = {{8, 301},    {264, 301},   {1000, 257},  {1024, 2900}, {4096, 1300}, {4104, 67},
                            {8192, 67},  {8200, 33},   {16384, 21},  {24576, 9},   {32768, 9},   {12288, 300}};
    if (mode.empty()) ASSERT_EQ(unsetenv("BARACUDA_NORM_BWD_ENGINE"), 0);
    else ASSERT_EQ(setenv("BARACUDA_NORM_BWD_ENGINE", mode.c_str(), 1), 0);
    if (sums.empty()) ASSERT_EQ(unsetenv("BARACUDA_NORM_BWD_SUMS"), 0);
    else ASSERT_EQ(setenv("BARACUDA_NORM_BWD_SUMS", sums.c_str(), 1), 0);
    // mode: "rows" or "" (the rows engine, the default), "column_pass" (dweight/dbias always by
    // the column pass), "legacy" (the old kernels).
    const bool legacy = mode == "legacy";
    int device = 0, major = 0;
    ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
    ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), cudaSuccess);
    const bool sm90 = major >= 9;
    int failures = 0, cases = 0;
    for (NormOp op : {NormOp::layer_norm, NormOp::rms_norm})
      for (DType t : {DType::f32, DType::f16, DType::bf16})
        for (const Width& wd : widths)
          for (int affine = 0; affine < 3; ++affine)  // 0: none, 1: params in x's dtype, 2: f32 params
            for (bool grads : {true, false}) {
              if (sums == "wide" && wd.rows == 300) continue;  // many rows per block: the other modes
              if (sums == "shared" && wd.cols <= 8192) continue;  // the same kernels as the default
              if (affine == 2 && t == DType::f32) continue;
              if (affine == 0 && !grads) continue;  // nothing to differentiate but x either way
              NormDescriptor d = row_desc(op, t, wd.rows, wd.cols, Direction::backward);
              d.weight = affine > 0;
              d.bias = affine > 0 && op == NormOp::layer_norm;
              if (affine == 2) d.param_dtype = DType::f32;
              d.param_grads = grads;
              ++cases;
              auto plan = NormPlan::select(gpu_, d);
              if (!plan) {
                ++failures;
                ADD_FAILURE() << NormFamily::describe(d) << ": select: " << plan.status().to_string();
                continue;
              }
              // The tactic names the engine: legacy on request; the rows engine for every case here
              // except f32 rows beyond its 16384 elements (on sm_90 those with parameter gradients
              // go to the cluster kernel's clusters of four CTAs); the column pass for dweight/dbias
              // wider than 8192 columns or on request.
              const bool params = grads && affine > 0;
              const bool cluster4_expected = (sums.empty() || sums == "cluster") && sm90 && !legacy && params &&
                                             mode != "column_pass" && t == DType::f32 && wd.cols > 16384;
              const bool fast_expected = !legacy && (!(t == DType::f32 && wd.cols > 16384) || cluster4_expected);
              const int param_count = params ? (d.bias ? 2 : 1) : 0;
              const bool shared_fits = !(param_count == 2 && dtype_size(t) == 2 && wd.cols > 16384);
              const bool cluster_expected = (sums.empty() || sums == "cluster") && sm90 && fast_expected && params &&
                                            mode != "column_pass" && wd.cols > (t == DType::f32 ? 8192 : 16384);
              // The cluster kernel sums dweight alone in registers (x and dy re-read from L1) where
              // the weight has x's dtype; its other sums live in shared memory.
              const bool reread_expected = cluster_expected && param_count == 1 && affine == 1;
              const bool smem_expected =
                  (cluster_expected && !reread_expected) ||
                  (fast_expected && params && mode != "column_pass" && shared_fits && !cluster_expected &&
                   (sums.empty() || sums == "shared" || (sums == "wide" && wd.cols > 8192)));
              const bool col_pass_expected = fast_expected && params && (wd.cols > 8192 || mode == "column_pass") &&
                                             !smem_expected && !reread_expected;
              const std::string& tactic = plan->sku().tactic;
              if ((tactic.rfind("rows engine", 0) == 0) != fast_expected ||
                  (tactic.find("column pass") != std::string::npos) != col_pass_expected ||
                  (tactic.find("in shared memory") != std::string::npos) != smem_expected ||
                  (tactic.find("re-read from L1") != std::string::npos) != reread_expected ||
                  (tactic.find("cluster of 2") != std::string::npos) != (cluster_expected && !cluster4_expected) ||
                  (tactic.find("cluster of 4") != std::string::npos) != cluster4_expected) {
                ++failures;
                ADD_FAILURE() << NormFamily::describe(d) << " (" << mode << ")" << ": tactic " << tactic;
              }
              check_counted(d, 4000 + static_cast<uint64_t>(cases),
                            NormFamily::describe(d) + " (" + mode + ")" + " [" + tactic + "]", failures);
            }
    EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed (" << mode << ")";
    ASSERT_EQ(unsetenv("BARACUDA_NORM_BWD_ENGINE"), 0);
    ASSERT_EQ(unsetenv("BARACUDA_NORM_BWD_SUMS"), 0);
  }
};

TEST_F(GpuNormBackwardSweep, RowsEngineRegisterSums) { run_all("rows", "registers"); }
TEST_F(GpuNormBackwardSweep, ColumnPass) { run_all("column_pass"); }
TEST_F(GpuNormBackwardSweep, Legacy) { run_all("legacy"); }
TEST_F(GpuNormBackwardSweep, DefaultEngine) { run_all(""); }
TEST_F(GpuNormBackwardSweep, WideSharedSums) { run_all("rows", "wide"); }
TEST_F(GpuNormBackwardSweep, OneCtaSharedSums) { run_all("rows", "shared"); }

// The rows engine's edges: an empty batch with dweight/dbias (zero partials from one block),
// one row, rows whose base pointers stay 16-byte aligned through a padded row stride (engine)
// or not (the legacy fallback at run time, inside the workspace the engine booked), and
// leading dims collapsing into one row stride.
TEST_F(GpuNorm, BackwardRowsEngineEdges) {
  ASSERT_EQ(setenv("BARACUDA_NORM_BWD_ENGINE", "rows", 1), 0);
  for (NormOp op : {NormOp::layer_norm, NormOp::rms_norm})
    for (DType t : {DType::f32, DType::bf16}) {
      for (int64_t rows : {0, 1}) {
        NormDescriptor d = row_desc(op, t, rows, 1024, Direction::backward);
        const std::string m = check(d, 60 + static_cast<uint64_t>(rows));
        EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << ": " << m;
      }
      for (int64_t cols : {1024, 4096, 32768})
        for (int64_t pad : {8, 1}) {  // pad 8: still 16-byte rows for 16-bit data; pad 1: never
          if (t == DType::f32 && cols > 16384) continue;
          NormDescriptor d = row_desc(op, t, 45, cols, Direction::backward);
          d.input.strides = bt::padded_strides({45, cols}, pad);
          d.strides.push_back({NormRole::dy, bt::padded_strides({45, cols}, pad + 8)});
          d.strides.push_back({NormRole::dx, bt::padded_strides({45, cols}, 2 * pad)});
          const std::string m = check(d, 70 + static_cast<uint64_t>(cols + pad));
          EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << " pad " << pad << ": " << m;
        }
      NormDescriptor d;
      d.op = op;
      d.direction = Direction::backward;
      d.input = Operand::tensor(t, {3, 7, 2, 512});
      d.normalized_shape = {2, 512};
      const std::string m = check(d, 80);
      EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << ": " << m;
    }
  ASSERT_EQ(unsetenv("BARACUDA_NORM_BWD_ENGINE"), 0);
}

// The forward rows engine (kernels/norm_fwd_rows_fast.cuh, the default; BARACUDA_NORM_FWD_ENGINE=rows):
// layer_norm, rms_norm and the fused add_ variants (the sum output checked exactly), f32/f16/bf16,
// parameters none / x's dtype / f32 (and layer_norm with a weight but no bias), statistics saved
// or not. Widths: one vector per lane (8), a partial round of vectors (264), 1000 / 1024 (one and
// two warps per row), 4096 / 4104 / 8192 / 16384 (8, 16 and 32 warps per row) and 32768 (the staged
// kernel for 16-bit rows without a residual; add_ rows and f32 rows beyond 8192 fall back to the
// legacy kernels). Row counts exceed the persistent grid of the H200 (132 SMs x resident blocks
// x rows per block), so every block walks several rows (the rms reductions alternate their slot
// arrays between rows; the staged kernel cycles through its stages).
// BARACUDA_NORM_ROW_PREFETCH=0 (the A/B baseline): the rows kernels load each row only when its
// turn comes. A few shapes with many rows per block, forward and backward with dweight/dbias.
TEST_F(GpuNorm, RowsEngineWithoutRowPrefetch) {
  ASSERT_EQ(setenv("BARACUDA_NORM_ROW_PREFETCH", "0", 1), 0);
  int cases = 0;
  for (NormOp op : {NormOp::layer_norm, NormOp::rms_norm, NormOp::add_rms_norm})
    for (DType t : {DType::f32, DType::bf16})
      for (Direction dir : {Direction::forward, Direction::backward}) {
        if (dir == Direction::backward && op == NormOp::add_rms_norm) continue;
        for (int64_t cols : {int64_t{1024}, int64_t{4096}}) {
          NormDescriptor d = row_desc(op, t, 1500, cols, dir);
          d.weight = true;
          d.bias = op == NormOp::layer_norm;
          d.param_grads = dir == Direction::backward;
          auto plan = NormPlan::select(gpu_, d);
          ASSERT_TRUE(plan) << plan.status().to_string();
          EXPECT_EQ(plan->sku().tactic.find("next row prefetched"), std::string::npos) << plan->sku().tactic;
          const std::string m = check(d, 7000 + static_cast<uint64_t>(++cases));
          EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << " [" << plan->sku().tactic << "]: " << m;
        }
      }
  ASSERT_EQ(unsetenv("BARACUDA_NORM_ROW_PREFETCH"), 0);
  // And the default names the prefetch.
  NormDescriptor d = row_desc(NormOp::layer_norm, DType::bf16, 1500, 4096, Direction::forward);
  auto plan = NormPlan::select(gpu_, d);
  ASSERT_TRUE(plan) << plan.status().to_string();
  EXPECT_NE(plan->sku().tactic.find("next row prefetched"), std::string::npos) << plan->sku().tactic;
}

TEST_F(GpuNorm, ForwardRowsEngine) {
  struct Width {
    int64_t cols, rows;
  };
  // Rows enough for several waves of the 132-SM grid, few enough that the single-threaded CPU
  // reference stays fast (this test once took 280 s of one shard).
  const Width widths[] = {{8, 9000},   {264, 3000}, {1000, 700}, {1024, 900}, {4096, 300},
                          {4104, 150}, {8192, 140}, {16384, 64}, {32768, 40}};
  ASSERT_EQ(setenv("BARACUDA_NORM_FWD_ENGINE", "rows", 1), 0);
  int device = 0, major = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), cudaSuccess);
  int failures = 0, cases = 0;
  for (NormOp op : kRowOps)
    for (DType t : {DType::f32, DType::f16, DType::bf16})
      for (const Width& wd : widths)
        for (int affine = 0; affine < 4; ++affine) {  // none, x's dtype, f32, weight only (x's dtype)
          if (affine == 2 && t == DType::f32) continue;
          const bool rms = op == NormOp::rms_norm || op == NormOp::add_rms_norm;
          if (affine == 3 && rms) continue;  // rms ops have no bias: same as affine 1
          const bool residual = op == NormOp::add_layer_norm || op == NormOp::add_rms_norm;
          NormDescriptor d = row_desc(op, t, wd.rows, wd.cols, Direction::forward);
          d.weight = affine > 0;
          d.bias = affine == 1 || affine == 2;
          if (affine == 2) d.param_dtype = DType::f32;
          d.save_stats = (cases % 3) != 2;  // some cases without mean/rstd outputs
          ++cases;
          auto plan = NormPlan::select(gpu_, d);
          if (!plan) {
            ++failures;
            ADD_FAILURE() << NormFamily::describe(d) << ": select: " << plan.status().to_string();
            continue;
          }
          // The engine takes 16-bit rows up to 16384 (32768 staged without a residual) and f32
          // rows up to 8192; on sm_90 the residual ops' wider rows (16-bit up to 32768, f32 up to
          // 16384) go to its two-CTA cluster kernel, and every op's f32 rows of 16385..32768 to its
          // clusters of four CTAs. The tactic names it, the staging, the cluster.
          const bool wide16 = t != DType::f32 && wd.cols > 16384;
          const bool cluster = major >= 9 && residual &&
                               (t == DType::f32 ? wd.cols > 8192 && wd.cols <= 16384 : wide16 && wd.cols <= 32768);
          const bool cluster4 = major >= 9 && t == DType::f32 && wd.cols > 16384 && wd.cols <= 32768;
          const bool engine = cluster || cluster4 || (t == DType::f32 ? wd.cols <= 8192 : (!wide16 || !residual));
          const std::string& tactic = plan->sku().tactic;
          if ((tactic.rfind("rows engine", 0) == 0) != engine ||
              (tactic.find("staged") != std::string::npos) != (engine && wide16 && !cluster) ||
              (tactic.find("cluster of 2") != std::string::npos) != cluster ||
              (tactic.find("cluster of 4") != std::string::npos) != cluster4) {
            ++failures;
            ADD_FAILURE() << NormFamily::describe(d) << ": tactic " << tactic;
          }
          check_counted(d, 9000 + static_cast<uint64_t>(cases), NormFamily::describe(d) + " [" + tactic + "]", failures);
        }
  ASSERT_EQ(unsetenv("BARACUDA_NORM_FWD_ENGINE"), 0);
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed";
}

// BARACUDA_NORM_FWD_PACKED=1: 16-bit rows up to 4096 columns held packed at 4 vectors per thread
// (one warp per 1024-column row): packed where a thread holds more than 2 vectors (513..4096
// columns). Widths across the item and warp steps, a partial vector round included.
TEST_F(GpuNorm, ForwardRowsPacked) {
  forward_sweep("BARACUDA_NORM_FWD_PACKED", {DType::f16, DType::bf16},
                {{8, 3000}, {264, 1500}, {520, 900}, {1000, 900}, {1024, 2900}, {1032, 700}, {2048, 500}, {3000, 300},
                 {4096, 300}, {4104, 100}},
                "held as loaded", [](DType, int64_t cols) { return cols > 512 && cols <= 4096; }, 7000);
}

// The wave grid (BARACUDA_NORM_FWD_WAVES=1 forces it for every dtype; the default for 16-bit
// inputs): the register rows kernel on up to 8 waves of blocks instead of one persistent wave (the
// staged and cluster kernels keep theirs). The one-warp, multi-warp and f32
// geometries with more rows than a persistent wave holds (H200: 528 blocks x 8 one-warp rows =
// 4224 rows at 1024 columns; its warps loop, the wave grid's do not),
// a width that is not a multiple of 32 vectors; every result against the reference, and the
// outputs bitwise equal to the persistent grid's (BARACUDA_NORM_FWD_WAVES=0; each row's arithmetic
// is the same). Then the default: waves for bf16, the persistent grid for f32.
TEST_F(GpuNorm, ForwardWaveGrid) {
  forward_sweep("BARACUDA_NORM_FWD_WAVES", {DType::f32, DType::bf16},
                {{1024, 4500}, {1000, 4500}, {4096, 2500}, {8192, 700}, {32768, 40}}, "waves of blocks",
                [](DType t, int64_t cols) { return cols <= (t == DType::f32 ? 8192 : 16384); }, 7500);
  uint64_t seed = 7700;
  for (NormOp op : kRowOps)
    for (DType t : {DType::f32, DType::bf16})
      for (int64_t cols : {1024, 4096}) {
        NormDescriptor d = row_desc(op, t, 4500, cols, Direction::forward);
        d.weight = true;
        d.bias = op == NormOp::layer_norm || op == NormOp::add_layer_norm;
        d.save_stats = true;
        auto made = bt::make_norm_case(d, ++seed);
        ASSERT_TRUE(made) << made.status().to_string();
        NormCase c = std::move(made).value();
        std::string why;
        ASSERT_EQ(setenv("BARACUDA_NORM_FWD_WAVES", "0", 1), 0);
        const std::vector<HostTensor> persistent = run_gpu(c, why);
        ASSERT_EQ(setenv("BARACUDA_NORM_FWD_WAVES", "1", 1), 0);
        const std::vector<HostTensor> waves = run_gpu(c, why);
        ASSERT_EQ(unsetenv("BARACUDA_NORM_FWD_WAVES"), 0);
        ASSERT_FALSE(persistent.empty()) << NormFamily::describe(d) << ": " << why;
        ASSERT_EQ(waves.size(), persistent.size()) << NormFamily::describe(d) << ": " << why;
        for (size_t k = 0; k < waves.size(); ++k)
          EXPECT_EQ(std::memcmp(waves[k].storage().data(), persistent[k].storage().data(), waves[k].storage().size()), 0)
              << NormFamily::describe(d) << ": output " << k << " differs between the wave and persistent grids";
      }
  for (DType t : {DType::f32, DType::bf16}) {
    auto plan = NormPlan::select(gpu_, row_desc(NormOp::layer_norm, t, 4500, 1024, Direction::forward));
    ASSERT_TRUE(plan) << plan.status().to_string();
    EXPECT_EQ(plan->sku().tactic.find("waves of blocks") != std::string::npos, t == DType::bf16) << plan->sku().tactic;
  }
}

// The staged forward kernel's options (16-bit rows of 16385..32768 without a residual): layer
// norm's statistics from one reduction of per-thread (count, mean, M2), and a 16-bit weight and
// bias held in registers; by default both for layer_norm with a 16-bit weight, neither otherwise;
// BARACUDA_NORM_FWD_STAGED=none|merged|params|both overrides (only the options that apply are
// kept). layer_norm and rms_norm, f16 and bf16, no affine / params in x's dtype / f32 params,
// widths of a full row (32768), a partial last vector round (24584: threads with 3 and 4 vectors,
// the uneven-count merge) and just above the register kernels (16392); the tactic naming exactly
// the options that run; against the reference, and where the statistics are merged also with every
// row shifted by 1000 (bf16: values 8 apart there) and by -3e4 with one outlier of +3e4 per row,
// where E[x^2] - E[x]^2 would lose the variance.
TEST_F(GpuNorm, StagedForwardOptions) {
  int failures = 0, cases = 0;
  for (const char* opt : {"default", "none", "merged", "params", "both"}) {
    const bool by_default = std::strcmp(opt, "default") == 0;
    if (by_default) ASSERT_EQ(unsetenv("BARACUDA_NORM_FWD_STAGED"), 0);
    else ASSERT_EQ(setenv("BARACUDA_NORM_FWD_STAGED", opt, 1), 0);
    const bool want_merged = by_default || !std::strcmp(opt, "merged") || !std::strcmp(opt, "both");
    const bool want_params = by_default || !std::strcmp(opt, "params") || !std::strcmp(opt, "both");
    for (NormOp op : {NormOp::layer_norm, NormOp::rms_norm})
      for (DType t : {DType::f16, DType::bf16})
        for (int64_t cols : {32768, 24584, 16392})
          for (int affine = 0; affine < 3; ++affine) {
            NormDescriptor d = row_desc(op, t, 37, cols, Direction::forward);
            d.weight = affine > 0;
            d.bias = affine > 0 && op == NormOp::layer_norm;
            if (affine == 2) d.param_dtype = DType::f32;
            d.save_stats = true;
            auto plan = NormPlan::select(gpu_, d);
            ASSERT_TRUE(plan) << plan.status().to_string();
            const std::string& tactic = plan->sku().tactic;
            const std::string what = NormFamily::describe(d) + " [" + opt + ": " + tactic + "]";
            EXPECT_NE(tactic.find("staged"), std::string::npos) << what;
            // Default: both for layer_norm with a 16-bit weight; explicit: those that apply.
            const bool ln = op == NormOp::layer_norm, held = affine == 1;
            const bool params = want_params && held && (!by_default || ln);
            const bool merged = want_merged && ln && (!by_default || held);
            EXPECT_EQ(tactic.find("statistics from one reduction") != std::string::npos, merged) << what;
            EXPECT_EQ(tactic.find("held in registers") != std::string::npos, params) << what;
            for (int shift = 0; shift < (merged ? 3 : 1); ++shift) {  // shifted rows: the merged statistics
              ++cases;
              check_counted(d, 8100 + static_cast<uint64_t>(cases), what + " shift " + std::to_string(shift), failures,
                            [&](NormCase& c) {
                              if (shift == 0) return;
                              HostTensor& x = c.in(NormRole::x);
                              for (int64_t i = 0; i < x.numel(); ++i)
                                x.set(i, x.get(i) + (shift == 1 ? 1000.0 : (i % cols == 12345 ? 3e4 : -3e4)));
                            });
            }
          }
  }
  ASSERT_EQ(unsetenv("BARACUDA_NORM_FWD_STAGED"), 0);
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed";
}

// BARACUDA_NORM_FWD_CLUSTER=1 (sm_90; by default only the residual ops' rows): rows one CTA holds
// only through shared memory or not at all (16-bit 16385..32768, f32 8193..16384 columns, an even
// number of vectors) split over a cluster of two CTAs. Widths at both ends of the range, an
// uneven item round, rows fewer and more than the clusters.
TEST_F(GpuNorm, ForwardRowsCluster) {
  int device = 0, major = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), cudaSuccess);
  forward_sweep("BARACUDA_NORM_FWD_CLUSTER", {DType::f32, DType::f16, DType::bf16},
                {{8200, 150}, {12304, 70}, {16384, 130}, {16400, 130}, {20000, 9}, {24576, 40}, {32768, 140}},
                "cluster of 2",
                [&](DType t, int64_t cols) {
                  const int vec = t == DType::f32 ? 4 : 8;
                  return major >= 9 && cols > (t == DType::f32 ? 8192 : 16384) && cols % (2 * vec) == 0;
                },
                5000);
}

// The cluster kernels' two per-row exchanges (core/cluster_switch.hpp): the pushed mailbox (the
// default) and the published pair behind a cluster barrier (BARACUDA_CLUSTER_EXCHANGE=barrier).
// 700 rows: every cluster walks several, so both mailbox slots go through several mbarrier phases.
// The default against the CPU reference; the two forms bitwise equal on the same inputs (the same
// sums in the same order); each tactic names its form.
TEST_F(GpuNorm, ClusterExchangeForms) {
  int device = 0, major = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), cudaSuccess);
  if (major < 9) GTEST_SKIP() << "thread block clusters need sm_90";
  bt::ScopedEnv every_wide_row("BARACUDA_NORM_FWD_CLUSTER", "1");
  int failures = 0, cases = 0;
  for (Direction dir : {Direction::forward, Direction::backward})
    for (NormOp op : {NormOp::layer_norm, NormOp::rms_norm, NormOp::add_rms_norm})
      for (DType t : {DType::bf16, DType::f32}) {
        if (dir == Direction::backward && op == NormOp::add_rms_norm) continue;  // rms_norm's backward
        NormDescriptor d = row_desc(op, t, 700, t == DType::f32 ? 16384 : 32768, dir);
        d.weight = true;
        d.bias = op == NormOp::layer_norm;
        d.param_grads = dir == Direction::backward;
        const std::string what = NormFamily::describe(d);
        ++cases;
        check_counted(d, 7100 + static_cast<uint64_t>(cases), what + " (pushed)", failures);
        const std::string m = same_bits_under(d, 7200 + static_cast<uint64_t>(cases), "BARACUDA_CLUSTER_EXCHANGE",
                                              {"mailbox", "(pushed, mbarrier-completed)"},
                                              {"barrier", "(behind a cluster barrier)"});
        if (!m.empty()) {
          ++failures;
          ADD_FAILURE() << what << ": " << m;
        }
      }
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed";
}

// The cluster backward with dweight and dbias keeps the dbias sums in registers (SUMS 3, the
// default) or, with BARACUDA_NORM_BWD_DB=shared, in shared memory beside dweight's. Against the
// CPU reference, and the two bitwise equal (the same additions in the same order), for every
// parameter dtype at 700 rows.
TEST_F(GpuNorm, BackwardClusterDbiasInRegisters) {
  int device = 0, major = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), cudaSuccess);
  if (major < 9) GTEST_SKIP() << "thread block clusters need sm_90";
  int failures = 0, cases = 0;
  for (DType t : {DType::bf16, DType::f16, DType::f32})
    for (bool f32_params : {false, true}) {
      if (t == DType::f32 && f32_params) continue;
      NormDescriptor d = row_desc(NormOp::layer_norm, t, 700, t == DType::f32 ? 16384 : 32768, Direction::backward);
      d.weight = d.bias = d.param_grads = true;
      if (f32_params) d.param_dtype = DType::f32;
      const std::string what = NormFamily::describe(d);
      ++cases;
      {
        bt::ScopedEnv regs("BARACUDA_NORM_BWD_DB", "registers");
        check_counted(d, 7300 + static_cast<uint64_t>(cases), what + " (dbias in registers)", failures);
      }
      const std::string m = same_bits_under(d, 7400 + static_cast<uint64_t>(cases), "BARACUDA_NORM_BWD_DB",
                                            {"registers", "(dbias in registers)"},
                                            {"shared", "summed in shared memory, fixed-order sum"});
      if (!m.empty()) {
        ++failures;
        ADD_FAILURE() << what << ": " << m;
      }
    }
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed";
}

// The cluster backward with dweight alone (rms_norm; layer_norm with a weight and no bias) summed
// in registers, x and dy read again from L1 after the exchange (SUMS 4): the default where the
// weight has x's dtype, BARACUDA_NORM_BWD_REREAD=1 forces it with f32 weights, =0 turns it off.
// Each case against the CPU reference under =1, then bitwise against =0 on the same inputs (the
// same operations in the same order; only where the sums live and where x and dy come from
// differ). layer_norm with both parameters keeps dbias in registers whatever the switch says (its
// re-read beside dweight's shared-memory slots ran 12% slower, 667ba05, and was removed).
TEST_F(GpuNorm, BackwardClusterReread) {
  int device = 0, major = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), cudaSuccess);
  if (major < 9) GTEST_SKIP() << "thread block clusters need sm_90";
  const char* marker = "summed in registers (x and dy re-read from L1)";
  int failures = 0, cases = 0;
  for (NormOp op : {NormOp::rms_norm, NormOp::layer_norm})
    for (DType t : {DType::bf16, DType::f16, DType::f32})
      for (bool f32_params : {false, true}) {
        if (t == DType::f32 && f32_params) continue;
        // 300 rows: several a cluster (66 clusters on an H200), a short last round.
        NormDescriptor d = row_desc(op, t, 300, t == DType::f32 ? 16384 : 32768, Direction::backward);
        d.weight = d.param_grads = true;
        d.bias = false;
        if (f32_params) d.param_dtype = DType::f32;
        const std::string what = NormFamily::describe(d);
        ++cases;
        {
          auto plan = NormPlan::select(gpu_, d);  // the default
          ASSERT_TRUE(plan) << plan.status().to_string();
          EXPECT_EQ(plan->sku().tactic.find(marker) != std::string::npos, !f32_params) << what << ": " << plan->sku().tactic;
          bt::ScopedEnv reread("BARACUDA_NORM_BWD_REREAD", "1");
          check_counted(d, 7500 + static_cast<uint64_t>(cases), what + " (re-read)", failures);
        }
        const std::string m = same_bits_under(d, 7600 + static_cast<uint64_t>(cases), "BARACUDA_NORM_BWD_REREAD",
                                              {"1", marker}, {"0", "summed in shared memory"});
        if (!m.empty()) {
          ++failures;
          ADD_FAILURE() << what << ": " << m;
        }
      }
  NormDescriptor both = row_desc(NormOp::layer_norm, DType::bf16, 300, 32768, Direction::backward);
  both.weight = both.bias = both.param_grads = true;
  bt::ScopedEnv reread("BARACUDA_NORM_BWD_REREAD", "1");
  auto plan = NormPlan::select(gpu_, both);
  ASSERT_TRUE(plan) << plan.status().to_string();
  EXPECT_NE(plan->sku().tactic.find("(dbias in registers)"), std::string::npos) << plan->sku().tactic;
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed";
}

// Where the cluster backward reads the weight in its two default forms, SUMS 3 (layer_norm dweight
// + dbias) and SUMS 4 (dweight alone, re-read): BARACUDA_NORM_BWD_WEIGHT=smem (a copy of its half
// row in shared memory), =base (global memory through a half-row base pointer, SUMS 3's default)
// and =global (at its column, SUMS 4's default); the kernel's WFORM 1 / 2 / 0. Each of the first
// two against the CPU reference, then bitwise against =global (the same operations in the same
// order; only where the weight is read from differs), for 16-bit x with weights of x's dtype
// (both ops), f32 weights and a bias without a weight (nothing to copy; layer_norm). The defaults'
// tactics name their forms.
TEST_F(GpuNorm, BackwardClusterWeightForms) {
  int device = 0, major = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), cudaSuccess);
  if (major < 9) GTEST_SKIP() << "thread block clusters need sm_90";
  const EnvForm forms[] = {{"smem", "the weight's half row copied into shared memory"},
                           {"base", "the weight read through a half-row base pointer"}};
  int failures = 0, cases = 0;
  for (const EnvForm& form : forms)
    for (NormOp op : {NormOp::layer_norm, NormOp::rms_norm})
      for (DType t : {DType::bf16, DType::f16})
        for (int params : {0, 1, 2}) {  // 0: x's dtype, 1: f32, 2: layer_norm with a bias alone
          if (params != 0 && op != NormOp::layer_norm) continue;  // rms_norm, f32 weight: SUMS 1
          NormDescriptor d = row_desc(op, t, 300, 32768, Direction::backward);
          d.weight = params != 2;
          d.bias = op == NormOp::layer_norm;
          d.param_grads = true;
          if (params == 1) d.param_dtype = DType::f32;
          const std::string what = NormFamily::describe(d) + " (" + form.value + ")";
          ++cases;
          if (&form == forms) {  // the default: the base pointer for SUMS 3, the column for SUMS 4
            auto plan = NormPlan::select(gpu_, d);
            ASSERT_TRUE(plan) << plan.status().to_string();
            const bool sums4 = op == NormOp::rms_norm;  // dweight alone, the weight of x's dtype
            EXPECT_NE(plan->sku().tactic.find(sums4 ? "the weight read at its column" : forms[1].marker),
                      std::string::npos)
                << what << ": " << plan->sku().tactic;
          }
          {
            bt::ScopedEnv on("BARACUDA_NORM_BWD_WEIGHT", form.value);
            check_counted(d, 7700 + static_cast<uint64_t>(cases), what, failures);
          }
          const std::string m = same_bits_under(d, 7800 + static_cast<uint64_t>(cases), "BARACUDA_NORM_BWD_WEIGHT",
                                                form, {"global", "the weight read at its column"});
          if (!m.empty()) {
            ++failures;
            ADD_FAILURE() << what << ": " << m;
          }
        }
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed";
}

// Rows wider than two CTAs hold (65536 16-bit, 32768 f32 values; 40000 / 20000: parts that leave
// threads idle) split over clusters of FOUR CTAs, forward and backward (the cluster kernels' CS 4):
// each against the CPU reference (the backward's dweight also bitwise the same in a second run),
// for every row op forward, layer_norm with both parameters, dweight alone and dbias alone, and
// rms_norm backward, parameters of x's dtype and f32; 0 and 3 rows; prefetching 3 rows ahead
// (BARACUDA_NORM_WIDE_PREFETCH_ROWS). The tactic names the clusters of four;
// BARACUDA_NORM_{FWD,BWD}_WIDE_CLUSTER=0 leaves those rows to the legacy kernels.
TEST_F(GpuNorm, WideRowsFourCtaClusters) {
  int device = 0, major = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device), cudaSuccess);
  if (major < 9) GTEST_SKIP() << "thread block clusters need sm_90";
  const char* marker = "cluster of 4 CTAs";
  int failures = 0, cases = 0;
  const auto run = [&](const NormDescriptor& d, uint64_t seed) {
    const std::string what = NormFamily::describe(d);
    ++cases;
    auto plan = NormPlan::select(gpu_, d);
    ASSERT_TRUE(plan) << plan.status().to_string();
    if (plan->sku().tactic.find(marker) == std::string::npos) {
      ++failures;
      ADD_FAILURE() << what << ": tactic " << plan->sku().tactic;
      return;
    }
    check_counted(d, seed, what + " (clusters of 4)", failures);
  };
  for (DType t : {DType::bf16, DType::f16, DType::f32}) {
    const int64_t wide = t == DType::f32 ? 32768 : 65536, odd = t == DType::f32 ? 20000 : 40000;
    for (bool f32_params : {false, true}) {
      if (t == DType::f32 && f32_params) continue;
      for (int64_t cols : {wide, odd})
        for (int64_t rows : {int64_t{0}, int64_t{3}, int64_t{150}}) {
          if ((rows != 150 || f32_params) && (cols != wide || t != DType::bf16)) continue;
          for (NormOp op : kRowOps) {
            NormDescriptor d = row_desc(op, t, rows, cols, Direction::forward);
            if (f32_params) d.param_dtype = DType::f32;
            run(d, 9800 + static_cast<uint64_t>(cases));
          }
          for (int params : {0, 1, 2, 3}) {  // layer_norm both, dweight alone, dbias alone; rms_norm dweight
            NormDescriptor d =
                row_desc(params == 3 ? NormOp::rms_norm : NormOp::layer_norm, t, rows, cols, Direction::backward);
            d.weight = params != 2;
            d.bias = params == 0 || params == 2;
            d.param_grads = true;
            if (f32_params) d.param_dtype = DType::f32;
            run(d, 9900 + static_cast<uint64_t>(cases));
          }
        }
    }
  }
  {  // prefetching further ahead (a hint: the same results)
    bt::ScopedEnv ahead("BARACUDA_NORM_WIDE_PREFETCH_ROWS", "3");
    for (Direction dir : {Direction::forward, Direction::backward})
      run(row_desc(NormOp::layer_norm, DType::bf16, 150, 65536, dir), 9950 + static_cast<uint64_t>(cases));
  }
  for (const char* env : {"BARACUDA_NORM_FWD_WIDE_CLUSTER", "BARACUDA_NORM_BWD_WIDE_CLUSTER"}) {
    bt::ScopedEnv off(env, "0");
    const bool fwd = std::string(env).find("FWD") != std::string::npos;
    NormDescriptor d = row_desc(NormOp::layer_norm, DType::bf16, 3, 65536, fwd ? Direction::forward : Direction::backward);
    auto plan = NormPlan::select(gpu_, d);
    ASSERT_TRUE(plan) << plan.status().to_string();
    EXPECT_EQ(plan->sku().tactic.find(marker), std::string::npos) << env << "=0: " << plan->sku().tactic;
  }
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed";
}

// The forward rows engine's edges: 0 and 1 rows; padded row strides that keep 16-byte rows (the
// engine) or not (the legacy kernels at run time, same plan); leading dims collapsing into one row
// stride; widths that are not a multiple of the vector (legacy at plan time); rows_unstaged (the
// 32768 16-bit rows go to the legacy kernels), legacy, and the default (the engine).
TEST_F(GpuNorm, ForwardRowsEngineEdges) {
  ASSERT_EQ(setenv("BARACUDA_NORM_FWD_ENGINE", "rows", 1), 0);
  for (NormOp op : kRowOps)
    for (DType t : {DType::f32, DType::bf16}) {
      for (int64_t rows : {0, 1})
        for (int64_t cols : {1024, 32768}) {
          NormDescriptor d = row_desc(op, t, rows, cols, Direction::forward);
          const std::string m = check(d, 160 + static_cast<uint64_t>(rows + cols));
          EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << ": " << m;
        }
      for (int64_t cols : {1024, 4096, 16384, 32768})
        for (int64_t pad : {8, 1}) {  // pad 8: 16-byte rows for 16-bit and f32 data; pad 1: never
          NormDescriptor d = row_desc(op, t, 45, cols, Direction::forward);
          d.input.strides = bt::padded_strides({45, cols}, pad);
          for (NormRole r : {NormRole::residual, NormRole::y, NormRole::sum})
            d.strides.push_back({r, bt::padded_strides({45, cols}, 2 * pad)});
          const std::string m = check(d, 170 + static_cast<uint64_t>(cols + pad));
          EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << " pad " << pad << ": " << m;
        }
      NormDescriptor d;
      d.op = op;
      d.input = Operand::tensor(t, {3, 7, 2, 512});
      d.normalized_shape = {2, 512};
      std::string m = check(d, 180);
      EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << ": " << m;
      d = row_desc(op, t, 33, 1001, Direction::forward);  // not a multiple of the vector
      auto plan = NormPlan::select(gpu_, d);
      ASSERT_TRUE(plan) << plan.status().to_string();
      EXPECT_NE(plan->sku().tactic.rfind("rows engine", 0), 0u) << plan->sku().tactic;
      m = check(d, 181);
      EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << ": " << m;
    }
  for (const std::string mode : {"rows_unstaged", "legacy", ""}) {
    if (!mode.empty()) ASSERT_EQ(setenv("BARACUDA_NORM_FWD_ENGINE", mode.c_str(), 1), 0);
    else ASSERT_EQ(unsetenv("BARACUDA_NORM_FWD_ENGINE"), 0);
    for (int64_t cols : {1024, 32768}) {
      NormDescriptor d = row_desc(NormOp::layer_norm, DType::bf16, 150, cols, Direction::forward);
      auto plan = NormPlan::select(gpu_, d);
      ASSERT_TRUE(plan) << plan.status().to_string();
      // The default is the engine (staged at 32768); unstaged: 1024 still the engine's.
      const bool engine = mode.empty() || (mode == "rows_unstaged" && cols == 1024);
      EXPECT_EQ(plan->sku().tactic.rfind("rows engine", 0) == 0, engine) << mode << ": " << plan->sku().tactic;
      const std::string m = check(d, 190 + static_cast<uint64_t>(cols));
      EXPECT_TRUE(m.empty()) << NormFamily::describe(d) << " (" << mode << "): " << m;
    }
  }
  ASSERT_EQ(unsetenv("BARACUDA_NORM_FWD_ENGINE"), 0);
}

TEST_F(GpuNorm, EmptyRows) {
  for (Direction dir : {Direction::forward, Direction::backward}) {
    const std::string m = check(row_desc(NormOp::layer_norm, DType::bf16, 0, 64, dir), 1);
    EXPECT_TRUE(m.empty()) << m;
  }
}

TEST_F(GpuNorm, GroupInstanceBatchNormEveryDtype) {
  int failures = 0, cases = 0;
  for (NormOp op : {NormOp::group_norm, NormOp::instance_norm, NormOp::batch_norm})
    for (DType t : {DType::f32, DType::f16, DType::bf16, DType::f64})
      for (std::vector<int64_t> shape : {std::vector<int64_t>{3, 6, 7}, {2, 6, 1000}, {5, 6}, {3, 6, 4, 5}})
        for (Direction dir : {Direction::forward, Direction::backward})
          for (int affine = 0; affine < 3; ++affine)
            for (int mode = 0; mode < 2; ++mode) {  // group_norm: G = 3 / 6; batch_norm: training / eval
              if (affine == 2 && (t == DType::f32 || t == DType::f64)) continue;
              if (op == NormOp::instance_norm && mode == 1) continue;
              const NormDescriptor d = group_desc(op, t, shape, dir, affine, mode);
              ++cases;
              check_counted(d, 500 + cases, NormFamily::describe(d), failures);
            }
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed";
}

// The split-plane engine (norm_groups_fast.cuh; the default for planes of >= 256 elements) and
// the legacy one-CTA-per-group kernels it replaced (BARACUDA_NORM_GROUPS_ENGINE=legacy) against
// the CPU reference: 16-byte packs (plane length a multiple of the pack) and one element per
// access (257, 4097, 300), planes of 1 / 2 / 3 chunks of 4096 (the last one partial), group_norm
// with more than 32 channels per group (a finalize lane owns several planes), batch_norm with more
// than 32 samples (several chunk summaries per lane), forward and backward, eval and training.
TEST_F(GpuNorm, GroupsSplitPlaneEngineEveryDtype) {
  int failures = 0, cases = 0;
  for (const char* engine : {"", "legacy"}) {
    if (*engine) {
      ASSERT_EQ(setenv("BARACUDA_NORM_GROUPS_ENGINE", engine, 1), 0);
    } else {
      ASSERT_EQ(unsetenv("BARACUDA_NORM_GROUPS_ENGINE"), 0);
    }
    for (NormOp op : {NormOp::group_norm, NormOp::instance_norm, NormOp::batch_norm})
      for (DType t : {DType::f32, DType::f16, DType::bf16, DType::f64})
        for (std::vector<int64_t> shape : {std::vector<int64_t>{2, 6, 256}, {3, 6, 257}, {2, 6, 4097}, {2, 6, 64, 130},
                                           {2, 198, 256}, {40, 6, 300}, {4, 48, 32, 32}})
          for (Direction dir : {Direction::forward, Direction::backward})
            for (int affine = 0; affine < 3; ++affine)
              for (int mode = 0; mode < 2; ++mode) {  // group_norm: G = 3 / 6; batch_norm: training / eval
                if (affine == 2 && (t == DType::f32 || t == DType::f64)) continue;
                if (op == NormOp::instance_norm && mode == 1) continue;
                if (*engine && (t == DType::f16 || t == DType::f64)) continue;  // legacy: a spot check
                const NormDescriptor d = group_desc(op, t, shape, dir, affine, mode);
                ++cases;
                auto plan = NormPlan::select(gpu_, d);
                ASSERT_TRUE(plan) << NormFamily::describe(d) << ": " << plan.status().to_string();
                const bool split = plan->sku().tactic.find("split-plane") != std::string::npos;
                if (split != (*engine == '\0')) {
                  ++failures;
                  ADD_FAILURE() << NormFamily::describe(d) << " (engine '" << engine << "'): tactic "
                                << plan->sku().tactic;
                }
                check_counted(d, 900 + cases, NormFamily::describe(d) + " (engine '" + engine + "')", failures);
              }
  }
  ASSERT_EQ(unsetenv("BARACUDA_NORM_GROUPS_ENGINE"), 0);
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed";
}

// Planes shorter than 256 elements stay on the legacy kernels under the default engine.
TEST_F(GpuNorm, GroupsSplitPlaneSkipsShortPlanes) {
  for (std::vector<int64_t> shape : {std::vector<int64_t>{3, 6, 7}, {5, 6}, {2, 6, 255}}) {
    NormDescriptor d;
    d.op = NormOp::batch_norm;
    d.input = Operand::tensor(DType::bf16, shape);
    auto plan = NormPlan::select(gpu_, d);
    ASSERT_TRUE(plan) << plan.status().to_string();
    EXPECT_EQ(plan->sku().tactic.find("split-plane"), std::string::npos) << plan->sku().tactic;
  }
}

// Inputs with a large common offset (mean >> spread): the chunk statistics are two-pass in
// registers and merged exactly, so the variance keeps its accuracy where E[x^2] - E[x]^2 in f32
// would lose it. Forward group_norm and batch_norm training (running statistics updated), with
// planes of 3 chunks.
TEST_F(GpuNorm, GroupsSplitPlaneLargeMean) {
  int failures = 0, cases = 0;
  for (NormOp op : {NormOp::group_norm, NormOp::batch_norm})
    for (DType t : {DType::f32, DType::bf16}) {
      NormDescriptor d;
      d.op = op;
      d.input = Operand::tensor(t, {3, 6, 64, 130});
      d.weight = d.bias = true;
      d.num_groups = 3;
      d.training = true;
      d.momentum = 0.1;
      d.save_stats = true;
      ++cases;
      auto made = bt::make_norm_case(d, 77 + cases);
      ASSERT_TRUE(made.has_value()) << made.status().to_string();
      NormCase c = std::move(made).value();
      HostTensor& x = c.in(NormRole::x);
      const double offset = t == DType::f32 ? 1000.0 : 64.0;  // bf16: ulp(64) = 0.5 keeps some spread
      for (int64_t i = 0; i < x.numel(); ++i) x.set(i, x.get(i) + offset);
      NormCase want = c;
      ASSERT_TRUE(bt::run_norm_cpu(d, want.args()).is_ok());
      std::string why;
      std::vector<HostTensor> got = run_gpu(c, why);
      ASSERT_FALSE(got.empty()) << NormFamily::describe(d) << ": " << why;
      for (size_t k = 0; k < got.size(); ++k) {
        const NormRole r = c.sig.output_roles[k];
        // f32 y: x - mean resolves to one ulp of the offset (1000: 6.1e-5) times rstd, whatever
        // the engine (the mean itself is an f32 number); PyTorch has the same floor.
        const Tol tol = r == NormRole::y && t == DType::f32 ? Tol{1e-4, 1e-4} : tol_for(r == NormRole::y ? t : got[k].dtype());
        if (std::string m = first_mismatch(got[k], want.outputs[k], tol, false); !m.empty()) {
          ++failures;
          ADD_FAILURE() << NormFamily::describe(d) << " " << norm_role_name(r) << ": " << m;
        }
      }
    }
  EXPECT_EQ(failures, 0) << failures << " of " << cases << " cases failed";
}

TEST_F(GpuNorm, StridedGroupNormIsNotSupportedWithAReason) {
  NormDescriptor d;
  d.op = NormOp::group_norm;
  d.input = Operand::tensor(DType::f32, {2, 4, 8}, {32, 1, 4});
  d.num_groups = 2;
  auto plan = NormPlan::select(gpu_, d);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.status().message().find("needs contiguous (N, C, *) operands"), std::string::npos)
      << plan.status().to_string();
}

TEST_F(GpuNorm, WorkspaceTooSmallIsRefused) {
  NormDescriptor d = row_desc(NormOp::layer_norm, DType::bf16, 64, 1024, Direction::backward);
  auto plan = NormPlan::select(gpu_, d);
  ASSERT_TRUE(plan) << plan.status().to_string();
  ASSERT_GT(plan->workspace_size(), 0u);
  auto c = bt::make_norm_case(d, 3);
  ASSERT_TRUE(c.has_value());
  // Host pointers are refused first by device checks; the workspace check comes before them.
  Status s = plan->run(gpu_, {nullptr, 16}, c->args());
  EXPECT_FALSE(s.is_ok());
}

}  // namespace
