#pragma once
// Internal: the CPU reference's math for one reduced group (the n elements that become one
// output element), in double (floating inputs, and logsumexp of integers) or int64 (integer and
// bool inputs of sum/nansum/prod/amax/amin/max/min/argmax/argmin/any/all/count_nonzero).
// Written from the definitions; the oracle for the GPU reductions.
#include <cstdint>

#include "baracuda/ops/reduce.hpp"

namespace baracuda::rd::ref {

struct ReduceParams {
  double correction = 1.0;  // var / std / var_mean
  double p = 2.0;           // norm
};

// out[0] = the result; max/min: out[1] = index of the first max/min (NaN counts as the max/min;
// the first NaN wins); argmax/argmin: out[0] = that index; var_mean: out[0] = var, out[1] = mean;
// any/all/count_nonzero: 1/0 and the count (nonzero = != 0, NaN is nonzero).
// Empty groups (n == 0): sum 0, prod 1, mean/nanmean NaN, var/std NaN, norm 0, logsumexp -inf,
// any 0, all 1, count 0 (amax/max/argmax of nothing never reach here: select() refuses them).
void reduce_float(ReduceOp op, const double* v, int64_t n, const ReduceParams& params, double* out);

// Integer/bool inputs: sum/nansum/prod wrap like int64; others as above (indices as int64).
void reduce_int(ReduceOp op, const int64_t* v, int64_t n, int64_t* out);

// dx for each of the n elements of one group, given the incoming gradient(s) dy (var_mean: dy[0]
// for var, dy[1] for mean; max/min: dy[0] for the values). amax/amin split the gradient evenly
// among the elements equal to the result (PyTorch's amax rule); max/min give it to the index
// they return. prod handles zeros exactly
// (the product of the others). var/std with N - correction <= 0 give NaN/inf as PyTorch does.
void reduce_backward(ReduceOp op, const double* v, int64_t n, const ReduceParams& params, const double* dy, double* dx);

}  // namespace baracuda::rd::ref
