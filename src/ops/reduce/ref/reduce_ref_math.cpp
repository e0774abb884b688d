// CPU reference math for the reduction family: one reduced group (the n elements that become one
// output element) per call, in double for floating inputs and in int64 for integer/bool inputs.
// This is the oracle the CUDA reductions are tested against, so it is written from the
// definitions (and PyTorch's documented/observed semantics), favouring accuracy and clarity over
// speed: sums are compensated (Neumaier), norms are scaled against overflow, logsumexp is
// max-shifted, and prod's gradient is the exact product of the others (prefix x suffix).
//
// Conventions this file fixes (see reduce_ref_math.hpp for the operand layout):
//  * NaN: amax/amin/max/min/argmax/argmin treat NaN as the extreme (the first NaN's index wins);
//    sum/mean/prod/var/std/norm/logsumexp propagate it; nansum/nanmean skip it; any/all/
//    count_nonzero count it as nonzero.
//  * var/std: numerator / max(0, n - correction) in IEEE arithmetic (0/0 = NaN, x/0 = inf).
//  * norm of an empty group: 0 for p >= 0 (incl. +inf), inf for p < 0 (incl. -inf) — what the
//    formula (sum |x|^p)^(1/p) gives. PyTorch refuses p < 0 and p = +-inf on empty input.
//  * Unsupported (op, integer) pairs write 0; backward of a non-differentiable op writes NaN.
//
// Backward, where PyTorch's formula has a singular point, follows PyTorch (FunctionsManual.cpp):
//  * var with n - correction <= 0: dx = dy * (x == mean ? NaN : inf)  (var_backward's rule).
//  * std: dvar = (std == 0 ? 0 : dy / (2 std)), then var's rule (std_backward's masked_fill).
//  * norm: p = 2: dy x / norm, 0 where norm == 0; p = 1: dy sign(x); p = 0: 0; p = +-inf: dy
//    sign(x) / count among |x| == norm (or NaN x; sign(NaN) = NaN here); other p: dy sign(x)
//    (|x| / norm)^(p-1), 0 where x == 0 or norm == 0 (PyTorch's masks, without overflowing
//    norm^(p-1)).
//  * amax/amin: dy / count among x == result (NaN positions when the result is NaN);
//    max/min (PyTorch's max(dim)/min(dim)): the whole dy to the returned index.
//  * prod: dy * (product of the others); PyTorch computes dy * result / x when there is no zero,
//    which differs only where that overflows or x is infinite.
//  * logsumexp: dy * softmax(x); where lse is +-inf, dy * exp(x - lse) plainly (NaN where x and
//    lse are the same infinity), as PyTorch.
#include "ops/reduce/ref/reduce_ref_math.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace baracuda::rd::ref {
namespace {

using Op = ReduceOp;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------------------------
// Compensated summation (Neumaier's variant of Kahan). Non-finite sums (an inf or NaN term, or
// overflow) fall back to the plain running sum, which has the IEEE answer (inf - inf = NaN, ...).

class Sum {
 public:
  void add(double x) {
    naive_ += x;
    const double t = s_ + x;
    if (std::fabs(s_) >= std::fabs(x)) {
      c_ += (s_ - t) + x;
    } else {
      c_ += (x - t) + s_;
    }
    s_ = t;
  }
  double value() const {
    const double r = s_ + c_;
    return std::isfinite(r) && std::isfinite(naive_) ? r : naive_;
  }

 private:
  double s_ = 0.0;
  double c_ = 0.0;
  double naive_ = 0.0;
};

bool nonzero(double x) { return x != 0.0; }  // NaN is nonzero, like bool(nan)

double sign(double x) {
  if (std::isnan(x)) return x;
  return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
}

bool any_nan(const double* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(v[i])) return true;
  }
  return false;
}

double sum_of(const double* v, int64_t n) {
  Sum s;
  for (int64_t i = 0; i < n; ++i) s.add(v[i]);
  return s.value();
}

double mean_of(const double* v, int64_t n) { return n == 0 ? kNaN : sum_of(v, n) / static_cast<double>(n); }

// Index of the first maximum (greater = true) or minimum; a NaN is the extreme and the first NaN
// wins. -1 for an empty group.
int64_t arg_extreme(const double* v, int64_t n, bool greater) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(v[i])) return i;
    if (best < 0 || (greater ? v[i] > v[best] : v[i] < v[best])) best = i;
  }
  return best;
}

double extreme(const double* v, int64_t n, bool greater) {
  const int64_t i = arg_extreme(v, n, greater);
  return i < 0 ? kNaN : v[i];
}

// Degrees of freedom max(0, n - correction).
double dof_of(int64_t n, double correction) {
  const double d = static_cast<double>(n) - correction;
  return d > 0.0 ? d : 0.0;
}

// Sum of squared deviations from the mean, two-pass with the (sum of deviations)^2 / n
// correction term (the "corrected two-pass algorithm").
double sum_sq_dev(const double* v, int64_t n, double mean) {
  Sum sq, d;
  for (int64_t i = 0; i < n; ++i) {
    const double e = v[i] - mean;
    sq.add(e * e);
    d.add(e);
  }
  const double ds = d.value();
  const double r = sq.value() - ds * ds / static_cast<double>(n);
  return std::isfinite(r) ? std::max(r, 0.0) : sq.value();
}

double var_of(const double* v, int64_t n, double correction, double* mean_out = nullptr) {
  const double mean = mean_of(v, n);
  if (mean_out != nullptr) *mean_out = mean;
  if (n == 0) return kNaN;
  return sum_sq_dev(v, n, mean) / dof_of(n, correction);
}

// Vector norm, PyTorch's linalg.vector_norm.
double norm_of(const double* v, int64_t n, double p) {
  if (p == 0.0) {
    int64_t c = 0;
    for (int64_t i = 0; i < n; ++i) c += nonzero(v[i]) ? 1 : 0;
    return static_cast<double>(c);
  }
  if (n == 0) return p > 0 ? 0.0 : kInf;
  if (any_nan(v, n)) return kNaN;
  double amax = 0.0, amin = kInf;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(v[i]);
    amax = std::max(amax, a);
    amin = std::min(amin, a);
  }
  if (std::isinf(p)) return p > 0 ? amax : amin;
  if (p > 0) {
    if (amax == 0.0 || std::isinf(amax)) return amax;
    Sum s;
    if (p == 1.0) {
      for (int64_t i = 0; i < n; ++i) s.add(std::fabs(v[i]));
      return s.value();
    }
    for (int64_t i = 0; i < n; ++i) {
      const double r = std::fabs(v[i]) / amax;
      s.add(p == 2.0 ? r * r : std::pow(r, p));
    }
    return amax * (p == 2.0 ? std::sqrt(s.value()) : std::pow(s.value(), 1.0 / p));
  }
  // p < 0: scale by the smallest magnitude so every term (|x| / amin)^p lies in (0, 1].
  if (amin == 0.0 || std::isinf(amin)) return amin;
  Sum s;
  for (int64_t i = 0; i < n; ++i) s.add(std::pow(std::fabs(v[i]) / amin, p));
  return amin * std::pow(s.value(), 1.0 / p);
}

double logsumexp_of(const double* v, int64_t n) {
  if (n == 0) return -kInf;
  if (any_nan(v, n)) return kNaN;
  double m = -kInf;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, v[i]);
  if (std::isinf(m)) return m;  // +inf anywhere, or every element -inf
  Sum s;
  for (int64_t i = 0; i < n; ++i) s.add(std::exp(v[i] - m));
  return m + std::log(s.value());
}

// Gradient of amax/amin-like reductions: dy split evenly among the positions equal to the result
// (NaN positions when the result is NaN).
void split_among_ties(const double* v, int64_t n, double result, double dy, double* dx) {
  const bool nan = std::isnan(result);
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += (nan ? std::isnan(v[i]) : v[i] == result) ? 1 : 0;
  const double share = dy / static_cast<double>(count);
  for (int64_t i = 0; i < n; ++i) dx[i] = (nan ? std::isnan(v[i]) : v[i] == result) ? share : 0.0;
}

// var's gradient scaled by dvar, plus dmean / n (var_mean); PyTorch's var_backward.
void var_grad(const double* v, int64_t n, double correction, double dvar, double dmean, double* dx) {
  const double mean = mean_of(v, n);
  const double dof = static_cast<double>(n) - correction;
  const double dm = dmean / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    const double g = dof > 0.0 ? dvar * 2.0 * (v[i] - mean) / dof : dvar * (v[i] == mean ? kNaN : kInf);
    dx[i] = g + dm;
  }
}

void norm_grad(const double* v, int64_t n, double p, double dy, double* dx) {
  if (p == 0.0) {
    for (int64_t i = 0; i < n; ++i) dx[i] = 0.0;
    return;
  }
  if (p == 1.0) {
    for (int64_t i = 0; i < n; ++i) dx[i] = dy * sign(v[i]);
    return;
  }
  const double norm = norm_of(v, n, p);
  if (std::isinf(p)) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double a = std::fabs(v[i]);
      count += (a == norm || std::isnan(a)) ? 1 : 0;
    }
    const double share = dy / static_cast<double>(count);
    for (int64_t i = 0; i < n; ++i) {
      const double a = std::fabs(v[i]);
      dx[i] = (a == norm || std::isnan(a)) ? sign(v[i]) * share : 0.0;
    }
    return;
  }
  if (p == 2.0) {
    for (int64_t i = 0; i < n; ++i) dx[i] = norm == 0.0 ? 0.0 : dy * (v[i] / norm);
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (v[i] == 0.0 || norm == 0.0) {
      dx[i] = 0.0;
    } else {
      dx[i] = dy * sign(v[i]) * std::pow(std::fabs(v[i]) / norm, p - 1.0);
    }
  }
}

}  // namespace

void reduce_float(ReduceOp op, const double* v, int64_t n, const ReduceParams& params, double* out) {
  switch (op) {
    case Op::sum:
      out[0] = sum_of(v, n);
      return;
    case Op::mean:
      out[0] = mean_of(v, n);
      return;
    case Op::prod: {
      double p = 1.0;
      for (int64_t i = 0; i < n; ++i) p *= v[i];
      out[0] = p;
      return;
    }
    case Op::amax:
    case Op::amin:
      out[0] = extreme(v, n, op == Op::amax);
      return;
    case Op::max:
    case Op::min: {
      const int64_t i = arg_extreme(v, n, op == Op::max);
      out[0] = i < 0 ? kNaN : v[i];
      out[1] = static_cast<double>(i);
      return;
    }
    case Op::argmax:
    case Op::argmin:
      out[0] = static_cast<double>(arg_extreme(v, n, op == Op::argmax));
      return;
    case Op::var:
      out[0] = var_of(v, n, params.correction);
      return;
    case Op::std:
      out[0] = std::sqrt(var_of(v, n, params.correction));
      return;
    case Op::var_mean:
      out[0] = var_of(v, n, params.correction, &out[1]);
      return;
    case Op::norm:
      out[0] = norm_of(v, n, params.p);
      return;
    case Op::logsumexp:
      out[0] = logsumexp_of(v, n);
      return;
    case Op::any:
    case Op::all:
    case Op::count_nonzero: {
      int64_t c = 0;
      for (int64_t i = 0; i < n; ++i) c += nonzero(v[i]) ? 1 : 0;
      out[0] = op == Op::count_nonzero ? static_cast<double>(c) : op == Op::any ? (c > 0 ? 1.0 : 0.0) : (c == n ? 1.0 : 0.0);
      return;
    }
    case Op::nansum:
    case Op::nanmean: {
      Sum s;
      int64_t c = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (std::isnan(v[i])) continue;
        s.add(v[i]);
        ++c;
      }
      out[0] = op == Op::nansum ? s.value() : (c == 0 ? kNaN : s.value() / static_cast<double>(c));
      return;
    }
  }
  out[0] = kNaN;  // not an op of the table
}

void reduce_int(ReduceOp op, const int64_t* v, int64_t n, int64_t* out) {
  switch (op) {
    case Op::sum:
    case Op::nansum: {
      uint64_t s = 0;
      for (int64_t i = 0; i < n; ++i) s += static_cast<uint64_t>(v[i]);
      out[0] = static_cast<int64_t>(s);
      return;
    }
    case Op::prod: {
      uint64_t p = 1;
      for (int64_t i = 0; i < n; ++i) p *= static_cast<uint64_t>(v[i]);
      out[0] = static_cast<int64_t>(p);
      return;
    }
    case Op::amax:
    case Op::amin:
    case Op::max:
    case Op::min:
    case Op::argmax:
    case Op::argmin: {
      const bool greater = op == Op::amax || op == Op::max || op == Op::argmax;
      int64_t best = -1;
      for (int64_t i = 0; i < n; ++i) {
        if (best < 0 || (greater ? v[i] > v[best] : v[i] < v[best])) best = i;
      }
      if (op == Op::argmax || op == Op::argmin) {
        out[0] = best;
      } else {
        out[0] = best < 0 ? 0 : v[best];
        if (op == Op::max || op == Op::min) out[1] = best;
      }
      return;
    }
    case Op::any:
    case Op::all:
    case Op::count_nonzero: {
      int64_t c = 0;
      for (int64_t i = 0; i < n; ++i) c += v[i] != 0 ? 1 : 0;
      out[0] = op == Op::count_nonzero ? c : op == Op::any ? (c > 0 ? 1 : 0) : (c == n ? 1 : 0);
      return;
    }
    case Op::var_mean:
      out[0] = 0;
      out[1] = 0;
      return;
    case Op::mean:
    case Op::var:
    case Op::std:
    case Op::norm:
    case Op::logsumexp:
    case Op::nanmean:
      break;  // floating-only
  }
  out[0] = 0;
}

void reduce_backward(ReduceOp op, const double* v, int64_t n, const ReduceParams& params, const double* dy, double* dx) {
  switch (op) {
    case Op::sum:
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[0];
      return;
    case Op::nansum:
      for (int64_t i = 0; i < n; ++i) dx[i] = std::isnan(v[i]) ? 0.0 : dy[0];
      return;
    case Op::mean:
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[0] / static_cast<double>(n);
      return;
    case Op::nanmean: {
      int64_t c = 0;
      for (int64_t i = 0; i < n; ++i) c += std::isnan(v[i]) ? 0 : 1;
      for (int64_t i = 0; i < n; ++i) dx[i] = std::isnan(v[i]) ? 0.0 : dy[0] / static_cast<double>(c);
      return;
    }
    case Op::prod: {
      // dx[i] = dy * prod(v[0..i)) * prod(v(i..n)): exact with zeros (one zero: only its position
      // gets a nonzero gradient; two or more: all zero).
      std::vector<double> suffix(static_cast<size_t>(n) + 1, 1.0);
      for (int64_t i = n - 1; i >= 0; --i) suffix[static_cast<size_t>(i)] = suffix[static_cast<size_t>(i) + 1] * v[i];
      double prefix = 1.0;
      for (int64_t i = 0; i < n; ++i) {
        dx[i] = dy[0] * (prefix * suffix[static_cast<size_t>(i) + 1]);
        prefix *= v[i];
      }
      return;
    }
    case Op::amax:
    case Op::amin: {
      const bool greater = op == Op::amax;
      split_among_ties(v, n, extreme(v, n, greater), dy[0], dx);
      return;
    }
    case Op::max:
    case Op::min:
      // PyTorch's max(dim)/min(dim): the whole gradient goes to the returned index.
      for (int64_t i = 0; i < n; ++i) dx[i] = 0.0;
      if (n > 0) dx[arg_extreme(v, n, op == Op::max)] = dy[0];
      return;
    case Op::var:
      var_grad(v, n, params.correction, dy[0], 0.0, dx);
      return;
    case Op::std: {
      const double sd = std::sqrt(var_of(v, n, params.correction));
      var_grad(v, n, params.correction, sd == 0.0 ? 0.0 : dy[0] / (2.0 * sd), 0.0, dx);
      return;
    }
    case Op::var_mean:
      var_grad(v, n, params.correction, dy[0], dy[1], dx);
      return;
    case Op::norm:
      norm_grad(v, n, params.p, dy[0], dx);
      return;
    case Op::logsumexp: {
      // exp(x - lse) as the softmax exp(x - m) / sum exp(x - m) (exact where lse's rounding would
      // cost ~|lse| ulps); where lse is not finite, PyTorch's formula plainly.
      const double lse = logsumexp_of(v, n);
      if (!std::isfinite(lse)) {
        for (int64_t i = 0; i < n; ++i) dx[i] = dy[0] * std::exp(v[i] - lse);
        return;
      }
      double m = -kInf;
      for (int64_t i = 0; i < n; ++i) m = std::max(m, v[i]);
      Sum s;
      for (int64_t i = 0; i < n; ++i) s.add(std::exp(v[i] - m));
      const double denom = s.value();
      for (int64_t i = 0; i < n; ++i) dx[i] = dy[0] * (std::exp(v[i] - m) / denom);
      return;
    }
    case Op::argmax:
    case Op::argmin:
    case Op::any:
    case Op::all:
    case Op::count_nonzero:
      break;  // not differentiable
  }
  for (int64_t i = 0; i < n; ++i) dx[i] = kNaN;
}

}  // namespace baracuda::rd::ref
