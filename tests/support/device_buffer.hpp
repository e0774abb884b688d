#pragma once
// RAII device memory for the GPU tests (CUDA runtime API). Header-only: only the GPU test binary,
// which links the CUDA runtime, includes it.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace bt {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // Allocates `bytes` (at least 1 so the pointer is never null); `error()` says whether it failed.
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    err_ = cudaMalloc(&p_, bytes > 0 ? bytes : 1);
    if (err_ != cudaSuccess) {
      p_ = nullptr;
      (void)cudaGetLastError();
    }
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept { swap(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    DeviceBuffer tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  ~DeviceBuffer() {
    if (p_) (void)cudaFree(p_);
  }

  void* get() const { return p_; }
  size_t bytes() const { return bytes_; }
  cudaError_t error() const { return err_; }
  explicit operator bool() const { return p_ != nullptr; }

  // Each transfer waits for the whole device before returning. The tests run their plans on
  // non-blocking streams, which do not order against the legacy default stream that cudaMemset and
  // cudaMemcpy use: a poison fill could land after the kernel it is meant to precede (seen on the
  // H200 as outputs "not written" and nondeterministic results once 8 test processes shared the GPU),
  // and a pageable upload may return before its DMA completes.
  cudaError_t upload(const void* src, size_t n) { return settled(cudaMemcpy(p_, src, n, cudaMemcpyHostToDevice)); }
  cudaError_t download(void* dst, size_t n) const { return settled(cudaMemcpy(dst, p_, n, cudaMemcpyDeviceToHost)); }
  cudaError_t fill(uint8_t byte) { return settled(cudaMemset(p_, byte, bytes_ > 0 ? bytes_ : 1)); }

 private:
  static cudaError_t settled(cudaError_t e) { return e != cudaSuccess ? e : cudaDeviceSynchronize(); }
  void swap(DeviceBuffer& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(bytes_, o.bytes_);
    std::swap(err_, o.err_);
  }
  void* p_ = nullptr;
  size_t bytes_ = 0;
  cudaError_t err_ = cudaSuccess;
};

}  // namespace bt
