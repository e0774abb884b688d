#pragma once
// Internal: the launch of the norm rows engines' two-CTA cluster kernels (a cluster of 2 CTAs per
// row, kernels/norm_{fwd,bwd}_rows_cluster.cuh): cudaLaunchKernelEx with cluster dims (2, 1, 1),
// which a CUDA graph captures like any launch.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "baracuda/core/status.hpp"
#include "kernels/norm_rows_params.hpp"  // kNcThreads

namespace baracuda::norm::cuda {

template <class Params>
Status launch_cluster_pair(void (*kernel)(Params), int64_t grid, int smem_bytes, const Params& p, cudaStream_t stream,
                           const char* what) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(static_cast<unsigned>(grid));
  cfg.blockDim = dim3(kNcThreads);
  cfg.dynamicSmemBytes = static_cast<size_t>(smem_bytes);
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = 2;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, p);
  if (e == cudaSuccess) e = cudaGetLastError();
  else (void)cudaGetLastError();
  if (e == cudaSuccess) return Status::ok();
  return backend_error(std::string("[norm] cluster launch of ") + what + " failed: " + cudaGetErrorName(e) + " (" +
                       cudaGetErrorString(e) + ")");
}

}  // namespace baracuda::norm::cuda
