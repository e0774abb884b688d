// The CPU reference's per-group reduction math (src/ops/reduce/ref/reduce_ref_math.cpp) checked
// against independent values: closed forms, hand-computed values, PyTorch's edge-case conventions
// (NaN propagation, empty groups, integer wrap-around, first-index ties), and every
// differentiable op's backward against a central finite difference of its forward.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest_helpers.hpp"
#include "baracuda/ops/reduce.hpp"
#include "ops/reduce/ref/reduce_ref_math.hpp"

namespace {

using Op = baracuda::ReduceOp;
namespace ref = baracuda::rd::ref;
using ref::ReduceParams;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kLn2 = 0.693147180559945309417232121458176568;
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();

struct OpRow {
  Op op;
  const char* name;
  bool differentiable;
};
constexpr OpRow kOps[] = {
#define BARACUDA_X(name, differentiable, ...) {Op::name, #name, (differentiable) != 0},
    BARACUDA_REDUCE_OPS(BARACUDA_X)
#undef BARACUDA_X
};

std::string op_name(Op op) {
  for (const auto& r : kOps) {
    if (r.op == op) return r.name;
  }
  return "op#" + std::to_string(static_cast<int>(op));
}

ReduceParams P(double correction = 1.0, double p = 2.0) {
  ReduceParams r;
  r.correction = correction;
  r.p = p;
  return r;
}
ReduceParams Corr(double c) { return P(c, 2.0); }
ReduceParams Pnorm(double p) { return P(1.0, p); }

// Both forward outputs of a floating reduction.
std::vector<double> R(Op op, const std::vector<double>& v, const ReduceParams& params = P()) {
  double out[2] = {-12345.0, -12345.0};
  ref::reduce_float(op, v.data(), static_cast<int64_t>(v.size()), params, out);
  return {out[0], out[1]};
}
double F(Op op, const std::vector<double>& v, const ReduceParams& params = P()) { return R(op, v, params)[0]; }

std::vector<int64_t> RI(Op op, const std::vector<int64_t>& v) {
  int64_t out[2] = {-777, -777};
  ref::reduce_int(op, v.data(), static_cast<int64_t>(v.size()), out);
  return {out[0], out[1]};
}
int64_t I(Op op, const std::vector<int64_t>& v) { return RI(op, v)[0]; }

std::vector<double> G(Op op, const std::vector<double>& v, std::vector<double> dy, const ReduceParams& params = P()) {
  dy.resize(2, kNaN);
  std::vector<double> dx(v.size(), -12345.0);
  ref::reduce_backward(op, v.data(), static_cast<int64_t>(v.size()), params, dy.data(), dx.data());
  return dx;
}

using bt::Close;

::testing::AssertionResult AllClose(const std::vector<double>& actual, const std::vector<double>& expected,
                                    double rtol = 1e-14, double atol = 0.0) {
  if (actual.size() != expected.size()) {
    return ::testing::AssertionFailure() << "size " << actual.size() << " vs " << expected.size();
  }
  for (size_t i = 0; i < actual.size(); ++i) {
    auto r = Close(actual[i], expected[i], rtol, atol);
    if (!r) return ::testing::AssertionFailure() << "[" << i << "] " << r.message();
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------------
// Forward: floating

TEST(ReduceRefMath, SumMeanProd) {
  std::vector<double> v;
  for (int i = 1; i <= 1000; ++i) v.push_back(i);
  EXPECT_EQ(F(Op::sum, v), 500500.0);
  EXPECT_EQ(F(Op::mean, v), 500.5);
  EXPECT_EQ(F(Op::sum, {}), 0.0);
  EXPECT_TRUE(Close(F(Op::mean, {}), kNaN));
  EXPECT_EQ(F(Op::prod, {1, 2, 3, 4}), 24.0);
  EXPECT_EQ(F(Op::prod, {1, 2, 0, 4}), 0.0);
  EXPECT_EQ(F(Op::prod, {}), 1.0);
  EXPECT_EQ(F(Op::prod, {-2, 0.5}), -1.0);
  EXPECT_TRUE(Close(F(Op::prod, {0, kInf}), kNaN));
  EXPECT_EQ(F(Op::mean, {1, 2, 3, 4}), 2.5);
}

TEST(ReduceRefMath, SumIsCompensated) {
  EXPECT_EQ(F(Op::sum, {1e16, 1.0, -1e16}), 1.0);  // a plain left-to-right sum gives 0
  EXPECT_EQ(F(Op::sum, {1.0, 1e100, 1.0, -1e100}), 2.0);
  EXPECT_EQ(F(Op::sum, std::vector<double>(10, 0.1)), 1.0);
  std::vector<double> tenth(1000000, 0.1);  // the doubles' exact sum is 100000.0000000055511...
  double naive = 0.0;
  for (double x : tenth) naive += x;
  EXPECT_NE(naive, 100000.0);  // drifts by ~1e-6
  EXPECT_EQ(F(Op::sum, tenth), 100000.0);  // correctly rounded
  EXPECT_EQ(F(Op::mean, tenth), 0.1);
  EXPECT_EQ(F(Op::nansum, {1e16, kNaN, 1.0, -1e16}), 1.0);
}

TEST(ReduceRefMath, SumNonFinite) {
  EXPECT_EQ(F(Op::sum, {1.0, kInf, 2.0}), kInf);
  EXPECT_EQ(F(Op::sum, {1.0, -kInf}), -kInf);
  EXPECT_TRUE(Close(F(Op::sum, {kInf, -kInf}), kNaN));
  EXPECT_TRUE(Close(F(Op::sum, {1.0, kNaN}), kNaN));
  EXPECT_EQ(F(Op::sum, {1e308, 1e308}), kInf);  // overflow is inf, not the compensation's NaN
  EXPECT_EQ(F(Op::sum, {-1e308, -1e308, 5.0}), -kInf);
  EXPECT_TRUE(Close(F(Op::mean, {1.0, kNaN}), kNaN));
  EXPECT_TRUE(Close(F(Op::prod, {1.0, kNaN}), kNaN));
}

TEST(ReduceRefMath, ExtremesAndNaN) {
  EXPECT_EQ(F(Op::amax, {1, 5, -3}), 5.0);
  EXPECT_EQ(F(Op::amin, {1, 5, -3}), -3.0);
  EXPECT_EQ(F(Op::amax, {-kInf, -kInf}), -kInf);
  EXPECT_TRUE(Close(F(Op::amax, {1, kNaN, 3}), kNaN));
  EXPECT_TRUE(Close(F(Op::amin, {1, kNaN, -3}), kNaN));
  EXPECT_TRUE(Close(F(Op::amax, {kInf, kNaN}), kNaN));

  auto mx = R(Op::max, {1, kNaN, 3, kNaN});
  EXPECT_TRUE(std::isnan(mx[0]));
  EXPECT_EQ(mx[1], 1.0);  // the first NaN
  auto mn = R(Op::min, {1, -2, kNaN, -5});
  EXPECT_TRUE(std::isnan(mn[0]));
  EXPECT_EQ(mn[1], 2.0);
  EXPECT_EQ(F(Op::argmax, {1, kNaN, 3, kNaN}), 1.0);
  EXPECT_EQ(F(Op::argmin, {kNaN, -1}), 0.0);
  EXPECT_EQ(F(Op::argmax, {5, 1, kNaN}), 2.0);

  // ties: the first index
  EXPECT_EQ(F(Op::argmax, {1, 3, 2, 3}), 1.0);
  EXPECT_EQ(F(Op::argmin, {2, 1, 1, 5}), 1.0);
  EXPECT_EQ(R(Op::max, {1, 3, 2, 3}), (std::vector<double>{3, 1}));
  EXPECT_EQ(R(Op::min, {4, 4}), (std::vector<double>{4, 0}));
  EXPECT_EQ(R(Op::max, {7}), (std::vector<double>{7, 0}));
  // -0 == +0: the first stays
  auto z = R(Op::max, {-0.0, 0.0});
  EXPECT_EQ(z[1], 0.0);
  EXPECT_TRUE(std::signbit(z[0]));
  EXPECT_EQ(F(Op::argmax, {-kInf, -kInf, 1}), 2.0);
  EXPECT_EQ(F(Op::argmin, {kInf, 1e308, kInf}), 1.0);
}

TEST(ReduceRefMath, VarStd) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_TRUE(Close(F(Op::var, v), 5.0 / 3.0));
  EXPECT_TRUE(Close(F(Op::var, v, Corr(0)), 1.25));
  EXPECT_TRUE(Close(F(Op::var, v, Corr(0.5)), 5.0 / 3.5));
  EXPECT_TRUE(Close(F(Op::std, v), std::sqrt(5.0 / 3.0)));
  EXPECT_TRUE(Close(F(Op::std, v, Corr(0)), std::sqrt(1.25)));
  auto vm = R(Op::var_mean, v);
  EXPECT_TRUE(Close(vm[0], 5.0 / 3.0));
  EXPECT_EQ(vm[1], 2.5);
  auto vm0 = R(Op::var_mean, v, Corr(0));
  EXPECT_TRUE(Close(vm0[0], 1.25));
  EXPECT_EQ(vm0[1], 2.5);

  // degenerate denominators: max(0, n - correction) in IEEE
  EXPECT_TRUE(Close(F(Op::var, {5}), kNaN));      // 0 / 0
  EXPECT_EQ(F(Op::var, {5}, Corr(0)), 0.0);
  EXPECT_EQ(F(Op::var, {1, 3}, Corr(2)), kInf);   // 2 / 0
  EXPECT_EQ(F(Op::var, {1, 3}, Corr(5)), kInf);   // 2 / max(0, -3)
  EXPECT_TRUE(Close(F(Op::var, {4, 4}, Corr(2)), kNaN));
  EXPECT_TRUE(Close(F(Op::std, {5}), kNaN));
  EXPECT_TRUE(Close(F(Op::var, {}), kNaN));
  EXPECT_TRUE(Close(F(Op::std, {}, Corr(0)), kNaN));
  auto vme = R(Op::var_mean, {});
  EXPECT_TRUE(std::isnan(vme[0]) && std::isnan(vme[1]));

  // constant input: exactly 0; NaN / inf propagate
  EXPECT_EQ(F(Op::var, {0.1, 0.1, 0.1, 0.1, 0.1}), 0.0);
  EXPECT_TRUE(Close(F(Op::var, {1, kNaN}), kNaN));
  EXPECT_TRUE(Close(F(Op::var, {1, kInf}), kNaN));
  // well conditioned despite a large offset (the naive E[x^2] - E[x]^2 loses everything)
  EXPECT_TRUE(Close(F(Op::var, {1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4}), 5.0 / 3.0, 1e-15));
}

TEST(ReduceRefMath, Norm) {
  const std::vector<double> v = {3, -4, 0, 12};
  EXPECT_EQ(F(Op::norm, v, Pnorm(1)), 19.0);
  EXPECT_TRUE(Close(F(Op::norm, v, Pnorm(2)), 13.0));
  EXPECT_EQ(F(Op::norm, v, Pnorm(kInf)), 12.0);
  EXPECT_EQ(F(Op::norm, v, Pnorm(-kInf)), 0.0);
  EXPECT_EQ(F(Op::norm, v, Pnorm(0)), 3.0);
  EXPECT_TRUE(Close(F(Op::norm, v, Pnorm(3)), std::cbrt(27.0 + 64.0 + 1728.0)));
  EXPECT_TRUE(Close(F(Op::norm, v, Pnorm(0.5)), std::pow(std::sqrt(3.0) + 2.0 + std::sqrt(12.0), 2.0)));
  EXPECT_EQ(F(Op::norm, v, Pnorm(-1)), 0.0);  // 1 / (... + 1/0)
  EXPECT_TRUE(Close(F(Op::norm, {1, -2, 4}, Pnorm(-1)), 1.0 / 1.75));
  EXPECT_EQ(F(Op::norm, {1, -2, 4}, Pnorm(-kInf)), 1.0);

  // scaled: no overflow / underflow of the squares
  EXPECT_TRUE(Close(F(Op::norm, {3e200, 4e200}), 5e200));
  EXPECT_TRUE(Close(F(Op::norm, {3e-200, -4e-200}), 5e-200));
  EXPECT_TRUE(Close(F(Op::norm, {1e300, 1e300}, Pnorm(3)), std::cbrt(2.0) * 1e300));
  EXPECT_TRUE(Close(F(Op::norm, {1e-300, 1e-300}, Pnorm(-2)), 1e-300 / std::sqrt(2.0)));
  EXPECT_EQ(F(Op::norm, {0, 0}), 0.0);
  EXPECT_EQ(F(Op::norm, {0, 0}, Pnorm(3)), 0.0);

  // non-finite
  EXPECT_EQ(F(Op::norm, {1, -kInf}), kInf);
  EXPECT_EQ(F(Op::norm, {1, -kInf}, Pnorm(1)), kInf);
  EXPECT_EQ(F(Op::norm, {kInf, kInf}, Pnorm(-1)), kInf);
  EXPECT_TRUE(Close(F(Op::norm, {kInf, kNaN}), kNaN));
  EXPECT_TRUE(Close(F(Op::norm, {1, kNaN}, Pnorm(kInf)), kNaN));
  EXPECT_TRUE(Close(F(Op::norm, {1, kNaN}, Pnorm(-kInf)), kNaN));
  EXPECT_TRUE(Close(F(Op::norm, {0, kNaN}, Pnorm(-1)), kNaN));
  EXPECT_EQ(F(Op::norm, {0, kNaN, 2}, Pnorm(0)), 2.0);  // NaN != 0 counts

  // empty: 0 for p >= 0, inf for p < 0 (the formula's values)
  EXPECT_EQ(F(Op::norm, {}), 0.0);
  EXPECT_EQ(F(Op::norm, {}, Pnorm(0)), 0.0);
  EXPECT_EQ(F(Op::norm, {}, Pnorm(1)), 0.0);
  EXPECT_EQ(F(Op::norm, {}, Pnorm(kInf)), 0.0);
  EXPECT_EQ(F(Op::norm, {}, Pnorm(-kInf)), kInf);
  EXPECT_EQ(F(Op::norm, {}, Pnorm(-1)), kInf);
}

TEST(ReduceRefMath, LogSumExp) {
  EXPECT_TRUE(Close(F(Op::logsumexp, {0.0, kLn2}), std::log(3.0)));
  EXPECT_TRUE(Close(F(Op::logsumexp, {1000, 1000}), 1000.0 + kLn2));
  EXPECT_TRUE(Close(F(Op::logsumexp, {-1000, -1000}), -1000.0 + kLn2));
  EXPECT_TRUE(Close(F(Op::logsumexp, {5}), 5.0));
  EXPECT_TRUE(Close(F(Op::logsumexp, {1, 2, 3}), 3.4076059644443806));
  EXPECT_EQ(F(Op::logsumexp, {-kInf, -kInf}), -kInf);
  EXPECT_EQ(F(Op::logsumexp, {-kInf, 2.0}), 2.0);
  EXPECT_EQ(F(Op::logsumexp, {kInf, 1.0}), kInf);
  EXPECT_EQ(F(Op::logsumexp, {kInf, -kInf}), kInf);
  EXPECT_TRUE(Close(F(Op::logsumexp, {kInf, kNaN}), kNaN));
  EXPECT_TRUE(Close(F(Op::logsumexp, {1.0, kNaN}), kNaN));
  EXPECT_EQ(F(Op::logsumexp, {}), -kInf);
}

TEST(ReduceRefMath, LogicalAndCounting) {
  EXPECT_EQ(F(Op::any, {0, kNaN, 0}), 1.0);
  EXPECT_EQ(F(Op::all, {0, kNaN, 0}), 0.0);
  EXPECT_EQ(F(Op::count_nonzero, {0, kNaN, 0}), 1.0);
  EXPECT_EQ(F(Op::any, {0, -0.0}), 0.0);
  EXPECT_EQ(F(Op::all, {1, kNaN, -kInf, 1e-300}), 1.0);
  EXPECT_EQ(F(Op::count_nonzero, {1, 2, 0, -3}), 3.0);
  EXPECT_EQ(F(Op::count_nonzero, {-0.0}), 0.0);
  EXPECT_EQ(F(Op::any, {}), 0.0);
  EXPECT_EQ(F(Op::all, {}), 1.0);
  EXPECT_EQ(F(Op::count_nonzero, {}), 0.0);
}

TEST(ReduceRefMath, NanSumNanMean) {
  EXPECT_EQ(F(Op::nansum, {1, kNaN, 2}), 3.0);
  EXPECT_EQ(F(Op::nanmean, {1, kNaN, 2}), 1.5);
  EXPECT_EQ(F(Op::nansum, {kNaN, kNaN}), 0.0);
  EXPECT_TRUE(Close(F(Op::nanmean, {kNaN, kNaN}), kNaN));
  EXPECT_EQ(F(Op::nansum, {}), 0.0);
  EXPECT_TRUE(Close(F(Op::nanmean, {}), kNaN));
  EXPECT_EQ(F(Op::nansum, {kInf, kNaN}), kInf);
  EXPECT_TRUE(Close(F(Op::nansum, {kInf, -kInf}), kNaN));  // only NaN inputs are skipped
  EXPECT_EQ(F(Op::nanmean, {4, kNaN, kNaN, kNaN}), 4.0);
}

// ---------------------------------------------------------------------------------------------
// Forward: integers

TEST(ReduceRefMathInt, SumProdWrap) {
  EXPECT_EQ(I(Op::sum, {1, 2, 3}), 6);
  EXPECT_EQ(I(Op::sum, {kI64Max, 1}), kI64Min);
  EXPECT_EQ(I(Op::sum, {kI64Min, -1}), kI64Max);
  EXPECT_EQ(I(Op::nansum, {kI64Max, kI64Max, 2}), 0);
  EXPECT_EQ(I(Op::prod, {2, -3, 4}), -24);
  EXPECT_EQ(I(Op::prod, {int64_t{1} << 62, 4}), 0);
  EXPECT_EQ(I(Op::prod, {kI64Max, 2}), -2);
  EXPECT_EQ(I(Op::prod, {kI64Min, -1}), kI64Min);
  EXPECT_EQ(I(Op::sum, {}), 0);
  EXPECT_EQ(I(Op::nansum, {}), 0);
  EXPECT_EQ(I(Op::prod, {}), 1);
}

TEST(ReduceRefMathInt, ExtremesIndicesLogic) {
  EXPECT_EQ(I(Op::amax, {3, -7, 9, 9}), 9);
  EXPECT_EQ(I(Op::amin, {3, -7, 9, -7}), -7);
  EXPECT_EQ(I(Op::amax, {kI64Min, kI64Min}), kI64Min);
  EXPECT_EQ(RI(Op::max, {3, 9, 1, 9}), (std::vector<int64_t>{9, 1}));
  EXPECT_EQ(RI(Op::min, {3, 1, 1, 9}), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(I(Op::argmax, {3, 9, 1, 9}), 1);
  EXPECT_EQ(I(Op::argmin, {kI64Max, kI64Min, kI64Min}), 1);
  EXPECT_EQ(I(Op::argmax, {5}), 0);
  EXPECT_EQ(I(Op::any, {0, 0, 2}), 1);
  EXPECT_EQ(I(Op::any, {0, 0}), 0);
  EXPECT_EQ(I(Op::all, {1, -1, 2}), 1);
  EXPECT_EQ(I(Op::all, {1, 0}), 0);
  EXPECT_EQ(I(Op::count_nonzero, {1, 0, kI64Min, 0}), 2);
  EXPECT_EQ(I(Op::any, {}), 0);
  EXPECT_EQ(I(Op::all, {}), 1);
  EXPECT_EQ(I(Op::count_nonzero, {}), 0);
}

TEST(ReduceRefMathInt, FloatOnlyOpsGiveZero) {
  for (Op op : {Op::mean, Op::var, Op::std, Op::var_mean, Op::norm, Op::logsumexp, Op::nanmean}) {
    EXPECT_EQ(I(op, {1, 2, 3}), 0) << op_name(op);
  }
}

// ---------------------------------------------------------------------------------------------
// Backward: known values and PyTorch's singular-point conventions

TEST(ReduceRefMathBackward, KnownValues) {
  EXPECT_TRUE(AllClose(G(Op::sum, {1, kNaN, 3}, {2}), {2, 2, 2}));
  EXPECT_TRUE(AllClose(G(Op::nansum, {1, kNaN, 3}, {2}), {2, 0, 2}));
  EXPECT_TRUE(AllClose(G(Op::mean, {1, 2, 3, 4}, {2}), {0.5, 0.5, 0.5, 0.5}));
  EXPECT_TRUE(AllClose(G(Op::nanmean, {1, kNaN, 3, kNaN}, {3}), {1.5, 0, 1.5, 0}));
  EXPECT_TRUE(AllClose(G(Op::prod, {2, 3, 4}, {1}), {12, 8, 6}));
  EXPECT_TRUE(AllClose(G(Op::prod, {2, 3, 4}, {-2}), {-24, -16, -12}));
  // var of {1,2,3,4}: mean 2.5, dvar/dx = 2 (x - mean) / (n - correction)
  EXPECT_TRUE(AllClose(G(Op::var, {1, 2, 3, 4}, {1}), {-1.0, -1.0 / 3, 1.0 / 3, 1.0}));
  EXPECT_TRUE(AllClose(G(Op::var, {1, 2, 3, 4}, {1}, Corr(0)), {-0.75, -0.25, 0.25, 0.75}));
  EXPECT_TRUE(AllClose(G(Op::var_mean, {1, 2, 3, 4}, {1, 4}, Corr(0)), {0.25, 0.75, 1.25, 1.75}));
  const double sd = std::sqrt(1.25);
  EXPECT_TRUE(AllClose(G(Op::std, {1, 2, 3, 4}, {1}, Corr(0)), {-1.5 / (4 * sd), -0.5 / (4 * sd), 0.5 / (4 * sd), 1.5 / (4 * sd)}));
  EXPECT_TRUE(AllClose(G(Op::norm, {3, -4}, {1}), {0.6, -0.8}));
  EXPECT_TRUE(AllClose(G(Op::norm, {3, -4, 0}, {2}, Pnorm(1)), {2, -2, 0}));
  EXPECT_TRUE(AllClose(G(Op::norm, {3, -4, 1}, {1}, Pnorm(kInf)), {0, -1, 0}));
  EXPECT_TRUE(AllClose(G(Op::norm, {3, -4, 1}, {1}, Pnorm(-kInf)), {0, 0, 1}));
  EXPECT_TRUE(AllClose(G(Op::norm, {3, -4, 1}, {1}, Pnorm(0)), {0, 0, 0}));
  // p = 3: sign(x) (|x| / norm)^2
  const double n3 = std::cbrt(27.0 + 64.0);
  EXPECT_TRUE(AllClose(G(Op::norm, {3, -4}, {1}, Pnorm(3)), {9 / (n3 * n3), -16 / (n3 * n3)}, 1e-14));
  // logsumexp: softmax
  EXPECT_TRUE(AllClose(G(Op::logsumexp, {0, kLn2}, {3}), {1, 2}, 1e-14));
  EXPECT_TRUE(AllClose(G(Op::logsumexp, {1000, 1000}, {1}), {0.5, 0.5}, 1e-14));
}

TEST(ReduceRefMathBackward, ProdWithZerosIsExact) {
  EXPECT_TRUE(AllClose(G(Op::prod, {2, 0, 3}, {1}), {0, 6, 0}));
  EXPECT_TRUE(AllClose(G(Op::prod, {0, 5}, {2}), {10, 0}));
  EXPECT_TRUE(AllClose(G(Op::prod, {0, 2, 0}, {1}), {0, 0, 0}));
  EXPECT_TRUE(AllClose(G(Op::prod, {0, 0}, {1}), {0, 0}));
  EXPECT_TRUE(AllClose(G(Op::prod, {7}, {3}), {3}));
  // the product of the others, even where result / x would overflow or be inf / inf
  EXPECT_TRUE(AllClose(G(Op::prod, {1e200, 1e200, 1e-200}, {1}), {1.0, 1.0, kInf}));
  EXPECT_TRUE(AllClose(G(Op::prod, {2, kInf}, {1}), {kInf, 2}));
}

TEST(ReduceRefMathBackward, ExtremesSplitAmongTies) {
  // amax/amin (PyTorch's amax rule): the gradient is shared evenly among the tied extremes.
  EXPECT_TRUE(AllClose(G(Op::amax, {1, 3, 3, 2}, {1}), {0, 0.5, 0.5, 0}));
  EXPECT_TRUE(AllClose(G(Op::amax, {3, 3, 3}, {3}), {1, 1, 1}));
  EXPECT_TRUE(AllClose(G(Op::amax, {1, 5, 2}, {2}), {0, 2, 0}));
  // a NaN result: the NaN positions share it
  EXPECT_TRUE(AllClose(G(Op::amax, {1, kNaN, 9, kNaN}, {1}), {0, 0.5, 0, 0.5}));
  EXPECT_TRUE(AllClose(G(Op::amax, {-0.0, 0.0}, {1}), {0.5, 0.5}));
  EXPECT_TRUE(AllClose(G(Op::amin, {1, -3, 2, -3, -3}, {6}), {0, 2, 0, 2, 2}));
  EXPECT_TRUE(AllClose(G(Op::amin, {kNaN, -3}, {1}), {1, 0}));
  // max/min (PyTorch's max(dim) rule): all of it goes to the returned index (the first extreme,
  // the first NaN).
  EXPECT_TRUE(AllClose(G(Op::max, {1, 3, 3, 2}, {1}), {0, 1, 0, 0}));
  EXPECT_TRUE(AllClose(G(Op::max, {3, 3, 3}, {3}), {3, 0, 0}));
  EXPECT_TRUE(AllClose(G(Op::max, {1, kNaN, 9, kNaN}, {1}), {0, 1, 0, 0}));
  EXPECT_TRUE(AllClose(G(Op::min, {1, -3, 2, -3, -3}, {6}), {0, 6, 0, 0, 0}));
  EXPECT_TRUE(AllClose(G(Op::min, {kNaN, -3}, {1}), {1, 0}));
  EXPECT_TRUE(AllClose(G(Op::amax, {-kInf, -kInf}, {1}), {0.5, 0.5}));
  // norm p = +-inf: split among |x| == norm, with x's sign
  EXPECT_TRUE(AllClose(G(Op::norm, {-3, 3, 1}, {1}, Pnorm(kInf)), {-0.5, 0.5, 0}));
  EXPECT_TRUE(AllClose(G(Op::norm, {-1, 3, 1, 2}, {4}, Pnorm(-kInf)), {-2, 0, 2, 0}));
}

TEST(ReduceRefMathBackward, SingularPointsFollowPyTorch) {
  // var with n - correction <= 0: dy * (x == mean ? NaN : inf)
  EXPECT_TRUE(AllClose(G(Op::var, {5}, {1}), {kNaN}));
  EXPECT_TRUE(AllClose(G(Op::var, {1, 3}, {1}, Corr(2)), {kInf, kInf}));
  EXPECT_TRUE(AllClose(G(Op::var, {1, 3}, {-1}, Corr(2)), {-kInf, -kInf}));
  EXPECT_TRUE(AllClose(G(Op::var, {1, 2, 3}, {1}, Corr(3)), {kInf, kNaN, kInf}));
  // std: the incoming gradient is masked to 0 where std == 0 (std_backward's masked_fill)
  EXPECT_TRUE(AllClose(G(Op::std, {2, 2, 2}, {1}), {0, 0, 0}));
  EXPECT_TRUE(AllClose(G(Op::std, {2, 2, 2}, {1}, Corr(0)), {0, 0, 0}));
  EXPECT_TRUE(AllClose(G(Op::std, {5}, {1}), {kNaN}));  // std = NaN (0 / 0)
  // var_mean: mean's part unaffected by var's degenerate constant input
  EXPECT_TRUE(AllClose(G(Op::var_mean, {2, 2}, {1, 4}), {2, 2}));
  // norm: zero vector and zero elements
  EXPECT_TRUE(AllClose(G(Op::norm, {0, 0}, {1}), {0, 0}));
  EXPECT_TRUE(AllClose(G(Op::norm, {0, 0}, {1}, Pnorm(3)), {0, 0}));
  EXPECT_TRUE(AllClose(G(Op::norm, {0, 2}, {1}, Pnorm(0.5)), {0, 1}));  // 0 where x == 0 (p < 1)
  EXPECT_TRUE(AllClose(G(Op::norm, {0, 2}, {1}, Pnorm(-1)), {0, 0}));   // norm == 0
  EXPECT_TRUE(AllClose(G(Op::norm, {0, 0}, {1}, Pnorm(1)), {0, 0}));
  // huge p-norm gradient without overflowing norm^(p-1)
  EXPECT_TRUE(AllClose(G(Op::norm, {3e200, 4e200}, {1}, Pnorm(2)), {0.6, 0.8}, 1e-14));
  EXPECT_TRUE(AllClose(G(Op::norm, {1e300, 1e300}, {1}, Pnorm(3)), {std::pow(2.0, -2.0 / 3), std::pow(2.0, -2.0 / 3)}, 1e-14));
  // logsumexp
  EXPECT_TRUE(AllClose(G(Op::logsumexp, {-kInf, 0}, {1}), {0, 1}));
  EXPECT_TRUE(AllClose(G(Op::logsumexp, {-kInf, -kInf}, {1}), {kNaN, kNaN}));
}

TEST(ReduceRefMathBackward, NonDifferentiableOpsLeaveNaN) {
  for (const auto& r : kOps) {
    if (r.differentiable) continue;
    auto dx = G(r.op, {1, 2, 3}, {1});
    for (double d : dx) EXPECT_TRUE(std::isnan(d)) << r.name;
  }
}

TEST(ReduceRefMathBackward, EmptyGroupWritesNothing) {
  for (const auto& r : kOps) {
    double dy[2] = {1, 1};
    double sentinel = -5.0;
    ref::reduce_backward(r.op, nullptr, 0, P(), dy, &sentinel);
    EXPECT_EQ(sentinel, -5.0) << r.name;
  }
}

// ---------------------------------------------------------------------------------------------
// Backward against central finite differences, for every differentiable op

struct FdCase {
  Op op;
  ReduceParams params;
  const char* what;
};

// Loss = sum_k dy_k * out_k over the op's floating results (max/min: the value only).
double loss(Op op, const std::vector<double>& v, const ReduceParams& params, const double* dy) {
  const auto out = R(op, v, params);
  return op == Op::var_mean ? dy[0] * out[0] + dy[1] * out[1] : dy[0] * out[0];
}

// Random data away from ties and kinks: distinct magnitudes (spaced by at least 0.05), bounded
// away from 0, random signs.
std::vector<double> kinkless(std::mt19937_64& rng, size_t n, bool positive) {
  std::uniform_real_distribution<double> jitter(0.0, 0.04);
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 0.3 + 0.05 * static_cast<double>(i) + jitter(rng);
  std::shuffle(v.begin(), v.end(), rng);
  if (!positive) {
    std::bernoulli_distribution neg(0.5);
    for (double& x : v) {
      if (neg(rng)) x = -x;
    }
  }
  return v;
}

TEST(ReduceRefMathBackward, MatchesCentralDifferences) {
  const std::vector<FdCase> cases = {
      {Op::sum, P(), "sum"},
      {Op::mean, P(), "mean"},
      {Op::prod, P(), "prod"},
      {Op::amax, P(), "amax"},
      {Op::amin, P(), "amin"},
      {Op::max, P(), "max"},
      {Op::min, P(), "min"},
      {Op::var, Corr(1), "var c=1"},
      {Op::var, Corr(0), "var c=0"},
      {Op::var, Corr(0.5), "var c=0.5"},
      {Op::std, Corr(1), "std c=1"},
      {Op::std, Corr(0), "std c=0"},
      {Op::var_mean, Corr(1), "var_mean c=1"},
      {Op::var_mean, Corr(0), "var_mean c=0"},
      {Op::norm, Pnorm(2), "norm p=2"},
      {Op::norm, Pnorm(1), "norm p=1"},
      {Op::norm, Pnorm(3), "norm p=3"},
      {Op::norm, Pnorm(1.5), "norm p=1.5"},
      {Op::norm, Pnorm(0.5), "norm p=0.5"},
      {Op::norm, Pnorm(-1), "norm p=-1"},
      {Op::norm, Pnorm(-2.5), "norm p=-2.5"},
      {Op::norm, Pnorm(kInf), "norm p=inf"},
      {Op::norm, Pnorm(-kInf), "norm p=-inf"},
      {Op::norm, Pnorm(0), "norm p=0"},
      {Op::logsumexp, P(), "logsumexp"},
      {Op::nansum, P(), "nansum"},
      {Op::nanmean, P(), "nanmean"},
  };
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> gdist(-2.0, 2.0);
  int checked = 0;
  for (const auto& c : cases) {
    for (size_t n : {1, 2, 3, 5, 8, 17, 64}) {
      if ((c.op == Op::var || c.op == Op::std || c.op == Op::var_mean) && static_cast<double>(n) <= c.params.correction) continue;
      if (c.op == Op::std && n == 1) continue;  // std == 0: a kink (sqrt at 0)
      for (int trial = 0; trial < 3; ++trial) {
        const bool positive = trial == 2;
        std::vector<double> v = kinkless(rng, n, positive);
        if (c.op == Op::prod || c.op == Op::logsumexp) {
          for (double& x : v) x *= 2.5;  // products away from 1
        }
        const double dy[2] = {gdist(rng), gdist(rng)};
        const auto dx = G(c.op, v, {dy[0], dy[1]}, c.params);
        for (size_t i = 0; i < n; ++i) {
          const double h = 1e-6 * std::max(1.0, std::fabs(v[i]));
          std::vector<double> vp = v, vm = v;
          vp[i] += h;
          vm[i] -= h;
          const double fd = (loss(c.op, vp, c.params, dy) - loss(c.op, vm, c.params, dy)) / (2 * h);
          const double scale = std::max({1.0, std::fabs(fd), std::fabs(loss(c.op, v, c.params, dy))});
          EXPECT_NEAR(dx[i], fd, 2e-7 * scale) << c.what << " n=" << n << " trial " << trial << " i=" << i;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

TEST(ReduceRefMathBackward, NanOpsMatchCentralDifferencesAroundNaN) {
  // nansum / nanmean: the non-NaN elements behave like sum / mean over them; NaN positions get 0.
  const std::vector<double> v = {0.7, kNaN, -1.3, 2.1, kNaN};
  const double dy[2] = {1.7, 0};
  for (Op op : {Op::nansum, Op::nanmean}) {
    const auto dx = G(op, v, {dy[0]});
    for (size_t i = 0; i < v.size(); ++i) {
      if (std::isnan(v[i])) {
        EXPECT_EQ(dx[i], 0.0) << op_name(op);
        continue;
      }
      const double h = 1e-6;
      auto vp = v, vm = v;
      vp[i] += h;
      vm[i] -= h;
      const double fd = (loss(op, vp, P(), dy) - loss(op, vm, P(), dy)) / (2 * h);
      EXPECT_NEAR(dx[i], fd, 1e-8) << op_name(op) << " i=" << i;
    }
  }
}

TEST(ReduceRefMathBackward, TableCoversEveryDifferentiableOp) {
  const std::set<Op> covered = {Op::sum,  Op::mean, Op::prod,     Op::amax,     Op::amin,      Op::max,
                                Op::min,  Op::var,  Op::std,      Op::var_mean, Op::norm,      Op::logsumexp,
                                Op::nansum, Op::nanmean};
  for (const auto& r : kOps) {
    EXPECT_EQ(covered.count(r.op) == 1, r.differentiable) << r.name;
  }
}

}  // namespace
