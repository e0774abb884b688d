// The GEMM section of docs/ops.md.
#include <ostream>
#include <string>

#include "catalog_sections.hpp"

namespace baracuda::catalog {
namespace {

bool valid(DType a, DType d) {
  GemmDescriptor desc{.a = Operand::tensor(a, {8, 16}), .b = Operand::tensor(a, {16, 4}), .d = Operand::tensor(d, {8, 4})};
  return infer_signature(desc).has_value();
}

}  // namespace

void write_gemm(std::ostream& o) {
  o << "\n## GEMM (`GemmPlan`)\n\n"
    << "D = epilogue(alpha op(A) op(B) + beta C), any transposition through strides, strided-batched with\n"
    << "broadcast batch dims. Epilogue: bias along rows or columns, relu / gelu_erf / gelu_tanh / silu,\n"
    << "pre-activation output, bias gradient (linear backward), fp8 scales (per tensor, per row / column,\n"
    << "per 1x128 or 128x128 block), amax, and fp8 fast accumulation (`fp8_fast_accum`, torch's\n"
    << "`use_fast_accum`). Dtypes: A and B -> D\n"
    << "as the descriptor accepts them (implementations refuse what they cannot run, with the reason).\n\n"
    << "| op | dtypes | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|\n";
  std::string impls;
  for (const auto& impl : GemmFamily::implementations()) impls += (impls.empty() ? "" : ", ") + std::string(impl.name);
  std::string same, scaled, integer;
  for (DType a : kCatalogDTypes)
    for (DType d : kCatalogDTypes) {
      if (!valid(a, d)) continue;
      const std::string pair = std::string(dtype_name(a)) + "->" + std::string(dtype_name(d));
      std::string& row = is_fp8(a) ? scaled : (a == DType::i8 ? integer : same);
      row += (row.empty() ? "" : " ") + pair;
    }
  o << "| matmul | " << same << " | " << impls
    << " | `torch.matmul`, `torch.addmm`, `torch.baddbmm`, `torch.nn.functional.linear` | `jax.lax.dot_general` |\n";
  o << "| scaled_mm | " << scaled << " | " << impls << " | `torch._scaled_mm` | - |\n";
  o << "| int_mm | " << integer << " | " << impls << " | `torch._int_mm` | `jax.lax.dot_general` (int8, "
    << "preferred_element_type=int32) |\n";
}

}  // namespace baracuda::catalog
