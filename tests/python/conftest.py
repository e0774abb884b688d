"""pytest setup for the Python tests: makes parity_table importable under any import mode and
prints the parity check counts at the end of the run."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import parity_table  # noqa: E402


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stats = parity_table.STATS
    if not stats:
        return
    terminalreporter.section("baracuda parity checks (one per op x dtype x device x variant x attr set)")
    for kind in ("forward", "backward"):
        parts = [f"{stats[f'{kind} {what}']} {what}"
                 for what in ("passed", "failed", "known difference", "not supported by torch")
                 if stats[f"{kind} {what}"]]
        if parts:
            terminalreporter.write_line(f"{kind}: " + ", ".join(parts))
