#pragma once
// Internal: the run() argument check every GEMM implementation shares: each named slot against
// the signature's expected operand (or undefined where the descriptor has no such operand), the
// fp8 scales, outputs free of internal overlap and not overlapping any input or each other (C may
// be D itself: the in-place addmm).
#include <string>

#include "baracuda/ops/gemm.hpp"

namespace baracuda::gemm {

inline const std::string kTag = "[gemm] ";

Status check_args(const GemmDescriptor& d, const GemmSignature& sig, const GemmArgs& args, const Device& device);

// Whether two views are the same elements of the same memory (C passed as D for in-place).
bool same_view(const TensorRef& x, const TensorRef& y);

}  // namespace baracuda::gemm
