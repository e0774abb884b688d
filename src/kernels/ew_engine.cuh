#pragma once
// The generic elementwise engine: one functor, NIN inputs, NOUT outputs, two paths.
//
//  * vectorized: every operand is a [rows, cols] matrix with unit column stride and 16-byte
//    aligned rows (rows == 1 for plain contiguous tensors; gated halves are row-strided). Each
//    thread moves one pack of VEC elements per operand with 16-byte loads/stores.
//  * strided: any rank <= 8, any strides (0 = broadcast, negative allowed), runtime dtypes per
//    operand, scalar operands; int64 offsets.
//
// Neither path allocates or synchronizes. A cast may also reduce max|x| into an f32 (amax) with
// an order-independent atomicMax on the float's bits (max is exact, so it is deterministic).
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "kernels/ew_functor_common.cuh"
#include "kernels/ew_load_store.cuh"
#include "ops/elementwise/cuda/ew_launchers.hpp"

namespace baracuda::ew::cuda {

inline constexpr int kBlock = 256;

template <class C, int NIN>
struct ScalarInputs {
  C value[NIN > 0 ? NIN : 1];
  bool is_scalar[NIN > 0 ? NIN : 1];
};

// ---------------------------------------------------------------------------------------------
// Invoking a functor with NIN inputs and NOUT outputs.
template <class Fn, class C, int NIN, int NOUT>
__device__ __forceinline__ void apply(const Fn& fn, const C (&in)[NIN], C (&out)[NOUT]) {
  if constexpr (NIN == 1) {
    out[0] = fn(in[0]);
  } else if constexpr (NIN == 2 && NOUT == 1) {
    out[0] = fn(in[0], in[1]);
  } else if constexpr (NIN == 3 && NOUT == 1) {
    out[0] = fn(in[0], in[1], in[2]);
  } else if constexpr (NIN == 3 && NOUT == 2) {
    Vec<C, 2> r = fn(in[0], in[1], in[2]);
    out[0] = r.v[0];
    out[1] = r.v[1];
  } else if constexpr (NIN == 4 && NOUT == 3) {
    Vec<C, 3> r = fn(in[0], in[1], in[2], in[3]);
    out[0] = r.v[0];
    out[1] = r.v[1];
    out[2] = r.v[2];
  } else {
    static_assert(NIN == 0, "unsupported functor shape");
  }
}

// NaN-propagating max of non-negative values.
__device__ __forceinline__ float amax_combine(float a, float b) { return (a != a || b != b) ? __int_as_float(0x7fc00000) : fmaxf(a, b); }

__device__ __forceinline__ void amax_commit(float local, float* amax) {
  for (int o = 16; o > 0; o >>= 1) local = amax_combine(local, __shfl_xor_sync(0xffffffffu, local, o));
  if ((threadIdx.x & 31) == 0) atomicMax(reinterpret_cast<unsigned int*>(amax), __float_as_uint(local));
}

// ---------------------------------------------------------------------------------------------
// Vectorized path.
template <class T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// Packs move through memory as raw 16/8/4/2/1-byte words: copying a struct of __half or
// __nv_bfloat16 member by member would split one 16-byte access into eight 2-byte ones.
template <int Bytes>
__device__ __forceinline__ void copy_words(void* dst, const void* src) {
  if constexpr (Bytes % 16 == 0) {
#pragma unroll
    for (int i = 0; i < Bytes / 16; ++i) {
      uint4 w;
      __builtin_memcpy(&w, static_cast<const char*>(src) + 16 * i, 16);
      __builtin_memcpy(static_cast<char*>(dst) + 16 * i, &w, 16);
    }
  } else {
    static_assert(Bytes == 8 || Bytes == 4 || Bytes == 2 || Bytes == 1, "pack sizes are powers of two");
    using Word = std::conditional_t<Bytes == 8, uint2, std::conditional_t<Bytes == 4, uint32_t,
                                    std::conditional_t<Bytes == 2, uint16_t, uint8_t>>>;
    Word w;
    __builtin_memcpy(&w, src, Bytes);
    __builtin_memcpy(dst, &w, Bytes);
  }
}
// 16-byte chunks load as uint4; they store through an explicit st.global.v4: nvcc splits a plain
// uint4 store of eight bf16 values into four 4-byte (or eight 2-byte) stores (seen in the PTX of
// the f32->bf16 cast, which then ran at 38% of copy bandwidth).
template <class T, int N>
__device__ __forceinline__ Pack<T, N> load_pack(const T* p) {
  constexpr int kBytes = sizeof(T) * N;
  Pack<T, N> r;
  if constexpr (kBytes % 16 == 0) {
#pragma unroll
    for (int i = 0; i < kBytes / 16; ++i) {
      const uint4 w = reinterpret_cast<const uint4*>(p)[i];
      copy_words<16>(reinterpret_cast<char*>(&r) + 16 * i, &w);
    }
  } else {
    copy_words<kBytes>(&r, p);
  }
  return r;
}
template <class T, int N>
__device__ __forceinline__ void store_pack(T* p, const Pack<T, N>& v) {
  constexpr int kBytes = sizeof(T) * N;
  if constexpr (kBytes % 16 == 0) {
#pragma unroll
    for (int i = 0; i < kBytes / 16; ++i) {
      uint32_t w[4];
      copy_words<16>(w, reinterpret_cast<const char*>(&v) + 16 * i);
      // No "memory" clobber: nothing else in a thread touches these 16 bytes after the store.
      asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" ::"l"(reinterpret_cast<uint4*>(p) + i), "r"(w[0]),
                   "r"(w[1]), "r"(w[2]), "r"(w[3]));
    }
  } else {
    copy_words<kBytes>(p, &v);
  }
}

template <int NIN, int NOUT>
struct VecParams {
  const char* in[NIN > 0 ? NIN : 1];
  int64_t in_row_stride[NIN > 0 ? NIN : 1];  // elements
  char* out[NOUT];
  int64_t out_row_stride[NOUT];
  int64_t rows;
  int64_t cols;
  float* amax;  // cast only; nullptr otherwise
};

// Each thread handles unroll_for<...>() packs of VEC elements per row, kBlock*VEC elements apart
// (so each unrolled step is coalesced); all packs are loaded before any is computed. Measured on
// the H200: ops moving 48 bytes or more per pack lose from a second pack in flight (bf16 add 102%
// -> 93% of copy bandwidth).
// 16-bit operands always take one pack: held to 32 registers (8 blocks/SM) one pack beat two
// packs at any register cap for bf16 gelu_tanh/silu/exp (90.2/94.3/97.5% of copy against
// 89.8/91.7/94.3% for two packs uncapped; bench/results/experiments/ew_variants_h200.log).
// f32 1-in/1-out ops take one pack too (at 8 blocks/SM, below), since the f32 sigmoid lost the
// IEEE division's slow path (reciprocal_1_to_2): 2^28 elements on the H200, one pack against two
// uncapped, exp 100.3% / 97.3% of copy, silu 99.2 / 96.7, sigmoid 99.1 / 96.8
// (bench/results/experiments/ew_variants_f32_h200.log). gelu_tanh stayed faster at two packs
// (98.9 / 98.1): a functor asks for them with `static constexpr bool kTwoF32Packs = true`.
template <class Fn>
constexpr bool wants_two_f32_packs() {
  if constexpr (requires { Fn::kTwoF32Packs; }) return Fn::kTwoF32Packs;
  else return false;
}
template <class Fn, class Tin, class Tout, int NIN, int NOUT, int VEC>
constexpr int unroll_for() {
  if constexpr (sizeof(Tin) < 4 && sizeof(Tout) < 4) return 1;
  if constexpr (NIN == 1 && NOUT == 1 && sizeof(Tin) == 4 && sizeof(Tout) == 4) return wants_two_f32_packs<Fn>() ? 2 : 1;
  return static_cast<int>((NIN * sizeof(Tin) + NOUT * sizeof(Tout)) * VEC) <= 32 ? 2 : 1;
}

// Resident blocks per SM the kernel is compiled for (__launch_bounds__). A one-shot streaming
// kernel needs full occupancy to keep enough bytes in flight: the bf16 add kernel compiled to 60
// registers (4 blocks of 256 per SM) ran at 88% of copy bandwidth where the same loop at 26
// registers (8 blocks) ran at 103% (bench/results/experiments/ew_variants_h200.log). So threads
// holding <= 48 bytes of packs are held to 32 registers. Threads holding two packs (64 bytes: the
// f32 1-in/1-out ops that ask for two) are left to the compiler: two bf16 packs held to 32
// registers made silu/gelu/exp fall from 88-94% to 34-36% of copy bandwidth.
template <class Fn, class Tin, class Tout, int NIN, int NOUT, int VEC>
constexpr int min_blocks_for() {
  constexpr int kPackBytes = static_cast<int>((NIN * sizeof(Tin) + NOUT * sizeof(Tout)) * VEC);
  return kPackBytes * unroll_for<Fn, Tin, Tout, NIN, NOUT, VEC>() <= 48 ? 2048 / kBlock : 1;
}

// One full pack: convert, apply the functor element by element, store the results.
template <class Fn, class C, class Tin, class Tout, int NIN, int NOUT, int VEC, bool kAmax, bool kScalars>
__device__ __forceinline__ void compute_store_pack(const Fn& fn, const ScalarInputs<C, NIN>& s,
                                                   const Pack<Tin, VEC> (&packs)[NIN > 0 ? NIN : 1],
                                                   Tout* const (&out)[NOUT], float& local_amax) {
  constexpr int kIn = NIN > 0 ? NIN : 1;
  Pack<Tout, VEC> res[NOUT];
#pragma unroll
  for (int k = 0; k < VEC; ++k) {
    C in[kIn];
#pragma unroll
    for (int i = 0; i < NIN; ++i) in[i] = kScalars && s.is_scalar[i] ? s.value[i] : to_compute<C>(packs[i].v[k]);
    C o[NOUT];
    apply<Fn, C, NIN, NOUT>(fn, in, o);
#pragma unroll
    for (int j = 0; j < NOUT; ++j) res[j].v[k] = from_compute<Tout>(o[j]);
    if constexpr (kAmax) local_amax = amax_combine(local_amax, fabsf(static_cast<float>(in[0])));
  }
#pragma unroll
  for (int j = 0; j < NOUT; ++j)
    if (out[j]) store_pack<Tout, VEC>(out[j], res[j]);
}

// The packs of a thread that reach past the end of the row (the last block of each row): checked
// pack by pack, element by element. Kept out of line so that the hot path stays short (its
// registers and setup decide the occupancy of every block, not just the last).
template <class Fn, class C, class Tin, class Tout, int NIN, int NOUT, int VEC, bool kAmax, bool kScalars, int kUnroll>
__device__ __forceinline__ void row_tail(const VecParams<NIN, NOUT>& p, const ScalarInputs<C, NIN>& s, const Fn& fn,
                                      int64_t row, int64_t base, float& local_amax) {
  constexpr int kIn = NIN > 0 ? NIN : 1;
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t col = base + static_cast<int64_t>(u) * kBlock * VEC;
    if (col >= p.cols) return;
    if (col + VEC <= p.cols) {
      Pack<Tin, VEC> packs[kIn];
      Tout* out[NOUT];
      for (int i = 0; i < NIN; ++i)
        if (!kScalars || !s.is_scalar[i]) packs[i] = load_pack<Tin, VEC>(reinterpret_cast<const Tin*>(p.in[i]) + row * p.in_row_stride[i] + col);
      for (int j = 0; j < NOUT; ++j)
        out[j] = p.out[j] ? reinterpret_cast<Tout*>(p.out[j]) + row * p.out_row_stride[j] + col : nullptr;
      compute_store_pack<Fn, C, Tin, Tout, NIN, NOUT, VEC, kAmax, kScalars>(fn, s, packs, out, local_amax);
      continue;
    }
    for (int64_t c = col; c < p.cols; ++c) {  // the row's last, partial pack
      C in[kIn];
      for (int i = 0; i < NIN; ++i)
        in[i] = kScalars && s.is_scalar[i] ? s.value[i] : to_compute<C>(reinterpret_cast<const Tin*>(p.in[i])[row * p.in_row_stride[i] + c]);
      C o[NOUT];
      apply<Fn, C, NIN, NOUT>(fn, in, o);
      for (int j = 0; j < NOUT; ++j)
        if (p.out[j]) reinterpret_cast<Tout*>(p.out[j])[row * p.out_row_stride[j] + c] = from_compute<Tout>(o[j]);
      if constexpr (kAmax) local_amax = amax_combine(local_amax, fabsf(static_cast<float>(in[0])));
    }
  }
}

// kScalars: some input may be a host scalar (s.is_scalar). Kernels without scalars are a separate
// instantiation: the per-element scalar select kept both the scalar and the pack live, and the
// bf16 swiglu kernel spilled at its 32-register cap (28 registers, no spill, without it).
// kUnroll and kMinBlocks default to the engine's policy (unroll_for, min_blocks_for); the
// engine-design experiment (bench/experiments/ew_variants.cu) instantiates other settings.
template <class Fn, class C, class Tin, class Tout, int NIN, int NOUT, int VEC, bool kAmax, bool kScalars,
          int kUnroll = unroll_for<Fn, Tin, Tout, NIN, NOUT, VEC>(), int kMinBlocks = min_blocks_for<Fn, Tin, Tout, NIN, NOUT, VEC>()>
__global__ void __launch_bounds__(kBlock, kMinBlocks)
    ew_vectorized_kernel(VecParams<NIN, NOUT> p, ScalarInputs<C, NIN> s, Fn fn) {
  constexpr int kIn = NIN > 0 ? NIN : 1;
  constexpr int64_t kStep = static_cast<int64_t>(kBlock) * VEC;  // between a thread's packs
  const int64_t base = (static_cast<int64_t>(blockIdx.x) * kBlock * kUnroll + threadIdx.x) * VEC;
  const bool whole = base + (kUnroll - 1) * kStep + VEC <= p.cols;  // every pack of the thread is full
  float local_amax = 0.f;
  for (int64_t row = blockIdx.y; row < p.rows; row += gridDim.y) {
    if (!whole) {
      row_tail<Fn, C, Tin, Tout, NIN, NOUT, VEC, kAmax, kScalars, kUnroll>(p, s, fn, row, base, local_amax);
      continue;
    }
    Pack<Tin, VEC> packs[kUnroll][kIn];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
#pragma unroll
      for (int i = 0; i < NIN; ++i)
        if (!kScalars || !s.is_scalar[i])
          packs[u][i] = load_pack<Tin, VEC>(reinterpret_cast<const Tin*>(p.in[i]) + row * p.in_row_stride[i] + base + u * kStep);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      Tout* out[NOUT];
#pragma unroll
      for (int j = 0; j < NOUT; ++j)
        out[j] = p.out[j] ? reinterpret_cast<Tout*>(p.out[j]) + row * p.out_row_stride[j] + base + u * kStep : nullptr;
      compute_store_pack<Fn, C, Tin, Tout, NIN, NOUT, VEC, kAmax, kScalars>(fn, s, packs[u], out, local_amax);
    }
  }
  if constexpr (kAmax) amax_commit(local_amax, p.amax);
}

// ---------------------------------------------------------------------------------------------
// Strided path.
template <int NIN, int NOUT>
struct StridedParams {
  int rank;
  int64_t numel;
  int64_t sizes[kMaxRank];
  const char* in[NIN > 0 ? NIN : 1];
  DType in_dtype[NIN > 0 ? NIN : 1];
  int64_t in_stride[NIN > 0 ? NIN : 1][kMaxRank];  // bytes
  int in_bytes[NIN > 0 ? NIN : 1];    // element size of each input
  char* out[NOUT];
  DType out_dtype[NOUT];
  int64_t out_stride[NOUT][kMaxRank];  // bytes
  float* amax;
};

// Byte offsets of element n (row-major over p.sizes) in every operand. Rank 1 (what most strided
// views collapse to: a column, every other element, an interleaved pair) needs no division.
template <int NIN, int NOUT>
__device__ __forceinline__ void strided_offsets(const StridedParams<NIN, NOUT>& p, int64_t n,
                                                int64_t (&in_off)[NIN > 0 ? NIN : 1], int64_t (&out_off)[NOUT]) {
#pragma unroll
  for (int i = 0; i < (NIN > 0 ? NIN : 1); ++i) in_off[i] = 0;
#pragma unroll
  for (int j = 0; j < NOUT; ++j) out_off[j] = 0;
  if (p.rank == 1) {
#pragma unroll
    for (int i = 0; i < NIN; ++i) in_off[i] = n * p.in_stride[i][0];
#pragma unroll
    for (int j = 0; j < NOUT; ++j) out_off[j] = n * p.out_stride[j][0];
    return;
  }
  int64_t rem = n;
#pragma unroll
  for (int d = kMaxRank - 1; d >= 0; --d) {
    if (d >= p.rank) continue;
    const int64_t idx = rem % p.sizes[d];
    rem /= p.sizes[d];
#pragma unroll
    for (int i = 0; i < NIN; ++i) in_off[i] += idx * p.in_stride[i][d];
#pragma unroll
    for (int j = 0; j < NOUT; ++j) out_off[j] += idx * p.out_stride[j][d];
  }
}

// Each thread takes kStridedUnroll elements per step, one grid stride apart (so every unrolled load
// is coalesced across the warp), and issues all their loads before any compute: with one element
// per thread the grid keeps ~8 KB per SM in flight, far short of what HBM needs (the interleaved
// swiglu of PERF-BASELINE ran at 0.93 TB/s that way).
inline constexpr int kStridedUnroll = 4;

template <class Fn, class C, int NIN, int NOUT>
__global__ void __launch_bounds__(kBlock) ew_strided_kernel(StridedParams<NIN, NOUT> p, ScalarInputs<C, NIN> s, Fn fn) {
  constexpr int U = kStridedUnroll;
  constexpr int kIn = NIN > 0 ? NIN : 1;
  float local_amax = 0.f;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kBlock;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * kBlock + threadIdx.x; base < p.numel; base += step * U) {
    C in[U][kIn];
    int64_t out_off[U][NOUT];
    if constexpr (kIsComplex<C>) {
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int64_t n = base + u * step;
        int64_t in_off[kIn];
        strided_offsets(p, n < p.numel ? n : 0, in_off, out_off[u]);
#pragma unroll
        for (int i = 0; i < NIN; ++i)
          in[u][i] = s.is_scalar[i] || n >= p.numel ? s.value[i] : load_dyn<C>(p.in[i] + in_off[i], p.in_dtype[i]);
      }
    } else {
      // Every load of the step first (load_bits), the conversions after (decode_bits).
      uint64_t bits[U][kIn];
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int64_t n = base + u * step;
        int64_t in_off[kIn];
        strided_offsets(p, n < p.numel ? n : 0, in_off, out_off[u]);
#pragma unroll
        for (int i = 0; i < NIN; ++i)
          bits[u][i] = s.is_scalar[i] || n >= p.numel ? 0 : load_bits(p.in[i] + in_off[i], p.in_bytes[i]);
      }
#pragma unroll
      for (int u = 0; u < U; ++u)
#pragma unroll
        for (int i = 0; i < NIN; ++i) in[u][i] = s.is_scalar[i] ? s.value[i] : decode_bits<C>(bits[u][i], p.in_dtype[i]);
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (base + u * step >= p.numel) break;
      C o[NOUT];
      apply<Fn, C, NIN, NOUT>(fn, in[u], o);
#pragma unroll
      for (int j = 0; j < NOUT; ++j)
        if (p.out[j]) store_dyn<C>(p.out[j] + out_off[u][j], p.out_dtype[j], o[j]);
      if constexpr (std::is_arithmetic_v<C>)  // casts with amax have real inputs
        if (p.amax) local_amax = amax_combine(local_amax, fabsf(static_cast<float>(in[u][0])));
    }
  }
  if (p.amax) amax_commit(local_amax, p.amax);
}

// ---------------------------------------------------------------------------------------------
// Host-side launchers.

template <class C, int NIN>
ScalarInputs<C, NIN> scalar_inputs(const Bound& b) {
  ScalarInputs<C, NIN> s{};
  for (int i = 0; i < NIN; ++i) {
    s.is_scalar[i] = b.in[i].is_scalar;
    if constexpr (std::is_integral_v<C>) s.value[i] = static_cast<C>(b.in[i].i);
    else s.value[i] = static_cast<C>(b.in[i].dtype == DType::f64 ? b.in[i].f : static_cast<double>(b.in[i].i));
  }
  return s;
}

template <class Fn, class C, int NIN, int NOUT>
Status launch_strided(const Bound& b, const LaunchContext& ctx, const Fn& fn) {
  StridedParams<NIN, NOUT> p{};
  p.rank = b.rank;
  p.numel = b.numel;
  for (int d = 0; d < kMaxRank; ++d) p.sizes[d] = b.sizes[d];
  for (int i = 0; i < NIN; ++i) {
    p.in[i] = b.in[i].data;
    p.in_dtype[i] = b.in[i].dtype;
    p.in_bytes[i] = static_cast<int>(dtype_size(b.in[i].dtype));
    for (int d = 0; d < kMaxRank; ++d)
      p.in_stride[i][d] = b.in[i].strides[d] * static_cast<int64_t>(dtype_size(b.in[i].dtype));
  }
  for (int j = 0; j < NOUT; ++j) {
    p.out[j] = b.out[j].data;
    p.out_dtype[j] = b.out[j].dtype;
    for (int d = 0; d < kMaxRank; ++d)
      p.out_stride[j][d] = b.out[j].strides[d] * static_cast<int64_t>(dtype_size(b.out[j].dtype));
  }
  p.amax = b.amax;
  const int64_t per_block = static_cast<int64_t>(kBlock) * kStridedUnroll;
  int64_t blocks = (b.numel + per_block - 1) / per_block;
  int64_t cap = static_cast<int64_t>(ctx.sm_count) * 16;
  unsigned grid = static_cast<unsigned>(blocks < cap ? blocks : cap);
  ew_strided_kernel<Fn, C, NIN, NOUT><<<grid, kBlock, 0, ctx.stream>>>(p, scalar_inputs<C, NIN>(b), fn);
  return check_launch("ew_strided_kernel");
}

// kMayAmax: instantiate the kernel that also reduces max|x| (casts only; every other functor
// gets the kernel without it).
template <class Fn, class C, class Tin, class Tout, int NIN, int NOUT, bool kMayAmax = false>
Status launch_vectorized_typed(const Bound& b, const LaunchContext& ctx, const Fn& fn) {
  constexpr int kMinSize = sizeof(Tin) < sizeof(Tout) ? sizeof(Tin) : sizeof(Tout);
  constexpr int VEC = 16 / kMinSize;
  VecParams<NIN, NOUT> p{};
  // Collapsed bound: rank 0 (one element), 1 (dense) or 2 (dense rows, row strides).
  p.rows = b.rank == 2 ? b.sizes[0] : 1;
  p.cols = b.rank == 0 ? 1 : b.sizes[b.rank - 1];
  for (int i = 0; i < NIN; ++i) {
    p.in[i] = b.in[i].data;
    p.in_row_stride[i] = b.rank == 2 ? b.in[i].strides[0] : 0;
  }
  for (int j = 0; j < NOUT; ++j) {
    p.out[j] = b.out[j].data;
    p.out_row_stride[j] = b.rank == 2 ? b.out[j].strides[0] : 0;
  }
  p.amax = b.amax;
  int64_t col_packs = (p.cols + VEC - 1) / VEC;
  constexpr int kUnroll = unroll_for<Fn, Tin, Tout, NIN, NOUT, VEC>();
  dim3 grid(static_cast<unsigned>((col_packs + kBlock * kUnroll - 1) / (kBlock * kUnroll)),
            static_cast<unsigned>(p.rows < 65535 ? p.rows : 65535));
  bool any_scalar = false;
  for (int i = 0; i < NIN; ++i) any_scalar |= b.in[i].is_scalar;
  if constexpr (NIN >= 2) {  // a one-input kernel's input is the op's tensor operand (never a scalar)
    if (any_scalar) {
      ew_vectorized_kernel<Fn, C, Tin, Tout, NIN, NOUT, VEC, false, true><<<grid, kBlock, 0, ctx.stream>>>(p, scalar_inputs<C, NIN>(b), fn);
      return check_launch("ew_vectorized_kernel");
    }
  } else if (any_scalar) {
    return internal_error("[elementwise] vectorized path: a one-input kernel got a scalar operand");
  }
  if constexpr (kMayAmax) {
    if (p.amax) {
      ew_vectorized_kernel<Fn, C, Tin, Tout, NIN, NOUT, VEC, true, false><<<grid, kBlock, 0, ctx.stream>>>(p, scalar_inputs<C, NIN>(b), fn);
      return check_launch("ew_vectorized_kernel");
    }
  }
  ew_vectorized_kernel<Fn, C, Tin, Tout, NIN, NOUT, VEC, false, false><<<grid, kBlock, 0, ctx.stream>>>(p, scalar_inputs<C, NIN>(b), fn);
  return check_launch("ew_vectorized_kernel");
}

// Same storage dtype for every tensor operand: f32, f16 or bf16, float math.
template <class Fn, int NIN, int NOUT>
Status launch_vectorized(const Bound& b, const LaunchContext& ctx, const Fn& fn, DType storage) {
  switch (storage) {
    case DType::f32: return launch_vectorized_typed<Fn, float, float, float, NIN, NOUT>(b, ctx, fn);
    case DType::f16: return launch_vectorized_typed<Fn, float, __half, __half, NIN, NOUT>(b, ctx, fn);
    case DType::bf16: return launch_vectorized_typed<Fn, float, __nv_bfloat16, __nv_bfloat16, NIN, NOUT>(b, ctx, fn);
    default: return internal_error("[elementwise] vectorized path got dtype " + std::string(dtype_name(storage)));
  }
}

}  // namespace baracuda::ew::cuda
