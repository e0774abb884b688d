#pragma once
// Internal: the grouped GEMM's message tag, its expected run() operands, and the run() argument
// check every implementation shares.
#include <optional>
#include <string>

#include "baracuda/ops/grouped_gemm.hpp"

namespace baracuda::grouped_gemm {

inline const std::string kTag = "[grouped_gemm] ";

// The operands run() must get, derived from a valid descriptor.
struct ExpectedOperands {
  Operand a, b, offsets, d;
  std::optional<Operand> status;
};
ExpectedOperands expected_operands(const GroupedGemmDescriptor& d, const GroupedGemmSignature& sig);

// Every slot against its expected operand on `device`; D must not overlap A, B, the offsets or
// status, nor itself.
Status check_args(const GroupedGemmDescriptor& d, const GroupedGemmSignature& sig, const GroupedGemmArgs& args,
                  const Device& device);

}  // namespace baracuda::grouped_gemm
