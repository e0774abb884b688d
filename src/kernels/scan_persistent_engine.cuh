#pragma once
// The persistent look-back kernel: one long contiguous line in ONE pass (read once, written once),
// for the flat scans the chunked kernels take in three passes (scan_chunked_engine.cuh: 2618 GB/s
// counted on two passes for 2^28 f32 on the H200, 62% of copy, at that design's 3-pass limit).
//
// The line kernel (scan_line_engine.cuh) ran the same look-back at 1.1-1.3 TB/s on that line: each
// block lives for one tile and does load -> scan -> look-back -> store in sequence, so while it
// waits on its predecessors nothing of its own is loading. Here one wave of blocks stays resident
// and each block loops over tiles: it takes the ticket of its NEXT tile and starts that tile's
// loads (cp.async into the second staging buffer) before it scans and looks back on the current
// one, so the memory pipe stays busy through the look-back's round trips.
//
// Tiles are handed out in order by a ticket counter (the look-back workspace's), and a block waits
// only on tiles with smaller tickets, every one of which is held by a running block (as its
// current tile, or as the next one it prefetches, which it reaches after its current tile, which in
// turn depends only on smaller tickets): no deadlock whatever the residency. The look-back is
// lookback_warp's: every prefix is the left fold of the tile aggregates in line order, so results
// are deterministic (and equal to the line kernel's for the same tiles).
#include "kernels/cp_async.cuh"
#include "kernels/scan_chunked_engine.cuh"  // SegmentSmem, chunked_types_ok
#include "kernels/scan_line_engine.cuh"

namespace baracuda::sc::cuda {

template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads)
    scan_persistent_kernel(const In* __restrict__ x, Out* __restrict__ y, const Geometry g,
                           const LookbackStorage<typename Op::State> ws) {
  using State = typename Op::State;
  constexpr int kWarps = kThreads / 32;
  constexpr int kInChunks = static_cast<int>(sizeof(In)) * kItems / 16;
  constexpr int kSegment = 32 * kItems;  // elements per warp and tile
  __shared__ SegmentSmem<Op, In, Out> sm;
  __shared__ State tile_prefix;
  __shared__ unsigned long long ticket[2];
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;

  // Where tile t's warp segment starts (line offset + position in the line) and how much of it exists.
  struct Segment {
    int64_t line_x, line_y, p0, chunk;
    int valid;
  };
  const auto segment_of = [&](int64_t tile) {
    Segment s;
    s.chunk = tile % g.chunks;
    const int64_t line = tile / g.chunks;
    s.line_x = offset_of(line, g.outer_sizes, g.in.outer, g.n_outer);
    s.line_y = offset_of(line, g.outer_sizes, g.out.outer, g.n_outer);
    s.p0 = s.chunk * kTile + static_cast<int64_t>(warp) * kSegment;
    const int64_t left = g.n - s.p0;
    s.valid = left <= 0 ? 0 : left >= kSegment ? kSegment : static_cast<int>(left);
    return s;
  };
  // The warp's segment of `tile` into staging buffer `buf`: cp.async for a whole segment, plain
  // loads for a line's last, partial one.
  const auto prefetch = [&](int64_t tile, int buf) {
    const Segment s = segment_of(tile);
    uint4* stage = sm.stage[buf][warp];
    const In* src = x + s.line_x + s.p0;
    if (s.valid == kSegment) {
      const uint4* s4 = reinterpret_cast<const uint4*>(src);
#pragma unroll
      for (int q = 0; q < kInChunks; ++q) kernels::stage_copy16(stage + swizzle_chunk(q * 32 + lane), s4 + q * 32 + lane);
    } else {
      for (int e = lane; e < s.valid; e += 32) *staged_element<In>(stage, e) = src[e];
    }
  };

  if (threadIdx.x == 0) ticket[0] = atomicAdd(ws.counter, 1ull);
  __syncthreads();
  int64_t cur = static_cast<int64_t>(ticket[0]);
  if (cur < g.tiles) prefetch(cur, 0);
  kernels::stage_commit();
  for (int buf = 0; cur < g.tiles; buf ^= 1) {
    // The next tile's ticket and loads first: they run while this tile is scanned and looks back.
    // (ticket[buf ^ 1] was last read two iterations ago, before this iteration's barriers.)
    if (threadIdx.x == 0) ticket[buf ^ 1] = atomicAdd(ws.counter, 1ull);
    __syncthreads();
    const int64_t next = static_cast<int64_t>(ticket[buf ^ 1]);
    if (next < g.tiles) prefetch(next, buf ^ 1);  // the warp's own buffer, free since its last tile's stores
    kernels::stage_commit();  // possibly empty: "all but the newest" is then this tile's group
    kernels::stage_wait_all_but_newest();
    __syncwarp();

    const Segment s = segment_of(cur);
    uint4* stage = sm.stage[buf][warp];
    State loc[kItems];
    scan_lane_items<Op, In>(stage, lane, s.valid, s.p0 + static_cast<int64_t>(lane) * kItems, loc);
    State lane_before;
    const State inclusive = warp_scan_lane_totals<Op>(loc[kItems - 1], lane, lane_before);
    // Two warp-total buffers: one is rewritten only after the next tile's barrier (scan_segment).
    if (lane == 31) sm.warp_total[buf][warp] = inclusive;
    __syncthreads();
    if (warp == 0) {
      State aggregate = sm.warp_total[buf][0];
#pragma unroll
      for (int w = 1; w < kWarps; ++w) aggregate = Op::combine(aggregate, sm.warp_total[buf][w]);
      const State prefix = lookback_warp<Op>(ws, cur, cur - s.chunk, 1, 0, aggregate);
      if (lane == 0) tile_prefix = prefix;
    }
    __syncthreads();
    State before = tile_prefix;
    for (int w = 0; w < warp; ++w) before = Op::combine(before, sm.warp_total[buf][w]);
    before = Op::combine(before, lane_before);
    store_lane_results<Op, Out>(stage, y + s.line_y + s.p0, lane, s.valid, g.exclusive, before, loc);
    __syncwarp();  // the buffer is refilled by the prefetch of the tile after next
    cur = next;
  }
}

}  // namespace baracuda::sc::cuda
