"""The GEMM family through the Python package, on the CPU with numpy only: bc.GemmPlan and the
functional layer (bc.ops.gemm / matmul / mm / bmm / addmm / baddbmm / linear / linear_backward /
int_mm) against numpy's matmul in float64, transposed views, batch broadcast, epilogues, errors."""
from __future__ import annotations

import math

import pytest

np = pytest.importorskip("numpy")


@pytest.fixture(scope="module")
def bc():
    try:
        import baracuda
    except Exception as e:  # ImportError, or a broken extension module
        pytest.skip(f"baracuda is not importable ({type(e).__name__}: {e}); pip install . first")
    return baracuda


def rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape).astype(dtype)


def close(got, want, dtype, k):
    tol = {np.float64: 1e-12, np.float32: 2e-6}[dtype] * max(1.0, math.sqrt(k))
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (7, 129, 33), (64, 1, 7), (5, 9, 300)])
def test_matmul_sizes(bc, dtype, m, n, k):
    a, b = rand((m, k), 1, dtype), rand((k, n), 2, dtype)
    d = bc.ops.matmul(a, b)
    assert d.dtype == dtype and d.shape == (m, n)
    close(d, a.astype(np.float64) @ b.astype(np.float64), dtype, k)


def test_autotune_is_accepted_and_exact_on_the_cpu(bc):
    # The CPU reference has one algorithm: autotune changes nothing there but must be accepted.
    a, b = rand((9, 33), 3), rand((33, 5), 4)
    d = bc.ops.gemm(a, b, autotune=True)
    close(d, a @ b, np.float64, 33)


def test_transposed_views_are_read_through_strides(bc):
    a, b = rand((33, 20), 3), rand((17, 33), 4)
    want = a.T @ b.T
    np.testing.assert_allclose(bc.ops.mm(a.T, b.T), want, rtol=1e-12, atol=1e-12)
    # A sliced (non-unit inner stride) operand.
    big = rand((20, 66), 5)
    np.testing.assert_allclose(bc.ops.mm(big[:, ::2], b.T), big[:, ::2] @ b.T, rtol=1e-12, atol=1e-12)


def test_batch_and_broadcast(bc):
    a, b = rand((3, 1, 5, 6), 6), rand((4, 6, 2), 7)
    d = bc.ops.matmul(a, b)
    assert d.shape == (3, 4, 5, 2)
    np.testing.assert_allclose(d, np.matmul(a, b), rtol=1e-12, atol=1e-12)
    x, w = rand((2, 8, 6), 8), rand((6, 3), 9)
    np.testing.assert_allclose(bc.ops.bmm(x, np.broadcast_to(w, (2, 6, 3))), x @ w, rtol=1e-12, atol=1e-12)


def test_matmul_vector_promotion(bc):
    a, v = rand((4, 5), 10), rand((5,), 11)
    np.testing.assert_allclose(bc.ops.matmul(a, v), a @ v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bc.ops.matmul(v, a.T), v @ a.T, rtol=1e-12, atol=1e-12)
    assert bc.ops.matmul(v, v).shape == ()
    np.testing.assert_allclose(bc.ops.matmul(v, v), v @ v, rtol=1e-12)


def test_addmm_baddbmm_alpha_beta(bc):
    c, a, b = rand((4, 3), 12), rand((4, 5), 13), rand((5, 3), 14)
    np.testing.assert_allclose(bc.ops.addmm(c, a, b, beta=0.5, alpha=2.0), 0.5 * c + 2.0 * (a @ b), rtol=1e-12)
    bias_row = rand((3,), 15)  # broadcast input, as torch.addmm's
    np.testing.assert_allclose(bc.ops.addmm(bias_row, a, b), bias_row + a @ b, rtol=1e-12)
    c3, a3, b3 = rand((2, 4, 3), 16), rand((2, 4, 5), 17), rand((2, 5, 3), 18)
    np.testing.assert_allclose(bc.ops.baddbmm(c3, a3, b3, beta=-1.0, alpha=0.25), -c3 + 0.25 * (a3 @ b3), rtol=1e-12)
    # beta = 0 never reads C: NaNs there do not propagate (BLAS / torch.addmm).
    nan_c = np.full((4, 3), np.nan)
    assert np.isfinite(bc.ops.addmm(nan_c, a, b, beta=0.0)).all()


def gelu_erf(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


@pytest.mark.parametrize("act,f", [(None, lambda y: y), ("relu", lambda y: np.maximum(y, 0)), ("gelu", gelu_erf),
                                   ("gelu_tanh", gelu_tanh), ("silu", lambda y: y / (1 + np.exp(-y)))])
def test_linear_bias_activation(bc, act, f):
    x, w, bias = rand((2, 7, 6), 19), rand((5, 6), 20), rand((5,), 21)
    pre = x @ w.T + bias
    np.testing.assert_allclose(bc.ops.linear(x, w, bias, activation=act), f(pre), rtol=1e-12, atol=1e-12)
    d, p = bc.ops.gemm(x, w.T, bias=bias, activation=act, return_pre_activation=True)
    np.testing.assert_allclose(p, pre, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d, f(pre), rtol=1e-12, atol=1e-12)


def test_bias_along_rows(bc):
    a, b, bias = rand((4, 5), 22), rand((5, 3), 23), rand((4,), 24)
    np.testing.assert_allclose(bc.ops.gemm(a, b, bias=bias, bias_axis="rows"), a @ b + bias[:, None], rtol=1e-12)


def test_linear_backward(bc):
    x, w, g = rand((3, 4, 6), 25), rand((5, 6), 26), rand((3, 4, 5), 27)
    dx, dw, db = bc.ops.linear_backward(g, x, w)
    np.testing.assert_allclose(dx, g @ w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, g.reshape(-1, 5).T @ x.reshape(-1, 6), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, g.reshape(-1, 5).sum(axis=0), rtol=1e-12, atol=1e-12)
    assert bc.ops.linear_backward(g, x, w, bias=False)[2] is None


def test_int_mm_is_exact(bc):
    rng = np.random.default_rng(28)
    a = rng.integers(-128, 128, size=(9, 300), dtype=np.int8)
    b = rng.integers(-128, 128, size=(300, 7), dtype=np.int8)
    d = bc.ops.int_mm(a, b)
    assert d.dtype == np.int32
    np.testing.assert_array_equal(d, a.astype(np.int64) @ b.astype(np.int64))


def test_out_and_empty(bc):
    a, b = rand((3, 4), 29), rand((4, 2), 30)
    out = np.full((3, 2), np.nan)
    r = bc.ops.mm(a, b, out=out)
    assert r is out
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)
    e = bc.ops.mm(np.zeros((0, 4)), b)
    assert e.shape == (0, 2)
    z = bc.ops.mm(np.zeros((3, 0)), np.zeros((0, 2)))  # K = 0: zeros
    np.testing.assert_array_equal(z, np.zeros((3, 2)))


def test_plan_object(bc):
    plan = bc.GemmPlan(("f32", (8, 4), None, False), ("f32", (4, 3), (1, 4), False), ("f32", (8, 3), None, False))
    assert plan.signature["m"] == 8 and plan.signature["n"] == 3 and plan.signature["k"] == 4
    assert plan.sku["impl"] and plan.precision_guarantee
    cands = plan.explain()  # (name, backend, reason, selectable) per registered implementation
    assert ("cpu_reference", "cpu-reference", "ok", True) in cands


def test_errors_quote_values(bc):
    with pytest.raises(bc.InvalidArgumentError, match="5"):
        bc.ops.mm(rand((3, 4), 1), rand((5, 2), 2))  # inner dims 4 vs 5
    with pytest.raises(ValueError, match="do not broadcast"):
        bc.ops.matmul(rand((2, 3, 4), 1), rand((3, 4, 2), 2))
    with pytest.raises(ValueError, match="activation"):
        bc.ops.linear(rand((2, 3), 1), rand((4, 3), 2), activation="tanh")
    with pytest.raises(bc.InvalidArgumentError, match="bias"):
        bc.ops.gemm(rand((3, 4), 1), rand((4, 2), 2), bias=rand((5,), 3))


def test_scaled_mm_rowwise_and_block_scales(bc):
    """fp8 scales per tensor, per row / column, per 1x128 and 128x128 block (the shape of each scale
    tensor says which, as in torch._scaled_mm), against numpy with every scale expanded to its
    element: small integers times powers of two, so the f32 result is exact."""
    ml = pytest.importorskip("ml_dtypes", reason="numpy has no float8 without ml_dtypes")
    rng = np.random.default_rng(41)
    m, n, k = 6, 5, 300  # K: blocks of 128, 128 and 44
    a = rng.integers(-3, 4, size=(m, k)).astype(ml.float8_e4m3fn)
    b = rng.integers(-3, 4, size=(k, n)).astype(ml.float8_e4m3fn)

    def pow2(shape):
        return np.asarray(np.ldexp(1.0, rng.integers(-2, 3, size=shape)), dtype=np.float32)

    def expand(s, rows, cols, block_rows, block_cols):
        return np.repeat(np.repeat(s.astype(np.float64), block_rows, axis=0), block_cols, axis=1)[:rows, :cols]

    kb = -(-k // 128)
    cases = {
        "tensor": (pow2(()), pow2(())),
        "rowwise": (pow2((m, 1)), pow2((1, n))),
        "1x128": (pow2((m, kb)), pow2((kb, n))),
        "1x128 x 128x128": (pow2((m, kb)), pow2((kb, 1))),
        "128x128": (pow2((1, kb)), pow2((kb, 1))),
    }
    def per_element(s, rows, cols, rows_per, cols_per):
        if s.ndim == 0:
            return s.astype(np.float64)
        return expand(s, rows, cols, rows_per, cols_per)

    for name, (sa, sb) in cases.items():
        # A [m, k]: a scale row covers one row (rowwise, 1x128) or 128 rows (128x128); a scale
        # column covers all of K (rowwise) or 128 of it. B [k, n] likewise, transposed.
        ea = per_element(sa, m, k, 1 if sa.ndim and sa.shape[0] == m else 128, k if sa.ndim and sa.shape[1] == 1 else 128)
        eb = per_element(sb, k, n, k if sb.ndim and sb.shape[0] == 1 else 128, 1 if sb.ndim and sb.shape[1] == n else 128)
        want = (a.astype(np.float64) * ea) @ (b.astype(np.float64) * eb)
        got = bc.ops.scaled_mm(a, b, sa, sb, out_dtype="f32")
        np.testing.assert_array_equal(got, want.astype(np.float32), err_msg=name)
    with pytest.raises(ValueError, match=r"scale_a of shape \[6, 2\] matches no scale mode"):
        bc.ops.scaled_mm(a, b, pow2((m, 2)), pow2(()), out_dtype="f32")
    # use_fast_accum (torch's flag): the CPU reference accumulates in f64 either way; on a non-fp8
    # GEMM the option is refused with its name.
    sa, sb = cases["rowwise"]
    np.testing.assert_array_equal(bc.ops.scaled_mm(a, b, sa, sb, out_dtype="f32", use_fast_accum=True),
                                  bc.ops.scaled_mm(a, b, sa, sb, out_dtype="f32"))
    with pytest.raises(bc.InvalidArgumentError, match="fp8_fast_accum"):
        bc.ops.gemm(rng.random((3, 4)).astype(np.float32), rng.random((4, 2)).astype(np.float32), use_fast_accum=True)
