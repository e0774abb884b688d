// CPU reference math for complex elementwise ops, from the definitions, with std::complex<double>
// (the C++ library's branch cuts: log/sqrt along the negative real axis, the sign of a zero
// imaginary part picking the side). The CUDA functors (ew_functors_complex.cuh) are written
// separately, so the GPU tests compare two implementations.
#include "ops/elementwise/ref/ref_math_complex.hpp"

#include <cmath>
#include <limits>

namespace baracuda::ew::ref {
namespace {

using Op = ElementwiseOp;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

cdouble b2c(bool v) { return {v ? 1.0 : 0.0, 0.0}; }
bool c_isnan(cdouble z) { return std::isnan(z.real()) || std::isnan(z.imag()); }
bool c_isinf(cdouble z) { return std::isinf(z.real()) || std::isinf(z.imag()); }

cdouble sigmoid(cdouble z) { return 1.0 / (1.0 + std::exp(-z)); }

// a^b = exp(b log a); 0^b is 1 for b == 0 and 0 for Re(b) > 0 (the limit), else exp(b log 0).
cdouble cpow(cdouble a, cdouble b) {
  if (a == cdouble(0.0, 0.0)) {
    if (b == cdouble(0.0, 0.0)) return {1.0, 0.0};
    if (b.real() > 0.0) return {0.0, 0.0};
  }
  return std::exp(b * std::log(a));
}

cdouble forward(Op op, const ElementwiseAttrs& at, const cdouble* v) {
  const cdouble z = v[0], a = v[0], b = v[1];
  switch (op) {
    case Op::exp: return std::exp(z);
    case Op::log: return std::log(z);
    case Op::sqrt: return std::sqrt(z);
    case Op::reciprocal: return 1.0 / z;
    case Op::sin: return std::sin(z);
    case Op::cos: return std::cos(z);
    case Op::tanh: return std::tanh(z);
    case Op::sigmoid: return sigmoid(z);
    case Op::abs: return {std::abs(z), 0.0};
    case Op::neg: return -z;
    case Op::square: return z * z;
    case Op::isnan: return b2c(c_isnan(z));
    case Op::isinf: return b2c(c_isinf(z));
    case Op::isfinite: return b2c(!c_isnan(z) && !c_isinf(z));
    case Op::add: return a + at.alpha * b;
    case Op::sub: return a - at.alpha * b;
    case Op::mul: return a * b;
    case Op::div: return a / b;
    case Op::pow: return cpow(a, b);
    case Op::eq: return b2c(a == b);
    case Op::ne: return b2c(a != b);
    case Op::where: return v[0] != cdouble(0.0, 0.0) ? v[1] : v[2];  // the condition arrives as (0/1, 0)
    case Op::cast: return z;
    default: return {kNaN, kNaN};
  }
}

// g receives one gradient per forward input (pre-filled with NaN).
void backward(Op op, const ElementwiseAttrs& at, cdouble dy, const cdouble* v, cdouble* g) {
  const cdouble z = v[0], a = v[0], b = v[1];
  switch (op) {
    case Op::add: g[0] = dy; g[1] = dy * at.alpha; return;
    case Op::sub: g[0] = dy; g[1] = -dy * at.alpha; return;
    case Op::mul: g[0] = dy * std::conj(b); g[1] = dy * std::conj(a); return;
    case Op::div:  // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
      g[0] = dy / std::conj(b);
      g[1] = -dy * std::conj(a / b / b);
      return;
    case Op::neg: g[0] = -dy; return;
    case Op::reciprocal: {
      const cdouble r = 1.0 / z;
      g[0] = -dy * std::conj(r * r);
      return;
    }
    case Op::square: g[0] = dy * 2.0 * std::conj(z); return;
    case Op::abs: {  // abs is real: the gradient is dy times the unit vector z/|z| (0 at 0)
      const double m = std::abs(z);
      g[0] = m == 0.0 ? cdouble(0.0, 0.0) : dy * (z / m);
      return;
    }
    case Op::exp: g[0] = dy * std::conj(std::exp(z)); return;
    case Op::log: g[0] = dy / std::conj(z); return;
    case Op::sqrt: g[0] = dy / (2.0 * std::conj(std::sqrt(z))); return;
    case Op::sin: g[0] = dy * std::conj(std::cos(z)); return;
    case Op::cos: g[0] = -dy * std::conj(std::sin(z)); return;
    case Op::tanh: {
      const cdouble t = std::tanh(z);
      g[0] = dy * std::conj(1.0 - t * t);
      return;
    }
    case Op::sigmoid: {
      const cdouble s = sigmoid(z);
      g[0] = dy * std::conj(s * (1.0 - s));
      return;
    }
    case Op::where: {  // in = {cond, a, b}
      const bool t = v[0] != cdouble(0.0, 0.0);
      g[0] = 0.0;
      g[1] = t ? dy : cdouble(0.0, 0.0);
      g[2] = t ? cdouble(0.0, 0.0) : dy;
      return;
    }
    default: return;
  }
}

int forward_inputs(Op op) { return op_info(op).arity; }  // no gated op takes complex operands

}  // namespace

void eval_complex(ElementwiseOp op, Direction dir, const ElementwiseAttrs& attrs, const cdouble* in, cdouble* out) {
  const int n = forward_inputs(op);
  cdouble v[3] = {{kNaN, kNaN}, {kNaN, kNaN}, {kNaN, kNaN}};
  if (dir == Direction::forward) {
    for (int i = 0; i < n; ++i) v[i] = in[i];  // copied first: out may alias in
    out[0] = forward(op, attrs, v);
    return;
  }
  cdouble g[3] = {{kNaN, kNaN}, {kNaN, kNaN}, {kNaN, kNaN}};
  for (int i = 0; i < n; ++i) v[i] = in[1 + i];
  backward(op, attrs, in[0], v, g);
  for (int i = 0; i < n; ++i) out[i] = g[i];
}

}  // namespace baracuda::ew::ref
