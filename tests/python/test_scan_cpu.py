"""The scan family through the Python package, on the CPU with numpy only: bc.ScanPlan,
bc.scan_catalog() and the functional layer (bc.ops.cumsum / cumprod / cummax / cummin /
logcumsumexp and their _backward), against numpy and numerical differences."""
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


def rand(shape, dtype=np.float64, seed=0, lo=-2.0, hi=2.0):
    r = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        return r.integers(-20, 21, size=shape).astype(dtype)
    if dtype == np.bool_:
        return r.integers(0, 2, size=shape).astype(bool)
    return r.uniform(lo, hi, size=shape).astype(dtype)


def np_cummax(x, dim, is_max=True):
    """torch's rule, written independently: ties take the later index, NaN replaces the running value."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), dim, -1)
    vals = np.empty_like(x)
    idx = np.empty(x.shape, dtype=np.int64)
    for pos in np.ndindex(*x.shape[:-1]):
        cur, at = None, 0
        for i, v in enumerate(x[pos]):
            if cur is None or np.isnan(v) or (not np.isnan(cur) and (v >= cur if is_max else v <= cur)):
                cur, at = v, i
            vals[pos + (i,)] = cur
            idx[pos + (i,)] = at
    return np.moveaxis(vals, -1, dim), np.moveaxis(idx, -1, dim)


def test_scan_catalog(bc):
    names = [d["name"] for d in bc.scan_catalog()]
    assert names == ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]
    for d in bc.scan_catalog():
        assert d["family"] == "scan"
        assert callable(getattr(bc.ops, d["name"]))
        assert callable(getattr(bc.ops, d["name"] + "_backward"))


def test_plan_api(bc):
    p = bc.ScanPlan("cumsum", ("i32", (3, 4), None), axis=-1)
    assert p.signature["outputs"][0][:2] == ("i64", (3, 4))
    assert p.axis == 1
    assert p.workspace_size == 0
    assert "cpu_reference" in p.sku_string
    sig = bc.scan_infer_signature("cummax", ("f16", (5,), None), axis=0)
    assert [o[0] for o in sig["outputs"]] == ["f16", "i64"]
    assert any(c[0] == "cpu_reference" and c[3] for c in bc.scan_explain("cumsum", ("f32", (4,), None), axis=0))


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_matches_numpy(bc, dim, dtype):
    x = rand((3, 4, 5), dtype, seed=dim + 3)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(bc.ops.cumsum(x, dim), np.cumsum(x, axis=dim), rtol=tol, atol=tol)
    np.testing.assert_allclose(bc.ops.cumprod(x, dim), np.cumprod(x, axis=dim), rtol=tol, atol=tol)
    np.testing.assert_allclose(bc.ops.logcumsumexp(x, dim), np.logaddexp.accumulate(x.astype(np.float64), axis=dim),
                               rtol=tol, atol=tol)
    v, i = bc.ops.cummax(x, dim)
    ev, ei = np_cummax(x, dim)
    np.testing.assert_array_equal(v, ev.astype(dtype))
    np.testing.assert_array_equal(i, ei)
    v, i = bc.ops.cummin(x, dim)
    ev, ei = np_cummax(x, dim, is_max=False)
    np.testing.assert_array_equal(i, ei)


def test_options(bc):
    x = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(bc.ops.cumsum(x, 0, exclusive=True), [0, 1, 3, 6])
    np.testing.assert_array_equal(bc.ops.cumsum(x, 0, reverse=True), [10, 9, 7, 4])
    np.testing.assert_array_equal(bc.ops.cumsum(x, 0, exclusive=True, reverse=True), [9, 7, 4, 0])
    np.testing.assert_array_equal(bc.ops.cumprod(x, 0, exclusive=True), [1, 1, 2, 6])
    assert bc.ops.logcumsumexp(x, 0, exclusive=True)[0] == -np.inf


def test_ties_nan_and_dtypes(bc):
    v, i = bc.ops.cummax(np.array([1.0, 3.0, 3.0, 2.0, 3.0], dtype=np.float32), 0)
    np.testing.assert_array_equal(i, [0, 1, 2, 2, 4])
    v, i = bc.ops.cummax(np.array([1.0, np.nan, 5.0, np.nan, 0.0]), 0)
    assert np.isnan(v[1:]).all()
    np.testing.assert_array_equal(i, [0, 1, 1, 3, 3])
    for dt in (np.int8, np.int32, np.uint8, np.bool_):
        x = rand((6,), dt, seed=4)
        y = bc.ops.cumsum(x, 0)
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, np.cumsum(x.astype(np.int64)))
        v, _ = bc.ops.cummax(x, 0)
        assert v.dtype == x.dtype
    y = bc.ops.cumsum(np.array([2.7, -1.5, 3.9], dtype=np.float32), 0, dtype=np.int32)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, [2, 1, 4])


def test_strided_empty_and_0d(bc):
    base = rand((6, 8), seed=9)
    x = base.T[::2]  # a transposed, strided view
    np.testing.assert_allclose(bc.ops.cumsum(x, 1), np.cumsum(x, axis=1), rtol=1e-12)
    np.testing.assert_allclose(bc.ops.cumsum(x, 0, reverse=True), np.cumsum(x[::-1], axis=0)[::-1], rtol=1e-12)
    e = np.zeros((0, 3))
    assert bc.ops.cumsum(e, 0).shape == (0, 3)
    s = np.array(5.0)
    assert bc.ops.cumsum(s, 0) == 5.0


def test_errors(bc):
    x = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(bc.InvalidArgumentError, match="out of range"):
        bc.ops.cumsum(x, 2)
    with pytest.raises(bc.InvalidArgumentError, match="floating"):
        bc.ops.logcumsumexp(np.ones(3, dtype=np.int32), 0)
    with pytest.raises(TypeError):
        bc.ops.cumsum(x, None)


def loss(y, dy):
    return np.sum(np.where(np.isfinite(y), dy * y, 0.0))  # exclusive logcumsumexp starts at a constant -inf


def numeric_grad(f, x, dy, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (loss(f(xp), dy) - loss(f(xm), dy)) / (2 * h)
    return g


@pytest.mark.parametrize("op", ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"])
@pytest.mark.parametrize("reverse", [False, True])
def test_backward_matches_finite_differences(bc, op, reverse):
    x = rand((3, 6), seed=11)
    dy = rand((3, 6), seed=12)
    kw = {"reverse": reverse}
    fwd = getattr(bc.ops, op)
    bwd = getattr(bc.ops, op + "_backward")

    def f(t):
        r = fwd(t, 1, **kw)
        return r[0] if isinstance(r, tuple) else r

    np.testing.assert_allclose(bwd(dy, x, 1, **kw), numeric_grad(f, x, dy), rtol=1e-6, atol=1e-7)
    if op not in ("cummax", "cummin"):
        np.testing.assert_allclose(bwd(dy, x, 0, exclusive=True, **kw),
                                   numeric_grad(lambda t: fwd(t, 0, exclusive=True, **kw), x, dy), rtol=1e-6, atol=1e-7)


def test_cumprod_backward_with_zeros(bc):
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    np.testing.assert_allclose(bc.ops.cumprod_backward(np.ones(5), x, 0), [1, 8, 0, 0, 0])
