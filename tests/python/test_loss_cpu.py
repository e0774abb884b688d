"""The loss family through the Python package, on the CPU with numpy only: bc.LossPlan,
bc.loss_catalog() and the functional layer (bc.ops.cross_entropy / nll_loss / mse_loss / ... and
their _backward), against numpy formulas and numerical differences."""
from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")


@pytest.fixture(scope="module")
def bc():
    try:
        import baracuda
    except Exception as e:  # ImportError, or a broken extension module
        pytest.skip(f"baracuda is not importable ({type(e).__name__}: {e}); pip install . first")
    return baracuda


def rand(shape, seed=0, lo=-3.0, hi=3.0, dtype=np.float64):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape).astype(dtype)


def log_softmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    """Written from PyTorch's documentation, [N, C] with class indices."""
    lp = log_softmax(x)
    n, c = x.shape
    w = np.ones(c) if weight is None else weight
    keep = t != ignore_index
    tt = np.where(keep, t, 0)
    nll = -lp[np.arange(n), tt] * w[tt] * keep
    smooth = -(lp * w).sum(axis=1) * keep
    per = (1 - eps) * nll + eps / c * smooth
    if reduction == "none":
        return per
    if reduction == "sum":
        return per.sum()
    return per.sum() / (w[tt] * keep).sum()


def test_catalog_and_exports(bc):
    names = [d["name"] for d in bc.loss_catalog()]
    assert len(names) == 11
    for n in names:
        assert callable(getattr(bc.ops, n)) and callable(getattr(bc.ops, n + "_backward"))
    assert callable(bc.ops.cross_entropy_with_grad)
    assert not set(names) & {d["name"] for d in bc.catalog()}


def test_plan_api(bc):
    p = bc.LossPlan("cross_entropy", ("f32", (4, 10), None, False), ("i64", (4,), None, False), reduction="none")
    assert p.signature["loss_shape"] == (4,)
    assert p.signature["classes"] == 10
    assert "cpu_reference" in p.sku_string
    assert bc.loss_infer_signature("mse_loss", ("f32", (2, 3), None, False), ("f32", (2, 3), None, False),
                                   reduction="mean")["loss_shape"] == ()


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_matches_numpy(bc, reduction, weighted, eps):
    x = rand((6, 5), seed=1)
    t = np.array([0, 4, -100, 2, 1, 3], dtype=np.int64)
    w = rand((5,), seed=2, lo=0.5, hi=2.0) if weighted else None
    got = bc.ops.cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=eps)
    want = np_cross_entropy(x, t, w, reduction=reduction, eps=eps)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-14)


def test_cross_entropy_z_loss_and_probabilities(bc):
    x = rand((3, 4), seed=3)
    t = np.array([1, 0, 3], dtype=np.int32)
    lse = np.log(np.exp(x).sum(axis=1))
    base = np_cross_entropy(x, t.astype(np.int64), reduction="none")
    got = bc.ops.cross_entropy(x, t, reduction="none", z_loss=1e-2)
    np.testing.assert_allclose(got, base + 1e-2 * lse ** 2, rtol=1e-12)
    q = rand((3, 4), seed=4, lo=0.1, hi=1.0)
    q /= q.sum(axis=1, keepdims=True)
    got = bc.ops.cross_entropy(x, q)
    np.testing.assert_allclose(got, -(q * log_softmax(x)).sum(axis=1).mean(), rtol=1e-12)


def test_cross_entropy_backward_and_fused(bc):
    x = rand((4, 6), seed=5)
    t = np.array([5, -100, 0, 2], dtype=np.int64)
    g = bc.ops.cross_entropy_backward(np.array(1.0), x, t, label_smoothing=0.1)
    loss, g2 = bc.ops.cross_entropy_with_grad(x, t, label_smoothing=0.1)
    np.testing.assert_array_equal(g, g2)
    np.testing.assert_allclose(loss, bc.ops.cross_entropy(x, t, label_smoothing=0.1), rtol=0, atol=0)
    h = 1e-6
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.flat[i] += h
        xm.flat[i] -= h
        fd = (bc.ops.cross_entropy(xp, t, label_smoothing=0.1) - bc.ops.cross_entropy(xm, t, label_smoothing=0.1)) / (2 * h)
        assert abs(g.flat[i] - fd) < 1e-7


def test_nll_loss(bc):
    lp = log_softmax(rand((5, 3), seed=6))
    t = np.array([0, 2, 1, 1, -100])
    w = np.array([1.0, 2.0, 0.5])
    got = bc.ops.nll_loss(lp, t, weight=w)
    keep = t != -100
    tt = np.where(keep, t, 0)
    np.testing.assert_allclose(got, (-lp[np.arange(5), tt] * w[tt] * keep).sum() / (w[tt] * keep).sum(), rtol=1e-12)
    g = bc.ops.nll_loss_backward(np.array(2.0), lp, t, weight=w)
    assert g.shape == lp.shape and g[4].tolist() == [0.0, 0.0, 0.0]


def test_pointwise_losses_match_numpy(bc):
    x, t = rand((4, 5), seed=7), rand((4, 5), seed=8)
    d = x - t
    np.testing.assert_allclose(bc.ops.mse_loss(x, t), (d ** 2).mean(), rtol=1e-12)
    np.testing.assert_allclose(bc.ops.l1_loss(x, t, reduction="sum"), np.abs(d).sum(), rtol=1e-12)
    a = np.abs(d)
    np.testing.assert_allclose(bc.ops.smooth_l1_loss(x, t, reduction="none", beta=0.5),
                               np.where(a < 0.5, 0.5 * d ** 2 / 0.5, a - 0.25), rtol=1e-12)
    np.testing.assert_allclose(bc.ops.huber_loss(x, t, reduction="none", delta=2.0),
                               np.where(a < 2.0, 0.5 * d ** 2, 2.0 * (a - 1.0)), rtol=1e-12)
    p, y = rand((4, 5), seed=9, lo=0.05, hi=0.95), rand((4, 5), seed=10, lo=0.0, hi=1.0)
    np.testing.assert_allclose(bc.ops.binary_cross_entropy(p, y),
                               -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(), rtol=1e-12)
    pw = np.array([2.0, 1.0, 0.5, 3.0, 1.5])
    sig = 1 / (1 + np.exp(-x))
    want = -(pw * y * np.log(sig) + (1 - y) * np.log(1 - sig))
    np.testing.assert_allclose(bc.ops.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=pw), want,
                               rtol=1e-10)
    lq = log_softmax(rand((4, 5), seed=11))
    q = np.exp(log_softmax(rand((4, 5), seed=12)))
    np.testing.assert_allclose(bc.ops.kl_div(lq, q, reduction="sum"), (q * (np.log(q) - lq)).sum(), rtol=1e-12)
    np.testing.assert_allclose(bc.ops.kl_div(lq, np.log(q), reduction="sum", log_target=True),
                               (q * (np.log(q) - lq)).sum(), rtol=1e-12)


def test_pair_losses_and_backward(bc):
    x1, x2 = rand((3, 4), seed=13), rand((3, 4), seed=14)
    y = np.array([1.0, -1.0, 1.0])
    cos = (x1 * x2).sum(1) / np.sqrt(((x1 ** 2).sum(1) + 1e-12) * ((x2 ** 2).sum(1) + 1e-12))
    want = np.where(y == 1, 1 - cos, np.maximum(0, cos - 0.1))
    np.testing.assert_allclose(bc.ops.cosine_embedding_loss(x1, x2, y, margin=0.1, reduction="none"), want, rtol=1e-12)
    a, b = rand((6,), seed=15), rand((6,), seed=16)
    yy = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    np.testing.assert_allclose(bc.ops.margin_ranking_loss(a, b, yy, margin=0.2),
                               np.maximum(0, -yy * (a - b) + 0.2).mean(), rtol=1e-12)
    ga, gb = bc.ops.margin_ranking_loss_backward(np.array(1.0), a, b, yy, margin=0.2)
    active = (-yy * (a - b) + 0.2) >= 0
    np.testing.assert_allclose(ga, np.where(active, -yy, 0) / 6, rtol=1e-12)
    np.testing.assert_allclose(gb, -ga, rtol=1e-12)
    g = bc.ops.mse_loss_backward(np.ones((3, 4)), x1, x2, reduction="none")
    np.testing.assert_allclose(g, 2 * (x1 - x2), rtol=1e-12)


def test_errors(bc):
    x = rand((4, 5), seed=17)
    with pytest.raises(bc.InvalidArgumentError, match=r"\[3\]"):
        bc.ops.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(bc.InvalidArgumentError, match="target 7"):
        bc.ops.cross_entropy(x, np.array([0, 1, 7, 2]))
    with pytest.raises(bc.InvalidArgumentError, match="weight"):
        bc.ops.cross_entropy(x, np.array([0, 1, 2, 3]), weight=np.ones(4))
    with pytest.raises(bc.InvalidArgumentError, match="i16"):
        bc.ops.cross_entropy(x, np.array([0, 1, 2, 3], dtype=np.int16))
    with pytest.raises(bc.InvalidArgumentError, match=r"\[4, 4\]"):
        bc.ops.mse_loss(x, rand((4, 4)))
    with pytest.raises(ValueError):
        bc.ops.mse_loss(x, x, reduction="batchmean")


def test_float32_and_float16(bc):
    x = rand((3, 7), seed=18, dtype=np.float32)
    t = np.array([1, 2, 6])
    got = bc.ops.cross_entropy(x, t)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np_cross_entropy(x.astype(np.float64), t), rtol=1e-6)
    h = x.astype(np.float16)
    assert bc.ops.cross_entropy(h, t).dtype == np.float16
