"""The local report server, attacked from the outside with real HTTP requests."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import vpnguard
from vpnguard.core.leakcheck.server import CSP, MAX_BODY, MAX_CONNECTIONS, LeakCheckServer

GOOD = {
    "slot": "chromium",
    "user_agent": "test",
    "webrtc": True,
    "candidates": ["candidate:1 1 udp 1 x.local 5 typ host"],
    "gathering_state": "complete",
    "timed_out": False,
    "error": None,
    "timings": {"gather_ms": 12},
}


@pytest.fixture
def server() -> Iterator[LeakCheckServer]:
    with LeakCheckServer([{"urls": ["stun:198.51.100.1:3478"]}], gather_timeout=2) as s:
        s.add_slot("chromium")
        yield s


def request(
    s: LeakCheckServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
    h = {"Host": f"127.0.0.1:{s.port}"}
    if method == "POST":
        h |= {"Origin": f"http://127.0.0.1:{s.port}", "Content-Type": "application/json"}
    h |= headers or {}
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in h.items():
        conn.putheader(k, v)
    if body is not None and "Content-Length" not in h:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def secret_of(s: LeakCheckServer, slot: str = "chromium") -> str:
    """GET the one-time page like the browser does and read the secret from its body."""
    status, _, body = request(s, "GET", f"/{s.token}/{slot}/")
    assert status == 200
    page = body.decode()
    cfg = json.loads(page.split('id="vpnguard-config">')[1].split("</script>")[0])
    return str(cfg["secret"])


def post(s: LeakCheckServer, doc: object, **kw: object) -> int:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    status, _, _ = request(s, "POST", f"/{s.token}/chromium/report", body, **kw)  # type: ignore[arg-type]
    return status


def test_binds_loopback_ephemeral_port(server: LeakCheckServer) -> None:
    assert server._httpd.server_address[0] == "127.0.0.1"
    assert server.port > 1024


def test_page_from_package_with_config_and_csp(server: LeakCheckServer) -> None:
    status, headers, body = request(server, "GET", f"/{server.token}/chromium/")
    assert status == 200
    csp = headers["content-security-policy"]
    # the script is inlined, and only it may run: by its hash, never 'unsafe-inline'
    js_file = (Path(vpnguard.__file__).parent / "data" / "leakcheck.js").read_bytes()
    digest = base64.b64encode(hashlib.sha256(js_file).digest()).decode()
    assert csp == CSP.replace("script-src 'self'", f"script-src 'sha256-{digest}'")
    assert "unsafe-inline" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    page = body.decode()
    assert f"<script>{js_file.decode()}</script>" in page
    assert "stun:198.51.100.1:3478" in page and "__CONFIG__" not in page
    status, _, js = request(server, "GET", f"/{server.token}/leakcheck.js")
    assert status == 200 and b"RTCPeerConnection" in js and b"icegatheringstatechange" in js


def test_config_cannot_break_out_of_data_block() -> None:
    with LeakCheckServer([{"urls": ["stun:x</script><script>alert(1)//"]}]) as s:
        s.add_slot("b")
        assert b"</script><script>alert" not in s.render_page("b")


def test_good_report_accepted_once(server: LeakCheckServer) -> None:
    doc = {**GOOD, "secret": secret_of(server)}
    assert post(server, doc) == 204
    rep = server.wait("chromium", 1)
    assert rep is not None and rep.candidates == tuple(GOOD["candidates"])  # type: ignore[arg-type]
    assert server.tampered("chromium") == []
    assert post(server, doc) == 409
    assert server.tampered("chromium")  # a second report is not trusted either


def test_wrong_token(server: LeakCheckServer) -> None:
    status, _, _ = request(server, "GET", "/not-the-token/chromium/")
    assert status == 404
    status, _, _ = request(
        server, "POST", "/not-the-token/chromium/report", json.dumps(GOOD).encode()
    )
    assert status == 404
    assert server.report("chromium") is None


def test_unknown_slot_and_path(server: LeakCheckServer) -> None:
    assert request(server, "GET", f"/{server.token}/firefox/")[0] == 404
    assert request(server, "GET", "/")[0] == 404
    assert request(server, "GET", f"/{server.token}/../etc/passwd")[0] == 404


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1", ""])
def test_foreign_host_refused(server: LeakCheckServer, host: str) -> None:
    """DNS rebinding: a name resolving to 127.0.0.1 carries its own Host header."""
    status, _, _ = request(server, "GET", f"/{server.token}/chromium/", headers={"Host": host})
    assert status == 421
    assert post(server, GOOD, headers={"Host": host}) == 421
    assert server.report("chromium") is None


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1"])
def test_foreign_origin_refused(server: LeakCheckServer, origin: str) -> None:
    assert post(server, GOOD, headers={"Origin": origin}) == 403
    assert server.report("chromium") is None


def test_post_without_origin_refused(server: LeakCheckServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request(
        "POST",
        f"/{server.token}/chromium/report",
        json.dumps(GOOD),
        {"Content-Type": "application/json", "Host": f"127.0.0.1:{server.port}"},
    )
    assert conn.getresponse().status == 403


def test_oversized_body_refused_without_reading_it(server: LeakCheckServer) -> None:
    status, _, _ = request(
        server,
        "POST",
        f"/{server.token}/chromium/report",
        b"{}",
        headers={"Content-Length": str(MAX_BODY + 1)},
    )
    assert status == 413
    assert "refused" in server.rejected("chromium")[0]


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[" * 100000])
def test_malformed_body_refused(server: LeakCheckServer, body: bytes) -> None:
    assert post(server, body) == 400
    assert server.report("chromium") is None


@pytest.mark.parametrize(
    "bad",
    [
        {"slot": "firefox"},
        {"webrtc": "yes"},
        {"candidates": "candidate:1"},
        {"candidates": [1, 2]},
        {"candidates": ["c"] * 5000},
        {"timings": {"a": "b"}},
        {"calls": "x"},
        {"calls": [{"name": "c", "connected": "yes"}]},
        {"calls": [{"name": "c", "connected": True, "errors": [{"code": "x"}]}]},
        {"calls": [{"name": "c", "connected": True}] * 9},
    ],
)
def test_malformed_report_with_the_secret_refused(
    server: LeakCheckServer, bad: dict[str, object]
) -> None:
    assert post(server, {**GOOD, "secret": secret_of(server), **bad}) == 400
    assert server.report("chromium") is None


def test_wrong_content_type(server: LeakCheckServer) -> None:
    status = post(server, GOOD, headers={"Content-Type": "text/plain"})
    assert status == 415


def test_close_releases_port() -> None:
    s = LeakCheckServer([]).start()
    port = s.port
    s.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # would raise if still bound


# -- hostile local processes (issue 10, item 7) ----------------------------------------


def test_forged_report_without_the_secret_makes_the_slot_tampered(server: LeakCheckServer) -> None:
    """A process that read the token from /proc posts a fake pass before the browser does."""
    assert post(server, {**GOOD, "candidates": []}) == 403
    assert post(server, {**GOOD, "secret": "guessed"}) == 403
    assert server.report("chromium") is None
    assert server.tampered("chromium") and "forge" in server.tampered("chromium")[0]
    # The real page still reports, but the slot stays tampered: the runner says error.
    assert post(server, {**GOOD, "secret": secret_of(server)}) == 204
    assert server.tampered("chromium")


def test_replayed_page_url_is_gone_and_tampers(server: LeakCheckServer) -> None:
    """The first GET consumes the URL; whoever comes second gets nothing and spoils the run."""
    secret = secret_of(server)
    status, _, body = request(server, "GET", f"/{server.token}/chromium/")
    assert status == 410 and secret.encode() not in body
    assert "twice" in server.tampered("chromium")[0]
    assert server.event("chromium").is_set()  # the runner wakes at once


def test_secret_is_only_in_the_page_body(server: LeakCheckServer) -> None:
    url = server.url("chromium")
    secret = secret_of(server)
    assert secret not in url and len(secret) >= 32


def test_slowloris_is_bounded() -> None:
    """300 stalled connections: a capped number held, each cut after its read timeout."""
    import threading
    import time

    s = LeakCheckServer([], read_timeout=0.5).start()
    socks: list[socket.socket] = []
    try:
        threads_before = threading.active_count()
        for _ in range(300):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=2)
            c.sendall(b"GET /" + s.token.encode())  # never finishes the request line
            socks.append(c)
        time.sleep(0.3)
        assert s.open_connections <= MAX_CONNECTIONS
        assert threading.active_count() - threads_before <= MAX_CONNECTIONS + 2
        deadline = time.monotonic() + 5
        while s.open_connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.open_connections == 0  # the read deadline dropped every stalled client
        # And the server still serves a real client afterwards.
        s.add_slot("late")
        assert request(s, "GET", f"/{s.token}/late/")[0] == 200
    finally:
        for c in socks:
            c.close()
        s.close()


def test_connection_lifetime_cuts_a_drip_feed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A byte every 0.2 s never trips the read timeout; the hard lifetime still ends it.

    The read timeout is 5x the drip interval, so a test process descheduled for a
    few hundred ms on a loaded machine cannot be mistaken for the server's cut."""
    import time

    from vpnguard.core.leakcheck import server as srv

    monkeypatch.setattr(srv._QuietServer, "lifetime", 2.0)
    s = LeakCheckServer([], read_timeout=1.0).start()
    t0 = time.monotonic()  # before the connect: the server's lifetime clock starts at accept
    c = socket.create_connection(("127.0.0.1", s.port), timeout=2)
    closed_after: float | None = None
    try:
        c.sendall(b"GET /")
        while time.monotonic() - t0 < 6:
            time.sleep(0.2)
            try:
                c.sendall(b"X")
                c.setblocking(False)
                try:
                    if c.recv(1) == b"":
                        closed_after = time.monotonic() - t0
                        break
                except BlockingIOError:
                    pass
                finally:
                    c.setblocking(True)
            except OSError:
                closed_after = time.monotonic() - t0
                break
        assert closed_after is not None and 1.9 < closed_after < 3.5, closed_after
        assert s.open_connections == 0
    finally:
        c.close()
        s.close()


def test_framed_view_may_be_framed_only_by_its_page() -> None:
    with LeakCheckServer([]) as s:
        s.add_slot("b-page")
        top = s.add_slot("b-media", media=True, frame="b-page")
        assert top.startswith(f"http://127.0.0.1:{s.port}/")
        assert s.url("b-page").startswith(f"http://localhost:{s.port}/")
        status, headers, body = request(s, "GET", f"/{s.token}/b-media/")
        assert status == 200
        assert headers["content-security-policy"].endswith(f"frame-src http://localhost:{s.port}")
        assert "x-frame-options" not in headers or headers["x-frame-options"] == "DENY"
        assert s.url("b-page").encode() in body
        status, headers, _ = request(
            s, "GET", f"/{s.token}/b-page/", headers={"Host": f"localhost:{s.port}"}
        )
        assert status == 200
        csp = headers["content-security-policy"]
        assert f"frame-ancestors http://127.0.0.1:{s.port}" in csp and "'none'" in csp
        assert "x-frame-options" not in headers
        assert "frame-src" not in csp
