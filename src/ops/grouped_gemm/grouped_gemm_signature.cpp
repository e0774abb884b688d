// Grouped GEMM descriptors: ranks and shapes for each split (rows: K and G agreement;
// contraction: K_total agreement, D [G, M, N]), dtypes, alpha, and the problem description used in
// logs and errors.
#include <cmath>
#include <string>

#include "baracuda/ops/grouped_gemm.hpp"
#include "ops/grouped_gemm/grouped_gemm_args.hpp"

namespace baracuda {
namespace {

std::string dn(DType t) { return std::string(dtype_name(t)); }

Status check_operand(const std::string& what, const Operand& o, size_t rank, const char* dims) {
  if (o.is_scalar) return invalid_argument(grouped_gemm::kTag + what + " must be a tensor, not a scalar");
  if (o.shape.size() != rank)
    return invalid_argument(grouped_gemm::kTag + what + " must have rank " + std::to_string(rank) + " " + dims +
                            ", got shape " + shape_to_string(o.shape));
  auto l = Layout::make(o.shape, o.strides);
  if (!l) return invalid_argument(grouped_gemm::kTag + what + ": " + l.status().message());
  return Status::ok();
}

// split = rows: A [M_total, K], B [G, K, N], D [M_total, N].
Result<GroupedGemmSignature> row_split_shapes(const GroupedGemmDescriptor& d) {
  const std::string& tag = grouped_gemm::kTag;
  BARACUDA_TRY(check_operand("A", d.a, 2, "[M_total, K]"));
  BARACUDA_TRY(check_operand("B", d.b, 3, "[G, K, N]"));
  BARACUDA_TRY(check_operand("D", d.d, 2, "[M_total, N]"));
  GroupedGemmSignature sig;
  sig.m_total = d.a.shape[0];
  sig.k = d.a.shape[1];
  sig.groups = d.b.shape[0];
  sig.n = d.b.shape[2];
  if (d.b.shape[1] != sig.k)
    return invalid_argument(tag + "inner dimensions disagree: A " + shape_to_string(d.a.shape) + " has K=" +
                            std::to_string(sig.k) + ", B " + shape_to_string(d.b.shape) + " has K=" +
                            std::to_string(d.b.shape[1]));
  if (d.d.shape != std::vector<int64_t>{sig.m_total, sig.n})
    return invalid_argument(tag + "D has shape " + shape_to_string(d.d.shape) + ", expected [" +
                            std::to_string(sig.m_total) + ", " + std::to_string(sig.n) + "] (A's M_total, B's N)");
  if (sig.groups < 1)
    return invalid_argument(tag + "B " + shape_to_string(d.b.shape) + " has G=" + std::to_string(sig.groups) +
                            " groups; at least one is needed (group_offsets has G + 1 entries)");
  return sig;
}

// split = contraction: A [M, K_total], B [K_total, N], D [G, M, N] (G comes from D).
Result<GroupedGemmSignature> contraction_split_shapes(const GroupedGemmDescriptor& d) {
  const std::string& tag = grouped_gemm::kTag;
  BARACUDA_TRY(check_operand("A", d.a, 2, "[M, K_total] (split=contraction)"));
  BARACUDA_TRY(check_operand("B", d.b, 2, "[K_total, N] (split=contraction)"));
  BARACUDA_TRY(check_operand("D", d.d, 3, "[G, M, N] (split=contraction)"));
  GroupedGemmSignature sig;
  sig.split = GroupedGemmSplit::contraction;
  sig.m_total = d.a.shape[0];
  sig.k = d.a.shape[1];
  sig.n = d.b.shape[1];
  sig.groups = d.d.shape[0];
  if (d.b.shape[0] != sig.k)
    return invalid_argument(tag + "contraction dimensions disagree: A " + shape_to_string(d.a.shape) +
                            " has K_total=" + std::to_string(sig.k) + ", B " + shape_to_string(d.b.shape) +
                            " has K_total=" + std::to_string(d.b.shape[0]));
  if (sig.groups < 1)
    return invalid_argument(tag + "D " + shape_to_string(d.d.shape) + " has G=" + std::to_string(sig.groups) +
                            " groups; at least one is needed (group_offsets has G + 1 entries)");
  if (d.d.shape[1] != sig.m_total || d.d.shape[2] != sig.n)
    return invalid_argument(tag + "D has shape " + shape_to_string(d.d.shape) + ", expected [" +
                            std::to_string(sig.groups) + ", " + std::to_string(sig.m_total) + ", " +
                            std::to_string(sig.n) + "] (G, A's M, B's N)");
  return sig;
}

}  // namespace

std::string_view grouped_gemm_split_name(GroupedGemmSplit s) {
  return s == GroupedGemmSplit::rows ? "rows" : "contraction";
}

Result<GroupedGemmSignature> infer_signature(const GroupedGemmDescriptor& d) {
  const std::string& tag = grouped_gemm::kTag;
  if (d.split != GroupedGemmSplit::rows && d.split != GroupedGemmSplit::contraction)
    return invalid_argument(tag + "split must be rows or contraction, got " +
                            std::to_string(static_cast<int>(d.split)));
  BARACUDA_ASSIGN_OR_RETURN(GroupedGemmSignature sig, d.split == GroupedGemmSplit::rows
                                                          ? row_split_shapes(d)
                                                          : contraction_split_shapes(d));
  if (sig.groups > INT32_MAX - 1)
    return invalid_argument(tag + "G=" + std::to_string(sig.groups) + " groups is more than 2^31 - 2");
  const DType t = d.a.dtype;
  if (t != DType::bf16 && t != DType::f16)
    return invalid_argument(tag + "A is " + dn(t) + "; the grouped GEMM takes bf16 or f16");
  if (d.b.dtype != t || d.d.dtype != t)
    return invalid_argument(tag + "A, B and D must share one dtype, got A " + dn(t) + ", B " + dn(d.b.dtype) +
                            ", D " + dn(d.d.dtype));
  if (d.offsets_dtype != DType::i32 && d.offsets_dtype != DType::i64)
    return invalid_argument(tag + "group_offsets must be i32 or i64, got " + dn(d.offsets_dtype));
  if (!std::isfinite(d.alpha)) return invalid_argument(tag + "alpha must be finite, got " + std::to_string(d.alpha));
  if (d.alignment == 0 || (d.alignment & (d.alignment - 1)) != 0)
    return invalid_argument(tag + "alignment must be a power of two, got " + std::to_string(d.alignment));
  return sig;
}

Status GroupedGemmFamily::validate(const GroupedGemmDescriptor& d) { return infer_signature(d).status(); }

std::string GroupedGemmFamily::describe(const GroupedGemmDescriptor& d) {
  std::string s = "grouped_gemm " + dn(d.a.dtype);
  // The contraction split's A is usually a transposed view (X^T): its strides pick the kernel.
  if (d.split == GroupedGemmSplit::contraction) {
    s += " split=contraction A" + shape_to_string(d.a.shape);
    if (!d.a.strides.empty()) s += " strides" + shape_to_string(d.a.strides);
    s += " B" + shape_to_string(d.b.shape);
  } else {
    s += " A" + shape_to_string(d.a.shape) + " B" + shape_to_string(d.b.shape);
  }
  if (!d.b.strides.empty()) s += " strides" + shape_to_string(d.b.strides);
  s += " -> D" + shape_to_string(d.d.shape) + " offsets " + dn(d.offsets_dtype);
  if (d.alpha != 1.0) s += " alpha=" + std::to_string(d.alpha);
  return s;
}

}  // namespace baracuda
