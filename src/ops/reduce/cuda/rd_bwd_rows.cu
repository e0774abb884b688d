// The reduction backward's rows path (rd_bwd_rows.hpp): x and dx as [M rows, N contiguous], one
// warp per tile of 32 x kVectorsPerLane 16-byte vectors of a row, grid-stride over the M x
// tiles_per_row tiles. Per tile every lane reads the row's gradient(s) and statistics once and
// folds them into a row coefficient; per element only the kind's few operations remain.
//
// Precision: the selection kinds (broadcast, nan_masked, ties, index, sign, abs_ties) round the
// row's f64 value to the element type once, exactly as the general kernel does, so they are
// bit-identical to it. The arithmetic kinds compute in f32 for f16 / bf16 / f32 elements (as
// PyTorch does), and fall back per row to the general kernel's f64 formula when a coefficient or
// statistic is outside f32's comfortable range (|.| > 1e30 or < 1e-30, inf, NaN); f64 elements and
// prod always use the f64 formula. Row values are loaded per lane (a broadcast L1 hit).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "core/env_switch.hpp"
#include "kernels/ew_load_store.cuh"
#include "kernels/pdl.cuh"
#include "ops/reduce/cuda/rd_bwd_rows.hpp"

namespace baracuda::rd::cuda {
namespace {

using ew::cuda::from_compute;
using ew::cuda::load_dyn;
using ew::cuda::to_compute;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kVectorsPerLane = 4;  // 4 x 16 bytes in flight per lane before the first use
constexpr int64_t kTileVectors = 32 * kVectorsPerLane;
constexpr int64_t kMinRow = 32;  // shorter rows would leave most of a warp idle: general kernel

// A row's inputs for the f64 formulas (the general kernel's grad_of) of the slow rows.
struct SlowRow {
  double g0 = 0, g1 = 0, s0 = 0, s1 = 0;
  double dvar = 0;     // moments: the gradient of the variance
  bool zero = false;   // the whole row's gradient is +0
};

// The row's precomputed values. C is the element compute type (float, or double for f64).
template <class C>
struct RowCoef {
  SlowRow sr;
  double g = 0;            // selection kinds: the row's f64 value (rounded once to the element type)
  C a = 0, b = 0, s = 0, s_lo = 0;  // arithmetic kinds (f32 formula); s + s_lo: a statistic
  int64_t idx = 0;         // index
  bool nan_result = false; // ties: the result is NaN (ties are the NaNs)
  bool slow = false;       // arithmetic kinds: this row takes the f64 formula (or is all zero)
};

// Inside f32's comfortable range (false for inf and NaN): the f32 formula loses nothing there.
__device__ __forceinline__ bool comfortable(double v) { return fabs(v) <= 1e30; }
__device__ __forceinline__ bool comfortable_nonzero(double v) { return fabs(v) <= 1e30 && fabs(v) >= 1e-30; }
// A coefficient f32 holds to full relative precision (0, or a comfortable nonzero).
__device__ __forceinline__ bool representable(double v) { return v == 0 || comfortable_nonzero(v); }

// s0 as an unevaluated f32 sum hi + lo: (v - hi) - lo keeps x - s0 accurate to f32 rounding of the
// difference even where s0 is large next to it (a mean of 1000 +- 0.01; an lse of 1e4), where
// v - float(s0) would lose the difference's leading digits.
template <class C>
__device__ __forceinline__ void split_stat(double s0, C* hi, C* lo) {
  *hi = static_cast<C>(s0);
  *lo = static_cast<C>(s0 - static_cast<double>(*hi));
}

template <BwdRowsKind K, class C>
__device__ RowCoef<C> row_setup(const BackwardRows& p, int64_t row, const char* dy0, const char* dy1,
                                const double* stats) {
  RowCoef<C> rc;
  SlowRow& sr = rc.sr;
  const ReduceOp op = p.op.op;
  const double n = static_cast<double>(p.op.n);
  sr.g0 = load_dyn<double>(dy0 + row * p.dy_ld[0] * static_cast<int64_t>(dtype_size(p.dy_dtype[0])), p.dy_dtype[0]);
  if (p.ndy > 1)
    sr.g1 = load_dyn<double>(dy1 + row * p.dy_ld[1] * static_cast<int64_t>(dtype_size(p.dy_dtype[1])), p.dy_dtype[1]);
  if (stats != nullptr) {
    sr.s0 = stats[2 * row];
    sr.s1 = stats[2 * row + 1];
  }
  constexpr bool f64 = std::is_same_v<C, double>;
  if constexpr (K == BwdRowsKind::broadcast) {
    rc.g = op == ReduceOp::sum ? sr.g0 : (op == ReduceOp::mean ? sr.g0 / n : 0.0);  // else norm p = 0
  } else if constexpr (K == BwdRowsKind::nan_masked) {
    rc.g = op == ReduceOp::nansum ? sr.g0 : sr.g0 / sr.s1;
  } else if constexpr (K == BwdRowsKind::ties || K == BwdRowsKind::abs_ties) {
    rc.g = sr.g0 / sr.s1;
    rc.nan_result = sr.s0 != sr.s0;
    rc.s = static_cast<C>(sr.s0);  // an element's value (or its magnitude): exact in C
  } else if constexpr (K == BwdRowsKind::index) {
    rc.g = sr.g0;
    rc.idx = static_cast<int64_t>(sr.s1);
  } else if constexpr (K == BwdRowsKind::sign) {
    rc.g = sr.g0;
  } else if constexpr (K == BwdRowsKind::prod) {
    rc.slow = true;  // always the f64 formula (the product of the others can leave f32's range)
  } else if constexpr (K == BwdRowsKind::scaled) {  // s0: the norm
    sr.zero = sr.s0 == 0;
    rc.slow = f64 || sr.zero || !comfortable_nonzero(sr.s0) || !representable(sr.g0 / sr.s0);
    rc.a = static_cast<C>(sr.g0 / sr.s0);
  } else if constexpr (K == BwdRowsKind::power) {  // s0: the norm
    sr.zero = sr.s0 == 0;
    rc.slow = f64 || sr.zero || !comfortable_nonzero(sr.s0) || !representable(sr.g0);
    rc.a = static_cast<C>(sr.g0);
    rc.b = static_cast<C>(p.op.p - 1.0);
    rc.s = static_cast<C>(sr.s0);
  } else if constexpr (K == BwdRowsKind::moments) {  // s0: mean, s1: var; n - correction > 0 (plan)
    sr.dvar = sr.g0;
    if (op == ReduceOp::std) {
      const double sd = sqrt(sr.s1);
      sr.dvar = sd == 0 ? 0.0 : sr.g0 / (2.0 * sd);
    }
    const double a = sr.dvar * 2.0 / (n - p.op.correction);
    const double b = op == ReduceOp::var_mean ? sr.g1 / n : 0.0;
    rc.slow = f64 || !comfortable(sr.s0) || !comfortable(sr.s1) || !comfortable(sr.dvar) || !representable(a) ||
              !representable(b);
    rc.a = static_cast<C>(a);
    rc.b = static_cast<C>(b);
    split_stat(sr.s0, &rc.s, &rc.s_lo);
  } else if constexpr (K == BwdRowsKind::exp_shift) {  // s0: lse
    rc.slow = f64 || !comfortable(sr.s0) || !representable(sr.g0);
    rc.a = static_cast<C>(sr.g0);
    split_stat(sr.s0, &rc.s, &rc.s_lo);
  }
  return rc;
}

__device__ __forceinline__ double sign_f64(double v) { return v != v ? v : (v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0)); }
template <class C>
__device__ __forceinline__ C sign_c(C v) { return v != v ? v : (v > C(0) ? C(1) : (v < C(0) ? C(-1) : C(0))); }
// The full-precision libm functions in the compute type (no fast-math intrinsics).
__device__ __forceinline__ float abs_c(float v) { return fabsf(v); }
__device__ __forceinline__ double abs_c(double v) { return fabs(v); }
__device__ __forceinline__ float pow_c(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double pow_c(double a, double b) { return pow(a, b); }
__device__ __forceinline__ float exp_c(float v) { return expf(v); }
__device__ __forceinline__ double exp_c(double v) { return exp(v); }

// The general kernel's f64 formulas (grad_of) for the arithmetic kinds and prod.
template <BwdRowsKind K>
__device__ __forceinline__ double grad_f64(const OpParams& op, const SlowRow& sr, double v) {
  if (sr.zero) return 0.0;
  if constexpr (K == BwdRowsKind::scaled) {
    return sr.g0 * (v / sr.s0);
  } else if constexpr (K == BwdRowsKind::power) {
    return v == 0 ? 0.0 : sr.g0 * sign_f64(v) * pow(fabs(v) / sr.s0, op.p - 1.0);
  } else if constexpr (K == BwdRowsKind::moments) {
    const double n = static_cast<double>(op.n);
    const double g = sr.dvar * 2.0 * (v - sr.s0) / (n - op.correction);
    return op.op == ReduceOp::var_mean ? g + sr.g1 / n : g;
  } else if constexpr (K == BwdRowsKind::exp_shift) {
    return sr.g0 * exp(v - sr.s0);
  } else if constexpr (K == BwdRowsKind::prod) {  // s0: product of the nonzeros, s1: zero count
    if (sr.s1 == 0) return sr.g0 * (sr.s0 / v);
    return (sr.s1 == 1 && v == 0) ? sr.g0 * sr.s0 : 0.0;
  } else {
    return 0.0;
  }
}

// dx for element x at row position r on a fast row. gv: the row's value rounded to In; gc: the
// same in C.
template <BwdRowsKind K, class In, class C>
__device__ __forceinline__ In grad_fast(const BackwardRows& p, const RowCoef<C>& rc, In gv, C gc, In zero, In x,
                                        int64_t r) {
  const C v = to_compute<C>(x);
  if constexpr (K == BwdRowsKind::broadcast) {
    return gv;
  } else if constexpr (K == BwdRowsKind::nan_masked) {
    return v != v ? zero : gv;
  } else if constexpr (K == BwdRowsKind::ties) {
    return (rc.nan_result ? v != v : v == rc.s) ? gv : zero;
  } else if constexpr (K == BwdRowsKind::index) {
    return r == rc.idx ? gv : zero;
  } else if constexpr (K == BwdRowsKind::sign) {
    return from_compute<In>(gc * sign_c(v));  // exact: gc * (+-1, +-0 or NaN)
  } else if constexpr (K == BwdRowsKind::abs_ties) {
    const C m = abs_c(v);
    return (m == rc.s || m != m) ? from_compute<In>(gc * sign_c(v)) : zero;
  } else if constexpr (K == BwdRowsKind::scaled) {
    return from_compute<In>(rc.a * v);
  } else if constexpr (K == BwdRowsKind::power) {
    return v == C(0) ? zero : from_compute<In>(rc.a * sign_c(v) * pow_c(abs_c(v) / rc.s, rc.b));
  } else if constexpr (K == BwdRowsKind::moments) {
    const C g = rc.a * ((v - rc.s) - rc.s_lo);
    return from_compute<In>(p.op.op == ReduceOp::var_mean ? g + rc.b : g);
  } else if constexpr (K == BwdRowsKind::exp_shift) {
    return from_compute<In>(rc.a * exp_c((v - rc.s) - rc.s_lo));
  } else {  // prod: rows are always slow
    return zero;
  }
}

// 16 bytes of copies of v.
template <class In>
__device__ __forceinline__ uint4 splat16(In v) {
  if constexpr (sizeof(In) == 2) {
    uint16_t b;
    memcpy(&b, &v, 2);
    const uint32_t w = b | (static_cast<uint32_t>(b) << 16);
    return uint4{w, w, w, w};
  } else if constexpr (sizeof(In) == 4) {
    uint32_t w;
    memcpy(&w, &v, 4);
    return uint4{w, w, w, w};
  } else {
    uint2 d;
    memcpy(&d, &v, 8);
    return uint4{d.x, d.y, d.x, d.y};
  }
}

// Whether the formula is arithmetic (f32 on fast rows) rather than a selection of the row's value.
constexpr bool arithmetic(BwdRowsKind k) {
  return k == BwdRowsKind::scaled || k == BwdRowsKind::power || k == BwdRowsKind::moments ||
         k == BwdRowsKind::exp_shift || k == BwdRowsKind::prod;
}

// At least 3 resident blocks per SM: caps the registers at 80 (every kind keeps >= 24 warps, 48 KiB
// of loads in flight per SM) and, unlike the bare bound, stops ptxas trading a few spills for
// occupancy in the lighter kinds.
template <BwdRowsKind K, class In>
__global__ void __launch_bounds__(kThreads, 3) rows_kernel(BackwardRows p, const void* xv, const char* dy0,
                                                         const char* dy1, const double* __restrict__ stats,
                                                         void* dxv) {
  kernels::pdl_enter();
  using C = std::conditional_t<std::is_same_v<In, double>, double, float>;
  constexpr int V = 16 / static_cast<int>(sizeof(In));
  // Rows of these always take the f64 formula; broadcast and index do not read x (their rows
  // only write dx: half the traffic).
  constexpr bool always_slow = K == BwdRowsKind::prod || (std::is_same_v<In, double> && arithmetic(K));
  constexpr bool vector_loads = !always_slow && K != BwdRowsKind::broadcast && K != BwdRowsKind::index;
  const In* __restrict__ x = static_cast<const In*>(xv);
  In* __restrict__ dx = static_cast<In*>(dxv);
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const In zero = from_compute<In>(0.0);
  // Grid-stride over tiles t = row * tiles_per_row + k, stepping (row, k) by the plan's
  // precomputed quotient and remainder of the warp count: no 64-bit division in the loop.
  const uint32_t t0 = blockIdx.x * kWarps + (threadIdx.x >> 5);
  const uint32_t tpr = static_cast<uint32_t>(p.tiles_per_row);  // < 2^31 (plan)
  int64_t row = t0 / tpr, k = t0 % tpr;
  while (row < p.M) {
    const In* xr = x + row * p.x_ld;
    In* dr = dx + row * p.dx_ld;
    // The row's first 16-byte boundary (the same for dx: backward_rows_aligned). The tile's
    // vectors are [vlo, vhi); the unaligned head and the tail (< V elements each) belong to the
    // row's first tile.
    const int mis = static_cast<int>((reinterpret_cast<uintptr_t>(xr) % 16) / sizeof(In));
    const int64_t head = std::min<int64_t>((V - mis) % V, p.N);
    const int64_t nvec = (p.N - head) / V;
    const int64_t tail = head + nvec * V;
    const int64_t v0 = k * kTileVectors + lane;
    // x first, so its loads are in flight while the row's gradient and statistics arrive.
    uint4 raw[kVectorsPerLane];
#pragma unroll
    for (int u = 0; u < kVectorsPerLane; ++u) {
      const int64_t vi = v0 + u * 32;
      if (vector_loads && vi < nvec) raw[u] = __ldg(reinterpret_cast<const uint4*>(xr + head + vi * V));
    }
    const RowCoef<C> rc = row_setup<K, C>(p, row, dy0, dy1, stats);
    if (arithmetic(K) && (always_slow || rc.slow)) {
      // The f64 formula element by element, not unrolled: rare for f32 / f16 / bf16 rows, and
      // kept small so that it does not raise the fast path's register count.
      const int64_t lo = k == 0 ? 0 : head + std::min<int64_t>(k * kTileVectors, nvec) * V;
      const int64_t hi = head + std::min<int64_t>((k + 1) * kTileVectors, nvec) * V;
#pragma unroll 1
      for (int64_t r = lo + lane; r < hi; r += 32)
        dr[r] = from_compute<In>(grad_f64<K>(p.op, rc.sr, to_compute<double>(xr[r])));
      if (k == 0) {
#pragma unroll 1
        for (int64_t r = tail + lane; r < p.N; r += 32)
          dr[r] = from_compute<In>(grad_f64<K>(p.op, rc.sr, to_compute<double>(xr[r])));
      }
    } else {
      const In gv = from_compute<In>(rc.g);
      const C gc = to_compute<C>(gv);
      if (k == 0) {
        int64_t r = -1;
        if (lane < head) r = lane;
        else if (lane >= V && lane - V < p.N - tail) r = tail + (lane - V);
        if (r >= 0) {
          if constexpr (K == BwdRowsKind::broadcast) dr[r] = gv;
          else if constexpr (K == BwdRowsKind::index) dr[r] = r == rc.idx ? gv : zero;
          else dr[r] = grad_fast<K, In, C>(p, rc, gv, gc, zero, xr[r], r);
        }
      }
#pragma unroll
      for (int u = 0; u < kVectorsPerLane; ++u) {
        const int64_t vi = v0 + u * 32;
        if (vi < nvec) {
          const int64_t r0 = head + vi * V;
          uint4 w;
          if constexpr (K == BwdRowsKind::broadcast) {
            w = splat16(gv);
          } else if constexpr (K == BwdRowsKind::index) {  // gv at the returned index, else 0
            const int64_t d = rc.idx - r0;
            const int at = d >= 0 && d < V ? static_cast<int>(d) : -1;
            In e[V];
#pragma unroll
            for (int j = 0; j < V; ++j) e[j] = j == at ? gv : zero;
            memcpy(&w, e, 16);
          } else {
            In e[V];
            memcpy(e, &raw[u], 16);
#pragma unroll
            for (int j = 0; j < V; ++j) e[j] = grad_fast<K, In, C>(p, rc, gv, gc, zero, e[j], r0 + j);
            memcpy(&w, e, 16);
          }
          __stwb(reinterpret_cast<uint4*>(dr + r0), w);
        }
      }
    }
    row += p.step_rows;
    k += p.step_k;
    if (k >= tpr) {
      k -= tpr;
      ++row;
    }
  }
}

using RowsKernel = void (*)(BackwardRows, const void*, const char*, const char*, const double*, void*);

template <BwdRowsKind K>
RowsKernel kernel_for_dtype(DType t) {
  switch (t) {
    case DType::f64: return rows_kernel<K, double>;
    case DType::f32: return rows_kernel<K, float>;
    case DType::f16: return rows_kernel<K, __half>;
    case DType::bf16: return rows_kernel<K, __nv_bfloat16>;
    default: return nullptr;
  }
}

RowsKernel kernel_for(BwdRowsKind kind, DType t) {
  switch (kind) {
    case BwdRowsKind::broadcast: return kernel_for_dtype<BwdRowsKind::broadcast>(t);
    case BwdRowsKind::nan_masked: return kernel_for_dtype<BwdRowsKind::nan_masked>(t);
    case BwdRowsKind::ties: return kernel_for_dtype<BwdRowsKind::ties>(t);
    case BwdRowsKind::index: return kernel_for_dtype<BwdRowsKind::index>(t);
    case BwdRowsKind::sign: return kernel_for_dtype<BwdRowsKind::sign>(t);
    case BwdRowsKind::abs_ties: return kernel_for_dtype<BwdRowsKind::abs_ties>(t);
    case BwdRowsKind::scaled: return kernel_for_dtype<BwdRowsKind::scaled>(t);
    case BwdRowsKind::power: return kernel_for_dtype<BwdRowsKind::power>(t);
    case BwdRowsKind::moments: return kernel_for_dtype<BwdRowsKind::moments>(t);
    case BwdRowsKind::exp_shift: return kernel_for_dtype<BwdRowsKind::exp_shift>(t);
    case BwdRowsKind::prod: return kernel_for_dtype<BwdRowsKind::prod>(t);
  }
  return nullptr;
}

// The kind for the op, or false when the rows path does not serve it.
bool kind_for(const OpParams& op, BwdRowsKind* kind) {
  switch (op.op) {
    case ReduceOp::sum: case ReduceOp::mean: *kind = BwdRowsKind::broadcast; return true;
    case ReduceOp::nansum: case ReduceOp::nanmean: *kind = BwdRowsKind::nan_masked; return true;
    case ReduceOp::amax: case ReduceOp::amin: *kind = BwdRowsKind::ties; return true;
    case ReduceOp::max: case ReduceOp::min: *kind = BwdRowsKind::index; return true;
    case ReduceOp::prod: *kind = BwdRowsKind::prod; return true;
    case ReduceOp::var: case ReduceOp::std: case ReduceOp::var_mean:
      *kind = BwdRowsKind::moments;
      return static_cast<double>(op.n) - op.correction > 0;  // else the inf / NaN rule: general kernel
    case ReduceOp::norm:
      if (op.p == 0) *kind = BwdRowsKind::broadcast;
      else if (op.p == 1) *kind = BwdRowsKind::sign;
      else if (std::isinf(op.p)) *kind = BwdRowsKind::abs_ties;
      else if (op.p == 2) *kind = BwdRowsKind::scaled;
      else *kind = BwdRowsKind::power;
      return !std::isnan(op.p);
    case ReduceOp::logsumexp: *kind = BwdRowsKind::exp_shift; return true;
    default: return false;
  }
}

const char* kind_name(BwdRowsKind k) {
  switch (k) {
    case BwdRowsKind::broadcast: return "broadcast";
    case BwdRowsKind::nan_masked: return "nan-masked";
    case BwdRowsKind::ties: return "ties";
    case BwdRowsKind::index: return "index";
    case BwdRowsKind::sign: return "sign";
    case BwdRowsKind::abs_ties: return "abs-ties";
    case BwdRowsKind::scaled: return "scaled";
    case BwdRowsKind::power: return "power";
    case BwdRowsKind::moments: return "moments";
    case BwdRowsKind::exp_shift: return "exp-shift";
    case BwdRowsKind::prod: return "prod-f64";
  }
  return "?";
}

// One collapsed dim: size and strides in x, dx, dy0, dy1.
struct Dim {
  int64_t size;
  int64_t stride[4];
};

}  // namespace

BackwardRows plan_backward_rows(const BackwardProblem& b, int sm_count) {
  BackwardRows p;
  if (env_is("BARACUDA_REDUCE_BWD_ENGINE", "legacy") || b.numel == 0) return p;
  if (!kind_for(b.op, &p.kind)) return p;
  const RowsKernel kernel = kernel_for(p.kind, b.x_dtype);
  if (kernel == nullptr) return p;
  // Reduced dims must collapse to one unit-stride run in x and dx, kept dims to at most one dim
  // (the row index, in the kept dims' row-major order as the stats and grad_of's r expect).
  std::vector<Dim> kept, red;
  for (int i = 0; i < b.rank; ++i) {
    if (b.size[i] == 1) continue;
    const Dim d{b.size[i], {b.x_stride[i], b.dx_stride[i], b.dy_stride[0][i], b.ndy > 1 ? b.dy_stride[1][i] : 0}};
    push_merged_dim(b.reduced[i] ? red : kept, d);
  }
  if (red.size() != 1 || red[0].stride[0] != 1 || red[0].stride[1] != 1 || kept.size() > 1) return p;
  p.N = red[0].size;
  if (p.N < kMinRow) return p;
  p.M = kept.empty() ? 1 : kept[0].size;
  p.x_ld = kept.empty() ? 0 : kept[0].stride[0];
  p.dx_ld = kept.empty() ? 0 : kept[0].stride[1];
  p.dy_ld[0] = kept.empty() ? 0 : kept[0].stride[2];
  p.dy_ld[1] = kept.empty() ? 0 : kept[0].stride[3];
  const int64_t esize = static_cast<int64_t>(dtype_size(b.x_dtype));
  // Every row of x and of dx must start at the same offset within 16 bytes (the pointers' part
  // is checked per run).
  if (((p.x_ld - p.dx_ld) * esize) % 16 != 0) return p;
  p.x_dtype = b.x_dtype;
  p.ndy = b.ndy;
  p.dy_dtype[0] = b.dy_dtype[0];
  p.dy_dtype[1] = b.dy_dtype[1];
  p.op = b.op;
  const int64_t vec = 16 / esize;
  p.tiles_per_row = std::max<int64_t>(1, (p.N / vec + kTileVectors - 1) / kTileVectors);
  if (p.tiles_per_row >= (int64_t{1} << 31)) return p;  // the kernel splits tiles with 32-bit math
  int per_sm = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, 0) != cudaSuccess || per_sm < 1) {
    (void)cudaGetLastError();
    per_sm = 1;
  }
  const int64_t tile_blocks = (p.M * p.tiles_per_row + kWarps - 1) / kWarps;
  p.blocks = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(tile_blocks, int64_t{sm_count} * per_sm)));
  const int64_t warps = int64_t{p.blocks} * kWarps;
  p.step_rows = warps / p.tiles_per_row;
  p.step_k = warps % p.tiles_per_row;
  p.usable = true;
  return p;
}

bool backward_rows_aligned(const BackwardRows& p, const void* x, const void* dx) {
  const int64_t esize = static_cast<int64_t>(dtype_size(p.x_dtype));
  const auto xa = reinterpret_cast<uintptr_t>(x), da = reinterpret_cast<uintptr_t>(dx);
  return xa % esize == 0 && da % esize == 0 && (xa - da) % 16 == 0;
}

Status launch_backward_rows(const BackwardRows& p, const void* x, const void* const dy[2], const double* stats,
                            void* dx, const LaunchContext& ctx) {
  const RowsKernel kernel = kernel_for(p.kind, p.x_dtype);
  if (kernel == nullptr) return internal_error("[reduce] no rows backward kernel for this plan");
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(p.blocks)), dim3(kThreads), 0,
                                static_cast<cudaStream_t>(ctx.stream), ctx.pdl};
  return kernels::launch_kernel(l, "reduce", "reduce backward (rows)", "", kernel, p, x,
                                static_cast<const char*>(dy[0]), static_cast<const char*>(dy[1]), stats, dx);
}

std::string backward_rows_tactic(const BackwardRows& p) {
  // The alignment of x and dx is known only at run time: a pair that does not share its offset
  // within 16 bytes takes the general kernel.
  return std::string("rows-vec16, ") + kind_name(p.kind) + " (general f64 kernel for x/dx of unequal 16-byte offset)";
}

}  // namespace baracuda::rd::cuda
