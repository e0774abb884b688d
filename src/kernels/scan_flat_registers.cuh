#pragma once
// The register flat scan: one long contiguous line (a flat tensor) in one pass, each chunk held in
// registers from its load to its store, no shared-memory staging. The alternative to
// scan_flat_pipelined_kernel (BARACUDA_SCAN_FLAT=registers), written because ncu put that kernel at
// 68% of DRAM peak with one block of 8 warps per SM (its 192 KB of stages allow no more) and a third
// of its stall samples at block barriers: here a block of kBlock threads needs no shared memory for
// data, so occupancy is set by registers alone.
//
// A persistent grid takes chunks by ticket; a chunk is kBlock threads x kVecs 16-byte vectors
// (32 KB at 512 threads), vector k*kBlock + t of the chunk loaded by thread t (coalesced). Each
// thread holds three chunks' vectors: at the top of a round, cur (folded, its aggregate published),
// nxt (its loads in flight since the last round) and the ticket of aft. Per round:
//   1. every thread issues the loads of aft;
//   2. nxt (landed meanwhile) is folded: per-vector totals, a warp scan, one barrier, its aggregate
//      published and each vector's in-chunk prefix kept;
//   3. warp 0 looks back over cur (flat_lookback, 128 predecessors a round trip) while its lane 0's
//      atomic takes the next ticket; the other warps wait at the barrier, two chunks' loads in flight;
//   4. every thread scans its vectors of cur from the look-back's prefix and its in-chunk prefixes
//      and stores them (coalesced, 16 bytes per vector).
// A chunk's aggregate (step 2) never waits on the look-back of the same round, only on the block's
// previous round; a look-back needs aggregates published a round earlier, so a block may run a round
// ahead of the slowest before it waits. (The first form, two chunks a thread, folded nxt after the
// look-back: every look-back then waited for every block's previous round, a grid-wide barrier per
// round, and ran at half the pipelined kernel's speed.) Deadlock-free for any grid: the lowest chunk
// whose aggregate is unpublished is some block's nxt or aft, and that block's look-back (over a lower
// cur) needs only aggregates below it.
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


// kVecs: 16-byte vectors per thread per chunk.
template <int kBlock, int kVecs, class In>
constexpr int64_t flat_registers_chunk_len() {
  return static_cast<int64_t>(kBlock) * kVecs * (16 / static_cast<int>(sizeof(In)));
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

// Step 2 of the kernel: a chunk's fold by the kBlock data threads (vector k of r at position base +
// k * kBlock * kPer). Every data thread gets the aggregate (returned) and its vectors' in-chunk
// prefixes (`before`). One barrier of the data threads; `table` is rewritten only after every one
// passed a later barrier (the kernel's step 3).
template <class Op, class In, int kBlock, int kFlatRegVecs, bool kFull>
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
  flat_loaders_barrier(kBlock);
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

// Step 4 of the kernel: a chunk's results from the fold of every chunk before it (`prefix`) and the
// vectors' in-chunk prefixes, stored (16 bytes a vector; element by element past n).
template <class Op, class In, class Out, int kBlock, int kFlatRegVecs, bool kFull>
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

// kBlock data threads and one look-back warp (the last): kBlock + 32 threads a block.
template <class Op, class In, class Out, int kBlock, int kFlatRegVecs>
__global__ void __launch_bounds__(kBlock + 32, 1)
    scan_flat_registers_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t n, int64_t chunks,
                               bool exclusive, unsigned long long* counter, unsigned long long* words) {
  using State = typename Op::State;
  constexpr int kPer = 16 / static_cast<int>(sizeof(In));
  constexpr int64_t kChunk = flat_registers_chunk_len<kBlock, kFlatRegVecs, In>();
  __shared__ State table[kFlatRegVecs][kBlock / 32];  // warp totals per vector row
  __shared__ unsigned long long window[kFlatWindow];
  __shared__ unsigned long long first_tickets[3];
  // Handed over at each round's block barrier, two slots alternating by round: the look-back warp's
  // prefix of cur and the ticket it took; the data threads' aggregate of nxt.
  __shared__ State prefix_slot[2], total_slot[2];
  __shared__ unsigned long long ticket_slot[2];
  const int t = static_cast<int>(threadIdx.x);
  const int lane = t & 31;
  const bool lookback_warp = t >= kBlock;

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
  // Data threads: chunk c's fold, its aggregate published and handed to the look-back warp.
  const auto fold = [&](const uint4 (&r)[kFlatRegVecs], int64_t c, State (&before)[kFlatRegVecs], int slot) {
    const State total = full(c) ? flat_registers_fold<Op, In, kBlock, kFlatRegVecs, true>(r, base(c), n, table, before)
                                : flat_registers_fold<Op, In, kBlock, kFlatRegVecs, false>(r, base(c), n, table, before);
    if (t == 0) {
      flat_publish_aggregate<Op>(words, c, total);
      total_slot[slot] = total;
    }
  };

  if (t == 0) {
#pragma unroll
    for (int i = 0; i < 3; ++i) first_tickets[i] = atomicAdd(counter, 1ull);
  }
  __syncthreads();
  int64_t cur = static_cast<int64_t>(first_tickets[0]);
  int64_t nxt = static_cast<int64_t>(first_tickets[1]);
  int64_t aft = static_cast<int64_t>(first_tickets[2]);

  if (lookback_warp) {
    // Per round: the look-back over cur (its aggregate handed over at the previous barrier) and the
    // ticket of the chunk after aft, both handed over at this round's barrier.
    int64_t floor = -1;  // the block's previous chunk and its inclusive prefix
    State floor_inclusive = Op::identity();
    if (cur < chunks) __syncthreads();  // the data threads' fold of cur
    for (int round = 0; cur < chunks; ++round) {
      const State total = total_slot[round & 1];
      unsigned long long ticket = 0;
      if (lane == 0) ticket = atomicAdd(counter, 1ull);  // its round trip under the look-back
      const State prefix = flat_lookback<Op>(words, cur, total, window, floor, floor_inclusive);
      floor = cur;
      floor_inclusive = cur == 0 ? total : Op::combine(prefix, total);  // the bits published
      if (lane == 0) {
        prefix_slot[round & 1] = prefix;
        ticket_slot[round & 1] = ticket;
      }
      __syncthreads();
      cur = nxt;
      nxt = aft;
      aft = static_cast<int64_t>(__shfl_sync(0xffffffffu, ticket, 0));
    }
    return;
  }

  // Data threads. Held at the top of each round: cur (in ra, folded, its aggregate published), nxt
  // (its loads in flight in rb), aft (its ticket).
  uint4 ra[kFlatRegVecs], rb[kFlatRegVecs], rc[kFlatRegVecs];
  State before_a[kFlatRegVecs], before_b[kFlatRegVecs];
  if (cur < chunks) {
    load(cur, ra);
    if (nxt < chunks) load(nxt, rb);
    fold(ra, cur, before_a, 0);
    __syncthreads();
  }
  for (int round = 0; cur < chunks; ++round) {
    if (aft < chunks) load(aft, rc);                              // 1.
    if (nxt < chunks) fold(rb, nxt, before_b, (round + 1) & 1);  // 2.
    __syncthreads();                                              // 3. the look-back warp's prefix of cur
    const State prefix = prefix_slot[round & 1];
    const int64_t later = static_cast<int64_t>(ticket_slot[round & 1]);
    if (full(cur))  // 4.
      flat_registers_store<Op, In, Out, kBlock, kFlatRegVecs, true>(ra, base(cur), n, exclusive, prefix, before_a, y);
    else
      flat_registers_store<Op, In, Out, kBlock, kFlatRegVecs, false>(ra, base(cur), n, exclusive, prefix, before_a, y);
#pragma unroll
    for (int k = 0; k < kFlatRegVecs; ++k) {
      ra[k] = rb[k];
      rb[k] = rc[k];
      before_a[k] = before_b[k];
    }
    cur = nxt;
    nxt = aft;
    aft = later;
  }
}

}  // namespace baracuda::sc::cuda
