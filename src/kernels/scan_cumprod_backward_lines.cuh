#pragma once
// cumprod's backward over many contiguous lines (rows of f32 / bf16 / f16, each at least a tile):
// the fused look-back kernel's two passes (scan_fused_passes.cuh: CumprodSuffixPass, then
// CumprodApplyPass) as two block-per-line kernels, each walking its line tile by tile with the
// carry in registers (as scan_row_carry_kernel / scan_row_carry_reverse_kernel), with typed,
// coalesced 16-byte loads and stores through the swizzled per-warp staging of the line kernel. The
// fused kernel reads element by element through a runtime dtype switch and chains 4096-position
// tiles by look-back: 7.50 ms on the H200 for 16384 x 16384 f32 (PyTorch 4.53 ms).
//
//   1. cumprod_bwd_suffix_lines_kernel, lines walked from the end: the affine suffix scan of
//      (x, dy) (AffineOp, the same elements as CumprodSuffixPass), R_i (E_i when exclusive) into
//      an f32 temporary whose line pitch is a multiple of 4 elements (16-byte aligned lines).
//   2. cumprod_bwd_apply_lines_kernel, lines walked forward: the exclusive product P_i of x times
//      the temporary, rounded once to the output dtype.
// dx_i = P_i * R_i is the product of the other factors without any division, exact with zeros in x
// (the reference's formula). Traffic: read x, dy, write tmp; read x, tmp, write dx (6 line passes,
// 6 GiB for 16384 x 16384 f32, ~1.5 ms at the copy rate; some of the second reads hit L2).
// Combination order: items of a lane, lanes by shuffles, warps, tiles, each in the walk's order,
// fixed by the line length alone: deterministic, the same on every device.
#include "kernels/scan_chunked_engine.cuh"
#include "kernels/scan_fused_engine.cuh"

namespace baracuda::sc::cuda {

// One warp's staging area: 32 lanes x kItems elements of up to 4 bytes, in 16-byte chunks.
constexpr int kCpbStageChunks = 32 * kItems * 4 / 16;

template <class State>
struct CumprodBwdSmem {
  uint4 a[kThreads / 32][kCpbStageChunks];  // x; the results leave through it too
  uint4 b[kThreads / 32][kCpbStageChunks];  // dy (pass 1) or the temporary (pass 2)
  State warp_total[2][kThreads / 32];       // two buffers: one barrier per tile
};

// The warp's `valid` elements of a segment (`src`, 16-byte aligned) into its swizzled staging area.
template <class T>
__device__ __forceinline__ void cpb_stage_load(uint4* stage, const T* __restrict__ src, int valid, int lane) {
  constexpr int kChunks = static_cast<int>(sizeof(T)) * kItems / 16;
  if (valid == 32 * kItems) {
    const uint4* s4 = reinterpret_cast<const uint4*>(src);
#pragma unroll
    for (int q = 0; q < kChunks; ++q) stage[swizzle_chunk(q * 32 + lane)] = __ldg(s4 + q * 32 + lane);
  } else {
    for (int e = lane; e < valid; e += 32) *staged_element<T>(stage, e) = src[e];
  }
}

// The lane's kItems consecutive staged elements as floats (garbage past the segment's valid count:
// callers mask by position).
template <class T>
__device__ __forceinline__ void cpb_lane_values(const uint4* stage, int lane, float (&v)[kItems]) {
  constexpr int kChunks = static_cast<int>(sizeof(T)) * kItems / 16;
  alignas(16) T r[kItems];
#pragma unroll
  for (int q = 0; q < kChunks; ++q) reinterpret_cast<uint4*>(r)[q] = stage[swizzle_chunk(lane * kChunks + q)];
#pragma unroll
  for (int j = 0; j < kItems; ++j) v[j] = to_acc<float>(r[j]);
}

// The lane's kItems results (rounded once to Out) to `dst` through the staging area
// (store_lane_items).
template <class Out>
__device__ __forceinline__ void cpb_store(uint4* stage, Out* __restrict__ dst, int lane, int valid,
                                          const float (&v)[kItems]) {
  alignas(16) Out r[kItems];
#pragma unroll
  for (int j = 0; j < kItems; ++j) r[j] = from_acc<Out>(v[j]);
  store_lane_items<Out>(stage, dst, lane, valid, r);
}

// Pass 1: per line, walked from the end, tmp_i = R_i = dy_i + T_{i+1} (inclusive) or E_i = F_{i+1}
// (exclusive), T_{i+1} / F_{i+1} the exclusive suffix value of the affine elements {x_i, x_i dy_i}
// / {x_i, dy_i} (CumprodSuffixPass).
// (3 blocks per SM: uncapped, the f32 instance took 90 registers, 2 blocks per SM.)
template <class T>
__global__ void __launch_bounds__(kThreads, 3)
    cumprod_bwd_suffix_lines_kernel(const T* __restrict__ x, const T* __restrict__ dy, float* __restrict__ tmp,
                                    int64_t tmp_pitch, const Geometry g, const TensorStrides sx,
                                    const TensorStrides sdy) {
  using Op = AffineOp<float>;
  using State = Affine<float>;
  constexpr int kWarps = kThreads / 32;
  constexpr int kSegment = 32 * kItems;
  __shared__ CumprodBwdSmem<State> sm;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int64_t line = blockIdx.x;
  const T* xl = x + offset_of(line, g.outer_sizes, sx.outer, g.n_outer);
  const T* dyl = dy + offset_of(line, g.outer_sizes, sdy.outer, g.n_outer);
  float* tl = tmp + line * tmp_pitch;
  const int64_t n = g.n;
  const int64_t tiles = (n + kTile - 1) / kTile;

  State carry = Op::identity();  // the fold of every position after the current tile
  for (int64_t step = 0; step < tiles; ++step) {
    const int64_t tile = tiles - 1 - step;
    const int buf = static_cast<int>(step & 1);
    const int valid = segment_valid(n, tile, warp);
    const int64_t warp_p0 = tile * kTile + static_cast<int64_t>(warp) * kSegment;
    cpb_stage_load<T>(sm.a[warp], xl + warp_p0, valid, lane);
    cpb_stage_load<T>(sm.b[warp], dyl + warp_p0, valid, lane);
    __syncwarp();
    float xv[kItems], dv[kItems];
    cpb_lane_values<T>(sm.a[warp], lane, xv);
    cpb_lane_values<T>(sm.b[warp], lane, dv);

    // loc[j]: the fold of the lane's items j..kItems-1 (the last first); identity past the end.
    State loc[kItems];
#pragma unroll
    for (int j = 0; j < kItems; ++j)
      loc[j] = lane * kItems + j < valid ? (g.exclusive ? State{xv[j], dv[j]} : State{xv[j], xv[j] * dv[j]})
                                         : Op::identity();
#pragma unroll
    for (int j = kItems - 2; j >= 0; --j) loc[j] = Op::combine(loc[j + 1], loc[j]);

    // Shuffle suffix scan of the lane totals: `inclusive` folds this lane and the ones after it.
    State inclusive = loc[0];
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
      const State other = shfl(inclusive, lane + d < 32 ? lane + d : lane);
      if (lane + d < 32) inclusive = Op::combine(other, inclusive);
    }
    State lane_after = shfl(inclusive, lane < 31 ? lane + 1 : lane);
    if (lane == 31) lane_after = Op::identity();
    if (lane == 0) sm.warp_total[buf][warp] = inclusive;
    __syncthreads();
    State after = carry;
    for (int w = kWarps - 1; w > warp; --w) after = Op::combine(after, sm.warp_total[buf][w]);
    after = Op::combine(after, lane_after);
#pragma unroll
    for (int w = kWarps - 1; w >= 0; --w) carry = Op::combine(carry, sm.warp_total[buf][w]);  // same order everywhere

    float r[kItems];
#pragma unroll
    for (int j = 0; j < kItems; ++j) {
      const float suffix = (j == kItems - 1 ? after : Op::combine(after, loc[j + 1])).b;  // positions > i
      r[j] = g.exclusive ? suffix : dv[j] + suffix;
    }
    cpb_store<float>(sm.a[warp], tl + warp_p0, lane, valid, r);
    __syncwarp();  // the staging areas are refilled by the next tile
  }
}

// Pass 2: per line, walked forward, dx_i = P_i * tmp_i with P_i the exclusive product of x
// (CumprodApplyPass).
template <class T>
__global__ void __launch_bounds__(kThreads)
    cumprod_bwd_apply_lines_kernel(const T* __restrict__ x, const float* __restrict__ tmp, T* __restrict__ dx,
                                   int64_t tmp_pitch, const Geometry g, const TensorStrides sx,
                                   const TensorStrides sdx) {
  constexpr int kWarps = kThreads / 32;
  constexpr int kSegment = 32 * kItems;
  __shared__ CumprodBwdSmem<float> sm;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int64_t line = blockIdx.x;
  const T* xl = x + offset_of(line, g.outer_sizes, sx.outer, g.n_outer);
  const float* tl = tmp + line * tmp_pitch;
  T* dl = dx + offset_of(line, g.outer_sizes, sdx.outer, g.n_outer);
  const int64_t n = g.n;
  const int64_t tiles = (n + kTile - 1) / kTile;

  float carry = 1.0f;  // the product of every position before the current tile
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int buf = static_cast<int>(tile & 1);
    const int valid = segment_valid(n, tile, warp);
    const int64_t warp_p0 = tile * kTile + static_cast<int64_t>(warp) * kSegment;
    cpb_stage_load<T>(sm.a[warp], xl + warp_p0, valid, lane);
    cpb_stage_load<float>(sm.b[warp], tl + warp_p0, valid, lane);
    __syncwarp();
    float xv[kItems], tv[kItems];
    cpb_lane_values<T>(sm.a[warp], lane, xv);
    cpb_lane_values<float>(sm.b[warp], lane, tv);

    // loc[j]: the product of the lane's items 0..j; 1 past the end.
    float loc[kItems];
#pragma unroll
    for (int j = 0; j < kItems; ++j) loc[j] = lane * kItems + j < valid ? xv[j] : 1.0f;
#pragma unroll
    for (int j = 1; j < kItems; ++j) loc[j] = loc[j - 1] * loc[j];

    // Shuffle scan of the lane totals: `inclusive` is the product of the lanes up to this one.
    float inclusive = loc[kItems - 1];
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
      const float other = __shfl_up_sync(0xffffffffu, inclusive, d);
      if (lane >= d) inclusive = other * inclusive;
    }
    float lane_before = __shfl_up_sync(0xffffffffu, inclusive, 1);
    if (lane == 0) lane_before = 1.0f;
    if (lane == 31) sm.warp_total[buf][warp] = inclusive;
    __syncthreads();
    float before = carry;
    for (int w = 0; w < warp; ++w) before = before * sm.warp_total[buf][w];
    before = before * lane_before;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) carry = carry * sm.warp_total[buf][w];  // same order everywhere

    float r[kItems];
#pragma unroll
    for (int j = 0; j < kItems; ++j) r[j] = (j == 0 ? before : before * loc[j - 1]) * tv[j];
    cpb_store<T>(sm.a[warp], dl + warp_p0, lane, valid, r);
    __syncwarp();  // the staging areas are refilled by the next tile
  }
}

}  // namespace baracuda::sc::cuda
