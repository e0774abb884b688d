// The grouped GEMM (mixture of experts) section of docs/ops.md.
#include <ostream>
#include <string>

#include "catalog_sections.hpp"

namespace baracuda::catalog {
namespace {

bool valid(DType t, DType offsets) {
  GroupedGemmDescriptor desc{.a = Operand::tensor(t, {8, 16}), .b = Operand::tensor(t, {2, 16, 4}),
                             .d = Operand::tensor(t, {8, 4}), .offsets_dtype = offsets};
  return infer_signature(desc).has_value();
}

std::string join(const std::string& list, std::string_view item) {
  return list + (list.empty() ? "" : " ") + std::string(item);
}

}  // namespace

void write_grouped_gemm(std::ostream& o) {
  o << "\n## Grouped GEMM (`GroupedGemmPlan`)\n\n"
    << "Mixture of experts: D[offsets[g]:offsets[g+1]] = alpha A[offsets[g]:offsets[g+1]] @ B[g] for G\n"
    << "groups, A [M_total, K], B [G, K, N] (any strides: W stored [G, N, K] is B transposed), offsets\n"
    << "[G + 1] cumulative in device memory (run-time data: one plan serves every routing). Dtypes: those\n"
    << "of A, B and D (one dtype for all three); offsets: group_offsets' dtypes. Forward only.\n\n"
    << "| op | dtypes | offsets | direction | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|---|---|\n";
  std::string impls;
  for (const auto& impl : GroupedGemmFamily::implementations())
    impls += (impls.empty() ? "" : ", ") + std::string(impl.name);
  std::string dtypes, offsets;
  for (DType t : kCatalogDTypes) {
    if (valid(t, DType::i32)) dtypes = join(dtypes, dtype_name(t));
    if (valid(DType::bf16, t)) offsets = join(offsets, dtype_name(t));
  }
  o << "| grouped_mm | " << dtypes << " | " << offsets << " | forward | " << impls
    << " | `torch._grouped_mm` (2-D A, 3-D B; offs without the leading 0) | `jax.lax.ragged_dot` (group_sizes) |\n";
}

}  // namespace baracuda::catalog
