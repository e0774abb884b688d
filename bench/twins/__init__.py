"""PyTorch twins of the C++ benchmark drivers' coverage cases, one module per op family.

Each module defines `cases(torch, F)`, a generator of (case name, zero-argument callable): the
PyTorch expression that does the same work as the C++ case of that name (same shapes, dtypes and
outputs). bench/torch_compare.py times every twin whose case a driver reported, in the same
process, and skips (with a message) a twin that PyTorch cannot run.
"""
import importlib
import pkgutil


def all_cases(torch, F):
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # shared helpers, not a family
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        yield from module.cases(torch, F)
