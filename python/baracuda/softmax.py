"""Functional layer of the softmax family (re-exported by ``baracuda.ops``).

PyTorch-like signatures (``dim`` is required, negative allowed):

    softmax(x, dim, dtype=None, temperature=1.0, mask=None)
    log_softmax(x, dim, dtype=None, temperature=1.0, mask=None)

``temperature``: softmax(x / temperature). ``mask``: a tensor broadcastable to x, boolean (False
positions become -inf, like ``masked_fill(~mask, -inf)``) or floating (added after the
temperature). ``dtype``: torch's dtype= (x is converted first; 16-bit inputs compute in f32
anyway). A row that is entirely -inf (e.g. fully masked) is NaN, as in torch.

Backward, like torch's ``_softmax_backward_data``: ``softmax_backward(grad, y, dim,
input_dtype=None, temperature=1.0, mask=None) -> dx`` where y is the forward output and dx has
``input_dtype`` (default: y's dtype). A boolean mask zeroes dx where it is False.

Results are allocated with x's framework on x's device; the work runs on the framework's current
stream. Plans are cached per (op, direction, specs, dim, temperature, dtype, device).
"""
from __future__ import annotations

import operator

from . import _C
from ._frameworks import tensor_argument as _tensor, operand_spec as _spec

__all__ = ["softmax", "log_softmax", "softmax_backward", "log_softmax_backward", "softmax_catalog",
           "clear_softmax_plan_cache", "softmax_plan_cache_size"]

_CACHE_LIMIT = 4096
_plan_cache = {}


def softmax_catalog():
    """The softmax ops (dicts with name, differentiable, torch_name, jax_name, family='softmax')."""
    return _C.softmax_catalog()


def clear_softmax_plan_cache():
    _plan_cache.clear()


def softmax_plan_cache_size():
    return len(_plan_cache)


def _dim(op, dim):
    if isinstance(dim, bool):
        raise TypeError(f"baracuda.ops.{op}: dim must be an int, got a bool")
    try:
        return operator.index(dim)
    except TypeError:
        raise TypeError(f"baracuda.ops.{op}: dim must be an int, got {type(dim).__name__}") from None


def _plan(op, direction, spec, dim, temperature, mask_spec, output_dtype, device, stream, grad_spec=None, y_spec=None):
    key = (op, direction, spec, dim, temperature, mask_spec, output_dtype, device, grad_spec, y_spec)
    entry = _plan_cache.get(key)
    if entry is None:
        plan = _C.SoftmaxPlan(op, spec, dim, direction, temperature, mask_spec, output_dtype, device, stream,
                              grad_spec, y_spec)
        entry = (plan, plan.signature["outputs"][0], plan.workspace_size)
        if len(_plan_cache) >= _CACHE_LIMIT:
            _plan_cache.clear()
        _plan_cache[key] = entry
    return entry


def _run(fw, device, stream, entry, inputs, output):
    plan, _, ws = entry
    buf = fw.empty_bytes(ws, device) if ws else None
    plan.run(stream, buf, ws, inputs, [output])


def _mask(op, mask):
    if mask is None:
        return None, None, None
    ma, m = _tensor(op, mask, "mask")
    ms = _spec(ma, m)
    return ms, ma.arg(m, ms[0]), m


def _forward(op, x, dim, dtype=None, temperature=1.0, mask=None):
    fw, x = _tensor(op, x)
    spec = _spec(fw, x)
    dev = fw.device(x)
    stream = fw.stream(dev)
    mspec, marg, _ = _mask(op, mask)
    output_dtype = None if dtype is None else fw.dtype_name_of_target(dtype)
    entry = _plan(op, "forward", spec, _dim(op, dim), float(temperature), mspec, output_dtype, dev, stream)
    out = entry[1]
    y = fw.empty(out[1], out[0], dev)
    inputs = [fw.arg(x, spec[0])] + ([marg] if mspec else [])
    _run(fw, dev, stream, entry, inputs, fw.arg(y, out[0]))
    return y


def _backward(op, grad, y, dim, input_dtype=None, temperature=1.0, mask=None):
    fw, y = _tensor(op + "_backward", y, "y")
    ga, grad = _tensor(op + "_backward", grad, "grad")
    yspec = _spec(fw, y)
    gspec = _spec(ga, grad)
    dev = fw.device(y)
    stream = fw.stream(dev)
    mspec, marg, _ = _mask(op + "_backward", mask)
    x_dtype = yspec[0] if input_dtype is None else fw.dtype_name_of_target(input_dtype)
    xspec = (x_dtype, yspec[1], None, False)
    output_dtype = None if x_dtype == yspec[0] else yspec[0]
    entry = _plan(op, "backward", xspec, _dim(op, dim), float(temperature), mspec, output_dtype, dev, stream,
                  gspec, yspec)
    out = entry[1]
    dx = fw.empty(out[1], out[0], dev)
    inputs = [ga.arg(grad, gspec[0]), fw.arg(y, yspec[0])] + ([marg] if mspec else [])
    _run(fw, dev, stream, entry, inputs, fw.arg(dx, out[0]))
    return dx


def softmax(x, dim, dtype=None, temperature=1.0, mask=None):
    """torch.softmax(x / temperature (+ mask), dim, dtype=dtype)."""
    return _forward("softmax", x, dim, dtype, temperature, mask)


def log_softmax(x, dim, dtype=None, temperature=1.0, mask=None):
    """torch.log_softmax(x / temperature (+ mask), dim, dtype=dtype)."""
    return _forward("log_softmax", x, dim, dtype, temperature, mask)


def softmax_backward(grad, y, dim, input_dtype=None, temperature=1.0, mask=None):
    """dx = y * (grad - sum(grad * y, dim)) / temperature (torch._softmax_backward_data); y: softmax's output."""
    return _backward("softmax", grad, y, dim, input_dtype, temperature, mask)


def log_softmax_backward(grad, y, dim, input_dtype=None, temperature=1.0, mask=None):
    """dx = (grad - exp(y) * sum(grad, dim)) / temperature; y: log_softmax's output."""
    return _backward("log_softmax", grad, y, dim, input_dtype, temperature, mask)
