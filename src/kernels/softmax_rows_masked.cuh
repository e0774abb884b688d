#pragma once
// The rows engines with a mask (softmax_rows_fast.cuh's geometry and row math, the mask loaded in
// the same pass as the row): a masked softmax reads x and the mask once and writes y once, where
// the generic engines re-read the mask element by element with a dtype switch per element.
//   forward, Tm = the loaded dtype: additive mask, z = x * scale + mask (f32 math);
//   forward, Tm = uint8_t: boolean mask (nonzero = keep), z = -inf where it is 0, whatever x is
//            (masked_fill semantics: a masked NaN is dropped too);
//   backward (boolean only): dx of the unmasked rows kernel, then 0 where the mask is 0 (an
//            additive mask is not read by the backward: the plan sends it to the unmasked kernels).
// z then follows forward_row: a fully masked row is all -inf and comes out NaN, as the generic
// engines, the CPU reference and torch give it. The mask is read along the dim with unit stride
// in vectors of VEC elements (the plan checks: stride 1 along the dim, its rows aligned to
// VEC * sizeof(Tm) bytes, the dtype); over the outer dims with any stride (0 when broadcast).
// Vectors past the row end: x is padded with -inf (the temperature is > 0, so it stays -inf),
// the mask with 0 (adds nothing; a boolean 0 makes the element -inf either way).
#include <cstdint>
#include <type_traits>

#include "kernels/softmax_rows_fast.cuh"

namespace baracuda::sm::cuda {

// Vectors per thread of the masked rows kernels, at most 2 (x and an equally wide mask loaded
// before converting; at 4 every geometry with a group barrier spilled 100-200 bytes at the 64
// registers of the launch bounds, ptxas -v sm_90a). The plan mirrors these (softmax_cuda_plan.cpp).
constexpr int kMaskedFwdMaxItems = 2;
constexpr int kMaskedBwdMaxItems = 2;

// VEC boolean mask bytes held as 32-bit words (as a Vec<uint8_t, VEC> the compiler kept one
// register per byte and spilled): byte j is bits 8*(j%4) .. of word j/4.
template <int VEC>
struct MaskBytes {
  static constexpr int kWords = (VEC + 3) / 4;
  uint32_t w[kWords];
  __device__ __forceinline__ bool keep(int j) const { return ((w[j / 4] >> (8 * (j % 4))) & 0xffu) != 0; }
};

// The mask bytes at `col`: whole when inside the row (VEC-byte aligned: the plan checks), byte by
// byte for the row's partial last vector, 0 (masked) beyond the row.
template <int VEC>
__device__ __forceinline__ MaskBytes<VEC> load_mask_bytes(const uint8_t* row, int col, int n) {
  MaskBytes<VEC> r;
  if (col + VEC <= n) {
    if constexpr (VEC == 8) {
      const uint2 u = *reinterpret_cast<const uint2*>(row + col);
      r.w[0] = u.x;
      r.w[1] = u.y;
    } else if constexpr (VEC == 4) {
      r.w[0] = *reinterpret_cast<const uint32_t*>(row + col);
    } else {
      uint32_t v = 0;
#pragma unroll
      for (int j = 0; j < VEC; ++j) v |= static_cast<uint32_t>(row[col + j]) << (8 * j);
      r.w[0] = v;
    }
  } else {
#pragma unroll
    for (int k = 0; k < r.kWords; ++k) r.w[k] = 0;
#pragma unroll
    for (int j = 0; j < VEC; ++j)
      if (col + j < n) r.w[j / 4] |= static_cast<uint32_t>(row[col + j]) << (8 * (j % 4));
  }
  return r;
}

template <class Tm>
__device__ __forceinline__ Tm mask_pad() {
  if constexpr (std::is_same_v<Tm, uint8_t>) return uint8_t{0};
  else return from_compute<Tm>(0.f);
}

// Element j's z from its loaded x and the mask's vector (boolean bytes or additive values).
template <class Tl, class Tm, int VEC>
__device__ __forceinline__ float masked_row_z(Tl x, const MaskBytes<VEC>& m, int j, float scale) {
  const float z = to_compute<float>(x) * scale;
  return m.keep(j) ? z : neg_inf<float>();
}
template <class Tl, class Tm, int VEC>
__device__ __forceinline__ float masked_row_z(Tl x, const Vec<Tm, VEC>& m, int j, float scale) {
  return to_compute<float>(x) * scale + to_compute<float>(m.v[j]);
}

template <class Tl, class Ts, class Tm, int VEC, int ITEMS, int GW, bool kLog>
__global__ void __launch_bounds__(rows_block_threads(GW), rows_min_blocks(rows_block_threads(GW)))
    softmax_rows_masked_fwd_kernel(const KernelParams p) {
  kernels::pdl_enter();
  constexpr int W = GW * 32;
  __shared__ float red[2][32];
  const GroupPos<GW> pos;
  const int64_t per_block = blockDim.x / W;
  const int n = static_cast<int>(p.n);  // <= 32768: the plan's limit for these engines
  const float scale = static_cast<float>(p.scale);
  const Tl pad = from_compute<Tl>(neg_inf<float>());
  constexpr bool kBool = std::is_same_v<Tm, uint8_t>;
  using MaskVec = std::conditional_t<kBool, MaskBytes<VEC>, Vec<Tm, VEC>>;
  for (int64_t row = blockIdx.x * per_block + pos.g; row < p.rows; row += gridDim.x * per_block) {
    const RowBases b = row_bases(p, row);
    const Tl* x = static_cast<const Tl*>(p.in0.data) + b.in0;
    const Tm* m = static_cast<const Tm*>(p.mask.data) + b.mask;
    Vec<Tl, VEC> raw[ITEMS];
    MaskVec mraw[ITEMS];
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * W + pos.t) * VEC;
      load_or_pad(raw[i], x, col, n, pad);
      if constexpr (kBool) mraw[i] = load_mask_bytes<VEC>(m, col, n);
      else load_or_pad(mraw[i], m, col, n, mask_pad<Tm>());
    }
    // The group's next row of x (and of the mask, unless broadcast over the rows) into L2, as the
    // unmasked kernel does: HBM keeps streaming across this row's barriers.
    const int64_t next = row + gridDim.x * per_block;
    if (p.row_prefetch && p.outer_rank <= 1 && next < p.rows) {
      const Tl* xn = x + (next - row) * p.in0.outer[0];
      const Tm* mn = m + (next - row) * p.mask.outer[0];
      const bool mask_moves = p.mask.outer[0] != 0;
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) {
        const int col = (i * W + pos.t) * VEC;
        if (col < n) {
          kernels::prefetch_l2(xn + col);
          if (mask_moves) kernels::prefetch_l2(mn + col);
        }
      }
    }
    float v[VEC * ITEMS];
#pragma unroll
    for (int i = 0; i < ITEMS; ++i)
#pragma unroll
      for (int j = 0; j < VEC; ++j) v[i * VEC + j] = masked_row_z<Tl, Tm, VEC>(raw[i].v[j], mraw[i], j, scale);
    // scale is already in v: forward_row skips its multiply at 1.
    forward_row<Ts, VEC, ITEMS, GW, kLog>(v, 1.f, static_cast<Ts*>(const_cast<void*>(p.out.data)) + b.out, n,
                                          pos.t, red[0] + pos.g * GW, red[1] + pos.g * GW, 1 + pos.g);
  }
}

// Backward with a boolean mask: softmax_rows_bwd_kernel's row (same partial dot, padding and
// group reduction, so dx equals the unmasked kernel's wherever the mask keeps), dx = 0 where the
// mask is 0 (masked_fill's gradient).
template <class Tl, class Ts, int VEC, int ITEMS, int GW, bool kLog>
__global__ void __launch_bounds__(rows_block_threads(GW), rows_min_blocks(rows_block_threads(GW)))
    softmax_rows_masked_bwd_kernel(const KernelParams p) {
  kernels::pdl_enter();
  constexpr int W = GW * 32;
  constexpr bool kFast = sizeof(Ts) == 2;
  __shared__ float red[2][32];
  const GroupPos<GW> pos;
  const int64_t per_block = blockDim.x / W;
  const int n = static_cast<int>(p.n);  // <= 32768: the plan's limit for these engines
  const float scale = static_cast<float>(p.scale);
  const Tl zero = from_compute<Tl>(0.f);
  int parity = 0;  // alternates the two reduction slot arrays between rows
  for (int64_t row = blockIdx.x * per_block + pos.g; row < p.rows; row += gridDim.x * per_block, parity ^= 1) {
    const RowBases b = row_bases(p, row);
    const Tl* dyr = static_cast<const Tl*>(p.in0.data) + b.in0;
    const Tl* yr = static_cast<const Tl*>(p.in1.data) + b.in1;
    const uint8_t* mr = static_cast<const uint8_t*>(p.mask.data) + b.mask;
    Vec<Tl, VEC> dy[ITEMS], y[ITEMS];
    MaskBytes<VEC> keep[ITEMS];
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      const int col = (i * W + pos.t) * VEC;
      load_or_pad(dy[i], dyr, col, n, zero);
      load_or_pad(y[i], yr, col, n, zero);
      keep[i] = load_mask_bytes<VEC>(mr, col, n);
    }
    float s = bwd_partial_dot<VEC, ITEMS, kLog>(dy, y);
    s = group_reduce_fast<GW>(s, FAdd{}, 0.f, red[parity] + pos.g * GW, 1 + pos.g);
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      reload_barrier(dy[i]);
      if constexpr (!kLog) reload_barrier(y[i]);
    }
    Ts* dxr = static_cast<Ts*>(const_cast<void*>(p.out.data)) + b.out;
#pragma unroll
    for (int i = 0; i < ITEMS; ++i) {
      float o[VEC];
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        const float d = elem(dy[i], j), yv = elem(y[i], j);
        const float dx = scale * (kLog ? d - exp_plain<kFast>(yv) * s : yv * (d - s));
        o[j] = keep[i].keep(j) ? dx : 0.f;
      }
      store_vec<Ts, VEC>(o, dxr, (i * W + pos.t) * VEC, n);
    }
  }
}

}  // namespace baracuda::sm::cuda
