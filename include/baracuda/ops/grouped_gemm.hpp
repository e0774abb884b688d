#pragma once
// Grouped GEMM family (mixture-of-experts layers): G independent GEMMs whose sizes live in device
// memory, through the one plan mechanism. The descriptor's `split` says which dimension the
// groups split (torch._grouped_mm's 2-D x 3-D and 2-D x 2-D cases):
//
//   split = rows (default; the MoE forward and the input gradient dX):
//     D[offsets[g] : offsets[g+1], :] = alpha * A[offsets[g] : offsets[g+1], :] @ B[g]          for g < G
//   split = contraction (the MoE weight gradient dW[g] = X_g^T @ dY_g, "variable K"):
//     D[g] = alpha * A[:, offsets[g] : offsets[g+1]] @ B[offsets[g] : offsets[g+1], :]          for g < G
//
//   GroupedGemmDescriptor desc{.a = Operand::tensor(DType::bf16, {32768, 4096}),            // tokens sorted by expert
//                              .b = Operand::tensor(DType::bf16, {64, 4096, 14336},
//                                                   {4096 * 14336, 1, 4096}),               // W stored [G, N, K]
//                              .d = Operand::tensor(DType::bf16, {32768, 14336}),
//                              .offsets_dtype = DType::i32};
//   auto plan = GroupedGemmPlan::select(stream, desc);
//   plan->run(stream, workspace, GroupedGemmArgs{.a = x, .b = w, .group_offsets = offsets, .d = y});
//
//   // The weight gradient of that layer: dW[g] = X_g^T dY_g, A = X^T as a view (strides [1, 4096]).
//   GroupedGemmDescriptor dw{.a = Operand::tensor(DType::bf16, {4096, 32768}, {1, 4096}),
//                            .b = Operand::tensor(DType::bf16, {32768, 14336}),            // dY
//                            .d = Operand::tensor(DType::bf16, {64, 4096, 14336}),
//                            .split = GroupedGemmSplit::contraction};
//
// Operands, split = rows:
//  * A [M_total, K]: the rows of every group, contiguous by group (group g owns rows
//    offsets[g] .. offsets[g+1]-1). B [G, K, N]: one weight matrix per group, any strides (the
//    MoE forward's W stored [G, N, K] is B with strides [N*K, 1, K]). D [M_total, N].
//  * group_offsets [G + 1]: cumulative row counts, offsets[G] = M_total.
// Operands, split = contraction:
//  * A [M, K_total], B [K_total, N], any strides (for dW, A is the transposed view of X: strides
//    [1, M]); group g owns columns offsets[g] .. offsets[g+1]-1 of A and the same rows of B.
//    D [G, M, N]: one product per group. An empty group's D[g] is zero (an empty sum), as in
//    torch._grouped_mm; every implementation writes those zeros.
//  * group_offsets [G + 1]: cumulative contraction lengths, offsets[G] = K_total.
// Both splits:
//  * group_offsets, i32 or i64 (the descriptor's offsets_dtype): offsets[0] = 0, non-decreasing,
//    offsets[G] = the split dimension's extent. Empty groups are fine. Its values are run-time
//    data: one plan serves every routing of the tokens.
//  * status (optional output, i32, shape [] or [1]): see "Bad offsets" below.
// Dtypes: A, B and D all bf16 or all f16; f32 accumulation; D rounded once. alpha only (no beta,
// no C): each element of D belongs to exactly one group and is overwritten.
//
// Bad offsets (group sizes that do not sum to the split extent, a decreasing or negative offset):
//  * The CPU reference reads the offsets on the host and returns invalid_argument quoting them;
//    D is not written.
//  * A CUDA plan cannot read device memory in run() without synchronizing, which run() never
//    does, so run() returns ok for any offsets values. Its setup kernel checks them on the device:
//    when they are invalid, no group is computed (D is left untouched, empty groups included) and
//    the status output, when given, receives 1 (0 when valid). Callers that cannot vouch for their
//    offsets pass `status` and check it when they next synchronize.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "baracuda/core/operand.hpp"
#include "baracuda/core/plan.hpp"
#include "baracuda/core/tensor.hpp"

namespace baracuda {

// Which dimension group_offsets splits.
enum class GroupedGemmSplit : uint8_t {
  rows,         // A's rows (M): one B matrix per group (MoE forward, dX)
  contraction,  // the contraction dimension K: one D matrix per group (MoE weight gradient dW)
};
std::string_view grouped_gemm_split_name(GroupedGemmSplit s);  // "rows", "contraction"

struct GroupedGemmDescriptor {
  Operand a;                       // rows: [M_total, K]    contraction: [M, K_total]
  Operand b;                       // rows: [G, K, N]       contraction: [K_total, N]
  Operand d;                       // rows: [M_total, N]    contraction: [G, M, N]
  DType offsets_dtype = DType::i32;  // of group_offsets [G + 1]: i32 or i64
  double alpha = 1.0;
  bool status = false;             // whether run() gets a status output (i32 scalar)
  size_t alignment = 16;           // byte alignment the caller promises for A, B and D
  GroupedGemmSplit split = GroupedGemmSplit::rows;
};

struct GroupedGemmArgs {
  TensorRef a, b;
  TensorRef group_offsets;  // [G + 1] in the plan's memory (device memory for CUDA plans)
  TensorMut d;
  TensorMut status;         // i32, shape [] or [1]; given iff the descriptor's status is true
};

struct GroupedGemmFamily {
  static constexpr std::string_view name = "grouped_gemm";
  using Descriptor = GroupedGemmDescriptor;
  using Args = GroupedGemmArgs;
  static Status validate(const Descriptor& desc);
  static std::string describe(const Descriptor& desc);
  static std::span<const Implementation<GroupedGemmFamily>> implementations();
};

using GroupedGemmPlan = Plan<GroupedGemmFamily>;

// What select() infers from a valid descriptor. m_total and k are A's extents in both splits:
// rows: M_total (the sum of the group sizes) and K; contraction: M (every group's row count) and
// K_total (the sum of the group sizes).
struct GroupedGemmSignature {
  int64_t m_total = 0, n = 0, k = 0;
  int64_t groups = 0;
  GroupedGemmSplit split = GroupedGemmSplit::rows;
  // The extent the offsets split (offsets[G] must equal it).
  int64_t split_extent() const { return split == GroupedGemmSplit::rows ? m_total : k; }
};
Result<GroupedGemmSignature> infer_signature(const GroupedGemmDescriptor& desc);

}  // namespace baracuda
