"""Benchmark the full leak check against the raw floor, in the leak lab (needs root).

Builds the namespace lab (tests/lab/netlab.py: WireGuard full tunnel, coturn
STUN and TURN), then, inside the client namespace, in one run:

* the **raw floor**: for each browser, launch it headless with a fresh
  profile, serve a bare page (stdlib HTTP server, inline script), receive its
  ICE candidates by POST, kill it and remove the profile. Nothing of
  vpnguard is involved. The floor is the slowest single raw browser.
* the **full check**: ``vpnguard check`` with both browsers, both views
  (any page, and a site allowed camera and microphone) and a real call
  through the lab's TURN server (password on stdin).

Each is repeated (``--repeat``, default 3), raw and full runs interleaved;
medians are shown, with the machine's load average before and after. Target:
the full check <= 1.5x the slowest single raw browser. ``--timeline`` prints
instead every phase of one full check per browser and view (profile written,
process started, page served, getUserMedia, each candidate, gathering end and
why, calls, report, kill, temp dir removed).

    sudo .venv/bin/python bench/leakcheck_bench.py [--repeat N] [--timeline]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lab.netlab import (  # noqa: E402
    STUN_IP,
    STUN_URL,
    TURN_SECRET,
    TURN_USER,
    Lab,
    missing_tools,
)

BROWSERS = ("chromium", "firefox-esr")
TURN_TCP = f"turn:{STUN_IP}:3479?transport=tcp"
RAW_PAGE = """<!DOCTYPE html><meta charset="utf-8"><script>
var c = [], pc = new RTCPeerConnection({iceServers: [{urls: "%s"}]}), sent = false;
function send() { if (sent) return; sent = true;
  fetch("/report", {method: "POST", body: JSON.stringify(c)}); }
pc.createDataChannel("x");
pc.onicecandidate = function (e) { if (e.candidate) c.push(e.candidate.candidate); else send(); };
pc.createOffer().then(function (o) { return pc.setLocalDescription(o); });
setTimeout(send, 10000);
</script>"""
RAW_CHROMIUM = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def raw_once(browser: str, seeded: bool = False) -> dict[str, float]:
    """One raw run (inside the namespace): launch -> candidates received -> killed, cleaned.

    ``seeded``: Firefox's profile first gets the start-up caches the full check keeps
    (the reference that shows what the warm start alone is worth); never the floor.
    """
    got = threading.Event()
    cands: list[str] = []
    page = (RAW_PAGE % STUN_URL).encode()

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            cands.extend(json.loads(body))
            self.send_response(204)
            self.end_headers()
            got.set()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    tmp = tempfile.mkdtemp(prefix="vg-raw-")
    tmpdir = os.path.join(tmp, "t")
    os.mkdir(tmpdir)
    path = shutil.which(browser) or browser
    if seeded:
        from vpnguard.core.leakcheck.warmstart import WarmStart, firefox_build

        build = firefox_build(path)
        if build is None or not WarmStart.for_user().seed(build, Path(tmp)):
            raise SystemExit(f"raw {browser}: no kept start-up caches to seed from")
    if browser.startswith("firefox"):
        argv = [path, "--headless", "--no-remote", "--profile", tmp, url]
    else:
        argv = [path, *RAW_CHROMIUM, f"--user-data-dir={tmp}", url]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        # Chromium makes /tmp/org.chromium.Chromium.* under TMPDIR: keep it in the run's dir.
        env={**os.environ, "HOME": tmp, "TMPDIR": tmpdir},
    )
    ok = got.wait(30)
    t_report = time.monotonic()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)
    shutil.rmtree(tmp, ignore_errors=True)
    # Measured before the page server stops: serve_forever() polls for shutdown every
    # 0.5 s, a wait that is no browser's cost (earlier versions of this benchmark counted
    # it, which made the floor ~0.4 s slower than a browser is).
    t_end = time.monotonic()
    httpd.shutdown()
    if not ok:
        raise SystemExit(f"raw {browser}: no candidates within 30 s")
    return {
        "report_s": t_report - t0,
        "total_s": t_end - t0,
        "candidates": float(len(cands)),
    }


def timeline_once(only: str | None = None) -> str:
    """One full check in-process (inside the namespace), as a per-phase timeline.

    Times are seconds since run_check() was called. Runner phases come from the
    launch's own timings; page phases (script start, getUserMedia, each candidate,
    gathering end, calls end, report sent) are placed on the same clock from the
    moment the report arrived and the page's own clock (a fetch on loopback: ~1 ms).
    """
    from vpnguard.core.browsers.detect import detect_browsers
    from vpnguard.core.host import Host
    from vpnguard.core.leakcheck import TurnServer, run_check
    from vpnguard.core.leakcheck.warmstart import WarmStart
    from vpnguard.core.network import detect_network

    h = Host.current()
    browsers = detect_browsers(h, [only] if only else list(BROWSERS))
    net = detect_network(h)
    t0 = time.monotonic()
    r = run_check(
        h,
        browsers,
        net,
        stun=[STUN_URL],
        turn=[TurnServer(TURN_TCP, TURN_USER, TURN_SECRET)],
        timeout=20,
        protections={b.id: "none" for b in browsers},
        warm_start=WarmStart.for_user(),  # as `vpnguard check` does
    )
    t_end = time.monotonic() - t0
    lines = [f"run_check: {r.duration_ms / 1000:.3f} s (returned at {t_end:.3f} s)"]
    for b in r.browsers:
        lines.append(f"{b.browser_id}: {b.verdict.value}")
        for v in b.views:
            t = v.timings
            launch0 = 0.0  # the launch's t0 ~ run_check's t0 (both browsers start at once)
            rep_at = t.get("report_after_launch_ms")
            page_total = t.get("page_total_ms")
            off = (rep_at - page_total) if rep_at is not None and page_total is not None else None
            ev: list[tuple[float, str]] = []
            if "warm_start_ms" in t:
                ev.append((t["warm_start_ms"], "Firefox's kept start-up caches copied in"))
            if "warm_save_ms" in t:
                ev.append((t["total_ms"], f"(start-up caches kept: {t['warm_save_ms']:.0f} ms)"))
            for key, what in (
                ("profile_ms", "profile written"),
                ("launch_ms", "browser process started"),
                ("served_ms", "page served"),
                ("report_after_launch_ms", "report received"),
            ):
                if key in t:
                    ev.append((launch0 + t[key], what))
            if "total_ms" in t:
                kill = t.get("kill_ms", 0.0)
                clean = t.get("cleanup_ms", 0.0)
                ev.append((t["total_ms"] - kill - clean, f"teardown starts (kill {kill:.0f} ms)"))
                ev.append((t["total_ms"] - clean, f"killed; removing temp dir ({clean:.0f} ms)"))
                ev.append((t["total_ms"], "launch done"))
            if off is not None:
                if "page_page_ms" in t:
                    ev.append((off - t["page_page_ms"], "navigation starts"))
                ev.append((off, "script starts"))
                for key, what in (
                    ("page_media_ms", "getUserMedia answered"),
                    ("page_offer_ms", "offer created (gathering starts)"),
                    (
                        "page_gather_ms",
                        "gathering ends"
                        + (" (proven)" if v.proof else " (settled)" if v.settled else ""),
                    ),
                    ("page_calls_ms", "gathering and calls done"),
                    ("page_total_ms", "report sent"),
                ):
                    if key in t:
                        ev.append((off + t[key], what))
                for line, c_ms in zip(v.candidates, v.candidate_ms, strict=False):
                    f = line.split()
                    typ = f[f.index("typ") + 1] if "typ" in f else "?"
                    ra = f[f.index("raddr") + 1] if "raddr" in f else ""
                    ev.append((off + c_ms, f"  cand {typ} {f[4]} {f[2].lower()} {ra}".rstrip()))
            lines.append(
                f"  view {v.name.value}: {v.verdict.value}, gathering {v.gathering_state}"
                + (", settled" if v.settled else "")
                + (", timed out" if v.timed_out else "")
            )
            for at, what in sorted(ev):
                lines.append(f"    {at / 1000:7.3f}  {what}")
        for c in b.calls:
            lines.append(f"  call {c.name}: {c.summary()}")
    return "\n".join(lines)


# vpnguard's cache dir for every run below: it keeps Firefox's start-up caches there
# (core/leakcheck/warmstart.py). A private one, so the first measured check is cold.
CACHE_DIR = {"VPNGUARD_CACHE_DIR": ""}


def in_ns(lab: Lab, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", lab.client, sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **CACHE_DIR},
    )


def raw(lab: Lab, browser: str, *, seeded: bool = False) -> dict[str, float]:
    extra = ("--seeded",) if seeded else ()
    proc = in_ns(lab, str(Path(__file__).resolve()), "--raw", browser, *extra)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    out: dict[str, float] = json.loads(proc.stdout)
    return out


def full(lab: Lab, browsers: tuple[str, ...] = BROWSERS) -> dict[str, float | str]:
    args = ["-m", "vpnguard", "check", "--stun", STUN_URL, "--turn", TURN_TCP]
    args += ["--turn-user", TURN_USER, "--turn-password-stdin", "--timeout", "20", "--json"]
    for b in browsers:
        args += ["--browser", b]
    t = time.monotonic()
    proc = in_ns(lab, *args, stdin=TURN_SECRET + "\n")
    wall = time.monotonic() - t
    doc = json.loads(proc.stdout)
    views = calls = 0
    for b in doc["browsers"]:
        if b["verdict"] == "error":
            raise SystemExit(f"{b['id']}: {b['reason']}")
        views += len(b["views"])
        calls += bool(b["call"] and b["call"]["connected"])
    ended = "; ".join(
        f"{b['id']} {v['name']}: "
        + ("proven" if v.get("proof") else "settled" if v["settled"] else v["gathering_state"])
        for b in doc["browsers"]
        for v in b["views"]
    )
    per = "; ".join(
        f"{b['id']}: {b['verdict']}, call {'ok' if b['call']['connected'] else 'none'}"
        for b in doc["browsers"]
    )
    return {
        "check_s": doc["duration_ms"] / 1000,
        "wall_s": wall,
        "views": views,
        "calls": calls,
        "what": per,
        "ended": "gathering ended: " + ended,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--raw", help=argparse.SUPPRESS)  # internal: one raw run, in the namespace
    ap.add_argument(
        "--timeline", action="store_true", help="print one full check's per-phase timeline"
    )
    ap.add_argument("--inner-timeline", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seeded", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--only",
        choices=BROWSERS,
        help="the full check (or --timeline) of this browser alone: the check's own cost, "
        "without the other browser starting beside it",
    )
    a = ap.parse_args()
    if a.raw == "both":  # every browser raw at once: the machine's own contention
        got: dict[str, dict[str, float]] = {}
        ts = [threading.Thread(target=lambda b=b: got.update({b: raw_once(b)})) for b in BROWSERS]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print(json.dumps(got))
        return 0
    if a.raw:
        print(json.dumps(raw_once(a.raw, a.seeded)))
        return 0
    if a.inner_timeline:
        print(timeline_once(a.only))
        return 0
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")
    if missing_tools():
        raise SystemExit(f"missing: {missing_tools()}")
    lab = Lab()
    caches = tempfile.mkdtemp(prefix="vg-bench-cache-")
    try:
        lab.build()
        lab.set_scenario("full")
        checked = (a.only,) if a.only else BROWSERS
        CACHE_DIR["VPNGUARD_CACHE_DIR"] = os.path.join(caches, "warm-up")
        full(lab, checked)  # warm the disk's page cache; not counted, its start-up caches dropped
        CACHE_DIR["VPNGUARD_CACHE_DIR"] = os.path.join(caches, "measured")
        cold = full(lab, checked)  # the first check ever: Firefox starts cold, keeps its caches
        if a.timeline:
            for _ in range(a.repeat):
                extra = ("--only", a.only) if a.only else ()
                proc = in_ns(lab, str(Path(__file__).resolve()), "--inner-timeline", *extra)
                print(proc.stdout, proc.stderr[-2000:], sep="")
            return 0
        for b in BROWSERS:
            raw(lab, b)
        raws: dict[str, list[dict[str, float]]] = {b: [] for b in BROWSERS}
        seeded: list[dict[str, float]] = []
        both: list[float] = []  # the slowest browser when all start raw at once
        fulls: list[dict[str, float | str]] = []
        load_before = os.getloadavg()
        for _ in range(a.repeat):
            for b in BROWSERS:
                raws[b].append(raw(lab, b))
            if "firefox-esr" in checked:
                seeded.append(raw(lab, "firefox-esr", seeded=True))
            if not a.only:
                par = in_ns(lab, str(Path(__file__).resolve()), "--raw", "both")
                both.append(max(r["total_s"] for r in json.loads(par.stdout).values()))
            fulls.append(full(lab, checked))
        load_after = os.getloadavg()
    finally:
        lab.close()
        shutil.rmtree(caches, ignore_errors=True)

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    print(
        f"leak check benchmark, lab full tunnel, median of {a.repeat} runs"
        + (f"; full check of {a.only} alone" if a.only else "")
    )
    print(
        f"machine: {os.cpu_count()} CPUs; load average (1/5/15 min) "
        f"{'/'.join(f'{x:.2f}' for x in load_before)} before, "
        f"{'/'.join(f'{x:.2f}' for x in load_after)} after the measured runs"
    )
    floor = 0.0
    checked = (a.only,) if a.only else BROWSERS
    for b, rs in raws.items():
        rep, tot = med([r["report_s"] for r in rs]), med([r["total_s"] for r in rs])
        if b in checked:
            floor = max(floor, tot)
        n = med([r["candidates"] for r in rs])
        print(
            f"raw {b:<12} candidates in {rep:.2f} s, killed and cleaned at {tot:.2f} s "
            f"({n:.0f} candidates)"
        )
    if seeded:
        rep = med([r["report_s"] for r in seeded])
        tot = med([r["total_s"] for r in seeded])
        print(
            f"raw firefox-esr, its fresh profile seeded with the start-up caches the check "
            f"keeps: candidates in {rep:.2f} s, done at {tot:.2f} s (for reference: what the "
            "warm start alone is worth; not the target's baseline)"
        )
    if both:
        print(
            f"raw, all browsers at once: the slowest done at {med(both):.2f} s "
            f"= {med(both) / floor:.2f}x the slowest single raw browser (this machine's "
            "contention alone; for reference, not the target's baseline)"
        )
    check = med([float(f["check_s"]) for f in fulls])
    wall = med([float(f["wall_s"]) for f in fulls])
    print(
        f"full check: {check:.2f} s (run_check), {wall:.2f} s (whole process); "
        f"{fulls[-1]['views']} views, {fulls[-1]['calls']} calls connected; {fulls[-1]['what']}"
    )
    print(
        f"full check, the first ever (Firefox starts cold and keeps its start-up caches): "
        f"{float(cold['check_s']):.2f} s = {float(cold['check_s']) / floor:.2f}x"
    )
    each = ", ".join(f"{float(f['check_s']):.2f}" for f in fulls)
    print(f"full check, each run: {each} s; {fulls[-1]['ended']}")
    ratio = check / floor
    print(
        f"full check / {'raw ' + a.only if a.only else 'slowest raw browser'} = {ratio:.2f}"
        "  (target <= 1.5)  "
        f"{'OK' if ratio <= 1.5 else 'MISS'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
