// The grouped GEMM's contraction split (split = contraction, the MoE weight gradient
// dW[g] = X_g^T dY_g) on CUTLASS's sm_90a ptr-array kernel: the executable (checks, workspace
// booking, SKU). The kernels are in grouped_cutlass_contraction_{bf16,f16}.cu.
//
// Requirements beyond the descriptor's validity (supports() says which failed): an sm_90 device
// (checked by cutlass_supports, which routes here); A [M, K_total] with unit stride along M (the
// X^T view of a row-major X), B [K_total, N] and D [G, M, N] with unit stride along N; M and N
// multiples of 8 and < 2^31 (the contiguous extents: TMA's 16-byte rule, which CUTLASS's own
// can_implement cannot check when the group shapes exist on the device only); every other stride
// a multiple of 8 elements. These layouts let each group start at any offset: the group pointers
// move along strided dimensions only.
//
// Checked on the H200 against the CPU reference (GroupedGemmContractionGpu.*, memcheck clean) and
// against torch._grouped_mm (tests/python/test_grouped_gemm_parity.py).
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "ops/grouped_gemm/cuda/grouped_cutlass_executable.hpp"
#include "ops/grouped_gemm/cuda/grouped_cutlass_launch.hpp"

namespace baracuda::grouped_gemm {
namespace {

namespace cs = cutlass_sm90;

struct ContractionStrides {
  int64_t lda = 0, ldb = 0, ldd = 0, d_group = 0;
};

std::vector<int64_t> strides_of(const Operand& o) {
  return o.strides.empty() ? contiguous_strides(o.shape) : o.strides;
}

std::string str(int64_t v) { return std::to_string(v); }

// The kernel's extent and stride requirements; the strides it will use.
Result<ContractionStrides> contraction_strides(const GroupedGemmDescriptor& d, const GroupedGemmSignature& sig) {
  const int64_t M = sig.m_total, N = sig.n, K = sig.k;
  if (M < 8 || N < 8 || M > INT32_MAX || N > INT32_MAX || M % 8 != 0 || N % 8 != 0)
    return not_supported(kTag + "split=contraction: M=" + str(M) + ", N=" + str(N) +
                         "; the CUTLASS kernel needs M and N to be multiples of 8 (16 bytes, the unit-stride "
                         "extents TMA reads) below 2^31");
  const auto sa = strides_of(d.a), sb = strides_of(d.b), sd = strides_of(d.d);
  // M >= 8 and N >= 8 here, so the unit strides are meaningful, except in an empty A and B
  // (K_total = 0: every group is empty and only zeros are written). A size-1 K_total or G leaves
  // its stride free (the argument check ignores it): use the packed value.
  if (K > 0 && sa[0] != 1)
    return not_supported(kTag + "split=contraction: A's strides " + shape_to_string(sa) +
                         " have no unit stride along M; the CUTLASS kernel reads A = X^T of a row-major X "
                         "(strides [1, M]), not a row-major A");
  if (K > 0 && sb[1] != 1)
    return not_supported(kTag + "split=contraction: B's strides " + shape_to_string(sb) +
                         " have no unit stride along N; the CUTLASS kernel reads a row-major B [K_total, N]");
  if (sd[2] != 1)
    return not_supported(kTag + "split=contraction: D's strides " + shape_to_string(sd) +
                         " have no unit stride along N; the CUTLASS kernel writes row-major D[g]");
  ContractionStrides s;
  s.lda = K > 1 ? sa[1] : M;
  s.ldb = K > 1 ? sb[0] : N;
  s.ldd = sd[1];
  s.d_group = sig.groups > 1 ? sd[0] : M * s.ldd;
  if (s.lda < M || s.ldb < N || s.ldd < N || s.d_group < 0)
    return not_supported(kTag + "split=contraction: overlapping or negative strides (lda " + str(s.lda) + ", ldb " +
                         str(s.ldb) + ", ldd " + str(s.ldd) + ", D group stride " + str(s.d_group) + ")");
  for (int64_t v : {s.lda, s.ldb, s.ldd, s.d_group})
    if (v % 8 != 0)
      return not_supported(kTag + "split=contraction: strides lda " + str(s.lda) + ", ldb " + str(s.ldb) + ", ldd " +
                           str(s.ldd) + ", D group stride " + str(s.d_group) +
                           " must be multiples of 8 elements (16 bytes) for TMA");
  return s;
}

class CutlassContractionGroupedGemm final : public CutlassGroupedExecutable {
 public:
  CutlassContractionGroupedGemm(GroupedGemmDescriptor d, GroupedGemmSignature sig, Device device,
                                ContractionStrides s, int sm_count)
      : CutlassGroupedExecutable(std::move(d), sig, device, sm_count), s_(s) {
    element_ = d_.a.dtype == DType::bf16 ? cs::Element::bf16 : cs::Element::f16;
    workspace_ = cs::contraction_workspace_bytes(element_, static_cast<int>(sig_.groups), sm_count_);
    sku_ = cutlass_grouped_sku(d_, "split=contraction, A [M,K] m-major (X^T), B [K,N] n-major, D [G,M,N] row-major",
                               cs::kDefaultTiling, sm_count_, "; empty groups zeroed by a separate kernel");
  }

  Status run(const Stream& stream, Workspace ws, const GroupedGemmArgs& a) const override {
    cs::ContractionLaunchParams p;
    BARACUDA_TRY(fill_common_launch(p, stream, ws, a));
    p.m = sig_.m_total;
    p.k_total = sig_.k;
    p.lda = s_.lda;
    p.ldb = s_.ldb;
    p.ldd = s_.ldd;
    p.d_group_stride = s_.d_group;
    return cs::contraction_launch(element_, p);
  }

 private:
  ContractionStrides s_;
  cs::Element element_ = cs::Element::bf16;
};

}  // namespace

Status cutlass_contraction_supports(const GroupedGemmDescriptor& desc, const Device&) {
  BARACUDA_ASSIGN_OR_RETURN(GroupedGemmSignature sig, infer_signature(desc));
  if (desc.alignment < 16)
    return not_supported(kTag + "alignment " + std::to_string(desc.alignment) + " bytes; TMA needs 16");
  BARACUDA_TRY(contraction_strides(desc, sig).status());
  return Status::ok();
}

Result<GroupedGemmExecPtr> cutlass_contraction_make(const GroupedGemmDescriptor& desc, const Device& device) {
  BARACUDA_TRY(cutlass_contraction_supports(desc, device));
  BARACUDA_ASSIGN_OR_RETURN(GroupedGemmSignature sig, infer_signature(desc));
  BARACUDA_ASSIGN_OR_RETURN(ContractionStrides s, contraction_strides(desc, sig));
  BARACUDA_ASSIGN_OR_RETURN(int sms, cutlass_sm_count(device));
  return GroupedGemmExecPtr(std::make_shared<CutlassContractionGroupedGemm>(desc, sig, device, s, sms));
}

}  // namespace baracuda::grouped_gemm
