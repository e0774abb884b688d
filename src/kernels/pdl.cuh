#pragma once
// Internal, CUDA translation units only: programmatic dependent launch (PDL, sm_90+), the default
// launch of the memory-bound kernels (softmax, norms, reduce, loss; BARACUDA_PDL,
// core/pdl_switch.hpp). A kernel launched with programmatic stream serialization may have its CTAs
// placed while the previous kernel on the stream is still running, which hides the few
// microseconds of launch latency and CTA ramp between back-to-back short kernels.
#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include "baracuda/core/status.hpp"

namespace baracuda::kernels {

// The first statement of every kernel that may go out through launch_kernel with `pdl`, before
// any global memory read or write. The wait comes first: it returns once the previous grid on the
// stream (ours or not) has completed and its writes are visible, so neither reading its output
// (RAW) nor overwriting what it still reads (WAR) can race. Only then may the next kernel launch
// (launch_dependents), whose CTAs wait the same way at their own top. Without a programmatic
// dependency (a plain launch, or BARACUDA_PDL=0) both instructions return at once.
//
// Before the wait: the one access allowed is an L2 prefetch of an input (prefetch.global.L2).
// It returns no value, and L2 is the device's point of coherence, so a line the previous grid
// writes afterwards is updated in L2 and the loads after the wait still see its final value (no
// L1 fill is made, which is the cache that could go stale). What it buys: a CTA placed while the
// previous grid's last CTAs still run (its tail, when its rows do not divide evenly over the
// SMs) starts its first row's DRAM traffic then instead of after the wait.
__device__ __forceinline__ void pdl_enter() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// The L2 prefetches a kernel issues before the wait (above): `count` lines at base, base + step,
// ... (bytes; one 16-byte vector of this thread each, a warp's 32 coalescing into its lines). Not
// inlined, so its address arithmetic stays out of the kernel's register allocation (used by the
// staged norm forward, the version measured). Softmax's rows kernels inline their prefetches:
// through this call its one-vector backward measured 0.5% slower (H200, 79cf5f1 against 647a055,
// 32768x4096 bf16), inlined it did not.
static __device__ __noinline__ void pdl_prefetch_lines(const char* base, int step, int count) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  for (int k = 0; k < count; ++k) asm volatile("prefetch.global.L2 [%0];" ::"l"(base + static_cast<int64_t>(k) * step));
#endif
}

// One kernel launch: its geometry and stream, whether it goes out as a programmatic dependent
// launch (the kernel must begin with pdl_enter), and for the cluster kernels the cluster size
// along x (0: no cluster attribute).
struct KernelLaunch {
  dim3 grid;
  dim3 block;
  size_t smem = 0;
  cudaStream_t stream = nullptr;
  bool pdl = false;
  unsigned cluster_x = 0;
};

// Launches `kernel` through cudaLaunchKernelEx (a CUDA graph captures the PDL attribute as a
// programmatic edge); without `pdl` and a cluster it is a plain launch. A failure comes back as
// "[family] launch of <what><detail> (programmatic dependent launch) failed: <error>" (the text
// built only then), the last error cleared so that it does not stick to the next launch.
template <class... Params, class... Args>
Status launch_kernel(const KernelLaunch& l, const char* family, const char* what, const char* detail,
                     void (*kernel)(Params...), Args&&... args) {
  cudaLaunchAttribute attrs[2];
  unsigned n = 0;
  if (l.pdl) {
    attrs[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attrs[n].val.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  if (l.cluster_x > 0) {
    attrs[n].id = cudaLaunchAttributeClusterDimension;
    attrs[n].val.clusterDim.x = l.cluster_x;
    attrs[n].val.clusterDim.y = 1;
    attrs[n].val.clusterDim.z = 1;
    ++n;
  }
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = l.grid;
  cfg.blockDim = l.block;
  cfg.dynamicSmemBytes = l.smem;
  cfg.stream = l.stream;
  cfg.attrs = n > 0 ? attrs : nullptr;
  cfg.numAttrs = n;
  cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
  if (e == cudaSuccess) e = cudaGetLastError();
  else (void)cudaGetLastError();
  if (e == cudaSuccess) return Status::ok();
  return backend_error(std::string("[") + family + "] launch of " + what + detail +
                       (l.pdl ? " (programmatic dependent launch)" : "") + " failed: " + cudaGetErrorName(e) + " (" +
                       cudaGetErrorString(e) + ")");
}

}  // namespace baracuda::kernels
