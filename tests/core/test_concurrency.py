"""Concurrent runs and kill -9 mid-write, with real processes on a fake root."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests import fakeroot
from tests.core.test_engine import FF, snapshot

CLI = [sys.executable, "-m", "vpnguard"]


def _root(tmp_path: Path) -> Path:
    root = fakeroot.debian(tmp_path / "root")
    ff = root / FF
    ff.parent.mkdir(parents=True)
    ff.write_text('{\n "policies": {"DisableTelemetry": true, "Preferences": {}}\n}\n')
    return root


def test_concurrent_protect_and_unprotect_serialize(tmp_path: Path) -> None:
    root = _root(tmp_path)
    before = snapshot(root)
    procs = [
        subprocess.Popen(
            [*CLI, cmd, "--root", str(root), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for cmd in ["protect", "unprotect"] * 4
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert json.loads(out)["ok"] is True
    journal = json.loads((root / "var/lib/vpnguard/journal.json").read_text())
    assert journal["version"] == 2
    subprocess.run(
        [*CLI, "unprotect", "--root", str(root)], check=True, timeout=60, capture_output=True
    )
    assert snapshot(root) == before


def test_kill_9_during_writes_leaves_files_whole_and_undo_exact(tmp_path: Path) -> None:
    root = _root(tmp_path)
    before = snapshot(root)
    original = (root / FF).read_bytes()
    rng = random.Random(1234)
    for i in range(24):
        cmd = "protect" if i % 3 else "unprotect"
        level = ["--level", rng.choice(["strict", "balanced"])] if cmd == "protect" else []
        p = subprocess.Popen(
            [*CLI, cmd, "--root", str(root), *level],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.03, 0.25))
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=30)
        # Whatever the moment, each file is the old one or a new one, never half.
        data = (root / FF).read_bytes()
        doc = json.loads(data)
        assert doc["policies"]["DisableTelemetry"] is True
        own = root / "etc/chromium/policies/managed/vpnguard.json"
        if own.exists():
            assert json.loads(own.read_bytes())["WebRtcIPHandling"]
    done = subprocess.run(
        [*CLI, "unprotect", "--root", str(root)], timeout=60, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (root / FF).read_bytes() == original
    assert snapshot(root) == before
    leftovers = [p for p in (root / FF).parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
