#pragma once
// Internal: launching one (load, store) dtype pair's kernels. Each softmax_launch_<dtype>.cu
// instantiates the pairs whose loaded dtype is <dtype>, so the instantiations compile in parallel.
#include <algorithm>
#include <string>
#include <type_traits>

#include "kernels/pdl.cuh"
#include "kernels/softmax_columns.cuh"
#include "kernels/softmax_engines.cuh"
#include "kernels/softmax_rows_fast.cuh"
#include "kernels/softmax_rows_masked.cuh"

namespace baracuda::sm::cuda {

// One softmax kernel through kernels::launch_kernel: a programmatic dependent launch when the
// plan's c.pdl says so (every softmax kernel begins with kernels::pdl_enter). `engine` names it in
// the error ("the rows" -> "launch of the rows backward kernel failed").
template <class Kernel, class... Args>
Status launch_one(Kernel* kernel, const char* engine, bool bwd, dim3 grid, dim3 block, size_t smem,
                  const LaunchConfig& c, cudaStream_t stream, const Args&... args) {
  return kernels::launch_kernel({grid, block, smem, stream, c.pdl}, "softmax", engine,
                                bwd ? " backward kernel" : " forward kernel", kernel, args...);
}

// The register engines (warp, block) for one mask variant.
template <class Tl, class Ts, class A, bool kBwd, bool kMask>
Status launch_cached(const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  constexpr int V = 16 / static_cast<int>(sizeof(Tl));
  const dim3 grid(static_cast<unsigned>(c.grid)), block(static_cast<unsigned>(c.threads));
  const bool vec = c.vec == V;
  auto go = [&](auto* kernel, const char* engine) {
    return launch_one(kernel, engine, kBwd, grid, block, 0, c, stream, p);
  };
  if (c.engine == Engine::warp) {
    if (!vec) return internal_error("[softmax] the warp engine needs full-width vectors");
    switch (c.items) {
      case 1: return go(softmax_cached_kernel<Tl, Ts, A, V, 1, true, kBwd, kMask>, "the warp");
      case 2: return go(softmax_cached_kernel<Tl, Ts, A, V, 2, true, kBwd, kMask>, "the warp");
      case 4: return go(softmax_cached_kernel<Tl, Ts, A, V, 4, true, kBwd, kMask>, "the warp");
      default: return internal_error("[softmax] warp engine: unsupported items " + std::to_string(c.items));
    }
  }
#define BARACUDA_SOFTMAX_BLOCK(VW)                                                                 \
  switch (c.items) {                                                                               \
    case 1: return go(softmax_cached_kernel<Tl, Ts, A, VW, 1, false, kBwd, kMask>, "the block");   \
    case 2: return go(softmax_cached_kernel<Tl, Ts, A, VW, 2, false, kBwd, kMask>, "the block");   \
    case 4: return go(softmax_cached_kernel<Tl, Ts, A, VW, 4, false, kBwd, kMask>, "the block");   \
    case 8: return go(softmax_cached_kernel<Tl, Ts, A, VW, 8, false, kBwd, kMask>, "the block");   \
    default: return internal_error("[softmax] block engine: unsupported items " + std::to_string(c.items)); \
  }
  if (vec) {
    BARACUDA_SOFTMAX_BLOCK(V)
  } else {
    BARACUDA_SOFTMAX_BLOCK(1)
  }
#undef BARACUDA_SOFTMAX_BLOCK
}

// Largest vectors per thread of the rows engines: 32 f32 values of the forward's cached row, 32
// bytes of each backward input (more spills at 64 registers); the backward's 32-warp rows may
// take 64 bytes (kRowsBwdLongItems) to reach 32768 16-bit elements, spilling a little. The plan's
// choice must match (softmax_cuda_plan.cpp).
template <class Tl, bool kBwd>
constexpr int rows_max_items() {
  return kBwd ? 2 : 32 / (16 / static_cast<int>(sizeof(Tl)));
}
constexpr int kRowsBwdLongItems = 4;

// A staged kernel (one row group per block, the next row streamed into `smem` bytes of dynamic
// shared memory): exactly the resident blocks, each persistent over rows.
template <class Kernel>
Status launch_staged(Kernel* kernel, int threads, int smem, bool bwd, const KernelParams& p, const LaunchConfig& c,
                     cudaStream_t stream) {
  // Per launch (a host-side attribute, not a stream operation: graph-capture safe), so that
  // every device the plan runs on has it.
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem) != cudaSuccess)
    return check_softmax_launch("rows_staged (shared memory attribute)", bwd);
  int per_sm = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, smem) != cudaSuccess)
    return check_softmax_launch("rows_staged (occupancy query)", bwd);
  // Exactly the resident blocks: a block is persistent, and a second wave would double the
  // time of the rows it holds.
  const int64_t grid = std::min<int64_t>(p.rows, static_cast<int64_t>(std::max(per_sm, 1)) * c.sm_count);
  return launch_one(kernel, "the rows_staged", bwd, dim3(static_cast<unsigned>(grid)), dim3(static_cast<unsigned>(threads)),
                    static_cast<size_t>(smem), c, stream, p);
}

// Dynamic shared memory of the staged kernel for this geometry: the forward's two stages of x, the
// backward's one stage of dy and y.
template <class Tl, int IT, int GW, bool kBwd>
constexpr int rows_staged_smem() {
  constexpr int V = 16 / static_cast<int>(sizeof(Tl));
  return kBwd ? staged_bwd_smem_bytes<Tl, V, IT, GW>() : staged_smem_bytes<Tl, V, IT, GW>();
}

// Whether a staged kernel exists for GW warps per row: the forward's at 16 and 32, the backward's
// also at 4 and 8 for log_softmax (short rows, which the plan gives it; the softmax backward keeps
// the register kernel there).
template <bool kBwd, bool kLog>
constexpr bool rows_staged_warps(int gw) {
  return gw >= 16 || (kBwd && kLog && gw >= 4);
}

// One rows kernel: GW warps per row, IT vectors per thread.
template <class Tl, class Ts, int IT, int GW, bool kBwd, bool kLog>
Status launch_rows_one(const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  constexpr int V = 16 / static_cast<int>(sizeof(Tl));
  if constexpr (rows_staged_warps<kBwd, kLog>(GW) && rows_staged_smem<Tl, IT, GW, kBwd>() <= kStagedSmemLimit) {
    if (c.engine == Engine::rows_staged) {
      constexpr int smem = rows_staged_smem<Tl, IT, GW, kBwd>();
      constexpr int smem3 = staged_smem_bytes<Tl, V, IT, GW, 3>();  // three stages of x (c.fwd_stages)
      if constexpr (kBwd) {
        return launch_staged(softmax_rows_bwd_staged_kernel<Tl, Ts, V, IT, GW, kLog>, GW * 32, smem, kBwd, p, c, stream);
      } else {
        if constexpr (smem3 <= kStagedSmemLimit) {
          auto* three = softmax_rows_fwd_staged_kernel<Tl, Ts, V, IT, GW, kLog, 3>;
          if (c.fwd_stages == 3) return launch_staged(three, GW * 32, smem3, kBwd, p, c, stream);
        }
        return launch_staged(softmax_rows_fwd_staged_kernel<Tl, Ts, V, IT, GW, kLog>, GW * 32, smem, kBwd, p, c, stream);
      }
    }
  }
  if (c.engine == Engine::rows_staged) return internal_error("[softmax] no staged kernel for this row geometry");
  if (c.threads != rows_block_threads(GW)) return internal_error("[softmax] rows engine: wrong block size");
  const dim3 grid(static_cast<unsigned>(c.grid)), block(static_cast<unsigned>(c.threads));
  if constexpr (kBwd) return launch_one(softmax_rows_bwd_kernel<Tl, Ts, V, IT, GW, kLog>, "the rows", kBwd, grid, block, 0, c, stream, p);
  else return launch_one(softmax_rows_fwd_kernel<Tl, Ts, V, IT, GW, kLog>, "the rows", kBwd, grid, block, 0, c, stream, p);
}

// The backward's one-vector geometry (the plan's BwdOneVector: 16-bit rows of 2049..4096 by
// default, BARACUDA_SOFTMAX_BWD_ONE_VECTOR=1|0 everywhere it fits or never): GW = 2 .. 16 warps per row, one vector of dy and y per thread, always the register
// kernel (no staged kernel is instantiated for it).
template <class Tl, class Ts, int GW, bool kLog>
Status launch_rows_bwd_one_vector(const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  constexpr int V = 16 / static_cast<int>(sizeof(Tl));
  if (c.engine != Engine::rows) return internal_error("[softmax] no staged kernel for this row geometry");
  if (c.threads != rows_block_threads(GW)) return internal_error("[softmax] rows engine: wrong block size");
  const dim3 grid(static_cast<unsigned>(c.grid)), block(static_cast<unsigned>(c.threads));
  return launch_one(softmax_rows_bwd_kernel<Tl, Ts, V, 1, GW, kLog>, "the rows", true, grid, block, 0, c, stream, p);
}

// The rows engines: one warp per row with 1 .. max items, or 2 .. 32 warps per row with max items
// (the backward also 2 .. 16 warps with one item: launch_rows_bwd_one_vector).
template <class Tl, class Ts, bool kBwd, bool kLog>
Status launch_rows(const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  constexpr int V = 16 / static_cast<int>(sizeof(Tl));
  constexpr int IM = rows_max_items<Tl, kBwd>();
  if (c.vec != V) return internal_error("[softmax] the rows engines need full-width vectors");
  if constexpr (kBwd) {
    if (c.group_warps == 32 && c.items == kRowsBwdLongItems)
      return launch_rows_one<Tl, Ts, kRowsBwdLongItems, 32, kBwd, kLog>(p, c, stream);
  }
  if constexpr (kBwd) {
    if (c.group_warps > 1 && c.items == 1) {
      switch (c.group_warps) {
        case 2: return launch_rows_bwd_one_vector<Tl, Ts, 2, kLog>(p, c, stream);
        case 4: return launch_rows_bwd_one_vector<Tl, Ts, 4, kLog>(p, c, stream);
        case 8: return launch_rows_bwd_one_vector<Tl, Ts, 8, kLog>(p, c, stream);
        case 16: return launch_rows_bwd_one_vector<Tl, Ts, 16, kLog>(p, c, stream);
        default: return internal_error("[softmax] rows engine: unsupported warps per row " + std::to_string(c.group_warps));
      }
    }
  }
  if (c.group_warps > 1 && c.items != IM) return internal_error("[softmax] rows engine: unsupported items");
  switch (c.group_warps) {
    case 1:
      switch (c.items) {
        case 1: return launch_rows_one<Tl, Ts, 1, 1, kBwd, kLog>(p, c, stream);
        case 2: return launch_rows_one<Tl, Ts, 2, 1, kBwd, kLog>(p, c, stream);
        case 4:
          if constexpr (IM >= 4) return launch_rows_one<Tl, Ts, 4, 1, kBwd, kLog>(p, c, stream);
          break;
        case 8:
          if constexpr (IM >= 8) return launch_rows_one<Tl, Ts, 8, 1, kBwd, kLog>(p, c, stream);
          break;
        default: break;
      }
      return internal_error("[softmax] rows engine: unsupported items " + std::to_string(c.items));
    case 2: return launch_rows_one<Tl, Ts, IM, 2, kBwd, kLog>(p, c, stream);
    case 4: return launch_rows_one<Tl, Ts, IM, 4, kBwd, kLog>(p, c, stream);
    case 8: return launch_rows_one<Tl, Ts, IM, 8, kBwd, kLog>(p, c, stream);
    case 16: return launch_rows_one<Tl, Ts, IM, 16, kBwd, kLog>(p, c, stream);
    case 32: return launch_rows_one<Tl, Ts, IM, 32, kBwd, kLog>(p, c, stream);
    default: break;
  }
  return internal_error("[softmax] rows engine: unsupported warps per row " + std::to_string(c.group_warps));
}

// The masked rows kernels (softmax_rows_masked.cuh): Tm is the mask's element type (the loaded
// dtype for an additive mask, uint8_t for a boolean one; the backward takes boolean only). GW warps
// per row, IT vectors per thread; never staged.
template <class Tl, class Ts, class Tm, int IT, int GW, bool kBwd, bool kLog>
Status launch_rows_masked_one(const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  constexpr int V = 16 / static_cast<int>(sizeof(Tl));
  if (c.threads != rows_block_threads(GW)) return internal_error("[softmax] masked rows engine: wrong block size");
  const dim3 grid(static_cast<unsigned>(c.grid)), block(static_cast<unsigned>(c.threads));
  if constexpr (kBwd)
    return launch_one(softmax_rows_masked_bwd_kernel<Tl, Ts, V, IT, GW, kLog>, "the masked rows", kBwd, grid, block, 0, c,
                      stream, p);
  else
    return launch_one(softmax_rows_masked_fwd_kernel<Tl, Ts, Tm, V, IT, GW, kLog>, "the masked rows", kBwd, grid, block,
                      0, c, stream, p);
}

template <class Tl, class Ts, class Tm, bool kBwd, bool kLog>
Status launch_rows_masked_geom(const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  constexpr int IM = kBwd ? kMaskedBwdMaxItems : kMaskedFwdMaxItems;
  if (c.group_warps > 1 && c.items != IM) return internal_error("[softmax] masked rows engine: unsupported items");
  switch (c.group_warps) {
    case 1:
      switch (c.items) {
        case 1: return launch_rows_masked_one<Tl, Ts, Tm, 1, 1, kBwd, kLog>(p, c, stream);
        case 2: return launch_rows_masked_one<Tl, Ts, Tm, 2, 1, kBwd, kLog>(p, c, stream);
        case 4:
          if constexpr (IM >= 4) return launch_rows_masked_one<Tl, Ts, Tm, 4, 1, kBwd, kLog>(p, c, stream);
          break;
        default: break;
      }
      return internal_error("[softmax] masked rows engine: unsupported items " + std::to_string(c.items));
    case 2: return launch_rows_masked_one<Tl, Ts, Tm, IM, 2, kBwd, kLog>(p, c, stream);
    case 4: return launch_rows_masked_one<Tl, Ts, Tm, IM, 4, kBwd, kLog>(p, c, stream);
    case 8: return launch_rows_masked_one<Tl, Ts, Tm, IM, 8, kBwd, kLog>(p, c, stream);
    case 16: return launch_rows_masked_one<Tl, Ts, Tm, IM, 16, kBwd, kLog>(p, c, stream);
    case 32: return launch_rows_masked_one<Tl, Ts, Tm, IM, 32, kBwd, kLog>(p, c, stream);
    default: break;
  }
  return internal_error("[softmax] masked rows engine: unsupported warps per row " + std::to_string(c.group_warps));
}

template <class Tl, class Ts, bool kBwd>
Status launch_rows_masked(const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  constexpr int V = 16 / static_cast<int>(sizeof(Tl));
  if (c.vec != V) return internal_error("[softmax] the masked rows engines need full-width vectors");
  if (c.engine != Engine::rows) return internal_error("[softmax] the masked rows engines are never staged");
  const bool boolean = p.mask_kind == MaskKind::boolean;
  if constexpr (kBwd) {
    if (!boolean) return internal_error("[softmax] the masked rows backward takes a boolean mask only");
    return p.log ? launch_rows_masked_geom<Tl, Ts, uint8_t, true, true>(p, c, stream)
                 : launch_rows_masked_geom<Tl, Ts, uint8_t, true, false>(p, c, stream);
  } else {
    if (boolean)
      return p.log ? launch_rows_masked_geom<Tl, Ts, uint8_t, false, true>(p, c, stream)
                   : launch_rows_masked_geom<Tl, Ts, uint8_t, false, false>(p, c, stream);
    constexpr DType kLoaded = std::is_same_v<Tl, float> ? DType::f32
                              : std::is_same_v<Tl, __half> ? DType::f16
                                                           : DType::bf16;
    if (p.mask_dtype != kLoaded)
      return internal_error("[softmax] the masked rows forward takes an additive mask of x's dtype only");
    return p.log ? launch_rows_masked_geom<Tl, Ts, Tl, false, true>(p, c, stream)
                 : launch_rows_masked_geom<Tl, Ts, Tl, false, false>(p, c, stream);
  }
}

template <class Tl, class Ts, bool kBwd>
Status launch_pair(const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  using A = std::conditional_t<std::is_same_v<Tl, double> || std::is_same_v<Ts, double>, double, float>;
  constexpr int V = 16 / static_cast<int>(sizeof(Tl));
  const dim3 grid(static_cast<unsigned>(c.grid)), block(static_cast<unsigned>(c.threads));
  const bool vec = c.vec == V;
  if (c.vec != V && c.vec != 1) return internal_error("[softmax] unsupported vector width " + std::to_string(c.vec));
  switch (c.engine) {
    case Engine::warp:
    case Engine::block:
      return p.mask_kind == MaskKind::none ? launch_cached<Tl, Ts, A, kBwd, false>(p, c, stream)
                                           : launch_cached<Tl, Ts, A, kBwd, true>(p, c, stream);
    case Engine::online:
      if (vec) return launch_one(softmax_online_kernel<Tl, Ts, A, V, kBwd>, "the online", kBwd, grid, block, 0, c, stream, p);
      return launch_one(softmax_online_kernel<Tl, Ts, A, 1, kBwd>, "the online", kBwd, grid, block, 0, c, stream, p);
    case Engine::column:
      return launch_one(softmax_column_kernel<Tl, Ts, A, kBwd>, "the column", kBwd, grid, block, 0, c, stream, p);
    case Engine::columns:
      if constexpr (std::is_same_v<A, float>) {  // f64 keeps the generic column engine (the plan's rule)
        if (p.mask_kind != MaskKind::none) return internal_error("[softmax] the columns engine takes no mask");
        if (c.threads != kColumnsThreads) return internal_error("[softmax] columns engine: wrong block size");
        if (vec)
          return launch_one(softmax_columns_kernel<Tl, Ts, A, V, kBwd>, "the columns", kBwd, grid, block, 0, c, stream, p,
                            c.columns_tx_log2);
        return launch_one(softmax_columns_kernel<Tl, Ts, A, 1, kBwd>, "the columns", kBwd, grid, block, 0, c, stream, p,
                          c.columns_tx_log2);
      }
      return internal_error("[softmax] the columns engine computes in f32 only");
    case Engine::rows:
    case Engine::rows_staged:
      if constexpr (std::is_same_v<A, float>) {
        if (p.mask_kind != MaskKind::none) return launch_rows_masked<Tl, Ts, kBwd>(p, c, stream);
        return p.log ? launch_rows<Tl, Ts, kBwd, true>(p, c, stream) : launch_rows<Tl, Ts, kBwd, false>(p, c, stream);
      }
      return internal_error("[softmax] the rows engines compute in f32 only");
  }
  return internal_error("[softmax] unknown engine");
}

}  // namespace baracuda::sm::cuda
