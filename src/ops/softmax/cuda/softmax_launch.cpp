// Routing a softmax launch to the file that holds its loaded dtype's kernels, and the launch check.
#include "ops/softmax/cuda/softmax_launch.hpp"

#include <string>

namespace baracuda::sm::cuda {

Status launch_from_f32(bool backward, DType store, const KernelParams& p, const LaunchConfig& c, cudaStream_t stream);
Status launch_from_f16(bool backward, DType store, const KernelParams& p, const LaunchConfig& c, cudaStream_t stream);
Status launch_from_bf16(bool backward, DType store, const KernelParams& p, const LaunchConfig& c, cudaStream_t stream);
Status launch_from_f64(bool backward, DType store, const KernelParams& p, const LaunchConfig& c, cudaStream_t stream);

bool has_kernels(bool backward, DType load, DType store) {
  if (load == store) return load == DType::f32 || load == DType::f16 || load == DType::bf16 || load == DType::f64;
  if (!backward) return (load == DType::f16 || load == DType::bf16) && store == DType::f32;
  return load == DType::f32 && (store == DType::f16 || store == DType::bf16);
}

Status launch_softmax(bool backward, DType load, DType store, const KernelParams& p, const LaunchConfig& c,
                      cudaStream_t stream) {
  switch (load) {
    case DType::f32: return launch_from_f32(backward, store, p, c, stream);
    case DType::f16: return launch_from_f16(backward, store, p, c, stream);
    case DType::bf16: return launch_from_bf16(backward, store, p, c, stream);
    case DType::f64: return launch_from_f64(backward, store, p, c, stream);
    default: return not_supported("[softmax] no kernels load " + std::string(dtype_name(load)));
  }
}

Status check_softmax_launch(const char* engine, bool backward) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return Status::ok();
  return backend_error(std::string("[softmax] launch of the ") + engine + (backward ? " backward" : " forward") +
                       " kernel failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

}  // namespace baracuda::sm::cuda
