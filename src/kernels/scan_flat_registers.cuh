#pragma once
// The register flat scan: one long contiguous line (a flat tensor) in one pass, each chunk held in
// registers from its load to its store, no shared-memory staging. The alternative to
// scan_flat_pipelined_kernel (BARACUDA_SCAN_FLAT=registers), written because ncu put that kernel at
// 68% of DRAM peak with one block of 8 warps per SM (its 192 KB of stages allow no more) and a third
// of its stall samples at block barriers: here a block of kBlock threads needs no shared memory for
// data, so occupancy is set by registers alone.
//
// A persistent grid takes chunks by ticket; a chunk is kBlock threads x kVecs 16-byte vectors
// (32 KB at 512 threads), vector k*kBlock + t of the chunk loaded by thread t (coalesced). Per
// iteration, holding chunk t0 (loaded, its aggregate published) and the ticket of t1:
//   1. every thread issues the loads of t1 into its second set of registers;
//   2. warp 0 looks back over t0 (flat_lookback, 128 predecessors a round trip) and takes the ticket
//      of the chunk after t1; the other warps wait at the barrier, t1's loads in flight;
//   3. every thread scans its vectors of t0 from the look-back's prefix and its in-chunk prefixes
//      and stores them (coalesced, 16 bytes per vector);
//   4. t1 (landed meanwhile) is folded: per-vector totals, a warp scan, one barrier, the chunk's
//      aggregate published and each vector's in-chunk prefix kept for the next iteration's step 3.
// A chunk's aggregate (step 4) follows its block's look-back over the chunk before it (step 2), but
// that look-back only needs aggregates published an iteration earlier (the blocks take tickets in
// rounds), so no chain forms within a round. Deadlock-free for any grid: the lowest chunk whose
// aggregate is unpublished is some block's t1, and that block's look-back (over a lower t0) needs
// only aggregates below it.
//
// The look-back's floor is the block's own previous chunk, whose inclusive prefix it computed:
// the walk stops there even when none of the chunks between has published an inclusive prefix yet
// (with tickets in rounds, the nearest inclusive prefix is typically about a round of chunks back).
//
// Deterministic: every inclusive prefix is the left fold of the chunk aggregates from chunk 0
// (flat_lookback); inside a chunk the order is fixed by kBlock and kVecs, so results do not depend
// on the device or the timing (but differ in rounding from the pipelined kernel's chunking).
// 4-byte states only (sum, prod, logaddexp over f32/f16/bf16: f32 states), 2-4 byte elements, x
// and y 16-byte aligned (the launcher checks).
#include "kernels/scan_flat_engine.cuh"

namespace baracuda::sc::cuda {

inline constexpr int kFlatRegVecs = 4;  // 16-byte vectors per thread per chunk

template <int kBlock, class In>
constexpr int64_t flat_registers_chunk_len() {
  return static_cast<int64_t>(kBlock) * kFlatRegVecs * (16 / static_cast<int>(sizeof(In)));
}

// kPer Out values to dst (aligned to kPer * sizeof(Out) bytes: 8, 16 or 32).
template <class Out, int kPer>
__device__ __forceinline__ void flat_store_vector(Out* dst, const Out (&r)[kPer]) {
  constexpr int kBytes = kPer * static_cast<int>(sizeof(Out));
  static_assert(kBytes == 8 || kBytes == 16 || kBytes == 32, "vector of 8, 16 or 32 bytes");
  if constexpr (kBytes == 8) {
    __stcs(reinterpret_cast<uint2*>(dst), *reinterpret_cast<const uint2*>(r));
  } else {
#pragma unroll
    for (int q = 0; q < kBytes / 16; ++q)
      __stcs(reinterpret_cast<uint4*>(dst) + q, reinterpret_cast<const uint4*>(r)[q]);
  }
}

// Item j of vector k (at position p0 of the line) as a state; past n the identity (kFull: the
// whole chunk lies before n, no checks).
template <class Op, class In, bool kFull>
__device__ __forceinline__ typename Op::State flat_item(const uint4& r, int64_t p0, int j, int64_t n) {
  const In v = reinterpret_cast<const In*>(&r)[j];
  if constexpr (kFull) return Op::make(v, p0 + j);
  return p0 + j < n ? Op::make(v, p0 + j) : Op::identity();
}

// Step 4 of the kernel: a chunk's fold (vector k of r at position base + k * kBlock * kPer). Every thread gets the
// aggregate (returned) and its vectors' in-chunk prefixes (`before`). One block barrier; `table`
// is rewritten only after every thread passed a later barrier (the kernel's step 2).
template <class Op, class In, int kBlock, bool kFull>
__device__ __forceinline__ typename Op::State flat_registers_fold(const uint4 (&r)[kFlatRegVecs], int64_t base, int64_t n,
                                                                  typename Op::State (*table)[kBlock / 32],
                                                                  typename Op::State (&before)[kFlatRegVecs]) {
  using State = typename Op::State;
  constexpr int kPer = 16 / static_cast<int>(sizeof(In));
  const int lane = static_cast<int>(threadIdx.x) & 31, warp = static_cast<int>(threadIdx.x) >> 5;
  State lane_before[kFlatRegVecs];
#pragma unroll
  for (int k = 0; k < kFlatRegVecs; ++k) {
    const int64_t p0 = base + static_cast<int64_t>(k) * kBlock * kPer;
    State s = flat_item<Op, In, kFull>(r[k], p0, 0, n);
#pragma unroll
    for (int j = 1; j < kPer; ++j) s = Op::combine(s, flat_item<Op, In, kFull>(r[k], p0, j, n));
    const State inclusive = warp_scan_lane_totals<Op>(s, lane, lane_before[k]);
    if (lane == 31) table[k][warp] = inclusive;
  }
  __syncthreads();
  // Every warp scans the table the same way (lane w holds row k's warp w), so every thread gets the
  // same bits for the aggregate: rows in order, each row's warps in the shuffle tree.
  static_assert(kBlock / 32 <= 32, "one lane per warp of the block");
  State rows_before = Op::identity();
#pragma unroll
  for (int k = 0; k < kFlatRegVecs; ++k) {
    State warps_before;
    const State v = lane < kBlock / 32 ? table[k][lane] : Op::identity();
    const State inclusive = warp_scan_lane_totals<Op>(v, lane, warps_before);
    before[k] = Op::combine(Op::combine(rows_before, shfl(warps_before, warp)), lane_before[k]);
    rows_before = Op::combine(rows_before, shfl(inclusive, kBlock / 32 - 1));
  }
  return rows_before;
}

// Step 3 of the kernel: a chunk's results from the fold of every chunk before it (`prefix`) and the
// vectors' in-chunk prefixes, stored (16 bytes a vector; element by element past n).
template <class Op, class In, class Out, int kBlock, bool kFull>
__device__ __forceinline__ void flat_registers_store(const uint4 (&r)[kFlatRegVecs], int64_t base, int64_t n, bool exclusive, typename Op::State prefix,
                                                     const typename Op::State (&before)[kFlatRegVecs],
                                                     Out* __restrict__ y) {
  using State = typename Op::State;
  constexpr int kPer = 16 / static_cast<int>(sizeof(In));
#pragma unroll
  for (int k = 0; k < kFlatRegVecs; ++k) {
    const int64_t p0 = base + static_cast<int64_t>(k) * kBlock * kPer;
    State b = Op::combine(prefix, before[k]);
    alignas(16) Out out[kPer];
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const State inclusive = Op::combine(b, flat_item<Op, In, kFull>(r[k], p0, j, n));
      out[j] = from_acc<Out>(state_value(exclusive ? b : inclusive));
      b = inclusive;
    }
    if (kFull || p0 + kPer <= n) {
      flat_store_vector<Out, kPer>(y + p0, out);
    } else {
#pragma unroll
      for (int j = 0; j < kPer; ++j)
        if (p0 + j < n) y[p0 + j] = out[j];
    }
  }
}

template <class Op, class In, class Out, int kBlock, int kMinBlocks>
__global__ void __launch_bounds__(kBlock, kMinBlocks)
    scan_flat_registers_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t n, int64_t chunks,
                               bool exclusive, unsigned long long* counter, unsigned long long* words) {
  using State = typename Op::State;
  constexpr int kPer = 16 / static_cast<int>(sizeof(In));
  constexpr int64_t kChunk = flat_registers_chunk_len<kBlock, In>();
  __shared__ State table[kFlatRegVecs][kBlock / 32];  // warp totals per vector row
  __shared__ unsigned long long window[kFlatWindow];
  __shared__ unsigned long long tickets[2];
  __shared__ State prefix_slot;
  const int t = static_cast<int>(threadIdx.x);
  const int lane = t & 31, warp = t >> 5;

  // Vector k of chunk c starts at position base(c) + k * kBlock * kPer.
  const auto base = [&](int64_t c) { return c * kChunk + static_cast<int64_t>(t) * kPer; };
  const auto full = [&](int64_t c) { return c * kChunk + kChunk <= n; };  // block-uniform
  const auto load = [&](int64_t c, uint4 (&r)[kFlatRegVecs]) {
#pragma unroll
    for (int k = 0; k < kFlatRegVecs; ++k) {
      const int64_t p0 = base(c) + static_cast<int64_t>(k) * kBlock * kPer;
      if (p0 + kPer <= n) {
        r[k] = __ldcs(reinterpret_cast<const uint4*>(x + p0));
      } else {
        In* e = reinterpret_cast<In*>(&r[k]);
#pragma unroll
        for (int j = 0; j < kPer; ++j) e[j] = p0 + j < n ? x[p0 + j] : In{};
      }
    }
  };
  const auto fold = [&](const uint4 (&r)[kFlatRegVecs], int64_t c, State (&before)[kFlatRegVecs]) {
    return full(c) ? flat_registers_fold<Op, In, kBlock, true>(r, base(c), n, table, before)
                   : flat_registers_fold<Op, In, kBlock, false>(r, base(c), n, table, before);
  };

  if (t == 0) {
    tickets[0] = atomicAdd(counter, 1ull);
    tickets[1] = atomicAdd(counter, 1ull);
  }
  __syncthreads();
  int64_t cur = static_cast<int64_t>(tickets[0]);
  int64_t nxt = static_cast<int64_t>(tickets[1]);
  uint4 r0[kFlatRegVecs], r1[kFlatRegVecs];
  State before0[kFlatRegVecs], before1[kFlatRegVecs];
  State total0 = Op::identity();
  if (cur < chunks) {
    load(cur, r0);
    total0 = fold(r0, cur, before0);
    if (t == 0) flat_publish_aggregate<Op>(words, cur, total0);
  }
  int64_t floor = -1;  // warp 0: the block's previous chunk and its inclusive prefix
  State floor_inclusive = Op::identity();

  while (cur < chunks) {
    if (nxt < chunks) load(nxt, r1);  // 1.
    if (warp == 0) {  // 2.
      const State prefix = flat_lookback<Op>(words, cur, total0, window, floor, floor_inclusive);
      floor = cur;
      floor_inclusive = cur == 0 ? total0 : Op::combine(prefix, total0);  // the bits published
      if (lane == 0) {
        prefix_slot = prefix;
        tickets[0] = atomicAdd(counter, 1ull);
      }
    }
    __syncthreads();
    const State prefix = prefix_slot;
    const int64_t after = static_cast<int64_t>(tickets[0]);
    if (full(cur))  // 3.
      flat_registers_store<Op, In, Out, kBlock, true>(r0, base(cur), n, exclusive, prefix, before0, y);
    else
      flat_registers_store<Op, In, Out, kBlock, false>(r0, base(cur), n, exclusive, prefix, before0, y);
    if (nxt < chunks) {  // 4. (its barrier also orders step 3's reads of the slots before their rewrite)
      total0 = fold(r1, nxt, before1);
      if (t == 0) flat_publish_aggregate<Op>(words, nxt, total0);
#pragma unroll
      for (int k = 0; k < kFlatRegVecs; ++k) {
        r0[k] = r1[k];
        before0[k] = before1[k];
      }
    }
    cur = nxt;
    nxt = after;
  }
}

}  // namespace baracuda::sc::cuda
