"""The runner against real processes: fake browser scripts that hang, crash or report."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import psutil
import pytest

from vpnguard.core.host import Host
from vpnguard.core.leakcheck import Verdict, run_check
from vpnguard.core.leakcheck.runner import launch_command
from vpnguard.core.model import Browser, Family

from .conftest import fake_browser, loopback_network

HANG = """
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
open(os.environ["PIDFILE"], "w").write(f"{os.getpid()} {child.pid}")
time.sleep(300)
"""
CRASH = 'sys.stderr.write("Trace/breakpoint trap\\n"); sys.exit(1)'
REPORTER = """
import json, urllib.request
def page(url):
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    cfg = json.loads(body.split('id="vpnguard-config">')[1].split("</script>")[0])
    origin = url.split("/", 3)
    origin = origin[0] + "//" + origin[2]
    if cfg["frame_url"]:  # like a browser: the framed page loads and reports too
        page(cfg["frame_url"])
    doc = {"slot": cfg["slot"], "secret": cfg["secret"], "webrtc": WEBRTC, "candidates": CANDS,
           "user_agent": "fake", "gathering_state": "complete", "timed_out": False,
           "error": None, "timings": {}, "media": "granted" if cfg["media"] else None}
    req = urllib.request.Request(origin + cfg["report_url"], json.dumps(doc).encode(),
          {"Content-Type": "application/json", "Origin": origin}, method="POST")
    urllib.request.urlopen(req, timeout=5)
page(sys.argv[-1])
time.sleep(300)  # like a browser: keeps running until killed
"""


def reporter(tmp: Path, name: str, cands: list[str], webrtc: bool = True) -> Browser:
    body = REPORTER.replace("WEBRTC", repr(webrtc)).replace("CANDS", repr(cands))
    return fake_browser(tmp, name, body)


def check(browsers: list[Browser], stun: str, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    events: list[tuple[str, str]] = []
    report = run_check(
        Host.current(),
        browsers,
        loopback_network(),
        stun=[stun],
        timeout=timeout,
        progress=lambda b, p: events.append((b, p)),
        protections={},
    )
    return report, events


def test_hanging_browser_is_bounded_and_its_tree_killed(
    tmp_path: Path, coturn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIDFILE", str(tmp_path / "pids"))
    b = fake_browser(tmp_path, "hang", HANG)
    t = time.monotonic()
    report, events = check([b], coturn, timeout=2.0)
    assert time.monotonic() - t < 6
    r = report.browsers[0]
    assert r.verdict is Verdict.ERROR and "no report within 2 s" in r.reason
    for pid in map(int, (tmp_path / "pids").read_text().split()):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert ("hang", "error") in events
    assert report.exit_code == 4


def test_crashing_browser_is_an_error_at_once(tmp_path: Path, coturn: str) -> None:
    b = fake_browser(tmp_path, "crash", CRASH)
    t = time.monotonic()
    report, _ = check([b], coturn, timeout=20.0)
    assert time.monotonic() - t < 5  # did not wait for the timeout
    r = report.browsers[0]
    assert r.verdict is Verdict.ERROR and r.exit_status == 1
    assert "exited with status 1" in r.reason and "Trace/breakpoint trap" in r.reason


LAST_WORDS = """
import json, socket, urllib.request
def config(url):
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    return json.loads(body.split('id="vpnguard-config">')[1].split("</script>")[0])
def doc(cfg):
    return json.dumps({"slot": cfg["slot"], "secret": cfg["secret"], "webrtc": True,
        "candidates": [], "user_agent": "fake", "gathering_state": "complete",
        "timed_out": False, "error": None, "timings": {},
        "media": "granted" if cfg["media"] else None}).encode()
def origin(url):
    parts = url.split("/", 3)
    return parts[0] + "//" + parts[2]
top_url = sys.argv[-1]
top = config(top_url)
frame_url = top["frame_url"]
frame = config(frame_url)
urllib.request.urlopen(urllib.request.Request(origin(frame_url) + frame["report_url"],
    doc(frame), {"Content-Type": "application/json", "Origin": origin(frame_url)},
    method="POST"), timeout=5)
hostport = top_url.split("/", 3)[2]
host, port = hostport.rsplit(":", 1)
sock = socket.create_connection((host, int(port)))
body = doc(top)
sock.sendall((f"POST {top['report_url']} HTTP/1.1\\r\\nHost: {hostport}\\r\\n"
    f"Origin: {origin(top_url)}\\r\\nContent-Type: application/json\\r\\n"
    f"Content-Length: {len(body)}\\r\\n\\r\\n").encode())
if os.fork() == 0:  # a process of the browser's group still sends ...
    time.sleep(0.3)
    sock.sendall(body)
    sock.recv(100)
    os._exit(0)
os._exit(0)  # ... while the browser itself is already gone
"""


def test_a_report_in_flight_when_the_browser_dies_still_counts(tmp_path: Path, coturn: str) -> None:
    """The browser's death wakes the runner at once; its last report, still being sent by a
    process of its group, arrives 0.3 s later and is the result (not "exited before
    reporting")."""
    b = fake_browser(tmp_path, "last-words", LAST_WORDS)
    report, _ = check([b], coturn, timeout=10.0)
    r = report.browsers[0]
    assert r.verdict is not Verdict.ERROR, r.reason
    assert [v.media for v in r.views] == [None, "granted"]


def test_missing_executable(tmp_path: Path, coturn: str) -> None:
    b = fake_browser(tmp_path, "gone", "")
    os.unlink(b.path)
    report, _ = check([b], coturn)
    assert report.browsers[0].verdict is Verdict.ERROR
    assert "cannot start" in report.browsers[0].reason


def test_reports_are_judged_in_parallel_and_end_at_once(tmp_path: Path, coturn: str) -> None:
    leaky = reporter(tmp_path, "leaky", ["candidate:1 1 udp 1 192.168.1.20 5000 typ host"])
    clean = reporter(
        tmp_path,
        "clean",
        [
            "candidate:1 1 udp 1 a-b.local 5000 typ host",
            "candidate:2 1 udp 1 127.0.0.1 5000 typ srflx",
            "garbage line",
        ],
    )
    off = reporter(tmp_path, "off", [], webrtc=False)
    t = time.monotonic()
    report, events = check([leaky, clean, off], coturn, timeout=20.0)
    assert time.monotonic() - t < 8  # each ended with its report, not the 20 s timeout
    by = {r.browser_id: r for r in report.browsers}
    assert by["leaky"].verdict is Verdict.LEAK
    assert by["leaky"].leaks[0].address == "192.168.1.20"
    assert by["clean"].verdict is Verdict.PASS
    assert by["clean"].rejected[0].line == "garbage line"
    assert by["off"].verdict is Verdict.WEBRTC_DISABLED
    assert report.exit_code == 1
    for r in report.browsers:
        t = r.timings
        ends = [v for k, v in t.items() if k.endswith("end_after_report_ms")]
        assert len(ends) == 2  # both views
        # The launch ends the moment its last report is in: the runner only wakes up
        # before it kills (min: the first view's figure also holds the time the browser
        # took to send the second report). The kill and the clean-up are timed apart and
        # bounded apart: a machine paused for half a second stretches them, not the wake-up.
        kill = t["media_permission.kill_ms"] + t["media_permission.cleanup_ms"]
        assert min(ends) - kill < 500, t
        assert kill < 1500, t  # well below kill_tree's own waits (2 s, 5 s) running out
    phases = [p for b, p in events if b == "clean"]
    assert phases[0] == "launching" and "waiting" in phases and "reported" in phases
    doc = json.loads(json.dumps(report.to_json()))
    assert doc["schema_version"] == 2 and doc["leak"] is True
    assert (
        doc["browsers"][0]["candidates"] == ["candidate:1 1 udp 1 192.168.1.20 5000 typ host"] * 2
    )
    views = doc["browsers"][0]["views"]
    assert [v["name"] for v in views] == ["no_permission", "media_permission"]
    assert [v["media"] for v in views] == [None, "granted"]
    assert all(v["verdict"] == "leak" for v in views)
    # The fake page places no call: said plainly, never "connected".
    assert by["leaky"].call is not None and not by["leaky"].call.connected
    assert "did not report this call" in by["leaky"].call.reason
    assert by["off"].call is not None and "WebRTC is disabled" in by["off"].call.reason


def test_self_managed_browser_is_skipped(tmp_path: Path, coturn: str) -> None:
    b = fake_browser(tmp_path, "tor", CRASH)
    from dataclasses import replace

    report, _ = check([replace(b, self_managed=True)], coturn)
    assert report.browsers[0].verdict is Verdict.SKIPPED
    assert report.exit_code == 0


def test_launch_commands_follow_the_lab_recipe() -> None:
    ff = Browser(
        "firefox-esr",
        "Firefox ESR",
        Family.FIREFOX,
        None,
        "/usr/bin/firefox-esr",
        "system",
        False,
        (),
    )
    assert launch_command(ff, "http://u", "/tmp/p") == [
        "/usr/bin/firefox-esr",
        "--headless",
        "--no-remote",
        "--profile",
        "/tmp/p",
        "http://u",
    ]
    cr = Browser(
        "chromium", "Chromium", Family.CHROMIUM, None, "/usr/bin/chromium", "system", False, ()
    )
    argv = launch_command(cr, "http://u", "/tmp/p")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--user-data-dir=/tmp/p",
    ):
        assert flag in argv
    assert argv[-1] == "http://u"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed")
def test_no_stun_reachable_is_not_a_pass(dead_stun: str) -> None:
    """Real Chromium, STUN port that nobody answers: inconclusive, never pass."""
    cr = Browser(
        "chromium",
        "Chromium",
        Family.CHROMIUM,
        None,
        shutil.which("chromium") or "",
        "system",
        False,
        (),
    )
    report = run_check(
        Host.current(),
        [cr],
        loopback_network(),
        stun=[dead_stun],
        timeout=20,
        gather_timeout=3,
        protections={},
    )
    r = report.browsers[0]
    assert r.verdict in (Verdict.INCONCLUSIVE, Verdict.LEAK), r.reason
    if r.verdict is Verdict.INCONCLUSIVE:
        assert "could not observe a public path" in r.reason
        assert report.exit_code == 4
    assert all(p.mapped is None for p in report.paths.probes)


def test_interactive_mode_waits_for_the_default_browser(tmp_path: Path, coturn: str) -> None:
    """``open_url`` stands where webbrowser.open would; here it starts a real reporter process."""
    import subprocess

    b = reporter(tmp_path, "default", ["candidate:1 1 udp 1 a.local 5 typ host"])
    procs: list[subprocess.Popen[bytes]] = []

    def open_url(url: str) -> bool:
        procs.append(subprocess.Popen([b.path, url], start_new_session=True))
        return True

    try:
        report = run_check(
            Host.current(),
            [],
            loopback_network(),
            stun=[coturn],
            timeout=10,
            interactive=True,
            open_url=open_url,
            protections={},
        )
    finally:
        for p in procs:
            p.kill()
            p.wait()
    r = report.browsers[0]
    assert report.interactive and r.browser_id == "interactive"
    assert r.verdict is Verdict.PASS and r.protection == "unknown"


def test_interactive_mode_without_a_browser_is_bounded(coturn: str) -> None:
    report = run_check(
        Host.current(),
        [],
        loopback_network(),
        stun=[coturn],
        timeout=1,
        interactive=True,
        open_url=lambda url: False,
        protections={},
    )
    r = report.browsers[0]
    assert r.verdict is Verdict.ERROR and "could not open a browser" in r.reason


def test_a_race_for_the_one_time_url_is_an_error_never_a_pass(tmp_path: Path, coturn: str) -> None:
    """Someone else fetched the page first (they read the URL in /proc): the check says error."""
    body = REPORTER.replace("WEBRTC", "True").replace("CANDS", "[]")
    # The "attacker" GETs the URL first; the browser then gets 410 and cannot report.
    racer = fake_browser(
        tmp_path,
        "raced",
        "import urllib.request, urllib.error\n"
        "try:\n    urllib.request.urlopen(sys.argv[-1], timeout=5).read()\n"
        "except urllib.error.HTTPError:\n    pass\n" + body,
    )
    report, _ = check([racer], coturn, timeout=5.0)
    r = report.browsers[0]
    assert r.verdict is Verdict.ERROR
    assert all("twice" in v.reason for v in r.views)
    assert r.call is not None and not r.call.connected
    assert report.exit_code == 4


def test_media_view_never_touches_the_policy_under_test(tmp_path: Path) -> None:
    """The granted-site view adds fake devices and a stored permission, never a WebRTC pref."""
    import sqlite3

    from vpnguard.core.leakcheck.report import ViewName
    from vpnguard.core.leakcheck.runner import (
        CHROMIUM_MEDIA_FLAGS,
        FIREFOX_MEDIA_USER_JS,
        FIREFOX_USER_JS,
        prepare_profile,
    )

    assert "peerconnection" not in FIREFOX_USER_JS + FIREFOX_MEDIA_USER_JS
    ff = Browser("firefox-esr", "Firefox ESR", Family.FIREFOX, None, "/x", "system", False, ())
    prepare_profile(ff, tmp_path, ViewName.MEDIA_PERMISSION, "http://127.0.0.1:4242")
    assert "media.navigator.streams.fake" in (tmp_path / "user.js").read_text()
    db = sqlite3.connect(tmp_path / "permissions.sqlite")
    try:
        rows = db.execute(
            "SELECT origin, type, permission, expireType FROM moz_perms ORDER BY type"
        ).fetchall()
        version = db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()
    assert rows == [
        ("http://127.0.0.1:4242", "camera", 1, 0),
        ("http://127.0.0.1:4242", "microphone", 1, 0),
    ]
    assert version == 12
    page = tmp_path / "page"
    page.mkdir()
    prepare_profile(ff, page, ViewName.NO_PERMISSION, "http://127.0.0.1:4242")
    assert not (page / "permissions.sqlite").exists()
    assert "streams.fake" not in (page / "user.js").read_text()
    cr = Browser("chromium", "Chromium", Family.CHROMIUM, None, "/c", "system", False, ())
    media = launch_command(cr, "http://u", "/p", ViewName.MEDIA_PERMISSION)
    assert all(f in media for f in CHROMIUM_MEDIA_FLAGS)
    assert not set(CHROMIUM_MEDIA_FLAGS) & set(launch_command(cr, "http://u", "/p"))
