"""Gather interface facts from the OS and ask the kernel about routes.

This is the only module of the package that reads the live system (psutil,
sysfs through :class:`Host`, an ethtool ioctl, and on Windows PowerShell).
Decisions live in :mod:`.classify` and :mod:`.tunnel`.

It runs inside ``vpnguard status``, so it is kept cheap: no subprocess on
Linux or macOS, a handful of sysfs reads per interface, and two in-process
route lookups.
"""

from __future__ import annotations

import array
import dataclasses
import fcntl
import logging
import socket
import struct
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from vpnguard.core.host import Host
from vpnguard.core.model import OS, NetInterface, NetworkState, Route
from vpnguard.core.network import routes as _routes
from vpnguard.core.network.classify import InterfaceFacts, classify
from vpnguard.core.network.tunnel import decide

if TYPE_CHECKING:
    from vpnguard.core.network.windows import WindowsAdapter

log = logging.getLogger(__name__)

WIREGUARD_SOCKET_DIRS = ("/var/run/wireguard", "/run/wireguard")

_SIOCETHTOOL = 0x8946
_ETHTOOL_GDRVINFO = 0x00000003
_DRVINFO_SIZE = 196  # struct ethtool_drvinfo


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _int(text: str | None, base: int = 10) -> int | None:
    if text is None:
        return None
    try:
        return int(text, base)
    except ValueError:
        return None


def wireguard_sockets(host: Host) -> frozenset[str]:
    """Interface names with a userspace WireGuard control socket (``NAME.sock``)."""
    names: set[str] = set()
    for d in WIREGUARD_SOCKET_DIRS:
        try:
            entries = list(host.p(d).iterdir())
        except OSError:
            continue
        names.update(e.name[: -len(".sock")] for e in entries if e.name.endswith(".sock"))
    return frozenset(names)


def ethtool_driver(name: str) -> str | None:
    """The kernel driver behind ``name`` ("veth", "tun", "virtio_net"), via SIOCETHTOOL.

    One ioctl, no process; None when the driver does not answer.
    """
    buf = array.array("B", struct.pack("=I", _ETHTOOL_GDRVINFO) + b"\0" * (_DRVINFO_SIZE - 4))
    addr, _ = buf.buffer_info()
    ifreq = struct.pack("16sP", name.encode()[:15], addr)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            fcntl.ioctl(sock.fileno(), _SIOCETHTOOL, ifreq)
    except OSError:
        return None
    raw = buf.tobytes()[4:36]
    driver = raw.split(b"\0", 1)[0].decode("ascii", "replace")
    return driver or None


def linux_sysfs_facts(
    host: Host,
    name: str,
    *,
    wg_sockets: frozenset[str] = frozenset(),
    driver: str | None = None,
) -> dict[str, Any]:
    """The sysfs facts :class:`InterfaceFacts` needs, read under ``host.root``."""
    base = host.p("/sys/class/net") / name
    devtype = None
    uevent = _read(base / "uevent")
    if uevent:
        for line in uevent.splitlines():
            if line.startswith("DEVTYPE="):
                devtype = line.split("=", 1)[1].strip() or None
    tun_flags_text = _read(base / "tun_flags")
    tun_flags = _int(tun_flags_text, 16) if tun_flags_text is not None else None
    if tun_flags_text is not None and tun_flags is None:
        tun_flags = 0
    return {
        "arphrd": _int(_read(base / "type")),
        "devtype": devtype,
        "tun_flags": tun_flags,
        "has_device": (base / "device").exists(),
        "driver": driver,
        "wg_socket": name in wg_sockets,
    }


def _psutil_interfaces() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[bool, str]]]:
    addrs: dict[str, tuple[str, ...]] = {}
    for name, entries in psutil.net_if_addrs().items():
        addrs[name] = tuple(
            str(e.address)
            for e in entries
            if e.family in (socket.AF_INET, socket.AF_INET6) and e.address
        )
    stats = {
        name: (bool(s.isup), str(getattr(s, "flags", "") or ""))
        for name, s in psutil.net_if_stats().items()
    }
    return addrs, stats


def gather_facts(
    host: Host,
    addrs: Mapping[str, tuple[str, ...]],
    stats: Mapping[str, tuple[bool, str]],
    *,
    windows: Mapping[str, WindowsAdapter] | None = None,
    driver_of: Callable[[str], str | None] | None = None,
) -> list[InterfaceFacts]:
    """Combine psutil's view with sysfs (Linux) or adapter descriptions (Windows)."""
    names = sorted(set(addrs) | set(stats))
    wg = wireguard_sockets(host) if host.os is OS.LINUX else frozenset()
    out: list[InterfaceFacts] = []
    for name in names:
        is_up, flags = stats.get(name, (False, ""))
        facts = InterfaceFacts(
            name=name,
            os=host.os,
            flags=flags,
            is_up=is_up,
            addresses=addrs.get(name, ()),
        )
        if host.os is OS.LINUX:
            driver = driver_of(name) if driver_of else None
            facts = dataclasses.replace(
                facts, **linux_sysfs_facts(host, name, wg_sockets=wg, driver=driver)
            )
        elif host.os is OS.WINDOWS and windows is not None and name in windows:
            facts = dataclasses.replace(facts, description=windows[name].description)
        out.append(facts)
    return out


def classify_all(
    facts: Iterable[InterfaceFacts], uplink: str | None = None
) -> tuple[NetInterface, ...]:
    """Classify every interface; ``uplink`` names the one carrying the public IPv4 route."""
    result = []
    for f in facts:
        if uplink is not None and f.name == uplink:
            f = dataclasses.replace(f, carries_public_route=True)
        c = classify(f)
        result.append(
            NetInterface(
                name=f.name,
                kind=c.kind,
                reason=c.reason,
                addresses=f.addresses,
                is_up=f.is_up,
                vpn_type=c.vpn_type,
            )
        )
    return tuple(result)


def _revalidate(route: Route | None, interfaces: tuple[NetInterface, ...]) -> Route | None:
    if route is None:
        return None
    return _routes.make_route(
        route.destination,
        route.source,
        {"dev": route.interface, "gateway": route.gateway, "prefsrc": None},
        interfaces,
    )


def route_to(
    addr: str,
    interfaces: Iterable[NetInterface] | None = None,
    *,
    host: Host | None = None,
    use_ip_command: bool = False,
    timeout: float = 1.0,
) -> Route | None:
    """The kernel's route to ``addr`` (interface, source, gateway, via_vpn); None if unreachable.

    Without ``interfaces`` the interfaces are detected first, so that
    ``via_vpn`` is meaningful.
    """
    if interfaces is None:
        interfaces = detect_network(host, probe4=None, probe6=None).interfaces
    return _routes.route_to(addr, interfaces, use_ip_command=use_ip_command, timeout=timeout)


def detect_network(
    host: Host | None = None,
    *,
    probe4: str | None = _routes.PROBE4,
    probe6: str | None = _routes.PROBE6,
    use_ip_command: bool = False,
    timeout: float = 1.0,
) -> NetworkState:
    """Interfaces, VPN classification, public routes and tunnel mode of this machine.

    ``probe4``/``probe6`` are the public addresses whose route is asked for
    (no packet is sent); ``None`` skips that family. Routes are only asked
    on a live host: with a fake ``--root`` the kernel would answer about the
    real machine, not the tree.
    """
    host = host or Host.current()
    addrs, stats = _psutil_interfaces()
    windows = None
    if host.os is OS.WINDOWS and sys.platform == "win32":
        from vpnguard.core.network.windows import windows_adapters

        windows = windows_adapters()
    live_linux = host.is_live and host.os is OS.LINUX and sys.platform.startswith("linux")
    facts = gather_facts(
        host, addrs, stats, windows=windows, driver_of=ethtool_driver if live_linux else None
    )
    interfaces = classify_all(facts)
    route4 = route6 = None
    if host.is_live:
        if probe4:
            route4 = _routes.route_to(
                probe4, interfaces, use_ip_command=use_ip_command, timeout=timeout
            )
        if probe6:
            route6 = _routes.route_to(
                probe6, interfaces, use_ip_command=use_ip_command, timeout=timeout
            )
    uplink = route4.interface if route4 else (route6.interface if route6 else None)
    if uplink is not None:
        interfaces = classify_all(facts, uplink=uplink)
        route4, route6 = _revalidate(route4, interfaces), _revalidate(route6, interfaces)
    state = decide(interfaces, route4, route6)
    log.debug("network: %s", state.detail)
    return state
