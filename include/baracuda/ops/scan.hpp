#pragma once
// Scan family: cumsum, cumprod, cummax/cummin (values + int64 indices), logcumsumexp — along one
// axis of any rank, inclusive or exclusive, forward or reverse, forward and backward, through one
// plan type.
//
//   ScanDescriptor desc{.op = ScanOp::cumsum, .input = Operand::tensor(DType::f32, {rows, cols}),
//                       .axis = -1};
//   auto plan = ScanPlan::select(stream, desc);
//   plan->run(stream, workspace, ScanArgs{.inputs = {x}, .outputs = {y}});
//
// Semantics are PyTorch's (torch.cumsum & co.) with JAX's options:
//   - dtypes: cumsum/cumprod of integers or bool return i64 (dtype= overrides; the input is
//     converted to that dtype first, as torch does); cummax/cummin keep the input dtype and add
//     i64 indices; logcumsumexp needs a floating input. 16-bit inputs accumulate in f32.
//   - cummax/cummin tie rule (torch's actual behaviour, aten cummax_cummin_helper): an element
//     equal to the running max/min replaces it, so the index is the LAST of equal maxima; a NaN
//     always replaces it (NaN propagates, its index is the latest NaN).
//   - exclusive: y[i] combines x[0..i-1] (identity 0 / 1 / -inf at i = 0); not defined for
//     cummax/cummin. reverse: the scan runs from the end (jax.lax.cumsum(reverse=True)); indices
//     stay positions in the original order.
//   - an empty tensor gives an empty result; a 0-d tensor is a scan of length 1 (axis 0 or -1).
//
// Operands, by direction:
//   forward:  inputs = {x}; outputs = {y} (cummax/cummin: {values, indices i64}).
//   backward: inputs = {dy, x}; outputs = {dx} (x's shape and dtype; floating x only).
//             cumsum: dx = the opposite-direction cumsum of dy; cumprod: exact with zeros in x
//             (products of the other factors, no division); cummax/cummin: dy scattered (summed)
//             onto the index each output took; logcumsumexp: dx_i = sum_j dy_j exp(x_i - y_j) over
//             the outputs y_j that include x_i, computed in log space.
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

// X(name, differentiable, torch_name, jax_name)
#define BARACUDA_SCAN_OPS(X)                                            \
  X(cumsum, 1, "torch.cumsum", "jax.lax.cumsum")                        \
  X(cumprod, 1, "torch.cumprod", "jax.lax.cumprod")                     \
  X(cummax, 1, "torch.cummax", "jax.lax.cummax")                        \
  X(cummin, 1, "torch.cummin", "jax.lax.cummin")                        \
  X(logcumsumexp, 1, "torch.logcumsumexp", "jax.lax.cumlogsumexp")

namespace baracuda {

enum class ScanOp : uint8_t {
#define BARACUDA_X(name, ...) name,
  BARACUDA_SCAN_OPS(BARACUDA_X)
#undef BARACUDA_X
};

struct ScanOpInfo {
  ScanOp op;
  std::string_view name;
  bool differentiable;
  std::string_view torch_name;
  std::string_view jax_name;
};
const ScanOpInfo& scan_op_info(ScanOp op);
std::span<const ScanOpInfo> all_scan_ops();

struct ScanDescriptor {
  ScanOp op = ScanOp::cumsum;
  Direction direction = Direction::forward;
  Operand input;                       // x: dtype, shape, strides (empty = contiguous)
  int axis = -1;                       // scanned dim, negative allowed
  bool exclusive = false;              // y[i] excludes x[i]
  bool reverse = false;                // scan from the last element to the first
  std::optional<DType> output_dtype;   // PyTorch's dtype= (cumsum, cumprod)
  std::optional<Operand> grad_output;  // backward: layout of dy (default dense)
  std::vector<Operand> outputs;        // optional output layouts (default dense)
};

struct ScanArgs {
  static constexpr int kMaxInputs = 2;
  static constexpr int kMaxOutputs = 2;
  std::array<TensorRef, kMaxInputs> inputs{};
  std::array<TensorMut, kMaxOutputs> outputs{};
};

struct ScanFamily {
  static constexpr std::string_view name = "scan";
  using Descriptor = ScanDescriptor;
  using Args = ScanArgs;
  static Status validate(const Descriptor& desc);
  static std::string describe(const Descriptor& desc);
  static std::span<const Implementation<ScanFamily>> implementations();
};

using ScanPlan = Plan<ScanFamily>;

// Shapes and dtypes select() infers.
struct ScanSignature {
  int axis = 0;                        // normalized (0 for a 0-d input)
  DType compute = DType::f32;          // the dtype the input is converted to before the scan
  DType accumulate = DType::f32;       // f64 / f32 / i64
  std::vector<Operand> inputs;         // every input of the kernel (backward: dy then x)
  std::vector<Operand> outputs;        // every output
};
Result<ScanSignature> infer_signature(const ScanDescriptor& desc);

}  // namespace baracuda
