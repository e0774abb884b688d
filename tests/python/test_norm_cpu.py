"""The normalization family through the Python package, on the CPU with numpy only:
bc.NormPlan, bc.norm_catalog() and the functional layer (bc.ops.layer_norm / rms_norm / add_* /
group_norm / instance_norm / batch_norm and their _backward) against numpy formulas and numerical
differences."""
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


def rand(shape, seed=0, lo=-2.0, hi=4.0, dtype=np.float64):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape).astype(dtype)


def np_norm(x, axes, eps, rms=False):
    if rms:
        return x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    m = x.mean(axis=axes, keepdims=True)
    return (x - m) / np.sqrt(((x - m) ** 2).mean(axis=axes, keepdims=True) + eps)


def test_catalog(bc):
    names = {d["name"] for d in bc.norm_catalog()}
    assert {"layer_norm", "rms_norm", "add_layer_norm", "add_rms_norm", "group_norm", "batch_norm",
            "instance_norm"} <= names


def test_signature_roles(bc):
    sig = bc._C.norm_infer_signature("layer_norm", ("bf16", (4, 8), None, False), (8,), param_dtype="f32")
    assert sig["input_roles"] == ["x", "weight", "bias"]
    assert sig["output_roles"] == ["y", "mean", "rstd"]
    assert sig["outputs"][1][0] == "f32" and tuple(sig["outputs"][1][1]) == (4,)
    sig = bc._C.norm_infer_signature("rms_norm", ("bf16", (4, 8), None, False), (8,), direction="backward")
    assert sig["input_roles"] == ["dy", "x", "rstd", "weight"]
    assert sig["output_roles"] == ["dx", "dweight"]
    assert sig["eps"] == 2.0**-23  # float32 epsilon: PyTorch computes bf16 rms_norm in f32 with its eps


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_layer_and_rms_norm(bc, dtype, tol):
    x = rand((3, 5, 8), dtype=dtype)
    w, b = rand((5, 8), 1, 0.5, 1.5, dtype), rand((5, 8), 2, dtype=dtype)
    y, mean, rstd = bc.ops.layer_norm(x, (5, 8), w, b, eps=1e-5, return_stats=True)
    want = np_norm(x.astype(np.float64), (1, 2), 1e-5) * w + b
    np.testing.assert_allclose(y, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=(1, 2)), rtol=tol)
    assert mean.shape == (3,) and rstd.shape == (3,)
    y = bc.ops.rms_norm(x, 8, w[0], eps=1e-6)
    np.testing.assert_allclose(y, np_norm(x.astype(np.float64), -1, 1e-6, rms=True) * w[0], rtol=tol, atol=tol)
    y = bc.ops.layer_norm(x, 8)  # no affine
    np.testing.assert_allclose(y, np_norm(x.astype(np.float64), -1, 1e-5), rtol=tol, atol=tol)


def test_fused_add(bc):
    x, r = rand((4, 16)), rand((4, 16), 1)
    w = rand((16,), 2, 0.5, 1.5)
    y, s = bc.ops.add_rms_norm(x, r, 16, w, eps=1e-6)
    np.testing.assert_array_equal(s, x + r)
    np.testing.assert_allclose(y, np_norm(x + r, -1, 1e-6, rms=True) * w, rtol=1e-12)
    y, s, mean, rstd = bc.ops.add_layer_norm(x, r, 16, w, None, return_stats=True)
    np.testing.assert_allclose(y, np_norm(x + r, -1, 1e-5) * w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, (x + r).mean(-1), rtol=1e-12)


def test_group_instance_batch(bc):
    x = rand((2, 6, 5))
    w, b = rand((6,), 1, 0.5, 1.5), rand((6,), 2)
    y = bc.ops.group_norm(x, 3, w, b)
    g = x.reshape(2, 3, 10)
    want = np_norm(g, -1, 1e-5).reshape(2, 6, 5) * w[:, None] + b[:, None]
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    y = bc.ops.instance_norm(x, w, b)
    np.testing.assert_allclose(y, np_norm(x, -1, 1e-5) * w[:, None] + b[:, None], rtol=1e-12, atol=1e-12)
    rm, rv = np.zeros(6), np.ones(6)
    y = bc.ops.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1)
    np.testing.assert_allclose(y, np_norm(x, (0, 2), 1e-5) * w[:, None] + b[:, None], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rm, 0.1 * x.mean(axis=(0, 2)), rtol=1e-12)  # updated in place
    np.testing.assert_allclose(rv, 0.9 + 0.1 * x.var(axis=(0, 2), ddof=1), rtol=1e-12)
    y = bc.ops.batch_norm(x, rm, rv, w, b, training=False)
    want = (x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5) * w[:, None] + b[:, None]
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


def numerical_grad(f, t, gy):
    g = np.zeros_like(t)
    h = 1e-6
    for i in np.ndindex(t.shape):
        v = t[i]
        t[i] = v + h
        up = (f() * gy).sum()
        t[i] = v - h
        down = (f() * gy).sum()
        t[i] = v
        g[i] = (up - down) / (2 * h)
    return g


def test_layer_norm_backward_matches_numerical(bc):
    x, w, b = rand((3, 7)), rand((7,), 1, 0.5, 1.5), rand((7,), 2)
    gy = rand((3, 7), 3, -1, 1)
    y, mean, rstd = bc.ops.layer_norm(x, 7, w, b, return_stats=True)
    dx, dw, db = bc.ops.layer_norm_backward(gy, x, mean, rstd, 7, w, b)
    f = lambda: bc.ops.layer_norm(x, 7, w, b)  # noqa: E731
    np.testing.assert_allclose(dx, numerical_grad(f, x, gy), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dw, numerical_grad(f, w, gy), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(db, gy.sum(0), rtol=1e-12)
    dx2, dw2, db2 = bc.ops.layer_norm_backward(gy, x, mean, rstd, 7, w, b, param_grads=False)
    assert dw2 is None and db2 is None
    np.testing.assert_array_equal(dx2, dx)


def test_rms_and_group_backward_matches_numerical(bc):
    x, w = rand((2, 6)), rand((6,), 1, 0.5, 1.5)
    gy = rand((2, 6), 3, -1, 1)
    _, rstd = bc.ops.rms_norm(x, 6, w, eps=1e-6, return_stats=True)
    dx, dw = bc.ops.rms_norm_backward(gy, x, rstd, 6, w)
    f = lambda: bc.ops.rms_norm(x, 6, w, eps=1e-6)  # noqa: E731
    np.testing.assert_allclose(dx, numerical_grad(f, x, gy), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dw, numerical_grad(f, w, gy), rtol=1e-6, atol=1e-7)
    xg, wg = rand((2, 4, 3), 4), rand((4,), 5, 0.5, 1.5)
    gg = rand((2, 4, 3), 6, -1, 1)
    _, m, r = bc.ops.group_norm(xg, 2, wg, None, return_stats=True)
    dx, dw, db = bc.ops.group_norm_backward(gg, xg, m, r, 2, wg)
    assert db is None
    f = lambda: bc.ops.group_norm(xg, 2, wg)  # noqa: E731
    np.testing.assert_allclose(dx, numerical_grad(f, xg, gg), rtol=1e-6, atol=1e-7)


def test_errors(bc):
    x = rand((4, 8))
    with pytest.raises(ValueError, match=r"normalized_shape \[6\] does not match the trailing dims of the input \[4, 8\]"):
        bc.ops.layer_norm(x, 6)
    with pytest.raises(ValueError, match="eps must be finite and >= 0"):
        bc.ops.rms_norm(x, 8, eps=-1.0)
    with pytest.raises(ValueError, match="not divisible by num_groups"):
        bc.ops.group_norm(rand((2, 6, 3)), 4)
    with pytest.raises(ValueError, match="weight"):
        bc.ops.layer_norm(x, 8, rand((7,)))
    with pytest.raises(ValueError, match="or f32"):
        bc.ops.layer_norm(x.astype(np.float32), 8, rand((8,)).astype(np.float16))
