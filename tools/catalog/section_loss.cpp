// The loss section of docs/ops.md.
#include <ostream>
#include <string>
#include <vector>

#include "catalog_sections.hpp"

namespace baracuda::catalog {

void write_loss(std::ostream& o) {
  o << "\n## Losses (`LossPlan`)\n\n"
    << "Reduction none / mean / sum, forward and backward (cross_entropy also a fused forward+backward).\n"
    << "Dtypes: those of the input (logits, predictions) the forward accepts; class ops take i64/i32\n"
    << "class indices (cross_entropy also class probabilities of the input's dtype).\n\n"
    << "| op | dtypes | implementations | PyTorch | JAX |\n"
    << "|---|---|---|---|---|\n";
  for (const LossOpInfo& info : all_loss_ops()) {
    std::string dts, impls;
    for (DType t : kCatalogDTypes) {
      LossDescriptor d{.op = info.op, .input = Operand::tensor(t, {8, 64})};
      if (info.op == LossOp::cross_entropy || info.op == LossOp::nll_loss) {
        d.target = Operand::tensor(DType::i64, {8});
      } else if (info.op == LossOp::cosine_embedding_loss) {
        d.other = Operand::tensor(t, {8, 64});
        d.target = Operand::tensor(t, {8});
      } else {
        d.target = Operand::tensor(t, {8, 64});
        if (info.op == LossOp::margin_ranking_loss) d.other = Operand::tensor(t, {8, 64});
      }
      if (infer_signature(d)) dts += (dts.empty() ? "" : " ") + std::string(dtype_name(t));
    }
    for (const auto& impl : LossFamily::implementations()) impls += (impls.empty() ? "" : ", ") + std::string(impl.name);
    o << "| " << info.name << " | " << (dts.empty() ? "-" : dts) << " | " << impls << " | `" << info.torch_name << "` | "
      << (info.jax_name.empty() ? std::string("-") : "`" + std::string(info.jax_name) + "`") << " |\n";
  }
}

}  // namespace baracuda::catalog
