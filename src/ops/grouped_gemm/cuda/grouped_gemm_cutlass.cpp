// The grouped GEMM on CUTLASS's sm_90a ptr-array kernel: the rows split's executable (checks,
// workspace booking, SKU); the contraction split is routed to grouped_gemm_cutlass_contraction.cpp.
// The kernels themselves are in grouped_cutlass_{bf16,f16}*.cu.
//
// Requirements beyond the descriptor's validity (supports() says which failed): an sm_90 device;
// A and D rows with unit column stride; each B matrix with a unit stride along K ([G, N, K]
// storage, the MoE forward's W) or along N ([G, K, N]); every non-unit stride (and B's group
// stride) a multiple of 8 elements (16 bytes, TMA's rule); N and K >= 1 and < 2^31.
#include <cuda_runtime.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "core/env_switch.hpp"
#include "ops/grouped_gemm/cuda/grouped_cutlass_executable.hpp"
#include "ops/grouped_gemm/cuda/grouped_cutlass_launch.hpp"

namespace baracuda::grouped_gemm {
namespace {

namespace cs = cutlass_sm90;

struct Strides {
  int64_t lda = 0, ldd = 0, ldb = 0, b_group = 0;
  bool b_k_contiguous = true;
};

std::vector<int64_t> strides_of(const Operand& o) {
  return o.strides.empty() ? contiguous_strides(o.shape) : o.strides;
}

// The kernel's stride requirements; the Strides it will use.
Result<Strides> kernel_strides(const GroupedGemmDescriptor& d, const GroupedGemmSignature& sig) {
  const auto sa = strides_of(d.a), sb = strides_of(d.b), sd = strides_of(d.d);
  Strides s;
  // A size-1 dim's stride is free (the argument check ignores it): use the packed value.
  if (sig.k > 1 && sa[1] != 1)
    return not_supported(kTag + "A's K stride is " + std::to_string(sa[1]) + "; the CUTLASS kernel needs rows with unit stride");
  if (sig.n > 1 && sd[1] != 1)
    return not_supported(kTag + "D's N stride is " + std::to_string(sd[1]) + "; the CUTLASS kernel needs rows with unit stride");
  s.lda = sig.m_total > 1 ? sa[0] : sig.k;
  s.ldd = sig.m_total > 1 ? sd[0] : sig.n;
  if (sig.k == 1 || sb[1] == 1) {
    s.b_k_contiguous = true;  // (n, k) with k contiguous
    s.ldb = sig.n > 1 ? sb[2] : sig.k;
  } else if (sig.n == 1 || sb[2] == 1) {
    s.b_k_contiguous = false;
    s.ldb = sig.k > 1 ? sb[1] : sig.n;
  } else {
    return not_supported(kTag + "B's strides " + shape_to_string(sb) +
                         " have no unit stride along K or N; the CUTLASS kernel reads each B matrix with TMA");
  }
  s.b_group = sig.groups > 1 ? sb[0] : sig.k * sig.n;
  const int64_t minor = s.b_k_contiguous ? sig.k : sig.n;
  if (s.lda < sig.k || s.ldd < sig.n || s.ldb < minor)
    return not_supported(kTag + "overlapping rows (lda " + std::to_string(s.lda) + ", ldb " + std::to_string(s.ldb) +
                         ", ldd " + std::to_string(s.ldd) + ")");
  for (int64_t v : {s.lda, s.ldb, s.ldd, s.b_group})
    if (v % 8 != 0)
      return not_supported(kTag + "strides lda " + std::to_string(s.lda) + ", ldb " + std::to_string(s.ldb) + ", ldd " +
                           std::to_string(s.ldd) + ", B group stride " + std::to_string(s.b_group) +
                           " must be multiples of 8 elements (16 bytes) for TMA");
  return s;
}

// The CTA tile and cluster shapes (grouped_cutlass_tiling.hpp says why there is a choice and what
// the H200 measured): kPreferredTiling (128x256, cluster 1x2) where it is built for this kernel
// key, else kDefaultTiling (128x128, cluster 2x1). BARACUDA_GROUPED_TILING=128x128_2x1,
// 128x128_1x2 or 128x256_1x2, read when the plan is made, asks for one (A/B); an unknown value
// gives kDefaultTiling, and a tiling not built for this key (the 1x2 ones need B [G, N, K]) too.
cs::Tiling tiling_from_env(cs::KernelKey key) {
  const std::optional<std::string_view> v = env_value("BARACUDA_GROUPED_TILING");
  key.tiling = !v ? cs::kPreferredTiling : cs::tiling_from_name(*v).value_or(cs::kDefaultTiling);
  return cs::kernel_is_built(key) ? key.tiling : cs::kDefaultTiling;
}

class CutlassGroupedGemm final : public CutlassGroupedExecutable {
 public:
  CutlassGroupedGemm(GroupedGemmDescriptor d, GroupedGemmSignature sig, Device device, Strides s, int sm_count)
      : CutlassGroupedExecutable(std::move(d), sig, device, sm_count), s_(s) {
    key_.element = d_.a.dtype == DType::bf16 ? cs::Element::bf16 : cs::Element::f16;
    key_.b_k_contiguous = s_.b_k_contiguous;
    key_.tiling = tiling_from_env(key_);
    // The CUTLASS part of the workspace (TMA descriptors, scheduler) is the chosen kernel's.
    workspace_ = cs::workspace_bytes(key_, static_cast<int>(sig_.groups), sm_count_);
    sku_ = cutlass_grouped_sku(d_, std::string("A row-major, B ") +
                                       (s_.b_k_contiguous ? "[G,N,K] (k-major)" : "[G,K,N] (n-major)"),
                               key_.tiling, sm_count_);
  }

  Status run(const Stream& stream, Workspace ws, const GroupedGemmArgs& a) const override {
    cs::LaunchParams p;
    BARACUDA_TRY(fill_common_launch(p, stream, ws, a));
    p.m_total = sig_.m_total;
    p.k = sig_.k;
    p.lda = s_.lda;
    p.ldb = s_.ldb;
    p.b_group_stride = s_.b_group;
    p.ldd = s_.ldd;
    return cs::launch(key_, p);
  }

 private:
  Strides s_;
  cs::KernelKey key_;
};

}  // namespace

Status cutlass_supports(const GroupedGemmDescriptor& desc, const Device& device) {
  if (!device.is_cuda() || device.sm != 90)
    return not_supported(kTag + "the CUTLASS grouped kernel is built for sm_90a (Hopper) only; device is " +
                         device.to_string());
  if (desc.split == GroupedGemmSplit::contraction) return cutlass_contraction_supports(desc, device);
  BARACUDA_ASSIGN_OR_RETURN(GroupedGemmSignature sig, infer_signature(desc));
  if (sig.n < 1 || sig.k < 1 || sig.n > INT32_MAX || sig.k > INT32_MAX)
    return not_supported(kTag + "N=" + std::to_string(sig.n) + ", K=" + std::to_string(sig.k) +
                         ": the CUTLASS kernel needs 1 <= N, K < 2^31");
  if (desc.alignment < 16)
    return not_supported(kTag + "alignment " + std::to_string(desc.alignment) + " bytes; TMA needs 16");
  return kernel_strides(desc, sig).status();
}

Result<GroupedGemmExecPtr> cutlass_make(const GroupedGemmDescriptor& desc, const Device& device) {
  BARACUDA_TRY(cutlass_supports(desc, device));
  if (desc.split == GroupedGemmSplit::contraction) return cutlass_contraction_make(desc, device);
  BARACUDA_ASSIGN_OR_RETURN(GroupedGemmSignature sig, infer_signature(desc));
  BARACUDA_ASSIGN_OR_RETURN(Strides s, kernel_strides(desc, sig));
  BARACUDA_ASSIGN_OR_RETURN(int sms, cutlass_sm_count(device));
  return GroupedGemmExecPtr(std::make_shared<CutlassGroupedGemm>(desc, sig, device, s, sms));
}

}  // namespace baracuda::grouped_gemm
