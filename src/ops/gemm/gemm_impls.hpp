#pragma once
// Internal: the GEMM family's implementations, listed in gemm_registry.cpp.
#include <memory>

#include "baracuda/ops/gemm.hpp"

namespace baracuda::gemm {

using GemmExecPtr = std::shared_ptr<const Executable<GemmFamily>>;

Status ref_supports(const GemmDescriptor& desc, const Device& device);
Result<GemmExecPtr> ref_make(const GemmDescriptor& desc, const Device& device);

#if BARACUDA_HAS_CUDA
Status cublaslt_supports(const GemmDescriptor& desc, const Device& device);
Result<GemmExecPtr> cublaslt_make(const GemmDescriptor& desc, const Device& device);
// The same honouring the preference: autotune, allow_tf32 (ORed with the descriptor's), and
// max_workspace_bytes (the smaller of the two caps is what cuBLASLt's heuristic may book).
Result<GemmExecPtr> cublaslt_make_with_preference(const GemmDescriptor& desc, const Device& device,
                                                  const PlanPreference& pref);
// cuBLASLt, then the activation its epilogues lack by an elementwise plan (gelu erf, silu, relu
// with the pre-activation).
Status cublaslt_then_activation_supports(const GemmDescriptor& desc, const Device& device);
Result<GemmExecPtr> cublaslt_then_activation_make(const GemmDescriptor& desc, const Device& device);
Result<GemmExecPtr> cublaslt_then_activation_make_with_preference(const GemmDescriptor& desc, const Device& device,
                                                                  const PlanPreference& pref);
#endif

}  // namespace baracuda::gemm
