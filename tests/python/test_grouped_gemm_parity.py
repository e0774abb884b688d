"""PyTorch parity of the grouped GEMM (mixture of experts) through bc.ops.grouped_mm, on CPU
tensors (the CPU reference) and CUDA tensors (the CUTLASS sm_90a kernel) when a GPU exists.

References: a float64 loop of torch.mm over the groups on the same (rounded) inputs, and on CUDA
torch._grouped_mm when this torch has it and accepts the case (its offs convention: G group ends
without the leading 0). Tolerance: f32 accumulation then one rounding, so one ulp of D relative
(bf16 2^-7 |D|, f16 2^-10 |D|) plus 8 * 1.2e-7 * sqrt(K) * K * |alpha| absolute. Covers empty
groups, skewed group sizes, B stored [G, N, K] (a transposed view), f16 and bf16, i32 / i64
offsets, alpha, torch's offs= convention (without a host sync), and the device-side status path
(bad offsets on CUDA: check_offsets raises, D untouched). Skips without torch or an importable
baracuda, and the CUDA cases on a GPU the CUTLASS kernel does not serve (not sm_90).

The contraction split (2-D a, 2-D b: dW[g] = X_g^T dY_g, torch._grouped_mm's 2-D x 2-D case) is at
the end: a = x.T (a view), b = dy, D [G, M, N] against a float64 per-group loop and, on CUDA, against
torch._grouped_mm.

    pytest tests/python/test_grouped_gemm_parity.py -q
"""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

HAVE_CUDA = torch.cuda.is_available()
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device")),
]
DTYPES = [torch.bfloat16, torch.float16]
ULP = {torch.bfloat16: 2.0 ** -7, torch.float16: 2.0 ** -10}

# Rows per group. K and N below are multiples of 8 (16 bytes): the CUDA kernel reads with TMA.
GROUPINGS = [
    pytest.param([77], id="G1"),
    pytest.param([0, 130, 5], id="empty-first"),
    pytest.param([33, 0, 128, 1, 0, 200, 7, 0], id="G8-empty-groups"),
    pytest.param([700, 1, 0, 2, 3, 0, 0, 1], id="skewed"),
    pytest.param([0, 0, 0, 0], id="all-empty"),
]


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


def offsets_of(sizes, device, dtype=torch.int32):
    ends = torch.tensor(sizes, dtype=torch.int64).cumsum(0).tolist()
    return torch.tensor([0] + ends, dtype=dtype, device=device)


def reference(a, b, offsets, alpha=1.0):
    """float64 loop of torch.mm over the groups (on the CPU)."""
    a64, b64, off = a.double().cpu(), b.double().cpu(), offsets.cpu().tolist()
    d = torch.full((a.shape[0], b.shape[2]), float("nan"), dtype=torch.float64)
    for g in range(b.shape[0]):
        lo, hi = off[g], off[g + 1]
        d[lo:hi] = alpha * torch.mm(a64[lo:hi], b64[g])
    return d


def check(got, want64, dtype, k, alpha, what):
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}"
    assert tuple(got.shape) == tuple(want64.shape), f"{what}: shape {tuple(got.shape)} vs {tuple(want64.shape)}"
    g = got.double().cpu()
    assert torch.isfinite(g).all(), f"{what}: rows not written (NaN left)"
    tol = ULP[dtype] * want64.abs() + 8 * 1.2e-7 * math.sqrt(k) * k * abs(alpha) + 1e-6
    err = (g - want64).abs()
    bad = (err > tol).nonzero()
    if len(bad):
        r, c = bad[0].tolist()
        pytest.fail(f"{what}: {len(bad)} of {g.numel()} elements off; first [{r}, {c}]: got {g[r, c].item()}, "
                    f"want {want64[r, c].item()} (tol {tol[r, c].item():.3g})")


def grouped_or_skip(bc, device, *args, **kw):
    """bc.ops.grouped_mm; on CUDA, skips only when this GPU / build has no CUTLASS grouped kernel at all
    (every not-supported message names the device, "sm_90" included, so that is not the test: any
    other refusal on the H200 is a failure)."""
    try:
        return bc.ops.grouped_mm(*args, **kw)
    except bc.NotSupportedError as e:
        if device == "cuda" and ("built for sm_90a (Hopper) only" in str(e) or "CUTLASS headers" in str(e)):
            pytest.skip(f"no CUDA grouped GEMM for this GPU / build: {e}")
        raise


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("sizes", GROUPINGS)
@pytest.mark.parametrize("b_layout", ["gkn", "gnk"])
def test_against_float64_loop(bc, device, dtype, sizes, b_layout):
    k, n, g = 128, 96, len(sizes)
    m = sum(sizes)
    a = rnd((m, k), dtype, device, 1 + m)
    if b_layout == "gkn":
        b = rnd((g, k, n), dtype, device, 2 + g)
    else:  # W stored [G, N, K] (the nn.Linear layout), passed as a transposed view
        b = rnd((g, n, k), dtype, device, 3 + g).transpose(1, 2)
        assert not b.is_contiguous()
    off = offsets_of(sizes, device)
    out = torch.full((m, n), float("nan"), dtype=dtype, device=device)  # poisoned: every row must be written
    d = grouped_or_skip(bc, device, a, b, off, out=out)
    assert d is out
    check(d, reference(a, b, off), dtype, k, 1.0, f"{device} {dtype} sizes {sizes} B {b_layout}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("alpha", [0.5, -2.0])
@pytest.mark.parametrize("k,n", [(8, 8), (64, 264), (520, 40)])
def test_alpha_sizes_and_i64_offsets(bc, device, dtype, alpha, k, n):
    sizes = [5, 0, 67, 129, 1]
    a, b = rnd((sum(sizes), k), dtype, device, 10 + k), rnd((len(sizes), k, n), dtype, device, 11 + n)
    off = offsets_of(sizes, device, torch.int64)
    d = grouped_or_skip(bc, device, a, b, off, alpha=alpha)
    check(d, reference(a, b, off, alpha), dtype, k, alpha, f"{device} {dtype} alpha {alpha} K {k} N {n}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_offs_torch_convention_without_host_sync(bc, device, dtype):
    sizes, k, n = [17, 0, 64, 3], 64, 48
    a, b = rnd((sum(sizes), k), dtype, device, 20), rnd((4, k, n), dtype, device, 21)
    off = offsets_of(sizes, device)
    ends = off[1:]  # torch._grouped_mm's offs: the G group ends
    grouped_or_skip(bc, device, a, b, off)  # select the plan (and warm up) outside the sync check
    if device == "cuda":
        torch.cuda.synchronize()
        prev = torch.cuda.get_sync_debug_mode()
        torch.cuda.set_sync_debug_mode("error")  # any synchronizing torch call raises
        try:
            d = bc.ops.grouped_mm(a, b, offs=ends)
        finally:
            torch.cuda.set_sync_debug_mode(prev)
    else:
        d = bc.ops.grouped_mm(a, b, offs=ends)
    check(d, reference(a, b, off), dtype, k, 1.0, f"{device} {dtype} offs=")


@pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("sizes", [pytest.param([40, 0, 200, 8, 16], id="skewed"), pytest.param([64], id="G1")])
def test_against_torch_grouped_mm(bc, dtype, sizes):
    if not hasattr(torch, "_grouped_mm"):
        pytest.skip("this torch has no torch._grouped_mm")
    k, n, g, dev = 128, 256, len(sizes), "cuda"
    a = rnd((sum(sizes), k), dtype, dev, 30)
    b = rnd((g, n, k), dtype, dev, 31).transpose(1, 2)  # the layout torch._grouped_mm is built for
    off = offsets_of(sizes, dev)
    want = reference(a, b, off)
    try:
        ref = torch._grouped_mm(a, b, offs=off[1:])
    except Exception as e:  # torch's kernel has its own dtype / arch / layout rules
        pytest.skip(f"torch._grouped_mm refused this case ({type(e).__name__}: {e})")
    check(ref, want, dtype, k, 1.0, "torch._grouped_mm vs float64")  # the tolerance is torch's own too
    got = grouped_or_skip(bc, dev, a, b, offs=off[1:])
    check(got, want, dtype, k, 1.0, "grouped_mm vs float64")
    # Against torch directly: both accumulate in f32 and round once; they may differ by the two
    # roundings (one ulp of D) plus both accumulation errors.
    gd, rd = got.double().cpu(), ref.double().cpu()
    tol = ULP[dtype] * rd.abs() + 2 * 8 * 1.2e-7 * math.sqrt(k) * k + 1e-6
    assert ((gd - rd).abs() <= tol).all(), f"grouped_mm vs torch._grouped_mm: max diff {(gd - rd).abs().max().item()}"


@pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("bad,message", [
    ([0, 40, 30, 96], r"\[0, 40, 30, 96\].*decrease at group 1 \(40 -> 30\)"),
    ([8, 40, 60, 96], r"\[8, 40, 60, 96\].*must start at 0, got 8"),
    ([0, 40, 60, 90], r"\[0, 40, 60, 90\].*sum to 90.*M_total=96"),
    ([0, 40, 60, 100], r"\[0, 40, 60, 100\].*sum to 100.*M_total=96"),
    ([0, -8, 60, 96], r"\[0, -8, 60, 96\].*decrease at group 0"),
])
def test_device_status_path_bad_offsets(bc, dtype, bad, message):
    dev, k, n = "cuda", 64, 32
    a, b = rnd((96, k), dtype, dev, 40), rnd((3, k, n), dtype, dev, 41)
    off = torch.tensor(bad, dtype=torch.int32, device=dev)
    sentinel = torch.full((96, n), 3.0, dtype=dtype, device=dev)
    out = sentinel.clone()
    with pytest.raises(ValueError, match=message):
        grouped_or_skip(bc, dev, a, b, off, out=out, check_offsets=True)
    assert torch.equal(out, sentinel), "D was written although the offsets were invalid"
    # Without check_offsets run() cannot see the device's verdict: no error, and D still untouched.
    grouped_or_skip(bc, dev, a, b, off, out=out)
    torch.cuda.synchronize()
    assert torch.equal(out, sentinel), "D was written although the offsets were invalid (unchecked run)"
    # Valid offsets through the same checked path: no error, the right product.
    good = offsets_of([40, 20, 36], dev)
    d = grouped_or_skip(bc, dev, a, b, good, check_offsets=True)
    check(d, reference(a, b, good), dtype, k, 1.0, "checked run, valid offsets")


@pytest.mark.parametrize("device", DEVICES)
def test_errors(bc, device):
    h = torch.bfloat16
    a, b, off = rnd((6, 8), h, device, 50), rnd((2, 8, 8), h, device, 51), offsets_of([2, 4], device)
    with pytest.raises(ValueError, match="rank 2"):
        bc.ops.grouped_mm(a[None], b, off)
    with pytest.raises(ValueError, match=r"K=8.*K=16"):
        bc.ops.grouped_mm(a, rnd((2, 16, 8), h, device, 52), off)
    with pytest.raises(ValueError, match=r"offsets must have shape \[3\].*offs="):
        bc.ops.grouped_mm(a, b, off[1:])
    with pytest.raises(ValueError, match="bf16 or f16"):
        bc.ops.grouped_mm(a.float(), b.float(), off)
    if device == "cpu":  # the CPU reference reads the offsets: bad ones raise even without check_offsets
        with pytest.raises(ValueError, match=r"\[0, 4, 2\]"):
            bc.ops.grouped_mm(a, b, torch.tensor([0, 4, 2], dtype=torch.int32))


@pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device")
def test_cuda_refuses_layouts_tma_cannot_read(bc):
    dev = "cuda"
    a, off = rnd((16, 12), torch.bfloat16, dev, 60), offsets_of([8, 8], dev)  # K = 12: rows of 24 bytes
    b = rnd((2, 12, 16), torch.bfloat16, dev, 61)
    try:
        bc.ops.grouped_mm(a[:, :8].contiguous(), b[:, :8], off)
    except bc.NotSupportedError as e:
        pytest.skip(f"no CUDA grouped GEMM here: {e}")
    with pytest.raises(bc.NotSupportedError, match="multiples of 8"):
        bc.ops.grouped_mm(a, b, off)


# ------------------------------------------------------------------------------------------------
# The contraction split: D[g] = alpha * a[:, off[g]:off[g+1]] @ b[off[g]:off[g+1]].


contraction_or_skip = grouped_or_skip


def reference_contraction(a, b, offsets, alpha=1.0):
    """float64 loop of torch.mm over the groups (on the CPU); an empty group gives zeros."""
    a64, b64, off = a.double().cpu(), b.double().cpu(), offsets.cpu().tolist()
    g_count = len(off) - 1
    d = torch.empty((g_count, a.shape[0], b.shape[1]), dtype=torch.float64)
    for g in range(g_count):
        lo, hi = off[g], off[g + 1]
        d[g] = alpha * torch.mm(a64[:, lo:hi], b64[lo:hi])
    return d


def check3(got, want64, dtype, k, alpha, what):
    """check() per group (D [G, M, N])."""
    assert tuple(got.shape) == tuple(want64.shape), f"{what}: shape {tuple(got.shape)} vs {tuple(want64.shape)}"
    for g in range(got.shape[0]):
        check(got[g], want64[g], dtype, k, alpha, f"{what} group {g}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("sizes", GROUPINGS)  # here: the contraction length of each group
def test_contraction_against_float64_loop(bc, device, dtype, sizes):
    m, n, g = 96, 80, len(sizes)
    k_total = sum(sizes)
    x = rnd((k_total, m), dtype, device, 70 + k_total)  # X [tokens, features], row-major
    dy = rnd((k_total, n), dtype, device, 71 + g)
    off = offsets_of(sizes, device)
    out = torch.full((g, m, n), float("nan"), dtype=dtype, device=device)  # poisoned: empty groups must be zeroed
    d = contraction_or_skip(bc, device, x.t(), dy, off, out=out)
    assert d is out
    want = reference_contraction(x.t(), dy, off)
    check3(d, want, dtype, max(sizes + [1]), 1.0, f"{device} {dtype} contraction K_g {sizes}")
    for gi, s in enumerate(sizes):
        if s == 0:
            assert torch.equal(d[gi].double().cpu(), torch.zeros((m, n), dtype=torch.float64)), f"group {gi} not zero"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("alpha", [0.5, -2.0])
def test_contraction_alpha_and_offs(bc, device, dtype, alpha):
    sizes, m, n = [5, 0, 67, 129, 1], 64, 136
    x, dy = rnd((sum(sizes), m), dtype, device, 80), rnd((sum(sizes), n), dtype, device, 81)
    off = offsets_of(sizes, device, torch.int64)
    d = contraction_or_skip(bc, device, x.t(), dy, offs=off[1:], alpha=alpha)
    check3(d, reference_contraction(x.t(), dy, off, alpha), dtype, 129, alpha, f"{device} {dtype} alpha {alpha}")


@pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("sizes", [pytest.param([40, 0, 200, 8, 16], id="skewed"), pytest.param([64], id="G1")])
def test_contraction_against_torch_grouped_mm(bc, dtype, sizes):
    if not hasattr(torch, "_grouped_mm"):
        pytest.skip("this torch has no torch._grouped_mm")
    m, n, dev = 128, 256, "cuda"
    x, dy = rnd((sum(sizes), m), dtype, dev, 90), rnd((sum(sizes), n), dtype, dev, 91)
    off = offsets_of(sizes, dev)
    want = reference_contraction(x.t(), dy, off)
    k = max(sizes)
    try:
        ref = torch._grouped_mm(x.t(), dy, offs=off[1:])
    except Exception as e:  # torch's kernel has its own dtype / arch / layout rules
        pytest.skip(f"torch._grouped_mm refused this case ({type(e).__name__}: {e})")
    check3(ref, want, dtype, k, 1.0, "torch._grouped_mm vs float64")
    got = contraction_or_skip(bc, dev, x.t(), dy, offs=off[1:])
    check3(got, want, dtype, k, 1.0, "grouped_mm vs float64")
    gd, rd = got.double().cpu(), ref.double().cpu()
    tol = ULP[dtype] * rd.abs() + 2 * 8 * 1.2e-7 * math.sqrt(k) * k + 1e-6
    assert ((gd - rd).abs() <= tol).all(), f"grouped_mm vs torch._grouped_mm: max diff {(gd - rd).abs().max().item()}"


@pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device")
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_contraction_device_status_path_bad_offsets(bc, dtype):
    dev, m, n = "cuda", 64, 32
    x, dy = rnd((96, m), dtype, dev, 97), rnd((96, n), dtype, dev, 98)
    off = torch.tensor([0, 40, 30, 96], dtype=torch.int32, device=dev)
    sentinel = torch.full((3, m, n), 3.0, dtype=dtype, device=dev)
    out = sentinel.clone()
    with pytest.raises(ValueError, match=r"\[0, 40, 30, 96\].*decrease at group 1 \(40 -> 30\)"):
        contraction_or_skip(bc, dev, x.t(), dy, off, out=out, check_offsets=True)
    assert torch.equal(out, sentinel), "D was written although the offsets were invalid"
