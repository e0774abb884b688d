#pragma once
// Shapes of the split-plane group/instance/batch norm engine (norm_groups_fast.cuh), shared with
// the host code that sizes its workspace (plain C++: no device code here).
#include <cstddef>
#include <cstdint>

namespace baracuda::norm::cuda {

// One CTA per chunk of a plane: 256 threads x 16 elements in registers (two 16-byte packs per
// thread for 16-bit types, four for f32).
constexpr int kGroupThreads = 256;
constexpr int kGroupElemsPerThread = 16;
constexpr int64_t kGroupChunk = int64_t{kGroupThreads} * kGroupElemsPerThread;
// The finalize kernels give each normalization group one warp.
constexpr int kGroupFinalizeWarps = 4;

// Planes shorter than this leave most of a chunk CTA idle; the plan keeps them on the legacy
// kernels (one CTA per group).
constexpr int64_t kGroupFastMinInner = 256;

inline int64_t group_chunks_per_plane(int64_t inner) { return (inner + kGroupChunk - 1) / kGroupChunk; }

// Workspace of the engine, in accumulator elements (acc_size bytes each), each array rounded up
// to 256 bytes: two per-chunk summaries (forward unless statistics come from the running ones;
// backward always) and `coefs` per-plane coefficient arrays (3 forward, 4 backward) of `ncoef`
// entries (batch_norm: one per channel; group/instance: one per (n, c) plane).
struct GroupFastWorkspace {
  size_t chunk_bytes = 0;  // bytes of one per-chunk array
  size_t coef_bytes = 0;   // bytes of one coefficient array
  int coefs = 0;
  bool chunk_sums = false;
  int64_t ncoef = 0;
  size_t total() const { return (chunk_sums ? 2 * chunk_bytes : 0) + static_cast<size_t>(coefs) * coef_bytes; }
};

inline size_t group_fast_round_up(size_t n) { return (n + 255) / 256 * 256; }

inline GroupFastWorkspace group_fast_workspace(bool batch, bool backward, bool use_running, int64_t outer,
                                               int64_t channels, int64_t inner, size_t acc_size) {
  GroupFastWorkspace w;
  const int64_t planes = outer * channels;
  w.ncoef = batch ? channels : planes;
  w.chunk_sums = backward || !use_running;
  w.chunk_bytes = group_fast_round_up(static_cast<size_t>(planes * group_chunks_per_plane(inner)) * acc_size);
  w.coefs = backward ? 4 : 3;
  w.coef_bytes = group_fast_round_up(static_cast<size_t>(w.ncoef) * acc_size);
  return w;
}

}  // namespace baracuda::norm::cuda
