#pragma once
// Elementwise family: unary math, activations, binary arithmetic, comparisons, bitwise ops,
// ternary ops, gated activations and casts, forward and backward, through one plan type.
//
//   ElementwiseDescriptor desc{.op = ElementwiseOp::gelu_tanh,
//                              .inputs = {Operand::tensor(DType::bf16, {rows, cols})}};
//   auto plan = ElementwisePlan::select(stream, desc);
//   ElementwiseArgs args{.inputs = {x}, .outputs = {y}};
//   plan->run(stream, {}, args);
//
// Semantics are PyTorch's: broadcasting (stride 0), type promotion with Python-scalar operands
// (Operand::scalar), NaN propagation, arbitrary and negative strides, in-place (an output may be
// exactly an input: same pointer, dtype and strides), empty tensors.
//
// Operands of the kernel, by direction:
//   forward:  inputs = forward inputs;            outputs = {result}   (cast with amax: {y, amax})
//   backward: inputs = {grad_output, forward inputs...};
//             outputs = {grad of each forward input} (an undefined TensorMut = not wanted; scalar
//             operands get no gradient). Gradients are written at the broadcast output shape;
//             where a forward input was broadcast, the caller sums over the broadcast dims
//             (as PyTorch's autograd does with sum_to_size). prelu's weight gradient is reduced
//             here, deterministically, to the weight's shape.
// Integer division (div_floor, div_trunc, fmod, remainder) by zero gives 0 on every backend
// (PyTorch's CPU raises, its CUDA returns an unspecified value). Float->integer casts truncate
// toward zero and saturate to the target range; NaN becomes 0.
//
// Complex (c64, c128), PyTorch's semantics: add/sub (real alpha), mul, div (true division only),
// neg, reciprocal, square, abs (real result: f32 for c64, f64 for c128), exp, log, sqrt, sin, cos,
// tanh, sigmoid, pow, eq, ne, where, isnan/isinf/isfinite (bool), and cast between any two dtypes;
// every other op refuses complex operands (not_supported). Python scalars stay real. Casts:
// real -> complex sets the imaginary part to 0; complex -> real keeps the real part (PyTorch warns,
// we allow it); complex -> bool is re != 0 || im != 0; complex -> integer truncates the real part
// like float -> integer; c128 -> c64 rounds each part to nearest even; fp8 <-> complex goes through
// f32. Backward (add, sub, mul, div, neg, reciprocal, square, abs, exp, log, sqrt, sin, cos, tanh,
// sigmoid, where) follows PyTorch's convention: the conjugate Wirtinger derivative,
// grad_in = grad_out * conj(f'(z)) for holomorphic f, grad_out * z/|z| for abs (0 at 0); a real
// input of a complex op gets the real part. Complex problems run on the strided CUDA kernel.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "baracuda/core/dtype.hpp"
#include "baracuda/core/operand.hpp"
#include "baracuda/core/plan.hpp"
#include "baracuda/core/tensor.hpp"
#include "baracuda/ops/elementwise_ops.hpp"

namespace baracuda {

enum class ElementwiseOp : uint16_t {
#define BARACUDA_X(name, ...) name,
  BARACUDA_ELEMENTWISE_OPS(BARACUDA_X)
#undef BARACUDA_X
};

// How an op chooses its dtypes.
enum class ElementwiseCategory : uint8_t {
  float_math,  // result is the promoted dtype, integers/bool promote to f32 (torch's int_to_float)
  same,        // result is the promoted dtype; integers allowed
  float_only,  // floating inputs only (f64/f32/f16/bf16)
  predicate,   // bool result; compares in the promoted dtype
  integer,     // integers (and bool where PyTorch allows it)
  where,       // where(cond, a, b): cond any dtype (nonzero = true), result promote(a, b)
  gated,       // one input split in halves along attrs.dim; floating only
  cast,        // any dtype to output_dtype
  prelu,       // prelu(x, weight): floating; weight numel 1 or x.shape[1]
};

struct ElementwiseOpInfo {
  ElementwiseOp op;
  std::string_view name;
  int arity;
  ElementwiseCategory category;
  bool differentiable;
  std::string_view torch_name;
  std::string_view jax_name;
};
const ElementwiseOpInfo& op_info(ElementwiseOp op);
std::string_view category_name(ElementwiseCategory c);  // "float_math", "same", ...
std::span<const ElementwiseOpInfo> all_elementwise_ops();
std::optional<ElementwiseOp> elementwise_op_from_name(std::string_view name);

// Op attributes, PyTorch's names and defaults. Each op reads only its own.
struct ElementwiseAttrs {
  double alpha = 1.0;           // add/sub: a + alpha*b; elu/celu alpha; addcmul/addcdiv value
  double beta = 1.0;            // softplus beta
  double threshold = 20.0;      // softplus threshold; threshold(): x > threshold ? x : value
  double value = 0.0;           // threshold(): replacement value
  double lambd = 0.5;           // softshrink / hardshrink
  double negative_slope = 0.01; // leaky_relu
  double min_val = -1.0;        // hardtanh
  double max_val = 1.0;         // hardtanh
  double eps = -1.0;            // logit: clamp x to [eps, 1-eps] when eps >= 0
  int dim = -1;                 // gated ops: the dim split in two halves
  double scale = 1.0;           // cast: y = convert(x * scale), the product in f64 when x or y is f64
                                //       (else f32), then one rounding
  bool amax = false;            // cast: also write max|x| (before scaling) to outputs[1], f32[1]
};

struct ElementwiseDescriptor {
  ElementwiseOp op = ElementwiseOp::add;
  Direction direction = Direction::forward;
  std::vector<Operand> inputs;               // the forward inputs (also for backward)
  std::optional<DType> output_dtype;         // forward result dtype override (castable); cast: target
  std::optional<Operand> grad_output;        // backward: dy's layout (default: contiguous, result dtype)
  std::vector<Operand> outputs;              // optional: output layouts/dtypes (default: contiguous)
  ElementwiseAttrs attrs;
  size_t alignment = 16;                     // byte alignment the caller promises for every pointer
};

// A Python number's value.
struct Scalar {
  DType dtype = DType::f64;  // boolean, i64 or f64
  double f = 0.0;
  int64_t i = 0;
  static Scalar of(double v) { return {DType::f64, v, static_cast<int64_t>(v)}; }
  static Scalar of(int64_t v) { return {DType::i64, static_cast<double>(v), v}; }
  static Scalar of(int v) { return of(static_cast<int64_t>(v)); }
  static Scalar of(bool v) { return {DType::boolean, v ? 1.0 : 0.0, v ? 1 : 0}; }
};

struct ElementwiseArgs {
  static constexpr int kMaxInputs = 4;
  static constexpr int kMaxOutputs = 3;
  std::array<TensorRef, kMaxInputs> inputs{};   // see the header comment for the order
  std::array<Scalar, kMaxInputs> scalars{};     // by forward-input index, for scalar operands
  std::array<TensorMut, kMaxOutputs> outputs{};
};

struct ElementwiseFamily {
  static constexpr std::string_view name = "elementwise";
  using Descriptor = ElementwiseDescriptor;
  using Args = ElementwiseArgs;
  static Status validate(const Descriptor& desc);
  static std::string describe(const Descriptor& desc);
  static std::span<const Implementation<ElementwiseFamily>> implementations();
};

using ElementwisePlan = Plan<ElementwiseFamily>;

// PyTorch's result_type over operands: dimensioned tensors, then zero-dim tensors, then scalars.
Result<DType> result_type(std::span<const Operand> operands);

// The dtypes and shapes select() infers: outputs[i] of the kernel for this descriptor.
struct ElementwiseSignature {
  DType compute = DType::f32;               // dtype the math runs in (f64, f32, i64; c64/c128 for complex)
  std::vector<int64_t> iteration_shape;     // broadcast forward-output shape (gated: half shape)
  std::vector<Operand> outputs;             // shape, dtype and strides of each output
};
Result<ElementwiseSignature> infer_signature(const ElementwiseDescriptor& desc);

}  // namespace baracuda
