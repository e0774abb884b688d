"""Functional layer of the GEMM family (re-exported by ``baracuda.ops``).

    gemm(a, b, c=None, alpha=1.0, beta=None, bias=None, bias_axis='columns', activation=None,
         return_pre_activation=False, allow_tf32=False, out_dtype=None, a_scale=None, b_scale=None,
         d_scale=None, return_amax=False, out=None)
        D = act(alpha * a_scale * b_scale * (a @ b) + beta * c + bias); beta defaults to 1 when c is
        given. Returns D, or (D, pre_activation[, amax]) when asked for.
    matmul(a, b, out=None)                       torch.matmul (1-D operands promoted and squeezed)
    mm(a, b), bmm(a, b)                          torch.mm / torch.bmm (rank-checked matmul)
    addmm(input, mat1, mat2, beta=1, alpha=1)    torch.addmm; baddbmm likewise
    linear(input, weight, bias=None, activation=None)       x @ weight.T + bias, then act
    linear_backward(grad, input, weight, bias=True) -> (dinput, dweight, dbias or None)
    scaled_mm(a, b, scale_a, scale_b, bias=None, out_dtype=None, scale_result=None, use_fast_accum=False)
                                                 torch._scaled_mm
                                                 (per-tensor, rowwise, 1x128 or 128x128 block scales)
    int_mm(a, b)                                 torch._int_mm (int8 x int8 -> int32)

Operands are tensors of any supported framework, transposed views included (their strides
describe the layout; nothing is copied). Batch dims broadcast as in torch.matmul. activation:
None, 'relu', 'gelu' (erf), 'gelu_tanh' or 'silu'. f32 runs in IEEE f32 unless allow_tf32=True.
"""
from __future__ import annotations

from . import _C
from ._frameworks import tensor_argument, operand_spec as _spec

__all__ = ["gemm", "matmul", "mm", "bmm", "addmm", "baddbmm", "linear", "linear_backward", "scaled_mm", "int_mm",
           "clear_gemm_plan_cache", "gemm_plan_cache_size"]

_CACHE_LIMIT = 4096
_plan_cache = {}
_ACTIVATIONS = {None: "none", "none": "none", "relu": "relu", "gelu": "gelu_erf", "gelu_erf": "gelu_erf",
                "gelu_tanh": "gelu_tanh", "silu": "silu"}
_FP8 = ("f8e4m3", "f8e5m2")


def clear_gemm_plan_cache():
    _plan_cache.clear()


def gemm_plan_cache_size():
    return len(_plan_cache)


def _tensor(op, x, what):
    return tensor_argument(op, x, what, numpy_scalars=False)


def _broadcast(op, s, t):
    n = max(len(s), len(t))
    s, t = (1,) * (n - len(s)) + tuple(s), (1,) * (n - len(t)) + tuple(t)
    out = []
    for x, y in zip(s, t):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"baracuda.ops.{op}: batch dims {s} and {t} do not broadcast")
        out.append(y if x == 1 else x)
    return tuple(out)


def _out_dtype(a_dtype, out_dtype, fw):
    if out_dtype is not None:
        return fw.dtype_name_of_target(out_dtype)
    return "i32" if a_dtype == "i8" else a_dtype


_INPUT_SLOTS = ("a", "b", "c", "bias", "a_scale", "b_scale", "d_scale")


def _scale_mode(op, spec, outer, k, is_a):
    """The fp8 scale mode a scale tensor's shape says (torch._scaled_mm's rules): one element ->
    'tensor'; A [M, 1] / B [1, N] -> 'outer_vector' (rowwise); A [M, ceil(K/128)] / B [ceil(K/128), N]
    -> 'block_1x128'; A [ceil(M/128), ceil(K/128)] / B [ceil(K/128), ceil(N/128)] -> 'block_128x128'."""
    if spec is None:
        return "tensor"
    shape = tuple(spec[1])
    n = 1
    for s in shape:
        n *= s
    if n == 1 and len(shape) <= 2:
        return "tensor"
    kb, ob = -(-k // 128), -(-outer // 128)
    if len(shape) == 2:
        o, kk = (shape[0], shape[1]) if is_a else (shape[1], shape[0])
        if o == outer and kk == 1:
            return "outer_vector"
        if o == outer and kk == kb:
            return "block_1x128"
        if o == ob and kk == kb:
            return "block_128x128"
    which, dims = ("scale_a", f"[M, 1], [M, {kb}] or [{ob}, {kb}]") if is_a else ("scale_b", f"[1, N], [{kb}, N] or [{kb}, {ob}]")
    raise ValueError(f"baracuda.ops.{op}: {which} of shape {list(shape)} matches no scale mode: one element "
                     f"(per tensor), or {dims} (rowwise, 1x128 or 128x128 blocks; {'M' if is_a else 'N'}={outer}, K={k})")


def gemm(a, b, c=None, alpha=1.0, beta=None, bias=None, bias_axis="columns", activation=None,
         return_pre_activation=False, allow_tf32=False, out_dtype=None, a_scale=None, b_scale=None, d_scale=None,
         return_amax=False, out=None, bias_grad=None, bias_grad_axis="rows", autotune=False, use_fast_accum=False,
         _op="gemm"):
    """The general form (see the module docstring); bias_grad: a tensor receiving the bias gradient;
    autotune: the CUDA plan times cuBLASLt's ranked algorithms once when it is made (allocating
    scratch and synchronizing then) and keeps the fastest; use_fast_accum: fp8 only, the tensor
    cores' fast accumulation (torch._scaled_mm's flag)."""
    op = _op
    fw, a = _tensor(op, a, "a")
    _, b = _tensor(op, b, "b")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"baracuda.ops.{op}: activation must be one of {sorted(k for k in _ACTIVATIONS if k)} or None, "
                         f"got {activation!r}")
    if beta is None:
        beta = 1.0 if c is not None else 0.0
    dev = fw.device(a)
    stream = fw.stream(dev)
    tensors = dict(a=a, b=b, c=c if beta != 0 else None, bias=bias, a_scale=a_scale, b_scale=b_scale, d_scale=d_scale)
    specs, args = {}, {}
    for slot in _INPUT_SLOTS:
        t = tensors[slot]
        if t is None:
            specs[slot] = None
            continue
        ad, t = _tensor(op, t, slot)
        specs[slot] = _spec(ad, t)
        args[slot] = ad.arg(t, specs[slot][0])
    sa, sb = specs["a"], specs["b"]
    if len(sa[1]) < 2 or len(sb[1]) < 2:
        raise ValueError(f"baracuda.ops.{op}: a and b need rank >= 2 (got shapes {sa[1]} and {sb[1]}; "
                         f"matmul promotes 1-D operands)")
    d_shape = _broadcast(op, sa[1][:-2], sb[1][:-2]) + (sa[1][-2], sb[1][-1])
    c_shape = specs["c"][1] if specs["c"] is not None else None
    if c_shape is not None and c_shape != d_shape and dev != "cpu" and len(c_shape) <= len(d_shape) and all(
            x in (1, y) for x, y in zip(c_shape[::-1], d_shape[::-1])):
        # cuBLASLt reads C as a full [M, N] matrix: a C that broadcasts (addmm's [N] input) is
        # expanded once here. The CPU reference broadcasts it natively.
        ca, ct = _tensor(op, tensors["c"], "c")
        ct = ca.broadcast_contiguous(ct, d_shape)
        specs["c"] = _spec(ca, ct)
        args["c"] = ca.arg(ct, specs["c"][0])
    d_dtype = _out_dtype(sa[0], out_dtype, fw)
    d_spec = (d_dtype, d_shape, None, False)
    pre_spec = (d_dtype if d_dtype not in _FP8 else "bf16", d_shape, None, False) if return_pre_activation else None
    bg_spec = None
    if bias_grad is not None:
        bga, bias_grad = _tensor(op, bias_grad, "bias_grad")
        bg_spec = _spec(bga, bias_grad)
    a_mode = _scale_mode(op, specs["a_scale"], sa[1][-2], sa[1][-1], True)
    b_mode = _scale_mode(op, specs["b_scale"], sb[1][-1], sa[1][-1], False)
    opts = dict(alpha=float(alpha), beta=float(beta), allow_tf32=bool(allow_tf32), bias_axis=bias_axis,
                activation=_ACTIVATIONS[activation], bias_grad_axis=bias_grad_axis, amax=bool(return_amax),
                autotune=bool(autotune), a_scale_mode=a_mode, b_scale_mode=b_mode,
                fp8_fast_accum=bool(use_fast_accum))
    scale_specs = (specs["a_scale"] if a_mode != "tensor" else None, specs["b_scale"] if b_mode != "tensor" else None)
    key = (tuple(specs[s] for s in _INPUT_SLOTS[:4]), scale_specs, d_spec, pre_spec, bg_spec,
           tuple(sorted(opts.items())), dev)
    entry = _plan_cache.get(key)
    if entry is None:
        plan = _C.GemmPlan(sa, sb, d_spec, c=specs["c"], bias=specs["bias"], pre_activation=pre_spec,
                           bias_grad=bg_spec, a_scale=scale_specs[0], b_scale=scale_specs[1], device=dev,
                           stream=stream, **opts)
        entry = (plan, plan.workspace_size)
        if len(_plan_cache) >= _CACHE_LIMIT:
            _plan_cache.clear()
        _plan_cache[key] = entry
    plan, ws = entry
    if out is None:
        out = fw.empty(d_shape, d_dtype, dev)
    results = {"d": out}
    if return_pre_activation:
        results["pre_activation"] = fw.empty(d_shape, pre_spec[0], dev)
    if return_amax:
        results["amax"] = fw.empty((), "f32", dev)
    if bias_grad is not None:
        results["bias_grad"] = bias_grad
    buf = fw.empty_bytes(ws, dev) if ws else None
    outs = {k: fw.arg(v, d_dtype if k == "d" else pre_spec[0] if k == "pre_activation"
                      else "f32" if k == "amax" else bg_spec[0]) for k, v in results.items()}
    plan.run(stream, buf, ws, **args, **outs)
    if not return_pre_activation and not return_amax:
        return out
    r = (out,)
    if return_pre_activation:
        r += (results["pre_activation"],)
    if return_amax:
        r += (results["amax"],)
    return r


def matmul(a, b, out=None):
    """torch.matmul: a 1-D a is a row vector, a 1-D b a column vector; that dim is removed after."""
    squeeze_m = getattr(a, "ndim", 2) == 1
    squeeze_n = getattr(b, "ndim", 2) == 1
    if squeeze_m:
        a = a[None, :]
    if squeeze_n:
        b = b[:, None]
    if (squeeze_m or squeeze_n) and out is not None:
        raise ValueError("baracuda.ops.matmul: out= with 1-D operands is not supported")
    d = gemm(a, b, out=out, _op="matmul")
    if squeeze_n:
        d = d[..., 0]
    if squeeze_m:
        d = d[..., 0, :] if not squeeze_n else d[..., 0]
    return d


def mm(a, b, out=None):
    if getattr(a, "ndim", 2) != 2 or getattr(b, "ndim", 2) != 2:
        raise ValueError(f"baracuda.ops.mm: 2-D operands expected, got ranks {a.ndim} and {b.ndim}")
    return gemm(a, b, out=out, _op="mm")


def bmm(a, b, out=None):
    if getattr(a, "ndim", 3) != 3 or getattr(b, "ndim", 3) != 3:
        raise ValueError(f"baracuda.ops.bmm: 3-D operands expected, got ranks {a.ndim} and {b.ndim}")
    return gemm(a, b, out=out, _op="bmm")


def addmm(input, mat1, mat2, beta=1, alpha=1, out=None):
    return gemm(mat1, mat2, c=input, alpha=alpha, beta=beta, out=out, _op="addmm")


def baddbmm(input, batch1, batch2, beta=1, alpha=1, out=None):
    return gemm(batch1, batch2, c=input, alpha=alpha, beta=beta, out=out, _op="baddbmm")


def _transpose(t):
    return t.T if t.ndim == 2 else t.swapaxes(-1, -2)


def linear(input, weight, bias=None, activation=None, out=None):
    """nn.functional.linear (then an optional fused activation): input @ weight.T + bias."""
    return gemm(input, _transpose(weight), bias=bias, bias_axis="columns", activation=activation, out=out, _op="linear")


def linear_backward(grad, input, weight, bias=True):
    """Gradients of linear (no activation): (dinput = grad @ weight, dweight = grad^T @ input over
    every leading dim, dbias = grad summed over them, or None when bias is False)."""
    fw, grad = _tensor("linear_backward", grad, "grad")
    dinput = gemm(grad, weight, _op="linear_backward")
    n, k = weight.shape[0], weight.shape[1]
    g2 = grad.reshape(-1, n)
    x2 = input.reshape(-1, k)
    dbias = fw.empty((n,), _spec(fw, grad)[0], fw.device(grad)) if bias else None
    dweight = gemm(_transpose(g2), x2, bias_grad=dbias, bias_grad_axis="rows", _op="linear_backward")
    return dinput, dweight, dbias


def scaled_mm(a, b, scale_a, scale_b, bias=None, out_dtype=None, scale_result=None, use_fast_accum=False,
              return_amax=False):
    """torch._scaled_mm: fp8 a [M, K] (row-major) and b [K, N] (column-major); f32 scales per tensor
    (one element), per row / column (scale_a [M, 1], scale_b [1, N]), or per block (scale_a
    [M, ceil(K/128)] for 1x128 or [ceil(M/128), ceil(K/128)] for 128x128 blocks; scale_b
    [ceil(K/128), N] or [ceil(K/128), ceil(N/128)]). On CUDA the per-row / per-block modes need
    the scale layouts cuBLASLt reads (see GemmScaleMode in gemm.hpp) and one of the pairs it runs:
    per-row x per-column or 1x128 x 128x128. use_fast_accum: the tensor cores' fast accumulation,
    as torch's flag (faster, less accurate over long K)."""
    return gemm(a, b, bias=bias, out_dtype=out_dtype, a_scale=scale_a, b_scale=scale_b, d_scale=scale_result,
                return_amax=return_amax, use_fast_accum=use_fast_accum, _op="scaled_mm")


def int_mm(a, b):
    """torch._int_mm: int8 [M, K] x int8 [K, N] -> int32, exact."""
    return gemm(a, b, _op="int_mm")
