#pragma once
// Internal: the launch of the norm rows engines' two-CTA cluster kernels (a cluster of 2 CTAs per
// row, kernels/norm_{fwd,bwd}_rows_cluster.cuh), with the error as the norm family's Status.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "baracuda/core/status.hpp"
#include "kernels/cluster_pair_launch.hpp"
#include "kernels/norm_rows_params.hpp"  // kNcThreads

namespace baracuda::norm::cuda {

template <class Params>
Status launch_cluster_pair(void (*kernel)(Params), int64_t grid, int smem_bytes, const Params& p, cudaStream_t stream,
                           const char* what) {
  const cudaError_t e = kernels::launch_cluster_pair(kernel, grid, kNcThreads, smem_bytes, p, stream);
  if (e == cudaSuccess) return Status::ok();
  return backend_error(std::string("[norm] cluster launch of ") + what + " failed: " + cudaGetErrorName(e) + " (" +
                       cudaGetErrorString(e) + ")");
}

}  // namespace baracuda::norm::cuda
