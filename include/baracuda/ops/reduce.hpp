#pragma once
// Reduction family: sum, mean, prod, amax/amin, max/min with indices, argmax/argmin, var/std/
// var_mean (with correction), vector norm (any p), logsumexp, any/all, count_nonzero, nansum,
// nanmean — over any set of axes, with keepdim, forward and backward, through one plan type.
//
//   ReduceDescriptor desc{.op = ReduceOp::sum, .input = Operand::tensor(DType::bf16, {rows, cols}),
//                         .axes = {1}};
//   auto plan = ReducePlan::select(stream, desc);
//   plan->run(stream, workspace, ReduceArgs{.inputs = {x}, .outputs = {y}});
//
// Semantics are PyTorch's: dtype rules (a bf16 sum accumulates in f32 and returns bf16, an integer
// or bool sum/prod returns i64, mean/var/std/norm need floating inputs, argmax returns i64), NaN
// propagation (amax/max/argmax pick NaN; nansum/nanmean skip it), empty reductions (sum 0, prod
// 1, mean NaN, logsumexp -inf, any false, all true; amax/max/argmax of nothing is an error),
// axes given in any order, negative, or empty (= every axis).
//
// Operands, by direction:
//   forward:  inputs = {x}; outputs = the op's results (max/min: {values, indices i64};
//             var_mean: {var, mean}; argmax/argmin: {indices i64}; others: {y}).
//   backward: inputs = {grad of each floating result..., x}; outputs = {dx} (x's shape and dtype).
//             amax/amin share the gradient evenly among tied maxima (PyTorch's amax rule);
//             max/min give it all to the returned index (PyTorch's max(dim) rule). Results are
//             deterministic: the CPU reference sums in a fixed order.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "baracuda/core/plan.hpp"
#include "baracuda/core/tensor.hpp"
#include "baracuda/ops/elementwise.hpp"  // Operand, Direction

// X(name, differentiable, torch_name, jax_name)
#define BARACUDA_REDUCE_OPS(X)                                                   \
  X(sum, 1, "torch.sum", "jax.numpy.sum")                                        \
  X(mean, 1, "torch.mean", "jax.numpy.mean")                                     \
  X(prod, 1, "torch.prod", "jax.numpy.prod")                                     \
  X(amax, 1, "torch.amax", "jax.numpy.max")                                      \
  X(amin, 1, "torch.amin", "jax.numpy.min")                                      \
  X(max, 1, "torch.max(dim)", "jax.lax.argmax + take")                           \
  X(min, 1, "torch.min(dim)", "jax.lax.argmin + take")                           \
  X(argmax, 0, "torch.argmax", "jax.numpy.argmax")                               \
  X(argmin, 0, "torch.argmin", "jax.numpy.argmin")                               \
  X(var, 1, "torch.var", "jax.numpy.var")                                        \
  X(std, 1, "torch.std", "jax.numpy.std")                                        \
  X(var_mean, 1, "torch.var_mean", "")                                           \
  X(norm, 1, "torch.linalg.vector_norm", "jax.numpy.linalg.norm")                \
  X(logsumexp, 1, "torch.logsumexp", "jax.nn.logsumexp")                         \
  X(any, 0, "torch.any", "jax.numpy.any")                                        \
  X(all, 0, "torch.all", "jax.numpy.all")                                        \
  X(count_nonzero, 0, "torch.count_nonzero", "jax.numpy.count_nonzero")          \
  X(nansum, 1, "torch.nansum", "jax.numpy.nansum")                               \
  X(nanmean, 1, "torch.nanmean", "jax.numpy.nanmean")

namespace baracuda {

enum class ReduceOp : uint8_t {
#define BARACUDA_X(name, ...) name,
  BARACUDA_REDUCE_OPS(BARACUDA_X)
#undef BARACUDA_X
};

struct ReduceOpInfo {
  ReduceOp op;
  std::string_view name;
  bool differentiable;
  std::string_view torch_name;
  std::string_view jax_name;
};
const ReduceOpInfo& reduce_op_info(ReduceOp op);
std::span<const ReduceOpInfo> all_reduce_ops();

struct ReduceDescriptor {
  ReduceOp op = ReduceOp::sum;
  Direction direction = Direction::forward;
  Operand input;                       // x: dtype, shape, strides (empty = contiguous)
  std::vector<int> axes;               // reduced dims, any order, negative allowed; empty = all
  bool keepdim = false;
  double correction = 1.0;             // var / std / var_mean: divide by N - correction
  double p = 2.0;                      // norm: any real p, +-inf (INFINITY), 0 (count of nonzeros)
  std::optional<DType> output_dtype;   // PyTorch's dtype= (sum, nansum, prod, mean, nanmean, norm)
  std::vector<Operand> grad_outputs;   // backward: layouts of the incoming gradients (default dense)
  std::vector<Operand> outputs;        // optional output layouts (default dense)
};

struct ReduceArgs {
  static constexpr int kMaxInputs = 3;
  static constexpr int kMaxOutputs = 2;
  std::array<TensorRef, kMaxInputs> inputs{};
  std::array<TensorMut, kMaxOutputs> outputs{};
};

struct ReduceFamily {
  static constexpr std::string_view name = "reduce";
  using Descriptor = ReduceDescriptor;
  using Args = ReduceArgs;
  static Status validate(const Descriptor& desc);
  static std::string describe(const Descriptor& desc);
  static std::span<const Implementation<ReduceFamily>> implementations();
};

using ReducePlan = Plan<ReduceFamily>;

// Shapes and dtypes select() infers.
struct ReduceSignature {
  std::vector<int> axes;               // normalized: sorted, non-negative, unique
  DType accumulate = DType::f32;       // dtype the reduction accumulates in
  std::vector<Operand> inputs;         // every input of the kernel (backward: grads then x)
  std::vector<Operand> outputs;        // every output
};
Result<ReduceSignature> infer_signature(const ReduceDescriptor& desc);

}  // namespace baracuda
