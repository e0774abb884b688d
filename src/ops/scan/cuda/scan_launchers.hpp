#pragma once
// Internal: host-side entry points of the scan kernels (one translation unit per op keeps nvcc's
// instantiations spread out) and the look-back workspace layout they share with the plan.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "baracuda/core/status.hpp"
#include "baracuda/ops/scan.hpp"
#include "ops/scan/cuda/scan_fused_args.hpp"
#include "ops/scan/cuda/scan_geometry.hpp"

namespace baracuda::sc::cuda {

struct LaunchArgs {
  const void* x = nullptr;
  void* y = nullptr;
  int64_t* indices = nullptr;  // cummax/cummin
  const Geometry* geometry = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  size_t clear_bytes = 0;  // the workspace's first bytes the look-back kernels need zeroed (the launcher clears them)
  cudaStream_t stream = nullptr;
};
using Launcher = Status (*)(const LaunchArgs&);

// nullptr when no kernel is compiled for the pair.
Launcher find_sum_launcher(DType in, DType out);
Launcher find_prod_launcher(DType in, DType out);
Launcher find_maxmin_launcher(bool is_max, DType in);
Launcher find_logcumsumexp_launcher(DType in);

// The look-back workspace: [counter | flags | aggregates | inclusive prefixes]; the first
// `clear_bytes` (counter and flags) are cleared before every launch (launch_scan; the fused
// launcher before each pass).
struct LookbackLayout {
  size_t counter = 0, flags = 0, aggregate = 0, inclusive = 0, total = 0, clear_bytes = 0;
};
inline LookbackLayout lookback_layout(int64_t slots, size_t state_bytes) {
  LookbackLayout l;
  size_t off = 0;
  auto book = [&](size_t bytes) {
    off = (off + 255) / 256 * 256;
    size_t at = off;
    off += bytes;
    return at;
  };
  l.counter = book(sizeof(unsigned long long));
  // An even count: the pipelined flat kernel keeps one 8-byte word per chunk of >= 2 tiles here.
  l.flags = book(static_cast<size_t>((slots + 1) / 2 * 2) * sizeof(int));
  l.clear_bytes = off;
  l.aggregate = book(static_cast<size_t>(slots) * state_bytes);
  l.inclusive = book(static_cast<size_t>(slots) * state_bytes);
  l.total = off;
  return l;
}

// The fused kernel's workspace: one look-back region (reused by every pass, cleared before each)
// and, 256-byte aligned after it, the dense temporary some kinds pass between their two launches.
struct FusedWorkspace {
  LookbackLayout lookback;
  size_t temp = 0, total = 0;
};
inline FusedWorkspace fused_workspace(const Geometry& g, const FusedConfig& c) {
  FusedWorkspace w;
  w.lookback = lookback_layout(g.tiles * g.width, kFusedStateBytes);
  w.temp = (w.lookback.total + 255) / 256 * 256;
  // cumprod_backward books its lines at cumprod_temp_pitch (the block-per-line kernels' layout).
  const int64_t n = c.kind == FusedKind::cumprod_backward ? cumprod_temp_pitch(g.n) : g.n;
  w.total = w.temp + static_cast<size_t>(g.outer * n * g.inner) * fused_temp_elem_bytes(c);
  return w;
}

struct FusedLaunchArgs {
  FusedConfig config;
  FusedArgs args;  // dy / x / out filled by the plan (kTmp by the launcher)
  const Geometry* geometry = nullptr;  // geometry->reverse = the descriptor's direction
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  cudaStream_t stream = nullptr;
};
Status launch_fused(const FusedLaunchArgs& a);

Status check_launch(const char* what);

}  // namespace baracuda::sc::cuda
