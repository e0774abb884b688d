#!/usr/bin/env python3
"""Times PyTorch on the same cases as the C++ benchmarks (baracuda_bench and the per-family
baracuda_*_bench), in the same session on the same GPU, and merges everything into
bench/results/<gpu>.json (DESIGN.md section 7) and a markdown table.

    python3 bench/torch_compare.py --bench out/a.json [out/b.json ...] --out bench/results/h200 [--commit SHA]
    python3 bench/torch_compare.py --render bench/results/h200.json   # the markdown again, no torch needed

PyTorch is timed like the C++ drivers time baracuda: CUDA events around the work, median of 30
samples; each sample is the mean of BATCH back-to-back calls queued behind a short GPU sleep, so
that Python's launch latency does not count against torch's kernels.
"""
import argparse
import datetime
import itertools
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twins  # noqa: E402  (bench/twins: per-family PyTorch twins of the coverage cases)

try:  # --render needs no torch
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = F = None


BATCH = 4


def time_batch(fn, batch=BATCH, sleep_cycles=1_000_000):
    """ms per call of `batch` back-to-back calls between two CUDA events, after a GPU sleep that
    lets the host queue the batch ahead of the GPU (the sample then measures GPU time)."""
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda._sleep(sleep_cycles)
    a.record()
    for _ in range(batch):
        fn()
    b.record()
    b.synchronize()
    return a.elapsed_time(b) / batch


def median_ms(fn, reps=30, warmup=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    return statistics.median(time_batch(fn) for _ in range(reps))


def torch_cases():
    n = 1 << 28
    for name, dt in (("bf16", torch.bfloat16), ("f32", torch.float32)):
        x = torch.randn(n, device="cuda", dtype=dt)
        y = torch.randn(n, device="cuda", dtype=dt)
        yield f"add_{name}_268M", lambda: x + y
        yield f"mul_{name}_268M", lambda: x * y
        yield f"gelu_tanh_{name}_268M", lambda: F.gelu(x, approximate="tanh")
        yield f"silu_{name}_268M", lambda: F.silu(x)
        yield f"exp_{name}_268M", lambda: torch.exp(x)
        to = torch.bfloat16 if dt == torch.float32 else torch.float32
        to_name = "bf16" if to == torch.bfloat16 else "f32"
        yield f"cast_{name}_to_{to_name}_268M", lambda: x.to(to)
        del y
        xs = x.view(32768, 8192)

        def swiglu(xs=xs):
            a, b = xs.chunk(2, dim=-1)
            return F.silu(a) * b

        yield f"swiglu_{name}_268M", swiglu
        g = x.view(n // 2, 2)
        yield f"swiglu_{name}_134M_interleaved", lambda g=g: F.silu(g[:, 0]) * g[:, 1]
        del x
    # Norm twins of baracuda_norm_bench (shapes and bytes as /work/shared/baseline_torch.py).
    for (r, c) in [(32768, 4096), (4096, 32768), (65536, 1024)]:
        S = torch.randn(r, c, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(c, device="cuda", dtype=torch.bfloat16)
        bb = torch.randn(c, device="cuda", dtype=torch.bfloat16)
        yield f"layernorm_bf16_{r}x{c}", lambda S=S, w=w, bb=bb, c=c: F.layer_norm(S, (c,), w, bb)
        yield f"rmsnorm_bf16_{r}x{c}", lambda S=S, w=w, c=c: F.rms_norm(S, (c,), w)
        R = torch.randn_like(S)
        yield f"add_rmsnorm_bf16_{r}x{c}", lambda S=S, R=R, w=w, c=c: (F.rms_norm(S + R, (c,), w), S + R)
        Sg = S.clone().requires_grad_(True)
        out = F.layer_norm(Sg, (c,), w, bb)
        go = torch.randn_like(out)
        yield f"layernorm_bwd_bf16_{r}x{c}", lambda out=out, Sg=Sg, go=go: torch.autograd.grad(out, Sg, go, retain_graph=True)
        wg, bg = w.clone().requires_grad_(True), bb.clone().requires_grad_(True)
        out2 = F.layer_norm(Sg, (c,), wg, bg)
        yield (f"layernorm_bwd_dwdb_bf16_{r}x{c}",
               lambda out2=out2, Sg=Sg, wg=wg, bg=bg, go=go: torch.autograd.grad(out2, (Sg, wg, bg), go, retain_graph=True))
        outr = F.rms_norm(Sg, (c,), wg)
        yield (f"rmsnorm_bwd_dw_bf16_{r}x{c}",
               lambda outr=outr, Sg=Sg, wg=wg, go=go: torch.autograd.grad(outr, (Sg, wg), go, retain_graph=True))
        del S, Sg, out, out2, outr, go, R

    # Scans (bench/scan_bench.cu); bytes as in /work/shared/baseline_torch.py (read + write).
    xf = torch.randn(n, device="cuda", dtype=torch.float32)
    yield "cumsum_rows_f32_16k", lambda: xf.view(16384, 16384).cumsum(dim=1)
    yield "cumsum_flat_f32_268M", lambda: xf.cumsum(0)
    yield "cumsum_rows_f32_8192x32768", lambda: xf.view(8192, 32768).cumsum(dim=1)
    yield "cumsum_dim0_f32_8192x32768", lambda: xf.view(8192, 32768).cumsum(dim=0)
    del xf
    xt = torch.randn(1000000, 8, device="cuda", dtype=torch.float32)
    yield "cumsum_dim0_f32_1Mx8", lambda: xt.cumsum(dim=0)
    yield from softmax_torch_cases()
    yield from torch_reduce_cases()
    yield from twins.all_cases(torch, F)  # the coverage cases of every family (bench/twins/)


def softmax_torch_cases():
    """The twins of baracuda_softmax_bench (and of /work/shared/baseline_torch.py)."""
    for r, c in ((32768, 4096), (4096, 32768), (65536, 1024)):
        s = torch.randn(r, c, device="cuda", dtype=torch.bfloat16)
        yield f"softmax_bf16_{r}x{c}", lambda s=s: torch.softmax(s, -1)
        sg = s.clone().requires_grad_(True)
        out = torch.softmax(sg, -1)
        go = torch.randn_like(out)
        yield f"softmax_bwd_bf16_{r}x{c}", lambda out=out, sg=sg, go=go: torch.autograd.grad(out, sg, go, retain_graph=True)
        del s, sg, out, go
    # Loss family (baracuda_loss_bench): cross_entropy on a 128k vocabulary, forward and fwd+bwd.
    vocab = 128256
    logits = torch.randn(8192, vocab, device="cuda", dtype=torch.bfloat16)
    labels = torch.randint(0, vocab, (8192,), device="cuda")
    yield "cross_entropy_bf16_8192x128256", lambda: F.cross_entropy(logits, labels)
    lg = logits.detach().requires_grad_(True)
    yield "cross_entropy_fwdbwd_bf16_8192x128256", lambda: torch.autograd.grad(F.cross_entropy(lg, labels), lg)
    del logits, lg


def torch_reduce_cases():
    # PERF-BASELINE's reductions (baseline_torch.py): x has 2^28 bf16 elements, X = x as 16384 x 16384.
    x = torch.randn(1 << 28, device="cuda", dtype=torch.bfloat16)
    X = x.view(16384, 16384)
    yield "sum_bf16_268M", lambda: x.sum()
    yield "sum_rows_bf16_16k", lambda: X.sum(dim=1)
    yield "sum_cols_bf16_16k", lambda: X.sum(dim=0)
    yield "amax_rows_bf16_16k", lambda: X.amax(dim=1)
    yield "argmax_rows_bf16_16k", lambda: X.argmax(dim=1)
    del x
    Xf = X.float()
    del X
    yield "var_mean_rows_f32_16k", lambda: torch.var_mean(Xf, dim=1)
    yield "logsumexp_rows_f32_16k", lambda: torch.logsumexp(Xf, dim=1)


def torch_gemm_cases():
    """The twins of baracuda_gemm_bench: torch.mm on the same shapes (m x n x k), f32 with and
    without TF32, and torch._scaled_mm for fp8 (e4m3, unit scales, bf16 out, B column-major)."""
    def mm(m, n, k, dt):
        a = torch.randn(m, k, device="cuda").to(dt)
        b = torch.randn(k, n, device="cuda").to(dt)
        return lambda: torch.mm(a, b)

    for m, n, k in ((8192, 8192, 8192), (4096, 4096, 4096), (4096, 14336, 4096), (1, 8192, 8192), (16, 8192, 8192),
                    (64, 8192, 8192)):
        yield f"mm_bf16_{m}x{n}x{k}", mm(m, n, k, torch.bfloat16)
    f32 = mm(8192, 8192, 8192, torch.float32)

    def tf32(f=f32):
        old = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            return f()
        finally:
            torch.backends.cuda.matmul.allow_tf32 = old

    yield "mm_f32_8192", f32
    yield "mm_tf32_8192", tf32
    a = torch.randn(8192, 8192, device="cuda").to(torch.float8_e4m3fn)
    w = torch.randn(8192, 8192, device="cuda").to(torch.float8_e4m3fn)
    one = torch.ones((), device="cuda")
    yield "mm_fp8_8192", lambda: torch._scaled_mm(a, w.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
    yield "mm_fp8_8192_fast_accum", lambda: torch._scaled_mm(a, w.t(), scale_a=one, scale_b=one,
                                                             out_dtype=torch.bfloat16, use_fast_accum=True)


def torch_grouped_cases():
    """The twins of baracuda_grouped_gemm_bench (MoE forward, 64 experts, K 4096, N 14336, bf16, W
    stored [G, N, K]; the same routings): torch._grouped_mm for the grouped records and a loop of
    torch.mm over the experts for the *_per_expert_loop records."""
    G, K, N = 64, 4096, 14336
    routings = {"moe_bf16_64x512x14336x4096": [512] * G,
                "moe_bf16_skewed": [(g * 97) % 1025 if g % 2 else 1024 - (g * 97 - 97) % 1025 for g in range(G)]}
    w = torch.randn(G, N, K, device="cuda", dtype=torch.bfloat16)
    for name, sizes in routings.items():
        x = torch.randn(sum(sizes), K, device="cuda", dtype=torch.bfloat16)
        ends = torch.tensor(list(itertools.accumulate(sizes)), device="cuda", dtype=torch.int32)
        starts = [0] + list(itertools.accumulate(sizes))[:-1]

        def loop(x=x, sizes=sizes, starts=starts):
            for g, (s0, n) in enumerate(zip(starts, sizes)):
                if n:
                    torch.mm(x[s0:s0 + n], w[g].t())

        def grouped(x=x, ends=ends):
            return torch._grouped_mm(x, w.transpose(1, 2), offs=ends)

        try:  # torch builds without _grouped_mm (or without this layout) leave the column empty
            grouped()
            yield name, grouped
        except (AttributeError, RuntimeError) as e:
            print(f"torch._grouped_mm unavailable for {name}: {e}")
        yield name + "_per_expert_loop", loop


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--render", help="rewrite the markdown beside this merged JSON and stop (no timing)")
    ap.add_argument("--bench", nargs="+", help="JSON files written by the C++ benchmarks (--json)")
    ap.add_argument("--out", help="output path without extension")
    ap.add_argument("--commit", default=None)
    args = ap.parse_args()
    if args.render:
        with open(args.render) as f:
            write_markdown(json.load(f), args.render.removesuffix(".json") + ".md")
        return
    if not args.bench or not args.out or torch is None:
        ap.error("--bench and --out (and torch) are needed unless --render is given")
    result = None
    for path in args.bench:
        with open(path) as f:
            part = json.load(f)
        if result is None:
            result = part
        else:
            result["records"].extend(part["records"])
    wanted = {r["case"] for r in result["records"]}
    torch_ms = {}
    gemm = torch_gemm_cases() if any(c.startswith("mm_") for c in wanted) else ()
    grouped = torch_grouped_cases() if any(c.startswith("moe_") for c in wanted) else ()
    for case, fn in itertools.chain(torch_cases(), gemm, grouped):
        if case in wanted:
            try:
                torch_ms[case] = median_ms(fn)
            except (RuntimeError, TypeError, ValueError) as e:  # a twin torch cannot run: no torch column
                print(f"torch twin of {case} failed: {e}")
        torch.cuda.empty_cache()
    for r in result["records"]:
        t = torch_ms.get(r["case"])
        r["torch_ms"] = round(t, 5) if t is not None else None
        r["speedup_vs_torch"] = round(t / r["ms"], 3) if t is not None else None
        if t is not None and tflops_of(r):
            r["torch_tflops"] = round(tflops_of(r) * r["ms"] / t, 1)
    result["commit"] = args.commit
    result["date"] = datetime.date.today().isoformat()
    result["torch"] = torch.__version__
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    write_markdown(result, args.out + ".md")


# Dense tensor-core peaks of the H200 SXM (NVIDIA's data sheet, without sparsity), TFLOP/s, by the
# benchmark's dtype field: the GEMM roofline.
H200_PEAK_TFLOPS = {"bf16": 989.4, "f16": 989.4, "tf32": 494.7, "f32": 66.9, "fp8": 1978.9, "f8e4m3": 1978.9}


def tflops_of(r):
    return r.get("tflop_per_s") or r.get("tflops")


def write_markdown(result, path):
    copy = result["copy_gb_per_s"]
    lines = [f"# {result['gpu']} results ({result['date']}, commit {result.get('commit')})", "",
             f"Copy bandwidth measured in the same run: {copy:.1f} GB/s. torch {result.get('torch')}.", "",
             "Each row names the commit that measured it (rows of drivers a later run did not time are kept).", "",
             "| case | impl | ms | GB/s | % of copy | torch ms | torch GB/s | speedup | commit |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    gemm = [r for r in result["records"] if tflops_of(r)]
    for r in result["records"]:
        if tflops_of(r):
            continue  # compute-bound: the GEMM table below
        t = r["torch_ms"]
        tg = r["gb_per_s"] * r["ms"] / t if t else None
        lines.append(f"| {r['case']} | {r['impl']} | {r['ms']:.4f} | {r['gb_per_s']:.1f} | {100 * r['fraction_of_roofline']:.1f}% | "
                     f"{t if t is not None else '-'} | {f'{tg:.1f}' if tg else '-'} | {r['speedup_vs_torch'] or '-'} | "
                     f"{r.get('commit') or result.get('commit') or '-'} |")
    if gemm:
        lines += ["", "GEMM: TFLOP/s = 2 M N K (x batch) / time; peak = the H200's dense tensor-core peak for the dtype "
                  "(f32: the non-tensor-core FMA peak).", "",
                  "| GEMM case | impl | ms | TFLOP/s | % of peak | GB/s | torch ms | torch TFLOP/s | speedup | commit |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in gemm:
            tf, t = tflops_of(r), r.get("torch_ms")
            dt = "tf32" if "tf32" in r["case"] else r.get("dtype", "")
            peak = H200_PEAK_TFLOPS.get(dt)
            of_peak = f"{100 * tf / peak:.1f}%" if peak else "-"
            torch_tf = f"{tf * r['ms'] / t:.1f}" if t else "-"
            lines.append(f"| {r['case']} | {r['impl']} | {r['ms']:.4f} | {tf:.1f} | {of_peak} | "
                         f"{r['gb_per_s']:.1f} | {t if t is not None else '-'} | {torch_tf} | "
                         f"{r.get('speedup_vs_torch') or '-'} | {r.get('commit') or result.get('commit') or '-'} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
