"""The window's watcher of outside changes: one signal per burst, none after close()."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vpnguard.gui.live import DEBOUNCE_MS, LiveWatcher


def test_a_burst_gives_one_signal_and_close_drops_a_pending_one(tmp_path: Path, qtbot: Any) -> None:
    watched = tmp_path / "etc"
    watched.mkdir()
    w = LiveWatcher(lambda: [str(watched)], network=False)
    fired: list[int] = []
    w.changed.connect(lambda: fired.append(1))
    for i in range(5):  # a burst
        (watched / f"f{i}").write_text("x")
    qtbot.waitUntil(lambda: fired == [1], timeout=3000)
    qtbot.wait(DEBOUNCE_MS * 2)
    assert fired == [1]

    (watched / "late").write_text("x")  # a change, then the window closes at once
    qtbot.waitUntil(lambda: w.timer.isActive(), timeout=3000)
    w.close()
    assert w.watched() == []
    qtbot.wait(DEBOUNCE_MS * 3)
    (watched / "after").write_text("x")
    qtbot.wait(DEBOUNCE_MS * 3)
    assert fired == [1]
