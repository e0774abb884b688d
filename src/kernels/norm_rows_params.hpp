#pragma once
// Kernel parameters of the norm row engine (norm_rows.cuh), shared with the host code that fills
// them (plain C++: no device code here).
#include <cstdint>

namespace baracuda::norm::cuda {

struct FwdParams {
  const void* x;
  const void* residual;  // add_* ops, else null
  const void* weight;    // null: no affine weight
  const void* bias;      // null: no bias
  void* y;
  void* sum;             // add_* ops: x + residual in x's dtype (may be null)
  void* mean;            // Acc per row, or null
  void* rstd;            // Acc per row, or null
  int64_t x_stride, res_stride, y_stride, sum_stride;  // row strides in elements
  int64_t rows, cols;
  double eps;
  bool rms;
  // Rows engine: load the next row while this one is reduced (BARACUDA_NORM_ROW_PREFETCH=0 turns
  // it off: A/B).
  bool row_prefetch = true;
  // The cluster kernel's clusters of four CTAs: how many rows ahead it prefetches (each CTA's
  // quarter of a row is a quarter of what the two-CTA kernel holds in flight per row).
  int wide_prefetch_rows = 1;
  // >= 1: the staged kernel prefetches its first rows into L2 before griddepcontrol.wait
  // (kernels/pdl.cuh, "Before the wait"; core/pdl_switch.hpp).
  int pdl_prefetch = 0;
};

// Options of the staged forward kernel (the plan's choice: both for layer_norm with a 16-bit
// weight, see fwd_staged_opt in norm_cuda_plan.cpp; BARACUDA_NORM_FWD_STAGED overrides):
//   kNfStagedMergedStats: layer norm's mean and M2 from one group reduction of per-thread
//     (count, mean, M2) (nf_group_stats, kernels/norm_fwd_rows_fast.cuh): one barrier per row
//     instead of two, and the two passes over the thread's slots adjacent (no barrier between);
//   kNfStagedParamsInRegs: 16-bit weight and bias loaded once per block into registers (16 each
//     at 4 vectors) instead of from L2 once per row (f32 parameters: unchanged).
constexpr int kNfStagedMergedStats = 1, kNfStagedParamsInRegs = 2;

struct BwdParams {
  const void* dy;
  const void* dsum;      // add_* ops: gradient of the sum output, added to dx
  const void* x;
  const void* mean;      // null for rms
  const void* rstd;
  const void* weight;    // null: no affine weight
  void* dx;
  void* partial_dw;      // workspace [row_blocks, cols] of Acc, or null
  void* partial_db;      // workspace [row_blocks, cols] of Acc, or null
  int64_t dy_stride, dsum_stride, x_stride, dx_stride;
  int64_t rows, cols;
  int64_t rows_per_block;
  int64_t slice_cols;    // columns each blockIdx.x slice owns in pass 2
  bool rms;
  // Rows engine: load the next row before this row's reduction (BARACUDA_NORM_ROW_PREFETCH=0
  // turns it off: A/B).
  bool row_prefetch = true;
  // The cluster kernel's clusters of four CTAs: how many rows ahead it prefetches.
  int wide_prefetch_rows = 1;
  // 1 / cols in f32, rounded on the host: the cluster kernel reads it from the constant bank
  // instead of holding its own division's result in a register across the row loop (where it
  // spilled: bitwise the same value).
  float inv_cols = 0.f;
};

// The backward's two-CTA cluster kernel (norm_bwd_rows_cluster.cuh): threads per CTA, and vectors
// of x and dy per thread (each CTA holding half a row).
constexpr int kNcThreads = 1024, kNcItems = 2;

}  // namespace baracuda::norm::cuda
