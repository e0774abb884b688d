// The CUDA implementation of the loss family: what it takes (dense operands, weights broadcast
// as a suffix of the input's shape), the workspace it books, and the executable that binds the
// arguments and enqueues the launchers (loss_class_kernels.cu, loss_pointwise_kernels.cu).
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "core/env_switch.hpp"
#include "core/pdl_switch.hpp"
#include "ops/loss/cuda/loss_launch.hpp"
#include "ops/loss/loss_args.hpp"
#include "ops/loss/loss_impls.hpp"

namespace baracuda::loss {
namespace cuda {

Status check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return Status::ok();
  return backend_error(std::string("[loss] launch of ") + what + " failed: " + cudaGetErrorName(e) + " (" +
                       cudaGetErrorString(e) + ")");
}

}  // namespace cuda

namespace {

bool dense(const Operand& o) { return o.strides.empty() || o.strides == contiguous_strides(o.shape); }
bool dense(const std::optional<Operand>& o) { return !o || dense(*o); }

// The period of a weight broadcast as a suffix of the input's shape (its numel), or 0 when the
// broadcast is of another kind ([N, 1] against [N, C], ...).
int64_t suffix_period(const Operand& w, const std::vector<int64_t>& shape) {
  size_t lead = 0;
  while (lead < w.shape.size() && w.shape[lead] == 1) ++lead;
  const size_t rest = w.shape.size() - lead;
  int64_t period = 1;
  for (size_t i = 0; i < rest; ++i) {
    if (w.shape[lead + i] != shape[shape.size() - rest + i]) return 0;
    period *= w.shape[lead + i];
  }
  return period;
}

// cross_entropy's [N, C] logits with rows `stride[0] >= C` elements apart (a slice of a wider
// buffer): the row kernels take any row stride.
bool padded_rows(const LossDescriptor& d, const LossSignature& sig) {
  const Operand& x = d.input;
  return d.op == LossOp::cross_entropy && sig.inner == 1 && x.shape.size() == 2 && x.strides.size() == 2 &&
         (x.strides[1] == 1 || x.shape[1] == 1) && x.strides[0] >= x.shape[1];
}

// Elements between rows of the input as the row kernels read it.
int64_t input_row_stride(const LossDescriptor& d, const LossSignature& sig) {
  if (d.input.strides.size() == 2 && sig.inner == 1 && d.input.shape.size() == 2) return d.input.strides[0];
  return sig.classes;
}

bool is_pointwise(const LossDescriptor& d, const LossSignature& sig) {
  return !sig.class_op && d.op != LossOp::cosine_embedding_loss;
}

// The strides of `o` over the input's shape: its own (or row-major) strides, right-aligned, 0
// along the dims it broadcasts over.
void broadcast_strides(const Operand& o, const std::vector<int64_t>& shape, int64_t* out) {
  const std::vector<int64_t> own = o.strides.empty() ? contiguous_strides(o.shape) : o.strides;
  const int r = static_cast<int>(shape.size()), ro = static_cast<int>(o.shape.size());
  for (int d = 0; d < r; ++d) {
    const int od = d - (r - ro);
    out[d] = (od < 0 || o.shape[od] == 1) ? 0 : own[od];
  }
}

// Whether the pointwise kernel needs the strided path: a non-dense input, other or target, or a
// weight that does not broadcast as a suffix of the input's shape.
bool needs_strided(const LossDescriptor& d) {
  if (!dense(d.input) || !dense(d.target) || !dense(d.other)) return true;
  for (const std::optional<Operand>* w : {&d.weight, &d.pos_weight})
    if (*w && (!dense(**w) || suffix_period(**w, d.input.shape) == 0)) return true;
  return false;
}

Status check_cuda_device(const Device& device) {
  if (!device.is_cuda()) return not_supported("needs a CUDA stream");
  if (device.sm < 80) return not_supported("needs sm_80 or newer, the device is sm_" + std::to_string(device.sm));
  return Status::ok();
}

Status fits(const LossDescriptor& d, const Device& device) {
  BARACUDA_TRY(check_cuda_device(device));
  BARACUDA_ASSIGN_OR_RETURN(LossSignature sig, infer_signature(d));
  // Pointwise losses take any strides and any broadcast (the strided kernel path).
  if (is_pointwise(d, sig)) return Status::ok();
  if (!dense(d.input) && !padded_rows(d, sig))
    return not_supported("the CUDA losses need dense row-major operands (cross_entropy: or [N, C] logits with padded "
                         "rows); input strides " + shape_to_string(d.input.strides) + " run on the CPU plan");
  if (!dense(d.target) || !dense(d.other) || !dense(d.weight) || !dense(d.pos_weight))
    return not_supported("the CUDA losses need dense row-major operands (a strided one runs on the CPU plan)");
  if (sig.class_op && sig.classes >= (int64_t{1} << 30))
    return not_supported("rows of " + std::to_string(sig.classes) + " classes: the CUDA kernels index a row in 32 bits");
  return Status::ok();
}

// BARACUDA_CE_ROWS=per_block (read when the plan is made) launches cross_entropy [N, C] as one block
// per row group without cross-row prefetch: the A/B baseline of the chained, persistent kernel.
bool ce_chained_rows() {
  return !env_is("BARACUDA_CE_ROWS", "per_block");
}

// cross_entropy's long rows, forward only, stream through 4 TMA bulk-copy stages on sm_90+
// (measured on the H200 at 151c784, 8192 x 128256 bf16: 0.578 ms against 0.847 for the
// register-pipelined kernel; 3 stages 0.604, 6 stages 0.669). BARACUDA_CE_BULK_STAGES (read when
// the plan is made): 0 keeps the register-pipelined kernel, 3 or 4 sets the stages.
int ce_bulk_stages(const Device& device) {
  if (device.sm < 90) return 0;
  const std::optional<std::string_view> v = env_value("BARACUDA_CE_BULK_STAGES");
  if (!v) return 4;
  return *v == "3" ? 3 : *v == "4" ? 4 : 0;
}

// The bulk kernel's 16-bit fold: packed max and one FFMA + EX2 per exp (fold_packed16), or
// BARACUDA_CE_PACKED_FOLD=0 for the generic fold (its A/B baseline).
bool ce_packed_fold() {
  return env_switch_on("BARACUDA_CE_PACKED_FOLD");
}

// The gradient passes (backward, fused) also stream through the bulk stages: each row twice, one
// 512-thread block per SM so that the second read hits L2. One bench run on the H200 (a helper's,
// at ab48ae3) gave 1.47 ms for the fused 8192 x 128256 bf16 against 2.36 ms for the
// register-pipelined kernel (3 stages 1.61 ms, the generic fold 1.50 ms); its GPU test passed
// there. BARACUDA_CE_BULK_GRAD=0 (read when the plan is made) keeps the register-pipelined
// gradient: the A/B baseline.
bool ce_bulk_grad() {
  return env_switch_on("BARACUDA_CE_BULK_GRAD");
}

// The pointwise losses without weight / pos_weight on dense operands run the vectorized kernels
// (loss_pointwise_vector.cu: the op a template parameter, 16-byte packs) unless
// BARACUDA_LOSS_POINTWISE=legacy (read when the plan is made) keeps the scalar grid-stride kernel:
// the A/B baseline.
bool pointwise_vector_enabled() { return !env_is("BARACUDA_LOSS_POINTWISE", "legacy"); }

// The vectorized path's streams without a reduction run one pass of blocks (the elementwise
// engine's recipe) unless BARACUDA_LOSS_POINTWISE_GRID=wave (read when the plan is made) keeps the
// wave grid with grid-stride steps: the A/B baseline. Mean / sum forwards keep the wave grid.
bool pointwise_wave_grid() { return env_is("BARACUDA_LOSS_POINTWISE_GRID", "wave"); }

// nll_loss [N, C] backward writes its gradient a warp per row in 16-byte packs unless
// BARACUDA_LOSS_NLL_GRAD=legacy keeps the one-thread-per-element kernel (the A/B baseline).
bool nll_rows_grad_enabled() { return !env_is("BARACUDA_LOSS_NLL_GRAD", "legacy"); }

class CudaLoss final : public Executable<LossFamily> {
 public:
  CudaLoss(LossDescriptor d, LossSignature sig, Device device, int sm_count)
      : d_(std::move(d)), sig_(std::move(sig)), device_(device) {
    cuda::LaunchParams& p = params_;
    p.op = d_.op;
    p.reduction = d_.reduction;
    p.write_loss = d_.direction == Direction::forward;
    p.write_grad = d_.direction == Direction::backward || d_.fused_backward;
    p.dtype = d_.input.dtype;
    p.target_dtype = d_.target.dtype;
    p.class_indices = sig_.class_indices;
    p.N = sig_.batch;
    p.C = sig_.classes;
    p.D = sig_.inner;
    p.samples = sig_.samples;
    p.input_row_stride = sig_.class_op ? input_row_stride(d_, sig_) : 0;
    p.ignore_index = d_.ignore_index;
    p.label_smoothing = d_.label_smoothing;
    p.z_loss = d_.z_loss;
    p.beta = d_.beta;
    p.delta = d_.delta;
    p.margin = d_.margin;
    p.log_target = d_.log_target;
    if (is_pointwise(d_, sig_) && needs_strided(d_) && sig_.samples > 0) {
      p.strided = true;
      cuda::StridedOperands& so = p.strides;
      so.rank = static_cast<int>(d_.input.shape.size());
      for (int i = 0; i < so.rank; ++i) so.sizes[i] = d_.input.shape[i];
      broadcast_strides(d_.input, d_.input.shape, so.input);
      broadcast_strides(d_.target, d_.input.shape, so.target);
      if (d_.other) broadcast_strides(*d_.other, d_.input.shape, so.other);
      if (d_.weight) broadcast_strides(*d_.weight, d_.input.shape, so.weight);
      if (d_.pos_weight) broadcast_strides(*d_.pos_weight, d_.input.shape, so.pos_weight);
    } else {
      if (d_.weight && !sig_.class_op) p.weight_period = suffix_period(*d_.weight, d_.input.shape);
      if (d_.pos_weight) p.pos_weight_period = suffix_period(*d_.pos_weight, d_.input.shape);
    }
    p.sm_count = sm_count;
    p.chained_rows = ce_chained_rows();
    p.bulk_stages = ce_bulk_stages(device);
    p.bulk_packed_fold = ce_packed_fold();
    p.bulk_grad = ce_bulk_grad();
    p.pointwise_vector = is_pointwise(d_, sig_) && !p.strided && !d_.weight && !d_.pos_weight &&
                         pointwise_vector_enabled();
    p.pointwise_wave_grid = pointwise_wave_grid();
    p.nll_rows_grad = d_.op == LossOp::nll_loss && sig_.inner == 1 && p.write_grad && nll_rows_grad_enabled();
    p.pdl = pdl_from_env(device);
    // The partial-sum grid of the pointwise reduction: fixed here so results do not depend on
    // anything at run time.
    const int64_t want = (sig_.samples + 255) / 256;
    p.pointwise_blocks = p.pointwise_vector
                             ? cuda::pointwise_vector_blocks(d_.input.dtype, sig_.samples, sm_count)
                             : static_cast<int>(want < 1 ? 1 : (want < sm_count * 4 ? want : sm_count * 4));

    const bool class_op = sig_.class_op;
    kind_ = class_op ? Kind::klass : (d_.op == LossOp::cosine_embedding_loss ? Kind::cosine : Kind::pointwise);
    workspace_ = kind_ == Kind::klass ? cuda::class_workspace(p)
                                      : (kind_ == Kind::cosine ? cuda::cosine_workspace(p) : cuda::pointwise_workspace(p));

    sku_.family = "loss";
    sku_.op = std::string(loss_op_info(d_.op).name) +
              (d_.direction == Direction::backward ? ".backward" : (d_.fused_backward ? ".fused_backward" : ""));
    sku_.dtypes = std::string(dtype_name(d_.input.dtype)) + "," + std::string(dtype_name(d_.target.dtype)) + "->" +
                  std::string(dtype_name(d_.input.dtype));
    sku_.layout = "dense";
    sku_.epilogue = std::string(loss_reduction_name(d_.reduction));
    sku_.arch = "sm_" + std::to_string(device.sm);
    sku_.backend = "baracuda-cuda";
    sku_.impl = "cuda_loss";
    if (kind_ == Kind::klass && d_.op == LossOp::cross_entropy)
      sku_.tactic = sig_.inner > 1 ? "thread per sample (class stride d)"
                                   : std::string(sig_.classes * static_cast<int64_t>(dtype_size(d_.input.dtype)) >= 16 * 1024
                                                     ? "block per row"
                                                     : "warp per row") +
                                         ", online softmax, 16-byte packs when aligned" +
                                         (cuda::bulk_rows_apply(p)
                                              ? (p.write_grad
                                                     ? ", one 512-thread block per SM streaming each row twice "
                                                       "(statistics, then the gradient from L2) through " +
                                                           std::to_string(p.bulk_stages) +
                                                           " TMA bulk-copy stages when 16-byte aligned"
                                                     : ", persistent grid streaming rows through " +
                                                           std::to_string(p.bulk_stages) +
                                                           " TMA bulk-copy stages when 16-byte aligned")
                                              : p.chained_rows ? ", persistent grid prefetching each next row"
                                                               : ", one block per row group");
    else if (p.nll_rows_grad)
      sku_.tactic = "nll gradient a warp per row, 16-byte packs when aligned, batched-load denominator";
    else if (p.pointwise_vector && !p.pointwise_wave_grid && (p.write_grad || d_.reduction == LossReduction::none))
      sku_.tactic = "vectorized: op-specialized, one 16-byte pack per operand per thread, one pass of 256-thread "
                    "blocks over every element";
    else if (p.pointwise_vector)
      sku_.tactic = p.write_grad ? "vectorized: op-specialized, 2 x 16-byte packs per operand per thread, one wave of "
                                   "256-thread blocks"
                                 : "vectorized: op-specialized, 4 x 16-byte packs per operand per thread (2 for f64), "
                                   "one wave of 256-thread blocks, f64 block partials";
    else
      sku_.tactic = kind_ == Kind::cosine ? "warp per row"
                                          : (p.strided ? "grid-stride, 256 threads, strided operands"
                                                       : "grid-stride, 256 threads");
    if (p.pdl) sku_.tactic += kPdlTactic;
    if (p.strided) sku_.layout = "strided-int64";
    const bool f64 = d_.input.dtype == DType::f64;
    pg_.math = std::string(f64 ? "f64" : "f32") +
               (p.pointwise_vector
                    ? " math (hardware exp in f32), the losses of each 16-byte pack summed in that type in order, the "
                      "pack sums in f64 in a fixed order, one rounding to the output dtype"
                    : " math (hardware exp in f32), per-sample losses summed in f64 in a fixed order, one rounding to "
                      "the output dtype");
    pg_.accumulator = f64 ? DType::f64 : DType::f32;
  }

  Status can_implement(const LossArgs& args) const override { return check_args(d_, sig_, args, device_); }
  size_t workspace_size() const override { return workspace_; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream& stream, Workspace ws, const LossArgs& a) const override {
    cuda::LaunchParams p = params_;
    p.input = a.input.data;
    p.other = a.other.defined() ? a.other.data : nullptr;
    p.target = a.target.data;
    p.weight = a.weight.defined() ? a.weight.data : nullptr;
    p.pos_weight = a.pos_weight.defined() ? a.pos_weight.data : nullptr;
    p.grad_loss = a.grad_loss.defined() ? a.grad_loss.data : nullptr;
    p.loss = a.loss.defined() ? a.loss.data : nullptr;
    p.grad_input = a.grad_input.defined() ? a.grad_input.data : nullptr;
    p.grad_other = a.grad_other.defined() ? a.grad_other.data : nullptr;
    p.workspace = ws.data;
    p.stream = static_cast<cudaStream_t>(stream.cuda_stream());
    switch (kind_) {
      case Kind::klass: return cuda::launch_class(p);
      case Kind::cosine: return cuda::launch_cosine(p);
      case Kind::pointwise: return cuda::launch_pointwise(p);
    }
    return internal_error("[loss] unknown CUDA kernel kind");
  }

 private:
  enum class Kind { klass, pointwise, cosine };
  LossDescriptor d_;
  LossSignature sig_;
  Device device_;
  cuda::LaunchParams params_;
  Kind kind_ = Kind::klass;
  size_t workspace_ = 0;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

}  // namespace

Status cuda_supports(const LossDescriptor& desc, const Device& device) { return fits(desc, device); }

Result<LossExecPtr> cuda_make(const LossDescriptor& desc, const Device& device) {
  BARACUDA_TRY(fits(desc, device));
  BARACUDA_ASSIGN_OR_RETURN(LossSignature sig, infer_signature(desc));
  int sms = 0;
  if (cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device.ordinal); e != cudaSuccess)
    return backend_error(std::string("[loss] cudaDeviceGetAttribute(MultiProcessorCount) failed: ") + cudaGetErrorString(e));
  return LossExecPtr(std::make_shared<CudaLoss>(desc, std::move(sig), device, sms));
}

}  // namespace baracuda::loss
