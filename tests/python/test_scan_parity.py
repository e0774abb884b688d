"""PyTorch parity of the scan family through bc.ops, on CPU tensors and (when a GPU exists) CUDA
tensors: cumsum / cumprod / cummax / cummin / logcumsumexp forward for every dtype torch accepts,
along every axis, on strided views and empty tensors, and backward against torch.autograd.
Skips without torch, without an importable baracuda, and the CUDA cases without a GPU."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the parity suite compares against torch")

HAVE_CUDA = torch.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device"))]
FLOATS = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
INTS = [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool]
OPS = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


@pytest.fixture(scope="module")
def bc():
    try:
        import baracuda
    except Exception as e:
        pytest.skip(f"baracuda is not importable ({type(e).__name__}: {e})")
    return baracuda


def make(shape, dtype, device, op, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        x = torch.randint(0, 2, shape, generator=g).bool()
    elif not dtype.is_floating_point:
        lo = 0 if dtype == torch.uint8 else -3
        x = torch.randint(lo, 4, shape, generator=g).to(dtype)
    elif op in ("cummax", "cummin"):
        x = torch.randint(0, 6, shape, generator=g).to(dtype)  # ties
        x.view(-1)[::17] = float("nan")
    elif op == "cumprod":
        x = (1 + 0.05 * torch.randn(shape, generator=g, dtype=torch.float64)).to(dtype)
    else:
        x = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
    return x.to(device)


def tol(dtype, n):
    if dtype in (torch.float16, torch.bfloat16):
        return dict(rtol=2e-2, atol=2e-2 * max(1.0, n ** 0.5))
    if dtype == torch.float32:
        return dict(rtol=1e-5, atol=1e-5 * max(1.0, n ** 0.5))
    return dict(rtol=1e-10, atol=1e-10)


def torch_op(op, x, dim):
    if op in ("cumsum", "cumprod"):
        return getattr(torch, op)(x, dim)
    return getattr(torch, op)(x, dim)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOATS + INTS, ids=str)
@pytest.mark.parametrize("op", OPS)
def test_forward(bc, op, dtype, device):
    if op == "logcumsumexp" and not dtype.is_floating_point:
        pytest.skip("torch.logcumsumexp needs a floating input")
    for shape, dim in [((7,), 0), ((3, 33), 1), ((33, 3), 0), ((2, 1000, 3), 1), ((4, 4097), -1), ((0, 5), 0)]:
        x = make(shape, dtype, device, op)
        for view in (x, x.transpose(0, -1) if x.dim() > 1 else x):
            # torch's CUDA cumsum/logcumsumexp of f16/bf16 accumulate in the 16-bit type (its CPU
            # kernels and baracuda accumulate in f32), which drifts by whole units over 1000
            # elements: take torch's CPU result as the reference for those.
            ref_view = view.cpu() if (view.is_cuda and op in ("cumsum", "logcumsumexp")
                                      and dtype in (torch.float16, torch.bfloat16)) else view
            want = torch_op(op, ref_view, dim)
            want = want.to(view.device) if isinstance(want, torch.Tensor) else want
            got = getattr(bc.ops, op)(view, dim)
            if op in ("cummax", "cummin"):
                assert torch.equal(got[1], want.indices), f"{op} {dtype} {shape} dim={dim}: indices differ"
                torch.testing.assert_close(got[0], want.values, equal_nan=True, rtol=0, atol=0)
            else:
                assert got.dtype == want.dtype
                if want.dtype.is_floating_point:
                    torch.testing.assert_close(got, want, equal_nan=True, **tol(dtype, view.shape[dim]))
                else:
                    assert torch.equal(got, want), f"{op} {dtype} {shape} dim={dim}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", OPS)
def test_backward(bc, op, device):
    for dtype in (torch.float64, torch.float32):
        x = make((5, 40), dtype, device, "cumsum", seed=3)
        if op == "cumprod":
            x[1, 7] = 0  # torch's zero handling
            x[2, 3] = 0
            x[2, 9] = 0
        xr = x.clone().requires_grad_(True)
        y = getattr(torch, op)(xr, 1)
        y = y.values if op in ("cummax", "cummin") else y
        dy = torch.randn_like(y)
        (want,) = torch.autograd.grad(y, xr, dy)
        got = getattr(bc.ops, op + "_backward")(dy, x, 1)
        torch.testing.assert_close(got, want, **tol(dtype, 40))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_dtype_conversions(bc, op, device):
    # dtype= converts the input first (torch): float -> int truncates, then the scan runs in the
    # output dtype (16-bit outputs accumulate in f32 in baracuda; compared with a tolerance).
    pairs = [(torch.float32, torch.float64), (torch.int32, torch.float32), (torch.float16, torch.float32),
             (torch.int64, torch.int32), (torch.float32, torch.int64), (torch.uint8, torch.int16),
             (torch.bool, torch.float16), (torch.float64, torch.bfloat16)]
    for src, dst in pairs:
        for shape, dim in [((3, 1000), 1), ((1000, 3), 0), ((5, 7), 1)]:
            x = make(shape, src, device, op)
            if op == "cumsum" and src.is_floating_point:
                x = x * 10
            want = getattr(torch, op)(x.cpu(), dim, dtype=dst).to(device)
            got = getattr(bc.ops, op)(x, dim, dtype=dst)
            assert got.dtype == dst
            if dst.is_floating_point:
                torch.testing.assert_close(got, want, equal_nan=True, **tol(dst, shape[dim]))
            else:
                assert torch.equal(got, want), f"{op} {src} -> {dst} {shape} dim={dim}"
