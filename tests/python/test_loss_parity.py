"""PyTorch parity of the loss family through bc.ops: every op x dtype x reduction x device, forward
and backward (torch.autograd), with the op's options (weights, ignore_index, label smoothing,
pos_weight, beta, delta, margin, log_target); cross_entropy also on [N, C, d] and with class
probabilities, and its fused forward+backward.

Skips without torch, without an importable baracuda, and the CUDA cases without a GPU.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the parity suite compares against torch")
F = torch.nn.functional

HAVE_CUDA = torch.cuda.is_available()
DEVICES = [pytest.param("cpu", id="cpu"),
           pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device"))]
DTYPES = {"f64": torch.float64, "f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
TOL = {"f64": (1e-10, 1e-12), "f32": (2e-5, 1e-6), "f16": (5e-3, 1e-3), "bf16": (3e-2, 1e-2)}
REDUCTIONS = ["none", "mean", "sum"]


@pytest.fixture(scope="module")
def bc():
    try:
        import baracuda
    except Exception as e:  # ImportError, or a broken extension module
        pytest.skip(f"baracuda is not importable ({type(e).__name__}: {e})")
    return baracuda


def close(got, want, dt):
    rtol, atol = TOL[dt]
    torch.testing.assert_close(got.to(torch.float64), want.to(torch.float64), rtol=rtol, atol=atol, equal_nan=True)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def inputs_for(op, dt, device, seed=0):
    """(positional tensors, keyword options, index of the differentiated tensors) for `op`."""
    g = gen(seed)
    t = DTYPES[dt]

    def u(shape, lo, hi):
        return (torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).to(t).to(device)

    if op == "cross_entropy":
        x = u((6, 11), -4, 4)
        y = torch.randint(0, 11, (6,), generator=g).to(device)
        y[2] = -100
        return [x, y], dict(weight=u((11,), 0.5, 2.0), label_smoothing=0.1), (0,)
    if op == "nll_loss":
        x = torch.log_softmax(u((6, 11), -4, 4).double(), 1).to(t)
        y = torch.randint(0, 11, (6,), generator=g).to(device)
        y[1] = -100
        return [x, y], dict(weight=u((11,), 0.5, 2.0)), (0,)
    if op == "binary_cross_entropy":
        return [u((5, 7), 0.05, 0.95), u((5, 7), 0, 1)], dict(weight=u((7,), 0.5, 2.0)), (0,)
    if op == "binary_cross_entropy_with_logits":
        return [u((5, 7), -3, 3), u((5, 7), 0, 1)], dict(weight=u((7,), 0.5, 2.0), pos_weight=u((7,), 0.5, 3.0)), (0,)
    if op == "kl_div":
        return [torch.log_softmax(u((5, 7), -3, 3).double(), 1).to(t), u((5, 7), 0.05, 1.0)], {}, (0,)
    if op in ("cosine_embedding_loss", "margin_ranking_loss"):
        shape = (5, 7) if op == "cosine_embedding_loss" else (9,)
        y = (torch.randint(0, 2, shape[:1], generator=g) * 2 - 1).to(t).to(device)
        return [u(shape, -2, 2), u(shape, -2, 2), y], dict(margin=0.2 if op == "margin_ranking_loss" else -0.1), (0, 1)
    opts = {"smooth_l1_loss": dict(beta=0.5), "huber_loss": dict(delta=1.5)}.get(op, {})
    return [u((5, 7), -3, 3), u((5, 7), -3, 3)], opts, (0,)


OPS = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
       "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss", "margin_ranking_loss"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dt", list(DTYPES))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("op", OPS)
def test_forward_and_backward_match_torch(bc, op, reduction, dt, device):
    if device == "cpu" and dt in ("f16", "bf16") and op in ("binary_cross_entropy", "cosine_embedding_loss"):
        pytest.skip("torch CPU lacks some 16-bit kernels for this op")
    args, opts, diff = inputs_for(op, dt, device)
    targs = [a.detach().clone().requires_grad_(i in diff) for i, a in enumerate(args)]
    try:
        want = getattr(F, op)(*targs, reduction=reduction, **opts)
    except RuntimeError as e:  # e.g. a 16-bit dtype torch has no CPU kernel for
        if "not implemented" in str(e):
            pytest.skip(f"torch: {e}")
        raise
    got = getattr(bc.ops, op)(*args, reduction=reduction, **opts)
    close(got, want.detach(), dt)
    grad = torch.rand(want.shape, generator=gen(1), dtype=torch.float64).to(DTYPES[dt]).to(device) + 0.5
    want_g = torch.autograd.grad(want, [targs[i] for i in diff], grad)
    got_g = getattr(bc.ops, op + "_backward")(grad, *args, reduction=reduction, **opts)
    if not isinstance(got_g, tuple):
        got_g = (got_g,)
    for a, b in zip(got_g, want_g):
        close(a, b, dt)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dt", ["f32", "bf16"])
def test_cross_entropy_layouts_and_fused(bc, dt, device):
    g = gen(3)
    t = DTYPES[dt]
    x = (torch.randn(4, 9, 3, generator=g) * 2).to(t).to(device)
    y = torch.randint(0, 9, (4, 3), generator=g).to(device)
    y[0, 1] = 5  # ignore_index below
    for reduction in REDUCTIONS:
        close(bc.ops.cross_entropy(x, y, ignore_index=5, reduction=reduction),
              F.cross_entropy(x, y, ignore_index=5, reduction=reduction), dt)
    q = torch.softmax(torch.randn(4, 9, generator=g, dtype=torch.float64), 1).to(t).to(device)
    x2 = x[:, :, 0].contiguous()
    close(bc.ops.cross_entropy(x2, q, label_smoothing=0.2), F.cross_entropy(x2, q, label_smoothing=0.2), dt)
    xr = x2.detach().clone().requires_grad_(True)
    yy = y[:, 0].contiguous()
    want = F.cross_entropy(xr, yy, label_smoothing=0.1)
    (want_g,) = torch.autograd.grad(want, xr)
    loss, got_g = bc.ops.cross_entropy_with_grad(x2, yy, label_smoothing=0.1)
    close(loss, want.detach(), dt)
    close(got_g, want_g, dt)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dt", ["f32", "f16", "bf16"])
def test_cross_entropy_long_rows(bc, dt, device):
    """Vocabulary-sized rows (32000 classes: on sm_90 the TMA bulk-copy kernels, forward and
    gradient), ignored targets among live ones, every reduction, the backward and the fused
    forward+backward, and rows padded by 8 elements (a strided view of a wider tensor)."""
    g = gen(7)
    t = DTYPES[dt]
    n, c = 37, 32000
    wide = (torch.randn(n, c + 8, generator=g, dtype=torch.float64) * 3).to(t).to(device)
    y = torch.randint(0, c, (n,), generator=g).to(device)
    y[[3, 20]] = -100
    # f32: 32000 hardware exps per row, summed in another order than torch's.
    tol = {"f32": (5e-5, 1e-5)}.get(dt, TOL[dt])

    def near(got, want):
        torch.testing.assert_close(got.to(torch.float64), want.to(torch.float64), rtol=tol[0], atol=tol[1])

    for x in (wide[:, :c].contiguous(), wide[:, :c]):
        for reduction in REDUCTIONS:
            xr = x.detach().clone().requires_grad_(True)
            want = F.cross_entropy(xr, y, reduction=reduction)
            near(bc.ops.cross_entropy(x, y, reduction=reduction), want.detach())
            grad = torch.rand(want.shape, generator=gen(2), dtype=torch.float64).to(t).to(device) + 0.5
            (want_g,) = torch.autograd.grad(want, xr, grad)
            near(bc.ops.cross_entropy_backward(grad, x, y, reduction=reduction), want_g)
        xr = x.detach().clone().requires_grad_(True)
        want = F.cross_entropy(xr, y)
        (want_g,) = torch.autograd.grad(want, xr)
        loss, got_g = bc.ops.cross_entropy_with_grad(x, y)
        near(loss, want.detach())
        near(got_g, want_g)
