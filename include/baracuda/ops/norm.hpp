#pragma once
// Normalization family: layer_norm and rms_norm over the last k dims (torch's normalized_shape),
// their fused residual-add variants (LLM inference: y = norm(x + residual), also returning the
// sum), group_norm, batch_norm (train and eval) and instance_norm; forward and backward, through
// one plan type.
//
//   NormDescriptor desc{.op = NormOp::rms_norm, .input = Operand::tensor(DType::bf16, {rows, cols}),
//                       .normalized_shape = {cols}};
//   auto plan = NormPlan::select(stream, desc);
//   plan->run(stream, workspace, NormArgs{.inputs = {x, w}, .outputs = {y, rstd}});
//
// Operands, in this order (bracketed ones exist only when the descriptor's flag says so; the
// signature's input_roles/output_roles name every slot):
//   layer_norm      fwd: {x, [weight], [bias]}              -> {y, [mean, rstd]}
//                   bwd: {dy, x, mean, rstd, [weight]}      -> {dx, [dweight], [dbias]}
//                   (dweight/dbias only with param_grads; every backward below likewise)
//   rms_norm        fwd: {x, [weight]}                      -> {y, [rstd]}
//                   bwd: {dy, x, rstd, [weight]}            -> {dx, [dweight]}
//   add_layer_norm  fwd: {x, residual, [weight], [bias]}    -> {y, sum, [mean, rstd]}
//                   bwd: {dy, dsum, sum, mean, rstd, [weight]} -> {dx, [dweight], [dbias]}
//   add_rms_norm    fwd: {x, residual, [weight]}            -> {y, sum, [rstd]}
//                   bwd: {dy, dsum, sum, rstd, [weight]}    -> {dx, [dweight]}
//   group_norm, instance_norm, batch_norm (training)
//                   fwd: {x, [weight], [bias]}              -> {y, [mean, rstd]}
//                        batch_norm with track_running_stats adds {running_mean, running_var}
//                        as outputs that are read and updated in place (momentum, unbiased var)
//                   bwd: {dy, x, mean, rstd, [weight]}      -> {dx, [dweight], [dbias]}
//   batch_norm (eval) fwd: {x, running_mean, running_var, [weight], [bias]} -> {y}
//                   bwd: {dy, x, running_mean, running_var, [weight]} -> {dx, [dweight], [dbias]}
// The fused add variants normalize the sum rounded to x's dtype (exactly what the unfused
// `s = x + residual; y = norm(s)` computes); their backward's dx is the gradient of both x and
// residual: norm_backward(dy) + dsum.
//
// Shapes: layer/rms: x [*, normalized_shape], stats [*] (the leading dims), weight/bias
// normalized_shape. group/instance/batch: x [N, C, *], weight/bias [C]; stats [N, G] (group),
// [N, C] (instance), [C] (batch). Dtypes: x f64/f32/f16/bf16; weight/bias x's dtype or f32
// (param dtype, also of dweight/dbias and running stats); stats f32 (f64 when x is f64); rstd =
// 1/sqrt(var + eps) with the biased variance. Every reduction is deterministic.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "baracuda/core/operand.hpp"
#include "baracuda/core/plan.hpp"
#include "baracuda/core/tensor.hpp"

// X(name, torch_name, jax_name)
#define BARACUDA_NORM_OPS(X)                                                     \
  X(layer_norm, "torch.nn.functional.layer_norm", "flax.linen.LayerNorm")       \
  X(rms_norm, "torch.nn.functional.rms_norm", "flax.linen.RMSNorm")             \
  X(add_layer_norm, "x + residual; layer_norm (fused)", "")                     \
  X(add_rms_norm, "x + residual; rms_norm (fused)", "")                         \
  X(group_norm, "torch.nn.functional.group_norm", "flax.linen.GroupNorm")       \
  X(batch_norm, "torch.nn.functional.batch_norm", "flax.linen.BatchNorm")       \
  X(instance_norm, "torch.nn.functional.instance_norm", "")

namespace baracuda {

enum class NormOp : uint8_t {
#define BARACUDA_X(name, ...) name,
  BARACUDA_NORM_OPS(BARACUDA_X)
#undef BARACUDA_X
};

struct NormOpInfo {
  NormOp op;
  std::string_view name;
  std::string_view torch_name;
  std::string_view jax_name;
};
const NormOpInfo& norm_op_info(NormOp op);
std::span<const NormOpInfo> all_norm_ops();

// What each operand slot holds.
enum class NormRole : uint8_t {
  x, residual, weight, bias, dy, dsum, mean, rstd, running_mean, running_var, y, sum, dx, dweight, dbias
};
std::string_view norm_role_name(NormRole r);

struct NormDescriptor {
  NormOp op = NormOp::layer_norm;
  Direction direction = Direction::forward;
  Operand input;                          // x (backward: the forward's x; add_*: the saved sum)
  std::vector<int64_t> normalized_shape;  // layer/rms (+add): must equal x's trailing dims
  bool weight = true;                     // affine weight (gamma)
  bool bias = true;                       // affine bias (beta); ignored (no bias) by rms ops
  std::optional<DType> param_dtype;       // weight/bias/dweight/dbias/running stats; default x's
  std::optional<double> eps;              // default 1e-5; rms ops: the dtype's epsilon (torch)
  int64_t num_groups = 1;                 // group_norm
  bool training = true;                   // batch_norm: batch statistics (else running stats)
  bool track_running_stats = true;        // batch_norm training: update running_mean/var
  double momentum = 0.1;                  // batch_norm: running = (1-m) running + m batch
  bool save_stats = true;                 // forward: also write mean/rstd (backward needs them)
  bool param_grads = true;                // backward: also compute dweight/dbias (torch's mask)
  // Strides of x-shaped operands other than x (residual, y, sum, dy, dsum, dx); default dense.
  struct RoleStrides {
    NormRole role;
    std::vector<int64_t> strides;
  };
  std::vector<RoleStrides> strides;
};

struct NormArgs {
  static constexpr int kMaxInputs = 6;
  static constexpr int kMaxOutputs = 5;
  std::array<TensorRef, kMaxInputs> inputs{};
  std::array<TensorMut, kMaxOutputs> outputs{};
};

struct NormFamily {
  static constexpr std::string_view name = "norm";
  using Descriptor = NormDescriptor;
  using Args = NormArgs;
  static Status validate(const Descriptor& desc);
  static std::string describe(const Descriptor& desc);
  static std::span<const Implementation<NormFamily>> implementations();
};

using NormPlan = Plan<NormFamily>;

// Shapes and dtypes select() infers. Every element of x belongs to one normalization group
// (a row of layer/rms, an (n, g) of group_norm, an (n, c) of instance_norm, a channel c of
// batch_norm) and one affine channel (the weight index).
struct NormSignature {
  std::vector<Operand> inputs, outputs;
  std::vector<NormRole> input_roles, output_roles;
  DType param_dtype = DType::f32;
  DType stats_dtype = DType::f32;
  double eps = 1e-5;
  // x viewed as [outer, channels, inner] (layer/rms: [rows, cols, 1] with channels = cols).
  int64_t outer = 0, channels = 0, inner = 1;
  int64_t groups = 0;      // number of normalization groups
  int64_t group_size = 0;  // elements per group
  int input_index(NormRole r) const;   // -1 when absent
  int output_index(NormRole r) const;  // -1 when absent
};
Result<NormSignature> infer_signature(const NormDescriptor& desc);

}  // namespace baracuda
