#pragma once
// The scan engine: a single-pass kernel with decoupled look-back for every scan geometry, and a
// warp-per-row kernel for short rows.
//
// A scan of length n along one axis of a tensor is seen as line groups of W columns (W adjacent
// positions of the dims after the axis, W a power of two <= 256) and chunks along the axis. One
// block takes one tile = one chunk of one line group: thread t owns column c = t % W and a run of
// kItems consecutive positions of subchunk s = t / W (S = 256 / W subchunks). So
//   - a flat or long-row scan (nothing after the axis): W = 1, each thread scans 16 consecutive
//     elements (16-byte vector loads/stores when the line is contiguous), the block scans its 256
//     threads, and the line's prefix carries from tile to tile through the look-back;
//   - a scan along an outer dim (columns after the axis): W columns side by side so that a warp's
//     loads are coalesced across the inner dim, each thread sequential along the axis, chunks chained
//     through the look-back: no pathological axis, (1M, 8) along dim 0 is ~2000 parallel tiles.
// The look-back (workspace: a tile counter, one flag and two states per tile column; run() clears
// the counter and the flags with cudaMemsetAsync) is deterministic: a tile walks back to the
// nearest published inclusive prefix and then folds the aggregates forward in sequence order, so
// every prefix is the same fixed-order combination whatever the timing. For W <= 8 one warp per
// column reads 32 predecessors per round trip; wider groups walk one thread per column.
// Short rows (nothing after the axis, n <= kRowKernelMaxLength) take scan_rows_kernel instead: one
// warp per row, prefix carried from step to step, no workspace.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "ops/scan/cuda/scan_geometry.hpp"

namespace baracuda::sc::cuda {

template <class State>
struct LookbackStorage {
  unsigned long long* counter;  // dynamic tile ids: blocks wait only on tiles that already started
  int* flags;                   // [tiles * W]
  State* aggregate;             // [tiles * W]
  State* inclusive;             // [tiles * W]
};

// ---- conversions --------------------------------------------------------------------------------
template <class Acc, class T>
__device__ __forceinline__ Acc to_acc(T v) { return static_cast<Acc>(v); }
template <> __device__ __forceinline__ float to_acc<float, __half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_acc<float, __nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T, class Acc>
__device__ __forceinline__ T from_acc(Acc v) { return static_cast<T>(v); }
template <> __device__ __forceinline__ __half from_acc<__half, float>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_acc<__nv_bfloat16, float>(float v) { return __float2bfloat16_rn(v); }

template <class T> __device__ __forceinline__ bool is_nan(T) { return false; }
template <> __device__ __forceinline__ bool is_nan<float>(float v) { return v != v; }
template <> __device__ __forceinline__ bool is_nan<double>(double v) { return v != v; }

// Reads that bypass L1: another block wrote the value (after a fence) since this SM may have cached it.
__device__ __forceinline__ float load_cg(const float* p) { return __ldcg(p); }
__device__ __forceinline__ double load_cg(const double* p) { return __ldcg(p); }
__device__ __forceinline__ unsigned long long load_cg(const unsigned long long* p) { return __ldcg(p); }
__device__ __forceinline__ long long load_cg(const long long* p) { return __ldcg(p); }

// ---- the ops: State, identity, combine(earlier, later), make(x, position), value ---------------
template <class Acc>
struct SumOp {
  using State = Acc;
  static constexpr bool kIndices = false;
  __device__ static State identity() { return State(0); }
  __device__ static State combine(State a, State b) { return a + b; }
  template <class T> __device__ static State make(T x, int64_t) { return static_cast<State>(to_acc<Acc>(x)); }
  __device__ static State load(const State* p) { return load_cg(p); }
};

template <class Acc>
struct ProdOp {
  using State = Acc;
  static constexpr bool kIndices = false;
  __device__ static State identity() { return State(1); }
  __device__ static State combine(State a, State b) { return a * b; }
  template <class T> __device__ static State make(T x, int64_t) { return static_cast<State>(to_acc<Acc>(x)); }
  __device__ static State load(const State* p) { return load_cg(p); }
};

template <class Acc>
struct LogAddExpOp {
  using State = Acc;
  static constexpr bool kIndices = false;
  __device__ static State identity() { return -static_cast<Acc>(INFINITY); }
  __device__ static State combine(State a, State b) {
    if (is_nan(a) || is_nan(b)) return a + b;
    if (a == -static_cast<Acc>(INFINITY)) return b;
    if (b == -static_cast<Acc>(INFINITY)) return a;
    if (a == b) return a + static_cast<Acc>(0.693147180559945309417232121458176568);  // also inf + inf
    const Acc m = a > b ? a : b;
    const Acc d = a > b ? b - a : a - b;
    return m + log1p(exp(d));
  }
  template <class T> __device__ static State make(T x, int64_t) { return to_acc<Acc>(x); }
  __device__ static State load(const State* p) { return load_cg(p); }
};

template <class Acc>
struct ValueIndex {
  Acc v;
  long long i;  // position in the original order; -1 = the identity (no element yet)
};

// torch's cummax/cummin rule: the later element replaces the running one when it is >= (<=) or
// NaN, unless the running one is NaN. Associative, so a parallel scan reproduces torch exactly.
template <class Acc, bool kMax>
struct MaxMinOp {
  using State = ValueIndex<Acc>;
  static constexpr bool kIndices = true;
  __device__ static State identity() { return {Acc(0), -1}; }
  __device__ static State combine(State a, State b) {
    if (b.i < 0) return a;
    if (a.i < 0) return b;
    const bool take_b = is_nan(b.v) || (!is_nan(a.v) && (kMax ? b.v >= a.v : b.v <= a.v));
    return take_b ? b : a;
  }
  template <class T> __device__ static State make(T x, int64_t pos) { return {to_acc<Acc>(x), static_cast<long long>(pos)}; }
  __device__ static State load(const State* p) {
    State s;
    s.v = load_cg(&p->v);
    s.i = static_cast<long long>(__ldcg(reinterpret_cast<const unsigned long long*>(&p->i)));
    return s;
  }
};

template <class State>
__device__ __forceinline__ auto state_value(const State& s) { return s; }
template <class Acc>
__device__ __forceinline__ Acc state_value(const ValueIndex<Acc>& s) { return s.v; }

// ---- the look-back ------------------------------------------------------------------------------
// Every inclusive prefix is the left fold A_first, A_first+1, ..., A_tile of the tile aggregates: a
// tile folds forward from the nearest published prefix P_j (itself such a fold), so the result is
// the same combination whatever was published when (deterministic for floats).

template <class T>
__device__ __forceinline__ T shfl(T v, int src) { return __shfl_sync(0xffffffffu, v, src); }
template <class Acc>
__device__ __forceinline__ ValueIndex<Acc> shfl(ValueIndex<Acc> v, int src) {
  return {__shfl_sync(0xffffffffu, v.v, src), __shfl_sync(0xffffffffu, v.i, src)};
}

template <class State>
__device__ __forceinline__ void publish(State* where, int* flag, State value, int status) {
  *where = value;
  __threadfence();
  atomicExch(flag, status);
}

// One column, one thread: walk back one tile per round trip (line groups of W > 8 columns, whose
// chains are as many as the columns, in parallel).
template <class Op>
__device__ typename Op::State lookback_serial(const LookbackStorage<typename Op::State>& ws, int64_t tile, bool first,
                                              int W, int c, typename Op::State aggregate) {
  using State = typename Op::State;
  const int64_t slot = tile * W + c;
  if (first) {
    publish(ws.inclusive + slot, ws.flags + slot, aggregate, kFlagPrefix);
    return Op::identity();
  }
  publish(ws.aggregate + slot, ws.flags + slot, aggregate, kFlagAggregate);
  int64_t j = tile - 1;
  for (;;) {
    int f;
    do {
      f = *reinterpret_cast<volatile int*>(ws.flags + j * W + c);
    } while (f == kFlagNone);
    if (f == kFlagPrefix) break;
    --j;
  }
  __threadfence();
  State prefix = Op::load(ws.inclusive + j * W + c);
  for (int64_t m = j + 1; m < tile; ++m) prefix = Op::combine(prefix, Op::load(ws.aggregate + m * W + c));
  publish(ws.inclusive + slot, ws.flags + slot, Op::combine(prefix, aggregate), kFlagPrefix);
  return prefix;
}

// One column, one warp (line groups of W <= 8 columns: warp w serves column w): 32 predecessor flags
// per round trip to find the nearest prefix, then 32 aggregates per round trip, folded in order by
// every lane (no broadcast needed afterwards).
template <class Op>
__device__ typename Op::State lookback_warp(const LookbackStorage<typename Op::State>& ws, int64_t tile,
                                            int64_t first_tile, int W, int c, typename Op::State aggregate) {
  using State = typename Op::State;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int64_t slot = tile * W + c;
  if (tile == first_tile) {
    if (lane == 0) publish(ws.inclusive + slot, ws.flags + slot, aggregate, kFlagPrefix);
    return Op::identity();
  }
  if (lane == 0) publish(ws.aggregate + slot, ws.flags + slot, aggregate, kFlagAggregate);
  int64_t base = tile - 1;
  int64_t j = first_tile;
  for (;;) {
    const int64_t mine = base - lane;
    int f = kFlagNone;
    if (mine >= first_tile) {
      do {
        f = *reinterpret_cast<volatile int*>(ws.flags + mine * W + c);
      } while (f == kFlagNone);
    }
    const unsigned prefixes = __ballot_sync(0xffffffffu, f == kFlagPrefix);
    if (prefixes) {  // the lowest lane is the nearest tile (the group's first tile always has one)
      j = base - (__ffs(prefixes) - 1);
      break;
    }
    base -= 32;
  }
  __threadfence();
  State prefix = Op::load(ws.inclusive + j * W + c);
  for (int64_t m0 = j + 1; m0 < tile; m0 += 32) {
    const State v = m0 + lane < tile ? Op::load(ws.aggregate + (m0 + lane) * W + c) : Op::identity();
    const int count = tile - m0 < 32 ? static_cast<int>(tile - m0) : 32;
    for (int l = 0; l < count; ++l) prefix = Op::combine(prefix, shfl(v, l));
  }
  if (lane == 0) publish(ws.inclusive + slot, ws.flags + slot, Op::combine(prefix, aggregate), kFlagPrefix);
  return prefix;
}

// ---- steps 2 and 3 of a look-back tile (scan_lookback_kernel, scan_fused_kernel) -----------------
// Thread (subchunk s of S, column c of W) holds `aggregate`, the combination of its run. Returns the
// exclusive prefix of the thread's run within the whole line: an exclusive scan over the subchunks
// of each column (Hillis-Steele, stride W in shared memory `buf`), then the tile's prefix per
// column from the decoupled look-back (one warp per column when W <= 8, else the column's last
// thread serially), exchanged through `carry`. Every thread of the block must call it (barriers).
template <class Op>
__device__ __forceinline__ typename Op::State tile_exclusive_prefix(typename Op::State* buf, typename Op::State* carry,
                                                                   typename Op::State aggregate,
                                                                   const LookbackStorage<typename Op::State>& ws,
                                                                   int64_t tile, int64_t chunk, int64_t kb, int64_t inner,
                                                                   int W, int S, int s, int c, bool col_ok) {
  using State = typename Op::State;
  buf[threadIdx.x] = aggregate;
  for (int d = 1; d < S; d <<= 1) {
    __syncthreads();
    State v = buf[threadIdx.x];
    if (s >= d) v = Op::combine(buf[threadIdx.x - d * W], v);
    __syncthreads();
    buf[threadIdx.x] = v;
  }
  __syncthreads();
  const State sub_prefix = s > 0 ? buf[threadIdx.x - W] : Op::identity();
  if (W <= kThreads / 32) {
    const int warp = static_cast<int>(threadIdx.x) >> 5;
    if (warp < W) {
      const bool column_ok = kb * W + warp < inner;
      const State prefix = column_ok ? lookback_warp<Op>(ws, tile, tile - chunk, W, warp, buf[(S - 1) * W + warp])
                                     : Op::identity();
      if ((threadIdx.x & 31) == 0) carry[warp] = prefix;
    }
  } else if (s == S - 1) {
    carry[c] = col_ok ? lookback_serial<Op>(ws, tile, chunk == 0, W, c, buf[threadIdx.x]) : Op::identity();
  }
  __syncthreads();
  return Op::combine(carry[c], sub_prefix);
}

// ---- one thread's run of kItems consecutive positions (scan order) of one line -----------------
// Loads x at positions p0 .. p0 + kItems - 1 (identity past the end) and scans them in registers;
// 16-byte vector loads when the run is whole, forward and contiguous.
template <class Op, class In>
__device__ __forceinline__ void load_run(const In* x, int64_t base, int64_t stride, int64_t p0, const Geometry& g,
                                         typename Op::State (&loc)[kItems]) {
  const bool vec = p0 + kItems <= g.n && !g.reverse && stride == 1 &&
                   (reinterpret_cast<uintptr_t>(x + base + p0) % 16) == 0;
  if (vec) {
    alignas(16) In v[kItems];
    const uint4* src = reinterpret_cast<const uint4*>(x + base + p0);
#pragma unroll
    for (int q = 0; q < static_cast<int>(sizeof(v) / 16); ++q) reinterpret_cast<uint4*>(v)[q] = __ldg(src + q);
#pragma unroll
    for (int j = 0; j < kItems; ++j) loc[j] = Op::make(v[j], p0 + j);
  } else {
#pragma unroll
    for (int j = 0; j < kItems; ++j) {
      const int64_t p = p0 + j;
      if (p < g.n) {
        const int64_t q = g.reverse ? g.n - 1 - p : p;
        loc[j] = Op::make(x[base + q * stride], q);
      } else {
        loc[j] = Op::identity();
      }
    }
  }
#pragma unroll
  for (int j = 1; j < kItems; ++j) loc[j] = Op::combine(loc[j - 1], loc[j]);
}

// Writes the run's results given the prefix of everything before it (values, and indices for
// cummax/cummin); exclusive scans shift by one.
template <class Op, class Out>
__device__ __forceinline__ void store_run(Out* y, int64_t base, int64_t stride, int64_t* yidx, int64_t idx_base,
                                          int64_t idx_stride, int64_t p0, const Geometry& g,
                                          typename Op::State prefix, const typename Op::State (&loc)[kItems]) {
  using State = typename Op::State;
  State res[kItems];
#pragma unroll
  for (int j = 0; j < kItems; ++j)
    res[j] = g.exclusive ? (j == 0 ? prefix : Op::combine(prefix, loc[j - 1])) : Op::combine(prefix, loc[j]);
  const bool vec = p0 + kItems <= g.n && !g.reverse && stride == 1 &&
                   (reinterpret_cast<uintptr_t>(y + base + p0) % 16) == 0;
  if (vec) {
    alignas(16) Out v[kItems];
#pragma unroll
    for (int j = 0; j < kItems; ++j) v[j] = from_acc<Out>(state_value(res[j]));
    uint4* dst = reinterpret_cast<uint4*>(y + base + p0);
#pragma unroll
    for (int q = 0; q < static_cast<int>(sizeof(v) / 16); ++q) dst[q] = reinterpret_cast<const uint4*>(v)[q];
  } else {
#pragma unroll
    for (int j = 0; j < kItems; ++j) {
      const int64_t p = p0 + j;
      if (p < g.n) y[base + (g.reverse ? g.n - 1 - p : p) * stride] = from_acc<Out>(state_value(res[j]));
    }
  }
  if constexpr (Op::kIndices) {
#pragma unroll
    for (int j = 0; j < kItems; ++j) {
      const int64_t p = p0 + j;
      if (p < g.n) yidx[idx_base + (g.reverse ? g.n - 1 - p : p) * idx_stride] = res[j].i;
    }
  }
}

// ---- the kernel ---------------------------------------------------------------------------------
__device__ __forceinline__ int64_t offset_of(int64_t index, const int64_t* sizes, const int64_t* strides, int ndims) {
  int64_t off = 0;
  for (int d = ndims - 1; d >= 0; --d) {
    const int64_t q = index / sizes[d];
    off += (index - q * sizes[d]) * strides[d];
    index = q;
  }
  return off;
}

// A look-back tile's place, from its ticket (tickets go in block start order, so every tile's
// predecessors are already running): the chunk along the axis, the column block `kb`, the outer
// index `o`, and this thread's column `c` (global column `k`, `col_ok` when inside the line's
// columns) and sub-chunk `s` of S = kThreads / W. Every thread calls it: thread 0 takes the ticket
// into `tile_id` (shared), then one barrier.
struct LookbackTile {
  int64_t tile, chunk, kb, o, k;
  int W, S, c, s;
  bool col_ok;
};
__device__ __forceinline__ LookbackTile take_lookback_tile(const Geometry& g, unsigned long long* counter,
                                                           unsigned long long& tile_id) {
  if (threadIdx.x == 0) tile_id = atomicAdd(counter, 1ull);
  __syncthreads();
  LookbackTile t;
  t.tile = static_cast<int64_t>(tile_id);
  t.chunk = t.tile % g.chunks;
  const int64_t group = t.tile / g.chunks;
  t.kb = group % g.col_blocks;
  t.o = group / g.col_blocks;
  t.W = g.width;
  t.S = kThreads / t.W;
  t.c = static_cast<int>(threadIdx.x) % t.W;
  t.s = static_cast<int>(threadIdx.x) / t.W;
  t.k = t.kb * t.W + t.c;
  t.col_ok = t.k < g.inner;
  return t;
}

template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads)
    scan_lookback_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t* __restrict__ yidx, const Geometry g,
                         const LookbackStorage<typename Op::State> ws) {
  using State = typename Op::State;
  __shared__ State buf[kThreads];
  __shared__ State carry[kThreads];
  __shared__ unsigned long long tile_id;
  const LookbackTile at = take_lookback_tile(g, ws.counter, tile_id);
  const int64_t tile = at.tile, chunk = at.chunk, kb = at.kb, o = at.o, k = at.k;
  const int W = at.W, S = at.S, c = at.c, s = at.s;
  const bool col_ok = at.col_ok;

  int64_t in_base = 0, out_base = 0;
  [[maybe_unused]] int64_t idx_base = 0;
  if (col_ok) {
    in_base = offset_of(o, g.outer_sizes, g.in.outer, g.n_outer) + offset_of(k, g.inner_sizes, g.in.inner, g.n_inner);
    out_base = offset_of(o, g.outer_sizes, g.out.outer, g.n_outer) + offset_of(k, g.inner_sizes, g.out.inner, g.n_inner);
    if constexpr (Op::kIndices)
      idx_base = offset_of(o, g.outer_sizes, g.idx.outer, g.n_outer) + offset_of(k, g.inner_sizes, g.idx.inner, g.n_inner);
  }
  const int64_t p0 = (chunk * S + s) * kItems;  // first position (scan order) of this thread

  // 1. Load and scan the thread's run in registers (identity for idle columns and past the end).
  State loc[kItems];
  if (col_ok) {
    load_run<Op>(x, in_base, g.in.axis, p0, g, loc);
  } else {
#pragma unroll
    for (int j = 0; j < kItems; ++j) loc[j] = Op::identity();
  }

  // 2-3. The run's exclusive prefix: subchunk scan in the block, then the decoupled look-back.
  const State thread_prefix = tile_exclusive_prefix<Op>(buf, carry, loc[kItems - 1], ws, tile, chunk, kb, g.inner, W, S,
                                                        s, c, col_ok);
  if (!col_ok || p0 >= g.n) return;

  // 4. Outputs.
  store_run<Op>(y, out_base, g.out.axis, yidx, idx_base, g.idx.axis, p0, g, thread_prefix, loc);
}

// Short rows (nothing after the axis, n <= kRowKernelMaxLength): one warp per row, 32 lanes x kItems
// positions per step, the row's prefix carried from step to step; no workspace, no look-back.
template <class T>
__device__ __forceinline__ T shfl_up(T v, int delta) { return __shfl_up_sync(0xffffffffu, v, delta); }
template <class Acc>
__device__ __forceinline__ ValueIndex<Acc> shfl_up(ValueIndex<Acc> v, int delta) {
  return {__shfl_up_sync(0xffffffffu, v.v, delta), __shfl_up_sync(0xffffffffu, v.i, delta)};
}

template <class Op, class In, class Out>
__global__ void __launch_bounds__(kThreads)
    scan_rows_kernel(const In* __restrict__ x, Out* __restrict__ y, int64_t* __restrict__ yidx, const Geometry g) {
  using State = typename Op::State;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (kThreads / 32) + (threadIdx.x >> 5);
  if (row >= g.outer) return;  // whole warps leave together
  const int64_t in_base = offset_of(row, g.outer_sizes, g.in.outer, g.n_outer);
  const int64_t out_base = offset_of(row, g.outer_sizes, g.out.outer, g.n_outer);
  [[maybe_unused]] int64_t idx_base = 0;
  if constexpr (Op::kIndices) idx_base = offset_of(row, g.outer_sizes, g.idx.outer, g.n_outer);
  State carry = Op::identity();
  for (int64_t step = 0; step < g.n; step += 32 * kItems) {
    const int64_t p0 = step + static_cast<int64_t>(lane) * kItems;
    State loc[kItems];
    load_run<Op>(x, in_base, g.in.axis, p0, g, loc);
    // Inclusive scan of the lane totals (fixed shuffle tree: deterministic).
    State total = loc[kItems - 1];
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
      const State other = shfl_up(total, d);
      if (lane >= d) total = Op::combine(other, total);
    }
    State before = shfl_up(total, 1);
    if (lane == 0) before = Op::identity();
    if (p0 < g.n) store_run<Op>(y, out_base, g.out.axis, yidx, idx_base, g.idx.axis, p0, g, Op::combine(carry, before), loc);
    carry = Op::combine(carry, shfl(total, 31));
  }
}

}  // namespace baracuda::sc::cuda
