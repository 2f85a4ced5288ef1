"""How the app asks for admin rights: plans as argument lists, outcomes as messages."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vpnguard import elevation
from vpnguard.core.model import OS
from vpnguard.privileged import parse_request

REQ = elevation.request("protect", "strict", ["chromium"])
REPO = str(Path(__file__).resolve().parents[2])


def test_request_is_what_the_helper_accepts() -> None:
    r = parse_request(REQ)
    assert (r.op, r.level, r.browsers) == ("protect", "strict", ("chromium",))
    r = parse_request(elevation.request("unprotect"))
    assert (r.op, r.level, r.browsers) == ("unprotect", None, None)


def test_linux_plan_is_pkexec_with_stdin() -> None:
    p = elevation.plan_linux(REQ, ("/usr/libexec/vpnguard/vpnguard-helper",))
    assert p.argv == ("pkexec", "--disable-internal-agent", "/usr/libexec/vpnguard/vpnguard-helper")
    assert p.stdin == REQ


def test_linux_falls_back_to_isolated_python(tmp_path: Any) -> None:
    cmd = elevation.helper_command("/opt/py/bin/python3", installed=str(tmp_path / "missing"))
    assert cmd == ("/opt/py/bin/python3", "-I", "-m", "vpnguard.privileged")


def test_windows_plan_is_runas_with_base64_argument() -> None:
    p = elevation.plan(REQ, OS.WINDOWS, python=r"C:\Program Files\vpnguard\python's.exe")
    assert p.method == "runas" and p.stdin is None
    assert p.argv[:4] == ("powershell.exe", "-NoProfile", "-NonInteractive", "-Command")
    script = p.argv[4]
    assert "-Verb RunAs" in script and "-Wait -PassThru" in script
    assert r"'C:\Program Files\vpnguard\python''s.exe'" in script  # PowerShell quoting
    b64 = base64.urlsafe_b64encode(REQ).decode()
    assert f"'--request', '{b64}'" in script
    assert "exit 1223" in script


def test_macos_plan_is_osascript_with_admin_privileges() -> None:
    p = elevation.plan(REQ, OS.MACOS, python='/Applications/vpn"guard.app/python3')
    assert p.argv[:2] == ("/usr/bin/osascript", "-e")
    script = p.argv[2]
    assert script.startswith(
        'do shell script (quoted form of "/Applications/vpn\\"guard.app/python3") & " " & '
        '(quoted form of "-I") & " " & (quoted form of "-m") & " " & '
        '(quoted form of "vpnguard.privileged") & " --request '
    )
    assert script.endswith("with administrator privileges")
    assert base64.urlsafe_b64encode(REQ).decode() in script


def test_frozen_builds_run_the_helper_executable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.frozen", True, raising=False)
    monkeypatch.setattr("sys.executable", "/Applications/vpnguard.app/Contents/MacOS/vpnguard-gui")
    p = elevation.plan(REQ, OS.MACOS)
    assert (
        '(quoted form of "/Applications/vpnguard.app/Contents/MacOS/vpnguard-helper")' in p.argv[2]
    )
    assert "-m" not in p.argv[2]
    assert elevation.frozen_helper(r"C:\vpnguard\vpnguard-gui.exe", OS.WINDOWS)[0].endswith(
        "vpnguard-helper.exe"
    )


def fake_runner(code: int, out: bytes = b"", err: bytes = b"") -> Any:
    def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.CompletedProcess(argv, code, out, err)

    return run


def test_pkexec_cancel_and_denial_are_explained() -> None:
    p = elevation.plan_linux(REQ, ("/x",))
    with pytest.raises(elevation.ElevationCancelled, match="cancelled the password prompt"):
        elevation.run_plan(p, fake_runner(126))
    with pytest.raises(elevation.ElevationDenied, match="Not authorized"):
        elevation.run_plan(p, fake_runner(127))
    with pytest.raises(elevation.ElevationCancelled):
        elevation.run_plan(elevation.plan_windows(REQ, ("py",)), fake_runner(1223))
    with pytest.raises(elevation.ElevationCancelled):
        elevation.run_plan(
            elevation.plan_macos(REQ, ("py",)), fake_runner(1, err=b"User canceled. (-128)")
        )


def test_helper_errors_keep_their_exit_code() -> None:
    doc = {"ok": False, "error": {"kind": "refused", "message": "bad", "exit_code": 4}}
    with pytest.raises(Exception) as info:
        elevation.run_plan(
            elevation.plan_linux(REQ, ("/x",)), fake_runner(4, json.dumps(doc).encode())
        )
    assert info.value.exit_code == 4 and info.value.kind == "refused"  # type: ignore[attr-defined]
    ok = {"action": "protect", "changes": [], "notices": []}
    assert (
        elevation.run_plan(
            elevation.plan_linux(REQ, ("/x",)), fake_runner(0, json.dumps(ok).encode())
        )
        == ok
    )


def test_gui_writer_reports_cancel_and_nothing_changes(
    make_window: Any, tree: Any, prompter: Any
) -> None:
    from vpnguard.gui import demo
    from vpnguard.gui.backend import Backend, HelperWriter

    def cancelled(req: bytes) -> dict[str, Any]:
        return elevation.run_plan(elevation.plan_linux(req, ("/x",)), fake_runner(126))

    backend = Backend(
        str(tree), network=lambda: demo.network("full"), writer=HelperWriter(cancelled)
    )
    w = make_window(backend=backend)
    w.refresh()
    w.protect()
    assert "administrator password" in prompter.confirms[-1][2]
    _title, exc = prompter.errors[-1]
    assert "cancelled the password prompt" in str(exc) and "Nothing was changed" in str(exc)
    assert not (tree / "etc/chromium/policies/managed/vpnguard.json").exists()


def test_gui_writer_through_the_real_helper(make_window: Any, tree: Any, monkeypatch: Any) -> None:
    """The whole elevated path minus pkexec: the real helper process on the fake tree."""
    import dataclasses
    import os
    import sys

    from vpnguard.gui import demo
    from vpnguard.gui.backend import Backend, HelperWriter
    from vpnguard.privileged import TEST_ROOT_ENV

    monkeypatch.setenv(TEST_ROOT_ENV, str(tree))

    def direct(req: bytes) -> dict[str, Any]:
        # Not -I here: the test must run this checkout's helper, not an installed one. The
        # plan is Linux's with the elevating pkexec left out (the helper runs as this user).
        linux = elevation.plan_linux(req, (sys.executable, "-m", "vpnguard.privileged"))
        p = dataclasses.replace(linux, argv=linux.argv[2:])
        return elevation.run_plan(
            p,
            lambda argv, **kw: subprocess.run(
                argv, env={**os.environ, "PYTHONPATH": REPO}, cwd=REPO, **kw
            ),
        )

    backend = Backend(str(tree), network=lambda: demo.network("full"), writer=HelperWriter(direct))
    w = make_window(backend=backend)
    w.refresh()
    w.protect()
    assert (tree / "etc/chromium/policies/managed/vpnguard.json").exists()
    assert w.overall_state() == "protected"
    assert w.last_outcome.elevated
