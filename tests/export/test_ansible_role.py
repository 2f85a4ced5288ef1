# ruff: noqa: E501
"""The bundle's Ansible role, run for real with ansible-core (``connection: local``):
on a fake root and on the real /etc; idempotent; --check --diff shows nothing; removal
restores byte for byte; malformed JSON refused; same files as install.sh."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.export.test_e2e_real_machine import fingerprint
from vpnguard.core.export import build_bundle

ADMIN_FF = b'{\n  "policies": {"DisableTelemetry": true, "Preferences": {"x.y": {"Value": 1, "Status": "default"}}},\n  "zz": [1]\n}\n'
PLAYBOOK = shutil.which("ansible-playbook", path=os.path.dirname(sys.executable))

pytestmark = pytest.mark.skipif(PLAYBOOK is None, reason="ansible-core is in the test extra")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bundle")
    b = build_bundle(["linux"], "strict", ["chromium", "firefox-esr"], ["https://meet.example.com"])
    for name, data in b.files.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.chmod(b.mode_of(name))
    return d


def play(
    bundle: Path, tmp: Path, *extra: str, root: Path | None = None
) -> tuple[dict[str, int], str]:
    env = dict(
        os.environ,
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-local"),
        ANSIBLE_REMOTE_TEMP=str(tmp / "ansible-remote"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_HOME=str(tmp / "ansible-home"),
    )
    env.pop("VPNGUARD_ROOT", None)
    args = [
        str(PLAYBOOK),
        "-i",
        "localhost,",
        "-c",
        "local",
        "playbook.yml",
        "-e",
        "vpnguard_hosts=all",
        "-e",
        "vpnguard_become=false",
        "-e",
        "ansible_python_interpreter=/usr/bin/python3",
        *(["-e", f"vpnguard_webrtc_root={root}"] if root else []),
        *extra,
    ]
    r = subprocess.run(
        args, cwd=bundle / "linux/ansible", capture_output=True, text=True, env=env, timeout=120
    )
    m = re.search(
        r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", r.stdout
    )
    assert m, r.stdout + r.stderr
    recap = dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups()), strict=True))
    return recap, r.stdout


def tree(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
    }


def admin_root(path: Path) -> Path:
    (path / "etc/firefox/policies").mkdir(parents=True)
    (path / "etc/firefox/policies/policies.json").write_bytes(ADMIN_FF)
    (path / "etc/chromium/policies/managed").mkdir(parents=True)
    (path / "etc/chromium/policies/managed/vpnguard.json").write_bytes(
        b'{"WebRtcIPHandling": "default"}\n'
    )
    return path


def test_role_on_a_fake_root(bundle: Path, tmp_path: Path) -> None:
    root = admin_root(tmp_path / "root")
    before = tree(root)
    recap, out = play(bundle, tmp_path, root=root)
    assert recap["failed"] == 0 and recap["changed"] == 1, out
    assert "vpnguard-compliance localhost: compliant" in out
    # The same files, byte for byte, as install.sh writes on the same machine.
    twin = admin_root(tmp_path / "twin")
    r = subprocess.run(
        ["bash", str(bundle / "linux/install.sh"), "--root", str(twin)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert tree(root) == tree(twin)
    # Chromium reads every file there: nothing but ours in the managed dir.
    assert os.listdir(root / "etc/chromium/policies/managed") == ["vpnguard.json"]
    # Idempotent, and a check run with --diff shows no change.
    recap, out = play(bundle, tmp_path, root=root)
    assert recap["changed"] == 0 and recap["failed"] == 0, out
    recap, out = play(bundle, tmp_path, "--check", "--diff", root=root)
    assert recap["changed"] == 0 and recap["failed"] == 0 and "+++" not in out, out
    # Removal restores what was there, byte for byte (and the folders it made go).
    recap, out = play(bundle, tmp_path, "-e", "vpnguard_webrtc_state=absent", root=root)
    assert recap["failed"] == 0 and recap["changed"] == 1, out
    assert "NOT compliant" in out  # the verify task reports the removal per host
    assert tree(root) == before


def test_role_check_mode_previews_and_refuses_malformed_json(bundle: Path, tmp_path: Path) -> None:
    root = admin_root(tmp_path / "root")
    before = tree(root)
    recap, out = play(bundle, tmp_path, "--check", "--diff", root=root)
    assert recap["changed"] == 1 and recap["failed"] == 0, out
    assert "disable_non_proxied_udp" in out and "+++" in out  # the diff shows what would change
    assert tree(root) == before  # and nothing was written
    (root / "etc/firefox/policies/policies.json").write_bytes(b'{"policies": {')
    before = tree(root)
    recap, out = play(bundle, tmp_path, root=root)
    assert recap["failed"] == 1 and "not valid JSON" in out, out
    assert tree(root) == before


@pytest.mark.root
def test_role_on_the_real_etc(bundle: Path, tmp_path: Path, system_lock: None) -> None:
    before = fingerprint()
    try:
        recap, out = play(bundle, tmp_path)
        assert recap["failed"] == 0 and "vpnguard-compliance localhost: compliant" in out, out
        recap, out = play(bundle, tmp_path, "--check", "--diff")
        assert recap["changed"] == 0 and recap["failed"] == 0 and "+++" not in out, out
    finally:
        recap, out = play(bundle, tmp_path, "-e", "vpnguard_webrtc_state=absent")
    assert recap["failed"] == 0, out
    after = fingerprint()
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == set(), sorted(changed)[:20]
