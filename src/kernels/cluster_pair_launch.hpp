#pragma once
// Internal, host side: launching a kernel whose CTAs pair up in clusters of two (cluster dims
// (2, 1, 1), sm_90) through cudaLaunchKernelEx, which a CUDA graph captures like any launch. The
// norm engines' two-CTA row kernels (kernels/norm_{fwd,bwd}_rows_cluster.cuh) go through it and
// turn its error into their Status.
#include <cuda_runtime.h>

#include <cstdint>

namespace baracuda::kernels {

// The launch configuration of grid CTAs of `threads` threads with `smem_bytes` of dynamic shared
// memory in clusters of `cluster` CTAs (cluster dims (cluster, 1, 1)); `attr` holds its one
// attribute and must outlive it. Also what cudaOccupancyMaxActiveClusters takes.
inline cudaLaunchConfig_t cluster_launch_config(int64_t grid, int threads, int smem_bytes, cudaStream_t stream,
                                                int cluster, cudaLaunchAttribute (&attr)[1]) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(static_cast<unsigned>(grid));
  cfg.blockDim = dim3(static_cast<unsigned>(threads));
  cfg.dynamicSmemBytes = static_cast<size_t>(smem_bytes);
  cfg.stream = stream;
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = static_cast<unsigned>(cluster);
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return cfg;
}

// grid CTAs (a multiple of `cluster`) of `threads` threads with `smem_bytes` of dynamic shared
// memory, in clusters of `cluster` CTAs (2 unless said). Returns the launch's error (cudaSuccess
// when queued); the sticky last error is cleared on failure.
template <class Params>
cudaError_t launch_cluster_pair(void (*kernel)(Params), int64_t grid, int threads, int smem_bytes, const Params& p,
                                cudaStream_t stream, int cluster = 2) {
  cudaLaunchAttribute attr[1];
  const cudaLaunchConfig_t cfg = cluster_launch_config(grid, threads, smem_bytes, stream, cluster, attr);
  cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, p);
  if (e == cudaSuccess) return cudaGetLastError();
  (void)cudaGetLastError();
  return e;
}

}  // namespace baracuda::kernels
