// Row math of the softmax CPU reference, in double. Sums are compensated (Neumaier) so the
// reference stays the accurate side of every comparison, even for rows of millions of elements.
#include "ops/softmax/ref/softmax_ref_math.hpp"

#include <cmath>

namespace baracuda::sm::ref {
namespace {

struct CompensatedSum {
  double sum = 0, carry = 0;
  void add(double v) {
    const double t = sum + v;
    carry += std::fabs(sum) >= std::fabs(v) ? (sum - t) + v : (v - t) + sum;
    sum = t;
  }
  double value() const { return sum + carry; }
};

// max that propagates NaN (torch's max does; std::fmax would skip it).
double nan_max(const double* z, int64_t n) {
  double m = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(z[i])) return z[i];
    if (z[i] > m) m = z[i];
  }
  return m;
}

}  // namespace

void forward_row(bool log, const double* z, int64_t n, double* y) {
  if (n == 0) return;
  const double m = nan_max(z, n);
  CompensatedSum s;
  for (int64_t i = 0; i < n; ++i) s.add(std::exp(z[i] - m));
  const double sum = s.value();
  if (log) {
    const double log_sum = std::log(sum);
    for (int64_t i = 0; i < n; ++i) y[i] = z[i] - m - log_sum;
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = std::exp(z[i] - m) / sum;
  }
}

void backward_row(bool log, const double* dy, const double* y, int64_t n, double scale, double* dx) {
  CompensatedSum s;
  for (int64_t i = 0; i < n; ++i) s.add(log ? dy[i] : dy[i] * y[i]);
  const double sum = s.value();
  for (int64_t i = 0; i < n; ++i) dx[i] = scale * (log ? dy[i] - std::exp(y[i]) * sum : y[i] * (dy[i] - sum));
}

}  // namespace baracuda::sm::ref
