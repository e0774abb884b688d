#pragma once
// Reverse scans of many contiguous lines (reverse=true, and cumsum's backward, which is a reverse
// cumsum of dy): scan_row_carry_kernel walked from the end. One block per line takes the line's
// tiles last to first and, inside a tile, warps, lanes and items last to first, carrying the
// suffix (the fold of everything after the tile) in registers. The tiles stay where the forward
// kernel has them (tile t = positions [t * kTile, (t + 1) * kTile)), so every line start and every
// whole segment stays 16-byte aligned for cp.async and the coalesced stores; only the partial
// tile, the line's last, moves to the front of the walk. Without this kernel a reverse scan of
// such lines took the classic look-back kernel (16384 x 16384 f32: 3.12 ms against 0.53 ms for
// the forward row-carry kernel on the H200).
//
// Combination order: the mirror image of scan_segment's (items of a lane from the last, lanes by a
// shuffle suffix scan, warps last to first, tiles last to first), each combine taking (the fold of
// the later positions, the earlier value), as the look-back kernel's reverse scan does. Fixed by
// the line length alone: deterministic, the same on every device. Exclusive: y[p] is the fold of
// x(p, n), the identity for the last position.
#include "kernels/scan_chunked_engine.cuh"

namespace baracuda::sc::cuda {

template <class T>
__device__ __forceinline__ T shfl_down_state(T v, int delta) {
  return __shfl_down_sync(0xffffffffu, v, delta);
}

// The lane's kItems consecutive elements of the warp's staged segment, suffix-scanned in registers
// (loc[j] = the fold of items j..kItems-1, the last first); positions past `valid` hold the identity.
// `p0` is the position of the lane's first element.
template <class Op, class In>
__device__ __forceinline__ void scan_lane_items_reverse(const uint4* stage, int lane, int valid, int64_t p0,
                                                        typename Op::State (&loc)[kItems]) {
  load_lane_items<Op, In>(stage, lane, valid, p0, loc);
#pragma unroll
  for (int j = kItems - 2; j >= 0; --j) loc[j] = Op::combine(loc[j + 1], loc[j]);
}

// Shuffle suffix scan of the lane totals: the fold of this lane and the lanes after it (lane 0: the
// warp's total), and (out) the fold of the lanes after it (the identity for lane 31).
template <class Op>
__device__ __forceinline__ typename Op::State warp_suffix_lane_totals(typename Op::State inclusive, int lane,
                                                                      typename Op::State& lane_after) {
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    const typename Op::State other = shfl_down_state(inclusive, d);
    if (lane + d < 32) inclusive = Op::combine(other, inclusive);
  }
  lane_after = shfl_down_state(inclusive, 1);
  if (lane == 31) lane_after = Op::identity();
  return inclusive;
}

// The lane's results (`after` combined with its suffix-scanned items; exclusive shifts by one, toward
// the end) to `dst` through the staging area (store_lane_items, the same layout as
// store_lane_results).
template <class Op, class Out>
__device__ __forceinline__ void store_lane_results_reverse(uint4* stage, Out* dst, int lane, int valid, bool exclusive,
                                                           typename Op::State after,
                                                           const typename Op::State (&loc)[kItems]) {
  alignas(16) Out r[kItems];
#pragma unroll
  for (int j = 0; j < kItems; ++j)
    r[j] = from_acc<Out>(state_value(exclusive ? (j == kItems - 1 ? after : Op::combine(after, loc[j + 1]))
                                               : Op::combine(after, loc[j])));
  store_lane_items<Out>(stage, dst, lane, valid, r);
}

// Reverse-scans x[0, len) into y[0, len), tiles last to first, the suffix carried in registers;
// the tile before the current one (in the walk: the next lower) streams into the other staging
// buffer by cp.async while the current one is scanned. x and y are 16-byte aligned. Called by every
// thread of the block.
template <class Op, class In, class Out>
__device__ __forceinline__ void scan_segment_reverse(const In* __restrict__ x, Out* __restrict__ y, int64_t len,
                                                     bool exclusive, SegmentSmem<Op, In, Out>& sm) {
  using State = typename Op::State;
  constexpr int kSegment = 32 * kItems;  // elements per warp and tile
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int64_t tiles = (len + kTile - 1) / kTile;
  const auto warp_src = [&](int64_t tile) { return x + tile * kTile + static_cast<int64_t>(warp) * kSegment; };

  State carry = Op::identity();  // the fold of every position after the current tile
  if (tiles > 0) stage_warp_segment<In>(sm.stage[0][warp], warp_src(tiles - 1), segment_valid(len, tiles - 1, warp), lane);
  stage_commit();

  for (int64_t step = 0; step < tiles; ++step) {
    const int64_t tile = tiles - 1 - step;
    const int buf = static_cast<int>(step & 1);
    if (tile > 0) stage_warp_segment<In>(sm.stage[buf ^ 1][warp], warp_src(tile - 1), segment_valid(len, tile - 1, warp), lane);
    stage_commit();  // possibly empty: "all but the newest" is then this tile's group
    stage_wait_all_but_newest();
    __syncwarp();
    uint4* stage = sm.stage[buf][warp];
    const int valid = segment_valid(len, tile, warp);
    const int64_t warp_p0 = tile * kTile + static_cast<int64_t>(warp) * kSegment;

    State loc[kItems];
    scan_lane_items_reverse<Op, In>(stage, lane, valid, warp_p0 + static_cast<int64_t>(lane) * kItems, loc);
    // Warp totals through shared memory in two buffers, one barrier per tile (as scan_segment).
    State lane_after;
    const State inclusive = warp_suffix_lane_totals<Op>(loc[0], lane, lane_after);
    const State after = fold_warp_totals_reverse<Op>(sm.warp_total[buf], lane, warp, inclusive, lane_after, carry);

    store_lane_results_reverse<Op, Out>(stage, y + warp_p0, lane, valid, exclusive, after, loc);
    __syncwarp();  // the buffer is refilled by the prefetch two tiles on
  }
}

// A block per line, the line reverse-scanned by scan_segment_reverse (launch as scan_row_carry_kernel:
// one block per line, row_carry_applies true for a reverse geometry).
template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads)
    scan_row_carry_reverse_kernel(const In* __restrict__ x, Out* __restrict__ y, const Geometry g) {
  __shared__ SegmentSmem<Op, In, Out> sm;
  const int64_t line = blockIdx.x;
  scan_segment_reverse<Op, In, Out>(x + offset_of(line, g.outer_sizes, g.in.outer, g.n_outer),
                                    y + offset_of(line, g.outer_sizes, g.out.outer, g.n_outer), g.n, g.exclusive, sm);
}

}  // namespace baracuda::sc::cuda
