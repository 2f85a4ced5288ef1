"""Benchmark the leak check against real browsers in the leak lab (needs root).

Builds the namespace lab (tests/lab/netlab.py: WireGuard full tunnel, coturn
STUN), then times, inside the client namespace, ``vpnguard check`` for
Chromium alone, Firefox ESR alone, and both in parallel. Each is repeated
(``--repeat``, default 3) and the median is shown. Also shows how long after
ICE gathering completed each check ended (report arrival -> process tree
gone; the page POSTs the moment gathering completes).

Targets: both-in-parallel <= 1.3x the slower single; <= 0.5 s after gathering.

    sudo /work/venv/bin/python bench/leakcheck_bench.py [--scenario full|split|novpn]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab.netlab import SCENARIOS, STUN_URL, Lab, missing_tools  # noqa: E402


def one(lab: Lab, browsers: list[str]) -> tuple[float, float, dict[str, dict[str, float]]]:
    args = ["check", "--stun", STUN_URL, "--timeout", "20", "--json"]
    for b in browsers:
        args += ["--browser", b]
    t = time.monotonic()
    proc = lab.vpnguard(*args)
    wall = time.monotonic() - t
    doc = json.loads(proc.stdout)
    per = {}
    for b in doc["browsers"]:
        if b["verdict"] == "error":
            raise SystemExit(f"{b['id']}: {b['reason']}")
        per[b["id"]] = {
            "total_ms": b["timings"]["total_ms"],
            "after_gather_ms": b["timings"].get("end_after_report_ms", float("nan")),
            "gather_ms": b["timings"].get("page_gather_ms", float("nan")),
            "protection": b["protection"],
            "verdict": b["verdict"],
        }
    return doc["duration_ms"] / 1000, wall, per


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scenario", choices=SCENARIOS, default="full")
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")
    if missing_tools():
        raise SystemExit(f"missing: {missing_tools()}")
    lab = Lab()
    try:
        lab.build()
        lab.set_scenario(a.scenario)
        runs = {
            "chromium": ["chromium"],
            "firefox-esr": ["firefox-esr"],
            "both": ["chromium", "firefox-esr"],
        }
        one(lab, ["chromium", "firefox-esr"])  # warm the page cache; not counted
        res: dict[str, list[tuple[float, float, dict[str, dict[str, float]]]]] = {
            k: [] for k in runs
        }
        for _ in range(a.repeat):
            for name, bs in runs.items():
                res[name].append(one(lab, bs))
    finally:
        lab.close()

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    print(f"leak check benchmark, lab scenario '{a.scenario}', median of {a.repeat} runs")
    head = f"{'run':<12} {'check s':>8} {'process s':>10}"
    print(head + "  per browser: total / gather / end-after-gather")
    check_s = {}
    for name, rs in res.items():
        check_s[name] = med([r[0] for r in rs])
        wall = med([r[1] for r in rs])
        parts = []
        for bid in rs[0][2]:
            tot = med([r[2][bid]["total_ms"] for r in rs])
            gat = med([r[2][bid]["gather_ms"] for r in rs])
            aft = med([r[2][bid]["after_gather_ms"] for r in rs])
            prot = rs[0][2][bid]["protection"]
            parts.append(f"{bid} ({prot}) {tot:.0f} / {gat:.0f} / {aft:.0f} ms")
        print(f"{name:<12} {check_s[name]:>8.2f} {wall:>10.2f}  " + "; ".join(parts))
    slower = max(check_s["chromium"], check_s["firefox-esr"])
    ratio = check_s["both"] / slower
    worst_after = max(r[2][b]["after_gather_ms"] for rs in res.values() for r in rs for b in r[2])
    print(
        f"both / slower single = {ratio:.2f}  (target <= 1.3)  {'OK' if ratio <= 1.3 else 'MISS'}"
    )
    print(
        f"worst end-after-gathering = {worst_after:.0f} ms  (target <= 500)  "
        f"{'OK' if worst_after <= 500 else 'MISS'}"
    )
    print("check s = run_check() duration; process s = the whole `vpnguard check` process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
