"""As root on this machine: the real Debian chromium and firefox-esr, real /etc files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

WATCHED = [
    Path("/etc/chromium"),
    Path("/etc/firefox"),
    Path("/usr/share/firefox-esr/distribution"),
    Path("/usr/lib/firefox-esr/distribution"),
]
CLI = [sys.executable, "-m", "vpnguard"]


def tree(paths: list[Path]) -> dict[str, object]:
    out: dict[str, object] = {}
    for base in paths:
        if not os.path.lexists(base):
            out[str(base)] = None
            continue
        if base.is_symlink():
            out[str(base)] = "link:" + os.readlink(base)
            continue
        for dirpath, _dirs, files in os.walk(base):
            st = os.stat(dirpath)
            out[dirpath] = ("dir", oct(st.st_mode))
            for f in files:
                p = Path(dirpath) / f
                out[str(p)] = (p.read_bytes(), oct(p.stat().st_mode))
    return out


def dpkg_version(pkg: str) -> str | None:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True
    )
    return proc.stdout if proc.returncode == 0 else None


@pytest.fixture
def real_system(system_lock: None) -> Iterator[None]:
    missing = [b for b in ("chromium", "firefox-esr") if not shutil.which(b)]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install {missing} (scripts/test.sh)")
        pytest.skip(f"not installed: {missing}")
    journal = Path("/var/lib/vpnguard/journal.json")
    if journal.exists() and json.loads(journal.read_text())["entries"]:
        subprocess.run([*CLI, "unprotect"], check=True, capture_output=True, timeout=60)
    before = tree(WATCHED)
    yield
    after = tree(WATCHED)
    if after != before:  # never leave this machine changed, even when a test fails
        subprocess.run([*CLI, "unprotect"], capture_output=True, timeout=60)
    assert tree(WATCHED) == before


def cli(*args: str) -> dict:
    proc = subprocess.run([*CLI, *args, "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_status_finds_debian_browsers_with_versions(real_system: None) -> None:
    doc = cli("status")
    found = {b["id"]: b for b in doc["browsers"]}
    assert found["chromium"]["version"] == dpkg_version("chromium")
    assert found["firefox-esr"]["version"] == dpkg_version("firefox-esr")
    assert "firefox" not in found  # Debian's /usr/bin/firefox is a wrapper for ESR
    assert found["chromium"]["targets"][0]["location"] == "/etc/chromium/policies/managed"
    assert doc["network"] is not None and doc["network"]["interfaces"]


def test_protect_writes_real_paths_and_unprotect_restores(real_system: None) -> None:
    before = tree(WATCHED)
    doc = cli("protect", "--level", "strict")
    paths = {c["path"] for c in doc["changes"]}
    assert "/etc/chromium/policies/managed/vpnguard.json" in paths
    own = json.loads(Path("/etc/chromium/policies/managed/vpnguard.json").read_text())
    assert own == {"WebRtcIPHandling": "disable_non_proxied_udp"}
    esr_target = next(c["path"] for c in doc["changes"] if "firefox-esr" in c["browsers"])
    prefs = json.loads(Path(esr_target).read_text())["policies"]["Preferences"]
    assert prefs["media.peerconnection.ice.proxy_only"] == {"Value": True, "Status": "locked"}
    status = {b["id"]: b["protection"] for b in cli("status")["browsers"]}
    assert status == {"chromium": "strict", "firefox-esr": "strict"}
    cli("unprotect")
    assert tree(WATCHED) == before


def test_merges_into_the_admins_distribution_file(real_system: None) -> None:
    dist = Path("/usr/lib/firefox-esr/distribution/policies.json")
    admin = b'{\n  "policies": {"DisableTelemetry": true, "DisablePocket": true}\n}\n'
    dist.parent.mkdir(parents=True, exist_ok=True)
    dist.write_bytes(admin)
    try:
        doc = cli("protect", "--browser", "firefox-esr")
        (change,) = doc["changes"]
        assert change["path"] == str(dist) and change["action"] == "modify"
        merged = json.loads(dist.read_text())["policies"]
        assert merged["DisableTelemetry"] is True and merged["DisablePocket"] is True
        assert not Path("/etc/firefox/policies/policies.json").exists()
        cli("unprotect")
        assert dist.read_bytes() == admin
    finally:
        dist.unlink(missing_ok=True)
