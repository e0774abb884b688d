// Softmax kernels whose loaded dtype is f16: forward f16->f16, f16->f32; backward f16->f16.
#include "ops/softmax/cuda/softmax_launch_impl.cuh"

namespace baracuda::sm::cuda {

Status launch_from_f16(bool backward, DType store, const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  if (!backward && store == DType::f16) return launch_pair<__half, __half, false>(p, c, stream);
  if (!backward && store == DType::f32) return launch_pair<__half, float, false>(p, c, stream);
  if (backward && store == DType::f16) return launch_pair<__half, __half, true>(p, c, stream);
  return not_supported("[softmax] no kernel loads f16 and stores " + std::string(dtype_name(store)) +
                       (backward ? " (backward)" : " (forward)"));
}

}  // namespace baracuda::sm::cuda
