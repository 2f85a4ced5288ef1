"""Launch browsers at the leak-check page, collect their reports, judge them.

Every browser runs headless with a fresh temporary profile (managed policy is
system-wide, so the temporary profile still gets it), in its own session so
that its whole process tree can be killed by process group. All browsers run
in parallel; each check ends the moment its report arrives, its browser
exits, or its deadline passes: there are no fixed sleeps.
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
from vpnguard.core.leakcheck.candidates import Candidate, CandidateError, parse_candidate
from vpnguard.core.leakcheck.report import BrowserResult, CheckReport, Rejected
from vpnguard.core.leakcheck.server import LeakCheckServer, PageReport
from vpnguard.core.leakcheck.stun import IceServerUrl, StunProbe, parse_ice_url, stun_probe
from vpnguard.core.leakcheck.verdict import Finding, PathFacts, Verdict, judge
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
)

# Only first-run and phone-home noise: never a media.* pref, so the system's
# locked WebRTC prefs are what the check measures.
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
"""


def launch_command(browser: Browser, url: str, profile: str) -> list[str]:
    """The argv that opens ``url`` headless in ``browser`` with the profile dir ``profile``."""
    if browser.family is Family.FIREFOX:
        return [browser.path, "--headless", "--no-remote", "--profile", profile, url]
    return [browser.path, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url]


def ice_server_config(
    stun: Sequence[IceServerUrl], turn: Sequence[TurnServer]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"urls": [s.url for s in stun]}] if stun else []
    out += [{"urls": [t.url], "username": t.username, "credential": t.credential} for t in turn]
    return out


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
        with ThreadPoolExecutor(max_workers=min(8, len(lan))) as pool:
            probes += pool.map(
                lambda n: stun_probe(server.host, server.port, interface=n, timeout=timeout), lan
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


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the browser's process group, plus any descendant that left it; bounded."""
    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for d in descendants:
        with contextlib.suppress(psutil.Error):
            d.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        log.warning("browser process %d did not die within 5 s", proc.pid)
    _wait_gone(descendants, timeout=2.0)


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


def _run_one(
    browser: Browser,
    server: LeakCheckServer,
    slot: str,
    timeout: float,
    progress: Progress,
) -> _Outcome:
    out = _Outcome()
    t0 = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f"vpnguard-{slot}-"))
    profile = tmp / "profile"
    profile.mkdir()
    if browser.family is Family.FIREFOX:
        (profile / "user.js").write_text(FIREFOX_USER_JS)
    argv = launch_command(browser, server.url(slot), str(profile))
    event = server.event(slot)
    progress(browser.id, CheckPhase.LAUNCHING)
    proc: subprocess.Popen[bytes] | None = None
    try:
        with open(tmp / "stderr.log", "wb") as errlog:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=errlog,
                stderr=errlog,
                start_new_session=True,
                env={**os.environ, "HOME": str(tmp)} if os.geteuid() == 0 else None,
            )
        popen = proc

        def watch() -> None:  # wakes the waiter the moment the browser dies
            popen.wait()
            event.set()

        threading.Thread(target=watch, daemon=True).start()
        out.timings["launch_ms"] = (time.monotonic() - t0) * 1000
        progress(browser.id, CheckPhase.WAITING)
        report = server.wait(slot, max(0.0, timeout - (time.monotonic() - t0)))
        if report is None and proc.poll() is not None:
            # It died; a report may still be in flight on the server thread.
            report = server.wait(slot, 0.2)
        if report is not None:
            out.report = report
            progress(browser.id, CheckPhase.REPORTED)
        elif proc.poll() is not None:
            out.exit_status = proc.returncode
            tail = _tail(tmp / "stderr.log")
            out.error = f"browser exited with status {proc.returncode} before reporting" + (
                f": {tail}" if tail else ""
            )
        else:
            rej = server.rejected(slot)
            out.error = f"no report within {timeout:g} s (browser hung); process tree killed" + (
                f"; rejected: {'; '.join(rej)}" if rej else ""
            )
    except OSError as exc:
        out.error = f"cannot start {browser.path}: {exc.strerror or exc}"
    finally:
        if proc is not None:
            kill_tree(proc)
        end = time.monotonic()
        out.timings["total_ms"] = (end - t0) * 1000
        if out.report is not None:
            out.timings["end_after_report_ms"] = (end - out.report.received) * 1000
            out.timings["report_after_launch_ms"] = (out.report.received - t0) * 1000
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _parse_all(lines: Sequence[str]) -> tuple[tuple[Candidate, ...], tuple[Rejected, ...]]:
    parsed: list[Candidate] = []
    rejected: list[Rejected] = []
    for line in lines:
        try:
            parsed.append(parse_candidate(line))
        except CandidateError as exc:
            rejected.append(Rejected(line[:512], str(exc)))
    return tuple(parsed), tuple(rejected)


def result_for(
    browser: Browser | None,
    slot: str,
    outcome: _Outcome,
    network: NetworkState,
    paths: PathFacts,
    protection: str,
) -> BrowserResult:
    """Judge one outcome (pure given its inputs)."""
    base: dict[str, Any] = {
        "browser_id": browser.id if browser else slot,
        "name": browser.name if browser else "default browser",
        "family": browser.family.value if browser else None,
        "version": browser.version if browser else None,
        "path": browser.path if browser else None,
        "protection": protection,
        "timings": {k: round(v, 1) for k, v in outcome.timings.items()},
        "exit_status": outcome.exit_status,
    }
    rep = outcome.report
    if rep is None:
        return BrowserResult(verdict=Verdict.ERROR, reason=outcome.error or "no report", **base)
    parsed, rejected = _parse_all(rep.candidates)
    timings = {**base.pop("timings"), **{f"page_{k}": v for k, v in rep.timings.items()}}
    findings: tuple[Finding, ...] = ()
    if rep.error and rep.webrtc and not rep.candidates:
        verdict, reason = Verdict.ERROR, f"the page failed: {rep.error}"
    else:
        verdict, reason, findings = judge(parsed, network, paths, webrtc=rep.webrtc)
        if rep.gathering_state == "new" and not rep.candidates:
            reason += "; ICE gathering never started"
        elif rep.timed_out:
            reason += " (gathering hit the page timeout; judged on what arrived)"
    return BrowserResult(
        verdict=verdict,
        reason=reason,
        webrtc=rep.webrtc,
        user_agent=rep.user_agent,
        candidates=rep.candidates,
        parsed=parsed,
        rejected=rejected,
        findings=findings,
        gathering_state=rep.gathering_state,
        timed_out=rep.timed_out,
        timings=timings,
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
) -> CheckReport:
    """Check every browser in parallel (or the user's default browser, ``interactive``).

    ``progress(browser_id, phase)`` is called from worker threads; GUI
    callers must hop to their own thread. ``protections`` (browser id ->
    Protection value) defaults to reading policy from disk. ``paths`` skips
    the STUN path probes (tests pass measured facts).
    """
    started = time.monotonic()
    notify: Progress = progress or (lambda _b, _p: None)
    stun_urls = tuple(parse_ice_url(s) for s in stun)
    ice = ice_server_config(stun_urls, turn)
    if gather_timeout is None:
        gather_timeout = max(1.0, min(10.0, timeout / 2))
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

    with (
        LeakCheckServer(ice, gather_timeout=gather_timeout) as server,
        ThreadPoolExecutor(max_workers=max(2, len(runnable) + 1)) as pool,
    ):
        path_future = (
            pool.submit(measure_paths, network, stun_urls, host=host) if paths is None else None
        )
        outcomes: list[tuple[Browser | None, str, Any]] = []
        if interactive:
            slot = "interactive"
            url = server.add_slot(slot)
            outcomes.append(
                (
                    None,
                    slot,
                    pool.submit(_interactive, server, slot, url, timeout, open_url, notify),
                )
            )
        else:
            for b, slot in runnable:
                server.add_slot(slot)
                outcomes.append((b, slot, pool.submit(_run_one, b, server, slot, timeout, notify)))
        facts = path_future.result() if path_future is not None else paths
        assert facts is not None
        for ob, slot, fut in outcomes:
            outcome: _Outcome = fut.result()
            prot = protections.get(ob.id, "unknown") if ob else "unknown"
            res = result_for(ob, slot, outcome, network, facts, prot)
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
    return out
