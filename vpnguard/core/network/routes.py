"""Ask the kernel which interface and source address a destination uses.

The routing table alone lies about VPNs: wg-quick leaves the main table
alone and routes through table 51820 with ``ip rule``, OpenVPN adds
``0.0.0.0/1`` + ``128.0.0.0/1`` beside the old default, and
``netifaces.gateways()`` sees neither. So we ask the kernel the question a
STUN request would ask:

1. a UDP socket ``connect()`` + ``getsockname()`` gives the source address
   (no packet is sent; policy routing is honored) -- on every OS;
2. on Linux, an ``RTM_GETROUTE`` netlink request (what ``ip route get``
   does, in-process, a fraction of a millisecond) gives the output
   interface, preferred source and gateway;
3. ``ip -j route get`` is the fallback when netlink is unavailable, with a
   bounded timeout.

The parsers are pure and unit-tested; the functions that open sockets or run
``ip`` are thin.
"""

from __future__ import annotations

import _socket  # not socket: that builds four IntEnums at import (~2 ms of status)
import errno
import ipaddress
import os
import struct
import sys
from collections.abc import Iterable

from vpnguard._lazylog import get_logger
from vpnguard.core.model import InterfaceKind, NetInterface, Route

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

log = get_logger(__name__)  # imports logging only if a message is emitted

PROBE4 = "1.1.1.1"
PROBE6 = "2606:4700:4700::1111"

# Errors meaning "no route there", as opposed to a bug.
_UNREACHABLE = {
    errno.ENETUNREACH,
    errno.EHOSTUNREACH,
    errno.EADDRNOTAVAIL,
    errno.EAFNOSUPPORT,
    errno.EINVAL,
    errno.ENETDOWN,
    errno.EPERM,  # a firewall (or kill switch) rejects the route lookup
}


def _strip_scope(addr: str) -> str:
    return addr.split("%", 1)[0]


def kernel_source_address(dest: str, port: int = 3478) -> str | None:
    """The source address the kernel picks for UDP to ``dest`` (nothing is sent)."""
    ip = ipaddress.ip_address(dest)
    family = _socket.AF_INET6 if ip.version == 6 else _socket.AF_INET
    try:
        sock = _socket.socket(family, _socket.SOCK_DGRAM)
    except OSError as exc:  # IPv6 disabled in this kernel / namespace
        log.debug("no IPv%d socket: %s", ip.version, exc)
        return None
    try:
        try:
            sock.connect((dest, port))
        except OSError as exc:
            if exc.errno in _UNREACHABLE:
                log.debug("no route to %s: %s", dest, exc)
                return None
            raise
        source = str(sock.getsockname()[0])
    finally:
        sock.close()
    if source in {"0.0.0.0", "::"}:
        return None
    return _strip_scope(source)


# --- netlink RTM_GETROUTE (Linux) -------------------------------------------------

_NETLINK_ROUTE = 0
_RTM_NEWROUTE = 24
_RTM_GETROUTE = 26
_NLMSG_ERROR = 2
_NLM_F_REQUEST = 1
_RTA_DST = 1
_RTA_OIF = 4
_RTA_GATEWAY = 5
_RTA_PREFSRC = 7
_RTA_TABLE = 15
_RTA_VIA = 18
_NLMSG_HDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_RTMSG = struct.Struct(
    "=BBBBBBBBI"
)  # family, dst_len, src_len, tos, table, proto, scope, type, flags
_RTATTR = struct.Struct("=HH")


def _align4(n: int) -> int:
    return (n + 3) & ~3


def build_getroute_request(dest: str, seq: int = 1) -> bytes:
    """A netlink RTM_GETROUTE request for one destination (pure)."""
    ip = ipaddress.ip_address(dest)
    family = _socket.AF_INET6 if ip.version == 6 else _socket.AF_INET
    packed = ip.packed
    attr_len = _RTATTR.size + len(packed)
    attr = _RTATTR.pack(attr_len, _RTA_DST) + packed + b"\0" * (_align4(attr_len) - attr_len)
    body = _RTMSG.pack(family, ip.max_prefixlen, 0, 0, 0, 0, 0, 0, 0) + attr
    header = _NLMSG_HDR.pack(_NLMSG_HDR.size + len(body), _RTM_GETROUTE, _NLM_F_REQUEST, seq, 0)
    return header + body


def parse_getroute_reply(data: bytes) -> dict[str, Any] | None:
    """Parse the kernel's reply into ``{oif, prefsrc, gateway, table}`` (pure).

    Returns None when the kernel answered with an error (no route: the
    netlink equivalent of ENETUNREACH). Raises ValueError on a malformed
    message.
    """
    if len(data) < _NLMSG_HDR.size:
        raise ValueError("short netlink message")
    length, msg_type, _flags, _seq, _pid = _NLMSG_HDR.unpack_from(data, 0)
    if msg_type == _NLMSG_ERROR:
        (code,) = struct.unpack_from("=i", data, _NLMSG_HDR.size)
        log.debug("netlink route lookup failed: %s", os.strerror(-code) if code else "ack")
        return None
    if msg_type != _RTM_NEWROUTE:
        raise ValueError(f"unexpected netlink message type {msg_type}")
    family = data[_NLMSG_HDR.size]
    offset = _NLMSG_HDR.size + _RTMSG.size
    end = min(length, len(data))
    out: dict[str, Any] = {"oif": None, "prefsrc": None, "gateway": None, "table": None}
    while offset + _RTATTR.size <= end:
        rta_len, rta_type = _RTATTR.unpack_from(data, offset)
        if rta_len < _RTATTR.size:
            raise ValueError("malformed netlink attribute")
        payload = data[offset + _RTATTR.size : offset + rta_len]
        if rta_type == _RTA_OIF:
            out["oif"] = struct.unpack("=I", payload[:4])[0]
        elif rta_type == _RTA_TABLE:
            out["table"] = struct.unpack("=I", payload[:4])[0]
        elif rta_type == _RTA_PREFSRC:
            out["prefsrc"] = _addr(family, payload)
        elif rta_type == _RTA_GATEWAY:
            out["gateway"] = _addr(family, payload)
        elif rta_type == _RTA_VIA and len(payload) >= 2:
            (via_family,) = struct.unpack_from("=H", payload, 0)
            out["gateway"] = _addr(via_family, payload[2:])
        offset += _align4(rta_len)
    return out


def _addr(family: int, payload: bytes) -> str | None:
    if family == _socket.AF_INET and len(payload) >= 4:
        return str(ipaddress.IPv4Address(payload[:4]))
    if family == _socket.AF_INET6 and len(payload) >= 16:
        return str(ipaddress.IPv6Address(payload[:16]))
    return None


def netlink_route_get(dest: str, timeout: float = 1.0) -> dict[str, Any] | None:
    """``ip route get DEST`` in-process: ``{dev, prefsrc, gateway, table}`` or None.

    Raises OSError when netlink itself is unavailable (not Linux, sandbox).
    """
    af_netlink = getattr(_socket, "AF_NETLINK", None)
    if af_netlink is None:
        raise OSError(errno.EAFNOSUPPORT, "no AF_NETLINK on this platform")
    sock = _socket.socket(af_netlink, _socket.SOCK_RAW, _NETLINK_ROUTE)
    try:
        sock.settimeout(timeout)
        sock.bind((0, 0))
        sock.send(build_getroute_request(dest))
        data = sock.recv(65536)
    finally:
        sock.close()
    parsed = parse_getroute_reply(data)
    if parsed is None:
        return None
    dev: str | None = None
    if parsed["oif"]:
        try:
            dev = _socket.if_indextoname(parsed["oif"])
        except OSError:
            dev = None
    return {
        "dev": dev,
        "prefsrc": parsed["prefsrc"],
        "gateway": parsed["gateway"],
        "table": parsed["table"],
    }


# --- ip -j route get (fallback) ---------------------------------------------------


def parse_ip_route_get(text: str) -> dict[str, Any] | None:
    """Parse ``ip -j route get ADDR`` output into ``{dev, prefsrc, gateway, table}`` (pure)."""
    import json  # the fallback path only: keep `vpnguard status` start-up light

    text = text.strip()
    if not text:
        return None
    data = json.loads(text)
    if isinstance(data, list):
        if not data:
            return None
        data = data[0]
    if not isinstance(data, dict):
        raise ValueError("unexpected `ip -j route get` output")
    gateway = data.get("gateway")
    if gateway is None and isinstance(data.get("via"), dict):
        gateway = data["via"].get("host")
    if data.get("type") in {"unreachable", "blackhole", "prohibit"}:
        return None
    return {
        "dev": data.get("dev"),
        "prefsrc": data.get("prefsrc"),
        "gateway": gateway,
        "table": data.get("table"),
    }


def ip_route_get(dest: str, timeout: float = 1.0) -> dict[str, Any] | None:
    """Run ``ip -j route get DEST`` with a bounded timeout; None when no route or no ``ip``."""
    import shutil
    import subprocess

    ip_bin = shutil.which("ip") or next(
        (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if os.path.exists(p)), None
    )
    if ip_bin is None:
        return None
    try:
        proc = subprocess.run(
            [ip_bin, "-j", "route", "get", dest],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("`ip route get %s` failed: %s", dest, exc)
        return None
    if proc.returncode != 0:
        log.debug("`ip route get %s`: %s", dest, proc.stderr.strip())
        return None
    try:
        return parse_ip_route_get(proc.stdout)
    except ValueError as exc:
        log.debug("cannot parse `ip route get` output: %s", exc)
        return None


# --- putting it together ----------------------------------------------------------


def interface_for_address(source: str, interfaces: Iterable[NetInterface]) -> str | None:
    """The name of the interface holding ``source`` (pure).

    When several hold it (rare: an anycast or a copied address), a VPN
    interface is preferred, since that is where such a setup routes.
    """
    target = _strip_scope(source)
    owners = [i for i in interfaces if target in {_strip_scope(a) for a in i.addresses}]
    if not owners:
        return None
    owners.sort(key=lambda i: i.kind is not InterfaceKind.VPN)
    return owners[0].name


def make_route(
    destination: str,
    source: str | None,
    kernel: dict[str, Any] | None,
    interfaces: Iterable[NetInterface],
) -> Route | None:
    """Combine the socket answer and the route lookup into a :class:`Route` (pure).

    The route lookup's ``dev`` wins for the interface: a tun without an
    address borrows another interface's source address, so mapping the
    source back would name the wrong interface.
    """
    ifaces = list(interfaces)
    if source is None and kernel is None:
        return None
    name: str | None = kernel.get("dev") if kernel else None
    if source is None and kernel is not None:
        source = kernel.get("prefsrc")
    if name is None and source is not None:
        name = interface_for_address(source, ifaces)
    gateway = kernel.get("gateway") if kernel else None
    by_name = {i.name: i for i in ifaces}
    via_vpn = name is not None and name in by_name and by_name[name].kind is InterfaceKind.VPN
    return Route(
        destination=destination,
        interface=name,
        source=source,
        gateway=gateway,
        via_vpn=via_vpn,
    )


def route_to(
    addr: str,
    interfaces: Iterable[NetInterface],
    *,
    use_ip_command: bool = False,
    timeout: float = 1.0,
) -> Route | None:
    """The kernel's route to ``addr``: interface, source address, gateway; None if unreachable.

    ``use_ip_command`` forces ``ip -j route get`` instead of in-process
    netlink (both give the same answer; netlink avoids a process start).
    """
    source = kernel_source_address(addr)
    kernel: dict[str, Any] | None = None
    if sys.platform.startswith("linux"):
        if not use_ip_command:
            try:
                kernel = netlink_route_get(addr, timeout=timeout)
            except (OSError, ValueError) as exc:
                log.debug("netlink route lookup unavailable (%s); trying `ip`", exc)
                use_ip_command = True
        if use_ip_command:
            kernel = ip_route_get(addr, timeout=timeout)
    if source is None:
        # The socket says unreachable: trust it over a stale lookup result.
        return None
    return make_route(addr, source, kernel, interfaces)
