"""Per-OS strategies for listing this machine's interfaces (no ``if/elif`` on the OS).

Each strategy answers three questions its own way: which interfaces exist
(addresses, up, flags), which facts the classifier gets about them, and the
gateway of a route the kernel chose. :func:`network_platform` picks one for
the running OS; :func:`~vpnguard.core.network.detect.detect_network` takes
one as an argument, so a test can hand in its own.

- Linux: two rtnetlink dumps (:mod:`.netlink`) plus sysfs and an ethtool
  ioctl; the kernel's route lookup already names the gateway. psutil only
  when netlink is unavailable.
- macOS and Windows: psutil for interfaces (on Windows plus the adapter
  descriptions from ``Get-NetAdapter``), and ``netifaces`` for the gateway,
  which psutil does not give.
- anything else psutil runs on: psutil; nothing at all: :class:`NullNetwork`.

``netifaces.gateways()`` reads the main routing table's default route. It
misses real VPN routing (FACTS.md): ``default dev tun0`` without a gateway,
OpenVPN's ``0.0.0.0/1`` + ``128.0.0.0/1``, wg-quick's policy routing. So it
never decides which way traffic goes: the kernel's answer for a public
address does (:mod:`.routes`), and netifaces only names the gateway when its
default route leaves through the interface holding that answer's source
address.
"""

from __future__ import annotations

import _socket  # not socket: that builds four IntEnums at import (~2 ms of status)
import struct
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

from vpnguard.core.host import Host
from vpnguard.core.model import OS, Route
from vpnguard.core.network.classify import InterfaceFacts
from vpnguard.core.record import replace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from vpnguard.core.network.windows import WindowsAdapter

Addrs = dict[str, tuple[str, ...]]
Stats = dict[str, tuple[bool, str]]

WIREGUARD_SOCKET_DIRS = ("/var/run/wireguard", "/run/wireguard")

_SIOCETHTOOL = 0x8946
_ETHTOOL_GDRVINFO = 0x00000003
_DRVINFO_SIZE = 196  # struct ethtool_drvinfo


# --- facts (what the classifier is told) -----------------------------------------


def _read(path: Path) -> str | None:
    try:
        text: str = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return text.strip()


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
    import array
    import fcntl

    buf = array.array("B", struct.pack("=I", _ETHTOOL_GDRVINFO) + b"\0" * (_DRVINFO_SIZE - 4))
    addr, _ = buf.buffer_info()
    ifreq = struct.pack("16sP", name.encode()[:15], addr)
    try:
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        try:
            fcntl.ioctl(sock.fileno(), _SIOCETHTOOL, ifreq)
        finally:
            sock.close()
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


def gather_facts(
    host: Host,
    addrs: Mapping[str, tuple[str, ...]],
    stats: Mapping[str, tuple[bool, str]],
    *,
    windows: Mapping[str, WindowsAdapter] | None = None,
    driver_of: Callable[[str], str | None] | None = None,
) -> list[InterfaceFacts]:
    """Combine the interface list with sysfs (Linux) or adapter descriptions (Windows)."""
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
            facts = replace(facts, **linux_sysfs_facts(host, name, wg_sockets=wg, driver=driver))
        elif host.os is OS.WINDOWS and windows is not None and name in windows:
            facts = replace(facts, description=windows[name].description)
        out.append(facts)
    return out


def psutil_interfaces() -> tuple[Addrs, Stats]:
    """Addresses and ``(is_up, flags)`` per interface, from psutil (every OS it supports)."""
    import psutil

    addrs: Addrs = {}
    for name, entries in psutil.net_if_addrs().items():
        addrs[name] = tuple(
            str(e.address)
            for e in entries
            if e.family in (_socket.AF_INET, _socket.AF_INET6) and e.address
        )
    stats = {
        name: (bool(s.isup), str(getattr(s, "flags", "") or ""))
        for name, s in psutil.net_if_stats().items()
    }
    return addrs, stats


# --- gateways from netifaces (macOS, Windows) -------------------------------------


def _family(route: Route) -> int:
    return _socket.AF_INET6 if ":" in (route.source or route.destination) else _socket.AF_INET


def gateway_on_route(
    route: Route,
    defaults: Mapping[int, tuple[str, str]],
    addresses_of: Callable[[str], tuple[str, ...]],
) -> str | None:
    """The default gateway of ``route``'s family, if it leaves where the kernel's route does (pure).

    ``defaults`` is ``netifaces.gateways()["default"]`` (family -> (gateway,
    interface)); ``addresses_of`` gives an interface's addresses. The
    gateway is named only when the interface it is reached through holds the
    route's source address; otherwise the kernel routes some other way (a
    VPN's split default, a policy rule) and netifaces' default says nothing
    about this route.
    """
    if route.source is None:
        return None
    default = defaults.get(_family(route))
    if not default:
        return None
    gateway, interface = default[0], default[1]
    held = {a.split("%", 1)[0] for a in addresses_of(interface)}
    return gateway if route.source.split("%", 1)[0] in held else None


class NetifacesGateways:
    """Gateways from the real ``netifaces`` API (package ``netifaces-plus``)."""

    def __call__(self, route: Route) -> str | None:
        import netifaces

        family = _family(route)

        def addresses_of(interface: str) -> tuple[str, ...]:
            try:
                entries = netifaces.ifaddresses(interface).get(family, [])
            except ValueError:  # the interface went away meanwhile
                return ()
            return tuple(str(e.get("addr", "")) for e in entries)

        defaults = netifaces.gateways().get("default", {})
        if not isinstance(defaults, dict):
            return None
        return gateway_on_route(route, defaults, addresses_of)


# --- the strategies ---------------------------------------------------------------


class NetworkPlatform(ABC):
    """One OS's way of listing interfaces, gathering facts, and naming a route's gateway."""

    @abstractmethod
    def interfaces(self) -> tuple[Addrs, Stats]:
        """Addresses and ``(is_up, flags)`` per interface name."""

    def facts(self, host: Host) -> list[InterfaceFacts]:
        """What the classifier is told about every interface."""
        addrs, stats = self.interfaces()
        return gather_facts(host, addrs, stats)

    def with_gateway(self, route: Route | None) -> Route | None:
        """``route`` with its gateway filled in where the route lookup did not say it."""
        return route


class LinuxNetwork(NetworkPlatform):
    """rtnetlink for interfaces, sysfs and ethtool for facts; netlink routes name gateways."""

    def __init__(self, *, driver_of: Callable[[str], str | None] | None = ethtool_driver) -> None:
        self.driver_of = driver_of

    def interfaces(self) -> tuple[Addrs, Stats]:
        from vpnguard.core.network import netlink

        try:
            return netlink.interfaces()
        except (OSError, ValueError):  # no rtnetlink here (a sandbox): psutil reads /proc
            return psutil_interfaces()

    def facts(self, host: Host) -> list[InterfaceFacts]:
        addrs, stats = self.interfaces()
        driver_of = self.driver_of if host.is_live and host.os is OS.LINUX else None
        return gather_facts(host, addrs, stats, driver_of=driver_of)


class PsutilNetwork(NetworkPlatform):
    """psutil's interfaces, on any OS it supports; no gateway."""

    def interfaces(self) -> tuple[Addrs, Stats]:
        return psutil_interfaces()


class MacNetwork(PsutilNetwork):
    """psutil's interfaces; the gateway from netifaces, which psutil does not give."""

    def __init__(self, gateway_of: Callable[[Route], str | None] | None = None) -> None:
        self.gateway_of = gateway_of or NetifacesGateways()

    def with_gateway(self, route: Route | None) -> Route | None:
        if route is None or route.gateway is not None:
            return route
        return replace(route, gateway=self.gateway_of(route))


class WindowsNetwork(MacNetwork):
    """As macOS, plus the adapter descriptions that say "WireGuard Tunnel"."""

    def __init__(
        self,
        gateway_of: Callable[[Route], str | None] | None = None,
        adapters: Callable[[], Mapping[str, WindowsAdapter]] | None = None,
    ) -> None:
        super().__init__(gateway_of)
        self.adapters = adapters

    def facts(self, host: Host) -> list[InterfaceFacts]:
        addrs, stats = self.interfaces()
        adapters = self.adapters
        if adapters is None:
            from vpnguard.core.network.windows import windows_adapters

            adapters = windows_adapters
        return gather_facts(host, addrs, stats, windows=adapters())


class NullNetwork(NetworkPlatform):
    """No way to list interfaces here: none are reported."""

    def interfaces(self) -> tuple[Addrs, Stats]:
        return {}, {}


def network_platform(platform: str | None = None) -> NetworkPlatform:
    """The strategy for the OS this process runs on (``sys.platform`` by default)."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        return LinuxNetwork()
    if platform == "darwin":
        return MacNetwork()
    if platform == "win32":
        return WindowsNetwork()
    try:
        import psutil  # noqa: F401
    except ImportError:
        return NullNetwork()
    return PsutilNetwork()
