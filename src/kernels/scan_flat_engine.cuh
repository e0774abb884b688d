#pragma once
// The pipelined flat scan: one long contiguous line (a flat tensor) in one pass, HBM seeing one read
// and one write, with the next chunk's loads in flight while the current one is looked back over,
// scanned and stored. The default for the lines scan_chunk_onchip_kernel also takes
// (BARACUDA_SCAN_FLAT=legacy: that one): six times slower on the H200 as first written (d53835c),
// faster since its rework (b5d1a5e: cumsum f32 2^28 0.652 ms against 0.681; docs/perf/scan.md).
//
// A persistent grid (the blocks resident at once, 2 per SM) takes chunks of a few tiles by ticket
// and double-buffers them in shared memory. Per chunk, while the block holds the current chunk
// (staged, its aggregate published) and the ticket of the next:
//   A. warps 1..7 (the loaders) load the next chunk into the other stage, fold each of its segments
//      into a segment total and publish its aggregate; meanwhile
//   B. warp 0 looks back over the current chunk, takes the ticket of the chunk after next and turns
//      the current chunk's table of segment totals into the carry into each segment;
//   C. after a block barrier every warp scans its segments of the current chunk from shared memory
//      with those carries and stores them; a second barrier frees the stage.
// So a chunk's aggregate never waits on a look-back (see the kernel's comment for why that matters).
// With three stages (`stages` = 3) the loaders issue the copies of the chunk after next at the start
// of C, into the third stage, and only wait for them and fold them in the next A: the loads stay in
// flight while the block scans and stores (with two, a block's loads and its scan never overlap:
// ncu at 093b016 put the two-stage kernel at 68% of DRAM peak, 66% of cycles with no eligible warp).
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
#include "kernels/pdl.cuh"
#include "kernels/scan_chunked_engine.cuh"

namespace baracuda::sc::cuda {

inline constexpr int kFlatMaxTiles = 16;  // tiles per chunk at most (the size of the carry table)
inline constexpr int kFlatMaxStages = 3;
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

// The lane's kFlatWindowPerLane words of first[0, count), word k * 32 + lane in w[k]: all loads
// issued before any is used, so a window costs one round trip, and each load instruction reads 32
// consecutive words (8 whole sectors; lane-major words made every instruction touch all 32 sectors of
// the window, 4 times the L2 requests of 264 polling warps). A lane past `count` reads
// first[count - 1] again, unused.
__device__ __forceinline__ void flat_poll_window(const unsigned long long* first, int count, int lane,
                                                 unsigned long long (&w)[kFlatWindowPerLane]) {
#pragma unroll
  for (int k = 0; k < kFlatWindowPerLane; ++k) {
    const int i = k * 32 + lane;
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

// Publishes chunk `chunk`'s aggregate `total` (chunk 0's is its inclusive prefix). One lane.
template <class Op>
__device__ __forceinline__ void flat_publish_aggregate(unsigned long long* words, int64_t chunk,
                                                       typename Op::State total) {
  flat_publish(words + chunk, flat_word(chunk == 0 ? kFlatInclusive : kFlatAggregate, total));
}

// The fold of every chunk before `chunk` (every lane gets it), whose aggregate `total` is already
// published (flat_publish_aggregate); publishes the chunk's inclusive prefix. Called by one whole
// warp. `words`: one per chunk, zeroed before the launch; `window`: kFlatWindow words of shared memory.
template <class Op>
__device__ typename Op::State flat_lookback(unsigned long long* words, int64_t chunk, typename Op::State total,
                                            unsigned long long* window) {
  using State = typename Op::State;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  if (chunk == 0) return Op::identity();

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
        missing |= k * 32 + lane < count && flat_status(w[k]) == 0;
      if (!__any_sync(0xffffffffu, missing)) break;
    }
    int nearest = -1;
#pragma unroll
    for (int k = 0; k < kFlatWindowPerLane; ++k)
      if (k * 32 + lane < count && flat_status(w[k]) == kFlatInclusive) nearest = k * 32 + lane;
    anchor = __reduce_max_sync(0xffffffffu, nearest);
    if (anchor >= 0) break;
    top = lo - 1;  // lo > 0: chunk 0's word, once landed, is inclusive
  }

  // 2. Forward from the anchor: this window from registers, the ones above it read again (their
  // words have landed; one that turned inclusive since holds the same fold).
  State run = Op::identity();
#pragma unroll
  for (int k = 0; k < kFlatWindowPerLane; ++k) window[k * 32 + lane] = w[k];
  __syncwarp();
  if (lane == 0) run = flat_fold_window<Op>(window, anchor, static_cast<int>(top - lo + 1), run);
  for (int64_t base = top + 1; base < chunk; base += kFlatWindow) {
    const int count = chunk - base < kFlatWindow ? static_cast<int>(chunk - base) : kFlatWindow;
    __syncwarp();  // lane 0 has read the window
    flat_poll_window(words + base, count, lane, w);
#pragma unroll
    for (int k = 0; k < kFlatWindowPerLane; ++k) window[k * 32 + lane] = w[k];
    __syncwarp();
    if (lane == 0) run = flat_fold_window<Op>(window, 0, count, run);
  }
  if (lane == 0) flat_publish(words + chunk, flat_word(kFlatInclusive, Op::combine(run, total)));
  __syncwarp();  // the window is free for the next chunk
  return shfl(run, 0);
}

// The chunk's aggregate from its table of segment totals (tiles x warps, in order). Every caller
// folds in this order, so the aggregate published and the one the look-back combines are the same bits.
template <class Op, int kWarps>
__device__ __forceinline__ typename Op::State flat_table_total(const typename Op::State (*table)[kWarps], int tiles) {
  typename Op::State total = table[0][0];
  for (int t = 0; t < tiles; ++t)
    for (int v = t == 0 ? 1 : 0; v < kWarps; ++v) total = Op::combine(total, table[t][v]);
  return total;
}

// The loader warps (all but warp 0) wait for each other, not for the look-back warp.
__device__ __forceinline__ void flat_loaders_barrier(int threads) {
  asm volatile("bar.sync 1, %0;" ::"r"(threads) : "memory");
}

// Shared memory per tile of a chunk, one stage: every warp's staging area (as the on-chip kernel).
template <class In, class Out>
constexpr size_t flat_tile_bytes() {
  return onchip_tile_bytes<In, Out>();
}

// The counter and the chunk words [0, count) to zero: the clearing kernel that precedes
// scan_flat_pipelined_kernel when both go out as programmatic dependent launches (the launcher's
// g.flat_pdl). It waits for the previous grid first (which may still read or write this workspace)
// and at once lets the scan's CTAs be placed; they wait for its completion before any ticket.
template <class Word>
__global__ void flat_clear_kernel(Word* counter, Word* words, int64_t count) {
  kernels::pdl_enter();
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i == 0) *counter = 0;
  for (int64_t k = i; k < count; k += static_cast<int64_t>(gridDim.x) * blockDim.x) words[k] = 0;
}

// The kernel (see the top of the file). `chunk_tiles` in [1, kFlatMaxTiles] (the launcher keeps it
// >= 2 so that the words fit its workspace); `stages` 2 or 3; dynamic shared memory: `stages`
// stages of chunk_tiles tiles.
// `counter` (the ticket) and `words` (>= chunks) zeroed before the launch. Any grid size works: a
// block holds tickets in increasing order and publishes a chunk's aggregate without waiting on any
// other chunk, so the lowest unfinished chunk can always finish.
//
// Why the warps split (docs/perf/scan.md, "Why it was six times slower"): a ticket a block holds
// must reach its published aggregate without waiting on any look-back. Before, warp 0 folded the
// prefetched chunk only after its look-back over the current one, so a chunk's aggregate waited on
// its block's look-back, which waited on the chunk before it, held the same way by another block:
// a chain one link per chunk. Now warps 1..7 (the loaders) load the next chunk, fold it and publish
// its aggregate while warp 0 looks back over the current one, and warp 0 takes the ticket of the
// chunk after next only once its look-back is done.
template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads, 2)
    scan_flat_pipelined_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t n, int chunk_tiles,
                               int64_t chunks, bool exclusive, unsigned long long* counter,
                               unsigned long long* words, int stages, int l2_lead, bool first_prefetch) {
  using State = typename Op::State;
  constexpr int kWarps = kThreads / 32;
  constexpr int kLoaders = kWarps - 1;  // warps 1..7
  constexpr int kStage = line_stage_chunks<In, Out>();  // uint4 per warp segment of a tile
  constexpr int kSegment = 32 * kItems;
  extern __shared__ uint4 flat_stage[];  // [stages][chunk_tiles][kWarps][kStage]
  // Per stage: the segment totals of the loaders' fold, turned by warp 0 into each segment's carry.
  __shared__ State carry[kFlatMaxStages][kFlatMaxTiles][kWarps];
  __shared__ unsigned long long window[kFlatWindow];
  __shared__ unsigned long long first_tickets[2];
  __shared__ unsigned long long next_ticket;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int64_t chunk_len = static_cast<int64_t>(chunk_tiles) * kTile;
  // Segment w of tile t of a stage (the on-chip kernel's per-warp layout; here any warp may load or
  // fold it, and warp w scans it).
  const auto segment = [&](int stage, int t, int w) {
    return flat_stage + ((static_cast<size_t>(stage) * chunk_tiles + t) * kWarps + w) * kStage;
  };
  const auto length_of = [&](int64_t c) { return c * chunk_len + chunk_len < n ? chunk_len : n - c * chunk_len; };
  // Loaders only: the copies of chunk c into `stage` (one commit group, possibly empty). Segments go
  // round-robin over the 7 loaders (segment g = t * kWarps + w).
  const auto issue_chunk = [&](int64_t c, int stage) {
    if (c < chunks) {
      const int64_t begin = c * chunk_len, len = length_of(c);
      const int tiles = static_cast<int>((len + kTile - 1) / kTile);
      for (int g = warp - 1; g < tiles * kWarps; g += kLoaders) {
        const int t = g / kWarps, w = g % kWarps;
        stage_warp_segment<In>(segment(stage, t, w),
                               x + begin + static_cast<int64_t>(t) * kTile + static_cast<int64_t>(w) * kSegment,
                               segment_valid(len, t, w), lane);
      }
    }
    stage_commit();
  };
  // Loaders only: once chunk c's copies into `stage` have landed (one newer group may still be in
  // flight when `newer_in_flight`), its segment totals into carry[stage] and its aggregate published.
  const auto fold_publish = [&](int64_t c, int stage, bool newer_in_flight) {
    if (c >= chunks) return;  // the same for every loader: the barrier below is skipped by all
    const int64_t begin = c * chunk_len, len = length_of(c);
    const int tiles = static_cast<int>((len + kTile - 1) / kTile);
    if (newer_in_flight) stage_wait_all_but_newest();
    else stage_wait_all();
    __syncwarp();
    // Each segment: its lanes' runs, then the warp's shuffle tree (the same trees as the scan).
    for (int g = warp - 1; g < tiles * kWarps; g += kLoaders) {
      const int t = g / kWarps, w = g % kWarps;
      const int64_t p0 = begin + static_cast<int64_t>(t) * kTile + static_cast<int64_t>(w) * kSegment + lane * kItems;
      State loc[kItems];
      load_lane_items<Op, In>(segment(stage, t, w), lane, segment_valid(len, t, w), p0, loc);
      State acc = loc[0];
#pragma unroll
      for (int j = 1; j < kItems; ++j) acc = Op::combine(acc, loc[j]);
      State lanes_before;
      const State inclusive = warp_scan_lane_totals<Op>(acc, lane, lanes_before);
      if (lane == 31) carry[stage][t][w] = inclusive;
    }
    flat_loaders_barrier(kLoaders * 32);
    if (warp == 1 && lane == 0) flat_publish_aggregate<Op>(words, c, flat_table_total<Op, kWarps>(carry[stage], tiles));
  };

  // Launched after flat_clear_kernel as a programmatic dependent launch, the CTAs may be placed
  // while that kernel (and so the one before it) still runs. Before the wait only L2 prefetches of x
  // (kernels/pdl.cuh, "Before the wait"): with `first_prefetch`, the two chunks this block most
  // likely takes first (blocks take their two first tickets in about the order they start), so
  // that the first round's copies do not wait on HBM. A hint: no result depends on it.
  if (first_prefetch && threadIdx.x == 0) {
    for (int64_t c = 2 * static_cast<int64_t>(blockIdx.x); c < 2 * static_cast<int64_t>(blockIdx.x) + 2 && c < chunks;
         ++c) {
      const unsigned bytes = static_cast<unsigned>(length_of(c) * static_cast<int64_t>(sizeof(In))) & ~15u;
      if (bytes > 0) kernels::prefetch_l2_bulk(x + c * chunk_len, bytes);
    }
  }
  kernels::pdl_enter();

  // Two tickets to start: the second is loaded, folded and published by the loaders during the
  // first chunk's look-back, which it does not wait for.
  if (threadIdx.x == 0) {
    first_tickets[0] = atomicAdd(counter, 1ull);
    first_tickets[1] = atomicAdd(counter, 1ull);
  }
  __syncthreads();
  int64_t cur = static_cast<int64_t>(first_tickets[0]);
  int64_t nxt = static_cast<int64_t>(first_tickets[1]);
  const bool three = stages == 3;
  if (warp != 0) {
    issue_chunk(cur, 0);
    if (three) issue_chunk(nxt, 1);
    fold_publish(cur, 0, three);
  }
  __syncthreads();  // cur: staged, its table filled, its aggregate published

  for (int s = 0; cur < chunks; s = s + 1 == stages ? 0 : s + 1) {
    const int64_t begin = cur * chunk_len, len = length_of(cur);
    const int tiles = static_cast<int>((len + kTile - 1) / kTile);
    const int s_next = s + 1 == stages ? 0 : s + 1;
    if (warp != 0) {
      if (!three) issue_chunk(nxt, s_next);  // three stages: issued during the last scan
      fold_publish(nxt, s_next, false);
    } else {
      // The look-back, then (lane 0) the ticket of the chunk after next, its round trip under the
      // carries: taken only now, so that no look-back lies between any ticket and its aggregate.
      const State total = flat_table_total<Op, kWarps>(carry[s], tiles);
      __syncwarp();  // every lane has read the table before lane 0 rewrites it
      const State prefix = flat_lookback<Op>(words, cur, total, window);
      if (lane == 0) {
        const unsigned long long ticket = atomicAdd(counter, 1ull);
        State c = prefix;
        for (int t = 0; t < tiles; ++t)
          for (int v = 0; v < kWarps; ++v) {
            const State segment_total = carry[s][t][v];
            carry[s][t][v] = c;
            c = Op::combine(c, segment_total);
          }
        next_ticket = ticket;
      }
    }
    __syncthreads();  // the carries of cur; the loaders' copies of nxt visible to every warp
    const int64_t after = static_cast<int64_t>(next_ticket);
    // Three stages: the third one held the chunk scanned last round (freed by the barrier that
    // ended it); the chunk after next streams into it while this one is scanned.
    if (three && warp != 0) issue_chunk(after, s_next + 1 == stages ? 0 : s_next + 1);
    // The L2 lead: one bulk prefetch of the chunk whose copies start `l2_lead` rounds from now (three
    // stages: `after`'s start now, so after + l2_lead x grid; two: `after`'s start next round, so
    // after + (l2_lead - 1) x grid). Every block takes one ticket a round, so that chunk is most
    // likely this block's own, and if not, another block's at about that time: the frontier goes
    // into L2 ahead of its copies into shared memory, which then wait on L2 rather than HBM. A hint
    // only: no result depends on it.
    if (l2_lead > 0 && warp == 1 && lane == 0) {
      const int64_t ahead = after + static_cast<int64_t>(three ? l2_lead : l2_lead - 1) * gridDim.x;
      if (ahead < chunks) {
        const unsigned bytes = static_cast<unsigned>(length_of(ahead) * static_cast<int64_t>(sizeof(In))) & ~15u;
        if (bytes > 0) kernels::prefetch_l2_bulk(x + ahead * chunk_len, bytes);
      }
    }

    // Each warp scans its segment of every tile from its carry and stores it (coalesced).
    for (int t = 0; t < tiles; ++t) {
      const int valid = segment_valid(len, t, warp);
      const int64_t warp_p0 = begin + static_cast<int64_t>(t) * kTile + static_cast<int64_t>(warp) * kSegment;
      State loc[kItems];
      scan_lane_items<Op, In>(segment(s, t, warp), lane, valid, warp_p0 + static_cast<int64_t>(lane) * kItems, loc);
      State lanes_before;
      (void)warp_scan_lane_totals<Op>(loc[kItems - 1], lane, lanes_before);
      const State before = Op::combine(carry[s][t][warp], lanes_before);
      store_lane_results<Op, Out>(segment(s, t, warp), y + warp_p0, lane, valid, exclusive, before, loc);
    }
    __syncthreads();  // stage s and carry[s] are free; next_ticket read
    cur = nxt;
    nxt = after;
  }
}

}  // namespace baracuda::sc::cuda
