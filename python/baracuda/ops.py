"""Functional layer: ``baracuda.ops.<name>(*inputs, out=None, **attrs)`` for every elementwise op,
and the reductions (``sum``, ``mean``, ``amax``, ``max``, ``var``, ``norm``, ... with ``dim`` /
``keepdim``; see ``baracuda.reductions``, re-exported here).

Inputs are tensors of any supported framework (numpy on the CPU; torch on CPU or CUDA; CuPy) or
Python numbers, which are scalar operands with PyTorch's promotion (``int32 array * 2.5`` is f32).
Outputs are allocated with the framework of the first tensor input, on its device; ``out=`` writes
into a given tensor (in place when it is exactly an input). CUDA work is enqueued on the current
torch / CuPy stream. Plans are cached per (op, direction, operand specs, attrs, device, alignment).

Backward: ``baracuda.ops.<name>_backward(grad, *inputs, needs_input_grad=None, **attrs)`` returns
one gradient per forward input: None for Python numbers, non-floating inputs, where's condition
and inputs not asked for. Gradients of broadcast inputs are summed to the input's shape with the
framework's own sum (``sum_to_size=False`` returns them at the broadcast shape, as the kernel
writes them).

Attributes are keyword arguments named as ``ElementwiseAttrs``: alpha beta threshold value lambd
negative_slope min_val max_val eps dim scale amax. ``addcmul`` / ``addcdiv`` take PyTorch's
``value=`` (stored as alpha).
"""
from __future__ import annotations

import builtins
import numbers

from . import _C
from ._C import DTypeError, InvalidArgumentError, MisalignedError
from ._frameworks import adapter_of

__all__ = ["clear_plan_cache", "plan_cache_size", "get_plan"]

_CATALOG = {info["name"]: info for info in _C.catalog()}
_FLOATS = frozenset(("f64", "f32", "f16", "bf16"))
_COMPLEX = frozenset(("c64", "c128"))  # differentiable too (PyTorch's conjugate Wirtinger gradients)
_MAX_ALIGNMENT = 16
_CACHE_LIMIT = 8192

_sig_cache = {}
_plan_cache = {}


def clear_plan_cache():
    """Forget every cached plan and signature (every family)."""
    _sig_cache.clear()
    _plan_cache.clear()
    _reductions.clear_reduce_plan_cache()
    _scan.clear_scan_plan_cache()
    _softmax.clear_softmax_plan_cache()
    _norm.clear_norm_plan_cache()
    _loss.clear_loss_plan_cache()
    _gemm.clear_gemm_plan_cache()
    _grouped_gemm.clear_grouped_gemm_plan_cache()


def plan_cache_size():
    return (len(_plan_cache) + _reductions.reduce_plan_cache_size() + _scan.scan_plan_cache_size()
            + _softmax.softmax_plan_cache_size() + _norm.norm_plan_cache_size() + _gemm.gemm_plan_cache_size()
            + _grouped_gemm.grouped_gemm_plan_cache_size())


# ---------------------------------------------------------------------------------------------
# Operands


class _Operands:
    """The classified inputs of one call."""

    __slots__ = ("specs", "args", "shapes", "adapters", "fw", "device", "tensors")

    def __init__(self, op, inputs):
        self.specs = []
        self.args = []
        self.shapes = []
        self.adapters = []
        self.tensors = []  # (adapter, tensor): pointers are only looked at when a plan reports misalignment
        self.fw = None
        self.device = None
        for x in inputs:
            self.add(op, x)
        if self.fw is None:
            raise TypeError(f"baracuda.ops.{op}: needs at least one tensor input (numpy, torch or cupy)")

    def add(self, op, x, scalar_ok=True):
        a = None if _is_number(x) else adapter_of(x)
        if a is not None and not isinstance(x, a.array_type):
            if a.name == "numpy" and isinstance(x, a.np.generic):
                x = x.item()  # a numpy scalar (np.float32(2), np.bool_(True)) is a Python number
            a = None
        if a is None:
            if not (scalar_ok and _is_number(x)):
                raise TypeError(f"baracuda.ops.{op}: inputs must be numpy / torch / cupy tensors or Python "
                                f"numbers, got {type(x).__name__}")
            x, kind = _python_scalar(op, x)
            self.specs.append((kind, (), None, True))
            self.args.append(x)
            self.shapes.append(None)
            self.adapters.append(None)
            return
        dtype, shape, strides = a.spec(x)
        dev = a.device(x)
        if self.fw is None:
            self.fw, self.device = a, dev
        self.specs.append((dtype, shape, strides, False))
        self.args.append(a.arg(x, dtype))
        self.shapes.append(shape)
        self.adapters.append(a)
        self.tensors.append((a, x))


def _is_number(x):
    return isinstance(x, (bool, int, float, complex))  # complex ones are refused by _python_scalar


def _python_scalar(op, x):
    if isinstance(x, bool):
        return bool(x), "bool"
    if isinstance(x, numbers.Integral):
        return int(x), "i64"
    if isinstance(x, numbers.Real):
        return float(x), "f64"
    raise DTypeError(f"baracuda.ops.{op}: complex Python scalars are not supported")


def _alignment(tensors):
    """The largest power of two (<= 16) dividing every non-empty tensor's data pointer."""
    al = _MAX_ALIGNMENT
    for a, t in tensors:
        if a.numel(t):
            p = a.data_ptr(t)
            while p % al:
                al //= 2
    return al


def _attrs_key(attrs):
    return tuple(sorted(attrs.items())) if attrs else ()


def _out_spec(fw, t):
    dtype, shape, strides = fw.spec(t)
    return (dtype, tuple(shape), strides, False)


def _signature(op, direction, specs, output_dtype, attrs, akey, grad_spec=None):
    key = (op, direction, tuple(specs), output_dtype, akey, grad_spec)
    sig = _sig_cache.get(key)
    if sig is None:
        sig = _C.infer_signature(op, specs, direction, output_dtype, attrs, grad_spec)
        if len(_sig_cache) >= _CACHE_LIMIT:
            _sig_cache.clear()
        _sig_cache[key] = sig
    return key, sig


def _plan(key, op, direction, specs, output_dtype, attrs, alignment, device, stream, grad_spec, out_specs):
    pkey = (key, alignment, device, out_specs)
    plan = _plan_cache.get(pkey)
    if plan is None:
        plan = _C.ElementwisePlan(op, specs, direction, output_dtype, attrs, alignment, device, stream, grad_spec,
                                  out_specs)
        if len(_plan_cache) >= _CACHE_LIMIT:  # many distinct shapes: start over rather than grow forever
            _plan_cache.clear()
        _plan_cache[pkey] = plan
    return plan


def get_plan(op, *inputs, direction="forward", output_dtype=None, **attrs):
    """The plan the functional layer would use for these inputs (for explain() / sku inspection)."""
    ops_ = _Operands(op, inputs)
    key, _ = _signature(op, direction, ops_.specs, output_dtype, attrs, _attrs_key(attrs))
    dev = ops_.device
    return _plan(key, op, direction, ops_.specs, output_dtype, attrs, _alignment(ops_.tensors), dev,
                 ops_.fw.stream(dev), None, None)


def _run(plan, fw, device, stream, inputs, outputs):
    ws = plan.workspace_size
    buf = fw.empty_bytes(ws, device) if ws else None
    plan.run(stream, buf, ws, inputs, None, outputs)


def _select_and_run(key, op, direction, specs, output_dtype, attrs, device, fw, stream, grad_spec, out_specs,
                    inputs, outputs, tensors):
    """Runs the plan selected for 16-byte aligned pointers (the common case: no pointer is looked at);
    when an operand is less aligned (a view with an offset), selects for the alignment it has."""
    plan = _plan(key, op, direction, specs, output_dtype, attrs, _MAX_ALIGNMENT, device, stream, grad_spec,
                 out_specs)
    try:
        _run(plan, fw, device, stream, inputs, outputs)
    except MisalignedError:
        alignment = _alignment(tensors)
        if alignment >= _MAX_ALIGNMENT:
            raise
        plan = _plan(key, op, direction, specs, output_dtype, attrs, alignment, device, stream, grad_spec,
                     out_specs)
        _run(plan, fw, device, stream, inputs, outputs)


# ---------------------------------------------------------------------------------------------
# Forward / backward drivers


def _forward(op, inputs, out=None, attrs=None, output_dtype=None):
    info = _CATALOG[op]
    if len(inputs) != info["arity"]:
        raise TypeError(f"baracuda.ops.{op} takes {info['arity']} input(s), got {len(inputs)}")
    attrs = attrs or {}
    o = _Operands(op, inputs)
    fw, dev = o.fw, o.device
    akey = _attrs_key(attrs)
    key, sig = _signature(op, "forward", o.specs, output_dtype, attrs, akey)
    outs_sig = sig["outputs"]
    tensors = list(o.tensors)
    out_specs = None
    if out is None:
        result = [fw.empty(s[1], s[0], dev) for s in outs_sig]
        oargs = [fw.arg(t, s[0]) for t, s in zip(result, outs_sig)]
        tensors += [(fw, t) for t in result]
    else:
        result = list(out) if isinstance(out, (tuple, list)) else [out]
        if len(result) != len(outs_sig):
            raise InvalidArgumentError(f"[elementwise.{op}] out= needs {len(outs_sig)} tensor(s), got {len(result)}")
        oargs, specs = [], []
        for t in result:
            a = adapter_of(t)
            if a is None:
                raise TypeError(f"baracuda.ops.{op}: out= must be a tensor, got {type(t).__name__}")
            spec = _out_spec(a, t)
            specs.append(spec)
            oargs.append(a.arg(t, spec[0]))
            tensors.append((a, t))
        # Describe the given outputs when they differ from the default (dtype, shape, contiguity).
        if builtins.any(sp[:2] != (s[0], tuple(s[1])) or sp[2] is not None for sp, s in zip(specs, outs_sig)):
            out_specs = tuple(specs)
    stream = fw.stream(dev)
    _select_and_run(key, op, "forward", o.specs, output_dtype, attrs, dev, fw, stream, None, out_specs, o.args,
                    oargs, tensors)
    if out is not None:
        return out
    return result[0] if len(result) == 1 else tuple(result)


def _backward(op, grad, inputs, needs_input_grad=None, attrs=None, output_dtype=None, sum_to_size=True):
    info = _CATALOG[op]
    if not info["differentiable"]:
        raise InvalidArgumentError(f"[elementwise.{op}.backward] op is not differentiable")
    if len(inputs) != info["arity"]:
        raise TypeError(f"baracuda.ops.{op}_backward takes grad and {info['arity']} input(s), got {len(inputs)}")
    attrs = attrs or {}
    o = _Operands(op, inputs)
    ga = adapter_of(grad)
    if ga is None:
        raise TypeError(f"baracuda.ops.{op}_backward: grad must be a tensor, got {type(grad).__name__}")
    gdtype, gshape, gstrides = ga.spec(grad)
    grad_spec = (gdtype, tuple(gshape), gstrides, False)
    fw, dev = o.fw, o.device
    akey = _attrs_key(attrs)
    key, sig = _signature(op, "backward", o.specs, output_dtype, attrs, akey, grad_spec)
    if needs_input_grad is None:
        needs = [s[3] is False and (s[0] in _FLOATS or s[0] in _COMPLEX) for s in o.specs]
        if info["category"] == "where":
            needs[0] = False
    else:
        needs = list(needs_input_grad)
        if len(needs) != len(inputs):
            raise ValueError(f"baracuda.ops.{op}_backward: needs_input_grad has {len(needs)} entries, "
                             f"the op has {len(inputs)} inputs")
        needs = [bool(n) and not o.specs[i][3] for i, n in enumerate(needs)]
    grads = [fw.empty(s[1], s[0], dev) if need else None for need, s in zip(needs, sig["outputs"])]
    tensors = o.tensors + [(ga, grad)] + [(fw, g) for g in grads if g is not None]
    stream = fw.stream(dev)
    gargs = [None if g is None else fw.arg(g, s[0]) for g, s in zip(grads, sig["outputs"])]
    _select_and_run(key, op, "backward", o.specs, output_dtype, attrs, dev, fw, stream, grad_spec, None,
                    [ga.arg(grad, gdtype)] + o.args, gargs, tensors)
    if sum_to_size:
        for i, g in enumerate(grads):
            if g is not None and tuple(o.shapes[i]) != tuple(sig["outputs"][i][1]):
                grads[i] = fw.sum_to_shape(g, tuple(o.shapes[i]))
    return tuple(grads)


# ---------------------------------------------------------------------------------------------
# Generated functions for every op in the catalog, then the special signatures.


def _doc(info, backward=False):
    alt = ", ".join(n for n in (info["torch_name"], info["jax_name"]) if n)
    if backward:
        return (f"Backward of baracuda.ops.{info['name']}: (grad, *inputs, needs_input_grad=None, "
                f"sum_to_size=True, **attrs) -> one gradient (or None) per forward input.")
    return (f"baracuda elementwise op {info['name']} ({info['category']}, {info['arity']} input(s)); "
            f"like {alt}. Keyword attributes are ElementwiseAttrs fields; out= writes into a given tensor.")


def _make_forward(name):
    def fn(*inputs, out=None, **attrs):
        return _forward(name, inputs, out, attrs)

    return fn


def _make_backward(name):
    def fn(grad, *inputs, needs_input_grad=None, sum_to_size=True, **attrs):
        return _backward(name, grad, inputs, needs_input_grad, attrs, sum_to_size=sum_to_size)

    return fn


for _name, _info in _CATALOG.items():
    _f = _make_forward(_name)
    _f.__name__ = _f.__qualname__ = _name
    _f.__doc__ = _doc(_info)
    globals()[_name] = _f
    __all__.append(_name)
    if _info["differentiable"]:
        _b = _make_backward(_name)
        _b.__name__ = _b.__qualname__ = _name + "_backward"
        _b.__doc__ = _doc(_info, backward=True)
        globals()[_name + "_backward"] = _b
        __all__.append(_name + "_backward")
del _name, _info, _f, _b


def cast(x, dtype, scale=1.0, amax=False, out=None):
    """y = convert(x * scale) to `dtype` (round to nearest even; fp8 saturates). `dtype` is a framework
    dtype or a name ('bf16', 'float8_e4m3fn', ...). With amax=True returns (y, amax) where amax is
    an f32 tensor of one element holding max|x| (before scaling)."""
    a = adapter_of(x)
    if a is None:
        raise TypeError(f"baracuda.ops.cast: x must be a tensor, got {type(x).__name__}")
    target = a.dtype_name_of_target(dtype)
    attrs = {}
    if scale != 1.0:
        attrs["scale"] = float(scale)
    if amax:
        attrs["amax"] = True
    return _forward("cast", (x,), out, attrs, output_dtype=target)


def cast_backward(grad, x, dtype=None, scale=1.0, needs_input_grad=None):
    """Gradient of cast: grad * scale converted back to x's dtype. `dtype` is the forward target
    (default: grad's dtype)."""
    ga = adapter_of(grad)
    if ga is None:
        raise TypeError(f"baracuda.ops.cast_backward: grad must be a tensor, got {type(grad).__name__}")
    target = ga.dtype_name(grad) if dtype is None else ga.dtype_name_of_target(dtype)
    attrs = {"scale": float(scale)} if scale != 1.0 else {}
    return _backward("cast", grad, (x,), needs_input_grad, attrs, output_dtype=target)


def _gated(name):
    def fn(x, dim=-1, out=None):
        return _forward(name, (x,), out, {"dim": int(dim)})

    def bwd(grad, x, dim=-1, needs_input_grad=None):
        return _backward(name, grad, (x,), needs_input_grad, {"dim": int(dim)})

    fn.__name__ = fn.__qualname__ = name
    bwd.__name__ = bwd.__qualname__ = name + "_backward"
    fn.__doc__ = (f"{name}(x, dim=-1): x split in halves a, b along dim; "
                  f"{'a * sigmoid(b)' if name == 'glu' else _CATALOG[name]['torch_name']}.")
    bwd.__doc__ = f"Backward of {name}: (grad, x, dim=-1) -> (dx,)."
    return fn, bwd


glu, glu_backward = _gated("glu")
swiglu, swiglu_backward = _gated("swiglu")
geglu, geglu_backward = _gated("geglu")
geglu_tanh, geglu_tanh_backward = _gated("geglu_tanh")
reglu, reglu_backward = _gated("reglu")


def prelu(x, weight, out=None):
    """PReLU: x >= 0 ? x : weight[channel] * x; weight has 1 or x.shape[1] elements."""
    return _forward("prelu", (x, weight), out)


def prelu_backward(grad, x, weight, needs_input_grad=None):
    """(dx, dweight); dweight is reduced to weight's shape."""
    return _backward("prelu", grad, (x, weight), needs_input_grad)


def where(cond, a, b, out=None):
    """cond ? a : b (cond bool or uint8; a, b tensors or Python numbers; result promote(a, b))."""
    return _forward("where", (cond, a, b), out)


def where_backward(grad, cond, a, b, needs_input_grad=None, sum_to_size=True):
    """(None, da, db)."""
    return _backward("where", grad, (cond, a, b), needs_input_grad, sum_to_size=sum_to_size)


def clamp(x, min=None, max=None, out=None):  # noqa: A002 - PyTorch's names
    """min(max(x, min), max); min / max are tensors or Python numbers, one of them may be None."""
    if min is None and max is None:
        raise InvalidArgumentError("[elementwise.clamp] at least one of min and max must be given")
    if max is None:
        return _forward("clamp_min", (x, min), out)
    if min is None:
        return _forward("clamp_max", (x, max), out)
    return _forward("clamp", (x, min, max), out)


def clamp_backward(grad, x, min=None, max=None, needs_input_grad=None, sum_to_size=True):  # noqa: A002
    """(dx, dmin, dmax); None for Python-number bounds."""
    if min is None and max is None:
        raise InvalidArgumentError("[elementwise.clamp.backward] at least one of min and max must be given")
    if max is None or min is None:
        op, bound = ("clamp_min", min) if max is None else ("clamp_max", max)
        needs = None if needs_input_grad is None else (needs_input_grad[0], needs_input_grad[1 if max is None else 2])
        gx, gb = _backward(op, grad, (x, bound), needs, sum_to_size=sum_to_size)
        return (gx, gb, None) if max is None else (gx, None, gb)
    return _backward("clamp", grad, (x, min, max), needs_input_grad, sum_to_size=sum_to_size)


def _with_value(name):
    def fn(x, t1, t2, value=1.0, out=None):
        return _forward(name, (x, t1, t2), out, {"alpha": value} if value != 1.0 else None)

    def bwd(grad, x, t1, t2, value=1.0, needs_input_grad=None, sum_to_size=True):
        return _backward(name, grad, (x, t1, t2), needs_input_grad, {"alpha": value} if value != 1.0 else None,
                         sum_to_size=sum_to_size)

    fn.__name__ = fn.__qualname__ = name
    bwd.__name__ = bwd.__qualname__ = name + "_backward"
    op = "*" if name == "addcmul" else "/"
    fn.__doc__ = f"x + value * t1 {op} t2 (torch.{name})."
    bwd.__doc__ = f"Backward of {name}: (dx, dt1, dt2)."
    return fn, bwd


addcmul, addcmul_backward = _with_value("addcmul")
addcdiv, addcdiv_backward = _with_value("addcdiv")


# ---------------------------------------------------------------------------------------------
# Reductions (baracuda.reductions), re-exported. They shadow the builtins sum / max / min / any /
# all in this module's namespace: code above uses builtins.<name> for those.

from . import reductions as _reductions  # noqa: E402
from .reductions import *  # noqa: E402,F401,F403

_clash = set(__all__) & set(_reductions.__all__)
assert not _clash, f"elementwise and reduction functions share names: {sorted(_clash)}"
__all__ += _reductions.__all__
del _clash

# Scans (baracuda.scan), re-exported.
from . import scan as _scan  # noqa: E402
from .scan import *  # noqa: E402,F401,F403

assert not set(__all__) & set(_scan.__all__), "scan functions clash with other ops"
__all__ += _scan.__all__
# Normalization (baracuda.norm), re-exported.
from . import norm as _norm  # noqa: E402
from .norm import *  # noqa: E402,F401,F403

_clash = set(__all__) & set(_norm.__all__)
assert not _clash, f"norm functions clash with other ops: {sorted(_clash)}"
__all__ += _norm.__all__
# Softmax / log_softmax (baracuda.softmax), re-exported.
from . import softmax as _softmax  # noqa: E402
from .softmax import *  # noqa: E402,F401,F403

_clash = set(__all__) & set(_softmax.__all__)
assert not _clash, f"softmax functions clash with other ops: {sorted(_clash)}"
__all__ += _softmax.__all__
# Losses (baracuda.loss), re-exported.
from . import loss as _loss  # noqa: E402
from .loss import *  # noqa: E402,F401,F403

_clash = set(__all__) & set(_loss.__all__)
assert not _clash, f"loss functions share names with other ops: {sorted(_clash)}"
__all__ += _loss.__all__
# GEMM (baracuda.gemm), re-exported.
from . import gemm as _gemm  # noqa: E402
from .gemm import *  # noqa: E402,F401,F403

_clash = set(__all__) & set(_gemm.__all__)
assert not _clash, f"gemm functions share names with other ops: {sorted(_clash)}"
__all__ += _gemm.__all__
# Grouped GEMM (baracuda.grouped_gemm), re-exported.
from . import grouped_gemm as _grouped_gemm  # noqa: E402
from .grouped_gemm import *  # noqa: E402,F401,F403

_clash = set(__all__) & set(_grouped_gemm.__all__)
assert not _clash, f"grouped gemm functions share names with other ops: {sorted(_clash)}"
__all__ += _grouped_gemm.__all__
del _clash
