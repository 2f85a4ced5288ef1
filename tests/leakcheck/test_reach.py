"""When a view may stop gathering: real probes against coturn, the pure rule, the endpoint."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from vpnguard.core.leakcheck.candidates import parse_candidate
from vpnguard.core.leakcheck.reach import (
    REACH_TIMEOUT,
    Reach,
    already_received,
    gathering_proof,
    probe_bases,
    probe_one,
    probe_reach,
    quiet_ms,
    silent_after,
)
from vpnguard.core.leakcheck.server import LeakCheckServer
from vpnguard.core.leakcheck.stun import parse_ice_url
from vpnguard.core.model import InterfaceKind, NetInterface

from .conftest import running_coturn
from .test_server import request, secret_of

LAN, UNDER, TUN, EXIT = "192.168.77.2", "172.31.9.2", "10.66.0.2", "203.0.113.10"
STUN, TURN = "stun:198.51.100.1:3478", "turn:198.51.100.1:3479?transport=tcp"
BASES = (LAN, UNDER, TUN)


def cands(*lines: str) -> list:  # type: ignore[type-arg]
    return [parse_candidate(x) for x in lines]


def host(addr: str, proto: str = "udp") -> str:
    return f"candidate:1 1 {proto} 2122260223 {addr} 40000 typ host"


def srflx(addr: str, base: str) -> str:
    return f"candidate:2 1 udp 1686052607 {addr} 40001 typ srflx raddr {base} rport 40000"


def relay(raddr: str) -> str:
    return f"candidate:3 1 udp 41885439 198.51.100.1 50000 typ relay raddr {raddr} rport 40002"


# The lab's full tunnel, as the probes see it: only the tunnel address reaches the servers.
FULL = (
    Reach(TUN, STUN, False, True, mapped=EXIT),
    Reach(TUN, TURN, True, True),
    Reach(LAN, STUN, False, False, error="no answer before timeout"),
    Reach(LAN, TURN, True, False, error="TimeoutError: timed out"),
    Reach(UNDER, STUN, False, False, error="no answer before timeout"),
    Reach(UNDER, TURN, True, False, error="TimeoutError: timed out"),
)
FULL_SEEN = (host(LAN), host(UNDER), host(TUN), srflx(EXIT, TUN), relay(EXIT))


def test_full_tunnel_ends_once_every_answering_path_has_shown() -> None:
    why = gathering_proof(cands(*FULL_SEEN), FULL, BASES)
    assert why is not None and "192.168.77.2" in why and "172.31.9.2" in why


@pytest.mark.parametrize(
    "missing",
    [
        srflx(EXIT, TUN),  # the tunnel's STUN answer is still to come
        relay(EXIT),  # the TURN allocation is still to come
        host(LAN),  # an address the browser has not gathered from (yet)
    ],
)
def test_a_path_that_answered_us_keeps_gathering_open(missing: str) -> None:
    seen = [x for x in FULL_SEEN if x != missing]
    assert gathering_proof(cands(*seen), FULL, BASES) is None


def test_late_answer_on_the_lan_is_waited_for() -> None:
    """Split tunnel: the LAN reaches both servers; its relay (raddr = the LAN side, the
    leak) must arrive before the view may end, however long it takes."""
    reach = (
        Reach(LAN, STUN, False, True, mapped=LAN),  # no NAT: no new srflx to expect
        Reach(LAN, TURN, True, True),
        Reach(TUN, STUN, False, False),
        Reach(TUN, TURN, True, False),
        Reach(UNDER, STUN, False, False),
        Reach(UNDER, TURN, True, False),
    )
    seen = [host(LAN), host(UNDER), host(TUN)]
    assert gathering_proof(cands(*seen), reach, BASES) is None
    assert gathering_proof(cands(*seen, relay(LAN)), reach, BASES) is not None


def test_what_cannot_be_proven_never_ends_early() -> None:
    mdns = "candidate:1 1 udp 2122260223 0b1e6c1a-2c1b-4c63-9a4a-2b0e7d1e9f00.local 4 typ host"
    assert gathering_proof(cands(mdns, *FULL_SEEN[1:]), FULL, BASES) is None  # base hidden
    assert gathering_proof(cands(*FULL_SEEN, host("10.9.9.9")), FULL, BASES) is None  # unprobed
    assert gathering_proof(cands(*FULL_SEEN), None, BASES) is None  # probes not done
    assert gathering_proof(cands(*FULL_SEEN), FULL[:-1], BASES) is None  # a pair unprobed
    assert gathering_proof([], FULL, BASES) is None
    no_mapped = (Reach(TUN, STUN, False, True, mapped=None), *FULL[1:])
    assert gathering_proof(cands(*FULL_SEEN), no_mapped, BASES) is None
    # srflx with the right address from the wrong base does not count
    wrong = (host(LAN), host(UNDER), host(TUN), srflx(EXIT, LAN), relay(EXIT))
    assert gathering_proof(cands(*wrong), FULL, BASES) is None


def test_probe_bases_are_what_a_granted_page_gathers_from() -> None:
    ifs = (
        NetInterface("lo", InterfaceKind.LOOPBACK, "t", ("127.0.0.1", "::1"), True),
        NetInterface("eth0", InterfaceKind.PHYSICAL, "t", (LAN, "fe80::1", "2001:db8::5"), True),
        NetInterface("wg0", InterfaceKind.VPN, "t", (TUN,), True),
        NetInterface("eth1", InterfaceKind.PHYSICAL, "t", ("192.0.2.9",), False),
    )
    assert probe_bases(ifs) == (LAN, "2001:db8::5", TUN)


# -- real probes -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def turn_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real TURN server (coturn, long-term credentials) on loopback, UDP and TCP."""
    with running_coturn(
        tmp_path_factory.mktemp("turn"),
        [
            "--relay-ip=127.0.0.1",
            "--lt-cred-mech",
            "--user=u:p",
            "--realm=test",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--no-rfc5780",
        ],
        lambda port: (
            probe_one(
                "127.0.0.1", parse_ice_url(f"turn:127.0.0.1:{port}?transport=tcp"), timeout=0.3
            ).answered
        ),
    ) as port:
        yield port


def test_real_probes_answer_or_fail_within_their_bound(
    coturn: str, dead_stun: str, turn_port: int
) -> None:
    servers = [
        parse_ice_url(coturn),
        parse_ice_url(f"turn:127.0.0.1:{turn_port}?transport=udp"),
        parse_ice_url(f"turn:127.0.0.1:{turn_port}?transport=tcp"),
        parse_ice_url(dead_stun),
    ]
    t = time.monotonic()
    got = {r.url: r for r in probe_reach(["127.0.0.1"], servers, timeout=0.8)}
    assert time.monotonic() - t < 2.0
    assert got[coturn].answered and got[coturn].mapped == "127.0.0.1"
    assert got[servers[1].url].answered and got[servers[1].url].mapped is None  # 401 counts
    assert got[servers[2].url].answered
    assert not got[dead_stun].answered


def test_a_closed_tcp_port_and_a_silent_udp_port_are_not_reached() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
    r = probe_one("127.0.0.1", parse_ice_url(f"turn:127.0.0.1:{port}?transport=tcp"), 0.5)
    assert not r.answered and r.error
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # receives, never answers
        url = parse_ice_url(f"stun:127.0.0.1:{silent.getsockname()[1]}")
        silent.settimeout(1.0)
        t = time.monotonic()
        r = probe_one("127.0.0.1", url, 1.0)
        assert not r.answered and 0.9 < time.monotonic() - t < 1.8
        assert len([silent.recv(100) for _ in range(3)]) == 3  # three sends, like a browser


# -- pacing: a silent path beside a fast answer ------------------------------------------


def test_silence_is_judged_against_the_same_servers_quickest_answer() -> None:
    assert silent_after(None) == 1.5  # nobody answered: the whole bound
    assert silent_after(0.005) == 0.6  # the lab's tunnel: the floor
    assert silent_after(0.1) == pytest.approx(0.65)  # 4 x 100 ms + 250 ms
    assert silent_after(1.2) == 1.5  # a slow server is waited for whole


def test_a_pinned_path_probe_is_paced_by_the_unpinned_answer() -> None:
    from vpnguard.core.leakcheck.runner import pinned_timeout
    from vpnguard.core.leakcheck.stun import StunProbe

    fast = StunProbe("198.51.100.1:3478", None, TUN, EXIT, None, 5.0)
    assert pinned_timeout(fast, 1.0) == 0.6
    slow = StunProbe("198.51.100.1:3478", None, TUN, EXIT, None, 300.0)
    assert pinned_timeout(slow, 1.0) == 1.0  # 4 x 0.3 + 0.25 > the 1 s bound
    failed = StunProbe("198.51.100.1:3478", None, None, None, "no answer before timeout")
    assert pinned_timeout(failed, 1.0) == 1.0


class Responder:
    """A real STUN server on loopback that answers each local address as told.

    ``delays``: source address -> seconds before answering (absent: never answers).
    Counts the requests it got per source address.
    """

    def __init__(self, delays: dict[str, float]) -> None:
        self.delays = delays
        self.got: dict[str, int] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"stun:127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer(self, data: bytes, src: tuple[str, int]) -> None:
        time.sleep(self.delays[src[0]])
        key = struct.pack("!I", 0x2112A442)
        xip = bytes(b ^ key[i] for i, b in enumerate(ipaddress.IPv4Address(src[0]).packed))
        value = struct.pack("!BBH", 0, 1, src[1] ^ 0x2112) + xip
        attr = struct.pack("!HH", 0x0020, len(value)) + value
        with contextlib.suppress(OSError):
            self.sock.sendto(
                struct.pack("!HHI12s", 0x0101, len(attr), 0x2112A442, data[8:20]) + attr, src
            )

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                data, src = self.sock.recvfrom(2048)
            except (TimeoutError, OSError):
                continue
            self.got[src[0]] = self.got.get(src[0], 0) + 1
            if src[0] in self.delays:
                threading.Thread(target=self._answer, args=(data, src), daemon=True).start()

    def __enter__(self) -> Responder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


A, B = "127.0.0.1", "127.0.0.2"  # two local addresses: loopback takes any 127/8 source


def wait_for(cond: Callable[[], bool], limit: float = 3.0) -> bool:
    deadline = time.monotonic() + limit
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)
    return cond()


# The bound is 5 s in these tests (the product's is 1.5 s): what ends a silent path early
# can only be the pace, and a machine that pauses the test for a second cannot fake it.
BOUND = 5.0


def test_a_path_silent_beside_a_fast_answer_ends_at_the_floor_after_three_sends() -> None:
    with Responder({A: 0.0}) as server:
        t = time.monotonic()
        got = {r.base: r for r in probe_reach([A, B], [parse_ice_url(server.url)], BOUND)}
        took = time.monotonic() - t
        assert got[A].answered and got[A].mapped == A
        assert not got[B].answered and "another address" in (got[B].error or ""), got[B]
        assert 0.55 < took < 3.0, took  # the floor (0.6 s), far from the bound
        assert wait_for(lambda: server.got.get(B, 0) >= 3)
        assert server.got[B] == 3  # three sends before giving up, like a browser


def test_a_path_slower_than_the_fast_one_but_within_the_pace_is_waited_for() -> None:
    # A answers in 0.3 s: B may stay silent 4 x 0.3 + 0.25 = 1.45 s; it answers in 0.6 s.
    with Responder({A: 0.3, B: 0.6}) as server:
        got = {r.base: r for r in probe_reach([A, B], [parse_ice_url(server.url)], BOUND)}
        assert got[B].answered and got[B].mapped == B, got[B]
        assert got[B].rtt_ms is not None and got[B].rtt_ms >= 600


def test_a_server_slow_on_every_path_is_waited_for_whole() -> None:
    """No other path sets the pace: each waits the whole bound (the lab's 1.2 s server)."""
    with Responder({A: 1.2, B: 1.2}) as server:
        got = {r.base: r for r in probe_reach([A, B], [parse_ice_url(server.url)], BOUND)}
        assert got[A].answered and got[B].answered, got


def test_an_answer_that_came_during_a_pause_is_still_read() -> None:
    """A probe scheduled only after its deadline (a loaded machine) reads what already
    came before it calls the path silent: the answer sits in the socket's queue."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server,
    ):
        server.bind(("127.0.0.1", 0))
        probe.bind(("127.0.0.1", 0))
        probe.connect(server.getsockname())
        assert already_received(probe) is None  # nothing yet, and no wait for it
        server.sendto(b"late answer", probe.getsockname())
        deadline = time.monotonic() + 2
        got = None
        while got is None and time.monotonic() < deadline:  # loopback delivers at once
            got = already_received(probe)
        assert got == b"late answer"


def test_a_server_silent_on_every_path_is_waited_for_the_whole_bound() -> None:
    with Responder({}) as server:
        t = time.monotonic()
        got = probe_reach([A, B], [parse_ice_url(server.url)], timeout=0.8)
        assert not any(r.answered for r in got)
        assert time.monotonic() - t >= 0.8


# -- the page's question ------------------------------------------------------------------


def progress(s: LeakCheckServer, doc: object) -> tuple[int, bytes]:
    status, _, body = request(s, "POST", f"/{s.token}/chromium/progress", json.dumps(doc).encode())
    return status, body


def test_the_server_says_end_only_with_a_proof() -> None:
    with LeakCheckServer([{"urls": [STUN]}], gather_timeout=2) as s:
        s.add_slot("chromium")
        secret = secret_of(s)
        # asked before the probes are in: answered the moment they arrive (a long poll)
        slow = (dataclasses.replace(FULL[0], rtt_ms=1300.0), *FULL[1:])
        t = time.monotonic()  # before the timer: the answer cannot come before 0.3 s
        threading.Timer(0.3, s.set_reach, (slow, BASES)).start()
        status, body = progress(s, {"secret": secret, "candidates": list(FULL_SEEN[:-1])})
        # Woken by the probes, not by the poll's own bound (REACH_TIMEOUT + 1 s = 2.5 s).
        assert 0.25 < time.monotonic() - t < REACH_TIMEOUT + 0.5
        assert status == 200 and json.loads(body)["ready"] is True
        status, body = progress(s, {"secret": secret, "candidates": list(FULL_SEEN[:-1])})
        assert json.loads(body) == {"end": False, "ready": True, "settle_ms": 2050}
        assert s.proof("chromium") is None
        status, body = progress(s, {"secret": secret, "candidates": list(FULL_SEEN)})
        assert json.loads(body)["end"] is True and s.proof("chromium")
        assert s.tampered("chromium") == []
        assert progress(s, {"secret": secret, "candidates": "x"})[0] == 400


def test_a_forged_question_is_tampering() -> None:
    with LeakCheckServer([{"urls": [STUN]}], gather_timeout=2) as s:
        s.add_slot("chromium")
        s.set_reach(FULL, BASES)
        status, _ = progress(s, {"secret": "guess", "candidates": list(FULL_SEEN)})
        assert status == 403 and s.tampered("chromium") and s.proof("chromium") is None


def test_the_quiet_spell_covers_the_slowest_answer() -> None:
    fast = (Reach(TUN, STUN, False, True, mapped=EXIT, rtt_ms=3.0),)
    assert quiet_ms(fast, 1000) == 1000
    assert quiet_ms((*fast, Reach(LAN, TURN, True, True, rtt_ms=1300.0)), 1000) == 2050
    assert quiet_ms((Reach(LAN, STUN, False, False, rtt_ms=None),), 1000) == 1000
