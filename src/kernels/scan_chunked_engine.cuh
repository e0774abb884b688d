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
// One kernel instead (scan_chunk_onchip_kernel, below): chunks of a few tiles held in shared memory,
// chained by a look-back over chunk folds, so HBM sees one read and one write. The default now is
// scan_flat_pipelined_kernel (scan_flat_engine.cuh); BARACUDA_SCAN_FLAT=legacy keeps this one.
//
// The ops must be commutative as well as associative (the totals are tree-reduced): sum, prod,
// logaddexp; not cummax/cummin (their ties depend on order). 8-byte types are left to the line
// kernel (their double staging would exceed 48 KB of static shared memory).
#include "kernels/cp_async.cuh"
#include "kernels/scan_line_engine.cuh"

namespace baracuda::sc::cuda {

using kernels::stage_commit;
using kernels::stage_copy16;
using kernels::stage_wait_all;
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

// Whether scan_row_carry_kernel (or, reversed, scan_row_carry_reverse_kernel of
// scan_reverse_engine.cuh) may take the launch: the plan allowed it, contiguous lines of a 2-4 byte
// type, each at least a tile long, and at least kRowCarryMinWaves lines per block slot of the
// device (`resident`: blocks of the kernel resident at once): the last, partial wave of lines then
// costs at most an eighth of the time. Fewer or longer lines keep the look-back kernels, which
// split every line into tiles. A reverse scan needs g.row_carry_reverse as well (its A/B switch).
inline constexpr int64_t kRowCarryMinWaves = 8;
template <class Op, class In, class Out>
bool row_carry_applies(const Geometry& g, const In* x, const Out* y, int64_t resident) {
  if constexpr (!chunked_types_ok<Op, In, Out>()) {
    return false;
  } else {
    return g.row_carry && (!g.reverse || g.row_carry_reverse) && g.n >= kTile &&
           g.outer >= kRowCarryMinWaves * resident && contiguous_lines<Op>(g, x, y);
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

// The fold of x[begin, end) (begin a multiple of kTile: 16-byte aligned) by the whole block, in a
// fixed order; every thread gets it. Streaming loads (evict-first): the scan kernel reads the chunk
// again only after every block has folded its own.
template <class Op, class In>
__device__ __forceinline__ typename Op::State chunk_fold(const In* __restrict__ x, int64_t begin, int64_t end,
                                                         typename Op::State* scratch) {
  using State = typename Op::State;
  constexpr int kPer = 16 / static_cast<int>(sizeof(In));
  constexpr int kUnroll = 4;
  const int64_t vectors = (end - begin) / kPer;
  const uint4* v4 = reinterpret_cast<const uint4*>(x + begin);
  const auto load = [](const uint4* q) { return __ldcs(q); };
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
    for (int u = 0; u < kUnroll; ++u) r[u] = load(v4 + i + u * kThreads);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) fold_vector(r[u], begin + (i + u * kThreads) * kPer);
  }
  for (; i < vectors; i += kThreads) fold_vector(load(v4 + i), begin + i * kPer);
  for (int64_t p = begin + vectors * kPer + threadIdx.x; p < end; p += kThreads) acc = Op::combine(acc, Op::make(x[p], p));
  return block_fold<Op>(acc, scratch);
}

template <class Op, class In>
__global__ void __launch_bounds__(kThreads)
    scan_chunk_totals_kernel(const In* __restrict__ x, int64_t n, int64_t chunk_len, typename Op::State* totals) {
  using State = typename Op::State;
  __shared__ State scratch[kThreads / 32];
  const int64_t begin = static_cast<int64_t>(blockIdx.x) * chunk_len;
  const int64_t end = begin + chunk_len < n ? begin + chunk_len : n;
  const State total = chunk_fold<Op, In>(x, begin, end, scratch);
  if (threadIdx.x == 0) totals[blockIdx.x] = total;
}

// Shared memory of scan_segment: two staging buffers per warp and two arrays of warp totals.
template <class Op, class In, class Out>
struct SegmentSmem {
  uint4 stage[2][kThreads / 32][line_stage_chunks<In, Out>()];
  typename Op::State warp_total[2][kThreads / 32];
};

// The warp's `valid` elements of one tile (`src`, 16-byte aligned) into its swizzled staging area:
// cp.async for a whole segment, plain loads for the last, partial one.
template <class In>
__device__ __forceinline__ void stage_warp_segment(uint4* stage, const In* __restrict__ src, int valid, int lane) {
  constexpr int kInChunks = static_cast<int>(sizeof(In)) * kItems / 16;
  constexpr int kSegment = 32 * kItems;
  if (valid == kSegment) {
    const uint4* s4 = reinterpret_cast<const uint4*>(src);
#pragma unroll
    for (int q = 0; q < kInChunks; ++q) stage_copy16(stage + swizzle_chunk(q * 32 + lane), s4 + q * 32 + lane);
  } else {
    for (int e = lane; e < valid; e += 32) *staged_element<In>(stage, e) = src[e];
  }
}

// Elements of the warp's segment of tile `tile` that lie before `len`.
__device__ __forceinline__ int segment_valid(int64_t len, int64_t tile, int warp) {
  constexpr int kSegment = 32 * kItems;
  const int64_t left = len - (tile * kTile + static_cast<int64_t>(warp) * kSegment);
  return left <= 0 ? 0 : left >= kSegment ? kSegment : static_cast<int>(left);
}

// The block step of a tile's scan once every warp has its inclusive lane totals: the warp totals
// into `warp_total` (lane 31 of each warp), one barrier, then the fold before this lane (`carry`,
// the warps before this one, `lane_before`), returned, and `carry` advanced past the tile (every
// warp, in the same order in every thread).
template <class Op>
__device__ __forceinline__ typename Op::State fold_warp_totals(typename Op::State* warp_total, int lane, int warp,
                                                               typename Op::State inclusive,
                                                               typename Op::State lane_before,
                                                               typename Op::State& carry) {
  using State = typename Op::State;
  constexpr int kWarps = kThreads / 32;
  if (lane == 31) warp_total[warp] = inclusive;
  __syncthreads();
  State before = carry;
  for (int w = 0; w < warp; ++w) before = Op::combine(before, warp_total[w]);
  before = Op::combine(before, lane_before);
#pragma unroll
  for (int w = 0; w < kWarps; ++w) carry = Op::combine(carry, warp_total[w]);  // the same order in every thread
  return before;
}

// fold_warp_totals walked from the end: the warp totals (lane 0 of each warp, `inclusive` its suffix
// fold) into `warp_total`, one barrier, then the fold after this lane (`carry`, the warps after this
// one, `lane_after`), returned, and `carry` advanced past the tile (warps last to first, the same
// order in every thread).
template <class Op>
__device__ __forceinline__ typename Op::State fold_warp_totals_reverse(typename Op::State* warp_total, int lane,
                                                                       int warp, typename Op::State inclusive,
                                                                       typename Op::State lane_after,
                                                                       typename Op::State& carry) {
  using State = typename Op::State;
  constexpr int kWarps = kThreads / 32;
  if (lane == 0) warp_total[warp] = inclusive;
  __syncthreads();
  State after = carry;
  for (int w = kWarps - 1; w > warp; --w) after = Op::combine(after, warp_total[w]);
  after = Op::combine(after, lane_after);
#pragma unroll
  for (int w = kWarps - 1; w >= 0; --w) carry = Op::combine(carry, warp_total[w]);  // same order in every thread
  return after;
}

// scan_segment below keeps its own inlined copy of these two steps (it shares only fold_warp_totals,
// which leaves its SASS unchanged): routing it through them moved the registers of its kernels on
// sm_90a (scan_row_carry_kernel f32 59 -> 63, scan_chunk_kernel f32 48 -> 61, ptxas -v), so only
// scan_chunk_onchip_kernel calls them.
//
// Scans one staged tile (every warp its segment, already in `stage`) into `dst` (the warp's
// segment of the output), starting from `carry`, which it advances past the tile. `warp_total`
// holds kThreads / 32 states; callers alternate two of them so that one barrier per tile suffices
// (a buffer is rewritten only after the next tile's barrier, which every thread reaches after
// reading it). `lane_p0`: the position of the lane's first element in its line. Called by every
// thread of the block.
template <class Op, class In, class Out>
__device__ __forceinline__ void scan_staged_tile(uint4* stage, Out* dst, int valid, int64_t lane_p0, bool exclusive,
                                                 typename Op::State& carry, typename Op::State* warp_total) {
  using State = typename Op::State;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  // The lane's kItems consecutive elements, scanned in registers; the lane totals by shuffles.
  State loc[kItems];
  scan_lane_items<Op, In>(stage, lane, valid, lane_p0, loc);
  State lane_before;
  const State inclusive = warp_scan_lane_totals<Op>(loc[kItems - 1], lane, lane_before);
  const State before = fold_warp_totals<Op>(warp_total, lane, warp, inclusive, lane_before, carry);
  // Results into the staging buffer, then coalesced stores.
  store_lane_results<Op, Out>(stage, dst, lane, valid, exclusive, before, loc);
}

// Scans x[0, len) into y[0, len) tile by tile, starting from `carry` (the fold of everything
// before x[0]) and carrying the prefix from tile to tile in registers: the line kernel's coalesced,
// swizzled staging and warp-shuffle block scan, with the next tile streaming into the second
// staging buffer by cp.async while the current one is scanned. x and y are 16-byte aligned; `pos0`
// is the position of x[0] in its line (Op::make's position). Called by every thread of the block.
template <class Op, class In, class Out>
__device__ __forceinline__ void scan_segment(const In* __restrict__ x, Out* __restrict__ y, int64_t len, int64_t pos0,
                                             bool exclusive, typename Op::State carry, SegmentSmem<Op, In, Out>& sm) {
  using State = typename Op::State;
  constexpr int kInChunks = static_cast<int>(sizeof(In)) * kItems / 16;
  constexpr int kSegment = 32 * kItems;  // elements per warp and tile
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int64_t tiles = (len + kTile - 1) / kTile;

  const auto segment_valid = [&](int64_t tile) {
    const int64_t left = len - (tile * kTile + static_cast<int64_t>(warp) * kSegment);
    return left <= 0 ? 0 : left >= kSegment ? kSegment : static_cast<int>(left);
  };
  // The warp's segment of `tile` into staging buffer `buf`: cp.async for whole segments, plain
  // loads for the last, partial one.
  const auto prefetch = [&](int64_t tile, int buf) {
    uint4* stage = sm.stage[buf][warp];
    const In* src = x + tile * kTile + static_cast<int64_t>(warp) * kSegment;
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

  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int buf = static_cast<int>(tile & 1);
    if (tile + 1 < tiles) prefetch(tile + 1, buf ^ 1);
    stage_commit();  // possibly empty: "all but the newest" is then this tile's group
    stage_wait_all_but_newest();
    __syncwarp();
    uint4* stage = sm.stage[buf][warp];
    const int valid = segment_valid(tile);
    const int64_t warp_p0 = tile * kTile + static_cast<int64_t>(warp) * kSegment;

    // The lane's kItems consecutive elements, scanned in registers; the lane totals by shuffles.
    State loc[kItems];
    scan_lane_items<Op, In>(stage, lane, valid, pos0 + warp_p0 + static_cast<int64_t>(lane) * kItems, loc);
    // The warp totals go through shared memory in two buffers, so one barrier per tile: a buffer
    // is rewritten only after the next tile's barrier, which every thread reaches after reading it.
    State lane_before;
    const State inclusive = warp_scan_lane_totals<Op>(loc[kItems - 1], lane, lane_before);
    const State before = fold_warp_totals<Op>(sm.warp_total[buf], lane, warp, inclusive, lane_before, carry);

    // Results into the staging buffer, then coalesced stores.
    store_lane_results<Op, Out>(stage, y + warp_p0, lane, valid, exclusive, before, loc);
    __syncwarp();  // the buffer is refilled by the prefetch two tiles on
  }
}

template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads)
    scan_chunk_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t n, int64_t chunk_len, bool exclusive,
                      const typename Op::State* __restrict__ totals) {
  using State = typename Op::State;
  __shared__ SegmentSmem<Op, In, Out> sm;
  __shared__ State scratch[kThreads / 32];
  const int64_t begin = static_cast<int64_t>(blockIdx.x) * chunk_len;
  const int64_t end = begin + chunk_len < n ? begin + chunk_len : n;
  // The chunk's prefix: the fold of the totals of the chunks before it (identity for the first).
  State carry = Op::identity();
  for (int64_t c = threadIdx.x; c < static_cast<int64_t>(blockIdx.x); c += kThreads) carry = Op::combine(carry, totals[c]);
  carry = block_fold<Op>(carry, scratch);
  scan_segment<Op, In, Out>(x + begin, y + begin, end - begin, begin, exclusive, carry, sm);
}

// Shared memory of scan_chunk_onchip_kernel per tile of its chunk: every warp's staging area.
template <class In, class Out>
constexpr size_t onchip_tile_bytes() {
  return sizeof(uint4) * (kThreads / 32) * line_stage_chunks<In, Out>();
}

// The chunked scan as ONE kernel, the default for one long line (BARACUDA_SCAN_CHUNK_LOOKBACK=0
// keeps the two kernels above): chunks of a few tiles, one block per chunk, taken in order by
// ticket. An earlier form folded its chunk from global memory and rescanned it from there after the
// look-back; with a few hundred resident chunks the rescan missed L2 often enough that the 2^28
// line ran at about 3 passes of HBM time (0.77 ms, docs/perf/scan.md). Here the whole chunk (`chunk_tiles` tiles,
// dynamic shared memory in the swizzled per-warp staging layout of scan_segment) lands by cp.async,
// is folded from shared memory, the fold is published and looked back over, and the scan then runs
// from shared memory: HBM sees one read and one write. While a block waits on its look-back, the
// other blocks of its SM keep loading or storing. Same combination orders as the other kernels
// (lane runs, then warps, then chunks by the look-back's left fold): deterministic for a given
// chunk length. ws: the look-back workspace, its counter and flags cleared, >= chunks slots.
template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads)
    scan_chunk_onchip_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t n, int chunk_tiles,
                             bool exclusive, const LookbackStorage<typename Op::State> ws) {
  using State = typename Op::State;
  constexpr int kWarps = kThreads / 32;
  constexpr int kInChunks = static_cast<int>(sizeof(In)) * kItems / 16;
  constexpr int kStage = line_stage_chunks<In, Out>();  // uint4 per warp and tile
  constexpr int kSegment = 32 * kItems;
  extern __shared__ uint4 chunk_stage[];  // [chunk_tiles][kWarps][kStage]
  __shared__ State warp_total[2][kWarps];
  __shared__ State scratch[kWarps];
  __shared__ State chunk_prefix;
  __shared__ unsigned long long ticket;
  // The chunk by ticket: chunks start in order, so no block waits on one that has not started. (The
  // block index instead, which relies on in-order dispatch, measured within 1% on the H200.)
  if (threadIdx.x == 0) ticket = atomicAdd(ws.counter, 1ull);
  __syncthreads();
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int64_t chunk = static_cast<int64_t>(ticket);
  const int64_t chunk_len = static_cast<int64_t>(chunk_tiles) * kTile;
  const int64_t begin = chunk * chunk_len;
  const int64_t len = begin + chunk_len < n ? chunk_len : n - begin;
  const int tiles = static_cast<int>((len + kTile - 1) / kTile);
  const auto tile_stage = [&](int t) { return chunk_stage + (static_cast<size_t>(t) * kWarps + warp) * kStage; };

  // 1. The whole chunk into shared memory, each warp its segment of every tile.
  for (int t = 0; t < tiles; ++t)
    stage_warp_segment<In>(tile_stage(t), x + begin + static_cast<int64_t>(t) * kTile + static_cast<int64_t>(warp) * kSegment,
                           segment_valid(len, t, warp), lane);
  stage_commit();
  stage_wait_all();
  __syncwarp();

  // 2. The chunk's fold: each lane its runs in tile order, then the block in a fixed order.
  State acc = Op::identity();
  for (int t = 0; t < tiles; ++t) {
    const int valid = segment_valid(len, t, warp);
    const uint4* stage = tile_stage(t);
    const int64_t p0 = begin + static_cast<int64_t>(t) * kTile + static_cast<int64_t>(warp) * kSegment + lane * kItems;
    alignas(16) In v[kItems];
#pragma unroll
    for (int q = 0; q < kInChunks; ++q) reinterpret_cast<uint4*>(v)[q] = stage[swizzle_chunk(lane * kInChunks + q)];
#pragma unroll
    for (int j = 0; j < kItems; ++j)
      if (lane * kItems + j < valid) acc = Op::combine(acc, Op::make(v[j], p0 + j));
  }
  const State total = block_fold<Op>(acc, scratch);

  // 3. Publish and look back (warp 0), while the other blocks of the SM stream.
  if (warp == 0) {
    const State prefix = lookback_warp<Op>(ws, chunk, 0, 1, 0, total);
    if (lane == 0) chunk_prefix = prefix;
  }
  __syncthreads();

  // 4. Scan from shared memory and store: one block barrier per tile.
  State carry = chunk_prefix;
  for (int t = 0; t < tiles; ++t) {
    const int64_t warp_p0 = begin + static_cast<int64_t>(t) * kTile + static_cast<int64_t>(warp) * kSegment;
    scan_staged_tile<Op, In, Out>(tile_stage(t), y + warp_p0, segment_valid(len, t, warp),
                                  warp_p0 + static_cast<int64_t>(lane) * kItems, exclusive, carry, warp_total[t & 1]);
  }
}

// Many lines (rows of a contiguous tensor, each at least a tile long): one block per line walks it
// tile by tile with the prefix in registers (scan_segment), so a line is read once and written
// once with no look-back, no workspace and no atomics. The hardware hands out the blocks as others
// finish, which balances lines over SMs. The combination order is fixed by the line length alone:
// deterministic, and the same on every device.
template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads)
    scan_row_carry_kernel(const In* __restrict__ x, Out* __restrict__ y, const Geometry g) {
  __shared__ SegmentSmem<Op, In, Out> sm;
  const int64_t line = blockIdx.x;
  scan_segment<Op, In, Out>(x + offset_of(line, g.outer_sizes, g.in.outer, g.n_outer),
                            y + offset_of(line, g.outer_sizes, g.out.outer, g.n_outer), g.n, 0, g.exclusive,
                            Op::identity(), sm);
}

}  // namespace baracuda::sc::cuda
