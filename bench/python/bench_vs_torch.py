#!/usr/bin/env python3
"""baracuda vs PyTorch through the Python package on the cases of ../shared/PERF-BASELINE.md
(elementwise, softmax, norms, reductions, scans, GEMM), in one process on one GPU: CUDA events,
warm-up, median of N runs, inputs rotated past L2, and a 1 GiB device copy as the roofline
measured in the same run.

    python3 bench/python/bench_vs_torch.py [--out-prefix bench/results/h200] [--commit SHA]
        [--reps 30] [--quick] [--out FILE.md] [--plot FILE.png]

Timed per case: bc.ops.<op> (what a user calls: includes the Python wrapper, plan cache lookup
and output allocation), the raw plan path (baracuda.ElementwisePlan.run with preallocated
outputs, when the package exposes it), and the PyTorch expression. Bytes = each input read once
+ each output written once. Writes/merges <prefix>.json (DESIGN.md section 7: a later record for
the same case replaces the earlier one), <prefix>.md (or --out) and a PNG plot (--plot, default
<prefix>.png; skipped with a message without matplotlib).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import statistics
import subprocess
import sys

L2_ROTATE_BYTES = 200e6  # input sets smaller than this are replicated and rotated (H200 L2: 60 MB)
N268 = 1 << 28
N134 = 1 << 27


# ---------------------------------------------------------------------------------------------
# Cases: (case, op, dtype, input shape(s), bytes, bc call, torch call). Inputs are built in main().

def case_list(quick=False):
    """[dict(case, op, dtype, shapes, make, bc, torch, bytes, quick)]; make(torch, dev, seed) -> inputs."""
    cases = []

    def add(case, op, dtype, shapes, nbytes, bc_fn, torch_fn, baseline=False, attrs=None, out_dtype=None,
            family="elementwise", flops=None):
        cases.append(dict(case=case, op=op, dtype=dtype, shapes=shapes, bytes=nbytes, bc=bc_fn, torch=torch_fn,
                          baseline=baseline, attrs=attrs or {}, out_dtype=out_dtype, family=family, flops=flops))

    for dt, esz, base in (("bf16", 2, True), ("f32", 4, False)):
        add(f"add_{dt}_268M", "add", dt, [(N268,), (N268,)], 3 * esz * N268,
            lambda bc, x, y: bc.ops.add(x, y), lambda t, F, x, y: x + y, base)
        add(f"gelu_tanh_{dt}_268M", "gelu_tanh", dt, [(N268,)], 2 * esz * N268,
            lambda bc, x: bc.ops.gelu_tanh(x), lambda t, F, x: F.gelu(x, approximate="tanh"), base)
        add(f"silu_{dt}_268M", "silu", dt, [(N268,)], 2 * esz * N268,
            lambda bc, x: bc.ops.silu(x), lambda t, F, x: F.silu(x), base)
        # swiglu: x of 2^28 elements split in halves along the last dim; PyTorch unfused silu(a) * b
        add(f"swiglu_{dt}_134M", "swiglu", dt, [(32768, 8192)], 3 * esz * N134,
            lambda bc, x: bc.ops.swiglu(x), lambda t, F, x: F.silu(x[:, :4096]) * x[:, 4096:], base)
    add("exp_f32_134M_only", "exp", "f32", [(N134,)], 2 * 4 * N134,
        lambda bc, x: bc.ops.exp(x), lambda t, F, x: t.exp(x), True)
    add("exp_bf16_268M", "exp", "bf16", [(N268,)], 2 * 2 * N268,
        lambda bc, x: bc.ops.exp(x), lambda t, F, x: t.exp(x))
    add("cast_f32_to_bf16_134M", "cast", "f32", [(N134,)], 6 * N134,
        lambda bc, x: bc.ops.cast(x, "bf16"), lambda t, F, x: x.to(t.bfloat16), True, out_dtype="bf16")
    add("cast_bf16_to_f32_134M", "cast", "bf16", [(N134,)], 6 * N134,
        lambda bc, x: bc.ops.cast(x, "f32"), lambda t, F, x: x.to(t.float32), out_dtype="f32")
    # PERF-BASELINE's own swiglu layout: g of shape (2^27, 2), halves interleaved (F.silu(g[:,0]) * g[:,1]).
    add("swiglu_bf16_134M_interleaved", "swiglu", "bf16", [(N134, 2)], 3 * 2 * N134,
        lambda bc, x: bc.ops.swiglu(x), lambda t, F, x: F.silu(x[:, 0]) * x[:, 1])
    # The other families' PERF-BASELINE cases (bf16 unless named; bytes = inputs once + outputs once).
    for r, c in ((32768, 4096), (4096, 32768), (65536, 1024)):
        nb = 2 * 2 * r * c
        add(f"softmax_bf16_{r}x{c}", "softmax", "bf16", [(r, c)], nb,
            lambda bc, x: bc.ops.softmax(x, -1), lambda t, F, x: t.softmax(x, -1), c == 4096, family="softmax")
        add(f"layernorm_bf16_{r}x{c}", "layer_norm", "bf16", [(r, c), (c,), (c,)], nb,
            lambda bc, x, w, b: bc.ops.layer_norm(x, (x.shape[-1],), w, b),
            lambda t, F, x, w, b: F.layer_norm(x, (x.shape[-1],), w, b), c == 4096, family="norm")
        add(f"rmsnorm_bf16_{r}x{c}", "rms_norm", "bf16", [(r, c), (c,)], nb,
            lambda bc, x, w: bc.ops.rms_norm(x, x.shape[-1], w),
            lambda t, F, x, w: F.rms_norm(x, (x.shape[-1],), w), c == 4096, family="norm")
    n16k = 16384 * 16384
    add("sum_bf16_268M", "sum", "bf16", [(N268,)], 2 * N268,
        lambda bc, x: bc.ops.sum(x), lambda t, F, x: x.sum(), True, family="reduce")
    add("sum_rows_bf16_16k", "sum", "bf16", [(16384, 16384)], 2 * n16k,
        lambda bc, x: bc.ops.sum(x, dim=1), lambda t, F, x: x.sum(dim=1), family="reduce")
    add("sum_cols_bf16_16k", "sum", "bf16", [(16384, 16384)], 2 * n16k,
        lambda bc, x: bc.ops.sum(x, dim=0), lambda t, F, x: x.sum(dim=0), family="reduce")
    add("argmax_rows_bf16_16k", "argmax", "bf16", [(16384, 16384)], 2 * n16k,
        lambda bc, x: bc.ops.argmax(x, dim=1), lambda t, F, x: x.argmax(dim=1), True, family="reduce")
    add("logsumexp_rows_f32_16k", "logsumexp", "f32", [(16384, 16384)], 4 * n16k,
        lambda bc, x: bc.ops.logsumexp(x, 1), lambda t, F, x: t.logsumexp(x, dim=1), True, family="reduce")
    add("cumsum_rows_f32_16k", "cumsum", "f32", [(16384, 16384)], 2 * 4 * n16k,
        lambda bc, x: bc.ops.cumsum(x, 1), lambda t, F, x: t.cumsum(x, dim=1), True, family="scan")
    add("cumsum_flat_f32_268M", "cumsum", "f32", [(N268,)], 2 * 4 * N268,
        lambda bc, x: bc.ops.cumsum(x, 0), lambda t, F, x: t.cumsum(x, dim=0), True, family="scan")
    # GEMM (TFLOP/s; bytes = A + B read once, D written once).
    for m, n, k in ((8192, 8192, 8192), (4096, 4096, 4096), (4096, 14336, 4096), (16, 8192, 8192)):
        add(f"mm_bf16_{m}x{n}x{k}", "mm", "bf16", [(m, k), (k, n)], 2 * (m * k + k * n + m * n),
            lambda bc, a, b: bc.ops.mm(a, b), lambda t, F, a, b: t.mm(a, b), m != 16, family="gemm",
            flops=2 * m * n * k)
    if quick:
        cases = [c for c in cases if c["baseline"]]
    return cases


TORCH_DTYPES = {"bf16": "bfloat16", "f32": "float32", "f16": "float16", "f64": "float64"}


# ---------------------------------------------------------------------------------------------
# Timing

BATCH = 8  # calls per timed sample


def median_ms(torch, fns, reps, warmup):
    """Median over reps of the mean time of BATCH back-to-back calls (rotating over fns, one per
    input set), CUDA events. A ~1 ms GPU sleep before the first event lets the host queue the
    batch ahead of the GPU, so a sample measures GPU time, not the Python launch path (which is
    the same for both libraries' kernels but would otherwise sit between the events)."""
    for i in range(warmup):
        fns[i % len(fns)]()
    torch.cuda.synchronize()
    times = []
    k = 0
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda._sleep(2_000_000)
        a.record()
        for _ in range(BATCH):
            fns[k % len(fns)]()
            k += 1
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) / BATCH)
    return statistics.median(times)


def copy_roofline(torch, reps, warmup):
    n = 1 << 30
    src = torch.empty(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = median_ms(torch, [lambda: dst.copy_(src)], reps, warmup)
    return 2 * n / (ms * 1e-3) / 1e9, ms


def raw_plan_runner(bc, torch, c, inputs):
    """(callable, sku dict) running baracuda.ElementwisePlan directly with preallocated outputs, or
    (None, reason)."""
    EP = getattr(bc, "ElementwisePlan", None)
    if EP is None:
        return None, "package has no ElementwisePlan"
    try:
        dev = inputs[0].device
        stream = torch.cuda.current_stream(dev).cuda_stream
        specs = [(c["dtype"], tuple(x.shape), None, False) for x in inputs]
        plan = EP(c["op"], specs, "forward", c["out_dtype"], c["attrs"] or None, 16, f"cuda:{dev.index or 0}", stream)
        outs = []
        for dtype, shape, _strides, _ in plan.signature["outputs"]:
            outs.append(torch.empty(tuple(shape), dtype=getattr(torch, TORCH_DTYPES[dtype]), device=dev))
        ws = plan.workspace_size
        buf = torch.empty(ws, dtype=torch.uint8, device=dev) if ws else None

        def run(ins=inputs):
            plan.run(stream, buf, ws, list(ins), None, outs)

        run()
        return run, plan.sku
    except Exception as e:  # record the reason, keep the bc.ops numbers
        return None, f"{type(e).__name__}: {e}"


def bench_case(bc, torch, F, c, reps, warmup):
    dev = torch.device("cuda")
    tdt = getattr(torch, TORCH_DTYPES[c["dtype"]])
    set_bytes = sum(math.prod(s) for s in c["shapes"]) * torch.tensor([], dtype=tdt).element_size()
    n_sets = max(1, math.ceil(L2_ROTATE_BYTES / set_bytes))
    sets = []
    for k in range(n_sets):
        g = torch.Generator(device=dev).manual_seed(1234 + k)
        sets.append([torch.randn(s, generator=g, device=dev, dtype=tdt) for s in c["shapes"]])
    rec = {"case": c["case"], "op": c["op"], "dtype": c["dtype"], "n_sets": n_sets}
    try:
        rec["bc_ms"] = median_ms(torch, [lambda ins=ins: c["bc"](bc, *ins) for ins in sets], reps, warmup)
    except Exception as e:
        rec["bc_error"] = f"{type(e).__name__}: {e}"
    runners, sku = [], None
    for ins in (sets if c["family"] == "elementwise" else []):  # the raw plan path: elementwise only
        r, info = raw_plan_runner(bc, torch, c, ins)
        if r is None:
            rec["plan_error"] = info
            break
        runners.append(r)
        sku = info
    if runners and len(runners) == len(sets):
        rec["plan_ms"] = median_ms(torch, runners, reps, warmup)
        rec["impl"] = sku.get("impl") if isinstance(sku, dict) else None
        rec["sku"] = sku.get("string") if isinstance(sku, dict) else None
    elif c["family"] == "elementwise" and hasattr(bc.ops, "get_plan"):  # the plan bc.ops would use, for its SKU
        try:
            kw = dict(c["attrs"])
            if c["out_dtype"]:
                kw["output_dtype"] = c["out_dtype"]
            sku = bc.ops.get_plan(c["op"], *sets[0], **kw).sku
            rec["impl"], rec["sku"] = sku.get("impl"), sku.get("string")
        except Exception as e:
            rec.setdefault("plan_error", f"{type(e).__name__}: {e}")
    del runners
    try:
        rec["torch_ms"] = median_ms(torch, [lambda ins=ins: c["torch"](torch, F, *ins) for ins in sets], reps, warmup)
    except Exception as e:
        rec["torch_error"] = f"{type(e).__name__}: {e}"
    del sets
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    return rec


# ---------------------------------------------------------------------------------------------
# Results: DESIGN.md section 7 JSON, markdown, plot

def make_record(c, m, copy_gbps):
    """One DESIGN.md record. ms is the bc.ops time (the user-visible path); plan_ms (extra field)
    the raw plan.run time."""
    ms = m.get("bc_ms") or m.get("plan_ms")  # bc.ops time; the raw plan time when bc.ops failed
    gbps = c["bytes"] / (ms * 1e-3) / 1e9 if ms else None
    t = m.get("torch_ms")
    shape = c["shapes"][0]
    r = {
        "family": c["family"], "op": c["op"], "case": c["case"], "dtype": c["dtype"],
        "shape": "[" + ", ".join(str(d) for d in shape) + "]",
        "impl": m.get("impl"),
        "ms": round(ms, 5) if ms else None,
        "gb_per_s": round(gbps, 1) if gbps else None,
        "tflop_per_s": round(c["flops"] / (ms * 1e-3) / 1e12, 1) if (c["flops"] and ms) else None,
        "torch_ms": round(t, 5) if t else None,
        "speedup_vs_torch": round(t / ms, 3) if (t and ms) else None,
        "fraction_of_roofline": round(gbps / copy_gbps, 4) if (gbps and copy_gbps) else None,
    }
    pm = m.get("plan_ms")
    r["sku"] = m.get("sku")
    r["plan_ms"] = round(pm, 5) if pm else None
    r["plan_gb_per_s"] = round(c["bytes"] / (pm * 1e-3) / 1e9, 1) if pm else None
    r["torch_gb_per_s"] = round(c["bytes"] / (t * 1e-3) / 1e9, 1) if t else None
    r["ms_path"] = "bc.ops" if m.get("bc_ms") else ("plan.run" if ms else None)
    r["bytes"] = c["bytes"]
    r["runner"] = "bench/python/bench_vs_torch.py"
    for k in ("bc_error", "plan_error", "torch_error"):
        if k in m:
            r[k] = m[k][:300]
    return r


def merge_results(path, new_records, meta):
    """Loads path (if any), replaces records with the same case, appends the rest, updates meta."""
    doc = {"gpu": None, "commit": None, "date": None, "copy_gb_per_s": None, "records": []}
    if path and os.path.exists(path):
        with open(path) as f:
            doc.update(json.load(f))
    by_case = {r["case"]: i for i, r in enumerate(doc["records"])}
    for r in new_records:
        if r["case"] in by_case:
            doc["records"][by_case[r["case"]]] = r
        else:
            by_case[r["case"]] = len(doc["records"])
            doc["records"].append(r)
    doc.update({k: v for k, v in meta.items() if v is not None})
    return doc


def _f(v, fmt):
    return "-" if v is None else format(v, fmt)


def markdown(doc, title_note=""):
    lines = [f"# {doc.get('gpu')}: baracuda vs PyTorch through Python ({doc.get('date')}, commit {doc.get('commit')})", ""]
    lines.append(f"Copy roofline measured in the same run: {_f(doc.get('copy_gb_per_s'), '.1f')} GB/s (1 GiB device copy, "
                 f"read + write). torch {doc.get('torch', '?')}. {title_note}".rstrip())
    lines += ["", "`ms`/`GB/s`: through `bc.ops` (Python wrapper included); `plan ms`: raw `ElementwisePlan.run` "
              "(elementwise only); bytes = inputs read once + outputs written once; GEMM rows also give TFLOP/s.", "",
              "| case | impl | ms | GB/s | % of copy | plan ms | plan GB/s | torch ms | torch GB/s | speedup | TFLOP/s |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in doc["records"]:
        tg = r.get("torch_gb_per_s")
        if tg is None and r.get("torch_ms") and r.get("gb_per_s") and r.get("ms"):
            tg = r["gb_per_s"] * r["ms"] / r["torch_ms"]
        frac = r.get("fraction_of_roofline")
        lines.append(f"| {r['case']} | {r.get('impl') or '-'} | {_f(r.get('ms'), '.4f')} | {_f(r.get('gb_per_s'), '.1f')} | "
                     f"{'-' if frac is None else f'{100 * frac:.1f}%'} | {_f(r.get('plan_ms'), '.4f')} | "
                     f"{_f(r.get('plan_gb_per_s'), '.1f')} | {_f(r.get('torch_ms'), '.4f')} | {_f(tg, '.1f')} | "
                     f"{_f(r.get('speedup_vs_torch'), '.3f')} | {_f(r.get('tflop_per_s'), '.1f')} |")
    return "\n".join(lines) + "\n"


def plot(doc, path, cases=None):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"matplotlib is not installed: no plot written to {path}", file=sys.stderr)
        return False
    recs = [r for r in doc["records"]  # memory-bound cases (GEMM's figure is TFLOP/s: in the table only)
            if (cases is None or r["case"] in cases) and r.get("gb_per_s") and not r.get("tflop_per_s")]
    if not recs:
        return False
    names = [r["case"] for r in recs]
    ours = [r["gb_per_s"] for r in recs]
    theirs = [r.get("torch_gb_per_s") or (r["gb_per_s"] * r["ms"] / r["torch_ms"] if r.get("torch_ms") else 0)
              for r in recs]
    x = list(range(len(recs)))
    w = 0.4
    fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(recs) + 2), 5))
    ax.bar([i - w / 2 for i in x], ours, w, label="baracuda (bc.ops)")
    ax.bar([i + w / 2 for i in x], theirs, w, label="PyTorch")
    if doc.get("copy_gb_per_s"):
        ax.axhline(doc["copy_gb_per_s"], color="k", linestyle="--", linewidth=1,
                   label=f"copy roofline {doc['copy_gb_per_s']:.0f} GB/s")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("GB/s (inputs read once + outputs written once)")
    ax.set_title(f"{doc.get('gpu')} memory-bound ops, commit {doc.get('commit')}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def git_commit():
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True,
                                       stderr=subprocess.DEVNULL).strip()
    except Exception:
        return None


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-prefix", default="bench/results/h200",
                    help="results path without extension: <prefix>.json is merged, <prefix>.md written")
    ap.add_argument("--out", default=None, help="markdown table path (default <prefix>.md)")
    ap.add_argument("--plot", default=None, help="PNG plot path (default <prefix>.png)")
    ap.add_argument("--commit", default=None, help="commit recorded in the JSON (default: git rev-parse --short HEAD)")
    ap.add_argument("--reps", type=int, default=30, help="timed runs per case (median)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="PERF-BASELINE cases only, 5 runs each")
    ap.add_argument("--cases", default=None, help="comma-separated case names to run (default: all)")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch
    import torch.nn.functional as F
    import baracuda as bc

    if not torch.cuda.is_available():
        sys.exit("bench_vs_torch: no CUDA device (torch.cuda.is_available() is False)")
    reps, warmup = (5, 2) if args.quick else (args.reps, args.warmup)
    cases = case_list(args.quick)
    if args.cases:
        wanted = set(args.cases.split(","))
        cases = [c for c in cases if c["case"] in wanted]
    gpu = torch.cuda.get_device_name()
    copy_gbps, copy_ms = copy_roofline(torch, reps, warmup)
    print(f"{gpu}: copy 1 GiB {copy_ms:.4f} ms = {copy_gbps:.1f} GB/s; torch {torch.__version__}", flush=True)
    records = []
    for c in cases:
        m = bench_case(bc, torch, F, c, reps, warmup)
        r = make_record(c, m, copy_gbps)
        if r["ms"] is not None:  # a failed case must not replace an earlier good record
            records.append(r)
        print(json.dumps({k: r.get(k) for k in ("case", "impl", "ms", "gb_per_s", "plan_ms", "torch_ms",
                                                 "speedup_vs_torch", "fraction_of_roofline", "bc_error",
                                                 "plan_error", "torch_error") if r.get(k) is not None}), flush=True)
    meta = {"gpu": gpu, "commit": args.commit or git_commit(), "date": datetime.date.today().isoformat(),
            "copy_gb_per_s": round(copy_gbps, 1), "torch": torch.__version__}
    json_path = args.out_prefix + ".json"
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    doc = merge_results(json_path, records, meta)
    with open(json_path, "w") as f:
        json.dump(doc, f, indent=1)
    md_path = args.out or args.out_prefix + ".md"
    with open(md_path, "w") as f:
        f.write(markdown(doc))
    png = args.plot or args.out_prefix + ".png"
    plotted = plot(doc, png, cases={r["case"] for r in records})
    print(f"wrote {json_path}, {md_path}" + (f", {png}" if plotted else ""))


if __name__ == "__main__":
    main()
