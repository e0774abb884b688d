#pragma once
// Split-plane engine of group_norm / instance_norm / batch_norm on contiguous (N, C, *) tensors.
// Device code only; the launch sequence is in src/ops/norm/cuda/norm_groups_fast.cu.
//
// Why: the legacy kernels (norm_groups.cuh) give one CTA a whole normalization group (a batch_norm
// channel is N*H*W elements), load one scalar at a time through 64-bit index math, and read x
// three times. Here every (n, c) plane of `inner` elements is cut into chunks of kGroupChunk
// elements and each chunk is one CTA, so [32, 256, 64, 64] runs 8192 CTAs with 16-byte loads:
//   forward : chunk stats (mean and squared deviations of the chunk, exact two-pass in registers)
//             -> one warp per group folds its chunks (Chan's merge, fixed order) into mean / rstd,
//                updates running stats, writes per-plane (mean, scale, shift)
//             -> elementwise y = (x - mean) * scale + shift.
//   backward: chunk sums of dy and dy * xhat -> one warp per group sums them in fixed order into
//             the per-plane dweight / dbias partials and the group's mean(g), mean(g * xhat)
//             (g = dy * w) -> elementwise dx = a * dy + b * (x - mean) + c per plane.
// All reductions have a fixed shape and order (no atomics): results are bitwise reproducible.
#include "kernels/norm_groups_fast_geometry.hpp"
#include "kernels/norm_groups_params.hpp"
#include "kernels/norm_rows.cuh"  // conversions, packs, warp_sum, block_sum, inv_sqrt
#include "kernels/pdl.cuh"  // every kernel begins with kernels::pdl_enter

namespace baracuda::norm::cuda {

// Which group a plane (n * C + c) belongs to, and the s-th plane of group gid.
__device__ __forceinline__ int64_t group_of_plane(const GroupParams& p, int64_t plane) {
  switch (p.kind) {
    case GroupKind::group: return plane / p.segments;  // segments = channels per group
    case GroupKind::instance: return plane;
    default: return plane % p.channels;                 // batch: the channel
  }
}
__device__ __forceinline__ int64_t plane_of_group(const GroupParams& p, int64_t gid, int64_t s) {
  switch (p.kind) {
    case GroupKind::group: return gid * p.segments + s;  // a group's channels are adjacent planes
    case GroupKind::instance: return gid;
    default: return s * p.channels + gid;               // batch: sample s of channel gid
  }
}
// Index into the per-plane coefficient arrays: batch_norm's planes of one channel share theirs.
__device__ __forceinline__ int64_t coef_index(const GroupParams& p, int64_t plane) {
  return p.kind == GroupKind::batch ? plane % p.channels : plane;
}
__device__ __forceinline__ int64_t chunk_count(int64_t inner, int64_t k) {
  const int64_t left = inner - k * kGroupChunk;
  return left < kGroupChunk ? left : kGroupChunk;
}

template <class W, class Acc>
__device__ __forceinline__ Acc param_at(const void* ptr, int64_t c, Acc fallback) {
  return ptr ? to_acc<Acc>(static_cast<const W*>(ptr)[c]) : fallback;
}

// One chunk of a plane, VEC-element packs: thread t owns packs u * kGroupThreads + t. A pack is
// in range iff its first element is (inner and the chunk start are multiples of VEC).
template <class T, int VEC>
struct ChunkView {
  static constexpr int kPacks = kGroupElemsPerThread / VEC;
  int64_t offset;  // element offset of the chunk in the tensor
  int64_t count;   // elements in the chunk
  __device__ __forceinline__ int64_t at(int u) const {
    return (static_cast<int64_t>(u) * kGroupThreads + threadIdx.x) * VEC;
  }
  __device__ __forceinline__ bool valid(int u) const { return at(u) < count; }
};

// CTA b takes chunk b, or chunk (grid - 1 - b) when `reversed`: the elementwise passes walk the
// tensor backwards, so their first CTAs find the chunks the reduction pass read last still in L2.
template <class T, int VEC>
__device__ __forceinline__ ChunkView<T, VEC> chunk_of_block(int64_t inner, int64_t chunks_per_plane, int64_t* plane,
                                                            bool reversed = false) {
  const int64_t bid = reversed ? int64_t{gridDim.x} - 1 - blockIdx.x : int64_t{blockIdx.x};
  *plane = bid / chunks_per_plane;
  const int64_t k = bid - *plane * chunks_per_plane;
  return {*plane * inner + k * kGroupChunk, chunk_count(inner, k)};
}

// Chan et al.'s merge of two (count, mean, M2) summaries; count 0 is the identity.
template <class Acc>
struct Moments {
  Acc n, mean, m2;
};
template <class Acc>
__device__ __forceinline__ Moments<Acc> merge(Moments<Acc> a, Moments<Acc> b) {
  if (b.n == Acc(0)) return a;
  if (a.n == Acc(0)) return b;
  const Acc n = a.n + b.n, delta = b.mean - a.mean;
  return {n, a.mean + delta * (b.n / n), a.m2 + b.m2 + delta * delta * (a.n * b.n / n)};
}

// ---- forward ----------------------------------------------------------------------------------

// Per chunk: its mean and sum of squared deviations from that mean (values kept in registers, so
// the second pass costs no memory traffic and a large common offset cancels exactly).
template <class T, class Acc, int VEC>
__global__ void __launch_bounds__(kGroupThreads) norm_groups_fast_stats(const T* __restrict__ x, int64_t inner,
                                                                        int64_t chunks_per_plane,
                                                                        Acc* __restrict__ part_mean,
                                                                        Acc* __restrict__ part_m2) {
  kernels::pdl_enter();
  __shared__ Acc scratch[32];
  int64_t plane;
  const ChunkView<T, VEC> ch = chunk_of_block<T, VEC>(inner, chunks_per_plane, &plane);
  constexpr int P = ChunkView<T, VEC>::kPacks;
  Acc v[P][VEC];  // converted at load: a 16-element register file for every VEC
#pragma unroll
  for (int u = 0; u < P; ++u) {
    if (ch.valid(u)) {
      const Pack<T, VEC> pk = load_pack<T, VEC>(x + ch.offset + ch.at(u));
#pragma unroll
      for (int j = 0; j < VEC; ++j) v[u][j] = to_acc<Acc>(pk.v[j]);
    } else {
#pragma unroll
      for (int j = 0; j < VEC; ++j) v[u][j] = Acc(0);
    }
  }
  Acc s = 0;
#pragma unroll
  for (int u = 0; u < P; ++u)
#pragma unroll
    for (int j = 0; j < VEC; ++j) s += v[u][j];  // out-of-range entries are 0
  const Acc cnt = static_cast<Acc>(ch.count);
  const Acc mean = block_sum(s, scratch) / cnt;
  Acc q = 0;
#pragma unroll
  for (int u = 0; u < P; ++u)
    if (ch.valid(u)) {
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        const Acc d = v[u][j] - mean;
        q += d * d;
      }
    }
  const Acc m2 = block_sum(q, scratch);
  if (threadIdx.x == 0) {
    part_mean[blockIdx.x] = mean;
    part_m2[blockIdx.x] = m2;
  }
}

// One warp per group: folds the group's chunk summaries in a fixed order (lane l takes entries
// l, l + 32, ...; then lanes merge pairwise down to lane 0), writes mean / rstd, updates the
// running statistics, and stores the group's per-plane (mean, scale, shift). Eval batch_norm
// takes its statistics from running_mean / running_var and reads no chunk summaries.
template <class W, class Acc>
__global__ void __launch_bounds__(kGroupFinalizeWarps * 32)
    norm_groups_fast_fwd_finalize(GroupParams p, int64_t chunks_per_plane, const Acc* __restrict__ part_mean,
                                  const Acc* __restrict__ part_m2, Acc* __restrict__ coef, int64_t ncoef) {
  kernels::pdl_enter();
  const int lane = threadIdx.x & 31;
  const int64_t gid = static_cast<int64_t>(blockIdx.x) * kGroupFinalizeWarps + (threadIdx.x >> 5);
  if (gid >= p.groups) return;  // whole warps leave together
  Acc mean, rstd;
  if (p.use_running) {
    mean = to_acc<Acc>(static_cast<const W*>(p.running_mean)[gid]);
    rstd = inv_sqrt(to_acc<Acc>(static_cast<const W*>(p.running_var)[gid]) + static_cast<Acc>(p.eps));
  } else {
    const int64_t entries = p.segments * chunks_per_plane;
    Moments<Acc> m{0, 0, 0};
    for (int64_t e = lane; e < entries; e += 32) {
      const int64_t s = e / chunks_per_plane, k = e - s * chunks_per_plane;
      const int64_t at = plane_of_group(p, gid, s) * chunks_per_plane + k;
      m = merge(m, Moments<Acc>{static_cast<Acc>(chunk_count(p.inner, k)), part_mean[at], part_m2[at]});
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const Moments<Acc> other{__shfl_down_sync(0xffffffffu, m.n, o), __shfl_down_sync(0xffffffffu, m.mean, o),
                               __shfl_down_sync(0xffffffffu, m.m2, o)};
      if (lane < o) m = merge(m, other);
    }
    const Acc n = static_cast<Acc>(p.segments * p.inner);
    mean = __shfl_sync(0xffffffffu, m.mean, 0);
    const Acc var = __shfl_sync(0xffffffffu, m.m2, 0) / n;
    rstd = inv_sqrt(var + static_cast<Acc>(p.eps));
    if (lane == 0) {
      if (p.mean_out) static_cast<Acc*>(p.mean_out)[gid] = mean;
      if (p.rstd_out) static_cast<Acc*>(p.rstd_out)[gid] = rstd;
      if (p.running_mean) {  // batch_norm training: torch's update, unbiased variance (as legacy)
        W* rm = static_cast<W*>(p.running_mean);
        W* rv = static_cast<W*>(p.running_var);
        const Acc mo = static_cast<Acc>(p.momentum);
        rm[gid] = from_acc<W>((Acc(1) - mo) * to_acc<Acc>(rm[gid]) + mo * mean);
        rv[gid] = from_acc<W>((Acc(1) - mo) * to_acc<Acc>(rv[gid]) + mo * var * n / (n - Acc(1)));
      }
    }
  }
  // Coefficients: one per plane of the group (group/instance), one per channel (batch).
  const int64_t planes = p.kind == GroupKind::group ? p.segments : 1;
  for (int64_t s = lane; s < planes; s += 32) {
    const int64_t plane = p.kind == GroupKind::batch ? gid : plane_of_group(p, gid, s);
    const int64_t c = plane % p.channels, ci = p.kind == GroupKind::batch ? gid : plane;
    coef[ci] = mean;
    coef[ncoef + ci] = rstd * param_at<W>(p.weight, c, Acc(1));
    coef[2 * ncoef + ci] = param_at<W>(p.bias, c, Acc(0));
  }
}

// y = (x - mean) * scale + shift, the plane's coefficients read once per CTA.
template <class T, class Acc, int VEC>
__global__ void __launch_bounds__(kGroupThreads) norm_groups_fast_fwd_apply(GroupParams p, int64_t chunks_per_plane,
                                                                            const Acc* __restrict__ coef,
                                                                            int64_t ncoef) {
  kernels::pdl_enter();
  int64_t plane;
  const ChunkView<T, VEC> ch = chunk_of_block<T, VEC>(p.inner, chunks_per_plane, &plane, /*reversed=*/true);
  const int64_t ci = coef_index(p, plane);
  const Acc mean = coef[ci], scale = coef[ncoef + ci], shift = coef[2 * ncoef + ci];
  const T* x = static_cast<const T*>(p.x) + ch.offset;
  T* y = static_cast<T*>(p.y) + ch.offset;
  constexpr int P = ChunkView<T, VEC>::kPacks;
  Pack<T, VEC> v[P];
#pragma unroll
  for (int u = 0; u < P; ++u)
    if (ch.valid(u)) v[u] = load_pack<T, VEC>(x + ch.at(u));
#pragma unroll
  for (int u = 0; u < P; ++u)
    if (ch.valid(u)) {
      Pack<T, VEC> out;
#pragma unroll
      for (int j = 0; j < VEC; ++j) out.v[j] = from_acc<T>((to_acc<Acc>(v[u].v[j]) - mean) * scale + shift);
      store_pack<T, VEC>(y + ch.at(u), out);
    }
}

// ---- backward ---------------------------------------------------------------------------------

template <class W, class Acc>
__device__ __forceinline__ void group_stats(const GroupParams& p, int64_t gid, Acc* mean, Acc* rstd) {
  if (p.use_running) {
    *mean = to_acc<Acc>(static_cast<const W*>(p.running_mean)[gid]);
    *rstd = inv_sqrt(to_acc<Acc>(static_cast<const W*>(p.running_var)[gid]) + static_cast<Acc>(p.eps));
  } else {
    *mean = static_cast<const Acc*>(p.mean_in)[gid];
    *rstd = static_cast<const Acc*>(p.rstd_in)[gid];
  }
}

// Per chunk: sum(dy) and sum(dy * xhat), xhat with the group's saved (or running) statistics.
template <class T, class W, class Acc, int VEC>
__global__ void __launch_bounds__(kGroupThreads) norm_groups_fast_bwd_reduce(GroupParams p, int64_t chunks_per_plane,
                                                                             Acc* __restrict__ part_dy,
                                                                             Acc* __restrict__ part_dyx) {
  kernels::pdl_enter();
  __shared__ Acc scratch[2][32];
  int64_t plane;
  const ChunkView<T, VEC> ch = chunk_of_block<T, VEC>(p.inner, chunks_per_plane, &plane);
  Acc mean, rstd;
  group_stats<W>(p, group_of_plane(p, plane), &mean, &rstd);
  const T* x = static_cast<const T*>(p.x) + ch.offset;
  const T* dy = static_cast<const T*>(p.dy) + ch.offset;
  constexpr int P = ChunkView<T, VEC>::kPacks;
  Pack<T, VEC> xv[P], dv[P];
#pragma unroll
  for (int u = 0; u < P; ++u)
    if (ch.valid(u)) {
      xv[u] = load_pack<T, VEC>(x + ch.at(u));
      dv[u] = load_pack<T, VEC>(dy + ch.at(u));
    }
  Acc sd = 0, sdx = 0;
#pragma unroll
  for (int u = 0; u < P; ++u)
    if (ch.valid(u)) {
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        const Acc d = to_acc<Acc>(dv[u].v[j]);
        sd += d;
        sdx += d * ((to_acc<Acc>(xv[u].v[j]) - mean) * rstd);
      }
    }
  sd = block_sum(sd, scratch[0]);
  sdx = block_sum(sdx, scratch[1]);
  if (threadIdx.x == 0) {
    part_dy[blockIdx.x] = sd;
    part_dyx[blockIdx.x] = sdx;
  }
}

// One warp per group: the per-plane (group/instance) or per-channel (batch) sums of dy and
// dy * xhat in a fixed order -> the dweight / dbias partials, and the group's
// mg = mean(dy * w), mgx = mean(dy * w * xhat). Per plane it stores the coefficients of
//   dx = rstd * (dy * w - mg - xhat * mgx) = a * dy + b * (x - mean) + c,
// a = rstd * w, b = -rstd^2 * mgx, c = -rstd * mg (eval batch_norm: dx = rstd * w * dy).
// have_sums: whether the reduce kernel ran (it is skipped when eval needs no dweight / dbias).
template <class W, class Acc>
__global__ void __launch_bounds__(kGroupFinalizeWarps * 32)
    norm_groups_fast_bwd_finalize(GroupParams p, int64_t chunks_per_plane, bool have_sums,
                                  const Acc* __restrict__ part_dy, const Acc* __restrict__ part_dyx,
                                  Acc* __restrict__ coef, int64_t ncoef) {
  kernels::pdl_enter();
  const int lane = threadIdx.x & 31;
  const int64_t gid = static_cast<int64_t>(blockIdx.x) * kGroupFinalizeWarps + (threadIdx.x >> 5);
  if (gid >= p.groups) return;  // whole warps leave together
  Acc mean, rstd;
  group_stats<W>(p, gid, &mean, &rstd);
  Acc* pdw = static_cast<Acc*>(p.partial_dw);
  Acc* pdb = static_cast<Acc*>(p.partial_db);
  const bool batch = p.kind == GroupKind::batch;
  Acc sg = 0, sgx = 0;  // this lane's share of sum(dy * w), sum(dy * w * xhat) over the group
  if (have_sums && batch) {
    // One channel: the chunks of its N planes, lane l summing entries l, l + 32, ...
    const int64_t entries = p.segments * chunks_per_plane;
    Acc sd = 0, sdx = 0;
    for (int64_t e = lane; e < entries; e += 32) {
      const int64_t s = e / chunks_per_plane, k = e - s * chunks_per_plane;
      const int64_t at = plane_of_group(p, gid, s) * chunks_per_plane + k;
      sd += part_dy[at];
      sdx += part_dyx[at];
    }
    sd = warp_sum(sd);  // butterfly: every lane gets the same bits
    sdx = warp_sum(sdx);
    if (lane == 0) {
      if (pdw) pdw[gid] = sdx;
      if (pdb) pdb[gid] = sd;
    }
    const Acc w = param_at<W>(p.weight, gid, Acc(1));
    sg = w * sd;
    sgx = w * sdx;
  } else if (have_sums) {
    // group / instance: lane l owns planes l, l + 32, ... of the group, each summed chunk by chunk.
    const int64_t planes = p.kind == GroupKind::group ? p.segments : 1;
    for (int64_t s = lane; s < planes; s += 32) {
      const int64_t plane = plane_of_group(p, gid, s);
      Acc sd = 0, sdx = 0;
      for (int64_t k = 0; k < chunks_per_plane; ++k) {
        sd += part_dy[plane * chunks_per_plane + k];
        sdx += part_dyx[plane * chunks_per_plane + k];
      }
      if (pdw) pdw[plane] = sdx;
      if (pdb) pdb[plane] = sd;
      const Acc w = param_at<W>(p.weight, plane % p.channels, Acc(1));
      sg += w * sd;
      sgx += w * sdx;
    }
    sg = warp_sum(sg);
    sgx = warp_sum(sgx);
  }
  const Acc n = static_cast<Acc>(p.segments * p.inner);
  const Acc mg = p.use_running ? Acc(0) : sg / n, mgx = p.use_running ? Acc(0) : sgx / n;
  const int64_t planes = p.kind == GroupKind::group ? p.segments : 1;
  for (int64_t s = lane; s < planes; s += 32) {
    const int64_t plane = batch ? gid : plane_of_group(p, gid, s);
    const int64_t c = plane % p.channels, ci = batch ? gid : plane;
    coef[ci] = mean;
    coef[ncoef + ci] = rstd * param_at<W>(p.weight, c, Acc(1));
    coef[2 * ncoef + ci] = -rstd * rstd * mgx;
    coef[3 * ncoef + ci] = -rstd * mg;
  }
}

// dx = a * dy + b * (x - mean) + c, the plane's coefficients read once per CTA. NEED_X false
// (eval batch_norm, b = 0) skips reading x.
template <class T, class Acc, int VEC, bool NEED_X>
__global__ void __launch_bounds__(kGroupThreads) norm_groups_fast_bwd_apply(GroupParams p, int64_t chunks_per_plane,
                                                                            const Acc* __restrict__ coef,
                                                                            int64_t ncoef) {
  kernels::pdl_enter();
  int64_t plane;
  const ChunkView<T, VEC> ch = chunk_of_block<T, VEC>(p.inner, chunks_per_plane, &plane, /*reversed=*/true);
  const int64_t ci = coef_index(p, plane);
  const Acc mean = coef[ci], a = coef[ncoef + ci], b = coef[2 * ncoef + ci], c = coef[3 * ncoef + ci];
  const T* x = static_cast<const T*>(p.x) + ch.offset;
  const T* dy = static_cast<const T*>(p.dy) + ch.offset;
  T* dx = static_cast<T*>(p.dx) + ch.offset;
  constexpr int P = ChunkView<T, VEC>::kPacks;
  Pack<T, VEC> xv[P], dv[P];
#pragma unroll
  for (int u = 0; u < P; ++u)
    if (ch.valid(u)) {
      if constexpr (NEED_X) xv[u] = load_pack<T, VEC>(x + ch.at(u));
      dv[u] = load_pack<T, VEC>(dy + ch.at(u));
    }
#pragma unroll
  for (int u = 0; u < P; ++u)
    if (ch.valid(u)) {
      Pack<T, VEC> out;
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        Acc r = a * to_acc<Acc>(dv[u].v[j]);
        if constexpr (NEED_X) r += b * (to_acc<Acc>(xv[u].v[j]) - mean) + c;
        out.v[j] = from_acc<T>(r);
      }
      store_pack<T, VEC>(dx + ch.at(u), out);
    }
}

}  // namespace baracuda::norm::cuda
