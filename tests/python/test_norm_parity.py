"""PyTorch parity of the normalization family through bc.ops: forward against torch.nn.functional
and backward against torch.autograd (dx, dweight, dbias), on CPU tensors and CUDA tensors when a
GPU exists. Skips without torch or an importable baracuda.

    pytest tests/python/test_norm_parity.py -q
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

HAVE_CUDA = torch.cuda.is_available()
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device")),
]
DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
TOL = {torch.float64: (1e-10, 1e-10), torch.float32: (1e-4, 1e-5), torch.float16: (5e-3, 5e-3),
       torch.bfloat16: (3e-2, 3e-2)}
WIDTHS = [1, 7, 33, 1000, 4097]


@pytest.fixture(scope="module")
def bc():
    try:
        import baracuda
    except Exception as e:
        pytest.skip(f"baracuda is not importable ({type(e).__name__}: {e})")
    return baracuda


def close(got, want, dtype, what, scale_floor=1.0):
    """scale_floor: dx is a difference of terms of size |dy| |w| rstd that cancel exactly over a
    one-element row (width 1), leaving each library's rounding noise of those terms."""
    rtol, atol = TOL[dtype]
    scale = max(scale_floor, want.abs().max().item()) if want.numel() else 1.0
    torch.testing.assert_close(got.to(want.dtype), want, rtol=rtol, atol=atol * scale, msg=lambda m: f"{what}: {m}")


def term_scale(dy, w, rstd):
    return (dy.abs().max() * w.abs().max() * rstd.abs().max()).item() if dy.numel() else 1.0


def leaf(t):
    return t.detach().clone().requires_grad_(True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("width", WIDTHS)
def test_layer_norm(bc, device, dtype, width):
    if device == "cpu" and dtype in (torch.float16,) and width > 1000:
        pytest.skip("slow CPU reference for large f16 rows")
    g = torch.Generator(device="cpu").manual_seed(width)
    x = (torch.rand(5, width, generator=g) * 6 - 2).to(device, dtype)
    w = (torch.rand(width, generator=g) + 0.5).to(device, dtype)
    b = torch.randn(width, generator=g).to(device, dtype)
    gy = torch.randn(5, width, generator=g).to(device, dtype)
    y, mean, rstd = bc.ops.layer_norm(x, (width,), w, b, eps=1e-5, return_stats=True)
    xl, wl, bl = leaf(x), leaf(w), leaf(b)
    ref = F.layer_norm(xl, (width,), wl, bl, eps=1e-5)
    close(y, ref.detach(), dtype, "y")
    dx, dw, db = bc.ops.layer_norm_backward(gy, x, mean, rstd, (width,), w, b)
    rdx, rdw, rdb = torch.autograd.grad(ref, (xl, wl, bl), gy)
    close(dx, rdx, dtype, "dx", term_scale(gy, w, rstd))
    close(dw, rdw, dtype, "dweight")
    close(db, rdb, dtype, "dbias")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("width", WIDTHS)
def test_rms_norm(bc, device, dtype, width):
    if not hasattr(F, "rms_norm"):
        pytest.skip("torch without F.rms_norm")
    g = torch.Generator(device="cpu").manual_seed(100 + width)
    x = torch.randn(3, width, generator=g).to(device, dtype)
    w = (torch.rand(width, generator=g) + 0.5).to(device, dtype)
    gy = torch.randn(3, width, generator=g).to(device, dtype)
    y, rstd = bc.ops.rms_norm(x, width, w, return_stats=True)  # eps None: f32 (f64) epsilon, as torch
    xl, wl = leaf(x), leaf(w)
    ref = F.rms_norm(xl, (width,), wl)
    close(y, ref.detach(), dtype, "y")
    dx, dw = bc.ops.rms_norm_backward(gy, x, rstd, width, w)
    rdx, rdw = torch.autograd.grad(ref, (xl, wl), gy)
    close(dx, rdx, dtype, "dx", term_scale(gy, w, rstd))
    close(dw, rdw, dtype, "dweight")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_fused_add_rms_norm(bc, device, dtype):
    if not hasattr(F, "rms_norm"):
        pytest.skip("torch without F.rms_norm")
    x = torch.randn(9, 1024, device=device, dtype=dtype)
    r = torch.randn(9, 1024, device=device, dtype=dtype)
    w = torch.rand(1024, device=device, dtype=dtype) + 0.5
    y, s = bc.ops.add_rms_norm(x, r, 1024, w, eps=1e-6)
    torch.testing.assert_close(s, x + r, rtol=0, atol=0)
    close(y, F.rms_norm(x + r, (1024,), w, eps=1e-6), dtype, "y")
    y, s, _, _ = bc.ops.add_layer_norm(x, r, 1024, w, None, return_stats=True)
    close(y, F.layer_norm(x + r, (1024,), w), dtype, "y (layer)")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
def test_group_instance_batch_norm(bc, dtype):
    x = torch.randn(4, 6, 5, dtype=dtype)
    w, b = torch.rand(6, dtype=dtype) + 0.5, torch.randn(6, dtype=dtype)
    gy = torch.randn_like(x)
    xl, wl, bl = leaf(x), leaf(w), leaf(b)
    ref = F.group_norm(xl, 3, wl, bl)
    y, m, r = bc.ops.group_norm(x, 3, w, b, return_stats=True)
    close(y, ref.detach(), dtype, "group_norm y")
    for got, want, what in zip(bc.ops.group_norm_backward(gy, x, m, r, 3, w, b),
                               torch.autograd.grad(ref, (xl, wl, bl), gy), ("dx", "dw", "db")):
        close(got, want, dtype, "group_norm " + what)

    ref = F.instance_norm(xl, weight=wl, bias=bl)
    y, m, r = bc.ops.instance_norm(x, w, b, return_stats=True)
    close(y, ref.detach(), dtype, "instance_norm y")
    for got, want, what in zip(bc.ops.instance_norm_backward(gy, x, m, r, w, b),
                               torch.autograd.grad(ref, (xl, wl, bl), gy), ("dx", "dw", "db")):
        close(got, want, dtype, "instance_norm " + what)

    rm, rv = torch.zeros(6, dtype=dtype), torch.ones(6, dtype=dtype)
    trm, trv = rm.clone(), rv.clone()
    ref = F.batch_norm(xl, trm, trv, wl, bl, training=True, momentum=0.2)
    y, m, r = bc.ops.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2, return_stats=True)
    close(y, ref.detach(), dtype, "batch_norm y")
    close(rm, trm, dtype, "running_mean")
    close(rv, trv, dtype, "running_var")
    for got, want, what in zip(bc.ops.batch_norm_backward(gy, x, m, r, w, b),
                               torch.autograd.grad(ref, (xl, wl, bl), gy), ("dx", "dw", "db")):
        close(got, want, dtype, "batch_norm " + what)
    ref = F.batch_norm(xl, trm, trv, wl, bl, training=False)
    close(bc.ops.batch_norm(x, rm, rv, w, b, training=False), ref.detach(), dtype, "batch_norm eval y")
