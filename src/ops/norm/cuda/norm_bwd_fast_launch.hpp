#pragma once
// Internal: host entry points of the norm backward rows engine (kernels/norm_bwd_rows_fast.cuh):
// the geometry choice (made once, at plan time: it fixes the number of dweight/dbias partial
// rows, hence the workspace) and the launch.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "baracuda/core/dtype.hpp"
#include "baracuda/core/status.hpp"
#include "kernels/norm_rows_params.hpp"

namespace baracuda::norm::cuda {

struct BwdFastConfig {
  int group_warps = 0;  // warps per row; 0: the engine does not take this problem
  int items = 0;        // 16-byte vectors of x (and of dy) per thread
  int threads = 0;      // block size
  int blocks_per_sm = 0;
  int64_t grid = 0;     // persistent blocks of the dx kernel
  bool params = false;  // dweight/dbias wanted
  // How dweight/dbias are made: fused (0: each dx block writes one partial row, grid rows) or,
  // for rows too wide for the fused sums, by a column pass over dy and x after dx (col_chunks
  // row chunks of rows_per_chunk rows, one partial row each).
  int64_t col_chunks = 0, rows_per_chunk = 0;
  // Fused partials whose per-column sums the dx kernel keeps in smem_bytes of dynamic shared
  // memory instead of registers (it then runs the dx-only geometry); see BwdSums.
  bool shared_sums = false;
  int shared_params = 0;  // shared-memory parameter slots: 1 (dweight alone) or 2 (dweight, dbias)
  // The two-CTA cluster kernel (kernels/norm_bwd_rows_cluster.cuh): grid = 2 x clusters, each
  // cluster one partial row.
  bool cluster = false;
  bool cluster_mailbox = false;  // its per-row pair pushed, not published (core/cluster_switch.hpp)
  // The cluster kernel with both parameters: dbias summed in registers, dweight alone in shared
  // memory (its SUMS 3; the default, BARACUDA_NORM_BWD_DB=shared the A/B baseline).
  bool db_in_registers = false;
  // The cluster kernel with dweight alone, summed in registers, x and dy read again from L1 after
  // the exchange (its SUMS 4; mailbox only): the default where it does not spill (weight of x's
  // dtype); BARACUDA_NORM_BWD_REREAD=0 / =1 turn it off / on for every dweight-only case.
  bool reread = false;
  // Where the cluster kernel reads the weight (its WFORM; SUMS 3 and 4 with the mailbox): 0 global
  // (SUMS 4's default; BARACUDA_NORM_BWD_WEIGHT=global), 1 a copy in shared memory (=smem), 2
  // global through a base pointer set before the row loop (SUMS 3's default; =base).
  int weight_form = 0;
  // CTAs per cluster of the cluster kernel: 2, or 4 for rows wider than 2 CTAs hold (65536 16-bit
  // columns, 32768 f32: fewer SMs busy, 30 clusters of 4 on the H200, but one pass).
  int cluster_ctas = 2;
  int smem_bytes = 0;
  bool pdl = false;  // every kernel a programmatic dependent launch (BARACUDA_PDL, set by the plan; kernels/pdl.cuh)

  bool fused_params() const { return params && col_chunks == 0; }
  // The cluster kernel's SUMS (kernels/norm_bwd_rows_cluster.cuh).
  int cluster_sums() const {
    if (reread) return 4;
    return db_in_registers ? 3 : shared_params;
  }
  // Rows of cols floats per parameter the workspace must hold (0 without dweight/dbias).
  int64_t partial_rows() const { return !params ? 0 : (col_chunks ? col_chunks : cluster ? grid / cluster_ctas : grid); }
};

// Where the fused dweight/dbias sums live. Register sums hold 8 columns per thread (up to 8192
// columns); shared-memory sums take nb_smem_sums_bytes per block (up to the device's opt-in
// limit: at 1024 threads, 32768 16-bit columns fit for one parameter, not for two); rows neither
// takes get the column pass.
enum class BwdSums {
  registers,    // register sums, the column pass beyond them
  wide_shared,  // register sums, shared-memory sums beyond them
  shared,       // shared-memory sums wherever they fit, register sums otherwise (A/B)
  column_pass,  // always the column pass (A/B)
  cluster,      // as shared, and rows one CTA holds only at 4 vectors per thread (16-bit > 16384,
                // f32 > 8192 columns) split over a cluster of two CTAs (sm_90; the plans' default)
};

// The engine's geometry for rows x cols of x dtype t (f32, f16, bf16; cols a multiple of the
// 16-byte vector) and parameter dtype w, or group_warps == 0 when it does not apply (other
// dtypes, cols == 0, rows wider than its register budget: 32768 16-bit / 16384 f32 elements).
// param_count: how many of dweight / dbias are wanted (0, 1 or 2); want_dweight: whether dweight
// is one of them. Queries the dx kernel's occupancy (and its shared-memory limit) on the current
// device.
BwdFastConfig bwd_fast_config(DType t, DType w, int64_t rows, int64_t cols, int param_count, bool want_dweight,
                              int sm_count, BwdSums sums = BwdSums::shared);

// dx (p.dsum must be null) and, when c.params, the partials in p.partial_dw / p.partial_db
// (c.partial_rows() rows of cols floats each; either may be null) summed into dweight / dbias
// (dtype w).
// Needs 16-byte aligned x, dy, dx, weight and row strides that are multiples of the vector.
Status launch_bwd_fast(DType t, DType w, const BwdFastConfig& c, BwdParams p, void* dweight, void* dbias,
                       cudaStream_t stream);

// The cluster kernel's entry points (norm_bwd_cluster.cu): its kernel for x dtype t, parameter
// dtype w and SUMS (1: dweight, 2: dweight and dbias slots, 3: a dweight slot and dbias in
// registers, 4: dweight in registers, x and dy re-read) with the pushed (mailbox) or
// published per-row exchange, the weight read in form weight_form (1, 2: SUMS 3 and 4 with the
// mailbox), null for other types or combinations; and its launch
// with cluster dims (ctas, 1, 1), kNcThreads threads and smem_bytes of dynamic shared memory (pdl: as
// a programmatic dependent launch).
using BwdKernel = void (*)(const BwdParams);
// ctas: CTAs per cluster (2, or 4: the mailbox and each SUMS' default weight form only).
// bwd_cluster_max_active: how many clusters of `ctas` CTAs of kernel k with smem_bytes of dynamic
// shared memory the current device holds at once (0: none, or the query failed).
BwdKernel bwd_cluster_kernel(DType t, DType w, int sums, bool mailbox, int weight_form, int ctas);
int bwd_cluster_max_active(BwdKernel k, int ctas, int smem_bytes);
Status launch_bwd_cluster(BwdKernel k, int64_t grid, int smem_bytes, int ctas, const BwdParams& p,
                          cudaStream_t stream, bool pdl);

}  // namespace baracuda::norm::cuda
