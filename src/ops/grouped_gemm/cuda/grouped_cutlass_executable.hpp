#pragma once
// Internal: the part of the CUTLASS grouped-GEMM executables that does not depend on the split
// (rows: grouped_gemm_cutlass.cpp; contraction: grouped_gemm_cutlass_contraction.cpp): what they
// hold and report, the argument and workspace checks, and the launch fields both splits'
// parameter blocks share.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <utility>

#include "baracuda/core/workspace.hpp"
#include "ops/grouped_gemm/cuda/grouped_cutlass_sku.hpp"
#include "ops/grouped_gemm/grouped_gemm_args.hpp"
#include "ops/grouped_gemm/grouped_gemm_impls.hpp"

namespace baracuda::grouped_gemm {

class CutlassGroupedExecutable : public Executable<GroupedGemmFamily> {
 public:
  Status can_implement(const GroupedGemmArgs& args) const override { return check_args(d_, sig_, args, device_); }
  size_t workspace_size() const override { return workspace_; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

 protected:
  CutlassGroupedExecutable(GroupedGemmDescriptor d, GroupedGemmSignature sig, Device device, int sm_count)
      : d_(std::move(d)), sig_(sig), device_(device), sm_count_(sm_count), pg_(cutlass_grouped_precision()) {}

  // Checks the workspace pointer (TMA descriptors live there) and fills the fields of a launch's
  // parameter block (cutlass_sm90::LaunchParams or ContractionLaunchParams) that both splits have.
  template <class Params>
  Status fill_common_launch(Params& p, const Stream& stream, Workspace ws, const GroupedGemmArgs& a) const {
    if (reinterpret_cast<uintptr_t>(ws.data) % WorkspaceLayout::kAlignment != 0)
      return misaligned(kTag + "workspace pointer must be " + std::to_string(WorkspaceLayout::kAlignment) +
                        "-byte aligned (TMA descriptors live there)");
    p.a = a.a.data;
    p.b = a.b.data;
    p.d = a.d.data;
    p.offsets = a.group_offsets.data;
    p.offsets_i64 = d_.offsets_dtype == DType::i64;
    p.status = a.status.defined() ? static_cast<int32_t*>(a.status.data) : nullptr;
    p.groups = static_cast<int>(sig_.groups);
    p.n = sig_.n;
    p.alpha = static_cast<float>(d_.alpha);
    p.workspace = ws.data;
    p.device = device_.ordinal;
    p.sm_count = sm_count_;
    p.stream = stream.cuda_stream();
    return Status::ok();
  }

  GroupedGemmDescriptor d_;
  GroupedGemmSignature sig_;
  Device device_;
  int sm_count_ = 0;
  size_t workspace_ = 0;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

// The device's SM count: the kernels' persistent grid, fixed when the plan is made.
inline Result<int> cutlass_sm_count(const Device& device) {
  int sms = 0;
  if (cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device.ordinal); e != cudaSuccess)
    return backend_error(kTag + "cudaDeviceGetAttribute(MultiProcessorCount): " + cudaGetErrorString(e));
  return sms;
}

}  // namespace baracuda::grouped_gemm
