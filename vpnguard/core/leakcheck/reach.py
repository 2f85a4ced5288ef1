"""When may a view stop gathering? Only once no further candidate can come.

A page granted camera/microphone gathers from every local address. In a full
tunnel the STUN and TURN requests from the LAN and underlay addresses are
routed into the tunnel and dropped, so the browser's gathering stays open for
~10 s and ends by no rule the page can see. Waiting it out costs seconds;
cutting it after a quiet spell (the old "settle") risks missing a late answer
-- where the split-tunnel relay ``raddr`` leak shows.

The sound rule: probe every (local address, ICE server) pair ourselves, from a
socket bound to that address (what the browser does; the same kernel routes),
with STUN/TURN retransmits, concurrently with the browser's start-up
(:func:`probe_reach`). Then a view may end when (:func:`gathering_proof`):

* its host candidates show every probed address raw (the browser gathers from
  each, and from no address we did not probe) -- an mDNS name hides the base,
  so such a view never ends early;
* every STUN server that answered an address has produced that address's
  server-reflexive candidate (``raddr`` = the address, the mapped address the
  probe saw), unless the mapped address is the address itself (nothing new);
* there are at least as many relay candidates as (address, TURN server) pairs
  that answered.

Every other pair got no answer to its own probe (three sends over
:data:`REACH_TIMEOUT`): the browser's requests on that path meet the same
drop. What is left is a path that drops our three requests and answers the
browser's later one: rarer than the old settle's miss (a quiet second), and
the probe's wait overlaps the browser's start-up instead of the check's end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import socket
import struct
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from vpnguard.core.leakcheck.candidates import Candidate, parse_ip
from vpnguard.core.leakcheck.stun import (
    MAGIC_COOKIE,
    IceServerUrl,
    build_request,
    parse_response,
)
from vpnguard.core.model import InterfaceKind, JsonMixin, NetInterface

REACH_TIMEOUT = 1.5  # seconds each pair's probe may take (sends at 0, 0.25, 0.75 s)
SENDS = (0.0, 0.25, 0.75)  # Chromium's STUN schedule: 250 ms, doubling
ALLOCATE_REQUEST = 0x0003
ATTR_REQUESTED_TRANSPORT = 0x0019


@dataclasses.dataclass(frozen=True)
class Reach(JsonMixin):
    """One probe from one local address to one ICE server."""

    base: str  # the local address the socket was bound to
    url: str  # the ICE server URL
    turn: bool
    answered: bool
    mapped: str | None = None  # STUN: the address the server saw
    error: str | None = None
    rtt_ms: float | None = None  # from the first send to the answer


def probe_bases(interfaces: Sequence[NetInterface]) -> tuple[str, ...]:
    """Local addresses a granted page gathers from: up, not loopback, not IPv6 link-local."""
    out: list[str] = []
    for i in interfaces:
        if not i.is_up or i.kind is InterfaceKind.LOOPBACK:
            continue
        for a in i.addresses:
            ip = parse_ip(a.split("/", 1)[0])
            if ip is None or ip.is_loopback or (ip.version == 6 and ip.is_link_local):
                continue
            if str(ip) not in out:
                out.append(str(ip))
    return tuple(out)


def _allocate_request(tid: bytes) -> bytes:
    # REQUESTED-TRANSPORT = UDP (17); no credentials: a TURN server answers 401.
    attr = struct.pack("!HHB3x", ATTR_REQUESTED_TRANSPORT, 4, 17)
    return struct.pack("!HHI12s", ALLOCATE_REQUEST, len(attr), MAGIC_COOKIE, tid) + attr


def _is_response(data: bytes, tid: bytes) -> bool:
    """Any STUN success or error response to our transaction."""
    if len(data) < 20:
        return False
    mtype, _, cookie, got = struct.unpack("!HHI12s", data[:20])
    return cookie == MAGIC_COOKIE and got == tid and bool(mtype & 0x0110)


def _target(server: IceServerUrl, family: int) -> tuple[str, int] | None:
    try:
        infos = socket.getaddrinfo(server.host, server.port, family, socket.SOCK_DGRAM)
    except OSError:
        return None
    return (str(infos[0][4][0]), server.port) if infos else None


def probe_one(base: str, server: IceServerUrl, timeout: float = REACH_TIMEOUT) -> Reach:
    """Probe ``server`` from a socket bound to ``base``; never raises for network trouble."""
    ip = ipaddress.ip_address(base)
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    turn = server.is_turn
    target = _target(server, family)
    if target is None:
        return Reach(base, server.url, turn, False, error="no address of this family")
    tid = os.urandom(12)
    request = _allocate_request(tid) if turn else build_request(tid)
    tcp = server.transport == "tcp" or server.scheme in ("turns", "stuns")
    start = deadline = time.monotonic()
    deadline += timeout
    try:
        with socket.socket(family, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM) as sock:
            sock.bind((base, 0))
            if tcp:
                sock.settimeout(timeout)
                sock.connect(target)
                if server.scheme.endswith("s"):
                    # TLS: the connect is what we can prove; the browser may still refuse
                    # the certificate, which only leaves the relay missing (no early end).
                    return Reach(base, server.url, turn, True, rtt_ms=_ms(start))
                sock.sendall(request)
                buf = b""
                while time.monotonic() < deadline:
                    sock.settimeout(max(0.01, deadline - time.monotonic()))
                    chunk = sock.recv(2048)
                    if not chunk:
                        break
                    buf += chunk
                    if len(buf) >= 20:
                        return _answer(base, server, turn, buf, tid, start)
                return Reach(base, server.url, turn, False, error="no answer before timeout")
            sock.connect(target)
            sends = list(SENDS)
            while time.monotonic() < deadline:
                now = time.monotonic() - start
                while sends and sends[0] <= now:
                    sends.pop(0)
                    with contextlib.suppress(OSError):  # e.g. ICMP unreachable from a send
                        sock.send(request)
                wait = (sends[0] - now) if sends else (deadline - time.monotonic())
                sock.settimeout(max(0.005, min(wait, deadline - time.monotonic())))
                try:
                    data = sock.recv(2048)
                except TimeoutError:
                    continue
                except ConnectionRefusedError:
                    return Reach(base, server.url, turn, False, error="refused")
                if _is_response(data, tid):
                    return _answer(base, server, turn, data, tid, start)
            return Reach(base, server.url, turn, False, error="no answer before timeout")
    except OSError as exc:
        return Reach(base, server.url, turn, False, error=f"{type(exc).__name__}: {exc}")


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 1)


def _answer(
    base: str, server: IceServerUrl, turn: bool, data: bytes, tid: bytes, start: float
) -> Reach:
    if not _is_response(data, tid):
        return Reach(base, server.url, turn, False, error="not a STUN answer")
    mapped = None
    if not turn:
        with contextlib.suppress(ValueError):
            mapped = parse_response(data, tid)[0]
    return Reach(base, server.url, turn, True, mapped=mapped, rtt_ms=_ms(start))


def quiet_ms(reach: Sequence[Reach], floor_ms: float) -> int:
    """How long a view that cannot be proven waits after its last candidate.

    At least ``floor_ms``, and one and a half times the slowest answer our probes got
    plus 100 ms: a server that took 1.3 s to answer us takes as long to answer the
    browser, and a fixed quiet second would end the view before that answer.
    """
    slowest = max((r.rtt_ms or 0.0 for r in reach if r.answered), default=0.0)
    return int(max(floor_ms, 1.5 * slowest + 100 if slowest else 0))


def probe_reach(
    bases: Sequence[str], servers: Sequence[IceServerUrl], timeout: float = REACH_TIMEOUT
) -> tuple[Reach, ...]:
    """Every (base, server) pair, probed at once; bounded by ``timeout`` (plus a connect)."""
    pairs = [(b, s) for b in bases for s in servers]
    if not pairs:
        return ()
    with ThreadPoolExecutor(max_workers=min(32, len(pairs))) as pool:
        return tuple(pool.map(lambda p: probe_one(p[0], p[1], timeout), pairs))


def gathering_proof(
    candidates: Sequence[Candidate], reach: Sequence[Reach] | None, bases: Sequence[str]
) -> str | None:
    """Why no further candidate can come, or None when that is not proven (pure)."""
    if reach is None or not bases:
        return None
    base_set = {str(parse_ip(b)) for b in bases}
    hosts: set[str] = set()
    for c in candidates:
        if c.type != "host":
            continue
        ip = c.ip
        if ip is None:
            return None  # an mDNS name hides which address gathered
        if c.transport == "udp":
            hosts.add(str(ip))
    if hosts != base_set:
        return None  # an address not yet gathered from, or one we did not probe
    srflx = {
        (str(parse_ip(c.raddr)), str(c.ip))
        for c in candidates
        if c.type == "srflx" and c.raddr and c.ip is not None and parse_ip(c.raddr) is not None
    }
    relays = sum(1 for c in candidates if c.type == "relay")
    answered = [r for r in reach if r.answered and str(parse_ip(r.base)) in base_set]
    probed = {(str(parse_ip(r.base)), r.url) for r in reach}
    servers = {r.url for r in reach}
    if any((b, u) not in probed for b in base_set for u in servers):
        return None
    for r in answered:
        if r.turn:
            continue
        base = str(parse_ip(r.base))
        mapped = str(parse_ip(r.mapped)) if r.mapped and parse_ip(r.mapped) else None
        if mapped is None:
            return None
        if mapped != base and (base, mapped) not in srflx:
            return None
    turns = sum(1 for r in answered if r.turn)
    if relays < turns:
        return None
    silent = sorted({r.base for r in reach if not r.answered})
    what = (
        f"every ICE server that answered a local address has produced its candidate "
        f"({len(answered)} answering path{'s' if len(answered) != 1 else ''})"
    )
    if silent:
        what += f"; {', '.join(silent)} got no answer from some server to our own probe"
    return what
