#pragma once
// Internal, host side: whether a plan launches its kernels as programmatic dependent launches
// (kernels/pdl.cuh). BARACUDA_PDL, read when the plan is made: on by default on sm_90+ devices
// (the only ones with PDL), "0" turns every such launch off (the plain launches, the A/B baseline);
// "1" means on, as before PDL became the default.
#include "baracuda/core/device.hpp"
#include "core/env_switch.hpp"

namespace baracuda {

inline bool pdl_from_env(const Device& device) { return device.sm >= 90 && env_switch_on("BARACUDA_PDL"); }

// Whether the wide-row kernels that support it (the staged softmax forward, the norm backward's
// cluster kernel) prefetch their first row into L2 before griddepcontrol.wait
// (kernels/pdl.cuh, "Before the wait"). BARACUDA_PDL_PREFETCH=1, read when the plan is made: an
// opt-in for A/B until measured.
inline bool pdl_prefetch_from_env(const Device& device) {
  return pdl_from_env(device) && env_is("BARACUDA_PDL_PREFETCH", "1");
}

// What a plan's tactic says when its launches are programmatic dependent ones.
inline constexpr const char* kPdlTactic = ", programmatic dependent launch";

}  // namespace baracuda
