// Device and stream queries. The CUDA runtime is only touched in builds with CUDA, and only at
// stream creation (never inside run()).
#include <string>

#include "baracuda/core/device.hpp"
#include "baracuda/core/stream.hpp"

#if BARACUDA_HAS_CUDA
#include <cuda_runtime_api.h>
#endif

namespace baracuda {

std::string Device::to_string() const {
  if (is_cpu()) return "cpu";
  return "cuda:" + std::to_string(ordinal) + "(sm_" + std::to_string(sm) + ")";
}

bool built_with_cuda() { return BARACUDA_HAS_CUDA != 0; }

int cuda_device_count() {
#if BARACUDA_HAS_CUDA
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no device / no driver" error
    return 0;
  }
  return n;
#else
  return 0;
#endif
}

Result<Stream> Stream::cuda(void* cuda_stream, int ordinal) {
#if BARACUDA_HAS_CUDA
  int count = cuda_device_count();
  if (count == 0) return not_supported("[stream] no CUDA device is available");
  if (ordinal < 0) {
    if (cudaError_t e = cudaGetDevice(&ordinal); e != cudaSuccess)
      return backend_error(std::string("[stream] cudaGetDevice failed: ") + cudaGetErrorString(e));
  }
  if (ordinal >= count)
    return invalid_argument("[stream] CUDA device " + std::to_string(ordinal) + " does not exist (" +
                            std::to_string(count) + " devices)");
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, ordinal) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, ordinal) != cudaSuccess)
    return backend_error("[stream] cudaDeviceGetAttribute(compute capability) failed for device " +
                         std::to_string(ordinal));
  return Stream(Device::cuda(ordinal, major * 10 + minor), cuda_stream);
#else
  (void)cuda_stream;
  (void)ordinal;
  return not_supported("[stream] this build of baracuda has no CUDA support (BARACUDA_CUDA=OFF)");
#endif
}

}  // namespace baracuda
