#pragma once
// group_norm / instance_norm / batch_norm on contiguous (N, C, *) tensors. Device code only.
//
// One CTA per normalization group. A group is a list of segments, each one (n, c) plane of
// `inner` contiguous elements: group_norm (n, g) holds channels g*C/G .. +C/G of sample n;
// instance_norm (n, c) one plane; batch_norm c the planes of every sample. Statistics: two passes
// (mean, then squared deviations) in Acc with fixed-order block reductions. Backward dweight /
// dbias: group/instance write one partial per (n, c) plane, batch one per channel; the row
// engine's norm_bwd_params sums them over n in order. Scalar (2- or 4-byte) loads: correctness
// first; these kernels are not tuned.
#include "kernels/norm_groups_params.hpp"
#include "kernels/norm_rows.cuh"  // conversions, block_sum, inv_sqrt
#include "kernels/pdl.cuh"  // every kernel begins with kernels::pdl_enter

namespace baracuda::norm::cuda {

struct Segment {
  int64_t n, c;
};

__device__ __forceinline__ Segment segment_of(const GroupParams& p, int64_t gid, int64_t s) {
  switch (p.kind) {
    case GroupKind::group: {
      const int64_t per = p.channels / p.num_groups;
      return {gid / p.num_groups, (gid % p.num_groups) * per + s};
    }
    case GroupKind::instance: return {gid / p.channels, gid % p.channels};
    default: return {s, gid};  // batch: segment s is sample s of channel gid
  }
}

// Element offset of the idx-th element of group gid (idx in [0, segments * inner)).
__device__ __forceinline__ int64_t element_offset(const GroupParams& p, int64_t gid, int64_t idx, int64_t* channel) {
  const int64_t s = idx / p.inner, i = idx - s * p.inner;
  const Segment sg = segment_of(p, gid, s);
  *channel = sg.c;
  return (sg.n * p.channels + sg.c) * p.inner + i;
}

template <class W, class Acc>
__device__ __forceinline__ Acc param_or(const void* ptr, int64_t c, Acc fallback) {
  return ptr ? to_acc<Acc>(static_cast<const W*>(ptr)[c]) : fallback;
}

template <class T, class W, class Acc>
__global__ void __launch_bounds__(256) norm_groups_fwd(GroupParams p) {
  kernels::pdl_enter();
  __shared__ Acc scratch[32];
  const int64_t count = p.segments * p.inner;
  const T* x = static_cast<const T*>(p.x);
  for (int64_t gid = blockIdx.x; gid < p.groups; gid += gridDim.x) {
    Acc mean, rstd;
    if (p.use_running) {  // batch_norm eval: the group is channel gid
      mean = to_acc<Acc>(static_cast<const W*>(p.running_mean)[gid]);
      rstd = inv_sqrt(to_acc<Acc>(static_cast<const W*>(p.running_var)[gid]) + static_cast<Acc>(p.eps));
    } else {
      Acc s = 0;
      int64_t c;
      for (int64_t idx = threadIdx.x; idx < count; idx += blockDim.x) s += to_acc<Acc>(x[element_offset(p, gid, idx, &c)]);
      const Acc n = static_cast<Acc>(count);
      mean = block_sum(s, scratch) / n;
      Acc q = 0;
      for (int64_t idx = threadIdx.x; idx < count; idx += blockDim.x) {
        const Acc d = to_acc<Acc>(x[element_offset(p, gid, idx, &c)]) - mean;
        q += d * d;
      }
      const Acc var = block_sum(q, scratch) / n;
      rstd = inv_sqrt(var + static_cast<Acc>(p.eps));
      if (threadIdx.x == 0) {
        if (p.mean_out) static_cast<Acc*>(p.mean_out)[gid] = mean;
        if (p.rstd_out) static_cast<Acc*>(p.rstd_out)[gid] = rstd;
        if (p.running_mean) {  // batch_norm training: torch's update, unbiased variance
          W* rm = static_cast<W*>(p.running_mean);
          W* rv = static_cast<W*>(p.running_var);
          const Acc m = static_cast<Acc>(p.momentum);
          rm[gid] = from_acc<W>((Acc(1) - m) * to_acc<Acc>(rm[gid]) + m * mean);
          rv[gid] = from_acc<W>((Acc(1) - m) * to_acc<Acc>(rv[gid]) + m * var * n / (n - Acc(1)));
        }
      }
    }
    T* y = static_cast<T*>(p.y);
    for (int64_t idx = threadIdx.x; idx < count; idx += blockDim.x) {
      int64_t c;
      const int64_t off = element_offset(p, gid, idx, &c);
      const Acc r = (to_acc<Acc>(x[off]) - mean) * rstd * param_or<W>(p.weight, c, Acc(1)) + param_or<W>(p.bias, c, Acc(0));
      y[off] = from_acc<T>(r);
    }
  }
}

template <class T, class W, class Acc>
__global__ void __launch_bounds__(256) norm_groups_bwd(GroupParams p) {
  kernels::pdl_enter();
  __shared__ Acc scratch[2][32];
  const int64_t count = p.segments * p.inner;
  const T* x = static_cast<const T*>(p.x);
  const T* dy = static_cast<const T*>(p.dy);
  T* dx = static_cast<T*>(p.dx);
  Acc* pdw = static_cast<Acc*>(p.partial_dw);
  Acc* pdb = static_cast<Acc*>(p.partial_db);
  for (int64_t gid = blockIdx.x; gid < p.groups; gid += gridDim.x) {
    Acc mean, rstd;
    if (p.use_running) {
      mean = to_acc<Acc>(static_cast<const W*>(p.running_mean)[gid]);
      rstd = inv_sqrt(to_acc<Acc>(static_cast<const W*>(p.running_var)[gid]) + static_cast<Acc>(p.eps));
    } else {
      mean = static_cast<const Acc*>(p.mean_in)[gid];
      rstd = static_cast<const Acc*>(p.rstd_in)[gid];
    }
    Acc mg = 0, mgx = 0;
    if (!p.use_running) {
      Acc sg = 0, sgx = 0;
      for (int64_t idx = threadIdx.x; idx < count; idx += blockDim.x) {
        int64_t c;
        const int64_t off = element_offset(p, gid, idx, &c);
        const Acc g = to_acc<Acc>(dy[off]) * param_or<W>(p.weight, c, Acc(1));
        sg += g;
        sgx += g * (to_acc<Acc>(x[off]) - mean) * rstd;
      }
      const Acc n = static_cast<Acc>(count);
      mg = block_sum(sg, scratch[0]) / n;
      mgx = block_sum(sgx, scratch[1]) / n;
    }
    // dx, and dy*xhat / dy summed per (n, c) plane (group/instance) or per channel (batch).
    const bool per_plane = p.kind != GroupKind::batch;
    Acc dw = 0, db = 0;
    for (int64_t s = 0; s < p.segments; ++s) {
      const Segment sg = segment_of(p, gid, s);
      const int64_t base = (sg.n * p.channels + sg.c) * p.inner;
      const Acc w = param_or<W>(p.weight, sg.c, Acc(1));
      for (int64_t i = threadIdx.x; i < p.inner; i += blockDim.x) {
        const Acc d = to_acc<Acc>(dy[base + i]);
        const Acc xhat = (to_acc<Acc>(x[base + i]) - mean) * rstd;
        const Acc g = d * w;
        dx[base + i] = from_acc<T>(p.use_running ? g * rstd : rstd * (g - mg - xhat * mgx));
        dw += d * xhat;
        db += d;
      }
      if (per_plane && (pdw || pdb)) {
        const Acc tw = block_sum(dw, scratch[0]), tb = block_sum(db, scratch[1]);
        if (threadIdx.x == 0) {
          if (pdw) pdw[sg.n * p.channels + sg.c] = tw;
          if (pdb) pdb[sg.n * p.channels + sg.c] = tb;
        }
        dw = db = 0;
      }
    }
    if (!per_plane && (pdw || pdb)) {
      const Acc tw = block_sum(dw, scratch[0]), tb = block_sum(db, scratch[1]);
      if (threadIdx.x == 0) {
        if (pdw) pdw[gid] = tw;
        if (pdb) pdb[gid] = tb;
      }
    }
  }
}

}  // namespace baracuda::norm::cuda
