"""PyTorch twins of baracuda_norm_bench's coverage rows (coverage_cases() in bench/norm_bench.cu).

The headline rows (bf16 layernorm/rmsnorm/add_rmsnorm over 32768x4096, 4096x32768, 65536x1024)
are twinned in bench/torch_compare.py; this module covers the rest, under the same case names,
in the driver's order, with the driver's shapes, dtypes and options:
  - parameters (weight, bias, running stats) in x's dtype, eps torch's default (1e-5; rms_norm's
    None is the driver's default too: f32's machine epsilon);
  - forwards run without autograd, so they save no statistics (the driver's save_stats = false),
    except batch_norm training, which saves them for its backward and updates the running stats in
    place (momentum 0.1), as the driver's batchnorm_train rows do;
  - a "_bwd" row asks autograd for dx only, "_bwd_dw" / "_bwd_dwdb" for the affine parameters too,
    from a graph built once (retain_graph), like torch_compare.py's norm twins.
"""


def cases(torch, F):
    dtypes = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}

    def randn(shape, dt):
        return torch.randn(*shape, device="cuda", dtype=dt)

    def param(shape, dt):  # weights and running variances near 1, as the driver fills them
        return torch.rand(*shape, device="cuda", dtype=dt) + 0.5

    def grads(out, wrt, go):  # backward of a graph built once, timed alone
        return lambda: torch.autograd.grad(out, wrt, go, retain_graph=True)

    def leaf(t):
        return t.detach().clone().requires_grad_(True)

    def row_norms(name, r, c):  # the driver's add_row_norms: forwards, then backwards with dw(/db)
        dt = dtypes[name]
        x, w, b = randn((r, c), dt), param((c,), dt), randn((c,), dt)
        yield f"layernorm_{name}_{r}x{c}", lambda x=x, w=w, b=b, c=c: F.layer_norm(x, (c,), w, b)
        yield f"rmsnorm_{name}_{r}x{c}", lambda x=x, w=w, c=c: F.rms_norm(x, (c,), w)
        xg, wg, bg = leaf(x), leaf(w), leaf(b)
        go = torch.randn_like(x)
        out = F.layer_norm(xg, (c,), wg, bg)
        yield f"layernorm_bwd_dwdb_{name}_{r}x{c}", grads(out, (xg, wg, bg), go)
        del out
        out = F.rms_norm(xg, (c,), wg)
        yield f"rmsnorm_bwd_dw_{name}_{r}x{c}", grads(out, (xg, wg), go)

    # layer_norm / rms_norm in f32 and f16 (the headline rows are bf16 only).
    for name in ("f32", "f16"):
        yield from row_norms(name, 32768, 4096)

    # Fused residual add + layer_norm: y and the sum, the sum computed once.
    for r, c in ((32768, 4096), (65536, 1024)):
        x, res = randn((r, c), torch.bfloat16), randn((r, c), torch.bfloat16)
        w, b = param((c,), torch.bfloat16), randn((c,), torch.bfloat16)

        def add_layer_norm(x=x, res=res, w=w, b=b, c=c):
            s = x + res
            return F.layer_norm(s, (c,), w, b), s

        yield f"add_layernorm_bf16_{r}x{c}", add_layer_norm
        del x, res

    # layer_norm without weight and bias, forward and dx.
    r, c = 32768, 4096
    x = randn((r, c), torch.bfloat16)
    yield f"layernorm_noaffine_bf16_{r}x{c}", lambda x=x, c=c: F.layer_norm(x, (c,))
    xg = leaf(x)
    go = torch.randn_like(x)
    out = F.layer_norm(xg, (c,))
    yield f"layernorm_noaffine_bwd_bf16_{r}x{c}", grads(out, xg, go)
    del x, xg, go, out

    # layer_norm over the last two dims: normalized_shape (32, 1024), weight and bias [32, 1024].
    shape, norm_shape = (4096, 32, 1024), (32, 1024)
    x = randn(shape, torch.bfloat16)
    w, b = param(norm_shape, torch.bfloat16), randn(norm_shape, torch.bfloat16)
    yield "layernorm_last2dims_bf16_4096x32x1024", lambda x=x, w=w, b=b, ns=norm_shape: F.layer_norm(x, ns, w, b)
    xg, wg, bg = leaf(x), leaf(w), leaf(b)
    go = torch.randn_like(x)
    out = F.layer_norm(xg, norm_shape, wg, bg)
    yield "layernorm_last2dims_bwd_dwdb_bf16_4096x32x1024", grads(out, (xg, wg, bg), go)
    del x, xg, go, out

    # PERF-BASELINE's other bf16 layer/rms norm shapes: rows of 8192 and of 65536.
    for r, c in ((16384, 8192), (4096, 65536)):
        yield from row_norms("bf16", r, c)

    # group_norm, 32 groups over 512 channels, affine.
    shape, groups = (32, 512, 64, 64), 32
    for name in ("bf16", "f32"):
        dt = dtypes[name]
        x, w, b = randn(shape, dt), param((512,), dt), randn((512,), dt)
        yield f"groupnorm_{name}_32x512x64x64", lambda x=x, w=w, b=b, g=groups: F.group_norm(x, g, w, b)
        xg = leaf(x)
        go = torch.randn_like(x)
        out = F.group_norm(xg, groups, w, b)  # weight and bias do not require grad: dx only
        yield f"groupnorm_bwd_{name}_32x512x64x64", grads(out, xg, go)
        del out
        wg, bg = leaf(w), leaf(b)
        out = F.group_norm(xg, groups, wg, bg)
        yield f"groupnorm_bwd_dwdb_{name}_32x512x64x64", grads(out, (xg, wg, bg), go)
        del x, xg, go, out

    # batch_norm, NCHW, affine: training (batch statistics, running stats updated in place),
    # backward from the training forward's saved statistics, eval (running statistics).
    shape = (32, 256, 64, 64)
    for name in ("bf16", "f32"):
        dt = dtypes[name]
        x, w, b = randn(shape, dt), param((256,), dt), randn((256,), dt)
        rm, rv = randn((256,), dt), param((256,), dt)
        yield (f"batchnorm_train_{name}_32x256x64x64",
               lambda x=x, w=w, b=b, rm=rm, rv=rv: F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1))
        xg = leaf(x)
        go = torch.randn_like(x)
        out = F.batch_norm(xg, rm.clone(), rv.clone(), w, b, training=True, momentum=0.1)
        yield f"batchnorm_bwd_{name}_32x256x64x64", grads(out, xg, go)
        del out
        wg, bg = leaf(w), leaf(b)
        out = F.batch_norm(xg, rm.clone(), rv.clone(), wg, bg, training=True, momentum=0.1)
        yield f"batchnorm_bwd_dwdb_{name}_32x256x64x64", grads(out, (xg, wg, bg), go)
        del xg, go, out
        yield (f"batchnorm_eval_{name}_32x256x64x64",
               lambda x=x, w=w, b=b, rm=rm, rv=rv: F.batch_norm(x, rm, rv, w, b, training=False))
        del x

    # instance_norm, affine, no running statistics.
    x, w, b = randn(shape, torch.bfloat16), param((256,), torch.bfloat16), randn((256,), torch.bfloat16)
    yield "instancenorm_bf16_32x256x64x64", lambda x=x, w=w, b=b: F.instance_norm(x, weight=w, bias=b)
    xg = leaf(x)
    go = torch.randn_like(x)
    out = F.instance_norm(xg, weight=w, bias=b)
    yield "instancenorm_bwd_bf16_32x256x64x64", grads(out, xg, go)
    del out
    wg, bg = leaf(w), leaf(b)
    out = F.instance_norm(xg, weight=wg, bias=bg)
    yield "instancenorm_bwd_dwdb_bf16_32x256x64x64", grads(out, (xg, wg, bg), go)
    del x, xg, go, out
