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


def test_export_dialog_reads_right_and_refuses_an_empty_path(qtbot: Any) -> None:
    from PySide6.QtWidgets import QFormLayout, QLabel

    from vpnguard.gui.dialogs import ExportDialog

    d = ExportDialog()
    qtbot.addWidget(d)
    assert [b.text() for b in d.platforms.values()] == ["Linux", "Windows", "macOS"]
    form = d.findChild(QFormLayout)
    labels = [w for w in d.findChildren(QLabel) if w.text() == "&Save to:"]
    assert labels and labels[0].buddy() is d.out  # a mnemonic, never a literal "&"
    assert form is not None
    assert d.minimumWidth() >= 520  # room for the title
    d.show()
    assert d.try_accept() is False
    assert d.isVisible() and "Choose where to save" in d.message.text()
    for box in d.platforms.values():
        box.setChecked(False)
    d.out.setText("/tmp/x.zip")
    assert d.try_accept() is False and "at least one platform" in d.message.text()


def test_replace_chosen_in_the_file_picker_replaces(
    make_window: Any, tmp_path: Path, prompter: Any, qtbot: Any
) -> None:
    from vpnguard.gui.dialogs import ExportDialog

    out = tmp_path / "bundle.zip"
    out.write_bytes(b"old")
    d = ExportDialog()
    qtbot.addWidget(d)
    d.out.setText(str(out))  # typed, not confirmed: refused with a way out
    assert d.try_accept() is False and "Browse" in d.message.text()
    d.chosen(str(out))  # the picker asked "Replace?" and the user said yes
    assert d.try_accept() is True
    platforms, level, path, force = d.request()
    assert force is True and path == str(out)
    w = make_window()
    w.run_export(platforms, level, path, force)
    assert prompter.errors == []
    assert out.read_bytes()[:2] == b"PK"  # a zip replaced the old file
    assert prompter.infos[-1][0] == "Bundle written"


def test_cancel_button_ends_a_waiting_password_prompt(
    make_window: Any, tree: Path, prompter: Any, qtbot: Any
) -> None:
    """The Cancel beside the progress bar stops the pending (real) child at once."""
    import time

    from vpnguard import elevation
    from vpnguard.gui import demo
    from vpnguard.gui.backend import Backend, HelperWriter

    def waiting(req: bytes) -> dict[str, Any]:  # a prompt nobody answers: a real child
        plan = elevation.Plan(elevation.Method.PKEXEC, ("sleep", "60"), req)
        return elevation.run_plan(plan, cancel=writer._cancel)

    writer = HelperWriter(waiting)
    backend = Backend(str(tree), network=lambda: demo.network("full"), writer=writer)
    w = make_window(backend=backend, sync=False)
    w.show()
    qtbot.waitUntil(lambda: w.report is not None and not w.runner.busy, timeout=10000)
    w.protect()
    qtbot.waitUntil(lambda: w.cancel_button.isVisible(), timeout=10000)
    assert "Waiting for the administrator password" in w.statusBar().currentMessage()
    t0 = time.monotonic()
    w.cancel_button.click()
    qtbot.waitUntil(lambda: not w.runner.busy, timeout=10000)
    assert time.monotonic() - t0 < 5
    assert w.statusBar().currentMessage() == "Cancelled: nothing was changed."
    assert prompter.errors == [] and not w.cancel_button.isVisible()
    assert not (tree / "etc/chromium/policies/managed/vpnguard.json").exists()
