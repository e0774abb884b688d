#!/usr/bin/env python3
"""Times PyTorch on the same cases as baracuda_bench (elementwise) and baracuda_reduce_bench, in the same session on the same
GPU, and merges both into bench/results/<gpu>.json (DESIGN.md section 7) and a markdown table.

    python3 bench/torch_compare.py --bench out/bench.json --out bench/results/h200 [--commit SHA]
"""
import argparse
import datetime
import json
import statistics

import torch
import torch.nn.functional as F


def median_ms(fn, reps=30, warmup=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


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
        del x


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="JSON written by baracuda_bench --json")
    ap.add_argument("--out", required=True, help="output path without extension")
    ap.add_argument("--commit", default=None)
    args = ap.parse_args()
    with open(args.bench) as f:
        result = json.load(f)
    torch_ms = {}
    wanted = {r["case"] for r in result["records"]}
    families = sorted({r.get("family", "elementwise") for r in result["records"]})
    generators = ([torch_cases()] if "elementwise" in families else []) + ([torch_reduce_cases()] if "reduce" in families else [])
    for case, fn in (c for g in generators for c in g):
        if case not in wanted:
            continue
        torch_ms[case] = median_ms(fn)
        torch.cuda.empty_cache()
    for r in result["records"]:
        t = torch_ms.get(r["case"])
        r["torch_ms"] = round(t, 5) if t is not None else None
        r["speedup_vs_torch"] = round(t / r["ms"], 3) if t is not None else None
    result["commit"] = args.commit
    result["date"] = datetime.date.today().isoformat()
    result["torch"] = torch.__version__
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    copy = result["copy_gb_per_s"]
    lines = [f"# {result['gpu']} {'/'.join(families)} results ({result['date']}, commit {args.commit})", "",
             f"Copy bandwidth measured in the same run: {copy:.1f} GB/s. torch {torch.__version__}.", "",
             "| case | impl | ms | GB/s | % of copy | torch ms | torch GB/s | speedup |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["records"]:
        t = r["torch_ms"]
        tg = r["gb_per_s"] * r["ms"] / t if t else None
        lines.append(f"| {r['case']} | {r['impl']} | {r['ms']:.4f} | {r['gb_per_s']:.1f} | {100 * r['fraction_of_roofline']:.1f}% | "
                     f"{t if t is not None else '-'} | {f'{tg:.1f}' if tg else '-'} | {r['speedup_vs_torch'] or '-'} |")
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
