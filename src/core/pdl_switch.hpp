#pragma once
// Internal, host side: whether a plan launches its kernels as programmatic dependent launches
// (kernels/pdl.cuh). BARACUDA_PDL, read when the plan is made: on by default on sm_90+ devices
// (the only ones with PDL), "0" turns every such launch off (the plain launches, the A/B baseline);
// "1" means on, as before PDL became the default.
#include "baracuda/core/device.hpp"
#include "core/env_switch.hpp"

namespace baracuda {

inline bool pdl_from_env(const Device& device) { return device.sm >= 90 && env_switch_on("BARACUDA_PDL"); }

// Whether kernels prefetch their first rows into L2 before griddepcontrol.wait (kernels/pdl.cuh,
// "Before the wait"): the staged softmax forward with PDL, unless BARACUDA_PDL_PREFETCH=0 when
// the plan is made (A/B). H200, 730407c, interleaved A/B, 4096x32768 bf16, 5 rounds: softmax
// 0.1417 -> 0.1403 ms, log_softmax 0.1389 -> 0.1375 (no overlap of the rounds' ranges). The norm
// backward's cluster kernel measured no gain with it (layer_norm dw+db 0.2875 -> 0.2869, ranges
// overlapping; rms_norm dw 0.2495 -> 0.2510) and does not prefetch.
// Level: 0 none (no PDL, or "0"); 1 where it measured faster (the default); 2 every kernel that
// supports it ("all": softmax's register rows kernels and staged backward too, A/B).
inline int pdl_prefetch_from_env(const Device& device) {
  if (!pdl_from_env(device) || env_is("BARACUDA_PDL_PREFETCH", "0")) return 0;
  return env_is("BARACUDA_PDL_PREFETCH", "all") ? 2 : 1;
}

// What a plan's tactic says when its launches are programmatic dependent ones.
inline constexpr const char* kPdlTactic = ", programmatic dependent launch";

}  // namespace baracuda
