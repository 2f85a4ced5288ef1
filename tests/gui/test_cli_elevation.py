"""`vpnguard protect` run by an ordinary user: elevate like the app, or say exactly what to run.

This machine has pkexec but no polkitd: the elevation path runs for real up to
pkexec, which cannot reach polkit; what the user reads then is checked here. A
password prompt (a running polkitd and agent) cannot be exercised here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import vpnguard

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to run as nobody"
)


def run_as_nobody(args: list[str]) -> subprocess.CompletedProcess[str]:
    """The real CLI as 'nobody' on the live system (it can write nothing there)."""
    base = Path(tempfile.mkdtemp(prefix="vpnguard-cli-nobody-"))
    try:
        base.chmod(0o755)
        shutil.copytree(Path(vpnguard.__file__).parent, base / "src" / "vpnguard")
        return subprocess.run(
            ["/usr/bin/python3", "-m", "vpnguard", *args],
            user="nobody",
            capture_output=True,
            text=True,
            timeout=60,
            cwd=base,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(base / "src")},
            stdin=subprocess.DEVNULL,
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_no_elevate_names_the_command_to_run() -> None:
    proc = run_as_nobody(
        ["protect", "--level", "balanced", "--browser", "chromium", "--no-elevate"]
    )
    assert proc.returncode == 3, proc.stderr
    assert (
        "Run it as root: sudo vpnguard protect --level balanced --browser chromium" in proc.stderr
    )


def test_unprotect_hint_names_unprotect() -> None:
    proc = run_as_nobody(["unprotect", "--no-elevate", "--json"])
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)
    assert doc["error"]["kind"] == "permission_denied"
    assert doc["error"]["message"].endswith("Run it as root: sudo vpnguard unprotect")


@pytest.mark.skipif(shutil.which("pkexec") is None, reason="needs pkexec")
def test_elevation_that_cannot_ask_falls_back_to_the_hint() -> None:
    """No agent can ask (and here no polkitd runs): exit 3, pkexec's reason, the command."""
    proc = run_as_nobody(["protect"])
    assert proc.returncode == 3, proc.stderr
    assert "No administrator password can be asked for here (no " in proc.stderr
    assert "Error getting authority" in proc.stderr or "No authentication agent" in proc.stderr
    assert proc.stderr.rstrip().endswith("Run it as root: sudo vpnguard protect --level strict")


def test_what_the_helper_answers_prints_like_a_direct_run(tmp_path: Path) -> None:
    """After elevation the CLI prints the helper's JSON; it must read as a direct run does."""
    import io
    import sys

    from tests import fakeroot
    from vpnguard.cli import Env
    from vpnguard.commands.protect import print_change, print_change_doc
    from vpnguard.core import service
    from vpnguard.privileged import TEST_ROOT_ENV

    direct_root = fakeroot.debian(tmp_path / "a")
    helper_root = fakeroot.debian(tmp_path / "b")
    direct = io.StringIO()
    print_change(Env(direct, io.StringIO()), service.protect("strict", root=str(direct_root)))
    repo = str(Path(__file__).resolve().parents[2])
    answer = subprocess.run(
        [sys.executable, "-m", "vpnguard.privileged"],
        input=b'{"version": 1, "op": "protect", "level": "strict"}',
        env={**os.environ, TEST_ROOT_ENV: str(helper_root), "PYTHONPATH": repo},
        capture_output=True,
        check=True,
        cwd=repo,
    )
    via_helper = io.StringIO()
    print_change_doc(Env(via_helper, io.StringIO()), json.loads(answer.stdout))
    assert via_helper.getvalue() == direct.getvalue()
    assert "Created" in direct.getvalue() and "chromium" in direct.getvalue()
