"""PyTorch parity of the softmax family through bc.ops: softmax / log_softmax forward (torch.softmax
/ torch.log_softmax on x / temperature with the mask applied the torch way) and backward (torch
autograd through the same expression, the gradient of y given dy), on the CPU and on CUDA.

Skips without torch (and the CUDA cases without a GPU)."""
from __future__ import annotations

import zlib

import pytest

try:
    import torch
except ImportError:
    torch = None

HAVE_CUDA = bool(torch is not None and torch.cuda.is_available())
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(
        not HAVE_CUDA, reason="no CUDA device (torch missing or torch.cuda.is_available() is False): GPU parity skipped")),
]
DTYPES = ["f32", "f16", "bf16", "f64"]
TORCH_DTYPE = {"f32": "float32", "f16": "float16", "bf16": "bfloat16", "f64": "float64"}
TOL = {"f64": (1e-10, 1e-12), "f32": (2e-5, 1e-6), "f16": (2e-3, 1e-4), "bf16": (1.6e-2, 1e-3)}


@pytest.fixture(scope="session")
def tt():
    return pytest.importorskip("torch", reason="PyTorch is not installed: the parity suite compares against torch")


@pytest.fixture(scope="session")
def bc():
    try:
        import baracuda
    except Exception as e:  # ImportError, or a broken extension module
        pytest.skip(f"baracuda is not importable ({type(e).__name__}: {e}); build and install python/ first")
    return baracuda


def torch_reference(tt, op, x, dim, temperature=1.0, mask=None, dtype=None):
    z = x.to(dtype) if dtype is not None else x
    z = z / temperature
    if mask is not None:
        z = z.masked_fill(~mask, float("-inf")) if mask.dtype == tt.bool else z + mask
    return getattr(tt, op)(z, dim)


def close(tt, got, want, dtype):
    rtol, atol = TOL[dtype]
    tt.testing.assert_close(got.double(), want.double(), rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((4, 33), -1), ((3, 1000), 1), ((2, 7, 5), 1), ((1025, 3), 0), ((2, 40000), -1)])
def test_forward_and_backward(tt, bc, device, dtype, op, shape, dim):
    g = tt.Generator().manual_seed(zlib.crc32(repr((op, dtype, shape)).encode()))  # stable across runs
    tdt = getattr(tt, TORCH_DTYPE[dtype])
    x = (tt.rand(shape, generator=g, dtype=tt.float64) * 8 - 4).to(tdt).to(device)
    y = getattr(bc.ops, op)(x, dim)
    want = torch_reference(tt, op, x, dim)
    close(tt, y, want, dtype)
    # Backward: torch autograd of the same expression.
    xg = x.detach().clone().requires_grad_(True)
    yt = torch_reference(tt, op, xg, dim)
    dy = (tt.rand(shape, generator=g, dtype=tt.float64) * 2 - 1).to(tdt).to(device)
    (dx_want,) = tt.autograd.grad(yt, xg, dy)
    dx = getattr(bc.ops, op + "_backward")(dy, yt.detach(), dim)
    close(tt, dx, dx_want, dtype)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_options(tt, bc, device, op):
    g = tt.Generator().manual_seed(7)
    x = (tt.rand((6, 50), generator=g) * 8 - 4).to(device)
    keep = (tt.rand((1, 50), generator=g) > 0.3).to(device)
    add = (tt.rand((6, 1), generator=g) * 2).to(device)
    for kw in ({"temperature": 0.7}, {"mask": keep}, {"mask": add, "temperature": 2.0}):
        y = getattr(bc.ops, op)(x, -1, **kw)
        close(tt, y, torch_reference(tt, op, x, -1, **kw), "f32")
        xg = x.clone().requires_grad_(True)
        yt = torch_reference(tt, op, xg, -1, **kw)
        dy = tt.rand_like(x) - 0.5
        (want,) = tt.autograd.grad(yt, xg, dy)
        dx = getattr(bc.ops, op + "_backward")(dy, yt.detach(), -1, **kw)
        close(tt, dx, want, "f32")
    # dtype=: bf16 input, f32 result; the backward returns bf16.
    xb = x.to(tt.bfloat16)
    y = getattr(bc.ops, op)(xb, -1, dtype=tt.float32)
    assert y.dtype == tt.float32
    close(tt, y, getattr(tt, op)(xb, -1, dtype=tt.float32), "f32")
    xg = xb.clone().requires_grad_(True)
    yt = getattr(tt, op)(xg, -1, dtype=tt.float32)
    dy = tt.rand_like(yt) - 0.5
    (want,) = tt.autograd.grad(yt, xg, dy)
    dx = getattr(bc.ops, op + "_backward")(dy, yt.detach(), -1, input_dtype=tt.bfloat16)
    assert dx.dtype == tt.bfloat16
    close(tt, dx, want, "bf16")


@pytest.mark.parametrize("device", DEVICES)
def test_special_values_match_torch(tt, bc, device):
    inf, nan = float("inf"), float("nan")
    x = tt.tensor([[1.0, nan, 2.0], [1.0, inf, 2.0], [-inf, -inf, -inf], [-inf, 0.0, 0.0]], device=device)
    for op in ("softmax", "log_softmax"):
        close(tt, getattr(bc.ops, op)(x, -1), getattr(tt, op)(x, -1), "f32")
