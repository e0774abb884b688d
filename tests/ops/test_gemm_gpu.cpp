// The cuBLASLt GEMM against the CPU reference plan on the same random inputs: sizes from
// {1, 7, 129, 4095} (a covering subset: every size in every role, never all three at 4095, so the
// f64 reference stays cheap), every dtype (f64, f32 IEEE and tf32, f16, bf16, fp8 e4m3/e5m2 with
// scales and amax, i8 -> i32), every arrangement of row-/column-major operands, padded and odd
// leading dims, batch and broadcast batch, each epilogue (and the not_supported ones), outputs
// poisoned with 0xFF before each run and compared element by element, a tolerance
// c * eps * sqrt(K) plus one rounding of the output dtype, determinism, workspace checks.
//
// Without a GPU every test skips (GTEST_SKIP). The last line printed is
//   "GPU gemm: N passed, M failed, U not supported (allowed)"
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
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
BT_GPU_FAMILY_COUNTS("gemm");  // the "GPU gemm: ..." summary line

// ------------------------------------------------------------------------------------------------
// A case: the descriptor and its host inputs (outputs come from the signature).

struct GemmCase {
  std::string name;
  GemmDescriptor desc;
  HostTensor a, b;
  std::optional<HostTensor> c, bias, a_scale, b_scale, d_scale;
  bool may_be_unsupported = false;  // a not_supported from the CUDA plans is an allowed outcome
  PlanPreference pref;              // what the CUDA plan is selected with
};

enum class Major { row, col };
// Strides of a [batch..., r, c] tensor stored row- or column-major per matrix, leading dim padded
// by `pad` elements, batch entries packed after each other.
std::vector<int64_t> matrix_strides(const std::vector<int64_t>& shape, Major major, int64_t pad = 0) {
  const size_t rank = shape.size();
  const int64_t r = shape[rank - 2], c = shape[rank - 1];
  std::vector<int64_t> s(rank);
  const int64_t ld = (major == Major::row ? c : r) + pad;
  s[rank - 1] = major == Major::row ? 1 : ld;
  s[rank - 2] = major == Major::row ? ld : 1;
  int64_t step = ld * (major == Major::row ? r : c);
  for (size_t i = rank - 2; i-- > 0;) {
    s[i] = step;
    step *= shape[i];
  }
  return s;
}

void fill(HostTensor& t, std::mt19937_64& rng) {
  if (t.dtype() == DType::i8) bt::fill_uniform(t, rng, -128, 127, true);
  else if (t.dtype() == DType::i32) bt::fill_uniform(t, rng, -1000, 1000, true);
  else if (is_fp8(t.dtype())) bt::fill_uniform(t, rng, -2, 2);
  else bt::fill_uniform(t, rng, -1, 1);
}

HostTensor scalar(double v) {
  HostTensor t(DType::f32, {});
  t.set(0, v);
  return t;
}

struct Shape {
  std::vector<int64_t> a, b, d;  // full shapes
};
Shape shapes(int64_t m, int64_t n, int64_t k, std::vector<int64_t> batch_a = {}, std::vector<int64_t> batch_b = {},
             std::vector<int64_t> batch_d = {}) {
  Shape s{batch_a, batch_b, batch_d};
  s.a.insert(s.a.end(), {m, k});
  s.b.insert(s.b.end(), {k, n});
  s.d.insert(s.d.end(), {m, n});
  return s;
}

// A dense case: A, B of `in`, D of `out`, given majors and leading-dim padding.
GemmCase make_case(std::string name, DType in, DType out, const Shape& s, Major ma, Major mb, Major md,
                   std::mt19937_64& rng, int64_t pad = 0) {
  GemmCase c;
  c.name = std::move(name);
  c.a = HostTensor(in, s.a, matrix_strides(s.a, ma, pad));
  // e5m2 x e5m2 has no cuBLASLt kernel: an e5m2 A pairs with an e4m3 B.
  c.b = HostTensor(in == DType::f8e5m2 ? DType::f8e4m3 : in, s.b, matrix_strides(s.b, mb, pad));
  fill(c.a, rng);
  fill(c.b, rng);
  c.desc.a = c.a.operand();
  c.desc.b = c.b.operand();
  c.desc.d = Operand::tensor(out, s.d, matrix_strides(s.d, md, pad));
  if (is_fp8(in)) {
    c.a_scale = scalar(0.5);
    c.b_scale = scalar(1.25);
    if (is_fp8(out)) c.d_scale = scalar(0.25);
  }
  return c;
}

// ------------------------------------------------------------------------------------------------
// Tolerance: c * eps(accumulation) * sqrt(K) * magnitude + one rounding of the output dtype.

double eps_of(DType t) {
  switch (t) {
    case DType::f64: return 0x1p-52;
    case DType::f32: return 0x1p-23;
    case DType::f16: return 0x1p-10;
    case DType::bf16: return 0x1p-7;
    case DType::f8e4m3: return 0x1p-3;
    case DType::f8e5m2: return 0x1p-2;
    default: return 0.0;
  }
}

// The error of a K-term dot product: rounding of the inputs (tf32 only: the device rounds them,
// the reference does not) grows like eps_in sqrt(K) |term|, the accumulator's like
// eps_acc sqrt(K) |y| with |y| ~ sqrt(K) |term| for random signs. Inputs are uniform in [-1, 1]
// (fp8: [-2, 2] times the scales), so |term|_rms = mag / 3.
bt::Tolerance tolerance(const GemmDescriptor& d, const GemmSignature& sig, DType out) {
  if (sig.integer) return {0.0, 0.0};
  double eps_acc = 0x1p-23, eps_in = 0.0;
  if (d.a.dtype == DType::f64) eps_acc = 0x1p-52;
  else if (d.a.dtype == DType::f32 && d.allow_tf32) eps_in = 0x1p-11;  // tf32 keeps 10 mantissa bits
  else if (sig.fp8) eps_acc = 0x1p-13;  // Hopper's fp8 MMA accumulates with fewer bits between promotions
  const double mag = (sig.fp8 ? 4.0 * 0.5 * 1.25 : 1.0) * std::max(1.0, std::fabs(d.alpha));
  const double sqrt_k = std::sqrt(static_cast<double>(std::max<int64_t>(sig.k, 1)));
  const double term = mag / 3.0;
  double atol = 8.0 * sqrt_k * (eps_in * term + eps_acc * sqrt_k * term);
  double rtol = 2.0 * eps_of(out);
  if (d.activation != GemmActivation::none) {  // f32 epilogue math (tanh, exp) on the device
    rtol = std::max(rtol, 1e-5);
    atol += 1e-6;
    // A 16-bit D: the pre-activation may be rounded to D's type before the activation (the
    // second-pass plans do; cuBLASLt's f16/bf16 GELU epilogue behaves alike on the H200). An
    // error of eps |x| in x moves act(x) by |x act'(x)| eps, which peaks near 0.3 on the
    // negative side (silu at x ~ -3, gelu at x ~ -1.5) where act(x) itself is small.
    if (dtype_size(out) == 2) atol += 0.3 * eps_of(out);
  }
  if (is_fp8(out)) atol += 0x1p-9;  // e4m3's smallest subnormal
  return {rtol, atol};
}

// ------------------------------------------------------------------------------------------------
// Running a case on both plans.

struct Outputs {
  HostTensor d, pre_activation, bias_grad, amax;
};

Outputs make_outputs(const GemmSignature& sig) {
  Outputs o;
  o.d = HostTensor(sig.d->dtype, sig.d->shape, sig.d->strides);
  if (sig.pre_activation) o.pre_activation = HostTensor(sig.pre_activation->dtype, sig.pre_activation->shape, sig.pre_activation->strides);
  if (sig.bias_grad) o.bias_grad = HostTensor(sig.bias_grad->dtype, sig.bias_grad->shape, sig.bias_grad->strides);
  if (sig.amax) o.amax = HostTensor(DType::f32, {});
  return o;
}

GemmArgs host_args(GemmCase& c, Outputs& o, const GemmSignature& sig) {
  GemmArgs a{.a = c.a.ref(), .b = c.b.ref()};
  if (c.c) a.c = c.c->ref();
  if (c.bias) a.bias = c.bias->ref();
  if (c.a_scale) a.a_scale = c.a_scale->ref();
  if (c.b_scale) a.b_scale = c.b_scale->ref();
  if (c.d_scale) a.d_scale = c.d_scale->ref();
  a.d = o.d.mut();
  if (sig.pre_activation) a.pre_activation = o.pre_activation.mut();
  if (sig.bias_grad) a.bias_grad = o.bias_grad.mut();
  if (sig.amax) a.amax = o.amax.mut();
  return a;
}

struct DeviceSide {
  std::vector<DeviceBuffer> bufs;
  TensorRef in(const HostTensor& t, Device dev) {
    bufs.emplace_back(t.storage().size());
    EXPECT_EQ(bufs.back().upload(t.storage().data(), t.storage().size()), cudaSuccess);
    return t.ref_at(bufs.back().get(), dev);
  }
  TensorMut out(const HostTensor& t, Device dev, uint8_t poison) {
    bufs.emplace_back(t.storage().size());
    EXPECT_EQ(bufs.back().fill(poison), cudaSuccess);
    return t.mut_at(bufs.back().get(), dev);
  }
  void download(HostTensor& t, size_t index) {
    EXPECT_EQ(bufs[index].download(t.storage().data(), t.storage().size()), cudaSuccess);
  }
};

// Runs `c` on the CUDA plan (outputs poisoned with `poison`) into `got`; the Status of the
// selection or of the run. `sku` receives the chosen plan's SKU.
Status run_gpu(GemmCase& c, const GemmSignature& sig, Outputs& got, uint8_t poison, std::string* sku = nullptr) {
  BARACUDA_ASSIGN_OR_RETURN(Stream stream, Stream::cuda());
  BARACUDA_ASSIGN_OR_RETURN(auto plan, GemmPlan::select(stream, c.desc, c.pref));
  if (sku) *sku = plan.sku().to_string();
  const Device dev = stream.device();
  DeviceSide ds;
  GemmArgs a{.a = ds.in(c.a, dev), .b = ds.in(c.b, dev)};
  if (c.c) a.c = ds.in(*c.c, dev);
  if (c.bias) a.bias = ds.in(*c.bias, dev);
  if (c.a_scale) a.a_scale = ds.in(*c.a_scale, dev);
  if (c.b_scale) a.b_scale = ds.in(*c.b_scale, dev);
  if (c.d_scale) a.d_scale = ds.in(*c.d_scale, dev);
  const size_t first_out = ds.bufs.size();
  a.d = ds.out(got.d, dev, poison);
  if (sig.pre_activation) a.pre_activation = ds.out(got.pre_activation, dev, poison);
  if (sig.bias_grad) a.bias_grad = ds.out(got.bias_grad, dev, poison);
  if (sig.amax) a.amax = ds.out(got.amax, dev, poison);
  DeviceBuffer ws(plan.workspace_size());
  BARACUDA_TRY(plan.run(stream, Workspace{ws.get(), plan.workspace_size()}, a));
  if (cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess)
    return backend_error(std::string("cudaDeviceSynchronize after the GEMM: ") + cudaGetErrorString(e));
  size_t i = first_out;
  ds.download(got.d, i++);
  if (sig.pre_activation) ds.download(got.pre_activation, i++);
  if (sig.bias_grad) ds.download(got.bias_grad, i++);
  if (sig.amax) ds.download(got.amax, i++);
  return Status::ok();
}

// Reference vs CUDA for one case; counts and reports.
void check_case(GemmCase& c) {
  SCOPED_TRACE(c.name);
  auto sig_r = infer_signature(c.desc);
  ASSERT_TRUE(sig_r.has_value()) << sig_r.status().to_string();
  const GemmSignature& sig = *sig_r;
  Outputs want = make_outputs(sig);
  {
    auto plan = GemmPlan::select(Stream::cpu(), c.desc);
    ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
    GemmArgs a = host_args(c, want, sig);
    ASSERT_OK(plan->run(Stream::cpu(), {}, a));
  }
  Outputs got = make_outputs(sig);
  std::string sku;
  const Status st = run_gpu(c, sig, got, 0xFF, &sku);
  if (!st.is_ok()) {
    if (c.may_be_unsupported && st.code() == StatusCode::not_supported) {
      ++counts().not_supported;
      std::printf("  not supported (allowed): %s: %s\n", c.name.c_str(), st.message().c_str());
      return;
    }
    ++counts().failed;
    ADD_FAILURE() << c.name << ": " << st.to_string();
    return;
  }
  bool ok = true;
  const bt::Tolerance tol = tolerance(c.desc, sig, sig.d->dtype);
  const auto check = [&](const HostTensor& g, const HostTensor& w, const char* what, bt::Tolerance t) {
    const bt::CompareResult r = bt::compare(g, w, t);
    if (r.mismatches != 0) {
      ok = false;
      ADD_FAILURE() << c.name << " [" << sku << "] " << what << ": " << r.to_string();
    }
  };
  check(got.d, want.d, "D", tol);
  if (sig.pre_activation) check(got.pre_activation, want.pre_activation, "pre_activation", tolerance(c.desc, sig, sig.pre_activation->dtype));
  if (sig.bias_grad) {
    // A sum of K inputs: the accumulation tolerance without the activation's.
    GemmDescriptor plain = c.desc;
    plain.activation = GemmActivation::none;
    check(got.bias_grad, want.bias_grad, "bias_grad", tolerance(plain, sig, sig.bias_grad->dtype));
  }
  if (sig.amax && !bt::Close(got.amax.get(0), want.amax.get(0), 1e-3)) {
    ok = false;
    ADD_FAILURE() << c.name << " amax: " << bt::Close(got.amax.get(0), want.amax.get(0), 1e-3).message();
  }
  ++(ok ? counts().passed : counts().failed);
}

#define REQUIRE_GPU() \
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device"

// ------------------------------------------------------------------------------------------------
// Sizes x dtypes.

struct Mnk {
  int64_t m, n, k;
};
// Every size of {1, 7, 129, 4095} in every role; at most two dims large at once.
const Mnk kSizes[] = {{1, 1, 1},       {7, 7, 7},      {129, 129, 129}, {1, 129, 7},   {7, 1, 129},
                      {129, 7, 1},     {4095, 7, 129}, {7, 4095, 129},  {129, 7, 4095}, {4095, 1, 4095},
                      {1, 4095, 4095}, {4095, 4095, 1}, {129, 4095, 7}, {4095, 129, 7}, {7, 7, 4095}};
// fp8 / int8 kernels want 16-byte multiples; these sizes must be supported.
const Mnk kAlignedSizes[] = {{16, 16, 16}, {128, 64, 256}, {256, 512, 256}, {16, 4096, 512}, {4096, 32, 128}};

std::string mnk_name(const Mnk& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
}

TEST(GemmGpu, SizesTimesFloatDtypes) {
  REQUIRE_GPU();
  std::mt19937_64 rng(11);
  for (DType t : {DType::f64, DType::f32, DType::f16, DType::bf16})
    for (const Mnk& s : kSizes) {
      GemmCase c = make_case(std::string(dtype_name(t)) + " " + mnk_name(s), t, t, shapes(s.m, s.n, s.k), Major::row,
                             Major::row, Major::row, rng);
      check_case(c);
    }
}

TEST(GemmGpu, Tf32IsOptIn) {
  REQUIRE_GPU();
  std::mt19937_64 rng(12);
  for (const Mnk& s : {Mnk{129, 129, 4095}, Mnk{7, 4095, 129}}) {
    GemmCase c = make_case("f32 tf32 " + mnk_name(s), DType::f32, DType::f32, shapes(s.m, s.n, s.k), Major::row,
                           Major::col, Major::row, rng);
    c.desc.allow_tf32 = true;
    check_case(c);
  }
  // Without allow_tf32 the plan promises IEEE f32 (and the tolerance above is the f32 one).
  GemmCase ieee = make_case("f32 ieee", DType::f32, DType::f32, shapes(64, 64, 64), Major::row, Major::row, Major::row, rng);
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream.has_value());
  auto plan = GemmPlan::select(*stream, ieee.desc);
  ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
  EXPECT_NE(plan->precision_guarantee().math.find("no tf32"), std::string::npos) << plan->precision_guarantee().math;
  ieee.desc.allow_tf32 = true;
  auto tf = GemmPlan::select(*stream, ieee.desc);
  ASSERT_TRUE(tf.has_value());
  EXPECT_NE(tf->precision_guarantee().math.find("tf32 tensor-core"), std::string::npos);
}

TEST(GemmGpu, Fp8AndInt8) {
  REQUIRE_GPU();
  std::mt19937_64 rng(13);
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream.has_value());
  const bool fp8_device = stream->device().sm >= 89;
  // The linear layout (A row-major, B = W^T with W row-major, D row-major) is cuBLASLt's "TN".
  struct Combo {
    DType a, out;
    bool b_e5m2;
  };
  const Combo combos[] = {{DType::f8e4m3, DType::bf16, false}, {DType::f8e4m3, DType::f16, false},
                          {DType::f8e4m3, DType::f32, false},  {DType::f8e4m3, DType::f8e4m3, false},
                          {DType::f8e5m2, DType::bf16, false}, {DType::f8e4m3, DType::bf16, true}};
  for (const Combo& co : combos) {
    // An fp8 D runs with and without the amax output (separate cases: a failure names which).
    for (const bool amax : is_fp8(co.out) ? std::vector<bool>{false, true} : std::vector<bool>{false})
    for (const Mnk& s : kAlignedSizes) {
      GemmCase c = make_case(std::string("fp8 ") + std::string(dtype_name(co.a)) + (co.b_e5m2 ? "xe5m2" : "") + "->" +
                                 std::string(dtype_name(co.out)) + " " + mnk_name(s) + (amax ? " +amax" : ""),
                             co.a, co.out, shapes(s.m, s.n, s.k), Major::row, Major::col, Major::row, rng);
      if (co.b_e5m2) {
        HostTensor b(DType::f8e5m2, c.b.shape(), c.b.strides());
        fill(b, rng);
        c.b = b;
        c.desc.b = c.b.operand();
      }
      c.desc.amax = amax;
      c.may_be_unsupported = !fp8_device;
      check_case(c);
    }
    // Odd sizes: either exact or an honest not_supported.
    for (const Mnk& s : {Mnk{7, 129, 7}, Mnk{129, 1, 129}}) {
      GemmCase c = make_case(std::string("fp8 odd ") + mnk_name(s), co.a, co.out, shapes(s.m, s.n, s.k), Major::row,
                             Major::col, Major::row, rng);
      c.may_be_unsupported = true;
      check_case(c);
    }
  }
  // fp8 with a bias (bf16 D, bf16 bias along columns: the fp8 linear).
  GemmCase fb = make_case("fp8 linear + bias", DType::f8e4m3, DType::bf16, shapes(128, 64, 256), Major::row, Major::col,
                          Major::row, rng);
  fb.bias = HostTensor(DType::bf16, {64});
  fill(*fb.bias, rng);
  fb.desc.bias = fb.bias->operand();
  fb.may_be_unsupported = !fp8_device;
  check_case(fb);
  // Not TN: A column-major is refused with the reason (the CPU reference remains for CPU streams).
  GemmCase nt = make_case("fp8 NN", DType::f8e4m3, DType::bf16, shapes(64, 64, 64), Major::col, Major::col, Major::row, rng);
  auto p = GemmPlan::select(*stream, nt.desc);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.status().code(), StatusCode::not_supported);
  EXPECT_NE(p.status().message().find(fp8_device ? "TN layout" : "sm_89"), std::string::npos) << p.status().message();

  // int8 -> int32, exact.
  for (const Mnk& s : kAlignedSizes) {
    GemmCase c = make_case("i8 " + mnk_name(s), DType::i8, DType::i32, shapes(s.m, s.n, s.k), Major::row, Major::col,
                           Major::row, rng);
    check_case(c);
  }
  GemmCase ic = make_case("i8 alpha 2 beta 1", DType::i8, DType::i32, shapes(64, 32, 128), Major::row, Major::col,
                          Major::row, rng);
  ic.desc.alpha = 2;
  ic.desc.beta = 1;
  ic.c = HostTensor(DType::i32, {64, 32});
  fill(*ic.c, rng);
  ic.desc.c = ic.c->operand();
  check_case(ic);
  for (const Mnk& s : {Mnk{7, 7, 7}, Mnk{129, 7, 129}}) {
    GemmCase c = make_case("i8 odd " + mnk_name(s), DType::i8, DType::i32, shapes(s.m, s.n, s.k), Major::row,
                           Major::col, Major::row, rng);
    c.may_be_unsupported = true;
    check_case(c);
  }
}

// fp8 with per-row and per-block scales (cuBLASLt 12.9+ on Hopper), each scale tensor stored as
// cuBLASLt reads it (gemm_cublaslt.cpp, lib_scale_mode): rowwise vectors contiguous; 1x128 scales
// "outer-dim major"; 128x128 scales with each block row's K blocks contiguous, ceil(K/128) padded
// to 4 apart. Scales are powers of two within the tolerance's fp8 magnitude (|a_scale| <= 0.5,
// |b_scale| <= 1.25). The shapes include partial K and N blocks (264 x 304); 128x260x300 has
// fp8 leading dimensions that are not multiples of 16 bytes, which cuBLASLt may refuse.
HostTensor pow2_scale_tensor(std::vector<int64_t> shape, std::vector<int64_t> strides, double lo, double hi,
                             std::mt19937_64& rng) {
  HostTensor t(DType::f32, std::move(shape), std::move(strides));
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, (rng() & 1) ? lo : hi);
  return t;
}

TEST(GemmGpu, Fp8RowwiseAndBlockScales) {
  REQUIRE_GPU();
  std::mt19937_64 rng(71);
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream.has_value());
  if (stream->device().sm < 90) GTEST_SKIP() << "per-row / per-block fp8 scales need sm_90";
  const auto blocks = [](int64_t v) { return (v + 127) / 128; };
  const auto pad4 = [](int64_t v) { return (v + 3) / 4 * 4; };
  struct Modes {
    GemmScaleMode a, b;
    bool required;  // must run (the recipes PyTorch uses); others may be an honest not_supported
  };
  const Modes modes[] = {{GemmScaleMode::outer_vector, GemmScaleMode::outer_vector, true},
                         {GemmScaleMode::block_1x128, GemmScaleMode::block_128x128, true},
                         {GemmScaleMode::block_1x128, GemmScaleMode::block_1x128, false},
                         {GemmScaleMode::block_128x128, GemmScaleMode::block_128x128, false},
                         {GemmScaleMode::outer_vector, GemmScaleMode::tensor, false}};
  for (const Modes& md : modes)
    for (const Mnk& s : {Mnk{256, 384, 512}, Mnk{128, 264, 304}, Mnk{128, 260, 300}, Mnk{512, 512, 1024}}) {
      GemmCase c = make_case(std::string("fp8 scales ") + std::string(gemm_scale_mode_name(md.a)) + " x " +
                                 std::string(gemm_scale_mode_name(md.b)) + " " + mnk_name(s),
                             DType::f8e4m3, DType::bf16, shapes(s.m, s.n, s.k), Major::row, Major::col, Major::row, rng);
      const int64_t kb = blocks(s.k);
      c.desc.a_scale_mode = md.a;
      c.desc.b_scale_mode = md.b;
      switch (md.a) {
        case GemmScaleMode::outer_vector: c.a_scale = pow2_scale_tensor({s.m, 1}, {}, 0.25, 0.5, rng); break;
        case GemmScaleMode::block_1x128: c.a_scale = pow2_scale_tensor({s.m, kb}, {1, s.m}, 0.25, 0.5, rng); break;
        case GemmScaleMode::block_128x128:
          c.a_scale = pow2_scale_tensor({blocks(s.m), kb}, {pad4(kb), 1}, 0.25, 0.5, rng);
          break;
        case GemmScaleMode::tensor: break;
      }
      switch (md.b) {
        case GemmScaleMode::outer_vector: c.b_scale = pow2_scale_tensor({1, s.n}, {}, 0.5, 1.25, rng); break;
        case GemmScaleMode::block_1x128: c.b_scale = pow2_scale_tensor({kb, s.n}, {}, 0.5, 1.25, rng); break;
        case GemmScaleMode::block_128x128:
          c.b_scale = pow2_scale_tensor({kb, blocks(s.n)}, {1, pad4(kb)}, 0.5, 1.25, rng);
          break;
        case GemmScaleMode::tensor: break;
      }
      if (md.a != GemmScaleMode::tensor) c.desc.a_scale = c.a_scale->operand();
      if (md.b != GemmScaleMode::tensor) c.desc.b_scale = c.b_scale->operand();
      c.may_be_unsupported = !md.required || s.k % 16 != 0;
      check_case(c);
    }
  // A layout cuBLASLt cannot read (1x128 scales of A stored K-block major) is refused with a reason.
  GemmCase bad = make_case("fp8 1x128 K-major scales", DType::f8e4m3, DType::bf16, shapes(256, 256, 512), Major::row,
                           Major::col, Major::row, rng);
  bad.desc.a_scale_mode = GemmScaleMode::block_1x128;
  bad.desc.a_scale = Operand::tensor(DType::f32, {256, 4});
  auto p = GemmPlan::select(*stream, bad.desc);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.status().code(), StatusCode::not_supported);
  EXPECT_NE(p.status().message().find("the scales of each K block contiguous"), std::string::npos) << p.status().to_string();
  // A pair of modes cuBLASLt does not run is refused at plan time, naming the pairs it does run.
  GemmCase mixed = make_case("fp8 outer_vector x tensor", DType::f8e4m3, DType::bf16, shapes(256, 256, 512), Major::row,
                             Major::col, Major::row, rng);
  mixed.desc.a_scale_mode = GemmScaleMode::outer_vector;
  mixed.desc.a_scale = Operand::tensor(DType::f32, {256, 1});
  auto q = GemmPlan::select(*stream, mixed.desc);
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.status().code(), StatusCode::not_supported);
  EXPECT_NE(q.status().message().find("outer_vector x tensor"), std::string::npos) << q.status().to_string();
}

// ------------------------------------------------------------------------------------------------
// Layouts.

TEST(GemmGpu, EveryRowColumnMajorArrangement) {
  REQUIRE_GPU();
  std::mt19937_64 rng(17);
  for (DType t : {DType::f32, DType::bf16})
    for (Major ma : {Major::row, Major::col})
      for (Major mb : {Major::row, Major::col})
        for (Major md : {Major::row, Major::col})
          for (int64_t pad : {0, 8}) {
            const std::string name = std::string(dtype_name(t)) + " A" + (ma == Major::row ? "r" : "c") + " B" +
                                     (mb == Major::row ? "r" : "c") + " D" + (md == Major::row ? "r" : "c") + " pad " +
                                     std::to_string(pad);
            GemmCase c = make_case(name, t, t, shapes(129, 33, 65), ma, mb, md, rng, pad);
            check_case(c);
          }
}

TEST(GemmGpu, MisalignedLeadingDimIsCorrectOrNotSupported) {
  REQUIRE_GPU();
  std::mt19937_64 rng(19);
  for (DType t : {DType::f16, DType::bf16, DType::f32}) {
    // ld = K + 1: rows start at odd element offsets.
    GemmCase c = make_case(std::string(dtype_name(t)) + " ld K+1", t, t, shapes(33, 64, 63), Major::row, Major::row,
                           Major::row, rng, 1);
    c.may_be_unsupported = true;
    check_case(c);
    // A descriptor promising only element alignment: the heuristic must pick algorithms that
    // assume no more.
    GemmCase o = make_case(std::string(dtype_name(t)) + " alignment elem", t, t, shapes(33, 64, 63), Major::row,
                           Major::row, Major::row, rng);
    o.desc.alignment = dtype_size(t);
    o.may_be_unsupported = true;
    check_case(o);
  }
}

TEST(GemmGpu, BatchAndBroadcastBatch) {
  REQUIRE_GPU();
  std::mt19937_64 rng(23);
  for (DType t : {DType::f32, DType::bf16, DType::f16}) {
    const std::string dn(dtype_name(t));
    GemmCase plain = make_case(dn + " batch 3", t, t, shapes(65, 33, 129, {3}, {3}, {3}), Major::row, Major::row,
                               Major::row, rng);
    check_case(plain);
    GemmCase bb = make_case(dn + " A[2,3] x B broadcast", t, t, shapes(33, 65, 7, {2, 3}, {}, {2, 3}), Major::row,
                            Major::col, Major::row, rng);
    check_case(bb);
    GemmCase ba = make_case(dn + " A broadcast x B[4]", t, t, shapes(129, 7, 33, {}, {4}, {4}), Major::col, Major::row,
                            Major::row, rng);
    check_case(ba);
    GemmCase ones = make_case(dn + " A[1,3] x B[2,1]->[2,3]... not foldable", t, t, shapes(7, 7, 7, {1, 3}, {2, 1}, {2, 3}),
                              Major::row, Major::row, Major::row, rng);
    check_case(ones);  // A repeats per outer index, B per inner: an outer loop of 2 calls
    GemmCase mm = make_case(dn + " torch.matmul A[2,1] x B[3]", t, t, shapes(9, 5, 17, {2, 1}, {3}, {2, 3}), Major::row,
                            Major::row, Major::row, rng);
    check_case(mm);
    // Broadcast C over the batch (an explicit zero batch stride) with beta.
    GemmCase cb = make_case(dn + " batch 3 + beta C broadcast", t, t, shapes(33, 65, 17, {3}, {3}, {3}), Major::row,
                            Major::row, Major::row, rng);
    cb.c = HostTensor(t, {3, 33, 65}, {0, 65, 1});
    fill(*cb.c, rng);
    cb.desc.c = cb.c->operand();
    cb.desc.beta = 0.5;
    cb.may_be_unsupported = true;  // a zero C batch stride is not documented for cuBLASLt
    check_case(cb);
  }
}

// Batch dims that do not fold into one stride run as one cuBLASLt call per outer entry (the SKU
// says how many); an amax over such a batch would need combining across the calls and stays an
// honest not_supported.
TEST(GemmGpu, NonFoldingBatchRunsAsAnOuterLoop) {
  REQUIRE_GPU();
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream.has_value());
  GemmDescriptor d{.a = Operand::tensor(DType::f32, {2, 1, 4, 4}), .b = Operand::tensor(DType::f32, {3, 4, 4}),
                   .d = Operand::tensor(DType::f32, {2, 3, 4, 4})};
  auto p = GemmPlan::select(*stream, d);
  ASSERT_TRUE(p.has_value()) << p.status().to_string();
  EXPECT_NE(p->sku().layout.find("2 calls"), std::string::npos) << p->sku().to_string();
  // fp8 "TN": B stored column-major per batch entry.
  GemmDescriptor g{.a = Operand::tensor(DType::f8e4m3, {2, 1, 16, 32}),
                   .b = Operand::tensor(DType::f8e4m3, {3, 32, 16}, {512, 1, 32}),
                   .d = Operand::tensor(DType::f8e4m3, {2, 3, 16, 16})};
  g.amax = true;
  auto q = GemmPlan::select(*stream, g);
  ASSERT_FALSE(q.has_value());
  EXPECT_EQ(q.status().code(), StatusCode::not_supported) << q.status().to_string();
}

// ------------------------------------------------------------------------------------------------
// Epilogues.

TEST(GemmGpu, Epilogues) {
  REQUIRE_GPU();
  std::mt19937_64 rng(29);
  for (DType t : {DType::bf16, DType::f16, DType::f32}) {
    const std::string dn(dtype_name(t));
    for (const Mnk& s : {Mnk{129, 72, 65}, Mnk{7, 40, 4095}}) {
      const std::string sz = " " + mnk_name(s);
      // Row-major D: the bias runs along columns (linear); column-major D: along rows.
      for (Major md : {Major::row, Major::col}) {
        const GemmVectorAxis axis = md == Major::row ? GemmVectorAxis::columns : GemmVectorAxis::rows;
        for (GemmActivation act : {GemmActivation::none, GemmActivation::relu, GemmActivation::gelu_tanh})
          for (bool with_bias : {false, true}) {
            if (!with_bias && act == GemmActivation::none) continue;
            GemmCase c = make_case(dn + sz + " D" + (md == Major::row ? "r" : "c") + " " +
                                       std::string(gemm_activation_name(act)) + (with_bias ? " + bias" : ""),
                                   t, t, shapes(s.m, s.n, s.k), Major::row, Major::col, md, rng);
            c.desc.activation = act;
            if (with_bias) {
              c.bias = HostTensor(t, {axis == GemmVectorAxis::rows ? s.m : s.n});
              fill(*c.bias, rng);
              c.desc.bias = c.bias->operand();
              c.desc.bias_axis = axis;
            }
            check_case(c);
          }
      }
      // GELU with the pre-activation (the forward that keeps the backward's input).
      for (bool with_bias : {false, true}) {
        GemmCase c = make_case(dn + sz + " gelu_tanh + pre_activation" + (with_bias ? " + bias" : ""), t, t,
                               shapes(s.m, s.n, s.k), Major::row, Major::col, Major::row, rng);
        c.desc.activation = GemmActivation::gelu_tanh;
        c.desc.pre_activation = Operand::tensor(t, {s.m, s.n});
        if (with_bias) {
          c.bias = HostTensor(t, {s.n});
          fill(*c.bias, rng);
          c.desc.bias = c.bias->operand();
        }
        check_case(c);
      }
      // alpha, beta and C (addmm), C stored with its own leading dim.
      GemmCase ab = make_case(dn + sz + " alpha beta C", t, t, shapes(s.m, s.n, s.k), Major::col, Major::row, Major::row, rng);
      ab.desc.alpha = -1.5;
      ab.desc.beta = 0.75;
      ab.c = HostTensor(t, {s.m, s.n}, {s.n + 8, 1});
      fill(*ab.c, rng);
      ab.desc.c = ab.c->operand();
      check_case(ab);
    }
    // Bias gradient (the linear backward): dW [out, in] = dY^T X, db = sums of dY over tokens.
    const int64_t tokens = 4095, out = 72, in = 40;
    for (GemmVectorAxis axis : {GemmVectorAxis::rows, GemmVectorAxis::columns}) {
      GemmCase c = make_case(dn + " bias_grad " + std::string(gemm_vector_axis_name(axis)), t, t,
                             shapes(out, in, tokens), Major::col, Major::row, Major::row, rng);
      c.desc.bias_grad = Operand::tensor(t, {axis == GemmVectorAxis::rows ? out : in});
      c.desc.bias_grad_axis = axis;
      check_case(c);
    }
  }
}

// The activations cuBLASLt's epilogues lack (gelu with erf, silu, relu with the pre-activation)
// go to cublaslt_then_activation: the GEMM, then the elementwise plan on D (in place) or from
// pre_activation into D. Against the reference (which rounds once: the tolerance is the
// activation's), with and without bias, and the plan names the implementation.
TEST(GemmGpu, ActivationsCublasLtLacksRunAsASecondPass) {
  REQUIRE_GPU();
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream.has_value());
  std::mt19937_64 rng(37);
  for (DType t : {DType::bf16, DType::f32}) {
    const std::string dn(dtype_name(t));
    for (GemmActivation act : {GemmActivation::gelu_erf, GemmActivation::silu, GemmActivation::relu})
      for (bool with_bias : {false, true})
        for (bool with_pre : {false, true}) {
          if (act == GemmActivation::relu && !with_pre) continue;  // cuBLASLt's own epilogue
          const Mnk s{129, 72, 65};
          GemmCase c = make_case(dn + " " + std::string(gemm_activation_name(act)) + (with_bias ? " + bias" : "") +
                                     (with_pre ? " + pre_activation" : ""),
                                 t, t, shapes(s.m, s.n, s.k), Major::row, Major::col, Major::row, rng);
          c.desc.activation = act;
          if (with_pre) c.desc.pre_activation = Operand::tensor(t, {s.m, s.n});
          if (with_bias) {
            c.bias = HostTensor(t, {s.n});
            fill(*c.bias, rng);
            c.desc.bias = c.bias->operand();
          }
          auto p = GemmPlan::select(*stream, c.desc);
          ASSERT_TRUE(p.has_value()) << c.name << ": " << p.status().to_string();
          EXPECT_EQ(p->sku().impl, "cublaslt_then_activation") << p->sku().to_string();
          check_case(c);
        }
  }
  // An fp8 D keeps the honest not_supported (no second pass on a scaled fp8 output).
  GemmDescriptor f{.a = Operand::tensor(DType::f8e4m3, {64, 64}), .b = Operand::tensor(DType::f8e4m3, {64, 64}, {1, 64}),
                   .d = Operand::tensor(DType::f8e4m3, {64, 64})};
  f.activation = GemmActivation::silu;
  auto p = GemmPlan::select(*stream, f);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.status().code(), StatusCode::not_supported) << p.status().to_string();
}

// ------------------------------------------------------------------------------------------------
// Plan properties.

TEST(GemmGpu, DeterministicAndSkuNamesTheAlgorithm) {
  REQUIRE_GPU();
  std::mt19937_64 rng(31);
  GemmCase c = make_case("bf16 determinism", DType::bf16, DType::bf16, shapes(1024, 1024, 4095), Major::row, Major::col,
                         Major::row, rng);
  auto sig = infer_signature(c.desc);
  ASSERT_TRUE(sig.has_value());
  Outputs first = make_outputs(*sig), second = make_outputs(*sig);
  std::string sku;
  ASSERT_OK(run_gpu(c, *sig, first, 0xFF, &sku));
  ASSERT_OK(run_gpu(c, *sig, second, 0x00));
  EXPECT_EQ(std::memcmp(first.d.storage().data(), second.d.storage().data(), first.d.storage().size()), 0);
  EXPECT_NE(sku.find("cublaslt[algo "), std::string::npos) << sku;
  std::printf("  bf16 1024x1024x4095: %s\n", sku.c_str());
}

// PlanPreference::autotune: the plan times the heuristic's ranked tactics at select() and runs the fastest; the
// results stay within the reference's tolerance, the SKU says what it did, and a second select of
// the same problem takes the cached winner.
TEST(GemmGpu, AutotuneRunsTheFastestRankedTacticAndCachesIt) {
  REQUIRE_GPU();
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream.has_value());
  std::mt19937_64 rng(41);
  for (const Mnk& s : {Mnk{16, 4096, 4096}, Mnk{1024, 1024, 1024}, Mnk{129, 65, 4095}}) {
    GemmCase c = make_case("bf16 autotune " + mnk_name(s), DType::bf16, DType::bf16, shapes(s.m, s.n, s.k), Major::row,
                           Major::row, Major::row, rng);
    c.pref.autotune = true;
    auto first = GemmPlan::select(*stream, c.desc, c.pref);
    ASSERT_TRUE(first.has_value()) << first.status().to_string();
    const std::string& t1 = first->sku().tactic;
    std::printf("  %s: %s\n", c.name.c_str(), t1.c_str());
    if (t1.find("(1 of 1 ranked") != std::string::npos) continue;  // nothing to choose from
    EXPECT_NE(t1.find("autotuned"), std::string::npos) << t1;
    EXPECT_EQ(t1.find("skipped"), std::string::npos) << t1;
    auto second = GemmPlan::select(*stream, c.desc, c.pref);
    ASSERT_TRUE(second.has_value());
    EXPECT_NE(second->sku().tactic.find("cached winner"), std::string::npos) << second->sku().tactic;
    check_case(c);
  }
}

TEST(GemmGpu, WorkspaceIsCheckedInRun) {
  REQUIRE_GPU();
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream.has_value());
  // Split-K shapes (small M, N, long K) usually book workspace; find one that does.
  bool found = false;
  for (int64_t k : {8192, 32768, 131072}) {
    GemmDescriptor d{.a = Operand::tensor(DType::bf16, {16, k}), .b = Operand::tensor(DType::bf16, {k, 16}),
                     .d = Operand::tensor(DType::bf16, {16, 16})};
    auto p = GemmPlan::select(*stream, d);
    ASSERT_TRUE(p.has_value()) << p.status().to_string();
    const size_t need = p->workspace_size();
    EXPECT_LE(need, d.max_workspace_bytes);
    if (need == 0) continue;
    found = true;
    DeviceBuffer a(16 * k * 2), b(16 * k * 2), out(16 * 16 * 2), ws(need);
    GemmArgs args{.a = *make_tensor_ref(a.get(), DType::bf16, {16, k}, stream->device()),
                  .b = *make_tensor_ref(b.get(), DType::bf16, {k, 16}, stream->device()),
                  .d = *make_tensor_mut(out.get(), DType::bf16, {16, 16}, stream->device())};
    const Status s = p->run(*stream, Workspace{ws.get(), need - 1}, args);
    EXPECT_EQ(s.code(), StatusCode::workspace_too_small) << s.to_string();
    const Status m = p->run(*stream, Workspace{static_cast<char*>(ws.get()) + 16, need}, args);
    EXPECT_NE(m.code(), StatusCode::ok) << "a workspace 16 bytes short of its buffer end must be refused";
    // A zero workspace limit gives a plan that needs none (or none at all).
    d.max_workspace_bytes = 0;
    auto z = GemmPlan::select(*stream, d);
    if (z) {
      EXPECT_EQ(z->workspace_size(), 0u);
    }
    break;
  }
  if (!found) std::printf("  note: no tried shape booked cuBLASLt workspace; the too-small check was not exercised\n");
}

TEST(GemmGpu, EmptyProblemsRunWithoutWork) {
  REQUIRE_GPU();
  auto stream = Stream::cuda();
  ASSERT_TRUE(stream.has_value());
  GemmDescriptor d{.a = Operand::tensor(DType::f16, {0, 8}), .b = Operand::tensor(DType::f16, {8, 4}),
                   .d = Operand::tensor(DType::f16, {0, 4})};
  auto p = GemmPlan::select(*stream, d);
  ASSERT_TRUE(p.has_value()) << p.status().to_string();
  DeviceBuffer b(64);
  GemmArgs args{.a = *make_tensor_ref(nullptr, DType::f16, {0, 8}, stream->device()),
                .b = *make_tensor_ref(b.get(), DType::f16, {8, 4}, stream->device()),
                .d = *make_tensor_mut(nullptr, DType::f16, {0, 4}, stream->device())};
  EXPECT_OK(p->run(*stream, {}, args));
}

}  // namespace
