"""Hook and auto-mode latency, on a real wireguard-go tunnel in a namespace (run as root).

Prints: (1) time from `ip link set wg up` to the Chromium policy file written by
`vpnguard watch` (target <= 1 s); (2) wall time of the installed hook (`hook run
wireguard --event up`, already protected: the common repeat case, and first
protect) against a bare `python -c pass` (target <= 4x).

    /work/venv/bin/python bench/hooks_bench.py [--rounds N]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests import fakeroot
from tests.vpnclient.lab import PYTHON, env_with_pythonpath, lab, wait_for


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env_with_pythonpath(), check=True, capture_output=True, timeout=60)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    rounds = ap.parse_args().rounds
    # An installed package has its .pyc files (pip compiles at install); a checkout run
    # with PYTHONDONTWRITEBYTECODE=1 would recompile every module on every hook run.
    subprocess.run(
        [PYTHON, "-m", "compileall", "-q", str(Path(__file__).resolve().parents[1] / "vpnguard")],
        check=True,
        timeout=120,
    )
    with lab() as the_lab, tempfile.TemporaryDirectory(prefix="vgh-bench-") as tmp:
        root = fakeroot.debian(Path(tmp))
        wg = the_lab.client_tunnel()
        watch = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                the_lab.client,
                PYTHON,
                "-m",
                "vpnguard",
                "watch",
                "--root",
                str(root),
                "--vpn",
                wg,
            ],
            env=env_with_pythonpath(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        the_lab.procs.append(watch)  # type: ignore[arg-type]
        policy = root / "etc/chromium/policies/managed/vpnguard.json"
        assert wait_for((root / "var/lib/vpnguard/watch.pid").exists, 10)
        time.sleep(0.5)
        lat = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            the_lab.link("up")
            assert wait_for(policy.exists, 10, step=0.005)
            lat.append(time.perf_counter() - t0)
            the_lab.link("down")
            assert wait_for(lambda: not policy.exists(), 10, step=0.005)
            time.sleep(0.3)
        watch.send_signal(signal.SIGTERM)
        watch.wait(10)
        print(
            f"watch: wg up -> policy file: median {statistics.median(lat) * 1000:.0f} ms, "
            f"max {max(lat) * 1000:.0f} ms over {rounds} (target <= 1000 ms)"
        )

        bare = statistics.median(timed([PYTHON, "-c", "pass"]) for _ in range(rounds))
        hook = [
            PYTHON,
            "-m",
            "vpnguard",
            "hook",
            "run",
            "wireguard",
            "--root",
            str(root),
            "--event",
            "up",
            "--interface",
            wg,
        ]
        down = [*hook[:-3], "down", "--interface", wg]
        first = []
        for _ in range(rounds):
            first.append(timed(hook))
            timed(down)
        timed(hook)
        repeat = statistics.median(timed(hook) for _ in range(rounds))
        f = statistics.median(first)
        print(f"python -c pass: {bare * 1000:.0f} ms")
        print(
            f"hook up (first protect): {f * 1000:.0f} ms = {f / bare:.1f}x; "
            f"hook up again (no change): "
            f"{repeat * 1000:.0f} ms = {repeat / bare:.1f}x (target <= 4x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
