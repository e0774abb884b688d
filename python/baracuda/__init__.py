"""baracuda: ML primitives through one plan API (Python bindings).

- ``baracuda.ElementwisePlan``: the C++ plan (select in the constructor, ``explain()``, ``sku``,
  ``precision_guarantee``, ``workspace_size``, ``can_implement``, ``run``) over DLPack tensors.
- ``baracuda.ReducePlan``: the same for the reduction family (``reduce_catalog()``,
  ``reduce_infer_signature``, ``reduce_explain``).
- ``baracuda.ops``: the functional layer, ``baracuda.ops.<name>(*inputs, out=None, **attrs)`` and
  ``baracuda.ops.<name>_backward(grad, *inputs, ...)`` for every op in ``catalog()``,
  and the reductions ``baracuda.ops.sum(x, dim=None, keepdim=False, dtype=None)``, ``amax``,
  ``max`` -> (values, indices), ``var``, ``norm``, ... with ``<name>_backward`` (``reduce_catalog()``).
- ``baracuda.NormPlan``: the normalization family (``norm_catalog()``, ``norm_infer_signature``,
  ``norm_explain``); functions ``baracuda.ops.layer_norm`` / ``rms_norm`` / ``add_rms_norm`` / ... (``baracuda.norm``).
- Errors: every non-ok baracuda Status raises a ``BaracudaError`` subclass carrying ``.code``:
  InvalidArgumentError (ValueError), NotSupportedError (NotImplementedError), MisalignedError,
  WorkspaceTooSmallError, BackendError, InternalError (RuntimeError); DTypeError (TypeError).
"""
from . import _C
from ._C import (
    BackendError,
    BaracudaError,
    DTypeError,
    ElementwisePlan,
    InternalError,
    InvalidArgumentError,
    MisalignedError,
    NotSupportedError,
    ReducePlan,
    SoftmaxPlan,
    WorkspaceTooSmallError,
    built_with_cuda,
    can_cast,
    catalog,
    cuda_device_count,
    dtype_names,
    dtype_size,
    explain,
    infer_signature,
    promote_types,
    reduce_catalog,
    reduce_explain,
    reduce_infer_signature,
    result_type,
    ScanPlan,
    scan_catalog,
    scan_explain,
    scan_infer_signature,
    softmax_catalog,
    softmax_explain,
    softmax_infer_signature,
    tensor_info,
)
from ._C import NormPlan, norm_catalog, norm_explain, norm_infer_signature  # noqa: E402
from ._C import LossPlan, loss_catalog, loss_infer_signature
from ._C import GemmPlan, gemm_infer_signature
from ._C import GroupedGemmPlan, grouped_gemm_infer_signature
from . import ops

__version__ = _C.__version__

__all__ = [
    "BackendError", "BaracudaError", "DTypeError", "ElementwisePlan", "InternalError", "InvalidArgumentError",
    "MisalignedError", "NotSupportedError", "WorkspaceTooSmallError", "built_with_cuda", "can_cast", "catalog",
    "cuda_device_count", "dtype_names", "dtype_size", "explain", "infer_signature", "ops", "promote_types",
    "ReducePlan", "reduce_catalog", "reduce_explain", "reduce_infer_signature", "result_type", "tensor_info", "__version__",
    "ScanPlan", "scan_catalog", "scan_explain", "scan_infer_signature",
    "SoftmaxPlan", "softmax_catalog", "softmax_explain", "softmax_infer_signature",
]
__all__ += ["NormPlan", "norm_catalog", "norm_explain", "norm_infer_signature"]
__all__ += ["LossPlan", "loss_catalog", "loss_infer_signature"]
__all__ += ["GemmPlan", "gemm_infer_signature"]
__all__ += ["GroupedGemmPlan", "grouped_gemm_infer_signature"]
