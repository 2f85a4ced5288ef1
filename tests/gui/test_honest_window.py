"""What the window says must be what was proven, survive a restart, and follow outside changes."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from vpnguard.gui import demo, results
from vpnguard.gui.backend import CheckResult
from vpnguard.gui.window import COL_CHECK, COL_NOTE, COL_PROTECTION

CHROMIUM_FILE = "etc/chromium/policies/managed/vpnguard.json"


def _says_no_leak(text: str) -> bool:
    return "no leak" in text.lower()


def test_inconclusive_never_reads_no_leak(make_window: Any) -> None:
    """Both browsers inconclusive (no STUN server reachable): nothing may say 'no leak'."""
    checker = demo.SimulatedChecker(
        {"chromium": "inconclusive", "firefox-esr": "inconclusive"}, seconds=0.01
    )
    w = make_window(checker=checker)
    w.refresh()
    w.check()
    assert not _says_no_leak(w.check_summary.text())
    assert "Not proven for Chromium and Firefox ESR" in w.check_summary.text()
    for item in w.list.items.values():
        assert item.text(COL_CHECK) == "Not proven"
        assert not _says_no_leak(item.toolTip(COL_CHECK))
    # ... and still not after Undo, nor after protecting.
    w.protect()
    assert not _says_no_leak(w.check_summary.text())
    w.unprotect()
    assert not _says_no_leak(w.check_summary.text())


def test_mixed_results_name_each_browser_truthfully(make_window: Any) -> None:
    checker = demo.SimulatedChecker({"chromium": "pass", "firefox-esr": "error"}, seconds=0.01)
    w = make_window(checker=checker)
    w.refresh()
    w.check()
    text = w.check_summary.text()
    assert "No leak in Chromium." in text
    assert "The check failed in Firefox ESR" in text
    assert "Firefox ESR" not in text.split("The check failed")[0]
    assert w.list.items["firefox-esr"].text(COL_CHECK) == "Check failed"


@pytest.mark.parametrize(
    ("verdicts", "forbidden"),
    [
        (["inconclusive"], "No leak"),
        (["error"], "No leak"),
        (["skipped"], "No leak"),
        (["error", "inconclusive"], "No leak"),
    ],
)
def test_summary_only_counts_proofs(verdicts: list[str], forbidden: str) -> None:
    rs = [CheckResult(f"b{i}", f"B{i}", v, "r") for i, v in enumerate(verdicts)]
    s = results.summarize(rs)
    assert forbidden not in s.text and s.tone != "good"


def test_views_and_calls_in_plain_words() -> None:
    views = [
        {"name": "no_permission", "verdict": "pass", "candidates": [], "reason": "x"},
        {"name": "media_permission", "verdict": "pass", "candidates": [], "reason": "y"},
    ]
    call = {
        "connected": True,
        "path": {"local": "relay", "protocol": "udp", "relay_protocol": "tcp"},
        "ms": 120,
        "reason": "",
    }
    r = CheckResult("chromium", "Chromium", "pass", "r", (), {"views": views, "call": call})
    assert (
        results.views_sentence(r) == "No leak on any site, including sites you allowed your camera."
    )
    assert results.call_sentence(r) == "Calls work (through a relay over TCP)."
    details = {"call": {"connected": False}, "protection": "strict"}
    blocked = CheckResult("f", "F", "pass", "r", (), details)
    assert results.call_sentence(blocked) == "Calls are blocked by this protection."
    failed = CheckResult("f", "F", "pass", "r", (), {"call": {"connected": False}})
    assert results.call_sentence(failed) == "The test call could not connect."  # no cause claimed
    leaky = [dict(views[0]), dict(views[1], verdict="leak")]
    r2 = CheckResult("c", "C", "leak", "r", (), {"views": leaky})
    assert "allowed your camera" in results.views_sentence(r2)
    assert not _says_no_leak(results.views_sentence(r2))


def test_own_browser_result_is_shown_and_opens_details(make_window: Any, prompter: Any) -> None:
    checker = demo.SimulatedChecker({"interactive": "inconclusive"}, seconds=0.01)

    class Own(demo.SimulatedChecker):
        def check(self, browsers: Any, network: Any, progress: Any, **kw: Any) -> Any:
            from vpnguard.gui.backend import CheckOutcome

            if kw.get("interactive"):
                r = CheckResult("interactive", "default browser", "inconclusive", "no STUN")
                return CheckOutcome((r,), "", 10.0)
            return super().check(browsers, network, progress, **kw)

    w = make_window(checker=Own(seconds=0.01))
    del checker
    w.refresh()
    w.check(interactive=True)
    assert not _says_no_leak(w.own_summary.text())
    assert "Your own browser: Not proven" in w.own_summary.text()
    assert w.own_details.isVisibleTo(w)
    w.show_details("interactive")
    assert prompter.dialogs, "double-click / Details finds the own-browser result"
    assert "Not proven" in w.own_summary.text()
    # The browser list was not checked: no "no leak" anywhere.
    assert not _says_no_leak(w.check_summary.text())


def test_restart_keeps_the_last_result_with_its_time(make_window: Any, tmp_path: Path) -> None:
    w = make_window(checker=demo.SimulatedChecker({"chromium": "leak"}, seconds=0.01))
    w.refresh()
    w.check()
    saved = json.loads((tmp_path / "cfg" / "last-check.json").read_text())
    assert {r["browser_id"]: r["verdict"] for r in saved["results"]} == {
        "chromium": "leak",
        "firefox-esr": "pass",
    }
    w.close()
    w2 = make_window()  # a new process would read the same file
    assert "Last checked today at" in w2.check_when.text()
    w2.refresh()
    assert w2.list.items["chromium"].text(COL_CHECK) == "Leak found"
    assert "Leak found in Chromium" in w2.check_summary.text()
    assert w2.overall_state() == "leak"


def test_results_go_stale_when_protection_changes(make_window: Any) -> None:
    w = make_window(checker=demo.SimulatedChecker({"chromium": "leak"}, seconds=0.01))
    w.refresh()
    w.check()
    assert w.overall_state() == "leak"
    w.protect()
    assert w.list.items["chromium"].text(COL_CHECK) == "Out of date"
    assert "Protection has changed since" in w.check_when.text()
    assert w.overall_state() == "protected"  # an old leak does not outlive the fix
    assert "found a leak" not in w.warnings.text()
    w.check()
    assert w.list.items["chromium"].text(COL_CHECK) == "Leak found"


def test_tray_tooltip_is_true_for_each_mix(make_window: Any, tree: Path) -> None:
    from vpnguard.gui.tray import Tray

    w = make_window()
    tray = Tray(w)
    w.refresh()
    assert tray.toolTip() == "vpnguard: no browser is protected"
    w.protect()
    assert tray.toolTip() == "vpnguard: your browsers are protected"
    (tree / CHROMIUM_FILE).unlink()  # another admin removed one file
    w.refresh()
    assert tray.toolTip() == "vpnguard: not protected: Chromium"


def test_outside_change_refreshes_within_a_second(make_window: Any, tree: Path, qtbot: Any) -> None:
    """Another admin (here: the CLI's code path, in-process) protects; the window follows."""
    from vpnguard.core import service

    w = make_window(sync=False)
    w.start_watching()
    w.show()
    qtbot.waitUntil(lambda: w.report is not None and not w.runner.busy, timeout=10000)
    assert w.list.items["chromium"].text(COL_PROTECTION) == "Not protected"
    assert str(tree / "etc/chromium") in w.watcher.watched() or any(
        p.startswith(str(tree)) for p in w.watcher.watched()
    )
    t0 = time.monotonic()
    service.protect("strict", root=str(tree))
    qtbot.waitUntil(
        lambda: w.list.items["chromium"].text(COL_PROTECTION) == "Protected (Relay)",
        timeout=3000,
    )
    assert time.monotonic() - t0 < 1.5
    # Undo from outside too: the window follows again, now watching the created folder.
    service.unprotect(root=str(tree))
    qtbot.waitUntil(
        lambda: w.list.items["chromium"].text(COL_PROTECTION) == "Not protected", timeout=3000
    )
    w.close()


def test_restart_needed_clears_when_the_browser_was_closed(make_window: Any, tree: Path) -> None:
    w = make_window(running=frozenset({"firefox-esr"}))
    w.refresh()
    w.level.setCurrentIndex(w.level.findData("strict"))
    w.protect()
    assert w.list.itemWidget(w.list.items["firefox-esr"], COL_NOTE) is not None
    # Written is not applied: the running Firefox still uses what it read at start.
    assert w.list.items["firefox-esr"].text(COL_PROTECTION) == "Strict after a restart"
    assert w.state_sentence() == "vpnguard: protected once you restart Firefox ESR"
    assert w.overall_state() == "unprotected"
    w.backend.running = frozenset()  # the user closed Firefox
    w.refresh()
    assert w.list.itemWidget(w.list.items["firefox-esr"], COL_NOTE) is None
    assert w.list.items["firefox-esr"].text(COL_PROTECTION) == "Protected (Strict)"
    assert w.state_sentence() == "vpnguard: your browsers are protected"


def test_netlink_socket_opens_without_privileges() -> None:
    from vpnguard.core import service

    events = service.network_events()
    try:
        if events.name != "netlink":
            pytest.skip("no netlink here")
        assert isinstance(events.fileno(), int)  # what the app's QSocketNotifier watches
        events.drain()  # nothing pending: returns at once
    finally:
        events.close()


def test_own_browser_opener_leaves_no_zombie(tmp_path: Path, monkeypatch: Any) -> None:
    import psutil

    from vpnguard.gui.backend import open_and_reap

    opener = tmp_path / "xdg-open"
    opener.write_text("#!/bin/sh\nexit 0\n")
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert open_and_reap("http://127.0.0.1:1/x")
    me = psutil.Process()

    def lingering(zombies_only: bool) -> list[int]:
        """Our children that are the opener still running, or zombies. A child reaped while
        we look (the opener's reaper, or another test's process) is neither."""
        out = []
        for c in me.children():
            try:
                if c.status() == psutil.STATUS_ZOMBIE or (
                    not zombies_only and c.name() == "xdg-open"
                ):
                    out.append(c.pid)
            except psutil.NoSuchProcess:
                continue
        return out

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and lingering(zombies_only=False):
        time.sleep(0.05)
    assert lingering(zombies_only=True) == []


def test_protection_headline_follows_state(make_window: Any) -> None:
    w = make_window()
    w.refresh()
    assert w.protect_box.title() == "Protection: No browser is protected"
    w.protect()
    assert w.protect_box.title() == "Protection: Your browsers are protected"


def test_views_and_calls_join_the_summary_per_browser() -> None:
    media_leak = [
        {"name": "no_permission", "verdict": "inconclusive", "reason": "no STUN"},
        {"name": "media_permission", "verdict": "leak", "reason": "host 192.0.2.2"},
    ]
    relay = {"connected": True, "path": {"local": "relay", "relay_protocol": "tcp"}}
    a = CheckResult("chromium", "Chromium", "leak", "r", (), {"views": media_leak, "call": relay})
    b = CheckResult(
        "firefox-esr",
        "Firefox ESR",
        "leak",
        "r",
        (),
        {"views": media_leak, "call": {"connected": False}, "protection": "strict"},
    )
    views = results.per_browser([a, b], results.views_sentence)
    assert views == (
        "Leak seen by a site you allowed your camera or microphone. "
        "Not proven for a site you did not allow your camera."
    )
    calls = results.per_browser([a, b], results.call_sentence)
    assert calls == (
        "Chromium: Calls work (through a relay over TCP). "
        "Firefox ESR: Calls are blocked by this protection."
    )


def test_a_leak_heads_the_protection_box_at_once(make_window: Any) -> None:
    w = make_window(checker=demo.SimulatedChecker({"chromium": "leak"}, seconds=0.01))
    w.refresh()
    w.check()
    assert w.protect_box.title() == "Protection: The last check found a leak"


def test_relay_written_to_a_running_firefox_waits_for_a_restart(
    make_window: Any, tree: Path
) -> None:
    w = make_window(running=frozenset({"firefox-esr"}))
    w.refresh()
    assert w.level.currentData() == "relay"
    w.protect()
    assert w.list.items["firefox-esr"].text(COL_PROTECTION) == "Relay after a restart"
    assert w.overall_state() == "unprotected"
    w.backend.running = frozenset()
    w.refresh()
    assert w.list.items["firefox-esr"].text(COL_PROTECTION) == "Protected (Relay)"
