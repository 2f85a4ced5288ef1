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
def test_real_check_leaves_nothing(coturn: str) -> None:
    tmp = Path(tempfile.gettempdir())
    home = Path.home()
    before_tmp, before_home = listing(tmp, 1), listing(home, 3)
    before_procs = ours()
    report = run_check(
        Host.current(), BROWSERS, loopback_network(), stun=[coturn], timeout=20, protections={}
    )
    for b in report.browsers:
        assert b.verdict is not Verdict.ERROR, b.reason
        assert [v.name.value for v in b.views] == ["no_permission", "media_permission"]
    new_tmp = {p for p in listing(tmp, 1) - before_tmp if not p.startswith("pytest-")}
    assert not [p for p in new_tmp if "chromium" in p.lower() or "vpnguard" in p or "moz" in p]
    assert not {p for p in listing(home, 3) - before_home if not p.startswith(".cache/pip")}
    assert not (home / ".config" / "chromium" / "Crash Reports").exists() or (
        ".config/chromium/Crash Reports" in before_home
    )
    assert not (home / ".mozilla").exists() or ".mozilla" in before_home
    leftover = []
    for pid in ours() - before_procs:
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE and any(
                x in " ".join(p.cmdline()) for x in ("chrom", "firefox", "crashpad")
            ):
                leftover.append((pid, p.cmdline()[:3]))
        except psutil.Error:
            continue
    assert leftover == []
