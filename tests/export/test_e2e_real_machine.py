"""Install the Linux bundle with its own install.sh on the real machine, read the
policy back, uninstall, and prove /etc is byte-for-byte what it was."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from vpnguard.core.export import build_bundle
from vpnguard.core.model import Level
from vpnguard.core.policy.levels import CHROMIUM_VALUES, FIREFOX_PREFS

WATCHED = (Path("/etc"), Path("/var/lib/vpnguard"), Path("/usr/lib/firefox-esr/distribution"))


def fingerprint() -> dict[str, str]:
    out: dict[str, str] = {}
    for top in WATCHED:
        if not top.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            st = os.lstat(dirpath)
            out[dirpath] = f"dir {st.st_mode:o} {st.st_uid}:{st.st_gid}"
            for name in filenames + [
                d for d in dirnames if os.path.islink(os.path.join(dirpath, d))
            ]:
                p = os.path.join(dirpath, name)
                st = os.lstat(p)
                if os.path.islink(p):
                    out[p] = "link " + os.readlink(p)
                elif os.path.isfile(p):
                    try:
                        with open(p, "rb") as fh:
                            digest = hashlib.sha256(fh.read()).hexdigest()
                    except OSError:
                        digest = "unreadable"
                    out[p] = f"file {st.st_mode:o} {st.st_uid}:{st.st_gid} {digest}"
    return out


@pytest.mark.root
def test_linux_bundle_on_real_machine(tmp_path: Path, system_lock: None) -> None:
    b = build_bundle(["linux"], "strict", ["chromium", "firefox-esr"], ["https://meet.example.com"])
    for name, data in b.files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.chmod(b.mode_of(name))
    before = fingerprint()
    env = {k: v for k, v in os.environ.items() if k != "VPNGUARD_ROOT"}
    try:
        r = subprocess.run(
            ["bash", str(tmp_path / "linux/install.sh")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        chromium = json.loads(Path("/etc/chromium/policies/managed/vpnguard.json").read_bytes())
        assert chromium["WebRtcIPHandling"] == CHROMIUM_VALUES[Level.STRICT]
        ff = json.loads(Path("/etc/firefox/policies/policies.json").read_bytes())
        prefs = ff["policies"]["Preferences"]
        for name, value in FIREFOX_PREFS[Level.STRICT].items():
            assert prefs[name] == {"Value": value, "Status": "locked"}
        # The same read-back `vpnguard status` uses (vpnguard.core.policy.status).
        from vpnguard.core.browsers.detect import detect_browsers
        from vpnguard.core.host import Host
        from vpnguard.core.model import Protection
        from vpnguard.core.policy.status import read_state

        host = Host.current()
        found = detect_browsers(host, ["chromium", "firefox-esr"])
        assert {b.id for b in found} == {"chromium", "firefox-esr"}
        for browser in found:
            assert read_state(host, browser).protection is Protection.STRICT, browser.id
        r2 = subprocess.run(
            ["bash", str(tmp_path / "linux/install.sh")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r2.returncode == 0 and "0 file(s) changed" in r2.stdout
    finally:
        r3 = subprocess.run(
            ["bash", str(tmp_path / "linux/uninstall.sh")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert r3.returncode == 0, r3.stderr
    after = fingerprint()
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == set(), sorted(changed)[:20]
