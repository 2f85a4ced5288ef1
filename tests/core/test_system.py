"""Per-OS strategies (host, browser finders, elevation): ABC + factory + Null fallback."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vpnguard import elevation
from vpnguard.core.browsers import detect
from vpnguard.core.browsers.catalog import BY_ID
from vpnguard.core.errors import NeedsElevationError, RefusedError
from vpnguard.core.host import (
    SYSTEMS,
    Host,
    LinuxSystem,
    MacosSystem,
    NullSystem,
    WindowsSystem,
    current_os,
    system_for,
    windows_token_is_elevated,
)
from vpnguard.core.model import OS


def test_every_os_has_its_strategies_and_anything_else_gets_the_null_ones() -> None:
    assert set(SYSTEMS) == set(OS) == set(detect.FINDERS) == set(elevation.ELEVATORS)
    assert isinstance(system_for(None), NullSystem)
    assert isinstance(elevation.elevator_for(None), elevation.NullElevator)
    assert current_os("win32") is OS.WINDOWS and current_os("darwin") is OS.MACOS
    assert current_os("linux") is OS.LINUX


def test_null_strategies_refuse_clearly(tmp_path: Path) -> None:
    host = Host.current(tmp_path)
    null = NullSystem()
    assert null.is_admin() is False
    with pytest.raises(RefusedError):
        null.state_dir(host)
    with pytest.raises(NeedsElevationError):
        elevation.NullElevator().plan(b"{}")
    assert detect.NullFinder(host).find(BY_ID["chromium"], set()) is None


def test_state_and_log_dirs_per_os(tmp_path: Path) -> None:
    base = Host.current(tmp_path)
    env = {"PROGRAMDATA": r"C:\ProgramData"}
    win = dataclasses.replace(base, os=OS.WINDOWS, environ=env, system=WindowsSystem())
    mac = dataclasses.replace(base, os=OS.MACOS, environ={}, system=MacosSystem())
    lin = dataclasses.replace(base, environ={}, system=LinuxSystem())
    assert win.state_dir() == tmp_path / "C/ProgramData/vpnguard"
    assert win.system_log_dir() == tmp_path / "C/ProgramData/vpnguard/logs"
    assert mac.state_dir() == tmp_path / "Library/Application Support/vpnguard"
    assert mac.system_log_dir() == tmp_path / "Library/Logs/vpnguard"
    assert lin.state_dir() == tmp_path / "var/lib/vpnguard"
    assert lin.system_log_dir() == tmp_path / "var/log/vpnguard"


def test_admin_check_is_an_injected_adapter(tmp_path: Path) -> None:
    base = Host.current(tmp_path)
    # The Windows strategy asks shell32.IsUserAnAdmin; off Windows there is no windll: False.
    assert windows_token_is_elevated() is False
    assert WindowsSystem().is_admin() is False
    elevated = dataclasses.replace(base, os=OS.WINDOWS, system=WindowsSystem(lambda: True))
    assert elevated.is_admin is True
    assert Host.current(tmp_path, OS.WINDOWS).system.path_sep == ";"


def test_posix_admin_is_the_effective_uid() -> None:
    assert Host.current().is_admin == (os.geteuid() == 0)
    if os.geteuid() != 0:
        pytest.skip("dropping the effective uid needs root")  # the line above covered it
    # Real uid stays 0; only the effective uid drops, as after seteuid in a setuid program.
    code = (
        "import os; from vpnguard.core.host import Host; os.seteuid(65534);"
        "print(Host.current().is_admin, os.getuid())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["False", "0"]


def test_plans_per_os_come_from_their_elevator() -> None:
    req = elevation.request("protect", "strict")
    assert elevation.plan(req, OS.LINUX).method is elevation.Method.PKEXEC
    assert elevation.plan(req, OS.WINDOWS).method is elevation.Method.RUNAS
    assert elevation.plan(req, OS.MACOS).method is elevation.Method.OSASCRIPT
    cancelled = elevation.PolkitElevator().refusal(elevation.PKEXEC_CANCELLED, b"")
    assert isinstance(cancelled, elevation.ElevationCancelled)
    assert elevation.OsascriptElevator().refusal(1, b"execution error: User canceled. (-128)")
    assert elevation.UacElevator().refusal(1, b"") is None
