#pragma once
// Shared by the grouped GEMM GPU tests (the rows and the contraction split): a problem's host
// tensors and descriptor, one run of the CUDA plan with its outputs poisoned, and the CPU
// reference's result for the same problem.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "baracuda/baracuda.hpp"
#include "device_buffer.hpp"
#include "gpu_test_support.hpp"
#include "gtest_helpers.hpp"
#include "test_support.hpp"

namespace bt {

struct GroupedProblem {
  HostTensor a, b, offsets, d;
  baracuda::GroupedGemmDescriptor desc;
};

struct GroupedGpuRun {
  HostTensor d;
  int32_t status = -1;  // the plan's status output
  baracuda::KernelSku sku;  // of the plan that ran
};

// Empty when this machine has a CUDA grouped GEMM plan for `probe`; otherwise why not (no GPU, not
// Hopper, no CUTLASS in this build).
inline std::string grouped_gpu_skip_reason(const baracuda::GroupedGemmDescriptor& probe) {
  using namespace baracuda;
  if (!have_gpu()) return "no CUDA device";
  auto stream = Stream::cuda();
  if (!stream) return stream.status().to_string();
  auto plan = GroupedGemmPlan::select(*stream, probe);
  if (!plan) return "no CUDA grouped GEMM here: " + plan.status().to_string();
  return "";
}

// The group offsets of `sizes` (0, s0, s0 + s1, ...) written into an offsets tensor of G + 1
// entries; returns the total.
inline int64_t set_group_offsets(HostTensor& offsets, const std::vector<int64_t>& sizes) {
  int64_t total = 0;
  offsets.set_int(0, 0);
  for (size_t g = 0; g < sizes.size(); ++g) offsets.set_int(static_cast<int64_t>(g) + 1, total += sizes[g]);
  return total;
}

// Runs the CUDA plan with D poisoned by 0xFF (NaN in bf16 and f16) and the status by 0x7F.
// offsets_override: other offset values on the device (the plan cannot see them: the descriptor
// is unchanged). backend: receives the chosen plan's SKU backend.
inline baracuda::Status run_grouped_gpu(const GroupedProblem& p, GroupedGpuRun& out,
                                        const std::vector<int64_t>* offsets_override = nullptr,
                                        std::string* backend = nullptr) {
  using namespace baracuda;
  BARACUDA_ASSIGN_OR_RETURN(Stream stream, Stream::cuda());
  BARACUDA_ASSIGN_OR_RETURN(auto plan, GroupedGemmPlan::select(stream, p.desc));
  if (backend) *backend = plan.sku().backend;
  out.sku = plan.sku();
  const Device dev = stream.device();
  HostTensor offsets = p.offsets;
  if (offsets_override)
    for (size_t i = 0; i < offsets_override->size(); ++i) offsets.set_int(static_cast<int64_t>(i), (*offsets_override)[i]);
  DeviceBuffer a(p.a.storage().size()), b(p.b.storage().size()), o(offsets.storage().size()),
      d(p.d.storage().size()), st(sizeof(int32_t)), ws(plan.workspace_size());
  EXPECT_EQ(a.upload(p.a.storage().data(), p.a.storage().size()), cudaSuccess);
  EXPECT_EQ(b.upload(p.b.storage().data(), p.b.storage().size()), cudaSuccess);
  EXPECT_EQ(o.upload(offsets.storage().data(), offsets.storage().size()), cudaSuccess);
  EXPECT_EQ(d.fill(0xFF), cudaSuccess);
  EXPECT_EQ(st.fill(0x7F), cudaSuccess);
  HostTensor status_t(DType::i32, {1});
  GroupedGemmArgs args{.a = p.a.ref_at(a.get(), dev), .b = p.b.ref_at(b.get(), dev),
                       .group_offsets = offsets.ref_at(o.get(), dev), .d = p.d.mut_at(d.get(), dev),
                       .status = status_t.mut_at(st.get(), dev)};
  BARACUDA_TRY(plan.run(stream, Workspace{ws.get(), plan.workspace_size()}, args));
  if (cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess)
    return backend_error(std::string("cudaDeviceSynchronize: ") + cudaGetErrorString(e));
  out.d = p.d;
  EXPECT_EQ(d.download(out.d.storage().data(), out.d.storage().size()), cudaSuccess);
  EXPECT_EQ(st.download(&out.status, sizeof(int32_t)), cudaSuccess);
  return Status::ok();
}

// D from the CPU reference plan.
inline HostTensor run_grouped_reference(const GroupedProblem& p) {
  using namespace baracuda;
  HostTensor d = p.d;
  auto plan = GroupedGemmPlan::select(Stream::cpu(), p.desc);
  EXPECT_TRUE(plan.has_value()) << plan.status().to_string();
  if (!plan) return d;
  HostTensor st(DType::i32, {1});
  GroupedGemmArgs args{.a = p.a.ref(), .b = p.b.ref(), .group_offsets = p.offsets.ref(), .d = d.mut(), .status = st.mut()};
  EXPECT_OK(plan->run(Stream::cpu(), {}, args));
  return d;
}

// Each set of invalid offsets (device values only) must set the status output to 1 and leave
// every byte of D as poisoned.
inline void expect_bad_offsets_rejected(const GroupedProblem& p, const std::vector<std::vector<int64_t>>& bad) {
  for (const auto& off : bad) {
    GroupedGpuRun got;
    ASSERT_OK(run_grouped_gpu(p, got, &off));  // run() cannot see device values: it succeeds
    std::string shown;
    for (int64_t v : off) shown += std::to_string(v) + " ";
    EXPECT_EQ(got.status, 1) << "offsets " << shown;
    const auto* bytes = reinterpret_cast<const uint8_t*>(got.d.storage().data());
    for (size_t i = 0; i < got.d.storage().size(); ++i)
      if (bytes[i] != 0xFF) {
        ADD_FAILURE() << "D byte " << i << " was written despite invalid offsets " << shown;
        break;
      }
  }
}

// Two runs of the CUDA plan give bitwise identical D.
inline void expect_deterministic(const GroupedProblem& p) {
  GroupedGpuRun x, y;
  ASSERT_OK(run_grouped_gpu(p, x));
  ASSERT_OK(run_grouped_gpu(p, y));
  EXPECT_EQ(std::memcmp(x.d.storage().data(), y.d.storage().data(), x.d.storage().size()), 0);
}

}  // namespace bt
