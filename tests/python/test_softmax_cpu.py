"""The softmax family through the Python package, on the CPU with numpy only: bc.SoftmaxPlan,
bc.softmax_catalog() and the functional layer (bc.ops.softmax / log_softmax and their _backward),
against numpy formulas and numerical differences."""
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


def rand(shape, dtype=np.float64, seed=0, lo=-3.0, hi=3.0):
    return np.random.default_rng(seed).uniform(lo, hi, size=shape).astype(dtype)


def np_softmax(z, dim):
    m = np.max(z, axis=dim, keepdims=True)
    e = np.exp(z - m)
    return e / np.sum(e, axis=dim, keepdims=True)


def np_log_softmax(z, dim):
    m = np.max(z, axis=dim, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=dim, keepdims=True))


REF = {"softmax": np_softmax, "log_softmax": np_log_softmax}
TOL = {np.float64: 1e-12, np.float32: 1e-5, np.float16: 2e-3}


def test_catalog(bc):
    names = [i["name"] for i in bc.softmax_catalog()]
    assert names == ["softmax", "log_softmax"]
    assert all(i["family"] == "softmax" and i["differentiable"] for i in bc.softmax_catalog())
    assert bc.ops.softmax_catalog() == bc.softmax_catalog()


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
def test_forward_matches_numpy(bc, op, dtype, dim):
    x = rand((3, 4, 5), dtype, seed=dim + 7)
    y = getattr(bc.ops, op)(x, dim)
    assert y.dtype == dtype and y.shape == x.shape
    want = REF[op](x.astype(np.float64), dim)
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_strided_input(bc, op):
    base = rand((6, 10), np.float32, seed=3)
    for x in (base.T, base[:, ::2], base[::-1]):
        y = getattr(bc.ops, op)(x, -1)
        np.testing.assert_allclose(y, REF[op](x.astype(np.float64), -1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_temperature_and_masks(bc, op):
    x = rand((4, 6), np.float64, seed=5)
    y = getattr(bc.ops, op)(x, 1, temperature=2.5)
    np.testing.assert_allclose(y, REF[op](x / 2.5, 1), rtol=1e-12, atol=1e-12)
    add = rand((6,), np.float32, seed=6)
    y = getattr(bc.ops, op)(x, 1, temperature=0.5, mask=add)
    np.testing.assert_allclose(y, REF[op](x / 0.5 + add.astype(np.float64), 1), rtol=1e-12, atol=1e-12)
    keep = np.array([[True, False, True, True, False, True]])
    y = getattr(bc.ops, op)(x, -1, mask=keep)
    want = REF[op](np.where(keep, x, -np.inf), -1)
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)


def test_fully_masked_row_is_nan(bc):
    x = rand((2, 4), np.float32, seed=1)
    keep = np.array([[True], [False]])
    y = bc.ops.softmax(x, 1, mask=keep)
    assert np.all(np.isfinite(y[0])) and np.all(np.isnan(y[1]))


def test_dtype_option(bc):
    x = rand((3, 8), np.float16, seed=2)
    y = bc.ops.log_softmax(x, -1, dtype=np.float32)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, np_log_softmax(x.astype(np.float64), -1), rtol=1e-6, atol=1e-6)


def test_empty_and_zero_dim(bc):
    assert bc.ops.softmax(np.zeros((0, 3), np.float32), 1).shape == (0, 3)
    assert bc.ops.softmax(np.float64(2.0), 0) == 1.0
    assert bc.ops.log_softmax(np.array(2.0), -1) == 0.0


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, -1])
def test_backward_finite_differences(bc, op, dim):
    x = rand((3, 5), np.float64, seed=11)
    dy = rand((3, 5), np.float64, seed=12, lo=-1, hi=1)
    fwd = getattr(bc.ops, op)
    y = fwd(x, dim, temperature=1.5)
    dx = getattr(bc.ops, op + "_backward")(dy, y, dim, temperature=1.5)
    h = 1e-6
    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        num[i] = (np.sum(dy * fwd(xp, dim, temperature=1.5)) - np.sum(dy * fwd(xm, dim, temperature=1.5))) / (2 * h)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-7)


def test_backward_input_dtype_and_mask(bc):
    x = rand((2, 7), np.float16, seed=4)
    y = bc.ops.softmax(x, -1, dtype=np.float32)
    dy = rand((2, 7), np.float32, seed=5)
    dx = bc.ops.softmax_backward(dy, y, -1, input_dtype=np.float16)
    assert dx.dtype == np.float16
    want = y * (dy - np.sum(dy * y, axis=-1, keepdims=True))
    np.testing.assert_allclose(dx.astype(np.float64), want, rtol=2e-3, atol=1e-4)
    keep = np.array([True, False, True, True, True, False, True])
    yl = bc.ops.log_softmax(x.astype(np.float64), -1, mask=keep)
    dxl = bc.ops.log_softmax_backward(dy.astype(np.float64), yl, -1, mask=keep)
    assert np.all(dxl[:, ~keep] == 0)


def test_plan_object_and_errors(bc):
    plan = bc.SoftmaxPlan("softmax", ("f32", (4, 8), None, False), dim=-1)
    assert plan.dim == 1 and plan.num_inputs == 1 and plan.op == "softmax"
    assert plan.signature["outputs"][0][:2] == ("f32", (4, 8))
    x = rand((4, 8), np.float32)
    y = np.empty_like(x)
    plan.run(inputs=[x], outputs=[y])
    np.testing.assert_allclose(y, np_softmax(x.astype(np.float64), -1), rtol=1e-5)
    assert any(c[0] == "cpu_reference" and c[3] for c in bc.softmax_explain("softmax", ("f32", (4, 8), None, False)))
    with pytest.raises(bc.InvalidArgumentError, match="dim 2 is out of range"):
        bc.ops.softmax(x, 2)
    with pytest.raises(bc.InvalidArgumentError, match="not broadcastable"):
        bc.ops.softmax(x, 1, mask=np.ones((3,), bool))
    with pytest.raises(bc.InvalidArgumentError, match="temperature"):
        bc.ops.softmax(x, 1, temperature=0.0)
    with pytest.raises(bc.InvalidArgumentError, match="floating input"):
        bc.ops.softmax(np.ones((2, 2), np.int32), 1)
    with pytest.raises(TypeError):
        bc.ops.softmax(x, 1.5)
