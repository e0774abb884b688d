#pragma once
// Internal: the run() argument check every loss implementation shares: each named slot against
// the signature's expected operand (or undefined where the op has no such operand), outputs free
// of internal overlap and not overlapping any input or each other.
#include <string>

#include "baracuda/ops/loss.hpp"

namespace baracuda::loss {

std::string tag(const LossDescriptor& d);  // "[loss.cross_entropy.backward] "
Status check_args(const LossDescriptor& d, const LossSignature& sig, const LossArgs& args, const Device& device);

}  // namespace baracuda::loss
