#pragma once
// Internal: the implementations of the elementwise family, in registry order.
#include <memory>
#include <string>

#include "ops/elementwise/elementwise_problem.hpp"

namespace baracuda::ew {

using ExecPtr = std::shared_ptr<const Executable<ElementwiseFamily>>;

// A KernelSku filled from the problem: family, op, "in,in->out" dtypes, arch, backend, impl.
KernelSku make_sku(const Problem& p, std::string impl, std::string backend, std::string layout, std::string arch);

Status ref_supports(const ElementwiseDescriptor& desc, const Device& device);
Result<ExecPtr> ref_make(const ElementwiseDescriptor& desc, const Device& device);

#if BARACUDA_HAS_CUDA
// Vectorized: every operand dense (or row-dense for gated ops), 16-byte aligned, one dtype family.
Status cuda_vectorized_supports(const ElementwiseDescriptor& desc, const Device& device);
Result<ExecPtr> cuda_vectorized_make(const ElementwiseDescriptor& desc, const Device& device);
// Strided: any strides, broadcasting, mixed dtypes, scalars; int64 indexing.
Status cuda_strided_supports(const ElementwiseDescriptor& desc, const Device& device);
Result<ExecPtr> cuda_strided_make(const ElementwiseDescriptor& desc, const Device& device);
#endif

}  // namespace baracuda::ew
