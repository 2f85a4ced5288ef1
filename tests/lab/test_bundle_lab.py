"""An admin bundle, installed by its own install.sh on the real /etc, proven in the
leak lab: strict holds in the split tunnel for real Chromium and Firefox ESR; a file
sorting after ours in Chromium's managed dir (any name) overrides it and leaks, which
the bundle's verify.sh reports; uninstall restores /etc byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.export.test_e2e_real_machine import fingerprint
from vpnguard.core.export import build_bundle

from .netlab import LAN_ADDR, Lab
from .test_leak_lab import assert_truthful, check, srflx

pytestmark = [pytest.mark.lab, pytest.mark.root]

OVERRIDE = Path("/etc/chromium/policies/managed/zz-local-override")


def sh(script: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VPNGUARD_ROOT"}
    return subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.fixture
def linux_bundle(tmp_path: Path, system_lock: None) -> Iterator[Path]:
    b = build_bundle(["linux"], "strict", ["chromium", "firefox-esr"], None)
    for name, data in b.files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.chmod(b.mode_of(name))
    before = fingerprint()
    try:
        yield tmp_path / "linux"
    finally:
        OVERRIDE.unlink(missing_ok=True)
        r = sh(tmp_path / "linux/uninstall.sh")
        assert r.returncode == 0, r.stderr
        after = fingerprint()
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        assert changed == set(), sorted(changed)[:20]


def test_bundle_strict_holds_in_split_tunnel_and_an_override_is_caught(
    leaklab: Lab, linux_bundle: Path
) -> None:
    r = sh(linux_bundle / "install.sh")
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(OVERRIDE.parent)) == ["vpnguard.json"]
    by = assert_truthful(check(leaklab, "split"), "split")
    for bid, b in by.items():
        assert b["protection"] == "strict", bid
        assert b["verdict"] == "pass" and b["candidates"] == [], (bid, b["candidates"])
    assert sh(linux_bundle / "verify.sh").returncode == 0
    # A file read after ours (no .json needed) wins: Chromium leaks again, and both
    # the bundle's probe and vpnguard's status say why.
    OVERRIDE.write_text('{"WebRtcIPHandling": "default"}\n')
    v = sh(linux_bundle / "verify.sh")
    assert v.returncode == 1
    rows = [json.loads(x) for x in v.stdout.splitlines()]
    cr = next(x for x in rows if x["file"] == "/etc/chromium/policies/managed/vpnguard.json")
    assert cr["conflicts"][0]["file"] == str(OVERRIDE)
    by = assert_truthful(check(leaklab, "split"), "split")
    assert by["chromium"]["protection"] == "conflict"
    assert by["chromium"]["verdict"] == "leak" and srflx(by["chromium"]) == {LAN_ADDR}
    assert by["firefox-esr"]["verdict"] == "pass"
