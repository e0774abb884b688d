#pragma once
// Shared declarations of the baracuda._C extension module.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "baracuda/baracuda.hpp"

namespace baracuda::py {

namespace nb = nanobind;

// ---- errors.cpp: Status -> Python exception -------------------------------------------------
// BaracudaError(Exception) with .code; InvalidArgumentError(BaracudaError, ValueError),
// NotSupportedError(BaracudaError, NotImplementedError), MisalignedError /
// WorkspaceTooSmallError / BackendError / InternalError(BaracudaError, RuntimeError), and
// DTypeError(BaracudaError, TypeError) for dtypes baracuda (or the framework) cannot represent.
void register_errors(nb::module_& m);
[[noreturn]] void throw_status(const Status& s);
[[noreturn]] void throw_dtype_error(const std::string& message);
[[noreturn]] void throw_invalid(const std::string& message);  // InvalidArgumentError
inline void check(const Status& s) {
  if (!s.is_ok()) throw_status(s);
}
template <class T>
T unwrap(Result<T> r) {
  if (!r) throw_status(r.status());
  return std::move(r).value();
}

// ---- tensors.cpp: DLPack objects -> TensorRef / TensorMut -----------------------------------
using InArray = nb::ndarray<nb::ro>;  // any DLPack / buffer-protocol object, read-only view
using OutArray = nb::ndarray<>;       // writable

DType parse_dtype(std::string_view name);               // "f32", "bf16", ... (DTypeError otherwise)
Device parse_device(std::string_view name);             // "cpu", "cuda", "cuda:N"
std::string device_name(const Device& d);               // "cpu", "cuda:N"
DType dtype_from_dlpack(nb::dlpack::dtype dt);          // DTypeError for types baracuda lacks
Device device_from_dlpack(int32_t device_type, int32_t device_id);

// Tensor arguments are a DLPack object, or a (DLPack object, dtype name) tuple that reinterprets
// the elements as a baracuda dtype of the same size (e.g. a torch fp8 tensor viewed as uint8).
// The array handles are kept in `keep` so the views stay valid while the work runs.
TensorRef to_tensor_ref(nb::handle obj, std::vector<InArray>& keep);
TensorMut to_tensor_mut(nb::handle obj, std::vector<OutArray>& keep);
// Python bool / int / float -> Scalar (TypeError otherwise).
Scalar to_scalar(nb::handle obj);
void register_tensors(nb::module_& m);

// ---- elementwise_*.cpp ----------------------------------------------------------------------
void register_elementwise_plan(nb::module_& m);
void register_elementwise_info(nb::module_& m);

// Builds a descriptor from Python arguments (shared by the plan, infer_signature and explain).
ElementwiseDescriptor make_descriptor(std::string_view op, nb::handle inputs, std::string_view direction,
                                      nb::handle output_dtype, nb::handle attrs, size_t alignment,
                                      nb::handle grad_output, nb::handle outputs);
nb::dict signature_to_dict(const ElementwiseSignature& sig);
nb::list candidates_to_list(const std::vector<Candidate>& cands);

// Shared by the families (elementwise_info.cpp / elementwise_plan.cpp).
std::vector<int64_t> to_dims(nb::handle seq, const char* what);  // None -> {}
// (dtype, shape, strides or None, is_scalar) -> Operand; a bare dtype name is a 0-dim tensor.
Operand to_operand(nb::handle spec, const char* what);
nb::tuple operand_to_tuple(const Operand& o);  // (dtype, shape, strides or None, is_scalar)
nb::dict sku_to_dict(const KernelSku& s);
nb::dict precision_to_dict(const PrecisionGuarantee& p);

// ---- reduce_plan.cpp ------------------------------------------------------------------------
// ReducePlan, reduce_catalog, reduce_infer_signature, reduce_explain.
void register_reduce(nb::module_& m);
void register_scan(nb::module_& m);

// ---- norm_plan.cpp --------------------------------------------------------------------------
// NormPlan, norm_catalog, norm_infer_signature, norm_explain.
void register_norm(nb::module_& m);

// ---- softmax_plan.cpp -----------------------------------------------------------------------
// SoftmaxPlan, softmax_catalog, softmax_infer_signature, softmax_explain.
void register_softmax(nb::module_& m);

// ---- loss_plan.cpp --------------------------------------------------------------------------
// LossPlan, loss_catalog, loss_infer_signature.
void register_loss(nb::module_& m);

// ---- gemm_plan.cpp --------------------------------------------------------------------------
// GemmPlan, gemm_infer_signature.
void register_gemm(nb::module_& m);

// ---- grouped_gemm_plan.cpp ------------------------------------------------------------------
// GroupedGemmPlan, grouped_gemm_infer_signature.
void register_grouped_gemm(nb::module_& m);

}  // namespace baracuda::py
