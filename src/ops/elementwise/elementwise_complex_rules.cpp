// Which elementwise ops take complex (c64/c128) operands, with PyTorch's semantics. Every other op
// refuses them with not_supported naming the op (elementwise_signature.cpp).
#include "ops/elementwise/elementwise_problem.hpp"

namespace baracuda::ew {

bool takes_complex(ElementwiseOp op, Direction dir) {
  using Op = ElementwiseOp;
  switch (op) {
    // Holomorphic (or, for abs, real-valued) ops with a complex backward: the gradient is the
    // conjugate Wirtinger derivative, PyTorch's convention (grad_in = grad_out * conj(f'(z))).
    case Op::add: case Op::sub: case Op::mul: case Op::div: case Op::neg: case Op::reciprocal:
    case Op::square: case Op::abs: case Op::exp: case Op::log: case Op::sqrt: case Op::sin:
    case Op::cos: case Op::tanh: case Op::sigmoid: case Op::where:
      return true;
    // Forward only (pow's complex backward is not implemented; the others are not differentiable;
    // cast backward needs real floating source and target).
    case Op::pow: case Op::eq: case Op::ne: case Op::isnan: case Op::isinf: case Op::isfinite: case Op::cast:
      return dir == Direction::forward;
    default:
      return false;
  }
}

DType complex_part_dtype(DType complex_dtype) { return complex_dtype == DType::c128 ? DType::f64 : DType::f32; }

}  // namespace baracuda::ew
