#pragma once
// Internal: the CPU reference's per-element math for complex problems (compute dtype c64/c128),
// in std::complex<double>. Operand order is the kernel order of elementwise_problem.hpp; real
// operands arrive as (v, 0), and real outputs keep the real part (predicates write (1, 0) / (0, 0)).
#include <complex>

#include "baracuda/ops/elementwise.hpp"
#include "ops/elementwise/elementwise_problem.hpp"

namespace baracuda::ew {
// The complex reference loop (elementwise_ref_complex.cpp): every element of the bound problem
// loaded as complex<double>, evaluated, stored converted to each output's dtype.
void run_complex_reference(const Problem& p, const Bound& b);
}  // namespace baracuda::ew

namespace baracuda::ew::ref {

using cdouble = std::complex<double>;

// Forward: out[0] = f(in...). Backward: in = {dy, forward inputs...}, out = one gradient per
// forward input, PyTorch's convention: grad_in = dy * conj(df/dz) for holomorphic f, and
// dy * z/|z| (0 at z = 0) for abs. cast: out[0] = in[0]. Ops without complex math leave NaN.
void eval_complex(ElementwiseOp op, Direction dir, const ElementwiseAttrs& attrs, const cdouble* in, cdouble* out);

}  // namespace baracuda::ew::ref
