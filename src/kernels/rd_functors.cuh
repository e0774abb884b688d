#pragma once
// Accumulator functors of the CUDA reductions. Every op is a small state machine over its
// accumulator type A (float for f32/f16/bf16 inputs, double for f64, int64_t for integer math):
//
//   State init();                               the identity (an empty group)
//   void add(State&, A v, int64_t idx);         one element; idx = its position in the group
//   void add_pack<V>(State&, const A (&)[V], idx0)   optional: V adjacent elements at once
//   State combine(State a, State b);            merge two partial states (a holds lower positions
//                                               when the engines can tell; order is fixed, so
//                                               results are deterministic)
//   void finish(const State&, W& w);            w.put(k, value) for each result k
//
// One functor serves several ops through OpParams (sum/mean/nansum/nanmean share SumOp, the six
// max/min-like ops share ExtremeOp, ...), which keeps the number of kernel instantiations small.
// In stats mode (OpParams::stats) finish() writes what the backward pass needs instead (see
// each functor). Semantics follow the CPU reference (ops/reduce/ref/reduce_ref_math.cpp).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/reduce/cuda/rd_problem.hpp"

namespace baracuda::rd::cuda {

template <class A>
__device__ __forceinline__ bool is_nan(A v) {
  if constexpr (std::is_floating_point_v<A>) return v != v;
  else return false;
}
__device__ __forceinline__ float exp_of(float v) { return expf(v); }
__device__ __forceinline__ double exp_of(double v) { return exp(v); }
__device__ __forceinline__ float log_of(float v) { return logf(v); }
__device__ __forceinline__ double log_of(double v) { return log(v); }
__device__ __forceinline__ float pow_of(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double pow_of(double a, double b) { return pow(a, b); }
template <class A>
__device__ __forceinline__ A abs_of(A v) {
  if constexpr (std::is_floating_point_v<A>) return fabs(v);
  else return v < 0 ? -v : v;
}
template <class A>
__device__ __forceinline__ A quiet_nan() {
  return std::numeric_limits<A>::quiet_NaN();
}

// Integer sums and products wrap like int64 (through uint64: signed overflow is undefined).
template <class A>
__device__ __forceinline__ A add_wrap(A a, A b) {
  if constexpr (std::is_integral_v<A>) return static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else return a + b;
}
template <class A>
__device__ __forceinline__ A mul_wrap(A a, A b) {
  if constexpr (std::is_integral_v<A>) return static_cast<A>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  else return a * b;
}

// max / min of two floats that return NaN when either is NaN (fmaxf/fminf ignore NaN).
__device__ __forceinline__ float max_nan_f32(float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  float r;
  asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
#else
  return (a != a || b != b) ? a + b : fmaxf(a, b);
#endif
}
__device__ __forceinline__ float min_nan_f32(float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  float r;
  asm("min.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
#else
  return (a != a || b != b) ? a + b : fminf(a, b);
#endif
}

__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ double widen(double v) { return v; }
__device__ __forceinline__ float widen(__half v) { return __half2float(v); }
__device__ __forceinline__ float widen(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ __half2 pair_of(__half a, __half b) { return __halves2half2(a, b); }
__device__ __forceinline__ __nv_bfloat162 pair_of(__nv_bfloat16 a, __nv_bfloat16 b) { return __halves2bfloat162(a, b); }

// Default pack accumulation: element by element.
template <class Op, class State, class A, int V>
__device__ __forceinline__ void add_pack(const Op& op, State& s, const A (&v)[V], int64_t idx0) {
  if constexpr (requires { op.template add_pack<V>(s, v, idx0); }) {
    op.template add_pack<V>(s, v, idx0);
  } else {
#pragma unroll
    for (int k = 0; k < V; ++k) op.add(s, v[k], idx0 + k);
  }
}

// sum and mean: a bare running sum. Its 4-byte f32 state (no NaN count) keeps the column engine's
// eight adjacent accumulators per thread in registers (SumOp's 16-byte state spilled there under
// the 64-register bound) and halves what the row engine shuffles. Stats: {sum, n} (never needed:
// the backward of sum and mean reads no statistics).
template <class A>
struct PlainSumOp {
  using Acc = A;
  struct State {
    A s;
  };
  bool mean, stats;
  int64_t n;
  explicit PlainSumOp(const OpParams& p) : mean(p.op == ReduceOp::mean), stats(p.stats), n(p.n) {}
  __device__ State init() const { return {A(0)}; }
  __device__ __forceinline__ void add(State& st, A v, int64_t) const { st.s = add_wrap(st.s, v); }
  // Pairwise within the pack: a shorter dependency chain than V serial adds into the state.
  template <int V>
  __device__ __forceinline__ void add_pack(State& st, const A (&v)[V], int64_t) const {
    A t[V];
#pragma unroll
    for (int k = 0; k < V; ++k) t[k] = v[k];
#pragma unroll
    for (int w = 1; w < V; w *= 2)
#pragma unroll
      for (int k = 0; k + w < V; k += 2 * w) t[k] = add_wrap(t[k], t[k + w]);
    st.s = add_wrap(st.s, t[0]);
  }
  __device__ State combine(const State& a, const State& b) const { return {add_wrap(a.s, b.s)}; }
  template <class W>
  __device__ void finish(const State& st, W& w) const {
    if (stats) {
      w.put(0, st.s);
      w.put(1, n);
    } else if constexpr (std::is_floating_point_v<A>) {
      w.put(0, mean ? st.s / static_cast<A>(n) : st.s);  // an empty mean is 0/0 = NaN
    } else {
      w.put(0, st.s);
    }
  }
};

// nansum, nanmean (and any sum that needs the count). Stats: {sum, count of non-NaN} (nanmean's
// backward divides by it).
template <class A>
struct SumOp {
  using Acc = A;
  struct State {
    A s;
    int64_t c;  // non-NaN elements (nansum/nanmean only)
  };
  bool skip_nan, mean, stats;
  int64_t n;
  explicit SumOp(const OpParams& p)
      : skip_nan(p.op == ReduceOp::nansum || p.op == ReduceOp::nanmean),
        mean(p.op == ReduceOp::mean || p.op == ReduceOp::nanmean),
        stats(p.stats),
        n(p.n) {}
  __device__ State init() const { return {A(0), 0}; }
  __device__ void add(State& st, A v, int64_t) const {
    if (skip_nan) {
      if (is_nan(v)) return;
      ++st.c;
    }
    st.s = add_wrap(st.s, v);
  }
  __device__ State combine(const State& a, const State& b) const { return {add_wrap(a.s, b.s), a.c + b.c}; }
  template <class W>
  __device__ void finish(const State& st, W& w) const {
    const int64_t count = skip_nan ? st.c : n;
    if (stats) {
      w.put(0, st.s);
      w.put(1, count);
    } else if constexpr (std::is_floating_point_v<A>) {
      w.put(0, mean ? st.s / static_cast<A>(count) : st.s);  // an empty mean is 0/0 = NaN
    } else {
      w.put(0, st.s);
    }
  }
};

// prod. Stats: {product of the nonzero elements, count of zeros}: the backward's "product of the
// others" without dividing by zero.
template <class A>
struct ProdOp {
  using Acc = A;
  struct State {
    A p, nonzero;
    int64_t zeros;
  };
  bool stats;
  explicit ProdOp(const OpParams& p) : stats(p.stats) {}
  __device__ State init() const { return {A(1), A(1), 0}; }
  __device__ void add(State& st, A v, int64_t) const {
    st.p = mul_wrap(st.p, v);
    if (stats) {
      if (v == A(0)) ++st.zeros;
      else st.nonzero = mul_wrap(st.nonzero, v);
    }
  }
  __device__ State combine(const State& a, const State& b) const {
    return {mul_wrap(a.p, b.p), mul_wrap(a.nonzero, b.nonzero), a.zeros + b.zeros};
  }
  template <class W>
  __device__ void finish(const State& st, W& w) const {
    if (stats) {
      w.put(0, st.nonzero);
      w.put(1, st.zeros);
    } else {
      w.put(0, st.p);
    }
  }
};

// amax, amin, max, min, argmax, argmin: the extreme value, the first position holding it, and
// how many positions hold it. NaN is the extreme (PyTorch), ties keep the lowest position.
// Stats: {value, tie count} for amax/amin (the gradient is split among ties), {value, index} for
// max/min.
//
// kForwardOnly: an instantiation for forward launches (stats false), where add_raw never falls
// back to the generic path: the row kernel then carries no second per-pack code path, which
// kept bf16 argmax spilling under the 64-register bound.
template <class A, bool kForwardOnly = false>
struct ExtremeOp {
  using Acc = A;
  struct State {
    A v;
    int64_t idx, ties;
  };
  bool greater;
  ReduceOp op;
  bool stats;
  explicit ExtremeOp(const OpParams& p)
      : greater(p.op == ReduceOp::amax || p.op == ReduceOp::max || p.op == ReduceOp::argmax), op(p.op), stats(kForwardOnly ? false : p.stats) {}
  // a ranks strictly before b.
  __device__ __forceinline__ bool better(A a, A b) const {
    if (is_nan(b)) return false;
    if (is_nan(a)) return true;
    return greater ? a > b : a < b;
  }
  __device__ State init() const {
    if constexpr (std::is_floating_point_v<A>) {
      const A inf = std::numeric_limits<A>::infinity();
      return {greater ? -inf : inf, INT64_MAX, 0};
    } else {
      return {greater ? std::numeric_limits<A>::min() : std::numeric_limits<A>::max(), INT64_MAX, 0};
    }
  }
  __device__ __forceinline__ void add(State& st, A v, int64_t idx) const {
    if (better(v, st.v)) {
      st = {v, idx, 1};
    } else if (!better(st.v, v)) {  // equal (both NaN, or ==)
      ++st.ties;
      if (idx < st.idx) {
        st.idx = idx;
        st.v = v;  // -0.0 vs 0.0: the first position's value, as the reference
      }
    }
  }
  // A pack: its best element first (the first on ties), then one merge. Outside stats mode the
  // tie count only marks a non-empty state, and amax/amin need no position at all.
  template <int V>
  __device__ __forceinline__ void add_pack(State& st, const A (&v)[V], int64_t idx0) const {
    if (!kForwardOnly && stats) {
#pragma unroll
      for (int k = 0; k < V; ++k) add(st, v[k], idx0 + k);
      return;
    }
    A best = v[0];
    int at = 0;
#pragma unroll
    for (int k = 1; k < V; ++k) {
      if (better(v[k], best)) {
        best = v[k];
        at = k;
      }
    }
    if (op == ReduceOp::amax || op == ReduceOp::amin) {
      if (st.ties == 0 || better(best, st.v)) st.v = best;
      st.ties = 1;
    } else if (st.ties == 0 || better(best, st.v)) {
      st = {best, idx0 + at, 1};
    }  // equal: the state's position comes first (packs arrive in increasing order per thread)
  }
  // A pack straight from storage (f32, f16, bf16 in f32 math), outside stats mode: its extreme by
  // NaN-propagating max/min instructions (max.NaN.bf16x2 / f16x2 / f32: two 16-bit elements per
  // instruction, no per-element NaN test, no serial compare-select chain), one NaN-aware compare
  // with the state per pack, and the position recovered only when the state changes (rare after
  // the first packs of a row). Returns false where the generic path must run (stats mode, f64).
  template <class In, int V>
  __device__ __forceinline__ bool add_raw(State& st, const In (&v)[V], int64_t idx0) const {
    constexpr bool k16 = std::is_same_v<In, __half> || std::is_same_v<In, __nv_bfloat16>;
    if constexpr (!std::is_same_v<A, float> || !(k16 || std::is_same_v<In, float>) || (k16 && V % 2 != 0)) {
      return false;
    } else {
      if constexpr (!kForwardOnly)
        if (stats) return false;
      A best;
      if constexpr (k16) {
        auto m2 = pair_of(v[0], v[1]);
#pragma unroll
        for (int k = 2; k < V; k += 2) {
          const auto w = pair_of(v[k], v[k + 1]);
          m2 = greater ? __hmax2_nan(m2, w) : __hmin2_nan(m2, w);
        }
        best = widen(greater ? __hmax_nan(m2.x, m2.y) : __hmin_nan(m2.x, m2.y));
      } else {
        best = v[0];
#pragma unroll
        for (int k = 1; k < V; ++k) best = greater ? max_nan_f32(best, v[k]) : min_nan_f32(best, v[k]);
      }
      if (st.ties != 0 && !better(best, st.v)) return true;  // equal or worse: the state's position is earlier
      if (op == ReduceOp::amax || op == ReduceOp::amin) {
        st.v = best;
        st.ties = 1;
        return true;
      }
      // The position inside the pack is found later (resolve_pack), once per thread and row, from
      // a re-read of the winning pack: no per-pack search code (and its registers) in the loop.
      // Until then idx holds -(the pack's first position) - 1.
      st = {best, -idx0 - 1, 1};
      return true;
    }
  }
  // The pack whose first position add_raw recorded, or -1 when the state's position is exact.
  __device__ __forceinline__ int64_t pending_pack(const State& st) const { return st.idx < 0 ? -st.idx - 1 : -1; }
  // The first element of the pack at position idx0 equal to the state's value (the first NaN when
  // it is NaN); the state's value came from this pack, so one always is.
  template <class In, int V>
  __device__ __forceinline__ void resolve_pack(State& st, const In (&v)[V], int64_t idx0) const {
    const bool nan = is_nan(st.v);
    int at = V - 1;
#pragma unroll
    for (int k = V - 2; k >= 0; --k) {
      const A e = widen(v[k]);
      if (nan ? is_nan(e) : e == st.v) at = k;
    }
    st.idx = idx0 + at;
  }
  __device__ State combine(const State& a, const State& b) const {
    if (b.ties == 0) return a;
    if (a.ties == 0) return b;
    if (better(b.v, a.v)) return b;
    if (better(a.v, b.v)) return a;
    const State& first = b.idx < a.idx ? b : a;
    return {first.v, first.idx, a.ties + b.ties};
  }
  template <class W>
  __device__ void finish(const State& st, W& w) const {
    if (op == ReduceOp::argmax || op == ReduceOp::argmin) {
      w.put(0, st.idx);
      return;
    }
    w.put(0, st.v);
    const bool indexed = op == ReduceOp::max || op == ReduceOp::min;
    if (indexed || stats) w.put(1, indexed ? st.idx : st.ties);
  }
};

template <class A>
using ExtremeForwardOp = ExtremeOp<A, true>;

// var, std, var_mean: Welford / Chan. A pack of V elements is reduced exactly in registers
// (two-pass within the pack) and merged once, which costs one division per pack instead of one
// per element. Stats: {mean, var}.
template <class A>
struct WelfordOp {
  using Acc = A;
  // sum: the plain sum, for the mean when Welford's is not finite (inf inputs: Welford's running
  // mean meets inf - inf and gives NaN where PyTorch's mean, sum / n, is +-inf).
  struct State {
    A mean, m2, n, sum;
  };
  ReduceOp op;
  A correction;
  int64_t n;
  bool stats;
  explicit WelfordOp(const OpParams& p) : op(p.op), correction(static_cast<A>(p.correction)), n(p.n), stats(p.stats) {}
  __device__ State init() const { return {A(0), A(0), A(0), A(0)}; }
  __device__ void add(State& st, A v, int64_t) const {
    st.n += A(1);
    st.sum += v;
    const A d = v - st.mean;
    st.mean += d / st.n;
    st.m2 += d * (v - st.mean);
  }
  template <int V>
  __device__ void add_pack(State& st, const A (&v)[V], int64_t) const {
    A s = 0;
#pragma unroll
    for (int k = 0; k < V; ++k) s += v[k];
    const A pm = s / A(V);
    A m2 = 0;
#pragma unroll
    for (int k = 0; k < V; ++k) m2 += (v[k] - pm) * (v[k] - pm);
    st = combine(st, State{pm, m2, A(V), s});
  }
  __device__ State combine(const State& a, const State& b) const {
    if (a.n == A(0)) return b;
    if (b.n == A(0)) return a;
    const A total = a.n + b.n;
    const A d = b.mean - a.mean;
    const A fb = b.n / total;
    return {a.mean + d * fb, a.m2 + b.m2 + d * d * a.n * fb, total, a.sum + b.sum};
  }
  template <class W>
  __device__ void finish(const State& st, W& w) const {
    const A dof = static_cast<A>(n) - correction;
    const A var = n == 0 ? quiet_nan<A>() : st.m2 / (dof > A(0) ? dof : A(0));  // IEEE: 0/0 NaN, x/0 inf
    const A mean = n == 0 ? quiet_nan<A>() : (isfinite(st.mean) ? st.mean : st.sum / st.n);
    if (stats) {
      w.put(0, mean);
      w.put(1, var);
    } else if (op == ReduceOp::std) {
      w.put(0, sqrt(var));
    } else {
      w.put(0, var);
      if (op == ReduceOp::var_mean) w.put(1, mean);
    }
  }
};

// vector_norm with any p. p = 0 counts nonzeros (NaN included); +-inf is max/min |x| with ties
// counted; 1, 2 and general p sum |x|, x^2, |x|^p. Any NaN makes the norm NaN (p != 0).
// Stats: {norm, tie count} (the +-inf gradient splits among ties, NaNs when the norm is NaN).
template <class A>
struct NormOp {
  using Acc = A;
  enum Mode : uint8_t { zero, max_abs, min_abs, one, two, general };
  struct State {
    A acc;
    int64_t ties, nans;
  };
  Mode mode;
  A p;
  bool stats;
  explicit NormOp(const OpParams& prm)
      : mode(prm.p == 0 ? zero
             : prm.p == 1 ? one
             : prm.p == 2 ? two
             : std::isinf(prm.p) ? (prm.p > 0 ? max_abs : min_abs)
                                 : general),
        p(static_cast<A>(prm.p)),
        stats(prm.stats) {}
  __device__ State init() const { return {mode == min_abs ? std::numeric_limits<A>::infinity() : A(0), 0, 0}; }
  __device__ __forceinline__ void add(State& st, A v, int64_t) const {
    if (is_nan(v)) {
      ++st.nans;
      if (mode == zero) st.acc += A(1);
      return;
    }
    const A a = fabs(v);
    switch (mode) {
      case zero: st.acc += a != A(0) ? A(1) : A(0); break;
      case max_abs:
      case min_abs:
        if (mode == max_abs ? a > st.acc : a < st.acc) {
          st.acc = a;
          st.ties = 1;
        } else if (a == st.acc) {
          ++st.ties;
        }
        break;
      case one: st.acc += a; break;
      case two: st.acc += a * a; break;
      case general: st.acc += pow_of(a, p); break;
    }
  }
  __device__ State combine(const State& a, const State& b) const {
    if (mode == max_abs || mode == min_abs) {
      State r = (mode == max_abs ? b.acc > a.acc : b.acc < a.acc) ? b : a;
      if (a.acc == b.acc) r.ties = a.ties + b.ties;
      r.nans = a.nans + b.nans;
      return r;
    }
    return {a.acc + b.acc, a.ties + b.ties, a.nans + b.nans};
  }
  template <class W>
  __device__ void finish(const State& st, W& w) const {
    A norm = st.acc;
    if (mode == two) norm = sqrt(st.acc);
    if (mode == general) norm = pow_of(st.acc, A(1) / p);
    if (mode != zero && st.nans > 0) norm = quiet_nan<A>();
    w.put(0, norm);
    if (stats) w.put(1, st.nans > 0 ? st.nans : st.ties);
  }
};

// vector_norm forward with p = 1, 2 or inf (launch_norm takes it outside stats mode unless
// BARACUDA_REDUCE_FWD=legacy): what PyTorch users and the benchmarks hit, without NormOp's
// per-element NaN test, mode switch and tie count (bf16 rows ran at half of copy bandwidth
// through NormOp). p = 1, 2: a sum of |x| or x^2, pairwise within a pack; a NaN needs no flag
// because it makes the sum NaN by itself. p = inf: max |x|, NaN-propagating within a pack and a
// NaN flag per pack (the running maximum stays a number, as NormOp's). The state is 8 bytes for
// f32 math (NormOp's: 24), which also shortens the shuffles of every row.
template <class A>
struct NormPackedOp {
  using Acc = A;
  struct State {
    A acc;
    uint32_t nan;  // nonzero once a NaN was seen (p = inf only)
  };
  enum Mode : uint8_t { one, two, max_abs };
  Mode mode;
  explicit NormPackedOp(const OpParams& prm) : mode(prm.p == 1 ? one : prm.p == 2 ? two : max_abs) {}
  // The p this functor serves (forward results only).
  static bool serves(const OpParams& prm) {
    return !prm.stats && !prm.legacy && (prm.p == 1 || prm.p == 2 || (std::isinf(prm.p) && prm.p > 0));
  }
  __device__ State init() const { return {A(0), 0u}; }
  __device__ __forceinline__ void add(State& st, A v, int64_t) const {
    if (mode == one) {
      st.acc += fabs(v);
    } else if (mode == two) {
      st.acc += v * v;
    } else if (is_nan(v)) {
      st.nan = 1u;
    } else {
      st.acc = fmax(st.acc, fabs(v));
    }
  }
  template <int V>
  __device__ __forceinline__ void add_pack(State& st, const A (&v)[V], int64_t) const {
    if (mode == max_abs) {
      A m = fabs(v[0]);
      if constexpr (std::is_same_v<A, float>) {
#pragma unroll
        for (int k = 1; k < V; ++k) m = max_nan_f32(m, fabsf(v[k]));
      } else {
        bool nan = is_nan(m);
#pragma unroll
        for (int k = 1; k < V; ++k) {
          nan |= is_nan(v[k]);
          m = fmax(m, fabs(v[k]));
        }
        if (nan) m = quiet_nan<A>();
      }
      if (is_nan(m)) st.nan = 1u;
      else st.acc = fmax(st.acc, m);
      return;
    }
    A t[V];
    if (mode == one) {
#pragma unroll
      for (int k = 0; k < V; ++k) t[k] = fabs(v[k]);
    } else {
#pragma unroll
      for (int k = 0; k < V; ++k) t[k] = v[k] * v[k];
    }
#pragma unroll
    for (int w = 1; w < V; w *= 2)
#pragma unroll
      for (int k = 0; k + w < V; k += 2 * w) t[k] += t[k + w];
    st.acc += t[0];
  }
  __device__ State combine(const State& a, const State& b) const {
    return {mode == max_abs ? fmax(a.acc, b.acc) : a.acc + b.acc, a.nan | b.nan};
  }
  template <class W>
  __device__ void finish(const State& st, W& w) const {
    A norm = mode == two ? sqrt(st.acc) : st.acc;
    if (st.nan != 0u) norm = quiet_nan<A>();
    w.put(0, norm);
  }
};

// logsumexp with a running maximum: s = sum exp(x - m). A pack shifts once to its new maximum.
template <class A>
struct LseOp {
  using Acc = A;
  struct State {
    A m, s;
    int64_t nans;
  };
  explicit LseOp(const OpParams&) {}
  __device__ State init() const { return {-std::numeric_limits<A>::infinity(), A(0), 0}; }
  // One NaN flag and one maximum per pack; the state is rescaled only when the maximum moves
  // (rare after a row's first packs), which saves an exp per pack. `nans` only needs to be
  // nonzero: it counts packs holding a NaN.
  template <int V>
  __device__ void add_pack(State& st, const A (&v)[V], int64_t) const {
    A m = st.m;
    bool nan = false;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      nan |= is_nan(v[k]);
      m = fmax(m, v[k]);  // fmax ignores NaN
    }
    st.nans += nan ? 1 : 0;
    if (m == -std::numeric_limits<A>::infinity()) return;  // everything so far is -inf
    // When m is +inf the sum becomes meaningless, but finish() returns m itself then.
    A s = m == st.m ? st.s : st.s * exp_of(st.m - m);
#pragma unroll
    for (int k = 0; k < V; ++k) s += is_nan(v[k]) ? A(0) : exp_of(v[k] - m);
    st.m = m;
    st.s = s;
  }
  __device__ void add(State& st, A v, int64_t idx) const {
    const A one[1] = {v};
    add_pack<1>(st, one, idx);
  }
  __device__ State combine(const State& a, const State& b) const {
    const A m = fmax(a.m, b.m);
    if (m == -std::numeric_limits<A>::infinity()) return {m, A(0), a.nans + b.nans};
    return {m, a.s * exp_of(a.m - m) + b.s * exp_of(b.m - m), a.nans + b.nans};
  }
  template <class W>
  __device__ void finish(const State& st, W& w) const {
    A r = st.m;
    if (st.nans > 0) r = quiet_nan<A>();
    else if (!isinf(st.m)) r = st.m + log_of(st.s);
    w.put(0, r);
  }
};

// any, all, count_nonzero (NaN is nonzero).
template <class A>
struct LogicalOp {
  using Acc = A;
  struct State {
    int64_t nonzero;
  };
  ReduceOp op;
  int64_t n;
  explicit LogicalOp(const OpParams& p) : op(p.op), n(p.n) {}
  __device__ State init() const { return {0}; }
  __device__ void add(State& st, A v, int64_t) const { st.nonzero += v != A(0) ? 1 : 0; }
  // A pack of 1-byte integers (bool, u8, i8 read as raw bytes): a byte is nonzero exactly when
  // the value is, so the count is 4 bytes per __vcmpne4 + popc instead of a conversion and a
  // compare per element. Other storage types take the generic path (returns false).
  template <class In, int V>
  __device__ __forceinline__ bool add_raw(State& st, const In (&v)[V], int64_t) const {
    if constexpr (!std::is_same_v<In, uint8_t> || V % 4 != 0) {
      return false;
    } else {
      uint32_t w[V / 4];
      memcpy(w, v, V);
      int bits = 0;  // 8 per nonzero byte
#pragma unroll
      for (int k = 0; k < V / 4; ++k) bits += __popc(__vcmpne4(w[k], 0u));
      st.nonzero += bits >> 3;
      return true;
    }
  }
  __device__ State combine(const State& a, const State& b) const { return {a.nonzero + b.nonzero}; }
  template <class W>
  __device__ void finish(const State& st, W& w) const {
    if (op == ReduceOp::count_nonzero) w.put(0, st.nonzero);
    else w.put(0, static_cast<int64_t>(op == ReduceOp::any ? st.nonzero > 0 : st.nonzero == n));
  }
};

}  // namespace baracuda::rd::cuda
