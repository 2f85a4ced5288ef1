"""Shared fixtures.

Tests that write the real system (``/etc``, namespaces) take one machine-wide
lock so that parallel test runs (or developers) never see each other's files.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

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
