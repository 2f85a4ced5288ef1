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

Every other pair got no answer to its own probe: the browser's requests on that
path meet the same drop. How long silence must last (:func:`silent_after`): when
the same server has answered another local address in ``r`` seconds, four times
that plus a quarter second, and never less than :data:`SILENT_FLOOR` (three
sends); when no address got an answer from that server, :data:`REACH_TIMEOUT`.
In a full tunnel the tunnel's own answer sets the pace, so the dropped LAN and
underlay paths are judged in about half a second, not one and a half. What is
left is a path that drops our requests and answers the browser later, or one
that answers more than four times slower than another address reaches the same
server (the tunnel runs over the same access link, so an escaping path is
rarely the slower one); a server slow on every path (the lab's 1.2 s STUN
server) is waited for whole. The probes' wait overlaps the browser's start-up
instead of the check's end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import ipaddress
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from vpnguard.core.leakcheck.candidates import Candidate, parse_ip
from vpnguard.core.leakcheck.stun import (
    MAGIC_COOKIE,
    IceServerUrl,
    already_received,
    build_request,
    parse_response,
)
from vpnguard.core.model import InterfaceKind, JsonMixin, NetInterface

REACH_TIMEOUT = 1.5  # seconds a pair's probe may take when no other path sets the pace
SILENT_FLOOR = 0.6  # seconds of silence at least, even beside a fast answer
SENDS = (0.0, 0.15, 0.35)  # three sends before the floor (a browser: 250 ms, doubling)
SLICE = 0.05  # how often a waiting probe looks at what the other paths got
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


def silent_after(fastest: float | None, timeout: float = REACH_TIMEOUT) -> float:
    """Seconds without an answer after which a pair counts as dropped (pure).

    ``fastest``: the quickest answer, in seconds, the same server gave another local
    address (None: none yet).
    """
    if fastest is None:
        return timeout
    return min(timeout, max(SILENT_FLOOR, 4 * fastest + 0.25))


class Pace:
    """The quickest answer each server gave any local address so far (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fastest: dict[str, tuple[str, float]] = {}

    def answered(self, url: str, base: str, seconds: float) -> None:
        with self._lock:
            got = self._fastest.get(url)
            if got is None or seconds < got[1]:
                self._fastest[url] = (base, seconds)

    def fastest(self, url: str, besides: str) -> float | None:
        """The quickest answer ``url`` gave an address other than ``besides``."""
        with self._lock:
            got = self._fastest.get(url)
        return got[1] if got is not None and got[0] != besides else None


def probe_one(
    base: str, server: IceServerUrl, timeout: float = REACH_TIMEOUT, pace: Pace | None = None
) -> Reach:
    """Probe ``server`` from a socket bound to ``base``; never raises for network trouble.

    With ``pace`` (shared by the probes of one check), a silent pair gives up after
    :func:`silent_after` the quickest answer the same server gave another address.
    """
    ip = ipaddress.ip_address(base)
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    turn = server.is_turn
    target = _target(server, family)
    if target is None:
        return Reach(base, server.url, turn, False, error="no address of this family")
    tid = os.urandom(12)
    request = _allocate_request(tid) if turn else build_request(tid)
    tcp = server.transport == "tcp" or server.scheme in ("turns", "stuns")
    start = time.monotonic()

    def left() -> float:
        """Seconds this pair may still wait; <= 0: silent long enough."""
        fastest = pace.fastest(server.url, base) if pace is not None else None
        return start + silent_after(fastest, timeout) - time.monotonic()

    def silent() -> Reach:
        fastest = pace.fastest(server.url, base) if pace is not None else None
        why = f"no answer in {_ms(start):.0f} ms"
        if fastest is not None and silent_after(fastest, timeout) < timeout:
            why += f" (another address got one in {fastest * 1000:.0f} ms)"
        return Reach(base, server.url, turn, False, error=why)

    def connected() -> Reach:
        """Reached by a TCP connect alone (TLS, or a connect that completed in a pause)."""
        if pace is not None:
            pace.answered(server.url, base, time.monotonic() - start)
        return Reach(base, server.url, turn, True, rtt_ms=_ms(start))

    def answer(data: bytes) -> Reach:
        got = _answer(base, server, turn, data, tid, start)
        if got.answered and pace is not None:
            pace.answered(server.url, base, time.monotonic() - start)
        return got

    try:
        with socket.socket(family, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM) as sock:
            sock.bind((base, 0))
            if tcp:
                sock.setblocking(False)
                err = sock.connect_ex(target)
                while err in (errno.EINPROGRESS, errno.EALREADY, errno.EAGAIN):
                    if left() <= 0:
                        # Paused past the deadline (a loaded machine)? Look once more
                        # before calling it silent: a path that connected was reached.
                        _, writable, _ = select.select([], [sock], [], 0)
                        if writable and not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                            return connected()
                        return silent()
                    _, ready, _ = select.select([], [sock], [], min(SLICE, max(0.0, left())))
                    if ready:
                        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    return Reach(base, server.url, turn, False, error=os.strerror(err))
                if server.scheme.endswith("s"):
                    # TLS: the connect is what we can prove; the browser may still refuse
                    # the certificate, which only leaves the relay missing (no early end).
                    return connected()
                sock.setblocking(True)
                sock.settimeout(max(0.01, left()))
                sock.sendall(request)
                buf = b""
                while left() > 0:
                    sock.settimeout(min(SLICE, max(0.005, left())))
                    try:
                        chunk = sock.recv(2048)
                    except TimeoutError:
                        continue
                    if not chunk:
                        break
                    buf += chunk
                    if len(buf) >= 20:
                        return answer(buf)
                rest = already_received(sock)
                if rest is not None and len(buf + rest) >= 20:
                    return answer(buf + rest)
                return silent()
            sock.connect(target)
            sends = list(SENDS)
            while left() > 0:
                now = time.monotonic() - start
                while sends and sends[0] <= now:
                    sends.pop(0)
                    with contextlib.suppress(OSError):  # e.g. ICMP unreachable from a send
                        sock.send(request)
                wait = (sends[0] - now) if sends else SLICE
                sock.settimeout(max(0.005, min(wait, SLICE, left())))
                try:
                    data = sock.recv(2048)
                except TimeoutError:
                    continue
                except ConnectionRefusedError:
                    return Reach(base, server.url, turn, False, error="refused")
                if _is_response(data, tid):
                    return answer(data)
            while (queued := already_received(sock)) is not None:
                if _is_response(queued, tid):
                    return answer(queued)
            return silent()
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
    """Every (base, server) pair, probed at once and paced together; bounded by ``timeout``.

    A silent pair waits :func:`silent_after` the quickest answer its server gave
    another address, else ``timeout``.
    """
    pairs = [(b, s) for b in bases for s in servers]
    if not pairs:
        return ()
    pace = Pace()
    with ThreadPoolExecutor(max_workers=min(64, len(pairs))) as pool:
        return tuple(pool.map(lambda p: probe_one(p[0], p[1], timeout, pace), pairs))


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
