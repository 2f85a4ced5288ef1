"""Linux interfaces and addresses from two rtnetlink dumps, in-process (no psutil).

``RTM_GETLINK`` gives every interface of this network namespace with its
flags, ``RTM_GETADDR`` every IPv4 and IPv6 address: what ``ip link`` and
``ip addr`` ask, and what glibc's ``getifaddrs()`` (behind psutil and
netifaces) asks too. Doing it here keeps ``vpnguard status`` from importing
psutil, its most expensive import, and the result is the same view: the
flags string is psutil's (``"up,broadcast,running,multicast"``), an
interface is up when it is ``running`` (psutil's ``isup``), an address is
``IFA_LOCAL`` or else ``IFA_ADDRESS``, IPv4 addresses carry their label's
name (``eth0:1``), and link-local IPv6 addresses a ``%name`` scope, as
``getnameinfo()`` writes them. The parsers are pure and unit-tested; the
comparison with psutil and netifaces runs on real interfaces and in a
network namespace.
"""

from __future__ import annotations

import _socket  # not socket: that builds four IntEnums at import (~2 ms of status)
import os
import struct

NETLINK_ROUTE = 0
RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_GETADDR = 22
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
IFLA_IFNAME = 3
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3

NLMSG_HDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
RTATTR = struct.Struct("=HH")

# net_device flags in bit order, named as psutil names them (include/uapi/linux/if.h).
IFF_NAMES = (
    "up",
    "broadcast",
    "debug",
    "loopback",
    "pointopoint",
    "notrailers",
    "running",
    "noarp",
    "promisc",
    "allmulti",
    "master",
    "slave",
    "multicast",
    "portsel",
    "dynamic",
    "oneshot",
)
IFF_RUNNING = 0x40

Addrs = dict[str, tuple[str, ...]]
Stats = dict[str, tuple[bool, str]]


def flag_names(flags: int) -> str:
    """psutil's flags string for ``ifi_flags`` (pure)."""
    return ",".join(name for bit, name in enumerate(IFF_NAMES) if flags & (1 << bit))


def _align4(n: int) -> int:
    return (n + 3) & ~3


def build_dump_request(msg_type: int, seq: int) -> bytes:
    """An ``RTM_GETLINK`` or ``RTM_GETADDR`` dump request for every family (pure)."""
    body = (
        IFINFOMSG.pack(0, 0, 0, 0, 0) if msg_type == RTM_GETLINK else IFADDRMSG.pack(0, 0, 0, 0, 0)
    )
    header = NLMSG_HDR.pack(
        NLMSG_HDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0
    )
    return header + body


def _attrs(data: bytes, offset: int, end: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while offset + RTATTR.size <= end:
        rta_len, rta_type = RTATTR.unpack_from(data, offset)
        if rta_len < RTATTR.size or offset + rta_len > end:
            raise ValueError("malformed netlink attribute")
        out.setdefault(rta_type & 0x3FFF, data[offset + RTATTR.size : offset + rta_len])
        offset += _align4(rta_len)
    return out


def messages(data: bytes) -> list[tuple[int, bytes]]:
    """Split one ``recv()`` of netlink into ``(type, whole message)`` pairs (pure).

    Raises OSError for an ``NLMSG_ERROR`` carrying an error, ValueError for
    a malformed buffer.
    """
    out: list[tuple[int, bytes]] = []
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, msg_type, _flags, _seq, _pid = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size or offset + length > len(data):
            raise ValueError("malformed netlink message")
        msg = data[offset : offset + length]
        if msg_type == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", msg, NLMSG_HDR.size)
            if code:
                raise OSError(-code, os.strerror(-code))
        out.append((msg_type, msg))
        offset += _align4(length)
    return out


def parse_link(msg: bytes) -> tuple[int, str, int] | None:
    """``(index, name, flags)`` from one ``RTM_NEWLINK`` message (pure)."""
    _family, _type, index, flags, _change = IFINFOMSG.unpack_from(msg, NLMSG_HDR.size)
    attrs = _attrs(msg, NLMSG_HDR.size + IFINFOMSG.size, len(msg))
    raw = attrs.get(IFLA_IFNAME)
    if raw is None:
        return None
    return index, raw.split(b"\0", 1)[0].decode("utf-8", "replace"), flags


def parse_addr(msg: bytes, names: dict[int, str]) -> tuple[str, str] | None:
    """``(interface name, address)`` from one ``RTM_NEWADDR`` message, as getifaddrs names it."""
    family, _prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(msg, NLMSG_HDR.size)
    if family not in (_socket.AF_INET, _socket.AF_INET6):
        return None
    attrs = _attrs(msg, NLMSG_HDR.size + IFADDRMSG.size, len(msg))
    raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
    size = 4 if family == _socket.AF_INET else 16
    if raw is None or len(raw) < size:
        return None
    addr = _socket.inet_ntop(family, raw[:size])
    name = names.get(index, str(index))
    if family == _socket.AF_INET and IFA_LABEL in attrs:
        name = attrs[IFA_LABEL].split(b"\0", 1)[0].decode("utf-8", "replace") or name
    if family == _socket.AF_INET6 and raw[0] == 0xFE and raw[1] & 0xC0 == 0x80:
        addr += "%" + names.get(index, str(index))  # fe80::/10: getnameinfo adds the scope
    return name, addr


def _dump(sock: _socket.socket, msg_type: int, seq: int) -> list[tuple[int, bytes]]:
    sock.send(build_dump_request(msg_type, seq))
    out: list[tuple[int, bytes]] = []
    while True:
        for kind, msg in messages(sock.recv(65536)):
            if kind == NLMSG_DONE:
                return out
            out.append((kind, msg))


def interfaces(timeout: float = 1.0) -> tuple[Addrs, Stats]:
    """Every interface's addresses and ``(is_up, flags)``, like psutil's two calls.

    Raises OSError when rtnetlink is unavailable (not Linux, a sandbox).
    """
    af_netlink = getattr(_socket, "AF_NETLINK", None)
    if af_netlink is None:
        raise OSError(95, "no AF_NETLINK on this platform")
    sock = _socket.socket(af_netlink, _socket.SOCK_RAW, NETLINK_ROUTE)
    try:
        sock.settimeout(timeout)
        sock.bind((0, 0))
        links = _dump(sock, RTM_GETLINK, 1)
        addr_msgs = _dump(sock, RTM_GETADDR, 2)
    finally:
        sock.close()
    names: dict[int, str] = {}
    stats: Stats = {}
    for kind, msg in links:
        link = parse_link(msg) if kind == RTM_NEWLINK else None
        if link is not None:
            index, name, flags = link
            names[index] = name
            stats[name] = (bool(flags & IFF_RUNNING), flag_names(flags))
    collected: dict[str, list[str]] = {}
    for kind, msg in addr_msgs:
        found = parse_addr(msg, names) if kind == RTM_NEWADDR else None
        if found is not None:
            collected.setdefault(found[0], []).append(found[1])
    return {name: tuple(a) for name, a in collected.items()}, stats
