"""PyTorch parity of every baracuda elementwise op, forward and backward, through bc.ops.

    pytest tests/python/test_parity.py -q            # CPU tensors, and CUDA tensors when a GPU exists
    pytest tests/python/test_parity.py -k "add and cuda"

One test per op x dtype x device (forward) and per differentiable op x {f64, f32} x device
(backward); each test runs every variant (odd sizes, broadcast, Python-scalar operands, strided
views, empty tensors, NaN/Inf inputs, out=) and attr set, and reports every failing one with a
one-line repro. The table of ops, references and domains is parity_table.py.

Skips: without torch (every test but the header-coverage check), without an importable
baracuda, and the CUDA parameters without a GPU.
"""
from __future__ import annotations

import math
import zlib

import pytest

import parity_table as PT
from parity_table import FLOAT_DTYPES, INT_DTYPES, STATS, TABLE

try:
    import torch
except ImportError:
    torch = None

HAVE_CUDA = bool(torch is not None and torch.cuda.is_available())
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(
        not HAVE_CUDA, reason="no CUDA device (torch missing or torch.cuda.is_available() is False): GPU parity skipped")),
]
SCALAR = "scalar"  # input spec marker: the operand is a Python number


# ---------------------------------------------------------------------------------------------
# Fixtures

@pytest.fixture(scope="session")
def tt():
    return pytest.importorskip("torch", reason="PyTorch is not installed: the parity suite compares against torch")


@pytest.fixture(scope="session")
def bc():
    try:
        import baracuda
    except Exception as e:  # ImportError, or a broken extension module
        pytest.skip(f"baracuda is not importable ({type(e).__name__}: {e}); build and install python/ first "
                    "(pip install .)")
    return baracuda


# ---------------------------------------------------------------------------------------------
# Coverage: the table can't silently fall behind the library.

def test_table_matches_header():
    if not PT.HEADER.exists():
        pytest.skip(f"{PT.HEADER} not found (tests run outside the source tree)")
    ops = PT.header_ops()
    assert ops, "no ops parsed from the header"
    names = [o[0] for o in ops]
    missing = [n for n in names if n not in TABLE]
    stale = [n for n in TABLE if n not in names]
    assert not missing, f"ops of elementwise_ops.hpp without a parity row: {missing}"
    assert not stale, f"parity rows for ops that are not in elementwise_ops.hpp: {stale}"
    bad = [(n, a, d) for (n, a, _, d) in ops if (TABLE[n].arity, TABLE[n].differentiable) != (a, d)]
    assert not bad, f"arity/differentiable differ from the header for {bad}"


def test_every_catalog_op_has_a_row(bc):
    cat = bc.catalog()
    names = [d["name"] for d in cat]
    assert names, "bc.catalog() is empty"
    missing = [n for n in names if n not in TABLE]
    assert not missing, f"ops in bc.catalog() without a row in tests/python/parity_table.py: {missing}"
    stale = [n for n in TABLE if n not in names]
    assert not stale, f"parity rows for ops that bc.catalog() does not list: {stale}"
    bad = [d["name"] for d in cat
           if (int(d["arity"]), bool(d["differentiable"])) != (TABLE[d["name"]].arity, TABLE[d["name"]].differentiable)]
    assert not bad, f"arity/differentiable in the table differ from bc.catalog() for {bad}"


def test_every_row_has_a_binding(bc):
    missing = [r.name for r in PT.ROWS if not callable(getattr(bc.ops, r.name, None))]
    missing += [r.name + "_backward" for r in PT.ROWS
                if r.differentiable and not callable(getattr(bc.ops, r.name + "_backward", None))]
    assert not missing, f"bc.ops lacks {missing}"


# ---------------------------------------------------------------------------------------------
# Inputs

def seed_of(*parts) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def numel(shape) -> int:
    return math.prod(shape)


def draw(row, i, dtype, shape, seed, specials_k=None):
    """A CPU tensor of baracuda dtype `dtype`, drawn from input i's domain."""
    g = torch.Generator().manual_seed(seed)
    if row.cond_input == i:
        return torch.randint(0, 2, shape, generator=g).bool()
    if dtype not in FLOAT_DTYPES:
        lo, hi = row.int_domain(i, dtype)
        v = torch.randint(lo, hi + 1, shape, generator=g, dtype=torch.int64)
        if row.nonzero_int_divisor and i == 1:
            v = torch.where(v == 0, torch.ones_like(v), v)  # documented: x // 0 == 0 in baracuda
        return v.to(PT.torch_dtype(dtype))
    d = row.domain(i)
    v = torch.rand(shape, generator=g, dtype=torch.float64) * (d.hi - d.lo) + d.lo
    if d.integer_valued:
        v = v.round() + (0.0 if d.nonzero else 0.5)  # dividends k + 0.5, divisors nonzero integers
    if d.nonzero:
        small = v.abs() < (1.0 if d.integer_valued else 0.25)
        v = torch.where(small, torch.where(v < 0, -torch.ones_like(v), torch.ones_like(v)), v)
    if specials_k is not None:
        v = sprinkle_specials(v, specials_k)
    return v.to(PT.torch_dtype(dtype))


def sprinkle_specials(v, k):
    """NaN, +Inf, -Inf, 0, -0 at a fixed pattern (as tests/support/test_support.cpp does)."""
    flat = v.reshape(-1).clone()
    idx = torch.arange(flat.numel())
    r = (idx + 2 * k) % 11
    mask = (r < 5) & ((idx // 11) % 2 == 0)
    specials = torch.tensor([math.nan, math.inf, -math.inf, 0.0, -0.0], dtype=flat.dtype)
    flat = torch.where(mask, specials[r.clamp(max=4)], flat)
    return flat.reshape(v.shape)


def scalar_value(row, i, dtype):
    """A Python number for input i (exactly representable in every float dtype)."""
    if dtype in FLOAT_DTYPES:
        d = row.domain(i)
        v = round((d.lo + 0.37 * (d.hi - d.lo)) * 4) / 4
        if d.integer_valued:
            v = float(round(v)) + (0.0 if d.nonzero else 0.5)
        if d.nonzero and abs(v) < (1.0 if d.integer_valued else 0.25):
            v = 1.0
        return float(v)
    if dtype == "bool":
        return True
    lo, hi = row.int_domain(i, dtype)
    v = lo + (hi - lo) * 3 // 5
    if row.nonzero_int_divisor and i == 1 and v == 0:
        v = 1
    return int(v)


def build(row, dtype, device, specs, seed, specials=False):
    """Inputs from specs: per input (shape, layout) with layout contig|transposed|step, or SCALAR /
    'scalar_float' (a Python float on an integer dtype: type promotion)."""
    out = []
    for i, (shape, layout) in enumerate(specs):
        if layout == SCALAR:
            out.append(scalar_value(row, i, dtype))
            continue
        if layout == "scalar_float":
            out.append(scalar_value(row, i, dtype) + 0.5)
            continue
        k = i if specials and dtype in FLOAT_DTYPES and row.cond_input != i else None
        s = seed + 7919 * i
        if layout == "contig":
            x = draw(row, i, dtype, shape, s, k).to(device)
        elif layout == "transposed":  # a (cols, rows) tensor viewed transposed
            x = draw(row, i, dtype, tuple(reversed(shape)), s, k).to(device).t()
        elif layout == "step":  # every other column of a twice-as-wide tensor
            x = draw(row, i, dtype, shape[:-1] + (2 * shape[-1],), s, k).to(device)[..., ::2]
        else:
            raise ValueError(layout)
        out.append(x)
    return out


def generic_variants(row, dtype, backward=False):
    """[(variant name, specs, specials?)]"""
    n = row.arity
    c = "contig"
    v = [("odd7", [((7,), c)] * n, False), ("odd33x65", [((33, 65), c)] * n, False)]
    if n >= 2:
        bshapes = [(33, 1), (1, 65), (65,)]
        v.append(("broadcast", [(bshapes[i % 3], c) for i in range(n)], False))
        for k in (row.scalar_positions if row.scalar_positions is not None else range(n)):
            specs = [((33, 65), c)] * n
            specs[k] = (None, SCALAR)
            v.append((f"scalar{k}", specs, False))
            if dtype in INT_DTYPES and not backward:
                specs = list(specs)
                specs[k] = (None, "scalar_float")
                v.append((f"float_scalar{k}", specs, False))
    v.append(("transposed", [((33, 65), "transposed")] * n, False))
    v.append(("step2", [((33, 65), "step")] * n, False))
    v.append(("empty0", [((0,), c)] * n, False))
    v.append(("empty0x5", [((0, 5), c)] * n, False))
    if dtype in FLOAT_DTYPES and not backward:
        v.append(("nan_inf", [((33, 65), c)] * n, True))
    return v


# ---------------------------------------------------------------------------------------------
# References and comparison

TOL = {  # (rtol, atol) by result dtype
    "float64": (1e-10, 1e-10),
    "float32": (1e-5, 1e-6),
    "float16": (2e-3, 1e-3),
    "bfloat16": (1.6e-2, 1e-2),
    # fp8 (cast only): one unit in the last place, and the smallest subnormal.
    "float8_e4m3fn": (0.126, 2.0 ** -9),
    "float8_e5m2": (0.251, 2.0 ** -16),
}


def tolerance(dtype, row=None):
    rtol, atol = TOL[str(dtype).replace("torch.", "")]
    if row is not None and row.special_atol_f32 and dtype == torch.float32:
        atol = 1e-5
    if row is not None and row.f32_atol and dtype == torch.float32:
        atol = max(atol, row.f32_atol)
    if row is not None and row.torch_f64_rtol and dtype == torch.float64:
        rtol = max(rtol, row.torch_f64_rtol)
    return rtol, atol


def call_torch(fn, inputs, attrs, cond_input=None):
    """fn(*inputs, **attrs); torch functions that take no Python number in some position get the
    number as a 0-dim tensor of torch.result_type(tensor, number), which promotes identically."""
    try:
        return fn(*inputs, **attrs)
    except TypeError:
        if not any(isinstance(x, (bool, int, float)) for x in inputs):
            raise
    t0 = next(x for i, x in enumerate(inputs) if isinstance(x, torch.Tensor) and i != cond_input)
    conv = [torch.tensor(x, dtype=torch.result_type(t0, x), device=t0.device)
            if isinstance(x, (bool, int, float)) else x for x in inputs]
    return fn(*conv, **attrs)


def reference(row, inputs, attrs, dtype, specials=False):
    if specials and row.torch_cpu_nonfinite_differs and any(
            isinstance(x, torch.Tensor) and x.device.type == "cpu" for x in inputs):
        if not torch.cuda.is_available():
            raise NotImplementedError("torch's CPU kernel differs from its CUDA kernel at +-inf (row note); no GPU")
        on_gpu = [x.cuda() if isinstance(x, torch.Tensor) else x for x in inputs]
        return reference(row, on_gpu, attrs, dtype).cpu()
    if row.ref_in_f32 and dtype in ("f16", "bf16"):
        up = [x.float() if isinstance(x, torch.Tensor) and x.dtype.is_floating_point else x for x in inputs]
        return call_torch(row.ref, up, attrs, row.cond_input).to(PT.torch_dtype(dtype))
    return call_torch(row.ref, inputs, attrs, row.cond_input)


def describe(x):
    if isinstance(x, torch.Tensor):
        dt = str(x.dtype).replace("torch.", "")
        return f"{dt}{list(x.shape)}{'' if x.is_contiguous() else ' strides=' + str(list(x.stride()))}@{x.device}"
    return repr(x)


def repro(name, inputs, attrs, extra=""):
    args = [describe(x) for x in inputs] + [f"{k}={v!r}" for k, v in attrs.items()]
    return f"bc.ops.{name}({', '.join(args)}){extra}"


def compare(got, want, row=None, exact=False, atol_scale=1.0, check_dtype=True, tol_dtype=None):
    """None if got matches want, else a short description of the first problem. Floats: isclose
    with the tolerance of tol_dtype (default: want's dtype), NaN positions must agree."""
    if not isinstance(got, torch.Tensor):
        return f"returned {type(got).__name__}, expected a torch.Tensor"
    if got.device != want.device:
        return f"output on {got.device}, inputs on {want.device}"
    if check_dtype and got.dtype != want.dtype:
        return f"dtype {got.dtype} != torch's {want.dtype}"
    if tuple(got.shape) != tuple(want.shape):
        return f"shape {list(got.shape)} != torch's {list(want.shape)}"
    if want.numel() == 0:
        return None
    g, w = got.detach().cpu(), want.detach().cpu()
    if not (w.dtype.is_floating_point or g.dtype.is_floating_point):
        ok = g.to(torch.int64) == w.to(torch.int64)
        tol_txt = "exact"
    else:
        g, w = g.to(torch.float64), w.to(torch.float64)
        if exact or row is not None and row.exact:
            ok = (g == w) | (g.isnan() & w.isnan())
            tol_txt = "exact"
        else:
            rtol, atol = tolerance(tol_dtype or want.dtype, row)
            atol *= atol_scale
            ok = torch.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
            tol_txt = f"rtol={rtol:g} atol={atol:g}"
    if bool(ok.all()):
        return None
    bad = (~ok).reshape(-1).nonzero()
    i = int(bad[0])
    idx, rest = [], i
    for n in reversed(ok.shape):
        idx.insert(0, rest % n)
        rest //= n
    return (f"{bad.numel()}/{ok.numel()} elements differ ({tol_txt}); first at {list(idx)}: "
            f"got {g.reshape(-1)[i].item()!r}, torch {w.reshape(-1)[i].item()!r}")


class Checks:
    """Collects the outcome of each variant of one test; fails once at the end with every repro."""

    def __init__(self, kind):
        self.kind = kind
        self.failures, self.passed, self.torch_refused, self.known = [], 0, [], []

    def ok(self):
        self.passed += 1
        STATS[f"{self.kind} passed"] += 1

    def fail(self, msg, op=None, dtype=None, variant=None):
        reason = PT.known_difference(op, dtype, variant) if op else None
        if reason:
            self.known.append(f"{msg} [known: {reason}]")
            STATS[f"{self.kind} known difference"] += 1
            return
        self.failures.append(msg)
        STATS[f"{self.kind} failed"] += 1

    def refused(self, msg):
        self.torch_refused.append(msg)
        STATS[f"{self.kind} not supported by torch"] += 1

    def finish(self):
        if self.failures:
            pytest.fail(f"{len(self.failures)} failing variant(s) ({self.passed} passed):\n  " +
                        "\n  ".join(self.failures), pytrace=False)
        if self.passed == 0 and self.torch_refused:
            pytest.skip(f"torch refuses every variant, e.g. {self.torch_refused[0]}")


def attr_sets(row):
    return row.attrs or [{}]


def _params(kind_filter, dtypes_of):
    out = []
    for r in PT.ROWS:
        if r.kind not in kind_filter:
            continue
        for dt in dtypes_of(r):
            out.append(pytest.param(r.name, dt, id=f"{r.name}-{dt}"))
    return out


# ---------------------------------------------------------------------------------------------
# Forward: generic rows (unary, binary, ternary)

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op,dtype", _params({"generic"}, lambda r: r.dtypes))
def test_forward(tt, bc, op, dtype, device):
    row = TABLE[op]
    fn = getattr(bc.ops, op)
    checks = Checks("forward")
    for variant, specs, specials in generic_variants(row, dtype):
        for attrs in attr_sets(row):
            seed = seed_of(op, dtype, variant)
            inputs = build(row, dtype, device, specs, seed, specials)
            line = repro(op, inputs, attrs, f"  [variant {variant}, seed {seed}]")
            try:
                want = reference(row, inputs, attrs, dtype, specials)
            except Exception as e:  # torch has no kernel for this dtype / combination
                checks.refused(f"{line}: torch: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
                continue
            try:
                got = fn(*inputs, **attrs)
            except Exception as e:
                checks.fail(f"{line}: raised {type(e).__name__}: {e}", op, dtype, variant)
                continue
            err = compare(got, want, row)
            if err:
                checks.fail(f"{line}: {err}", op, dtype, variant)
            else:
                checks.ok()
        if variant == "odd33x65":  # out=: the result lands in the caller's tensor
            inputs = build(row, dtype, device, specs, seed_of(op, dtype, "out"))
            attrs = attr_sets(row)[-1]
            line = repro(op, inputs, attrs, "  [variant out=]")
            try:
                want = reference(row, inputs, attrs, dtype)
            except Exception:
                continue
            out = torch.empty_like(want)
            try:
                res = fn(*inputs, out=out, **attrs)
            except Exception as e:
                checks.fail(f"{line}: raised {type(e).__name__}: {e}", op, dtype, "out")
                continue
            err = compare(out, want, row) or (None if res is None or res is out else
                                                "returned a tensor other than out")
            if err:
                checks.fail(f"{line}: {err}", op, dtype, "out")
            else:
                checks.ok()
    checks.finish()


# ---------------------------------------------------------------------------------------------
# Backward: torch.autograd.grad as the reference

def _grad_of(bc_grads, i):
    if bc_grads is None or i >= len(bc_grads):
        return None
    return bc_grads[i]


def check_backward(checks, bc, row, dtype, variant, inputs, attrs, call_bc, atol_scales=None):
    """Runs the torch reference with autograd on copies of the inputs and compares each floating
    tensor input's gradient (baracuda's broadcast-shaped gradients summed to the input shape)."""
    op = row.name
    line = repro(op + "_backward", ["grad"] + list(inputs), attrs, f"  [variant {variant}]")
    leaves = [x.detach().clone().requires_grad_(True)
              if isinstance(x, torch.Tensor) and x.dtype.is_floating_point and i != row.cond_input else x
              for i, x in enumerate(inputs)]
    try:
        out = call_torch(row.ref, leaves, attrs, row.cond_input)
        grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed_of(op, dtype, variant, "g")),
                           dtype=torch.float64).to(out.dtype).to(out.device)
        wrt = [x for x in leaves if isinstance(x, torch.Tensor) and x.requires_grad]
        ref = torch.autograd.grad(out, wrt, grad, allow_unused=True) if out.requires_grad else [None] * len(wrt)
    except Exception as e:
        checks.refused(f"{line}: torch: {type(e).__name__}: {e}")
        return
    try:
        got = call_bc(grad, inputs, attrs)
    except Exception as e:
        checks.fail(f"{line}: raised {type(e).__name__}: {e}", op, dtype, "backward " + variant)
        return
    if not isinstance(got, (tuple, list)) or len(got) != len(inputs):
        checks.fail(f"{line}: expected a tuple of {len(inputs)} gradients, got {type(got).__name__}"
                    f"{'' if not isinstance(got, (tuple, list)) else ' of ' + str(len(got))}", op, dtype, variant)
        return
    refs = iter(ref)
    for i, x in enumerate(leaves):
        if not (isinstance(x, torch.Tensor) and x.requires_grad):
            continue
        want = next(refs)
        if want is None:
            want = torch.zeros_like(x)
        g = _grad_of(got, i)
        if g is None:
            checks.fail(f"{line}: gradient {i} is None", op, dtype, variant)
            continue
        if not isinstance(g, torch.Tensor):
            checks.fail(f"{line}: gradient {i} is a {type(g).__name__}", op, dtype, variant)
            continue
        if g.dtype != x.dtype:
            checks.fail(f"{line}: gradient {i} dtype {g.dtype} != input dtype {x.dtype}", op, dtype, variant)
            continue
        scale = 1.0
        if tuple(g.shape) != tuple(x.shape):
            try:  # broadcast-shaped: reduce over the broadcast dims like torch's sum_to_size, in f64
                g = g.detach().to(torch.float64).sum_to_size(x.shape)
            except RuntimeError as e:
                checks.fail(f"{line}: gradient {i} of shape {list(g.shape)} does not reduce to {list(x.shape)}: {e}",
                            op, dtype, variant)
                continue
            scale = max(1.0, math.prod(_grad_of(got, i).shape) / max(1, x.numel()))
        if atol_scales and i in atol_scales:
            scale = max(scale, atol_scales[i])
        err = compare(g, want.detach().to(torch.float64), row, atol_scale=scale, check_dtype=False, tol_dtype=x.dtype)
        if err:
            checks.fail(f"{line}: gradient {i}: {err}", op, dtype, variant)
        else:
            checks.ok()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op,dtype", _params({"generic"}, lambda r: ("f64", "f32") if r.differentiable else ()))
def test_backward(tt, bc, op, dtype, device):
    row = TABLE[op]
    fn = getattr(bc.ops, op + "_backward")
    checks = Checks("backward")
    for variant, specs, _ in generic_variants(row, dtype, backward=True):
        for attrs in attr_sets(row):
            inputs = build(row, dtype, device, specs, seed_of(op, dtype, variant, "bwd"))
            check_backward(checks, bc, row, dtype, variant, inputs, attrs,
                           lambda g, ins, at: fn(g, *ins, **at))
    checks.finish()


# ---------------------------------------------------------------------------------------------
# Gated ops: glu / swiglu / geglu / geglu_tanh / reglu (x split in halves along dim)

GATED_VARIANTS = [  # (name, shape of x, layout, dim)
    ("odd7x8", (7, 8), "contig", -1),
    ("33x130", (33, 130), "contig", -1),
    ("dim0", (64, 33), "contig", 0),
    ("3d_dim1", (4, 10, 3), "contig", 1),
    ("1d", (6,), "contig", 0),
    ("transposed", (33, 130), "transposed", -1),
    ("step2", (33, 130), "step", -1),
    ("empty0x8", (0, 8), "contig", -1),
]


def gated_inputs(row, dtype, device, shape, layout, seed, specials=False):
    return build(row, dtype, device, [(shape, layout)], seed, specials)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op,dtype", _params({"gated"}, lambda r: r.dtypes))
def test_gated_forward(tt, bc, op, dtype, device):
    row = TABLE[op]
    fn = getattr(bc.ops, op)
    checks = Checks("forward")
    variants = GATED_VARIANTS + [("nan_inf", (33, 130), "contig", -1)]
    for variant, shape, layout, dim in variants:
        attrs = {} if dim == -1 else {"dim": dim}
        seed = seed_of(op, dtype, variant)
        inputs = gated_inputs(row, dtype, device, shape, layout, seed, specials=variant == "nan_inf")
        line = repro(op, inputs, attrs, f"  [variant {variant}, seed {seed}]")
        try:
            want = reference(row, inputs, attrs, dtype)
        except Exception as e:
            checks.refused(f"{line}: torch: {type(e).__name__}: {e}")
            continue
        try:
            got = fn(*inputs, **attrs)
        except Exception as e:
            checks.fail(f"{line}: raised {type(e).__name__}: {e}", op, dtype, variant)
            continue
        err = compare(got, want, row)
        checks.fail(f"{line}: {err}", op, dtype, variant) if err else checks.ok()
    checks.finish()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op,dtype", _params({"gated"}, lambda r: ("f64", "f32")))
def test_gated_backward(tt, bc, op, dtype, device):
    row = TABLE[op]
    fn = getattr(bc.ops, op + "_backward")
    checks = Checks("backward")
    for variant, shape, layout, dim in GATED_VARIANTS:
        attrs = {} if dim == -1 else {"dim": dim}
        inputs = gated_inputs(row, dtype, device, shape, layout, seed_of(op, dtype, variant, "bwd"))
        check_backward(checks, bc, row, dtype, variant, inputs, attrs, lambda g, ins, at: fn(g, *ins, **at))
    checks.finish()


# ---------------------------------------------------------------------------------------------
# prelu(x, weight): weight of 1 or x.shape[1] elements; weight gradient reduced by baracuda

PRELU_VARIANTS = [  # (name, x shape, x layout, weight numel)
    ("33x65_per_channel", (33, 65), "contig", 65),
    ("33x65_single", (33, 65), "contig", 1),
    ("odd7", (7,), "contig", 1),
    ("4d", (4, 6, 5, 3), "contig", 6),
    ("transposed", (33, 65), "transposed", 65),
    ("step2", (33, 65), "step", 65),
    ("empty0x5", (0, 5), "contig", 5),
]


def prelu_inputs(row, dtype, device, shape, layout, wn, seed, specials=False):
    x = build(row, dtype, device, [(shape, layout)], seed, specials)[0]
    w = draw(row, 1, dtype, (wn,), seed + 1).to(device)
    return [x, w]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_prelu_forward(tt, bc, dtype, device):
    row = TABLE["prelu"]
    checks = Checks("forward")
    for variant, shape, layout, wn in PRELU_VARIANTS + [("nan_inf", (33, 65), "contig", 65)]:
        seed = seed_of("prelu", dtype, variant)
        inputs = prelu_inputs(row, dtype, device, shape, layout, wn, seed, specials=variant == "nan_inf")
        line = repro("prelu", inputs, {}, f"  [variant {variant}, seed {seed}]")
        try:
            want = reference(row, inputs, {}, dtype)
        except Exception as e:
            checks.refused(f"{line}: torch: {type(e).__name__}: {e}")
            continue
        try:
            got = bc.ops.prelu(*inputs)
        except Exception as e:
            checks.fail(f"{line}: raised {type(e).__name__}: {e}", "prelu", dtype, variant)
            continue
        err = compare(got, want, row)
        checks.fail(f"{line}: {err}", "prelu", dtype, variant) if err else checks.ok()
    checks.finish()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ("f64", "f32"))
def test_prelu_backward(tt, bc, dtype, device):
    row = TABLE["prelu"]
    checks = Checks("backward")
    for variant, shape, layout, wn in PRELU_VARIANTS:
        inputs = prelu_inputs(row, dtype, device, shape, layout, wn, seed_of("prelu", dtype, variant, "bwd"))
        # the weight gradient is a sum over numel(x)/numel(w) elements
        scale = max(1.0, numel(shape) / wn)
        check_backward(checks, bc, row, dtype, variant, inputs, {}, lambda g, ins, at: bc.ops.prelu_backward(g, *ins),
                       atol_scales={1: scale})
    checks.finish()


# ---------------------------------------------------------------------------------------------
# cast(x, dtype, scale=1.0, amax=False): every source x target pair

def cast_source(src, shape, seed, kind):
    """CPU tensor of dtype src. kind: normal | big | huge | nan_inf."""
    g = torch.Generator().manual_seed(seed)
    tdt = PT.torch_dtype(src)
    if src == "bool":
        return torch.randint(0, 2, shape, generator=g).bool()
    if src in INT_DTYPES:
        span = {"normal": 1000, "big": 2 ** 40, "huge": 2 ** 62}.get(kind, 1000)
        v = torch.randint(-span, span, shape, generator=g, dtype=torch.int64)
        return v.to(tdt)  # wraps into narrow integer types, as torch does
    fmax = torch.finfo(tdt).max
    mag = {"normal": 3.0, "big": min(1e6, 0.9 * fmax), "huge": min(1e20, 0.9 * fmax), "nan_inf": 3.0}[kind]
    v = (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * mag
    if kind == "nan_inf":
        v = sprinkle_specials(v, 0)
    return v.to(tdt)


def cast_reference(x, dst, scale=1.0):
    """What baracuda documents: round to nearest even; float->int truncates toward zero, saturates,
    NaN -> 0; fp8 targets saturate to +-max finite (Inf included); int->int wraps."""
    tdst = PT.torch_dtype(dst)
    src_float = x.dtype.is_floating_point
    # The scale multiplies in f64 when either side is f64 (as documented), else in f32.
    compute = torch.float64 if torch.float64 in (x.dtype, tdst) else torch.float32
    xv = x.to(compute) if src_float else x
    if scale != 1.0:
        xv = xv * scale
    if dst.startswith("f8"):
        fmax = torch.finfo(tdst).max
        base = xv if src_float else xv.to(torch.float64)
        return base.clamp(-fmax, fmax).to(tdst)
    if dst == "bool" or not src_float or dst in FLOAT_DTYPES:
        return xv.to(tdst)
    info = torch.iinfo(tdst)
    xd = xv.to(torch.float64)
    hi = xd >= float(info.max) + 1.0
    lo = xd <= float(info.min) - 1.0
    nan = xd.isnan()
    safe = torch.where(hi | lo | nan, torch.zeros_like(xd), xd).trunc().to(tdst)
    r = torch.where(hi, torch.full_like(safe, info.max), safe)
    return torch.where(lo, torch.full_like(safe, info.min), r)


def _cast_params():
    return [pytest.param(s, d, id=f"{s}->{d}") for s in PT.CAST_DTYPES for d in PT.CAST_DTYPES]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("src,dst", _cast_params())
def test_cast_forward(tt, bc, src, dst, device):
    checks = Checks("forward")
    src_float, dst_float = PT.is_float_name(src), PT.is_float_name(dst)
    variants = [("odd7", (7,), "contig", "normal", {}), ("33x65", (33, 65), "contig", "normal", {}),
                ("transposed", (33, 65), "transposed", "normal", {}), ("step2", (33, 65), "step", "normal", {}),
                ("empty0x5", (0, 5), "contig", "normal", {}), ("big", (33, 65), "contig", "big", {}),
                ("huge", (33, 65), "contig", "huge", {})]
    if src_float:
        variants.append(("nan_inf", (33, 65), "contig", "nan_inf", {}))
        variants.append(("amax", (33, 65), "contig", "normal", {"amax": True}))
        variants.append(("amax_nan_inf", (33, 65), "contig", "nan_inf", {"amax": True}))
        if dst_float:
            variants.append(("scale", (33, 65), "contig", "normal", {"scale": 0.5}))
            variants.append(("scale_big", (33, 65), "contig", "big", {"scale": 3.0, "amax": True}))
    for variant, shape, layout, kind, attrs in variants:
        seed = seed_of("cast", src, variant)
        base_shape = tuple(reversed(shape)) if layout == "transposed" else (
            shape[:-1] + (2 * shape[-1],) if layout == "step" else shape)
        x = cast_source(src, base_shape, seed, kind).to(device)
        x = x.t() if layout == "transposed" else (x[..., ::2] if layout == "step" else x)
        line = repro("cast", [x, dst], attrs, f"  [variant {variant}, seed {seed}]")
        try:
            want = cast_reference(x, dst, attrs.get("scale", 1.0))
        except Exception as e:
            checks.refused(f"{line}: torch: {type(e).__name__}: {e}")
            continue
        try:
            got = bc.ops.cast(x, dst, **attrs)
        except Exception as e:
            checks.fail(f"{line}: raised {type(e).__name__}: {e}", "cast", f"{src}->{dst}", variant)
            continue
        amax = None
        if attrs.get("amax"):
            if not (isinstance(got, (tuple, list)) and len(got) == 2):
                checks.fail(f"{line}: amax=True should return (y, amax), got {type(got).__name__}", "cast",
                            f"{src}->{dst}", variant)
                continue
            got, amax = got
        # fp8 targets: one ulp (torch converts f64 -> f32 -> fp8, a double rounding)
        err = compare(got, want)
        if err is None and amax is not None:
            want_amax = x.to(torch.float64).abs().amax().to(torch.float32).reshape(1)
            if not isinstance(amax, torch.Tensor):
                err = f"amax is a {type(amax).__name__}"
            else:
                err = compare(amax.reshape(-1)[:1].to(torch.float32), want_amax.to(amax.device), exact=True)
                err = err and "amax: " + err
        if err:
            checks.fail(f"{line}: {err}", "cast", f"{src}->{dst}", variant)
        else:
            checks.ok()
    checks.finish()


def _cast_backward(bc, g, x, dst, scale):
    """The contract gives no dtype argument for cast_backward (grad carries the target dtype);
    fall back to passing it positionally if the binding wants it."""
    attrs = {} if scale == 1.0 else {"scale": scale}
    try:
        return bc.ops.cast_backward(g, x, **attrs)
    except (TypeError, ValueError) as first:
        try:
            return bc.ops.cast_backward(g, x, dst, **attrs)
        except Exception:
            raise first


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("src,dst", [pytest.param(s, d, id=f"{s}->{d}") for s in FLOAT_DTYPES for d in FLOAT_DTYPES])
def test_cast_backward(tt, bc, src, dst, device):
    """d cast(x * scale)/dx = scale, converted back to x's dtype (computed in f64 when either side is
    f64, else f32, then rounded once)."""
    checks = Checks("backward")
    for variant, shape, layout, scale in (("33x65", (33, 65), "contig", 1.0), ("transposed", (33, 65), "transposed", 1.0),
                                          ("scale", (33, 65), "contig", 0.5), ("empty0x5", (0, 5), "contig", 1.0)):
        seed = seed_of("cast_bwd", src, dst, variant)
        base = tuple(reversed(shape)) if layout == "transposed" else shape
        x = cast_source(src, base, seed, "normal").to(device)
        x = x.t() if layout == "transposed" else x
        g = cast_source(dst, shape, seed + 1, "normal").to(device)
        compute = torch.float64 if "f64" in (src, dst) else torch.float32
        want = (g.to(compute) * scale).to(x.dtype)
        line = repro("cast_backward", [g, x], {"scale": scale}, f"  [{src}->{dst}, variant {variant}]")
        try:
            got = _cast_backward(bc, g, x, dst, scale)
        except Exception as e:
            checks.fail(f"{line}: raised {type(e).__name__}: {e}", "cast", f"{src}->{dst}", "backward " + variant)
            continue
        if not isinstance(got, (tuple, list)) or len(got) != 1:
            checks.fail(f"{line}: expected a 1-tuple, got {type(got).__name__}", "cast", f"{src}->{dst}", variant)
            continue
        err = compare(got[0], want)
        checks.fail(f"{line}: {err}", "cast", f"{src}->{dst}", variant) if err else checks.ok()
    checks.finish()


# ---------------------------------------------------------------------------------------------
# Reductions (parity_table.REDUCE_ROWS): bc.ops.<name>(x, dim, keepdim, **kw) vs torch, forward
# on every dtype of the row, backward in f64 through torch.autograd, on the CPU reference and on
# the CUDA engines.

REDUCE_DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=[
        pytest.mark.skipif(not HAVE_CUDA, reason="no CUDA device (torch missing or torch.cuda.is_available() is "
                                                 "False): GPU parity skipped")]),
]
REDUCE_SHAPE = (3, 4, 5)
REDUCE_TOL = {"f64": (1e-10, 1e-12), "f32": (1e-5, 1e-6), "f16": (2e-3, 1e-3), "bf16": (1.6e-2, 1e-2)}


def test_reduce_table_matches_header():
    if not PT.REDUCE_HEADER.exists():
        pytest.skip(f"{PT.REDUCE_HEADER} not found (tests run outside the source tree)")
    ops = PT.reduce_header_ops()
    assert ops, "no ops parsed from reduce.hpp"
    names = [n for n, _ in ops]
    missing = [n for n in names if n not in PT.REDUCE_TABLE]
    stale = [n for n in PT.REDUCE_TABLE if n not in names]
    assert not missing, f"ops of reduce.hpp without a parity row: {missing}"
    assert not stale, f"reduction parity rows for ops that are not in reduce.hpp: {stale}"
    bad = [n for n, d in ops if PT.REDUCE_TABLE[n].differentiable != d]
    assert not bad, f"differentiable differs from reduce.hpp for {bad}"


def test_every_reduce_catalog_op_has_a_row(bc):
    cat = bc.reduce_catalog()
    names = [d["name"] for d in cat]
    assert names, "bc.reduce_catalog() is empty"
    missing = [n for n in names if n not in PT.REDUCE_TABLE]
    assert not missing, f"ops in bc.reduce_catalog() without a row in parity_table.REDUCE_ROWS: {missing}"
    stale = [n for n in PT.REDUCE_TABLE if n not in names]
    assert not stale, f"reduction rows for ops that bc.reduce_catalog() does not list: {stale}"
    bad = [d["name"] for d in cat if bool(d["differentiable"]) != PT.REDUCE_TABLE[d["name"]].differentiable]
    assert not bad, f"differentiable in REDUCE_ROWS differs from bc.reduce_catalog() for {bad}"
    missing = [r.name for r in PT.REDUCE_ROWS if not callable(getattr(bc.ops, r.name, None))]
    missing += [r.name + "_backward" for r in PT.REDUCE_ROWS
                if r.differentiable and not callable(getattr(bc.ops, r.name + "_backward", None))]
    assert not missing, f"bc.ops lacks {missing}"


def reduce_input(tt, dtype, shape, seed, device):
    g = tt.Generator().manual_seed(seed)
    if dtype == "bool":
        x = tt.randint(0, 2, shape, generator=g).bool()
    elif dtype in PT.REDUCE_INT_DTYPES:
        lo = 0 if dtype == "u8" else -3
        x = tt.randint(lo, 4, shape, generator=g).to(PT.torch_dtype(dtype))
    else:
        x = (tt.rand(shape, generator=g, dtype=tt.float64) * 4 - 2).to(PT.torch_dtype(dtype))
    return x.to(device)


def reduce_dims(row):
    dims = [None, 0, -1, 1]
    if not row.int_dims_only:
        dims += [(0, 2), (2, 0, 1)]
    return dims


def reduce_variants(tt, row, dtype, device):
    """(label, x) pairs: contiguous, a strided view, NaN-sprinkled (floats), empty."""
    x = reduce_input(tt, dtype, REDUCE_SHAPE, seed_of(row.name, dtype), device)
    out = [("contiguous", x), ("transposed", x.transpose(0, 2)),
           ("sliced", reduce_input(tt, dtype, (6, 4, 10), seed_of(row.name, dtype, 1), device)[::2, :, 1::2])]
    if dtype in PT.REDUCE_FLOAT_DTYPES and row.name not in ("max", "min", "argmax", "argmin"):
        xn = x.clone()
        xn[0, 1, 2] = math.nan
        xn[2, 3, 4] = math.inf
        out.append(("nan_inf", xn))
    return out


def _call_bc(bc, row, x, dim, keepdim, kw):
    if row.name == "logsumexp":
        return bc.ops.logsumexp(x, dim, keepdim)
    return getattr(bc.ops, row.name)(x, dim=dim, keepdim=keepdim, **kw)


def _as_tuple(y):
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def _close(tt, got, want, label):
    """Same dtype and shape; floats within the tolerance of the result dtype, the rest exact."""
    names = {PT.torch_dtype(n): n for n in REDUCE_TOL}
    got, want = _as_tuple(got), _as_tuple(want)
    assert len(got) == len(want), f"{label}: {len(got)} results vs torch {len(want)}"
    for g, w in zip(got, want):
        assert g.dtype == w.dtype, f"{label}: dtype {g.dtype} vs torch {w.dtype}"
        assert tuple(g.shape) == tuple(w.shape), f"{label}: shape {tuple(g.shape)} vs torch {tuple(w.shape)}"
        rtol, atol = REDUCE_TOL[names[w.dtype]] if w.dtype in names else (0, 0)
        tt.testing.assert_close(g.cpu(), w.cpu(), rtol=rtol, atol=atol, equal_nan=True, msg=lambda m: f"{label}: {m}")


@pytest.mark.parametrize("device", REDUCE_DEVICES)
@pytest.mark.parametrize("op,dtype", [pytest.param(r.name, d, id=f"{r.name}-{d}") for r in PT.REDUCE_ROWS
                                      for d in r.dtypes])
def test_reduce_forward(tt, bc, op, dtype, device):
    row = PT.REDUCE_TABLE[op]
    for kw in row.kw_sets:
        if "dtype" in kw and dtype not in PT.REDUCE_FLOAT_DTYPES:
            continue
        for label, x in reduce_variants(tt, row, dtype, device):
            for dim in reduce_dims(row):
                for keepdim in (False, True):
                    if row.name in ("argmax", "argmin") and dim is None and keepdim:
                        continue  # torch's keepdim with dim=None differs between versions
                    name = f"reduce.{op} {dtype} {device} {label} dim={dim} keepdim={keepdim} {kw}"
                    try:
                        if label == "nan_inf" and device == "cuda" and row.cuda_nonfinite_from_cpu:
                            want = tuple(w.to(device) for w in _as_tuple(row.ref(x.cpu(), dim, keepdim, **kw)))
                        else:
                            want = row.ref(x, dim, keepdim, **kw)
                    except (RuntimeError, TypeError):  # torch refuses (e.g. an integer dtype): so must we
                        with pytest.raises(bc.BaracudaError):
                            _call_bc(bc, row, x, dim, keepdim, kw)
                        STATS["forward not supported by torch"] += 1
                        continue
                    got = _call_bc(bc, row, x, dim, keepdim, kw)
                    _close(tt, got, want, name)
                    STATS["forward passed"] += 1
    # Empty input: sum 0, prod 1, ... or an InvalidArgumentError where torch raises too.
    e = reduce_input(tt, dtype, (0, 4), 0, device)
    for dim in (0, None):
        kw = {}
        name = f"reduce.{op} {dtype} {device} empty dim={dim}"
        try:
            want = row.ref(e, dim, False, **kw)
        except (RuntimeError, IndexError, ValueError):
            with pytest.raises(ValueError, match=r"reduce\."):  # max(dim=None) reports reduce.amax
                _call_bc(bc, row, e, dim, False, kw)
            continue
        got = _call_bc(bc, row, e, dim, False, kw)
        _close(tt, got, want, name)


def _float_results(y):
    return [t for t in _as_tuple(y) if t.is_floating_point()]


@pytest.mark.parametrize("device", REDUCE_DEVICES)
@pytest.mark.parametrize("op", [r.name for r in PT.REDUCE_ROWS if r.differentiable])
def test_reduce_backward(tt, bc, op, device):
    row = PT.REDUCE_TABLE[op]
    for kw in row.kw_sets:
        if "dtype" in kw:
            continue
        for label, x0 in reduce_variants(tt, row, "f64", device)[:3]:
            for dim in reduce_dims(row):
                for keepdim in (False, True):
                    name = f"reduce.{op}.backward f64 {device} {label} dim={dim} keepdim={keepdim} {kw}"
                    x = x0.detach().clone().requires_grad_(True)
                    ys = _float_results(row.ref(x, dim, keepdim, **kw))
                    gs = [reduce_input(tt, "f64", tuple(y.shape), seed_of(name, i), device) for i, y in enumerate(ys)]
                    (want,) = tt.autograd.grad(ys, x, gs, allow_unused=True)
                    if want is None:  # torch builds no graph through x (norm with p=0): zero gradient
                        want = tt.zeros_like(x0)
                    if op == "logsumexp":
                        got = bc.ops.logsumexp_backward(*gs, x0, dim, keepdim)
                    else:
                        got = getattr(bc.ops, op + "_backward")(*gs, x0, dim=dim, keepdim=keepdim, **kw)
                    _close(tt, got, want, name)
                    STATS["backward passed"] += 1
