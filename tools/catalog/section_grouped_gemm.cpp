// The grouped GEMM (mixture of experts) section of docs/ops.md.
#include <ostream>
#include <string>

#include "catalog_sections.hpp"

namespace baracuda::catalog {
namespace {

bool valid(GroupedGemmSplit split, DType t, DType offsets) {
  GroupedGemmDescriptor desc{.a = Operand::tensor(t, {8, 16}), .b = Operand::tensor(t, {2, 16, 4}),
                             .d = Operand::tensor(t, {8, 4}), .offsets_dtype = offsets};
  if (split == GroupedGemmSplit::contraction) {
    desc.b = Operand::tensor(t, {16, 4});
    desc.d = Operand::tensor(t, {2, 8, 4});
    desc.split = split;
  }
  return infer_signature(desc).has_value();
}

std::string join(const std::string& list, std::string_view item) {
  return list + (list.empty() ? "" : " ") + std::string(item);
}

}  // namespace

void write_grouped_gemm(std::ostream& o) {
  o << "\n## Grouped GEMM (`GroupedGemmPlan`)\n\n"
    << "Mixture of experts, G groups whose boundaries, offsets [G + 1] cumulative, live in device memory\n"
    << "(run-time data: one plan serves every routing). The descriptor's `split` says what they split:\n"
    << "rows (the default; forward and dX): D[offsets[g]:offsets[g+1]] = alpha A[offsets[g]:offsets[g+1]] @ B[g],\n"
    << "A [M_total, K], B [G, K, N] (any strides: W stored [G, N, K] is B transposed), D [M_total, N];\n"
    << "contraction (the weight gradient dW[g] = X_g^T dY_g): D[g] = alpha A[:, offsets[g]:offsets[g+1]] @\n"
    << "B[offsets[g]:offsets[g+1], :], A [M, K_total] (X^T), B [K_total, N], D [G, M, N], empty groups give\n"
    << "zeros. CUDA: CUTLASS sm_90a kernels for both splits (rows: 128x256 tiles with 1x2 clusters for\n"
    << "bf16/f16 with B [G, N, K], else 128x128 with 2x1; BARACUDA_GROUPED_TILING picks another).\n"
    << "Dtypes: those of A, B and D (one dtype for all three); offsets: group_offsets' dtypes.\n\n"
    << "| op | dtypes | offsets | direction | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|---|---|\n";
  std::string impls;
  for (const auto& impl : GroupedGemmFamily::implementations())
    impls += (impls.empty() ? "" : ", ") + std::string(impl.name);
  for (GroupedGemmSplit split : {GroupedGemmSplit::rows, GroupedGemmSplit::contraction}) {
    std::string dtypes, offsets;
    for (DType t : kCatalogDTypes) {
      if (valid(split, t, DType::i32)) dtypes = join(dtypes, dtype_name(t));
      if (valid(split, DType::bf16, t)) offsets = join(offsets, dtype_name(t));
    }
    if (split == GroupedGemmSplit::rows)
      o << "| grouped_mm (split=rows) | " << dtypes << " | " << offsets << " | forward, input gradient | " << impls
        << " | `torch._grouped_mm` (2-D A, 3-D B; offs without the leading 0) | `jax.lax.ragged_dot` (group_sizes) |\n";
    else
      o << "| grouped_mm (split=contraction) | " << dtypes << " | " << offsets << " | weight gradient | " << impls
        << " | `torch._grouped_mm` (2-D A, 2-D B) | `jax.lax.ragged_dot_general` (ragged contracting dimension) |\n";
  }
}

}  // namespace baracuda::catalog
