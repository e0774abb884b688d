"""Functional layer of the loss family (re-exported by ``baracuda.ops``).

torch.nn.functional signatures (``reduction`` is 'none', 'mean' or 'sum'):

    cross_entropy(input, target, weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0, z_loss=0.0)
    cross_entropy_with_grad(input, target, ..., grad=None) -> (loss, dinput)   one fused pass
    nll_loss(input, target, weight=None, ignore_index=-100, reduction='mean')
    mse_loss / l1_loss(input, target, reduction='mean')
    smooth_l1_loss(input, target, reduction='mean', beta=1.0); huber_loss(input, target, reduction='mean', delta=1.0)
    binary_cross_entropy(input, target, weight=None, reduction='mean')
    binary_cross_entropy_with_logits(input, target, weight=None, reduction='mean', pos_weight=None)
    kl_div(input, target, reduction='mean', log_target=False)      ('batchmean' is sum / N: divide yourself)
    cosine_embedding_loss(input1, input2, target, margin=0.0, reduction='mean')
    margin_ranking_loss(input1, input2, target, margin=0.0, reduction='mean')

Backward: ``<name>_backward(grad, <same arguments>)`` returns the input's gradient (the two inputs'
gradients for cosine_embedding_loss and margin_ranking_loss); ``grad`` has the loss's shape.
cross_entropy's target holds class indices (int64 / int32) or class probabilities (the input's
dtype and shape). z_loss adds z * logsumexp^2 per sample (PaLM). On CUDA an out-of-range class
index gives NaN for that sample (the CPU raises InvalidArgumentError quoting it).
"""
from __future__ import annotations

from . import _C
from ._frameworks import tensor_argument as _tensor, operand_spec as _spec

__all__ = ["loss_catalog", "clear_loss_plan_cache"]

_CACHE_LIMIT = 4096
_plan_cache = {}


def loss_catalog():
    """Every loss op (dicts with name, differentiable, torch_name, jax_name, family='loss')."""
    return _C.loss_catalog()


def clear_loss_plan_cache():
    _plan_cache.clear()


_SLOTS = ("input", "target", "other", "weight", "pos_weight")


def _run(op, direction, tensors, opts, grad=None, fused=False):
    """tensors: slot -> tensor or None. Returns the plan's outputs (loss and/or gradients)."""
    fw, x = _tensor(op, tensors["input"], "input")
    dev = fw.device(x)
    stream = fw.stream(dev)
    specs, args = {}, {}
    for slot in _SLOTS:
        t = tensors.get(slot)
        if t is None:
            specs[slot] = None
            continue
        a, t = _tensor(op, t, slot)
        specs[slot] = _spec(a, t)
        args[slot] = a.arg(t, specs[slot][0])
    key = (op, direction, fused, tuple(specs[s] for s in _SLOTS), tuple(sorted(opts.items())), dev)
    entry = _plan_cache.get(key)
    if entry is None:
        plan = _C.LossPlan(op, specs["input"], specs["target"], specs["other"], specs["weight"], specs["pos_weight"],
                           direction=direction, fused_backward=fused, device=dev, stream=stream, **opts)
        entry = (plan, plan.signature, plan.workspace_size)
        if len(_plan_cache) >= _CACHE_LIMIT:
            _plan_cache.clear()
        _plan_cache[key] = entry
    plan, sig, ws = entry
    outs = {}
    for name in ("loss", "grad_input", "grad_other"):
        s = sig[name]
        if s is not None:
            outs[name] = fw.empty(s[1], s[0], dev)
    if grad is not None:
        ga, grad = _tensor(op, grad, "grad")
        args["grad_loss"] = ga.arg(grad, _spec(ga, grad)[0])
    buf = fw.empty_bytes(ws, dev) if ws else None
    plan.run(stream, buf, ws, **args, **{k: fw.arg(v, sig[k][0]) for k, v in outs.items()})
    return outs


def _reduction(r):
    if r not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {r!r}")
    return r


# ---------------------------------------------------------------------------------------------
# The functions


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0, z_loss=0.0):
    opts = dict(reduction=_reduction(reduction), ignore_index=int(ignore_index),
                label_smoothing=float(label_smoothing), z_loss=float(z_loss))
    return _run("cross_entropy", "forward", dict(input=input, target=target, weight=weight), opts)["loss"]


def cross_entropy_backward(grad, input, target, weight=None, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0, z_loss=0.0):
    opts = dict(reduction=_reduction(reduction), ignore_index=int(ignore_index),
                label_smoothing=float(label_smoothing), z_loss=float(z_loss))
    return _run("cross_entropy", "backward", dict(input=input, target=target, weight=weight), opts, grad)["grad_input"]


def cross_entropy_with_grad(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                            z_loss=0.0, grad=None):
    """(loss, dinput) in one fused pass; grad (the loss's gradient) defaults to ones."""
    opts = dict(reduction=_reduction(reduction), ignore_index=int(ignore_index),
                label_smoothing=float(label_smoothing), z_loss=float(z_loss))
    outs = _run("cross_entropy", "forward", dict(input=input, target=target, weight=weight), opts, grad, fused=True)
    return outs["loss"], outs["grad_input"]


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    opts = dict(reduction=_reduction(reduction), ignore_index=int(ignore_index))
    return _run("nll_loss", "forward", dict(input=input, target=target, weight=weight), opts)["loss"]


def nll_loss_backward(grad, input, target, weight=None, ignore_index=-100, reduction="mean"):
    opts = dict(reduction=_reduction(reduction), ignore_index=int(ignore_index))
    return _run("nll_loss", "backward", dict(input=input, target=target, weight=weight), opts, grad)["grad_input"]


def _pointwise(op, **fixed):
    """fixed: the op's own options and their defaults (beta, delta, log_target)."""

    def options(reduction, kw):
        unknown = set(kw) - set(fixed)
        if unknown:
            raise TypeError(f"baracuda.ops.{op}: unexpected keyword argument(s) {sorted(unknown)}")
        return dict(reduction=_reduction(reduction), **{k: type(v)(kw.get(k, v)) for k, v in fixed.items()})

    def fwd(input, target, reduction="mean", **kw):
        return _run(op, "forward", dict(input=input, target=target), options(reduction, kw))["loss"]

    def bwd(grad, input, target, reduction="mean", **kw):
        return _run(op, "backward", dict(input=input, target=target), options(reduction, kw), grad)["grad_input"]

    fwd.__name__, bwd.__name__ = op, op + "_backward"
    return fwd, bwd


mse_loss, mse_loss_backward = _pointwise("mse_loss")
l1_loss, l1_loss_backward = _pointwise("l1_loss")
smooth_l1_loss, smooth_l1_loss_backward = _pointwise("smooth_l1_loss", beta=1.0)
huber_loss, huber_loss_backward = _pointwise("huber_loss", delta=1.0)
kl_div, kl_div_backward = _pointwise("kl_div", log_target=False)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    return _run("binary_cross_entropy", "forward", dict(input=input, target=target, weight=weight),
                dict(reduction=_reduction(reduction)))["loss"]


def binary_cross_entropy_backward(grad, input, target, weight=None, reduction="mean"):
    return _run("binary_cross_entropy", "backward", dict(input=input, target=target, weight=weight),
                dict(reduction=_reduction(reduction)), grad)["grad_input"]


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    return _run("binary_cross_entropy_with_logits", "forward",
                dict(input=input, target=target, weight=weight, pos_weight=pos_weight),
                dict(reduction=_reduction(reduction)))["loss"]


def binary_cross_entropy_with_logits_backward(grad, input, target, weight=None, reduction="mean", pos_weight=None):
    return _run("binary_cross_entropy_with_logits", "backward",
                dict(input=input, target=target, weight=weight, pos_weight=pos_weight),
                dict(reduction=_reduction(reduction)), grad)["grad_input"]


def _pair(op):
    def fwd(input1, input2, target, margin=0.0, reduction="mean"):
        return _run(op, "forward", dict(input=input1, other=input2, target=target),
                    dict(reduction=_reduction(reduction), margin=float(margin)))["loss"]

    def bwd(grad, input1, input2, target, margin=0.0, reduction="mean"):
        outs = _run(op, "backward", dict(input=input1, other=input2, target=target),
                    dict(reduction=_reduction(reduction), margin=float(margin)), grad)
        return outs["grad_input"], outs["grad_other"]

    fwd.__name__, bwd.__name__ = op, op + "_backward"
    return fwd, bwd


cosine_embedding_loss, cosine_embedding_loss_backward = _pair("cosine_embedding_loss")
margin_ranking_loss, margin_ranking_loss_backward = _pair("margin_ranking_loss")

for _name in ("cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
              "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss",
              "margin_ranking_loss"):
    __all__ += [_name, _name + "_backward"]
__all__.append("cross_entropy_with_grad")
