#pragma once
// Internal: host entry points of the norm forward rows engine (kernels/norm_fwd_rows_fast.cuh):
// the geometry choice (made once, at plan time, with the kernel's occupancy on the plan's device)
// and the launch.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "baracuda/core/dtype.hpp"
#include "baracuda/core/status.hpp"
#include "kernels/norm_rows_params.hpp"

namespace baracuda::norm::cuda {

struct FwdFastConfig {
  int group_warps = 0;  // warps per row; 0: the engine does not take this problem
  int items = 0;        // 16-byte vectors of x per thread
  int threads = 0;      // block size
  int stages = 0;       // > 0: the staged kernel (rows in shared memory, `stages` rows per block in flight)
  int smem = 0;         // dynamic shared memory of the staged kernel, bytes
  int blocks_per_sm = 0;
  int64_t grid = 0;     // persistent blocks (the cluster kernel: cluster_ctas x clusters; `waves`: more)
  bool residual = false;
  bool cluster = false;  // each row split over a cluster of CTAs (kernels/norm_fwd_rows_cluster.cuh)
  int cluster_ctas = 2;  // its CTAs: 2, or 4 for rows wider than two CTAs hold
  bool cluster_mailbox = false;  // its per-row pair pushed, not published (core/cluster_switch.hpp)
  bool pdl = false;      // a programmatic dependent launch (BARACUDA_PDL, set by the plan; kernels/pdl.cuh)
  bool waves = false;    // grid: up to 8 waves of blocks, not one persistent wave (16-bit default; BARACUDA_NORM_FWD_WAVES)
  int staged_opt = 0;    // the staged kernel's options (kNfStaged* bits; BARACUDA_NORM_FWD_STAGED)
};

// The engine's geometry for rows x cols of x dtype t (f32, f16, bf16; cols a multiple of the
// 16-byte vector) and parameter dtype w (t or f32), with or without a residual, or
// group_warps == 0 when it does not apply (other dtypes, cols == 0, rows wider than 16384 16-bit /
// 8192 f32 elements, except 16-bit rows up to 32768 without a residual with `allow_staged` and
// enough opt-in shared memory on `device`). Queries the kernel's occupancy on the current device.
// packed: 16-bit rows of at most 4096 values held packed, 4 vectors per thread (fewer warps per row).
// cluster (sm_90): rows one CTA holds only through shared memory or not at all (16-bit 16385 ..
// 32768, f32 8193 .. 16384 values, an even number of vectors) split over a cluster of two CTAs.
// Wider rows, up to 65536 16-bit / 32768 f32 values (4 x a whole number of vectors), are split
// over clusters of four CTAs whatever `cluster` says (BARACUDA_NORM_FWD_WIDE_CLUSTER=0: not, so
// the legacy kernels take them: A/B).
// staged_opt: the staged kernel's kNfStaged* option bits (kernels/norm_rows_params.hpp).
FwdFastConfig fwd_fast_config(DType t, DType w, int64_t rows, int64_t cols, bool residual, int sm_count, int device,
                              bool allow_staged, bool packed = false, bool cluster = false, int staged_opt = 0);

// Needs 16-byte aligned x, residual, y, sum, weight, bias and row strides that are multiples of the
// vector; p.residual set iff c.residual.
Status launch_fwd_fast(DType t, DType w, const FwdFastConfig& c, const FwdParams& p, cudaStream_t stream);

// Per-dtype kernel tables (one translation unit each: norm_fwd_fast_{f32,f16,bf16}.cu). w is the
// parameter dtype (x's or f32); null for a geometry that is not instantiated.
using FwdFastKernel = void (*)(const FwdParams);
FwdFastKernel fwd_fast_kernel_f32(DType w, int gw, int items, bool residual, int stages, int staged_opt);
FwdFastKernel fwd_fast_kernel_f16(DType w, int gw, int items, bool residual, int stages, int staged_opt);
FwdFastKernel fwd_fast_kernel_bf16(DType w, int gw, int items, bool residual, int stages, int staged_opt);
// The cluster kernel (norm_fwd_cluster.cu; mailbox: the pushed per-row exchange; ctas: 2, or 4 with
// the mailbox only), how many of its clusters the current device holds at once (0: none, or the
// query failed), and its launch (grid = ctas x clusters; pdl: as a programmatic dependent launch).
FwdFastKernel fwd_cluster_kernel(DType t, DType w, bool residual, bool mailbox, int ctas);
int fwd_cluster_max_active(FwdFastKernel k, int ctas);
Status launch_fwd_cluster(FwdFastKernel k, int64_t grid, int ctas, const FwdParams& p, cudaStream_t stream, bool pdl);

// Limits shared by the host choice and the kernel tables.
constexpr int kFwdMaxItems16 = 2;   // 16-bit x: 16 values per thread
// 16-bit x held as loaded (packed): 32 values per thread, rows up to 4 warps x 32 x 32 = 4096
// values (BARACUDA_NORM_FWD_PACKED=1: an A/B of fewer warps per row, one for 1024 columns).
constexpr int kFwdPackedItems16 = 4, kFwdPackedMaxWarps = 4;
constexpr int kFwdMaxItems32 = 2;   // f32 x: 8 values per thread
constexpr int kFwdStagedGw = 32, kFwdStagedItems = 4;

}  // namespace baracuda::norm::cuda
