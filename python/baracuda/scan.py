"""Functional layer of the scan family (re-exported by ``baracuda.ops``).

PyTorch-like signatures, with JAX's options (``exclusive``: y[i] combines x[0..i-1]; ``reverse``:
the scan runs from the end, as ``jax.lax.cumsum(reverse=True)``):

    cumsum / cumprod(x, dim, dtype=None, exclusive=False, reverse=False)
    cummax / cummin(x, dim, reverse=False) -> (values, indices int64)
    logcumsumexp(x, dim, exclusive=False, reverse=False)

Backward: ``<name>_backward(grad, x, <same keywords>) -> dx`` (x's shape and dtype). cumprod's is
exact where x holds zeros; cummax/cummin's adds each output's gradient onto the index it took.

Dtype rules follow PyTorch: integer/bool cumsum and cumprod return int64 (dtype= overrides and
converts the input first); cummax/cummin keep x's dtype, ties take the LAST index and NaN
propagates (torch's behaviour); logcumsumexp needs a floating input. Results are allocated with
x's framework on x's device; the work runs on the framework's current stream. Plans are cached per
(op, direction, specs, dim, options, dtype, device).
"""
from __future__ import annotations

import operator

from . import _C
from ._frameworks import tensor_argument as _tensor, operand_spec as _spec

__all__ = ["scan_catalog", "get_scan_plan", "clear_scan_plan_cache", "scan_plan_cache_size"]

_CACHE_LIMIT = 4096
_plan_cache = {}


def scan_catalog():
    """Every scan op (dicts with name, differentiable, torch_name, jax_name, family='scan')."""
    return _C.scan_catalog()


def clear_scan_plan_cache():
    _plan_cache.clear()


def scan_plan_cache_size():
    return len(_plan_cache)


def _dim(op, dim):
    if isinstance(dim, bool) or dim is None:
        raise TypeError(f"baracuda.ops.{op}: dim must be an int, got {type(dim).__name__}")
    try:
        return operator.index(dim)
    except TypeError:
        raise TypeError(f"baracuda.ops.{op}: dim must be an int, got {type(dim).__name__}") from None


def _plan(op, direction, spec, dim, exclusive, reverse, output_dtype, device, stream, grad_spec=None):
    key = (op, direction, spec, dim, exclusive, reverse, output_dtype, device, grad_spec)
    entry = _plan_cache.get(key)
    if entry is None:
        plan = _C.ScanPlan(op, spec, dim, exclusive, reverse, direction, output_dtype, device, stream, grad_spec)
        entry = (plan, plan.signature["outputs"], plan.workspace_size)
        if len(_plan_cache) >= _CACHE_LIMIT:
            _plan_cache.clear()
        _plan_cache[key] = entry
    return entry


def _run(fw, device, stream, entry, inputs, outputs):
    plan, _, ws = entry
    buf = fw.empty_bytes(ws, device) if ws else None
    plan.run(stream, buf, ws, inputs, outputs)


def _output_dtype(fw, dtype):
    return None if dtype is None else fw.dtype_name_of_target(dtype)


def _forward(op, x, dim, exclusive=False, reverse=False, dtype=None):
    fw, x = _tensor(op, x)
    spec = _spec(fw, x)
    dev = fw.device(x)
    stream = fw.stream(dev)
    entry = _plan(op, "forward", spec, _dim(op, dim), bool(exclusive), bool(reverse), _output_dtype(fw, dtype), dev,
                  stream)
    outs = entry[1]
    result = [fw.empty(s[1], s[0], dev) for s in outs]
    _run(fw, dev, stream, entry, [fw.arg(x, spec[0])], [fw.arg(t, s[0]) for t, s in zip(result, outs)])
    return result[0] if len(result) == 1 else tuple(result)


def _backward(op, grad, x, dim, exclusive=False, reverse=False, dtype=None):
    fw, x = _tensor(op + "_backward", x)
    spec = _spec(fw, x)
    dev = fw.device(x)
    stream = fw.stream(dev)
    ga, g = _tensor(op + "_backward", grad, "grad")
    gspec = _spec(ga, g)
    entry = _plan(op, "backward", spec, _dim(op, dim), bool(exclusive), bool(reverse), _output_dtype(fw, dtype), dev,
                  stream, gspec)
    s = entry[1][0]
    dx = fw.empty(s[1], s[0], dev)
    _run(fw, dev, stream, entry, [ga.arg(g, gspec[0]), fw.arg(x, spec[0])], [fw.arg(dx, s[0])])
    return dx


def get_scan_plan(op, x, dim, exclusive=False, reverse=False, dtype=None):
    """The forward plan the functional layer would use for x (for explain() / sku inspection)."""
    fw, x = _tensor(op, x)
    dev = fw.device(x)
    return _plan(op, "forward", _spec(fw, x), _dim(op, dim), bool(exclusive), bool(reverse), _output_dtype(fw, dtype),
                 dev, fw.stream(dev))[0]


def cumsum(x, dim, dtype=None, exclusive=False, reverse=False):
    """Cumulative sum along dim (torch.cumsum; integer/bool inputs give int64)."""
    return _forward("cumsum", x, dim, exclusive, reverse, dtype)


def cumsum_backward(grad, x, dim, dtype=None, exclusive=False, reverse=False):
    """dx of cumsum: the cumsum of grad in the opposite direction."""
    return _backward("cumsum", grad, x, dim, exclusive, reverse, dtype)


def cumprod(x, dim, dtype=None, exclusive=False, reverse=False):
    """Cumulative product along dim (torch.cumprod; integer/bool inputs give int64)."""
    return _forward("cumprod", x, dim, exclusive, reverse, dtype)


def cumprod_backward(grad, x, dim, dtype=None, exclusive=False, reverse=False):
    """dx of cumprod, exact where x holds zeros (products of the other factors, no division)."""
    return _backward("cumprod", grad, x, dim, exclusive, reverse, dtype)


def cummax(x, dim, reverse=False):
    """(values, indices int64) of the running maximum (torch.cummax: ties take the last index, NaN propagates)."""
    return _forward("cummax", x, dim, False, reverse)


def cummax_backward(grad, x, dim, reverse=False):
    """dx of cummax's values: each grad element added onto the index its output took."""
    return _backward("cummax", grad, x, dim, False, reverse)


def cummin(x, dim, reverse=False):
    """(values, indices int64) of the running minimum (torch.cummin: ties take the last index, NaN propagates)."""
    return _forward("cummin", x, dim, False, reverse)


def cummin_backward(grad, x, dim, reverse=False):
    """dx of cummin's values: each grad element added onto the index its output took."""
    return _backward("cummin", grad, x, dim, False, reverse)


def logcumsumexp(x, dim, exclusive=False, reverse=False):
    """log(cumsum(exp(x))) along dim without overflow (torch.logcumsumexp); floating inputs only."""
    return _forward("logcumsumexp", x, dim, exclusive, reverse)


def logcumsumexp_backward(grad, x, dim, exclusive=False, reverse=False):
    """dx of logcumsumexp: sum over the outputs j that include x_i of grad_j exp(x_i - y_j)."""
    return _backward("logcumsumexp", grad, x, dim, exclusive, reverse)


__all__ += [name for op in ("cumsum", "cumprod", "cummax", "cummin", "logcumsumexp") for name in (op, op + "_backward")]
