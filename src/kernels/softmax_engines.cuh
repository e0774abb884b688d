#pragma once
// The softmax kernels (see ops/softmax/cuda/softmax_launch.hpp for when each one runs).
//   Tl: loaded dtype (x forward; dy and y backward), Ts: stored dtype (y forward; dx backward),
//   A: math dtype (float, double for f64), VEC: elements per load, ITEMS: vectors per thread.
// Forward and backward share each engine (kBwd): the backward is the same row walk with
// sum(dy * y) (softmax) or sum(dy) (log_softmax) in place of (max, sum exp).
#include "kernels/softmax_common.cuh"

namespace baracuda::sm::cuda {

// Loads VEC elements at `col` of a row: one vector when the whole vector is inside the row,
// else element by element (the row's tail). Elements past n are left unset and never used.
template <class T, int VEC>
__device__ __forceinline__ void load_row_vec(Vec<T, VEC>& r, const T* row, int64_t col, int64_t n) {
  if (col + VEC <= n) {
    r = *reinterpret_cast<const Vec<T, VEC>*>(row + col);
  } else {
#pragma unroll
    for (int j = 0; j < VEC; ++j)
      if (col + j < n) r.v[j] = row[col + j];
  }
}

template <class T, int VEC>
__device__ __forceinline__ void store_row_vec(const Vec<T, VEC>& r, T* row, int64_t col, int64_t n) {
  if (col + VEC <= n) {
    *reinterpret_cast<Vec<T, VEC>*>(row + col) = r;
  } else {
#pragma unroll
    for (int j = 0; j < VEC; ++j)
      if (col + j < n) row[col + j] = r.v[j];
  }
}

// An empty asm over the vector's bits: the compiler must assume they changed, so the next pass
// converts the stored values again instead of keeping every converted float alive from the last
// pass (which doubles the register footprint of a cached row and makes the long-row kernels spill).
template <class T, int VEC>
__device__ __forceinline__ void reload_barrier(Vec<T, VEC>& r) {
  if constexpr (sizeof(r) % 4 == 0) {
    uint32_t* w = reinterpret_cast<uint32_t*>(&r);
#pragma unroll
    for (int i = 0; i < static_cast<int>(sizeof(r) / 4); ++i) asm volatile("" : "+r"(w[i]));
  } else {
    static_assert(sizeof(r) == 2, "a vector is 2 bytes or a multiple of 4");
    uint16_t* h = reinterpret_cast<uint16_t*>(&r);
    asm volatile("" : "+h"(*h));
  }
}

// Warp / block engines: the whole row lives in registers (as loaded, converted on use), so each
// input element is read from memory once and each output written once.
//
// kMask: whether the call has a mask. The unmasked instantiation carries no mask code at all, which
// keeps the fully unrolled ITEMS * VEC element loops small enough to stay in registers.
template <class A, bool kMask>
__device__ __forceinline__ A cached_z(const KernelParams& p, A x, int64_t mbase, int64_t col) {
  if constexpr (kMask) return masked_z(p, x, mbase, col);
  else return x * static_cast<A>(p.scale);
}

template <class Tl, class Ts, class A, int VEC, int ITEMS, bool kWarp, bool kBwd, bool kMask>
__global__ void __launch_bounds__(kWarp ? 128 : 512) softmax_cached_kernel(const KernelParams p) {
  kernels::pdl_enter();
  __shared__ A red[32];
  const int width = kWarp ? 32 : static_cast<int>(blockDim.x);
  const int t = kWarp ? static_cast<int>(threadIdx.x & 31) : static_cast<int>(threadIdx.x);
  const int64_t groups = kWarp ? static_cast<int64_t>(gridDim.x) * (blockDim.x >> 5) : gridDim.x;
  int64_t row = kWarp ? static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5) : blockIdx.x;
  const int64_t n = p.n;
  const A scale = static_cast<A>(p.scale);
  constexpr bool kFast = sizeof(Ts) == 2;  // 16-bit results: hardware exp (softmax_common.cuh)

  for (; row < p.rows; row += groups) {
    const RowBases b = row_bases(p, row);
    const Tl* r0 = static_cast<const Tl*>(p.in0.data) + b.in0;
    Ts* ro = static_cast<Ts*>(const_cast<void*>(p.out.data)) + b.out;
    Vec<Tl, VEC> a[ITEMS];
    Vec<Tl, VEC> c[kBwd ? ITEMS : 1];
#pragma unroll
    for (int it = 0; it < ITEMS; ++it) {
      const int64_t col = (static_cast<int64_t>(it) * width + t) * VEC;
      load_row_vec(a[it], r0, col, n);
      if constexpr (kBwd) load_row_vec(c[it], static_cast<const Tl*>(p.in1.data) + b.in1, col, n);
    }

    if constexpr (!kBwd) {
      A m = neg_inf<A>();
#pragma unroll
      for (int it = 0; it < ITEMS; ++it) {
        const int64_t col = (static_cast<int64_t>(it) * width + t) * VEC;
#pragma unroll
        for (int j = 0; j < VEC; ++j)
          if (col + j < n) m = nan_max(m, cached_z<A, kMask>(p, to_compute<A>(a[it].v[j]), b.mask, col + j));
      }
      m = group_reduce<kWarp>(m, MaxOp{}, neg_inf<A>(), red);
#pragma unroll
      for (int it = 0; it < ITEMS; ++it) reload_barrier(a[it]);
      A s = 0;
#pragma unroll
      for (int it = 0; it < ITEMS; ++it) {
        const int64_t col = (static_cast<int64_t>(it) * width + t) * VEC;
#pragma unroll
        for (int j = 0; j < VEC; ++j)
          if (col + j < n) s += exp_out<kFast>(cached_z<A, kMask>(p, to_compute<A>(a[it].v[j]), b.mask, col + j) - m);
      }
      s = group_reduce<kWarp>(s, SumOp{}, A(0), red);
#pragma unroll
      for (int it = 0; it < ITEMS; ++it) reload_barrier(a[it]);
      const A inv_sum = A(1) / s, log_sum = log_acc(s);
#pragma unroll
      for (int it = 0; it < ITEMS; ++it) {
        const int64_t col = (static_cast<int64_t>(it) * width + t) * VEC;
        Vec<Ts, VEC> o;
#pragma unroll
        for (int j = 0; j < VEC; ++j)
          if (col + j < n)
            o.v[j] = from_compute<Ts>(forward_value<kFast>(
                p.log, cached_z<A, kMask>(p, to_compute<A>(a[it].v[j]), b.mask, col + j), m, inv_sum, log_sum));
        store_row_vec(o, ro, col, n);
      }
    } else {
      A s = 0;
#pragma unroll
      for (int it = 0; it < ITEMS; ++it) {
        const int64_t col = (static_cast<int64_t>(it) * width + t) * VEC;
#pragma unroll
        for (int j = 0; j < VEC; ++j)
          if (col + j < n) {
            const A dy = to_compute<A>(a[it].v[j]);
            s += p.log ? dy : dy * to_compute<A>(c[it].v[j]);
          }
      }
      s = group_reduce<kWarp>(s, SumOp{}, A(0), red);
#pragma unroll
      for (int it = 0; it < ITEMS; ++it) {
        reload_barrier(a[it]);
        reload_barrier(c[it]);
      }
#pragma unroll
      for (int it = 0; it < ITEMS; ++it) {
        const int64_t col = (static_cast<int64_t>(it) * width + t) * VEC;
        Vec<Ts, VEC> o;
#pragma unroll
        for (int j = 0; j < VEC; ++j)
          if (col + j < n) {
            A dx = backward_value<kFast>(p.log, to_compute<A>(a[it].v[j]), to_compute<A>(c[it].v[j]), s, scale);
            if constexpr (kMask) {
              if (p.mask_kind == MaskKind::boolean && !mask_keeps(p, b.mask, col + j)) dx = 0;
            }
            o.v[j] = from_compute<Ts>(dx);
          }
        store_row_vec(o, ro, col, n);
      }
    }
  }
}

// Online engine: rows too long for registers. Forward: one read with a running (max, sum), a
// block merge, and a second read that writes y. Backward: one read for the sum, a second to write.
template <class Tl, class Ts, class A, int VEC, bool kBwd>
__global__ void __launch_bounds__(512) softmax_online_kernel(const KernelParams p) {
  kernels::pdl_enter();
  __shared__ A red_m[32];
  __shared__ A red_s[32];
  const int64_t n = p.n;
  const int64_t step = static_cast<int64_t>(blockDim.x) * VEC;
  const A scale = static_cast<A>(p.scale);
  for (int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const RowBases b = row_bases(p, row);
    const Tl* r0 = static_cast<const Tl*>(p.in0.data) + b.in0;
    const Tl* r1 = static_cast<const Tl*>(p.in1.data) + b.in1;
    Ts* ro = static_cast<Ts*>(const_cast<void*>(p.out.data)) + b.out;
    if constexpr (!kBwd) {
      Online<A> st;
      for (int64_t col = static_cast<int64_t>(threadIdx.x) * VEC; col < n; col += step) {
        Vec<Tl, VEC> v;
        load_row_vec(v, r0, col, n);
#pragma unroll
        for (int j = 0; j < VEC; ++j)
          if (col + j < n) st.add(masked_z(p, to_compute<A>(v.v[j]), b.mask, col + j));
      }
      block_merge(st, red_m, red_s);
      const A inv_sum = A(1) / st.s, log_sum = log_acc(st.s);
      for (int64_t col = static_cast<int64_t>(threadIdx.x) * VEC; col < n; col += step) {
        Vec<Tl, VEC> v;
        load_row_vec(v, r0, col, n);
        Vec<Ts, VEC> o;
#pragma unroll
        for (int j = 0; j < VEC; ++j)
          if (col + j < n)
            o.v[j] = from_compute<Ts>(
                forward_value(p.log, masked_z(p, to_compute<A>(v.v[j]), b.mask, col + j), st.m, inv_sum, log_sum));
        store_row_vec(o, ro, col, n);
      }
    } else {
      A s = 0;
      for (int64_t col = static_cast<int64_t>(threadIdx.x) * VEC; col < n; col += step) {
        Vec<Tl, VEC> dy, y;
        load_row_vec(dy, r0, col, n);
        load_row_vec(y, r1, col, n);
#pragma unroll
        for (int j = 0; j < VEC; ++j)
          if (col + j < n) s += p.log ? to_compute<A>(dy.v[j]) : to_compute<A>(dy.v[j]) * to_compute<A>(y.v[j]);
      }
      s = group_reduce<false>(s, SumOp{}, A(0), red_s);
      for (int64_t col = static_cast<int64_t>(threadIdx.x) * VEC; col < n; col += step) {
        Vec<Tl, VEC> dy, y;
        load_row_vec(dy, r0, col, n);
        load_row_vec(y, r1, col, n);
        Vec<Ts, VEC> o;
#pragma unroll
        for (int j = 0; j < VEC; ++j)
          if (col + j < n) {
            A dx = backward_value(p.log, to_compute<A>(dy.v[j]), to_compute<A>(y.v[j]), s, scale);
            if (p.mask_kind == MaskKind::boolean && !mask_keeps(p, b.mask, col + j)) dx = 0;
            o.v[j] = from_compute<Ts>(dx);
          }
        store_row_vec(o, ro, col, n);
      }
    }
    // The next row's reductions reuse red_m / red_s: group_reduce / block_merge start with a barrier.
  }
}

// Column engine: one thread per row, walking the dim with its stride. For a dim that is not
// innermost, consecutive rows are consecutive inner elements, so a warp's loads are coalesced.
template <class Tl, class Ts, class A, bool kBwd>
__global__ void __launch_bounds__(256) softmax_column_kernel(const KernelParams p) {
  kernels::pdl_enter();
  const int64_t n = p.n;
  const A scale = static_cast<A>(p.scale);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; row < p.rows; row += stride) {
    const RowBases b = row_bases(p, row);
    const Tl* r0 = static_cast<const Tl*>(p.in0.data) + b.in0;
    const Tl* r1 = static_cast<const Tl*>(p.in1.data) + b.in1;
    Ts* ro = static_cast<Ts*>(const_cast<void*>(p.out.data)) + b.out;
    if constexpr (!kBwd) {
      Online<A> st;
      for (int64_t i = 0; i < n; ++i) st.add(masked_z(p, to_compute<A>(r0[i * p.in0.along]), b.mask, i));
      const A inv_sum = A(1) / st.s, log_sum = log_acc(st.s);
      for (int64_t i = 0; i < n; ++i)
        ro[i * p.out.along] = from_compute<Ts>(
            forward_value(p.log, masked_z(p, to_compute<A>(r0[i * p.in0.along]), b.mask, i), st.m, inv_sum, log_sum));
    } else {
      A s = 0;
      for (int64_t i = 0; i < n; ++i) {
        const A dy = to_compute<A>(r0[i * p.in0.along]);
        s += p.log ? dy : dy * to_compute<A>(r1[i * p.in1.along]);
      }
      for (int64_t i = 0; i < n; ++i) {
        A dx = backward_value(p.log, to_compute<A>(r0[i * p.in0.along]), to_compute<A>(r1[i * p.in1.along]), s, scale);
        if (p.mask_kind == MaskKind::boolean && !mask_keeps(p, b.mask, i)) dx = 0;
        ro[i * p.out.along] = from_compute<Ts>(dx);
      }
    }
  }
}

}  // namespace baracuda::sm::cuda
