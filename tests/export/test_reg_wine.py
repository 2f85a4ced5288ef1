"""The .reg pair imported by a real registry implementation: Debian's Wine
(``regedit /S`` headless in a throw-away prefix), read back with ``regedit /E`` and
the independent parser; the undo .reg removes our values and only ours."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.export.regparse import parse_reg
from vpnguard.core.export import Bundle, build_bundle

WINE = shutil.which("wine64") or shutil.which("wine") or "/usr/lib/wine/wine64"
pytestmark = pytest.mark.skipif(
    not os.access(WINE, os.X_OK), reason="apt-get install wine64 (scripts/test.sh does)"
)
POLICIES = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies"


def wine(prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # wineserver's socket dir goes to TMPDIR: inside the test's own dir, not /tmp
    env = dict(os.environ, WINEPREFIX=str(prefix), TMPDIR=str(prefix.parent))
    env.update(WINEDEBUG="-all", DISPLAY="")
    env["WINEDLLOVERRIDES"] = "mscoree,mshtml="  # no Mono/Gecko install prompts
    return subprocess.run([WINE, *args], capture_output=True, text=True, env=env, timeout=120)


def win(path: Path) -> str:
    return "Z:" + str(path).replace("/", "\\")


def exported(prefix: Path, tmp: Path) -> dict[str, dict[str, tuple[str, object]]]:
    out = tmp / "export.reg"
    r = wine(prefix, "regedit", "/E", win(out), POLICIES)
    assert r.returncode == 0 and out.exists(), r.stderr
    return {k.path: k.values for k in parse_reg(out.read_bytes())}


def test_reg_import_and_undo_in_wine(tmp_path: Path) -> None:
    b = build_bundle(["windows"], "strict", None, ["https://meet.example.com"])
    for name in ("windows/vpnguard-webrtc.reg", "windows/vpnguard-webrtc-undo.reg"):
        (tmp_path / Path(name).name).write_bytes(b.files[name])
    prefix = tmp_path / "prefix"  # made by the first call (about 6 s)
    server = shutil.which("wineserver") or "/usr/lib/wine/wineserver"
    env = dict(os.environ, WINEPREFIX=str(prefix), TMPDIR=str(tmp_path))
    try:
        _run(b, tmp_path, prefix)
    finally:  # never leave a wineserver behind
        subprocess.run([server, "-k"], env=env, capture_output=True, timeout=30)
        subprocess.run([server, "-w"], env=env, capture_output=True, timeout=30)


def _run(b: Bundle, tmp_path: Path, prefix: Path) -> None:
    # An admin's own policy in the same key must survive both files.
    r = wine(prefix, "reg", "add", r"HKLM\SOFTWARE\Policies\Google\Chrome", "/v",
             "HomepageLocation", "/t", "REG_SZ", "/d", "https://corp.example", "/f")  # fmt: skip
    assert r.returncode == 0, r.stderr
    ours = {k.path: k.values for k in parse_reg(b.files["windows/vpnguard-webrtc.reg"])}

    r = wine(prefix, "regedit", "/S", win(tmp_path / "vpnguard-webrtc.reg"))
    assert r.returncode == 0, r.stderr
    got = exported(prefix, tmp_path)
    for key, values in ours.items():
        for name, value in values.items():
            assert got[key][name] == value, (key, name)
    chrome = got[POLICIES + r"\Google\Chrome"]
    assert chrome["HomepageLocation"] == ("REG_SZ", "https://corp.example")

    r = wine(prefix, "regedit", "/S", win(tmp_path / "vpnguard-webrtc-undo.reg"))
    assert r.returncode == 0, r.stderr
    got = exported(prefix, tmp_path)
    for key, values in ours.items():
        assert not set(values) & set(got.get(key, {})), key
    assert got[POLICIES + r"\Google\Chrome"] == {
        "HomepageLocation": ("REG_SZ", "https://corp.example")
    }
