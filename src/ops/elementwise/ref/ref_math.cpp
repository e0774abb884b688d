// CPU reference math for the elementwise family: one scalar evaluation per call, in double for
// floating compute and in int64 for integer/bool compute. This is the oracle the CUDA kernels are
// tested against, so it is written from the math definitions (and PyTorch's documented/observed
// semantics), favouring clarity and accuracy over speed.
//
// Operand order is the kernel order of elementwise_problem.hpp:
//   forward:  in = forward inputs (gated: the halves a, b)          out = {y}
//   backward: in = {dy, forward inputs...}                          out = one gradient per input
// Unknown ops, and backward of non-differentiable ops, leave NaN (float) / 0 (int) outputs.
#include "ops/elementwise/ref/ref_math.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace baracuda::ew::ref {
namespace {

using Op = ElementwiseOp;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

constexpr double kPi = 3.14159265358979323846264338327950288;
constexpr double kLn2 = 0.693147180559945309417232121458176568;
constexpr double kLn10 = 2.30258509299404568401799145468436421;
constexpr double kSqrt1_2 = 0.707106781186547524400844362104849039;      // 1/sqrt(2)
constexpr double kInvSqrt2Pi = 0.398942280401432677939946059934381868;   // 1/sqrt(2*pi)
constexpr double kTwoOverSqrtPi = 1.12837916709551257389615890312154517; // 2/sqrt(pi)
constexpr double kSqrtPi = 1.77245385090551602729816748334114518;        // sqrt(pi)
constexpr double kSqrt2OverPi = 0.797884560802865355879892119868763737;  // sqrt(2/pi)
constexpr double kGeluTanhKappa = 0.044715;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

// ---------------------------------------------------------------------------------------------
// What this file needs from the op table: how many kernel operands each op has.

struct OpShape {
  int arity;
  ElementwiseCategory category;
  bool differentiable;
};

constexpr OpShape kOpShapes[] = {
#define BARACUDA_X(name, Functor, arity, category, differentiable, ...) \
  {arity, ElementwiseCategory::category, (differentiable) != 0},
    BARACUDA_ELEMENTWISE_OPS(BARACUDA_X)
#undef BARACUDA_X
};
constexpr size_t kNumOps = sizeof(kOpShapes) / sizeof(kOpShapes[0]);

const OpShape* shape_of(Op op) {
  const auto i = static_cast<size_t>(op);
  return i < kNumOps ? &kOpShapes[i] : nullptr;
}

// Forward kernel inputs (gated ops see the two halves). Backward has one more input (dy) and one
// output per forward kernel input.
int forward_inputs(const OpShape& s) { return s.category == ElementwiseCategory::gated ? 2 : s.arity; }

// ---------------------------------------------------------------------------------------------
// Small helpers.

double b2d(bool v) { return v ? 1.0 : 0.0; }
bool truthy(double v) { return v != 0.0; }  // NaN is true, like bool(nan) in PyTorch

// Logistic function, evaluated without overflow on either side.
double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);  // NaN lands here and stays NaN
  return e / (1.0 + e);
}

// log(1 + exp(x)) without overflow.
double log1pexp(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// maximum / minimum: NaN in either operand gives NaN; otherwise std::max / std::min.
double nan_max(double a, double b) { return (std::isnan(a) || std::isnan(b)) ? kNaN : std::max(a, b); }
double nan_min(double a, double b) { return (std::isnan(a) || std::isnan(b)) ? kNaN : std::min(a, b); }

// clamp(x, lo, hi) = min(max(x, lo), hi); NaN in any operand gives NaN.
double clamp3(double x, double lo, double hi) { return nan_min(nan_max(x, lo), hi); }

// ---------------------------------------------------------------------------------------------
// Special functions: erfinv, digamma, trigamma.

// Inverse error function. Initial guess from M. Giles, "Approximating the erfinv function"
// (GPU Computing Gems, 2010, single-precision version), refined by Halley steps on erf (on erfc
// for |x| > 0.5, where 1 - |x| is exact and erfc keeps full relative accuracy).
double erfinv(double x) {
  if (std::isnan(x)) return x;
  const double ax = std::fabs(x);
  if (ax > 1.0) return kNaN;
  if (ax == 1.0) return std::copysign(kInf, x);
  if (ax == 0.0) return x;  // keeps the sign of zero

  double w = -std::log((1.0 - ax) * (1.0 + ax));
  double p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = std::sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  double y = p * ax;

  // Halley on f(y) = erf(y) - ax: f' = 2/sqrt(pi) exp(-y^2), f'' = -2y f', so the step is
  // u / (1 + y u) with u = f / f' (1 + y u stays positive on both sides of the root). Two or three
  // steps suffice where the single-precision guess is good; the far tail (1 - |x| < ~1e-7, beyond
  // the guess's fitted range) takes a few more.
  for (int it = 0; it < 40; ++it) {
    const double residual = ax <= 0.5 ? std::erf(y) - ax : (1.0 - ax) - std::erfc(y);
    const double u = residual / (kTwoOverSqrtPi * std::exp(-y * y));
    const double step = u / (1.0 + y * u);
    y -= step;
    if (std::fabs(step) <= 2.5e-16 * y) break;  // converged to about an ulp
  }
  return std::copysign(y, x);
}

// Digamma psi(x) = d/dx log|Gamma(x)|. Reflection for x < 0, recurrence up to x >= 10, then the
// asymptotic series psi(x) ~ ln x - 1/(2x) - sum_k B_2k / (2k x^2k).
// PyTorch conventions: psi(+0) = -inf, psi(-0) = +inf, negative integers give NaN.
double digamma(double x) {
  if (std::isnan(x)) return x;
  if (x == 0.0) return std::copysign(kInf, -x);
  if (x < 0.0) {
    if (x == std::floor(x)) return kNaN;  // poles (also -inf)
    // psi(x) = psi(1 - x) - pi cot(pi x); tan has period pi, so use the exact fractional part.
    const double r = x - std::trunc(x);
    return digamma(1.0 - x) - kPi / std::tan(kPi * r);
  }
  if (x == kInf) return kInf;
  double acc = 0.0;
  while (x < 10.0) {  // psi(x) = psi(x + 1) - 1/x
    acc -= 1.0 / x;
    x += 1.0;
  }
  const double z = 1.0 / (x * x);
  // B_2k / (2k) for k = 1..7: 1/12, -1/120, 1/252, -1/240, 1/132, -691/32760, 1/12
  const double series =
      z * (1.0 / 12 -
           z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (1.0 / 132 - z * (691.0 / 32760 - z / 12))))));
  return acc + std::log(x) - 0.5 / x - series;
}

// Trigamma psi_1(x) = d/dx psi(x). Reflection psi_1(x) = pi^2 / sin^2(pi x) - psi_1(1 - x) for
// x < 0, recurrence up to x >= 10, then psi_1(x) ~ 1/x + 1/(2x^2) + sum_k B_2k / x^(2k+1).
double trigamma(double x) {
  if (std::isnan(x)) return x;
  if (x <= 0.0 && x == std::floor(x)) return kInf;  // poles
  if (x < 0.0) {
    const double s = std::sin(kPi * (x - std::trunc(x)));
    return kPi * kPi / (s * s) - trigamma(1.0 - x);
  }
  if (x == kInf) return 0.0;
  double acc = 0.0;
  while (x < 10.0) {  // psi_1(x) = psi_1(x + 1) + 1/x^2
    acc += 1.0 / (x * x);
    x += 1.0;
  }
  const double z = 1.0 / (x * x);
  // B_2k for k = 1..7: 1/6, -1/30, 1/42, -1/30, 5/66, -691/2730, 7/6
  const double bern =
      z * (1.0 / 6 -
           z * (1.0 / 30 - z * (1.0 / 42 - z * (1.0 / 30 - z * (5.0 / 66 - z * (691.0 / 2730 - z * 7.0 / 6))))));
  return acc + (1.0 + 0.5 / x + bern) / x;
}

// ---------------------------------------------------------------------------------------------
// Activations shared by several ops.

// gelu(x) = x * Phi(x), Phi the standard normal CDF. erfc keeps Phi accurate for x << 0.
double normal_cdf(double x) { return 0.5 * std::erfc(-x * kSqrt1_2); }
double normal_pdf(double x) { return kInvSqrt2Pi * std::exp(-0.5 * x * x); }
double gelu(double x) { return x * normal_cdf(x); }
double gelu_grad(double x) { return normal_cdf(x) + x * normal_pdf(x); }

// gelu_tanh(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + kappa x^3). Uses 1 + tanh(u) = 2 s,
// s = sigmoid(2u), which avoids cancellation for x << 0; 1 - tanh(u)^2 = 4 s (1 - s).
double gelu_tanh_inner(double x) { return kSqrt2OverPi * (x + kGeluTanhKappa * x * x * x); }
double gelu_tanh(double x) { return x * sigmoid(2.0 * gelu_tanh_inner(x)); }
double gelu_tanh_grad(double x) {
  const double s = sigmoid(2.0 * gelu_tanh_inner(x));
  const double du = kSqrt2OverPi * (1.0 + 3.0 * kGeluTanhKappa * x * x);
  return s + 2.0 * x * s * (1.0 - s) * du;
}

double silu(double x) { return x * sigmoid(x); }
double silu_grad(double x) {
  const double s = sigmoid(x);
  return s * (1.0 + x * (1.0 - s));
}

// relu (= clamp_min(x, 0)): NaN propagates.
double relu(double x) { return std::isnan(x) ? x : (x > 0 ? x : 0.0); }

// softplus with PyTorch's beta and threshold: linear where beta * x > threshold.
double softplus(double x, double beta, double threshold) {
  const double bx = beta * x;
  return bx > threshold ? x : log1pexp(bx) / beta;
}

// mish(x) = x tanh(softplus(x)) with softplus(beta = 1, threshold = 20).
double mish_tanh_sp(double x) { return std::tanh(softplus(x, 1.0, 20.0)); }

// hardsigmoid(x) = clamp(x + 3, 0, 6) / 6 (NaN propagates).
double hardsigmoid(double x) { return clamp3(x + 3.0, 0.0, 6.0) / 6.0; }

// ---------------------------------------------------------------------------------------------
// Binary helpers with PyTorch's exact conventions.

// Floor division for floats, as PyTorch computes it (c10 div_floor_floating): exact quotient
// via fmod, then rounded so the result is the floor of the true quotient.
double div_floor(double a, double b) {
  if (b == 0.0) return a / b;
  const double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0 && (b < 0.0) != (mod < 0.0)) div -= 1.0;
  if (div != 0.0) {
    double f = std::floor(div);
    if (div - f > 0.5) f += 1.0;
    return f;
  }
  return std::copysign(0.0, a / b);
}

// Python-style modulo: the result has the sign of the divisor.
double remainder(double a, double b) {
  double mod = std::fmod(a, b);
  if (mod != 0.0 && (b < 0.0) != (mod < 0.0)) mod += b;
  return mod;
}

double logaddexp(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  if (std::isinf(a) && a == b) return a;  // avoids inf - inf
  return std::max(a, b) + std::log1p(std::exp(-std::fabs(a - b)));
}

double logaddexp2(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return kNaN;
  if (std::isinf(a) && a == b) return a;
  return std::max(a, b) + std::log1p(std::exp2(-std::fabs(a - b))) / kLn2;
}

// xlogy(a, b) = a * log(b), with 0 where a == 0 (unless b is NaN).
double xlogy(double a, double b) {
  if (std::isnan(b)) return kNaN;
  if (a == 0.0) return 0.0;
  return a * std::log(b);
}

// lerp(a, b, w) = a + w (b - a), evaluated from the nearer end (PyTorch's two-branch form).
double lerp(double a, double b, double w) {
  return std::fabs(w) < 0.5 ? a + w * (b - a) : b - (b - a) * (1.0 - w);
}

// ---------------------------------------------------------------------------------------------
// Floating forward. v holds the forward inputs (padded with NaN).

double forward_float(Op op, const ElementwiseAttrs& at, const double* v) {
  const double x = v[0];
  const double a = v[0], b = v[1], c = v[2];
  switch (op) {
    // unary math
    case Op::exp: return std::exp(x);
    case Op::exp2: return std::exp2(x);
    case Op::expm1: return std::expm1(x);
    case Op::log: return std::log(x);
    case Op::log2: return std::log2(x);
    case Op::log10: return std::log10(x);
    case Op::log1p: return std::log1p(x);
    case Op::sqrt: return std::sqrt(x);
    case Op::rsqrt: return 1.0 / std::sqrt(x);
    case Op::reciprocal: return 1.0 / x;
    case Op::sin: return std::sin(x);
    case Op::cos: return std::cos(x);
    case Op::tan: return std::tan(x);
    case Op::asin: return std::asin(x);
    case Op::acos: return std::acos(x);
    case Op::atan: return std::atan(x);
    case Op::sinh: return std::sinh(x);
    case Op::cosh: return std::cosh(x);
    case Op::tanh: return std::tanh(x);
    case Op::asinh: return std::asinh(x);
    case Op::acosh: return std::acosh(x);
    case Op::atanh: return std::atanh(x);
    case Op::erf: return std::erf(x);
    case Op::erfc: return std::erfc(x);
    case Op::erfinv: return erfinv(x);
    case Op::lgamma: return std::lgamma(x);
    case Op::digamma: return digamma(x);
    case Op::sigmoid: return sigmoid(x);
    case Op::logit: {
      double z = x;
      if (at.eps >= 0.0) z = x < at.eps ? at.eps : (x > 1.0 - at.eps ? 1.0 - at.eps : x);
      return std::log(z / (1.0 - z));
    }

    // unary, dtype-preserving
    case Op::abs: return std::fabs(x);
    case Op::neg: return -x;
    case Op::sign: return static_cast<double>((0.0 < x) - (x < 0.0));  // sign(NaN) = 0
    case Op::square: return x * x;
    case Op::floor: return std::floor(x);
    case Op::ceil: return std::ceil(x);
    case Op::round: return std::nearbyint(x);  // half to even
    case Op::trunc: return std::trunc(x);

    // activations
    case Op::frac: return x - std::trunc(x);
    case Op::relu: return relu(x);
    case Op::relu6: return clamp3(x, 0.0, 6.0);
    case Op::leaky_relu: return x > 0 ? x : x * at.negative_slope;
    case Op::elu: return x > 0 ? x : at.alpha * std::expm1(x);
    case Op::selu: return kSeluScale * (x > 0 ? x : kSeluAlpha * std::expm1(x));
    case Op::celu: return x > 0 ? x : at.alpha * std::expm1(x / at.alpha);
    case Op::gelu: return gelu(x);
    case Op::gelu_tanh: return gelu_tanh(x);
    case Op::silu: return silu(x);
    case Op::mish: return x * mish_tanh_sp(x);
    case Op::softplus: return softplus(x, at.beta, at.threshold);
    case Op::softsign: return x / (1.0 + std::fabs(x));
    case Op::hardtanh: return clamp3(x, at.min_val, at.max_val);
    case Op::hardsigmoid: return hardsigmoid(x);
    case Op::hardswish: return x * hardsigmoid(x);
    case Op::tanhshrink: return x - std::tanh(x);
    case Op::softshrink:
      if (std::isnan(x)) return x;
      return x > at.lambd ? x - at.lambd : (x < -at.lambd ? x + at.lambd : 0.0);
    case Op::hardshrink: return (x >= -at.lambd && x <= at.lambd) ? 0.0 : x;
    case Op::threshold: return x <= at.threshold ? at.value : x;  // NaN stays NaN

    // unary predicates
    case Op::isnan: return b2d(std::isnan(x));
    case Op::isinf: return b2d(std::isinf(x));
    case Op::isfinite: return b2d(std::isfinite(x));
    case Op::logical_not: return b2d(!truthy(x));

    // binary arithmetic
    case Op::add: return a + at.alpha * b;
    case Op::sub: return a - at.alpha * b;
    case Op::mul: return a * b;
    case Op::div_floor: return div_floor(a, b);
    case Op::div_trunc: return std::trunc(a / b);
    case Op::pow: return std::pow(a, b);
    case Op::fmod: return std::fmod(a, b);
    case Op::remainder: return remainder(a, b);
    case Op::maximum: return nan_max(a, b);
    case Op::minimum: return nan_min(a, b);
    case Op::fmax: return std::fmax(a, b);
    case Op::fmin: return std::fmin(a, b);
    case Op::clamp_min: return nan_max(a, b);
    case Op::clamp_max: return nan_min(a, b);
    case Op::div: return a / b;
    case Op::atan2: return std::atan2(a, b);
    case Op::hypot: return std::hypot(a, b);
    case Op::logaddexp: return logaddexp(a, b);
    case Op::logaddexp2: return logaddexp2(a, b);
    case Op::xlogy: return xlogy(a, b);
    case Op::copysign: return std::copysign(a, b);
    case Op::nextafter: return std::nextafter(a, b);

    // comparisons and logical ops (NaN compares false except !=)
    case Op::eq: return b2d(a == b);
    case Op::ne: return b2d(a != b);
    case Op::lt: return b2d(a < b);
    case Op::le: return b2d(a <= b);
    case Op::gt: return b2d(a > b);
    case Op::ge: return b2d(a >= b);
    case Op::logical_and: return b2d(truthy(a) && truthy(b));
    case Op::logical_or: return b2d(truthy(a) || truthy(b));
    case Op::logical_xor: return b2d(truthy(a) != truthy(b));

    case Op::prelu: return x > 0 ? x : b * x;  // in = {x, w}

    // ternary
    case Op::where: return truthy(v[0]) ? v[1] : v[2];
    case Op::lerp: return lerp(a, b, c);
    case Op::clamp: return clamp3(a, b, c);
    case Op::addcmul: return a + at.alpha * b * c;
    case Op::addcdiv: return a + at.alpha * b / c;
    case Op::fma: return std::fma(a, b, c);

    // gated: in = {a, b} halves
    case Op::glu: return a * sigmoid(b);
    case Op::swiglu: return silu(a) * b;
    case Op::geglu: return gelu(a) * b;
    case Op::geglu_tanh: return gelu_tanh(a) * b;
    case Op::reglu: return relu(a) * b;

    case Op::cast: return x * at.scale;

    default: return kNaN;  // bitwise / shift ops have no floating form
  }
}

// ---------------------------------------------------------------------------------------------
// Floating backward. v holds the forward inputs, g receives one gradient per forward input
// (pre-filled with NaN). Masks are written as selects, so a zero gradient stays 0 even when dy is
// inf/NaN, and the comparisons are PyTorch's (which decides where NaN inputs send the gradient).

void backward_float(Op op, const ElementwiseAttrs& at, double dy, const double* v, double* g) {
  const double x = v[0];
  const double a = v[0], b = v[1], c = v[2];
  switch (op) {
    // unary math
    case Op::exp: g[0] = dy * std::exp(x); return;
    case Op::exp2: g[0] = dy * std::exp2(x) * kLn2; return;
    case Op::expm1: g[0] = dy * std::exp(x); return;
    case Op::log: g[0] = dy / x; return;
    case Op::log2: g[0] = dy / (x * kLn2); return;
    case Op::log10: g[0] = dy / (x * kLn10); return;
    case Op::log1p: g[0] = dy / (1.0 + x); return;
    case Op::sqrt: g[0] = dy / (2.0 * std::sqrt(x)); return;
    case Op::rsqrt: {
      const double r = 1.0 / std::sqrt(x);
      g[0] = -0.5 * dy * r * r * r;
      return;
    }
    case Op::reciprocal: g[0] = -dy / (x * x); return;
    case Op::sin: g[0] = dy * std::cos(x); return;
    case Op::cos: g[0] = -dy * std::sin(x); return;
    case Op::tan: {
      const double t = std::tan(x);
      g[0] = dy * (1.0 + t * t);
      return;
    }
    case Op::asin: g[0] = dy / std::sqrt(1.0 - x * x); return;
    case Op::acos: g[0] = -dy / std::sqrt(1.0 - x * x); return;
    case Op::atan: g[0] = dy / (1.0 + x * x); return;
    case Op::sinh: g[0] = dy * std::cosh(x); return;
    case Op::cosh: g[0] = dy * std::sinh(x); return;
    case Op::tanh: {
      const double t = std::tanh(x);
      g[0] = dy * (1.0 - t * t);
      return;
    }
    case Op::asinh: g[0] = dy / std::sqrt(x * x + 1.0); return;
    case Op::acosh: g[0] = dy / std::sqrt(x * x - 1.0); return;
    case Op::atanh: g[0] = dy / (1.0 - x * x); return;
    case Op::erf: g[0] = dy * kTwoOverSqrtPi * std::exp(-x * x); return;
    case Op::erfc: g[0] = -dy * kTwoOverSqrtPi * std::exp(-x * x); return;
    case Op::erfinv: {
      const double y = erfinv(x);
      g[0] = dy * 0.5 * kSqrtPi * std::exp(y * y);
      return;
    }
    case Op::lgamma: g[0] = dy * digamma(x); return;
    case Op::digamma: g[0] = dy * trigamma(x); return;
    case Op::sigmoid: {
      const double s = sigmoid(x);
      g[0] = dy * s * sigmoid(-x);  // s * (1 - s) without cancellation
      return;
    }
    case Op::logit:
      if (at.eps >= 0.0) {
        g[0] = (x < at.eps || x > 1.0 - at.eps) ? 0.0 : dy / (x * (1.0 - x));
      } else if (x < 0.0 || x > 1.0) {
        g[0] = kNaN;
      } else {
        g[0] = (x == 0.0 || x == 1.0) ? dy * kInf : dy / (x * (1.0 - x));
      }
      return;

    // unary, dtype-preserving
    case Op::abs: g[0] = dy * static_cast<double>((0.0 < x) - (x < 0.0)); return;
    case Op::neg: g[0] = -dy; return;
    case Op::square: g[0] = dy * 2.0 * x; return;
    case Op::sign:
    case Op::floor:
    case Op::ceil:
    case Op::round:
    case Op::trunc: g[0] = 0.0; return;

    // activations
    case Op::frac: g[0] = dy; return;
    case Op::relu: g[0] = x <= 0 ? 0.0 : dy; return;
    case Op::relu6: g[0] = (x <= 0.0 || x >= 6.0) ? 0.0 : dy; return;
    case Op::leaky_relu: g[0] = x > 0 ? dy : dy * at.negative_slope; return;
    case Op::elu: g[0] = x <= 0 ? dy * at.alpha * std::exp(x) : dy; return;
    case Op::selu: g[0] = x <= 0 ? dy * kSeluScale * kSeluAlpha * std::exp(x) : dy * kSeluScale; return;
    case Op::celu: g[0] = x <= 0 ? dy * std::exp(x / at.alpha) : dy; return;
    case Op::gelu: g[0] = dy * gelu_grad(x); return;
    case Op::gelu_tanh: g[0] = dy * gelu_tanh_grad(x); return;
    case Op::silu: g[0] = dy * silu_grad(x); return;
    case Op::mish: {
      const double t = mish_tanh_sp(x);
      g[0] = dy * (t + x * sigmoid(x) * (1.0 - t * t));
      return;
    }
    case Op::softplus: {
      const double bx = at.beta * x;
      g[0] = bx > at.threshold ? dy : dy * sigmoid(bx);
      return;
    }
    case Op::softsign: {
      const double d = 1.0 + std::fabs(x);
      g[0] = dy / (d * d);
      return;
    }
    case Op::hardtanh: g[0] = (x <= at.min_val || x >= at.max_val) ? 0.0 : dy; return;
    case Op::hardsigmoid: g[0] = (x > -3.0 && x < 3.0) ? dy / 6.0 : 0.0; return;
    case Op::hardswish:
      if (x < -3.0) {
        g[0] = 0.0;
      } else if (x <= 3.0) {
        g[0] = dy * (x / 3.0 + 0.5);
      } else {
        g[0] = dy;  // also NaN x, as in PyTorch
      }
      return;
    case Op::tanhshrink: {
      const double t = std::tanh(x);
      g[0] = dy * t * t;
      return;
    }
    case Op::softshrink:
    case Op::hardshrink: g[0] = (x >= -at.lambd && x <= at.lambd) ? 0.0 : dy; return;
    case Op::threshold: g[0] = x <= at.threshold ? 0.0 : dy; return;

    // binary arithmetic
    case Op::add: g[0] = dy; g[1] = dy * at.alpha; return;
    case Op::sub: g[0] = dy; g[1] = -dy * at.alpha; return;
    case Op::mul: g[0] = dy * b; g[1] = dy * a; return;
    case Op::div: g[0] = dy / b; g[1] = -dy * ((a / b) / b); return;
    case Op::div_floor:
    case Op::div_trunc: g[0] = 0.0; g[1] = 0.0; return;
    case Op::pow:
      g[0] = b == 0.0 ? 0.0 : dy * b * std::pow(a, b - 1.0);
      g[1] = (a == 0.0 && b >= 0.0) ? 0.0 : dy * std::pow(a, b) * std::log(a);
      return;
    case Op::fmod: g[0] = dy; g[1] = -dy * std::trunc(a / b); return;
    case Op::remainder: g[0] = dy; g[1] = -dy * div_floor(a, b); return;
    case Op::maximum:
      g[0] = a == b ? dy / 2 : (a < b ? 0.0 : dy);
      g[1] = a == b ? dy / 2 : (a > b ? 0.0 : dy);
      return;
    case Op::minimum:
      g[0] = a == b ? dy / 2 : (a > b ? 0.0 : dy);
      g[1] = a == b ? dy / 2 : (a < b ? 0.0 : dy);
      return;
    case Op::fmax: {
      const bool to_a = a >= b || std::isnan(b);  // ties go to a
      g[0] = to_a ? dy : 0.0;
      g[1] = to_a ? 0.0 : dy;
      return;
    }
    case Op::fmin: {
      const bool to_a = a <= b || std::isnan(b);
      g[0] = to_a ? dy : 0.0;
      g[1] = to_a ? 0.0 : dy;
      return;
    }
    case Op::clamp_min:  // in = {x, min}
      g[0] = a >= b ? dy : 0.0;
      g[1] = a < b ? dy : 0.0;
      return;
    case Op::clamp_max:  // in = {x, max}
      g[0] = a <= b ? dy : 0.0;
      g[1] = a > b ? dy : 0.0;
      return;
    case Op::atan2: {
      const double r = 1.0 / (a * a + b * b);
      g[0] = dy * b * r;
      g[1] = -dy * a * r;
      return;
    }
    case Op::hypot: {
      const double h = std::hypot(a, b);
      g[0] = dy * a / h;
      g[1] = dy * b / h;
      return;
    }
    case Op::logaddexp:
      g[0] = dy / (1.0 + std::exp(b - a));
      g[1] = dy / (1.0 + std::exp(a - b));
      return;
    case Op::logaddexp2:
      g[0] = dy / (1.0 + std::exp2(b - a));
      g[1] = dy / (1.0 + std::exp2(a - b));
      return;
    case Op::xlogy:
      g[0] = (a == 0.0 && b <= 0.0) ? 0.0 : xlogy(dy, b);
      g[1] = dy * a / b;
      return;
    case Op::copysign: {
      const double ratio = a == 0.0 ? 0.0 : std::copysign(a, b) / a;
      g[0] = dy * ratio;
      g[1] = 0.0;
      return;
    }

    case Op::prelu:  // in = {x, w}; g = {dx, per-element weight-gradient contribution}
      g[0] = x > 0 ? dy : b * dy;
      g[1] = x > 0 ? 0.0 : x * dy;
      return;

    // ternary
    case Op::where: {  // in = {cond, a, b}
      const bool t = truthy(v[0]);
      g[0] = 0.0;
      g[1] = t ? dy : 0.0;
      g[2] = t ? 0.0 : dy;
      return;
    }
    case Op::lerp:  // in = {a, b, w}
      g[0] = dy * (1.0 - c);
      g[1] = dy * c;
      g[2] = dy * (b - a);
      return;
    case Op::clamp:  // in = {x, lo, hi}; lo > hi: the result is hi everywhere
      g[0] = (a >= b && a <= c) ? dy : 0.0;
      g[1] = (a < b && b < c) ? dy : 0.0;
      g[2] = (a > c || c < b) ? dy : 0.0;
      return;
    case Op::addcmul:
      g[0] = dy;
      g[1] = dy * c * at.alpha;
      g[2] = dy * b * at.alpha;
      return;
    case Op::addcdiv:
      g[0] = dy;
      g[1] = dy * (at.alpha / c);
      g[2] = -dy * (at.alpha * b / (c * c));
      return;
    case Op::fma:
      g[0] = dy * b;
      g[1] = dy * a;
      g[2] = dy;
      return;

    // gated: in = {a, b}
    case Op::glu: {
      const double s = sigmoid(b);
      g[0] = dy * s;
      g[1] = dy * a * s * sigmoid(-b);  // s * (1 - s) without cancellation
      return;
    }
    case Op::swiglu: g[0] = dy * b * silu_grad(a); g[1] = dy * silu(a); return;
    case Op::geglu: g[0] = dy * b * gelu_grad(a); g[1] = dy * gelu(a); return;
    case Op::geglu_tanh: g[0] = dy * b * gelu_tanh_grad(a); g[1] = dy * gelu_tanh(a); return;
    case Op::reglu: g[0] = a <= 0 ? 0.0 : dy * b; g[1] = dy * relu(a); return;

    case Op::cast: g[0] = dy * at.scale; return;

    default: return;  // not differentiable: leave NaN
  }
}

// ---------------------------------------------------------------------------------------------
// Integer helpers: two's-complement wrapping through uint64, and division that never traps.

int64_t wrap(uint64_t u) { return static_cast<int64_t>(u); }
uint64_t u64(int64_t v) { return static_cast<uint64_t>(v); }
int64_t add_w(int64_t a, int64_t b) { return wrap(u64(a) + u64(b)); }
int64_t sub_w(int64_t a, int64_t b) { return wrap(u64(a) - u64(b)); }
int64_t mul_w(int64_t a, int64_t b) { return wrap(u64(a) * u64(b)); }
int64_t neg_w(int64_t a) { return wrap(0 - u64(a)); }

constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();

// A double attribute (alpha) as an integer multiplier: truncated, saturated, NaN -> 0.
int64_t to_i64(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775808.0) return kI64Max;
  if (v < -9223372036854775808.0) return kI64Min;
  return static_cast<int64_t>(v);
}

// C division (toward zero). x / 0 = 0; INT64_MIN / -1 = INT64_MIN.
int64_t div_trunc_i(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return neg_w(a);
  return a / b;
}

// Python floor division.
int64_t div_floor_i(int64_t a, int64_t b) {
  if (b == 0) return 0;
  if (b == -1) return neg_w(a);
  const int64_t q = a / b;
  const int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
}

// C remainder (sign of the dividend).
int64_t fmod_i(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0;
  return a % b;
}

// Python modulo (sign of the divisor).
int64_t remainder_i(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0;
  const int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

// Integer power by squaring (wrapping). Negative exponents truncate: 1 -> 1, -1 -> +-1, else 0.
int64_t pow_i(int64_t base, int64_t e) {
  if (e < 0) {
    if (base == 1) return 1;
    if (base == -1) return (e & 1) ? -1 : 1;
    return 0;
  }
  uint64_t result = 1, sq = u64(base);
  for (uint64_t k = u64(e); k != 0; k >>= 1) {
    if (k & 1) result *= sq;
    sq *= sq;
  }
  return wrap(result);
}

// Left shift; amounts outside [0, 64) give 0.
int64_t shift_left_i(int64_t a, int64_t s) { return (s < 0 || s >= 64) ? 0 : wrap(u64(a) << s); }

// Arithmetic right shift; amounts outside [0, 63) fill with the sign (PyTorch: a >> (bits - 1)).
int64_t shift_right_i(int64_t a, int64_t s) { return (s < 0 || s >= 63) ? (a >> 63) : (a >> s); }

int64_t forward_int(Op op, const ElementwiseAttrs& at, const int64_t* v) {
  const int64_t x = v[0];
  const int64_t a = v[0], b = v[1], c = v[2];
  switch (op) {
    case Op::abs: return x < 0 ? neg_w(x) : x;
    case Op::neg: return neg_w(x);
    case Op::sign: return (0 < x) - (x < 0);
    case Op::square: return mul_w(x, x);
    case Op::floor:
    case Op::ceil:
    case Op::round:
    case Op::trunc: return x;

    case Op::isnan:
    case Op::isinf: return 0;
    case Op::isfinite: return 1;
    case Op::logical_not: return x == 0;

    case Op::bitwise_not: return ~x;

    case Op::add: return add_w(a, mul_w(to_i64(at.alpha), b));
    case Op::sub: return sub_w(a, mul_w(to_i64(at.alpha), b));
    case Op::mul: return mul_w(a, b);
    case Op::div_floor: return div_floor_i(a, b);
    case Op::div_trunc: return div_trunc_i(a, b);
    case Op::pow: return pow_i(a, b);
    case Op::fmod: return fmod_i(a, b);
    case Op::remainder: return remainder_i(a, b);
    case Op::maximum:
    case Op::fmax:
    case Op::clamp_min: return std::max(a, b);
    case Op::minimum:
    case Op::fmin:
    case Op::clamp_max: return std::min(a, b);

    case Op::eq: return a == b;
    case Op::ne: return a != b;
    case Op::lt: return a < b;
    case Op::le: return a <= b;
    case Op::gt: return a > b;
    case Op::ge: return a >= b;
    case Op::logical_and: return a != 0 && b != 0;
    case Op::logical_or: return a != 0 || b != 0;
    case Op::logical_xor: return (a != 0) != (b != 0);

    case Op::bitwise_and: return a & b;
    case Op::bitwise_or: return a | b;
    case Op::bitwise_xor: return a ^ b;
    case Op::shift_left: return shift_left_i(a, b);
    case Op::shift_right: return shift_right_i(a, b);

    case Op::where: return v[0] != 0 ? v[1] : v[2];
    case Op::clamp: return std::min(std::max(a, b), c);
    case Op::addcmul: return add_w(a, mul_w(mul_w(to_i64(at.alpha), b), c));
    case Op::fma: return add_w(mul_w(a, b), c);

    default: return 0;  // floating-only ops
  }
}

}  // namespace

void eval_float(ElementwiseOp op, Direction dir, const ElementwiseAttrs& attrs, const double* in, double* out) {
  const OpShape* s = shape_of(op);
  if (s == nullptr) {
    out[0] = kNaN;  // every kernel has at least one output
    return;
  }
  const int n = forward_inputs(*s);
  if (dir == Direction::forward) {
    double v[3] = {kNaN, kNaN, kNaN};
    for (int i = 0; i < n; ++i) v[i] = in[i];  // copied first: out may alias in
    out[0] = forward_float(op, attrs, v);
    return;
  }
  double g[3] = {kNaN, kNaN, kNaN};
  if (dir == Direction::backward && s->differentiable) {
    const double dy = in[0];
    double v[3] = {kNaN, kNaN, kNaN};
    for (int i = 0; i < n; ++i) v[i] = in[1 + i];
    backward_float(op, attrs, dy, v, g);
  }
  for (int i = 0; i < n; ++i) out[i] = g[i];
}

void eval_int(ElementwiseOp op, const ElementwiseAttrs& attrs, const int64_t* in, int64_t* out) {
  const OpShape* s = shape_of(op);
  if (s == nullptr) {
    out[0] = 0;
    return;
  }
  int64_t v[3] = {0, 0, 0};
  for (int i = 0; i < forward_inputs(*s); ++i) v[i] = in[i];
  out[0] = forward_int(op, attrs, v);
}

}  // namespace baracuda::ew::ref
