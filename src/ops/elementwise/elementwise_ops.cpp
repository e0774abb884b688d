// The op metadata table, expanded from BARACUDA_ELEMENTWISE_OPS.
#include <array>

#include "baracuda/ops/elementwise.hpp"

namespace baracuda {
namespace {

constexpr ElementwiseOpInfo kOps[] = {
#define BARACUDA_X(name, Functor, arity, category, diff, torch, jax) \
  {ElementwiseOp::name, #name, arity, ElementwiseCategory::category, diff != 0, torch, jax},
    BARACUDA_ELEMENTWISE_OPS(BARACUDA_X)
#undef BARACUDA_X
};

}  // namespace

std::span<const ElementwiseOpInfo> all_elementwise_ops() { return kOps; }

const ElementwiseOpInfo& op_info(ElementwiseOp op) {
  auto i = static_cast<size_t>(op);
  if (i >= std::size(kOps)) {
    static const ElementwiseOpInfo invalid{op, "invalid", 0, ElementwiseCategory::same, false, "", ""};
    return invalid;
  }
  return kOps[i];
}

std::string_view category_name(ElementwiseCategory c) {
  switch (c) {
    case ElementwiseCategory::float_math: return "float_math";
    case ElementwiseCategory::same: return "same";
    case ElementwiseCategory::float_only: return "float_only";
    case ElementwiseCategory::predicate: return "predicate";
    case ElementwiseCategory::integer: return "integer";
    case ElementwiseCategory::where: return "where";
    case ElementwiseCategory::gated: return "gated";
    case ElementwiseCategory::cast: return "cast";
    case ElementwiseCategory::prelu: return "prelu";
  }
  return "?";
}

std::optional<ElementwiseOp> elementwise_op_from_name(std::string_view name) {
  for (const auto& info : kOps)
    if (info.name == name) return info.op;
  return std::nullopt;
}

}  // namespace baracuda
