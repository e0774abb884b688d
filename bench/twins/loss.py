"""PyTorch twins of baracuda_loss_bench's coverage cases (bench/loss_bench.cu).

Each twin does the work of the C++ case of the same name: same shapes, dtypes, reduction (mean
unless the name says otherwise) and options, inputs drawn from the same ranges. The driver's two
original cases (cross_entropy_bf16_8192x128256 and cross_entropy_fwdbwd_bf16_8192x128256) have
their twins in torch_compare.py (softmax_torch_cases).

  *_bwd_*     the backward alone: the forward graph is built once and kept (retain_graph); each
              call differentiates it with respect to the input(s) the C++ backward writes
              (grad_input, and grad_other for the two-input losses), with a grad_output of ones
              (the C++ case's grad_loss).
  *_fwdbwd_*  forward and backward together, the twin of the fused cross_entropy forward that also
              writes the logits' gradient.

Tensors are bound to the callables through default arguments (not closures over loop variables)
and the generator drops its own references after the cases that use them, so that at most one
group's inputs (plus the previous case's callable) is alive: a few GB at most.
"""


def cases(torch, F):
    dev = "cuda"
    bf16, f32 = torch.bfloat16, torch.float32

    def uniform(shape, dtype, lo, hi):
        return torch.empty(shape, device=dev, dtype=dtype).uniform_(lo, hi)

    def signs(n, dtype):  # labels y = +-1, each with probability 1/2
        return (torch.randint(0, 2, (n,), device=dev) * 2 - 1).to(dtype)

    def bwd(loss_fn, *inputs):
        """The backward of loss_fn(*inputs) alone, with respect to every input."""
        leaves = [x.detach().requires_grad_(True) for x in inputs]
        loss = loss_fn(*leaves)
        go = torch.ones_like(loss)
        return lambda loss=loss, leaves=leaves, go=go: torch.autograd.grad(loss, leaves, go, retain_graph=True)

    def fwdbwd(loss_fn, x):
        """Forward and backward of loss_fn(x), the gradient with respect to x."""
        xg = x.detach().requires_grad_(True)
        return lambda xg=xg, loss_fn=loss_fn: torch.autograd.grad(loss_fn(xg), xg)

    # cross_entropy on a 128k vocabulary: [8192, 128256] bf16 logits in [-4, 4), class indices.
    N, V = 8192, 128256
    logits = uniform((N, V), bf16, -4, 4)
    labels = torch.randint(0, V, (N,), device=dev)

    def ce(x, t=labels):
        return F.cross_entropy(x, t)

    def ce_ls(x, t=labels):
        return F.cross_entropy(x, t, label_smoothing=0.1)

    def ce_zloss(x, t=labels, z=1e-4):
        # torch has no z-loss option: PaLM's z * lse^2 per sample, averaged like the loss (no
        # sample is ignored, no class weights).
        return F.cross_entropy(x, t) + z * torch.logsumexp(x, -1).float().square().mean()

    yield "cross_entropy_bwd_bf16_8192x128256", bwd(ce, logits)
    yield "cross_entropy_ls_bf16_8192x128256", lambda x=logits: ce_ls(x)
    yield "cross_entropy_ls_fwdbwd_bf16_8192x128256", fwdbwd(ce_ls, logits)
    yield "cross_entropy_zloss_bf16_8192x128256", lambda x=logits: ce_zloss(x)
    yield "cross_entropy_zloss_fwdbwd_bf16_8192x128256", fwdbwd(ce_zloss, logits)
    del logits, labels

    # cross_entropy with class-probability targets: [8192, 32000] bf16, targets of the same shape
    # uniform in [0, 2/C) (rows sum to about 1).
    N, C = 8192, 32000
    logits = uniform((N, C), bf16, -4, 4)
    probs = uniform((N, C), bf16, 0, 2 / C)

    def ce_probs(x, p=probs):
        return F.cross_entropy(x, p)

    yield "cross_entropy_probs_bf16_8192x32000", lambda x=logits: ce_probs(x)
    yield "cross_entropy_probs_fwdbwd_bf16_8192x32000", fwdbwd(ce_probs, logits)
    del logits, probs, ce_probs

    # cross_entropy on [N, C, d1] (class dim 1): 64 x 1024 x 4096 bf16, targets [64, 4096].
    N, C, S = 64, 1024, 4096
    logits = uniform((N, C, S), bf16, -4, 4)
    labels = torch.randint(0, C, (N, S), device=dev)

    def ce_ncd(x, t=labels):
        return F.cross_entropy(x, t)

    yield "cross_entropy_bf16_64x1024x4096", lambda x=logits: ce_ncd(x)
    yield "cross_entropy_fwdbwd_bf16_64x1024x4096", fwdbwd(ce_ncd, logits)
    del logits, labels

    # nll_loss on log-probabilities [65536, 1024] f32 in [-10, 0); every 8th target (i % 8 == 7)
    # is ignore_index -100, set explicitly as in the C++ case.
    N, C, ignore = 65536, 1024, -100
    logp = uniform((N, C), f32, -10, 0)
    labels = torch.randint(0, C, (N,), device=dev)
    labels[7::8] = ignore

    def nll(x, t=labels):
        return F.nll_loss(x, t, ignore_index=ignore)

    yield "nll_loss_f32_65536x1024", lambda x=logp: nll(x)
    yield "nll_loss_bwd_f32_65536x1024", bwd(nll, logp)
    del logp, labels

    # Regression losses on 2^27 elements, f32 and bf16, input and target in [-3, 3); smooth_l1
    # with beta 1, huber with delta 1 (the C++ descriptor's defaults, torch's too).
    P = 1 << 27
    regression = (
        ("mse", lambda x, t: F.mse_loss(x, t)),
        ("l1", lambda x, t: F.l1_loss(x, t)),
        ("smooth_l1", lambda x, t: F.smooth_l1_loss(x, t, beta=1.0)),
        ("huber", lambda x, t: F.huber_loss(x, t, delta=1.0)),
    )
    for dname, dt in (("f32", f32), ("bf16", bf16)):
        x = uniform(P, dt, -3, 3)
        t = uniform(P, dt, -3, 3)
        for name, fn in regression:
            yield f"{name}_{dname}_134M", lambda x=x, t=t, fn=fn: fn(x, t)
            yield f"{name}_bwd_{dname}_134M", bwd(lambda a, t=t, fn=fn: fn(a, t), x)
        if dname == "f32":
            yield "mse_none_f32_134M", lambda x=x, t=t: F.mse_loss(x, t, reduction="none")
        del x, t

    # Binary cross entropy, 2^27 f32: probabilities in [0.02, 0.98), soft targets in [0, 1).
    # With logits: [131072, 1024] logits in [-4, 4), pos_weight [1024] (one per column).
    probs = uniform(P, f32, 0.02, 0.98)
    targets = uniform(P, f32, 0, 1)

    def bce(p, y=targets):
        return F.binary_cross_entropy(p, y)

    yield "bce_f32_134M", lambda p=probs: bce(p)
    yield "bce_bwd_f32_134M", bwd(bce, probs)
    del probs, bce
    logits = uniform((P // 1024, 1024), f32, -4, 4)
    pos_weight = uniform(1024, f32, 0.5, 3)

    def bce_logits(z, y=targets.view(P // 1024, 1024), pw=pos_weight):
        return F.binary_cross_entropy_with_logits(z, y, pos_weight=pw)

    yield "bce_with_logits_f32_134M", lambda z=logits: bce_logits(z)
    yield "bce_with_logits_bwd_f32_134M", bwd(bce_logits, logits)
    del logits, targets, pos_weight, bce_logits

    # kl_div on [8192, 32000] f32: input log-probabilities in [-14, -7); targets probabilities in
    # [1e-6, 6e-5) or, with log_target, log-probabilities in [-14, -7). reduction="mean" is over
    # every element, like the C++ mean (torch warns that batchmean is the KL divergence).
    N, C = 8192, 32000
    logq = uniform((N, C), f32, -14, -7)
    p = uniform((N, C), f32, 1e-6, 6e-5)

    def kl(x, t=p):
        return F.kl_div(x, t, reduction="mean")

    yield "kl_div_f32_8192x32000", lambda x=logq: kl(x)
    yield "kl_div_bwd_f32_8192x32000", bwd(kl, logq)
    del p, kl
    logp = uniform((N, C), f32, -14, -7)

    def kl_log(x, t=logp):
        return F.kl_div(x, t, reduction="mean", log_target=True)

    yield "kl_div_log_target_f32_8192x32000", lambda x=logq: kl_log(x)
    yield "kl_div_log_target_bwd_f32_8192x32000", bwd(kl_log, logq)
    del logq, logp, kl_log

    # cosine_embedding on 65536 pairs of 1024-feature bf16 rows in [-2, 2), y = +-1 (bf16),
    # margin 0.1; the backward differentiates both inputs.
    N, D = 65536, 1024
    x1 = uniform((N, D), bf16, -2, 2)
    x2 = uniform((N, D), bf16, -2, 2)
    y = signs(N, bf16)

    def cosine(a, b, y=y):
        return F.cosine_embedding_loss(a, b, y, margin=0.1)

    yield "cosine_embedding_bf16_65536x1024", lambda a=x1, b=x2: cosine(a, b)
    yield "cosine_embedding_bwd_bf16_65536x1024", bwd(cosine, x1, x2)
    del x1, x2, y, cosine

    # margin_ranking on 2^27 f32 pairs in [-2, 2), y = +-1, margin 0.3; the backward
    # differentiates both inputs.
    x1 = uniform(P, f32, -2, 2)
    x2 = uniform(P, f32, -2, 2)
    y = signs(P, f32)

    def ranking(a, b, y=y):
        return F.margin_ranking_loss(a, b, y, margin=0.3)

    yield "margin_ranking_f32_134M", lambda a=x1, b=x2: ranking(a, b)
    yield "margin_ranking_bwd_f32_134M", bwd(ranking, x1, x2)
    del x1, x2, y, ranking
