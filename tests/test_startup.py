"""``vpnguard status`` stays light: what it must not import, checked (not timed).

The figures are bench/cli_bench.py's job; this only fails when a heavy module
comes back onto the status path, and proves the replacements behave as the
modules they replace (lazy logging, process start times from /proc).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from tests import fakeroot

REPO = Path(__file__).resolve().parents[1]

# Modules `vpnguard status --json` used to import at start-up, each a few ms.
HEAVY = ("psutil", "netifaces", "logging", "typing", "shutil", "platform", "subprocess")
# vpnguard's own modules that status has no use for (other commands, auto mode, writing).
NOT_FOR_STATUS = (
    "vpnguard.commands.protect",
    "vpnguard.core.automode",
    "vpnguard.core.model_extra",
    "vpnguard.core.policy.engine",
    "vpnguard.core.leakcheck",
    "vpnguard.core.export",
)

# What status no longer pays for either (bench/cli_bench.py has the figures): argparse with
# gettext and locale (cli.parse_simple reads a simple command line), dataclasses with
# inspect/ast/dis/tokenize (core.record), socket with selectors (network opens _socket),
# copy and math (policy.render), importlib (cli loads a command with __import__).
STATUS_NEVER = (
    "argparse",
    "gettext",
    "locale",
    "dataclasses",
    "inspect",
    "ast",
    "dis",
    "tokenize",
    "socket",
    "selectors",
    "copy",
    "math",
    "importlib",
)

PROBE = r"""
import io, json, sys
from vpnguard.cli import Env, main
out, err = io.StringIO(), io.StringIO()
code = main(sys.argv[1:], Env(stdout=out, stderr=err))
print(json.dumps({"code": code, "err": err.getvalue(), "modules": sorted(sys.modules)}))
"""


def _run(*argv: str, no_site: bool = False) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, *(["-S"] if no_site else []), "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, object] = json.loads(proc.stdout)
    return doc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux status path")
def test_live_status_json_imports_nothing_heavy() -> None:
    doc = _run("status", "--json")
    assert doc["code"] == 0, doc["err"]
    modules = set(doc["modules"])  # type: ignore[call-overload]
    assert "vpnguard.core.network.netlink" in modules  # the network was really detected
    assert [m for m in HEAVY if m in modules] == []
    assert [m for m in NOT_FOR_STATUS if m in modules] == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux status path")
def test_live_status_json_leaves_out_what_it_no_longer_needs() -> None:
    # -S: no site, so no .pth hook of the test venv preloads importlib and friends; the
    # status path needs nothing from site-packages (psutil is never imported).
    start = subprocess.run(
        [sys.executable, "-S", "-c", "import sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.split()
    doc = _run("status", "--json", no_site=True)
    assert doc["code"] == 0, doc["err"]
    modules = set(doc["modules"]) - set(start) - {"json", "io"}  # type: ignore[call-overload]
    assert "vpnguard.core.network.netlink" in modules  # the network was really detected
    assert "vpnguard.core.record" in modules
    assert [m for m in STATUS_NEVER if m in modules] == []


def test_protect_dry_run_parses_without_argparse(tmp_path: Path) -> None:
    root = fakeroot.debian(tmp_path / "root")
    doc = _run("protect", "--dry-run", "--json", "--level", "relay", "--root", str(root))
    assert doc["code"] == 0, doc["err"]
    assert "argparse" not in doc["modules"]  # type: ignore[operator]
    doc = _run("protect", "--dry-run", "--jso", "--root", str(root))  # argparse's abbreviation
    assert doc["code"] == 0, doc["err"]
    assert "argparse" in doc["modules"]  # type: ignore[operator]


def test_service_loads_auto_mode_names_on_first_use() -> None:
    from vpnguard.core import automode, service

    assert service.AUTO_STATE_FILE == automode.STATE_FILE
    assert service.AUTO_LOCK_FILE == automode.LOCK_FILE
    assert service.WATCH_PID_FILE == automode.PID_FILE
    assert service.WATCH_STATUS_FILE == automode.STATUS_FILE
    assert service.AutoState is automode.AutoState
    assert service.AutoModeState is automode.AutoModeState
    with pytest.raises(AttributeError, match="no_such_name"):
        service.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_model_loads_its_other_values_on_first_use() -> None:
    from vpnguard.core import model, model_extra

    for name in (
        "CatalogEntry",
        "LevelAdvice",
        "FileChange",
        "TurnServer",
        "AutoChoice",
        "Action",
        "FileAction",
        "Verdict",
        "CheckPhase",
    ):
        assert getattr(model, name) is getattr(model_extra, name)
    with pytest.raises(AttributeError, match="no_such_name"):
        model.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_fake_root_protect_dry_run_imports_nothing_heavy(tmp_path: Path) -> None:
    root = fakeroot.debian(tmp_path / "root")
    doc = _run("protect", "--dry-run", "--json", "--root", str(root))
    assert doc["code"] == 0, doc["err"]
    assert [m for m in HEAVY if m in doc["modules"]] == []  # type: ignore[operator]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux status path")
def test_verbose_still_logs_through_logging() -> None:
    doc = _run("status", "-v")
    assert doc["code"] == 0
    assert "vpnguard: DEBUG vpnguard.core.network.detect: network: " in str(doc["err"])
    assert "logging" in doc["modules"]  # type: ignore[operator]


def test_lazy_logger_emits_warnings_formatted_and_drops_debug() -> None:
    code = r"""
import io, sys
from vpnguard import _lazylog
stream = io.StringIO()
fmt = "%(levelname)s %(name)s: %(message)s"
_lazylog.configure(level=_lazylog.WARNING, stream=stream, format=fmt)
log = _lazylog.get_logger("vpnguard.x")
log.debug("not %s", "shown")
assert "logging" not in sys.modules
log.warning("shown %d", 1)
print(stream.getvalue(), end="")
"""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "WARNING vpnguard.x: shown 1\n"


@pytest.mark.skipif(not os.path.isfile("/proc/stat"), reason="reads /proc")
def test_process_start_from_proc_agrees_with_psutil() -> None:
    from vpnguard.core.policy.status import _linux_started_before

    name = f"vgs{secrets.token_hex(4)}"  # a process name nobody else runs
    base = Path(tempfile.mkdtemp(prefix="vpnguard-start-"))
    exe = base / name
    shutil.copy("/bin/sleep", exe)
    child = subprocess.Popen([str(exe), "30"])
    try:
        proc = psutil.Process(child.pid)
        deadline = time.monotonic() + 5
        while proc.name() != name and time.monotonic() < deadline:  # until exec is done
            time.sleep(0.01)
        started = proc.create_time()
        assert _linux_started_before({name}, started + 1.0) is True
        assert _linux_started_before({name}, started - 1.0) is False
        assert _linux_started_before({name + "x"}, started + 1.0) is False
    finally:
        child.kill()
        child.wait(timeout=5)
        shutil.rmtree(base)
