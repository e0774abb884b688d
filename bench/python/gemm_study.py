#!/usr/bin/env python3
"""GEMM against PyTorch, interleaved: for each shape, R rounds of [every variant once], each a batch
of calls between CUDA events after a GPU sleep (as bench_vs_torch.py times), so clock and thermal
drift hit every variant alike; the median per variant. Variants: baracuda's default plan, its
autotuned plan (cuBLASLt's ranked tactics timed at plan time), torch through cuBLAS and torch
through cuBLASLt (torch.backends.cuda.preferred_blas_library). Then one profiled call of each
prints the kernel that ran, so a gap can be traced to the kernel choice.

    python3 bench/python/gemm_study.py [--rounds 30] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import torch

import baracuda as bc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from torch_compare import time_batch  # noqa: E402  (bench/torch_compare.py: the same-run timing)

BATCH, SLEEP_CYCLES = 8, 2_000_000


def kernels_of(fn):
    """Names of the CUDA kernels one call of fn launches (torch.profiler)."""
    fn()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    return sorted({e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA})


def torch_backend(name, fn):
    def call():
        torch.backends.cuda.preferred_blas_library(name)
        return fn()
    return call


def cases():
    dev = "cuda"
    out = []
    for m, n, k in ((8192, 8192, 8192), (4096, 4096, 4096), (4096, 14336, 4096), (1, 8192, 8192), (16, 8192, 8192),
                    (64, 8192, 8192)):
        a = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        b = torch.randn(k, n, device=dev, dtype=torch.bfloat16)
        out.append((f"mm_bf16_{m}x{n}x{k}", 2.0 * m * n * k, {
            "baracuda": lambda a=a, b=b: bc.ops.gemm(a, b),
            "baracuda_autotune": lambda a=a, b=b: bc.ops.gemm(a, b, autotune=True),
            "torch_cublas": torch_backend("cublas", lambda a=a, b=b: torch.mm(a, b)),
            "torch_cublaslt": torch_backend("cublaslt", lambda a=a, b=b: torch.mm(a, b)),
        }))
    s = 8192
    a = torch.randn(s, s, device=dev).to(torch.float8_e4m3fn)
    w = torch.randn(s, s, device=dev).to(torch.float8_e4m3fn)
    one = torch.ones((), device=dev)
    for fast in (False, True):
        out.append((f"mm_fp8_{s}" + ("_fast_accum" if fast else ""), 2.0 * s ** 3, {
            "baracuda": lambda fast=fast: bc.ops.scaled_mm(a, w.t(), one, one, out_dtype=torch.bfloat16,
                                                           use_fast_accum=fast),
            "baracuda_autotune": lambda fast=fast: bc.ops.gemm(a, w.t(), a_scale=one, b_scale=one,
                                                               out_dtype=torch.bfloat16, use_fast_accum=fast,
                                                               autotune=True),
            "torch": lambda fast=fast: torch._scaled_mm(a, w.t(), one, one, out_dtype=torch.bfloat16,
                                                        use_fast_accum=fast),
        }))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--json")
    args = ap.parse_args()
    records = []
    for name, flops, variants in cases():
        for fn in variants.values():  # plans made (and autotuned) and clocks up before timing
            for _ in range(5):
                fn()
        torch.cuda.synchronize()
        times = {v: [] for v in variants}
        for _ in range(args.rounds):
            for v, fn in variants.items():
                times[v].append(time_batch(fn, BATCH, SLEEP_CYCLES))
        med = {v: statistics.median(t) for v, t in times.items()}
        ref = med.get("torch_cublas", med.get("torch"))
        print(f"\n{name}")
        for v, ms in med.items():
            print(f"  {v:<18} {ms:8.4f} ms {flops / ms / 1e9:8.1f} TFLOP/s  {ref / ms:6.3f}x torch")
            records.append(dict(case=name, variant=v, ms=ms, tflops=flops / ms / 1e9, vs_torch=ref / ms))
        for v, fn in variants.items():
            print(f"  kernels[{v}]: {'; '.join(kernels_of(fn))}")
        gemm_module = sys.modules["baracuda.gemm"]  # the plans this case made, with the tactic each picked
        for plan, _ in gemm_module._plan_cache.values():
            print(f"  plan: {plan.sku_string}")
        gemm_module.clear_gemm_plan_cache()
        torch.backends.cuda.preferred_blas_library("cublas")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(gpu=torch.cuda.get_device_name(), records=records), f, indent=1)


if __name__ == "__main__":
    main()
