#pragma once
// The "columns" engine: softmax over a dim that is not innermost (x[..., n, ..., inner] with the
// innermost outer dim contiguous in every operand). The generic column engine gives one thread
// a whole column and walks it serially: few threads, one 2-byte load in flight each. Here a block
// owns a tile of TX * VEC adjacent inner columns for all n positions of the dim:
//   - thread (tx, ty) of the block (tx = threadIdx.x % TX, ty = threadIdx.x / TX, TY = 256 / TX)
//     loads 16-byte vectors of VEC inner columns at positions ty, ty + TY, ... of the dim, U of
//     them in flight at once (the TX threads of a position read TX * 16 adjacent bytes);
//   - forward pass 1: per column a running (max, sum of exp) in registers, updated once per U
//     positions; the TY partial states of a column are merged by a fixed tree in shared memory
//     (deterministic); pass 2 reads x again and writes y;
//   - backward pass 1: per column sum(dy * y) (log_softmax: sum(dy)), tree-summed the same way;
//     pass 2 reads dy and y again and writes dx.
// TX (a power of 2, 32 at most) is the plan's: the widest tile that still gives every SM its 3
// resident blocks, so that narrow problems (few columns, e.g. [64, 4096, 256] over dim 1) fill the GPU.
// Special values as the other engines: a NaN in a column makes it NaN (the max propagates NaN,
// then exp(z - NaN) makes the sum NaN), +inf makes exp(inf - inf) = NaN, an all -inf column
// keeps max -inf and sum 0 and gives exp(-inf + inf) * (1 / 0) = NaN. No mask and no f64 (the
// plan sends those to the generic column engine).
#include "kernels/softmax_common.cuh"

namespace baracuda::sm::cuda {

constexpr int kColumnsThreads = 256;
constexpr int kColumnsBlocksPerSm = 3;  // the launch bounds: at most 80 registers per thread
// Positions of the dim loaded before they are used: 2 with 16-byte vectors (32 bytes per input per
// thread in flight; at 4 the forward spilled 20-30 bytes at the 80 registers of the launch bounds,
// ptxas -v sm_90a), 8 with scalars.
template <bool kBwd, int VEC>
constexpr int columns_unroll() { return VEC == 1 ? 8 : 2; }

// Running (max, sum) of one column, updated with U values at once: one rescale per U values.
// Values -inf add nothing; while the max is still -inf the sum stays 0 (exp(-inf - -inf) would be
// NaN); the max propagates NaN, so a NaN makes the sum NaN for good.
template <bool kFast, class A, int U>
__device__ __forceinline__ void online_update(A& m, A& s, const A (&z)[U]) {
  A mx = z[0];
#pragma unroll
  for (int u = 1; u < U; ++u) mx = nan_max(mx, z[u]);
  const A nm = nan_max(m, mx);
  if (nm != neg_inf<A>()) {
    A add = 0;
#pragma unroll
    for (int u = 0; u < U; ++u) add += exp_out<kFast>(z[u] - nm);
    // Rescale only when the max moved (rare after the first values; exp(0) = 1 exactly, so
    // skipping it changes nothing): one exp per value instead of 1 + 1/U. A NaN max compares
    // unequal and rescales, keeping s NaN.
    if (nm != m) s *= exp_out<kFast>(m - nm);
    s += add;
    m = nm;
  }
}

// Merges (om, os) into (m, s): Online::merge with the NaN-propagating max.
template <bool kFast, class A>
__device__ __forceinline__ void online_merge(A& m, A& s, A om, A os) {
  const A nm = nan_max(m, om);
  if (nm == neg_inf<A>()) {
    s = 0;
  } else {
    s = s * exp_out<kFast>(m - nm) + os * exp_out<kFast>(om - nm);
  }
  m = nm;
}

template <class T, int VEC>
__device__ __forceinline__ Vec<T, VEC> fill_vec(T value) {
  Vec<T, VEC> r;
#pragma unroll
  for (int j = 0; j < VEC; ++j) r.v[j] = value;
  return r;
}

// p's rows are (group, inner column) pairs: inner = the last merged outer dim (unit stride in every
// operand), group = the other outer dims. tx_log2 = log2(TX).
template <class Tl, class Ts, class A, int VEC, bool kBwd>
__global__ void __launch_bounds__(kColumnsThreads, kColumnsBlocksPerSm)
    softmax_columns_kernel(const KernelParams p, int tx_log2) {
  kernels::pdl_enter();
  constexpr int U = columns_unroll<kBwd, VEC>();
  constexpr bool kFast = sizeof(Ts) == 2 && std::is_same_v<A, float>;
  // Per-thread partial states, [ty][tx * VEC + j]: kColumnsThreads * VEC entries each.
  __shared__ A sh_m[kColumnsThreads * VEC];
  __shared__ A sh_s[kColumnsThreads * VEC];
  const int TX = 1 << tx_log2, TY = kColumnsThreads >> tx_log2;
  const int tx = static_cast<int>(threadIdx.x) & (TX - 1), ty = static_cast<int>(threadIdx.x) >> tx_log2;
  const int64_t inner = p.outer_sizes[p.outer_rank - 1];
  const int64_t n = p.n;
  const int64_t tile_cols = static_cast<int64_t>(TX) * VEC;
  const int64_t tiles_per_group = (inner + tile_cols - 1) / tile_cols;
  const int64_t tiles = (p.rows / inner) * tiles_per_group;
  const A scale = static_cast<A>(p.scale);
  const int64_t a0 = p.in0.along, a1 = p.in1.along, ao = p.out.along;
  A* my_m = sh_m + static_cast<int64_t>(threadIdx.x) * VEC;
  A* my_s = sh_s + static_cast<int64_t>(threadIdx.x) * VEC;

  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t group = tile / tiles_per_group;
    const int64_t c = (tile - group * tiles_per_group) * tile_cols + static_cast<int64_t>(tx) * VEC;
    const bool active = c < inner;  // VEC > 1 only when inner % VEC == 0: the vector is whole
    const RowBases b = row_bases(p, group * inner);
    const Tl* x0 = static_cast<const Tl*>(p.in0.data) + b.in0 + c;
    const Tl* x1 = static_cast<const Tl*>(p.in1.data) + b.in1 + c;
    Ts* out = static_cast<Ts*>(const_cast<void*>(p.out.data)) + b.out + c;

    // ---- pass 1: this thread's partial states over positions ty, ty + TY, ... ----
    A m[VEC], s[VEC];
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      m[j] = kBwd ? A(0) : neg_inf<A>();  // the backward keeps only s
      s[j] = 0;
    }
    if (active) {
      for (int64_t i0 = ty; i0 < n; i0 += static_cast<int64_t>(TY) * U) {
        Vec<Tl, VEC> r0[U];
        Vec<Tl, VEC> r1[kBwd ? U : 1];
#pragma unroll
        for (int u = 0; u < U; ++u) {
          const int64_t i = i0 + static_cast<int64_t>(u) * TY;
          const bool in = i < n;
          if constexpr (kBwd) {
            r0[u] = in ? *reinterpret_cast<const Vec<Tl, VEC>*>(x0 + i * a0) : fill_vec<Tl, VEC>(from_compute<Tl>(0.f));
            r1[u] = in ? *reinterpret_cast<const Vec<Tl, VEC>*>(x1 + i * a1) : fill_vec<Tl, VEC>(from_compute<Tl>(0.f));
          } else {
            // Positions past the end are -inf: they add nothing (the temperature is > 0).
            r0[u] = in ? *reinterpret_cast<const Vec<Tl, VEC>*>(x0 + i * a0)
                       : fill_vec<Tl, VEC>(from_compute<Tl>(neg_inf<float>()));
          }
        }
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          if constexpr (kBwd) {
#pragma unroll
            for (int u = 0; u < U; ++u) {
              const A dy = to_compute<A>(r0[u].v[j]);
              s[j] += p.log ? dy : dy * to_compute<A>(r1[u].v[j]);
            }
          } else {
            A z[U];
#pragma unroll
            for (int u = 0; u < U; ++u) z[u] = to_compute<A>(r0[u].v[j]) * scale;
            online_update<kFast>(m[j], s[j], z);
          }
        }
      }
    }

    // ---- the TY partial states of each column, merged by a fixed tree (ty with ty + half) ----
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      if constexpr (!kBwd) my_m[j] = m[j];
      my_s[j] = s[j];
    }
    __syncthreads();
    for (int half = TY >> 1; half > 0; half >>= 1) {
      if (ty < half) {
        const A* om = my_m + static_cast<int64_t>(half) * TX * VEC;
        const A* os = my_s + static_cast<int64_t>(half) * TX * VEC;
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          if constexpr (kBwd) {
            s[j] += os[j];
          } else {
            online_merge<kFast>(m[j], s[j], om[j], os[j]);
            my_m[j] = m[j];
          }
          my_s[j] = s[j];
        }
      }
      __syncthreads();
    }
    // Every thread of column tx takes thread (tx, 0)'s totals.
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      if constexpr (!kBwd) m[j] = sh_m[tx * VEC + j];
      s[j] = sh_s[tx * VEC + j];
    }
    __syncthreads();  // the next tile rewrites the slots

    // ---- pass 2: write y (dx) at this thread's positions ----
    if (active) {
      // Forward: s becomes 1 / sum (softmax) or log(sum) (log_softmax), one array live, not three.
      if constexpr (!kBwd) {
#pragma unroll
        for (int j = 0; j < VEC; ++j) s[j] = p.log ? log_acc(s[j]) : A(1) / s[j];
      }
      for (int64_t i0 = ty; i0 < n; i0 += static_cast<int64_t>(TY) * U) {
        Vec<Tl, VEC> r0[U];
        Vec<Tl, VEC> r1[kBwd ? U : 1];
#pragma unroll
        for (int u = 0; u < U; ++u) {
          const int64_t i = i0 + static_cast<int64_t>(u) * TY;
          if (i < n) {
            r0[u] = *reinterpret_cast<const Vec<Tl, VEC>*>(x0 + i * a0);
            if constexpr (kBwd) r1[u] = *reinterpret_cast<const Vec<Tl, VEC>*>(x1 + i * a1);
          }
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
          const int64_t i = i0 + static_cast<int64_t>(u) * TY;
          if (i < n) {
            Vec<Ts, VEC> o;
#pragma unroll
            for (int j = 0; j < VEC; ++j) {
              if constexpr (kBwd)
                o.v[j] = from_compute<Ts>(
                    backward_value<kFast>(p.log, to_compute<A>(r0[u].v[j]), to_compute<A>(r1[u].v[j]), s[j], scale));
              else
                o.v[j] = from_compute<Ts>(
                    forward_value<kFast>(p.log, to_compute<A>(r0[u].v[j]) * scale, m[j], s[j], s[j]));
            }
            *reinterpret_cast<Vec<Ts, VEC>*>(out + i * ao) = o;
          }
        }
      }
    }
  }
}

}  // namespace baracuda::sm::cuda
