"""PyTorch twins of baracuda_reduce_bench's coverage cases (bench/reduce_bench.cu, the cases after
the seven PERF-BASELINE ones, which torch_compare.torch_reduce_cases twins).

Same shapes, dtypes, reduced dims and outputs as the C++ case of the same name; inputs are drawn
like the driver's (uniform [-4, 4), prod's in [0.95, 1.05), ~1% NaNs for the nan-ops, ~50% zeros for
count_nonzero, ~50% False for any / all), not bit-identical. X is 16384 x 16384 (2^28 elements),
reduced along its rows (dim 1). Backward twins differentiate the forward with torch.autograd.grad
and a random incoming gradient (retain_graph=True), as torch_compare's layernorm_bwd does.
A few GiB of device memory are live at a time (well under 30 GB).
"""


def _forward_rows(torch, X):
    """Forward ops over the rows of the uniform bf16 X (the C++ x_bf16)."""
    inf = float("inf")
    yield "mean_rows_bf16_16k", lambda: X.mean(dim=1)
    yield "mean_rows_keepdim_bf16_16k", lambda: X.mean(dim=1, keepdim=True)
    yield "amin_rows_bf16_16k", lambda: X.amin(dim=1)
    yield "max_rows_bf16_16k", lambda: torch.max(X, dim=1)  # values + int64 indices
    yield "min_rows_bf16_16k", lambda: torch.min(X, dim=1)
    yield "argmin_rows_bf16_16k", lambda: X.argmin(dim=1)
    yield "var_rows_bf16_16k", lambda: torch.var(X, dim=1, correction=1)
    yield "std_rows_bf16_16k", lambda: torch.std(X, dim=1, correction=1)
    yield "norm1_rows_bf16_16k", lambda: torch.linalg.vector_norm(X, ord=1, dim=1)
    yield "norm2_rows_bf16_16k", lambda: torch.linalg.vector_norm(X, ord=2, dim=1)
    yield "norminf_rows_bf16_16k", lambda: torch.linalg.vector_norm(X, ord=inf, dim=1)
    yield "logsumexp_rows_bf16_16k", lambda: torch.logsumexp(X, dim=1)
    X3 = X.view(256, 1024, 1024)
    yield "sum_axes02_bf16_256x1024x1024", lambda: X3.sum(dim=(0, 2))


def _grad_case(torch, forward, X):
    """dx of forward(X) for a random dy. The result is made contiguous because the C++ backward
    writes a dense dx: PyTorch's sum backward returns dy.expand() (a view, no kernel) and would
    otherwise time nothing; for the other ops dx is already dense and .contiguous() is free."""
    Xg = X.detach().requires_grad_(True)
    out = forward(Xg)
    go = torch.randn_like(out)
    return lambda: torch.autograd.grad(out, Xg, go, retain_graph=True)[0].contiguous()


def _backward_rows(torch, X):
    """Backward along the rows of the bf16 X: dy [16384] and X in, dx [16384, 16384] out."""
    yield "sum_bwd_rows_bf16_16k", _grad_case(torch, lambda t: t.sum(dim=1), X)
    yield "mean_bwd_rows_bf16_16k", _grad_case(torch, lambda t: t.mean(dim=1), X)
    yield "amax_bwd_rows_bf16_16k", _grad_case(torch, lambda t: t.amax(dim=1), X)
    yield "var_bwd_rows_bf16_16k", _grad_case(torch, lambda t: torch.var(t, dim=1, correction=1), X)
    yield "norm2_bwd_rows_bf16_16k", _grad_case(torch, lambda t: torch.linalg.vector_norm(t, ord=2, dim=1), X)


def _special_inputs(torch, X):
    """The ops whose C++ input is not the uniform one: prod, the nan-ops, count_nonzero, any/all.
    Each is built from X, yielded, then dropped here (the twins hold it as a default argument, so a
    twin still works if it is called after the generator moved on)."""
    Xp = torch.empty_like(X).uniform_(0.95, 1.05)  # products of 16384 values stay finite
    yield "prod_rows_bf16_16k", lambda Xp=Xp: Xp.prod(dim=1)  # bf16 result, as the C++ descriptor's
    del Xp
    Xn = X.masked_fill(torch.rand_like(X) < 0.01, float("nan"))
    yield "nansum_rows_bf16_16k", lambda Xn=Xn: torch.nansum(Xn, dim=1)
    yield "nanmean_rows_bf16_16k", lambda Xn=Xn: torch.nanmean(Xn, dim=1)
    del Xn
    Xz = X.masked_fill(torch.rand_like(X) < 0.5, 0.0)
    yield "count_nonzero_rows_bf16_16k", lambda Xz=Xz: torch.count_nonzero(Xz, dim=1)  # int64
    yield "count_nonzero_bf16_268M", lambda Xz=Xz: torch.count_nonzero(Xz.view(-1))
    del Xz
    Xb = torch.rand_like(X) >= 0.5  # bool, half False
    yield "any_rows_bool_16k", lambda Xb=Xb: Xb.any(dim=1)
    yield "all_rows_bool_16k", lambda Xb=Xb: Xb.all(dim=1)
    yield "all_bool_268M", lambda Xb=Xb: Xb.view(-1).all()
    del Xb


def cases(torch, F):
    X = torch.empty(16384, 16384, device="cuda", dtype=torch.bfloat16).uniform_(-4, 4)
    yield from _forward_rows(torch, X)
    yield from _backward_rows(torch, X)
    yield from _special_inputs(torch, X)
    del X
    # f32 (1 GiB): the global norm of a flat tensor (gradient clipping) and logsumexp's backward.
    Xf = torch.empty(16384, 16384, device="cuda", dtype=torch.float32).uniform_(-4, 4)
    yield "norm2_f32_268M", lambda Xf=Xf: torch.linalg.vector_norm(Xf.view(-1), ord=2)
    yield "logsumexp_bwd_rows_f32_16k", _grad_case(torch, lambda t: torch.logsumexp(t, dim=1), Xf)
    del Xf
