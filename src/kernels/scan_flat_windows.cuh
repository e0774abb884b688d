#pragma once
// Reduce-then-scan over windows that stay in L2 (BARACUDA_SCAN_FLAT=windows; an experiment): one
// long contiguous line, HBM seeing one read and one write, and no chunk's scan waiting for other
// SMs' loads.
//
// Why (docs/perf/scan.md, sixteenth session): in the look-back kernels a chunk's prefix exists only
// once every earlier chunk's bytes have landed and been folded, so each chunk waits, in shared
// memory, for the slowest load among the ~132 chunks issued just before it.
//
// Here the line is cut into chunks of 32 KB of input and the chunks into windows of `window` chunks.
// A persistent grid takes tasks by ticket: the reductions of chunks [0, lead), then the reduction
// of chunk lead + k and the scan of chunk k alternating, so each chunk's scan comes `lead` chunks
// of reductions after its own (the chunk stays in L2 meanwhile, it is hoped).
// A reduction loads its chunk (HBM), publishes the chunk's aggregate and counts itself done in its
// window's counter (one acquire-release atomic). The block whose reduction completed a window runs
// the window's "prep" at the start of its next task, under that task's loads: it scans the
// window's aggregates, publishes the window's total, takes the fold of the earlier windows by a
// decoupled look-back over their totals, and writes every chunk's prefix. A scan loads its chunk
// again (L2) while it waits for its prefix, then scans and stores it.
//
// History: the first form (28b4091) left the prep to the window's first scan and chained each
// prep to the previous one; at the second (1f8847e) the completing reduction ran it, still
// chained, with the window's last reduction ticketed right before its first scan. Both took
// 11-14 us a window (1.7 ms for f32 2^28 at windows of 256 chunks), 2.8x the pipelined kernel.
//
// No deadlock: a task waits only on tasks ticketed before it (a scan on its window's prep, run by
// the block of one of the window's reductions, which are ticketed before every scan of the window
// when lead >= window; a prep on the earlier windows' totals, published by their preps before
// anything else they wait on), and each block holds at most its running task and the next ticket,
// so the smallest unfinished ticket can always run. Deterministic: chunk aggregates by a fixed
// tree, a window's prefixes by a fixed scan over its aggregates, window totals by a left fold;
// the chunk and window lengths are plan constants; which block runs a prep does not change its
// arithmetic.
#include "kernels/scan_flat_engine.cuh"

namespace baracuda::sc::cuda {

inline constexpr int kWinThreads = 256, kWinWarps = kWinThreads / 32;
inline constexpr int kWinRows = 8;  // 512-byte rows (16 bytes a lane) per warp and chunk
inline constexpr int kWinChunkBytes = kWinWarps * kWinRows * 512;  // 32 KB
inline constexpr int kWinMaxWindow = 256;  // chunks per window at most (8 a lane in the prep)
inline constexpr unsigned kWinAggregate = 1, kWinPrefix = 2;  // a chunk word's status (0: not yet)

struct WindowTask {
  bool scan;
  int64_t chunk;  // -1: no task left
};

// The task of ticket `t` (see the top of the file): the reductions of chunks [0, lead), then the
// reduction of chunk lead + k and the scan of chunk k alternating, then the scans left.
__device__ __forceinline__ WindowTask window_task(int64_t t, int64_t chunks, int64_t lead) {
  const int64_t ahead = lead < chunks ? lead : chunks;
  if (t < ahead) return {false, t};
  t -= ahead;
  const int64_t pairs = chunks - ahead;
  if (t < 2 * pairs) return (t & 1) ? WindowTask{true, t / 2} : WindowTask{false, ahead + t / 2};
  t -= 2 * pairs;
  return pairs + t < chunks ? WindowTask{true, pairs + t} : WindowTask{true, -1};
}

// kVec outputs of one lane to 8-byte aligned `dst`, as 16- or 8-byte stores.
template <class Out, int kVec>
__device__ __forceinline__ void window_store_vector(Out* dst, const Out (&r)[kVec]) {
  constexpr int kBytes = kVec * static_cast<int>(sizeof(Out));
  if constexpr (kBytes % 16 == 0) {
#pragma unroll
    for (int q = 0; q < kBytes / 16; ++q) reinterpret_cast<uint4*>(dst)[q] = reinterpret_cast<const uint4*>(r)[q];
  } else {
#pragma unroll
    for (int q = 0; q < kBytes / 8; ++q) reinterpret_cast<uint2*>(dst)[q] = reinterpret_cast<const uint2*>(r)[q];
  }
}

// L2 eviction policies (BARACUDA_SCAN_WINDOW_HINTS=1): a reduction's loads evict-last, so the
// window is still in L2 for its scans; a scan's loads and its stores evict-first, so neither the
// read-once window nor the output pushes the next window out.
__device__ __forceinline__ unsigned long long window_policy(bool keep) {
  unsigned long long policy;
  if (keep)
    asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(policy));
  else
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
  return policy;
}
__device__ __forceinline__ uint4 window_load_hinted(const void* p, unsigned long long policy) {
  uint4 v;
  asm volatile("ld.global.L2::cache_hint.v4.u32 {%0, %1, %2, %3}, [%4], %5;"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p), "l"(policy));
  return v;
}
__device__ __forceinline__ void window_store_hinted(void* p, uint4 v, unsigned long long policy) {
  asm volatile("st.global.L2::cache_hint.v4.u32 [%0], {%1, %2, %3, %4}, %5;" ::"l"(p), "r"(v.x), "r"(v.y), "r"(v.z),
               "r"(v.w), "l"(policy)
               : "memory");
}

template <class Op, class In, class Out>
constexpr bool window_types_ok() {
  return flat_types_ok<Op, In, Out>() && (16 / sizeof(In) * sizeof(Out)) % 8 == 0;
}

// The prep of window `win` (chunks first .. first + count - 1), by one whole warp: waits for this
// window's chunk aggregates and scans them; publishes the window's total in `window_words` and
// takes the fold of every earlier window from them by a decoupled look-back (flat_lookback: the
// left fold of the window totals, so the same bits whichever earlier window it finds inclusive);
// then writes every chunk's prefix into `prefixes` and flips its word to kWinPrefix (after a
// fence). It waits on no other prep: only on earlier windows' totals, each published by its prep
// before that prep's own look-back.
template <class Op>
__device__ void window_prep(unsigned long long* words, unsigned long long* window_words,
                            unsigned long long* lookback_smem, typename Op::State* prefixes, int64_t win,
                            int64_t first, int count) {
  using State = typename Op::State;
  constexpr int kPer = kWinMaxWindow / 32;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  // Lane l owns chunks first + l * per .. + per - 1 (per = ceil(count / 32)).
  const int per = (count + 31) / 32;
  State agg[kPer];
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int idx = lane * per + i;
    agg[i] = Op::identity();
    if (i < per && idx < count) {
      unsigned long long w;
      do w = flat_poll(words + first + idx);
      while (flat_status(w) == 0);
      agg[i] = flat_value<State>(w);
    }
  }
  State lane_total = agg[0];
#pragma unroll
  for (int i = 1; i < kPer; ++i) lane_total = Op::combine(lane_total, agg[i]);
  State lanes_before;
  const State window_total = shfl(warp_scan_lane_totals<Op>(lane_total, lane, lanes_before), 31);
  if (lane == 0) flat_publish_aggregate<Op>(window_words, win, window_total);
  const State base = flat_lookback<Op>(window_words, win, window_total, lookback_smem);
  State run = Op::combine(base, lanes_before);
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int idx = lane * per + i;
    if (i < per && idx < count) prefixes[first + idx] = run;
    run = Op::combine(run, agg[i]);
  }
  __threadfence();
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int idx = lane * per + i;
    if (i < per && idx < count) flat_publish(words + first + idx, flat_word(kWinPrefix, agg[i]));
  }
}

// The kernel (see the top of the file). `window` in [1, kWinMaxWindow]; `counter` and `words` (>=
// chunks) zeroed before the launch; `prefixes` >= chunks states (written before they are read);
// x and y 16-byte aligned. Any grid size works.
template <class Op, class In, class Out>
__global__ void __launch_bounds__(kWinThreads, 2)
    scan_flat_windows_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t n, int64_t chunks, int64_t window,
                             int64_t lead,
                             bool exclusive, bool hints, unsigned long long* counter, unsigned long long* words,
                             unsigned long long* window_done, unsigned long long* window_words,
                             typename Op::State* prefixes) {
  using State = typename Op::State;
  constexpr int kVec = 16 / static_cast<int>(sizeof(In));
  constexpr int kRowElems = 32 * kVec;
  constexpr int kWarpElems = kWinRows * kRowElems;
  constexpr int64_t kChunkLen = kWinChunkBytes / static_cast<int64_t>(sizeof(In));
  __shared__ int64_t task_chunk;
  __shared__ int task_scan;
  __shared__ State warp_total[kWinWarps];
  __shared__ State chunk_prefix;
  __shared__ unsigned long long lookback_smem[kFlatWindow];  // the prep's look-back (warp 0)
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int lane = static_cast<int>(threadIdx.x) & 31;

  // Thread 0 takes the next ticket as it starts a task, so the atomic's round trip hides under the
  // task. No deadlock from holding it: a task waits only on tasks ticketed before it, and the task
  // this block runs meanwhile was ticketed before the one held.
  unsigned long long next = 0;
  // Thread 0's last reduction: its window's first chunk and size, and the window's done-count
  // before it (the atomic's result, read only at the start of the next task, so its round trip
  // hides under that task's loads). If that reduction completed the window, warp 0 runs the
  // window's prep there, while the next task's loads are in flight; it waits on nothing but the
  // previous window's prep, itself run the same way, so no task the block holds is delayed behind
  // a wait on a later ticket.
  int64_t pend_first = -1;
  int pend_count = 0;
  unsigned long long pend_done = 0;
  const auto deferred_prep = [&] {
    if (warp != 0) return;
    int64_t first = -1;
    int count = 0;
    if (lane == 0 && pend_first >= 0 && pend_done + 1 == static_cast<unsigned long long>(pend_count)) {
      first = pend_first;
      count = pend_count;
    }
    pend_first = -1;
    first = __shfl_sync(0xffffffffu, first, 0);
    count = __shfl_sync(0xffffffffu, count, 0);
    if (first >= 0) window_prep<Op>(words, window_words, lookback_smem, prefixes, first / window, first, count);
  };
  if (threadIdx.x == 0) next = atomicAdd(counter, 1ull);
  for (;;) {
    if (threadIdx.x == 0) {
      const WindowTask t = window_task(static_cast<int64_t>(next), chunks, lead);
      task_chunk = t.chunk;
      task_scan = t.scan;
      if (t.chunk >= 0) next = atomicAdd(counter, 1ull);
    }
    __syncthreads();
    const int64_t c = task_chunk;
    const bool scan = task_scan != 0;
    if (c < 0) {
      deferred_prep();
      return;
    }
    const int64_t p0 = c * kChunkLen;
    const int64_t len = p0 + kChunkLen < n ? kChunkLen : n - p0;

    // The warp's rows, 16 bytes a lane (a row is 512 contiguous bytes: coalesced).
    uint4 raw[kWinRows];
#pragma unroll
    for (int r = 0; r < kWinRows; ++r) {
      const int64_t e0 = warp * kWarpElems + r * kRowElems + lane * kVec;
      if (e0 + kVec <= len) {
        raw[r] = hints ? window_load_hinted(x + p0 + e0, window_policy(!scan))
                       : *reinterpret_cast<const uint4*>(x + p0 + e0);
      } else {
        alignas(16) In v[kVec] = {};
#pragma unroll
        for (int j = 0; j < kVec; ++j)
          if (e0 + j < len) v[j] = x[p0 + e0 + j];
        raw[r] = *reinterpret_cast<const uint4*>(v);
      }
    }
    deferred_prep();  // under the loads just issued

    if (!scan) {
      // Reduction: each row's vector, rows pairwise, the warp's shuffle tree, warps left to right.
      State row_total[kWinRows];
#pragma unroll
      for (int r = 0; r < kWinRows; ++r) {
        const int64_t e0 = warp * kWarpElems + r * kRowElems + lane * kVec;
        const In* v = reinterpret_cast<const In*>(&raw[r]);
        State acc = e0 < len ? Op::make(v[0], p0 + e0) : Op::identity();
#pragma unroll
        for (int j = 1; j < kVec; ++j) acc = Op::combine(acc, e0 + j < len ? Op::make(v[j], p0 + e0 + j) : Op::identity());
        row_total[r] = acc;
      }
#pragma unroll
      for (int width = 1; width < kWinRows; width *= 2)
#pragma unroll
        for (int r = 0; r + width < kWinRows; r += 2 * width) row_total[r] = Op::combine(row_total[r], row_total[r + width]);
      State t = row_total[0];
#pragma unroll
      for (int d = 16; d >= 1; d /= 2) {
        const State other = __shfl_down_sync(0xffffffffu, t, d);
        if (lane < d) t = Op::combine(t, other);
      }
      if (lane == 0) warp_total[warp] = t;
      __syncthreads();
      if (threadIdx.x == 0) {
        State total = warp_total[0];
#pragma unroll
        for (int w = 1; w < kWinWarps; ++w) total = Op::combine(total, warp_total[w]);
        flat_publish(words + c, flat_word(kWinAggregate, total));
        // Release: the aggregate before the count; acquire: the window's other aggregates before
        // the prep reads them (its polls would wait for them anyway).
        const int64_t first = c / window * window, left = chunks - first;
        pend_first = first;
        pend_count = static_cast<int>(left < window ? left : window);
        asm volatile("atom.acq_rel.gpu.global.add.u64 %0, [%1], 1;"
                     : "=l"(pend_done)
                     : "l"(window_done + c / window)
                     : "memory");
      }
    } else {
      // Scan: the chunk's prefix, written by its window's prep (its loads are in flight meanwhile).
      if (threadIdx.x == 0) {
        unsigned long long w;
        do w = flat_poll(words + c);
        while (flat_status(w) != kWinPrefix);
        __threadfence();
        chunk_prefix = load_cg(prefixes + c);
      }
      // The lane's items of a row, scanned in registers (computed twice rather than held: 32 fewer
      // registers for f32, so that more blocks, and more chunks in flight, fit on an SM).
      const auto lane_scan = [&](int r, State (&loc)[kVec]) {
        const int64_t e0 = warp * kWarpElems + r * kRowElems + lane * kVec;
        const In* v = reinterpret_cast<const In*>(&raw[r]);
#pragma unroll
        for (int j = 0; j < kVec; ++j) loc[j] = e0 + j < len ? Op::make(v[j], p0 + e0 + j) : Op::identity();
#pragma unroll
        for (int j = 1; j < kVec; ++j) loc[j] = Op::combine(loc[j - 1], loc[j]);
      };
      State before_lane[kWinRows], row_total[kWinRows];
#pragma unroll
      for (int r = 0; r < kWinRows; ++r) {
        State loc[kVec];
        lane_scan(r, loc);
        const State inclusive = warp_scan_lane_totals<Op>(loc[kVec - 1], lane, before_lane[r]);
        row_total[r] = shfl(inclusive, 31);
      }
      State segment = row_total[0];
#pragma unroll
      for (int r = 1; r < kWinRows; ++r) segment = Op::combine(segment, row_total[r]);
      if (lane == 0) warp_total[warp] = segment;
      __syncthreads();  // warp totals and the chunk's prefix
      State carry = chunk_prefix;
      for (int w = 0; w < warp; ++w) carry = Op::combine(carry, warp_total[w]);
#pragma unroll
      for (int r = 0; r < kWinRows; ++r) {
        const int64_t e0 = warp * kWarpElems + r * kRowElems + lane * kVec;
        const State before = Op::combine(carry, before_lane[r]);
        State loc[kVec];
        lane_scan(r, loc);
        alignas(16) Out out[kVec];
#pragma unroll
        for (int j = 0; j < kVec; ++j)
          out[j] = from_acc<Out>(state_value(exclusive ? (j == 0 ? before : Op::combine(before, loc[j - 1]))
                                                       : Op::combine(before, loc[j])));
        if (e0 + kVec <= len) {
          if (hints && (kVec * sizeof(Out)) % 16 == 0) {
#pragma unroll
            for (int q = 0; q < static_cast<int>(kVec * sizeof(Out)) / 16; ++q)
              window_store_hinted(y + p0 + e0 + q * (16 / sizeof(Out)), reinterpret_cast<const uint4*>(out)[q],
                                  window_policy(false));
          } else {
            window_store_vector<Out, kVec>(y + p0 + e0, out);
          }
        } else {
#pragma unroll
          for (int j = 0; j < kVec; ++j)
            if (e0 + j < len) y[p0 + e0 + j] = out[j];
        }
        carry = Op::combine(carry, row_total[r]);
      }
    }
    __syncthreads();  // task_chunk, warp_total and chunk_prefix are free for the next task
  }
}

}  // namespace baracuda::sc::cuda
