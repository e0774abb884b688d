#pragma once
// Shared by the GPU test files: whether a CUDA device is usable, and each family's case counts,
// printed once after the last test as "GPU <family>: N passed, M failed, K not supported" (the
// line tools/device-check sums over its gtest shards).
#include <string_view>

namespace bt {

// True when cudaGetDeviceCount reports a device (clears the error it leaves otherwise).
bool have_gpu();

struct GpuCaseCounts {
  int passed = 0, failed = 0, not_supported = 0;
};

// The counts of `family`; the first call registers the end-of-run summary line. Call it during
// static initialization (a namespace-scope reference) so the registration precedes RUN_ALL_TESTS.
GpuCaseCounts& gpu_case_counts(std::string_view family);

}  // namespace bt
