#!/usr/bin/env python3
"""Render the desktop app's main states into docs/screenshots/*.png.

Two sources:

* ``this-machine-*.png``: the real app on the machine that runs the script
  (real browser detection, real network, nothing written), at the minimum,
  a typical and a large window size, and after a real leak check.
* every other state (unprotected, protected, leak, split tunnel, conflict,
  check in progress): the real core against a fake Debian tree (chromium +
  firefox-esr) with a fixed network and a simulated leak check, because
  protecting would otherwise write this machine's /etc. Main states are shot
  at the three sizes too (``-min``, ``-large`` suffixes; the typical size has
  none).

Run under Xvfb so fonts and styles are the real ones:

    flock /tmp/vpnguard-system.lock \
        xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py

(``this-machine-checked.png`` runs a real leak check with this machine's
browsers, hence the lock.)
"""

from __future__ import annotations

import argparse
import atexit
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TYPICAL = (880, 640)
LARGE = (1400, 950)
sys.path.insert(0, str(REPO))


class AutoPrompter:
    """Say yes to everything, show nothing (the screenshots show the window)."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str, str]] = []

    def confirm(self, title: str, text: str, details: str = "", yes: str = "") -> bool:
        self.asked.append((title, text, details, yes))
        return True

    def error(self, title: str, exc: BaseException) -> None:
        raise SystemExit(f"unexpected error in {title}: {exc}")

    def info(self, *a: Any, **k: Any) -> None:
        pass

    def show_dialog(self, dialog: Any) -> int:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--scale", type=float, default=1.0, help="device pixel ratio (HiDPI)")
    parser.add_argument(
        "--no-real-check", action="store_true", help="skip the real leak check on this machine"
    )
    args = parser.parse_args()
    import os

    os.environ["QT_SCALE_FACTOR"] = str(args.scale)
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QApplication

    from tests import fakeroot
    from vpnguard.gui import demo, theme
    from vpnguard.gui.backend import Backend
    from vpnguard.gui.settings import Settings
    from vpnguard.gui.window import COL_CHECK, MainWindow

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication([sys.argv[0]])
    app.setDesktopFileName(theme.APP_ID)
    tmp = Path(tempfile.mkdtemp(prefix="vpnguard-shots-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)  # the fake roots and settings

    def wait(cond: Any, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise SystemExit("timed out")
            app.processEvents()
            time.sleep(0.01)

    def settle() -> None:
        for _ in range(20):
            app.processEvents()
            time.sleep(0.01)

    def window(
        name: str, network: str, verdicts: dict[str, str], seconds: float, dark: bool
    ) -> Any:
        root = tmp / name
        root.mkdir()
        fakeroot.debian(root)
        theme.apply_palette(app, "dark" if dark else "light")
        backend = Backend(
            str(root),
            network=lambda: demo.network(network),
            checker=demo.SimulatedChecker(verdicts, seconds=seconds),
            running=frozenset({"firefox-esr"}),
        )
        prompter: Any = AutoPrompter()
        w = MainWindow(backend, Settings(tmp / name / "gui.ini"), prompter=prompter)
        w.resize(*TYPICAL)
        w.show()
        wait(lambda: w.report is not None and not w.runner.busy)
        settle()
        return w

    def shot(w: Any, name: str) -> None:
        settle()
        path = out / f"{name}.png"
        w.grab().save(str(path))
        print(path)

    def sizes(w: Any, name: str) -> None:
        """The same state at the minimum, typical and large size."""
        for suffix, size in (("-min", None), ("-large", LARGE), ("", TYPICAL)):
            w.resize(w.minimumSize() if size is None else QSize(*size))
            settle()
            shot(w, name + suffix)

    # The real app on this machine: real detection and network, nothing written.
    from vpnguard.gui.backend import HelperWriter

    real = MainWindow(
        Backend(None, writer=HelperWriter(lambda _r: {})),
        Settings(tmp / "real" / "gui.ini"),
        prompter=AutoPrompter(),
    )
    real.resize(*TYPICAL)
    real.show()
    wait(lambda: real.report is not None and not real.runner.busy)
    sizes(real, "this-machine")
    # A real leak check with this machine's browsers (headless, nothing written). It
    # starts real browsers: run the script under flock /tmp/vpnguard-system.lock.
    if real.check_button.isEnabled() and not args.no_real_check:
        real.check()
        wait(lambda: not real.checking, timeout=120)
        shot(real, "this-machine-checked")
    real.close()

    w = window("unprotected", "full", {}, 0.2, False)
    sizes(w, "unprotected")
    w.protect()
    wait(lambda: not w.runner.busy)
    from vpnguard.gui.dialogs import Prompter

    box, _ok = Prompter(w).confirm_box(*w.prompter.asked[-1])
    box.show()
    shot(box, "confirm-protect")
    box.close()
    w.check()
    wait(lambda: not w.runner.busy)
    w.list.setCurrentItem(None)
    sizes(w, "protected")
    w.close()

    w = window("leak", "full", {"chromium": "leak"}, 0.2, False)
    w.check()
    wait(lambda: not w.runner.busy)
    sizes(w, "leak-found")
    w.close()

    w = window(
        "notproven", "full", {"chromium": "inconclusive", "firefox-esr": "inconclusive"}, 0.2, False
    )
    w.check()
    wait(lambda: not w.runner.busy)
    shot(w, "not-proven")
    w.close()

    w = window("split", "split", {}, 0.2, False)
    w.level.setCurrentIndex(1)
    w.protect()
    wait(lambda: not w.runner.busy)
    w.vpn.toggle.setChecked(True)
    shot(w, "split-tunnel")
    w.close()

    w = window("conflict", "full", {}, 0.2, False)
    managed = Path(w.backend.root) / "etc/chromium/policies/managed"
    managed.mkdir(parents=True)
    (managed / "corp.json").write_text('{"WebRtcIPHandling": "default"}')
    w.protect()
    wait(lambda: not w.runner.busy)
    shot(w, "conflict")
    w.close()

    w = window("progress", "full", {}, 1.5, True)
    w.check()
    wait(lambda: w.list.items["firefox-esr"].text(COL_CHECK) == "Testing…")
    shot(w, "check-in-progress")
    wait(lambda: not w.runner.busy)
    w.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
