#!/usr/bin/env python3
"""Start-up cost of the headless CLI, against an honest floor measured in the same run.

What users run is a plain install, so that is what is measured: the working
tree is copied, built into a wheel and installed (with its runtime
dependencies, not editable) into a fresh venv made with the same base
interpreter, all under one temporary directory for this run. In that venv it
times, interleaved round-robin so that load from other processes hits every
case alike:

* the floor: that venv's ``python -c pass`` (``python -S -c pass`` is shown
  too, but the judge is ``-c pass``: every installed console script pays for
  ``site``);
* ``vpnguard --version``, ``vpnguard status --json`` (this machine's real
  browsers and network), ``vpnguard status --json --root FAKE`` and
  ``vpnguard protect --dry-run --json --root FAKE`` (a small Debian tree).

Each command must succeed first: a crash is never timed. It prints median and
p90 wall time, each median's ratio to the floor, and the top imports of
``vpnguard status --json`` from ``-X importtime`` (cumulative, median over a
few runs). Target: ``vpnguard status --json`` at most 4x the floor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 4.0
JUDGED = "vpnguard status --json"
FLOOR = "python -c pass"
_IGNORE = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.pyc"
)


def _run(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd, env=env)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return proc


def base_python() -> str:
    """The interpreter this venv (if any) was made from: the same Python, no venv on top."""
    return str(Path(getattr(sys, "_base_executable", sys.executable)).resolve())


def build_venv(work: Path, python: str) -> Path:
    """A fresh venv with a plain (wheel) install of the working tree and its runtime deps."""
    src = work / "src"
    shutil.copytree(REPO, src, ignore=_IGNORE)  # a clean tree: no stale build/ in the wheel
    wheels = work / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)])
    venv = work / "venv"
    _run([python, "-m", "venv", "--without-pip", str(venv)])
    vpy = venv / "bin" / "python"
    wheel = next(wheels.glob("vpnguard-*.whl"))
    _run([sys.executable, "-m", "pip", "--python", str(vpy), "install", "-q", str(wheel)])
    return venv


def fake_debian(root: Path) -> Path:
    """A Debian tree with chromium and firefox-esr, as ``--root`` sees it (nothing runs)."""
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/lib/chromium").mkdir(parents=True)
    (root / "usr/lib/firefox-esr").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "var/lib/dpkg").mkdir(parents=True)
    for exe in ("usr/bin/chromium", "usr/lib/chromium/chromium", "usr/lib/firefox-esr/firefox-esr"):
        (root / exe).write_bytes(b"#!/bin/sh\nexit 0\n")
        (root / exe).chmod(0o755)
    (root / "usr/lib/firefox-esr/application.ini").write_text("[App]\nVersion=153.7.0\n")
    os.symlink("../lib/firefox-esr/firefox-esr", root / "usr/bin/firefox-esr")
    (root / "var/lib/dpkg/status").write_text(
        "Package: chromium\nStatus: install ok installed\nVersion: 156.0.8078.108-1~deb12u1\n\n"
        "Package: firefox-esr\nStatus: install ok installed\nVersion: 153.7.0esr-1~deb12u1\n"
    )
    return root


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def measure(
    cases: dict[str, list[str]], runs: int, cwd: Path, env: dict[str, str]
) -> dict[str, list[float]]:
    for cmd in cases.values():  # each must work (a crash is not timed); also warms caches
        _run(cmd, cwd=cwd, env=env)
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for i in range(runs):
        order = names[i % len(names) :] + names[: i % len(names)]  # rotate: no fixed position
        for name in order:
            t0 = time.perf_counter()
            subprocess.run(
                cases[name],
                cwd=cwd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            times[name].append((time.perf_counter() - t0) * 1000)
    return times


def top_imports(cmd: list[str], cwd: Path, env: dict[str, str], runs: int = 5) -> list[str]:
    """``-X importtime`` of ``cmd``: modules by median cumulative time, and all self times."""
    cumulative: dict[str, list[int]] = {}
    self_total: list[int] = []
    for _ in range(runs):
        proc = _run(cmd, cwd=cwd, env={**env, "PYTHONPROFILEIMPORTTIME": "1"})
        total = 0
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cum_us, name = (part.strip() for part in line[12:].split("|"))
            total += int(self_us)
            cumulative.setdefault(name, []).append(int(cum_us))
        self_total.append(total)
    ranked = sorted(cumulative.items(), key=lambda kv: -statistics.median(kv[1]))
    lines = [f"  all imports (sum of self times): {statistics.median(self_total) / 1000:6.1f} ms"]
    lines += [f"  {statistics.median(us) / 1000:6.1f} ms  {name}" for name, us in ranked[:15]]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=31, help="runs per case (default 31)")
    parser.add_argument("--python", default=base_python(), help="base interpreter for the venv")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--check", action="store_true", help=f"exit 1 unless {JUDGED} is <= {TARGET}x the floor"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vpnguard-bench-"))
    try:
        t0 = time.perf_counter()
        venv = build_venv(work, args.python)
        built = time.perf_counter() - t0
        root = fake_debian(work / "root")
        cwd = work / "cwd"  # not the source tree: only the installed package can be imported
        cwd.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        py, vg = str(venv / "bin/python"), str(venv / "bin/vpnguard")
        cases = {
            FLOOR: [py, "-c", "pass"],
            "python -S -c pass": [py, "-S", "-c", "pass"],
            "vpnguard --version": [vg, "--version"],
            JUDGED: [vg, "status", "--json"],
            "vpnguard status --json --root": [vg, "status", "--json", "--root", str(root)],
            "vpnguard protect --dry-run --json --root": [
                *(vg, "protect", "--dry-run", "--json", "--root", str(root)),
            ],
        }
        load_before = os.getloadavg()[0]
        times = measure(cases, args.runs, cwd, env)
        load_after = os.getloadavg()[0]
        floor = statistics.median(times[FLOOR])
        version = _run([py, "-c", "import sys; print(sys.version.split()[0])"]).stdout.strip()
        print(
            f"plain install of {REPO} into a fresh venv of {args.python} (Python {version}), "
            f"built in {built:.1f} s"
        )
        print(f"{args.runs} interleaved runs per case; ratio = median / median of `{FLOOR}`")
        print(  # a shared machine: say how busy it was
            f"load average (1 min) {load_before:.2f} before, {load_after:.2f} after, "
            f"on {os.cpu_count()} CPUs"
        )
        print(f"  {'case':<42} {'median':>8} {'p90':>8} {'ratio':>7}")
        for name, values in times.items():
            med = statistics.median(values)
            print(f"  {name:<42} {med:6.1f}ms {quantile(values, 0.9):6.1f}ms {med / floor:6.2f}x")
        ratio = statistics.median(times[JUDGED]) / floor
        met = ratio <= TARGET
        print(
            f"target: {JUDGED} <= {TARGET:.1f}x floor: {'met' if met else 'NOT met'} ({ratio:.2f}x)"
        )
        print(f"top imports of `{JUDGED}` (-X importtime, cumulative, median of 5 runs):")
        print("\n".join(top_imports(cases[JUDGED], cwd, env)))
        return 0 if met or not args.check else 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
