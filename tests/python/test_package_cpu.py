"""CPU tests of the baracuda Python package (numpy only; no GPU needed).

Run after `python3 -m pip install . --config-settings=cmake.define.BARACUDA_CUDA=OFF`:
    python3 -m pytest tests/python -q
"""
import math

import numpy as np
import pytest

import baracuda
from baracuda import ops

SQRT2 = math.sqrt(2.0)
XS = np.array([-3.0, -1.5, -0.5, 0.0, 0.25, 1.0, 2.5, 4.0])


def close(a, b, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=rtol,
                               atol=atol)


# ---------------------------------------------------------------------------------------------
# Package surface


def test_catalog_has_every_op_as_function():
    cat = baracuda.catalog()
    names = {c["name"] for c in cat}
    assert {"exp", "add", "where", "swiglu", "cast", "prelu", "clamp", "eq", "bitwise_and"} <= names
    for c in cat:
        assert set(c) >= {"name", "arity", "category", "differentiable", "torch_name", "jax_name"}
        assert callable(getattr(ops, c["name"])), c["name"]
        assert hasattr(ops, c["name"] + "_backward") == bool(c["differentiable"]), c["name"]
    assert next(c for c in cat if c["name"] == "exp")["torch_name"] == "torch.exp"
    assert next(c for c in cat if c["name"] == "where")["arity"] == 3


def test_error_hierarchy():
    assert issubclass(baracuda.InvalidArgumentError, ValueError)
    assert issubclass(baracuda.InvalidArgumentError, baracuda.BaracudaError)
    assert issubclass(baracuda.NotSupportedError, NotImplementedError)
    for e in (baracuda.MisalignedError, baracuda.WorkspaceTooSmallError, baracuda.BackendError,
              baracuda.InternalError):
        assert issubclass(e, RuntimeError) and issubclass(e, baracuda.BaracudaError)
    assert issubclass(baracuda.DTypeError, TypeError)
    assert baracuda.InvalidArgumentError.code == "invalid_argument"
    assert baracuda.NotSupportedError.code == "not_supported"


def test_tensor_info_maps_numpy_dtypes_and_strides():
    for np_dt, name in [(np.float64, "f64"), (np.float32, "f32"), (np.float16, "f16"), (np.int64, "i64"),
                        (np.int32, "i32"), (np.int16, "i16"), (np.int8, "i8"), (np.uint8, "u8"),
                        (np.bool_, "bool"), (np.complex64, "c64"), (np.complex128, "c128")]:
        assert baracuda.tensor_info(np.zeros(2, dtype=np_dt))["dtype"] == name
    x = np.zeros((4, 6), np.float32)
    info = baracuda.tensor_info(x[::2, ::-3])
    assert info["shape"] == (2, 2) and info["strides"] == (12, -3) and info["device"] == "cpu"
    assert baracuda.tensor_info(x.T)["strides"] == (1, 6)
    with pytest.raises(TypeError):
        baracuda.tensor_info(np.zeros(2, np.uint16))


# ---------------------------------------------------------------------------------------------
# Forward values, by category


def test_unary_math_float64():
    x = np.array([0.1, 0.5, 1.0, 2.0, 7.5])
    close(ops.exp(x), np.exp(x), rtol=1e-14)
    close(ops.log(x), np.log(x), rtol=1e-14)
    close(ops.sqrt(x), np.sqrt(x), rtol=1e-15)
    close(ops.rsqrt(x), 1 / np.sqrt(x), rtol=1e-14)
    close(ops.sin(x), np.sin(x), rtol=1e-14)
    close(ops.tanh(x), np.tanh(x), rtol=1e-14)
    close(ops.sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    close(ops.erf(x), [math.erf(v) for v in x], rtol=1e-14)
    close(ops.lgamma(x), [math.lgamma(v) for v in x], rtol=1e-12)
    close(ops.log1p(x), np.log1p(x), rtol=1e-14)
    assert ops.exp(x).dtype == np.float64


def test_unary_dtypes():
    xi = np.array([1, 2, 3], np.int32)
    y = ops.exp(xi)  # integer -> default float (f32)
    assert y.dtype == np.float32
    close(y, np.exp([1.0, 2.0, 3.0]), rtol=1e-6)
    assert ops.abs(np.array([-3, 4], np.int16)).dtype == np.int16
    np.testing.assert_array_equal(ops.abs(np.array([-3, 4], np.int16)), [3, 4])
    np.testing.assert_array_equal(ops.neg(np.array([-3, 4], np.int8)), [3, -4])
    h = ops.sqrt(np.array([4.0, 2.0], np.float16))
    assert h.dtype == np.float16
    np.testing.assert_array_equal(h, np.array([2.0, math.sqrt(2.0)], np.float16))
    close(ops.floor(np.array([-1.5, 2.5])), [-2.0, 2.0])
    close(ops.round(np.array([0.5, 1.5, 2.5, -0.5])), [0.0, 2.0, 2.0, -0.0])  # half to even


def test_activations():
    x = XS
    close(ops.relu(x), np.maximum(x, 0))
    close(ops.leaky_relu(x, negative_slope=0.2), np.where(x > 0, x, 0.2 * x), rtol=1e-15)
    close(ops.elu(x, alpha=1.5), np.where(x > 0, x, 1.5 * np.expm1(x)), rtol=1e-14)
    gelu = np.array([0.5 * v * (1 + math.erf(v / SQRT2)) for v in x])
    close(ops.gelu(x), gelu, rtol=1e-14, atol=1e-15)
    k = math.sqrt(2 / math.pi)
    close(ops.gelu_tanh(x), 0.5 * x * (1 + np.tanh(k * (x + 0.044715 * x ** 3))), rtol=1e-14, atol=1e-15)
    close(ops.silu(x), x / (1 + np.exp(-x)), rtol=1e-14)
    close(ops.softplus(x, beta=2.0, threshold=5.0), np.where(2 * x > 5, x, np.log1p(np.exp(2 * x)) / 2),
          rtol=1e-14)
    close(ops.hardtanh(x, min_val=-2.0, max_val=2.0), np.clip(x, -2, 2))
    close(ops.hardswish(x), x * np.clip(x + 3, 0, 6) / 6, rtol=1e-15)
    close(ops.threshold(x, threshold=0.5, value=-7.0), np.where(x > 0.5, x, -7.0))
    close(ops.softshrink(x, lambd=1.0), np.where(x > 1, x - 1, np.where(x < -1, x + 1, 0)))
    y = ops.relu(x.astype(np.float32))
    assert y.dtype == np.float32


def test_binary_broadcasting():
    a = np.arange(6, dtype=np.float64).reshape(2, 1, 3)
    b = np.array([[10.0], [20.0], [30.0], [40.0]])  # (4, 1)
    y = ops.add(a, b)
    assert y.shape == (2, 4, 3)
    close(y, a + b)
    close(ops.add(a, b, alpha=2.0), a + 2 * b)
    close(ops.sub(a, b), a - b)
    close(ops.mul(a, b), a * b)
    close(ops.div(a, b), a / b)
    close(ops.maximum(np.array([1.0, np.nan, 3.0]), np.array([2.0, 1.0, np.nan])), [2.0, np.nan, np.nan])
    close(ops.fmax(np.array([1.0, np.nan, 3.0]), np.array([2.0, 1.0, np.nan])), [2.0, 1.0, 3.0])
    close(ops.atan2(a, b), np.arctan2(a, b), rtol=1e-14)
    close(ops.pow(np.array([2.0, 3.0]), np.array([3.0, 0.5])), [8.0, math.sqrt(3)], rtol=1e-15)
    # integer division semantics (floor / trunc / python remainder)
    ia = np.array([7, -7, 7, -7], np.int32)
    ib = np.array([2, 2, -2, -2], np.int32)
    np.testing.assert_array_equal(ops.div_floor(ia, ib), [3, -4, -4, 3])
    np.testing.assert_array_equal(ops.div_trunc(ia, ib), [3, -3, -3, 3])
    np.testing.assert_array_equal(ops.remainder(ia, ib), [1, 1, -1, -1])
    np.testing.assert_array_equal(ops.fmod(ia, ib), [1, -1, 1, -1])
    d = ops.div(ia, ib)  # true division of integers -> f32
    assert d.dtype == np.float32
    close(d, [3.5, -3.5, -3.5, 3.5])


def test_tensor_promotion():
    assert ops.add(np.ones(2, np.int32), np.ones(2, np.int64)).dtype == np.int64
    assert ops.add(np.ones(2, np.float16), np.ones(2, np.float32)).dtype == np.float32
    assert ops.add(np.ones(2, np.uint8), np.ones(2, np.int8)).dtype == np.int16
    assert ops.add(np.ones(2, np.int32), np.ones(2, np.float16)).dtype == np.float16
    # zero-dim tensors participate below dimensioned ones (PyTorch)
    assert ops.add(np.ones(2, np.float32), np.array(1.0)).dtype == np.float32


def test_python_scalar_promotion():
    xi = np.array([1, 2, 3], np.int32)
    y = ops.mul(xi, 2.5)
    assert y.dtype == np.float32
    close(y, [2.5, 5.0, 7.5])
    y = ops.add(xi, 2)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, [3, 4, 5])
    y = ops.add(np.array([1.0, 2.0], np.float16), 2.5)
    assert y.dtype == np.float16
    close(y, [3.5, 4.5])
    y = ops.add(np.array([True, False]), 1)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, [2, 1])
    y = ops.add(np.array([1, 2], np.int8), True)
    assert y.dtype == np.int8
    np.testing.assert_array_equal(y, [2, 3])
    y = ops.sub(10.0, np.array([1.0, 2.0], np.float32))  # scalar first
    assert y.dtype == np.float32
    close(y, [9.0, 8.0])
    y = ops.mul(np.array([1.5, 2.0], np.float32), np.float64(2.0))  # numpy scalar = Python number
    assert y.dtype == np.float32
    close(y, [3.0, 4.0])
    np.testing.assert_array_equal(ops.pow(np.array([2, 3], np.int64), 2), [4, 9])


def test_comparisons_and_logical():
    a = np.array([1.0, 2.0, np.nan, 4.0])
    b = np.array([1.0, 3.0, np.nan, 0.0])
    for name, ref in [("eq", a == b), ("ne", a != b), ("lt", a < b), ("le", a <= b), ("gt", a > b),
                      ("ge", a >= b)]:
        y = getattr(ops, name)(a, b)
        assert y.dtype == np.bool_, name
        np.testing.assert_array_equal(y, ref, err_msg=name)
    np.testing.assert_array_equal(ops.gt(np.array([1, 5, 3], np.int32), 2.5), [False, True, True])
    np.testing.assert_array_equal(ops.isnan(a), np.isnan(a))
    np.testing.assert_array_equal(ops.isfinite(np.array([1.0, np.inf, np.nan])), [True, False, False])
    np.testing.assert_array_equal(ops.logical_and(np.array([1, 0, 2], np.int32), np.array([True, True, False])),
                                  [True, False, False])
    np.testing.assert_array_equal(ops.logical_not(np.array([0.0, 2.0])), [True, False])


def test_bitwise_int8():
    a = np.array([0b0101, -1, 127, -128], np.int8)
    b = np.array([0b0011, 0x0F, 1, 1], np.int8)
    for name, ref in [("bitwise_and", a & b), ("bitwise_or", a | b), ("bitwise_xor", a ^ b)]:
        y = getattr(ops, name)(a, b)
        assert y.dtype == np.int8, name
        np.testing.assert_array_equal(y, ref, err_msg=name)
    np.testing.assert_array_equal(ops.bitwise_not(a), ~a)
    np.testing.assert_array_equal(ops.shift_left(np.array([1, 3], np.int8), np.array([2, 6], np.int8)),
                                  np.array([4, -64], np.int8))
    np.testing.assert_array_equal(ops.shift_right(np.array([-16, 16], np.int8), 2), [-4, 4])
    np.testing.assert_array_equal(ops.bitwise_and(np.array([True, True]), np.array([True, False])), [True, False])
    with pytest.raises(ValueError, match="elementwise.bitwise_and"):
        ops.bitwise_and(np.ones(2), np.ones(2))


def test_where():
    c = np.array([True, False, True, False])
    a = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    b = np.array([10.0, 20.0, 30.0, 40.0], np.float64)
    y = ops.where(c, a, b)
    assert y.dtype == np.float64
    close(y, [1, 20, 3, 40])
    y = ops.where(c, a, -1.0)  # scalar branch
    assert y.dtype == np.float32
    close(y, [1, -1, 3, -1])
    y = ops.where(c[:, None], a, 0)  # broadcast to (4, 4)
    assert y.shape == (4, 4)
    close(y, np.where(c[:, None], a, 0))
    with pytest.raises(ValueError, match="condition"):
        ops.where(np.ones(4, np.float32), a, b)


def test_clamp():
    x = np.array([-3.0, -0.5, 0.5, 3.0])
    close(ops.clamp(x, -1.0, 1.0), np.clip(x, -1, 1))
    close(ops.clamp(x, min=0.0), np.maximum(x, 0))
    close(ops.clamp(x, max=0.0), np.minimum(x, 0))
    lo = np.array([-4.0, 0.0, 0.0, 0.0])
    close(ops.clamp(x, lo, 2), np.minimum(np.maximum(x, lo), 2))
    xi = np.array([-5, 0, 5], np.int32)
    y = ops.clamp(xi, -2, 2)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, [-2, 0, 2])
    with pytest.raises(ValueError):
        ops.clamp(x)


def test_gated():
    x = np.linspace(-2, 2, 12).reshape(3, 4)
    a, b = x[:, :2], x[:, 2:]
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    close(ops.glu(x), a * sig(b), rtol=1e-14)
    close(ops.swiglu(x), a * sig(a) * b, rtol=1e-14)
    close(ops.reglu(x), np.maximum(a, 0) * b, rtol=1e-14)
    gelu = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / SQRT2)))
    close(ops.geglu(x), gelu(a) * b, rtol=1e-13, atol=1e-15)
    # along dim 0
    x0 = np.linspace(-1, 1, 8).reshape(4, 2)
    y = ops.glu(x0, dim=0)
    assert y.shape == (2, 2)
    close(y, x0[:2] * sig(x0[2:]), rtol=1e-14)
    with pytest.raises(ValueError, match="not even"):
        ops.glu(np.ones((3, 3)))


def test_prelu():
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])[:, :, None] * np.ones((1, 1, 2))  # (2, 2, 2), channels = 2
    w = np.array([0.1, 0.5])
    ref = np.where(x >= 0, x, w[None, :, None] * x)
    close(ops.prelu(x, w), ref, rtol=1e-15)
    close(ops.prelu(x, np.array([0.25])), np.where(x >= 0, x, 0.25 * x), rtol=1e-15)
    with pytest.raises(ValueError, match="prelu"):
        ops.prelu(x, np.array([0.1, 0.2, 0.3]))


def test_cast():
    x = np.array([1.5, -2.7, 3e10, -3e10, np.nan, 0.49999997], np.float32)
    y = ops.cast(x, np.int32)  # truncate, saturate, NaN -> 0
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, [1, -2, 2147483647, -2147483648, 0, 0])
    h = ops.cast(np.array([1.0, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000.0]), "f16")  # RNE, overflow -> inf
    assert h.dtype == np.float16
    np.testing.assert_array_equal(h, np.array([1.0, 1.0, 1 + 2 ** -9, np.inf], np.float16))
    y, amax = ops.cast(np.array([-3.0, 2.0, 0.5], np.float32), np.float16, scale=2.0, amax=True)
    assert y.dtype == np.float16 and amax.dtype == np.float32 and amax.shape == (1,)
    close(y, [-6.0, 4.0, 1.0])
    assert amax[0] == 3.0  # before scaling
    np.testing.assert_array_equal(ops.cast(np.array([0.0, 0.5, -2.0]), np.bool_), [False, True, True])
    assert ops.cast(np.array([1, 2], np.int64), "float64").dtype == np.float64
    try:
        import ml_dtypes  # noqa: F401  (gives numpy a bfloat16)
    except ImportError:
        with pytest.raises(TypeError, match="numpy has no bf16"):
            ops.cast(np.ones(2, np.float32), "bf16")
    else:
        y = ops.cast(np.array([1.0, 1.00390625, 3.0], np.float32), "bf16")
        assert str(y.dtype) == "bfloat16"
        np.testing.assert_array_equal(y.astype(np.float32), [1.0, 1.0, 3.0])  # 1 + 2^-8 ties to even


# ---------------------------------------------------------------------------------------------
# Layouts: strided, negative strides, transposed, broadcast views, empty, out= and in-place


def test_strided_negative_transposed_inputs():
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    for view in (base[::2, 1::2], base[::-1], base[:, ::-2], base.T, base.T[::-1, 1:3]):
        close(ops.exp(view / 10), np.exp(view / 10), rtol=1e-14)
        close(ops.add(view, view.copy()), 2 * view)
        close(ops.mul(view, 3), view * 3)
    b = np.broadcast_to(np.arange(3.0), (4, 3))  # read-only, stride 0
    close(ops.add(b, 1.0), b + 1)
    f = np.asfortranarray(base)
    close(ops.sub(f, base), np.zeros_like(base))
    # unaligned (offset) f32 views still run: the layer promises the alignment it sees
    raw = np.arange(9, dtype=np.float32)
    close(ops.add(raw[1:], raw[:-1]), raw[1:] + raw[:-1])


def test_empty_arrays():
    y = ops.exp(np.zeros((0, 3), np.float32))
    assert y.shape == (0, 3) and y.dtype == np.float32
    y = ops.add(np.zeros((2, 0)), np.zeros((1, 0)))
    assert y.shape == (2, 0)
    g = ops.tanh_backward(np.zeros((0,)), np.zeros((0,)))
    assert g[0].shape == (0,)


def test_out_and_in_place():
    x = np.array([1.0, 2.0, 3.0])
    out = np.empty(3)
    r = ops.mul(x, 2.0, out=out)
    assert r is out
    close(out, [2, 4, 6])
    y = x.copy()
    ops.add(y, 1.0, out=y)  # in place
    close(y, [2, 3, 4])
    z = np.arange(6, dtype=np.float64).reshape(2, 3)
    ops.exp(z, out=z)
    close(z, np.exp(np.arange(6.0).reshape(2, 3)), rtol=1e-14)
    # result f32 written to an f64 output (castable)
    o64 = np.empty(3, np.float64)
    ops.add(np.ones(3, np.float32), np.ones(3, np.float32), out=o64)
    close(o64, [2, 2, 2])
    # strided output view
    big = np.zeros((3, 4))
    ops.add(np.ones((3, 2)), 1.0, out=big[:, ::2])
    close(big, [[2, 0, 2, 0]] * 3)
    # cast with amax into given outputs
    yo, ao = np.empty(2, np.float16), np.empty(1, np.float32)
    ops.cast(np.array([1.0, -5.0], np.float32), np.float16, amax=True, out=(yo, ao))
    close(yo, [1, -5])
    assert ao[0] == 5.0


def test_out_errors():
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"elementwise\.add.*shape"):
        ops.add(x, x, out=np.empty((3, 2)))
    with pytest.raises(ValueError, match="elementwise.add"):
        ops.add(x, x, out=np.empty((2, 3), np.int32))  # float result into an integer output
    with pytest.raises(ValueError, match="overlap"):
        ops.add(x[:, :2], 1.0, out=x[:, 1:])  # partial overlap with the input


# ---------------------------------------------------------------------------------------------
# Backward against numerical differences (float64)


def numgrad(f, inputs, i, dy, eps=1e-6):
    x = [np.array(v, dtype=np.float64, copy=True) for v in inputs]
    g = np.zeros_like(x[i])
    it = np.nditer(x[i], flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        old = x[i][idx]
        x[i][idx] = old + eps
        fp = np.sum(f(*x) * dy)
        x[i][idx] = old - eps
        fm = np.sum(f(*x) * dy)
        x[i][idx] = old
        g[idx] = (fp - fm) / (2 * eps)
    return g


def check_backward(name, inputs, rtol=1e-6, atol=1e-8, **attrs):
    rng = np.random.default_rng(0)
    f = lambda *xs: getattr(ops, name)(*xs, **attrs)  # noqa: E731
    y = f(*inputs)
    dy = rng.uniform(0.5, 1.5, size=y.shape)
    grads = getattr(ops, name + "_backward")(dy, *inputs, **attrs)
    assert len(grads) == len(inputs)
    for i, g in enumerate(grads):
        if isinstance(inputs[i], float):
            assert g is None
            continue
        assert g.shape == np.shape(inputs[i]) and g.dtype == np.float64
        close(g, numgrad(f, inputs, i, dy), rtol=rtol, atol=atol)


def test_backward_unary():
    x = np.array([-2.0, -0.7, 0.3, 1.1, 2.5])
    for name in ("tanh", "sigmoid", "gelu", "gelu_tanh", "silu", "mish", "softplus", "erf", "exp", "sin"):
        check_backward(name, [x])
    check_backward("elu", [x], alpha=0.7)
    check_backward("leaky_relu", [x], negative_slope=0.3)
    check_backward("log", [np.abs(x) + 0.1])


def test_backward_binary_with_broadcast():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 2.0, size=(3, 4))
    b = rng.uniform(0.5, 2.0, size=(4,))  # broadcast: gradient is summed to (4,)
    for name in ("add", "mul", "div", "pow", "atan2", "hypot", "maximum"):
        check_backward(name, [a, b])
    check_backward("sub", [a, b], alpha=2.0)
    check_backward("mul", [a, 3.0])  # Python scalar -> None gradient
    g = ops.mul_backward(np.ones((3, 4)), a, b, sum_to_size=False)
    assert g[1].shape == (3, 4)  # at the broadcast shape, as the kernel writes it


def test_backward_ternary_gated_prelu():
    rng = np.random.default_rng(2)
    x = rng.uniform(-2, 2, size=(2, 3, 4))
    check_backward("swiglu", [x])
    gs = ops.glu_backward(np.ones((2, 3, 2)), x)
    close(gs[0], numgrad(lambda v: ops.glu(v), [x], 0, np.ones((2, 3, 2))), rtol=1e-6)
    check_backward("geglu", [x])
    check_backward("prelu", [x, np.array([0.1, 0.2, 0.3])])
    t1, t2 = rng.uniform(0.5, 1.5, size=(3, 4)), rng.uniform(0.5, 1.5, size=(4,))
    check_backward("addcmul", [rng.uniform(size=(3, 4)), t1, t2])
    check_backward("lerp", [rng.uniform(size=(3, 4)), t1, rng.uniform(size=(3, 4))])
    # where: no gradient for the condition
    c = np.array([True, False, True])
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    g = ops.where_backward(np.array([1.0, 2.0, 3.0]), c, a, b)
    assert g[0] is None
    close(g[1], [1, 0, 3])
    close(g[2], [0, 2, 0])
    # clamp with scalar bounds: only dx
    g = ops.clamp_backward(np.ones(4), np.array([-2.0, -0.5, 0.5, 2.0]), -1.0, 1.0)
    assert g[1] is None and g[2] is None
    close(g[0], [0, 1, 1, 0])
    g = ops.clamp_backward(np.ones(3), np.array([-2.0, 0.5, 2.0]), min=np.zeros(3))
    close(g[0], [0, 1, 1])
    close(g[1], [1, 0, 0])
    assert g[2] is None


def test_backward_needs_input_grad_and_cast():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    ga, gb = ops.mul_backward(np.ones(2), a, b, needs_input_grad=(False, True))
    assert ga is None
    close(gb, a)
    (gx,) = ops.cast_backward(np.array([1.0, 2.0], np.float32), np.array([0.5, 0.5]), scale=3.0)
    assert gx.dtype == np.float64
    close(gx, [3.0, 6.0])
    # integer inputs get no gradient
    assert ops.mul_backward(np.ones(2, np.float32), np.array([1, 2], np.int32), np.ones(2, np.float32))[0] is None
    with pytest.raises(ValueError, match="not differentiable"):
        ops._backward("eq", np.ones(2), (np.ones(2), np.ones(2)))


# ---------------------------------------------------------------------------------------------
# Plans: explain / sku / precision, the low-level API, caching, errors


def test_plan_explain_sku_precision():
    p = baracuda.ElementwisePlan("gelu", [("f32", (4, 8), None, False)])
    assert p.op == "gelu" and p.direction == "forward" and p.device == "cpu"
    ex = p.explain()
    assert any(c[0] == "cpu_reference" and c[2] == "ok" and c[3] for c in ex)
    chosen = [c for c in ex if c[3]]
    assert len(chosen) == 1 and chosen[0][1] == "cpu-reference"
    sku = p.sku
    assert sku["family"] == "elementwise" and sku["op"] == "gelu" and sku["arch"] == "cpu"
    assert sku["impl"] == "cpu_reference" and "f32" in sku["dtypes"]
    assert "elementwise.gelu" in p.sku_string
    pg = p.precision_guarantee
    assert pg["deterministic"] is True and pg["accumulator"] in ("f64", "f32") and pg["math"]
    assert p.workspace_size == 0
    assert "gelu" in repr(p)
    sig = p.signature
    assert sig["outputs"][0][:2] == ("f32", (4, 8))
    ex2 = baracuda.explain("add", [("f32", (3,)), ("f32", (3,))])
    assert ex2[-1][0] == "cpu_reference"
    if not baracuda.built_with_cuda():
        assert all(c[0] == "cpu_reference" for c in ex2)


def test_plan_low_level_run():
    specs = [("i32", (3,), None, False), ("f64", (), None, True)]
    p = baracuda.ElementwisePlan("mul", specs, attrs={"alpha": 1.0})
    sig = baracuda.infer_signature("mul", specs)
    assert sig["outputs"][0][:2] == ("f32", (3,))
    x = np.array([1, 2, 3], np.int32)
    y = np.empty(3, np.float32)
    assert p.can_implement([x, 2.5], outputs=[y])
    p.run(None, None, 0, [x, None], [None, 0.5], [y])
    close(y, [0.5, 1.0, 1.5])
    p.run(0, 0, 0, [x, 4.0], None, [y])  # the value may also sit in inputs
    close(y, [4, 8, 12])
    with pytest.raises(ValueError, match=r"elementwise\.mul.*dtype"):
        p.can_implement([np.ones(3, np.int64), 1.0], outputs=[y])
    with pytest.raises(ValueError, match="scalar operand"):
        p.run(None, None, 0, [x, None], None, [y])
    # backward through the plan: inputs = (grad_output, forward inputs...)
    pb = baracuda.ElementwisePlan("mul", [("f64", (2,)), ("f64", (2,))], direction="backward")
    ga, gb = np.empty(2), np.empty(2)
    pb.run(None, None, 0, [np.ones(2), np.array([2.0, 3.0]), np.array([5.0, 7.0])], None, [ga, gb])
    close(ga, [5, 7])
    close(gb, [2, 3])
    # alignment promised by the descriptor is checked
    p16 = baracuda.ElementwisePlan("neg", [("f32", (4,))], alignment=16)
    raw = np.zeros(16, np.float32)
    off = next(i for i in range(1, 4) if baracuda.tensor_info(raw[i:])["alignment"] < 16)
    with pytest.raises(baracuda.MisalignedError) as ei:
        p16.run(None, None, 0, [raw[off:off + 4]], None, [np.empty(4, np.float32)])
    assert isinstance(ei.value, RuntimeError) and ei.value.code == "misaligned"


def test_signature_and_promotion_helpers():
    sig = baracuda.infer_signature("add", [("f32", (2, 1)), ("f32", (3,))], "backward")
    assert [o[:2] for o in sig["outputs"]] == [("f32", (2, 3)), ("f32", (2, 3))]
    sig = baracuda.infer_signature("prelu", [("f64", (2, 3)), ("f64", (3,))], "backward")
    assert [o[1] for o in sig["outputs"]] == [(2, 3), (3,)]
    sig = baracuda.infer_signature("cast", [("f32", (4,))], output_dtype="f8e4m3", attrs={"amax": True})
    assert [o[:2] for o in sig["outputs"]] == [("f8e4m3", (4,)), ("f32", (1,))]
    assert baracuda.result_type([("i32", (3,)), ("f64", (), None, True)]) == "f32"
    assert baracuda.promote_types("f16", "bf16") == "f32"
    assert not baracuda.can_cast("f32", "i32")
    assert baracuda.dtype_size("bf16") == 2


def test_plan_device_errors():
    with pytest.raises(ValueError, match="device"):
        baracuda.ElementwisePlan("neg", [("f32", (4,))], device="tpu")
    with pytest.raises(ValueError, match="stream"):
        baracuda.ElementwisePlan("neg", [("f32", (4,))], stream=1234)
    if baracuda.cuda_device_count() == 0:
        with pytest.raises(NotImplementedError):
            baracuda.ElementwisePlan("neg", [("f32", (4,))], device="cuda:0")


def test_plan_cache_reuse():
    ops.clear_plan_cache()
    x = np.ones(5, np.float32)
    ops.tanh(x)
    n = ops.plan_cache_size()
    for _ in range(3):
        ops.tanh(np.full(5, 2.0, np.float32))
    assert ops.plan_cache_size() == n
    ops.tanh(np.ones(6, np.float32))
    assert ops.plan_cache_size() == n + 1


def test_errors():
    with pytest.raises(ValueError, match=r"\[elementwise\.add\].*broadcast") as ei:
        ops.add(np.ones(3), np.ones(4))
    assert isinstance(ei.value, baracuda.InvalidArgumentError) and ei.value.code == "invalid_argument"
    with pytest.raises(baracuda.DTypeError):
        ops.exp(np.ones(3, np.uint16))
    with pytest.raises(TypeError):
        ops.exp(np.ones(3, np.uint32))
    with pytest.raises(NotImplementedError, match="complex"):
        ops.erf(np.ones(3, np.complex64))  # an op without complex math (test_complex_cpu.py has the rest)
    with pytest.raises(ValueError, match=r"elementwise\.relu.*floating"):
        ops.relu(np.ones(3, np.int32))
    with pytest.raises(ValueError, match="unknown attribute"):
        ops.relu(np.ones(3), slope=0.1)
    with pytest.raises(TypeError, match="takes 2 input"):
        ops.add(np.ones(3))
    with pytest.raises(TypeError):
        ops.add(1, 2)  # no tensor
    with pytest.raises(TypeError):
        ops.exp([1.0, 2.0])  # lists are not tensors
    with pytest.raises(ValueError, match="unknown op"):
        baracuda.ElementwisePlan("nope", [("f32", (3,))])
    with pytest.raises(ValueError, match="bool"):
        ops.sub(np.array([True]), np.array([False]))
