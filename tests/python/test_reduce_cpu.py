"""The reduction family through the Python package, on the CPU with numpy only:
bc.ReducePlan, bc.reduce_catalog() and the functional layer (bc.ops.sum / mean / amax / max / var /
norm / logsumexp / ... and their _backward), against numpy and numerical differences."""
from __future__ import annotations

import math
import warnings

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
    r = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        return r.integers(-20, 21, size=shape).astype(dtype)
    if dtype == np.bool_:
        return r.integers(0, 2, size=shape).astype(bool)
    return r.uniform(lo, hi, size=shape).astype(dtype)


def np_axes(dim):
    return None if dim is None else dim


AXES = [None, 0, 1, -1, (0, 2), (2, 0), (0, 1, 2)]
TOL = {np.float64: 1e-12, np.float32: 1e-5, np.float16: 2e-3}


# ---------------------------------------------------------------------------------------------
# Catalog and plan


def test_reduce_catalog(bc):
    names = [d["name"] for d in bc.reduce_catalog()]
    for n in ("sum", "mean", "prod", "amax", "amin", "max", "min", "argmax", "argmin", "var", "std", "var_mean",
              "norm", "logsumexp", "any", "all", "count_nonzero", "nansum", "nanmean"):
        assert n in names
        assert callable(getattr(bc.ops, n))
    for d in bc.reduce_catalog():
        assert d["family"] == "reduce"
        assert callable(getattr(bc.ops, d["name"] + "_backward", None)) == d["differentiable"]
    # No clash with the elementwise family.
    assert not set(names) & {d["name"] for d in bc.catalog()}
    assert callable(bc.ops.maximum) and callable(bc.ops.max)


def test_plan_api(bc):
    p = bc.ReducePlan("sum", ("f32", (3, 4), None), axes=(1,))
    assert p.signature["outputs"][0][:2] == ("f32", (3,))
    assert p.sku["family"] == "reduce" and p.sku["backend"] == "cpu-reference"
    assert "f64" in p.precision_guarantee["accumulator"]
    assert p.workspace_size == 0
    assert any(c[3] for c in p.explain())
    x = rand((3, 4), np.float32)
    y = np.empty(3, np.float32)
    assert p.can_implement([x], [y])
    p.run(0, None, 0, [x], [y])
    np.testing.assert_allclose(y, x.sum(1), rtol=1e-6)
    with pytest.raises(bc.InvalidArgumentError):
        p.run(0, None, 0, [x], [np.empty(4, np.float32)])
    sig = bc.reduce_infer_signature("max", ("bf16", (2, 5, 3)), axes=-2, keepdim=True)
    assert [o[:2] for o in sig["outputs"]] == [("bf16", (2, 1, 3)), ("i64", (2, 1, 3))]
    assert sig["accumulate"] == "f32" and sig["axes"] == (1,)
    bw = bc.ReducePlan("var_mean", ("f64", (4, 5), None), axes=(0,), direction="backward")
    assert bw.num_inputs == 3 and bw.num_outputs == 1
    # The CUDA engine comes first in the registry; on a CPU stream the CPU reference serves.
    assert "ok" in [c[2] for c in bc.reduce_explain("sum", ("f32", (3,)))]


def test_plan_on_cuda(bc):
    if bc.cuda_device_count() == 0:  # CPU-only build, or no GPU: a clear error, not a crash
        with pytest.raises((NotImplementedError, RuntimeError)):
            bc.ReducePlan("sum", ("f32", (3, 4), None), axes=(1,), device="cuda:0")
    else:
        p = bc.ReducePlan("sum", ("f32", (3, 4), None), axes=(1,), device="cuda:0")
        assert p.sku["backend"] == "baracuda-cuda" and p.precision_guarantee["deterministic"] is True


def test_plan_cache(bc):
    bc.ops.clear_plan_cache()
    x = rand((4, 5))
    bc.ops.sum(x, 1)
    n = bc.ops.plan_cache_size()
    bc.ops.sum(rand((4, 5), seed=1), 1)
    assert bc.ops.plan_cache_size() == n
    bc.ops.sum(x, 0)
    assert bc.ops.plan_cache_size() == n + 1
    assert bc.ops.get_reduce_plan("sum", x, 0).op == "sum"


# ---------------------------------------------------------------------------------------------
# Forward values vs numpy


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim", AXES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean", "prod", "amax", "amin", "nansum", "nanmean", "logsumexp"])
def test_float_ops(bc, op, dim, keepdim, dtype):
    x = rand((3, 4, 5), dtype, seed=hash(op) % 1000, lo=-1.5, hi=1.5)
    if op in ("nansum", "nanmean"):
        x[0, 1, 2] = np.nan
        x[2, 3, :] = np.nan
    ref = {
        "sum": np.sum, "mean": np.mean, "prod": np.prod, "amax": np.amax, "amin": np.amin,
        "nansum": np.nansum, "logsumexp": lambda a, axis, keepdims: np.log(np.sum(np.exp(a.astype(np.float64)), axis=axis, keepdims=keepdims)),
    }
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of an all-NaN slice
        if op == "nanmean":
            want = np.nanmean(x.astype(np.float64), axis=np_axes(dim), keepdims=keepdim)
        else:
            want = ref[op](x.astype(np.float64), axis=np_axes(dim), keepdims=keepdim)
    got = getattr(bc.ops, op)(x, dim, keepdim) if op != "logsumexp" else bc.ops.logsumexp(x, dim, keepdim)
    assert got.dtype == x.dtype
    assert np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dim", AXES)
@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_std(bc, dim, correction):
    x = rand((3, 4, 5), seed=3)
    for keepdim in (False, True):
        np.testing.assert_allclose(bc.ops.var(x, dim, correction, keepdim),
                                   np.var(x, axis=dim, ddof=correction, keepdims=keepdim), rtol=1e-12)
        np.testing.assert_allclose(bc.ops.std(x, dim, correction=correction, keepdim=keepdim),
                                   np.std(x, axis=dim, ddof=correction, keepdims=keepdim), rtol=1e-12)
        v, m = bc.ops.var_mean(x, dim, correction=correction, keepdim=keepdim)
        np.testing.assert_allclose(v, np.var(x, axis=dim, ddof=correction, keepdims=keepdim), rtol=1e-12)
        np.testing.assert_allclose(m, np.mean(x, axis=dim, keepdims=keepdim), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, math.inf, -math.inf, 0, "inf"])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_norm(bc, ord, dim):
    x = rand((3, 4, 5), seed=4)
    o = math.inf if ord == "inf" else ord
    a = np.abs(x)
    axis = dim
    if o == math.inf:
        want = a.max(axis=axis)
    elif o == -math.inf:
        want = a.min(axis=axis)
    elif o == 0:
        want = (x != 0).sum(axis=axis).astype(np.float64)
    else:
        want = (a ** o).sum(axis=axis) ** (1.0 / o)
    np.testing.assert_allclose(bc.ops.norm(x, ord, dim), want, rtol=1e-12)


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_arg(bc, dim, keepdim):
    x = rand((4, 6), seed=5)
    if dim is None:
        assert float(bc.ops.max(x)) == x.max()
        assert float(bc.ops.min(x)) == x.min()
        assert int(bc.ops.argmax(x)) == int(np.argmax(x))
        assert int(bc.ops.argmin(x)) == int(np.argmin(x))
        return
    v, i = bc.ops.max(x, dim, keepdim)
    assert i.dtype == np.int64
    np.testing.assert_array_equal(v, np.amax(x, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(i, np.argmax(x, axis=dim, keepdims=keepdim))
    v, i = bc.ops.min(x, dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(v, np.amin(x, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(i, np.argmin(x, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(bc.ops.argmax(x, dim, keepdim), np.argmax(x, axis=dim, keepdims=keepdim))
    np.testing.assert_array_equal(bc.ops.argmin(x, dim, keepdim), np.argmin(x, axis=dim, keepdims=keepdim))


def test_nan_propagation(bc):
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(np.isnan(bc.ops.amax(x, 1)), [True, False])
    v, i = bc.ops.max(x, 1)
    assert np.isnan(v[0]) and i[0] == 1
    assert int(bc.ops.argmax(x[0])) == 1
    np.testing.assert_allclose(bc.ops.nansum(x, 1), [4.0, 15.0])
    np.testing.assert_allclose(bc.ops.nanmean(x, 1), [2.0, 5.0])
    assert np.isnan(bc.ops.sum(x, 1)[0])


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.uint8, np.int64, np.bool_])
def test_integer_dtype_rules(bc, dtype):
    x = rand((3, 5), dtype, seed=6)
    for op, ref in (("sum", np.sum), ("prod", np.prod)):
        got = getattr(bc.ops, op)(x, 1)
        assert got.dtype == np.int64  # like torch (numpy keeps uint64 for unsigned)
        np.testing.assert_array_equal(got, ref(x.astype(np.int64), axis=1))
    if dtype != np.bool_:
        np.testing.assert_array_equal(bc.ops.amax(x, 0), x.max(0))
        assert bc.ops.amax(x, 0).dtype == dtype
    np.testing.assert_array_equal(bc.ops.count_nonzero(x, 1), np.count_nonzero(x, axis=1))
    a = bc.ops.any(x, 1)
    assert a.dtype == (np.uint8 if dtype == np.uint8 else np.bool_)
    np.testing.assert_array_equal(a.astype(bool), np.any(x, axis=1))
    np.testing.assert_array_equal(bc.ops.all(x, 0).astype(bool), np.all(x, axis=0))
    # mean / var of integers need a floating dtype.
    with pytest.raises(bc.InvalidArgumentError):
        bc.ops.mean(x)
    with pytest.raises(bc.InvalidArgumentError):
        bc.ops.var(x)
    np.testing.assert_allclose(bc.ops.mean(x, 1, dtype=np.float64), x.astype(np.float64).mean(1))
    np.testing.assert_allclose(bc.ops.mean(x, 1, dtype="f32"), x.astype(np.float64).mean(1), rtol=1e-6)


def test_dtype_argument(bc):
    x = rand((4, 7), np.float32, seed=7)
    y = bc.ops.sum(x, 1, dtype=np.float64)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, x.astype(np.float64).sum(1), rtol=1e-12)
    assert bc.ops.norm(x, dtype="float64").dtype == np.float64
    h = bc.ops.sum(rand((4, 7), np.float16, seed=8), 1)
    assert h.dtype == np.float16


def test_strided_views(bc):
    base = rand((6, 8, 5), seed=9)
    views = [base[::2], base[:, 1::3], base.transpose(2, 0, 1), base[..., ::-1], base[1:5, 2:7, 1:4]]
    for v in views:
        assert not v.flags.c_contiguous
        for dim in (None, 0, (1, 2), -1):
            np.testing.assert_allclose(bc.ops.sum(v, dim, True), v.sum(axis=dim, keepdims=True), rtol=1e-12)
            np.testing.assert_allclose(bc.ops.var(v, dim), v.var(axis=dim, ddof=1), rtol=1e-12)
            np.testing.assert_array_equal(bc.ops.amax(v, dim), v.max(axis=dim))
        dx = bc.ops.logsumexp_backward(np.ones(v.shape[1]), v, (0, 2))
        e = np.exp(v - v.max(axis=(0, 2), keepdims=True))
        np.testing.assert_allclose(dx, e / e.sum(axis=(0, 2), keepdims=True), rtol=1e-12)


def test_numpy_scalar_and_0d(bc):
    x = np.array(2.5)
    assert float(bc.ops.sum(x)) == 2.5
    assert float(bc.ops.sum(x, 0)) == 2.5
    assert float(bc.ops.amax(np.float64(3.0))) == 3.0


# ---------------------------------------------------------------------------------------------
# Empty inputs


def test_empty(bc):
    e = np.zeros((0, 4))
    np.testing.assert_array_equal(bc.ops.sum(e, 0), np.zeros(4))
    assert float(bc.ops.sum(e)) == 0.0
    assert float(bc.ops.prod(e)) == 1.0
    assert bc.ops.sum(np.zeros((0,), np.int32)).dtype == np.int64
    assert np.isnan(bc.ops.mean(e))
    assert float(bc.ops.logsumexp(e, (0, 1))) == -math.inf
    assert not bool(bc.ops.any(e))
    assert bool(bc.ops.all(e))
    assert int(bc.ops.count_nonzero(e)) == 0
    assert bc.ops.sum(e, 1).shape == (0,)  # nothing to reduce over the kept (empty) dim
    assert bc.ops.amax(e, 1).shape == (0,)  # non-empty groups: fine (there are none)
    for op in ("amax", "amin", "argmax", "argmin"):
        with pytest.raises(ValueError, match=f"reduce.{op}"):
            getattr(bc.ops, op)(e, 0)
    with pytest.raises(bc.InvalidArgumentError):
        bc.ops.max(e, 0)
    with pytest.raises(bc.InvalidArgumentError):
        bc.ops.amax(e)
    with pytest.raises(ValueError):
        bc.ops.norm(e, math.inf)


# ---------------------------------------------------------------------------------------------
# Errors


def test_errors(bc):
    x = rand((3, 4))
    with pytest.raises(ValueError, match=r"reduce\.sum"):
        bc.ops.sum(x, (1, 1))
    with pytest.raises(ValueError, match=r"reduce\.sum"):
        bc.ops.sum(x, (1, -1))
    with pytest.raises(bc.InvalidArgumentError, match="out of range"):
        bc.ops.mean(x, 2)
    with pytest.raises(bc.BaracudaError):
        bc.ops.amax(x, -3)
    with pytest.raises(TypeError):
        bc.ops.sum([1.0, 2.0])
    with pytest.raises(TypeError):
        bc.ops.sum(x, "0")
    with pytest.raises(TypeError):
        bc.ops.sum(x, 1.5)
    with pytest.raises(bc.InvalidArgumentError, match="floating"):
        bc.ops.norm(x.astype(np.int32))  # norm needs a floating input
    with pytest.raises(bc.InvalidArgumentError):
        bc.ReducePlan("nosuchop", ("f32", (3,), None))
    with pytest.raises(bc.InvalidArgumentError):
        bc.ReducePlan("sum", ("f32", (3,), None), direction="sideways")
    with pytest.raises(bc.DTypeError):
        bc.ReducePlan("sum", ("f99", (3,), None))
    with pytest.raises(bc.NotSupportedError):
        bc.ops.sum(rand((3,)).astype(np.complex128))
    # Backward: gradient of the wrong shape; non-floating x.
    with pytest.raises(bc.InvalidArgumentError, match=r"reduce\.sum\.backward"):
        bc.ops.sum_backward(np.ones(4), x, 1)
    with pytest.raises(bc.InvalidArgumentError):
        bc.ops.sum_backward(np.ones(3, np.int64), x.astype(np.int64), 1)
    assert not hasattr(bc.ops, "argmax_backward")


# ---------------------------------------------------------------------------------------------
# Backward vs numerical differences (float64)


def numeric_grad(f, x, g, h=1e-6):
    """d/dx of sum(f(x) * g) by central differences."""
    dx = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        dx[i] = (np.sum(np.asarray(f(xp)) * g) - np.sum(np.asarray(f(xm)) * g)) / (2 * h)
    return dx


CASES = [  # (name, forward(bc, x, dim, keepdim), backward(bc, g, x, dim, keepdim))
    ("sum", lambda bc, x, d, k: bc.ops.sum(x, d, k), lambda bc, g, x, d, k: bc.ops.sum_backward(g, x, d, k)),
    ("mean", lambda bc, x, d, k: bc.ops.mean(x, d, k), lambda bc, g, x, d, k: bc.ops.mean_backward(g, x, d, k)),
    ("var", lambda bc, x, d, k: bc.ops.var(x, d, keepdim=k), lambda bc, g, x, d, k: bc.ops.var_backward(g, x, d, keepdim=k)),
    ("var_c0", lambda bc, x, d, k: bc.ops.var(x, d, 0, k), lambda bc, g, x, d, k: bc.ops.var_backward(g, x, d, 0, k)),
    ("std", lambda bc, x, d, k: bc.ops.std(x, d, keepdim=k), lambda bc, g, x, d, k: bc.ops.std_backward(g, x, d, keepdim=k)),
    ("norm2", lambda bc, x, d, k: bc.ops.norm(x, 2, d, k), lambda bc, g, x, d, k: bc.ops.norm_backward(g, x, 2, d, k)),
    ("norm3", lambda bc, x, d, k: bc.ops.norm(x, 3, d, k), lambda bc, g, x, d, k: bc.ops.norm_backward(g, x, 3, d, k)),
    ("norm1", lambda bc, x, d, k: bc.ops.norm(x, 1, d, k), lambda bc, g, x, d, k: bc.ops.norm_backward(g, x, 1, d, k)),
    ("logsumexp", lambda bc, x, d, k: bc.ops.logsumexp(x, d, k),
     lambda bc, g, x, d, k: bc.ops.logsumexp_backward(g, x, d, k)),
    ("prod", lambda bc, x, d, k: bc.ops.prod(x, d, k), lambda bc, g, x, d, k: bc.ops.prod_backward(g, x, d, k)),
    ("amax", lambda bc, x, d, k: bc.ops.amax(x, d, k), lambda bc, g, x, d, k: bc.ops.amax_backward(g, x, d, k)),
]


@pytest.mark.parametrize("name,fwd,bwd", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), ((0, 2), True), (-1, True), ((2, 0), False)])
def test_backward_numerical(bc, name, fwd, bwd, dim, keepdim):
    x = rand((3, 4, 2), seed=11, lo=0.3, hi=2.0)
    x *= np.where(rand((3, 4, 2), seed=12) > 0, 1.0, -1.0)  # both signs, away from 0 (norm1 kink)
    y = fwd(bc, x, dim, keepdim)
    g = rand(np.shape(y), seed=13)
    dx = bwd(bc, g, x, dim, keepdim)
    assert dx.shape == x.shape and dx.dtype == x.dtype
    want = numeric_grad(lambda t: fwd(bc, t, dim, keepdim), x, g)
    np.testing.assert_allclose(dx, want, rtol=1e-6, atol=1e-7)


def test_var_mean_backward(bc):
    x = rand((3, 5), seed=14)
    gv, gm = rand((5,), seed=15), rand((5,), seed=16)
    dx = bc.ops.var_mean_backward(gv, gm, x, 0)
    want = numeric_grad(lambda t: bc.ops.var(t, 0), x, gv) + numeric_grad(lambda t: bc.ops.mean(t, 0), x, gm)
    np.testing.assert_allclose(dx, want, rtol=1e-6, atol=1e-7)
    # A None gradient is zeros.
    np.testing.assert_allclose(bc.ops.var_mean_backward(None, gm, x, 0), bc.ops.mean_backward(gm, x, 0), rtol=1e-15)


def test_max_backward_routes_to_index(bc):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]])
    g = np.array([1.0, 10.0])
    np.testing.assert_array_equal(bc.ops.max_backward(g, x, 1), [[0, 1, 0], [10, 0, 0]])
    np.testing.assert_array_equal(bc.ops.amax_backward(g, x, 1), [[0, 0.5, 0.5], [5, 0, 5]])
    np.testing.assert_array_equal(bc.ops.min_backward(g, x, 1), [[1, 0, 0], [0, 10, 0]])
    # dim=None: torch.max(x) -> even split among ties.
    np.testing.assert_array_equal(bc.ops.max_backward(np.array(4.0), x), [[0, 2, 2], [0, 0, 0]])


def test_backward_strided_grad_and_f32(bc):
    x = rand((4, 6), np.float32, seed=17)
    gbase = rand((4, 2), np.float32, seed=18)
    g = gbase[:, 0]  # strided gradient
    dx = bc.ops.mean_backward(g, x, 1)
    assert dx.dtype == np.float32
    np.testing.assert_allclose(dx, np.repeat(g[:, None] / 6, 6, axis=1), rtol=1e-6)
