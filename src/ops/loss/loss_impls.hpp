#pragma once
// Internal: the loss family's implementations, listed in loss_registry.cpp.
#include <memory>

#include "baracuda/ops/loss.hpp"

namespace baracuda::loss {

using LossExecPtr = std::shared_ptr<const Executable<LossFamily>>;

Status ref_supports(const LossDescriptor& desc, const Device& device);
Result<LossExecPtr> ref_make(const LossDescriptor& desc, const Device& device);

#if BARACUDA_HAS_CUDA
Status cuda_supports(const LossDescriptor& desc, const Device& device);
Result<LossExecPtr> cuda_make(const LossDescriptor& desc, const Device& device);
#endif

}  // namespace baracuda::loss
