"""The local HTTP server that serves the leak-check page and receives its report.

Modelled on OnionShare's local server: bound to 127.0.0.1 on an ephemeral
port, every path under a random per-run token, a strict CSP. It also rejects
a foreign ``Host`` (DNS rebinding: a web page on evil.example resolving to
127.0.0.1 would otherwise be same-origin with us) and a foreign ``Origin``,
and caps the body, because any local process or page can reach the port.
"""

from __future__ import annotations

import dataclasses
import hmac
import importlib.resources
import json
import logging
import secrets
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
MAX_CANDIDATES = 1000
CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'none'; "
    "style-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SLOT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


class ReportError(ValueError):
    """A report body that is not the shape the page sends."""


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
    return PageReport(
        slot=slot,
        webrtc=webrtc,
        candidates=tuple(cands),
        user_agent=ua[:512],
        gathering_state=state[:32] if state else None,
        timed_out=bool(doc.get("timed_out", False)),
        error=err[:512] if err else None,
        timings={k[:32]: float(v) for k, v in list(timings.items())[:16]},
        received=received,
    )


def _resource(name: str) -> bytes:
    return importlib.resources.files("vpnguard").joinpath("data", name).read_bytes()


class _Slot:
    def __init__(self, slot: str) -> None:
        self.slot = slot
        self.event = threading.Event()
        self.report: PageReport | None = None
        self.rejected: list[str] = []


class _QuietServer(ThreadingHTTPServer):
    """A browser killed at the end of its check drops its keep-alive connection: that is
    expected, not an error to print to the user's terminal."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.debug("client %s went away: %s", client_address, exc)
            return
        log.warning("leak-check server error from %s", client_address, exc_info=True)


class LeakCheckServer:
    """Serve ``/<token>/<slot>/`` pages and collect one report per slot.

    Use as a context manager; :meth:`wait` blocks until a slot's report
    arrives, an external ``wake`` event fires, or the timeout passes.
    """

    def __init__(
        self,
        ice_servers: Sequence[Mapping[str, Any]],
        *,
        gather_timeout: float = 10.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = secrets.token_urlsafe(24)
        self.ice_servers = [dict(s) for s in ice_servers]
        self.gather_timeout = gather_timeout
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()
        self._page = _resource("leakcheck.html").decode("utf-8")
        self._script = _resource("leakcheck.js")
        self._httpd = _QuietServer((host, 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None
        self.allowed_hosts = frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})
        self.allowed_origins = frozenset(f"http://{h}" for h in self.allowed_hosts)

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> LeakCheckServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
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
    def add_slot(self, slot: str) -> str:
        """Register a slot (one browser) and return its page URL."""
        if not slot or len(slot) > 64 or not set(slot) <= _SLOT_CHARS:
            raise ValueError(f"bad slot name {slot!r}")
        with self._lock:
            self._slots.setdefault(slot, _Slot(slot))
        return self.url(slot)

    def url(self, slot: str) -> str:
        return f"http://127.0.0.1:{self.port}/{self.token}/{slot}/"

    def event(self, slot: str) -> threading.Event:
        """The event set when ``slot``'s report arrives (the runner also sets it on exit)."""
        return self._slots[slot].event

    def report(self, slot: str) -> PageReport | None:
        return self._slots[slot].report

    def rejected(self, slot: str) -> list[str]:
        return list(self._slots[slot].rejected)

    def wait(self, slot: str, timeout: float) -> PageReport | None:
        self._slots[slot].event.wait(timeout)
        return self._slots[slot].report

    # -- pages -----------------------------------------------------------------------
    def render_page(self, slot: str) -> bytes:
        cfg = {
            "slot": slot,
            "ice_servers": self.ice_servers,
            "gather_timeout_ms": int(self.gather_timeout * 1000),
            "never_started_ms": int(min(1.0, self.gather_timeout) * 1000),
            "report_url": f"/{self.token}/{slot}/report",
        }
        # "<" escaped so no value can close the data block.
        data = json.dumps(cfg).replace("<", "\\u003c").replace(">", "\\u003e")
        page = self._page.replace("__CONFIG__", data).replace(
            "__SCRIPT__", f"/{self.token}/leakcheck.js"
        )
        return page.encode("utf-8")

    def _accept(self, slot: str, body: bytes) -> tuple[HTTPStatus, str]:
        received = time.monotonic()
        s = self._slots[slot]
        try:
            doc = json.loads(body.decode("utf-8"))
            rep = validate_report(doc, slot, received)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            s.rejected.append(f"malformed JSON: {exc}")
            return HTTPStatus.BAD_REQUEST, "malformed JSON"
        except ReportError as exc:
            s.rejected.append(str(exc))
            return HTTPStatus.BAD_REQUEST, str(exc)
        with self._lock:
            if s.report is not None:
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

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("http %s: " + format, self.client_address[0], *args)

            def _send(
                self, status: HTTPStatus, body: bytes = b"", ctype: str = "text/plain"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Security-Policy", CSP)
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Cache-Control", "no-store")
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
                if len(parts) == 4 and parts[2] in server._slots and parts[3] in ("", "report"):
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
                    self._send(HTTPStatus.OK, server.render_page(route[0]), "text/html")
                else:
                    self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"POST only")

            def do_POST(self) -> None:
                if not self._guard():
                    return
                route = self._route()
                if route is None or route[1] != "report":
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
                status, msg = server._accept(route[0], body)
                self._send(status, msg.encode())

            def do_PUT(self) -> None:
                self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"no")

            do_DELETE = do_PUT

        return Handler
