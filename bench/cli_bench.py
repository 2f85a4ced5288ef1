#!/usr/bin/env python3
"""Start-up cost of the headless CLI, against a bare interpreter in the same run.

Prints the median wall time of `vpnguard status --json` and
`vpnguard protect --dry-run` (on this machine's real browsers, or --root DIR)
next to `python -c pass`, and the ratio. Target: <= 4x the bare interpreter.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def median_ms(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=False)  # warm the page cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--root", help="fake root to detect in (default: this machine)")
    args = parser.parse_args()
    root = ["--root", args.root] if args.root else []
    py = sys.executable
    cases = {
        "python -c pass": [py, "-c", "pass"],
        "python -I -S -c pass": [py, "-I", "-S", "-c", "pass"],
        "vpnguard status --json": [py, "-m", "vpnguard", "status", "--json", *root],
        "vpnguard protect --dry-run": [py, "-m", "vpnguard", "protect", "--dry-run", *root],
        "vpnguard --version": [py, "-m", "vpnguard", "--version"],
    }
    results = {name: median_ms(cmd, args.runs) for name, cmd in cases.items()}
    base = results["python -c pass"]
    print(f"median of {args.runs} runs each, {'root ' + args.root if args.root else 'live system'}")
    for name, ms in results.items():
        print(f"  {name:<28} {ms:8.1f} ms   {ms / base:5.2f}x bare python")
    worst = max(results["vpnguard status --json"], results["vpnguard protect --dry-run"])
    print(f"target <= 4.0x: {'met' if worst / base <= 4.0 else 'NOT met'} ({worst / base:.2f}x)")


if __name__ == "__main__":
    main()
