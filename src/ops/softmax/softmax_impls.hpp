#pragma once
// Internal: the implementations of the softmax family, in registry order.
#include <memory>

#include "baracuda/ops/softmax.hpp"

namespace baracuda::sm {

using ExecPtr = std::shared_ptr<const Executable<SoftmaxFamily>>;

Status ref_supports(const SoftmaxDescriptor& desc, const Device& device);
Result<ExecPtr> ref_make(const SoftmaxDescriptor& desc, const Device& device);

#if BARACUDA_HAS_CUDA
Status cuda_rows_supports(const SoftmaxDescriptor& desc, const Device& device);
Result<ExecPtr> cuda_rows_make(const SoftmaxDescriptor& desc, const Device& device);
#endif

// The argument check every implementation shares: each input and the output against the
// signature's operands on `device` (element alignment), no overlap of the output with itself or
// an input.
Status check_softmax_args(const std::string& where, const SoftmaxSignature& sig, const SoftmaxArgs& args,
                          const Device& device);

}  // namespace baracuda::sm
