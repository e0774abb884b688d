#pragma once
// Internal: the grouped GEMM family's implementations, listed in grouped_gemm_registry.cpp.
#include <memory>

#include "baracuda/ops/grouped_gemm.hpp"

namespace baracuda::grouped_gemm {

using GroupedGemmExecPtr = std::shared_ptr<const Executable<GroupedGemmFamily>>;

Status ref_supports(const GroupedGemmDescriptor& desc, const Device& device);
Result<GroupedGemmExecPtr> ref_make(const GroupedGemmDescriptor& desc, const Device& device);

#if BARACUDA_HAS_CUTLASS
// CUTLASS 3.x ptr-array grouped GEMM, sm_90a (grouped_gemm_cutlass.cpp).
Status cutlass_supports(const GroupedGemmDescriptor& desc, const Device& device);
Result<GroupedGemmExecPtr> cutlass_make(const GroupedGemmDescriptor& desc, const Device& device);
// Its split = contraction path (grouped_gemm_cutlass_contraction.cpp), reached through the two
// above once the device is known to be sm_90.
Status cutlass_contraction_supports(const GroupedGemmDescriptor& desc, const Device& device);
Result<GroupedGemmExecPtr> cutlass_contraction_make(const GroupedGemmDescriptor& desc, const Device& device);
#endif

}  // namespace baracuda::grouped_gemm
