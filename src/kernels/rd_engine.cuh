#pragma once
// The CUDA reduction engines, driven by the accumulator functors of rd_functors.cuh.
//
//  * row: the group is contiguous ("[M, N] reduce N"). A team (one warp for short rows, the
//    whole 256-thread block for long ones) reduces one row with 16-byte loads, four in flight per
//    thread; a short unaligned head and the tail go element by element. Long rows with few
//    outputs (a full reduction) are cut into `splits` chunks whose partial states go to the
//    workspace.
//  * column: the last kept dim is contiguous ("[outer, R, inner] reduce R"). A 32x8 block: the
//    32 lanes take adjacent outputs (V adjacent columns each with vector loads when the layout
//    allows, else one output each through int64 strided offsets: the generic fallback), the 8
//    rows of threads split the group, and `splits` blocks along y split it further.
//    A group of contiguous runs whose dims do not merge ([A, B, C] reduced over {0, 2}) takes
//    the row engine too, a warp per run (accumulate_runs).
//  * finalize: combines the `splits` partial states of each output in chunk order and writes it.
// Every kernel begins with kernels::pdl_enter: on sm_90+ they go out as programmatic dependent
// launches unless BARACUDA_PDL=0 (LaunchContext::pdl, kernels/pdl.cuh).
//
// Typed kernels exist for the floating inputs in their natural accumulator (f32/f16/bf16 in f32,
// f64 in f64). Integer and bool inputs and dtype= overrides (sum of i32 in f32, ...) read through
// a run-time dtype switch (DynIn) in the strided column kernel, whatever the layout: correct
// everywhere, fast only where it matters, and a small number of instantiations. (The exception:
// any / all / count_nonzero of 1-byte inputs read them as raw bytes, rd_launch_logical.cu.)
//
// Every combination happens in a fixed order (a fixed shuffle tree, fixed shared-memory order,
// chunk order), so results are deterministic: no atomics. Nothing allocates or synchronizes.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

#include "kernels/ew_load_store.cuh"
#include "kernels/pdl.cuh"
#include "kernels/rd_functors.cuh"
#include "ops/reduce/cuda/rd_problem.hpp"

namespace baracuda::rd::cuda {

using ew::cuda::from_compute;
using ew::cuda::load_dyn;
using ew::cuda::store_dyn;
using ew::cuda::to_compute;

inline constexpr int kBlock = 256;    // row and finalize blocks
inline constexpr int kColRows = kColumnRows;
inline constexpr int kUnroll = 4;     // loads in flight per thread

// Element offset of output element `o` in a tensor laid out over the kept dims with `stride`.
__device__ __forceinline__ int64_t kept_offset(const KeptDims& k, const int64_t* stride, int64_t o) {
  int64_t off = 0;
  for (int d = k.n - 1; d >= 0; --d) {
    const int64_t i = o % k.size[d];
    o /= k.size[d];
    off += i * stride[d];
  }
  return off;
}

// Element offset of group element `r` in x.
__device__ __forceinline__ int64_t reduced_offset(const ReducedDims& red, int64_t r) {
  if (red.n == 1) return r * red.x_stride[0];
  int64_t off = 0;
  for (int d = red.n - 1; d >= 0; --d) {
    const int64_t i = r % red.size[d];
    r /= red.size[d];
    off += i * red.x_stride[d];
  }
  return off;
}

// Receives an op's results for output element `o`: into the outputs (converted to their dtype,
// through their strides) or, in stats mode, as f64 pairs into the workspace.
struct Writer {
  const OutputSpec& out;
  const KeptDims& kept;
  int64_t o;
  template <class V>
  __device__ void put(int k, V v) const {
    if (out.stats != nullptr) {
      out.stats[2 * o + k] = static_cast<double>(v);
      return;
    }
    const int64_t off = kept_offset(kept, kept.out_stride[k], o);
    store_dyn<V>(static_cast<char*>(out.data[k]) + off * static_cast<int64_t>(dtype_size(out.dtype[k])), out.dtype[k], v);
  }
};

template <class State>
__device__ __forceinline__ State shfl_down_state(const State& s, int delta) {
  static_assert(sizeof(State) % 4 == 0, "states are shuffled as 32-bit words");
  constexpr int kWords = sizeof(State) / 4;
  uint32_t w[kWords];
  memcpy(w, &s, sizeof(State));
#pragma unroll
  for (int i = 0; i < kWords; ++i) w[i] = __shfl_down_sync(0xffffffffu, w[i], delta);
  State r;
  memcpy(&r, w, sizeof(State));
  return r;
}

// Combines the states of a team of `team` threads (1, 32 or the whole 1-D block) in a fixed
// tree; the result is valid in the team's first thread. Block teams stage one state per warp in
// `smem`; every thread of the block must call it.
template <class Op, class State>
__device__ __forceinline__ State team_reduce(const Op& op, State s, int team, State* smem) {
  if (team == 1) return s;
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) s = op.combine(s, shfl_down_state(s, d));
  if (team == 32) return s;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // the previous round's readers are done with smem
  if (lane == 0) smem[warp] = s;
  __syncthreads();
  if (warp == 0) {
    s = lane < static_cast<int>(blockDim.x / 32) ? smem[lane] : op.init();
#pragma unroll
    for (int d = 16; d > 0; d >>= 1) s = op.combine(s, shfl_down_state(s, d));
  }
  return s;
}

// The input storage type when only the run-time dtype says it (loaded through load_dyn): integer,
// bool and mixed-precision inputs, which take the strided engine only. This keeps the number of
// kernel instantiations small; the fast paths are the floating inputs in their natural accumulator.
struct DynIn {};

// V adjacent elements through one load of V * sizeof(In) bytes (at most 16, aligned to that).
template <class In, int V>
struct Pack {
  In v[V];
};
template <int Bytes>
struct RawWord;
template <> struct RawWord<16> { using type = uint4; };
template <> struct RawWord<8> { using type = uint2; };
template <> struct RawWord<4> { using type = unsigned int; };
template <> struct RawWord<2> { using type = unsigned short; };
template <> struct RawWord<1> { using type = unsigned char; };

template <class In, int V>
__device__ __forceinline__ Pack<In, V> load_pack(const In* p) {
  using Raw = typename RawWord<V * sizeof(In)>::type;
  const Raw raw = __ldg(reinterpret_cast<const Raw*>(p));
  Pack<In, V> out;
  memcpy(&out, &raw, sizeof(Raw));
  return out;
}

template <class Op, class In, int V>
__device__ __forceinline__ void add_loaded(const Op& op, typename Op::State& s, const Pack<In, V>& pk, int64_t idx0) {
  using A = typename Op::Acc;
  // Ops that work on the stored type directly (ExtremeOp: packed 16-bit max/min) go first.
  if constexpr (requires { op.template add_raw<In, V>(s, pk.v, idx0); }) {
    if (op.template add_raw<In, V>(s, pk.v, idx0)) return;
  }
  A v[V];
#pragma unroll
  for (int k = 0; k < V; ++k) v[k] = to_compute<A>(pk.v[k]);
  add_pack(op, s, v, idx0);
}

// One thread's share of the contiguous elements [lo, hi) of `row`, for a team of `team` threads.
template <class Op, class In>
__device__ __forceinline__ void accumulate_contiguous(const Op& op, typename Op::State& s, const In* row, int64_t lo,
                                                      int64_t hi, int rank, int team) {
  using A = typename Op::Acc;
  constexpr int V = 16 / sizeof(In);
  const int64_t len = hi - lo;
  if (len <= 0) return;
  const In* p0 = row + lo;
  const int misaligned = static_cast<int>((reinterpret_cast<uintptr_t>(p0) % 16) / sizeof(In));
  const int64_t head = len < (V - misaligned) % V ? len : (V - misaligned) % V;  // < V <= team
  if (rank < head) op.add(s, to_compute<A>(p0[rank]), lo + rank);
  const In* body = p0 + head;
  const int64_t packs = (len - head) / V;
  const int64_t body_idx = lo + head;
  int64_t k = rank;
  // One running pointer and index (not a 64-bit product per load): fewer live registers under
  // the 64-register bound of kResidentBlocks.
  const In* q = body + k * V;
  int64_t qi = body_idx + k * V;
  const int64_t step = static_cast<int64_t>(team) * V;
  for (; k + (kUnroll - 1) * team < packs; k += kUnroll * team, q += kUnroll * step, qi += kUnroll * step) {
    Pack<In, V> pk[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) pk[u] = load_pack<In, V>(q + u * step);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) add_loaded(op, s, pk[u], qi + u * step);
  }
  for (; k < packs; k += team) add_loaded(op, s, load_pack<In, V>(body + k * V), body_idx + k * V);
  // Ops that recorded only the winning pack (ExtremeOp::add_raw) find the position in it now,
  // before the tail's exact positions and before any combination compares positions.
  if constexpr (requires { op.pending_pack(s); }) {
    const int64_t at = op.pending_pack(s);
    if (at >= 0) op.template resolve_pack<In, V>(s, load_pack<In, V>(row + at).v, at);
  }
  const int64_t t = head + packs * V + rank;  // the tail: fewer than V elements
  if (t < len) op.add(s, to_compute<A>(p0[t]), lo + t);
}

// One thread's share of the group elements [lo, hi) when the group is made of contiguous runs
// of `run` elements (ForwardProblem::run; lo and hi on run boundaries). Each warp of the team
// takes whole runs in turn and reads each with the vector loads above, so a warp's loads stay
// contiguous however far apart the runs lie (the strided column kernel read such groups one
// element per thread). (Folding this loop and the plain row into one accumulate_contiguous call
// site kept more values live across the load loop: every row kernel spilled.)
template <class Op, class In>
__device__ __forceinline__ void accumulate_runs(const Op& op, typename Op::State& s, const In* base,
                                                const ReducedDims& red, int64_t run, int64_t lo, int64_t hi,
                                                int rank, int team) {
  const int warps = team / 32, warp = rank / 32, lane = rank % 32;  // teams are whole warps
  const int64_t end = hi / run;
  for (int64_t j = lo / run + warp; j < end; j += warps) {
    const int64_t r0 = j * run;
    // One outer reduced dim (the common case) needs no division per run: 64-bit divisions ahead
    // of every run's loads would stall each warp once per 2 KiB.
    const int64_t off = red.n == 2 ? j * red.x_stride[0] : reduced_offset(red, r0);
    // `row + r` addresses group element r of this run, so the positions the ops record (argmax)
    // are group positions and accumulate_contiguous's pack re-read lands on the right bytes.
    const In* row = base + (off - r0);
    accumulate_contiguous(op, s, row, r0, r0 + run, lane, 32);
  }
}

// kRuns: the group is made of contiguous runs (ForwardProblem::run != 0, accumulate_runs), chosen
// at compile time: with the run-time branch in every row kernel the plain rows (p.run == 0) ran
// 2-5% slower on the H200 (bf16 16384 x 16384 amax 0.1299 -> 0.1364 ms); the kRuns = false
// kernels are the plain row kernel as it was before runs existed.
template <class In, class Op, bool kRuns = false>
__global__ void __launch_bounds__(kBlock, kResidentBlocks) row_kernel(ForwardProblem p, const In* __restrict__ x, OutputSpec out,
                                                     typename Op::State* partials, Op op) {
  kernels::pdl_enter();
  using State = typename Op::State;
  __shared__ State smem[kBlock / 32];
  const int team = p.warp_per_row ? 32 : static_cast<int>(blockDim.x);
  const int rank = static_cast<int>(threadIdx.x) % team;
  const int64_t teams = static_cast<int64_t>(gridDim.x) * blockDim.x / team;
  const int64_t work = p.M * p.splits;
  for (int64_t w = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / team; w < work; w += teams) {
    const int64_t o = w / p.splits;
    const int c = static_cast<int>(w % p.splits);
    const int64_t lo = c * p.chunk;
    const int64_t hi = lo + p.chunk < p.N ? lo + p.chunk : p.N;
    State s = op.init();
    if constexpr (kRuns) accumulate_runs(op, s, x + kept_offset(p.kept, p.kept.x_stride, o), p.red, p.run, lo, hi, rank, team);
    else accumulate_contiguous(op, s, x + kept_offset(p.kept, p.kept.x_stride, o), lo, hi, rank, team);
    s = team_reduce(op, s, team, smem);
    if (rank == 0) {
      if (p.splits == 1) {
        Writer wr{out, p.kept, o};
        op.finish(s, wr);
      } else {
        partials[c * p.M + o] = s;
      }
    }
  }
}

template <class In, class Op, int V>
__global__ void __launch_bounds__(32 * kColRows, kResidentBlocks) column_kernel(ForwardProblem p, const In* __restrict__ x, OutputSpec out,
                                                               typename Op::State* partials, Op op) {
  kernels::pdl_enter();
  using State = typename Op::State;
  using A = typename Op::Acc;
  __shared__ State smem[kColRows][32][V];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t o0 = (static_cast<int64_t>(blockIdx.x) * 32 + tx) * V;  // first of this thread's V outputs
  const bool active = o0 < p.M;
  const int c = blockIdx.y;
  const int64_t lo = c * p.chunk;
  const int64_t hi = lo + p.chunk < p.N ? lo + p.chunk : p.N;
  State s[V];
#pragma unroll
  for (int v = 0; v < V; ++v) s[v] = op.init();
  if (active) {
    // Loads V adjacent columns at group row r in their stored type (DynIn: already converted);
    // the conversion to the accumulator happens at the add, so the registers holding loads in
    // flight are the raw 16 bytes, not V accumulators.
    using Raw = std::conditional_t<std::is_same_v<In, DynIn>, A, In>;
    const int64_t base = kept_offset(p.kept, p.kept.x_stride, o0);
    auto load = [&](int64_t r) {
      Pack<Raw, V> a;
      const int64_t off = base + reduced_offset(p.red, r);
      if constexpr (std::is_same_v<In, DynIn>) {
        const int64_t esize = static_cast<int64_t>(dtype_size(p.x_dtype));
        a.v[0] = load_dyn<A>(reinterpret_cast<const char*>(x) + off * esize, p.x_dtype);
      } else if constexpr (V == 1) {
        a.v[0] = x[off];
      } else {
        a = load_pack<In, V>(x + off);
      }
      return a;
    };
    constexpr int U = kUnroll;
    int64_t r = lo + ty;
    for (; r + (U - 1) * kColRows < hi; r += U * kColRows) {
      Pack<Raw, V> pk[U];
#pragma unroll
      for (int u = 0; u < U; ++u) pk[u] = load(r + u * kColRows);
#pragma unroll
      for (int u = 0; u < U; ++u)
#pragma unroll
        for (int v = 0; v < V; ++v) op.add(s[v], to_compute<A>(pk[u].v[v]), r + u * kColRows);
    }
    for (; r < hi; r += kColRows) {
      const Pack<Raw, V> pk = load(r);
#pragma unroll
      for (int v = 0; v < V; ++v) op.add(s[v], to_compute<A>(pk.v[v]), r);
    }
  }
#pragma unroll
  for (int v = 0; v < V; ++v) smem[ty][tx][v] = s[v];
  __syncthreads();
  if (ty != 0 || !active) return;
  // Not unrolled: once per thread, and the output writer's dtype switch unrolled V times made
  // ptxas spend minutes on each 8-wide kernel of 8-byte states (LogicalOp: 163 s apiece).
#pragma unroll 1
  for (int v = 0; v < V; ++v) {
    State t = smem[0][tx][v];
    for (int y = 1; y < kColRows; ++y) t = op.combine(t, smem[y][tx][v]);
    const int64_t o = o0 + v;
    if (p.splits == 1) {
      Writer wr{out, p.kept, o};
      op.finish(t, wr);
    } else {
      partials[c * p.M + o] = t;
    }
  }
}

// Combines each output's partial states (chunk order within each thread, then a fixed tree) with
// a team of `team` threads per output: 1 when there are few chunks, else a warp or a block.
template <class Op>
__global__ void __launch_bounds__(kBlock) finalize_kernel(ForwardProblem p, OutputSpec out,
                                                          const typename Op::State* partials, Op op, int team) {
  kernels::pdl_enter();
  using State = typename Op::State;
  __shared__ State smem[kBlock / 32];
  const int rank = static_cast<int>(threadIdx.x) % team;
  const int64_t teams = static_cast<int64_t>(gridDim.x) * blockDim.x / team;
  for (int64_t o = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / team; o < p.M; o += teams) {
    State s = op.init();
    for (int c = rank; c < p.splits; c += team) s = op.combine(s, partials[c * p.M + o]);
    s = team_reduce(op, s, team, smem);
    if (rank == 0) {
      Writer wr{out, p.kept, o};
      op.finish(s, wr);
    }
  }
}

// The widest column pack: at most 16 bytes and 8 columns, and 8 x 32 x V states in 32 KB of
// shared memory.
template <class In, class State>
constexpr int column_vec() {
  int v = 16 / static_cast<int>(sizeof(In));
  if (v > 8) v = 8;
  while (v > 1 && v * static_cast<int>(sizeof(State)) > 128) v /= 2;
  return v;
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Launches one forward reduction with functor `op` on input storage type In.
template <class In, class Op>
Status launch_engine(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                     const LaunchContext& ctx, const Op& op) {
  using State = typename Op::State;
  static_assert(sizeof(State) <= kMaxStateBytes, "booked partial-state size");
  auto stream = static_cast<cudaStream_t>(ctx.stream);
  auto* part = static_cast<State*>(partials);
  const int64_t grid_cap = static_cast<int64_t>(ctx.sm_count) * 32;  // the kernels grid-stride beyond
  const In* xs = static_cast<const In*>(x);
  if constexpr (std::is_same_v<In, DynIn>) {
    // Any geometry through the strided column kernel (a row tactic's chunks are group ranges too).
    const dim3 grid(static_cast<unsigned>(ceil_div(p.M, 32)), static_cast<unsigned>(p.splits));
    BARACUDA_TRY(kernels::launch_kernel({grid, dim3(32, kColRows), 0, stream, ctx.pdl}, "reduce", "reduce", "",
                                        column_kernel<In, Op, 1>, p, xs, out, part, op));
  } else if (p.engine == Engine::row) {
    const int64_t teams_per_block = p.warp_per_row ? kBlock / 32 : 1;
    const int64_t blocks = std::min(ceil_div(p.M * p.splits, teams_per_block), grid_cap);
    const kernels::KernelLaunch l{dim3(static_cast<unsigned>(blocks)), dim3(kBlock), 0, stream, ctx.pdl};
    if (p.run != 0) BARACUDA_TRY(kernels::launch_kernel(l, "reduce", "reduce", "", row_kernel<In, Op, true>, p, xs, out, part, op));
    else BARACUDA_TRY(kernels::launch_kernel(l, "reduce", "reduce", "", row_kernel<In, Op, false>, p, xs, out, part, op));
  } else {
    constexpr int VM = column_vec<In, State>();
    const bool vec = VM > 1 && p.vec > 1 && reinterpret_cast<uintptr_t>(x) % (VM * sizeof(In)) == 0;
    const dim3 grid(static_cast<unsigned>(ceil_div(vec ? p.M / VM : p.M, 32)), static_cast<unsigned>(p.splits));
    const kernels::KernelLaunch l{grid, dim3(32, kColRows), 0, stream, ctx.pdl};
    if constexpr (VM > 1) {
      if (vec) BARACUDA_TRY(kernels::launch_kernel(l, "reduce", "reduce", "", column_kernel<In, Op, VM>, p, xs, out, part, op));
      else BARACUDA_TRY(kernels::launch_kernel(l, "reduce", "reduce", "", column_kernel<In, Op, 1>, p, xs, out, part, op));
    } else {
      BARACUDA_TRY(kernels::launch_kernel(l, "reduce", "reduce", "", column_kernel<In, Op, 1>, p, xs, out, part, op));
    }
  }
  if (p.splits == 1) return Status::ok();
  const int team = p.splits <= 64 ? 1 : (p.M >= ctx.sm_count * 8 ? 32 : kBlock);
  const int64_t blocks = std::min(ceil_div(p.M * team, kBlock), grid_cap);
  return kernels::launch_kernel({dim3(static_cast<unsigned>(blocks)), dim3(kBlock), 0, stream, ctx.pdl}, "reduce",
                                "reduce finalize", "", finalize_kernel<Op>, p, out, part, op, team);
}

// One accumulator type: the floating inputs in their natural accumulator (f32/f16/bf16 in f32,
// f64 in f64) get typed kernels; every other (input, accumulator) pair takes DynIn.
template <class A, template <class> class OpT>
Status launch_with_acc(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                       const LaunchContext& ctx) {
  const OpT<A> op(p.op);
  if constexpr (std::is_same_v<A, float>) {
    switch (p.x_dtype) {
      case DType::f32: return launch_engine<float>(p, x, out, partials, ctx, op);
      case DType::f16: return launch_engine<__half>(p, x, out, partials, ctx, op);
      case DType::bf16: return launch_engine<__nv_bfloat16>(p, x, out, partials, ctx, op);
      default: break;
    }
  } else if constexpr (std::is_same_v<A, double>) {
    if (p.x_dtype == DType::f64) return launch_engine<double>(p, x, out, partials, ctx, op);
  }
  return launch_engine<DynIn>(p, x, out, partials, ctx, op);
}

// One functor family; IntAcc: whether it also has integer math (i64 accumulator).
template <template <class> class OpT, bool IntAcc>
Status launch_family(const ForwardProblem& p, const void* x, const OutputSpec& out, void* partials,
                     const LaunchContext& ctx) {
  switch (p.acc) {
    case DType::f32: return launch_with_acc<float, OpT>(p, x, out, partials, ctx);
    case DType::f64: return launch_with_acc<double, OpT>(p, x, out, partials, ctx);
    default:
      if constexpr (IntAcc) return launch_with_acc<int64_t, OpT>(p, x, out, partials, ctx);
      else return internal_error("[reduce] no integer kernel for " + std::string(reduce_op_info(p.op.op).name));
  }
}

}  // namespace baracuda::rd::cuda
