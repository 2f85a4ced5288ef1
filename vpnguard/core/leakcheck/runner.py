"""Launch browsers at the leak-check page, collect their reports, judge them.

Every browser is checked through two *views* (:class:`ViewName`): as any page
(no permission), and as a site that was allowed camera and microphone -- what
every meeting site is, and what gets both engines to hand out raw host
addresses. One headless launch per browser, with a fresh temporary profile
(managed policy is system-wide, so the temporary profile still gets it), in
its own session so that its whole process tree can be killed by process
group: the top-level page is the granted site, and it frames the "any page"
view from another origin (``localhost``) without camera/microphone
permission. The page also places real calls (:class:`CallSpec`). All
launches run in parallel; each ends the moment its reports arrive, its
browser exits, or its deadline passes: there are no fixed sleeps.

Nothing is left behind: HOME, the XDG dirs and TMPDIR of the launched browser
point into the launch's temporary dir (crash reports, ``~/.mozilla``,
``/tmp/org.chromium.Chromium.*`` land there), the process group is killed,
re-parented helpers (crashpad) are found by that dir in their command line,
and the dir is removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

from vpnguard.core.host import Host
from vpnguard.core.leakcheck.calls import judge_call, missing_call
from vpnguard.core.leakcheck.candidates import Candidate, CandidateError, parse_candidate
from vpnguard.core.leakcheck.reach import Reach, probe_bases, probe_reach, silent_after
from vpnguard.core.leakcheck.report import (
    BrowserResult,
    CallResult,
    CheckReport,
    Rejected,
    ViewName,
    ViewResult,
    worst,
)
from vpnguard.core.leakcheck.server import (
    DEFAULT_SETTLE,
    CallSpec,
    LeakCheckServer,
    PageReport,
)
from vpnguard.core.leakcheck.stun import IceServerUrl, StunProbe, parse_ice_url, stun_probe
from vpnguard.core.leakcheck.verdict import Finding, PathFacts, Verdict, judge
from vpnguard.core.leakcheck.warmstart import SAVE_WAIT, WarmStart, firefox_build
from vpnguard.core.model import (
    Browser,
    CheckPhase,
    Family,
    InterfaceKind,
    NetworkState,
    Route,
)
from vpnguard.core.model import TurnServer as TurnServer  # a plain value: defined in the model

log = logging.getLogger(__name__)

DEFAULT_STUN: tuple[str, ...] = (
    "stun:stun.l.google.com:19302",
    "stun:stun.cloudflare.com:3478",
)
DEFAULT_TIMEOUT = 30.0
DEFAULT_VIEWS: tuple[ViewName, ...] = (ViewName.NO_PERMISSION, ViewName.MEDIA_PERMISSION)

# (browser_id, phase): "launching", "waiting", "reported", "judged", "done", "error", "skipped"
Progress = Callable[[str, CheckPhase], None]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-crash-reporter",
)
# A site allowed camera and microphone: the fake UI grants every origin, the fake
# devices capture nothing real (LAB.md).
CHROMIUM_MEDIA_FLAGS = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")

# Only first-run, start-up and phone-home noise: never a media.* pref, so the system's
# locked WebRTC prefs are what the check measures. The check visits only its own
# loopback page, so it has no use for Mozilla's services (remote settings, region,
# studies, telemetry, Safe Browsing lists): a privacy check should not call them, and
# skipping them spares start-up CPU. No new-tab page is preloaded, and the spare
# content process starts at once (default: 1 s after start-up), ready for the page.
# Measured: ~0.09 s less CPU to gathering on firefox-esr 153, and the check of Firefox
# alone 1.42 -> 1.29 s in the lab.
FIREFOX_USER_JS = """\
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.enabled", false);
user_pref("app.normandy.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.safebrowsing.update.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("browser.aboutwelcome.enabled", false);
user_pref("toolkit.crashreporter.enabled", false);
user_pref("browser.tabs.crashReporting.sendReport", false);
user_pref("dom.ipc.processPrelaunch.delayMs", 0);
user_pref("browser.newtab.preload", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.startup.page", 0);
user_pref("browser.startup.homepage", "about:blank");
user_pref("services.settings.server", "data:,#remote-settings-disabled");
user_pref("browser.region.update.enabled", false);
user_pref("browser.region.network.url", "");
user_pref("network.predictor.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("app.shield.optoutstudies.enabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("browser.discovery.enabled", false);
"""
# The media view: no prompt, fake devices. Not media.peerconnection.*: the policy under
# test stays untouched (and locked policy prefs win over user.js anyway).
FIREFOX_MEDIA_USER_JS = """\
user_pref("media.navigator.permission.disabled", true);
user_pref("media.navigator.streams.fake", true);
"""


def launch_command(
    browser: Browser, url: str, profile: str, view: ViewName = ViewName.NO_PERMISSION
) -> list[str]:
    """The argv that opens ``url`` headless in ``browser`` with the profile dir ``profile``."""
    if browser.family is Family.FIREFOX:
        return [browser.path, "--headless", "--no-remote", "--profile", profile, url]
    media = CHROMIUM_MEDIA_FLAGS if view is ViewName.MEDIA_PERMISSION else ()
    return [browser.path, *CHROMIUM_FLAGS, *media, f"--user-data-dir={profile}", url]


def browser_env(tmp: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The launched browser's environment: every per-user dir inside ``tmp``.

    Chromium writes ``~/.config/chromium/Crash Reports`` and
    ``/tmp/org.chromium.Chromium.*``; Firefox creates ``~/.mozilla``: with
    HOME, XDG_* and TMPDIR pointing here they land in the launch's own dir.
    """
    env = dict(os.environ if base is None else base)
    dirs = {
        "HOME": tmp / "home",
        "XDG_CONFIG_HOME": tmp / "home" / ".config",
        "XDG_CACHE_HOME": tmp / "home" / ".cache",
        "XDG_DATA_HOME": tmp / "home" / ".local" / "share",
        "XDG_STATE_HOME": tmp / "home" / ".local" / "state",
        "TMPDIR": tmp / "t",
    }
    for key, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        env[key] = str(path)
    env["MOZ_CRASHREPORTER_DISABLE"] = "1"
    return env


def ice_server_config(
    stun: Sequence[IceServerUrl], turn: Sequence[TurnServer]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"urls": [s.url for s in stun]}] if stun else []
    out += [{"urls": [t.url], "username": t.username, "credential": t.credential} for t in turn]
    return out


def call_spec(
    name: str,
    stun: Sequence[str] = (),
    turn: Sequence[TurnServer] = (),
    *,
    relay_only: bool = False,
) -> CallSpec:
    """A call with these ICE servers (e.g. only TURN over TCP, relay only)."""
    return CallSpec(
        name,
        tuple(ice_server_config(tuple(parse_ice_url(u) for u in stun), turn)),
        relay_only,
    )


def _ice_urls(spec: CallSpec) -> tuple[str, ...]:
    out: list[str] = []
    for server in spec.ice_servers:
        urls = server.get("urls", ())
        out += [urls] if isinstance(urls, str) else list(urls)
    return tuple(out)


# -- what the world sees through each path --------------------------------------------


def temporary_ipv6(host: Host) -> tuple[str, ...]:
    """IPv6 addresses the kernel flags IFA_F_TEMPORARY (Linux /proc/net/if_inet6)."""
    import ipaddress

    out = []
    try:
        text = host.p("/proc/net/if_inet6").read_text()
    except OSError:
        return ()
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 6 and int(f[4], 16) & 0x01:
            out.append(str(ipaddress.IPv6Address(bytes.fromhex(f[0]))))
    return tuple(out)


def _resolve4(host: str) -> str | None:
    try:
        return str(socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)[0][4][0])
    except (OSError, IndexError):
        return None


def pinned_timeout(unpinned: StunProbe, timeout: float) -> float:
    """How long a probe pinned to a non-VPN interface waits (pure): see ``silent_after``."""
    rtt = unpinned.rtt_ms if unpinned.mapped is not None else None
    return silent_after(rtt / 1000 if rtt else None, timeout)


def measure_paths(
    network: NetworkState,
    stun: Sequence[IceServerUrl],
    *,
    host: Host | None = None,
    timeout: float = 1.0,
    route: Callable[[str], Route | None] | None = None,
) -> PathFacts:
    """Probe the first answering STUN server unpinned and through each non-VPN interface.

    The unpinned probe shows what the kernel's chosen path (normally the VPN)
    reveals; a probe pinned with SO_BINDTODEVICE to a LAN interface shows the
    ISP-side public address. Pinning needs root: without it the failure is
    recorded and the verdict relies on interface addresses and the route.
    """
    servers = [s for s in stun if s.scheme == "stun" and s.transport in (None, "udp")]
    if not servers:
        return PathFacts(None, None, (), temporary_ipv6(host) if host else ())
    with ThreadPoolExecutor(max_workers=min(8, len(servers))) as pool:
        first = list(pool.map(lambda s: stun_probe(s.host, s.port, timeout=timeout), servers))
    chosen = next((i for i, p in enumerate(first) if p.mapped), 0)
    server = servers[chosen]
    addr = _resolve4(server.host)
    stun_route: Route | None = None
    if addr is not None:
        if route is None:
            from vpnguard.core.network import route_to

            stun_route = route_to(addr, network.interfaces)
        else:
            stun_route = route(addr)
    lan = [
        i.name
        for i in network.interfaces
        if i.is_up
        and i.kind not in (InterfaceKind.VPN, InterfaceKind.LOOPBACK)
        and any(":" not in a for a in i.addresses)
    ]
    probes: list[StunProbe] = [first[chosen]]
    if lan:
        # Paced like the reach probes: the same server's answer on the kernel's path sets
        # how long a pinned path may stay silent (a full tunnel's LAN path is dropped).
        pinned = pinned_timeout(first[chosen], timeout)
        with ThreadPoolExecutor(max_workers=min(8, len(lan))) as pool:
            probes += pool.map(
                lambda n: stun_probe(server.host, server.port, interface=n, timeout=pinned), lan
            )
    for p in probes:
        log.debug("stun probe %s via %s: %s %s", p.server, p.interface, p.mapped, p.error or "")
    return PathFacts(
        stun_server=f"{server.host}:{server.port}",
        stun_route=stun_route,
        probes=tuple(probes),
        temporary_ipv6=temporary_ipv6(host) if host else (),
    )


# -- one browser ------------------------------------------------------------------------


def kill_tree(proc: subprocess.Popen[bytes], marker: str | None = None) -> None:
    """SIGKILL the browser's process group, descendants that left it, and strays; bounded.

    ``marker`` (the launch's temp dir) finds helpers that re-parented to PID 1
    and left the group, e.g. crashpad handlers started with
    ``--database=<marker>/...``.
    """
    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    strays = _strays(marker, {proc.pid, *(d.pid for d in descendants)}) if marker else []
    for d in [*descendants, *strays]:
        with contextlib.suppress(psutil.Error):
            d.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        log.warning("browser process %d did not die within 5 s", proc.pid)
    _wait_gone([*descendants, *strays], timeout=2.0)


def _strays(marker: str, known: set[int]) -> list[psutil.Process]:
    """Our own processes (same uid) whose command line names ``marker``."""
    me = os.getuid()
    out = []
    for p in psutil.process_iter(["pid", "uids", "cmdline"]):
        try:
            if p.pid in known or p.info["uids"] is None or p.info["uids"].real != me:
                continue
            if any(marker in arg for arg in p.info["cmdline"] or ()):
                out.append(p)
        except psutil.Error:
            continue
    return out


def _wait_gone(procs: Sequence[psutil.Process], timeout: float) -> None:
    """Wait until each process is gone or a zombie (bounded).

    Grandchildren are re-parented to PID 1, which may not reap promptly in a
    container; a zombie holds no resources and can no longer talk to anyone,
    so it counts as dead here (psutil.wait_procs would wait for the reaper).
    """
    deadline = time.monotonic() + timeout
    pending = list(procs)
    while pending and time.monotonic() < deadline:
        alive = []
        for p in pending:
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.Error:
                pass
        pending = alive
        if pending:
            time.sleep(0.005)
    if pending:
        log.warning("%d browser processes still alive after SIGKILL", len(pending))


def _tail(path: Path, limit: int = 400) -> str:
    try:
        data = path.read_bytes()[-limit:]
    except OSError:
        return ""
    return data.decode("utf-8", "replace").strip().replace("\n", " | ")


@dataclasses.dataclass
class _Outcome:
    report: PageReport | None = None
    error: str | None = None
    exit_status: int | None = None
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    tampered: tuple[str, ...] = ()
    proof: str | None = None  # the server's proof that gathering could end, re-checked


def prepare_profile(browser: Browser, profile: Path, view: ViewName, origin: str) -> None:
    """Write what the view needs into a fresh profile; never a WebRTC pref."""
    if browser.family is not Family.FIREFOX:
        return
    user_js = FIREFOX_USER_JS
    if view is ViewName.MEDIA_PERMISSION:
        user_js += FIREFOX_MEDIA_USER_JS
        grant_firefox_media(profile, origin)
    (profile / "user.js").write_text(user_js)


def grant_firefox_media(profile: Path, origin: str) -> None:
    """Store camera and microphone ALLOW for ``origin``, as a user's "Remember" does.

    Firefox keeps site permissions in ``permissions.sqlite`` (``moz_perms``,
    schema 12). Seen in the lab: prefs alone (no prompt, fake devices) keep
    host candidates ``.local``; a stored permission is what makes a granted
    site.
    """
    import sqlite3

    now = int(time.time() * 1000)
    db = sqlite3.connect(profile / "permissions.sqlite")
    try:
        db.executescript(
            "CREATE TABLE moz_perms (id INTEGER PRIMARY KEY, origin TEXT, type TEXT,"
            " permission INTEGER, expireType INTEGER, expireTime INTEGER,"
            " modificationTime INTEGER);"
            "CREATE TABLE moz_hosts (id INTEGER PRIMARY KEY, host TEXT, type TEXT,"
            " permission INTEGER, expireType INTEGER, expireTime INTEGER,"
            " modificationTime INTEGER, isInBrowserElement INTEGER);"
            "PRAGMA user_version = 12;"
        )
        db.executemany(
            "INSERT INTO moz_perms (origin, type, permission, expireType, expireTime,"
            " modificationTime) VALUES (?, ?, 1, 0, 0, ?)",
            [(origin, "camera", now), (origin, "microphone", now)],
        )
        db.commit()
    finally:
        db.close()


def _temp_base() -> str | None:
    """Where launch dirs go: the user's temp dir, unless its path is so long that Chromium's
    ``<TMPDIR>/org.chromium.Chromium.XXXXXX/SingletonSocket`` would overflow a Unix socket
    path (108 bytes; seen: Chromium aborts with status -6). Then /tmp."""
    base = tempfile.gettempdir()
    if len(base) > 40 and os.path.isdir("/tmp") and os.access("/tmp", os.W_OK):
        return "/tmp"
    return None


def _run_one(
    browser: Browser,
    server: LeakCheckServer,
    slots: Sequence[tuple[ViewName, str]],
    timeout: float,
    progress: Progress,
    warm: WarmStart | None = None,
) -> list[tuple[ViewName, _Outcome]]:
    """One launch at the first slot's page; every slot's report is waited for.

    The first slot is the top-level page (the media view when there is one);
    a second slot is its cross-origin frame (see ``LeakCheckServer.add_slot``).
    ``warm``: where Firefox's start-up caches are kept (:mod:`.warmstart`); the
    first launch of a build keeps its browser (bounded) until they are written.
    """
    outs = {slot: _Outcome() for _, slot in slots}
    top_view, top = slots[0]
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="vpnguard-", dir=_temp_base()))
    profile = tmp / "profile"
    profile.mkdir()
    build = firefox_build(browser.path) if warm and browser.family is Family.FIREFOX else None
    seeded = False
    if warm is not None and build is not None:
        try:
            seeded = warm.seed(build, profile)
        except Exception:  # a cache must never cost the check: it starts cold
            log.exception("Firefox warm start failed; starting cold")
            shutil.rmtree(profile, ignore_errors=True)
            profile.mkdir()
    seed_ms = (time.monotonic() - t0) * 1000
    url = server.url(top)
    prepare_profile(browser, profile, top_view, server.origin(top))
    argv = launch_command(browser, url, str(profile), top_view)
    profile_ms = (time.monotonic() - t0) * 1000
    events = [server.event(slot) for _, slot in slots]
    progress(browser.id, CheckPhase.LAUNCHING)
    proc: subprocess.Popen[bytes] | None = None
    error: str | None = None
    exit_status: int | None = None
    launch_ms = 0.0
    try:
        env = browser_env(tmp)
        with open(tmp / "stderr.log", "wb") as errlog:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=errlog,
                stderr=errlog,
                start_new_session=True,
                env=env,
            )
        popen = proc

        def watch() -> None:  # wakes the waiters the moment the browser dies
            popen.wait()
            for e in events:
                e.set()

        threading.Thread(target=watch, daemon=True).start()
        launch_ms = (time.monotonic() - t0) * 1000
        progress(browser.id, CheckPhase.WAITING)
        for _, slot in slots:
            report = server.wait(slot, max(0.0, timeout - (time.monotonic() - t0)))
            if report is None and proc.poll() is not None:
                report = _in_flight(server, slot)
            if report is not None:
                outs[slot].report = report
            elif server.tampered(slot):
                outs[slot].error = "; ".join(server.tampered(slot))
            elif proc.poll() is not None:
                exit_status = proc.returncode
                tail = _tail(tmp / "stderr.log")
                outs[slot].error = (
                    f"browser exited with status {proc.returncode} before reporting"
                    + (f": {tail}" if tail else "")
                )
            else:
                rej = server.rejected(slot)
                outs[slot].error = (
                    f"no report within {timeout:g} s (browser hung); process tree killed"
                    + (f"; rejected: {'; '.join(rej)}" if rej else "")
                )
        if all(o.report is not None for o in outs.values()):
            progress(browser.id, CheckPhase.REPORTED)
    except OSError as exc:
        error = f"cannot start {browser.path}: {exc.strerror or exc}"
    finally:
        t_save = time.monotonic()
        saved: bool | None = None
        reported = all(o.report is not None for o in outs.values())
        if warm is not None and build is not None and proc is not None:
            try:
                if reported and not seeded and warm.wanted(build):
                    live = proc
                    saved = warm.save(
                        build,
                        profile,
                        alive=lambda: live.poll() is None,
                        deadline=time.monotonic() + SAVE_WAIT,
                    )
                elif seeded and not reported and not any(server.tampered(s) for _, s in slots):
                    # It failed on a seeded profile: the next check starts cold, whatever the
                    # cause.
                    warm.discard(build)
            except Exception:  # never in the way of the kill below
                log.exception("Firefox warm start: keeping or dropping the caches failed")
        t_kill = time.monotonic()
        if proc is not None:
            kill_tree(proc, str(tmp))
        t_rm = time.monotonic()
        shutil.rmtree(tmp, ignore_errors=True)
        end = time.monotonic()
        # Whoever stole one page of a launch holds the URLs of the rest: none is trusted.
        tampered = tuple(dict.fromkeys(t for _, slot in slots for t in server.tampered(slot)))
        for _, slot in slots:
            out = outs[slot]
            if error is not None:
                out.error = error
            out.exit_status = exit_status
            out.timings["profile_ms"] = profile_ms
            if seeded:
                out.timings["warm_start_ms"] = seed_ms
            if saved is not None:
                out.timings["warm_save_ms"] = (t_kill - t_save) * 1000
            out.timings["launch_ms"] = launch_ms
            served = server.served_at(slot)
            if served is not None:
                out.timings["served_ms"] = (served - t0) * 1000
            out.timings["kill_ms"] = (t_rm - t_kill) * 1000
            out.timings["cleanup_ms"] = (end - t_rm) * 1000
            out.timings["total_ms"] = (end - t0) * 1000
            if out.report is not None and out.report.proven:
                # Re-checked on the final candidates: the page only adds to what it asked about.
                given = server.proof(slot)
                out.proof = server.proof_for(out.report.candidates) if given else None
            if out.report is not None:
                out.timings["end_after_report_ms"] = (end - out.report.received) * 1000
                out.timings["report_after_launch_ms"] = (out.report.received - t0) * 1000
            out.tampered = tampered
    return [(view, outs[slot]) for view, slot in slots]


IN_FLIGHT = 2.0  # s: the longest a dead browser's last report may still take to arrive


def _in_flight(server: LeakCheckServer, slot: str) -> PageReport | None:
    """The report of a browser that just died, if one is still on its way (bounded).

    Its death set the slot's event, so ``server.wait`` returns at once: instead,
    wait while the server still holds a connection (a POST being read or judged;
    a process of the browser's group may still be sending), and at least two of
    the server's accept polls for one still in the listen queue.
    """
    start = time.monotonic()
    while True:
        report = server.report(slot)
        waited = time.monotonic() - start
        if report is not None or waited >= IN_FLIGHT:
            return report
        if waited >= 0.1 and server.open_connections == 0:
            return server.report(slot)
        time.sleep(0.01)


def _parse_all(lines: Sequence[str]) -> tuple[tuple[Candidate, ...], tuple[Rejected, ...]]:
    parsed: list[Candidate] = []
    rejected: list[Rejected] = []
    for line in lines:
        try:
            parsed.append(parse_candidate(line))
        except CandidateError as exc:
            rejected.append(Rejected(line[:512], str(exc)))
    return tuple(parsed), tuple(rejected)


def view_result(
    view: ViewName, outcome: _Outcome, network: NetworkState, paths: PathFacts
) -> ViewResult:
    """Judge one view's outcome (pure given its inputs)."""
    rep = outcome.report
    timings = {k: round(v, 1) for k, v in outcome.timings.items()}
    if outcome.tampered:
        return ViewResult(
            view, Verdict.ERROR, "; ".join(dict.fromkeys(outcome.tampered)), timings=timings
        )
    if rep is None:
        return ViewResult(view, Verdict.ERROR, outcome.error or "no report", timings=timings)
    parsed, rejected = _parse_all(rep.candidates)
    timings.update({f"page_{k}": v for k, v in rep.timings.items()})
    findings: tuple[Finding, ...] = ()
    if view is ViewName.MEDIA_PERMISSION and rep.webrtc and rep.media != "granted":
        verdict, reason = (
            Verdict.ERROR,
            f"the page could not get camera and microphone ({rep.media or 'no answer'}): "
            "this view was not observed",
        )
    elif rep.error and rep.webrtc and not rep.candidates:
        verdict, reason = Verdict.ERROR, f"the page failed: {rep.error}"
    else:
        verdict, reason, findings = judge(parsed, network, paths, webrtc=rep.webrtc)
        if rep.gathering_state == "new" and not rep.candidates:
            reason += "; ICE gathering never started"
        elif rep.proven and outcome.proof is None:
            # The page ended early without a proof that holds on what it reported.
            if verdict is Verdict.PASS:
                verdict = Verdict.INCONCLUSIVE
            reason += " (gathering was cut short without proof that nothing more could come)"
        elif rep.proven:
            reason += (
                " (gathering ended once every ICE server that answered vpnguard's own probe"
                " from a local address had produced that address's candidate)"
            )
        elif rep.timed_out:
            reason += " (gathering hit the page timeout; judged on what arrived)"
        elif rep.settled:
            reason += " (judged once candidates stopped coming; gathering was still open)"
    return ViewResult(
        name=view,
        verdict=verdict,
        reason=reason,
        candidates=rep.candidates,
        parsed=parsed,
        rejected=rejected,
        findings=findings,
        gathering_state=rep.gathering_state,
        timed_out=rep.timed_out,
        settled=rep.settled,
        proof=outcome.proof if rep.proven else None,
        media=rep.media,
        timings=timings,
        candidate_ms=rep.candidate_ms,
    )


def calls_from(
    name: str,
    protection: str,
    view: ViewName,
    outcome: _Outcome | None,
    specs: Sequence[CallSpec],
) -> tuple[CallResult, ...]:
    """Each requested call's result, from the view that placed the calls."""
    rep = outcome.report if outcome else None
    out: list[CallResult] = []
    for spec in specs:
        urls = _ice_urls(spec)
        got = next((c for c in rep.calls if c.name == spec.name), None) if rep else None
        if outcome is not None and outcome.tampered:
            why = "the check was tampered with: " + "; ".join(dict.fromkeys(outcome.tampered))
            out.append(missing_call(spec.name, why, ice_urls=urls, relay_only=spec.relay_only))
        elif rep is not None and not rep.webrtc:
            why = "WebRTC is disabled in this browser: calls are blocked"
            out.append(missing_call(spec.name, why, ice_urls=urls, relay_only=spec.relay_only))
        elif got is None:
            why = (outcome.error if outcome and outcome.error else None) or (
                "the page did not report this call"
                + (f" ({rep.error})" if rep is not None and rep.error else "")
            )
            out.append(missing_call(spec.name, why, ice_urls=urls, relay_only=spec.relay_only))
        else:
            out.append(
                judge_call(
                    got,
                    browser_name=name,
                    protection=protection,
                    ice_urls=urls,
                    relay_only=spec.relay_only,
                    view=view,
                )
            )
    return tuple(out)


def result_for(
    browser: Browser | None,
    slot: str,
    outcomes: Sequence[tuple[ViewName, _Outcome]],
    network: NetworkState,
    paths: PathFacts,
    protection: str,
    *,
    calls: Sequence[CallSpec] = (),
    call_view: ViewName | None = None,
) -> BrowserResult:
    """Judge one browser's views and calls (pure given its inputs)."""
    name = browser.name if browser else "default browser"
    base: dict[str, Any] = {
        "browser_id": browser.id if browser else slot,
        "name": name,
        "family": browser.family.value if browser else None,
        "version": browser.version if browser else None,
        "path": browser.path if browser else None,
        "protection": protection,
    }
    views = tuple(view_result(v, o, network, paths) for v, o in outcomes)
    verdict = worst([v.verdict for v in views])
    if verdict is Verdict.WEBRTC_DISABLED or len(views) == 1:
        reason = views[0].reason
    else:
        reason = "; ".join(f"{v.name.label}: {v.reason}" for v in views)
    placed = dict(outcomes).get(call_view) if call_view else None
    timings: dict[str, float] = {}
    for v in views:
        timings.update({f"{v.name.value}.{k}": t for k, t in v.timings.items()})
    reports = [o.report for _, o in outcomes if o.report is not None]
    return BrowserResult(
        verdict=verdict,
        reason=reason,
        webrtc=reports[0].webrtc if reports else None,
        user_agent=reports[0].user_agent if reports else None,
        candidates=tuple(c for v in views for c in v.candidates),
        parsed=tuple(c for v in views for c in v.parsed),
        rejected=tuple(r for v in views for r in v.rejected),
        findings=tuple(f for v in views for f in v.findings),
        gathering_state=views[0].gathering_state if views else None,
        timed_out=any(v.timed_out for v in views),
        timings=timings,
        exit_status=next((o.exit_status for _, o in outcomes if o.exit_status is not None), None),
        views=views,
        calls=calls_from(name, protection, call_view, placed, calls) if call_view else (),
        **base,
    )


def _slot_name(browser_id: str, used: set[str]) -> str:
    base = "".join(c if c.isalnum() or c in "-_" else "-" for c in browser_id.lower())[:48] or "b"
    slot, n = base, 1
    while slot in used:
        n += 1
        slot = f"{base}-{n}"
    used.add(slot)
    return slot


def run_check(
    host: Host,
    browsers: Sequence[Browser],
    network: NetworkState,
    *,
    stun: Sequence[str] = DEFAULT_STUN,
    turn: Sequence[TurnServer] = (),
    timeout: float = DEFAULT_TIMEOUT,
    gather_timeout: float | None = None,
    progress: Progress | None = None,
    protections: Mapping[str, str] | None = None,
    interactive: bool = False,
    open_url: Callable[[str], bool] | None = None,
    paths: PathFacts | None = None,
    views: Sequence[ViewName] = DEFAULT_VIEWS,
    calls: Sequence[CallSpec] | None = None,
    call_view: ViewName | None = None,
    settle: float = DEFAULT_SETTLE,
    warm_start: WarmStart | None = None,
) -> CheckReport:
    """Check every browser, every view, in parallel (or the user's default browser).

    ``views``: which views to launch (default both). ``calls``: the calls the
    page places (default one, "default", with the check's STUN and TURN
    servers; ``()`` for none); use :func:`call_spec` for e.g. TURN over TCP
    only. ``call_view``: the view whose page places the calls (default the
    media view, where meeting sites live, else the first view). ``settle``:
    a gathering still open after this many seconds without a new candidate is
    judged on what arrived (sockets whose STUN is dropped keep it open long).
    ``progress(browser_id, phase)`` is called from worker threads; GUI
    callers must hop to their own thread. ``protections`` (browser id ->
    Protection value) defaults to reading policy from disk. ``paths`` skips
    the STUN path probes (tests pass measured facts). ``warm_start``: where
    Firefox's own start-up caches are kept between checks (:mod:`.warmstart`;
    default none: every launch starts cold).
    """
    started = time.monotonic()
    notify: Progress = progress or (lambda _b, _p: None)
    stun_urls = tuple(parse_ice_url(s) for s in stun)
    ice = ice_server_config(stun_urls, turn)
    views = tuple(dict.fromkeys(views)) or DEFAULT_VIEWS
    if interactive:
        views = (ViewName.NO_PERMISSION,)
    if calls is None:
        calls = (CallSpec("default", tuple(ice)),)
    if call_view is None or call_view not in views:
        call_view = ViewName.MEDIA_PERMISSION if ViewName.MEDIA_PERMISSION in views else views[0]
    if gather_timeout is None:
        gather_timeout = max(1.0, min(8.0, timeout / 3))
    if protections is None:
        from vpnguard.core.policy.status import read_states

        protections = {k: v.protection.value for k, v in read_states(host, browsers).items()}
    results: list[BrowserResult] = []
    runnable: list[tuple[Browser, str]] = []
    used: set[str] = set()
    for b in browsers:
        if b.self_managed:
            notify(b.id, CheckPhase.SKIPPED)
            results.append(
                BrowserResult(
                    b.id,
                    b.name,
                    b.family.value,
                    b.version,
                    b.path,
                    "self_managed",
                    Verdict.SKIPPED,
                    "manages WebRTC itself (e.g. Tor Browser): not checked",
                )
            )
        else:
            runnable.append((b, _slot_name(b.id, used)))

    launches = max(1, len(runnable) * len(views))
    with (
        LeakCheckServer(ice, gather_timeout=gather_timeout, settle=settle) as server,
        ThreadPoolExecutor(max_workers=launches + 1) as pool,
    ):
        path_future = (
            pool.submit(measure_paths, network, stun_urls, host=host) if paths is None else None
        )
        if interactive:
            server.set_reach((), ())  # the user's own browser: no proof, the plain quiet spell
        else:
            # Our own probe from every local address to every ICE server, while the
            # browsers start: what lets a view end gathering before the browser does.
            # A daemon thread, not the pool: a check that ends sooner never waits for the
            # probes' bound (1.5 s), and they close their own sockets.
            servers = stun_urls + tuple(parse_ice_url(t.url) for t in turn)
            threading.Thread(
                target=_probe_for,
                args=(server, network, servers),
                name="vpnguard-reach",
                daemon=True,
            ).start()
        pending: list[tuple[Browser | None, str, list[tuple[ViewName, Any]]]] = []
        if interactive:
            slot = "interactive"
            url = server.add_slot(slot, calls=calls)
            fut = pool.submit(_interactive, server, slot, url, timeout, open_url, notify)
            pending.append((None, slot, [(ViewName.NO_PERMISSION, fut)]))
        else:
            for b, slot in runnable:
                # One launch per browser: the top page is the media view (when asked
                # for), and frames the permissionless view from another origin.
                ordered = sorted(views, key=lambda v: v is not ViewName.MEDIA_PERMISSION)
                names = {
                    v: f"{slot}-{'media' if v is ViewName.MEDIA_PERMISSION else 'page'}"
                    for v in ordered
                }
                for view in reversed(ordered):  # the framed slot first
                    server.add_slot(
                        names[view],
                        media=view is ViewName.MEDIA_PERMISSION,
                        calls=calls if view is call_view else (),
                        frame=names[ordered[1]]
                        if view is ordered[0] and len(ordered) > 1
                        else None,
                    )
                launch = pool.submit(
                    _run_one,
                    b,
                    server,
                    [(v, names[v]) for v in ordered],
                    timeout,
                    notify,
                    warm_start,
                )
                pending.append((b, slot, [(v, launch) for v in views]))
        facts = path_future.result() if path_future is not None else paths
        assert facts is not None
        for ob, slot, futs in pending:
            outcomes: list[tuple[ViewName, _Outcome]] = []
            for view, fut in futs:
                got = fut.result()  # _run_one: [(view, outcome)]; _interactive: an outcome
                outcomes.append((view, dict(got)[view] if isinstance(got, list) else got))
            prot = protections.get(ob.id, "unknown") if ob else "unknown"
            res = result_for(
                ob, slot, outcomes, network, facts, prot, calls=calls, call_view=call_view
            )
            notify(
                res.browser_id,
                CheckPhase.ERROR if res.verdict is Verdict.ERROR else CheckPhase.JUDGED,
            )
            results.append(res)
    order = {b.id: i for i, b in enumerate(browsers)}
    results.sort(key=lambda r: order.get(r.browser_id, len(order)))
    return CheckReport(
        browsers=tuple(results),
        network=network,
        paths=facts,
        ice_servers=tuple(s.url for s in stun_urls) + tuple(t.url for t in turn),
        interactive=interactive,
        duration_ms=(time.monotonic() - started) * 1000,
    )


def _probe_for(
    server: LeakCheckServer, network: NetworkState, servers: Sequence[IceServerUrl]
) -> None:
    bases = probe_bases(network.interfaces)
    reach: tuple[Reach, ...] = ()
    try:
        reach = probe_reach(bases, servers)
    except Exception:  # a bug here must not hang the pages: they fall back to a quiet spell
        log.exception("reach probes failed")
        bases = ()
    finally:
        server.set_reach(reach, bases)


def _interactive(
    server: LeakCheckServer,
    slot: str,
    url: str,
    timeout: float,
    open_url: Callable[[str], bool] | None,
    progress: Progress,
) -> _Outcome:
    """Open the page in the user's own default browser and wait for its report."""
    out = _Outcome()
    t0 = time.monotonic()
    if open_url is None:
        import webbrowser

        open_url = webbrowser.open
    progress(slot, CheckPhase.LAUNCHING)
    if not open_url(url):
        out.error = f"could not open a browser; open {url} yourself"
        log.warning("no default browser could be opened; open %s", url)
    progress(slot, CheckPhase.WAITING)
    rep = server.wait(slot, timeout)
    if rep is None:
        out.error = (out.error or "") + f" no report within {timeout:g} s"
        out.error = out.error.strip()
    else:
        out.report = rep
        out.timings["report_after_launch_ms"] = (rep.received - t0) * 1000
        progress(slot, CheckPhase.REPORTED)
    out.timings["total_ms"] = (time.monotonic() - t0) * 1000
    out.tampered = tuple(server.tampered(slot))
    return out
