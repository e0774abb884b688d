#pragma once
// The row engine of layer_norm / rms_norm (and their fused residual-add variants): x is viewed
// as [rows, cols] with contiguous rows (any row stride). Device code only.
//
// Forward kernels (one row at a time per warp or per block):
//   norm_fwd_cached<.., WARP=true>  one warp per row, each lane keeps P packs of the row in
//                                   registers (rows of <= 32*P*VEC elements);
//   norm_fwd_cached<.., WARP=false> one block per row, each thread keeps P packs (raw 16-bit
//                                   storage: half the registers of f32 copies);
//   norm_fwd_stream                 one block per row, re-reads the row (L1/L2) for the second
//                                   and third pass: any width, any alignment (VEC may be 1).
// Every variant computes the variance in two passes (mean first, then mean of squared
// deviations), never E[x^2]-E[x]^2, and accumulates in Acc (f32; f64 for f64 inputs).
// Backward: norm_bwd_rows (a block owns a fixed chunk of rows and one column slice; per-block
// dweight/dbias partials go to workspace) and norm_bwd_params (fixed-order sum of the partials).
// No atomics: results are bitwise reproducible.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/norm_rows_params.hpp"
#include "kernels/pdl.cuh"  // every kernel here begins with kernels::pdl_enter

namespace baracuda::norm::cuda {

// ---- conversions ---------------------------------------------------------------------------
template <class Acc, class T>
__device__ __forceinline__ Acc to_acc(T v) { return static_cast<Acc>(v); }
template <>
__device__ __forceinline__ float to_acc<float, __half>(__half v) { return __half2float(v); }
template <>
__device__ __forceinline__ float to_acc<float, __nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T, class Acc>
__device__ __forceinline__ T from_acc(Acc v) { return static_cast<T>(v); }
template <>
__device__ __forceinline__ __half from_acc<__half, float>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_acc<__nv_bfloat16, float>(float v) { return __float2bfloat16_rn(v); }

// ---- packs: N consecutive elements moved with the widest aligned accesses (16 bytes max) ----
template <int B> struct Chunk;
template <> struct Chunk<16> { using type = uint4; };
template <> struct Chunk<8> { using type = uint2; };
template <> struct Chunk<4> { using type = unsigned; };
template <> struct Chunk<2> { using type = unsigned short; };

template <class T, int N>
struct alignas(N * sizeof(T) < 16 ? N * sizeof(T) : 16) Pack {
  T v[N];
};

template <class T, int N>
__device__ __forceinline__ Pack<T, N> load_pack(const T* p) {
  constexpr int bytes = N * sizeof(T), cb = bytes < 16 ? bytes : 16;
  using C = typename Chunk<cb>::type;
  Pack<T, N> out;
  const C* src = reinterpret_cast<const C*>(p);
  C* dst = reinterpret_cast<C*>(&out);
#pragma unroll
  for (int i = 0; i < bytes / cb; ++i) dst[i] = src[i];
  return out;
}
template <class T, int N>
__device__ __forceinline__ void store_pack(T* p, const Pack<T, N>& in) {
  constexpr int bytes = N * sizeof(T), cb = bytes < 16 ? bytes : 16;
  using C = typename Chunk<cb>::type;
  const C* src = reinterpret_cast<const C*>(&in);
  C* dst = reinterpret_cast<C*>(p);
#pragma unroll
  for (int i = 0; i < bytes / cb; ++i) dst[i] = src[i];
}

// ---- reductions in a fixed order (deterministic) ----------------------------------------------
template <class Acc>
__device__ __forceinline__ Acc warp_sum(Acc v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum of `v` over the block (blockDim.x a multiple of 32), returned to every thread. `scratch`
// holds 32 Acc; the leading barrier lets callers reuse it back to back.
template <class Acc>
__device__ __forceinline__ Acc block_sum(Acc v, Acc* scratch) {
  v = warp_sum(v);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  return warp_sum(lane < nwarps ? scratch[lane] : Acc(0));
}

template <bool WARP, class Acc>
__device__ __forceinline__ Acc row_sum(Acc v, Acc* scratch) {
  if constexpr (WARP) return warp_sum(v);
  else return block_sum(v, scratch);
}

template <class Acc>
__device__ __forceinline__ Acc inv_sqrt(Acc v) { return Acc(1) / sqrt(v); }

// Applies the affine transform to one pack and stores it.
template <class T, class W, class Acc, int VEC>
__device__ __forceinline__ void write_normalized(const FwdParams& p, T* yrow, int64_t col, const Pack<T, VEC>& v, Acc mean,
                                                 Acc rstd) {
  Pack<T, VEC> out;
  Pack<W, VEC> w, b;
  if (p.weight) w = load_pack<W, VEC>(static_cast<const W*>(p.weight) + col);
  if (p.bias) b = load_pack<W, VEC>(static_cast<const W*>(p.bias) + col);
#pragma unroll
  for (int j = 0; j < VEC; ++j) {
    Acc r = (to_acc<Acc>(v.v[j]) - mean) * rstd;
    if (p.weight) r *= to_acc<Acc>(w.v[j]);
    if (p.bias) r += to_acc<Acc>(b.v[j]);
    out.v[j] = from_acc<T>(r);
  }
  store_pack<T, VEC>(yrow + col, out);
}

// Loads one pack of x (adding the residual and storing the sum when the op is fused).
template <class T, class Acc, int VEC>
__device__ __forceinline__ Pack<T, VEC> load_input(const FwdParams& p, int64_t row, int64_t col) {
  Pack<T, VEC> v = load_pack<T, VEC>(static_cast<const T*>(p.x) + row * p.x_stride + col);
  if (p.residual) {
    const Pack<T, VEC> r = load_pack<T, VEC>(static_cast<const T*>(p.residual) + row * p.res_stride + col);
#pragma unroll
    for (int j = 0; j < VEC; ++j) v.v[j] = from_acc<T>(to_acc<Acc>(v.v[j]) + to_acc<Acc>(r.v[j]));
    if (p.sum) store_pack<T, VEC>(static_cast<T*>(p.sum) + row * p.sum_stride + col, v);
  }
  return v;
}

template <class Acc>
__device__ __forceinline__ void write_stats(const FwdParams& p, int64_t row, Acc mean, Acc rstd) {
  if (p.mean) static_cast<Acc*>(p.mean)[row] = mean;
  if (p.rstd) static_cast<Acc*>(p.rstd)[row] = rstd;
}

// Rows cached in registers: lane/thread t owns packs k*lanes + t, k < P.
template <class T, class W, class Acc, int VEC, int P, bool WARP>
__global__ void __launch_bounds__(512) norm_fwd_cached(FwdParams p) {
  kernels::pdl_enter();
  __shared__ Acc scratch[32];
  const int lanes = WARP ? 32 : blockDim.x;
  const int t = WARP ? (threadIdx.x & 31) : threadIdx.x;
  const int64_t rows_per_cta = WARP ? blockDim.x / 32 : 1;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * rows_per_cta + (WARP ? threadIdx.x / 32 : 0);
  const int64_t step = static_cast<int64_t>(gridDim.x) * rows_per_cta;
  // Every warp of a CTA runs the same number of iterations so block_sum's barriers line up.
  for (int64_t base = first - (WARP ? threadIdx.x / 32 : 0); base < p.rows; base += step) {
    const int64_t row = base + (WARP ? threadIdx.x / 32 : 0);
    const bool live = row < p.rows;
    Pack<T, VEC> v[P];
    Acc s = 0;
#pragma unroll
    for (int k = 0; k < P; ++k) {
      const int64_t col = (static_cast<int64_t>(k) * lanes + t) * VEC;
      if (live && col < p.cols) {
        v[k] = load_input<T, Acc, VEC>(p, row, col);
#pragma unroll
        for (int j = 0; j < VEC; ++j) s += to_acc<Acc>(v[k].v[j]);
      }
    }
    const Acc n = static_cast<Acc>(p.cols);
    Acc mean = 0;
    if (!p.rms) mean = row_sum<WARP>(s, scratch) / n;
    Acc q = 0;
#pragma unroll
    for (int k = 0; k < P; ++k) {
      const int64_t col = (static_cast<int64_t>(k) * lanes + t) * VEC;
      if (live && col < p.cols) {
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          const Acc d = to_acc<Acc>(v[k].v[j]) - mean;
          q += d * d;
        }
      }
    }
    const Acc rstd = inv_sqrt(row_sum<WARP>(q, scratch) / n + static_cast<Acc>(p.eps));
    if (!live) continue;
    T* yrow = static_cast<T*>(p.y) + row * p.y_stride;
#pragma unroll
    for (int k = 0; k < P; ++k) {
      const int64_t col = (static_cast<int64_t>(k) * lanes + t) * VEC;
      if (col < p.cols) write_normalized<T, W, Acc, VEC>(p, yrow, col, v[k], mean, rstd);
    }
    if (t == 0) write_stats(p, row, mean, rstd);
  }
}

// Any width: three passes over the row, the second and third served by L1/L2. The fused add
// variant reads the sum back from its output (each thread re-reads what it wrote itself).
template <class T, class W, class Acc, int VEC>
__global__ void __launch_bounds__(512) norm_fwd_stream(FwdParams p) {
  kernels::pdl_enter();
  __shared__ Acc scratch[32];
  const int64_t span = static_cast<int64_t>(blockDim.x) * VEC;
  for (int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const bool from_sum = p.residual && p.sum;
    const T* src = from_sum ? static_cast<const T*>(p.sum) + row * p.sum_stride
                            : static_cast<const T*>(p.x) + row * p.x_stride;
    Acc s = 0;
    for (int64_t col = threadIdx.x * VEC; col < p.cols; col += span) {
      const Pack<T, VEC> v = load_input<T, Acc, VEC>(p, row, col);
#pragma unroll
      for (int j = 0; j < VEC; ++j) s += to_acc<Acc>(v.v[j]);
    }
    const Acc n = static_cast<Acc>(p.cols);
    Acc mean = 0;
    if (!p.rms) mean = block_sum(s, scratch) / n;
    // Without a stored sum the fused op recomputes x + residual on every pass.
    auto reload = [&](int64_t col) {
      return from_sum || !p.residual ? load_pack<T, VEC>(src + col) : load_input<T, Acc, VEC>(p, row, col);
    };
    Acc q = 0;
    for (int64_t col = threadIdx.x * VEC; col < p.cols; col += span) {
      const Pack<T, VEC> v = reload(col);
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        const Acc d = to_acc<Acc>(v.v[j]) - mean;
        q += d * d;
      }
    }
    const Acc rstd = inv_sqrt(block_sum(q, scratch) / n + static_cast<Acc>(p.eps));
    T* yrow = static_cast<T*>(p.y) + row * p.y_stride;
    for (int64_t col = threadIdx.x * VEC; col < p.cols; col += span)
      write_normalized<T, W, Acc, VEC>(p, yrow, col, reload(col), mean, rstd);
    if (threadIdx.x == 0) write_stats(p, row, mean, rstd);
  }
}

// ---- backward ----------------------------------------------------------------------------------
// Block (blockIdx.x = column slice, blockIdx.y = row chunk). Pass 1 reads the whole row to get
// sum(g) and sum(g*xhat) (g = dy*w); pass 2 writes dx for the slice's columns and accumulates
// dy*xhat and dy per column in registers; the block then stores its partials to workspace.
// Slices of one row chunk are adjacent in launch order, so their pass-1 re-reads of a row are
// served by L2. CACHED: one slice covers the row and pass 1 keeps the packs for pass 2.
// PARAMS: dweight/dbias are wanted (per-column accumulators in registers; without them a thread
// can cache more of the row).
template <class T, class W, class Acc, int VEC, int P, bool CACHED, bool PARAMS>
__global__ void __launch_bounds__(512) norm_bwd_rows(BwdParams p) {
  kernels::pdl_enter();
  __shared__ Acc scratch[2][32];
  const int64_t span = static_cast<int64_t>(blockDim.x) * VEC;
  const int64_t c0 = static_cast<int64_t>(blockIdx.x) * p.slice_cols;
  const int64_t c1 = c0 + p.slice_cols < p.cols ? c0 + p.slice_cols : p.cols;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * p.rows_per_block;
  const int64_t r1 = r0 + p.rows_per_block < p.rows ? r0 + p.rows_per_block : p.rows;
  const W* w = static_cast<const W*>(p.weight);
  constexpr int kAcc = PARAMS ? P : 1;
  Acc dw[kAcc][VEC], db[kAcc][VEC];
#pragma unroll
  for (int k = 0; k < kAcc; ++k)
#pragma unroll
    for (int j = 0; j < VEC; ++j) dw[k][j] = db[k][j] = 0;
  const Acc n = static_cast<Acc>(p.cols);

  for (int64_t row = r0; row < r1; ++row) {
    const T* dyr = static_cast<const T*>(p.dy) + row * p.dy_stride;
    const T* xr = static_cast<const T*>(p.x) + row * p.x_stride;
    const Acc mean = p.mean ? static_cast<const Acc*>(p.mean)[row] : Acc(0);
    const Acc rstd = static_cast<const Acc*>(p.rstd)[row];
    Pack<T, VEC> cx[CACHED ? P : 1], cdy[CACHED ? P : 1];
    Acc sg = 0, sgx = 0;
    auto accumulate = [&](const Pack<T, VEC>& xv, const Pack<T, VEC>& dv, int64_t col) {
      Pack<W, VEC> wv;
      if (w) wv = load_pack<W, VEC>(w + col);
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        const Acc g = w ? to_acc<Acc>(dv.v[j]) * to_acc<Acc>(wv.v[j]) : to_acc<Acc>(dv.v[j]);
        sg += g;
        sgx += g * (to_acc<Acc>(xv.v[j]) - mean) * rstd;
      }
    };
    if constexpr (CACHED) {
#pragma unroll
      for (int k = 0; k < P; ++k) {
        const int64_t col = threadIdx.x * VEC + k * span;
        if (col < p.cols) {
          cx[k] = load_pack<T, VEC>(xr + col);
          cdy[k] = load_pack<T, VEC>(dyr + col);
          accumulate(cx[k], cdy[k], col);
        }
      }
    } else {
      for (int64_t col = threadIdx.x * VEC; col < p.cols; col += span)
        accumulate(load_pack<T, VEC>(xr + col), load_pack<T, VEC>(dyr + col), col);
    }
    sg = block_sum(sg, scratch[0]);
    sgx = block_sum(sgx, scratch[1]);
    const Acc mg = p.rms ? Acc(0) : sg / n, mgx = sgx / n;
    T* dxr = static_cast<T*>(p.dx) + row * p.dx_stride;
    const T* dsr = p.dsum ? static_cast<const T*>(p.dsum) + row * p.dsum_stride : nullptr;
#pragma unroll
    for (int k = 0; k < P; ++k) {
      const int64_t col = c0 + threadIdx.x * VEC + k * span;
      if (col >= c1) continue;
      const Pack<T, VEC> xv = CACHED ? cx[CACHED ? k : 0] : load_pack<T, VEC>(xr + col);
      const Pack<T, VEC> dv = CACHED ? cdy[CACHED ? k : 0] : load_pack<T, VEC>(dyr + col);
      Pack<W, VEC> wv;
      if (w) wv = load_pack<W, VEC>(w + col);
      Pack<T, VEC> ds;
      if (dsr) ds = load_pack<T, VEC>(dsr + col);
      Pack<T, VEC> out;
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        const Acc d = to_acc<Acc>(dv.v[j]);
        const Acc g = w ? d * to_acc<Acc>(wv.v[j]) : d;
        const Acc xhat = (to_acc<Acc>(xv.v[j]) - mean) * rstd;
        Acc r = rstd * (g - mg - xhat * mgx);
        if (dsr) r += to_acc<Acc>(ds.v[j]);
        out.v[j] = from_acc<T>(r);
        if constexpr (PARAMS) {
          dw[k][j] += d * xhat;
          db[k][j] += d;
        }
      }
      store_pack<T, VEC>(dxr + col, out);
    }
  }
  // Per-block partials (every column of the slice is written, zeros for an empty chunk).
  if constexpr (PARAMS) {
#pragma unroll
    for (int k = 0; k < P; ++k) {
      const int64_t col = c0 + threadIdx.x * VEC + k * span;
      if (col >= c1) continue;
      const int64_t at = static_cast<int64_t>(blockIdx.y) * p.cols + col;
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        if (p.partial_dw) static_cast<Acc*>(p.partial_dw)[at + j] = dw[k][j];
        if (p.partial_db) static_cast<Acc*>(p.partial_db)[at + j] = db[k][j];
      }
    }
  }
}

// dweight/dbias: a block owns 32 adjacent columns (one coalesced 128-byte row of partials per
// warp load) and kParamWarps warps; warp w sums chunks w, w + kParamWarps, ... in order, then warp
// 0 adds the warps' sums in warp order: a fixed order (bitwise reproducible). Launch with
// kParamWarps * 32 threads and ceil(cols / 32) blocks. The previous
// one-thread-per-column walk over all chunks ran cols/256 blocks (16 for 4096 columns, 4 for
// 1024) through ~1000 dependent chunk loads each: most of the dweight/dbias overhead on the H200.
constexpr int kParamWarps = 16;
constexpr int kParamDepth = 8;

template <class W, class Acc>
__global__ void __launch_bounds__(kParamWarps * 32) norm_bwd_params(const Acc* partial_dw, const Acc* partial_db,
                                                                    W* dweight, W* dbias, int64_t chunks,
                                                                    int64_t cols) {
  kernels::pdl_enter();
  __shared__ Acc sdw[kParamWarps][32], sdb[kParamWarps][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = static_cast<int>(blockDim.x >> 5);  // <= kParamWarps
  for (int64_t c0 = static_cast<int64_t>(blockIdx.x) * 32; c0 < cols; c0 += static_cast<int64_t>(gridDim.x) * 32) {
    const int64_t c = c0 + lane;
    Acc sw = 0, sb = 0;
    if (c < cols) {
      // kParamDepth rows' loads in flight per step (a warp walks up to ~530 partial rows; one
      // dependent L2 round trip per row was most of this kernel's time), added in row order: the
      // same sums, bitwise, as one row per step.
      const auto column_sum = [&](const Acc* partial) {
        Acc sum = 0;
        if (partial == nullptr) return sum;
        int64_t i = warp;
        for (; i + (kParamDepth - 1) * warps < chunks; i += kParamDepth * warps) {
          Acc v[kParamDepth];
#pragma unroll
          for (int u = 0; u < kParamDepth; ++u) v[u] = partial[(i + static_cast<int64_t>(u) * warps) * cols + c];
#pragma unroll
          for (int u = 0; u < kParamDepth; ++u) sum += v[u];
        }
        for (; i < chunks; i += warps) sum += partial[i * cols + c];
        return sum;
      };
      sw = column_sum(partial_dw);
      sb = column_sum(partial_db);
    }
    sdw[warp][lane] = sw;
    sdb[warp][lane] = sb;
    __syncthreads();
    if (warp == 0 && c < cols) {
      Acc tw = 0, tb = 0;
      for (int k = 0; k < warps; ++k) {
        tw += sdw[k][lane];
        tb += sdb[k][lane];
      }
      if (dweight) dweight[c] = from_acc<W>(tw);
      if (dbias) dbias[c] = from_acc<W>(tb);
    }
    __syncthreads();  // the next column block rewrites sdw / sdb
  }
}

}  // namespace baracuda::norm::cuda
