"""CI runs the screenshot script: every state at its sizes, from the real window."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run")
def test_screenshot_script_renders_every_state(tmp_path: Path) -> None:
    from PySide6.QtGui import QImage

    from vpnguard.gui.window import MainWindow

    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    script = str(REPO / "scripts/screenshots.py")
    subprocess.run(
        [
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1600x1000x24",
            sys.executable,
            script,
            "--out",
            str(tmp_path),
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
        cwd=REPO,
    )
    sizes = {"-min": (MainWindow.MINIMUM.width(), MainWindow.MINIMUM.height()), "": (880, 640)}
    sizes["-large"] = (1400, 950)
    for state in ("this-machine", "unprotected", "protected", "leak-found"):
        for suffix, (w, h) in sizes.items():
            img = QImage(str(tmp_path / f"{state}{suffix}.png"))
            assert (img.width(), img.height()) == (w, h), (state, suffix)
            colors = {img.pixel(x, y) for x in range(0, w, 9) for y in range(0, h, 9)}
            assert len(colors) > 20, (state, suffix)  # drawn, not blank
    for single in (
        "confirm-protect",
        "not-proven",
        "split-tunnel",
        "conflict",
        "check-in-progress",
    ):
        assert (tmp_path / f"{single}.png").stat().st_size > 10_000, single
