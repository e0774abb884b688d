#pragma once
// Internal: the CPU reference's math for one scanned line, in scan order (the caller reverses the
// line for reverse scans and maps indices back). Double for floating scans, int64 for integer ones
// (wrapping like torch's int64). Written from the definitions; the oracle for the GPU scans.
#include <cstdint>

#include "baracuda/ops/scan.hpp"

namespace baracuda::sc::ref {

// log(exp(a) + exp(b)) without overflow; -inf is the identity, NaN propagates.
double log_add_exp(double a, double b);

// y[i] = x[0] op ... op x[i] (exclusive: op over x[0..i-1], the identity at i = 0).
// cummax/cummin also write idx[i] (position in scan order); ties take the later element and a NaN
// always replaces the running value (torch's rule). idx may be null for the other ops.
void scan_float(ScanOp op, bool exclusive, const double* x, int64_t n, double* y, int64_t* idx);
void scan_int(ScanOp op, bool exclusive, const int64_t* x, int64_t n, int64_t* y, int64_t* idx);

// dx for one line given dy (both in scan order). Exclusive scans are inclusive ones shifted by one
// (y_excl[i] = y_incl[i-1]), so their backward is the inclusive backward of dy shifted left.
void scan_backward(ScanOp op, bool exclusive, const double* x, const double* dy, int64_t n, double* dx);

}  // namespace baracuda::sc::ref
