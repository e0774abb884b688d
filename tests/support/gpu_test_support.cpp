#include "gpu_test_support.hpp"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>

namespace bt {
namespace {

std::map<std::string, GpuCaseCounts>& all_counts() {
  static std::map<std::string, GpuCaseCounts> m;
  return m;
}

class SummaryEnvironment : public testing::Environment {
 public:
  explicit SummaryEnvironment(std::string family) : family_(std::move(family)) {}
  void TearDown() override {
    const GpuCaseCounts& c = all_counts()[family_];
    std::printf("GPU %s: %d passed, %d failed, %d not supported\n", family_.c_str(), c.passed, c.failed,
                c.not_supported);
    std::fflush(stdout);
  }

 private:
  std::string family_;
};

}  // namespace

bool have_gpu() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return n > 0;
}

GpuCaseCounts& gpu_case_counts(std::string_view family) {
  auto [it, inserted] = all_counts().try_emplace(std::string(family));
  if (inserted) testing::AddGlobalTestEnvironment(new SummaryEnvironment(it->first));
  return it->second;
}

}  // namespace bt
