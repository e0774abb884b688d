#pragma once
// Softmax family: softmax and log_softmax along one dim, forward and backward, through one plan.
//
//   SoftmaxDescriptor desc{.op = SoftmaxOp::softmax, .input = Operand::tensor(DType::bf16, {rows, cols}),
//                          .dim = -1};
//   auto plan = SoftmaxPlan::select(stream, desc);
//   plan->run(stream, workspace, SoftmaxArgs{.inputs = {x}, .outputs = {y}});
//
// What is computed, for every row along `dim` (z is computed in f32 for 16-bit dtypes, f64 for f64):
//   z = x / temperature + mask        (additive floating mask; a boolean mask adds -inf where false)
//   softmax:     y = exp(z - max z) / sum exp(z - max z)
//   log_softmax: y = z - max z - log(sum exp(z - max z))
// PyTorch semantics: output_dtype is torch's dtype= (the input is converted to it first, then the
// math runs in that dtype's accumulate type); NaN anywhere in a row makes the whole row NaN; +inf
// in a row gives NaN (inf - inf); a row that is entirely -inf (e.g. fully masked) gives NaN, as
// torch.softmax does on an all -inf row. Every implementation (CPU reference, CUDA) follows these
// rules.
//
// Operands, by direction (the descriptor is the same for both; only `direction` changes):
//   forward:  inputs = {x, mask (if desc.mask)}; outputs = {y} (x's shape, output dtype).
//   backward: inputs = {dy, y, mask (if desc.mask)}, both of the output dtype and x's shape (y is the
//             forward output, as torch's _softmax_backward_data takes it); outputs = {dx} (x's
//             dtype). softmax:     dx = y * (dy - sum(dy * y)) / temperature
//                     log_softmax: dx = (dy - exp(y) * sum(dy)) / temperature
//             The sums run over the whole row, masked positions included (torch's formulas: for
//             log_softmax, dy at a -inf output still enters sum(dy)). A boolean mask then zeroes dx
//             where it is false (the gradient of masked_fill); an additive mask does not change the
//             backward (d(x + m)/dx = 1), it is accepted and unused.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "baracuda/core/operand.hpp"
#include "baracuda/core/plan.hpp"
#include "baracuda/core/tensor.hpp"

// X(name, torch_name, jax_name)
#define BARACUDA_SOFTMAX_OPS(X)                                   \
  X(softmax, "torch.softmax", "jax.nn.softmax")                   \
  X(log_softmax, "torch.log_softmax", "jax.nn.log_softmax")

namespace baracuda {

enum class SoftmaxOp : uint8_t {
#define BARACUDA_X(name, ...) name,
  BARACUDA_SOFTMAX_OPS(BARACUDA_X)
#undef BARACUDA_X
};

struct SoftmaxOpInfo {
  SoftmaxOp op;
  std::string_view name;
  std::string_view torch_name;
  std::string_view jax_name;
};
const SoftmaxOpInfo& softmax_op_info(SoftmaxOp op);
std::span<const SoftmaxOpInfo> all_softmax_ops();

struct SoftmaxDescriptor {
  SoftmaxOp op = SoftmaxOp::softmax;
  Direction direction = Direction::forward;
  Operand input;                          // x: dtype, shape, strides (empty = contiguous)
  int dim = -1;                           // negative counts from the end
  double temperature = 1.0;               // finite, > 0: softmax(x / temperature)
  std::optional<Operand> mask;            // boolean or floating, broadcastable to x (right-aligned)
  std::optional<DType> output_dtype;      // torch's dtype= (f64, f32, f16, bf16)
  std::optional<Operand> grad_output;     // backward: dy's layout (default dense)
  std::optional<Operand> forward_output;  // backward: y's layout (default dense)
  std::optional<Operand> output;          // y (forward) / dx (backward) layout (default dense)
};

struct SoftmaxArgs {
  static constexpr int kMaxInputs = 3;
  std::array<TensorRef, kMaxInputs> inputs{};
  std::array<TensorMut, 1> outputs{};
};

struct SoftmaxFamily {
  static constexpr std::string_view name = "softmax";
  using Descriptor = SoftmaxDescriptor;
  using Args = SoftmaxArgs;
  static Status validate(const Descriptor& desc);
  static std::string describe(const Descriptor& desc);
  static std::span<const Implementation<SoftmaxFamily>> implementations();
};

using SoftmaxPlan = Plan<SoftmaxFamily>;

// Shapes and dtypes select() infers.
struct SoftmaxSignature {
  int dim = 0;                     // normalized, in [0, rank) (0 for a 0-d input)
  DType output_dtype = DType::f32; // y's dtype (forward output; backward dy and y)
  DType accumulate = DType::f32;   // dtype of the math (f64 when x or y is f64)
  bool boolean_mask = false;
  std::vector<Operand> inputs;     // every input of the kernel, in SoftmaxArgs order
  std::vector<Operand> outputs;    // {y} or {dx}
};
Result<SoftmaxSignature> infer_signature(const SoftmaxDescriptor& desc);

// Whether `mask` (shape) broadcasts to `x` (shape), right-aligned, PyTorch's rule.
bool broadcasts_to(const std::vector<int64_t>& mask, const std::vector<int64_t>& x);

}  // namespace baracuda
