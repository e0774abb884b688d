// The CPU reference's per-line scan math (see scan_ref_math.hpp).
#include "ops/scan/ref/scan_ref_math.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace baracuda::sc::ref {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// torch's cummax/cummin step: does `v` replace the running value `cur`?
bool replaces(ScanOp op, double v, double cur) {
  if (std::isnan(v)) return true;
  if (std::isnan(cur)) return false;
  return op == ScanOp::cummax ? v >= cur : v <= cur;
}

}  // namespace

double log_add_exp(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return a + b;
  if (a == -kInf) return b;
  if (b == -kInf) return a;
  if (a == b) return a + std::log(2.0);  // also +inf + +inf without inf - inf
  const double m = a > b ? a : b;
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

void scan_float(ScanOp op, bool exclusive, const double* x, int64_t n, double* y, int64_t* idx) {
  if (op == ScanOp::cummax || op == ScanOp::cummin) {
    double cur = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (i == 0 || replaces(op, x[i], cur)) {
        cur = x[i];
        at = i;
      }
      y[i] = cur;
      if (idx) idx[i] = at;
    }
    return;
  }
  double acc = op == ScanOp::cumsum ? 0.0 : op == ScanOp::cumprod ? 1.0 : -kInf;
  for (int64_t i = 0; i < n; ++i) {
    if (exclusive) y[i] = acc;
    if (op == ScanOp::cumsum) acc += x[i];
    else if (op == ScanOp::cumprod) acc *= x[i];
    else acc = log_add_exp(acc, x[i]);
    if (!exclusive) y[i] = acc;
  }
}

void scan_int(ScanOp op, bool exclusive, const int64_t* x, int64_t n, int64_t* y, int64_t* idx) {
  if (op == ScanOp::cummax || op == ScanOp::cummin) {
    int64_t cur = 0, at = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (i == 0 || (op == ScanOp::cummax ? x[i] >= cur : x[i] <= cur)) {
        cur = x[i];
        at = i;
      }
      y[i] = cur;
      if (idx) idx[i] = at;
    }
    return;
  }
  // Unsigned arithmetic: int64 wrap-around without undefined behaviour.
  uint64_t acc = op == ScanOp::cumprod ? 1u : 0u;
  for (int64_t i = 0; i < n; ++i) {
    if (exclusive) y[i] = static_cast<int64_t>(acc);
    if (op == ScanOp::cumprod) acc *= static_cast<uint64_t>(x[i]);
    else acc += static_cast<uint64_t>(x[i]);
    if (!exclusive) y[i] = static_cast<int64_t>(acc);
  }
}

void scan_backward(ScanOp op, bool exclusive, const double* x, const double* dy_in, int64_t n, double* dx) {
  if (n == 0) return;
  std::vector<double> dy(dy_in, dy_in + n);
  if (exclusive) {  // y_excl[i] = y_incl[i-1]: the inclusive backward of dy shifted left by one
    for (int64_t i = 0; i + 1 < n; ++i) dy[i] = dy[i + 1];
    dy[n - 1] = 0.0;
  }
  switch (op) {
    case ScanOp::cumsum: {
      double acc = 0;
      for (int64_t i = n; i-- > 0;) dx[i] = (acc += dy[i]);
      return;
    }
    case ScanOp::cumprod: {
      // dx_i = P_{i-1} * R_i with P the exclusive product and R_i = dy_i + x_{i+1} R_{i+1}: the
      // product of the other factors, exact when x holds zeros (no division).
      std::vector<double> r(n);
      r[n - 1] = dy[n - 1];
      for (int64_t i = n - 1; i-- > 0;) r[i] = dy[i] + x[i + 1] * r[i + 1];
      double p = 1.0;
      for (int64_t i = 0; i < n; ++i) {
        dx[i] = p * r[i];
        p *= x[i];
      }
      return;
    }
    case ScanOp::cummax:
    case ScanOp::cummin: {
      std::vector<double> y(n);
      std::vector<int64_t> idx(n);
      scan_float(op, false, x, n, y.data(), idx.data());
      for (int64_t i = 0; i < n; ++i) dx[i] = 0.0;
      for (int64_t i = 0; i < n; ++i) dx[idx[i]] += dy[i];
      return;
    }
    case ScanOp::logcumsumexp: {
      // dx_i = sum_{j>=i} dy_j exp(x_i - y_j), split by the sign of dy so that each part is a
      // reverse log-sum-exp of log|dy_j| - y_j (no overflow of exp(-y_j)).
      std::vector<double> y(n);
      scan_float(op, false, x, n, y.data(), nullptr);
      double lp = -kInf, ln = -kInf;
      for (int64_t i = n; i-- > 0;) {
        if (dy[i] > 0) lp = log_add_exp(lp, std::log(dy[i]) - y[i]);
        else if (dy[i] < 0) ln = log_add_exp(ln, std::log(-dy[i]) - y[i]);
        else if (std::isnan(dy[i])) lp = ln = dy[i];
        dx[i] = std::exp(x[i] + lp) - std::exp(x[i] + ln);
      }
      return;
    }
  }
}

}  // namespace baracuda::sc::ref
