#pragma once
// The pipelined flat scan: one long contiguous line (a flat tensor) in one pass, HBM seeing one read
// and one write, with the next chunk's loads in flight while the current one is looked back over,
// scanned and stored. The default for the lines scan_chunk_onchip_kernel took
// (BARACUDA_SCAN_FLAT=legacy keeps that one); why it replaces it is in docs/perf/scan.md.
//
// A persistent grid (the blocks resident at once, 2 per SM) takes chunks of a few tiles by ticket
// and double-buffers them in shared memory. Per chunk:
//   A. each warp folds its segment of every tile from shared memory into a warp total (no block
//      barrier per tile);
//   B. warp 0 folds the warp totals into the chunk's aggregate, publishes it and looks back, then
//      turns the table of warp totals into the carry into each warp's segment of each tile;
//   C. each warp scans its segments from shared memory with those carries and stores them.
// The loads of the block's next chunk were issued before A, so they stream during A-C.
//
// Why the look-back is not lookback_warp's: there a chunk waits on up to 32 flags per round trip,
// then loads the aggregates 32 per round trip and folds them one shuffle at a time, each publish
// behind a __threadfence. When chunks arrive faster than that walk can cover them, the distance to
// the nearest published prefix grows with the walk time, which grows with the distance. Here one
// 8-byte word per chunk carries status and value together (no fence orders them; relaxed gpu-scope
// accesses), a round trip covers 128 predecessors, values come with the flags, and one lane folds
// them from shared memory.
//
// Deterministic: every inclusive prefix is the left fold of the chunk aggregates from chunk 0 (a
// published inclusive prefix met during the walk is that same fold, so taking it instead changes no
// bit); inside a chunk the order is fixed by the chunk length. The chunk length is a plan constant
// (tiles per chunk), so results do not depend on the device or the timing. 4-byte states only
// (sum, prod, logaddexp over f32/f16/bf16: f32 states).
#include "kernels/scan_chunked_engine.cuh"

namespace baracuda::sc::cuda {

inline constexpr int kFlatMaxTiles = 16;  // tiles per chunk at most (the size of the carry table)
inline constexpr int kFlatWindowPerLane = 4;
inline constexpr int kFlatWindow = 32 * kFlatWindowPerLane;  // predecessors per look-back round trip
inline constexpr unsigned kFlatAggregate = 1, kFlatInclusive = 2;  // a chunk word's status (0: not yet)

template <class Op, class In, class Out>
constexpr bool flat_types_ok() {
  return chunked_types_ok<Op, In, Out>() && sizeof(typename Op::State) == 4;
}

// A chunk's word: the status in the high half, the state's bits in the low half.
template <class State>
__device__ __forceinline__ unsigned long long flat_word(unsigned status, State v) {
  unsigned bits;
  memcpy(&bits, &v, sizeof(bits));
  return (static_cast<unsigned long long>(status) << 32) | bits;
}
__device__ __forceinline__ unsigned flat_status(unsigned long long w) { return static_cast<unsigned>(w >> 32); }
template <class State>
__device__ __forceinline__ State flat_value(unsigned long long w) {
  const unsigned bits = static_cast<unsigned>(w);
  State v;
  memcpy(&v, &bits, sizeof(v));
  return v;
}
__device__ __forceinline__ void flat_publish(unsigned long long* p, unsigned long long w) {
  asm volatile("st.relaxed.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(w) : "memory");
}
__device__ __forceinline__ unsigned long long flat_poll(const unsigned long long* p) {
  unsigned long long w;
  asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(w) : "l"(p) : "memory");
  return w;
}

// The lane's kFlatWindowPerLane words of first[0, count): all loads issued before any is used, so a
// window costs one round trip (a lane past `count` reads first[count - 1] again, unused).
__device__ __forceinline__ void flat_poll_window(const unsigned long long* first, int count, int lane,
                                                 unsigned long long (&w)[kFlatWindowPerLane]) {
#pragma unroll
  for (int k = 0; k < kFlatWindowPerLane; ++k) {
    const int i = lane * kFlatWindowPerLane + k;
    w[k] = flat_poll(first + (i < count ? i : count - 1));
  }
}

// Lane 0 folds window[from, count) into `run`: an inclusive word replaces the running fold (it is
// the same left fold), an aggregate is combined into it.
template <class Op>
__device__ __forceinline__ typename Op::State flat_fold_window(const unsigned long long* window, int from, int count,
                                                               typename Op::State run) {
  using State = typename Op::State;
#pragma unroll 4
  for (int i = from; i < count; ++i) {
    const unsigned long long w = window[i];
    const State v = flat_value<State>(w);
    run = flat_status(w) == kFlatInclusive ? v : Op::combine(run, v);
  }
  return run;
}

// Publishes chunk `chunk`'s aggregate `total` and returns the fold of every chunk before it (every
// lane gets it); publishes the chunk's inclusive prefix too. Called by one whole warp. `words`: one
// per chunk, zeroed before the launch; `window`: kFlatWindow words of shared memory.
template <class Op>
__device__ typename Op::State flat_lookback(unsigned long long* words, int64_t chunk, typename Op::State total,
                                            unsigned long long* window) {
  using State = typename Op::State;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  if (chunk == 0) {
    if (lane == 0) flat_publish(words, flat_word(kFlatInclusive, total));
    return Op::identity();
  }
  if (lane == 0) flat_publish(words + chunk, flat_word(kFlatAggregate, total));

  // 1. Down from chunk - 1, a window at a time, until a window holds an inclusive prefix; every word
  // of a window must have landed first (those above the anchor are folded).
  int64_t top = chunk - 1;
  int64_t lo = 0;
  int anchor = -1;  // in the window [lo, top]
  unsigned long long w[kFlatWindowPerLane];
  for (;;) {
    lo = top - (kFlatWindow - 1) > 0 ? top - (kFlatWindow - 1) : 0;
    const int count = static_cast<int>(top - lo + 1);
    for (;;) {
      flat_poll_window(words + lo, count, lane, w);
      bool missing = false;
#pragma unroll
      for (int k = 0; k < kFlatWindowPerLane; ++k)
        missing |= lane * kFlatWindowPerLane + k < count && flat_status(w[k]) == 0;
      if (!__any_sync(0xffffffffu, missing)) break;
    }
    int nearest = -1;
#pragma unroll
    for (int k = 0; k < kFlatWindowPerLane; ++k)
      if (lane * kFlatWindowPerLane + k < count && flat_status(w[k]) == kFlatInclusive) nearest = lane * kFlatWindowPerLane + k;
    anchor = __reduce_max_sync(0xffffffffu, nearest);
    if (anchor >= 0) break;
    top = lo - 1;  // lo > 0: chunk 0's word, once landed, is inclusive
  }

  // 2. Forward from the anchor: this window from registers, the ones above it read again (their
  // words have landed; one that turned inclusive since holds the same fold).
  State run = Op::identity();
#pragma unroll
  for (int k = 0; k < kFlatWindowPerLane; ++k) window[lane * kFlatWindowPerLane + k] = w[k];
  __syncwarp();
  if (lane == 0) run = flat_fold_window<Op>(window, anchor, static_cast<int>(top - lo + 1), run);
  for (int64_t base = top + 1; base < chunk; base += kFlatWindow) {
    const int count = chunk - base < kFlatWindow ? static_cast<int>(chunk - base) : kFlatWindow;
    __syncwarp();  // lane 0 has read the window
    flat_poll_window(words + base, count, lane, w);
#pragma unroll
    for (int k = 0; k < kFlatWindowPerLane; ++k) window[lane * kFlatWindowPerLane + k] = w[k];
    __syncwarp();
    if (lane == 0) run = flat_fold_window<Op>(window, 0, count, run);
  }
  if (lane == 0) flat_publish(words + chunk, flat_word(kFlatInclusive, Op::combine(run, total)));
  __syncwarp();  // the window is free for the next chunk
  return shfl(run, 0);
}

// Shared memory per tile of a chunk, one stage: every warp's staging area (as the on-chip kernel).
template <class In, class Out>
constexpr size_t flat_tile_bytes() {
  return onchip_tile_bytes<In, Out>();
}

// The kernel (see the top of the file). `chunk_tiles` in [1, kFlatMaxTiles] (the launcher keeps it
// >= 3 so that the words fit its workspace); dynamic shared memory: 2 stages of chunk_tiles tiles.
// `counter` (the ticket) and `words` (>= chunks) zeroed before the launch. Any grid size works: a block holds tickets in increasing order and publishes a chunk's
// aggregate without waiting on any later chunk, so the lowest unfinished chunk can always finish.
template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads, 2)
    scan_flat_pipelined_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t n, int chunk_tiles,
                               int64_t chunks, bool exclusive, unsigned long long* counter,
                               unsigned long long* words) {
  using State = typename Op::State;
  constexpr int kWarps = kThreads / 32;
  constexpr int kStage = line_stage_chunks<In, Out>();  // uint4 per warp and tile
  constexpr int kSegment = 32 * kItems;
  extern __shared__ uint4 flat_stage[];  // [2][chunk_tiles][kWarps][kStage]
  // Per chunk parity: the warp totals of A, turned by B into the carry into each warp's segment.
  __shared__ State carry[2][kFlatMaxTiles][kWarps];
  __shared__ unsigned long long window[kFlatWindow];
  __shared__ unsigned long long first_tickets[2];
  __shared__ unsigned long long next_ticket;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int64_t chunk_len = static_cast<int64_t>(chunk_tiles) * kTile;
  const auto segment = [&](int stage, int t) {
    return flat_stage + ((static_cast<size_t>(stage) * chunk_tiles + t) * kWarps + warp) * kStage;
  };
  const auto length_of = [&](int64_t c) { return c * chunk_len + chunk_len < n ? chunk_len : n - c * chunk_len; };
  // The warp's segments of chunk c into `stage` (the warp touches no other warp's segments, so no
  // block barrier guards the buffers).
  const auto load_chunk = [&](int64_t c, int stage) {
    if (c >= chunks) return;
    const int64_t begin = c * chunk_len, len = length_of(c);
    const int tiles = static_cast<int>((len + kTile - 1) / kTile);
    for (int t = 0; t < tiles; ++t)
      stage_warp_segment<In>(segment(stage, t), x + begin + static_cast<int64_t>(t) * kTile + static_cast<int64_t>(warp) * kSegment,
                             segment_valid(len, t, warp), lane);
  };

  if (threadIdx.x == 0) {
    first_tickets[0] = atomicAdd(counter, 1ull);
    first_tickets[1] = atomicAdd(counter, 1ull);
  }
  __syncthreads();
  int64_t cur = static_cast<int64_t>(first_tickets[0]);
  int64_t nxt = static_cast<int64_t>(first_tickets[1]);
  load_chunk(cur, 0);
  stage_commit();
  for (int it = 0; cur < chunks; ++it) {
    const int s = it & 1;
    load_chunk(nxt, s ^ 1);
    stage_commit();  // possibly empty: "all but the newest" is then the current chunk's group
    stage_wait_all_but_newest();
    __syncwarp();
    const int64_t begin = cur * chunk_len, len = length_of(cur);
    const int tiles = static_cast<int>((len + kTile - 1) / kTile);

    // A. Warp totals: each lane folds its run, the warp its lanes (the same trees as in C).
    for (int t = 0; t < tiles; ++t) {
      const int64_t p0 = begin + static_cast<int64_t>(t) * kTile + static_cast<int64_t>(warp) * kSegment + lane * kItems;
      State loc[kItems];
      load_lane_items<Op, In>(segment(s, t), lane, segment_valid(len, t, warp), p0, loc);
      State acc = loc[0];
#pragma unroll
      for (int j = 1; j < kItems; ++j) acc = Op::combine(acc, loc[j]);
      State lanes_before;
      const State inclusive = warp_scan_lane_totals<Op>(acc, lane, lanes_before);
      if (lane == 31) carry[s][t][warp] = inclusive;
    }
    __syncthreads();

    // B. Warp 0: the aggregate (warp totals in order), the look-back, the carries; the ticket of
    // the chunk after next, asked for first so that its round trip overlaps the look-back.
    if (warp == 0) {
      unsigned long long ticket = 0;
      if (lane == 0) ticket = atomicAdd(counter, 1ull);
      State total = carry[s][0][0];
      for (int t = 0; t < tiles; ++t)
        for (int v = t == 0 ? 1 : 0; v < kWarps; ++v) total = Op::combine(total, carry[s][t][v]);
      __syncwarp();  // every lane has read the table before lane 0 rewrites it (chunk 0 has no collective)
      const State prefix = flat_lookback<Op>(words, cur, total, window);
      if (lane == 0) {
        State c = prefix;
        for (int t = 0; t < tiles; ++t)
          for (int v = 0; v < kWarps; ++v) {
            const State warp_total = carry[s][t][v];
            carry[s][t][v] = c;
            c = Op::combine(c, warp_total);
          }
        next_ticket = ticket;
      }
    }
    __syncthreads();
    const int64_t after = static_cast<int64_t>(next_ticket);

    // C. Scan each segment from its carry and store it (through the staging area, coalesced).
    for (int t = 0; t < tiles; ++t) {
      const int valid = segment_valid(len, t, warp);
      const int64_t warp_p0 = begin + static_cast<int64_t>(t) * kTile + static_cast<int64_t>(warp) * kSegment;
      State loc[kItems];
      scan_lane_items<Op, In>(segment(s, t), lane, valid, warp_p0 + static_cast<int64_t>(lane) * kItems, loc);
      State lanes_before;
      (void)warp_scan_lane_totals<Op>(loc[kItems - 1], lane, lanes_before);
      const State before = Op::combine(carry[s][t][warp], lanes_before);
      store_lane_results<Op, Out>(segment(s, t), y + warp_p0, lane, valid, exclusive, before, loc);
    }
    cur = nxt;
    nxt = after;
  }
}

}  // namespace baracuda::sc::cuda
