// The GEMM family's CPU reference: small closed-form products, identities, transposed layouts
// (the same numbers stored other ways give bitwise the same result), broadcast batch dims, every
// epilogue against hand-computed values, fp8 scales and amax, the int8 GEMM, empty problems, and
// every descriptor / argument error path.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "gtest_helpers.hpp"
#include "test_support.hpp"

namespace {

using namespace baracuda;
using bt::Close;
using bt::HostTensor;

// Selects the CPU plan and runs it; the Status of whichever step failed.
Status run_cpu(const GemmDescriptor& d, const GemmArgs& a) {
  BARACUDA_ASSIGN_OR_RETURN(auto plan, GemmPlan::select(Stream::cpu(), d));
  return plan.run(Stream::cpu(), {}, a);
}

// A row-major matrix of `dtype` holding `rows` (exactly representable values).
HostTensor matrix(DType dtype, const std::vector<std::vector<double>>& rows) {
  HostTensor t(dtype, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
  int64_t i = 0;
  for (const auto& r : rows)
    for (double v : r) t.set(i++, v);
  return t;
}

// The same logical values as `src`, stored with `strides`.
HostTensor restrided(const HostTensor& src, std::vector<int64_t> strides) {
  HostTensor t(src.dtype(), src.shape(), std::move(strides));
  for (int64_t i = 0; i < src.numel(); ++i) t.set(i, src.get(i));
  return t;
}

struct Problem {
  HostTensor a, b, d;
  GemmDescriptor desc() const { return GemmDescriptor{.a = a.operand(), .b = b.operand(), .d = d.operand()}; }
  GemmArgs args() { return GemmArgs{.a = a.ref(), .b = b.ref(), .d = d.mut()}; }
};

// [[1,2,3],[4,5,6]] x [[7,8],[9,10],[11,12]] = [[58,64],[139,154]].
Problem closed_form(DType t, DType out) {
  return {matrix(t, {{1, 2, 3}, {4, 5, 6}}), matrix(t, {{7, 8}, {9, 10}, {11, 12}}), HostTensor(out, {2, 2})};
}
const double kProduct[4] = {58, 64, 139, 154};

// ------------------------------------------------------------------------------------------------
// Values.

TEST(GemmCpu, ClosedFormEveryFloatDtype) {
  for (DType t : {DType::f64, DType::f32, DType::f16, DType::bf16}) {
    Problem p = closed_form(t, t);
    ASSERT_OK(run_cpu(p.desc(), p.args()));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(p.d.get(i), kProduct[i]) << dtype_name(t) << " element " << i;
  }
}

TEST(GemmCpu, IdentityGivesTheOtherOperand) {
  std::mt19937_64 rng(3);
  HostTensor a(DType::f64, {5, 5});
  bt::fill_uniform(a, rng, -2, 2);
  HostTensor eye(DType::f64, {5, 5});
  for (int64_t i = 0; i < 5; ++i) eye.set(i * 5 + i, 1.0);
  Problem left{eye, a, HostTensor(DType::f64, {5, 5})}, right{a, eye, HostTensor(DType::f64, {5, 5})};
  ASSERT_OK(run_cpu(left.desc(), left.args()));
  ASSERT_OK(run_cpu(right.desc(), right.args()));
  for (int64_t i = 0; i < 25; ++i) {
    EXPECT_EQ(left.d.get(i), a.get(i));
    EXPECT_EQ(right.d.get(i), a.get(i));
  }
}

TEST(GemmCpu, TransposedLayoutsGiveTheSameResult) {
  std::mt19937_64 rng(5);
  HostTensor a(DType::f32, {7, 5}), b(DType::f32, {5, 3});
  bt::fill_uniform(a, rng, -2, 2);
  bt::fill_uniform(b, rng, -2, 2);
  Problem rr{a, b, HostTensor(DType::f32, {7, 3})};
  ASSERT_OK(run_cpu(rr.desc(), rr.args()));
  // Column-major A and B, column-major D, padded leading dims, a negative stride: the same logical
  // matrices, so the same sums in the same order.
  const std::vector<std::vector<int64_t>> a_layouts = {{1, 7}, {1, 9}, {6, 1}, {-5, 1}};
  const std::vector<std::vector<int64_t>> b_layouts = {{1, 5}, {4, 1}, {1, 8}};
  const std::vector<std::vector<int64_t>> d_layouts = {{1, 7}, {3, 1}, {1, 10}};
  for (const auto& sa : a_layouts)
    for (const auto& sb : b_layouts)
      for (const auto& sd : d_layouts) {
        Problem p{restrided(a, sa), restrided(b, sb), HostTensor(DType::f32, {7, 3}, sd)};
        GemmDescriptor desc = p.desc();
        desc.alignment = 4;  // the negative-stride view starts inside its storage
        ASSERT_OK(run_cpu(desc, p.args()));
        for (int64_t i = 0; i < 21; ++i)
          ASSERT_EQ(p.d.get(i), rr.d.get(i)) << "A strides " << sa[0] << "," << sa[1] << " element " << i;
      }
}

TEST(GemmCpu, BroadcastBatchDims) {
  // A [2, 1, 3, 4] x B [3, 4, 2] -> D [2, 3, 3, 2]; B also given with a stride-0 batch dim.
  std::mt19937_64 rng(7);
  HostTensor a(DType::f64, {2, 1, 3, 4}), b(DType::f64, {3, 4, 2});
  bt::fill_uniform(a, rng, -2, 2, /*integer_valued=*/true);
  bt::fill_uniform(b, rng, -2, 2, true);
  Problem p{a, b, HostTensor(DType::f64, {2, 3, 3, 2})};
  ASSERT_OK(run_cpu(p.desc(), p.args()));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t m = 0; m < 3; ++m)
        for (int64_t n = 0; n < 2; ++n) {
          double want = 0;
          for (int64_t k = 0; k < 4; ++k) want += a.get((i * 3 + m) * 4 + k) * b.get((j * 4 + k) * 2 + n);
          EXPECT_EQ(p.d.get(((i * 3 + j) * 3 + m) * 2 + n), want) << i << "," << j << "," << m << "," << n;
        }

  // One B matrix repeated over a batch of 3 by a zero batch stride equals B [4, 2] broadcast.
  HostTensor b0(DType::f64, {3, 4, 2}, {0, 2, 1});
  for (int64_t i = 0; i < 8; ++i) b0.set(i, b.get(i));
  HostTensor a3(DType::f64, {3, 3, 4});
  bt::fill_uniform(a3, rng, -2, 2, true);
  Problem s{a3, b0, HostTensor(DType::f64, {3, 3, 2})};
  ASSERT_OK(run_cpu(s.desc(), s.args()));
  HostTensor b_single(DType::f64, {4, 2});
  for (int64_t i = 0; i < 8; ++i) b_single.set(i, b.get(i));
  Problem r{a3, b_single, HostTensor(DType::f64, {3, 3, 2})};
  ASSERT_OK(run_cpu(r.desc(), r.args()));
  for (int64_t i = 0; i < 18; ++i) EXPECT_EQ(s.d.get(i), r.d.get(i));
}

TEST(GemmCpu, HalfOutputsRoundOnceFromTheExactSum) {
  // 2049 + 1 + ... in f16: an f16 accumulator would lose the small terms; the exact sum rounds once.
  const int64_t K = 9;
  HostTensor a(DType::f16, {1, K}), b(DType::f16, {K, 1});
  a.set(0, 2048.0);
  b.set(0, 1.0);
  for (int64_t k = 1; k < K; ++k) {
    a.set(k, 0.5);
    b.set(k, 1.0);
  }
  Problem p{a, b, HostTensor(DType::f16, {1, 1})};
  ASSERT_OK(run_cpu(p.desc(), p.args()));
  EXPECT_EQ(p.d.get(0), 2052.0);  // 2048 + 8 * 0.5
}

// ------------------------------------------------------------------------------------------------
// Epilogues. A = I (2x2), so the product is B and every epilogue value is computed by hand here.

struct EpilogueCase {
  HostTensor a = matrix(DType::f64, {{1, 0}, {0, 1}});
  HostTensor b = matrix(DType::f64, {{-1.5, 0.25}, {2.0, -0.75}});
  HostTensor d = HostTensor(DType::f64, {2, 2});
  GemmDescriptor desc() const { return GemmDescriptor{.a = a.operand(), .b = b.operand(), .d = d.operand()}; }
};

double gelu_erf(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
}
double silu(double x) { return x / (1 + std::exp(-x)); }

TEST(GemmCpu, AlphaBetaAndBroadcastC) {
  EpilogueCase e;
  HostTensor c = matrix(DType::f64, {{10, 20}, {30, 40}});
  GemmDescriptor d = e.desc();
  d.alpha = 2.0;
  d.beta = -0.5;
  d.c = c.operand();
  ASSERT_OK(run_cpu(d, GemmArgs{.a = e.a.ref(), .b = e.b.ref(), .c = c.ref(), .d = e.d.mut()}));
  const double want[4] = {-3 - 5, 0.5 - 10, 4 - 15, -1.5 - 20};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(e.d.get(i), want[i]);

  // C of shape [2] broadcasts along rows (addmm's 1-D input).
  HostTensor c1(DType::f64, {2});
  c1.set_all({100, 200});
  d.c = c1.operand();
  d.beta = 1.0;
  d.alpha = 1.0;
  ASSERT_OK(run_cpu(d, GemmArgs{.a = e.a.ref(), .b = e.b.ref(), .c = c1.ref(), .d = e.d.mut()}));
  const double want1[4] = {98.5, 200.25, 102, 199.25};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(e.d.get(i), want1[i]);
}

TEST(GemmCpu, BetaZeroNeverReadsC) {
  EpilogueCase e;
  HostTensor c = matrix(DType::f64, {{NAN, NAN}, {NAN, NAN}});
  GemmDescriptor d = e.desc();
  d.c = c.operand();
  ASSERT_OK(run_cpu(d, GemmArgs{.a = e.a.ref(), .b = e.b.ref(), .c = c.ref(), .d = e.d.mut()}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(e.d.get(i), e.b.get(i));
}

TEST(GemmCpu, InPlaceCIsD) {
  EpilogueCase e;
  HostTensor cd = matrix(DType::f64, {{1, 2}, {3, 4}});
  GemmDescriptor d = e.desc();
  d.c = cd.operand();
  d.beta = 1.0;
  ASSERT_OK(run_cpu(d, GemmArgs{.a = e.a.ref(), .b = e.b.ref(), .c = cd.ref(), .d = cd.mut()}));
  const double want[4] = {-0.5, 2.25, 5, 3.25};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(cd.get(i), want[i]);
}

TEST(GemmCpu, BiasAlongRowsAndColumns) {
  for (GemmVectorAxis axis : {GemmVectorAxis::rows, GemmVectorAxis::columns}) {
    EpilogueCase e;
    HostTensor bias(DType::f64, {2});
    bias.set_all({10, 20});
    GemmDescriptor d = e.desc();
    d.bias = bias.operand();
    d.bias_axis = axis;
    ASSERT_OK(run_cpu(d, GemmArgs{.a = e.a.ref(), .b = e.b.ref(), .bias = bias.ref(), .d = e.d.mut()}));
    for (int64_t m = 0; m < 2; ++m)
      for (int64_t n = 0; n < 2; ++n)
        EXPECT_EQ(e.d.get(m * 2 + n), e.b.get(m * 2 + n) + bias.get(axis == GemmVectorAxis::rows ? m : n));
  }
}

TEST(GemmCpu, EveryActivationAfterBiasWithPreActivation) {
  const GemmActivation acts[] = {GemmActivation::none, GemmActivation::relu, GemmActivation::gelu_erf,
                                 GemmActivation::gelu_tanh, GemmActivation::silu};
  for (GemmActivation act : acts) {
    EpilogueCase e;
    HostTensor bias(DType::f64, {2}), pre(DType::f64, {2, 2});
    bias.set_all({0.5, -0.25});
    GemmDescriptor d = e.desc();
    d.bias = bias.operand();
    d.activation = act;
    d.pre_activation = pre.operand();
    ASSERT_OK(run_cpu(d, GemmArgs{.a = e.a.ref(), .b = e.b.ref(), .bias = bias.ref(), .d = e.d.mut(),
                                  .pre_activation = pre.mut()}));
    for (int64_t m = 0; m < 2; ++m)
      for (int64_t n = 0; n < 2; ++n) {
        const double y = e.b.get(m * 2 + n) + bias.get(n);
        double want = y;
        switch (act) {
          case GemmActivation::relu: want = y > 0 ? y : 0; break;
          case GemmActivation::gelu_erf: want = gelu_erf(y); break;
          case GemmActivation::gelu_tanh: want = gelu_tanh(y); break;
          case GemmActivation::silu: want = silu(y); break;
          default: break;
        }
        EXPECT_EQ(pre.get(m * 2 + n), y);
        EXPECT_TRUE(Close(e.d.get(m * 2 + n), want, 1e-15)) << gemm_activation_name(act) << " y=" << y;
      }
  }
}

TEST(GemmCpu, ReluPropagatesNaN) {
  EpilogueCase e;
  e.b.set(0, NAN);
  GemmDescriptor d = e.desc();
  d.activation = GemmActivation::relu;
  ASSERT_OK(run_cpu(d, GemmArgs{.a = e.a.ref(), .b = e.b.ref(), .d = e.d.mut()}));
  EXPECT_TRUE(std::isnan(e.d.get(0)));
  EXPECT_EQ(e.d.get(3), 0.0);
}

TEST(GemmCpu, BiasGradAlongRowsAndColumns) {
  // The linear backward: dW = dY^T X with A = dY^T [out=2, tokens=3], B = X [3, in=2];
  // db[o] = sum over tokens of dY = row sums of A. Column mode sums B over k.
  HostTensor a = matrix(DType::f32, {{1, 2, 3}, {-1, 0.5, 4}});
  HostTensor b = matrix(DType::f32, {{1, 0}, {0, 1}, {2, -1}});
  for (GemmVectorAxis axis : {GemmVectorAxis::rows, GemmVectorAxis::columns}) {
    HostTensor d(DType::f32, {2, 2}), db(DType::f32, {2});
    GemmDescriptor desc{.a = a.operand(), .b = b.operand(), .d = d.operand(), .bias_grad = db.operand(),
                        .bias_grad_axis = axis};
    ASSERT_OK(run_cpu(desc, GemmArgs{.a = a.ref(), .b = b.ref(), .d = d.mut(), .bias_grad = db.mut()}));
    const double want_d[4] = {7, -1, 7, -3.5};
    for (int i = 0; i < 4; ++i) EXPECT_EQ(d.get(i), want_d[i]);
    if (axis == GemmVectorAxis::rows) {
      EXPECT_EQ(db.get(0), 6.0);
      EXPECT_EQ(db.get(1), 3.5);
    } else {
      EXPECT_EQ(db.get(0), 3.0);
      EXPECT_EQ(db.get(1), 0.0);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// fp8 and int8.

TEST(GemmCpu, Fp8ScalesOutputDtypesAndAmax) {
  // A e4m3, B e5m2; y = a_scale * b_scale * A B.
  HostTensor a = matrix(DType::f8e4m3, {{1, 2, 3}, {4, 5, 6}});
  HostTensor b = matrix(DType::f8e5m2, {{7, 8}, {8, 10}, {12, 12}});
  const double prod[4] = {59, 64, 140, 154};
  HostTensor sa(DType::f32, {}), sb(DType::f32, {1});
  sa.set(0, 0.5);
  sb.set(0, 0.25);
  for (DType out : {DType::bf16, DType::f16, DType::f32}) {
    HostTensor d(out, {2, 2});
    GemmDescriptor desc{.a = a.operand(), .b = b.operand(), .d = d.operand()};
    ASSERT_OK(run_cpu(desc, GemmArgs{.a = a.ref(), .b = b.ref(), .a_scale = sa.ref(), .b_scale = sb.ref(), .d = d.mut()}));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(d.get(i), prod[i] / 8) << dtype_name(out);
  }
  // fp8 D: d_scale multiplies, amax is taken before it; 19.25 * 0.25 = 4.8125 rounds to e4m3's 5.
  HostTensor d(DType::f8e4m3, {2, 2}), sd(DType::f32, {}), amax(DType::f32, {});
  sd.set(0, 0.25);
  GemmDescriptor desc{.a = a.operand(), .b = b.operand(), .d = d.operand(), .amax = true};
  ASSERT_OK(run_cpu(desc, GemmArgs{.a = a.ref(), .b = b.ref(), .a_scale = sa.ref(), .b_scale = sb.ref(),
                                   .d_scale = sd.ref(), .d = d.mut(), .amax = amax.mut()}));
  EXPECT_EQ(amax.get(0), 154.0 / 8);
  for (int i = 0; i < 4; ++i) {
    const double want = fp8_bits_to_float(float_to_fp8_bits(prod[i] / 8 * 0.25, DType::f8e4m3), DType::f8e4m3);
    EXPECT_EQ(d.get(i), want);
  }
  EXPECT_EQ(d.get(3), 5.0);
}

TEST(GemmCpu, Int8ToInt32WithAlphaBeta) {
  HostTensor a = matrix(DType::i8, {{127, -128, 3}, {-1, 2, 100}});
  HostTensor b = matrix(DType::i8, {{127, 1}, {-128, 0}, {5, -7}});
  HostTensor c = matrix(DType::i32, {{1, 2}, {3, 4}});
  HostTensor d(DType::i32, {2, 2});
  GemmDescriptor desc{.a = a.operand(), .b = b.operand(), .c = c.operand(), .d = d.operand(), .alpha = 2, .beta = -1};
  ASSERT_OK(run_cpu(desc, GemmArgs{.a = a.ref(), .b = b.ref(), .c = c.ref(), .d = d.mut()}));
  const int64_t p[4] = {127 * 127 + 128 * 128 + 15, 127 - 21, -127 - 256 + 500, -1 - 700};
  const int64_t cv[4] = {1, 2, 3, 4};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(d.get_int(i), 2 * p[i] - cv[i]);
}

TEST(GemmCpu, EmptyProblems) {
  // K = 0: the product is 0, the epilogue still runs (beta * C + bias).
  HostTensor a(DType::f32, {2, 0}), b(DType::f32, {0, 3}), d(DType::f32, {2, 3}), c(DType::f32, {2, 3}),
      bias(DType::f32, {3});
  for (int64_t i = 0; i < 6; ++i) c.set(i, static_cast<double>(i));
  bias.set_all({1, 2, 3});
  GemmDescriptor desc{.a = a.operand(), .b = b.operand(), .c = c.operand(), .d = d.operand(), .beta = 2,
                      .bias = bias.operand()};
  ASSERT_OK(run_cpu(desc, GemmArgs{.a = a.ref(), .b = b.ref(), .c = c.ref(), .bias = bias.ref(), .d = d.mut()}));
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(d.get(i), 2.0 * static_cast<double>(i) + static_cast<double>(i % 3 + 1));
  // M = 0 and batch 0: nothing to do, null pointers are fine.
  GemmDescriptor e0{.a = Operand::tensor(DType::bf16, {0, 4}), .b = Operand::tensor(DType::bf16, {4, 5}),
                    .d = Operand::tensor(DType::bf16, {0, 5})};
  HostTensor b5(DType::bf16, {4, 5});
  ASSERT_OK(run_cpu(e0, GemmArgs{.a = *make_tensor_ref(nullptr, DType::bf16, {0, 4}), .b = b5.ref(),
                                 .d = *make_tensor_mut(nullptr, DType::bf16, {0, 5})}));
  GemmDescriptor e1{.a = Operand::tensor(DType::f32, {0, 2, 4}), .b = Operand::tensor(DType::f32, {4, 5}),
                    .d = Operand::tensor(DType::f32, {0, 2, 5})};
  HostTensor b45(DType::f32, {4, 5});
  ASSERT_OK(run_cpu(e1, GemmArgs{.a = *make_tensor_ref(nullptr, DType::f32, {0, 2, 4}), .b = b45.ref(),
                                 .d = *make_tensor_mut(nullptr, DType::f32, {0, 2, 5})}));
}

TEST(GemmCpu, SkuAndExplain) {
  Problem p = closed_form(DType::bf16, DType::bf16);
  auto plan = GemmPlan::select(Stream::cpu(), p.desc());
  ASSERT_TRUE(plan.has_value()) << plan.status().to_string();
  EXPECT_EQ(plan->sku().impl, "cpu_reference");
  EXPECT_EQ(plan->sku().dtypes, "bf16,bf16->bf16");
  EXPECT_EQ(plan->precision_guarantee().accumulator, DType::f64);
  auto cands = GemmPlan::explain(Stream::cpu(), p.desc());
  ASSERT_FALSE(cands.empty());
  EXPECT_TRUE(cands.back().chosen);
}

// ------------------------------------------------------------------------------------------------
// Errors: each quotes the values.

void expect_invalid(const GemmDescriptor& d, const std::string& needle) {
  const Status s = GemmFamily::validate(d);
  EXPECT_EQ(s.code(), StatusCode::invalid_argument) << s.to_string();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message() << "\n  (looked for: " << needle << ")";
  auto plan = GemmPlan::select(Stream::cpu(), d);
  EXPECT_FALSE(plan.has_value());
}

GemmDescriptor basic(DType t = DType::f32) {
  return {.a = Operand::tensor(t, {4, 3}), .b = Operand::tensor(t, {3, 5}), .d = Operand::tensor(t, {4, 5})};
}

TEST(GemmCpuErrors, Descriptor) {
  GemmDescriptor d = basic();
  d.b = Operand::tensor(DType::f32, {2, 5});
  expect_invalid(d, "inner dimensions disagree: A [4, 3] has K=3, B [2, 5] has K=2");

  d = basic();
  d.a = Operand::tensor(DType::f32, {2, 4, 3});
  d.b = Operand::tensor(DType::f32, {3, 3, 5});
  d.d = Operand::tensor(DType::f32, {3, 4, 5});
  expect_invalid(d, "do not broadcast (2 vs 3 at batch dim 0)");

  d = basic();
  d.b.dtype = DType::f16;
  expect_invalid(d, "unsupported dtype combination A f32, B f16 -> D f32");
  d = basic(DType::f16);
  d.d.dtype = DType::f32;
  expect_invalid(d, "unsupported dtype combination A f16, B f16 -> D f32");
  d = basic(DType::i8);
  expect_invalid(d, "the integer GEMM is i8 x i8 -> i32");
  d = basic(DType::f8e4m3);
  d.b.dtype = DType::bf16;
  expect_invalid(d, "fp8 A needs fp8 B");
  d = basic(DType::f8e4m3);
  d.d.dtype = DType::i32;
  expect_invalid(d, "an fp8 GEMM writes bf16, f16, f32, f8e4m3 or f8e5m2");
  d = basic(DType::i32);
  expect_invalid(d, "unsupported dtype combination A i32");

  d = basic();
  d.a = Operand::tensor(DType::f32, {3});
  expect_invalid(d, "need rank >= 2");
  d = basic();
  d.d = Operand::tensor(DType::f32, {5, 4});
  expect_invalid(d, "D has shape [5, 4], expected [4, 5]");

  d = basic();
  d.bias = Operand::tensor(DType::f32, {4});
  expect_invalid(d, "bias has shape [4], expected [5] (columns: one per column, N=5)");
  d.bias_axis = GemmVectorAxis::rows;
  d.bias = Operand::tensor(DType::f32, {5});
  expect_invalid(d, "bias has shape [5], expected [4] (rows: one per row, M=4)");
  d.bias = Operand::tensor(DType::f16, {4});
  expect_invalid(d, "bias must have D's dtype f32, got f16");

  d = basic();
  d.beta = 0.5;
  expect_invalid(d, "beta 0.5 needs the C operand");
  d.c = Operand::tensor(DType::f32, {3, 5});
  expect_invalid(d, "C of shape [3, 5] does not broadcast to D's shape [4, 5]");

  d = basic();
  d.pre_activation = Operand::tensor(DType::f32, {4, 4});
  expect_invalid(d, "pre_activation has shape [4, 4], expected D's shape [4, 5]");

  d = basic();
  d.a = Operand::tensor(DType::f32, {2, 4, 3});
  d.d = Operand::tensor(DType::f32, {2, 4, 5});
  d.bias_grad = Operand::tensor(DType::f32, {4});
  expect_invalid(d, "bias_grad needs a single batch entry, got batch shape [2]");

  d = basic();
  d.amax = true;
  expect_invalid(d, "amax is an output of fp8 GEMMs with an fp8 D, got D f32");
  d = basic(DType::bf16);
  d.fp8_fast_accum = true;
  expect_invalid(d, "fp8_fast_accum is an option of fp8 GEMMs, got A bf16 and B bf16");

  GemmDescriptor i8{.a = Operand::tensor(DType::i8, {4, 3}), .b = Operand::tensor(DType::i8, {3, 5}),
                    .d = Operand::tensor(DType::i32, {4, 5}), .alpha = 0.5};
  expect_invalid(i8, "integral alpha and beta (int32), got alpha 0.5, beta 0");
  i8.alpha = 1;
  i8.activation = GemmActivation::relu;
  expect_invalid(i8, "takes no bias, activation");

  d = basic();
  d.activation = static_cast<GemmActivation>(42);
  expect_invalid(d, "unknown activation id 42");
}

TEST(GemmCpuErrors, Arguments) {
  Problem p = closed_form(DType::f32, DType::f32);
  const GemmDescriptor d = p.desc();
  auto plan = GemmPlan::select(Stream::cpu(), d);
  ASSERT_TRUE(plan.has_value());
  auto expect = [&](const GemmArgs& a, StatusCode code, const std::string& needle) {
    const Status s = plan->run(Stream::cpu(), {}, a);
    EXPECT_EQ(s.code(), code) << s.to_string();
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message() << "\n  (looked for: " << needle << ")";
  };
  GemmArgs a = p.args();
  a.d.data = nullptr;
  expect(a, StatusCode::invalid_argument, "[gemm] D has a null data pointer");
  a = p.args();
  a.a.data = nullptr;
  expect(a, StatusCode::invalid_argument, "[gemm] A has a null data pointer");
  a = p.args();
  a.b = {};
  expect(a, StatusCode::invalid_argument, "[gemm] B is missing");
  HostTensor wrong(DType::f32, {3, 3});
  a = p.args();
  a.b = wrong.ref();
  expect(a, StatusCode::invalid_argument, "B has shape [3, 3], the plan expects [3, 2]");
  HostTensor bias(DType::f32, {2});
  a = p.args();
  a.bias = bias.ref();
  expect(a, StatusCode::invalid_argument, "bias is given but the descriptor has no bias");
  a = p.args();
  a.d = *make_tensor_mut(p.a.storage().data(), DType::f32, {2, 2});
  expect(a, StatusCode::invalid_argument, "D overlaps A");
  a = p.args();
  a.d.data = static_cast<char*>(a.d.data) + 2;
  expect(a, StatusCode::misaligned, "not aligned to its element size 4");
  a = p.args();
  a.d.layout.strides = {1, 2};
  expect(a, StatusCode::invalid_argument, "D has strides [1, 2], the plan expects [2, 1]");

  // fp8: every scale is required, and only where it applies.
  HostTensor a8 = matrix(DType::f8e4m3, {{1, 2}}), b8 = matrix(DType::f8e4m3, {{1}, {2}});
  HostTensor d8(DType::bf16, {1, 1}), s(DType::f32, {});
  s.set(0, 1.0);
  GemmDescriptor f8{.a = a8.operand(), .b = b8.operand(), .d = d8.operand()};
  EXPECT_OK(GemmFamily::validate(f8));
  const Status no_a = run_cpu(f8, GemmArgs{.a = a8.ref(), .b = b8.ref(), .b_scale = s.ref(), .d = d8.mut()});
  EXPECT_EQ(no_a.code(), StatusCode::invalid_argument);
  EXPECT_NE(no_a.message().find("a_scale (an f32 scalar) is required: A is f8e4m3"), std::string::npos) << no_a.message();
  const Status no_b = run_cpu(f8, GemmArgs{.a = a8.ref(), .b = b8.ref(), .a_scale = s.ref(), .d = d8.mut()});
  EXPECT_NE(no_b.message().find("b_scale (an f32 scalar) is required"), std::string::npos) << no_b.message();
  const Status extra_d = run_cpu(f8, GemmArgs{.a = a8.ref(), .b = b8.ref(), .a_scale = s.ref(), .b_scale = s.ref(),
                                              .d_scale = s.ref(), .d = d8.mut()});
  EXPECT_NE(extra_d.message().find("d_scale is given but D is bf16, not fp8"), std::string::npos) << extra_d.message();
  HostTensor d8o(DType::f8e4m3, {1, 1});
  GemmDescriptor f8o{.a = a8.operand(), .b = b8.operand(), .d = d8o.operand()};
  const Status no_d = run_cpu(f8o, GemmArgs{.a = a8.ref(), .b = b8.ref(), .a_scale = s.ref(), .b_scale = s.ref(),
                                            .d = d8o.mut()});
  EXPECT_NE(no_d.message().find("d_scale (an f32 scalar) is required: D is f8e4m3"), std::string::npos) << no_d.message();
  HostTensor s64(DType::f64, {});
  const Status wrong_scale = run_cpu(f8, GemmArgs{.a = a8.ref(), .b = b8.ref(), .a_scale = s64.ref(),
                                                  .b_scale = s.ref(), .d = d8.mut()});
  EXPECT_NE(wrong_scale.message().find("a_scale has dtype f64, the plan expects f32"), std::string::npos)
      << wrong_scale.message();
  const Status scale_on_f32 = run_cpu(d, GemmArgs{.a = p.a.ref(), .b = p.b.ref(), .a_scale = s.ref(), .d = p.d.mut()});
  EXPECT_NE(scale_on_f32.message().find("a_scale is given but A is f32, not fp8"), std::string::npos)
      << scale_on_f32.message();
}

}  // namespace
