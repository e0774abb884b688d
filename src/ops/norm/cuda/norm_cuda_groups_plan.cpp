// The CUDA implementation of group_norm / instance_norm / batch_norm (train and eval) on dense
// (N, C, *) tensors: capability check, workspace booking of the backward's per-plane dweight /
// dbias partials, and the executable that binds arguments by role and launches the kernels.
#include <cuda_runtime_api.h>

#include <string>

#include "core/env_switch.hpp"
#include "core/pdl_switch.hpp"
#include "ops/norm/cuda/norm_groups_launch.hpp"
#include "ops/norm/norm_impls.hpp"

namespace baracuda {
namespace {

std::string tag(const NormDescriptor& d) {
  return "[norm." + std::string(norm_op_info(d.op).name) + (d.direction == Direction::backward ? ".backward] " : "] ");
}

bool is_group_op(NormOp op) { return op == NormOp::group_norm || op == NormOp::instance_norm || op == NormOp::batch_norm; }

bool dense(const Operand& o) { return o.strides.empty() || o.strides == contiguous_strides(o.shape); }

// Which kernels run: the split-plane engine (default: every (n, c) plane cut into 4096-element
// chunks, one CTA each, 16-byte loads; norm_groups_fast.cuh) or the legacy one-CTA-per-group
// kernels ("legacy"; always for planes under kGroupFastMinInner elements). Environment
// BARACUDA_NORM_GROUPS_ENGINE, read when the plan is made.
bool fast_engine_fits(const NormSignature& sig) {
  if (env_is("BARACUDA_NORM_GROUPS_ENGINE", "legacy")) return false;
  if (sig.outer <= 0 || sig.channels <= 0 || sig.inner < norm::cuda::kGroupFastMinInner) return false;
  const int64_t chunks = sig.outer * sig.channels * norm::cuda::group_chunks_per_plane(sig.inner);
  return chunks <= 0x7fffffff;  // one CTA per chunk, 1-D grid
}

class CudaGroupsNorm final : public Executable<NormFamily> {
 public:
  CudaGroupsNorm(NormDescriptor d, NormSignature sig, Device device, int sm_count)
      : d_(std::move(d)), sig_(std::move(sig)), device_(device), sm_count_(sm_count) {
    sku_.family = "norm";
    sku_.op = std::string(norm_op_info(d_.op).name) + (d_.direction == Direction::backward ? ".backward" : "");
    sku_.dtypes = norm_sku_dtypes(sig_);
    sku_.layout = "contiguous-nc*";
    sku_.arch = "sm_" + std::to_string(device.sm);
    sku_.backend = "baracuda-cuda";
    sku_.impl = "cuda_groups";
    fast_ = fast_engine_fits(sig_);
    sku_.tactic = fast_ ? "split-plane: CTA per 4096-element plane chunk, 16-byte loads, chunk stats folded per group "
                          "in fixed order (Chan merge), elementwise apply; per-plane dweight/dbias partials summed in order"
                        : "CTA per group, scalar loads, per-plane dweight/dbias partials summed in order";
    if (pdl_) sku_.tactic += kPdlTactic;
    const bool f64 = d_.input.dtype == DType::f64;
    pg_.math = std::string(f64 ? "f64" : "f32") +
               (fast_ ? " accumulation, two-pass variance per chunk merged exactly (Chan), fixed-order reductions"
                      : " accumulation, two-pass variance, fixed-order reductions");
    pg_.accumulator = f64 ? DType::f64 : DType::f32;
    const bool bwd = d_.direction == Direction::backward;
    if (bwd) {
      want_dw_ = sig_.output_index(NormRole::dweight) >= 0;
      want_db_ = sig_.output_index(NormRole::dbias) >= 0;
      partial_rows_ = d_.op == NormOp::batch_norm ? 1 : sig_.outer;
      one_ = round_up(static_cast<size_t>(partial_rows_ * sig_.channels) * (f64 ? 8 : 4));
      workspace_ = (want_dw_ ? one_ : 0) + (want_db_ ? one_ : 0);
    }
    if (fast_) {
      fast_ws_ = norm::cuda::group_fast_workspace(d_.op == NormOp::batch_norm, bwd,
                                                  d_.op == NormOp::batch_norm && !d_.training, sig_.outer,
                                                  sig_.channels, sig_.inner, f64 ? 8 : 4);
      workspace_ += fast_ws_.total();
    }
  }

  Status can_implement(const NormArgs& args) const override { return check_norm_args(tag(d_), sig_, args, device_, 1); }
  size_t workspace_size() const override { return workspace_; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream& stream, Workspace ws, const NormArgs& args) const override {
    auto in = [&](NormRole r) -> const void* { int i = sig_.input_index(r); return i < 0 ? nullptr : args.inputs[i].data; };
    auto out = [&](NormRole r) -> void* { int i = sig_.output_index(r); return i < 0 ? nullptr : args.outputs[i].data; };
    norm::cuda::GroupParams p{};
    p.kind = d_.op == NormOp::group_norm ? norm::cuda::GroupKind::group
             : d_.op == NormOp::instance_norm ? norm::cuda::GroupKind::instance : norm::cuda::GroupKind::batch;
    p.x = in(NormRole::x);
    p.dy = in(NormRole::dy);
    p.weight = in(NormRole::weight);
    p.bias = in(NormRole::bias);
    p.mean_in = in(NormRole::mean);
    p.rstd_in = in(NormRole::rstd);
    p.use_running = d_.op == NormOp::batch_norm && !d_.training;
    if (p.use_running) {
      p.running_mean = const_cast<void*>(in(NormRole::running_mean));  // read only in eval mode
      p.running_var = const_cast<void*>(in(NormRole::running_var));
    } else if (d_.direction == Direction::forward) {
      p.running_mean = out(NormRole::running_mean);
      p.running_var = out(NormRole::running_var);
    }
    p.y = out(NormRole::y);
    p.dx = out(NormRole::dx);
    p.mean_out = d_.direction == Direction::forward ? out(NormRole::mean) : nullptr;
    p.rstd_out = d_.direction == Direction::forward ? out(NormRole::rstd) : nullptr;
    p.groups = sig_.groups;
    p.channels = sig_.channels;
    p.inner = sig_.inner;
    p.num_groups = d_.op == NormOp::group_norm ? d_.num_groups : 1;
    p.segments = d_.op == NormOp::group_norm ? sig_.channels / d_.num_groups
                 : d_.op == NormOp::instance_norm ? 1 : sig_.outer;
    p.eps = sig_.eps;
    p.momentum = d_.momentum;
    const bool bwd = d_.direction == Direction::backward;
    if (ws.bytes < workspace_ || (workspace_ > 0 && ws.data == nullptr))
      return workspace_too_small(tag(d_) + "needs " + std::to_string(workspace_) + " bytes of workspace, got " +
                                 std::to_string(ws.bytes));
    char* base = static_cast<char*>(ws.data);
    if (bwd) {
      if (want_dw_) { p.partial_dw = base; base += one_; }
      if (want_db_) { p.partial_db = base; base += one_; }
    }
    if (fast_)
      return norm::cuda::launch_groups_fast(d_.input.dtype, sig_.param_dtype, p, bwd, out(NormRole::dweight),
                                            out(NormRole::dbias), partial_rows_, fast_ws_, base,
                                            static_cast<cudaStream_t>(stream.cuda_stream()), pdl_);
    return norm::cuda::launch_groups(d_.input.dtype, sig_.param_dtype, p, bwd, out(NormRole::dweight),
                                     out(NormRole::dbias), partial_rows_, sm_count_,
                                     static_cast<cudaStream_t>(stream.cuda_stream()), pdl_);
  }

 private:
  static size_t round_up(size_t n) { return (n + 255) / 256 * 256; }

  NormDescriptor d_;
  NormSignature sig_;
  Device device_;
  int sm_count_;
  // Every kernel a programmatic dependent launch (BARACUDA_PDL, read when the plan is made;
  // core/pdl_switch.hpp).
  bool pdl_ = pdl_from_env(device_);
  bool fast_ = false;
  norm::cuda::GroupFastWorkspace fast_ws_;
  bool want_dw_ = false, want_db_ = false;
  int64_t partial_rows_ = 0;
  size_t one_ = 0, workspace_ = 0;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status norm_cuda_groups_supports(const NormDescriptor& desc, const Device& device) {
  if (!device.is_cuda()) return not_supported("needs a CUDA stream");
  if (device.sm < 80) return not_supported("needs sm_80 or newer, the device is sm_" + std::to_string(device.sm));
  if (!is_group_op(desc.op)) return not_supported("only group_norm, instance_norm and batch_norm");
  BARACUDA_ASSIGN_OR_RETURN(NormSignature sig, infer_signature(desc));
  for (const auto* ops : {&sig.inputs, &sig.outputs})
    for (const Operand& o : *ops)
      if (!dense(o)) return not_supported("needs contiguous (N, C, *) operands; got strides " + shape_to_string(o.strides));
  return Status::ok();
}

Result<NormExecPtr> norm_cuda_groups_make(const NormDescriptor& desc, const Device& device) {
  BARACUDA_TRY(norm_cuda_groups_supports(desc, device));
  BARACUDA_ASSIGN_OR_RETURN(NormSignature sig, infer_signature(desc));
  int sms = 0;
  if (cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device.ordinal); e != cudaSuccess)
    return backend_error(std::string("[norm] cudaDeviceGetAttribute(MultiProcessorCount) failed: ") +
                         cudaGetErrorString(e));
  return NormExecPtr(std::make_shared<CudaGroupsNorm>(desc, std::move(sig), device, sms));
}

}  // namespace baracuda
