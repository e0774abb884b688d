#pragma once
// Internal: softmax / log_softmax of one row in double, and their backward. The CPU reference
// applies them to every row; the tests check them against closed forms.
#include <cstdint>

namespace baracuda::sm::ref {

// y = softmax(z) or log_softmax(z), with torch's special values: a NaN in z, a +inf in z, or a row
// that is all -inf gives a NaN row (max(z) is NaN / inf - inf / -inf - -inf). Empty rows are no-ops.
void forward_row(bool log, const double* z, int64_t n, double* y);

// dx = scale * y * (dy - sum(dy * y))   (softmax)
// dx = scale * (dy - exp(y) * sum(dy))  (log_softmax)
// `scale` is 1 / temperature.
void backward_row(bool log, const double* dy, const double* y, int64_t n, double scale, double* dx);

}  // namespace baracuda::sm::ref
