// cuBLASLt GEMM, then the activation by the elementwise family's plan. Needed for the
// activations cuBLASLt's epilogues lack: gelu with erf (cuBLASLt's GELU is the tanh form), silu
// (no epilogue), and relu when the pre-activation is wanted (cuBLASLt's ReLU auxiliary output is
// a bit-mask). Also the fallback for relu / gelu_tanh when cuBLASLt offers no single-pass
// algorithm for the fused epilogue (the registry tries it after "cublaslt"; with a 16-bit D such
// problems were offered only split-K tactics, which the cublaslt plan refuses). The GEMM (with
// its bias) writes the pre-activation into D, or into pre_activation when asked for; the
// activation then runs on D in place, or from pre_activation into D. Two launches on the
// caller's stream; 16-bit outputs are rounded once before the activation and once after, as
// PyTorch's act(linear(x)) is.
#include <utility>

#include "baracuda/ops/elementwise.hpp"
#include "ops/gemm/gemm_impls.hpp"

namespace baracuda::gemm {
namespace {

const std::string kTag = "[gemm.cublaslt_then_activation] ";

ElementwiseOp activation_op(GemmActivation a) {
  switch (a) {
    case GemmActivation::gelu_erf: return ElementwiseOp::gelu;
    case GemmActivation::gelu_tanh: return ElementwiseOp::gelu_tanh;
    case GemmActivation::silu: return ElementwiseOp::silu;
    default: return ElementwiseOp::relu;
  }
}

// The GEMM part: the same problem without the activation, its result going to the
// pre-activation's place.
GemmDescriptor gemm_part(const GemmDescriptor& d) {
  GemmDescriptor g = d;
  g.activation = GemmActivation::none;
  if (d.pre_activation) {
    g.d = *d.pre_activation;
    g.pre_activation.reset();
  }
  return g;
}

// The activation: y = act(pre), pre laid out like the GEMM part's D, y like D.
ElementwiseDescriptor activation_part(const GemmDescriptor& d) {
  ElementwiseDescriptor e;
  e.op = activation_op(d.activation);
  e.inputs = {d.pre_activation ? *d.pre_activation : d.d};
  e.outputs = {d.d};
  e.alignment = d.alignment;
  return e;
}

Status check_applies(const GemmDescriptor& d) {
  if (d.activation == GemmActivation::none) return not_supported(kTag + "no activation: nothing for a second pass");
  if (is_fp8(d.d.dtype) || d.d.dtype == DType::i32)
    return not_supported(kTag + "a separate activation pass on a " + std::string(dtype_name(d.d.dtype)) +
                         " D is not implemented");
  if (d.pre_activation && d.pre_activation->dtype != d.d.dtype)
    return not_supported(kTag + "pre_activation in " + std::string(dtype_name(d.pre_activation->dtype)) +
                         " with D in " + std::string(dtype_name(d.d.dtype)));
  return Status::ok();
}

class LtThenActivation final : public Executable<GemmFamily> {
 public:
  LtThenActivation(GemmPlan gemm, ElementwisePlan act, bool from_pre)
      : gemm_(std::move(gemm)), act_(std::move(act)), from_pre_(from_pre) {
    sku_ = gemm_.sku();
    sku_.impl = "cublaslt_then_activation";
    sku_.epilogue += (sku_.epilogue.empty() ? "" : ", ") + std::string("then ") + act_.sku().op +
                     (from_pre_ ? " (pre_activation -> D)" : " (in place on D)");
    sku_.tactic += "; then " + act_.sku().to_string();
    pg_ = gemm_.precision_guarantee();
    pg_.math += "; the activation in a second pass (" + act_.precision_guarantee().math +
                "), D rounded before and after it";
    pg_.deterministic = pg_.deterministic && act_.precision_guarantee().deterministic;
    pg_.bit_stable = pg_.bit_stable && act_.precision_guarantee().bit_stable;
  }

  Status can_implement(const GemmArgs& args) const override { return gemm_.can_implement(gemm_args(args)); }
  size_t workspace_size() const override { return gemm_.workspace_size(); }

  Status run(const Stream& stream, Workspace workspace, const GemmArgs& args) const override {
    BARACUDA_TRY(gemm_.run(stream, workspace, gemm_args(args)));
    ElementwiseArgs e;
    e.inputs[0] = as_ref(from_pre_ ? args.pre_activation : args.d);
    e.outputs[0] = args.d;
    return act_.run(stream, Workspace{}, e);
  }

  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

 private:
  GemmArgs gemm_args(const GemmArgs& args) const {
    GemmArgs g = args;
    if (from_pre_) {
      g.d = args.pre_activation;
      g.pre_activation = {};
    }
    return g;
  }

  GemmPlan gemm_;
  ElementwisePlan act_;
  bool from_pre_;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status cublaslt_then_activation_supports(const GemmDescriptor& desc, const Device& device) {
  BARACUDA_TRY(check_applies(desc));
  BARACUDA_TRY(cublaslt_supports(gemm_part(desc), device));
  return Status::ok();
}

Result<GemmExecPtr> cublaslt_then_activation_make(const GemmDescriptor& desc, const Device& device) {
  return cublaslt_then_activation_make_with_preference(desc, device, PlanPreference{});
}

Result<GemmExecPtr> cublaslt_then_activation_make_with_preference(const GemmDescriptor& desc, const Device& device,
                                                                  const PlanPreference& pref) {
  BARACUDA_TRY(check_applies(desc));
  // The GEMM part keeps the caller's preference (autotune, tf32, workspace cap, determinism) but
  // must be the cuBLASLt plan itself.
  PlanPreference only_cublaslt = pref;
  only_cublaslt.force = "cublaslt";
  only_cublaslt.exclude.clear();
  BARACUDA_ASSIGN_OR_RETURN(GemmPlan gemm, GemmPlan::select_on(device, gemm_part(desc), only_cublaslt));
  BARACUDA_ASSIGN_OR_RETURN(ElementwisePlan act, ElementwisePlan::select_on(device, activation_part(desc)));
  return GemmExecPtr(std::make_shared<LtThenActivation>(std::move(gemm), std::move(act), desc.pre_activation.has_value()));
}

}  // namespace baracuda::gemm
