"""Functional layer of the reduction family (re-exported by ``baracuda.ops``).

PyTorch-like signatures; ``dim`` is None (every dim), an int or a tuple of ints (negative allowed):

    sum / mean / prod / nansum / nanmean(x, dim=None, keepdim=False, dtype=None)
    amax / amin(x, dim=None, keepdim=False)
    max / min(x, dim=None, keepdim=False) -> (values, indices i64); dim=None: the value only (torch.max(x))
    argmax / argmin(x, dim=None, keepdim=False) -> indices i64 (dim=None: index into the flattened x)
    var / std(x, dim=None, correction=1, keepdim=False); var_mean(...) -> (var, mean)
    norm(x, ord=2, dim=None, keepdim=False, dtype=None)     torch.linalg.vector_norm semantics
    logsumexp(x, dim, keepdim=False)
    any / all / count_nonzero(x, dim=None, keepdim=False)

Backward, for every differentiable op: ``<name>_backward(grad, x, <same keywords>) -> dx`` (x's
shape and dtype); ``var_mean_backward(grad_var, grad_mean, x, ...)`` (a None gradient counts as
zeros). ``max_backward`` / ``min_backward`` with a dim give the whole gradient to the returned
index (torch.max(dim)); amax/amin (and max/min with dim=None) share it evenly among tied extrema.

Results are allocated with x's framework on x's device; the work runs on the framework's current
stream. Plans are cached per (op, direction, specs, dims, keepdim, correction, p, dtype, device).
Dtype rules follow PyTorch: integer/bool sum and prod return int64, mean/var/std/norm need a
floating input (or dtype=), argmax and the indices of max/min are int64.
"""
from __future__ import annotations

import math
import operator

from . import _C
from ._C import InvalidArgumentError
from ._frameworks import tensor_argument as _tensor, operand_spec as _spec

__all__ = ["reduce_catalog", "get_reduce_plan", "clear_reduce_plan_cache", "reduce_plan_cache_size"]

_REDUCE_CATALOG = {info["name"]: info for info in _C.reduce_catalog()}
_CACHE_LIMIT = 4096
_plan_cache = {}


def reduce_catalog():
    """Every reduction op (dicts with name, differentiable, torch_name, jax_name, family='reduce')."""
    return _C.reduce_catalog()


def clear_reduce_plan_cache():
    _plan_cache.clear()


def reduce_plan_cache_size():
    return len(_plan_cache)


# ---------------------------------------------------------------------------------------------
# Drivers


def _dims(op, dim):
    """dim -> tuple of ints (() = every dim)."""
    if dim is None:
        return ()
    if isinstance(dim, bool):
        raise TypeError(f"baracuda.ops.{op}: dim must be None, an int or a tuple of ints, got a bool")
    if isinstance(dim, (tuple, list)):
        out = []
        for d in dim:
            if isinstance(d, bool):
                raise TypeError(f"baracuda.ops.{op}: dim entries must be ints, got a bool")
            out.append(operator.index(d))
        return tuple(out)
    try:
        return (operator.index(dim),)
    except TypeError:
        raise TypeError(f"baracuda.ops.{op}: dim must be None, an int or a tuple of ints, "
                        f"got {type(dim).__name__}") from None


def _plan(op, direction, spec, axes, keepdim, correction, p, output_dtype, device, stream, grad_specs=None):
    key = (op, direction, spec, axes, keepdim, correction, p, output_dtype, device, grad_specs)
    entry = _plan_cache.get(key)
    if entry is None:
        plan = _C.ReducePlan(op, spec, axes, keepdim, direction, correction, p, output_dtype, device, stream,
                             grad_specs)
        entry = (plan, plan.signature["outputs"], plan.workspace_size)
        if len(_plan_cache) >= _CACHE_LIMIT:  # many distinct shapes: start over rather than grow forever
            _plan_cache.clear()
        _plan_cache[key] = entry
    return entry


def _run(fw, device, stream, entry, inputs, outputs):
    plan, _, ws = entry
    buf = fw.empty_bytes(ws, device) if ws else None
    plan.run(stream, buf, ws, inputs, outputs)


def _output_dtype(fw, dtype):
    return None if dtype is None else fw.dtype_name_of_target(dtype)


def _forward(op, x, dim=None, keepdim=False, correction=1.0, p=2.0, dtype=None):
    fw, x = _tensor(op, x)
    spec = _spec(fw, x)
    dev = fw.device(x)
    stream = fw.stream(dev)
    axes = _dims(op, dim)
    entry = _plan(op, "forward", spec, axes, bool(keepdim), float(correction), float(p), _output_dtype(fw, dtype),
                  dev, stream)
    outs = entry[1]
    result = [fw.empty(s[1], s[0], dev) for s in outs]
    _run(fw, dev, stream, entry, [fw.arg(x, spec[0])], [fw.arg(t, s[0]) for t, s in zip(result, outs)])
    return result[0] if len(result) == 1 else tuple(result)


def _backward(op, grads, x, dim=None, keepdim=False, correction=1.0, p=2.0, dtype=None):
    if not _REDUCE_CATALOG[op]["differentiable"]:
        raise InvalidArgumentError(f"[reduce.{op}.backward] op is not differentiable")
    fw, x = _tensor(op + "_backward", x)
    spec = _spec(fw, x)
    dev = fw.device(x)
    stream = fw.stream(dev)
    axes = _dims(op, dim)
    keepdim = bool(keepdim)
    output_dtype = _output_dtype(fw, dtype)
    gargs, gspecs = [], []
    missing = [i for i, g in enumerate(grads) if g is None]
    if missing:  # a result whose gradient is not wanted: zeros of the shape select() infers
        sig = _C.reduce_infer_signature(op, spec, axes, keepdim, "backward", float(correction), float(p),
                                        output_dtype)
        grads = list(grads)
        for i in missing:
            dt, shape = sig["inputs"][i][:2]
            z = fw.empty(shape, dt, dev)
            z[...] = 0
            grads[i] = z
    for g in grads:
        ga, g = _tensor(op + "_backward", g, "grad")
        gs = _spec(ga, g)
        gspecs.append(gs)
        gargs.append(ga.arg(g, gs[0]))
    entry = _plan(op, "backward", spec, axes, keepdim, float(correction), float(p), output_dtype, dev, stream,
                  tuple(gspecs))
    s = entry[1][0]
    dx = fw.empty(s[1], s[0], dev)
    _run(fw, dev, stream, entry, gargs + [fw.arg(x, spec[0])], [fw.arg(dx, s[0])])
    return dx


def get_reduce_plan(op, x, dim=None, keepdim=False, direction="forward", correction=1.0, p=2.0, dtype=None):
    """The (forward) plan the functional layer would use for x (for explain() / sku inspection)."""
    if direction != "forward":
        raise InvalidArgumentError(f"[reduce.{op}] get_reduce_plan builds forward plans; use baracuda.ReducePlan "
                                   f"for backward ones")
    fw, x = _tensor(op, x)
    dev = fw.device(x)
    return _plan(op, "forward", _spec(fw, x), _dims(op, dim), bool(keepdim), float(correction), float(p),
                 _output_dtype(fw, dtype), dev, fw.stream(dev))[0]


# ---------------------------------------------------------------------------------------------
# The functions


def _with_dtype(name):
    def fn(x, dim=None, keepdim=False, dtype=None):
        return _forward(name, x, dim, keepdim, dtype=dtype)

    def bwd(grad, x, dim=None, keepdim=False, dtype=None):
        return _backward(name, (grad,), x, dim, keepdim, dtype=dtype)

    return fn, bwd


def _plain(name):
    def fn(x, dim=None, keepdim=False):
        return _forward(name, x, dim, keepdim)

    def bwd(grad, x, dim=None, keepdim=False):
        return _backward(name, (grad,), x, dim, keepdim)

    return fn, bwd


def _corrected(name):
    def fn(x, dim=None, correction=1, keepdim=False):
        return _forward(name, x, dim, keepdim, correction=correction)

    def bwd(grad, x, dim=None, correction=1, keepdim=False):
        return _backward(name, (grad,), x, dim, keepdim, correction=correction)

    return fn, bwd


def _extreme(name, whole):
    def fn(x, dim=None, keepdim=False):
        if dim is None:  # torch.max(x): the value only
            return _forward(whole, x, None, keepdim)
        return _forward(name, x, dim, keepdim)

    def bwd(grad, x, dim=None, keepdim=False):
        if dim is None:
            return _backward(whole, (grad,), x, None, keepdim)
        return _backward(name, (grad,), x, dim, keepdim)

    return fn, bwd


def var_mean(x, dim=None, correction=1, keepdim=False):
    return _forward("var_mean", x, dim, keepdim, correction=correction)


def var_mean_backward(grad_var, grad_mean, x, dim=None, correction=1, keepdim=False):
    return _backward("var_mean", (grad_var, grad_mean), x, dim, keepdim, correction=correction)


def _ord(ord):  # noqa: A002 - torch's name
    if isinstance(ord, str):
        if ord in ("inf", "+inf"):
            return math.inf
        if ord == "-inf":
            return -math.inf
        raise InvalidArgumentError(f"[reduce.norm] ord must be a number (or 'inf' / '-inf'), got {ord!r}")
    return float(ord)


def norm(x, ord=2, dim=None, keepdim=False, dtype=None):  # noqa: A002
    return _forward("norm", x, dim, keepdim, p=_ord(ord), dtype=dtype)


def norm_backward(grad, x, ord=2, dim=None, keepdim=False, dtype=None):  # noqa: A002
    return _backward("norm", (grad,), x, dim, keepdim, p=_ord(ord), dtype=dtype)


def logsumexp(x, dim, keepdim=False):
    return _forward("logsumexp", x, dim, keepdim)


def logsumexp_backward(grad, x, dim, keepdim=False):
    return _backward("logsumexp", (grad,), x, dim, keepdim)


def _nondiff(name):
    def fn(x, dim=None, keepdim=False):
        return _forward(name, x, dim, keepdim)

    return fn


sum, sum_backward = _with_dtype("sum")  # noqa: A001 - PyTorch's names
mean, mean_backward = _with_dtype("mean")
prod, prod_backward = _with_dtype("prod")
nansum, nansum_backward = _with_dtype("nansum")
nanmean, nanmean_backward = _with_dtype("nanmean")
amax, amax_backward = _plain("amax")
amin, amin_backward = _plain("amin")
max, max_backward = _extreme("max", "amax")  # noqa: A001
min, min_backward = _extreme("min", "amin")  # noqa: A001
var, var_backward = _corrected("var")
std, std_backward = _corrected("std")
argmax = _nondiff("argmax")
argmin = _nondiff("argmin")
any = _nondiff("any")  # noqa: A001
all = _nondiff("all")  # noqa: A001
count_nonzero = _nondiff("count_nonzero")

_DOCS = {
    "sum": "Sum over dim (None: every dim); dtype= is the result dtype (integer/bool inputs: int64).",
    "mean": "Mean over dim; needs a floating input or a floating dtype=; empty groups give NaN.",
    "prod": "Product over dim; dtype= is the result dtype (integer/bool inputs: int64).",
    "nansum": "Sum over dim treating NaN as zero.",
    "nanmean": "Mean over dim of the non-NaN elements.",
    "amax": "Maximum over dim (NaN propagates); raises InvalidArgumentError for empty groups.",
    "amin": "Minimum over dim (NaN propagates); raises InvalidArgumentError for empty groups.",
    "max": "(values, indices) over dim (torch.max(x, dim)); dim=None: the maximum only.",
    "min": "(values, indices) over dim (torch.min(x, dim)); dim=None: the minimum only.",
    "argmax": "Index (int64) of the first maximum over dim; dim=None: into the flattened input.",
    "argmin": "Index (int64) of the first minimum over dim; dim=None: into the flattened input.",
    "var": "Variance over dim, dividing by N - correction.",
    "std": "Standard deviation over dim, dividing by N - correction.",
    "var_mean": "(var, mean) over dim.",
    "norm": "Vector norm over dim (torch.linalg.vector_norm): ord any real, +-inf, 0 (count of nonzeros).",
    "logsumexp": "log(sum(exp(x))) over dim, max-shifted.",
    "any": "Whether any element over dim is nonzero (bool; uint8 for uint8 inputs).",
    "all": "Whether every element over dim is nonzero (bool; uint8 for uint8 inputs).",
    "count_nonzero": "Number (int64) of nonzero elements over dim.",
}

for _name, _info in _REDUCE_CATALOG.items():
    _f = globals()[_name]
    _f.__name__ = _f.__qualname__ = _name
    _alt = ", ".join(n for n in (_info["torch_name"], _info["jax_name"]) if n)
    _f.__doc__ = f"baracuda reduction {_name}: {_DOCS.get(_name, '')} Like {_alt}."
    __all__.append(_name)
    if _info["differentiable"]:
        _b = globals()[_name + "_backward"]
        _b.__name__ = _b.__qualname__ = _name + "_backward"
        _b.__doc__ = (f"Backward of baracuda.ops.{_name}: (grad{'_var, grad_mean' if _name == 'var_mean' else ''}, "
                      f"x, <the forward's keywords>) -> dx (x's shape and dtype).")
        __all__.append(_name + "_backward")
del _name, _info, _f, _b, _alt
