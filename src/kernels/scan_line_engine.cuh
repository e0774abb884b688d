#pragma once
// The line kernel: scan_lookback_kernel's algorithm specialised for the memory-bound common case
// (a contiguous, forward scan with nothing after the axis: flat tensors and long rows), rebuilt for
// bandwidth. Differences from scan_lookback_kernel (see docs/perf/scan.md for the why):
//   - coalesced global traffic: each warp moves its 32 x kItems elements with 16-byte accesses at
//     consecutive addresses (512 contiguous bytes per instruction for f32), staged through shared
//     memory, instead of each thread touching its own 64-byte run (4 partial-sector accesses per
//     thread and instruction, partial-sector L2 writes);
//   - the staging buffer is XOR-swizzled by 16-byte chunk (chunk c lives at c ^ ((c >> 3) & 7)), so
//     both the warp-striped and the thread-blocked sides are free of bank conflicts;
//   - the block scan is a warp shuffle scan plus one exchange of the 8 warp totals (2 barriers)
//     instead of an 8-round Hillis-Steele over shared memory (16 barriers).
// The look-back (lookback_warp, W = 1) and the workspace layout are the same, so the result is still
// deterministic (fixed combination order), though not bitwise equal to scan_lookback_kernel's: the
// in-block tree differs.
#include "kernels/scan_engine.cuh"

namespace baracuda::sc::cuda {

// Position of 16-byte chunk c in a warp's staging area.
__device__ __forceinline__ int swizzle_chunk(int c) { return c ^ ((c >> 3) & 7); }

// Element e (of type T) of a warp's swizzled staging area.
template <class T>
__device__ __forceinline__ T* staged_element(uint4* stage, int e) {
  constexpr int kPerChunk = 16 / static_cast<int>(sizeof(T));
  return reinterpret_cast<T*>(stage + swizzle_chunk(e / kPerChunk)) + e % kPerChunk;
}

template <class In, class Out>
constexpr int line_stage_chunks() {
  constexpr int a = static_cast<int>(sizeof(In)) * kItems / 16, b = static_cast<int>(sizeof(Out)) * kItems / 16;
  return 32 * (a > b ? a : b);
}

// ---- steps shared with the chunked kernel (scan_chunked_engine.cuh) ----------------------------

// The lane's kItems consecutive elements of the warp's staged segment as states (not yet scanned);
// positions past `valid` hold the identity. `p0` is the position of the lane's first element.
template <class Op, class In>
__device__ __forceinline__ void load_lane_items(const uint4* stage, int lane, int valid, int64_t p0,
                                                typename Op::State (&loc)[kItems]) {
  constexpr int kInChunks = static_cast<int>(sizeof(In)) * kItems / 16;
  alignas(16) In v[kItems];
#pragma unroll
  for (int q = 0; q < kInChunks; ++q) reinterpret_cast<uint4*>(v)[q] = stage[swizzle_chunk(lane * kInChunks + q)];
#pragma unroll
  for (int j = 0; j < kItems; ++j) loc[j] = lane * kItems + j < valid ? Op::make(v[j], p0 + j) : Op::identity();
}

// The same, scanned in registers (loc[j] = the fold of items 0..j).
template <class Op, class In>
__device__ __forceinline__ void scan_lane_items(const uint4* stage, int lane, int valid, int64_t p0,
                                                typename Op::State (&loc)[kItems]) {
  load_lane_items<Op, In>(stage, lane, valid, p0, loc);
#pragma unroll
  for (int j = 1; j < kItems; ++j) loc[j] = Op::combine(loc[j - 1], loc[j]);
}

// Shuffle scan of the lane totals: the warp's inclusive value at this lane, and (out) the fold of
// the lanes before it (the identity for lane 0).
template <class Op>
__device__ __forceinline__ typename Op::State warp_scan_lane_totals(typename Op::State inclusive, int lane,
                                                                    typename Op::State& lane_before) {
#pragma unroll
  for (int d = 1; d < 32; d <<= 1) {
    const typename Op::State other = shfl_up(inclusive, d);
    if (lane >= d) inclusive = Op::combine(other, inclusive);
  }
  lane_before = shfl_up(inclusive, 1);
  if (lane == 0) lane_before = Op::identity();
  return inclusive;
}

// The warp's staged results (every lane has written its own: __syncwarp first) to `dst`, its
// `valid` elements: coalesced 16-byte stores for a whole segment, else element by element.
template <class Out>
__device__ __forceinline__ void store_staged_segment(uint4* stage, Out* dst, int lane, int valid) {
  constexpr int kOutChunks = static_cast<int>(sizeof(Out)) * kItems / 16;
  constexpr int kSegment = 32 * kItems;
  __syncwarp();
  if (valid == kSegment) {
    uint4* d4 = reinterpret_cast<uint4*>(dst);
#pragma unroll
    for (int q = 0; q < kOutChunks; ++q) d4[q * 32 + lane] = stage[swizzle_chunk(q * 32 + lane)];
  } else {
    for (int e = lane; e < valid; e += 32) dst[e] = *staged_element<Out>(stage, e);
  }
}

// The lane's kItems results `r` into the staging area (every lane has read its inputs: __syncwarp
// first), then store_staged_segment.
template <class Out>
__device__ __forceinline__ void store_lane_items(uint4* stage, Out* dst, int lane, int valid, const Out (&r)[kItems]) {
  constexpr int kOutChunks = static_cast<int>(sizeof(Out)) * kItems / 16;
  __syncwarp();
#pragma unroll
  for (int q = 0; q < kOutChunks; ++q) stage[swizzle_chunk(lane * kOutChunks + q)] = reinterpret_cast<const uint4*>(r)[q];
  store_staged_segment<Out>(stage, dst, lane, valid);
}

// The lane's results (`before` combined with its scanned items; exclusive shifts by one) to `dst`
// through the staging area (store_lane_items).
template <class Op, class Out>
__device__ __forceinline__ void store_lane_results(uint4* stage, Out* dst, int lane, int valid, bool exclusive,
                                                   typename Op::State before, const typename Op::State (&loc)[kItems]) {
  alignas(16) Out r[kItems];
#pragma unroll
  for (int j = 0; j < kItems; ++j)
    r[j] = from_acc<Out>(state_value(exclusive ? (j == 0 ? before : Op::combine(before, loc[j - 1]))
                                               : Op::combine(before, loc[j])));
  store_lane_items<Out>(stage, dst, lane, valid, r);
}

// Whether the launch is lines (either direction) the staged kernels can take: W = 1, unit stride,
// whole 16-byte chunks per thread, and every line start 16-byte aligned in x and y. Whatever the
// op: scan_indices_engine.cuh checks the indices tensor of cummax/cummin on its own.
template <class In, class Out>
bool staged_lines_aligned(const Geometry& g, const In* x, const Out* y) {
  if constexpr ((sizeof(In) * kItems) % 16 != 0 || (sizeof(Out) * kItems) % 16 != 0) {
    return false;
  } else {
    if (g.rows || g.width != 1 || g.inner != 1 || g.in.axis != 1 || g.out.axis != 1) return false;
    if (reinterpret_cast<uintptr_t>(x) % 16 != 0 || reinterpret_cast<uintptr_t>(y) % 16 != 0) return false;
    for (int d = 0; d < g.n_outer; ++d) {
      if (g.outer_sizes[d] == 1) continue;
      if ((g.in.outer[d] * static_cast<int64_t>(sizeof(In))) % 16 != 0) return false;
      if ((g.out.outer[d] * static_cast<int64_t>(sizeof(Out))) % 16 != 0) return false;
    }
    return true;
  }
}
// ... for an op without indices.
template <class Op, class In, class Out>
bool contiguous_lines(const Geometry& g, const In* x, const Out* y) {
  return !Op::kIndices && staged_lines_aligned(g, x, y);
}

// ... and forward (the line kernel and the forward kernels of scan_chunked_engine.cuh).
template <class Op, class In, class Out>
bool contiguous_forward_lines(const Geometry& g, const In* x, const Out* y) {
  return !g.reverse && contiguous_lines<Op>(g, x, y);
}

template <class Op, class In, class Out>
bool line_kernel_applies(const Geometry& g, const In* x, const Out* y) {
  return g.line_kernel && contiguous_forward_lines<Op>(g, x, y);
}

template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads)
    scan_line_kernel(const In* __restrict__ x, Out* __restrict__ y, const Geometry g,
                     const LookbackStorage<typename Op::State> ws) {
  using State = typename Op::State;
  constexpr int kWarps = kThreads / 32;
  constexpr int kInChunks = static_cast<int>(sizeof(In)) * kItems / 16;
  constexpr int kSegment = 32 * kItems;  // elements per warp
  __shared__ uint4 stage_all[kWarps][line_stage_chunks<In, Out>()];
  __shared__ State warp_total[kWarps];
  __shared__ State tile_prefix;
  __shared__ unsigned long long tile_id;
  if (threadIdx.x == 0) tile_id = atomicAdd(ws.counter, 1ull);
  __syncthreads();
  const int64_t tile = static_cast<int64_t>(tile_id);
  const int64_t chunk = tile % g.chunks;
  const int64_t line = tile / g.chunks;  // W = 1: one column block
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  uint4* stage = stage_all[warp];
  const int64_t warp_p0 = chunk * (kThreads * kItems) + static_cast<int64_t>(warp) * kSegment;
  const int64_t left = g.n - warp_p0;
  const int valid = left <= 0 ? 0 : left >= kSegment ? kSegment : static_cast<int>(left);

  // 1. Coalesced load of the warp's segment into the staging area.
  const In* src = x + offset_of(line, g.outer_sizes, g.in.outer, g.n_outer) + warp_p0;
  if (valid == kSegment) {
    const uint4* s4 = reinterpret_cast<const uint4*>(src);
#pragma unroll
    for (int q = 0; q < kInChunks; ++q) stage[swizzle_chunk(q * 32 + lane)] = __ldg(s4 + q * 32 + lane);
  } else {
    for (int e = lane; e < valid; e += 32) *staged_element<In>(stage, e) = src[e];
  }
  __syncwarp();

  // 2. The lane's kItems consecutive elements, scanned in registers.
  State loc[kItems];
  scan_lane_items<Op, In>(stage, lane, valid, warp_p0 + static_cast<int64_t>(lane) * kItems, loc);

  // 3. Block scan: shuffle scan of the lane totals, then the warp totals through shared memory.
  State lane_before;
  const State inclusive = warp_scan_lane_totals<Op>(loc[kItems - 1], lane, lane_before);
  if (lane == 31) warp_total[warp] = inclusive;
  __syncthreads();

  // 4. Look-back by warp 0 (the tile aggregate is the left fold of the warp totals).
  if (warp == 0) {
    State aggregate = warp_total[0];
#pragma unroll
    for (int w = 1; w < kWarps; ++w) aggregate = Op::combine(aggregate, warp_total[w]);
    const State prefix = lookback_warp<Op>(ws, tile, tile - chunk, 1, 0, aggregate);
    if (lane == 0) tile_prefix = prefix;
  }
  __syncthreads();
  State before = tile_prefix;
  for (int w = 0; w < warp; ++w) before = Op::combine(before, warp_total[w]);
  before = Op::combine(before, lane_before);

  // 5. Results into the staging area, then coalesced stores.
  store_lane_results<Op, Out>(stage, y + offset_of(line, g.outer_sizes, g.out.outer, g.n_outer) + warp_p0, lane, valid,
                              g.exclusive, before, loc);
}

}  // namespace baracuda::sc::cuda
