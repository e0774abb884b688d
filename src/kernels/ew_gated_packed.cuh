#pragma once
// Gated activations whose halves are narrower than a 16-byte pack: x is a dense [rows, 2H] with
// 2H elements dividing a pack (H = 1, 2, 4 for 16-bit storage; 1, 2 for f32), so a and b of a row
// are interleaved at a distance below one pack. The row-strided vectorized kernel cannot take
// them (each half row must be 16-byte multiples), and the strided kernel loads every element on
// its own: PERF-BASELINE's (2^27, 2) bf16 swiglu ran there at 975 GB/s, 23% of copy.
//
// Here every 16-byte pack of x holds V / 2H whole rows: a thread loads one x pack and computes the
// V/2 outputs of those rows from registers, so the kernel moves memory like a copy (16 bytes in,
// 8 bytes out per pack). Backward reads the matching 8-byte dy pack and writes the whole 16-byte
// dx pack. Per element it calls the same functors and the same conversions as the vectorized
// kernel (ew_engine.cuh), so both give the same bits.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "kernels/ew_engine.cuh"

namespace baracuda::ew::cuda {

struct GatedPackedParams {
  const char* x;   // [rows, 2H], dense, 16-byte aligned
  const char* dy;  // backward: [rows, H], dense, 16-byte aligned; forward: unused
  char* out;       // forward: y [rows, H]; backward: dx [rows, 2H]; dense, 16-byte aligned
  int64_t packs;   // whole 16-byte packs in x
  int tail;        // elements of y (dy) past those packs' rows: rows % (V / 2H) rows, < V / 2
};

// Packs in flight per thread (all loaded before any is computed) and the register budget, after
// the engine's policy (unroll_for / min_blocks_for in ew_engine.cuh). 16-bit storage takes one
// pack per step and f32 two in the forward (24 bytes moved per pack, within the engine's 32); the
// forward is held to 32 registers (8 blocks of 256 threads per SM), since a one-shot stream needs
// full occupancy. ptxas (sm_90a): two 16-bit packs spilled at that cap in the bf16 kernels of the
// accurate functors (glu, geglu, ...); one pack spills nowhere. The backward, one pack, is left to
// the compiler as the engine's backward is: at 32 registers geglu_tanh's 16-bit kernels spilled,
// uncapped they take 23-56 registers and spill nowhere. Neither setting is timed on the H200 yet.
template <class T, bool kBackward>
constexpr int gated_packed_unroll() {
  return sizeof(T) < 4 || kBackward ? 1 : 2;
}
template <bool kBackward>
constexpr int gated_packed_min_blocks() {
  return kBackward ? 1 : 2048 / kBlock;
}

// The y (dy) pack is 8 bytes: an explicit 64-bit access, as store_pack does for 16 bytes, so nvcc
// neither splits it by element nor by byte (it does not know the alignment of a char copy).
template <class T, int N>
__device__ __forceinline__ Pack<T, N> load_pack8(const T* p) {
  static_assert(sizeof(T) * N == 8, "8-byte packs only");
  const uint2 w = *reinterpret_cast<const uint2*>(p);
  Pack<T, N> r;
  copy_words<8>(&r, &w);
  return r;
}
template <class T, int N>
__device__ __forceinline__ void store_pack8(T* p, const Pack<T, N>& v) {
  static_assert(sizeof(T) * N == 8, "8-byte packs only");
  uint32_t w[2];
  copy_words<8>(w, &v);
  asm volatile("st.global.v2.u32 [%0], {%1, %2};" ::"l"(reinterpret_cast<uint2*>(p)), "r"(w[0]), "r"(w[1]));
}

// Output j of a pack sits in row j / H, column j % H; its a is element (j / H) * 2H + j % H of the
// x pack and its b is H further.
template <int H>
__device__ __forceinline__ constexpr int a_slot(int j) {
  return (j / H) * 2 * H + j % H;
}

template <class Fn, class T, int H>
__device__ __forceinline__ Pack<T, 16 / sizeof(T) / 2> gated_fwd_pack(const Fn& fn, const Pack<T, 16 / sizeof(T)>& x) {
  constexpr int kOut = 16 / sizeof(T) / 2;
  Pack<T, kOut> y;
#pragma unroll
  for (int j = 0; j < kOut; ++j)
    y.v[j] = from_compute<T>(fn(to_compute<float>(x.v[a_slot<H>(j)]), to_compute<float>(x.v[a_slot<H>(j) + H])));
  return y;
}

template <class Fn, class T, int H>
__device__ __forceinline__ Pack<T, 16 / sizeof(T)> gated_bwd_pack(const Fn& fn, const Pack<T, 16 / sizeof(T)>& x,
                                                                  const Pack<T, 16 / sizeof(T) / 2>& dy) {
  constexpr int kOut = 16 / sizeof(T) / 2;
  Pack<T, 16 / sizeof(T)> dx;
#pragma unroll
  for (int j = 0; j < kOut; ++j) {
    const Vec<float, 2> g =
        fn(to_compute<float>(dy.v[j]), to_compute<float>(x.v[a_slot<H>(j)]), to_compute<float>(x.v[a_slot<H>(j) + H]));
    dx.v[a_slot<H>(j)] = from_compute<T>(g.v[0]);
    dx.v[a_slot<H>(j) + H] = from_compute<T>(g.v[1]);
  }
  return dx;
}

// The rows after the last whole pack (fewer than a pack's worth): output j, element loads. Inlined:
// as a __noinline__ call, the calling convention raised most kernels' register counts (ptxas).
template <class Fn, class T, int H, bool kBackward>
__device__ __forceinline__ void gated_packed_tail(const T* x, const T* dy, T* out, int64_t j, Fn fn) {
  const int64_t a = (j / H) * 2 * H + j % H;  // where its a is in x (b is H further)
  const float av = to_compute<float>(x[a]), bv = to_compute<float>(x[a + H]);
  if constexpr (kBackward) {
    const Vec<float, 2> g = fn(to_compute<float>(dy[j]), av, bv);
    out[a] = from_compute<T>(g.v[0]);
    out[a + H] = from_compute<T>(g.v[1]);
  } else {
    out[j] = from_compute<T>(fn(av, bv));
  }
}

// Grid-stride over the x packs with int64 indices; each step takes kUnroll packs one grid stride
// apart (every unrolled load is coalesced across the warp) and loads them all before computing.
template <class Fn, class T, int H, bool kBackward, int kUnroll = gated_packed_unroll<T, kBackward>(),
          int kMinBlocks = gated_packed_min_blocks<kBackward>()>
__global__ void __launch_bounds__(kBlock, kMinBlocks) ew_gated_packed_kernel(GatedPackedParams p, Fn fn) {
  constexpr int V = 16 / sizeof(T);
  static_assert(V % (2 * H) == 0, "a 16-byte pack must hold whole rows");
  const T* x = reinterpret_cast<const T*>(p.x);
  const T* dy = reinterpret_cast<const T*>(p.dy);
  T* out = reinterpret_cast<T*>(p.out);
  const int64_t step = static_cast<int64_t>(gridDim.x) * kBlock;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kBlock + threadIdx.x; i < p.packs; i += step * kUnroll) {
    Pack<T, V> xs[kUnroll];
    Pack<T, V / 2> dys[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t k = i + u * step;
      if (k >= p.packs) break;
      xs[u] = load_pack<T, V>(x + k * V);
      if constexpr (kBackward) dys[u] = load_pack8<T, V / 2>(dy + k * (V / 2));
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t k = i + u * step;
      if (k >= p.packs) break;
      if constexpr (kBackward) store_pack<T, V>(out + k * V, gated_bwd_pack<Fn, T, H>(fn, xs[u], dys[u]));
      else store_pack8<T, V / 2>(out + k * (V / 2), gated_fwd_pack<Fn, T, H>(fn, xs[u]));
    }
  }
  if (blockIdx.x == gridDim.x - 1 && static_cast<int>(threadIdx.x) < p.tail)
    gated_packed_tail<Fn, T, H, kBackward>(x, dy, out, p.packs * (V / 2) + threadIdx.x, fn);
}

// ---------------------------------------------------------------------------------------------
// Host side. b is the collapsed bound of a gated problem (in: forward {a, b}, backward {dy, a, b};
// out: forward {y}, backward {da, db}); a and da are where x and dx start.

template <class Fn, class T, int H, bool kBackward>
Status launch_gated_packed_typed(const Bound& b, const LaunchContext& ctx, const Fn& fn) {
  constexpr int V = 16 / sizeof(T);
  constexpr int kUnroll = gated_packed_unroll<T, kBackward>();
  GatedPackedParams p{};
  p.x = b.in[kBackward ? 1 : 0].data;
  p.dy = kBackward ? b.in[0].data : nullptr;
  p.out = b.out[0].data;
  p.packs = 2 * b.numel / V;
  p.tail = static_cast<int>(b.numel - p.packs * (V / 2));
  // The plan takes this path only for dense operands under a 16-byte alignment promise, which
  // check_args enforces on every pointer before a run.
  auto aligned = [](const void* q) { return reinterpret_cast<uintptr_t>(q) % 16 == 0; };
  if (!aligned(p.x) || !aligned(p.out) || (kBackward && !aligned(p.dy)))
    return internal_error("[elementwise] packed gated kernel: an operand is not 16-byte aligned");
  auto* kernel = ew_gated_packed_kernel<Fn, T, H, kBackward>;
  // Exactly the resident blocks (no more): every block strides over the whole tensor, so a block
  // of a second wave would run its share after the first wave, up to doubling the time.
  static const int per_sm = [kernel] {
    int n = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kBlock, 0) != cudaSuccess) {
      (void)cudaGetLastError();  // not the launch's error: check_launch reads it
      return 1;
    }
    return n > 0 ? n : 1;
  }();
  const int64_t step = static_cast<int64_t>(kBlock) * kUnroll;
  const int64_t blocks = (p.packs + step - 1) / step;
  const int64_t cap = static_cast<int64_t>(ctx.sm_count) * per_sm;
  const unsigned grid = static_cast<unsigned>(std::max<int64_t>(1, std::min(blocks, cap)));  // 1: the tail alone
  kernel<<<grid, kBlock, 0, ctx.stream>>>(p, fn);
  return check_launch("ew_gated_packed_kernel");
}

// half: the problem's half width (elements per half row); storage: f32, f16 or bf16.
template <class Fn, bool kBackward>
Status launch_gated_packed(const Bound& b, const LaunchContext& ctx, const Fn& fn, DType storage, int64_t half) {
  if (b.out[0].data == nullptr) return Status::ok();  // backward with dx not wanted
  switch (storage) {
    case DType::f32:
      if (half == 1) return launch_gated_packed_typed<Fn, float, 1, kBackward>(b, ctx, fn);
      if (half == 2) return launch_gated_packed_typed<Fn, float, 2, kBackward>(b, ctx, fn);
      break;
    case DType::f16:
      if (half == 1) return launch_gated_packed_typed<Fn, __half, 1, kBackward>(b, ctx, fn);
      if (half == 2) return launch_gated_packed_typed<Fn, __half, 2, kBackward>(b, ctx, fn);
      if (half == 4) return launch_gated_packed_typed<Fn, __half, 4, kBackward>(b, ctx, fn);
      break;
    case DType::bf16:
      if (half == 1) return launch_gated_packed_typed<Fn, __nv_bfloat16, 1, kBackward>(b, ctx, fn);
      if (half == 2) return launch_gated_packed_typed<Fn, __nv_bfloat16, 2, kBackward>(b, ctx, fn);
      if (half == 4) return launch_gated_packed_typed<Fn, __nv_bfloat16, 4, kBackward>(b, ctx, fn);
      break;
    default: break;
  }
  return internal_error("[elementwise] packed gated kernel got " + std::string(dtype_name(storage)) + " halves of " +
                        std::to_string(half) + " elements");
}

}  // namespace baracuda::ew::cuda
