"""Starting the app: `vpnguard gui`, `vpnguard-gui`, and never as root on the live system."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vpnguard.cli import Env, main
from vpnguard.gui.app import refuse_root

REPO = Path(__file__).resolve().parents[2]


HELP_PROBE = """
import contextlib, io, sys
from vpnguard.cli import Env, main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    rc = main(["gui", "--help"], Env(out, out))
assert rc == 0 and "--root" in out.getvalue(), out.getvalue()
bad = [m for m in sys.modules if m.startswith(("PySide6", "shiboken6"))]
assert not bad, bad
"""


def test_gui_help_does_not_import_qt() -> None:
    subprocess.run([sys.executable, "-c", HELP_PROBE], check=True, cwd=REPO, timeout=60)


@pytest.mark.skipif(os.geteuid() != 0, reason="the refusal is about running as root")
def test_gui_refuses_to_run_as_root_on_the_live_system() -> None:
    err = io.StringIO()
    rc = main(["gui"], Env(io.StringIO(), err))
    assert rc == 4
    assert "does not run as root" in err.getvalue()


def test_refusal_rule() -> None:
    assert refuse_root("/tmp/tree") is None  # a file tree is fine, even for root
    if os.geteuid() == 0:
        assert refuse_root(None) is not None


def test_missing_root_tree_is_a_usage_error(tmp_path: Path) -> None:
    err = io.StringIO()
    rc = main(["gui", "--root", str(tmp_path / "nope")], Env(io.StringIO(), err))
    assert rc == 2
    assert "does not exist" in err.getvalue()


def test_gui_launcher_starts_and_quits_on_a_tree(tree: Path, tmp_path: Path) -> None:
    """vpnguard-gui --root DIR really opens a window (offscreen) and exits cleanly."""
    code = (
        "import sys; from PySide6.QtCore import QTimer; from PySide6.QtWidgets import QApplication;"
        "app = QApplication(sys.argv[:1]);"
        "QTimer.singleShot(1500, app.quit);"
        "from vpnguard.gui.app import main;"
        f"sys.exit(main(['--root', {str(tree)!r}, '--config-dir', {str(tmp_path / 'cfg')!r}]))"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert (tmp_path / "cfg" / "gui.ini").is_file()  # window state saved on quit
