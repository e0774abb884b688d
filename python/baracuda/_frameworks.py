"""Array-framework adapters for the functional layer (numpy, torch, CuPy).

Each adapter knows, for its framework: the baracuda dtype name of a tensor, the framework dtype of
a baracuda dtype name, shape/strides in elements, device ('cpu' / 'cuda:N'), data pointer, how to
allocate, the current stream, what to hand to baracuda._C (a DLPack object, or (object, dtype name)
for dtypes DLPack producers may not export), and sum_to_shape for broadcast gradients.
"""
from __future__ import annotations

from ._C import DTypeError

_BARACUDA_DTYPES = ("f64", "f32", "f16", "bf16", "f8e4m3", "f8e5m2", "i64", "i32", "i16", "i8", "u8",
                    "bool", "c64", "c128")

# Names accepted for a target dtype given as a string (cast(x, "bfloat16"), ...).
_ALIASES = {
    "float64": "f64", "double": "f64", "float32": "f32", "float": "f32", "float16": "f16", "half": "f16",
    "bfloat16": "bf16", "float8_e4m3fn": "f8e4m3", "float8_e4m3": "f8e4m3", "float8_e5m2": "f8e5m2",
    "int64": "i64", "long": "i64", "int32": "i32", "int": "i32", "int16": "i16", "short": "i16", "int8": "i8",
    "uint8": "u8", "bool": "bool", "complex64": "c64", "complex128": "c128",
}


def _reduce_axes(gshape, shape):
    """Axes of a gradient of shape `gshape` to sum so that it becomes `shape` (PyTorch's sum_to_size)."""
    lead = len(gshape) - len(shape)
    axes = list(range(lead))
    for i, s in enumerate(shape):
        if s == 1 and gshape[lead + i] != 1:
            axes.append(lead + i)
    return tuple(axes)


class _Adapter:
    name = "?"

    def dtype_name_of_target(self, dtype):
        """A user-given target dtype (framework dtype, or a name) -> baracuda dtype name."""
        if isinstance(dtype, str):
            name = dtype if dtype in _BARACUDA_DTYPES else _ALIASES.get(dtype)
            if name is None:
                raise DTypeError(f"unknown dtype name {dtype!r}")
            return name
        return self.framework_dtype_name(dtype)

    def framework_dtype_name(self, dtype):  # pragma: no cover - overridden
        raise NotImplementedError


class NumpyAdapter(_Adapter):
    """numpy (CPU). No bf16/fp8 in numpy itself; ml_dtypes' bfloat16/float8 work when installed."""

    name = "numpy"

    def __init__(self):
        import numpy as np

        self.np = np
        self.array_type = np.ndarray
        self._to_name = {np.dtype(k): v for k, v in (
            ("float64", "f64"), ("float32", "f32"), ("float16", "f16"), ("int64", "i64"), ("int32", "i32"),
            ("int16", "i16"), ("int8", "i8"), ("uint8", "u8"), ("bool", "bool"), ("complex64", "c64"),
            ("complex128", "c128"))}
        self._from_name = {v: k for k, v in self._to_name.items()}
        # ml_dtypes (optional): numpy dtypes for bf16 / fp8, passed to baracuda as raw storage.
        self._ml = {}
        try:  # pragma: no cover - depends on the environment
            import ml_dtypes

            for name, attr in (("bf16", "bfloat16"), ("f8e4m3", "float8_e4m3fn"), ("f8e5m2", "float8_e5m2")):
                dt = np.dtype(getattr(ml_dtypes, attr))
                self._ml[name] = dt
                self._to_name[dt] = name
                self._from_name[name] = dt
        except ImportError:
            pass
        self._storage = {1: np.dtype("uint8"), 2: np.dtype("int16")}

    def dtype_name(self, a):
        name = self._to_name.get(a.dtype)
        if name is None:
            raise DTypeError(f"numpy dtype {a.dtype} has no baracuda equivalent "
                             f"(supported: {', '.join(str(d) for d in self._to_name)})")
        return name

    def framework_dtype_name(self, dtype):
        try:
            dt = self.np.dtype(dtype)
        except TypeError:
            raise DTypeError(f"not a dtype: {dtype!r}") from None
        name = self._to_name.get(dt)
        if name is None:
            raise DTypeError(f"numpy dtype {dt} has no baracuda equivalent")
        return name

    def dtype(self, name):
        dt = self._from_name.get(name)
        if dt is None:
            raise DTypeError(f"{self.name} has no {name} dtype: use torch tensors for bf16 / fp8 (or install ml_dtypes "
                             f"for numpy), or compute in f32")
        return dt

    def spec(self, a):
        item = a.itemsize
        if a.flags.c_contiguous or a.size == 0:
            strides = None
        else:
            strides = []
            for s in a.strides:
                if s % item:
                    raise ValueError(f"numpy array strides {a.strides} are not multiples of the element size {item}")
                strides.append(s // item)
            strides = tuple(strides)
        return self.dtype_name(a), a.shape, strides

    def device(self, a):
        return "cpu"

    def data_ptr(self, a):
        return a.__array_interface__["data"][0]

    def numel(self, a):
        return a.size

    def arg(self, a, name):
        if name in self._ml and a.dtype == self._ml[name]:
            return (a.view(self._storage[a.itemsize]), name)
        return a

    def empty(self, shape, name, device):
        return self.np.empty(shape, dtype=self.dtype(name))

    def empty_bytes(self, nbytes, device):
        return self.np.empty((nbytes,), dtype=self.np.uint8)

    def stream(self, device):
        return 0

    def broadcast_contiguous(self, t, shape):
        xp = self.cp if hasattr(self, "cp") else self.np
        return xp.ascontiguousarray(xp.broadcast_to(t, shape))

    def sum_to_shape(self, g, shape):
        axes = _reduce_axes(g.shape, shape)
        if axes:
            g = g.sum(axis=axes, keepdims=True, dtype=g.dtype)
        return g.reshape(shape)


class TorchAdapter(_Adapter):
    """torch tensors on CPU or CUDA; runs on torch.cuda.current_stream(device)."""

    name = "torch"

    def __init__(self):
        import torch

        self.torch = torch
        self.array_type = torch.Tensor
        pairs = [("float64", "f64"), ("float32", "f32"), ("float16", "f16"), ("bfloat16", "bf16"),
                 ("float8_e4m3fn", "f8e4m3"), ("float8_e5m2", "f8e5m2"), ("int64", "i64"), ("int32", "i32"),
                 ("int16", "i16"), ("int8", "i8"), ("uint8", "u8"), ("bool", "bool"), ("complex64", "c64"),
                 ("complex128", "c128")]
        self._to_name = {getattr(torch, k): v for k, v in pairs if hasattr(torch, k)}
        self._from_name = {v: k for k, v in self._to_name.items()}
        self._fp8 = {n for n in ("f8e4m3", "f8e5m2") if n in self._from_name}

    def dtype_name(self, t):
        name = self._to_name.get(t.dtype)
        if name is None:
            raise DTypeError(f"torch dtype {t.dtype} has no baracuda equivalent")
        return name

    def framework_dtype_name(self, dtype):
        name = self._to_name.get(dtype)
        if name is None:
            raise DTypeError(f"{dtype!r} has no baracuda equivalent")
        return name

    def dtype(self, name):
        dt = self._from_name.get(name)
        if dt is None:
            raise DTypeError(f"this torch has no {name} dtype")
        return dt

    def spec(self, t):
        dense = t.is_contiguous() or t.numel() == 0
        return self.dtype_name(t), tuple(t.shape), None if dense else tuple(t.stride())

    def device(self, t):
        d = t.device
        if d.type == "cpu":
            return "cpu"
        if d.type == "cuda":
            return f"cuda:{d.index if d.index is not None else self.torch.cuda.current_device()}"
        raise ValueError(f"baracuda takes CPU or CUDA tensors, got a tensor on {d}")

    def data_ptr(self, t):
        return t.data_ptr()

    def numel(self, t):
        return t.numel()

    def arg(self, t, name):
        if t.requires_grad:
            t = t.detach()
        if t.is_complex() and (t.is_conj() or t.is_neg()):  # lazy conj/neg views do not export: materialize
            t = t.resolve_conj().resolve_neg()
        if name in self._fp8:  # DLPack export of float8 is not universal: hand over the bytes
            return (t.view(self.torch.uint8), name)
        # The dtype travels explicitly (bool / bf16 codes differ between DLPack versions).
        return (t, name)

    def _torch_device(self, device, _cache={}):  # noqa: B006 - a per-process cache of torch.device objects
        d = _cache.get(device)
        if d is None:
            d = _cache[device] = self.torch.device(device)
        return d

    def empty(self, shape, name, device):
        return self.torch.empty(shape, dtype=self.dtype(name), device=self._torch_device(device))

    def empty_bytes(self, nbytes, device):
        return self.torch.empty((nbytes,), dtype=self.torch.uint8, device=self._torch_device(device))

    def stream(self, device):
        if device == "cpu":
            return 0
        return self.torch.cuda.current_stream(self._torch_device(device)).cuda_stream

    def broadcast_contiguous(self, t, shape):
        return t.expand(shape).contiguous()

    def sum_to_shape(self, g, shape):
        axes = _reduce_axes(tuple(g.shape), shape)
        if axes:
            g = g.sum(dim=axes, keepdim=True)
        return g.reshape(shape)


class CupyAdapter(NumpyAdapter):
    """CuPy arrays (CUDA); runs on cupy.cuda.get_current_stream()."""

    name = "cupy"

    def __init__(self):
        super().__init__()
        import cupy

        self.cp = cupy
        self.array_type = cupy.ndarray

    def device(self, a):
        return f"cuda:{a.device.id}"

    def data_ptr(self, a):
        return a.data.ptr

    def empty(self, shape, name, device):
        with self.cp.cuda.Device(int(device.split(":")[1])):
            return self.cp.empty(shape, dtype=self.dtype(name))

    def empty_bytes(self, nbytes, device):
        with self.cp.cuda.Device(int(device.split(":")[1])):
            return self.cp.empty((nbytes,), dtype=self.cp.uint8)

    def stream(self, device):
        with self.cp.cuda.Device(int(device.split(":")[1])):
            return self.cp.cuda.get_current_stream().ptr


_FACTORIES = {"numpy": NumpyAdapter, "torch": TorchAdapter, "cupy": CupyAdapter}
_adapters = {}
_by_type = {}


def adapter_of(x):
    """The adapter for a tensor's framework, or None when `x` is not a tensor of a known framework."""
    tp = type(x)
    a = _by_type.get(tp)
    if a is not None:
        return a
    root = (tp.__module__ or "").split(".")[0]
    factory = _FACTORIES.get(root)
    if factory is None:
        return None
    a = _adapters.get(root)
    if a is None:
        a = _adapters[root] = factory()
    _by_type[tp] = a
    return a


def tensor_argument(op, x, what="x", numpy_scalars=True):
    """(adapter, tensor) for the tensor argument `what` of baracuda.ops.`op`; TypeError for anything
    else. numpy_scalars: a numpy scalar becomes a 0-dim array (else it is refused like any non-tensor)."""
    a = adapter_of(x)
    if a is not None and not isinstance(x, a.array_type):
        if numpy_scalars and a.name == "numpy" and isinstance(x, a.np.generic):
            x = a.np.asarray(x)
        else:
            a = None
    if a is None:
        raise TypeError(f"baracuda.ops.{op}: {what} must be a numpy / torch / cupy tensor, got {type(x).__name__}")
    return a, x


def operand_spec(a, t):
    """A tensor's operand spec for the plans: (dtype, shape, strides, is_scalar=False)."""
    dtype, shape, strides = a.spec(t)
    return (dtype, tuple(shape), strides, False)
