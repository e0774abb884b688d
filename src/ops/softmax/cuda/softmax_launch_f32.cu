// Softmax kernels whose loaded dtype is f32: forward f32->f32; backward f32->f32, f32->f16, f32->bf16.
#include "ops/softmax/cuda/softmax_launch_impl.cuh"

namespace baracuda::sm::cuda {

Status launch_from_f32(bool backward, DType store, const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  if (!backward && store == DType::f32) return launch_pair<float, float, false>(p, c, stream);
  if (backward && store == DType::f32) return launch_pair<float, float, true>(p, c, stream);
  if (backward && store == DType::f16) return launch_pair<float, __half, true>(p, c, stream);
  if (backward && store == DType::bf16) return launch_pair<float, __nv_bfloat16, true>(p, c, stream);
  return not_supported("[softmax] no kernel loads f32 and stores " + std::string(dtype_name(store)) +
                       (backward ? " (backward)" : " (forward)"));
}

}  // namespace baracuda::sm::cuda
