"""GUI tests run offscreen, against real fake-root trees and the real core."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import fakeroot

pytestmark = pytest.mark.gui


class FakePrompter:
    """Answers every question at once and records what the user would have seen."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.confirms: list[tuple[str, str, str]] = []
        self.errors: list[tuple[str, BaseException]] = []
        self.infos: list[tuple[str, str, str]] = []
        self.dialogs: list[Any] = []

    def confirm(self, title: str, text: str, details: str = "", yes: str = "") -> bool:
        self.confirms.append((title, text, details))
        return self.answer

    def error(self, title: str, exc: BaseException) -> None:
        self.errors.append((title, exc))

    def info(self, title: str, text: str, details: str = "") -> None:
        self.infos.append((title, text, details))

    def show_dialog(self, dialog: Any) -> int:
        self.dialogs.append(dialog)
        return 0


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    return fakeroot.debian(root)


@pytest.fixture
def prompter() -> FakePrompter:
    return FakePrompter()


@pytest.fixture
def make_window(
    qtbot: Any, tmp_path: Path, tree: Path, prompter: FakePrompter
) -> Callable[..., Any]:
    from vpnguard.gui import demo
    from vpnguard.gui.backend import Backend
    from vpnguard.gui.settings import Settings
    from vpnguard.gui.window import MainWindow
    from vpnguard.gui.worker import SyncPool, TaskRunner

    def make(
        *,
        network: str = "full",
        sync: bool = True,
        checker: Any = None,
        running: frozenset[str] = frozenset(),
        backend: Any = None,
    ) -> Any:
        backend = backend or Backend(
            str(tree),
            network=lambda: demo.network(network),
            checker=checker or demo.SimulatedChecker(seconds=0.05),
            running=running,
        )
        runner = TaskRunner(SyncPool()) if sync else None
        window = MainWindow(
            backend, Settings(tmp_path / "cfg" / "gui.ini"), runner=runner, prompter=prompter
        )
        qtbot.addWidget(window)
        return window

    return make
