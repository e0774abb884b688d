#pragma once
// Internal: what the norm family's implementations share (argument checks, SKU strings) and the
// registry entries of each implementation.
#include <memory>
#include <string>

#include "baracuda/ops/norm.hpp"

namespace baracuda {

// Checks every run() argument against the signature: operand count, dtype, shape, strides,
// device, null data, `alignment`; outputs must not overlap inputs, each other, or themselves.
Status check_norm_args(const std::string& where, const NormSignature& sig, const NormArgs& args, const Device& device,
                       size_t alignment);
// "bf16,bf16->bf16,f32" for the SKU.
std::string norm_sku_dtypes(const NormSignature& sig);

using NormExecPtr = std::shared_ptr<const Executable<NormFamily>>;

Status norm_ref_supports(const NormDescriptor& desc, const Device& device);
Result<NormExecPtr> norm_ref_make(const NormDescriptor& desc, const Device& device);

Status norm_cuda_rows_supports(const NormDescriptor& desc, const Device& device);
Result<NormExecPtr> norm_cuda_rows_make(const NormDescriptor& desc, const Device& device);

Status norm_cuda_groups_supports(const NormDescriptor& desc, const Device& device);
Result<NormExecPtr> norm_cuda_groups_make(const NormDescriptor& desc, const Device& device);

}  // namespace baracuda
