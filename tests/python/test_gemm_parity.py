"""PyTorch parity of the GEMM family through bc.ops: torch.matmul / mm / bmm / addmm / baddbmm /
nn.functional.linear (+ activation) / torch._int_mm / torch._scaled_mm, and linear's backward
against torch.autograd, on CPU tensors and on CUDA tensors when a GPU exists. The reference is
torch in float64 on the same (rounded) inputs; tolerances are the output dtype's, scaled by
sqrt(K). Skips without torch or an importable baracuda.

    pytest tests/python/test_gemm_parity.py -q
"""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

HAVE_CUDA = torch.cuda.is_available()
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device")),
]
DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
# Per-element tolerance before the sqrt(K) factor: one rounding of the output plus accumulation.
TOL = {torch.float64: 1e-13, torch.float32: 2e-6, torch.float16: 2e-3, torch.bfloat16: 1.6e-2}
SIZES = [(1, 1, 1), (7, 129, 7), (129, 7, 129), (33, 65, 4095)]


@pytest.fixture(scope="module")
def bc():
    try:
        import baracuda
    except Exception as e:
        pytest.skip(f"baracuda is not importable ({type(e).__name__}: {e})")
    return baracuda


def rnd(shape, dtype, device, seed):
    g = torch.Generator(device="cpu").manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1).to(device=device, dtype=dtype)


def check(got, want64, dtype, k, what):
    """want64: the float64 product of the same inputs; the error scales with sqrt(K) and |A||B|."""
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}"
    assert got.shape == want64.shape, f"{what}: shape {tuple(got.shape)} vs {tuple(want64.shape)}"
    tol = TOL[dtype] * max(1.0, math.sqrt(k))
    scale = max(1.0, want64.abs().max().item()) if want64.numel() else 1.0
    torch.testing.assert_close(got.double().cpu(), want64.cpu(), rtol=TOL[dtype], atol=tol * scale,
                               msg=lambda m: f"{what}: {m}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("m,n,k", SIZES)
def test_mm_layouts(bc, device, dtype, m, n, k):
    if device == "cpu" and k > 1000 and dtype != torch.float64:
        pytest.skip("slow CPU reference on the big K for 16-bit types")
    a, b = rnd((m, k), dtype, device, m + k), rnd((k, n), dtype, device, n + 3 * k)
    want = a.double() @ b.double()
    check(bc.ops.mm(a, b), want, dtype, k, "mm")
    check(bc.ops.mm(a.t().contiguous().t(), b), want, dtype, k, "mm A column-major")
    check(bc.ops.mm(a, b.t().contiguous().t()), want, dtype, k, "mm B column-major")
    # torch agrees with the same reference (so the tolerance is torch's own, not looser).
    check(torch.mm(a, b), want, dtype, k, "torch.mm")


@pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=str)
def test_autotuned_plan_matches(bc, dtype):
    # autotune picks one of cuBLASLt's ranked algorithms by timing: any of them must be right.
    a, b = rnd((16, 2048), dtype, "cuda", 31), rnd((2048, 4096), dtype, "cuda", 32)
    check(bc.ops.gemm(a, b, autotune=True), a.double() @ b.double(), dtype, 2048, "gemm autotune")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_batched_broadcast_and_addmm(bc, device, dtype):
    a, b = rnd((3, 1, 9, 17), dtype, device, 1), rnd((4, 17, 5), dtype, device, 2)
    check(bc.ops.matmul(a, b), torch.matmul(a.double(), b.double()), dtype, 17, "matmul broadcast")
    x, y = rnd((6, 9, 17), dtype, device, 3), rnd((6, 17, 5), dtype, device, 4)
    check(bc.ops.bmm(x, y), torch.bmm(x.double(), y.double()), dtype, 17, "bmm")
    c = rnd((6, 9, 5), dtype, device, 5)
    check(bc.ops.baddbmm(c, x, y, beta=0.5, alpha=-2.0),
          torch.baddbmm(c.double(), x.double(), y.double(), beta=0.5, alpha=-2.0), dtype, 17, "baddbmm")
    c2, m1, m2 = rnd((5,), dtype, device, 6), rnd((9, 17), dtype, device, 7), rnd((17, 5), dtype, device, 8)
    check(bc.ops.addmm(c2, m1, m2), torch.addmm(c2.double(), m1.double(), m2.double()), dtype, 17, "addmm")
    v = rnd((17,), dtype, device, 9)
    check(bc.ops.matmul(m1, v), m1.double() @ v.double(), dtype, 17, "matmul vector")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("act", [None, "relu", "gelu", "gelu_tanh", "silu"])
def test_linear_activation(bc, device, dtype, act):
    x, w, bias = rnd((2, 33, 64), dtype, device, 10), rnd((48, 64), dtype, device, 11), rnd((48,), dtype, device, 12)
    pre = F.linear(x.double(), w.double(), bias.double())
    ref = {None: lambda t: t, "relu": F.relu, "gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"),
           "silu": F.silu}[act](pre)
    try:
        got = bc.ops.linear(x, w, bias, activation=act)
    except bc.NotSupportedError as e:  # an epilogue the selected backend lacks must say so, never be wrong
        pytest.skip(f"not supported here: {e}")
    check(got, ref, dtype, 64, f"linear {act}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16], ids=str)
def test_linear_backward_against_autograd(bc, device, dtype):
    x, w, b = rnd((3, 7, 40), dtype, device, 13), rnd((24, 40), dtype, device, 14), rnd((24,), dtype, device, 15)
    g = rnd((3, 7, 24), dtype, device, 16)
    xl, wl, bl = (t.double().requires_grad_(True) for t in (x, w, b))
    rdx, rdw, rdb = torch.autograd.grad(F.linear(xl, wl, bl), (xl, wl, bl), g.double())
    dx, dw, db = bc.ops.linear_backward(g, x, w)
    check(dx, rdx, dtype, 24, "dinput")
    check(dw, rdw, dtype, 21, "dweight")
    check(db, rdb, dtype, 21, "dbias")


@pytest.mark.parametrize("device", DEVICES)
def test_int_mm(bc, device):
    g = torch.Generator(device="cpu").manual_seed(17)
    a = torch.randint(-128, 128, (33, 256), generator=g, dtype=torch.int8).to(device)
    b = torch.randint(-128, 128, (256, 40), generator=g, dtype=torch.int8).to(device)
    got = bc.ops.int_mm(a, b)
    assert got.dtype == torch.int32
    # Exact: the int64 product on the CPU (torch has no int64 matmul on CUDA).
    torch.testing.assert_close(got.cpu(), (a.cpu().long() @ b.cpu().long()).int(), rtol=0, atol=0)


@pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device")
@pytest.mark.parametrize("out_dtype", [torch.bfloat16, torch.float32])
def test_scaled_mm_fp8(bc, out_dtype):
    dev = "cuda"
    a = rnd((64, 128), torch.float32, dev, 18).to(torch.float8_e4m3fn)
    w = rnd((96, 128), torch.float32, dev, 19).to(torch.float8_e4m3fn)
    sa, sb = torch.tensor(0.5, device=dev), torch.tensor(4.0, device=dev)
    want = (a.double() @ w.double().t()) * 2.0
    got = bc.ops.scaled_mm(a, w.t(), sa, sb, out_dtype=out_dtype)
    ref = torch._scaled_mm(a, w.t(), scale_a=sa, scale_b=sb, out_dtype=out_dtype)
    # Hopper's fp8 MMA accumulates with fewer bits than f32 between promotions: against the f64
    # product the error is ~2^-13 of the partial sums (1.4e-3 at |D| ~ 12 was seen on the H200 for
    # an f32 D), whatever D's dtype. Against torch._scaled_mm (the same arithmetic) D's own tolerance.
    for what, t in (("scaled_mm", got), ("torch._scaled_mm", ref)):
        scale = max(1.0, want.abs().max().item())
        torch.testing.assert_close(t.double().cpu(), want.cpu(), rtol=max(TOL[out_dtype], 2**-9),
                                   atol=2**-11 * math.sqrt(128) * scale, msg=lambda m, w=what: f"{w}: {m}")
    check(got, ref.double(), out_dtype, 128, "scaled_mm vs torch._scaled_mm")


@pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device")
def test_scaled_mm_fp8_fast_accum(bc):
    """use_fast_accum=True on both sides: the tensor cores' fast accumulation, over a long K (4096,
    where it differs most from f32 accumulation); against torch._scaled_mm with the same flag, and
    against the f64 product within the fast mode's looser error."""
    dev = "cuda"
    m, n, k = 128, 256, 4096
    a = rnd((m, k), torch.float32, dev, 28).to(torch.float8_e4m3fn)
    w = rnd((n, k), torch.float32, dev, 29).to(torch.float8_e4m3fn)
    one = torch.tensor(1.0, device=dev)
    got = bc.ops.scaled_mm(a, w.t(), one, one, out_dtype=torch.float32, use_fast_accum=True)
    ref = torch._scaled_mm(a, w.t(), scale_a=one, scale_b=one, out_dtype=torch.float32, use_fast_accum=True)
    want = a.double() @ w.double().t()
    scale = max(1.0, want.abs().max().item())
    for what, t in (("scaled_mm", got), ("torch._scaled_mm", ref)):
        torch.testing.assert_close(t.double(), want, rtol=2**-7, atol=2**-9 * math.sqrt(k) * scale,
                                   msg=lambda msg, w=what: f"{w}: {msg}")
    torch.testing.assert_close(got, ref, rtol=2**-7, atol=2**-9 * math.sqrt(k) * scale)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("recipe", ["rowwise", "1x128 x 128x128"])
def test_scaled_mm_rowwise_and_block_scales(bc, device, recipe):
    """Per-row scales and DeepSeek-V3's block recipe (1x128 activations, 128x128 weights), each scale
    tensor laid out as torch._scaled_mm (and cuBLASLt) take it; against the f64 product with every
    scale expanded to its element, and against torch._scaled_mm where it runs."""
    m, n, k = 256, 384, 512
    kb = k // 128
    g = torch.Generator(device="cpu").manual_seed(23)
    a = (torch.rand((m, k), generator=g) * 4 - 2).to(torch.float8_e4m3fn).to(device)
    w = (torch.rand((n, k), generator=g) * 4 - 2).to(torch.float8_e4m3fn).to(device)
    pow2 = lambda shape: torch.pow(2.0, torch.randint(-2, 2, shape, generator=g).float())  # noqa: E731
    if recipe == "rowwise":
        sa, sb = pow2((m, 1)).to(device), pow2((1, n)).to(device)
        ea, eb = sa.double().expand(m, k), sb.double().expand(k, n)
    else:
        sa = pow2((m, kb)).to(device).t().contiguous().t()  # each K block's M scales contiguous
        sw = pow2((n // 128, kb)).to(device)                # per 128x128 block of W [N, K]
        sb = sw.t()                                         # B = W^T: [K/128, N/128]
        ea = sa.double().repeat_interleave(128, dim=1)
        eb = sb.double().repeat_interleave(128, dim=0).repeat_interleave(128, dim=1)
    want = (a.double() * ea) @ (w.double().t() * eb)
    got = bc.ops.scaled_mm(a, w.t(), sa, sb, out_dtype=torch.bfloat16)
    check(got, want, torch.bfloat16, k, f"scaled_mm {recipe}")
    if device == "cuda":
        try:
            ref = torch._scaled_mm(a, w.t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)
        except (RuntimeError, NotImplementedError) as e:  # a torch build without the mode
            pytest.skip(f"torch._scaled_mm refuses {recipe}: {e}")
        check(got, ref.double(), torch.bfloat16, k, f"scaled_mm {recipe} vs torch._scaled_mm")


@pytest.mark.parametrize("device", DEVICES)
def test_errors(bc, device):
    a, b = rnd((3, 4), torch.float32, device, 1), rnd((5, 2), torch.float32, device, 2)
    with pytest.raises(bc.InvalidArgumentError):
        bc.ops.mm(a, b)
    with pytest.raises(bc.BaracudaError):
        bc.ops.mm(a.double(), rnd((4, 2), torch.float32, device, 3))  # mixed dtypes (torch refuses too)
    with pytest.raises(RuntimeError):
        torch.mm(a.double(), rnd((4, 2), torch.float32, device, 3))
