#pragma once
// Where memory lives and kernels run.
#include <cstdint>
#include <string>

namespace baracuda {

enum class DeviceKind : uint8_t { cpu, cuda };

struct Device {
  DeviceKind kind = DeviceKind::cpu;
  int ordinal = 0;  // CUDA device index; 0 for the CPU
  int sm = 0;       // compute capability * 10 + minor (90 for Hopper); 0 for the CPU

  static Device cpu() { return {}; }
  static Device cuda(int ordinal, int sm) { return {DeviceKind::cuda, ordinal, sm}; }
  bool is_cpu() const { return kind == DeviceKind::cpu; }
  bool is_cuda() const { return kind == DeviceKind::cuda; }
  // Same memory space (architecture is a property, not an identity).
  bool same_place(const Device& o) const { return kind == o.kind && ordinal == o.ordinal; }
  std::string to_string() const;  // "cpu", "cuda:0(sm_90)"
};

// Whether this build of baracuda contains CUDA kernels, and how many CUDA devices are usable now.
bool built_with_cuda();
int cuda_device_count();

}  // namespace baracuda
