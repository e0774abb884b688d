#pragma once
// Device building blocks of the softmax engines: row offsets, the value z = x * scale (+ mask),
// NaN-propagating max, the online (running max, rescaled sum) update and merge, and reductions
// across a warp or a block. Special values follow torch: a NaN or +inf anywhere in a row, or a
// row that is all -inf, makes the row NaN (every path below keeps that property).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/ew_load_store.cuh"
#include "kernels/pdl.cuh"  // every softmax kernel begins with kernels::pdl_enter
#include "ops/softmax/cuda/softmax_launch.hpp"

namespace baracuda::sm::cuda {

using ew::cuda::from_compute;
using ew::cuda::to_compute;

// N elements of T loaded or stored as one vector (16 bytes for the loaded dtype).
template <class T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

__device__ __forceinline__ float exp_acc(float v) { return expf(v); }
__device__ __forceinline__ double exp_acc(double v) { return exp(v); }

// exp for results stored in 16 bits: the hardware ex2 (about 2 ulp of f32, plus |v| * 2^-24 from
// scaling v by log2(e)): far below a 16-bit rounding, and it keeps the SFU off the critical path
// of the bandwidth-bound engines. Everything else uses the accurate exp.
template <bool kFast, class A>
__device__ __forceinline__ A exp_out(A v) {
  if constexpr (kFast && std::is_same_v<A, float>) return __expf(v);
  else return exp_acc(v);
}
__device__ __forceinline__ float log_acc(float v) { return logf(v); }
__device__ __forceinline__ double log_acc(double v) { return log(v); }

template <class A>
__device__ __forceinline__ A neg_inf() {
  return -static_cast<A>(INFINITY);
}

// max that propagates NaN (torch's max does; fmax would drop it).
template <class A>
__device__ __forceinline__ A nan_max(A a, A b) {
  return (a > b || a != a) ? a : b;
}

// Element offsets of one row in every operand.
struct RowBases {
  int64_t in0 = 0, in1 = 0, out = 0, mask = 0;
};

__device__ __forceinline__ RowBases row_bases(const KernelParams& p, int64_t row) {
  RowBases b;
  if (p.outer_rank <= 1) {  // the common case: no 64-bit division per row (outer[0] is 0 for rank 0)
    b.in0 = row * p.in0.outer[0];
    b.in1 = row * p.in1.outer[0];
    b.out = row * p.out.outer[0];
    b.mask = row * p.mask.outer[0];
    return b;
  }
  for (int k = p.outer_rank - 1; k >= 0; --k) {
    const int64_t size = p.outer_sizes[k];
    const int64_t i = row % size;
    row /= size;
    b.in0 += i * p.in0.outer[k];
    b.in1 += i * p.in1.outer[k];
    b.out += i * p.out.outer[k];
    b.mask += i * p.mask.outer[k];
  }
  return b;
}

// Whether the boolean mask keeps element `col` of the row whose mask base is `mbase`.
__device__ __forceinline__ bool mask_keeps(const KernelParams& p, int64_t mbase, int64_t col) {
  return *(static_cast<const uint8_t*>(p.mask.data) + (mbase + col * p.mask.along)) != 0;
}

// An additive mask element (the signature admits f64, f32, f16, bf16 masks only).
template <class A>
__device__ __forceinline__ A load_mask_value(const char* mp, DType t) {
  switch (t) {
    case DType::f64: return static_cast<A>(*reinterpret_cast<const double*>(mp));
    case DType::f16: return static_cast<A>(__half2float(*reinterpret_cast<const __half*>(mp)));
    case DType::bf16: return static_cast<A>(__bfloat162float(*reinterpret_cast<const __nv_bfloat16*>(mp)));
    default: return static_cast<A>(*reinterpret_cast<const float*>(mp));
  }
}

// z = x * scale, then the mask: + additive value, or -inf where a boolean mask is false
// (masked_fill semantics: the masked element is -inf whatever x is, NaN included).
template <class A>
__device__ __forceinline__ A masked_z(const KernelParams& p, A x, int64_t mbase, int64_t col) {
  A z = x * static_cast<A>(p.scale);
  if (p.mask_kind == MaskKind::additive) {
    const char* mp = static_cast<const char*>(p.mask.data) + (mbase + col * p.mask.along) * p.mask_esize;
    z += load_mask_value<A>(mp, p.mask_dtype);
  } else if (p.mask_kind == MaskKind::boolean) {
    if (!mask_keeps(p, mbase, col)) z = neg_inf<A>();
  }
  return z;
}

// Running (max, sum of exp(z - max)) over a stream of z. -inf elements add nothing; a NaN makes
// both NaN; exp(z - z) (not 1) when the max moves, so that a +inf element yields NaN as in torch.
template <class A>
struct Online {
  A m = neg_inf<A>();
  A s = 0;
  __device__ __forceinline__ void add(A z) {
    if (z > m) {
      s = s * exp_acc(m - z) + exp_acc(z - z);
      m = z;
    } else if (z == z) {
      if (z != neg_inf<A>()) s += exp_acc(z - m);
    } else {
      m = z;
      s = z;
    }
  }
  __device__ __forceinline__ void merge(A om, A os) {
    const A nm = nan_max(m, om);
    if (nm == neg_inf<A>()) {  // both sides empty (or all -inf)
      s = 0;
    } else {
      s = s * exp_acc(m - nm) + os * exp_acc(om - nm);
    }
    m = nm;
  }
};

struct MaxOp {
  template <class A>
  __device__ __forceinline__ A operator()(A a, A b) const { return nan_max(a, b); }
};
struct SumOp {
  template <class A>
  __device__ __forceinline__ A operator()(A a, A b) const { return a + b; }
};

// Reduces v over the row's group: a warp (kWarp) or the whole block (blockDim.x a multiple of 32).
// `red` is 32 entries of shared memory; the leading barrier lets it be reused back to back.
template <bool kWarp, class A, class Op>
__device__ __forceinline__ A group_reduce(A v, Op op, A identity, A* red) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  if constexpr (kWarp) {
    return v;
  } else {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads();
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < static_cast<int>(blockDim.x >> 5) ? red[lane] : identity;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
  }
}

// Merges Online states over the block (the online engine; blockDim.x a multiple of 32).
template <class A>
__device__ __forceinline__ void block_merge(Online<A>& st, A* red_m, A* red_s) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const A om = __shfl_xor_sync(0xffffffffu, st.m, o);
    const A os = __shfl_xor_sync(0xffffffffu, st.s, o);
    st.merge(om, os);
  }
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  __syncthreads();
  if (lane == 0) {
    red_m[warp] = st.m;
    red_s[warp] = st.s;
  }
  __syncthreads();
  Online<A> w;
  if (lane < static_cast<int>(blockDim.x >> 5)) {
    w.m = red_m[lane];
    w.s = red_s[lane];
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const A om = __shfl_xor_sync(0xffffffffu, w.m, o);
    const A os = __shfl_xor_sync(0xffffffffu, w.s, o);
    w.merge(om, os);
  }
  st = w;
}

// The output of the forward for one z, given the row's max m, and 1/sum and log(sum).
template <bool kFast = false, class A>
__device__ __forceinline__ A forward_value(bool log, A z, A m, A inv_sum, A log_sum) {
  return log ? (z - m) - log_sum : exp_out<kFast>(z - m) * inv_sum;
}

// dx for one element, given the row's sum (of dy*y for softmax, of dy for log_softmax).
template <bool kFast = false, class A>
__device__ __forceinline__ A backward_value(bool log, A dy, A y, A sum, A scale) {
  return scale * (log ? dy - exp_out<kFast>(y) * sum : y * (dy - sum));
}

}  // namespace baracuda::sm::cuda
