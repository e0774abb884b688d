#pragma once
// The fused scan kernel: a single-pass decoupled look-back scan (same tiles, same look-back and the
// same deterministic fold as scan_engine.cuh) whose element and output are computed by a Pass from
// several tensors. It serves the scans that scan_lookback_kernel's one-input, one-output form cannot
// express: the backward of cumprod / cummax / cummin / logcumsumexp (and their forward helper
// passes into the workspace), cumsum's backward with a dy dtype other than x's, and dtype=
// conversions of cumsum / cumprod.
//
// Each thread sweeps its kItems positions twice: first it folds Pass::make(q) into the run's
// aggregate, then (with the prefix of everything before it from the block scan and the look-back)
// it recomputes the elements and calls Pass::out(q, before, element), `before` being the exclusive
// prefix at q. The second sweep re-reads what the first one just read (L1/L2 hits), so no run is
// held in registers: the kernel is generic over any state size. Element access goes through a
// runtime dtype (warp-uniform switch), which keeps the instantiations to one per Pass x accumulator.
// Loads are scalar (no 16-byte vectors yet): this path is for correctness first, see
// docs/perf/scan.md.
#include <climits>

#include "kernels/scan_engine.cuh"
#include "ops/scan/cuda/scan_fused_args.hpp"

namespace baracuda::sc::cuda {

// ---- runtime-dtype element access ---------------------------------------------------------------
// Reads element i of a tensor of dtype t as double (integers exactly up to 2^53, as the reference's
// load_as_double).
__device__ __forceinline__ double load_as_double_dev(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f64: return static_cast<const double*>(p)[i];
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::f16: return __half2float(static_cast<const __half*>(p)[i]);
    case DType::bf16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DType::i64: return static_cast<double>(static_cast<const long long*>(p)[i]);
    case DType::i32: return static_cast<const int*>(p)[i];
    case DType::i16: return static_cast<const short*>(p)[i];
    case DType::i8: return static_cast<const signed char*>(p)[i];
    case DType::u8: return static_cast<const unsigned char*>(p)[i];
    case DType::boolean: return static_cast<const unsigned char*>(p)[i] ? 1.0 : 0.0;
    default: return 0.0;
  }
}

// The reference's float -> integer rule: truncate toward zero, saturate, NaN -> 0.
__device__ __forceinline__ long long saturating_trunc_i64(double v) {
  if (v != v) return 0;
  const double t = trunc(v);
  if (t <= -9223372036854775808.0) return LLONG_MIN;
  if (t >= 9223372036854775808.0) return LLONG_MAX;
  return static_cast<long long>(t);
}

// Reads element i as int64 (the reference's load_as_int64: integers exactly, floats truncated).
__device__ __forceinline__ long long load_as_int64_dev(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::i64: return static_cast<const long long*>(p)[i];
    case DType::i32: return static_cast<const int*>(p)[i];
    case DType::i16: return static_cast<const short*>(p)[i];
    case DType::i8: return static_cast<const signed char*>(p)[i];
    case DType::u8: return static_cast<const unsigned char*>(p)[i];
    case DType::boolean: return static_cast<const unsigned char*>(p)[i] ? 1 : 0;
    default: return saturating_trunc_i64(load_as_double_dev(p, t, i));
  }
}

// v rounded to the floating dtype t (one rounding from double, round to nearest even).
__device__ __forceinline__ double round_through(double v, DType t) {
  switch (t) {
    case DType::f32: return static_cast<double>(static_cast<float>(v));
    case DType::f16: return static_cast<double>(__half2float(__double2half(v)));
    case DType::bf16: return static_cast<double>(__bfloat162float(__double2bfloat16(v)));
    default: return v;
  }
}

// Stores v to element i of a floating tensor of dtype t, rounding once.
template <class Acc>
__device__ __forceinline__ void store_float_dev(void* p, DType t, int64_t i, Acc v) {
  switch (t) {
    case DType::f64: static_cast<double*>(p)[i] = static_cast<double>(v); return;
    case DType::f32: static_cast<float*>(p)[i] = static_cast<float>(v); return;
    case DType::f16:
      static_cast<__half*>(p)[i] = sizeof(Acc) == 8 ? __double2half(static_cast<double>(v)) : __float2half_rn(static_cast<float>(v));
      return;
    case DType::bf16:
      static_cast<__nv_bfloat16*>(p)[i] =
          sizeof(Acc) == 8 ? __double2bfloat16(static_cast<double>(v)) : __float2bfloat16_rn(static_cast<float>(v));
      return;
    default: return;
  }
}

// Stores a wrapping 64-bit integer to an integer tensor (wraps like the reference's store_from_int64).
__device__ __forceinline__ void store_int_dev(void* p, DType t, int64_t i, unsigned long long v) {
  switch (t) {
    case DType::i64: static_cast<long long*>(p)[i] = static_cast<long long>(v); return;
    case DType::i32: static_cast<int*>(p)[i] = static_cast<int>(v); return;
    case DType::i16: static_cast<short*>(p)[i] = static_cast<short>(v); return;
    case DType::i8: static_cast<signed char*>(p)[i] = static_cast<signed char>(v); return;
    case DType::u8: static_cast<unsigned char*>(p)[i] = static_cast<unsigned char>(v); return;
    default: return;
  }
}

// One line's view of the pass operands: pointers, dtypes, the element offset of the line's start
// and the stride along the axis of each (copied out of the kernel parameters into registers).
struct FusedLine {
  const void* data[kFusedOperands];
  DType dtype[kFusedOperands];
  int64_t base[kFusedOperands];
  int64_t axis[kFusedOperands];
  DType compute;
  bool round_x;
  __device__ int64_t at(int k, int64_t q) const { return base[k] + q * axis[k]; }
  template <class Acc>
  __device__ Acc ld(int k, int64_t q) const {
    return static_cast<Acc>(load_as_double_dev(data[k], dtype[k], at(k, q)));
  }
  // x (operand kX) as the scan computes it: rounded through the compute dtype first (dtype=).
  template <class Acc>
  __device__ Acc ld_x(int64_t q) const {
    const double v = load_as_double_dev(data[kX], dtype[kX], at(kX, q));
    return static_cast<Acc>(round_x ? round_through(v, compute) : v);
  }
  template <class Acc>
  __device__ void st(int k, int64_t q, Acc v) const {
    store_float_dev<Acc>(const_cast<void*>(data[k]), dtype[k], at(k, q), v);
  }
};

// ---- extra ops (State, identity, combine(earlier, later), load) ---------------------------------
// Affine maps r -> b + a r, composed along the scan: the suffix recurrence of cumprod's backward.
template <class Acc>
struct Affine {
  Acc a, b;
};
template <class Acc>
struct AffineOp {
  using State = Affine<Acc>;
  __device__ static State identity() { return {Acc(1), Acc(0)}; }
  __device__ static State combine(State e, State l) {
    // The identity is returned exactly (an infinite factor times its 0 would give NaN).
    if (e.a == Acc(1) && e.b == Acc(0)) return l;
    return {l.a * e.a, l.b + l.a * e.b};
  }
  __device__ static State load(const State* p) { return {load_cg(&p->a), load_cg(&p->b)}; }
};
template <class Acc>
__device__ __forceinline__ Affine<Acc> shfl(Affine<Acc> v, int src) {
  return {__shfl_sync(0xffffffffu, v.a, src), __shfl_sync(0xffffffffu, v.b, src)};
}

// A sum that restarts after every flagged element: cummax/cummin's backward (dy summed over the
// positions whose index is the flagged one).
template <class Acc>
struct SegSum {
  Acc s;
  long long reset;  // the segment holds a flagged element: s counts only what came after it
};
template <class Acc>
struct SegSumOp {
  using State = SegSum<Acc>;
  __device__ static State identity() { return {Acc(0), 0}; }
  __device__ static State combine(State e, State l) { return l.reset ? l : State{e.s + l.s, e.reset}; }
  __device__ static State load(const State* p) {
    return {load_cg(&p->s), static_cast<long long>(__ldcg(reinterpret_cast<const unsigned long long*>(&p->reset)))};
  }
};
template <class Acc>
__device__ __forceinline__ SegSum<Acc> shfl(SegSum<Acc> v, int src) {
  return {__shfl_sync(0xffffffffu, v.s, src), __shfl_sync(0xffffffffu, v.reset, src)};
}

// Two log-sum-exps side by side (the positive and the negative parts of logcumsumexp's backward).
template <class Acc>
struct LsePair {
  Acc pos, neg;
};
template <class Acc>
struct LsePairOp {
  using One = LogAddExpOp<Acc>;
  using State = LsePair<Acc>;
  __device__ static State identity() { return {One::identity(), One::identity()}; }
  __device__ static State combine(State e, State l) { return {One::combine(e.pos, l.pos), One::combine(e.neg, l.neg)}; }
  __device__ static State load(const State* p) { return {load_cg(&p->pos), load_cg(&p->neg)}; }
};
template <class Acc>
__device__ __forceinline__ LsePair<Acc> shfl(LsePair<Acc> v, int src) {
  return {__shfl_sync(0xffffffffu, v.pos, src), __shfl_sync(0xffffffffu, v.neg, src)};
}

// ---- the kernel ---------------------------------------------------------------------------------
template <class Pass>
__global__ void __launch_bounds__(kThreads)
    scan_fused_kernel(const Pass pass, const FusedArgs args, const Geometry g,
                      const LookbackStorage<typename Pass::Op::State> ws) {
  using Op = typename Pass::Op;
  using State = typename Op::State;
  __shared__ State buf[kThreads];
  __shared__ State carry[kThreads];
  __shared__ unsigned long long tile_id;
  const LookbackTile at = take_lookback_tile(g, ws.counter, tile_id);
  const int64_t tile = at.tile, chunk = at.chunk, kb = at.kb, o = at.o, k = at.k;
  const int W = at.W, S = at.S, c = at.c, s = at.s;
  const bool col_ok = at.col_ok;

  FusedLine line;
  line.compute = args.compute;
  line.round_x = args.round_x;
#pragma unroll
  for (int t = 0; t < kFusedOperands; ++t) {
    line.data[t] = args.opnd[t].data;
    line.dtype[t] = args.opnd[t].dtype;
    line.axis[t] = args.opnd[t].strides.axis;
    line.base[t] = args.opnd[t].data == nullptr || !col_ok
                       ? 0
                       : offset_of(o, g.outer_sizes, args.opnd[t].strides.outer, g.n_outer) +
                             offset_of(k, g.inner_sizes, args.opnd[t].strides.inner, g.n_inner);
  }
  const int64_t p0 = (chunk * S + s) * kItems;  // first position (scan order) of this thread
  auto position = [&](int64_t p) { return g.reverse ? g.n - 1 - p : p; };

  // 1. The run's aggregate (a left fold in scan order; identity for idle columns / past the end).
  State agg = Op::identity();
  if (col_ok) {
#pragma unroll 4
    for (int j = 0; j < kItems; ++j)
      if (p0 + j < g.n) agg = Op::combine(agg, pass.make(line, position(p0 + j)));
  }

  // 2-3. The run's exclusive prefix (subchunk scan + decoupled look-back, as scan_lookback_kernel).
  State before = tile_exclusive_prefix<Op>(buf, carry, agg, ws, tile, chunk, kb, g.inner, W, S, s, c, col_ok);
  if (!col_ok || p0 >= g.n) return;

  // 4. Second sweep: outputs from the exclusive prefix at each position.
#pragma unroll 4
  for (int j = 0; j < kItems; ++j) {
    if (p0 + j >= g.n) break;
    const int64_t q = position(p0 + j);
    const State e = pass.make(line, q);
    pass.out(line, q, before, e);
    before = Op::combine(before, e);
  }
}

}  // namespace baracuda::sc::cuda
