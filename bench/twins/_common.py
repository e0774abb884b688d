"""Helpers shared by the twin modules (not a family: all_cases skips modules named _*)."""


def uniform(torch, shape, dtype, lo=-4.0, hi=4.0):
    """A CUDA tensor of `shape` and `dtype` drawn uniformly from [lo, hi)."""
    return torch.empty(shape, device="cuda", dtype=dtype).uniform_(lo, hi)


def backward(torch, fn, x):
    """The backward of fn at x: a zero-argument callable of torch.autograd.grad (the graph is built
    once, so a sample times the backward alone)."""
    xg = x.detach().clone().requires_grad_(True)
    out = fn(xg)
    go = torch.randn_like(out)
    return lambda out=out, xg=xg, go=go: torch.autograd.grad(out, xg, go, retain_graph=True)
