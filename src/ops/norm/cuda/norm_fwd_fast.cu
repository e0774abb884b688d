// Host side of the norm forward rows engine: which kernel (warps per row, vectors per thread, or
// the staged kernel) serves a row width, its persistent grid (from the kernel's occupancy, at plan
// time), and the launch.
#include <algorithm>

#include "core/cluster_switch.hpp"
#include "kernels/norm_fwd_rows_fast.cuh"  // nf_staged_smem_bytes
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_fwd_fast_launch.hpp"
#include "ops/norm/cuda/norm_rows_dispatch.cuh"  // check_launch

namespace baracuda::norm::cuda {
namespace {

FwdFastKernel kernel_for(DType t, DType w, int gw, int items, bool residual, int stages, int staged_opt) {
  switch (t) {
    case DType::f32: return w == DType::f32 ? fwd_fast_kernel_f32(w, gw, items, residual, stages, staged_opt) : nullptr;
    case DType::f16:
      return w == t || w == DType::f32 ? fwd_fast_kernel_f16(w, gw, items, residual, stages, staged_opt) : nullptr;
    case DType::bf16:
      return w == t || w == DType::f32 ? fwd_fast_kernel_bf16(w, gw, items, residual, stages, staged_opt) : nullptr;
    default: return nullptr;
  }
}

int staged_smem(int stages) {
  return stages == 3 ? nf_staged_smem_bytes<3>() : nf_staged_smem_bytes<2>();
}

// Columns one CTA of the cluster kernel holds.
int64_t cluster_span(DType t) { return static_cast<int64_t>(kNcThreads) * (16 / dtype_size(t)) * kNcItems; }

// The cluster kernel's geometry: clusters of 2 CTAs, or of 4 for rows wider than 2 CTAs hold
// (group_warps 0 where it does not apply: rows one CTA holds in registers, a row that does not
// split into whole vectors, rows wider than four CTAs hold, pre-sm_90 devices, no room).
FwdFastConfig cluster_config(DType t, DType w, int64_t rows, int64_t cols, bool residual, int sm_count, int device) {
  const int vec = 16 / static_cast<int>(dtype_size(t));
  const int max_items = dtype_size(t) == 2 ? kFwdMaxItems16 : kFwdMaxItems32;
  const int64_t one_cta = static_cast<int64_t>(32) * 32 * vec * max_items, span = cluster_span(t);
  const int ctas = cols > 2 * span ? 4 : 2;
  int major = 0;
  if (cols <= one_cta || cols % (ctas * vec) != 0 || cols / ctas > span ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess || major < 9) {
    (void)cudaGetLastError();
    return FwdFastConfig{};
  }
  const bool mailbox = cluster_mailbox_from_env();
  const FwdFastKernel k = fwd_cluster_kernel(t, w, residual, mailbox, ctas);
  int per_sm = 0;
  if (k == nullptr || cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k, kNcThreads, 0) != cudaSuccess ||
      per_sm <= 0) {
    (void)cudaGetLastError();
    return FwdFastConfig{};
  }
  FwdFastConfig c;
  c.cluster = true;
  c.cluster_mailbox = mailbox;
  c.residual = residual;
  c.group_warps = kNcThreads / 32;
  c.items = kNcItems;
  c.threads = kNcThreads;
  c.blocks_per_sm = per_sm;
  c.cluster_ctas = ctas;
  // Clusters of 4 need 4 SMs of one GPC each: as many as the device holds at once.
  const int64_t fit = ctas == 2 ? static_cast<int64_t>(sm_count / 2) * per_sm : fwd_cluster_max_active(k, ctas);
  if (fit <= 0) return FwdFastConfig{};
  c.grid = ctas * std::max<int64_t>(1, std::min<int64_t>(rows, fit));
  return c;
}

}  // namespace

FwdFastConfig fwd_fast_config(DType t, DType w, int64_t rows, int64_t cols, bool residual, int sm_count, int device,
                              bool allow_staged, bool packed, bool cluster, int staged_opt) {
  FwdFastConfig c;
  if (t != DType::f32 && t != DType::f16 && t != DType::bf16) return c;
  if (w != t && w != DType::f32) return c;
  const int vec = 16 / static_cast<int>(dtype_size(t));
  if (cols <= 0 || cols % vec != 0 || rows < 0 || sm_count <= 0) return c;
  const bool wide = cols > 2 * cluster_span(t) && !env_is("BARACUDA_NORM_FWD_WIDE_CLUSTER", "0");
  if (cluster || wide) {
    const FwdFastConfig k = cluster_config(t, w, rows, cols, residual, sm_count, device);
    if (k.group_warps) return k;
  }
  packed = packed && dtype_size(t) == 2 && cols <= static_cast<int64_t>(kFwdPackedMaxWarps) * 32 * vec * kFwdPackedItems16;
  const int max_items = dtype_size(t) == 2 ? (packed ? kFwdPackedItems16 : kFwdMaxItems16) : kFwdMaxItems32;
  const int64_t per_warp = static_cast<int64_t>(32) * vec * max_items;
  int gw = 1;
  while (gw < 32 && cols > gw * per_warp) gw *= 2;
  c.residual = residual;
  if (cols <= gw * per_warp) {
    // Registers: the fewest warps (a power of two) holding the row; one warp: the fewest vectors.
    c.items = max_items;
    if (gw == 1)
      for (c.items = 1; c.items < max_items && cols > static_cast<int64_t>(32) * vec * c.items;) c.items *= 2;
    c.threads = nb_block_threads(gw);
  } else {
    // Staged: 16-bit rows up to 32 warps x 4 vectors, no residual, shared memory for >= 2 stages.
    if (!allow_staged || residual || dtype_size(t) != 2 ||
        cols > static_cast<int64_t>(kNfStagedThreads) * kNfStagedItems * vec)
      return FwdFastConfig{};
    int optin = 0;
    if (cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
      (void)cudaGetLastError();
      return FwdFastConfig{};
    }
    const int reserve = 1024;  // the kernel's static shared memory and the driver's share
    c.stages = staged_smem(3) + reserve <= optin ? 3 : (staged_smem(2) + reserve <= optin ? 2 : 0);
    if (c.stages == 0) return FwdFastConfig{};
    gw = kFwdStagedGw;
    c.items = kFwdStagedItems;
    c.threads = kNfStagedThreads;
    c.smem = staged_smem(c.stages);
  }
  c.group_warps = gw;
  if (c.stages > 0) c.staged_opt = staged_opt;
  const FwdFastKernel k = kernel_for(t, w, gw, c.items, residual, c.stages, c.staged_opt);
  int per_sm = 0;
  if (k == nullptr ||
      (c.smem > 0 && cudaFuncSetAttribute(reinterpret_cast<const void*>(k), cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          c.smem) != cudaSuccess) ||
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k, c.threads, c.smem) != cudaSuccess || per_sm <= 0) {
    (void)cudaGetLastError();
    return FwdFastConfig{};
  }
  c.blocks_per_sm = per_sm;
  const int64_t groups = c.threads / (gw * 32);
  const int64_t needed = (rows + groups - 1) / groups;
  c.grid = std::min(needed, static_cast<int64_t>(sm_count) * per_sm);
  return c;
}

Status launch_fwd_fast(DType t, DType w, const FwdFastConfig& c, const FwdParams& p, cudaStream_t stream) {
  if (c.cluster) {
    const FwdFastKernel k = fwd_cluster_kernel(t, w, c.residual, c.cluster_mailbox, c.cluster_ctas);
    if (k == nullptr || c.residual != (p.residual != nullptr))
      return internal_error("[norm] forward cluster kernel: no kernel for this configuration");
    if (p.rows == 0) return Status::ok();
    return launch_fwd_cluster(k, std::min<int64_t>(c.grid, c.cluster_ctas * p.rows), c.cluster_ctas, p, stream, c.pdl);
  }
  const FwdFastKernel k = kernel_for(t, w, c.group_warps, c.items, c.residual, c.stages, c.staged_opt);
  if (k == nullptr || c.residual != (p.residual != nullptr))
    return internal_error("[norm] forward rows engine: no kernel for this configuration");
  if (p.rows == 0) return Status::ok();
  const int64_t groups = c.threads / (c.group_warps * 32);
  const int64_t grid = std::min(c.grid, (p.rows + groups - 1) / groups);
  if (c.smem > 0) {
    // Set again per launch (host-side, not a stream operation): the plan may run on another
    // thread's context of the same device, where the attribute was never set.
    if (cudaFuncSetAttribute(reinterpret_cast<const void*>(k), cudaFuncAttributeMaxDynamicSharedMemorySize, c.smem) !=
        cudaSuccess)
      return check_launch("norm_fwd_rows_staged_kernel (shared memory attribute)");
  }
  const kernels::KernelLaunch l{dim3(static_cast<unsigned>(grid)), dim3(static_cast<unsigned>(c.threads)),
                                static_cast<size_t>(c.smem), stream, c.pdl};
  return kernels::launch_kernel(l, "norm", c.stages ? "norm_fwd_rows_staged_kernel" : "norm_fwd_rows_fast_kernel", "", k,
                                p);
}

}  // namespace baracuda::norm::cuda
