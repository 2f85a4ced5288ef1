"""A real check leaves nothing behind: no process, no temp dir, nothing in the home (issue 12)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psutil
import pytest

from vpnguard.core.host import Host
from vpnguard.core.leakcheck import Verdict, run_check
from vpnguard.core.model import Browser, Family

from .conftest import loopback_network

BROWSERS = [
    Browser(bid, name, fam, None, shutil.which(bid) or "", "system", False, ())
    for bid, name, fam in (
        ("chromium", "Chromium", Family.CHROMIUM),
        ("firefox-esr", "Firefox ESR", Family.FIREFOX),
    )
]


def listing(root: Path, depth: int) -> set[str]:
    out: set[str] = set()
    if not root.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        if len(rel.parts) >= depth:
            dirnames[:] = []
        out.update(str(rel / n) for n in dirnames + filenames)
    return out


def ours() -> set[int]:
    me = os.getpid()
    return {p.pid for p in psutil.process_iter() if p.pid != me}


@pytest.mark.skipif(
    not all(b.path for b in BROWSERS), reason="needs chromium and firefox-esr installed"
)
def test_real_check_leaves_nothing(
    coturn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's HOME and TMPDIR are private dirs here, so nothing another process does on
    this machine can blur the result: after the check both must be exactly as before
    (the old runner left org.chromium.Chromium.* in TMPDIR, and .config/chromium/Crash
    Reports and .mozilla / .config/mozilla in HOME)."""
    home = tmp_path / "home"
    home.mkdir()
    # Short, like a real TMPDIR (a long one sends the check to /tmp: see _temp_base).
    tmp = Path(tempfile.mkdtemp(prefix="vgt", dir="/tmp"))
    (home / ".profile").write_text("# the user's own file\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp))
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    before_procs = ours()
    try:
        report = run_check(
            Host.current(),
            BROWSERS,
            loopback_network(),
            stun=[coturn],
            timeout=20,
            protections={},
        )
        left_in_tmp = listing(tmp, 5)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for b in report.browsers:
        assert b.verdict is not Verdict.ERROR, b.reason
        assert [v.name.value for v in b.views] == ["no_permission", "media_permission"]
    assert left_in_tmp == set()
    assert listing(home, 5) == {".profile"}
    leftover = []
    for pid in ours() - before_procs:
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE and str(tmp) in " ".join(
                [*p.cmdline(), p.environ().get("HOME", "")]
            ):
                leftover.append((pid, p.cmdline()[:3]))
        except psutil.Error:
            continue
    assert leftover == []
