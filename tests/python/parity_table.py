"""The PyTorch-parity table: one row per baracuda elementwise op.

A row names the baracuda op, its PyTorch reference (a callable taking the same positional inputs
and the same keyword attrs as bc.ops.<name>), where its inputs are drawn from, the attr sets to
try, the dtypes and whether a backward exists. A new op = one new row (test_parity.py fails while
an op of bc.catalog() has none).

This module imports without torch (the references look torch up when called), so the coverage
check against include/baracuda/ops/elementwise_ops.hpp runs anywhere.
"""
from __future__ import annotations

import collections
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

try:  # the references resolve these names when called; the table itself needs no torch
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - exercised on machines without torch
    torch = None
    F = None

FLOAT_DTYPES = ("f32", "f16", "bf16", "f64")
INT_DTYPES = ("i64", "i32", "i16", "i8", "u8")
VALUE_DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)
INTEGER_DTYPES = INT_DTYPES + ("bool",)
# Every dtype cast takes (source and target).
CAST_DTYPES = ("f64", "f32", "f16", "bf16", "f8e4m3", "f8e5m2", "i64", "i32", "i16", "i8", "u8", "bool")

# baracuda dtype name -> torch dtype attribute name
TORCH_DTYPE_NAMES = {
    "f64": "float64", "f32": "float32", "f16": "float16", "bf16": "bfloat16",
    "f8e4m3": "float8_e4m3fn", "f8e5m2": "float8_e5m2",
    "i64": "int64", "i32": "int32", "i16": "int16", "i8": "int8", "u8": "uint8", "bool": "bool",
}


def torch_dtype(name: str):
    return getattr(torch, TORCH_DTYPE_NAMES[name])


def is_float_name(name: str) -> bool:
    return name in FLOAT_DTYPES or name.startswith("f8")


@dataclass(frozen=True)
class Domain:
    """Where a floating input is drawn from (mirrors tests/support/test_support.cpp)."""
    lo: float = -3.0
    hi: float = 3.0
    integer_valued: bool = False  # draw integers (k + 0.5 for dividends, see half_offset)
    nonzero: bool = False         # keep |v| >= 0.25 (>= 1 for integer-valued)


@dataclass
class Row:
    name: str
    ref: Callable                      # torch reference: ref(*inputs, **attrs)
    arity: int
    kind: str = "generic"              # generic | gated | prelu | cast
    dtypes: tuple = FLOAT_DTYPES
    differentiable: bool = True
    attrs: list = field(default_factory=lambda: [{}])  # attr sets to try ({} = defaults)
    domains: tuple = ()                # per input: Domain (floating dtypes)
    int_domains: tuple = ()            # per input: (lo, hi) inclusive (integer dtypes)
    scalar_positions: Optional[tuple] = None  # inputs that may be Python numbers (None: all)
    cond_input: Optional[int] = None   # index of a bool condition input (where)
    exact: bool = False                # compare floats exactly (bit-for-bit, NaN positions)
    special_atol_f32: bool = False     # lgamma/digamma/erfinv: f32 atol 1e-5
    nonzero_int_divisor: bool = False  # integer division by zero gives 0 in baracuda: skip zeros
    int_from_float: bool = False       # float_math ops: integer inputs use the float domain
    ref_in_f32: bool = False           # composite reference: compute in f32, round once
    # Where torch itself is less precise than the f64/f32 tolerance (each use says why):
    torch_f64_rtol: float = 0.0        # f64 rtol when torch uses float constants at f64
    f32_atol: float = 0.0              # f32 atol when torch's CPU math is coarser than 1e-6
    torch_cpu_nonfinite_differs: bool = False  # torch CPU != torch CUDA at +-inf: use CUDA torch
    note: str = ""

    def domain(self, i: int) -> Domain:
        return self.domains[i] if i < len(self.domains) and self.domains[i] is not None else Domain()

    def int_domain(self, i: int, dtype: str):
        """Inclusive integer range of input i for an integer/bool dtype."""
        if dtype == "bool":
            return (0, 1)
        if i < len(self.int_domains) and self.int_domains[i] is not None:
            lo, hi = self.int_domains[i]
        elif self.int_from_float:
            d = self.domain(i)
            lo, hi = math.ceil(d.lo), math.floor(d.hi)
            if lo > hi:
                lo = hi = 0
        else:
            lo, hi = -50, 50
        if callable(hi):
            hi = hi(dtype)
        if dtype == "u8":
            lo = max(lo, 0)
            hi = max(hi, lo)
        return (lo, hi)


# ---------------------------------------------------------------------------------------------
# References that need more than a torch function name.

def _int_alpha(alpha, *xs):
    """torch wants an int alpha/value when the result is integral (and a bool for bool results:
    torch then refuses alpha=2, which the test records as torch-unsupported)."""
    floating = any(isinstance(x, float) or (isinstance(x, torch.Tensor) and x.dtype.is_floating_point) for x in xs)
    if not floating and float(alpha).is_integer():
        return int(alpha)
    return alpha


def _add(a, b, alpha=1.0):
    return torch.add(a, b, alpha=_int_alpha(alpha, a, b)) if alpha != 1.0 else torch.add(a, b)


def _sub(a, b, alpha=1.0):
    return torch.sub(a, b, alpha=_int_alpha(alpha, a, b)) if alpha != 1.0 else torch.sub(a, b)


def _addcmul(a, b, c, value=1.0):
    return torch.addcmul(a, b, c, value=_int_alpha(value, a, b, c))


def _addcdiv(a, b, c, value=1.0):
    return torch.addcdiv(a, b, c, value=value)


def _fma(a, b, c):
    # a*b + c with one rounding: torch.addcmul(c, a, b) is a single kernel (opmath) on CUDA.
    return torch.addcmul(c, a, b)


def _logit(x, eps=-1.0):
    return torch.logit(x, eps=None if eps < 0 else eps)


def _halves(x, dim):
    return x.chunk(2, dim=dim)


def _gated(act):
    def ref(x, dim=-1):
        a, b = _halves(x, dim)
        return act(a) * b
    return ref


ROWS: list = []


def row(name, ref, arity, **kw):
    ROWS.append(Row(name=name, ref=ref, arity=arity, **kw))


def _t(name):
    """torch.<name>, looked up when called."""
    return lambda *a, **k: getattr(torch, name)(*a, **k)


def _f(name, **fixed):
    """torch.nn.functional.<name>, looked up when called."""
    return lambda *a, **k: getattr(F, name)(*a, **fixed, **k)


# ---------------------------------------------------------------------------------------------
# Unary math: integer inputs promote to f32 (category float_math).
_D = Domain
_UNARY_MATH = {
    "exp": None, "exp2": None, "expm1": None,
    "log": _D(0.5, 4.0), "log2": _D(0.5, 4.0), "log10": _D(0.5, 4.0), "log1p": _D(-0.5, 3.0),
    "sqrt": _D(0.5, 4.0), "rsqrt": _D(0.5, 4.0), "reciprocal": _D(0.5, 4.0),
    "sin": None, "cos": None, "tan": _D(-1.2, 1.2),
    "asin": _D(-0.9, 0.9), "acos": _D(-0.9, 0.9), "atan": None,
    "sinh": None, "cosh": None, "tanh": None,
    "asinh": None, "acosh": _D(1.2, 5.0), "atanh": _D(-0.9, 0.9),
    "erf": None, "erfc": None, "erfinv": _D(-0.9, 0.9),
    "lgamma": _D(0.3, 6.0), "digamma": _D(0.3, 6.0),
    "sigmoid": None,
}
for _n, _dom in _UNARY_MATH.items():
    row(_n, _t(_n), 1, dtypes=VALUE_DTYPES, domains=(_dom,), int_from_float=True,
        special_atol_f32=_n in ("lgamma", "digamma", "erfinv"),
        # torch's trigamma (digamma's derivative) truncates its asymptotic series after x^-7
        # (~1e-9 relative error); ours is accurate to f64 rounding.
        torch_f64_rtol=1e-8 if _n == "digamma" else 0.0)
row("logit", _logit, 1, dtypes=VALUE_DTYPES, domains=(_D(0.05, 0.95),), int_from_float=True,
    attrs=[{}, {"eps": 0.2}])

# Unary, same dtype (integers allowed).
for _n in ("abs", "neg", "sign", "square", "floor", "ceil", "round", "trunc"):
    row(_n, _t(_n), 1, dtypes=VALUE_DTYPES)

# Unary, floating only.
row("frac", _t("frac"), 1)
row("relu", _f("relu"), 1)
row("relu6", _f("relu6"), 1)
row("leaky_relu", _f("leaky_relu"), 1, attrs=[{}, {"negative_slope": 0.1}])
row("elu", _f("elu"), 1, attrs=[{}, {"alpha": 1.3}])
row("selu", _f("selu"), 1)
# torch's celu backward uses 1/alpha rounded to float (derivatives.yaml: 1.0/alpha.toFloat()).
row("celu", _f("celu"), 1, attrs=[{}, {"alpha": 0.7}], torch_f64_rtol=1e-7)
# torch CPU's vectorized gelu gives NaN at +inf where its CUDA kernel (and the limit) gives inf.
row("gelu", _f("gelu"), 1, torch_cpu_nonfinite_differs=True)
row("gelu_tanh", _f("gelu", approximate="tanh"), 1)
row("silu", _f("silu"), 1)
row("mish", _f("mish"), 1)
row("softplus", _f("softplus"), 1, attrs=[{}, {"beta": 1.5, "threshold": 3.0}])
row("softsign", _f("softsign"), 1)
row("hardtanh", _f("hardtanh"), 1, attrs=[{}, {"min_val": -1.5, "max_val": 2.0}])
# torch computes 1/6 in float for f64 (CUDA forward, CPU backward): ~3e-8 relative.
row("hardsigmoid", _f("hardsigmoid"), 1, torch_f64_rtol=1e-7)
row("hardswish", _f("hardswish"), 1, torch_f64_rtol=1e-7)  # as hardsigmoid: float 1/6 in torch
row("tanhshrink", _f("tanhshrink"), 1)
row("softshrink", _f("softshrink"), 1, attrs=[{}, {"lambd": 0.8}])
row("hardshrink", _f("hardshrink"), 1, attrs=[{}, {"lambd": 0.8}])
row("threshold", lambda x, threshold=20.0, value=0.0: F.threshold(x, threshold, value), 1,
    attrs=[{}, {"threshold": 0.5, "value": -1.0}])

# Unary predicates (bool result, any dtype) and bitwise_not.
for _n in ("isnan", "isinf", "isfinite", "logical_not"):
    row(_n, _t(_n), 1, dtypes=VALUE_DTYPES, differentiable=False, exact=True)
row("bitwise_not", _t("bitwise_not"), 1, dtypes=INTEGER_DTYPES, differentiable=False)

# Binary, result = promoted dtype (integers allowed).
_DIVIDEND = _D(-60.0, 60.0, integer_valued=True)
_DIVISOR = _D(-9.0, 9.0, integer_valued=True, nonzero=True)
row("add", _add, 2, dtypes=VALUE_DTYPES, attrs=[{}, {"alpha": 2.0}])
row("sub", _sub, 2, dtypes=VALUE_DTYPES, attrs=[{}, {"alpha": 2.0}])
row("mul", _t("mul"), 2, dtypes=VALUE_DTYPES)
row("div_floor", lambda a, b: torch.div(a, b, rounding_mode="floor"), 2, dtypes=VALUE_DTYPES,
    domains=(_DIVIDEND, _DIVISOR), int_domains=(None, (-5, 5)), nonzero_int_divisor=True)
row("div_trunc", lambda a, b: torch.div(a, b, rounding_mode="trunc"), 2, dtypes=VALUE_DTYPES,
    domains=(_DIVIDEND, _DIVISOR), int_domains=(None, (-5, 5)), nonzero_int_divisor=True)
row("pow", _t("pow"), 2, dtypes=VALUE_DTYPES, domains=(_D(0.5, 3.0), _D(-2.0, 2.0)),
    int_domains=((-3, 3), (0, 5)))
row("fmod", _t("fmod"), 2, dtypes=VALUE_DTYPES, domains=(_DIVIDEND, _DIVISOR), int_domains=(None, (-5, 5)),
    nonzero_int_divisor=True)
row("remainder", _t("remainder"), 2, dtypes=VALUE_DTYPES, domains=(_DIVIDEND, _DIVISOR),
    int_domains=(None, (-5, 5)), nonzero_int_divisor=True)
for _n in ("maximum", "minimum", "fmax", "fmin", "clamp_min", "clamp_max"):
    row(_n, _t(_n), 2, dtypes=VALUE_DTYPES)

# Binary, integer inputs promote to f32.
row("div", _t("div"), 2, dtypes=VALUE_DTYPES, domains=(None, _D(-3.0, 3.0, nonzero=True)),
    int_domains=(None, (-5, 5)))  # int x / 0 is +-inf or nan, as in torch
row("atan2", _t("atan2"), 2, dtypes=VALUE_DTYPES, domains=(None, _D(0.5, 3.0)))
row("hypot", _t("hypot"), 2, dtypes=FLOAT_DTYPES, domains=(_D(0.5, 3.0), _D(0.5, 3.0)),
    note="torch.hypot has no integer kernels")
row("logaddexp", _t("logaddexp"), 2, dtypes=VALUE_DTYPES)
row("logaddexp2", _t("logaddexp2"), 2, dtypes=VALUE_DTYPES)
row("xlogy", _t("xlogy"), 2, dtypes=VALUE_DTYPES, domains=(None, _D(0.5, 3.0)), int_domains=(None, (1, 5)))
row("copysign", _t("copysign"), 2, dtypes=VALUE_DTYPES, domains=(None, _D(-3.0, 3.0, nonzero=True)))
row("nextafter", _t("nextafter"), 2, differentiable=False, exact=True)

# Comparisons / logical: bool result.
for _n in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"):
    row(_n, _t(_n), 2, dtypes=VALUE_DTYPES, differentiable=False, exact=True)

# Bitwise.
for _n in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    row(_n, _t(_n), 2, dtypes=INTEGER_DTYPES, differentiable=False)
_BITS = {"i64": 64, "i32": 32, "i16": 16, "i8": 8, "u8": 8}
row("shift_left", _t("bitwise_left_shift"), 2, dtypes=INT_DTYPES, differentiable=False,
    int_domains=(None, (0, lambda dt: _BITS[dt] - 1)))
row("shift_right", _t("bitwise_right_shift"), 2, dtypes=INT_DTYPES, differentiable=False,
    int_domains=(None, (0, lambda dt: _BITS[dt] - 1)))

# prelu(x, weight): own sample shapes (weight of 1 or x.shape[1] elements).
row("prelu", _f("prelu"), 2, kind="prelu", domains=(None, _D(0.05, 0.5)))

# Ternary.
row("where", _t("where"), 3, dtypes=VALUE_DTYPES, cond_input=0, scalar_positions=(1, 2))
row("lerp", _t("lerp"), 3)
row("clamp", _t("clamp"), 3, dtypes=VALUE_DTYPES, domains=(None, _D(-2.0, -0.2), _D(0.2, 2.0)),
    int_domains=(None, (-30, 5), (10, 40)))
# bc.ops.addcmul/addcdiv take PyTorch's value= (the C++ attrs.alpha)
row("addcmul", _addcmul, 3, dtypes=VALUE_DTYPES, attrs=[{}, {"value": 2.0}])
row("addcdiv", _addcdiv, 3, domains=(None, None, _D(-3.0, 3.0, nonzero=True)), attrs=[{}, {"value": 0.5}])
row("fma", _fma, 3, dtypes=VALUE_DTYPES)

# Gated: x split in halves along dim; composite references computed in f32, rounded once.
row("glu", lambda x, dim=-1: F.glu(x, dim), 1, kind="gated")
row("swiglu", _gated(lambda a: F.silu(a)), 1, kind="gated", ref_in_f32=True)
# torch CPU's vectorized f32 erf has ~1e-6 absolute error: gelu(a)*b near gelu's tail differs by
# up to ~1.3e-6 from the f64-exact value (torch CUDA agrees with it to 1e-6).
row("geglu", _gated(lambda a: F.gelu(a)), 1, kind="gated", ref_in_f32=True, f32_atol=5e-6)
row("geglu_tanh", _gated(lambda a: F.gelu(a, approximate="tanh")), 1, kind="gated", ref_in_f32=True)
row("reglu", _gated(lambda a: F.relu(a)), 1, kind="gated", ref_in_f32=True)

# Cast: own test (every source x target pair); the reference is built in test_parity.py.
row("cast", None, 1, kind="cast", dtypes=CAST_DTYPES)

TABLE = {r.name: r for r in ROWS}
assert len(TABLE) == len(ROWS), "duplicate row names"

# Known, documented semantic differences that are not already avoided by the sample domains
# (integer division by zero -> 0: zero divisors are never drawn; float->int and fp8 casts saturate:
# the cast reference saturates too). Key: (op, dtype or "*", variant or "*") -> reason; a matching
# mismatch counts as "known difference", not a failure.
KNOWN: dict = {}


def known_difference(op: str, dtype: str, variant: str):
    for key in ((op, dtype, variant), (op, dtype, "*"), (op, "*", variant), (op, "*", "*")):
        if key in KNOWN:
            return KNOWN[key]
    return None


# Counts of individual checks (one op x dtype x device x variant x attr set each), printed by
# conftest.py at the end of the run.
STATS = collections.Counter()


# ---------------------------------------------------------------------------------------------
# The op list of the C++ table, for the coverage check without the package.

HEADER = Path(__file__).resolve().parents[2] / "include" / "baracuda" / "ops" / "elementwise_ops.hpp"


def header_ops(path: Path = HEADER):
    """[(name, arity, category, differentiable)] parsed from the X-macro table."""
    text = path.read_text()
    pat = re.compile(r"^\s*X\((\w+),\s*\w+,\s*(\d+),\s*(\w+),\s*([01]),", re.M)
    return [(m.group(1), int(m.group(2)), m.group(3), m.group(4) == "1") for m in pat.finditer(text)]


# ---------------------------------------------------------------------------------------------
# Reductions: one row per op of include/baracuda/ops/reduce.hpp (bc.reduce_catalog()).
#
# ref(x, dim, keepdim, **kw) is the torch reference with bc.ops.<name>'s signature (dim None / int /
# tuple); kw_sets are the extra keyword sets to try (correction, ord, dtype); int_dims_only: torch
# takes a single int dim (max / min / argmax / argmin).

REDUCE_FLOAT_DTYPES = ("f64", "f32", "f16", "bf16")
REDUCE_INT_DTYPES = ("i64", "i32", "i16", "i8", "u8", "bool")


@dataclass
class ReduceRow:
    name: str
    ref: Callable
    dtypes: tuple = REDUCE_FLOAT_DTYPES
    differentiable: bool = True
    kw_sets: list = field(default_factory=lambda: [{}])
    int_dims_only: bool = False
    empty_ok: bool = True              # defined on empty groups (sum 0, prod 1, ...)
    # torch CUDA's answer on +-inf inputs is an artifact of its kernel (var_mean's column Welford
    # merge gives mean NaN for a column holding one inf; torch CPU and the math give inf): the
    # nan_inf variant on CUDA is checked against torch on the CPU copy instead.
    cuda_nonfinite_from_cpu: bool = False
    note: str = ""


def _all_dims(x, dim):
    return tuple(range(x.dim())) if dim is None else dim


def _keep(y, x, dim, keepdim):
    """Unsqueeze a torch result reduced over `dim` (None = all) back to rank x.dim() when keepdim."""
    if not keepdim:
        return y
    dims = _all_dims(x, dim)
    dims = (dims,) if isinstance(dims, int) else dims
    for d in sorted(d % max(x.dim(), 1) for d in dims):
        if x.dim():
            y = y.unsqueeze(d)
    return y


def _per_dim(fn):
    """A torch reduction taking one int dim, extended to dim None / tuple (reduces dims one at a time)."""
    def ref(x, dim, keepdim, **kw):
        dims = _all_dims(x, dim)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        if x.dim() == 0:
            return fn(x, **kw)
        y = x
        for d in sorted((d % x.dim() for d in dims), reverse=True):
            y = fn(y, dim=d, keepdim=True, **kw)
        if not keepdim:
            for d in sorted((d % x.dim() for d in dims), reverse=True):
                y = y.squeeze(d)
        return y
    return ref


def _sum_like(fname):
    def ref(x, dim, keepdim, dtype=None):
        fn = getattr(torch, fname)
        kw = {} if dtype is None else {"dtype": torch_dtype(dtype)}
        return fn(x, dim=_all_dims(x, dim), keepdim=keepdim, **kw)
    return ref


def _prod(x, dim, keepdim, dtype=None):
    kw = {} if dtype is None else {"dtype": torch_dtype(dtype)}
    return _per_dim(lambda t, **k: torch.prod(t, **k))(x, dim, keepdim, **kw)


def _extreme_ref(fname, whole):
    def ref(x, dim, keepdim):
        if dim is None:  # bc.ops.max(x): the value only, like torch.max(x)
            return getattr(torch, whole)(x, dim=_all_dims(x, None), keepdim=keepdim)
        r = getattr(torch, fname)(x, dim, keepdim)
        return (r.values, r.indices)
    return ref


def _arg_ref(fname):
    def ref(x, dim, keepdim):
        return getattr(torch, fname)(x, dim=dim, keepdim=keepdim if dim is not None else False)
    return ref


def _count_nonzero(x, dim, keepdim):
    return _keep(torch.count_nonzero(x, dim=_all_dims(x, dim)), x, dim, keepdim)


REDUCE_ROWS = [
    ReduceRow("sum", _sum_like("sum"), REDUCE_FLOAT_DTYPES + REDUCE_INT_DTYPES, kw_sets=[{}, {"dtype": "f64"}]),
    ReduceRow("mean", _sum_like("mean"), kw_sets=[{}, {"dtype": "f64"}]),
    ReduceRow("prod", _prod, REDUCE_FLOAT_DTYPES + REDUCE_INT_DTYPES),
    ReduceRow("amax", lambda x, d, k: torch.amax(x, dim=_all_dims(x, d), keepdim=k),
              REDUCE_FLOAT_DTYPES + REDUCE_INT_DTYPES[:-1], empty_ok=False),
    ReduceRow("amin", lambda x, d, k: torch.amin(x, dim=_all_dims(x, d), keepdim=k),
              REDUCE_FLOAT_DTYPES + REDUCE_INT_DTYPES[:-1], empty_ok=False),
    ReduceRow("max", _extreme_ref("max", "amax"), REDUCE_FLOAT_DTYPES + REDUCE_INT_DTYPES[:-1], int_dims_only=True,
              empty_ok=False),
    ReduceRow("min", _extreme_ref("min", "amin"), REDUCE_FLOAT_DTYPES + REDUCE_INT_DTYPES[:-1], int_dims_only=True,
              empty_ok=False),
    ReduceRow("argmax", _arg_ref("argmax"), REDUCE_FLOAT_DTYPES + REDUCE_INT_DTYPES[:-1], differentiable=False,
              int_dims_only=True, empty_ok=False),
    ReduceRow("argmin", _arg_ref("argmin"), REDUCE_FLOAT_DTYPES + REDUCE_INT_DTYPES[:-1], differentiable=False,
              int_dims_only=True, empty_ok=False),
    ReduceRow("var", lambda x, d, k, correction=1: torch.var(x, dim=_all_dims(x, d), correction=correction, keepdim=k),
              kw_sets=[{}, {"correction": 0}, {"correction": 2}]),
    ReduceRow("std", lambda x, d, k, correction=1: torch.std(x, dim=_all_dims(x, d), correction=correction, keepdim=k),
              kw_sets=[{}, {"correction": 0}]),
    ReduceRow("var_mean",
              lambda x, d, k, correction=1: tuple(torch.var_mean(x, dim=_all_dims(x, d), correction=correction, keepdim=k)),
              kw_sets=[{}, {"correction": 0}], cuda_nonfinite_from_cpu=True),
    ReduceRow("norm", lambda x, d, k, ord=2, dtype=None: torch.linalg.vector_norm(
                  x, ord=ord, dim=d, keepdim=k, dtype=None if dtype is None else torch_dtype(dtype)),
              kw_sets=[{}, {"ord": 1}, {"ord": 3}, {"ord": 0.5}, {"ord": math.inf}, {"ord": -math.inf}, {"ord": 0},
                       {"dtype": "f64"}],
              note="empty input only for ord >= 0 finite (torch refuses inf / negative ord there)"),
    ReduceRow("logsumexp", lambda x, d, k: torch.logsumexp(x, dim=_all_dims(x, d), keepdim=k)),
    ReduceRow("any", _per_dim(lambda t, **k: torch.any(t, **k)), REDUCE_FLOAT_DTYPES + REDUCE_INT_DTYPES,
              differentiable=False),
    ReduceRow("all", _per_dim(lambda t, **k: torch.all(t, **k)), REDUCE_FLOAT_DTYPES + REDUCE_INT_DTYPES,
              differentiable=False),
    ReduceRow("count_nonzero", _count_nonzero, REDUCE_FLOAT_DTYPES + REDUCE_INT_DTYPES, differentiable=False),
    ReduceRow("nansum", _sum_like("nansum"), kw_sets=[{}, {"dtype": "f64"}]),
    ReduceRow("nanmean", _sum_like("nanmean"), kw_sets=[{}, {"dtype": "f64"}]),
]
REDUCE_TABLE = {r.name: r for r in REDUCE_ROWS}
assert len(REDUCE_TABLE) == len(REDUCE_ROWS), "duplicate reduction row names"

REDUCE_HEADER = Path(__file__).resolve().parents[2] / "include" / "baracuda" / "ops" / "reduce.hpp"


def reduce_header_ops(path: Path = REDUCE_HEADER):
    """[(name, differentiable)] parsed from BARACUDA_REDUCE_OPS."""
    text = path.read_text()
    pat = re.compile(r"^\s*X\((\w+),\s*([01]),\s*\"", re.M)
    return [(m.group(1), m.group(2) == "1") for m in pat.finditer(text)]
