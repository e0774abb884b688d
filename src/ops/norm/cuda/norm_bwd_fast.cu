// Host side of the norm backward rows engine: which (warps per row, vectors per thread) kernel
// serves a row width, its persistent grid, and the launches (dx + partials, then the fixed-order
// column sums of norm_bwd_params).
#include <algorithm>
#include <string>

#include "core/cluster_switch.hpp"
#include "kernels/norm_bwd_rows_fast.cuh"
#include "kernels/pdl.cuh"
#include "ops/norm/cuda/norm_bwd_fast_launch.hpp"
#include "ops/norm/cuda/norm_rows_dispatch.cuh"

namespace baracuda::norm::cuda {
namespace {

using FastKernel = void (*)(const BwdParams);

// Vectors per thread of x (and of dy). dx only: 2 (32 bytes of each input per thread, as the
// softmax rows backward), 4 for the widest rows (32 warps x 4 vectors: 32768 16-bit elements).
// With fused dweight/dbias each thread also holds 2 f32 sums per column it owns: 8 columns per
// thread (1 vector of 16-bit data, 2 of f32), so up to 32 warps x 8 = 8192 columns (16 columns
// per thread spilled 100-250 bytes at the 64-register cap); wider rows take the column pass.
constexpr int kDxItems = 2, kDxLongItems = 4;
template <class T>
constexpr int params_items() { return 8 / (16 / static_cast<int>(sizeof(T))); }

// The instantiated kernels (gw, items) for one type pair; null for any other geometry.
template <class T, class W, bool PARAMS>
FastKernel fast_kernel(int gw, int items) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
  constexpr int I = PARAMS ? params_items<T>() : kDxItems;
#define BARACUDA_NB_KERNEL(GW, IT) \
  if (gw == GW && items == IT) return norm_bwd_rows_fast_kernel<T, W, V, IT, GW, PARAMS>;
  if constexpr (!PARAMS) {
    BARACUDA_NB_KERNEL(1, 1)
    BARACUDA_NB_KERNEL(32, kDxLongItems)
  }
  BARACUDA_NB_KERNEL(1, I)
  BARACUDA_NB_KERNEL(2, I)
  BARACUDA_NB_KERNEL(4, I)
  BARACUDA_NB_KERNEL(8, I)
  BARACUDA_NB_KERNEL(16, I)
  BARACUDA_NB_KERNEL(32, I)
#undef BARACUDA_NB_KERNEL
  return nullptr;
}

// f32 / f16 / bf16 x with parameters of x's dtype or f32 (f64 keeps the legacy kernels).
template <class F>
FastKernel with_types(DType t, DType w, F&& f) {
  const bool w32 = w == DType::f32;
  switch (t) {
    case DType::f32: return f.template operator()<float, float>();
    case DType::f16: return w32 ? f.template operator()<__half, float>() : f.template operator()<__half, __half>();
    case DType::bf16:
      return w32 ? f.template operator()<__nv_bfloat16, float>() : f.template operator()<__nv_bfloat16, __nv_bfloat16>();
    default: return nullptr;
  }
}

// The shared-memory sums kernels: the dx kernel's geometries (every warps-per-row at 2 vectors
// per thread, one vector for rows of one warp, 4 vectors at 32 warps).
template <class T, class W, int SUMS>
FastKernel shared_sums_kernel(int gw, int items) {
  constexpr int V = 16 / static_cast<int>(sizeof(T));
#define BARACUDA_NB_SHARED(GW, IT) \
  if (gw == GW && items == IT) return norm_bwd_rows_fast_kernel<T, W, V, IT, GW, true, SUMS>;
  BARACUDA_NB_SHARED(1, 1)
  BARACUDA_NB_SHARED(1, kDxItems)
  BARACUDA_NB_SHARED(2, kDxItems)
  BARACUDA_NB_SHARED(4, kDxItems)
  BARACUDA_NB_SHARED(8, kDxItems)
  BARACUDA_NB_SHARED(16, kDxItems)
  BARACUDA_NB_SHARED(32, kDxItems)
  BARACUDA_NB_SHARED(32, kDxLongItems)
#undef BARACUDA_NB_SHARED
  return nullptr;
}

FastKernel kernel_for(DType t, DType w, const BwdFastConfig& c) {
  if (c.cluster) return bwd_cluster_kernel(t, w, c.cluster_sums(), c.cluster_mailbox, c.weight_form, c.cluster_ctas);
  return with_types(t, w, [&]<class T, class W>() -> FastKernel {
    if (c.shared_sums) {  // 1: dweight alone; 2: dweight and dbias slots (also for dbias alone)
      return c.shared_params == 1 ? shared_sums_kernel<T, W, 1>(c.group_warps, c.items)
                                  : shared_sums_kernel<T, W, 2>(c.group_warps, c.items);
    }
    return c.fused_params() ? fast_kernel<T, W, true>(c.group_warps, c.items)
                            : fast_kernel<T, W, false>(c.group_warps, c.items);
  });
}

// Lets `k` take `bytes` of dynamic shared memory when the device allows it (false otherwise).
bool allow_smem(FastKernel k, int bytes) {
  int device = 0, optin = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess ||
      bytes > optin - 1024 ||  // the block's static shared memory (the reduction slots) fits beside it
      cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return true;
}

bool device_is_sm90_or_newer() {
  int device = 0, major = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return major >= 9;
}

// The cluster kernel's geometry for rows one CTA holds only at 4 vectors per thread: clusters of 2
// CTAs, and of 4 for rows wider than 2 CTAs hold (group_warps 0 when it does not apply: narrower
// or wider rows, a row that does not split into whole vectors, pre-sm_90 devices, no room).
// BARACUDA_NORM_BWD_WIDE_CLUSTER=0: no clusters of 4 (those rows take the legacy kernels: A/B).
BwdFastConfig cluster_config(DType t, DType w, int64_t rows, int64_t cols, int param_count, bool want_dweight,
                             int sm_count) {
  const int vec = 16 / static_cast<int>(dtype_size(t));
  const int64_t one_cta = static_cast<int64_t>(32) * 32 * vec * kDxItems;
  const int64_t span = static_cast<int64_t>(kNcThreads) * vec * kNcItems;  // columns one CTA holds
  const int ctas = cols > 2 * span ? 4 : 2;
  if (param_count == 0 || cols <= one_cta || cols % (ctas * vec) != 0 || cols / ctas > span ||
      !device_is_sm90_or_newer())
    return BwdFastConfig{};
  const bool mailbox = cluster_mailbox_from_env();
  if (ctas == 4 && (!mailbox || env_is("BARACUDA_NORM_BWD_WIDE_CLUSTER", "0"))) return BwdFastConfig{};
  BwdFastConfig c;
  c.params = c.cluster = c.shared_sums = true;
  c.cluster_mailbox = mailbox;
  c.cluster_ctas = ctas;
  c.group_warps = kNcThreads / 32;
  c.items = kNcItems;
  c.threads = kNcThreads;
  c.shared_params = param_count == 1 && want_dweight ? 1 : 2;
  // dbias in registers (H200, 150a92a, layer_norm dweight/dbias 4096x32768 bf16, 5 interleaved
  // rounds: 0.2600 -> 0.2431 ms); BARACUDA_NORM_BWD_DB=shared keeps both sums in shared memory.
  c.db_in_registers = c.shared_params == 2 && !env_is("BARACUDA_NORM_BWD_DB", "shared");
  // dweight alone: summed in registers, x and dy re-read from L1 (H200, a4c08e1, rms_norm dw
  // 4096x32768 bf16, 4 interleaved rounds: 0.2191 -> 0.2162 ms), where that does not spill (ptxas:
  // 16-bit x with f32 weights spills 24-68 bytes); BARACUDA_NORM_BWD_REREAD=0 / =1 off / forced.
  const bool reread_fits = w == t;
  c.reread = c.cluster_mailbox && c.shared_params == 1 && !env_is("BARACUDA_NORM_BWD_REREAD", "0") &&
             (reread_fits || env_is("BARACUDA_NORM_BWD_REREAD", "1"));
  // Shared-memory slots: none (the re-read), dweight's (beside register dbias), or both.
  const int slot_params = c.reread ? 0 : c.db_in_registers ? 1 : c.shared_params;
  c.smem_bytes = nb_smem_sums_bytes(c.group_warps, c.items, vec, slot_params);
  // Where the weight is read (the mailbox kernels 3 and 4; a copy in shared memory sits after the
  // slots). The default: SUMS 3 (layer_norm dweight + dbias) through the base pointer (H200, c85b1a8,
  // layer_norm dw+db 4096x32768 bf16, 4 interleaved rounds: 0.2394 -> 0.2376 ms; the shared-memory
  // copy 0.2373), SUMS 4 from global as before (rms_norm dw: 0.2153, base 0.2168, copy 0.2273).
  // BARACUDA_NORM_BWD_WEIGHT=global / smem / base picks one for both (clusters of 2: those of 4 have
  // the defaults only).
  if (c.cluster_mailbox && c.cluster_sums() >= 3) {
    c.weight_form = c.cluster_sums() == 3 ? 2 : 0;
    if (ctas == 2) {
      if (env_is("BARACUDA_NORM_BWD_WEIGHT", "global")) c.weight_form = 0;
      if (env_is("BARACUDA_NORM_BWD_WEIGHT", "smem")) c.weight_form = 1;
      if (env_is("BARACUDA_NORM_BWD_WEIGHT", "base")) c.weight_form = 2;
    }
  }
  if (c.weight_form == 1) c.smem_bytes += static_cast<int>(cols / 2 * dtype_size(w));
  const FastKernel k = bwd_cluster_kernel(t, w, c.cluster_sums(), c.cluster_mailbox, c.weight_form, ctas);
  // The re-read form wants L1 for the rows it reads twice (64 KB of x and dy a CTA, plus the
  // weight): the smallest shared-memory carve-out that holds its slots (a hint).
  if (c.reread && k != nullptr &&
      cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxL1) != cudaSuccess)
    (void)cudaGetLastError();
  int per_sm = 0;
  if (k == nullptr || !allow_smem(k, c.smem_bytes) ||
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k, c.threads, c.smem_bytes) != cudaSuccess || per_sm <= 0) {
    (void)cudaGetLastError();
    return BwdFastConfig{};
  }
  c.blocks_per_sm = per_sm;
  // One cluster per row at most; at least one, which writes the zero partials of an empty batch.
  // (64 clusters, so that 4096 rows come 64 to each instead of 4 of 66 clusters taking a 63rd,
  // ran slower on the H200 at 667ba05: layer_norm dw+db 4096x32768 bf16 0.2457 against 0.2407 ms.)
  // Clusters of 4 need 4 SMs of one GPC each: as many as the device holds at once.
  const int64_t fit = ctas == 2 ? static_cast<int64_t>(sm_count / 2) * per_sm : bwd_cluster_max_active(k, ctas, c.smem_bytes);
  if (fit <= 0) return BwdFastConfig{};
  const int64_t clusters = std::max<int64_t>(1, std::min<int64_t>(rows, fit));
  c.grid = ctas * clusters;
  return c;
}

}  // namespace

BwdFastConfig bwd_fast_config(DType t, DType w, int64_t rows, int64_t cols, int param_count, bool want_dweight,
                              int sm_count, BwdSums sums) {
  BwdFastConfig c;
  if (t != DType::f32 && t != DType::f16 && t != DType::bf16) return c;
  if (w != t && w != DType::f32) return c;
  const int vec = 16 / static_cast<int>(dtype_size(t));
  if (cols <= 0 || cols % vec != 0 || rows < 0 || sm_count <= 0 || param_count < 0 || param_count > 2) return c;
  // The fewest warps per row (a power of two) whose threads hold the row at `items` vectors.
  auto warps_for = [&](int items) {
    int gw = 1;
    while (gw < 32 && cols > static_cast<int64_t>(gw) * 32 * vec * items) gw *= 2;
    return cols > static_cast<int64_t>(gw) * 32 * vec * items ? 0 : gw;
  };
  if (sums == BwdSums::cluster) {
    const BwdFastConfig k = cluster_config(t, w, rows, cols, param_count, want_dweight, sm_count);
    if (k.group_warps) return k;
    sums = BwdSums::shared;  // elsewhere the cluster option is the shared-memory sums
  }
  c.params = param_count > 0;
  const int register_gw = c.params && sums != BwdSums::column_pass ? warps_for(8 / vec) : 0;
  const bool try_shared = c.params && (sums == BwdSums::shared || (sums == BwdSums::wide_shared && register_gw == 0));
  int gw = 0;
  if (register_gw > 0 && !try_shared) {
    gw = register_gw;
    c.items = 8 / vec;  // fused partials in registers
  } else {
    // The dx kernel's geometry (with or without shared-memory sums).
    gw = warps_for(kDxItems);
    c.items = kDxItems;
    if (gw == 0) {
      if (cols > static_cast<int64_t>(32) * 32 * vec * kDxLongItems) return BwdFastConfig{};
      gw = 32;
      c.items = kDxLongItems;
    }
    if (gw == 1 && cols <= 32 * vec) c.items = 1;  // rows of one vector per lane
    c.shared_sums = try_shared;
    // dbias alone takes the two-parameter kernel (its dweight slots summed and dropped).
    c.shared_params = !try_shared ? 0 : (param_count == 1 && want_dweight ? 1 : 2);
    if (c.shared_sums) c.smem_bytes = nb_smem_sums_bytes(gw, c.items, vec, c.shared_params);
    if (c.params && !c.shared_sums) {  // the column pass: about 8 blocks of kColWarps warps per SM
      const int64_t col_blocks = (cols + 32 * vec - 1) / (32 * vec);
      const int64_t want = (static_cast<int64_t>(sm_count) * 8 + col_blocks - 1) / col_blocks;
      const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>({want, (rows + 63) / 64, 65535}));
      c.rows_per_chunk = std::max<int64_t>(1, (rows + chunks - 1) / chunks);
      c.col_chunks = std::max<int64_t>(1, (rows + c.rows_per_chunk - 1) / c.rows_per_chunk);
    }
  }
  c.group_warps = gw;
  c.threads = nb_block_threads(gw);
  const FastKernel k = kernel_for(t, w, c);
  if (c.shared_sums && (k == nullptr || !allow_smem(k, c.smem_bytes)))  // no room: registers or the column pass
    return bwd_fast_config(t, w, rows, cols, param_count, want_dweight, sm_count, BwdSums::registers);
  int per_sm = 0;
  if (k == nullptr || cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k, c.threads, c.smem_bytes) != cudaSuccess ||
      per_sm <= 0) {
    (void)cudaGetLastError();
    return BwdFastConfig{};
  }
  c.blocks_per_sm = per_sm;
  const int64_t groups = c.threads / (gw * 32);
  const int64_t needed = (rows + groups - 1) / groups;
  // At least one block: with fused partials it writes the zero partials of an empty batch.
  c.grid = std::max<int64_t>(1, std::min<int64_t>(needed, static_cast<int64_t>(sm_count) * per_sm));
  return c;
}

Status launch_bwd_fast(DType t, DType w, const BwdFastConfig& c, BwdParams p, void* dweight, void* dbias,
                       cudaStream_t stream) {
  const FastKernel k = kernel_for(t, w, c);
  if (k == nullptr || p.dsum != nullptr || c.params != (dweight || dbias))
    return internal_error("[norm] backward rows engine: no kernel for this configuration");
  if (c.shared_sums && (c.shared_params == 1 ? (p.partial_dw == nullptr || p.partial_db != nullptr)
                                              : (p.partial_dw == nullptr && p.partial_db == nullptr)))
    return internal_error("[norm] backward rows engine: the shared-memory sums were made for other parameters");
  if (c.shared_sums && !allow_smem(k, c.smem_bytes))  // per device: the plan's call set it on the plan's
    return internal_error("[norm] backward rows engine: the device refused the sums' shared memory");
  if (p.rows > 0 || c.fused_params()) {  // fused: even an empty batch writes its zero partials
    if (c.cluster) {
      BARACUDA_TRY(launch_bwd_cluster(k, c.grid, c.smem_bytes, c.cluster_ctas, p, stream, c.pdl));
    } else {
      const kernels::KernelLaunch l{dim3(static_cast<unsigned>(c.grid)), dim3(static_cast<unsigned>(c.threads)),
                                    static_cast<size_t>(c.smem_bytes), stream, c.pdl};
      BARACUDA_TRY(kernels::launch_kernel(l, "norm", "norm_bwd_rows_fast_kernel", "", k, p));
    }
  }
  if (!c.params) return Status::ok();
  return dispatch_types(t, w, [&]<class T, class W>() -> Status {
    if constexpr (sizeof(T) > 4) {
      return internal_error("[norm] backward rows engine: no f64 kernels");
    } else {
      if (!c.fused_params()) {
        constexpr int V = 16 / static_cast<int>(sizeof(T));
        const dim3 grid(static_cast<unsigned>((p.cols + 32 * V - 1) / (32 * V)), static_cast<unsigned>(c.col_chunks));
        const kernels::KernelLaunch cols{grid, dim3(kColWarps * 32), 0, stream, c.pdl};
        BARACUDA_TRY(kernels::launch_kernel(cols, "norm", "norm_bwd_cols_kernel", "", norm_bwd_cols_kernel<T, V>, p,
                                            c.rows_per_chunk));
      }
      const int64_t blocks = (p.cols + 31) / 32;  // 32 columns per block
      const kernels::KernelLaunch l{dim3(static_cast<unsigned>(std::min<int64_t>(blocks, 65535))),
                                    dim3(kParamWarps * 32), 0, stream, c.pdl};
      return kernels::launch_kernel(l, "norm", "norm_bwd_params", "", norm_bwd_params<W, float>,
                                    static_cast<const float*>(p.partial_dw), static_cast<const float*>(p.partial_db),
                                    static_cast<W*>(dweight), static_cast<W*>(dbias), c.partial_rows(), p.cols);
    }
  });
}

}  // namespace baracuda::norm::cuda
