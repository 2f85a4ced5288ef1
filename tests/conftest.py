"""Shared fixtures.

Tests that write the real system (``/etc``, namespaces) take one machine-wide
lock so that parallel test runs (or developers) never see each other's files.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SYSTEM_LOCK = (
    Path("/run/vpnguard-tests.lock") if os.path.isdir("/run") else Path("/tmp/vpnguard-tests.lock")
)


@pytest.fixture
def system_lock() -> Iterator[None]:
    """Serialize tests that touch real system paths (/etc policy dirs, /var/lib/vpnguard)."""
    SYSTEM_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(SYSTEM_LOCK, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    skip_root = pytest.mark.skip(reason="needs root (run as root, as CI does)")
    for item in items:
        if ("root" in item.keywords or "lab" in item.keywords) and not is_root:
            item.add_marker(skip_root)


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite's own vpnguard cache dir (Firefox's kept start-up caches), never the user's.

    Set in the environment, so the CLI runs of the lab tests get it too.
    """
    old = os.environ.get("VPNGUARD_CACHE_DIR")
    os.environ["VPNGUARD_CACHE_DIR"] = str(tmp_path_factory.mktemp("vpnguard-cache"))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("VPNGUARD_CACHE_DIR", None)
        else:
            os.environ["VPNGUARD_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vpnguard built once as a wheel, the way users install it (not the source tree).

    Built with isolation, so the declared build requirements are what counts.
    A build failure fails the tests that need the wheel: it is never skipped.
    """
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"building the wheel failed:\n{proc.stderr[-3000:]}"
    return next(out.glob("vpnguard-*.whl"))


# --- a cap on skips: a skipped test proves nothing, so more of them than agreed fails ---

MAX_SKIPS_ENV = "VPNGUARD_MAX_SKIPS"


def _skip_cap(session: pytest.Session) -> tuple[int, int] | None:
    """(skips, cap) when ``VPNGUARD_MAX_SKIPS`` is set (scripts/test.sh sets it), else None."""
    raw = os.environ.get(MAX_SKIPS_ENV)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if raw is None or reporter is None:
        return None
    return len(reporter.stats.get("skipped", [])), int(raw)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    cap = _skip_cap(session)
    if cap is not None and cap[0] > cap[1] and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    cap = _skip_cap(terminalreporter._session)
    if cap is not None and cap[0] > cap[1]:
        terminalreporter.write_line(
            f"FAILED: {cap[0]} tests skipped, more than {MAX_SKIPS_ENV}={cap[1]} allows "
            "(the reasons are listed below: install what is missing, or run as root)",
            red=True,
            bold=True,
        )
