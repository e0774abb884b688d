// The CPU reference's per-element math (src/ops/elementwise/ref/ref_math.cpp) checked against
// independent values: closed forms, constants (computed with mpmath at 30 digits where no closed
// form exists), identities, PyTorch's edge-case conventions, and every differentiable op's
// backward against a central finite difference of its forward.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gtest_helpers.hpp"
#include "baracuda/ops/elementwise.hpp"
#include "ops/elementwise/ref/ref_math.hpp"

namespace {

using baracuda::Direction;
using baracuda::ElementwiseAttrs;
using Op = baracuda::ElementwiseOp;
namespace ref = baracuda::ew::ref;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kPi = 3.14159265358979323846264338327950288;
constexpr double kE = 2.71828182845904523536028747135266250;
constexpr double kLn2 = 0.693147180559945309417232121458176568;
constexpr double kEulerGamma = 0.577215664901532860606512090082402431;
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();

// Op names straight from the op table (no library dependency).
std::string op_name(Op op) {
  static const char* const kNames[] = {
#define BARACUDA_X(name, ...) #name,
      BARACUDA_ELEMENTWISE_OPS(BARACUDA_X)
#undef BARACUDA_X
  };
  const auto i = static_cast<size_t>(op);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "op#" + std::to_string(i);
}

ElementwiseAttrs Attrs() { return {}; }

// Forward of a floating op; inputs in kernel order.
double F(Op op, const std::vector<double>& in, const ElementwiseAttrs& at = Attrs()) {
  double buf[4] = {kNaN, kNaN, kNaN, kNaN};
  std::copy(in.begin(), in.end(), buf);
  double out[3] = {-12345.0, -12345.0, -12345.0};
  ref::eval_float(op, Direction::forward, at, buf, out);
  return out[0];
}

// Backward of a floating op: gradients of the forward inputs.
std::array<double, 3> G(Op op, double dy, const std::vector<double>& x, const ElementwiseAttrs& at = Attrs()) {
  double buf[4] = {dy, kNaN, kNaN, kNaN};
  std::copy(x.begin(), x.end(), buf + 1);
  std::array<double, 3> out = {-12345.0, -12345.0, -12345.0};
  ref::eval_float(op, Direction::backward, at, buf, out.data());
  return out;
}

// Forward of an integer op.
int64_t I(Op op, const std::vector<int64_t>& in, const ElementwiseAttrs& at = Attrs()) {
  int64_t buf[4] = {0, 0, 0, 0};
  std::copy(in.begin(), in.end(), buf);
  int64_t out[3] = {-777, -777, -777};
  ref::eval_int(op, at, buf, out);
  return out[0];
}

using bt::Close;

// ---------------------------------------------------------------------------------------------
// Forward: unary math

TEST(RefMathForward, ExpLogFamily) {
  EXPECT_TRUE(Close(F(Op::exp, {1.0}), kE));
  EXPECT_TRUE(Close(F(Op::exp, {0.0}), 1.0));
  EXPECT_TRUE(Close(F(Op::exp2, {10.0}), 1024.0));
  EXPECT_TRUE(Close(F(Op::exp2, {-1.0}), 0.5));
  EXPECT_TRUE(Close(F(Op::expm1, {1e-10}), 1.00000000005e-10));  // exp(x)-1 would lose digits
  EXPECT_TRUE(Close(F(Op::expm1, {1.0}), kE - 1.0));
  EXPECT_TRUE(Close(F(Op::log, {kE}), 1.0));
  EXPECT_TRUE(Close(F(Op::log, {0.0}), -kInf));
  EXPECT_TRUE(Close(F(Op::log, {-1.0}), kNaN));
  EXPECT_TRUE(Close(F(Op::log2, {8.0}), 3.0));
  EXPECT_TRUE(Close(F(Op::log10, {1000.0}), 3.0));
  EXPECT_TRUE(Close(F(Op::log1p, {1e-10}), 9.9999999995e-11));
  EXPECT_TRUE(Close(F(Op::log1p, {kE - 1.0}), 1.0));
  EXPECT_TRUE(Close(F(Op::sqrt, {2.0}), 1.4142135623730951));
  EXPECT_TRUE(Close(F(Op::sqrt, {-1.0}), kNaN));
  EXPECT_TRUE(Close(F(Op::rsqrt, {4.0}), 0.5));
  EXPECT_TRUE(Close(F(Op::rsqrt, {0.0}), kInf));
  EXPECT_TRUE(Close(F(Op::reciprocal, {4.0}), 0.25));
  EXPECT_TRUE(Close(F(Op::reciprocal, {-0.0}), -kInf));
}

TEST(RefMathForward, Trigonometric) {
  EXPECT_TRUE(Close(F(Op::sin, {kPi / 6}), 0.5, 1e-15));
  EXPECT_TRUE(Close(F(Op::cos, {kPi / 3}), 0.5, 1e-15));
  EXPECT_TRUE(Close(F(Op::tan, {kPi / 4}), 1.0, 1e-15));
  EXPECT_TRUE(Close(F(Op::asin, {0.5}), kPi / 6));
  EXPECT_TRUE(Close(F(Op::acos, {0.5}), kPi / 3));
  EXPECT_TRUE(Close(F(Op::atan, {1.0}), kPi / 4));
  EXPECT_TRUE(Close(F(Op::asin, {1.5}), kNaN));
  EXPECT_TRUE(Close(F(Op::sinh, {1.0}), (kE - 1 / kE) / 2));
  EXPECT_TRUE(Close(F(Op::cosh, {1.0}), (kE + 1 / kE) / 2));
  EXPECT_TRUE(Close(F(Op::tanh, {1.0}), 0.76159415595576488812));
  EXPECT_TRUE(Close(F(Op::asinh, {1.0}), 0.88137358701954302523));
  EXPECT_TRUE(Close(F(Op::acosh, {2.0}), 1.3169578969248167086));
  EXPECT_TRUE(Close(F(Op::acosh, {0.5}), kNaN));
  EXPECT_TRUE(Close(F(Op::atanh, {0.5}), 0.5493061443340548457));
  EXPECT_TRUE(Close(F(Op::atanh, {1.0}), kInf));
}

TEST(RefMathForward, ErrorFunctions) {
  EXPECT_TRUE(Close(F(Op::erf, {0.5}), 0.52049987781304653768));
  EXPECT_TRUE(Close(F(Op::erf, {0.0}), 0.0));
  EXPECT_TRUE(Close(F(Op::erfc, {0.5}), 0.47950012218695346232));
  EXPECT_TRUE(Close(F(Op::erfinv, {0.5}), 0.47693627620446987338));
  EXPECT_TRUE(Close(F(Op::erfinv, {0.9}), 1.1630871536766741628));
  // erfinv is ill-conditioned near +-1: the references are for the double nearest the decimal
  EXPECT_TRUE(Close(F(Op::erfinv, {-0.999999}), -3.4589107372754987775, 1e-15));
  EXPECT_TRUE(Close(F(Op::erfinv, {std::nextafter(1.0, 0.0)}), 5.863584748755167927208, 1e-15));
  EXPECT_TRUE(Close(F(Op::erfinv, {1.0}), kInf));
  EXPECT_TRUE(Close(F(Op::erfinv, {-1.0}), -kInf));
  EXPECT_TRUE(Close(F(Op::erfinv, {1.5}), kNaN));
  EXPECT_TRUE(Close(F(Op::erfinv, {kNaN}), kNaN));
  EXPECT_EQ(F(Op::erfinv, {0.0}), 0.0);
  EXPECT_TRUE(std::signbit(F(Op::erfinv, {-0.0})));
}

TEST(RefMathForward, GammaFamily) {
  EXPECT_TRUE(Close(F(Op::lgamma, {0.5}), std::log(std::sqrt(kPi))));
  EXPECT_TRUE(Close(F(Op::lgamma, {1.0}), 0.0, 0, 1e-15));
  EXPECT_TRUE(Close(F(Op::lgamma, {3.0}), kLn2));
  EXPECT_TRUE(Close(F(Op::lgamma, {-2.5}), -0.056243716497674050673, 1e-13));
  EXPECT_TRUE(Close(F(Op::lgamma, {0.0}), kInf));
  EXPECT_TRUE(Close(F(Op::lgamma, {-3.0}), kInf));

  EXPECT_TRUE(Close(F(Op::digamma, {1.0}), -kEulerGamma, 1e-14));
  EXPECT_TRUE(Close(F(Op::digamma, {2.0}), 1.0 - kEulerGamma, 1e-14));
  EXPECT_TRUE(Close(F(Op::digamma, {0.5}), -1.9635100260214234794, 1e-14));
  EXPECT_TRUE(Close(F(Op::digamma, {-0.5}), 0.036489973978576520559, 1e-13));
  EXPECT_TRUE(Close(F(Op::digamma, {-2.7}), -1.1153471291406869883, 1e-13));
  EXPECT_TRUE(Close(F(Op::digamma, {10.0}), 2.2517525890667211076, 1e-15));
  EXPECT_TRUE(Close(F(Op::digamma, {100.0}), 4.6001618527380874002, 1e-15));
  EXPECT_TRUE(Close(F(Op::digamma, {1e-8}), -100000000.57721564845, 1e-15));
  EXPECT_TRUE(Close(F(Op::digamma, {1.4616321449683623}), 0.0, 0, 2e-15));  // near the positive root
  // PyTorch's conventions: psi(+0) = -inf, psi(-0) = +inf, negative integers NaN.
  EXPECT_TRUE(Close(F(Op::digamma, {0.0}), -kInf));
  EXPECT_TRUE(Close(F(Op::digamma, {-0.0}), kInf));
  EXPECT_TRUE(Close(F(Op::digamma, {-1.0}), kNaN));
  EXPECT_TRUE(Close(F(Op::digamma, {-4.0}), kNaN));
  EXPECT_TRUE(Close(F(Op::digamma, {kInf}), kInf));
  EXPECT_TRUE(Close(F(Op::digamma, {-kInf}), kNaN));
}

TEST(RefMathForward, SigmoidLogit) {
  EXPECT_EQ(F(Op::sigmoid, {0.0}), 0.5);
  EXPECT_TRUE(Close(F(Op::sigmoid, {1.0}), 1.0 / (1.0 + 1.0 / kE)));
  EXPECT_TRUE(Close(F(Op::sigmoid, {-800.0}), 0.0, 0, 1e-300));  // no overflow
  EXPECT_EQ(F(Op::sigmoid, {800.0}), 1.0);
  EXPECT_TRUE(Close(F(Op::sigmoid, {kNaN}), kNaN));
  EXPECT_TRUE(Close(F(Op::logit, {0.5}), 0.0, 0, 1e-16));
  EXPECT_TRUE(Close(F(Op::logit, {0.75}), std::log(3.0)));
  EXPECT_TRUE(Close(F(Op::logit, {0.0}), -kInf));
  EXPECT_TRUE(Close(F(Op::logit, {1.5}), kNaN));
  ElementwiseAttrs eps;
  eps.eps = 0.25;
  EXPECT_TRUE(Close(F(Op::logit, {0.01}, eps), -std::log(3.0)));  // clamped to 0.25
  EXPECT_TRUE(Close(F(Op::logit, {0.99}, eps), std::log(3.0)));   // clamped to 0.75
  EXPECT_TRUE(Close(F(Op::logit, {0.5}, eps), 0.0, 0, 1e-16));
}

// ---------------------------------------------------------------------------------------------
// Forward: dtype-preserving unary ops

TEST(RefMathForward, SignAbsRounding) {
  EXPECT_EQ(F(Op::abs, {-2.5}), 2.5);
  EXPECT_EQ(F(Op::neg, {2.5}), -2.5);
  EXPECT_EQ(F(Op::sign, {-3.0}), -1.0);
  EXPECT_EQ(F(Op::sign, {4.0}), 1.0);
  EXPECT_EQ(F(Op::sign, {0.0}), 0.0);
  EXPECT_EQ(F(Op::sign, {kNaN}), 0.0);  // (0 < x) - (x < 0)
  EXPECT_EQ(F(Op::square, {-3.0}), 9.0);
  EXPECT_EQ(F(Op::floor, {-2.5}), -3.0);
  EXPECT_EQ(F(Op::ceil, {-2.5}), -2.0);
  EXPECT_EQ(F(Op::trunc, {-2.7}), -2.0);
  // round: half to even
  EXPECT_EQ(F(Op::round, {2.5}), 2.0);
  EXPECT_EQ(F(Op::round, {3.5}), 4.0);
  EXPECT_EQ(F(Op::round, {-2.5}), -2.0);
  EXPECT_EQ(F(Op::round, {0.5}), 0.0);
  EXPECT_EQ(F(Op::round, {2.6}), 3.0);
  EXPECT_EQ(F(Op::frac, {-2.75}), -0.75);
  EXPECT_EQ(F(Op::frac, {3.25}), 0.25);
  EXPECT_TRUE(Close(F(Op::frac, {kInf}), kNaN));
}

// ---------------------------------------------------------------------------------------------
// Forward: activations

TEST(RefMathForward, ReluFamily) {
  EXPECT_EQ(F(Op::relu, {-1.0}), 0.0);
  EXPECT_EQ(F(Op::relu, {2.0}), 2.0);
  EXPECT_TRUE(Close(F(Op::relu, {kNaN}), kNaN));
  EXPECT_EQ(F(Op::relu6, {7.0}), 6.0);
  EXPECT_EQ(F(Op::relu6, {-7.0}), 0.0);
  EXPECT_EQ(F(Op::relu6, {3.0}), 3.0);
  EXPECT_TRUE(Close(F(Op::relu6, {kNaN}), kNaN));
  EXPECT_TRUE(Close(F(Op::leaky_relu, {-2.0}), -0.02));
  ElementwiseAttrs slope;
  slope.negative_slope = 0.2;
  EXPECT_TRUE(Close(F(Op::leaky_relu, {-2.0}, slope), -0.4));
  EXPECT_EQ(F(Op::leaky_relu, {3.0}, slope), 3.0);
  ElementwiseAttrs ht;
  ht.min_val = -2.0;
  ht.max_val = 0.5;
  EXPECT_EQ(F(Op::hardtanh, {-3.0}, ht), -2.0);
  EXPECT_EQ(F(Op::hardtanh, {1.0}, ht), 0.5);
  EXPECT_EQ(F(Op::hardtanh, {0.25}, ht), 0.25);
  EXPECT_EQ(F(Op::hardtanh, {5.0}), 1.0);
}

TEST(RefMathForward, ExponentialUnits) {
  EXPECT_TRUE(Close(F(Op::elu, {-1.0}), 1 / kE - 1));
  EXPECT_EQ(F(Op::elu, {2.0}), 2.0);
  ElementwiseAttrs alpha;
  alpha.alpha = 2.0;
  EXPECT_TRUE(Close(F(Op::elu, {-1.0}, alpha), 2 * (1 / kE - 1)));
  // selu constants (Klambauer et al.)
  EXPECT_TRUE(Close(F(Op::selu, {1.0}), 1.0507009873554804934));
  EXPECT_TRUE(Close(F(Op::selu, {-1.0}), -1.1113307378125627618));
  EXPECT_TRUE(Close(F(Op::selu, {-1000.0}), -1.0507009873554804934 * 1.6732632423543772848));
  EXPECT_TRUE(Close(F(Op::celu, {-1.0}, alpha), 2 * (std::exp(-0.5) - 1)));
  EXPECT_EQ(F(Op::celu, {3.0}, alpha), 3.0);
  EXPECT_TRUE(Close(F(Op::celu, {-1.0}), 1 / kE - 1));  // alpha = 1: same as elu
}

TEST(RefMathForward, SmoothGates) {
  EXPECT_TRUE(Close(F(Op::gelu, {1.0}), 0.84134474606854294859));
  EXPECT_TRUE(Close(F(Op::gelu, {-1.0}), -0.15865525393145705141));
  EXPECT_TRUE(Close(F(Op::gelu, {-10.0}), -7.619853024160526066e-23, 1e-12));  // no cancellation
  EXPECT_EQ(F(Op::gelu, {0.0}), 0.0);
  EXPECT_TRUE(Close(F(Op::gelu_tanh, {1.0}), 0.84119199060827670478));
  EXPECT_TRUE(Close(F(Op::gelu_tanh, {-1.0}), 0.84119199060827670478 - 1.0, 1e-14));  // f(x)-f(-x)=x
  EXPECT_TRUE(Close(F(Op::silu, {1.0}), 0.73105857863000487925));
  EXPECT_TRUE(Close(F(Op::silu, {-1.0}), 0.73105857863000487925 - 1.0, 1e-14));
  EXPECT_TRUE(Close(F(Op::mish, {1.0}), 0.86509838826731034612));
  EXPECT_TRUE(Close(F(Op::mish, {50.0}), 50.0));
  EXPECT_TRUE(Close(F(Op::mish, {-50.0}), -50.0 * std::tanh(std::log1p(std::exp(-50.0)))));
}

TEST(RefMathForward, Softplus) {
  EXPECT_TRUE(Close(F(Op::softplus, {0.0}), kLn2));
  EXPECT_TRUE(Close(F(Op::softplus, {1.0}), std::log(1 + kE)));
  EXPECT_EQ(F(Op::softplus, {30.0}), 30.0);  // beta x > threshold: linear
  ElementwiseAttrs at;
  at.beta = 2.0;
  at.threshold = 5.0;
  EXPECT_TRUE(Close(F(Op::softplus, {1.0}, at), std::log(1 + kE * kE) / 2));
  EXPECT_EQ(F(Op::softplus, {3.0}, at), 3.0);
  EXPECT_TRUE(Close(F(Op::softplus, {-40.0}), std::exp(-40.0), 1e-14));
}

TEST(RefMathForward, HardAndShrink) {
  EXPECT_EQ(F(Op::softsign, {3.0}), 0.75);
  EXPECT_EQ(F(Op::softsign, {-1.0}), -0.5);
  EXPECT_EQ(F(Op::hardsigmoid, {0.0}), 0.5);
  EXPECT_EQ(F(Op::hardsigmoid, {3.0}), 1.0);
  EXPECT_EQ(F(Op::hardsigmoid, {-4.0}), 0.0);
  EXPECT_TRUE(Close(F(Op::hardsigmoid, {1.5}), 0.75));
  EXPECT_TRUE(Close(F(Op::hardsigmoid, {kNaN}), kNaN));
  EXPECT_TRUE(Close(F(Op::hardswish, {1.0}), 4.0 / 6.0));
  EXPECT_EQ(F(Op::hardswish, {-4.0}), 0.0);
  EXPECT_EQ(F(Op::hardswish, {4.0}), 4.0);
  EXPECT_TRUE(Close(F(Op::tanhshrink, {1.0}), 1.0 - 0.76159415595576488812, 1e-14));
  EXPECT_EQ(F(Op::softshrink, {1.0}), 0.5);
  EXPECT_EQ(F(Op::softshrink, {-1.0}), -0.5);
  EXPECT_EQ(F(Op::softshrink, {0.3}), 0.0);
  EXPECT_TRUE(Close(F(Op::softshrink, {kNaN}), kNaN));
  EXPECT_EQ(F(Op::hardshrink, {0.3}), 0.0);
  EXPECT_EQ(F(Op::hardshrink, {-0.7}), -0.7);
  EXPECT_EQ(F(Op::hardshrink, {0.5}), 0.0);  // |x| <= lambd
  ElementwiseAttrs th;
  th.threshold = 1.0;
  th.value = -5.0;
  EXPECT_EQ(F(Op::threshold, {0.5}, th), -5.0);
  EXPECT_EQ(F(Op::threshold, {1.0}, th), -5.0);
  EXPECT_EQ(F(Op::threshold, {1.5}, th), 1.5);
  EXPECT_TRUE(Close(F(Op::threshold, {kNaN}, th), kNaN));
}

// ---------------------------------------------------------------------------------------------
// Forward: predicates

TEST(RefMathForward, Predicates) {
  EXPECT_EQ(F(Op::isnan, {kNaN}), 1.0);
  EXPECT_EQ(F(Op::isnan, {kInf}), 0.0);
  EXPECT_EQ(F(Op::isinf, {-kInf}), 1.0);
  EXPECT_EQ(F(Op::isinf, {1.0}), 0.0);
  EXPECT_EQ(F(Op::isfinite, {1.0}), 1.0);
  EXPECT_EQ(F(Op::isfinite, {kNaN}), 0.0);
  EXPECT_EQ(F(Op::isfinite, {kInf}), 0.0);
  EXPECT_EQ(F(Op::logical_not, {0.0}), 1.0);
  EXPECT_EQ(F(Op::logical_not, {-0.0}), 1.0);
  EXPECT_EQ(F(Op::logical_not, {kNaN}), 0.0);  // NaN is true
  EXPECT_EQ(F(Op::logical_not, {2.0}), 0.0);

  EXPECT_EQ(F(Op::eq, {1.0, 1.0}), 1.0);
  EXPECT_EQ(F(Op::eq, {kNaN, kNaN}), 0.0);
  EXPECT_EQ(F(Op::eq, {0.0, -0.0}), 1.0);
  EXPECT_EQ(F(Op::ne, {kNaN, kNaN}), 1.0);
  EXPECT_EQ(F(Op::lt, {1.0, 2.0}), 1.0);
  EXPECT_EQ(F(Op::lt, {kNaN, 2.0}), 0.0);
  EXPECT_EQ(F(Op::le, {2.0, 2.0}), 1.0);
  EXPECT_EQ(F(Op::gt, {1.0, 2.0}), 0.0);
  EXPECT_EQ(F(Op::ge, {2.0, 2.0}), 1.0);
  EXPECT_EQ(F(Op::ge, {2.0, kNaN}), 0.0);
  EXPECT_EQ(F(Op::logical_and, {kNaN, 2.0}), 1.0);
  EXPECT_EQ(F(Op::logical_and, {0.0, 2.0}), 0.0);
  EXPECT_EQ(F(Op::logical_or, {0.0, -0.0}), 0.0);
  EXPECT_EQ(F(Op::logical_or, {0.0, 0.5}), 1.0);
  EXPECT_EQ(F(Op::logical_xor, {0.0, kNaN}), 1.0);
  EXPECT_EQ(F(Op::logical_xor, {3.0, kNaN}), 0.0);
}

// ---------------------------------------------------------------------------------------------
// Forward: binary ops

TEST(RefMathForward, Arithmetic) {
  ElementwiseAttrs alpha;
  alpha.alpha = 2.5;
  EXPECT_EQ(F(Op::add, {1.0, 2.0}), 3.0);
  EXPECT_EQ(F(Op::add, {1.0, 2.0}, alpha), 6.0);
  EXPECT_EQ(F(Op::sub, {1.0, 2.0}), -1.0);
  EXPECT_EQ(F(Op::sub, {1.0, 2.0}, alpha), -4.0);
  EXPECT_EQ(F(Op::mul, {1.5, -4.0}), -6.0);
  EXPECT_EQ(F(Op::div, {1.0, 4.0}), 0.25);
  EXPECT_TRUE(Close(F(Op::div, {1.0, 0.0}), kInf));
  EXPECT_TRUE(Close(F(Op::div, {0.0, 0.0}), kNaN));
}

TEST(RefMathForward, DivisionAndModulo) {
  EXPECT_EQ(F(Op::div_floor, {-7.0, 2.0}), -4.0);
  EXPECT_EQ(F(Op::div_floor, {7.0, -2.0}), -4.0);
  EXPECT_EQ(F(Op::div_floor, {7.0, 2.0}), 3.0);
  EXPECT_EQ(F(Op::div_floor, {-7.5, 2.0}), -4.0);
  EXPECT_EQ(F(Op::div_floor, {-8.0, 2.0}), -4.0);
  EXPECT_TRUE(Close(F(Op::div_floor, {1.0, 0.0}), kInf));
  EXPECT_TRUE(Close(F(Op::div_floor, {-1.0, 0.0}), -kInf));
  EXPECT_TRUE(Close(F(Op::div_floor, {0.0, 0.0}), kNaN));
  EXPECT_TRUE(std::signbit(F(Op::div_floor, {0.0, -3.0})));  // -0, like a / b
  EXPECT_EQ(F(Op::div_floor, {1.0, -kInf}), -1.0);  // Python: 1.0 // -inf == -1.0
  EXPECT_EQ(F(Op::div_trunc, {-7.0, 2.0}), -3.0);
  EXPECT_EQ(F(Op::div_trunc, {7.0, -2.0}), -3.0);
  EXPECT_EQ(F(Op::div_trunc, {7.9, 2.0}), 3.0);

  EXPECT_EQ(F(Op::fmod, {-7.0, 3.0}), -1.0);
  EXPECT_EQ(F(Op::fmod, {7.0, -3.0}), 1.0);
  EXPECT_TRUE(Close(F(Op::fmod, {7.0, 0.0}), kNaN));
  EXPECT_EQ(F(Op::remainder, {-7.0, 3.0}), 2.0);
  EXPECT_EQ(F(Op::remainder, {7.0, -3.0}), -2.0);
  EXPECT_EQ(F(Op::remainder, {7.0, 3.0}), 1.0);
  EXPECT_EQ(F(Op::remainder, {-6.0, 3.0}), 0.0);
  EXPECT_TRUE(Close(F(Op::remainder, {-7.5, 2.0}), 0.5));

  // a == div_floor(a, b) * b + remainder(a, b) for exactly representable cases
  for (double a : {-9.0, -7.0, -1.0, 0.0, 5.0, 13.0}) {
    for (double b : {-4.0, -3.0, 2.0, 5.0}) {
      EXPECT_EQ(F(Op::div_floor, {a, b}) * b + F(Op::remainder, {a, b}), a) << a << " " << b;
      EXPECT_EQ(F(Op::div_trunc, {a, b}) * b + F(Op::fmod, {a, b}), a) << a << " " << b;
    }
  }
}

TEST(RefMathForward, PowAndFriends) {
  EXPECT_EQ(F(Op::pow, {2.0, 10.0}), 1024.0);
  EXPECT_EQ(F(Op::pow, {-2.0, 3.0}), -8.0);
  EXPECT_EQ(F(Op::pow, {0.0, 0.0}), 1.0);
  EXPECT_TRUE(Close(F(Op::pow, {-8.0, 1.0 / 3.0}), kNaN));
  EXPECT_TRUE(Close(F(Op::pow, {4.0, 0.5}), 2.0));
  EXPECT_TRUE(Close(F(Op::atan2, {1.0, 1.0}), kPi / 4));
  EXPECT_TRUE(Close(F(Op::atan2, {1.0, -1.0}), 3 * kPi / 4));
  EXPECT_TRUE(Close(F(Op::atan2, {-0.0, -1.0}), -kPi));
  EXPECT_EQ(F(Op::hypot, {3.0, 4.0}), 5.0);
  EXPECT_TRUE(Close(F(Op::hypot, {1e300, 1e300}), 1e300 * std::sqrt(2.0)));
  EXPECT_TRUE(Close(F(Op::copysign, {3.0, -0.0}), -3.0));
  EXPECT_TRUE(Close(F(Op::copysign, {-3.0, 1.0}), 3.0));
  EXPECT_EQ(F(Op::nextafter, {1.0, 2.0}), 1.0 + std::numeric_limits<double>::epsilon());
  EXPECT_EQ(F(Op::nextafter, {1.0, 0.0}), 1.0 - std::numeric_limits<double>::epsilon() / 2);
  EXPECT_EQ(F(Op::nextafter, {0.0, 1.0}), std::numeric_limits<double>::denorm_min());
}

TEST(RefMathForward, LogAddExpXlogy) {
  EXPECT_TRUE(Close(F(Op::logaddexp, {0.0, 0.0}), kLn2));
  EXPECT_TRUE(Close(F(Op::logaddexp, {1000.0, 1000.0}), 1000.6931471805599453));
  EXPECT_TRUE(Close(F(Op::logaddexp, {-1000.0, 0.0}), 0.0, 0, 1e-300));
  EXPECT_TRUE(Close(F(Op::logaddexp, {-kInf, -kInf}), -kInf));
  EXPECT_TRUE(Close(F(Op::logaddexp, {kInf, kInf}), kInf));
  EXPECT_TRUE(Close(F(Op::logaddexp, {kInf, 1.0}), kInf));
  EXPECT_TRUE(Close(F(Op::logaddexp, {kNaN, 1.0}), kNaN));
  EXPECT_TRUE(Close(F(Op::logaddexp, {1.0, kNaN}), kNaN));
  EXPECT_TRUE(Close(F(Op::logaddexp2, {3.0, 3.0}), 4.0));
  EXPECT_TRUE(Close(F(Op::logaddexp2, {1.0, 3.0}), std::log2(10.0)));
  EXPECT_TRUE(Close(F(Op::logaddexp2, {-kInf, -kInf}), -kInf));
  for (double a : {-3.0, 0.5, 7.0}) {
    for (double b : {-1.0, 2.0}) {
      EXPECT_EQ(F(Op::logaddexp, {a, b}), F(Op::logaddexp, {b, a}));
      EXPECT_TRUE(Close(F(Op::logaddexp, {a, b}), std::log(std::exp(a) + std::exp(b)), 1e-15));
      EXPECT_TRUE(Close(F(Op::logaddexp2, {a, b}), std::log2(std::exp2(a) + std::exp2(b)), 1e-15));
    }
  }
  EXPECT_EQ(F(Op::xlogy, {0.0, 0.0}), 0.0);
  EXPECT_EQ(F(Op::xlogy, {0.0, -1.0}), 0.0);
  EXPECT_TRUE(Close(F(Op::xlogy, {0.0, kNaN}), kNaN));
  EXPECT_TRUE(Close(F(Op::xlogy, {2.0, kE}), 2.0));
  EXPECT_TRUE(Close(F(Op::xlogy, {2.0, 0.0}), -kInf));
}

TEST(RefMathForward, MinMaxClamp) {
  EXPECT_TRUE(Close(F(Op::maximum, {kNaN, 1.0}), kNaN));
  EXPECT_TRUE(Close(F(Op::maximum, {1.0, kNaN}), kNaN));
  EXPECT_EQ(F(Op::maximum, {1.0, 2.0}), 2.0);
  EXPECT_TRUE(Close(F(Op::minimum, {1.0, kNaN}), kNaN));
  EXPECT_EQ(F(Op::minimum, {1.0, 2.0}), 1.0);
  EXPECT_EQ(F(Op::fmax, {kNaN, 1.0}), 1.0);
  EXPECT_EQ(F(Op::fmax, {1.0, kNaN}), 1.0);
  EXPECT_TRUE(Close(F(Op::fmax, {kNaN, kNaN}), kNaN));
  EXPECT_EQ(F(Op::fmin, {kNaN, 1.0}), 1.0);
  EXPECT_EQ(F(Op::fmin, {-1.0, 2.0}), -1.0);
  EXPECT_EQ(F(Op::clamp_min, {1.0, 2.0}), 2.0);
  EXPECT_EQ(F(Op::clamp_min, {3.0, 2.0}), 3.0);
  EXPECT_TRUE(Close(F(Op::clamp_min, {kNaN, 2.0}), kNaN));
  EXPECT_TRUE(Close(F(Op::clamp_min, {1.0, kNaN}), kNaN));
  EXPECT_EQ(F(Op::clamp_max, {1.0, 2.0}), 1.0);
  EXPECT_EQ(F(Op::clamp_max, {3.0, 2.0}), 2.0);
  EXPECT_TRUE(Close(F(Op::clamp_max, {kNaN, 2.0}), kNaN));
}

// ---------------------------------------------------------------------------------------------
// Forward: ternary, gated, prelu, cast

TEST(RefMathForward, Ternary) {
  EXPECT_EQ(F(Op::where, {1.0, 3.0, 4.0}), 3.0);
  EXPECT_EQ(F(Op::where, {0.0, 3.0, 4.0}), 4.0);
  EXPECT_EQ(F(Op::where, {-0.0, 3.0, 4.0}), 4.0);
  EXPECT_EQ(F(Op::where, {kNaN, 3.0, 4.0}), 3.0);  // NaN condition is true
  EXPECT_EQ(F(Op::lerp, {1.0, 3.0, 0.25}), 1.5);
  EXPECT_EQ(F(Op::lerp, {1.0, 3.0, 0.75}), 2.5);
  EXPECT_EQ(F(Op::lerp, {1.0, 3.0, 0.0}), 1.0);
  EXPECT_EQ(F(Op::lerp, {1.0, 3.0, 1.0}), 3.0);  // exact at the far end
  EXPECT_EQ(F(Op::lerp, {1.0, 3.0, 2.0}), 5.0);
  EXPECT_EQ(F(Op::lerp, {1.0, 3.0, -1.0}), -1.0);
  EXPECT_EQ(F(Op::clamp, {5.0, 0.0, 3.0}), 3.0);
  EXPECT_EQ(F(Op::clamp, {-5.0, 0.0, 3.0}), 0.0);
  EXPECT_EQ(F(Op::clamp, {1.0, 0.0, 3.0}), 1.0);
  EXPECT_EQ(F(Op::clamp, {1.0, 3.0, 2.0}), 2.0);  // lo > hi: hi
  EXPECT_EQ(F(Op::clamp, {5.0, 3.0, 2.0}), 2.0);
  EXPECT_TRUE(Close(F(Op::clamp, {kNaN, 0.0, 3.0}), kNaN));
  EXPECT_TRUE(Close(F(Op::clamp, {1.0, kNaN, 3.0}), kNaN));
  EXPECT_TRUE(Close(F(Op::clamp, {1.0, 0.0, kNaN}), kNaN));
  ElementwiseAttrs half;
  half.alpha = 0.5;
  EXPECT_EQ(F(Op::addcmul, {1.0, 2.0, 3.0}), 7.0);
  EXPECT_EQ(F(Op::addcmul, {1.0, 2.0, 3.0}, half), 4.0);
  ElementwiseAttrs two;
  two.alpha = 2.0;
  EXPECT_EQ(F(Op::addcdiv, {1.0, 6.0, 3.0}), 3.0);
  EXPECT_EQ(F(Op::addcdiv, {1.0, 6.0, 3.0}, two), 5.0);
  EXPECT_EQ(F(Op::fma, {2.0, 3.0, 4.0}), 10.0);
  // fused: one rounding
  const double eps = std::numeric_limits<double>::epsilon();
  EXPECT_EQ(F(Op::fma, {1.0 + eps, 1.0 - eps, -1.0}), -eps * eps);
}

TEST(RefMathForward, GatedPreluCast) {
  EXPECT_EQ(F(Op::glu, {2.0, 0.0}), 1.0);
  EXPECT_TRUE(Close(F(Op::glu, {3.0, 1.0}), 3.0 * 0.73105857863000487925));
  EXPECT_TRUE(Close(F(Op::swiglu, {1.0, 2.0}), 2.0 * 0.73105857863000487925));
  EXPECT_TRUE(Close(F(Op::geglu, {1.0, -2.0}), -2.0 * 0.84134474606854294859));
  EXPECT_TRUE(Close(F(Op::geglu_tanh, {1.0, 3.0}), 3.0 * 0.84119199060827670478));
  EXPECT_EQ(F(Op::reglu, {-1.0, 5.0}), 0.0);
  EXPECT_EQ(F(Op::reglu, {2.0, 3.0}), 6.0);
  EXPECT_EQ(F(Op::prelu, {2.0, 0.25}), 2.0);
  EXPECT_EQ(F(Op::prelu, {-2.0, 0.25}), -0.5);
  ElementwiseAttrs scale;
  scale.scale = 4.0;
  EXPECT_EQ(F(Op::cast, {1.5}), 1.5);
  EXPECT_EQ(F(Op::cast, {1.5}, scale), 6.0);
  const auto g = G(Op::cast, 0.5, {123.0}, scale);
  EXPECT_EQ(g[0], 2.0);
  EXPECT_EQ(G(Op::cast, 0.5, {123.0})[0], 0.5);
}

// ---------------------------------------------------------------------------------------------
// Identities over ranges

TEST(RefMathIdentities, HoldOverRanges) {
  for (double x = -6.0; x <= 6.0; x += 0.37) {
    SCOPED_TRACE(x);
    const double s = F(Op::sin, {x}), c = F(Op::cos, {x});
    EXPECT_TRUE(Close(s * s + c * c, 1.0, 1e-15));
    const double sh = F(Op::sinh, {x}), ch = F(Op::cosh, {x});
    EXPECT_TRUE(Close(ch * ch - sh * sh, 1.0, 1e-10));
    EXPECT_TRUE(Close(F(Op::tanh, {x}), sh / ch, 1e-15));
    EXPECT_TRUE(Close(F(Op::erf, {x}) + F(Op::erfc, {x}), 1.0, 1e-15));
    EXPECT_TRUE(Close(F(Op::sigmoid, {x}) + F(Op::sigmoid, {-x}), 1.0, 1e-15));
    EXPECT_TRUE(Close(F(Op::logit, {F(Op::sigmoid, {x})}), x, 1e-12, 1e-14));
    EXPECT_TRUE(Close(F(Op::asinh, {sh}), x, 1e-14, 1e-15));
    EXPECT_TRUE(Close(F(Op::exp, {F(Op::log, {std::fabs(x) + 0.1})}), std::fabs(x) + 0.1, 1e-15));
    EXPECT_TRUE(Close(F(Op::gelu, {x}) - F(Op::gelu, {-x}), x, 1e-15, 1e-15));
    EXPECT_TRUE(Close(F(Op::gelu_tanh, {x}) - F(Op::gelu_tanh, {-x}), x, 1e-15, 1e-15));
    EXPECT_TRUE(Close(F(Op::softplus, {x}) - F(Op::softplus, {-x}), x, 1e-15, 1e-15));
    EXPECT_TRUE(Close(F(Op::hardswish, {x}), x * F(Op::hardsigmoid, {x}), 1e-15, 1e-15));
    if (std::fabs(x) < 1.0) {
      EXPECT_TRUE(Close(F(Op::atanh, {F(Op::tanh, {x})}), x, 1e-13, 1e-15));
    }
  }
}

TEST(RefMathIdentities, ErfinvInvertsErf) {
  // erf(x) rounds to within 1 ulp of +-1 for large |x|, so keep |x| <= 3.5 (1 - erf ~ 7e-7) here
  for (double x : {-3.5, -1.7, -0.5, -1e-3, 1e-12, 0.1, 0.45, 0.6, 1.2, 2.5, 3.5}) {
    EXPECT_TRUE(Close(F(Op::erfinv, {F(Op::erf, {x})}), x, 2e-11)) << x;
  }
  for (double y : {-0.999999999, -0.75, -0.3, 1e-300, 0.2, 0.5, 0.8, 0.99, 0.9999999}) {
    EXPECT_TRUE(Close(F(Op::erf, {F(Op::erfinv, {y})}), y, 4e-16)) << y;
  }
  for (double q : {1e-3, 1e-8, 1e-14}) {  // near 1, check against erfc, which keeps 1 - y exact
    const double y = 1.0 - q;
    EXPECT_TRUE(Close(std::erfc(F(Op::erfinv, {y})), 1.0 - y, 1e-13)) << q;
  }
}

TEST(RefMathIdentities, GammaRecurrences) {
  for (double x : {-7.3, -2.5, -1.25, -0.6, 0.01, 0.3, 0.9, 1.5, 2.2, 7.7, 9.5, 10.5, 33.0, 1e4}) {
    SCOPED_TRACE(x);
    // psi(x + 1) = psi(x) + 1/x
    EXPECT_TRUE(Close(F(Op::digamma, {x + 1}), F(Op::digamma, {x}) + 1 / x, 1e-13, 1e-14));
    // lgamma(x + 1) = lgamma(x) + log|x|
    EXPECT_TRUE(Close(F(Op::lgamma, {x + 1}), F(Op::lgamma, {x}) + std::log(std::fabs(x)), 1e-13, 1e-13));
    // psi_1(x) = psi_1(x + 1) + 1/x^2 (trigamma is digamma's backward)
    EXPECT_TRUE(Close(G(Op::digamma, 1.0, {x})[0], G(Op::digamma, 1.0, {x + 1})[0] + 1 / (x * x), 1e-13));
  }
  // psi(1 - x) - psi(x) = pi cot(pi x)
  for (double x : {0.1, 0.3, 0.7, 1.3, 2.6}) {
    EXPECT_TRUE(Close(F(Op::digamma, {1 - x}) - F(Op::digamma, {x}), kPi / std::tan(kPi * x), 1e-13, 1e-14));
  }
}

// ---------------------------------------------------------------------------------------------
// Backward: known values and PyTorch's conventions at ties, kinks and NaN

TEST(RefMathBackward, KnownDerivatives) {
  EXPECT_TRUE(Close(G(Op::lgamma, 1.0, {1.0})[0], -kEulerGamma, 1e-14));
  EXPECT_TRUE(Close(G(Op::digamma, 1.0, {1.0})[0], kPi * kPi / 6, 1e-14));  // trigamma(1)
  EXPECT_TRUE(Close(G(Op::digamma, 1.0, {0.5})[0], kPi * kPi / 2, 1e-14));
  EXPECT_TRUE(Close(G(Op::digamma, 1.0, {-0.5})[0], kPi * kPi / 2 + 4, 1e-14));
  EXPECT_TRUE(Close(G(Op::digamma, 1.0, {-2.7})[0], 14.769375845132302773, 1e-13));
  EXPECT_TRUE(Close(G(Op::digamma, 1.0, {12.5})[0], 0.083285224601578370444, 1e-14));
  EXPECT_TRUE(Close(G(Op::digamma, 1.0, {0.01})[0], 10001.62121352831322, 1e-14));
  EXPECT_TRUE(Close(G(Op::digamma, 2.0, {1.0})[0], kPi * kPi / 3, 1e-14));  // scales with dy
  EXPECT_TRUE(Close(G(Op::erf, 1.0, {0.0})[0], 2 / std::sqrt(kPi)));
  EXPECT_TRUE(Close(G(Op::erfinv, 1.0, {0.0})[0], std::sqrt(kPi) / 2));
  EXPECT_TRUE(Close(G(Op::sigmoid, 1.0, {0.0})[0], 0.25));
  EXPECT_TRUE(Close(G(Op::gelu, 1.0, {0.0})[0], 0.5));
  EXPECT_TRUE(Close(G(Op::gelu_tanh, 1.0, {0.0})[0], 0.5));
  EXPECT_TRUE(Close(G(Op::silu, 1.0, {0.0})[0], 0.5));
  EXPECT_TRUE(Close(G(Op::tanhshrink, 1.0, {0.0})[0], 0.0, 0, 0));
  EXPECT_TRUE(Close(G(Op::softsign, 1.0, {0.0})[0], 1.0));
  EXPECT_TRUE(Close(G(Op::softplus, 1.0, {0.0})[0], 0.5));
  EXPECT_TRUE(Close(G(Op::logaddexp, 1.0, {2.0, 2.0})[0], 0.5));
  EXPECT_TRUE(Close(G(Op::logaddexp2, 1.0, {2.0, 2.0})[1], 0.5));
}

TEST(RefMathBackward, ZeroGradientOps) {
  for (Op op : {Op::sign, Op::floor, Op::ceil, Op::round, Op::trunc}) {
    EXPECT_EQ(G(op, kInf, {2.5})[0], 0.0) << op_name(op);  // zeros, even for non-finite dy
  }
  for (Op op : {Op::div_floor, Op::div_trunc}) {
    const auto g = G(op, 3.0, {7.0, 2.0});
    EXPECT_EQ(g[0], 0.0) << op_name(op);
    EXPECT_EQ(g[1], 0.0) << op_name(op);
  }
  EXPECT_EQ(G(Op::copysign, 3.0, {2.0, -1.0})[1], 0.0);
}

TEST(RefMathBackward, KinksAndTies) {
  // relu-like masks (values at the kink follow PyTorch)
  EXPECT_EQ(G(Op::relu, 2.0, {0.0})[0], 0.0);
  EXPECT_EQ(G(Op::relu, 2.0, {1e-300})[0], 2.0);
  EXPECT_EQ(G(Op::relu6, 2.0, {6.0})[0], 0.0);
  EXPECT_EQ(G(Op::hardtanh, 2.0, {-1.0})[0], 0.0);  // strict inside (min, max)
  EXPECT_EQ(G(Op::hardtanh, 2.0, {0.99})[0], 2.0);
  EXPECT_EQ(G(Op::hardsigmoid, 6.0, {3.0})[0], 0.0);
  EXPECT_EQ(G(Op::hardsigmoid, 6.0, {2.0})[0], 1.0);
  EXPECT_EQ(G(Op::hardswish, 1.0, {-3.0})[0], -0.5);
  EXPECT_EQ(G(Op::hardswish, 1.0, {3.0})[0], 1.5);
  EXPECT_EQ(G(Op::hardswish, 1.0, {-3.5})[0], 0.0);
  EXPECT_EQ(G(Op::softshrink, 1.0, {0.5})[0], 0.0);
  EXPECT_EQ(G(Op::hardshrink, 1.0, {-0.5})[0], 0.0);
  ElementwiseAttrs th;
  th.threshold = 1.0;
  EXPECT_EQ(G(Op::threshold, 1.0, {1.0}, th)[0], 0.0);
  EXPECT_EQ(G(Op::elu, 1.0, {0.0})[0], 1.0);  // x <= 0 branch: alpha * exp(0)
  EXPECT_EQ(G(Op::abs, 1.0, {0.0})[0], 0.0);
  EXPECT_EQ(G(Op::reglu, 1.0, {0.0, 5.0})[0], 0.0);
  EXPECT_EQ(G(Op::prelu, 1.0, {0.0, 0.25})[0], 0.25);
  EXPECT_EQ(G(Op::prelu, 1.0, {0.0, 0.25})[1], 0.0);
  EXPECT_EQ(G(Op::prelu, 2.0, {-3.0, 0.25})[1], -6.0);
  EXPECT_EQ(G(Op::prelu, 2.0, {3.0, 0.25})[1], 0.0);

  // maximum/minimum split ties evenly; fmax/fmin give ties to the first operand
  auto g = G(Op::maximum, 2.0, {1.0, 1.0});
  EXPECT_EQ(g[0], 1.0);
  EXPECT_EQ(g[1], 1.0);
  g = G(Op::minimum, 2.0, {1.0, 3.0});
  EXPECT_EQ(g[0], 2.0);
  EXPECT_EQ(g[1], 0.0);
  g = G(Op::fmax, 2.0, {1.0, 1.0});
  EXPECT_EQ(g[0], 2.0);
  EXPECT_EQ(g[1], 0.0);
  g = G(Op::fmax, 2.0, {kNaN, 1.0});  // the NaN operand was ignored: gradient to the other
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 2.0);
  g = G(Op::fmin, 2.0, {1.0, kNaN});
  EXPECT_EQ(g[0], 2.0);
  EXPECT_EQ(g[1], 0.0);

  // clamp_min/clamp_max: x gets dy at the boundary
  g = G(Op::clamp_min, 2.0, {1.0, 1.0});
  EXPECT_EQ(g[0], 2.0);
  EXPECT_EQ(g[1], 0.0);
  g = G(Op::clamp_max, 2.0, {1.0, 1.0});
  EXPECT_EQ(g[0], 2.0);
  EXPECT_EQ(g[1], 0.0);
  g = G(Op::clamp_max, 2.0, {3.0, 1.0});
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 2.0);

  // clamp: boundaries belong to x; lo > hi sends everything to hi
  g = G(Op::clamp, 2.0, {0.0, 0.0, 1.0});
  EXPECT_EQ(g[0], 2.0);
  EXPECT_EQ(g[1], 0.0);
  EXPECT_EQ(g[2], 0.0);
  g = G(Op::clamp, 2.0, {-1.0, 0.0, 1.0});
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 2.0);
  EXPECT_EQ(g[2], 0.0);
  g = G(Op::clamp, 2.0, {-1.0, 3.0, 1.0});
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 0.0);
  EXPECT_EQ(g[2], 2.0);
  g = G(Op::clamp, 2.0, {2.0, 3.0, 1.0});
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 0.0);
  EXPECT_EQ(g[2], 2.0);

  // where: no gradient for the condition
  g = G(Op::where, 2.0, {1.0, 5.0, 6.0});
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 2.0);
  EXPECT_EQ(g[2], 0.0);
  g = G(Op::where, 2.0, {0.0, 5.0, 6.0});
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 0.0);
  EXPECT_EQ(g[2], 2.0);
}

TEST(RefMathBackward, SingularPointsFollowPyTorch) {
  // pow: d/da is 0 where b == 0; d/db is 0 where a == 0 and b >= 0
  auto g = G(Op::pow, 1.0, {0.0, 0.0});
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 0.0);
  g = G(Op::pow, 1.0, {0.0, 2.0});
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 0.0);
  g = G(Op::pow, 1.0, {2.0, 3.0});
  EXPECT_EQ(g[0], 12.0);
  EXPECT_TRUE(Close(g[1], 8.0 * kLn2));
  // xlogy: d/da is 0 where a == 0 and b <= 0, else xlogy(dy, b)
  g = G(Op::xlogy, 2.0, {0.0, 0.0});
  EXPECT_EQ(g[0], 0.0);
  g = G(Op::xlogy, 2.0, {0.0, -1.0});
  EXPECT_EQ(g[0], 0.0);
  g = G(Op::xlogy, 2.0, {0.0, kE});
  EXPECT_TRUE(Close(g[0], 2.0));
  EXPECT_EQ(g[1], 0.0);
  g = G(Op::xlogy, 0.0, {1.0, -1.0});  // xlogy(0, b) = 0 even where log(b) is NaN
  EXPECT_EQ(g[0], 0.0);
  // copysign: 0 at a == 0
  g = G(Op::copysign, 3.0, {0.0, -1.0});
  EXPECT_EQ(g[0], 0.0);
  g = G(Op::copysign, 3.0, {2.0, -1.0});
  EXPECT_EQ(g[0], -3.0);
  // logit: clamped region has zero gradient; without eps, outside [0, 1] is NaN
  ElementwiseAttrs eps;
  eps.eps = 0.1;
  EXPECT_EQ(G(Op::logit, 1.0, {0.05}, eps)[0], 0.0);
  EXPECT_EQ(G(Op::logit, 1.0, {0.95}, eps)[0], 0.0);
  EXPECT_TRUE(Close(G(Op::logit, 1.0, {0.5}, eps)[0], 4.0));
  EXPECT_TRUE(Close(G(Op::logit, 1.0, {1.5})[0], kNaN));
  EXPECT_TRUE(Close(G(Op::logit, 1.0, {0.0})[0], kInf));
  // abs at 0 and relu at NaN follow PyTorch's masks (NaN input keeps the gradient)
  EXPECT_EQ(G(Op::relu, 2.0, {kNaN})[0], 2.0);
  EXPECT_EQ(G(Op::hardswish, 2.0, {kNaN})[0], 2.0);
  EXPECT_EQ(G(Op::hardsigmoid, 2.0, {kNaN})[0], 0.0);
}

TEST(RefMathBackward, NonDifferentiableOpsLeaveNaN) {
  for (Op op : {Op::isnan, Op::logical_not, Op::bitwise_not}) {
    EXPECT_TRUE(std::isnan(G(op, 1.0, {2.0})[0])) << op_name(op);
  }
  for (Op op : {Op::eq, Op::lt, Op::logical_xor, Op::nextafter, Op::bitwise_and, Op::shift_left}) {
    const auto g = G(op, 1.0, {2.0, 3.0});
    EXPECT_TRUE(std::isnan(g[0]) && std::isnan(g[1])) << op_name(op);
    EXPECT_EQ(g[2], -12345.0) << op_name(op);  // only the op's outputs are written
  }
}

TEST(RefMathBackward, UnknownOpsDoNotCrash) {
  const auto bogus = static_cast<Op>(60000);
  EXPECT_TRUE(std::isnan(F(bogus, {1.0, 2.0, 3.0})));
  EXPECT_TRUE(std::isnan(G(bogus, 1.0, {1.0, 2.0, 3.0})[0]));
  EXPECT_EQ(I(bogus, {1, 2, 3}), 0);
  // ops without a floating form (bitwise) give NaN in eval_float
  EXPECT_TRUE(std::isnan(F(Op::bitwise_and, {1.0, 3.0})));
  EXPECT_TRUE(std::isnan(F(Op::shift_left, {1.0, 3.0})));
}

// ---------------------------------------------------------------------------------------------
// Backward against central finite differences, for every differentiable op

struct GradCase {
  Op op;
  std::vector<double> x;
  ElementwiseAttrs attrs;
  unsigned skip = 0;  // bit j: input j is not perturbed (not differentiable there)
};

GradCase C(Op op, std::vector<double> x, ElementwiseAttrs at = Attrs(), unsigned skip = 0) {
  return GradCase{op, std::move(x), at, skip};
}

std::vector<GradCase> GradCases() {
  ElementwiseAttrs alpha15;
  alpha15.alpha = 1.5;
  ElementwiseAttrs alpha2;
  alpha2.alpha = 2.0;
  ElementwiseAttrs alpha_neg;
  alpha_neg.alpha = -0.5;
  ElementwiseAttrs eps;
  eps.eps = 0.1;
  ElementwiseAttrs slope;
  slope.negative_slope = 0.2;
  ElementwiseAttrs sp;
  sp.beta = 2.0;
  sp.threshold = 5.0;
  ElementwiseAttrs ht;
  ht.min_val = -2.0;
  ht.max_val = 0.5;
  ElementwiseAttrs lambd;
  lambd.lambd = 0.75;
  ElementwiseAttrs th;
  th.threshold = 0.5;
  th.value = -2.0;

  return {
      // unary math
      C(Op::exp, {0.7}), C(Op::exp, {-2.3}), C(Op::exp2, {1.3}), C(Op::expm1, {-0.4}),
      C(Op::log, {2.5}), C(Op::log2, {0.3}), C(Op::log10, {7.0}), C(Op::log1p, {-0.5}),
      C(Op::sqrt, {2.2}), C(Op::rsqrt, {0.6}), C(Op::reciprocal, {-1.7}),
      C(Op::sin, {1.1}), C(Op::cos, {-0.8}), C(Op::tan, {0.6}),
      C(Op::asin, {0.45}), C(Op::acos, {-0.3}), C(Op::atan, {2.1}),
      C(Op::sinh, {0.9}), C(Op::cosh, {-1.2}), C(Op::tanh, {0.4}),
      C(Op::asinh, {-1.5}), C(Op::acosh, {1.8}), C(Op::atanh, {0.6}),
      C(Op::erf, {0.35}), C(Op::erfc, {-0.9}),
      C(Op::erfinv, {0.3}), C(Op::erfinv, {-0.95}), C(Op::erfinv, {0.999}),
      C(Op::lgamma, {0.3}), C(Op::lgamma, {4.5}), C(Op::lgamma, {-2.5}),
      C(Op::digamma, {0.8}), C(Op::digamma, {3.7}), C(Op::digamma, {12.5}), C(Op::digamma, {-1.3}),
      C(Op::sigmoid, {-0.6}), C(Op::sigmoid, {4.0}),
      C(Op::logit, {0.3}), C(Op::logit, {0.2}, eps), C(Op::logit, {0.05}, eps),
      // dtype-preserving unary
      C(Op::abs, {-1.3}), C(Op::abs, {2.0}), C(Op::neg, {0.5}), C(Op::sign, {-2.0}),
      C(Op::square, {-1.1}), C(Op::floor, {2.3}), C(Op::ceil, {-2.3}), C(Op::round, {2.3}),
      C(Op::trunc, {-1.7}),
      // activations
      C(Op::frac, {-2.3}), C(Op::relu, {1.5}), C(Op::relu, {-0.5}),
      C(Op::relu6, {3.0}), C(Op::relu6, {7.0}), C(Op::relu6, {-1.0}),
      C(Op::leaky_relu, {-2.0}), C(Op::leaky_relu, {1.0}), C(Op::leaky_relu, {-2.0}, slope),
      C(Op::elu, {-0.7}), C(Op::elu, {0.7}), C(Op::elu, {-0.5}, alpha15),
      C(Op::selu, {-0.7}), C(Op::selu, {0.7}),
      C(Op::celu, {-1.3}, alpha2), C(Op::celu, {0.4}, alpha2), C(Op::celu, {-0.3}),
      C(Op::gelu, {-1.2}), C(Op::gelu, {0.8}), C(Op::gelu, {-4.0}),
      C(Op::gelu_tanh, {-1.2}), C(Op::gelu_tanh, {0.8}), C(Op::gelu_tanh, {-4.0}),
      C(Op::silu, {-1.5}), C(Op::silu, {2.0}),
      C(Op::mish, {-0.8}), C(Op::mish, {1.7}), C(Op::mish, {25.0}),
      C(Op::softplus, {0.5}), C(Op::softplus, {-1.0}, sp), C(Op::softplus, {3.0}, sp),
      C(Op::softsign, {-0.8}), C(Op::softsign, {1.5}),
      C(Op::hardtanh, {0.3}), C(Op::hardtanh, {1.5}), C(Op::hardtanh, {-1.9}, ht), C(Op::hardtanh, {0.7}, ht),
      C(Op::hardsigmoid, {1.0}), C(Op::hardsigmoid, {4.0}), C(Op::hardsigmoid, {-3.5}),
      C(Op::hardswish, {-3.5}), C(Op::hardswish, {1.2}), C(Op::hardswish, {-1.0}), C(Op::hardswish, {3.5}),
      C(Op::tanhshrink, {0.7}),
      C(Op::softshrink, {0.9}), C(Op::softshrink, {-0.9}), C(Op::softshrink, {0.2}), C(Op::softshrink, {1.0}, lambd),
      C(Op::hardshrink, {0.9}), C(Op::hardshrink, {0.2}), C(Op::hardshrink, {-1.0}, lambd),
      C(Op::threshold, {0.8}, th), C(Op::threshold, {0.1}, th),
      // binary
      C(Op::add, {1.2, -0.7}, alpha15), C(Op::add, {1.2, -0.7}),
      C(Op::sub, {1.2, 0.4}, alpha_neg), C(Op::sub, {1.2, 0.4}),
      C(Op::mul, {1.3, -2.1}), C(Op::div, {1.3, -2.1}),
      C(Op::div_floor, {7.3, 2.1}), C(Op::div_trunc, {-7.3, 2.1}),
      C(Op::pow, {1.7, 2.3}), C(Op::pow, {2.5, -1.5}), C(Op::pow, {-1.5, 3.0}, Attrs(), 0b10),
      C(Op::fmod, {7.3, 2.1}), C(Op::fmod, {-7.3, 2.1}),
      C(Op::remainder, {7.3, -2.1}), C(Op::remainder, {-7.3, 2.1}),
      C(Op::maximum, {1.3, 0.7}), C(Op::maximum, {0.2, 0.9}),
      C(Op::minimum, {1.3, 0.7}), C(Op::minimum, {0.2, 0.9}),
      C(Op::fmax, {1.3, 0.7}), C(Op::fmax, {0.2, 0.9}),
      C(Op::fmin, {1.3, 0.7}), C(Op::fmin, {0.2, 0.9}),
      C(Op::clamp_min, {1.3, 0.7}), C(Op::clamp_min, {0.2, 0.9}),
      C(Op::clamp_max, {1.3, 0.7}), C(Op::clamp_max, {0.2, 0.9}),
      C(Op::atan2, {0.7, -1.3}), C(Op::atan2, {-2.0, 0.5}),
      C(Op::hypot, {0.7, -1.3}),
      C(Op::logaddexp, {0.3, 1.9}), C(Op::logaddexp, {-5.0, 2.0}),
      C(Op::logaddexp2, {0.3, 1.9}), C(Op::logaddexp2, {4.0, -1.0}),
      C(Op::xlogy, {1.3, 2.7}), C(Op::xlogy, {-0.4, 0.5}),
      C(Op::copysign, {1.3, -2.0}), C(Op::copysign, {-1.3, 2.0}), C(Op::copysign, {1.3, 2.0}),
      C(Op::prelu, {-1.2, 0.25}), C(Op::prelu, {0.8, 0.25}),
      // ternary
      C(Op::where, {1.0, 0.3, 0.9}), C(Op::where, {0.0, 0.3, 0.9}, Attrs(), 0b001),
      C(Op::lerp, {0.5, 2.0, 0.3}), C(Op::lerp, {0.5, 2.0, 0.8}), C(Op::lerp, {-1.0, 2.0, -0.4}),
      C(Op::clamp, {0.5, -1.0, 2.0}), C(Op::clamp, {-2.0, -1.0, 2.0}), C(Op::clamp, {3.0, -1.0, 2.0}),
      C(Op::clamp, {0.5, 2.0, 1.0}),
      C(Op::addcmul, {1.0, 2.0, 3.0}, Attrs()), C(Op::addcmul, {1.0, -2.0, 3.0}, alpha_neg),
      C(Op::addcdiv, {1.0, 2.0, 3.0}, alpha2), C(Op::addcdiv, {1.0, -2.0, 0.7}),
      C(Op::fma, {1.5, -2.0, 0.5}),
      // gated
      C(Op::glu, {0.7, -0.4}), C(Op::swiglu, {0.7, -0.4}), C(Op::swiglu, {-1.7, 0.4}),
      C(Op::geglu, {0.7, -0.4}), C(Op::geglu, {-1.1, 1.4}),
      C(Op::geglu_tanh, {0.7, -0.4}), C(Op::geglu_tanh, {-1.1, 1.4}),
      C(Op::reglu, {0.7, -0.4}), C(Op::reglu, {-0.7, 0.4}),
  };
}

double FwdAt(const GradCase& c, const std::vector<double>& x) { return F(c.op, x, c.attrs); }

TEST(RefMathBackward, MatchesCentralDifferences) {
  const double dy = 0.75;
  for (const GradCase& c : GradCases()) {
    std::string where = op_name(c.op) + "(";
    for (double v : c.x) where += std::to_string(v) + " ";
    SCOPED_TRACE(where + ")");
    const auto g = G(c.op, dy, c.x, c.attrs);
    for (size_t j = 0; j < c.x.size(); ++j) {
      if (c.skip & (1u << j)) continue;
      const double h = 1e-6 * std::max(1.0, std::fabs(c.x[j]));
      std::vector<double> xp = c.x, xm = c.x;
      xp[j] += h;
      xm[j] -= h;
      const double fd = dy * (FwdAt(c, xp) - FwdAt(c, xm)) / (xp[j] - xm[j]);
      ASSERT_TRUE(std::isfinite(fd)) << "input " << j;
      EXPECT_NEAR(g[j], fd, 1e-6 * std::max(1.0, std::fabs(fd))) << "input " << j;
    }
    // outputs beyond the op's inputs are untouched
    for (size_t j = c.x.size(); j < g.size(); ++j) EXPECT_EQ(g[j], -12345.0);
  }
}

TEST(RefMathBackward, TableCoversEveryDifferentiableOp) {
  const auto cases = GradCases();
  size_t checked = 0;
  for (const auto& info : baracuda::all_elementwise_ops()) {
    if (!info.differentiable || info.op == Op::cast) continue;  // cast is tested on its own
    const bool covered = std::any_of(cases.begin(), cases.end(), [&](const GradCase& c) { return c.op == info.op; });
    EXPECT_TRUE(covered) << "no finite-difference case for " << info.name;
    ++checked;
  }
  EXPECT_GE(checked, 50u);  // sanity: the table really was iterated
}

// ---------------------------------------------------------------------------------------------
// Integer compute

TEST(RefMathInt, UnaryAndPredicates) {
  EXPECT_EQ(I(Op::abs, {-5}), 5);
  EXPECT_EQ(I(Op::abs, {kI64Min}), kI64Min);  // wraps
  EXPECT_EQ(I(Op::neg, {7}), -7);
  EXPECT_EQ(I(Op::neg, {kI64Min}), kI64Min);
  EXPECT_EQ(I(Op::sign, {-9}), -1);
  EXPECT_EQ(I(Op::sign, {0}), 0);
  EXPECT_EQ(I(Op::sign, {9}), 1);
  EXPECT_EQ(I(Op::square, {-12}), 144);
  EXPECT_EQ(I(Op::square, {int64_t{1} << 32}), 0);  // wraps
  for (Op op : {Op::floor, Op::ceil, Op::round, Op::trunc}) EXPECT_EQ(I(op, {-13}), -13) << op_name(op);
  EXPECT_EQ(I(Op::isnan, {5}), 0);
  EXPECT_EQ(I(Op::isinf, {kI64Max}), 0);
  EXPECT_EQ(I(Op::isfinite, {kI64Min}), 1);
  EXPECT_EQ(I(Op::logical_not, {0}), 1);
  EXPECT_EQ(I(Op::logical_not, {-3}), 0);
  EXPECT_EQ(I(Op::bitwise_not, {5}), -6);
  EXPECT_EQ(I(Op::bitwise_not, {-1}), 0);
}

TEST(RefMathInt, Arithmetic) {
  ElementwiseAttrs alpha;
  alpha.alpha = 3.0;
  EXPECT_EQ(I(Op::add, {1, 2}), 3);
  EXPECT_EQ(I(Op::add, {1, 2}, alpha), 7);
  EXPECT_EQ(I(Op::add, {kI64Max, 1}), kI64Min);  // wraps
  EXPECT_EQ(I(Op::sub, {1, 2}), -1);
  EXPECT_EQ(I(Op::sub, {1, 2}, alpha), -5);
  EXPECT_EQ(I(Op::sub, {kI64Min, 1}), kI64Max);
  EXPECT_EQ(I(Op::mul, {-6, 7}), -42);
  EXPECT_EQ(I(Op::mul, {kI64Max, 2}), -2);
  ElementwiseAttrs half;
  half.alpha = 2.0;
  EXPECT_EQ(I(Op::addcmul, {1, 2, 3}), 7);
  EXPECT_EQ(I(Op::addcmul, {1, 2, 3}, half), 13);
  EXPECT_EQ(I(Op::fma, {2, 3, 4}), 10);
  EXPECT_EQ(I(Op::fma, {-2, 3, 4}), -2);
}

TEST(RefMathInt, DivisionNeverTraps) {
  EXPECT_EQ(I(Op::div_floor, {-7, 2}), -4);
  EXPECT_EQ(I(Op::div_floor, {7, -2}), -4);
  EXPECT_EQ(I(Op::div_floor, {-8, 2}), -4);
  EXPECT_EQ(I(Op::div_floor, {7, 2}), 3);
  EXPECT_EQ(I(Op::div_floor, {7, 0}), 0);
  EXPECT_EQ(I(Op::div_floor, {kI64Min, -1}), kI64Min);
  EXPECT_EQ(I(Op::div_trunc, {-7, 2}), -3);
  EXPECT_EQ(I(Op::div_trunc, {7, 0}), 0);
  EXPECT_EQ(I(Op::div_trunc, {kI64Min, -1}), kI64Min);
  EXPECT_EQ(I(Op::fmod, {-7, 3}), -1);
  EXPECT_EQ(I(Op::fmod, {7, -3}), 1);
  EXPECT_EQ(I(Op::fmod, {7, 0}), 0);
  EXPECT_EQ(I(Op::fmod, {kI64Min, -1}), 0);
  EXPECT_EQ(I(Op::remainder, {-7, 3}), 2);
  EXPECT_EQ(I(Op::remainder, {7, -3}), -2);
  EXPECT_EQ(I(Op::remainder, {-6, 3}), 0);
  EXPECT_EQ(I(Op::remainder, {7, 0}), 0);
  EXPECT_EQ(I(Op::remainder, {kI64Min, -1}), 0);
  for (int64_t a = -9; a <= 9; ++a) {
    for (int64_t b : {-4, -3, -1, 1, 2, 5}) {
      EXPECT_EQ(I(Op::div_floor, {a, b}) * b + I(Op::remainder, {a, b}), a) << a << " " << b;
      EXPECT_EQ(I(Op::div_trunc, {a, b}) * b + I(Op::fmod, {a, b}), a) << a << " " << b;
      EXPECT_EQ(static_cast<double>(I(Op::div_floor, {a, b})), std::floor(static_cast<double>(a) / b));
    }
  }
}

TEST(RefMathInt, Pow) {
  EXPECT_EQ(I(Op::pow, {3, 4}), 81);
  EXPECT_EQ(I(Op::pow, {-2, 3}), -8);
  EXPECT_EQ(I(Op::pow, {0, 0}), 1);
  EXPECT_EQ(I(Op::pow, {7, 0}), 1);
  EXPECT_EQ(I(Op::pow, {2, 62}), int64_t{1} << 62);
  EXPECT_EQ(I(Op::pow, {2, 64}), 0);  // wraps
  EXPECT_EQ(I(Op::pow, {3, 40}), static_cast<int64_t>(12157665459056928801ull));  // 3^40 mod 2^64
  EXPECT_EQ(I(Op::pow, {2, -1}), 0);
  EXPECT_EQ(I(Op::pow, {0, -1}), 0);
  EXPECT_EQ(I(Op::pow, {1, -5}), 1);
  EXPECT_EQ(I(Op::pow, {-1, -3}), -1);
  EXPECT_EQ(I(Op::pow, {-1, -4}), 1);
  EXPECT_EQ(I(Op::pow, {-1, kI64Min}), 1);
}

TEST(RefMathInt, MinMaxClampWhere) {
  for (Op op : {Op::maximum, Op::fmax, Op::clamp_min}) EXPECT_EQ(I(op, {-3, 2}), 2) << op_name(op);
  for (Op op : {Op::minimum, Op::fmin, Op::clamp_max}) EXPECT_EQ(I(op, {-3, 2}), -3) << op_name(op);
  EXPECT_EQ(I(Op::clamp, {5, 0, 3}), 3);
  EXPECT_EQ(I(Op::clamp, {-5, 0, 3}), 0);
  EXPECT_EQ(I(Op::clamp, {2, 0, 3}), 2);
  EXPECT_EQ(I(Op::clamp, {2, 4, 3}), 3);  // lo > hi: hi
  EXPECT_EQ(I(Op::where, {0, 10, 20}), 20);
  EXPECT_EQ(I(Op::where, {-3, 10, 20}), 10);
}

TEST(RefMathInt, ComparisonsAndLogic) {
  EXPECT_EQ(I(Op::eq, {3, 3}), 1);
  EXPECT_EQ(I(Op::ne, {3, 3}), 0);
  EXPECT_EQ(I(Op::lt, {kI64Min, kI64Max}), 1);
  EXPECT_EQ(I(Op::le, {3, 3}), 1);
  EXPECT_EQ(I(Op::gt, {3, 3}), 0);
  EXPECT_EQ(I(Op::ge, {4, 3}), 1);
  EXPECT_EQ(I(Op::logical_and, {2, -1}), 1);
  EXPECT_EQ(I(Op::logical_and, {2, 0}), 0);
  EXPECT_EQ(I(Op::logical_or, {0, 0}), 0);
  EXPECT_EQ(I(Op::logical_or, {0, 5}), 1);
  EXPECT_EQ(I(Op::logical_xor, {4, 5}), 0);
  EXPECT_EQ(I(Op::logical_xor, {0, 5}), 1);
}

TEST(RefMathInt, BitwiseAndShifts) {
  EXPECT_EQ(I(Op::bitwise_and, {0b1100, 0b1010}), 0b1000);
  EXPECT_EQ(I(Op::bitwise_or, {0b1100, 0b1010}), 0b1110);
  EXPECT_EQ(I(Op::bitwise_xor, {0b1100, 0b1010}), 0b0110);
  EXPECT_EQ(I(Op::bitwise_and, {-1, 77}), 77);
  EXPECT_EQ(I(Op::shift_left, {1, 3}), 8);
  EXPECT_EQ(I(Op::shift_left, {-3, 2}), -12);
  EXPECT_EQ(I(Op::shift_left, {1, 63}), kI64Min);
  EXPECT_EQ(I(Op::shift_left, {1, 64}), 0);
  EXPECT_EQ(I(Op::shift_left, {1, 1000}), 0);
  EXPECT_EQ(I(Op::shift_left, {1, -1}), 0);
  EXPECT_EQ(I(Op::shift_right, {-16, 2}), -4);  // arithmetic
  EXPECT_EQ(I(Op::shift_right, {16, 2}), 4);
  EXPECT_EQ(I(Op::shift_right, {-1, 100}), -1);  // sign fill
  EXPECT_EQ(I(Op::shift_right, {5, 100}), 0);
  EXPECT_EQ(I(Op::shift_right, {kI64Min, 63}), -1);
  EXPECT_EQ(I(Op::shift_right, {kI64Max, 62}), 1);
  EXPECT_EQ(I(Op::shift_right, {-8, -1}), -1);  // negative amount: sign fill, as PyTorch
  EXPECT_EQ(I(Op::shift_right, {8, -1}), 0);
}

TEST(RefMathInt, FloatOnlyOpsGiveZero) {
  for (Op op : {Op::exp, Op::sigmoid, Op::gelu, Op::div, Op::atan2, Op::lerp, Op::glu, Op::prelu}) {
    EXPECT_EQ(I(op, {3, 4, 5}), 0) << op_name(op);
  }
}

}  // namespace
