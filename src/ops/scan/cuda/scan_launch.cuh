#pragma once
// Internal: the one launch template every scan launcher instantiates.
#include <algorithm>
#include <climits>
#include <string>

#include "kernels/scan_chunked_engine.cuh"
#include "kernels/scan_engine.cuh"
#include "kernels/scan_flat_engine.cuh"
#include "kernels/scan_indices_engine.cuh"
#include "kernels/scan_line_engine.cuh"
#include "kernels/scan_reverse_engine.cuh"
#include "kernels/pdl.cuh"
#include "ops/scan/cuda/scan_launchers.hpp"

namespace baracuda::sc::cuda {

// One long line as reduce-then-scan (scan_chunked_engine.cuh): as many equal chunks, whole tiles
// each, as blocks of scan_chunk_kernel fit on the device at once, so that both kernels run as one
// wave. `totals` (one state per chunk) lives in the look-back workspace's aggregate slots, which the
// plan booked for ceil(n / kTile) >= chunks states.
// Blocks of `kernel` (kThreads each) resident on the current device at once: the occupancy per SM
// (queried once per kernel by the caller's static) times the SM count.
template <class Kernel>
int blocks_per_sm(Kernel kernel) {
  int blocks = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, kThreads, 0) != cudaSuccess) {
    (void)cudaGetLastError();  // not a launch error: check_launch reads it
    blocks = 1;
  }
  return blocks < 1 ? 1 : blocks;
}
inline Status resident_blocks(int per_sm, int64_t& resident) {
  int device = 0, sms = 0;
  if (cudaError_t e = cudaGetDevice(&device); e != cudaSuccess)
    return backend_error(std::string("[scan] cudaGetDevice failed: ") + cudaGetErrorString(e));
  if (cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device); e != cudaSuccess)
    return backend_error(std::string("[scan] cudaDeviceGetAttribute(multiprocessors) failed: ") + cudaGetErrorString(e));
  resident = static_cast<int64_t>(sms > 0 ? sms : 1) * per_sm;
  return Status::ok();
}

// The dynamic shared memory the chunked kernels may ask for: what one block may have (227 KB on
// sm_90), less their static shared memory.
inline constexpr size_t kDynamicLimit = 224 * 1024;

// Lets `kernel` (named `name` in the error) take kDynamicLimit bytes of dynamic shared memory. Per
// launch (a host-side attribute, not stream work): the attribute belongs to the current device's
// context, and a plan may run on another device than the one that first launched.
template <class Kernel>
Status allow_dynamic_smem(Kernel kernel, const char* name) {
  const cudaError_t e =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(kDynamicLimit));
  if (e == cudaSuccess) return Status::ok();
  (void)cudaGetLastError();
  return backend_error(std::string("[scan] cudaFuncSetAttribute(") + name + ") failed: " + cudaGetErrorString(e));
}

// The one-kernel form (scan_chunk_onchip_kernel): chunks of g.chunk_tiles whole tiles held in
// dynamic shared memory, capped at kDynamicLimit.
template <class Op, class In, class Out>
Status launch_chunk_onchip(const LaunchArgs& a, const LookbackStorage<typename Op::State>& ws, int64_t slots) {
  const Geometry& g = *a.geometry;
  constexpr size_t tile_bytes = onchip_tile_bytes<In, Out>();
  const auto kernel = scan_chunk_onchip_kernel<Op, In, Out>;
  BARACUDA_TRY(allow_dynamic_smem(kernel, "scan_chunk_onchip_kernel"));
  const int64_t fit = static_cast<int64_t>(kDynamicLimit / tile_bytes);
  const int64_t tiles = std::clamp<int64_t>(g.chunk_tiles, 1, fit);
  const int64_t chunk_len = tiles * kTile;
  const int64_t chunks = (g.n + chunk_len - 1) / chunk_len;
  if (chunks > slots || chunks > INT_MAX)
    return internal_error("[scan] " + std::to_string(chunks) + " chunks, the workspace holds " + std::to_string(slots));
  kernel<<<static_cast<unsigned>(chunks), kThreads, static_cast<size_t>(tiles) * tile_bytes, a.stream>>>(
      static_cast<const In*>(a.x), static_cast<Out*>(a.y), g.n, static_cast<int>(tiles), g.exclusive, ws);
  return check_launch("scan_chunk_onchip_kernel");
}

// The pipelined flat scan (scan_flat_pipelined_kernel; the default, BARACUDA_SCAN_FLAT=legacy: off) for
// one long line: a persistent grid of the blocks resident at once, chunks of g.flat_tiles tiles (0: with
// two stages about 48 KB of staging a stage, 3 f32 tiles or 6 16-bit ones, so that 2 blocks share an
// SM, the default; with three about 64 KB, 4 f32 tiles: one block of 192 KB per SM, the fastest
// without the L2 lead), clamped to [2, what fits] (g.flat_stages stages of them), and the L2 lead
// g.flat_l2_lead. At 2 tiles or more the chunk words (8 bytes each)
// fit in the flags region the plan clears (4 bytes per tile, an even count): `words_bytes`.
inline constexpr size_t kFlatStageBudget = 48 * 1024, kFlatThreeStageBudget = 64 * 1024;
// With g.flat_pdl it clears the counter and the chunk words itself (flat_clear_kernel) and goes out
// after it as a programmatic dependent launch; otherwise the caller cleared them.
template <class Op, class In, class Out>
Status launch_flat_pipelined(const LaunchArgs& a, const LookbackStorage<typename Op::State>& ws, size_t words_bytes) {
  const Geometry& g = *a.geometry;
  constexpr size_t tile_bytes = flat_tile_bytes<In, Out>();
  const auto kernel = scan_flat_pipelined_kernel<Op, In, Out>;
  BARACUDA_TRY(allow_dynamic_smem(kernel, "scan_flat_pipelined_kernel"));
  const int stages = g.flat_stages == 3 ? 3 : 2;
  const int64_t fit = std::min<int64_t>(kFlatMaxTiles, static_cast<int64_t>(kDynamicLimit / (stages * tile_bytes)));
  const int64_t wanted = g.flat_tiles > 0 ? g.flat_tiles
                                           : static_cast<int64_t>((stages == 3 ? kFlatThreeStageBudget : kFlatStageBudget) /
                                                                  tile_bytes);
  const int64_t tiles = std::clamp<int64_t>(wanted, 2, fit);
  const int64_t chunk_len = tiles * kTile;
  const int64_t chunks = (g.n + chunk_len - 1) / chunk_len;
  if (static_cast<size_t>(chunks) * sizeof(unsigned long long) > words_bytes)
    return internal_error("[scan] " + std::to_string(chunks) + " chunk words, the cleared workspace holds " +
                          std::to_string(words_bytes) + " bytes");
  const size_t smem = static_cast<size_t>(stages) * static_cast<size_t>(tiles) * tile_bytes;
  int per_sm = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem) != cudaSuccess) {
    (void)cudaGetLastError();
    per_sm = 1;
  }
  int64_t resident = 0;
  BARACUDA_TRY(resident_blocks(per_sm < 1 ? 1 : per_sm, resident));
  const int64_t grid = std::min(resident, chunks);
  auto* const words = reinterpret_cast<unsigned long long*>(ws.flags);
  const bool pdl = g.flat_pdl > 0;
  if (pdl) {
    constexpr unsigned kClearThreads = 256;
    const int64_t clear_blocks = std::max<int64_t>(1, std::min<int64_t>((chunks + kClearThreads - 1) / kClearThreads, 1024));
    const kernels::KernelLaunch clear{dim3(static_cast<unsigned>(clear_blocks)), dim3(kClearThreads), 0, a.stream, true};
    BARACUDA_TRY(kernels::launch_kernel(clear, "scan", "flat_clear_kernel", "", flat_clear_kernel<unsigned long long>,
                                        ws.counter, words, chunks));
  }
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(grid)), dim3(kThreads), smem, a.stream, pdl};
  return kernels::launch_kernel(l, "scan", "scan_flat_pipelined_kernel", "", kernel, static_cast<const In*>(a.x),
                                static_cast<Out*>(a.y), g.n, static_cast<int>(tiles), chunks, g.exclusive, ws.counter,
                                words, stages, g.flat_l2_lead, g.flat_pdl > 1);
}

// The look-back kernels' counter and flags (the first `a.clear_bytes` of the workspace) to zero.
inline Status clear_lookback(const LaunchArgs& a) {
  if (a.clear_bytes == 0) return Status::ok();
  if (cudaError_t e = cudaMemsetAsync(a.workspace, 0, a.clear_bytes, a.stream); e != cudaSuccess)
    return backend_error(std::string("[scan] cudaMemsetAsync(look-back flags) failed: ") + cudaGetErrorString(e));
  return Status::ok();
}

template <class Op, class In, class Out>
Status launch_chunked(const LaunchArgs& a, typename Op::State* totals, int64_t slots) {
  if constexpr (!chunked_types_ok<Op, In, Out>()) {
    return internal_error("[scan] the chunked kernels were picked for a type they do not take");
  } else {
    const Geometry& g = *a.geometry;
    static const int per_sm = blocks_per_sm(scan_chunk_kernel<Op, In, Out>);
    int64_t resident = 0;
    BARACUDA_TRY(resident_blocks(per_sm, resident));
    const int64_t per_chunk = (g.n + resident - 1) / resident;
    const int64_t chunk_len = (per_chunk + kTile - 1) / kTile * kTile;
    const int64_t chunks = (g.n + chunk_len - 1) / chunk_len;
    if (chunks > slots || chunks > INT_MAX)
      return internal_error("[scan] " + std::to_string(chunks) + " chunks, the workspace holds " + std::to_string(slots));
    const auto* x = static_cast<const In*>(a.x);
    scan_chunk_totals_kernel<Op, In><<<static_cast<unsigned>(chunks), kThreads, 0, a.stream>>>(x, g.n, chunk_len, totals);
    BARACUDA_TRY(check_launch("scan_chunk_totals_kernel"));
    scan_chunk_kernel<Op, In, Out><<<static_cast<unsigned>(chunks), kThreads, 0, a.stream>>>(
        x, static_cast<Out*>(a.y), g.n, chunk_len, g.exclusive, totals);
    return check_launch("scan_chunk_kernel");
  }
}

template <class Op, class In, class Out>
Status launch_scan(const LaunchArgs& a) {
  using State = typename Op::State;
  const Geometry& g = *a.geometry;
  if (g.rows) {
    const int64_t blocks = (g.outer + kThreads / 32 - 1) / (kThreads / 32);
    if (blocks > INT_MAX) return not_supported("[scan] " + std::to_string(g.outer) + " rows exceed the grid limit");
    scan_rows_kernel<Op, In, Out><<<static_cast<unsigned>(blocks), kThreads, 0, a.stream>>>(
        static_cast<const In*>(a.x), static_cast<Out*>(a.y), a.indices, g);
    return check_launch("scan_rows_kernel");
  }
  if (g.tiles > INT_MAX) return not_supported("[scan] " + std::to_string(g.tiles) + " tiles exceed the grid limit");
  const LookbackLayout l = lookback_layout(g.tiles * g.width, sizeof(State));
  if (l.total > a.workspace_bytes)  // the plan booked the workspace for another state type: a bug, not bad input
    return internal_error("[scan] the kernel needs " + std::to_string(l.total) + " bytes of workspace, the plan booked " +
                          std::to_string(a.workspace_bytes));
  char* base = static_cast<char*>(a.workspace);
  LookbackStorage<State> ws{reinterpret_cast<unsigned long long*>(base + l.counter), reinterpret_cast<int*>(base + l.flags),
                            reinterpret_cast<State*>(base + l.aggregate), reinterpret_cast<State*>(base + l.inclusive)};
  if (chunked_applies<Op, In, Out>(g, static_cast<const In*>(a.x), static_cast<const Out*>(a.y))) {
    if constexpr (flat_types_ok<Op, In, Out>()) {
      if (g.chunk_lookback && g.flat_pipelined) {
        if (g.flat_pdl == 0) BARACUDA_TRY(clear_lookback(a));
        return launch_flat_pipelined<Op, In, Out>(a, ws, l.clear_bytes - l.flags);
      }
    }
    BARACUDA_TRY(clear_lookback(a));
    if constexpr (chunked_types_ok<Op, In, Out>()) {
      if (g.chunk_lookback) return launch_chunk_onchip<Op, In, Out>(a, ws, g.tiles * g.width);
    }
    return launch_chunked<Op, In, Out>(a, ws.aggregate, g.tiles * g.width);
  }
  BARACUDA_TRY(clear_lookback(a));
  if constexpr (indices_lines_types_ok<Op, In, Out>()) {  // cummax/cummin: values and indices
    if (g.row_carry && g.row_carry_indices && !g.reverse) {
      static const int per_sm = blocks_per_sm(scan_row_carry_indices_kernel<Op, In, Out>);
      int64_t resident = 0;
      BARACUDA_TRY(resident_blocks(per_sm, resident));
      if (g.outer <= INT_MAX && row_carry_indices_applies<Op, In, Out>(g, static_cast<const In*>(a.x),
                                                                       static_cast<const Out*>(a.y), a.indices, resident)) {
        scan_row_carry_indices_kernel<Op, In, Out><<<static_cast<unsigned>(g.outer), kThreads, 0, a.stream>>>(
            static_cast<const In*>(a.x), static_cast<Out*>(a.y), a.indices, g);
        return check_launch("scan_row_carry_indices_kernel");
      }
    }
  }
  if constexpr (chunked_types_ok<Op, In, Out>()) {
    if (g.row_carry && !g.reverse) {
      static const int per_sm = blocks_per_sm(scan_row_carry_kernel<Op, In, Out>);
      int64_t resident = 0;
      BARACUDA_TRY(resident_blocks(per_sm, resident));
      if (g.outer <= INT_MAX &&
          row_carry_applies<Op, In, Out>(g, static_cast<const In*>(a.x), static_cast<const Out*>(a.y), resident)) {
        scan_row_carry_kernel<Op, In, Out><<<static_cast<unsigned>(g.outer), kThreads, 0, a.stream>>>(
            static_cast<const In*>(a.x), static_cast<Out*>(a.y), g);
        return check_launch("scan_row_carry_kernel");
      }
    }
    if (g.row_carry && g.reverse && g.row_carry_reverse) {  // the same lines walked from the end
      static const int per_sm = blocks_per_sm(scan_row_carry_reverse_kernel<Op, In, Out>);
      int64_t resident = 0;
      BARACUDA_TRY(resident_blocks(per_sm, resident));
      if (g.outer <= INT_MAX &&
          row_carry_applies<Op, In, Out>(g, static_cast<const In*>(a.x), static_cast<const Out*>(a.y), resident)) {
        scan_row_carry_reverse_kernel<Op, In, Out><<<static_cast<unsigned>(g.outer), kThreads, 0, a.stream>>>(
            static_cast<const In*>(a.x), static_cast<Out*>(a.y), g);
        return check_launch("scan_row_carry_reverse_kernel");
      }
    }
  }
  if (line_kernel_applies<Op, In, Out>(g, static_cast<const In*>(a.x), static_cast<const Out*>(a.y))) {
    scan_line_kernel<Op, In, Out><<<static_cast<unsigned>(g.tiles), kThreads, 0, a.stream>>>(
        static_cast<const In*>(a.x), static_cast<Out*>(a.y), g, ws);
    return check_launch("scan_line_kernel");
  }
  scan_lookback_kernel<Op, In, Out><<<static_cast<unsigned>(g.tiles), kThreads, 0, a.stream>>>(
      static_cast<const In*>(a.x), static_cast<Out*>(a.y), a.indices, g, ws);
  return check_launch("scan_lookback_kernel");
}

// Storage types by dtype.
template <DType> struct Storage;
template <> struct Storage<DType::f64> { using type = double; };
template <> struct Storage<DType::f32> { using type = float; };
template <> struct Storage<DType::f16> { using type = __half; };
template <> struct Storage<DType::bf16> { using type = __nv_bfloat16; };
template <> struct Storage<DType::i64> { using type = int64_t; };
template <> struct Storage<DType::i32> { using type = int32_t; };
template <> struct Storage<DType::i16> { using type = int16_t; };
template <> struct Storage<DType::i8> { using type = int8_t; };
template <> struct Storage<DType::u8> { using type = uint8_t; };
template <> struct Storage<DType::boolean> { using type = bool; };

// Accumulators: f32 for 16-bit floats and f32, f64 for f64, 64-bit integers otherwise.
template <DType T> using FloatAcc = std::conditional_t<T == DType::f64, double, float>;

}  // namespace baracuda::sc::cuda
