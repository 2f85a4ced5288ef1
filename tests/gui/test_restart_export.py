"""Graceful restart (terminate, wait, relaunch; never kill) and the export menu entry."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from vpnguard.core.errors import RefusedError
from vpnguard.core.model import Browser, Family
from vpnguard.gui.restart import restart

FF = Browser(
    "firefox-esr", "Firefox ESR", Family.FIREFOX, "153", "/usr/bin/firefox-esr", "system", True, ()
)


def test_restart_terminates_waits_and_relaunches(tmp_path: Path) -> None:
    old = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    marker = tmp_path / "relaunched"
    try:
        msg = restart(
            FF,
            find=lambda b: [psutil.Process(old.pid)],
            launch=[sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"],
            wait_s=10,
        )
        old.wait(timeout=5)  # it exited (psutil reaped it, so its status reads 0 here)
        assert "was restarted" in msg
        for _ in range(100):
            if marker.exists():
                break
            time.sleep(0.05)
        assert marker.exists()
    finally:
        if old.poll() is None:
            old.kill()


STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print(flush=True)
time.sleep(60)
"""


def test_a_browser_that_will_not_close_is_left_alone(tmp_path: Path) -> None:
    stubborn = subprocess.Popen(
        [sys.executable, "-c", STUBBORN],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout is not None
    stubborn.stdout.readline()  # SIGTERM handler installed
    try:
        with pytest.raises(RefusedError, match="did not close"):
            restart(FF, find=lambda b: [psutil.Process(stubborn.pid)], launch=["true"], wait_s=0.5)
        assert stubborn.poll() is None  # still running: never killed
    finally:
        stubborn.kill()


def test_nothing_running_means_nothing_to_do() -> None:
    assert "not running any more" in restart(FF, find=lambda b: [])


def test_export_menu_writes_a_bundle(make_window: Any, tmp_path: Path, prompter: Any) -> None:
    out = tmp_path / "bundle.zip"

    def fill(dialog: Any) -> int:
        prompter.dialogs.append(dialog)
        dialog.out.setText(str(out))
        return 1

    prompter.show_dialog = fill
    w = make_window()
    w.export_bundle()
    assert out.is_file() and out.stat().st_size > 0
    assert prompter.infos[-1][0] == "Bundle written"
