"""Gather interface facts from the OS and ask the kernel about routes.

This is where the package reads the live network: the per-OS strategy of
:mod:`.platforms` lists interfaces and their facts, :mod:`.routes` asks the
kernel about public destinations. Decisions live in :mod:`.classify` and
:mod:`.tunnel`.

It runs inside ``vpnguard status``, so it is kept cheap: no subprocess on
Linux or macOS, no psutil on Linux (two netlink dumps), a handful of sysfs
reads per interface, and two in-process route lookups.
"""

from __future__ import annotations

from collections.abc import Iterable

from vpnguard._lazylog import get_logger
from vpnguard.core.host import Host
from vpnguard.core.model import NetInterface, NetworkState, Route
from vpnguard.core.network import routes as _routes
from vpnguard.core.network.classify import InterfaceFacts, classify
from vpnguard.core.network.platforms import (
    NetworkPlatform,
    ethtool_driver,
    gather_facts,
    linux_sysfs_facts,
    network_platform,
    wireguard_sockets,
)
from vpnguard.core.network.tunnel import decide
from vpnguard.core.record import replace

log = get_logger(__name__)  # imports logging only if a message is emitted

__all__ = [
    "classify_all",
    "detect_network",
    "ethtool_driver",
    "gather_facts",
    "linux_sysfs_facts",
    "route_to",
    "wireguard_sockets",
]


def classify_all(
    facts: Iterable[InterfaceFacts], uplink: str | None = None
) -> tuple[NetInterface, ...]:
    """Classify every interface; ``uplink`` names the one carrying the public IPv4 route."""
    result = []
    for f in facts:
        if uplink is not None and f.name == uplink:
            f = replace(f, carries_public_route=True)
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
    platform: NetworkPlatform | None = None,
    probe4: str | None = _routes.PROBE4,
    probe6: str | None = _routes.PROBE6,
    use_ip_command: bool = False,
    timeout: float = 1.0,
) -> NetworkState:
    """Interfaces, VPN classification, public routes and tunnel mode of this machine.

    ``probe4``/``probe6`` are the public addresses whose route is asked for
    (no packet is sent); ``None`` skips that family. Routes are only asked
    on a live host: with a fake ``--root`` the kernel would answer about the
    real machine, not the tree. ``platform`` is the per-OS strategy that
    lists interfaces (:func:`.platforms.network_platform` by default).
    """
    host = host or Host.current()
    platform = platform or network_platform()
    facts = platform.facts(host)
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
    route4, route6 = platform.with_gateway(route4), platform.with_gateway(route6)
    state = decide(interfaces, route4, route6)
    log.debug("network: %s", state.detail)
    return state
