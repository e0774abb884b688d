#!/usr/bin/env python3
"""Merges a device-check run's h200.json into the committed bench/results/h200.json: a case in the
new run replaces the committed row of the same case (which keeps the rows of drivers the run did
not time), every new row is stamped with the run's commit and copy rate, and the markdown is
rendered again.

    python3 bench/merge_results.py NEW.json [--into bench/results/h200.json]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_compare import write_markdown  # noqa: E402  (imports torch lazily: rendering needs none)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("new")
    ap.add_argument("--into", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "h200.json"))
    args = ap.parse_args()
    with open(args.new) as f:
        new = json.load(f)
    with open(args.into) as f:
        old = json.load(f)
    fresh = {r["case"]: dict(r, commit=new.get("commit"), copy_gb_per_s=new["copy_gb_per_s"]) for r in new["records"]}
    merged = [fresh.pop(r["case"], r) for r in old["records"]] + list(fresh.values())
    old.update(records=merged, commit=new.get("commit"), date=new.get("date"), torch=new.get("torch"),
               copy_gb_per_s=new["copy_gb_per_s"])
    with open(args.into, "w") as f:
        json.dump(old, f, indent=1)
    write_markdown(old, args.into.removesuffix(".json") + ".md")
    print(f"{args.into}: {len(new['records'])} rows from commit {new.get('commit')}, {len(merged)} in all")


if __name__ == "__main__":
    main()
