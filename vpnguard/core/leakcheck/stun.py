"""A tiny RFC 5389 STUN client (Binding request, UDP) and STUN/TURN URL parsing.

Why our own: the verdict must learn what the world sees through *each* path
(the VPN, and each non-VPN interface on its own). Only a socket we control
can be pinned to one interface (``SO_BINDTODEVICE``), and a few dozen lines
of stdlib beat a dependency.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import re
import socket
import struct
import time

from vpnguard.core.model import JsonMixin

log = logging.getLogger(__name__)

MAGIC_COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
ATTR_MAPPED_ADDRESS = 0x0001
ATTR_XOR_MAPPED_ADDRESS = 0x0020
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)

_URL = re.compile(
    r"^(?P<scheme>stuns?|turns?):(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?"
    r"(?:\?transport=(?P<transport>udp|tcp))?$"
)


class StunUrlError(ValueError):
    """A --stun/--turn value that is not a STUN/TURN URI (RFC 7064/7065)."""


@dataclasses.dataclass(frozen=True)
class IceServerUrl(JsonMixin):
    url: str
    scheme: str  # stun | stuns | turn | turns
    host: str  # without brackets
    port: int
    transport: str | None = None

    @property
    def is_turn(self) -> bool:
        return self.scheme.startswith("turn")


def parse_ice_url(url: str) -> IceServerUrl:
    m = _URL.match(url.strip())
    if not m:
        raise StunUrlError(f"not a STUN/TURN URL: {url!r} (e.g. stun:stun.example.org:3478)")
    scheme = m["scheme"]
    default = 5349 if scheme.endswith("s") else 3478
    port = int(m["port"]) if m["port"] else default
    if not 0 < port < 65536:
        raise StunUrlError(f"bad port in {url!r}")
    return IceServerUrl(url.strip(), scheme, m["host"].strip("[]"), port, m["transport"])


@dataclasses.dataclass(frozen=True)
class StunProbe(JsonMixin):
    """One Binding request: from where, to where, and what the server saw."""

    server: str  # "host:port"
    interface: str | None  # the device the socket was bound to, None = kernel's choice
    local: str | None  # our socket's source address
    mapped: str | None  # the reflexive address the server reported
    error: str | None = None
    rtt_ms: float | None = None


def build_request(transaction_id: bytes) -> bytes:
    return struct.pack("!HHI12s", BINDING_REQUEST, 0, MAGIC_COOKIE, transaction_id)


def parse_response(data: bytes, transaction_id: bytes) -> tuple[str, int]:
    """(address, port) from a Binding success response; ValueError on anything else."""
    if len(data) < 20:
        raise ValueError("short STUN message")
    mtype, length, cookie, tid = struct.unpack("!HHI12s", data[:20])
    if cookie != MAGIC_COOKIE or tid != transaction_id:
        raise ValueError("not our transaction")
    if mtype != BINDING_SUCCESS:
        raise ValueError(f"STUN message type 0x{mtype:04x} is not a binding success")
    body = data[20 : 20 + length]
    fallback: tuple[str, int] | None = None
    pos = 0
    while pos + 4 <= len(body):
        atype, alen = struct.unpack("!HH", body[pos : pos + 4])
        value = body[pos + 4 : pos + 4 + alen]
        pos += 4 + alen + (-alen % 4)
        if len(value) < 8 or atype not in (ATTR_XOR_MAPPED_ADDRESS, ATTR_MAPPED_ADDRESS):
            continue
        family = value[1]
        port = struct.unpack("!H", value[2:4])[0]
        raw = value[4:]
        if atype == ATTR_XOR_MAPPED_ADDRESS:
            port ^= MAGIC_COOKIE >> 16
            key = struct.pack("!I", MAGIC_COOKIE) + transaction_id
            raw = bytes(b ^ key[i] for i, b in enumerate(raw))
        if family == 1 and len(raw) >= 4:
            addr = str(ipaddress.IPv4Address(raw[:4]))
        elif family == 2 and len(raw) >= 16:
            addr = str(ipaddress.IPv6Address(raw[:16]))
        else:
            continue
        if atype == ATTR_XOR_MAPPED_ADDRESS:
            return addr, port
        fallback = (addr, port)
    if fallback is None:
        raise ValueError("no mapped address in STUN response")
    return fallback


def already_received(sock: socket.socket) -> bytes | None:
    """What already sits in ``sock``'s receive queue, without waiting (None: nothing).

    A probe that was not scheduled until past its deadline (a loaded machine) looks
    here before it calls a path silent: the answer may have come during the pause.
    """
    sock.setblocking(False)
    try:
        return sock.recv(2048) or None
    except OSError:  # BlockingIOError (nothing there), or an ICMP error queued
        return None


def stun_probe(
    host: str,
    port: int,
    *,
    interface: str | None = None,
    timeout: float = 1.5,
    retries: int = 3,
) -> StunProbe:
    """Send a Binding request to ``host:port`` over UDP, optionally pinned to ``interface``.

    Never raises for network trouble: the failure is part of the result,
    because "no path to the STUN server" is itself something to report.
    """
    server = f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        return StunProbe(server, interface, None, None, f"cannot resolve: {exc}")
    family, _, _, _, sockaddr = infos[0]
    tid = os.urandom(12)
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            if interface is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, interface.encode() + b"\0")
                except OSError as exc:  # needs CAP_NET_RAW; not on every OS
                    return StunProbe(server, interface, None, None, f"cannot bind to device: {exc}")
            sock.connect(sockaddr)
            local = sock.getsockname()[0]
            per_try = timeout / max(retries, 1)
            start = time.monotonic()
            while time.monotonic() < deadline:
                sock.send(build_request(tid))
                sock.settimeout(max(0.01, min(per_try, deadline - time.monotonic())))
                try:
                    while True:
                        data = sock.recv(2048)
                        try:
                            addr, _ = parse_response(data, tid)
                        except ValueError as exc:
                            log.debug("ignoring STUN datagram from %s: %s", server, exc)
                            continue
                        rtt = (time.monotonic() - start) * 1000
                        return StunProbe(server, interface, local, addr, None, round(rtt, 1))
                except TimeoutError:
                    continue
            # Not scheduled until past the deadline (a loaded machine)? What came meanwhile
            # is still in the queue: read it before calling the path silent.
            while (queued := already_received(sock)) is not None:
                try:
                    addr, _ = parse_response(queued, tid)
                except ValueError:
                    continue
                rtt = (time.monotonic() - start) * 1000
                return StunProbe(server, interface, local, addr, None, round(rtt, 1))
            return StunProbe(server, interface, local, None, "no answer before timeout")
    except OSError as exc:
        return StunProbe(
            server, interface, None, None, f"{type(exc).__name__}: {exc.strerror or exc}"
        )
