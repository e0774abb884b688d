#pragma once
// The ring flat scan (sm_90): one long contiguous line in one pass, its roles decoupled by
// shared-memory barriers instead of block-wide rounds (BARACUDA_SCAN_FLAT=ring).
//
// Why a second flat kernel: scan_flat_pipelined_kernel (scan_flat_engine.cuh) runs in rounds. Its
// warps load and fold the next chunk, then meet at a barrier, then all scan the current one, then
// meet again. ncu put it at 0.35 instructions issued per cycle and scheduler, 21% of stall samples
// at the round's barriers, and 80% of the copy rate (docs/perf/scan.md). Every form that kept the
// rounds and moved work between them measured slower. Here no warp waits for a round:
//
//   warp 0, lane 0 (control): for each free stage of a ring of `stages` 32 KB stages, the next
//     chunk's ticket (taken one chunk ahead, so its round trip hides under the wait for a free
//     stage) and one bulk copy (TMA) of the chunk into the stage, completed on full[s];
//   warps 1..2 (look-back, alternate chunks): once folded[s], the look-back over the chunk (256
//     predecessors a round trip), then the carry into each scan warp's segment -> carried[s];
//   warps 3..4 (fold): once full[s], each segment's total, the chunk's aggregate published at once
//     -> folded[s]. A chunk's aggregate waits only on its own bytes, never on a look-back;
//   warps 5..12 (scan): once carried[s], each its segment of 8 rows of 512 bytes into registers,
//     the stage released (consumed[s]), scanned (a shuffle scan per row, lane-striped 16-byte
//     vectors: no bank conflicts, no transposes) and stored with coalesced 16-byte stores.
//
// So loads of several chunks stay in flight, look-backs run a chunk or two ahead of the scan, and
// the only block-wide barrier is the one after setting up the mbarriers.
//
// No deadlock: a ticket is taken by a running block only with a stage free or about to be freed by
// a chunk whose look-back is done; the chunk's bytes then need only memory, its fold only the bytes.
// So the lowest chunk without a published aggregate always gets one, and every look-back ends.
// Deterministic: the chunk length is a constant (32 KB of input), every fold has a fixed order (a
// row's vector, then rows pairwise, then the warp's shuffle tree; segment totals left to right; the
// look-back's left fold of chunk aggregates, as in scan_flat_engine.cuh).
#include "kernels/bulk_copy.cuh"
#include "kernels/scan_flat_engine.cuh"

namespace baracuda::sc::cuda {

inline constexpr int kRingLookbackWarps = 2, kRingFoldWarps = 2, kRingScanWarps = 8;
inline constexpr int kRingWarps = 1 + kRingLookbackWarps + kRingFoldWarps + kRingScanWarps;
inline constexpr int kRingThreads = 32 * kRingWarps;
inline constexpr int kRingRows = 8;          // 512-byte rows (16 bytes a lane) per scan warp and chunk
inline constexpr int kRingChunkBytes = kRingScanWarps * kRingRows * 512;  // 32 KB
inline constexpr int kRingMaxStages = 6;     // 6 x 32 KB + the static arrays stay under 227 KB
inline constexpr int kRingWindowPerLane = 8;  // 256 predecessors a look-back round trip

template <class Op, class In, class Out>
constexpr bool ring_types_ok() {
  // A lane's outputs for one 16-byte input vector: whole 8-byte stores.
  return flat_types_ok<Op, In, Out>() && (16 / sizeof(In) * sizeof(Out)) % 8 == 0;
}

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
// Waits for the phase `parity` of `bar` for the ring's chunk number `k`; false once the control
// thread has marked `k` past the last chunk (no phase for it will ever complete).
__device__ __forceinline__ bool ring_wait(uint64_t* bar, unsigned parity, int64_t k, const volatile int64_t* end) {
  const unsigned addr = kernels::smem_address(bar);
  for (;;) {
    unsigned done = 0;
    asm volatile(
        "{\n\t.reg .pred p;\n\t"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\t"
        "selp.u32 %0, 1, 0, p;\n\t}"
        : "=r"(done)
        : "r"(addr), "r"(parity)
        : "memory");
    if (done) return true;
    if (k >= *end) return false;
  }
}

// kVec outputs of one lane to 8-byte aligned `dst`, as 16- or 8-byte stores.
template <class Out, int kVec>
__device__ __forceinline__ void ring_store_vector(Out* dst, const Out (&r)[kVec]) {
  constexpr int kBytes = kVec * static_cast<int>(sizeof(Out));
  if constexpr (kBytes % 16 == 0) {
#pragma unroll
    for (int q = 0; q < kBytes / 16; ++q) reinterpret_cast<uint4*>(dst)[q] = reinterpret_cast<const uint4*>(r)[q];
  } else {
#pragma unroll
    for (int q = 0; q < kBytes / 8; ++q) reinterpret_cast<uint2*>(dst)[q] = reinterpret_cast<const uint2*>(r)[q];
  }
}
#endif

// The kernel (see the top of the file). One block per SM (`stages` x 32 KB of dynamic shared
// memory), a persistent grid of any size. `counter` (the ticket) and `words` (>= chunks) zeroed
// before the launch. x and y 16-byte aligned.
template <class Op, class In, class Out>
__global__ void __launch_bounds__(kRingThreads, 1)
    scan_flat_ring_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t n, int64_t chunks, int stages,
                          bool exclusive, unsigned long long* counter, unsigned long long* words) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using State = typename Op::State;
  constexpr int kVec = 16 / static_cast<int>(sizeof(In));  // elements per lane and row
  constexpr int kRowElems = 32 * kVec;
  constexpr int kSegmentElems = kRingRows * kRowElems;
  constexpr int64_t kChunkLen = kRingChunkBytes / static_cast<int64_t>(sizeof(In));
  extern __shared__ uint4 ring[];  // [stages][kRingChunkBytes / 16]
  __shared__ uint64_t full[kRingMaxStages], folded[kRingMaxStages], carried[kRingMaxStages],
      consumed[kRingMaxStages];
  __shared__ int64_t chunk_of[kRingMaxStages];
  // Per stage: the segment totals of the fold, turned by the look-back into each segment's carry.
  __shared__ State table[kRingMaxStages][kRingScanWarps];
  __shared__ unsigned long long window[kRingLookbackWarps][32 * kRingWindowPerLane];
  __shared__ int64_t end_at;  // the ring's first chunk number past the last chunk
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  volatile int64_t* end = &end_at;

  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) {
      kernels::mbarrier_init(&full[s], 1);
      kernels::mbarrier_init(&folded[s], 1);
      kernels::mbarrier_init(&carried[s], 1);
      kernels::mbarrier_init(&consumed[s], kRingScanWarps * 32);
    }
    *end = INT64_MAX;
    kernels::mbarrier_init_fence();
  }
  __syncthreads();

  const auto stage = [&](int s) { return ring + static_cast<size_t>(s) * (kRingChunkBytes / 16); };
  const auto length_of = [&](int64_t c) { return c * kChunkLen + kChunkLen < n ? kChunkLen : n - c * kChunkLen; };
  const auto segment_total = [&](int s) {  // every caller folds the table in this order
    State total = table[s][0];
#pragma unroll
    for (int w = 1; w < kRingScanWarps; ++w) total = Op::combine(total, table[s][w]);
    return total;
  };

  if (warp == 0) {
    // Control. The ticket for chunk number k + 1 is taken as soon as k's copy is issued.
    if (lane != 0) return;
    unsigned long long next = atomicAdd(counter, 1ull);
    for (int64_t k = 0;; ++k) {
      const int s = static_cast<int>(k % stages);
      const unsigned round = static_cast<unsigned>(k / stages);
      if (k >= stages) kernels::mbarrier_wait(&consumed[s], (round - 1) & 1u);
      const int64_t c = static_cast<int64_t>(next);
      if (c >= chunks) {
        *end = k;
        return;
      }
      next = atomicAdd(counter, 1ull);
      chunk_of[s] = c;
      const int64_t len = length_of(c);
      const int64_t whole = len / kVec * kVec;  // in whole 16-byte vectors: the bulk copy
      In* dst = reinterpret_cast<In*>(stage(s));
      for (int64_t i = whole; i < len; ++i) dst[i] = x[c * kChunkLen + i];
      const unsigned bytes = static_cast<unsigned>(whole * static_cast<int64_t>(sizeof(In)));
      kernels::mbarrier_arrive_expect_bytes(&full[s], bytes);
      if (bytes > 0) kernels::bulk_copy_to_shared(dst, x + c * kChunkLen, bytes, &full[s]);
    }
  } else if (warp <= kRingLookbackWarps) {
    // Look-back, chunk numbers k = i, i + 2, ...
    const int i = warp - 1;
    for (int64_t k = i;; k += kRingLookbackWarps) {
      const int s = static_cast<int>(k % stages);
      if (!ring_wait(&folded[s], static_cast<unsigned>(k / stages) & 1u, k, end)) return;
      const int64_t c = chunk_of[s];
      const State total = segment_total(s);
      __syncwarp();  // every lane has read the table before lane 0 rewrites it
      const State prefix = flat_lookback<Op, kRingWindowPerLane>(words, c, total, window[i]);
      if (lane == 0) {
        State run = prefix;
#pragma unroll
        for (int w = 0; w < kRingScanWarps; ++w) {
          const State t = table[s][w];
          table[s][w] = run;
          run = Op::combine(run, t);
        }
        kernels::mbarrier_arrive(&carried[s]);
      }
    }
  } else if (warp <= kRingLookbackWarps + kRingFoldWarps) {
    // Fold: segments f, f + 2, ... of every chunk.
    const int f = warp - 1 - kRingLookbackWarps;
    for (int64_t k = 0;; ++k) {
      const int s = static_cast<int>(k % stages);
      if (!ring_wait(&full[s], static_cast<unsigned>(k / stages) & 1u, k, end)) return;
      const int64_t c = chunk_of[s];
      const int64_t len = length_of(c);
      const int64_t p0 = c * kChunkLen;
      for (int seg = f; seg < kRingScanWarps; seg += kRingFoldWarps) {
        State row_total[kRingRows];
#pragma unroll
        for (int r = 0; r < kRingRows; ++r) {
          const int e0 = seg * kSegmentElems + r * kRowElems + lane * kVec;
          alignas(16) In v[kVec];
          *reinterpret_cast<uint4*>(v) = stage(s)[(seg * kRingRows + r) * 32 + lane];
          State acc = e0 < len ? Op::make(v[0], p0 + e0) : Op::identity();
#pragma unroll
          for (int j = 1; j < kVec; ++j)
            acc = Op::combine(acc, e0 + j < len ? Op::make(v[j], p0 + e0 + j) : Op::identity());
          row_total[r] = acc;
        }
#pragma unroll
        for (int width = 1; width < kRingRows; width *= 2)
#pragma unroll
          for (int r = 0; r + width < kRingRows; r += 2 * width) row_total[r] = Op::combine(row_total[r], row_total[r + width]);
        State t = row_total[0];
#pragma unroll
        for (int d = 16; d >= 1; d /= 2) {
          const State other = __shfl_down_sync(0xffffffffu, t, d);
          if (lane < d) t = Op::combine(t, other);
        }
        if (lane == 0) table[s][seg] = t;
      }
      asm volatile("bar.sync 1, %0;" ::"r"(kRingFoldWarps * 32) : "memory");  // every segment total written
      if (f == 0 && lane == 0) {
        flat_publish_aggregate<Op>(words, c, segment_total(s));
        kernels::mbarrier_arrive(&folded[s]);
      }
    }
  } else {
    // Scan: warp w's segment of every chunk.
    const int w = warp - 1 - kRingLookbackWarps - kRingFoldWarps;
    for (int64_t k = 0;; ++k) {
      const int s = static_cast<int>(k % stages);
      if (!ring_wait(&carried[s], static_cast<unsigned>(k / stages) & 1u, k, end)) return;
      const int64_t c = chunk_of[s];
      const int64_t len = length_of(c);
      const int64_t p0 = c * kChunkLen;
      State carry = table[s][w];
      uint4 raw[kRingRows];
#pragma unroll
      for (int r = 0; r < kRingRows; ++r) raw[r] = stage(s)[(w * kRingRows + r) * 32 + lane];
      kernels::mbarrier_arrive(&consumed[s]);  // this lane's reads of the stage are done

      State loc[kRingRows][kVec], before_lane[kRingRows], row_total[kRingRows];
#pragma unroll
      for (int r = 0; r < kRingRows; ++r) {
        const int e0 = w * kSegmentElems + r * kRowElems + lane * kVec;
        const In* v = reinterpret_cast<const In*>(&raw[r]);
#pragma unroll
        for (int j = 0; j < kVec; ++j) loc[r][j] = e0 + j < len ? Op::make(v[j], p0 + e0 + j) : Op::identity();
#pragma unroll
        for (int j = 1; j < kVec; ++j) loc[r][j] = Op::combine(loc[r][j - 1], loc[r][j]);
        const State inclusive = warp_scan_lane_totals<Op>(loc[r][kVec - 1], lane, before_lane[r]);
        row_total[r] = shfl(inclusive, 31);
      }
#pragma unroll
      for (int r = 0; r < kRingRows; ++r) {
        const int e0 = w * kSegmentElems + r * kRowElems + lane * kVec;
        const State before = Op::combine(carry, before_lane[r]);
        alignas(16) Out out[kVec];
#pragma unroll
        for (int j = 0; j < kVec; ++j)
          out[j] = from_acc<Out>(state_value(exclusive ? (j == 0 ? before : Op::combine(before, loc[r][j - 1]))
                                                       : Op::combine(before, loc[r][j])));
        if (e0 + kVec <= len) {
          ring_store_vector<Out, kVec>(y + p0 + e0, out);
        } else {
#pragma unroll
          for (int j = 0; j < kVec; ++j)
            if (e0 + j < len) y[p0 + e0 + j] = out[j];
        }
        carry = Op::combine(carry, row_total[r]);
      }
    }
  }
#endif
}

}  // namespace baracuda::sc::cuda
