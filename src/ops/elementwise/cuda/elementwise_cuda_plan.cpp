// The CUDA implementations of the elementwise family: capability checks and the executable that
// binds arguments, picks the launcher chosen at plan time and enqueues it.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "core/env_switch.hpp"
#include "ops/elementwise/cuda/ew_launchers.hpp"
#include "ops/elementwise/elementwise_impls.hpp"

namespace baracuda::ew {
namespace cuda {

Status check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return Status::ok();
  return backend_error(std::string("[elementwise] launch of ") + what + " failed: " + cudaGetErrorName(e) + " (" +
                       cudaGetErrorString(e) + ")");
}

}  // namespace cuda

namespace {

bool dense(const Operand& o) { return o.is_scalar || o.strides.empty() || o.strides == contiguous_strides(o.shape); }

// BARACUDA_EW_GATED_PACKED=0 (read when the plan is made) keeps gated halves narrower than 16 bytes
// on the strided kernel, as before the packed kernel: its A/B baseline.
bool gated_packed_enabled() {
  return env_switch_on("BARACUDA_EW_GATED_PACKED");
}

// Half rows of a gated problem narrower than 16 bytes: the vectorized plan runs them on the packed
// kernel (ew_gated_packed.cuh) when they fit it, since the row-strided one needs whole packs per
// half row.
bool gated_narrow(const Problem& p) {
  return p.info.category == ElementwiseCategory::gated &&
         (cuda::gated_half_cols(p) * static_cast<int64_t>(dtype_size(p.in_dtype[0]))) % 16 != 0;
}

cuda::Launcher find_any(const Problem& p, bool vectorized) {
  if (is_complex(p.sig.compute)) return vectorized ? nullptr : cuda::find_complex(p);
  for (auto find : {cuda::find_unary_fwd, cuda::find_unary_bwd, cuda::find_binary_fwd, cuda::find_binary_bwd,
                    cuda::find_ternary, cuda::find_gated, cuda::find_cast})
    if (cuda::Launcher l = find(p, vectorized)) return l;
  return nullptr;
}

Status check_cuda_device(const Device& device) {
  if (!device.is_cuda()) return not_supported("needs a CUDA stream");
  if (device.sm < 80) return not_supported("needs sm_80 or newer, the device is sm_" + std::to_string(device.sm));
  return Status::ok();
}

// Why the vectorized kernel cannot take this problem, or ok.
Status vectorized_fit(const Problem& p) {
  if (is_complex(p.sig.compute)) return not_supported("complex problems run on the strided kernel");
  const auto cat = p.info.category;
  const bool cast = cat == ElementwiseCategory::cast;
  if (cast && p.desc.direction == Direction::backward) return not_supported("cast backward reads two dtypes");
  if (!cast && !(cat == ElementwiseCategory::float_math || cat == ElementwiseCategory::same ||
                 cat == ElementwiseCategory::float_only || cat == ElementwiseCategory::gated))
    return not_supported("category has no vectorized kernel");
  if (p.desc.alignment < 16) return not_supported("the descriptor promises " + std::to_string(p.desc.alignment) +
                                                  "-byte alignment, the vectorized kernel needs 16");
  auto is_vec_dtype = [&](DType t) {
    return t == DType::f32 || t == DType::f16 || t == DType::bf16 || (cast && is_fp8(t));
  };
  const DType storage = p.in_dtype[0];
  for (int i = 0; i < p.nin; ++i) {
    if (p.in_scalar[i]) continue;
    if (!is_vec_dtype(p.in_dtype[i]) || (!cast && p.in_dtype[i] != storage))
      return not_supported("operand dtypes are mixed or not f32/f16/bf16");
  }
  for (const Operand& o : p.sig.outputs)
    if (!is_vec_dtype(o.dtype) || (!cast && o.dtype != storage)) return not_supported("output dtype differs from the inputs");
  // Every tensor dense and of the iteration shape (no broadcasting).
  for (const Operand& o : p.desc.inputs) {
    if (o.is_scalar) continue;
    if (!dense(o)) return not_supported("a strided input");
    if (cat != ElementwiseCategory::gated && o.shape != p.sig.iteration_shape) return not_supported("a broadcast input");
  }
  if (p.desc.grad_output && !dense(*p.desc.grad_output)) return not_supported("a strided grad_output");
  for (const Operand& o : p.sig.outputs)
    if (!dense(o)) return not_supported("a strided output");
  if (gated_narrow(p)) {
    // Each half is [outer, half_cols]: the row-strided kernel needs its rows in whole 16-byte
    // packs; the packed kernel takes rows (2 * half_cols elements) that tile a pack exactly.
    const int64_t half_cols = cuda::gated_half_cols(p);
    if (16 % (2 * half_cols * static_cast<int64_t>(dtype_size(storage))) != 0)
      return not_supported("gated half rows of " + std::to_string(half_cols) +
                           " elements neither are 16-byte multiples nor tile a 16-byte pack");
    if (!gated_packed_enabled())
      return not_supported("gated half rows of " + std::to_string(half_cols) +
                           " elements need the packed kernel, which BARACUDA_EW_GATED_PACKED=0 turns off");
  }
  return Status::ok();
}

std::string layout_name(const Problem& p, bool vectorized, bool packed) {
  if (!vectorized) return "strided-int64";
  if (packed) return "gated-packed-rows16";
  return p.info.category == ElementwiseCategory::gated ? "dense-rows-vec16" : "contiguous-vec16";
}

std::string tactic_name(const Problem& p, bool vectorized, bool packed) {
  if (!vectorized) return "grid-stride, 256 threads";
  if (!packed) return "16-byte packs, 256 threads";
  const int64_t h = cuda::gated_half_cols(p);
  const int64_t rows = 16 / (2 * h * static_cast<int64_t>(dtype_size(p.in_dtype[0])));
  return "ew_gated_packed_kernel: h=" + std::to_string(h) + ", " + std::to_string(rows) +
         (rows == 1 ? " row" : " rows") + " per 16-byte x pack, grid-stride, 256 threads";
}

class CudaExecutable final : public Executable<ElementwiseFamily> {
 public:
  CudaExecutable(Problem p, Device device, bool vectorized, bool packed, cuda::Launcher launcher, int sm_count)
      : p_(std::move(p)), device_(device), launcher_(launcher), sm_count_(sm_count) {
    std::string arch = "sm_" + std::to_string(device.sm);
    sku_ = make_sku(p_, vectorized ? "cuda_vectorized" : "cuda_strided", "baracuda-cuda",
                    layout_name(p_, vectorized, packed), arch);
    sku_.tactic = tactic_name(p_, vectorized, packed);
    if (vectorized && cuda::uses_fast_math(p_)) sku_.tactic += ", fast 16-bit math";
    const bool f64 = p_.sig.compute == DType::f64 || p_.sig.compute == DType::c128;
    pg_.math = p_.int_compute() ? "i64 integer math, wrapped to the output width"
                                : std::string(is_complex(p_.sig.compute) ? (f64 ? "complex f64" : "complex f32")
                                                                         : (f64 ? "f64" : "f32")) +
                                      " math, one rounding to the output dtype";
    if (vectorized && cuda::uses_fast_math(p_))
      pg_.math = "f32 math with hardware exp/reciprocal approximations (error far below one 16-bit ulp), "
                 "one rounding to the output dtype";
    pg_.accumulator = p_.sig.compute;
    workspace_ = cuda::prelu_dweight_workspace(p_);
  }

  Status can_implement(const ElementwiseArgs& args) const override { return check_args(p_, args, device_); }
  size_t workspace_size() const override { return workspace_; }
  const KernelSku& sku() const override { return sku_; }
  const PrecisionGuarantee& precision_guarantee() const override { return pg_; }

  Status run(const Stream& stream, Workspace ws, const ElementwiseArgs& args) const override {
    const Bound b = collapse(bind(p_, args));
    cuda::LaunchContext ctx{static_cast<cudaStream_t>(stream.cuda_stream()), sm_count_};
    if (b.amax) {
      if (cudaError_t e = cudaMemsetAsync(b.amax, 0, sizeof(float), ctx.stream); e != cudaSuccess)
        return backend_error(std::string("[elementwise.cast] cudaMemsetAsync(amax) failed: ") + cudaGetErrorString(e));
    }
    if (b.numel == 0) {
      if (b.prelu_dweight) {
        size_t bytes = static_cast<size_t>(b.prelu_channels) * dtype_size(b.prelu_dweight_dtype);
        if (cudaError_t e = cudaMemsetAsync(b.prelu_dweight, 0, bytes, ctx.stream); e != cudaSuccess)
          return backend_error(std::string("[elementwise.prelu] cudaMemsetAsync failed: ") + cudaGetErrorString(e));
      }
      return Status::ok();
    }
    bool any_output = false;
    for (int i = 0; i < b.nout; ++i) any_output |= b.out[i].data != nullptr;
    if (any_output) BARACUDA_TRY(launcher_(p_, b, ctx));
    if (b.prelu_dweight) BARACUDA_TRY(cuda::launch_prelu_dweight(p_, b, ws.data, ctx));
    return Status::ok();
  }

 private:
  Problem p_;
  Device device_;
  cuda::Launcher launcher_;
  int sm_count_;
  size_t workspace_ = 0;
  KernelSku sku_;
  PrecisionGuarantee pg_;
};

Result<ExecPtr> make_cuda(const ElementwiseDescriptor& desc, const Device& device, bool vectorized) {
  BARACUDA_TRY(check_cuda_device(device));
  BARACUDA_ASSIGN_OR_RETURN(Problem p, resolve(desc));
  if (vectorized) BARACUDA_TRY(vectorized_fit(p));
  const bool packed = vectorized && gated_narrow(p);  // vectorized_fit passed: the packed kernel fits
  cuda::Launcher launcher = packed ? cuda::find_gated_packed(p) : find_any(p, vectorized);
  if (!launcher) return not_supported("no " + std::string(vectorized ? "vectorized" : "strided") + " kernel for " +
                                      ElementwiseFamily::describe(desc));
  int sms = 0;
  if (cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device.ordinal); e != cudaSuccess)
    return backend_error(std::string("[elementwise] cudaDeviceGetAttribute(MultiProcessorCount) failed: ") +
                         cudaGetErrorString(e));
  return ExecPtr(std::make_shared<CudaExecutable>(std::move(p), device, vectorized, packed, launcher, sms));
}

}  // namespace

Status cuda_vectorized_supports(const ElementwiseDescriptor& desc, const Device& device) {
  BARACUDA_TRY(check_cuda_device(device));
  BARACUDA_ASSIGN_OR_RETURN(Problem p, resolve(desc));
  return vectorized_fit(p);
}
Result<ExecPtr> cuda_vectorized_make(const ElementwiseDescriptor& desc, const Device& device) {
  return make_cuda(desc, device, true);
}
Status cuda_strided_supports(const ElementwiseDescriptor&, const Device& device) { return check_cuda_device(device); }
Result<ExecPtr> cuda_strided_make(const ElementwiseDescriptor& desc, const Device& device) {
  return make_cuda(desc, device, false);
}

}  // namespace baracuda::ew
