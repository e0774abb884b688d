#pragma once
// The chunked line scan: one long contiguous line (a flat tensor) as reduce-then-scan, for the case
// the look-back handles worst. A single 2^28-element line is a 65536-tile look-back chain, and the
// line kernel ran it at 26-31% of the copy rate on the H200 (docs/perf/scan.md): every tile pays an
// atomic, fenced publishes and polling on its predecessors. Here the line is cut into G equal
// chunks, G = the number of blocks resident at once (one wave), and
//   1. scan_chunk_totals_kernel: block b folds chunk b into totals[b] (a fixed-order reduction);
//   2. scan_chunk_kernel: block b folds totals[0..b) into its chunk's prefix, then walks its chunk
//      tile by tile (the line kernel's coalesced, swizzled staging and warp-shuffle block scan),
//      carrying the prefix from tile to tile in registers. The next tile streams into a second
//      staging buffer by cp.async while the current one is scanned.
// Traffic is 3 passes over the line (read, read, write) instead of 2, but without a serial chain;
// the read-only first pass runs at about the copy rate. No flags, no atomics: every combination
// order is fixed by (n, G), so the result is deterministic for a given device (G depends on the
// SM count and the kernel's occupancy).
//
// The ops must be commutative as well as associative (the totals are tree-reduced): sum, prod,
// logaddexp; not cummax/cummin (their ties depend on order). 8-byte types are left to the line
// kernel (their double staging would exceed 48 KB of static shared memory).
#include "kernels/cp_async.cuh"
#include "kernels/scan_line_engine.cuh"

namespace baracuda::sc::cuda {

using kernels::stage_commit;
using kernels::stage_copy16;
using kernels::stage_wait_all_but_newest;

constexpr int kTile = kThreads * kItems;

template <class Op, class In, class Out>
constexpr bool chunked_types_ok() {
  return !Op::kIndices && sizeof(In) <= 4 && sizeof(Out) <= 4 && (sizeof(In) * kItems) % 16 == 0 &&
         (sizeof(Out) * kItems) % 16 == 0;
}

// Whether the chunked kernels take the launch: the plan allowed it (one line, nothing after the
// axis), forward, unit strides, long enough, x and y 16-byte aligned.
template <class Op, class In, class Out>
bool chunked_applies(const Geometry& g, const In* x, const Out* y) {
  if constexpr (!chunked_types_ok<Op, In, Out>()) {
    return false;
  } else {
    if (!g.chunked || g.outer != 1 || g.reverse || g.width != 1 || g.inner != 1 || g.in.axis != 1 || g.out.axis != 1)
      return false;
    if (g.n < kChunkedMinLength) return false;
    return reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0;
  }
}

// Block-wide fold of one value per thread, in a fixed order (butterfly within warps, then the warp
// totals in order). Every thread gets the result. `scratch` holds kThreads / 32 states.
template <class Op>
__device__ __forceinline__ typename Op::State block_fold(typename Op::State v, typename Op::State* scratch) {
  using State = typename Op::State;
  constexpr int kWarps = kThreads / 32;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = Op::combine(v, shfl(v, (static_cast<int>(threadIdx.x) & 31) ^ off));
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  State r = scratch[0];
#pragma unroll
  for (int w = 1; w < kWarps; ++w) r = Op::combine(r, scratch[w]);
  __syncthreads();  // scratch may be reused by the caller
  return r;
}

template <class Op, class In>
__global__ void __launch_bounds__(kThreads)
    scan_chunk_totals_kernel(const In* __restrict__ x, int64_t n, int64_t chunk_len, typename Op::State* totals) {
  using State = typename Op::State;
  constexpr int kPer = 16 / static_cast<int>(sizeof(In));
  constexpr int kUnroll = 4;
  __shared__ State scratch[kThreads / 32];
  const int64_t begin = static_cast<int64_t>(blockIdx.x) * chunk_len;
  const int64_t end = begin + chunk_len < n ? begin + chunk_len : n;
  const int64_t vectors = (end - begin) / kPer;  // begin is a multiple of kTile: 16-byte aligned
  const uint4* v4 = reinterpret_cast<const uint4*>(x + begin);
  State acc = Op::identity();
  int64_t i = threadIdx.x;
  const auto fold_vector = [&](const uint4& r, int64_t first) {
    const In* e = reinterpret_cast<const In*>(&r);
#pragma unroll
    for (int j = 0; j < kPer; ++j) acc = Op::combine(acc, Op::make(e[j], first + j));
  };
  for (; i + (kUnroll - 1) * kThreads < vectors; i += kUnroll * kThreads) {
    uint4 r[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) r[u] = __ldcs(v4 + i + u * kThreads);  // streamed: not re-read soon
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) fold_vector(r[u], begin + (i + u * kThreads) * kPer);
  }
  for (; i < vectors; i += kThreads) fold_vector(__ldcs(v4 + i), begin + i * kPer);
  for (int64_t p = begin + vectors * kPer + threadIdx.x; p < end; p += kThreads) acc = Op::combine(acc, Op::make(x[p], p));
  const State total = block_fold<Op>(acc, scratch);
  if (threadIdx.x == 0) totals[blockIdx.x] = total;
}

template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads)
    scan_chunk_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t n, int64_t chunk_len, bool exclusive,
                      const typename Op::State* __restrict__ totals) {
  using State = typename Op::State;
  constexpr int kWarps = kThreads / 32;
  constexpr int kInChunks = static_cast<int>(sizeof(In)) * kItems / 16;
  constexpr int kSegment = 32 * kItems;  // elements per warp and tile
  __shared__ uint4 stage_all[2][kWarps][line_stage_chunks<In, Out>()];
  __shared__ State warp_total[2][kWarps];
  __shared__ State scratch[kWarps];
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int64_t begin = static_cast<int64_t>(blockIdx.x) * chunk_len;
  const int64_t end = begin + chunk_len < n ? begin + chunk_len : n;
  const int64_t tiles = (end - begin + kTile - 1) / kTile;

  const auto segment_valid = [&](int64_t tile) {
    const int64_t left = end - (begin + tile * kTile + static_cast<int64_t>(warp) * kSegment);
    return left <= 0 ? 0 : left >= kSegment ? kSegment : static_cast<int>(left);
  };
  // The warp's segment of `tile` into staging buffer `buf`: cp.async for whole segments, plain
  // loads for the chunk's last, partial one.
  const auto prefetch = [&](int64_t tile, int buf) {
    uint4* stage = stage_all[buf][warp];
    const In* src = x + begin + tile * kTile + static_cast<int64_t>(warp) * kSegment;
    const int valid = segment_valid(tile);
    if (valid == kSegment) {
      const uint4* s4 = reinterpret_cast<const uint4*>(src);
#pragma unroll
      for (int q = 0; q < kInChunks; ++q) stage_copy16(stage + swizzle_chunk(q * 32 + lane), s4 + q * 32 + lane);
    } else {
      for (int e = lane; e < valid; e += 32) *staged_element<In>(stage, e) = src[e];
    }
  };
  if (tiles > 0) prefetch(0, 0);
  stage_commit();

  // The chunk's prefix: the fold of the totals of the chunks before it (identity for the first).
  State carry = Op::identity();
  for (int64_t c = threadIdx.x; c < static_cast<int64_t>(blockIdx.x); c += kThreads) carry = Op::combine(carry, totals[c]);
  carry = block_fold<Op>(carry, scratch);

  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int buf = static_cast<int>(tile & 1);
    if (tile + 1 < tiles) prefetch(tile + 1, buf ^ 1);
    stage_commit();  // possibly empty: "all but the newest" is then this tile's group
    stage_wait_all_but_newest();
    __syncwarp();
    uint4* stage = stage_all[buf][warp];
    const int valid = segment_valid(tile);
    const int64_t warp_p0 = begin + tile * kTile + static_cast<int64_t>(warp) * kSegment;

    // The lane's kItems consecutive elements, scanned in registers; the lane totals by shuffles.
    State loc[kItems];
    scan_lane_items<Op, In>(stage, lane, valid, warp_p0 + static_cast<int64_t>(lane) * kItems, loc);
    // The warp totals go through shared memory in two buffers, so one barrier per tile: a buffer
    // is rewritten only after the next tile's barrier, which every thread reaches after reading it.
    State lane_before;
    const State inclusive = warp_scan_lane_totals<Op>(loc[kItems - 1], lane, lane_before);
    if (lane == 31) warp_total[buf][warp] = inclusive;
    __syncthreads();
    State before = carry;
    for (int w = 0; w < warp; ++w) before = Op::combine(before, warp_total[buf][w]);
    before = Op::combine(before, lane_before);
#pragma unroll
    for (int w = 0; w < kWarps; ++w) carry = Op::combine(carry, warp_total[buf][w]);  // the same order in every thread

    // Results into the staging buffer, then coalesced stores.
    store_lane_results<Op, Out>(stage, y + warp_p0, lane, valid, exclusive, before, loc);
    __syncwarp();  // the buffer is refilled by the prefetch two tiles on
  }
}

}  // namespace baracuda::sc::cuda
