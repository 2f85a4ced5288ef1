"""The one lock (core.lock): policy changes, auto mode's state and the single watch share it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vpnguard.core.errors import RefusedError
from vpnguard.core.lock import exclusive
from vpnguard.vpnclient.fsutil import locked

HOLD = (
    "import sys; from pathlib import Path; from vpnguard.core.lock import exclusive\n"
    "with exclusive(Path(sys.argv[1])):\n"
    "    print('held', flush=True); sys.stdin.read()\n"
)


def _holder(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.parametrize("user", ["core", "hooks"])
def test_a_held_lock_refuses_after_the_wait_naming_the_holder(tmp_path: Path, user: str) -> None:
    path = tmp_path / "state" / "auto.lock"
    proc = _holder(path)
    try:
        with pytest.raises(RefusedError) as err:
            if user == "core":
                with exclusive(path, wait_s=0.2):
                    pass
            else:
                with locked(path, wait_s=0.2):
                    pass
        assert f"pid {proc.pid}" in err.value.message
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
    with exclusive(path, wait_s=0.2):  # released with the holder
        assert path.read_text().strip() == str(os.getpid())


def test_clear_on_release_empties_the_pid_file(tmp_path: Path) -> None:
    path = tmp_path / "watch.pid"
    with exclusive(path, wait_s=0, mode=0o644, clear_on_release=True):
        assert path.read_text().strip().isdigit()
        assert path.stat().st_mode & 0o777 == 0o644 & ~_umask()
    assert path.read_text() == ""


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old
