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

// Defines counts() (this test file's family counts) in the enclosing namespace and registers the
// family's summary line during static initialization, before RUN_ALL_TESTS.
#define BT_GPU_FAMILY_COUNTS(family)                                  \
  bt::GpuCaseCounts& counts() {                                       \
    static bt::GpuCaseCounts& c = bt::gpu_case_counts(family);        \
    return c;                                                         \
  }                                                                   \
  [[maybe_unused]] bt::GpuCaseCounts& kCountsRegistered = counts()
