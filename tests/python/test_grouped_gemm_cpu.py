"""The grouped GEMM family (mixture of experts) through the Python package, on the CPU with numpy
only: bc.GroupedGemmPlan and bc.ops.grouped_mm against an independent float64 loop over the
groups, with empty groups, G = 1, B stored [G, N, K] (transposed view), alpha, torch's offs
convention, out=, and every error path (bad offsets quoted, shapes, ranks, dtypes). The
contraction split (2-D a and 2-D b, the MoE weight gradient) has its own tests at the end.

The family takes bf16 / f16 only: f16 is numpy's own float16; bf16 needs ml_dtypes (skipped
without it). The CPU reference sums in f64 and rounds once, so the only difference from the
float64 loop is that final rounding: one ulp of D (f16 2^-10 |D|, bf16 2^-7 |D|), plus the
smallest subnormal."""
from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")

ULP = {"f16": 2.0 ** -10, "bf16": 2.0 ** -7}
TINY = {"f16": 2.0 ** -24, "bf16": 2.0 ** -133}


@pytest.fixture(scope="module")
def bc():
    try:
        import baracuda
    except Exception as e:  # ImportError, or a broken extension module
        pytest.skip(f"baracuda is not importable ({type(e).__name__}: {e}); pip install . first")
    return baracuda


def np_dtype(name):
    if name == "f16":
        return np.float16
    ml = pytest.importorskip("ml_dtypes", reason="numpy has no bfloat16 without ml_dtypes")
    return ml.bfloat16


def rand(shape, seed, dtype):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape).astype(dtype)


def offsets_of(sizes, dtype=np.int32):
    return np.concatenate(([0], np.cumsum(sizes))).astype(dtype)


def reference(a, b, offsets, alpha=1.0):
    """float64 loop over the groups, from the (already rounded) inputs."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    d = np.full((a.shape[0], b.shape[2]), np.nan)
    for g in range(b.shape[0]):
        lo, hi = int(offsets[g]), int(offsets[g + 1])
        d[lo:hi] = alpha * (a64[lo:hi] @ b64[g])
    return d


def check(got, want, dtype_name, what=""):
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    g = got.astype(np.float64)
    assert np.isfinite(g).all(), f"{what}: rows not written (NaN left)"
    err = np.abs(g - want)
    tol = ULP[dtype_name] * np.abs(want) + TINY[dtype_name]
    bad = np.argwhere(~(err <= tol))
    assert bad.size == 0, f"{what}: {len(bad)} elements off, first at {tuple(bad[0])}: got {g[tuple(bad[0])]}, " \
                          f"want {want[tuple(bad[0])]}"


GROUPINGS = [
    pytest.param([13], id="G1"),
    pytest.param([5, 0, 7, 3], id="empty-middle"),
    pytest.param([0, 0, 9], id="empty-first"),
    pytest.param([3, 11, 0], id="empty-last"),
    pytest.param([1, 2, 0, 0, 17, 4, 0, 1], id="G8-skewed"),
]


@pytest.mark.parametrize("dtype_name", ["f16", "bf16"])
@pytest.mark.parametrize("offsets_dtype", [np.int32, np.int64], ids=["i32", "i64"])
@pytest.mark.parametrize("sizes", GROUPINGS)
def test_random_groups_match_float64(bc, dtype_name, offsets_dtype, sizes):
    dt = np_dtype(dtype_name)
    k, n, g = 24, 10, len(sizes)
    m = int(sum(sizes))
    a, b = rand((m, k), 1 + m, dt), rand((g, k, n), 2 + g, dt)
    off = offsets_of(sizes, offsets_dtype)
    d = bc.ops.grouped_mm(a, b, off)
    assert d.dtype == dt
    check(d, reference(a, b, off), dtype_name, f"sizes {sizes}")


def test_random_group_sizes_many_seeds(bc):
    """Random routings (multinomial group sizes, often with empty groups) through one cached plan."""
    k, n, g, m = 16, 12, 6, 40
    a, b = rand((m, k), 3, np.float16), rand((g, k, n), 4, np.float16)
    before = bc.ops.grouped_gemm_plan_cache_size()
    for seed in range(8):
        sizes = np.random.default_rng(100 + seed).multinomial(m, np.random.default_rng(seed).dirichlet([0.3] * g))
        off = offsets_of(sizes)
        check(bc.ops.grouped_mm(a, b, off), reference(a, b, off), "f16", f"seed {seed} sizes {sizes.tolist()}")
    assert bc.ops.grouped_gemm_plan_cache_size() - before <= 1  # the offsets are run-time data


@pytest.mark.parametrize("dtype_name", ["f16", "bf16"])
def test_weights_stored_n_by_k_are_read_through_strides(bc, dtype_name):
    dt = np_dtype(dtype_name)
    sizes, k, n = [4, 0, 9], 20, 7
    a = rand((13, k), 5, dt)
    w = rand((3, n, k), 6, dt)  # the nn.Linear layout [G, N, K]
    b = w.transpose(0, 2, 1)  # B [G, K, N] as a view
    assert not b.flags.c_contiguous
    off = offsets_of(sizes)
    check(bc.ops.grouped_mm(a, b, off), reference(a, b, off), dtype_name, "B = W^T view")
    # Sliced operands (non-unit strides everywhere): the CPU reference reads any strides.
    big_a, big_b = rand((13, 2 * k), 7, dt), rand((3, 2 * k, 3 * n), 8, dt)
    a2, b2 = big_a[:, ::2], big_b[:, ::2, ::3]
    check(bc.ops.grouped_mm(a2, b2, off), reference(a2, b2, off), dtype_name, "sliced A and B")


@pytest.mark.parametrize("alpha", [0.5, -3.0, 0.0])
def test_alpha(bc, alpha):
    sizes, k, n = [6, 2, 0, 5], 9, 11
    a, b = rand((13, k), 9, np.float16), rand((4, k, n), 10, np.float16)
    off = offsets_of(sizes, np.int64)
    d = bc.ops.grouped_mm(a, b, off, alpha=alpha)
    check(d, reference(a, b, off, alpha), "f16", f"alpha {alpha}")
    if alpha == 0.0:
        np.testing.assert_array_equal(np.abs(d.astype(np.float64)), np.zeros(d.shape))


@pytest.mark.parametrize("offs_dtype", [np.int32, np.int64])
def test_offs_in_torch_convention(bc, offs_dtype):
    sizes, k, n = [3, 0, 8, 2], 12, 5
    a, b = rand((13, k), 11, np.float16), rand((4, k, n), 12, np.float16)
    ends = np.cumsum(sizes).astype(offs_dtype)  # torch._grouped_mm's offs: G group ends, no leading 0
    assert ends.shape == (4,)
    d = bc.ops.grouped_mm(a, b, offs=ends)
    check(d, reference(a, b, offsets_of(sizes)), "f16", "offs=")
    np.testing.assert_array_equal(d, bc.ops.grouped_mm(a, b, offsets_of(sizes, offs_dtype)))


def test_out_is_written_in_place_including_strided(bc):
    sizes, k, n = [2, 5, 0, 4], 8, 6
    a, b = rand((11, k), 13, np.float16), rand((4, k, n), 14, np.float16)
    off = offsets_of(sizes)
    want = reference(a, b, off)
    out = np.full((11, n), np.nan, np.float16)
    r = bc.ops.grouped_mm(a, b, off, out=out)
    assert r is out
    check(out, want, "f16", "out=")
    big = np.full((11, 2 * n), np.nan, np.float16)
    view = big[:, 1::2]  # D with a column stride of 2
    bc.ops.grouped_mm(a, b, off, out=view)
    check(view, want, "f16", "strided out=")
    assert np.isnan(big[:, 0::2].astype(np.float64)).all(), "wrote outside the out= view"


def test_empty_tokens_and_empty_k(bc):
    b = rand((3, 4, 5), 15, np.float16)
    d = bc.ops.grouped_mm(np.zeros((0, 4), np.float16), b, np.zeros(4, np.int32))
    assert d.shape == (0, 5) and d.dtype == np.float16
    # K = 0: every product is an empty sum, D = 0.
    d = bc.ops.grouped_mm(np.zeros((6, 0), np.float16), np.zeros((2, 0, 3), np.float16), offsets_of([2, 4]))
    np.testing.assert_array_equal(d.astype(np.float64), np.zeros((6, 3)))


@pytest.mark.parametrize("offsets,message", [
    ([0, 5, 3, 9], r"\[0, 5, 3, 9\].*decreases at group 1 \(5 -> 3\)"),
    ([1, 4, 6, 9], r"\[1, 4, 6, 9\].*must start at 0, got 1"),
    ([0, 4, 6, 8], r"\[0, 4, 6, 8\].*sum to 8.*M_total=9"),
    ([0, 4, 6, 10], r"\[0, 4, 6, 10\].*sum to 10.*M_total=9"),
])
@pytest.mark.parametrize("check_offsets", [False, True])
def test_bad_offsets_raise_quoting_them_and_leave_d_untouched(bc, offsets, message, check_offsets):
    a, b = rand((9, 4), 16, np.float16), rand((3, 4, 2), 17, np.float16)
    out = np.full((9, 2), 7.0, np.float16)
    with pytest.raises(ValueError, match=message):
        bc.ops.grouped_mm(a, b, np.array(offsets, np.int32), out=out, check_offsets=check_offsets)
    np.testing.assert_array_equal(out, np.full((9, 2), 7.0, np.float16))
    # The same offsets in torch's convention are rejected the same way.
    if offsets[0] == 0:
        with pytest.raises(ValueError, match=message):
            bc.ops.grouped_mm(a, b, offs=np.array(offsets[1:], np.int64), check_offsets=check_offsets)


def test_shape_rank_and_dtype_errors(bc):
    h = np.float16
    a, b, off = rand((6, 4), 18, h), rand((2, 4, 3), 19, h), offsets_of([2, 4])
    with pytest.raises(ValueError, match=r"a must have rank 2 \[M_total, K\], got shape \[1, 6, 4\]"):
        bc.ops.grouped_mm(a[None], b, off)
    with pytest.raises(ValueError, match=r"b must have rank 3 \[G, K, N\].*or rank 2 \[K_total, N\].*got shape \[3\]"):
        bc.ops.grouped_mm(a, b[0, 0], off)
    with pytest.raises(ValueError, match=r"K=4.*K=5"):
        bc.ops.grouped_mm(a, rand((2, 5, 3), 20, h), off)
    with pytest.raises(ValueError, match=r"offsets must have shape \[3\].*G=2.*got shape \[2\].*offs="):
        bc.ops.grouped_mm(a, b, off[1:])
    with pytest.raises(ValueError, match=r"offs must have shape \[2\].*got shape \[3\]"):
        bc.ops.grouped_mm(a, b, offs=off)
    with pytest.raises(ValueError, match=r"offsets must be int32 or int64, got f32"):
        bc.ops.grouped_mm(a, b, off.astype(np.float32))
    with pytest.raises(TypeError, match="exactly one"):
        bc.ops.grouped_mm(a, b, off, offs=off[1:])
    with pytest.raises(TypeError, match="exactly one"):
        bc.ops.grouped_mm(a, b)
    with pytest.raises(ValueError, match=r"A is f32; the grouped GEMM takes bf16 or f16"):
        bc.ops.grouped_mm(a.astype(np.float32), b.astype(np.float32), off)
    with pytest.raises(ValueError, match=r"share one dtype.*A f16, B f32"):
        bc.ops.grouped_mm(a, b.astype(np.float32), off)
    with pytest.raises(ValueError, match=r"D has shape \[6, 4\], expected \[6, 3\]"):
        bc.ops.grouped_mm(a, b, off, out=np.empty((6, 4), h))
    with pytest.raises(TypeError, match="must be a numpy / torch / cupy tensor"):
        bc.ops.grouped_mm(a.tolist(), b, off)


def test_plan_object(bc):
    spec_a, spec_d = ("f16", (9, 4), None, False), ("f16", (9, 3), None, False)
    spec_b = ("f16", (2, 4, 3), (12, 1, 4), False)  # [G, N, K] storage
    sig = bc.grouped_gemm_infer_signature(spec_a, spec_b, spec_d, offsets_dtype="i64")
    assert sig == {"m_total": 9, "n": 3, "k": 4, "groups": 2, "split": "rows"}
    plan = bc.GroupedGemmPlan(spec_a, spec_b, spec_d, offsets_dtype="i64", alpha=2.0, status=True)
    assert plan.signature == sig
    assert plan.sku["impl"] == "cpu_reference" and plan.precision_guarantee
    assert ("cpu_reference", "cpu-reference", "ok", True) in plan.explain()
    assert "GroupedGemmPlan" in repr(plan) and "grouped_gemm f16" in repr(plan)
    a = rand((9, 4), 21, np.float16)
    w = rand((2, 3, 4), 22, np.float16)
    b = w.transpose(0, 2, 1)
    off = offsets_of([4, 5], np.int64)
    d = np.full((9, 3), np.nan, np.float16)
    status = np.full((), 5, np.int32)
    plan.run(None, None, 0, a=a, b=b, group_offsets=off, d=d, status=status)
    check(d, reference(a, b, off, 2.0), "f16", "plan.run")
    assert int(status) == 0
    bad = np.array([0, 6, 5], np.int64)
    with pytest.raises(bc.InvalidArgumentError, match=r"\[0, 6, 5\]"):
        plan.run(None, None, 0, a=a, b=b, group_offsets=bad, d=d, status=status)
    assert int(status) == 1  # the CPU reference also reports through status
    with pytest.raises(bc.InvalidArgumentError, match="status .* is required"):
        plan.run(None, None, 0, a=a, b=b, group_offsets=off, d=d)
    with pytest.raises(bc.InvalidArgumentError, match="offsets_dtype|group_offsets"):
        plan.run(None, None, 0, a=a, b=b, group_offsets=off.astype(np.int32), d=d, status=status)
    with pytest.raises(bc.InvalidArgumentError, match="alpha must be finite"):
        bc.GroupedGemmPlan(spec_a, spec_b, spec_d, alpha=float("inf"))


# ------------------------------------------------------------------------------------------------
# 2-D a, 2-D b: the groups split the contraction dimension (dW[g] = X_g^T dY_g, torch._grouped_mm's
# 2-D x 2-D case): D[g] = alpha * a[:, off[g]:off[g+1]] @ b[off[g]:off[g+1]], D [G, M, N].


def reference_contraction(a, b, offsets, alpha=1.0):
    """float64 loop over the groups; an empty group's product is an empty sum (zeros)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    g_count = len(offsets) - 1
    d = np.full((g_count, a.shape[0], b.shape[1]), np.nan)
    for g in range(g_count):
        lo, hi = int(offsets[g]), int(offsets[g + 1])
        d[g] = alpha * (a64[:, lo:hi] @ b64[lo:hi])
    return d


@pytest.mark.parametrize("dtype_name", ["f16", "bf16"])
@pytest.mark.parametrize("offsets_dtype", [np.int32, np.int64], ids=["i32", "i64"])
@pytest.mark.parametrize("sizes", GROUPINGS)
def test_contraction_random_groups_match_float64(bc, dtype_name, offsets_dtype, sizes):
    dt = np_dtype(dtype_name)
    m, n = 6, 5
    k_total = int(sum(sizes))
    x = rand((k_total, m), 30 + k_total, dt)  # X [tokens, features]
    dy = rand((k_total, n), 31 + len(sizes), dt)
    off = offsets_of(sizes, offsets_dtype)
    d = bc.ops.grouped_mm(x.T, dy, off)  # a = X^T, a strided view
    assert d.shape == (len(sizes), m, n) and d.dtype == dt
    check(d, reference_contraction(x.T, dy, off), dtype_name, f"contraction sizes {sizes}")


def test_contraction_empty_groups_are_zero_and_every_element_written(bc):
    sizes, m, n = [0, 4, 0, 3, 0], 3, 4
    x, dy = rand((7, m), 32, np.float16), rand((7, n), 33, np.float16)
    off = offsets_of(sizes)
    out = np.full((5, m, n), np.nan, np.float16)
    r = bc.ops.grouped_mm(x.T, dy, off, out=out)
    assert r is out
    for g in (0, 2, 4):
        np.testing.assert_array_equal(out[g].astype(np.float64), np.zeros((m, n)))
    check(out, reference_contraction(x.T, dy, off), "f16", "empty groups")


def test_contraction_closed_form(bc):
    """a[m, k] = m + 1, b[k, n] = k + n: D[g][m, n] = (m + 1) * (sum of the group's k + K_g * n)."""
    sizes, m, n = [3, 1, 0, 4], 3, 2
    off = offsets_of(sizes)
    a = np.repeat(np.arange(1, m + 1, dtype=np.float16)[:, None], 8, axis=1)
    b = (np.arange(8)[:, None] + np.arange(n)[None, :]).astype(np.float16)
    d = bc.ops.grouped_mm(a, b, off).astype(np.float64)
    for g in range(4):
        ks = range(int(off[g]), int(off[g + 1]))
        want = np.array([[(mm + 1) * (sum(ks) + sizes[g] * nn) for nn in range(n)] for mm in range(m)], np.float64)
        np.testing.assert_array_equal(d[g], want)


def test_contraction_one_group_equals_the_plain_product(bc):
    x, dy = rand((9, 4), 34, np.float16), rand((9, 6), 35, np.float16)
    d = bc.ops.grouped_mm(x.T, dy, np.array([0, 9], np.int64))
    check(d, (x.T.astype(np.float64) @ dy.astype(np.float64))[None], "f16", "G = 1")


@pytest.mark.parametrize("alpha", [0.5, -3.0])
def test_contraction_alpha_and_torch_offs(bc, alpha):
    sizes, m, n = [2, 0, 5, 1], 4, 3
    x, dy = rand((8, m), 36, np.float16), rand((8, n), 37, np.float16)
    ends = np.cumsum(sizes).astype(np.int32)  # torch._grouped_mm's offs
    d = bc.ops.grouped_mm(x.T, dy, offs=ends, alpha=alpha)
    assert d.shape == (4, m, n)
    check(d, reference_contraction(x.T, dy, offsets_of(sizes), alpha), "f16", f"alpha {alpha} offs=")


def test_contraction_strided_b_and_out(bc):
    sizes, m, n = [3, 2], 4, 3
    x = rand((5, m), 38, np.float16)
    dy_wide = rand((5, 2 * n), 39, np.float16)
    dy = dy_wide[:, ::2]
    off = offsets_of(sizes)
    big = np.full((2, m, 2 * n), np.nan, np.float16)
    view = big[:, :, 1::2]
    bc.ops.grouped_mm(x.T, dy, off, out=view)
    check(view, reference_contraction(x.T, dy, off), "f16", "strided b and out=")
    assert np.isnan(big[:, :, 0::2].astype(np.float64)).all(), "wrote outside the out= view"


def test_contraction_zero_length_gives_zeros(bc):
    d = bc.ops.grouped_mm(np.zeros((3, 0), np.float16), np.zeros((0, 2), np.float16), np.zeros(3, np.int32))
    assert d.shape == (2, 3, 2)
    np.testing.assert_array_equal(d.astype(np.float64), np.zeros((2, 3, 2)))


@pytest.mark.parametrize("offsets,message", [
    ([0, 5, 3, 9], r"\[0, 5, 3, 9\].*decreases at group 1 \(5 -> 3\)"),
    ([1, 4, 6, 9], r"\[1, 4, 6, 9\].*must start at 0, got 1"),
    ([0, 4, 6, 8], r"\[0, 4, 6, 8\].*sum to 8.*K_total=9 columns"),
    ([0, -1, 6, 9], r"\[0, -1, 6, 9\].*decreases at group 0 \(0 -> -1\)"),
])
@pytest.mark.parametrize("check_offsets", [False, True])
def test_contraction_bad_offsets_raise_quoting_them_and_leave_d_untouched(bc, offsets, message, check_offsets):
    x, dy = rand((9, 4), 40, np.float16), rand((9, 2), 41, np.float16)
    out = np.full((3, 4, 2), 7.0, np.float16)
    with pytest.raises(ValueError, match=message):
        bc.ops.grouped_mm(x.T, dy, np.array(offsets, np.int32), out=out, check_offsets=check_offsets)
    np.testing.assert_array_equal(out, np.full((3, 4, 2), 7.0, np.float16))


def test_contraction_shape_and_dtype_errors(bc):
    h = np.float16
    x, dy, off = rand((6, 4), 42, h), rand((6, 3), 43, h), offsets_of([2, 4])
    with pytest.raises(ValueError, match=r"K_total=6.*K_total=5"):
        bc.ops.grouped_mm(x.T, dy[:5], off)
    with pytest.raises(ValueError, match=r"D has shape \[2, 3, 4\], expected \[2, 4, 3\]"):
        bc.ops.grouped_mm(x.T, dy, off, out=np.empty((2, 3, 4), h))
    with pytest.raises(ValueError, match=r"D must have rank 3 \[G, M, N\]"):
        bc.ops.grouped_mm(x.T, dy, off, out=np.empty((4, 3), h))
    with pytest.raises(ValueError, match=r"offsets must have shape \[G \+ 1\] with G >= 1.*got shape \[1\]"):
        bc.ops.grouped_mm(x.T, dy, off[:1])
    with pytest.raises(ValueError, match=r"offs must have shape \[G\] with G >= 1.*got shape \[0\]"):
        bc.ops.grouped_mm(x.T, dy, offs=off[:0])
    with pytest.raises(ValueError, match=r"A is f32; the grouped GEMM takes bf16 or f16"):
        bc.ops.grouped_mm(x.T.astype(np.float32), dy.astype(np.float32), off)
    with pytest.raises(ValueError, match=r"share one dtype.*A f16, B f32"):
        bc.ops.grouped_mm(x.T, dy.astype(np.float32), off)
    with pytest.raises(ValueError, match=r"a must have rank 2 \[M, K_total\]"):
        bc.ops.grouped_mm(x.T[None], dy, off)


def test_contraction_plan_object(bc):
    spec_a = ("f16", (4, 6), (1, 4), False)  # X^T of X [6, 4]
    spec_b, spec_d = ("f16", (6, 3), None, False), ("f16", (2, 4, 3), None, False)
    sig = bc.grouped_gemm_infer_signature(spec_a, spec_b, spec_d, split="contraction")
    assert sig == {"m_total": 4, "n": 3, "k": 6, "groups": 2, "split": "contraction"}
    plan = bc.GroupedGemmPlan(spec_a, spec_b, spec_d, split="contraction", status=True)
    assert plan.signature == sig
    assert plan.sku["impl"] == "cpu_reference" and "split=contraction" in plan.sku["layout"]
    assert "split=contraction" in repr(plan)
    x, dy = rand((6, 4), 44, np.float16), rand((6, 3), 45, np.float16)
    off = offsets_of([0, 6])
    d = np.full((2, 4, 3), np.nan, np.float16)
    status = np.full((), 5, np.int32)
    plan.run(None, None, 0, a=x.T, b=dy, group_offsets=off, d=d, status=status)
    check(d, reference_contraction(x.T, dy, off), "f16", "plan.run")
    assert int(status) == 0
    with pytest.raises(bc.InvalidArgumentError, match="split must be 'rows' or 'contraction', got 'k'"):
        bc.GroupedGemmPlan(spec_a, spec_b, spec_d, split="k")
    with pytest.raises(bc.InvalidArgumentError, match=r"B must have rank 3 \[G, K, N\]"):
        bc.GroupedGemmPlan(spec_a, spec_b, spec_d)  # the rows split's shapes
