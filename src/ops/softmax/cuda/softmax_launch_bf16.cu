// Softmax kernels whose loaded dtype is bf16: forward bf16->bf16, bf16->f32; backward bf16->bf16.
#include "ops/softmax/cuda/softmax_launch_impl.cuh"

namespace baracuda::sm::cuda {

Status launch_from_bf16(bool backward, DType store, const KernelParams& p, const LaunchConfig& c, cudaStream_t stream) {
  if (!backward && store == DType::bf16) return launch_pair<__nv_bfloat16, __nv_bfloat16, false>(p, c, stream);
  if (!backward && store == DType::f32) return launch_pair<__nv_bfloat16, float, false>(p, c, stream);
  if (backward && store == DType::bf16) return launch_pair<__nv_bfloat16, __nv_bfloat16, true>(p, c, stream);
  return not_supported("[softmax] no kernel loads bf16 and stores " + std::string(dtype_name(store)) +
                       (backward ? " (backward)" : " (forward)"));
}

}  // namespace baracuda::sm::cuda
