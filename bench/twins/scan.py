"""PyTorch twins of baracuda_scan_bench's coverage cases (bench/scan_bench.cu, after the headline
rows, whose twins are the cumsum cases of torch_cases in bench/torch_compare.py).

Inputs are uniform in [-4, 4) as the C++ driver fills them (cumprod: factors in [0.999, 1.001), so
that the products stay finite and non-zero). A backward twin differentiates the forward with a
random grad (torch.autograd.grad, retain_graph=True). Every lambda binds its tensors through
default arguments, so a twin stays callable after the generator has moved on and deleted its names.
"""

from . import _common


def cases(torch, F):
    bf16, f32 = torch.bfloat16, torch.float32
    n = 16384

    def rand(shape, dtype=f32, lo=-4.0, hi=4.0):
        return _common.uniform(torch, shape, dtype, lo, hi)

    def backward(fn, x):
        return _common.backward(torch, fn, x)

    # f32 16384 x 16384, along the rows. No zero in P: torch's cumprod backward stays on its
    # zero-free path (it checks for zeros first).
    P = rand((n, n), lo=0.999, hi=1.001)
    yield "cumprod_rows_f32_16k", lambda P=P: torch.cumprod(P, 1)
    X = rand((n, n))
    yield "logcumsumexp_rows_f32_16k", lambda X=X: torch.logcumsumexp(X, 1)
    yield "cummax_rows_f32_16k", lambda X=X: torch.cummax(X, 1)  # values and int64 indices
    yield "cummin_rows_f32_16k", lambda X=X: torch.cummin(X, 1)

    Xb = rand((n, n), dtype=bf16)
    yield "cumsum_rows_bf16_16k", lambda Xb=Xb: Xb.cumsum(1)
    del Xb

    # torch has no exclusive scan: the inclusive one minus x, one more elementwise pass.
    yield "cumsum_excl_rows_f32_16k", lambda X=X: X.cumsum(1) - X
    # torch has no reverse scan: it pays for two flips (full copies) around the cumsum.
    yield "cumsum_rev_rows_f32_16k", lambda X=X: X.flip(1).cumsum(1).flip(1)

    xb = rand((1 << 28,), dtype=bf16)
    yield "cumsum_flat_bf16_268M", lambda xb=xb: xb.cumsum(0)
    del xb

    yield "cumsum_bwd_rows_f32_16k", backward(lambda t: t.cumsum(1), X)
    del X
    yield "cumprod_bwd_rows_f32_16k", backward(lambda t: torch.cumprod(t, 1), P)
    del P
