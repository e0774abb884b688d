"""PyTorch parity of the complex elementwise ops (c64, c128), forward and backward, through
baracuda.ops on torch tensors (CPU, and CUDA when a GPU exists). The backward is compared with
torch.autograd.grad(f(z), z, grad_outputs=g): PyTorch's convention for complex autograd (the
conjugate Wirtinger derivative, grad_in = g * conj(f'(z)) for holomorphic f).

Skips without torch or without an importable baracuda; the CUDA cases skip without a GPU.
"""
from __future__ import annotations

import pytest

try:
    import torch
except ImportError:
    torch = None

HAVE_CUDA = bool(torch is not None and torch.cuda.is_available())
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device: GPU parity skipped")),
]
DTYPES = ["complex64", "complex128"]
TOL = {"complex64": (2e-5, 2e-6), "complex128": (1e-11, 1e-12)}


@pytest.fixture(scope="module")
def tt():
    return pytest.importorskip("torch", reason="PyTorch is not installed: the parity suite compares against torch")


@pytest.fixture(scope="module")
def bc():
    try:
        import baracuda
    except Exception as e:  # ImportError, or a broken extension module
        pytest.skip(f"baracuda is not importable ({type(e).__name__}: {e})")
    return baracuda


# op -> (torch function, number of inputs, differentiable, input box half-width, min modulus)
UNARY = {
    "exp": (lambda z: torch.exp(z), True, 2.0, 0.0),
    "log": (lambda z: torch.log(z), True, 2.0, 0.25),
    "sqrt": (lambda z: torch.sqrt(z), True, 2.0, 0.25),
    "reciprocal": (lambda z: torch.reciprocal(z), True, 2.0, 0.25),
    "sin": (lambda z: torch.sin(z), True, 2.0, 0.0),
    "cos": (lambda z: torch.cos(z), True, 2.0, 0.0),
    "tanh": (lambda z: torch.tanh(z), True, 1.2, 0.0),
    "sigmoid": (lambda z: torch.sigmoid(z), True, 1.2, 0.0),
    "neg": (lambda z: torch.neg(z), True, 2.0, 0.0),
    "square": (lambda z: torch.square(z), True, 2.0, 0.0),
    "abs": (lambda z: torch.abs(z), True, 2.0, 0.1),
    "isnan": (lambda z: torch.isnan(z), False, 2.0, 0.0),
    "isinf": (lambda z: torch.isinf(z), False, 2.0, 0.0),
    "isfinite": (lambda z: torch.isfinite(z), False, 2.0, 0.0),
}
BINARY = {
    "add": (lambda a, b: torch.add(a, b, alpha=2.0), {"alpha": 2.0}, True),
    "sub": (lambda a, b: torch.sub(a, b, alpha=0.5), {"alpha": 0.5}, True),
    "mul": (lambda a, b: torch.mul(a, b), {}, True),
    "div": (lambda a, b: torch.div(a, b), {}, True),
    "pow": (lambda a, b: torch.pow(a, b), {}, False),
    "eq": (lambda a, b: torch.eq(a, b), {}, False),
    "ne": (lambda a, b: torch.ne(a, b), {}, False),
}


def rand(shape, dtype, device, half=2.0, min_modulus=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    re = (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * half
    im = (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * half
    z = torch.complex(re, im)
    small = z.abs() < min_modulus
    z[small] = z[small] + 2 * min_modulus
    return z.to(getattr(torch, dtype)).to(device)


def assert_close(got, want, dtype, what):
    rtol, atol = TOL[dtype]
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != torch's {want.dtype}"
    if want.dtype == torch.bool:
        assert torch.equal(got.cpu(), want.cpu()), what
    else:
        torch.testing.assert_close(got.cpu(), want.cpu(), rtol=rtol, atol=atol, equal_nan=True, msg=what)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary(tt, bc, op, dtype, device):
    fn, diff, half, min_mod = UNARY[op]
    for shape, view in (((7,), lambda t: t), ((33, 10), lambda t: t.t()), ((20, 8), lambda t: t[::2, ::3])):
        z = view(rand(shape, dtype, device, half, min_mod, seed=len(op)))
        assert_close(getattr(bc.ops, op)(z), fn(z), dtype, f"{op}({dtype}, {tuple(z.shape)}, {device})")
        if diff:
            zr = z.detach().clone().requires_grad_(True)
            g = rand(tuple(z.shape), dtype, device, seed=3)
            if not fn(zr).dtype.is_complex:  # abs: a real result takes a real gradient
                g = g.real.contiguous()
            (want,) = torch.autograd.grad(fn(zr), zr, grad_outputs=g)
            (got,) = getattr(bc.ops, op + "_backward")(g, z)
            assert_close(got, want, dtype, f"{op}_backward({dtype}, {tuple(z.shape)}, {device})")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary(tt, bc, op, dtype, device):
    fn, attrs, diff = BINARY[op]
    a = rand((37, 29), dtype, device, seed=1)
    b = rand((29,), dtype, device, min_modulus=0.5, seed=2)  # broadcast, away from zero (div, pow base)
    if op == "pow":
        a, b = b.expand(37, 29).contiguous(), rand((29,), dtype, device, half=1.5, seed=4)
    assert_close(getattr(bc.ops, op)(a, b, **attrs), fn(a, b), dtype, f"{op}({dtype}, {device})")
    # A real Python scalar operand.
    if op not in ("eq", "ne"):
        assert_close(getattr(bc.ops, op)(a, 1.5, **attrs), fn(a, 1.5), dtype, f"{op}(tensor, 1.5)")
    if diff:
        ar, br = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
        out = fn(ar, br)
        g = rand(tuple(out.shape), dtype, device, seed=5)
        want = torch.autograd.grad(out, (ar, br), grad_outputs=g)
        got = getattr(bc.ops, op + "_backward")(g, a, b, **attrs)  # b's gradient summed to its shape
        for i in range(2):
            assert_close(got[i], want[i], dtype, f"{op}_backward input {i} ({dtype}, {device})")


@pytest.mark.parametrize("device", DEVICES)
def test_mixed_real_complex(tt, bc, device):
    a = rand((64,), "complex64", device, seed=7)
    r = torch.linspace(-2, 2, 64, dtype=torch.float64, device=device)
    assert_close(bc.ops.mul(a, r), a * r, "complex128", "c64 * f64 -> c128")
    ar, rr = a.clone().requires_grad_(True), r.clone().requires_grad_(True)
    out = ar * rr
    g = rand((64,), "complex128", device, seed=8)
    want = torch.autograd.grad(out, (ar, rr), grad_outputs=g)
    got = bc.ops.mul_backward(g, a, r)
    assert_close(got[0], want[0], "complex64", "mul backward, complex input")
    torch.testing.assert_close(got[1].cpu(), want[1].cpu(), rtol=1e-6, atol=1e-6)  # the real input: a real gradient


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_where_and_conj_views(tt, bc, dtype, device):
    a = rand((50,), dtype, device, seed=9)
    b = rand((50,), dtype, device, seed=10)
    cond = torch.arange(50, device=device) % 3 == 0
    assert_close(bc.ops.where(cond, a, b), torch.where(cond, a, b), dtype, "where")
    # A lazily conjugated view (torch's conj bit) is materialized before it is handed over.
    assert_close(bc.ops.exp(a.conj()), torch.exp(a.conj()), dtype, "exp(conj view)")


CAST_TARGETS = ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
                "complex64", "complex128"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("src", DTYPES)
def test_cast_from_complex(tt, bc, src, device):
    z = rand((41,), src, device, half=100.0, seed=11)
    z[3] = complex(0.0, 0.0)
    z[4] = complex(0.0, 1.0)
    for dst in CAST_TARGETS:
        dt = getattr(torch, dst)
        if dst in ("uint8",):  # torch's complex -> uint8 of negative values is undefined behaviour in C
            zz = torch.complex(z.real.abs(), z.imag)
        else:
            zz = z
        want = zz.to(dt) if dt.is_complex else _real_cast(zz, dt)
        got = bc.ops.cast(zz, dt)
        assert got.dtype == want.dtype
        assert torch.equal(got.cpu(), want.cpu()), f"cast {src}->{dst} ({device})"


def _real_cast(z, dt):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Casting complex values to real discards the imaginary part"
        return z.to(dt)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dst", DTYPES)
def test_cast_to_complex(tt, bc, dst, device):
    for src in ["float64", "float32", "float16", "bfloat16", "int64", "int32", "int8", "uint8", "bool"]:
        x = (torch.arange(-20, 21, device=device) * 1.25)
        x = (x.abs() if src in ("uint8",) else x).to(getattr(torch, src))
        want = x.to(getattr(torch, dst))
        got = bc.ops.cast(x, getattr(torch, dst))
        assert torch.equal(got.cpu(), want.cpu()), f"cast {src}->{dst} ({device})"
