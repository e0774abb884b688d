#pragma once
// cummax / cummin over many contiguous lines: scan_row_carry_kernel's walk (a block per line, tiles
// in order, the running (value, index) carried in registers, the next tile streaming in by
// cp.async) with a second output, the int64 indices. They took the classic look-back kernel before
// (16384 x 16384 f32 cummax: 4.93 ms on the H200, 1 GiB in, 1 GiB of values and 2 GiB of indices
// out), whose per-thread 64-byte runs and 128-byte index runs leave the stores partial-sector.
// Here the values leave through the swizzled staging area as in scan_segment, and the indices
// through the same area in rounds of half (4-byte values) or a quarter (2-byte values) of the
// warp's segment, each round one coalesced 16-byte store per lane and chunk.
//
// Results: MaxMinOp is exact (a comparison picks one of its operands) and associative, so the
// values and indices equal the reference's whatever the combination tree (torch's tie and NaN rule,
// see MaxMinOp). Positions, hence indices, count from each line's start.
#include <type_traits>

#include "kernels/scan_chunked_engine.cuh"

namespace baracuda::sc::cuda {

// Types the kernel takes: cummax/cummin compared in f32 (f32, bf16, f16 values), values out in
// the input dtype.
template <class Op, class In, class Out>
constexpr bool indices_lines_types_ok() {
  if constexpr (!Op::kIndices) {
    return false;
  } else {
    return std::is_same_v<typename Op::State, ValueIndex<float>> && std::is_same_v<In, Out> &&
           (sizeof(In) == 2 || sizeof(In) == 4);
  }
}

// Whether scan_row_carry_indices_kernel may take the launch: as row_carry_applies (many forward
// lines, each at least a tile, >= kRowCarryMinWaves per resident block), and the indices lines
// contiguous with 16-byte aligned starts too.
template <class Op, class In, class Out>
bool row_carry_indices_applies(const Geometry& g, const In* x, const Out* y, const int64_t* idx, int64_t resident) {
  if constexpr (!indices_lines_types_ok<Op, In, Out>()) {
    return false;
  } else {
    if (!g.row_carry || !g.row_carry_indices || g.reverse || g.n < kTile || g.outer < kRowCarryMinWaves * resident)
      return false;
    if (!staged_lines_aligned(g, x, y) || idx == nullptr || g.idx.axis != 1) return false;
    if (reinterpret_cast<uintptr_t>(idx) % 16 != 0) return false;
    for (int d = 0; d < g.n_outer; ++d)
      if (g.outer_sizes[d] != 1 && (g.idx.outer[d] * static_cast<int64_t>(sizeof(int64_t))) % 16 != 0) return false;
    return true;
  }
}

// A lane's kItems scanned results held compactly (whole ValueIndex states, a float and a 64-bit
// index each, took 128 registers): the values, and the indices as offsets from the lane's first
// position (-1: no element yet), a byte each, four to a register. The lane scans with positions
// counted from 0: MaxMinOp::combine reads an index only to tell the identity (< 0) apart, so
// relative positions give the same picks, and run_state turns them back into absolute ones.
struct LaneRun {
  float v[kItems];
  unsigned k4[kItems / 4];  // the offset of item j in byte j % 4 of k4[j / 4]; 0xFF: no element yet
};
__device__ __forceinline__ int run_offset(const LaneRun& run, int j) {
  return static_cast<signed char>((run.k4[j / 4] >> (8 * (j % 4))) & 0xFFu);
}
template <class Op>
__device__ __forceinline__ typename Op::State run_state(const LaneRun& run, int j, int64_t p0) {
  const int k = run_offset(run, j);
  return {run.v[j], k < 0 ? -1ll : static_cast<long long>(p0 + k)};
}

// scan_lane_items for LaneRun: the lane's kItems consecutive elements of the warp's staged segment,
// scanned in registers; positions past `valid` hold the identity.
template <class Op, class In>
__device__ __forceinline__ void scan_lane_run(const uint4* stage, int lane, int valid, LaneRun& run) {
  using State = typename Op::State;
  constexpr int kInChunks = static_cast<int>(sizeof(In)) * kItems / 16;
  alignas(16) In x[kItems];
#pragma unroll
  for (int q = 0; q < kInChunks; ++q) reinterpret_cast<uint4*>(x)[q] = stage[swizzle_chunk(lane * kInChunks + q)];
  State acc = Op::identity();
#pragma unroll
  for (int j = 0; j < kItems; ++j) {
    const State item = lane * kItems + j < valid ? Op::make(x[j], j) : Op::identity();
    acc = j == 0 ? item : Op::combine(acc, item);
    run.v[j] = acc.v;
    const unsigned byte = static_cast<unsigned>(acc.i) & 0xFFu;  // -1 -> 0xFF
    run.k4[j / 4] = (j % 4 == 0 ? 0u : run.k4[j / 4]) | (byte << (8 * (j % 4)));
  }
}

// Folds `before` (the fold of everything before the lane's first position) into the run in place.
// MaxMinOp::combine returns one of its operands, so every result is either the item's own state
// (its offset kept) or `before` (offset set to 0xFF, read back as before.i): an item's index is at
// least p0, past any index in `before`, so the two are told apart by the index.
template <class Op>
__device__ __forceinline__ void fold_before(LaneRun& run, typename Op::State before, int64_t p0) {
#pragma unroll
  for (int j = 0; j < kItems; ++j) {
    const typename Op::State own = run_state<Op>(run, j, p0);
    const typename Op::State r = Op::combine(before, own);
    run.v[j] = r.v;
    if (r.i != own.i) run.k4[j / 4] |= 0xFFu << (8 * (j % 4));
  }
}

// The lane's result j once `before` is folded in (exclusive: result j - 1, `before` for j = 0).
// (j is a constant after unrolling: the run's arrays are indexed by constants only, else they would
// live in local memory.)
template <class Op>
__device__ __forceinline__ typename Op::State folded_item(typename Op::State before, const LaneRun& run, int j,
                                                          int64_t p0) {
  const int k = run_offset(run, j);
  return {run.v[j], k < 0 ? before.i : static_cast<long long>(p0 + k)};
}
template <class Op>
__device__ __forceinline__ typename Op::State run_result(typename Op::State before, const LaneRun& run, int j,
                                                         int64_t p0, bool exclusive) {
  if (!exclusive) return folded_item<Op>(before, run, j, p0);
  return j == 0 ? before : folded_item<Op>(before, run, j > 0 ? j - 1 : 0, p0);
}

// store_lane_results for LaneRun: the values into the staging area, then coalesced to `dst`.
template <class Op, class Out>
__device__ __forceinline__ void store_run_values(uint4* stage, Out* dst, int lane, int valid, bool exclusive,
                                                 typename Op::State before, const LaneRun& run, int64_t p0) {
  constexpr int kOutChunks = static_cast<int>(sizeof(Out)) * kItems / 16;
  constexpr int kPerChunk = kItems / kOutChunks;
  __syncwarp();  // every lane has read its inputs from the staging area
  // A chunk at a time: fewer results live beside the run.
#pragma unroll
  for (int q = 0; q < kOutChunks; ++q) {
    alignas(16) Out r[kPerChunk];
#pragma unroll
    for (int e = 0; e < kPerChunk; ++e) r[e] = from_acc<Out>(run_result<Op>(before, run, q * kPerChunk + e, p0, exclusive).v);
    stage[swizzle_chunk(lane * kOutChunks + q)] = *reinterpret_cast<const uint4*>(r);
  }
  store_staged_segment<Out>(stage, dst, lane, valid);
}

// The warp's `valid` indices of its segment (every lane has kItems consecutive results: `before`
// combined with its scanned items; exclusive shifts by one) to `dst`, through `stage` (kStage
// 16-byte chunks, already stored from: the caller has passed a __syncwarp since) in rounds of
// kStage * 2 indices: the lanes owning the round's elements fill it, then every lane stores.
template <class Op, int kStage>
__device__ __forceinline__ void store_lane_indices(uint4* stage, int64_t* dst, int lane, int valid, bool exclusive,
                                                   typename Op::State before, const LaneRun& run, int64_t p0) {
  constexpr int kRoundElems = kStage * 2;            // int64 per round
  constexpr int kRoundLanes = kRoundElems / kItems;  // lanes whose results fill one round
  constexpr int kRounds = 32 / kRoundLanes;
  constexpr int kLaneChunks = kItems / 2;  // 16-byte chunks of one lane's indices
  static_assert(kRoundLanes * kRounds == 32 && kStage % 32 == 0, "whole rounds of whole lanes");
  static_assert(kItems % 4 == 0 && kItems <= 127, "LaneRun packs offsets a byte each");
#pragma unroll 1
  for (int r = 0; r < kRounds; ++r) {
    const int owner = lane - r * kRoundLanes;  // this lane's place in the round, if it has one
    if (owner >= 0 && owner < kRoundLanes) {
#pragma unroll
      for (int q = 0; q < kLaneChunks; ++q) {  // a chunk (two indices) at a time, as store_run_values
        alignas(16) long long idx[2];
        idx[0] = run_result<Op>(before, run, 2 * q, p0, exclusive).i;
        idx[1] = run_result<Op>(before, run, 2 * q + 1, p0, exclusive).i;
        stage[swizzle_chunk(owner * kLaneChunks + q)] = *reinterpret_cast<const uint4*>(idx);
      }
    }
    __syncwarp();
    const int first = r * kRoundElems;  // the round's first element of the segment
    if (valid >= first + kRoundElems) {
      uint4* d4 = reinterpret_cast<uint4*>(dst + first);
#pragma unroll
      for (int q = 0; q < kStage / 32; ++q) d4[q * 32 + lane] = stage[swizzle_chunk(q * 32 + lane)];
    } else {
      for (int e = lane; e < valid - first; e += 32) dst[first + e] = *staged_element<int64_t>(stage, e);
    }
    __syncwarp();  // the next round refills the area
  }
}

// scan_segment with the indices: scans x[0, len) into y and yidx, positions from 0. Called by every
// thread of the block.
template <class Op, class In, class Out>
__device__ __forceinline__ void scan_segment_indices(const In* __restrict__ x, Out* __restrict__ y,
                                                     int64_t* __restrict__ yidx, int64_t len, bool exclusive,
                                                     SegmentSmem<Op, In, Out>& sm) {
  using State = typename Op::State;
  constexpr int kWarps = kThreads / 32;
  constexpr int kSegment = 32 * kItems;  // elements per warp and tile
  constexpr int kStage = line_stage_chunks<In, Out>();
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int64_t tiles = (len + kTile - 1) / kTile;
  const auto warp_src = [&](int64_t tile) { return x + tile * kTile + static_cast<int64_t>(warp) * kSegment; };

  State carry = Op::identity();
  if (tiles > 0) stage_warp_segment<In>(sm.stage[0][warp], warp_src(0), segment_valid(len, 0, warp), lane);
  stage_commit();

  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int buf = static_cast<int>(tile & 1);
    if (tile + 1 < tiles) stage_warp_segment<In>(sm.stage[buf ^ 1][warp], warp_src(tile + 1), segment_valid(len, tile + 1, warp), lane);
    stage_commit();  // possibly empty: "all but the newest" is then this tile's group
    stage_wait_all_but_newest();
    __syncwarp();
    uint4* stage = sm.stage[buf][warp];
    const int valid = segment_valid(len, tile, warp);
    const int64_t warp_p0 = tile * kTile + static_cast<int64_t>(warp) * kSegment;

    const int64_t lane_p0 = warp_p0 + static_cast<int64_t>(lane) * kItems;
    LaneRun run;
    scan_lane_run<Op, In>(stage, lane, valid, run);
    // Warp totals through shared memory in two buffers, one barrier per tile (as scan_segment).
    State lane_before;
    const State inclusive = warp_scan_lane_totals<Op>(run_state<Op>(run, kItems - 1, lane_p0), lane, lane_before);
    if (lane == 31) sm.warp_total[buf][warp] = inclusive;
    __syncthreads();
    State before = carry;
    for (int w = 0; w < warp; ++w) before = Op::combine(before, sm.warp_total[buf][w]);
    before = Op::combine(before, lane_before);
#pragma unroll
    for (int w = 0; w < kWarps; ++w) carry = Op::combine(carry, sm.warp_total[buf][w]);  // the same order in every thread

    fold_before<Op>(run, before, lane_p0);
    store_run_values<Op, Out>(stage, y + warp_p0, lane, valid, exclusive, before, run, lane_p0);
    __syncwarp();  // every lane has stored its values from the area
    store_lane_indices<Op, kStage>(stage, yidx + warp_p0, lane, valid, exclusive, before, run, lane_p0);
    // store_lane_indices ends with __syncwarp: the buffer is refilled by the prefetch two tiles on.
  }
}

// A block per line (launch: g.outer blocks). ptxas (sm_90a): 110 (f32) / 121 (16-bit) registers, no
// spills, so 2 blocks per SM; capping at 80 registers (3 blocks) spilled.
template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads)
    scan_row_carry_indices_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t* __restrict__ yidx,
                                  const Geometry g) {
  __shared__ SegmentSmem<Op, In, Out> sm;
  const int64_t line = blockIdx.x;
  scan_segment_indices<Op, In, Out>(x + offset_of(line, g.outer_sizes, g.in.outer, g.n_outer),
                                    y + offset_of(line, g.outer_sizes, g.out.outer, g.n_outer),
                                    yidx + offset_of(line, g.outer_sizes, g.idx.outer, g.n_outer), g.n, g.exclusive, sm);
}

}  // namespace baracuda::sc::cuda
