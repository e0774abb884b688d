#pragma once
// Internal, host side: whether a plan launches its kernels as programmatic dependent launches
// (kernels/pdl.cuh). BARACUDA_PDL, read when the plan is made: on by default on sm_90+ devices
// (the only ones with PDL), "0" turns every such launch off (the plain launches, the A/B baseline);
// "1" means on, as before PDL became the default.
#include "baracuda/core/device.hpp"
#include "core/env_switch.hpp"

namespace baracuda {

inline bool pdl_from_env(const Device& device) { return device.sm >= 90 && env_switch_on("BARACUDA_PDL"); }

// Whether rows kernels prefetch their first rows into L2 before griddepcontrol.wait
// (kernels/pdl.cuh, "Before the wait"), read when the plan is made. Level 0: none (no PDL, or
// BARACUDA_PDL_PREFETCH=0); 1: the staged forward kernels of softmax and the norms ("staged",
// A/B); 2 (the default): also softmax's register rows kernels and staged backward. Not the norms'
// register rows kernels (forward and backward; at 79cf5f1 layer_norm forward 65536x1024 0.0690
// -> 0.0697 ms, dweight/dbias 65536x1024 0.1132 -> 0.1143) nor the norm backward's cluster kernel
// (730407c: layer_norm dw+db 4096x32768 bf16 0.2875 -> 0.2869 ms, ranges overlapping; rms_norm dw
// 0.2495 -> 0.2510). The staged norm forward, at 79cf5f1 (3 rounds): rms_norm 4096x32768 0.1392
// -> 0.1369, layer_norm 0.1412 -> 0.1399.
// Interleaved A/B on the H200, bf16, ms: at 730407c (5 rounds) the staged forward 4096x32768
// softmax 0.1417 -> 0.1403, log_softmax 0.1389 -> 0.1375; at 647a055 (3 rounds, none -> all)
// softmax forward 65536x1024 0.0704 -> 0.0665, 32768x4096 0.1317 -> 0.1292, backward 65536x1024
// 0.1013 -> 0.0968, 4096x32768 0.2131 -> 0.2110, f32 forward 32768x4096 0.2827 -> 0.2777.
inline int pdl_prefetch_from_env(const Device& device) {
  if (!pdl_from_env(device) || env_is("BARACUDA_PDL_PREFETCH", "0")) return 0;
  return env_is("BARACUDA_PDL_PREFETCH", "staged") ? 1 : 2;
}

// What a plan's tactic says when its launches are programmatic dependent ones.
inline constexpr const char* kPdlTactic = ", programmatic dependent launch";

}  // namespace baracuda
