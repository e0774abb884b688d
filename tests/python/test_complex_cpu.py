"""Complex tensors (numpy complex64 / complex128) through the baracuda package on the CPU
reference: closed forms, every complex op against numpy, casts, broadcasting and strides, the
backward (PyTorch's convention: grad_in = grad * conj(f'(z))), and the ops that refuse complex."""
import numpy as np
import pytest

import baracuda
from baracuda import ops

CDTYPES = [np.complex64, np.complex128]
RTOL = {np.complex64: 2e-5, np.complex128: 1e-12}


def rand_c(n, dt, lo=-2.0, hi=2.0, seed=0, min_modulus=0.0):
    rng = np.random.default_rng(seed)
    z = rng.uniform(lo, hi, n) + 1j * rng.uniform(lo, hi, n)
    small = np.abs(z) < min_modulus
    z[small] += min_modulus * 2
    return z.astype(dt)


def close(got, want, dt):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    np.testing.assert_allclose(got.astype(np.complex128), want.astype(np.complex128), rtol=RTOL[dt],
                               atol=RTOL[dt])


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


UNARY = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
    "sigmoid": sigmoid, "reciprocal": np.reciprocal, "square": np.square, "neg": np.negative,
}


def test_closed_forms():
    for dt in CDTYPES:
        close(ops.exp(np.array([1j * np.pi], dt)), [-1.0 + 0j], dt)
        y = ops.abs(np.array([3 + 4j, -5 - 12j], dt))
        assert y.dtype == (np.float32 if dt == np.complex64 else np.float64)
        np.testing.assert_array_equal(y, [5.0, 13.0])
        close(ops.log(np.array([-1 + 0j], dt)), [1j * np.pi], dt)
        close(ops.sqrt(np.array([-4 + 0j, complex(-4, -0.0)], dt)), [2j, -2j], dt)
        close(ops.mul(np.array([1 + 2j], dt), np.array([3 + 4j], dt)), [-5 + 10j], dt)
        close(ops.div(np.array([1 + 2j], dt), np.array([3 + 4j], dt)), [(11 + 2j) / 25], dt)


@pytest.mark.parametrize("dt", CDTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_numpy(name, dt):
    lim = 1.2 if name in ("tanh", "sigmoid") else 2.0
    z = rand_c(257, dt, -lim, lim, seed=sum(map(ord, name)), min_modulus=0.25)
    y = getattr(ops, name)(z)
    assert y.dtype == dt
    close(y, UNARY[name](z.astype(np.complex128)), dt)


@pytest.mark.parametrize("dt", CDTYPES)
def test_binary_matches_numpy(dt):
    a = rand_c(101, dt, seed=1)
    b = rand_c(101, dt, seed=2, min_modulus=0.5)
    a64, b64 = a.astype(np.complex128), b.astype(np.complex128)
    close(ops.add(a, b, alpha=2.0), a64 + 2.0 * b64, dt)
    close(ops.sub(a, b, alpha=0.5), a64 - 0.5 * b64, dt)
    close(ops.mul(a, b), a64 * b64, dt)
    close(ops.div(a, b), a64 / b64, dt)
    close(ops.pow(b, a), np.power(b64, a64), dt)
    b[::3] = a[::3]
    np.testing.assert_array_equal(ops.eq(a, b), a == b)
    np.testing.assert_array_equal(ops.ne(a, b), a != b)
    cond = np.arange(101) % 2 == 0
    np.testing.assert_array_equal(ops.where(cond, a, b), np.where(cond, a, b))


def test_predicates():
    z = np.array([1 + 1j, complex(np.nan, 0), complex(0, np.inf), complex(-np.inf, np.nan), 0j], np.complex64)
    np.testing.assert_array_equal(ops.isnan(z), np.isnan(z))
    np.testing.assert_array_equal(ops.isinf(z), [False, False, True, True, False])  # torch: inf in either part
    np.testing.assert_array_equal(ops.isfinite(z), np.isfinite(z))


def test_promotion_scalars_and_mixed():
    z = np.array([1 + 2j, -3 + 0.5j], np.complex64)
    assert ops.add(z, np.array([1.0, 2.0], np.float64)).dtype == np.complex128
    assert ops.add(z, np.array([1.0, 2.0], np.float32)).dtype == np.complex64
    y = ops.mul(z, 2.5)
    assert y.dtype == np.complex64
    close(y, z * 2.5, np.complex64)
    close(ops.add(z, 3), z + 3, np.complex64)
    close(ops.mul(np.array([2, -1], np.int32), z), np.array([2, -1]) * z, np.complex64)
    with pytest.raises(TypeError, match="complex Python scalars"):
        ops.add(z, 1j)


def test_strided_and_broadcast():
    z = rand_c(24, np.complex128, seed=5).reshape(4, 6)
    w = rand_c(6, np.complex128, seed=6)
    close(ops.mul(z.T[::2], w[:4]), z.T[::2] * w[:4], np.complex128)  # a strided view times a broadcast row
    close(ops.exp(z[:, ::-2]), np.exp(z[:, ::-2]), np.complex128)
    close(ops.add(z, w), z + w, np.complex128)
    assert ops.exp(np.zeros((0, 3), np.complex64)).shape == (0, 3)


def test_casts():
    x = np.array([1.5, -2.0, np.inf])
    for dt, name in ((np.complex64, "c64"), (np.complex128, "complex128")):
        y = ops.cast(x, name)
        assert y.dtype == dt
        np.testing.assert_array_equal(y, x.astype(dt))
    z = np.array([-2.7 + 5j, 1j, 0j, complex(np.nan, 0), 3.5 - 1j], np.complex128)
    np.testing.assert_array_equal(ops.cast(z, np.float64), z.real)  # the real part (torch warns; we allow it)
    np.testing.assert_array_equal(ops.cast(z, np.int32), [-2, 0, 0, 0, 3])
    np.testing.assert_array_equal(ops.cast(z, np.bool_), [True, True, False, True, True])
    np.testing.assert_array_equal(ops.cast(z, np.complex64), z.astype(np.complex64))
    np.testing.assert_array_equal(ops.cast(z.astype(np.complex64), np.complex128), z.astype(np.complex64))
    np.testing.assert_array_equal(ops.cast(np.array([True, False]), "c64"), [1 + 0j, 0j])


def fd_grad(f, z, g, h=1e-6):
    """Gradient of L = Re(sum(conj(g) * f(z))) as dL/dRe + i dL/dIm, by central differences."""
    out = np.zeros_like(z)
    for k in range(z.size):
        for unit in (1.0, 1j):
            zp, zm = z.copy(), z.copy()
            zp.flat[k] += h * unit
            zm.flat[k] -= h * unit
            dl = (np.real(np.sum(np.conj(g) * f(zp))) - np.real(np.sum(np.conj(g) * f(zm)))) / (2 * h)
            out.flat[k] += dl * unit
    return out


@pytest.mark.parametrize("name", sorted(UNARY))
def test_backward_matches_finite_differences(name):
    z = rand_c(5, np.complex128, -1.2, 1.2, seed=11, min_modulus=0.3)
    g = rand_c(5, np.complex128, seed=12)
    (gz,) = getattr(ops, name + "_backward")(g, z)
    np.testing.assert_allclose(gz, fd_grad(UNARY[name], z, g), rtol=1e-6, atol=1e-7)


def test_backward_binary_and_abs():
    a = rand_c(4, np.complex128, seed=21)
    b = rand_c(4, np.complex128, seed=22, min_modulus=0.5)
    g = rand_c(4, np.complex128, seed=23)
    ga, gb = ops.mul_backward(g, a, b)
    np.testing.assert_allclose(ga, g * np.conj(b), rtol=1e-12)
    np.testing.assert_allclose(gb, g * np.conj(a), rtol=1e-12)
    ga, gb = ops.div_backward(g, a, b)
    np.testing.assert_allclose(ga, fd_grad(lambda x: x / b, a, g), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gb, fd_grad(lambda x: a / x, b, g), rtol=1e-6, atol=1e-7)
    ga, gb = ops.add_backward(g, a, b, alpha=-2.0)
    np.testing.assert_allclose(gb, -2.0 * g, rtol=1e-15)
    gr = np.array([2.0, 10.0, 1.0, -1.0])
    (gz,) = ops.abs_backward(gr, np.array([0j, 3 - 4j, 1j, -2 + 0j]))
    np.testing.assert_allclose(gz, [0, 6 - 8j, 1j, 1 + 0j], rtol=1e-12)
    # A real input of a complex op: the real part of the complex gradient.
    r = np.array([0.5, -1.0, 2.0, 0.25])
    ga, gr_ = ops.mul_backward(g, a, r)
    assert gr_.dtype == np.float64
    np.testing.assert_allclose(gr_, np.real(g * np.conj(a)), rtol=1e-12)


def test_ops_without_complex_math_refuse():
    z = np.ones(3, np.complex64)
    for name in ("lt", "maximum", "atan2", "remainder", "div_floor"):
        with pytest.raises(baracuda.NotSupportedError, match=rf"\[elementwise\.{name}\].*c64"):
            getattr(ops, name)(z, z)
    for name in ("floor", "relu", "gelu", "erf", "sign", "log1p"):
        with pytest.raises(baracuda.NotSupportedError, match=rf"\[elementwise\.{name}\].*c64"):
            getattr(ops, name)(z)
    with pytest.raises(baracuda.NotSupportedError):
        ops.pow_backward(z, z, z)
