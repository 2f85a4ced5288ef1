"""The local HTTP server that serves the leak-check page and receives its report.

Modelled on OnionShare's local server: bound to 127.0.0.1 on an ephemeral
port, every path under a random per-run token, a strict CSP. It also rejects
a foreign ``Host`` (DNS rebinding: a web page on evil.example resolving to
127.0.0.1 would otherwise be same-origin with us) and a foreign ``Origin``,
and caps the body, because any local process or page can reach the port.

The token travels on the browser's command line, which every local user can
read in ``/proc``. So each page URL is *one-time*: the first GET consumes it
and the page receives a per-slot report secret in its body; a report must
carry that secret. A second GET of the same page, or a report with a wrong
secret, marks the slot *tampered*, and the runner turns a tampered slot into
``error`` -- never a forged ``pass``. Every connection has a read deadline
and a hard lifetime, and the number of open connections is capped, so
stalled clients (slowloris) cannot pile up threads.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import html
import importlib.resources
import json
import logging
import secrets
import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from vpnguard.core.leakcheck.candidates import CandidateError, parse_candidate
from vpnguard.core.leakcheck.reach import REACH_TIMEOUT, Reach, gathering_proof, quiet_ms

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
MAX_CANDIDATES = 1000
MAX_CALLS = 8
READ_TIMEOUT = 5.0  # seconds a connection may stay silent mid-request
CONN_LIFETIME = 20.0  # seconds any one connection may live
MAX_CONNECTIONS = 32
# Seconds without a new candidate that end a gathering still open (sockets whose STUN is
# dropped keep it open ~10 s). Answers on a working path come within a round trip, or
# after Chromium's first two STUN retransmits (250 ms, then 500 ms) when packets are lost.
DEFAULT_SETTLE = 1.0
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'none'; "
    "style-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SLOT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


class ReportError(ValueError):
    """A report body that is not the shape the page sends."""


_CAND_TYPES = frozenset({"host", "srflx", "prflx", "relay"})


@dataclasses.dataclass(frozen=True)
class PageCallError:
    """One ``icecandidateerror`` event (e.g. 401: TURN refused the credentials)."""

    code: int
    text: str
    url: str = ""


@dataclasses.dataclass(frozen=True)
class PageCall:
    """One call as the page observed it (validated; reasons are derived in Python)."""

    name: str
    connected: bool
    ms: int | None
    ice_state: str | None
    gathering: tuple[str | None, str | None]
    local_types: tuple[str, ...]
    remote_types: tuple[str, ...]
    errors: tuple[PageCallError, ...]
    path: Mapping[str, Any] | None  # local/protocol/relay_protocol/remote/state/nominated
    error: str | None
    timed_out: bool


@dataclasses.dataclass(frozen=True)
class PageReport:
    """One validated report, as the page sent it, with the time it arrived."""

    slot: str
    webrtc: bool
    candidates: tuple[str, ...]
    user_agent: str
    gathering_state: str | None
    timed_out: bool
    error: str | None
    timings: Mapping[str, float]
    received: float  # time.monotonic() when the POST arrived
    media: str | None = None  # "granted", "refused: ...", "unavailable: ..." (media view)
    calls: tuple[PageCall, ...] = ()
    settled: bool = False  # gathering was still open; no new candidate for settle_ms
    proven: bool = False  # the page ended gathering because the server said it was proven
    candidate_ms: tuple[float, ...] = ()  # page ms at which each candidate arrived


def _short(v: Any, what: str, limit: int = 64) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str):
        raise ReportError(f"{what} must be a string")
    return v[:limit]


def _types(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or len(v) > MAX_CANDIDATES:
        raise ReportError("candidate types must be a list")
    return tuple(t if t in _CAND_TYPES else "?" for t in v if isinstance(t, str))


def validate_call(doc: Any) -> PageCall:
    if not isinstance(doc, dict):
        raise ReportError("a call is not a JSON object")
    name = _short(doc.get("name"), "call name") or ""
    connected = doc.get("connected")
    if not isinstance(connected, bool):
        raise ReportError("call 'connected' must be a boolean")
    ms = doc.get("ms")
    if ms is not None and (isinstance(ms, bool) or not isinstance(ms, int | float)):
        raise ReportError("call 'ms' must be a number")
    gathering = doc.get("gathering") or [None, None]
    if not isinstance(gathering, list) or len(gathering) != 2:
        raise ReportError("call 'gathering' must be a pair")
    errors = doc.get("errors") or []
    if not isinstance(errors, list):
        raise ReportError("call 'errors' must be a list")
    errs: list[PageCallError] = []
    for e in errors[:20]:
        if not isinstance(e, dict) or isinstance(e.get("code"), bool):
            raise ReportError("bad call error")
        code = e.get("code", 0)
        if not isinstance(code, int):
            raise ReportError("bad call error code")
        errs.append(
            PageCallError(
                code,
                _short(e.get("text"), "error text", 200) or "",
                _short(e.get("url"), "error url", 200) or "",
            )
        )
    path = doc.get("path")
    clean_path: dict[str, Any] | None = None
    if path is not None:
        if not isinstance(path, dict):
            raise ReportError("call 'path' must be an object")
        clean_path = {
            k: _short(path.get(k), f"path {k}", 16)
            for k in ("local", "protocol", "relay_protocol", "remote", "state")
        }
        clean_path["nominated"] = bool(path.get("nominated"))
    return PageCall(
        name=name,
        connected=connected,
        ms=None if ms is None else max(0, int(ms)),
        ice_state=_short(doc.get("ice_state"), "ice_state", 32),
        gathering=(_short(gathering[0], "gathering", 32), _short(gathering[1], "gathering", 32)),
        local_types=_types(doc.get("local_types", [])),
        remote_types=_types(doc.get("remote_types", [])),
        errors=tuple(errs),
        path=clean_path,
        error=_short(doc.get("error"), "call error", 300),
        timed_out=bool(doc.get("timed_out", False)),
    )


def validate_report(doc: Any, slot: str, received: float) -> PageReport:
    """Check the report's shape field by field; raise :class:`ReportError` on anything odd."""
    if not isinstance(doc, dict):
        raise ReportError("report is not a JSON object")
    if doc.get("slot") != slot:
        raise ReportError("report is for another slot")
    webrtc = doc.get("webrtc")
    if not isinstance(webrtc, bool):
        raise ReportError("'webrtc' must be a boolean")
    cands = doc.get("candidates", [])
    if not isinstance(cands, list) or len(cands) > MAX_CANDIDATES:
        raise ReportError(f"'candidates' must be a list of at most {MAX_CANDIDATES} strings")
    if not all(isinstance(c, str) and len(c) <= 4096 for c in cands):
        raise ReportError("'candidates' must hold strings")
    ua = doc.get("user_agent", "")
    state = doc.get("gathering_state")
    err = doc.get("error")
    timings = doc.get("timings", {})
    if not isinstance(ua, str) or (state is not None and not isinstance(state, str)):
        raise ReportError("bad user_agent or gathering_state")
    if err is not None and not isinstance(err, str):
        raise ReportError("bad error")
    if not isinstance(timings, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
        for k, v in timings.items()
    ):
        raise ReportError("bad timings")
    cand_ms = doc.get("cand_ms", [])
    if (
        not isinstance(cand_ms, list)
        or len(cand_ms) not in (0, len(cands))
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in cand_ms)
    ):
        raise ReportError("'cand_ms' must be one number per candidate")
    calls = doc.get("calls", [])
    if not isinstance(calls, list) or len(calls) > MAX_CALLS:
        raise ReportError(f"'calls' must be a list of at most {MAX_CALLS}")
    return PageReport(
        slot=slot,
        webrtc=webrtc,
        candidates=tuple(cands),
        user_agent=ua[:512],
        gathering_state=state[:32] if state else None,
        timed_out=bool(doc.get("timed_out", False)),
        error=err[:512] if err else None,
        timings={k[:32]: float(v) for k, v in list(timings.items())[:24]},
        received=received,
        media=_short(doc.get("media"), "media", 200),
        calls=tuple(validate_call(c) for c in calls),
        settled=bool(doc.get("settled", False)),
        proven=bool(doc.get("proven", False)),
        candidate_ms=tuple(float(v) for v in cand_ms),
    )


def _resource(name: str) -> bytes:
    return importlib.resources.files("vpnguard").joinpath("data", name).read_bytes()


@dataclasses.dataclass(frozen=True)
class CallSpec:
    """One call the page places: its name, its ICE servers, relay-only or not.

    ``ice_servers`` is the RTCConfiguration ``iceServers`` list (credentials
    included: it goes only into the one-time page, never into a report).
    """

    name: str
    ice_servers: tuple[Mapping[str, Any], ...]
    relay_only: bool = False


class _Slot:
    def __init__(
        self,
        slot: str,
        media: bool,
        calls: Sequence[CallSpec],
        host: str = "127.0.0.1",
        frame: str | None = None,
        parent: str | None = None,
    ) -> None:
        self.slot = slot
        self.media = media
        self.calls = tuple(calls)
        self.host = host  # the page's origin host: "127.0.0.1" or "localhost"
        self.frame = frame  # slot framed (cross-origin, no permission) inside this page
        self.parent = parent  # slot whose page frames this one
        self.secret = secrets.token_urlsafe(24)
        self.event = threading.Event()
        self.report: PageReport | None = None
        self.rejected: list[str] = []
        self.served = False
        self.served_at: float | None = None  # time.monotonic() when the page was served
        self.proof: str | None = None  # why the server told the page gathering may end
        self.asks = 0  # progress requests answered
        self.tampered: list[str] = []


class _QuietServer(ThreadingHTTPServer):
    """Threads per connection, but capped; each connection has a hard lifetime.

    A browser killed at the end of its check drops its keep-alive connection:
    that is expected, not an error to print to the user's terminal.
    """

    daemon_threads = True
    request_queue_size = 128  # a burst of connects is accepted (and refused) at once
    max_connections = MAX_CONNECTIONS
    lifetime = CONN_LIFETIME

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._open: dict[socket.socket, float] = {}
        self._open_lock = threading.Lock()
        self.refused_connections = 0
        self._reaper = threading.Thread(target=self._reap, daemon=True)
        self._stop_reaper = threading.Event()
        self._reaper.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            full = len(self._open) >= self.max_connections
            if not full:
                self._open[request] = time.monotonic() + self.lifetime
            else:
                self.refused_connections += 1
        if full:
            log.warning("leak-check server: %d connections open, refusing one", len(self._open))
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(request, None)

    @property
    def open_connections(self) -> int:
        with self._open_lock:
            return len(self._open)

    def _reap(self) -> None:
        """Cut connections that outlive their lifetime (a byte every few seconds, forever)."""
        while not self._stop_reaper.wait(0.25):
            now = time.monotonic()
            with self._open_lock:
                expired = [s for s, deadline in self._open.items() if deadline < now]
            for sock in expired:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def server_close(self) -> None:
        self._stop_reaper.set()
        super().server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            log.debug("client %s went away: %s", client_address, exc)
            return
        log.warning("leak-check server error from %s", client_address, exc_info=True)


class LeakCheckServer:
    """Serve one-time ``/<token>/<slot>/`` pages and collect one report per slot.

    Use as a context manager; :meth:`wait` blocks until a slot's report
    arrives, an external ``wake`` event fires, or the timeout passes.
    """

    def __init__(
        self,
        ice_servers: Sequence[Mapping[str, Any]],
        *,
        gather_timeout: float = 10.0,
        host: str = "127.0.0.1",
        read_timeout: float = READ_TIMEOUT,
        settle: float = DEFAULT_SETTLE,
    ) -> None:
        self.settle = settle
        self._reach: tuple[Reach, ...] | None = None
        self._bases: tuple[str, ...] = ()
        self._reach_ready = threading.Event()
        self.token = secrets.token_urlsafe(24)
        self.ice_servers = [dict(s) for s in ice_servers]
        self.gather_timeout = gather_timeout
        self.read_timeout = read_timeout
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self._page = _resource("leakcheck.html").decode("utf-8")
        self._script = _resource("leakcheck.js")
        # The script is inlined (one request less before gathering starts) and allowed by
        # its hash alone: no other inline script can run in the page.
        digest = base64.b64encode(hashlib.sha256(self._script).digest()).decode()
        self._script_src = f"'sha256-{digest}'"
        text = self._script.decode("utf-8")
        if "</script" in text.lower() or "__CONFIG__" in text or "__FRAME__" in text:
            raise RuntimeError("leakcheck.js cannot be inlined as it is")
        self._httpd = _QuietServer((host, 0), self._handler_class())
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None
        self.allowed_hosts = frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})
        self.allowed_origins = frozenset(f"http://{h}" for h in self.allowed_hosts)

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> LeakCheckServer:
        self._thread = threading.Thread(
            # close() waits for the loop to notice: a short poll keeps the check's end prompt.
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port; waits for the serving thread (bounded)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        with self._lock:
            for s in self._slots.values():
                s.event.set()

    def __enter__(self) -> LeakCheckServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- slots -----------------------------------------------------------------------
    def add_slot(
        self,
        slot: str,
        *,
        media: bool = False,
        calls: Sequence[CallSpec] = (),
        frame: str | None = None,
    ) -> str:
        """Register a slot (one page) and return its one-time page URL.

        ``media``: the page asks for camera and microphone before gathering.
        ``calls``: the calls the page places after gathering. ``frame``: a
        slot registered before, whose page this page embeds as a cross-origin
        iframe (served from ``localhost`` instead of ``127.0.0.1``, without
        ``allow="camera; microphone"``): a page without permission inside the
        same launch.
        """
        if not slot or len(slot) > 64 or not set(slot) <= _SLOT_CHARS:
            raise ValueError(f"bad slot name {slot!r}")
        if len(calls) > MAX_CALLS:
            raise ValueError(f"at most {MAX_CALLS} calls per page")
        with self._lock:
            if frame is not None:
                framed = self._slots[frame]
                framed.host, framed.parent = "localhost", slot
            self._slots.setdefault(slot, _Slot(slot, media, calls, frame=frame))
        return self.url(slot)

    def origin(self, slot: str) -> str:
        return f"http://{self._slots[slot].host}:{self.port}"

    def url(self, slot: str) -> str:
        return f"{self.origin(slot)}/{self.token}/{slot}/"

    def csp(self, slot: str | None) -> str:
        """The page's CSP: a framing page may frame its one framed page, nothing else."""
        s = self._slots.get(slot) if slot else None
        if s is None:
            return CSP
        csp = CSP.replace("script-src 'self'", f"script-src {self._script_src}")
        if s.frame is not None:
            return csp + f"; frame-src {self.origin(s.frame)}"
        if s.parent is not None:
            return csp.replace("frame-ancestors 'none'", f"frame-ancestors {self.origin(s.parent)}")
        return csp

    def event(self, slot: str) -> threading.Event:
        """The event set when ``slot``'s report arrives (the runner also sets it on exit)."""
        return self._slots[slot].event

    def report(self, slot: str) -> PageReport | None:
        return self._slots[slot].report

    # -- the end of gathering -----------------------------------------------------------
    def set_reach(self, reach: Sequence[Reach], bases: Sequence[str]) -> None:
        """Our own probes from every local address (see ``reach.py``); pages may ask now."""
        self._reach, self._bases = tuple(reach), tuple(bases)
        self._reach_ready.set()

    def proof_for(self, lines: Sequence[str]) -> str | None:
        """Why no further candidate can come after ``lines`` (None: not proven)."""
        if not self._reach_ready.is_set():
            return None
        parsed = []
        for line in lines:
            try:
                parsed.append(parse_candidate(line))
            except CandidateError:
                return None
        return gathering_proof(parsed, self._reach, self._bases)

    def proof(self, slot: str) -> str | None:
        """The proof the server gave ``slot``'s page, if it told it to end gathering."""
        return self._slots[slot].proof

    def _has_secret(self, s: _Slot, doc: object, tampered: str) -> bool:
        """Whether ``doc`` carries the page's secret; if not, the slot is marked tampered
        (``tampered`` says how) and its waiter woken: nothing from it is trusted."""
        given = doc.get("secret") if isinstance(doc, dict) else None
        if isinstance(given, str) and hmac.compare_digest(given.encode(), s.secret.encode()):
            return True
        with self._lock:
            s.tampered.append(tampered)
        s.event.set()
        return False

    def _progress(self, slot: str, body: bytes) -> tuple[HTTPStatus, str]:
        """The page asks whether its gathering may end; answers {"end": bool}."""
        s = self._slots[slot]
        try:
            doc = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return HTTPStatus.BAD_REQUEST, "malformed JSON"
        if not self._has_secret(
            s,
            doc,
            "a progress request without the page's secret arrived: someone tried to "
            "steer the check",
        ):
            return HTTPStatus.FORBIDDEN, "wrong secret"
        lines = doc.get("candidates")
        if (
            not isinstance(lines, list)
            or len(lines) > MAX_CANDIDATES
            or not all(isinstance(x, str) and len(x) <= 4096 for x in lines)
        ):
            return HTTPStatus.BAD_REQUEST, "bad candidates"
        # Our probes run while the browser starts; a page that is faster is answered the
        # moment they are in (a long poll, bounded: the probes are bounded too).
        ready = self._reach_ready.wait(REACH_TIMEOUT + 1.0)
        why = self.proof_for(lines)
        with self._lock:
            s.asks += 1
            if why is not None and s.proof is None:
                s.proof = why
        settle_ms = int(self.settle * 1000)
        if ready and self._reach is not None:
            settle_ms = quiet_ms(self._reach, settle_ms)
        answer = {"end": why is not None, "ready": ready, "settle_ms": settle_ms}
        return HTTPStatus.OK, json.dumps(answer)

    def served_at(self, slot: str) -> float | None:
        """When ``slot``'s page was served (``time.monotonic()``), or None."""
        return self._slots[slot].served_at

    def rejected(self, slot: str) -> list[str]:
        return list(self._slots[slot].rejected)

    def tampered(self, slot: str) -> list[str]:
        """Why this slot's result cannot be trusted (empty when nothing odd happened)."""
        with self._lock:
            return list(self._slots[slot].tampered)

    def wait(self, slot: str, timeout: float) -> PageReport | None:
        self._slots[slot].event.wait(timeout)
        return self._slots[slot].report

    @property
    def open_connections(self) -> int:
        return self._httpd.open_connections

    # -- pages -----------------------------------------------------------------------
    def call_timeout(self) -> float:
        return max(2.0, self.gather_timeout)

    def render_page(self, slot: str) -> bytes:
        s = self._slots[slot]
        gather_ms = int(self.gather_timeout * 1000)
        call_ms = int(self.call_timeout() * 1000)
        media_ms = min(5000, gather_ms) if s.media else 0
        cfg = {
            "slot": slot,
            "secret": s.secret,
            "ice_servers": self.ice_servers,
            "gather_timeout_ms": gather_ms,
            "never_started_ms": int(min(1.0, self.gather_timeout) * 1000),
            "settle_ms": int(self.settle * 1000),
            "media": s.media,
            "media_timeout_ms": media_ms,
            "calls": [
                {
                    "name": c.name,
                    "ice_servers": [dict(x) for x in c.ice_servers],
                    "relay_only": c.relay_only,
                    "timeout_ms": call_ms,
                }
                for c in s.calls
            ],
            # The page reports by itself before this, whatever hangs.
            "page_timeout_ms": media_ms + max(gather_ms, call_ms if s.calls else 0) + 1500,
            "report_url": f"/{self.token}/{slot}/report",
            "progress_url": f"/{self.token}/{slot}/progress",
            "frame_url": self.url(s.frame) if s.frame else None,
        }
        # "<" escaped so no value can close the data block.
        data = json.dumps(cfg).replace("<", "\\u003c").replace(">", "\\u003e")
        # The "any page" frame is in the markup, so it loads while this page's script does.
        frame = f'<iframe src="{html.escape(self.url(s.frame))}"></iframe>\n' if s.frame else ""
        page = (  # the config last: no value in it is ever taken for a placeholder
            self._page.replace("__FRAME__", frame)
            .replace("__SCRIPT__", self._script.decode("utf-8"))
            .replace("__CONFIG__", data)
        )
        return page.encode("utf-8")

    def _serve_page(self, slot: str) -> bytes | None:
        """The page, once; a second request marks the slot tampered and gets nothing."""
        with self._lock:
            s = self._slots[slot]
            if s.served:
                s.tampered.append(
                    "the one-time page was requested twice: another local process used the "
                    "check's URL, so no report from this run can be trusted"
                )
                s.event.set()
                return None
            s.served = True
            s.served_at = time.monotonic()
        return self.render_page(slot)

    def _accept(self, slot: str, body: bytes) -> tuple[HTTPStatus, str]:
        received = time.monotonic()
        s = self._slots[slot]
        try:
            doc = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            s.rejected.append(f"malformed JSON: {exc}")
            return HTTPStatus.BAD_REQUEST, "malformed JSON"
        if not self._has_secret(
            s, doc, "a report without the page's secret arrived: someone tried to forge the result"
        ):
            return HTTPStatus.FORBIDDEN, "wrong secret"
        try:
            rep = validate_report(doc, slot, received)
        except ReportError as exc:
            s.rejected.append(str(exc))
            return HTTPStatus.BAD_REQUEST, str(exc)
        with self._lock:
            if s.report is not None:
                s.tampered.append("a second report arrived for one page")
                return HTTPStatus.CONFLICT, "already reported"
            s.report = rep
        s.event.set()
        return HTTPStatus.NO_CONTENT, ""

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "vpnguard"
            sys_version = ""
            protocol_version = "HTTP/1.1"
            timeout = server.read_timeout  # per read: a silent client is dropped

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http %s: " + format, self.client_address[0], *args)

            def _send(
                self,
                status: HTTPStatus,
                body: bytes = b"",
                ctype: str = "text/plain",
                slot: str | None = None,
            ) -> None:
                self.send_response(status)
                csp = server.csp(slot)
                self.send_header("Content-Security-Policy", csp)
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Cache-Control", "no-store")
                if "frame-ancestors 'none'" in csp:
                    self.send_header("X-Frame-Options", "DENY")
                self.send_header("Content-Type", ctype + "; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                if status >= 400:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if body and self.command != "HEAD":
                    self.wfile.write(body)

            def _route(self) -> tuple[str, str] | None:
                """(slot or '', rest) for a path under our token; None otherwise."""
                parts = urlsplit(self.path).path.split("/")
                if len(parts) < 3 or parts[0] != "":
                    return None
                if not hmac.compare_digest(parts[1].encode(), server.token.encode()):
                    return None
                if parts[2:] == ["leakcheck.js"]:
                    return "", "leakcheck.js"
                if (
                    len(parts) == 4
                    and parts[2] in server._slots
                    and parts[3] in ("", "report", "progress")
                ):
                    return parts[2], parts[3]
                return None

            def _guard(self) -> bool:
                host = self.headers.get("Host", "")
                if host not in server.allowed_hosts:
                    log.warning("refused request with foreign Host %r", host[:80])
                    self._send(HTTPStatus.MISDIRECTED_REQUEST, b"foreign Host")
                    return False
                origin = self.headers.get("Origin")
                if origin is not None and origin not in server.allowed_origins:
                    log.warning("refused request with foreign Origin %r", origin[:80])
                    self._send(HTTPStatus.FORBIDDEN, b"foreign Origin")
                    return False
                return True

            def do_GET(self) -> None:
                if not self._guard():
                    return
                route = self._route()
                if route is None:
                    self._send(HTTPStatus.NOT_FOUND, b"not found")
                elif route[1] == "leakcheck.js":
                    self._send(HTTPStatus.OK, server._script, "text/javascript")
                elif route[1] == "":
                    page = server._serve_page(route[0])
                    if page is None:
                        self._send(HTTPStatus.GONE, b"this page was already served")
                    else:
                        self._send(HTTPStatus.OK, page, "text/html", slot=route[0])
                else:
                    self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"POST only")

            def do_POST(self) -> None:
                if not self._guard():
                    return
                route = self._route()
                if route is None or route[1] not in ("report", "progress"):
                    self._send(HTTPStatus.NOT_FOUND, b"not found")
                    return
                if self.headers.get("Origin") is None:
                    # Browsers always send Origin on a fetch POST; its absence means
                    # another kind of client.
                    self._send(HTTPStatus.FORBIDDEN, b"Origin required")
                    return
                ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if ctype != "application/json":
                    self._send(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, b"JSON only")
                    return
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    self._send(HTTPStatus.LENGTH_REQUIRED, b"Content-Length required")
                    return
                if length < 0 or length > MAX_BODY:
                    server._slots[route[0]].rejected.append(f"body of {length} bytes refused")
                    self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"too large")
                    return
                body = self.rfile.read(length)
                if route[1] == "progress":
                    status, msg = server._progress(route[0], body)
                    ctype = "application/json" if status is HTTPStatus.OK else "text/plain"
                    self._send(status, msg.encode(), ctype)
                    return
                status, msg = server._accept(route[0], body)
                self._send(status, msg.encode())

            def do_PUT(self) -> None:
                self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"no")

            do_DELETE = do_PUT

        return Handler
