#pragma once
// An execution queue: a CUDA stream, or the CPU executor that runs work inline on the caller's thread.
#include "baracuda/core/device.hpp"
#include "baracuda/core/status.hpp"

namespace baracuda {

class Stream {
 public:
  // The inline CPU executor: run() finishes the work before it returns.
  static Stream cpu() { return Stream(Device::cpu(), nullptr); }
  // Wraps an existing cudaStream_t (nullptr = the legacy default stream) on device `ordinal`
  // (-1 = the current device). Queries the device's architecture once, here, never in run().
  static Result<Stream> cuda(void* cuda_stream = nullptr, int ordinal = -1);

  const Device& device() const { return device_; }
  void* cuda_stream() const { return handle_; }  // a cudaStream_t
  bool is_cpu() const { return device_.is_cpu(); }

 private:
  Stream(Device d, void* h) : device_(d), handle_(h) {}
  Device device_;
  void* handle_ = nullptr;
};

}  // namespace baracuda
