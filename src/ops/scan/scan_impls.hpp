#pragma once
// Internal: the scan family's implementations, listed in order by scan_registry.cpp.
#include <memory>

#include "baracuda/ops/scan.hpp"

namespace baracuda::sc {

using ExecPtr = std::shared_ptr<const Executable<ScanFamily>>;

Status ref_supports(const ScanDescriptor& desc, const Device& device);
Result<ExecPtr> ref_make(const ScanDescriptor& desc, const Device& device);

#if BARACUDA_HAS_CUDA
Status cuda_supports(const ScanDescriptor& desc, const Device& device);
Result<ExecPtr> cuda_make(const ScanDescriptor& desc, const Device& device);
#endif

// "[scan.cumsum] " / "[scan.cumsum.backward] ": every message of the family starts with it.
std::string tag(const ScanDescriptor& desc);

// The argument checks every implementation shares: inputs and outputs against the signature on
// `device` (dtype, shape, strides, null pointers), no output overlapping an input or another output.
Status check_scan_args(const ScanDescriptor& desc, const ScanSignature& sig, const ScanArgs& args, const Device& device);

}  // namespace baracuda::sc
