# ruff: noqa: E501  (admin-facing text and embedded script templates read better unwrapped)
"""install.sh / uninstall.sh: syntax, and real runs against a fake root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from vpnguard.core.export import build_bundle
from vpnguard.core.model import Level
from vpnguard.core.policy.levels import CHROMIUM_VALUES, FIREFOX_PREFS

ADMIN_FF = b'{\n    "policies": {\n        "DisableTelemetry": true,\n        "Preferences": {"browser.x": {"Value": 1, "Status": "default"}}\n    },\n    "zz": [1, 2]\n}\n'
ADMIN_CR = b'{"HomepageLocation": "https://intranet.example"}\n'


def snapshot(root: Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = p.read_bytes() if p.is_file() else None
    return out


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    b = build_bundle(
        ["linux"],
        "strict",
        ["chromium", "chrome", "firefox-esr", "firefox"],
        ["https://meet.example.com"],
    )
    d = tmp_path / "bundle"
    for name, data in b.files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.chmod(b.mode_of(name))
    return d / "linux"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "etc/firefox/policies").mkdir(parents=True)
    (r / "etc/firefox/policies/policies.json").write_bytes(ADMIN_FF)
    (r / "etc/chromium/policies/managed").mkdir(parents=True)
    (r / "etc/chromium/policies/managed/admin.json").write_bytes(ADMIN_CR)
    (r / "etc/hostname").write_text("box\n")
    return r


def run(
    script: Path, root: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), "--root", str(root), *extra],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


def test_bash_syntax(scripts: Path) -> None:
    for name in ("install.sh", "uninstall.sh"):
        r = subprocess.run(["bash", "-n", str(scripts / name)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert os.access(scripts / name, os.X_OK)


def test_install_twice_then_uninstall_is_byte_exact(scripts: Path, root: Path) -> None:
    before = snapshot(root)
    r = run(scripts / "install.sh", root)
    assert r.returncode == 0, r.stderr
    ff = json.loads((root / "etc/firefox/policies/policies.json").read_bytes())
    assert ff["policies"]["DisableTelemetry"] is True and ff["zz"] == [1, 2]
    prefs = ff["policies"]["Preferences"]
    assert prefs["browser.x"] == {"Value": 1, "Status": "default"}
    for name, value in FIREFOX_PREFS[Level.STRICT].items():
        assert prefs[name] == {"Value": value, "Status": "locked"}
    cr = json.loads((root / "etc/chromium/policies/managed/vpnguard.json").read_bytes())
    assert cr["WebRtcIPHandling"] == CHROMIUM_VALUES[Level.STRICT]
    assert cr["WebRtcIPHandlingUrl"][0]["url"] == "https://meet.example.com"
    assert (root / "etc/chromium/policies/managed/admin.json").read_bytes() == ADMIN_CR
    assert (root / "etc/opt/chrome/policies/managed/vpnguard.json").is_file()
    assert not (root / "var/lib/flatpak").exists()  # no Flatpak Chromium installed

    after_first = snapshot(root)
    r2 = run(scripts / "install.sh", root)
    assert r2.returncode == 0, r2.stderr
    assert "0 file(s) changed" in r2.stdout
    assert snapshot(root) == after_first

    r3 = run(scripts / "uninstall.sh", root)
    assert r3.returncode == 0, r3.stderr
    assert snapshot(root) == before
    r4 = run(scripts / "uninstall.sh", root)
    assert r4.returncode == 0 and "nothing to undo" in r4.stdout


def test_env_root_and_fresh_machine(scripts: Path, tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    env = dict(os.environ, VPNGUARD_ROOT=str(root))
    r = subprocess.run(
        ["bash", str(scripts / "install.sh")], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads((root / "etc/firefox/policies/policies.json").read_bytes())
    assert set(doc["policies"]["Preferences"]) == set(FIREFOX_PREFS[Level.STRICT])
    r = subprocess.run(
        ["bash", str(scripts / "uninstall.sh")], capture_output=True, text=True, env=env
    )
    assert r.returncode == 0, r.stderr
    assert list(root.iterdir()) == []


def test_distribution_policies_are_not_shadowed(scripts: Path, tmp_path: Path) -> None:
    root = tmp_path / "dist"
    dist = root / "usr/lib/firefox-esr/distribution"
    dist.mkdir(parents=True)
    (dist / "policies.json").write_bytes(ADMIN_FF)
    before = snapshot(root)
    assert run(scripts / "install.sh", root).returncode == 0
    assert not (root / "etc/firefox/policies/policies.json").exists()
    doc = json.loads((dist / "policies.json").read_bytes())
    assert doc["policies"]["DisableTelemetry"] is True
    assert set(FIREFOX_PREFS[Level.STRICT]) <= set(doc["policies"]["Preferences"])
    assert run(scripts / "uninstall.sh", root).returncode == 0
    assert snapshot(root) == before


@pytest.mark.parametrize(
    "bad",
    [
        b"{not json",
        b"[1, 2]",
        b'{"policies": []}',
        b'{"policies": {"Preferences": "x"}}',
        b"\xff\xfe",
    ],
)
def test_malformed_policies_json_is_refused_untouched(
    scripts: Path, root: Path, bad: bytes
) -> None:
    (root / "etc/firefox/policies/policies.json").write_bytes(bad)
    before = snapshot(root)
    r = run(scripts / "install.sh", root)
    assert r.returncode == 4
    assert "refused" in r.stderr and "policies.json" in r.stderr
    assert snapshot(root) == before  # nothing written anywhere, not even the Chromium file


def test_uninstall_after_admin_change_keeps_their_change(scripts: Path, root: Path) -> None:
    assert run(scripts / "install.sh", root).returncode == 0
    p = root / "etc/firefox/policies/policies.json"
    doc = json.loads(p.read_bytes())
    doc["policies"]["BlockAboutConfig"] = True
    p.write_text(json.dumps(doc, indent=4))
    assert run(scripts / "uninstall.sh", root).returncode == 0
    doc = json.loads(p.read_bytes())
    assert doc["policies"]["BlockAboutConfig"] is True
    assert doc["policies"]["DisableTelemetry"] is True
    assert doc["policies"]["Preferences"] == {"browser.x": {"Value": 1, "Status": "default"}}
    assert not (root / "etc/firefox/policies/policies.json.vpnguard-backup").exists()
    assert not (root / "etc/opt/chrome").exists()


def test_admin_value_for_our_pref_is_restored(scripts: Path, root: Path) -> None:
    p = root / "etc/firefox/policies/policies.json"
    name = next(iter(FIREFOX_PREFS[Level.STRICT]))
    p.write_text(
        json.dumps({"policies": {"Preferences": {name: {"Value": False, "Status": "default"}}}})
    )
    assert run(scripts / "install.sh", root).returncode == 0
    doc = json.loads(p.read_bytes())
    doc["policies"]["Other"] = 1  # changed since: the selective path runs
    p.write_text(json.dumps(doc))
    assert run(scripts / "uninstall.sh", root).returncode == 0
    assert json.loads(p.read_bytes())["policies"] == {
        "Preferences": {name: {"Value": False, "Status": "default"}},
        "Other": 1,
    }


def test_missing_python3_is_reported(scripts: Path, root: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sed",):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))  # type: ignore[arg-type]
    before = snapshot(root)
    r = subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(scripts / "install.sh"), "--root", str(root)],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir)},
    )
    assert r.returncode == 4
    assert "python3 is required" in r.stderr
    assert snapshot(root) == before


def test_usage_errors(scripts: Path, root: Path) -> None:
    r = run(scripts / "install.sh", root, "--bogus")
    assert r.returncode == 2 and "unknown argument" in r.stderr
    r = subprocess.run(
        ["bash", str(scripts / "install.sh"), "--root", str(root / "nope")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2


@pytest.mark.root
def test_unwritable_root_is_permission_error(scripts: Path) -> None:
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="vpnguard-export-nobody-"))
    try:
        os.chmod(base, 0o755)
        shutil.copy(scripts / "install.sh", base / "install.sh")
        os.chmod(base / "install.sh", 0o755)
        root = base / "root"
        (root / "etc/firefox/policies").mkdir(parents=True)
        (root / "etc/firefox/policies/policies.json").write_bytes(ADMIN_FF)
        for p in [root, *root.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        before = snapshot(root)
        r = subprocess.run(
            ["bash", str(base / "install.sh"), "--root", str(root)],
            capture_output=True,
            text=True,
            user="nobody",
            timeout=30,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
        )
        assert r.returncode == 3, r.stderr
        assert "permission denied" in r.stderr
        assert snapshot(root) == before
    finally:
        shutil.rmtree(base)
