#pragma once
// GEMM family: D = epilogue(alpha * op(A) op(B) + beta * C), strided-batched with broadcast batch
// dims, through the one plan mechanism (torch.matmul / addmm / baddbmm / nn.functional.linear,
// torch._scaled_mm, torch._int_mm; jax.lax.dot_general with one contracting dim).
//
//   GemmDescriptor desc{.a = Operand::tensor(DType::bf16, {4096, 4096}),
//                       .b = Operand::tensor(DType::bf16, {4096, 1024}, {1, 4096}),  // column-major
//                       .d = Operand::tensor(DType::bf16, {4096, 1024})};
//   auto plan = GemmPlan::select(stream, desc);
//   plan->run(stream, workspace, GemmArgs{.a = a, .b = b, .d = d});
//
// Operands (every matrix is a row-major *logical* view; its strides say how it is stored):
//  * A [batch..., M, K], B [batch..., K, N], D [batch..., M, N]. Any transposition is a matter
//    of strides: a column-major A has strides [..., 1, M]. Batch dims broadcast like torch.matmul
//    (right-aligned; a size-1 or missing dim repeats); D's batch shape is the broadcast shape.
//    A and B need rank >= 2 (torch.matmul's 1-D promotion is the caller's unsqueeze).
//  * C (optional): any shape that broadcasts to D's (addmm's `input`); read only when beta != 0
//    (beta == 0 never reads C, so NaNs in C do not propagate, as in BLAS and torch.addmm).
// Dtypes (A, B -> D, accumulation):
//  * f64 -> f64; f32 -> f32 (IEEE f32 math, or tf32 tensor cores when allow_tf32);
//    f16 -> f16, bf16 -> bf16 (f32 accumulation, as torch).
//  * fp8 (e4m3 or e5m2, A and B may differ) -> D of bf16, f16, f32, e4m3 or e5m2 (the
//    descriptor's d.dtype), f32 accumulation. The run() args must give f32 scales a_scale and
//    b_scale (and d_scale, a scalar, when D is fp8); amax (an f32 scalar output, when the
//    descriptor asks for it) receives max |y| before d_scale. torch._scaled_mm's convention.
//    a_scale_mode / b_scale_mode say how many scales each operand has (GemmScaleMode below):
//    one per tensor (default), one per row of A / column of B (torch's "rowwise"), or one per
//    128-element block along K (1x128) or per 128x128 block (DeepSeek-V3's recipe). The product is
//    sum_k (A[m,k] sa(m,k)) (B[k,n] sb(k,n)) with sa / sb the scale of the block holding the
//    element. Non-tensor modes take a single batch entry.
//  * i8 x i8 -> i32 with exact int32 accumulation (torch._int_mm); alpha and beta must be
//    integers; no bias / activation / pre-activation / bias gradient.
// Epilogue, in this order (cuBLASLt's):
//    y = alpha * sum_k (a_scale op(A)[m,k]) (b_scale op(B)[k,n]) + beta * C[m,n] + bias
//    pre_activation = y (optional output, the backward's input);  y = act(y);
//    amax = max |y| (fp8 D);  D = round(d_scale * y) to D's dtype (d_scale: fp8 D only).
//  * bias: a vector along rows (length M: bias[m]) or columns (length N: bias[n], the
//    nn.functional.linear case), shared by every batch entry. Its dtype is D's; fp8 GEMMs also
//    take bf16 or f16 (and need them for an fp8 D). The same rule holds for C, pre_activation and
//    bias_grad.
//  * activation: none, relu, gelu_erf (torch's default gelu), gelu_tanh (approximate='tanh'),
//    silu.
//  * bias_grad: also writes the bias gradient of the linear backward: along rows,
//    bias_grad[m] = sum_k op(A)[m,k] (dW = dY^T X with A = dY^T gives db = sum over tokens of
//    dY); along columns, bias_grad[n] = sum_k op(B)[k,n]. Unscaled by alpha; a single batch
//    entry only (batch dims multiply to 1).
// Every implementation rounds once to the output dtype; the CPU reference accumulates in double
// (int64 for integers).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "baracuda/core/operand.hpp"
#include "baracuda/core/plan.hpp"
#include "baracuda/core/tensor.hpp"

namespace baracuda {

enum class GemmActivation : uint8_t { none, relu, gelu_erf, gelu_tanh, silu };
std::string_view gemm_activation_name(GemmActivation a);

// Which axis of D a bias (or bias gradient) vector runs along.
enum class GemmVectorAxis : uint8_t {
  rows,     // length M, element m applies to row m of D (bias_grad: sums op(A) over k)
  columns,  // length N, element n applies to column n of D (bias_grad: sums op(B) over k)
};
std::string_view gemm_vector_axis_name(GemmVectorAxis a);

// How an fp8 operand's f32 scales cover it (Kb = ceil(K / 128), Mb = ceil(M / 128), Nb = ceil(N / 128)).
// Shapes of the scale tensors, A's / B's:
enum class GemmScaleMode : uint8_t {
  tensor,         // [] or [1] / [] or [1]: one scale for the matrix
  outer_vector,   // [M, 1] / [1, N]: one per row of A, one per column of B ("rowwise")
  block_1x128,    // [M, Kb] / [Kb, N]: one per 128 consecutive elements along K
  block_128x128,  // [Mb, Kb] / [Kb, Nb]: one per 128 x 128 block
};
std::string_view gemm_scale_mode_name(GemmScaleMode m);

struct GemmDescriptor {
  Operand a;                              // [batch..., M, K]
  Operand b;                              // [batch..., K, N]
  std::optional<Operand> c;               // broadcasts to D; needed when beta != 0
  Operand d;                              // [batch..., M, N]; its dtype is the output dtype
  double alpha = 1.0;
  double beta = 0.0;
  bool allow_tf32 = false;                // f32 only: tf32 tensor-core math (10-bit mantissa inputs)
  // Epilogue (see above). Optional operands: given = used.
  std::optional<Operand> bias;            // [M] (bias_axis rows) or [N] (columns), contiguous or strided
  GemmVectorAxis bias_axis = GemmVectorAxis::columns;
  GemmActivation activation = GemmActivation::none;
  std::optional<Operand> pre_activation;  // D's shape: the activation's input
  std::optional<Operand> bias_grad;       // [M] (bias_grad_axis rows) or [N] (columns)
  GemmVectorAxis bias_grad_axis = GemmVectorAxis::rows;
  bool amax = false;                      // fp8 D: write max |y| before d_scale to args.amax
  // fp8 inputs only: the tensor cores' fast accumulation (partial sums kept at lower precision
  // between the periodic f32 promotions), as torch._scaled_mm(use_fast_accum=True): faster, less
  // accurate over long K. Off by default.
  bool fp8_fast_accum = false;
  // fp8 scales (see GemmScaleMode). a_scale / b_scale describe a non-tensor mode's scale tensor
  // (f32, the mode's shape, strides as stored); absent: packed row-major.
  GemmScaleMode a_scale_mode = GemmScaleMode::tensor;
  GemmScaleMode b_scale_mode = GemmScaleMode::tensor;
  std::optional<Operand> a_scale, b_scale;
  size_t alignment = 16;                  // byte alignment the caller promises for every matrix pointer
  // Scratch memory an implementation may book (cuBLASLt's heuristic picks algorithms within it).
  size_t max_workspace_bytes = size_t{32} << 20;
  // PlanPreference fields the cuBLASLt plans honour: autotune (select() times the heuristic's
  // ranked algorithms on scratch operands and keeps the fastest, cached per problem for the
  // process; it allocates and synchronizes at plan time, never in run();
  // BARACUDA_GEMM_AUTOTUNE=1 turns it on for every plan), allow_tf32 (ORed with the field above)
  // and max_workspace_bytes (the smaller cap wins).
};

// Named run() slots; unused slots stay undefined.
struct GemmArgs {
  TensorRef a, b, c;
  TensorRef bias;
  TensorRef a_scale, b_scale, d_scale;  // fp8: f32 scales in the plan's memory (scalars: shape [] or [1])
  TensorMut d;
  TensorMut pre_activation, bias_grad;
  TensorMut amax;                        // f32 scalar (shape [] or [1])
};

struct GemmFamily {
  static constexpr std::string_view name = "gemm";
  using Descriptor = GemmDescriptor;
  using Args = GemmArgs;
  static Status validate(const Descriptor& desc);
  static std::string describe(const Descriptor& desc);
  static std::span<const Implementation<GemmFamily>> implementations();
};

using GemmPlan = Plan<GemmFamily>;

// What select() infers: the problem's geometry and every operand's expected layout.
struct GemmSignature {
  int64_t m = 0, n = 0, k = 0;
  std::vector<int64_t> batch_shape;  // broadcast batch dims (D's leading dims)
  int64_t batch = 1;                 // their product
  bool fp8 = false;                  // fp8 inputs (scales required)
  bool integer = false;              // i8 x i8 -> i32
  DType accumulator = DType::f32;    // f64 for f64, i64-exact int32 for int8, f32 otherwise
  // Expected operands (nullopt: the slot must stay undefined). amax and d_scale are f32 scalars,
  // a_scale / b_scale too in the tensor mode (is_scalar marks that: shape [] or [1] accepted).
  std::optional<Operand> a, b, c, d, bias, pre_activation, bias_grad;
  std::optional<Operand> a_scale, b_scale, d_scale, amax;
};
Result<GemmSignature> infer_signature(const GemmDescriptor& desc);

}  // namespace baracuda
