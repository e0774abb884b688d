// Softmax kernels whose loaded dtype is f64: forward and backward f64->f64.
#include "ops/softmax/cuda/softmax_launch_impl.cuh"

namespace baracuda::sm::cuda {

Status launch_from_f64(bool backward, DType store, const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  if (!backward && store == DType::f64) return launch_pair<double, double, false>(p, c, stream);
  if (backward && store == DType::f64) return launch_pair<double, double, true>(p, c, stream);
  return not_supported("[softmax] no kernel loads f64 and stores " + std::string(dtype_name(store)) +
                       (backward ? " (backward)" : " (forward)"));
}

}  // namespace baracuda::sm::cuda
