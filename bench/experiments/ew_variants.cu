// Engine-design experiment: times variants of the vectorized elementwise kernel on the shapes of
// the issue-2 benchmark (bf16/f32 add at 2^28 elements, bf16 swiglu 32768x8192 -> 32768x4096),
// in one process with the device copy rate, so that the engine's choices (packs per thread,
// store instruction, cache hints, block size, grid shape) rest on numbers and not on guesses.
// Results: bench/results/NOTES.md. Not part of the library; built as baracuda_ew_variants.
//
//   baracuda_ew_variants [reps]
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels/ew_engine.cuh"
#include "kernels/ew_functors_fast.cuh"
#include "kernels/ew_functors_unary.cuh"

#define CHECK_CUDA(x)                                                                                    \
  do {                                                                                                   \
    cudaError_t e_ = (x);                                                                                \
    if (e_ != cudaSuccess) {                                                                             \
      std::fprintf(stderr, "%s failed: %s (%s:%d)\n", #x, cudaGetErrorString(e_), __FILE__, __LINE__); \
      std::exit(1);                                                                                      \
    }                                                                                                    \
  } while (0)

namespace {

enum Load { kPlain = 0, kNc = 1, kNoAllocate = 2 };
enum Store { kCompiler = 0, kAsmV4 = 1, kStreaming = 2 };

template <int L>
__device__ __forceinline__ uint4 load16(const void* p) {
  uint4 r;
  if constexpr (L == kPlain) {
    r = *static_cast<const uint4*>(p);
  } else if constexpr (L == kNc) {
    asm volatile("ld.global.nc.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  } else {
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p));
  }
  return r;
}
template <int S>
__device__ __forceinline__ void store16(void* p, uint4 v) {
  if constexpr (S == kCompiler) {
    *static_cast<uint4*>(p) = v;
  } else if constexpr (S == kAsmV4) {
    asm volatile("st.global.v4.u32 [%0], {%1,%2,%3,%4};" ::"l"(p), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w));
  } else {
    asm volatile("st.global.cs.v4.u32 [%0], {%1,%2,%3,%4};" ::"l"(p), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w));
  }
}

__device__ __forceinline__ uint32_t add_bf16x2_f32(uint32_t a, uint32_t b) {  // f32 opmath, like PyTorch
  __nv_bfloat162 x = *reinterpret_cast<__nv_bfloat162*>(&a), y = *reinterpret_cast<__nv_bfloat162*>(&b);
  float2 fx = __bfloat1622float2(x), fy = __bfloat1622float2(y);
  __nv_bfloat162 r = __floats2bfloat162_rn(fx.x + fy.x, fx.y + fy.y);
  return *reinterpret_cast<uint32_t*>(&r);
}
__device__ __forceinline__ uint32_t silu_mul_bf16x2(uint32_t a, uint32_t b) {
  __nv_bfloat162 x = *reinterpret_cast<__nv_bfloat162*>(&a), y = *reinterpret_cast<__nv_bfloat162*>(&b);
  float2 fx = __bfloat1622float2(x), fy = __bfloat1622float2(y);
  float s0 = __fdividef(fx.x, 1.f + __expf(-fx.x)), s1 = __fdividef(fx.y, 1.f + __expf(-fx.y));
  __nv_bfloat162 r = __floats2bfloat162_rn(s0 * fy.x, s1 * fy.y);
  return *reinterpret_cast<uint32_t*>(&r);
}
__device__ __forceinline__ uint4 combine(uint4 a, uint4 b, bool gated) {
  uint4 r;
  if (gated) {
    r.x = silu_mul_bf16x2(a.x, b.x), r.y = silu_mul_bf16x2(a.y, b.y);
    r.z = silu_mul_bf16x2(a.z, b.z), r.w = silu_mul_bf16x2(a.w, b.w);
  } else {
    r.x = add_bf16x2_f32(a.x, b.x), r.y = add_bf16x2_f32(a.y, b.y);
    r.z = add_bf16x2_f32(a.z, b.z), r.w = add_bf16x2_f32(a.w, b.w);
  }
  return r;
}

// out[r, c] = f(a[r, c], b[r, c]) on [rows, cols] bf16 matrices with row strides (elements).
// One-shot grid: blockIdx.x covers BLOCK*PACKS packs of one row; PACKS packs per thread, BLOCK*8
// elements apart. Persistent grid (PERSIST): a grid-stride loop over all packs of a flat tensor.
struct Args {
  const __nv_bfloat16* a;
  const __nv_bfloat16* b;
  __nv_bfloat16* out;
  int64_t rows, cols, a_stride, b_stride, out_stride;
};

template <int PACKS, int BLOCK, int L, int S, bool GATED>
__global__ void __launch_bounds__(BLOCK) two_in_kernel(Args p) {
  const int64_t row = blockIdx.y;
  const int64_t base = (static_cast<int64_t>(blockIdx.x) * BLOCK * PACKS + threadIdx.x) * 8;
  uint4 a[PACKS], b[PACKS];
#pragma unroll
  for (int u = 0; u < PACKS; ++u) {
    const int64_t c = base + static_cast<int64_t>(u) * BLOCK * 8;
    if (c + 8 <= p.cols) {
      a[u] = load16<L>(p.a + row * p.a_stride + c);
      b[u] = load16<L>(p.b + row * p.b_stride + c);
    }
  }
#pragma unroll
  for (int u = 0; u < PACKS; ++u) {
    const int64_t c = base + static_cast<int64_t>(u) * BLOCK * 8;
    if (c + 8 <= p.cols) store16<S>(p.out + row * p.out_stride + c, combine(a[u], b[u], GATED));
  }
}

template <int BLOCK, int L, int S, bool GATED>
__global__ void __launch_bounds__(BLOCK) persistent_kernel(Args p) {
  const int64_t packs = p.cols / 8;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * BLOCK + threadIdx.x; i < packs;
       i += static_cast<int64_t>(gridDim.x) * BLOCK) {
    uint4 a = load16<L>(p.a + i * 8), b = load16<L>(p.b + i * 8);
    store16<S>(p.out + i * 8, combine(a, b, GATED));
  }
}

__global__ void copy_kernel(const uint4* in, uint4* out, int64_t n) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = in[i];
}

__global__ void fill(__nv_bfloat16* p, int64_t n, uint64_t seed) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    float v = ((h >> 40) / float(1 << 24)) * 8.f - 4.f;
    p[i] = __float2bfloat16(v);
  }
}

int g_reps = 50;

template <class F>
double median_ms(F&& launch) {
  cudaEvent_t a, b;
  CHECK_CUDA(cudaEventCreate(&a));
  CHECK_CUDA(cudaEventCreate(&b));
  for (int i = 0; i < 5; ++i) launch();
  CHECK_CUDA(cudaDeviceSynchronize());
  std::vector<float> ms;
  for (int i = 0; i < g_reps; ++i) {
    CHECK_CUDA(cudaEventRecord(a));
    launch();
    CHECK_CUDA(cudaEventRecord(b));
    CHECK_CUDA(cudaEventSynchronize(b));
    float t = 0;
    CHECK_CUDA(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  CHECK_CUDA(cudaGetLastError());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

double g_copy_gbs = 0;

void report(const char* name, double bytes, double ms) {
  const double gbs = bytes / ms / 1e6;
  std::printf("%-48s %8.4f ms %8.1f GB/s %6.1f%% of copy\n", name, ms, gbs, 100.0 * gbs / g_copy_gbs);
}

template <int PACKS, int BLOCK, int L, int S, bool GATED>
void one_shot(const char* name, Args p) {
  const int64_t per_block = static_cast<int64_t>(BLOCK) * PACKS * 8;
  dim3 grid(static_cast<unsigned>((p.cols + per_block - 1) / per_block), static_cast<unsigned>(p.rows));
  const double ms = median_ms([&] { two_in_kernel<PACKS, BLOCK, L, S, GATED><<<grid, BLOCK>>>(p); });
  report(name, 3.0 * 2.0 * static_cast<double>(p.rows) * p.cols, ms);
}

template <int BLOCK, int L, int S>
void persistent(const char* name, Args p, int blocks_per_sm, int sms) {
  const double ms =
      median_ms([&] { persistent_kernel<BLOCK, L, S, false><<<sms * blocks_per_sm, BLOCK>>>(p); });
  report(name, 3.0 * 2.0 * static_cast<double>(p.rows) * p.cols, ms);
}

// The engine's own vectorized kernel with a unary functor over storage T (bf16: the fast 16-bit
// functors; f32: the accurate ones), at a chosen number of packs per thread (UNROLL) and resident
// blocks per SM (MIN_BLOCKS: the register cap).
template <class T, class Fn, int UNROLL, int MIN_BLOCKS>
void engine_unary(const char* name, const T* in, T* out, int64_t n) {
  namespace ew = baracuda::ew::cuda;
  constexpr int kVec = 16 / static_cast<int>(sizeof(T));
  ew::VecParams<1, 1> p{};
  p.in[0] = reinterpret_cast<const char*>(in);
  p.out[0] = reinterpret_cast<char*>(out);
  p.rows = 1;
  p.cols = n;
  ew::ScalarInputs<float, 1> s{};
  const Fn fn{baracuda::ElementwiseAttrs{}};
  const int64_t per_block = int64_t{ew::kBlock} * UNROLL * kVec;
  dim3 grid(static_cast<unsigned>((n + per_block - 1) / per_block), 1);
  const double ms = median_ms([&] {
    ew::ew_vectorized_kernel<Fn, float, T, T, 1, 1, kVec, false, false, UNROLL, MIN_BLOCKS><<<grid, ew::kBlock>>>(p, s, fn);
  });
  report(name, 2.0 * sizeof(T) * static_cast<double>(n), ms);
}

// bf16: the engine compiles 1-in/1-out 16-bit ops with one pack at 8 blocks/SM.
template <class Fn>
void engine_unary_policies(const char* op, const __nv_bfloat16* in, __nv_bfloat16* out, int64_t n) {
  std::printf("-- %s bf16 through the engine kernel, 2^28 elements\n", op);
  using T = __nv_bfloat16;
  engine_unary<T, Fn, 2, 1>("2 packs, no cap", in, out, n);
  engine_unary<T, Fn, 2, 4>("2 packs, 4 blocks/SM (<=64 regs)", in, out, n);
  engine_unary<T, Fn, 2, 5>("2 packs, 5 blocks/SM (<=48 regs)", in, out, n);
  engine_unary<T, Fn, 2, 6>("2 packs, 6 blocks/SM (<=40 regs)", in, out, n);
  engine_unary<T, Fn, 1, 8>("1 pack, 8 blocks/SM (<=32 regs; engine)", in, out, n);
  engine_unary<T, Fn, 1, 6>("1 pack, 6 blocks/SM (<=40 regs)", in, out, n);
  engine_unary<T, Fn, 1, 1>("1 pack, no cap", in, out, n);
}

// The f32 sigmoid as the engine computed it before reciprocal_1_to_2 (the IEEE division), for an
// A/B of the math alone (same kernel, same policy).
__device__ __forceinline__ float sigmoid_ieee(float x) {
  const float e = expf(-fabsf(x));
  const float big = 1.f / (1.f + e);
  return x >= 0.f ? big : e * big;
}
struct SiluIeee {
  __host__ explicit SiluIeee(const baracuda::ElementwiseAttrs&) {}
  __device__ __forceinline__ float operator()(float x) const { return x * sigmoid_ieee(x); }
};
struct GeluTanhIeee {
  __host__ explicit GeluTanhIeee(const baracuda::ElementwiseAttrs&) {}
  __device__ __forceinline__ float operator()(float x) const {
    const float u = x * (0.7978845608028654f + 0.7978845608028654f * 0.044715f * x * x);
    return x * sigmoid_ieee(2.f * u);
  }
};

// f32 storage with the accurate functors (what the engine runs for f32 tensors); f32
// gelu_tanh/silu/exp ran 1.7-2.4% behind PyTorch at 2^28 elements with two packs and no register
// cap (bench/results/h200.md, a455da4). Results: bench/results/experiments/ew_variants_f32_h200.log.
template <class Fn>
void engine_unary_f32_policies(const char* op, const float* in, float* out, int64_t n) {
  std::printf("-- %s f32 through the engine kernel, 2^28 elements\n", op);
  engine_unary<float, Fn, 2, 1>("2 packs, no cap (engine: gelu_tanh)", in, out, n);
  engine_unary<float, Fn, 2, 4>("2 packs, 4 blocks/SM (<=64 regs)", in, out, n);
  engine_unary<float, Fn, 2, 8>("2 packs, 8 blocks/SM (<=32 regs)", in, out, n);
  engine_unary<float, Fn, 4, 1>("4 packs, no cap", in, out, n);
  engine_unary<float, Fn, 1, 8>("1 pack, 8 blocks/SM (<=32 regs; engine: the rest)", in, out, n);
  engine_unary<float, Fn, 1, 6>("1 pack, 6 blocks/SM (<=40 regs)", in, out, n);
  engine_unary<float, Fn, 1, 4>("1 pack, 4 blocks/SM (<=64 regs)", in, out, n);
  engine_unary<float, Fn, 1, 1>("1 pack, no cap", in, out, n);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_reps = std::atoi(argv[1]);
  int sms = 0;
  CHECK_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const int64_t n = int64_t{1} << 28;
  __nv_bfloat16 *a, *b, *out;
  CHECK_CUDA(cudaMalloc(&a, n * 2));
  CHECK_CUDA(cudaMalloc(&b, n * 2));
  CHECK_CUDA(cudaMalloc(&out, n * 2));
  fill<<<1024, 256>>>(a, n, 1);
  fill<<<1024, 256>>>(b, n, 2);
  CHECK_CUDA(cudaDeviceSynchronize());

  {  // roofline: 1 GiB device-to-device copy, memcpy and a 16-byte copy kernel
    void *src, *dst;
    const size_t bytes = size_t{1} << 30;
    CHECK_CUDA(cudaMalloc(&src, bytes));
    CHECK_CUDA(cudaMalloc(&dst, bytes));
    double ms = median_ms([&] { CHECK_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice)); });
    g_copy_gbs = 2.0 * bytes / ms / 1e6;
    report("cudaMemcpy D2D 1 GiB", 2.0 * bytes, ms);
    ms = median_ms([&] { copy_kernel<<<sms * 8, 256>>>(static_cast<uint4*>(src), static_cast<uint4*>(dst), bytes / 16); });
    report("copy kernel 16B, grid-stride", 2.0 * bytes, ms);
    CHECK_CUDA(cudaFree(src));
    CHECK_CUDA(cudaFree(dst));
  }

  Args flat{a, b, out, 1, n, 0, 0, 0};
  std::printf("-- add bf16, 2^28 elements (f32 opmath)\n");
  one_shot<1, 256, kPlain, kCompiler, false>("1 pack  b256 plain/compiler", flat);
  one_shot<1, 256, kPlain, kAsmV4, false>("1 pack  b256 plain/asm v4 (engine now)", flat);
  one_shot<1, 256, kPlain, kStreaming, false>("1 pack  b256 plain/st.cs", flat);
  one_shot<1, 256, kNc, kAsmV4, false>("1 pack  b256 nc/asm v4", flat);
  one_shot<1, 256, kNoAllocate, kAsmV4, false>("1 pack  b256 nc.no_allocate/asm v4", flat);
  one_shot<2, 256, kPlain, kAsmV4, false>("2 packs b256 plain/asm v4", flat);
  one_shot<2, 256, kPlain, kCompiler, false>("2 packs b256 plain/compiler", flat);
  one_shot<4, 256, kPlain, kAsmV4, false>("4 packs b256 plain/asm v4", flat);
  one_shot<1, 128, kPlain, kAsmV4, false>("1 pack  b128 plain/asm v4", flat);
  one_shot<1, 512, kPlain, kAsmV4, false>("1 pack  b512 plain/asm v4", flat);
  one_shot<2, 128, kPlain, kAsmV4, false>("2 packs b128 plain/asm v4", flat);
  one_shot<1, 1024, kPlain, kAsmV4, false>("1 pack  b1024 plain/asm v4", flat);
  persistent<256, kPlain, kAsmV4>("persistent b256 x4/SM asm v4", flat, 4, sms);
  persistent<256, kPlain, kAsmV4>("persistent b256 x8/SM asm v4", flat, 8, sms);
  persistent<512, kPlain, kAsmV4>("persistent b512 x4/SM asm v4", flat, 4, sms);
  persistent<256, kPlain, kCompiler>("persistent b256 x8/SM compiler", flat, 8, sms);

  // swiglu: x [32768, 8192] -> out [32768, 4096] = silu(x[:, :4096]) * x[:, 4096:]
  const int64_t rows = 32768, cols = 4096;
  Args gated{a, a + cols, out, rows, cols, 2 * cols, 2 * cols, cols};
  std::printf("-- swiglu bf16, 32768 x 8192 -> 32768 x 4096\n");
  one_shot<1, 256, kPlain, kAsmV4, true>("1 pack  b256 plain/asm v4 (engine now)", gated);
  one_shot<2, 256, kPlain, kAsmV4, true>("2 packs b256 plain/asm v4", gated);
  one_shot<1, 512, kPlain, kAsmV4, true>("1 pack  b512 plain/asm v4", gated);
  one_shot<2, 128, kPlain, kAsmV4, true>("2 packs b128 plain/asm v4", gated);
  one_shot<1, 128, kPlain, kAsmV4, true>("1 pack  b128 plain/asm v4", gated);
  one_shot<1, 256, kNoAllocate, kAsmV4, true>("1 pack  b256 no_allocate/asm v4", gated);
  one_shot<1, 256, kPlain, kStreaming, true>("1 pack  b256 plain/st.cs", gated);
  one_shot<4, 128, kPlain, kAsmV4, true>("4 packs b128 plain/asm v4", gated);

  namespace ew = baracuda::ew::cuda;
  engine_unary_policies<ew::GeluTanhFwdFast<float>>("gelu_tanh", a, out, n);
  engine_unary_policies<ew::SiluFwdFast<float>>("silu", a, out, n);
  engine_unary_policies<ew::ExpFwdFast<float>>("exp", a, out, n);
  {  // f32: 2^28 floats in and out (the a / out buffers hold 2^28 bf16 each: new ones)
    float *fa, *fout;
    CHECK_CUDA(cudaMalloc(&fa, n * 4));
    CHECK_CUDA(cudaMalloc(&fout, n * 4));
    fill<<<1024, 256>>>(reinterpret_cast<__nv_bfloat16*>(fa), 2 * n, 3);  // bf16 bit patterns: finite floats
    CHECK_CUDA(cudaDeviceSynchronize());
    engine_unary_f32_policies<ew::GeluTanhFwd<float>>("gelu_tanh", fa, fout, n);
    engine_unary_f32_policies<GeluTanhIeee>("gelu_tanh (IEEE division)", fa, fout, n);
    engine_unary_f32_policies<ew::SiluFwd<float>>("silu", fa, fout, n);
    engine_unary_f32_policies<SiluIeee>("silu (IEEE division)", fa, fout, n);
    engine_unary_f32_policies<ew::ExpFwd<float>>("exp", fa, fout, n);
    engine_unary_f32_policies<ew::SigmoidFwd<float>>("sigmoid", fa, fout, n);
    CHECK_CUDA(cudaFree(fa));
    CHECK_CUDA(cudaFree(fout));
  }
  CHECK_CUDA(cudaFree(a));
  CHECK_CUDA(cudaFree(b));
  CHECK_CUDA(cudaFree(out));
  return 0;
}
