"""Functional layer of the normalization family (re-exported by ``baracuda.ops``).

PyTorch-like signatures (``normalized_shape`` an int or a tuple of trailing dims):

    layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5, return_stats=False)
        -> y, or (y, mean, rstd) with return_stats (stats f32, f64 for f64 x; shape x.shape[:-k])
    rms_norm(x, normalized_shape, weight=None, eps=None, return_stats=False) -> y or (y, rstd)
        eps=None: the epsilon of the math dtype (f32 for f16/bf16/f32, f64 for f64), as torch
    add_layer_norm(x, residual, normalized_shape, weight=None, bias=None, eps=1e-5, return_stats=False)
        -> (y, x + residual) [+ (mean, rstd)]: the fused residual add of LLM inference
    add_rms_norm(x, residual, normalized_shape, weight=None, eps=None, return_stats=False)
        -> (y, x + residual) [+ (rstd,)]
    group_norm(x, num_groups, weight=None, bias=None, eps=1e-5, return_stats=False)   stats (N, G)
    instance_norm(x, weight=None, bias=None, eps=1e-5, return_stats=False)            stats (N, C)
    batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5, return_stats=False)
        training: batch statistics; running_mean/running_var (when given) are updated in place with
        torch's rule (momentum, unbiased variance). Eval: normalizes with the running statistics.

Backward (dweight/dbias are None when the forward had no weight/bias):

    layer_norm_backward(grad, x, mean, rstd, normalized_shape, weight=None, bias=False) -> (dx, dweight, dbias)
    rms_norm_backward(grad, x, rstd, normalized_shape, weight=None) -> (dx, dweight)
    add_layer_norm_backward(grad, grad_sum, sum, mean, rstd, normalized_shape, weight=None, bias=False)
        -> (dx, dweight, dbias); dx is the gradient of both x and residual
    add_rms_norm_backward(grad, grad_sum, sum, rstd, normalized_shape, weight=None) -> (dx, dweight)
    group_norm_backward(grad, x, mean, rstd, num_groups, weight=None, bias=False) -> (dx, dweight, dbias)
    instance_norm_backward(grad, x, mean, rstd, weight=None, bias=False) -> (dx, dweight, dbias)
    batch_norm_backward(grad, x, mean, rstd, weight=None, bias=False, training=True,
                        running_mean=None, running_var=None, eps=1e-5) -> (dx, dweight, dbias)
        (eval mode takes running_mean/running_var instead of the saved mean/rstd)

``bias`` in a backward only says whether dbias is wanted (a tensor or True); layer_norm_backward and
rms_norm_backward take ``param_grads=False`` for dx only (dweight/dbias returned as None). Weights may be x's
dtype or f32 (f32 parameters with 16-bit activations). Results are allocated with x's framework on
x's device; the work runs on the framework's current stream.
"""
from __future__ import annotations

import operator

from . import _C
from ._frameworks import tensor_argument

__all__ = [
    "norm_catalog", "clear_norm_plan_cache", "norm_plan_cache_size",
    "layer_norm", "layer_norm_backward", "rms_norm", "rms_norm_backward",
    "add_layer_norm", "add_layer_norm_backward", "add_rms_norm", "add_rms_norm_backward",
    "group_norm", "group_norm_backward", "instance_norm", "instance_norm_backward",
    "batch_norm", "batch_norm_backward",
]

_CACHE_LIMIT = 4096
_plan_cache = {}


def norm_catalog():
    """Every normalization op (dicts with name, differentiable, torch_name, jax_name, family='norm')."""
    return _C.norm_catalog()


def clear_norm_plan_cache():
    _plan_cache.clear()


def norm_plan_cache_size():
    return len(_plan_cache)


def _tensor(op, x, what="x"):
    return tensor_argument(op, x, what, numpy_scalars=False)


def _shape(op, normalized_shape):
    if isinstance(normalized_shape, bool):
        raise TypeError(f"baracuda.ops.{op}: normalized_shape must be an int or a tuple of ints")
    if isinstance(normalized_shape, (tuple, list)):
        return tuple(operator.index(d) for d in normalized_shape)
    try:
        return (operator.index(normalized_shape),)
    except TypeError:
        try:  # torch.Size and other sequences
            return tuple(operator.index(d) for d in normalized_shape)
        except TypeError:
            raise TypeError(f"baracuda.ops.{op}: normalized_shape must be an int or a tuple of ints") from None


def _run(op, direction, fw, x, inputs, *, normalized_shape=None, weight=True, bias=True, param_dtype=None,
         eps=None, num_groups=1, training=True, track_running_stats=True, momentum=0.1, save_stats=True,
         param_grads=True, inout=None):
    """Runs one norm plan. inputs: {role: tensor}; inout: {role: tensor} outputs updated in place.
    Returns {role: tensor} of every output."""
    dev = fw.device(x)
    stream = fw.stream(dev)
    spec = tuple(fw.spec(x))
    spec = (spec[0], tuple(spec[1]), spec[2], False)
    strides = {}
    for role, t in inputs.items():
        if role in ("residual", "dy", "dsum") and t is not None:
            s = fw.spec(t)[2]
            if s is not None:
                strides[role] = tuple(s)
    key = (op, direction, spec, normalized_shape, weight, bias, param_dtype, eps, num_groups, training,
           track_running_stats, momentum, save_stats, param_grads, tuple(sorted(strides.items())), dev, stream)
    entry = _plan_cache.get(key)
    if entry is None:
        plan = _C.NormPlan(op, spec, normalized_shape, direction, weight, bias, param_dtype, eps, num_groups,
                           training, track_running_stats, momentum, save_stats, strides or None, dev, stream,
                           param_grads=param_grads)
        sig = plan.signature
        entry = (plan, sig, plan.workspace_size)
        if len(_plan_cache) >= _CACHE_LIMIT:
            _plan_cache.clear()
        _plan_cache[key] = entry
    plan, sig, ws = entry
    args = []
    for role, s in zip(sig["input_roles"], sig["inputs"]):
        t = inputs.get(role)
        if t is None:
            raise ValueError(f"baracuda.ops.{op}: {role} is required")
        ta, t = _tensor(op, t, role)
        args.append(ta.arg(t, s[0]))
    outs = {}
    out_args = []
    for role, s in zip(sig["output_roles"], sig["outputs"]):
        t = (inout or {}).get(role)
        if t is None:
            t = fw.empty(s[1], s[0], dev)
        outs[role] = t
        out_args.append(fw.arg(t, s[0]))
    buf = fw.empty_bytes(ws, dev) if ws else None
    plan.run(stream, buf, ws, args, out_args)
    return outs


def _param_dtype(fw, x, *params):
    for p in params:
        if p is not None and not isinstance(p, bool):
            pa, p = _tensor("norm", p, "weight")
            dt = pa.spec(p)[0]
            return None if dt == fw.spec(x)[0] else dt
    return None


def _eps(eps):
    return None if eps is None else float(eps)


# ---- layer / rms norm and the fused residual add ------------------------------------------------

def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5, return_stats=False):
    fw, x = _tensor("layer_norm", x)
    o = _run("layer_norm", "forward", fw, x, {"x": x, "weight": weight, "bias": bias},
             normalized_shape=_shape("layer_norm", normalized_shape), weight=weight is not None,
             bias=bias is not None, param_dtype=_param_dtype(fw, x, weight, bias), eps=_eps(eps),
             save_stats=bool(return_stats))
    return (o["y"], o["mean"], o["rstd"]) if return_stats else o["y"]


def rms_norm(x, normalized_shape, weight=None, eps=None, return_stats=False):
    fw, x = _tensor("rms_norm", x)
    o = _run("rms_norm", "forward", fw, x, {"x": x, "weight": weight},
             normalized_shape=_shape("rms_norm", normalized_shape), weight=weight is not None, bias=False,
             param_dtype=_param_dtype(fw, x, weight), eps=_eps(eps), save_stats=bool(return_stats))
    return (o["y"], o["rstd"]) if return_stats else o["y"]


def add_layer_norm(x, residual, normalized_shape, weight=None, bias=None, eps=1e-5, return_stats=False):
    fw, x = _tensor("add_layer_norm", x)
    o = _run("add_layer_norm", "forward", fw, x, {"x": x, "residual": residual, "weight": weight, "bias": bias},
             normalized_shape=_shape("add_layer_norm", normalized_shape), weight=weight is not None,
             bias=bias is not None, param_dtype=_param_dtype(fw, x, weight, bias), eps=_eps(eps),
             save_stats=bool(return_stats))
    return (o["y"], o["sum"], o["mean"], o["rstd"]) if return_stats else (o["y"], o["sum"])


def add_rms_norm(x, residual, normalized_shape, weight=None, eps=None, return_stats=False):
    fw, x = _tensor("add_rms_norm", x)
    o = _run("add_rms_norm", "forward", fw, x, {"x": x, "residual": residual, "weight": weight},
             normalized_shape=_shape("add_rms_norm", normalized_shape), weight=weight is not None, bias=False,
             param_dtype=_param_dtype(fw, x, weight), eps=_eps(eps), save_stats=bool(return_stats))
    return (o["y"], o["sum"], o["rstd"]) if return_stats else (o["y"], o["sum"])


def _wants(b):
    return b is not None and b is not False


def layer_norm_backward(grad, x, mean, rstd, normalized_shape, weight=None, bias=False, param_grads=True):
    fw, x = _tensor("layer_norm_backward", x)
    o = _run("layer_norm", "backward", fw, x, {"dy": grad, "x": x, "mean": mean, "rstd": rstd, "weight": weight},
             normalized_shape=_shape("layer_norm_backward", normalized_shape), weight=weight is not None,
             bias=_wants(bias), param_dtype=_param_dtype(fw, x, weight, bias), param_grads=bool(param_grads))
    return o["dx"], o.get("dweight"), o.get("dbias")


def rms_norm_backward(grad, x, rstd, normalized_shape, weight=None, param_grads=True):
    fw, x = _tensor("rms_norm_backward", x)
    o = _run("rms_norm", "backward", fw, x, {"dy": grad, "x": x, "rstd": rstd, "weight": weight},
             normalized_shape=_shape("rms_norm_backward", normalized_shape), weight=weight is not None, bias=False,
             param_dtype=_param_dtype(fw, x, weight), param_grads=bool(param_grads))
    return o["dx"], o.get("dweight")


def add_layer_norm_backward(grad, grad_sum, sum, mean, rstd, normalized_shape, weight=None, bias=False):  # noqa: A002
    fw, s = _tensor("add_layer_norm_backward", sum, "sum")
    o = _run("add_layer_norm", "backward", fw, s,
             {"dy": grad, "dsum": grad_sum, "x": s, "mean": mean, "rstd": rstd, "weight": weight},
             normalized_shape=_shape("add_layer_norm_backward", normalized_shape), weight=weight is not None,
             bias=_wants(bias), param_dtype=_param_dtype(fw, s, weight, bias))
    return o["dx"], o.get("dweight"), o.get("dbias")


def add_rms_norm_backward(grad, grad_sum, sum, rstd, normalized_shape, weight=None):  # noqa: A002
    fw, s = _tensor("add_rms_norm_backward", sum, "sum")
    o = _run("add_rms_norm", "backward", fw, s, {"dy": grad, "dsum": grad_sum, "x": s, "rstd": rstd, "weight": weight},
             normalized_shape=_shape("add_rms_norm_backward", normalized_shape), weight=weight is not None,
             bias=False, param_dtype=_param_dtype(fw, s, weight))
    return o["dx"], o.get("dweight")


# ---- group / instance / batch norm -------------------------------------------------------------

def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5, return_stats=False):
    fw, x = _tensor("group_norm", x)
    o = _run("group_norm", "forward", fw, x, {"x": x, "weight": weight, "bias": bias}, weight=weight is not None,
             bias=bias is not None, param_dtype=_param_dtype(fw, x, weight, bias), eps=_eps(eps),
             num_groups=operator.index(num_groups), save_stats=bool(return_stats))
    return (o["y"], o["mean"], o["rstd"]) if return_stats else o["y"]


def group_norm_backward(grad, x, mean, rstd, num_groups, weight=None, bias=False):
    fw, x = _tensor("group_norm_backward", x)
    o = _run("group_norm", "backward", fw, x, {"dy": grad, "x": x, "mean": mean, "rstd": rstd, "weight": weight},
             weight=weight is not None, bias=_wants(bias), param_dtype=_param_dtype(fw, x, weight, bias),
             num_groups=operator.index(num_groups))
    return o["dx"], o.get("dweight"), o.get("dbias")


def instance_norm(x, weight=None, bias=None, eps=1e-5, return_stats=False):
    fw, x = _tensor("instance_norm", x)
    o = _run("instance_norm", "forward", fw, x, {"x": x, "weight": weight, "bias": bias}, weight=weight is not None,
             bias=bias is not None, param_dtype=_param_dtype(fw, x, weight, bias), eps=_eps(eps),
             save_stats=bool(return_stats))
    return (o["y"], o["mean"], o["rstd"]) if return_stats else o["y"]


def instance_norm_backward(grad, x, mean, rstd, weight=None, bias=False):
    fw, x = _tensor("instance_norm_backward", x)
    o = _run("instance_norm", "backward", fw, x, {"dy": grad, "x": x, "mean": mean, "rstd": rstd, "weight": weight},
             weight=weight is not None, bias=_wants(bias), param_dtype=_param_dtype(fw, x, weight, bias))
    return o["dx"], o.get("dweight"), o.get("dbias")


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5,
               return_stats=False):
    fw, x = _tensor("batch_norm", x)
    pdt = _param_dtype(fw, x, weight, bias, running_mean)
    if training:
        track = running_mean is not None and running_var is not None
        o = _run("batch_norm", "forward", fw, x, {"x": x, "weight": weight, "bias": bias}, weight=weight is not None,
                 bias=bias is not None, param_dtype=pdt, eps=_eps(eps), training=True, track_running_stats=track,
                 momentum=float(momentum), save_stats=bool(return_stats),
                 inout={"running_mean": running_mean, "running_var": running_var} if track else None)
        return (o["y"], o["mean"], o["rstd"]) if return_stats else o["y"]
    if running_mean is None or running_var is None:
        raise ValueError("baracuda.ops.batch_norm: eval mode (training=False) needs running_mean and running_var")
    o = _run("batch_norm", "forward", fw, x,
             {"x": x, "running_mean": running_mean, "running_var": running_var, "weight": weight, "bias": bias},
             weight=weight is not None, bias=bias is not None, param_dtype=pdt, eps=_eps(eps), training=False)
    return o["y"]


def batch_norm_backward(grad, x, mean=None, rstd=None, weight=None, bias=False, training=True, running_mean=None,
                        running_var=None, eps=1e-5):
    fw, x = _tensor("batch_norm_backward", x)
    ins = {"dy": grad, "x": x, "mean": mean, "rstd": rstd, "weight": weight,
           "running_mean": running_mean, "running_var": running_var}
    o = _run("batch_norm", "backward", fw, x, ins, weight=weight is not None, bias=_wants(bias),
             param_dtype=_param_dtype(fw, x, weight, running_mean), eps=_eps(eps), training=bool(training))
    return o["dx"], o.get("dweight"), o.get("dbias")
