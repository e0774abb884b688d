#pragma once
// Internal: the CPU reference's per-element math, in double (floating ops) and int64 (integer
// and bool ops). Operand order is the kernel order documented in elementwise_problem.hpp.
// Written independently of the CUDA functors, from the math definitions, so that the GPU tests
// compare two implementations.
#include <cstdint>

#include "baracuda/ops/elementwise.hpp"

namespace baracuda::ew::ref {

// Floating compute. Predicates write 1.0 / 0.0. cast: out[0] = in[0] * attrs.scale.
void eval_float(ElementwiseOp op, Direction dir, const ElementwiseAttrs& attrs, const double* in, double* out);

// Integer compute (integer/bool operands of "same", "integer", "predicate", "where" ops; forward
// only). Wraps on overflow like two's-complement int64; predicates write 1 / 0.
void eval_int(ElementwiseOp op, const ElementwiseAttrs& attrs, const int64_t* in, int64_t* out);

}  // namespace baracuda::ew::ref
