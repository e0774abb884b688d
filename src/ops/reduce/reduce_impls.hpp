#pragma once
// Internal: the implementations of the reduce family, in registry order (reduce_registry.cpp).
#include <memory>

#include "baracuda/ops/reduce.hpp"

namespace baracuda::rd {

using ExecPtr = std::shared_ptr<const Executable<ReduceFamily>>;

// The run() arguments against the plan's signature, on `device`: operand count, dtypes, shapes,
// strides, device, null pointers; outputs that overlap each other, an input or themselves.
Status check_args(const ReduceDescriptor& desc, const ReduceSignature& sig, const ReduceArgs& args, const Device& device);

Status ref_supports(const ReduceDescriptor& desc, const Device& device);
Result<ExecPtr> ref_make(const ReduceDescriptor& desc, const Device& device);

#if BARACUDA_HAS_CUDA
// Any op, dtype, axes and strides on a CUDA stream (sm_80+): row / column / strided engines.
Status cuda_supports(const ReduceDescriptor& desc, const Device& device);
Result<ExecPtr> cuda_make(const ReduceDescriptor& desc, const Device& device);
#endif

}  // namespace baracuda::rd
