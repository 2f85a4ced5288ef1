"""The window against a real core run on fake Debian trees."""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from vpnguard.core.errors import NeedsElevationError
from vpnguard.core.model import Protection
from vpnguard.gui import demo
from vpnguard.gui.backend import Backend
from vpnguard.gui.window import COL_BROWSER, COL_CHECK, COL_NOTE, COL_PROTECTION

CHROMIUM_FILE = "etc/chromium/policies/managed/vpnguard.json"
FIREFOX_FILE = "etc/firefox/policies/policies.json"


def _run_delay() -> float:
    """Seconds this thread has waited for a CPU while runnable (Linux schedstat); 0 elsewhere."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


class LoopTicks:
    """Ticks of the GUI thread's event loop, each with the thread's run delay so far.

    A gap between ticks minus the run delay inside it is time the GUI thread was not
    waiting for a CPU: blocked (on the GIL, a lock, a join) or busy itself. That is what
    a check that holds up the window causes. Time the machine gave the thread no CPU
    (other processes, a CI container's CPU quota pausing the whole test for half a
    second) is run delay and is not the window's doing: seen, with the test's process
    tree held to 0.5 CPU per 1 s period, raw gaps of 0.75 s that were all run delay.
    """

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []

    def tick(self) -> None:
        self.samples.append((time.perf_counter(), _run_delay()))

    def __len__(self) -> int:
        return len(self.samples)

    def stall(self) -> float:
        """The longest gap the GUI thread itself is to blame for."""
        return max((t1 - t0) - (d1 - d0) for (t0, d0), (t1, d1) in itertools.pairwise(self.samples))

    def raw(self) -> float:
        return max(t1 - t0 for (t0, _), (t1, _) in itertools.pairwise(self.samples))


def test_shows_detected_browsers_and_network(make_window: Any) -> None:
    w = make_window(network="full")
    w.refresh()
    assert list(w.list.items) == ["chromium", "firefox-esr"]
    chromium = w.list.items["chromium"]
    assert chromium.toolTip(COL_BROWSER).startswith("Chromium 156.0")
    assert w.list.items["firefox-esr"].toolTip(COL_BROWSER).startswith("Firefox ESR 153.7")
    assert chromium.text(COL_PROTECTION) == "Not protected"
    assert chromium.text(COL_BROWSER) == "Chromium"  # not running
    assert w.vpn.headline.text() == "WireGuard wg0 is up and carries your internet traffic."
    assert w.overall_state() == "unprotected"
    assert w.undo_button.isEnabled() is False
    assert w.protect_button.isEnabled()


def test_split_tunnel_is_said_plainly(make_window: Any) -> None:
    w = make_window(network="split")
    w.refresh()
    assert "bypasses it (split tunnel)" in w.vpn.headline.text()
    assert "Balanced does not hold here" in w.vpn.sub.text()  # plain words; the rule is core's
    w.vpn.toggle.setChecked(True)
    assert "eth0" in w.vpn.details.text() and "outside the VPN" in w.vpn.details.text()


def test_protect_writes_files_then_undo_restores(
    make_window: Any, tree: Path, prompter: Any
) -> None:
    # An admin's own Firefox policy that must survive protect and undo byte for byte.
    admin = tree / FIREFOX_FILE
    admin.parent.mkdir(parents=True)
    original = b'{"policies": {"DisableTelemetry": true}}\n'
    admin.write_bytes(original)
    w = make_window()
    w.refresh()
    assert w.level.currentData() == "relay"  # a new user starts at the recommended level
    w.level.setCurrentIndex(w.level.findData("strict"))
    w.protect()
    _title, text, details = prompter.confirms[-1]
    assert "strict" in text and "Chromium" in text and "Firefox ESR" in text
    assert "Managed by your organization" in details
    assert CHROMIUM_FILE.split("/")[-1] in details
    chromium = json.loads((tree / CHROMIUM_FILE).read_text())
    assert chromium == {"WebRtcIPHandling": "disable_non_proxied_udp"}
    ff = json.loads(admin.read_text())["policies"]
    assert ff["DisableTelemetry"] is True
    assert ff["Preferences"]["media.peerconnection.ice.proxy_only"]["Status"] == "locked"
    # Chromium's one setting for Strict and Relay behaves as Relay there
    assert w.list.items["chromium"].text(COL_PROTECTION) == "Protected (Relay)"
    assert w.overall_state() == "protected"
    assert w.undo_button.isEnabled()

    w.unprotect()
    assert "restore exactly" in prompter.confirms[-1][1]
    assert not (tree / CHROMIUM_FILE).exists()
    assert admin.read_bytes() == original
    assert w.list.items["chromium"].text(COL_PROTECTION) == "Not protected"
    assert prompter.errors == []


def test_cancel_changes_nothing(make_window: Any, tree: Path, prompter: Any) -> None:
    prompter.answer = False
    w = make_window()
    w.refresh()
    w.protect()
    assert prompter.confirms
    assert not (tree / CHROMIUM_FILE).exists()
    assert "nothing was changed" in w.statusBar().currentMessage()


def test_balanced_explained_and_restart_offered(
    make_window: Any, tree: Path, prompter: Any
) -> None:
    w = make_window(network="split", running=frozenset({"firefox-esr"}))
    w.refresh()
    w.level.setCurrentIndex(w.level.findData("balanced"))
    assert "Not enough when part of your traffic bypasses the VPN" in w.level_help.text()
    assert "Does NOT hold in a split tunnel" in w.level_tech.text()  # behind Details
    w.protect()
    details = prompter.confirms[-1][2]
    assert "'balanced' does not hold in a split tunnel" in details
    assert "Firefox ESR is running: restart it" in details
    assert w.list.items["firefox-esr"].text(COL_PROTECTION) == "Balanced: not enough here"
    assert w.list.items["firefox-esr"].text(COL_BROWSER) == "Firefox ESR (running)"
    assert w.list.itemWidget(w.list.items["firefox-esr"], COL_NOTE) is not None  # Restart needed…
    assert any("Restart needed" in t for t, _, _ in prompter.infos)
    assert any("balanced" in warning for warning in w.report.warnings)
    assert w.overall_state() == "unprotected"  # balanced does not hold in a split tunnel
    # Restarting a browser of a file tree is refused with a message, nothing killed.
    w.restart_browser("firefox-esr")
    assert "not to this computer" in prompter.errors[-1][1].message


def test_check_runs_in_background_and_loop_keeps_ticking(make_window: Any, qtbot: Any) -> None:
    checker = demo.SimulatedChecker({"chromium": "leak"}, seconds=1.5)  # 3 phases of 0.5 s
    w = make_window(sync=False, checker=checker)
    w.show()
    qtbot.waitUntil(lambda: w.report is not None, timeout=10000)
    ticks = LoopTicks()
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(ticks.tick)
    phases: list[str] = []
    w.list.itemChanged.connect(lambda item, col: phases.append(item.text(col)))
    timer.start()
    w.check()
    assert w.check_button.isEnabled() is False  # busy while checking
    qtbot.waitUntil(lambda: not w.checking, timeout=10000)
    timer.stop()
    stall = ticks.stall()
    assert len(ticks) > 50
    # A check run on the GUI thread would stall the loop for its whole 1.5 s, and one
    # the GUI thread waited on phase by phase for 0.5 s at a time: both are above the
    # bound. Scheduling noise on a loaded 2-core CI machine stays below it (seen: up to
    # 0.19 s with the test's whole process tree held to 0.3 CPU in 0.5 s periods).
    assert stall < 0.45, (
        f"event loop stalled {stall * 1000:.0f} ms (each phase takes 500 ms; "
        f"{ticks.raw() * 1000:.0f} ms with the time the thread waited for a CPU)"
    )
    assert w.list.items["chromium"].text(COL_CHECK) == "Leak found"
    assert w.list.items["firefox-esr"].text(COL_CHECK) == "No leak"
    assert w.overall_state() == "leak"
    assert "Leak found in Chromium" in w.check_summary.text()


def test_check_shows_progress_per_browser(make_window: Any, qtbot: Any) -> None:
    seen: list[tuple[str, str]] = []
    w = make_window(sync=False)
    w.refresh()
    qtbot.waitUntil(lambda: w.report is not None, timeout=10000)
    orig = w.list.set_phase
    w.list.set_phase = lambda b, p: (seen.append((b, p)), orig(b, p))  # type: ignore[method-assign]
    w.check()
    qtbot.waitUntil(lambda: not w.checking, timeout=10000)
    for bid in ("chromium", "firefox-esr"):
        assert [p for b, p in seen if b == bid][-4:] == [
            "launching",
            "waiting",
            "reported",
            "judged",
        ]
    w.show_details("chromium")
    assert w.prompter.dialogs  # details view opened


class Denied:
    elevated = True

    def apply(self, op: str, level: str | None, browsers: Any) -> Any:
        raise NeedsElevationError("cannot write /etc/chromium/policies/managed: run as root")


def test_errors_surface_as_messages(make_window: Any, tree: Path, prompter: Any) -> None:
    backend = Backend(str(tree), network=lambda: demo.network("none"), writer=Denied())
    w = make_window(backend=backend)
    w.refresh()
    w.protect()
    title, exc = prompter.errors[-1]
    assert title == "Could not protect"
    status = w.statusBar().currentMessage()
    assert (
        status.startswith("Could not protect: Cannot write /etc/chromium")
        and "failed" not in status
    )
    from vpnguard.gui.dialogs import describe_error

    text, detail = describe_error(exc)
    assert text.startswith("Cannot write")
    assert "exit code: 3" in detail
    assert not (tree / CHROMIUM_FILE).exists()


def test_unexpected_error_has_a_readable_message(make_window: Any, tmp_path: Path) -> None:
    w = make_window()
    w.backend.status = lambda: 1 / 0  # type: ignore[method-assign]
    w.refresh()
    from vpnguard.gui.dialogs import describe_error

    text, detail = describe_error(w.last_error)
    assert "Something went wrong" in text and "ZeroDivisionError" in detail


def test_missing_leak_checker_is_explained(make_window: Any) -> None:
    class NoChecker:
        def available(self) -> str:
            return "The leak check is not part of this build of vpnguard yet."

    w = make_window(checker=NoChecker())
    w.refresh()
    assert not w.check_button.isEnabled()
    assert "not part of this build" in w.check_summary.text()


def test_preview_without_rights_is_estimated(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vpnguard.core import service

    def denied(*a: Any, **k: Any) -> Any:
        raise NeedsElevationError("cannot create vpnguard's state")

    backend = Backend(str(tree), network=lambda: None)
    status = backend.status()
    monkeypatch.setattr(service, "protect", denied)
    out = backend.preview("protect", "strict", status)
    assert not out.exact
    assert {c.path for c in out.changes} == {
        "/etc/chromium/policies/managed/vpnguard.json",
        "/etc/firefox/policies/policies.json",
    }
    assert any("Managed by your organization" in n for n in out.notices)


def test_window_state_is_remembered(make_window: Any, tmp_path: Path) -> None:
    w = make_window()
    w.resize(700, 650)
    w.show()
    w.close()
    w2 = make_window()
    assert (w2.width(), w2.height()) == (700, 650)
    assert (tmp_path / "cfg" / "gui.ini").is_file()


def test_keyboard_and_accessible_names(make_window: Any) -> None:
    w = make_window()
    w.refresh()
    for widget in (w.protect_button, w.undo_button, w.check_button, w.own_button, w.level, w.list):
        assert widget.accessibleName()
    assert "&" in w.protect_button.text() and "&" in w.check_button.text()
    assert not w.protect_button.isDefault()  # a default frame would hide the focus frame


def test_tray_is_optional(make_window: Any) -> None:
    from vpnguard.gui.tray import Tray, make_tray

    w = make_window()
    assert make_tray(w) is None  # offscreen has no tray: the app works without one
    tray = Tray(w)
    w.refresh()
    w.protect()
    assert "protected" in tray.toolTip()


def test_protection_text_covers_every_state() -> None:
    from vpnguard.gui.window import PROTECTION_TEXT

    assert set(PROTECTION_TEXT) == set(Protection)


def _installed(*names: str) -> bool:
    import shutil

    return all(shutil.which(n) for n in names)


@pytest.mark.skipif(
    not _installed("chromium", "firefox-esr"), reason="needs chromium + firefox-esr"
)
def test_real_leak_check_on_this_machine_keeps_the_loop_responsive(
    qtbot: Any, tmp_path: Path, prompter: Any
) -> None:
    """The real checker (service.check) with the real browsers, from the window."""
    from vpnguard.gui.backend import LeakChecker
    from vpnguard.gui.settings import Settings
    from vpnguard.gui.window import MainWindow

    backend = Backend(None, checker=LeakChecker(timeout=30), writer=Denied())
    w = MainWindow(backend, Settings(tmp_path / "gui.ini"), prompter=prompter)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.report is not None and not w.runner.busy, timeout=20000)
    ticks = LoopTicks()
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(ticks.tick)
    timer.start()
    w.check()
    qtbot.waitUntil(lambda: not w.checking, timeout=90000)
    timer.stop()
    assert prompter.errors == []
    assert w.last_check is not None
    got = {r.browser_id: r.verdict for r in w.last_check.results}
    assert {"chromium", "firefox-esr"} <= set(got)
    assert all(v in ("pass", "leak", "webrtc_disabled", "inconclusive") for v in got.values())
    # Time the machine gave the GUI thread no CPU (two browsers starting on 2 CPUs, a CI
    # quota) is left out (LoopTicks); the bound catches a GUI thread that *blocks* on the
    # check, on the GIL or a wait (that would be seconds). The strict 100 ms bound is in
    # bench/gui_bench.py.
    stall = ticks.stall()
    assert stall < 0.5, (
        f"event loop stalled {stall * 1000:.0f} ms "
        f"({ticks.raw() * 1000:.0f} ms with the time the thread waited for a CPU)"
    )


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux")
def test_check_runs_niced_and_children_inherit_it() -> None:
    import os
    import subprocess
    import threading

    from vpnguard.gui.backend import CHECK_NICENESS, run_niced

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def probe() -> tuple[int, str]:
        mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        child = subprocess.run(["nice"], capture_output=True, text=True, check=True).stdout
        return mine, child.strip()

    mine, child = run_niced(probe)
    assert mine == before + CHECK_NICENESS
    assert int(child) == before + CHECK_NICENESS
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
    with pytest.raises(ZeroDivisionError):
        run_niced(lambda: 1 / 0)


def test_auto_mode_state_is_shown_from_watch(make_window: Any, tree: Path) -> None:
    w = make_window()
    w.refresh()
    assert w.auto is not None and not w.auto.running
    assert "Automatic protection while a VPN is up is off" in w.auto_label.text()
    # What auto_mode_state() reports while vpnguard watch runs (its own tests cover reading it).
    import os

    from vpnguard.core import service

    w.backend.auto_mode = lambda: service.AutoModeState(  # type: ignore[method-assign]
        True, os.getpid(), "strict", ("wg0",), (), True, None
    )
    w.refresh()
    assert "Automatic protection is on" in w.auto_label.text() and "wg0" in w.auto_label.text()


def test_conflict_names_the_other_source(make_window: Any, tree: Path) -> None:
    managed = tree / "etc/chromium/policies/managed"
    managed.mkdir(parents=True)
    (managed / "corp.json").write_text('{"WebRtcIPHandling": "default"}')
    w = make_window()
    w.refresh()
    w.protect()
    text = w.list.items["chromium"].text(COL_PROTECTION)
    assert text == "Conflict: corp.json"
    tooltip = w.list.items["chromium"].toolTip(COL_PROTECTION)
    assert "/etc/chromium/policies/managed/corp.json" in tooltip
    assert any("corp.json" in warning for warning in w.report.warnings)
    assert w.overall_state() == "unprotected"
