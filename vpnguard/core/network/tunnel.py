"""Full tunnel, split tunnel or no VPN, from interfaces and kernel routes (pure).

Three facts are kept apart (docs/browser-facts.md, "Interfaces and tunnels"):
a VPN-like interface is up; the route to a public address goes through it;
and (for the leak check) which address a STUN request leaves with. This
module decides the first two.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from vpnguard.core.model import InterfaceKind, NetInterface, NetworkState, Route, TunnelMode
from vpnguard.core.record import replace

_LABELS = {
    "wireguard": "WireGuard",
    "openvpn": "OpenVPN",
    "tailscale": "Tailscale",
    "zerotier": "ZeroTier",
    "mullvad": "Mullvad",
    "nordlynx": "NordVPN (NordLynx)",
    "proton": "Proton VPN",
    "cloudflare-warp": "Cloudflare WARP",
    "ipsec": "IPsec VPN",
    "ppp": "PPP VPN",
    "cisco-anyconnect": "Cisco AnyConnect",
    "globalprotect": "GlobalProtect",
    "fortinet": "FortiClient",
    "juniper": "Juniper/Pulse VPN",
    "openconnect": "OpenConnect",
}


def vpn_label(iface: NetInterface) -> str:
    """ "WireGuard wg0", "VPN tun1": how a sentence names a VPN interface."""
    return f"{_LABELS.get(iface.vpn_type or '', 'VPN')} {iface.name}"


def vpns_up(
    interfaces: Sequence[NetInterface], patterns: Sequence[str] = ()
) -> tuple[NetInterface, ...]:
    """The interfaces that count as "a VPN is up" — for ``status``, the app and ``watch`` alike.

    An interface counts when it is classified a VPN (:mod:`.classify`) and it is
    up: ``is_up`` is the kernel's "up and running" (on Linux IFF_UP *with* a
    carrier, i.e. psutil's ``isup``), and :mod:`.classify` already demands an
    address where idle devices are normal (macOS utun, Windows RAS miniports).

    A named but idle interface is **not** up: a ``tun0`` with IFF_UP and no
    program attached has no carrier (``NO-CARRIER``, ``state DOWN``), carries
    no packet, and ``status`` reports it as "exists but is down"; the same for
    IFF_UP cleared. Addresses are not required on Linux (a tunnel can carry
    traffic with its routes alone).

    ``patterns`` (``watch --vpn``, shell-style) replace the VPN test for
    interfaces with unusual names: then exactly the up interfaces matching a
    pattern count, whatever their class; the "up" rule stays the same.
    """
    if not patterns:
        return tuple(i for i in interfaces if i.kind is InterfaceKind.VPN and i.is_up)
    out: list[NetInterface] = []
    for i in interfaces:
        if i.is_up and any(fnmatch.fnmatchcase(i.name, p) for p in patterns):
            if i.kind is not InterfaceKind.VPN:
                i = replace(i, reason=f"named by --vpn ({i.kind.value}: {i.reason})")
            out.append(i)
    return tuple(out)


def _names(ifaces: Sequence[NetInterface]) -> str:
    labels = [vpn_label(i) for i in ifaces]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _bypasses(route: Route | None) -> bool:
    return route is not None and not route.via_vpn


def _via(route: Route) -> str:
    return route.interface or f"source address {route.source}"


def decide(
    interfaces: Sequence[NetInterface],
    public_route: Route | None,
    public_route6: Route | None,
) -> NetworkState:
    """Build the :class:`NetworkState` for these interfaces and kernel routes.

    FULL: a VPN is up and no public route (IPv4 or IPv6) bypasses it.
    SPLIT: a VPN is up and the IPv4 *or IPv6* public route leaves through
    another interface -- an IPv6 route around an IPv4-only tunnel leaks the
    same way a split tunnel does, so it is reported as one.
    NONE: no VPN interface is up.
    """
    vpns = [i for i in interfaces if i.kind is InterfaceKind.VPN]
    up = list(vpns_up(interfaces))
    down = [i for i in vpns if not i.is_up]
    names = tuple(i.name for i in up)

    if not up:
        detail = "No VPN is up."
        if down:
            detail += f" {_names(down)} exists but is down."
            routed_down = [r for r in (public_route, public_route6) if r is not None and r.via_vpn]
            if routed_down:
                detail += (
                    f" Internet traffic is routed into {_via(routed_down[0])}, "
                    "which is down, so it goes nowhere."
                )
        return NetworkState(
            interfaces=tuple(interfaces),
            public_route=public_route,
            public_route6=public_route6,
            vpn_active=False,
            vpn_interfaces=(),
            tunnel=TunnelMode.NONE,
            detail=detail,
        )

    who = _names(up)
    verb = "is" if len(up) == 1 else "are"
    if _bypasses(public_route):
        assert public_route is not None
        mode = TunnelMode.SPLIT
        detail = (
            f"{who} {verb} up but traffic to the internet bypasses it (split tunnel): "
            f"it leaves through {_via(public_route)}."
        )
    elif _bypasses(public_route6):
        assert public_route6 is not None
        mode = TunnelMode.SPLIT
        carried = "carries your IPv4 internet traffic" if public_route is not None else f"{verb} up"
        detail = (
            f"{who} {carried}, but IPv6 traffic to the internet bypasses it "
            f"through {_via(public_route6)} (split tunnel)."
        )
    elif public_route is None and public_route6 is None:
        mode = TunnelMode.FULL
        detail = f"{who} {verb} up and there is no route to the internet around it."
    else:
        mode = TunnelMode.FULL
        route = public_route or public_route6
        assert route is not None
        carrier = next((i for i in up if i.name == route.interface), None)
        who_carries = vpn_label(carrier) if carrier else who
        detail = f"{who_carries} is up and carries your internet traffic."
    return NetworkState(
        interfaces=tuple(interfaces),
        public_route=public_route,
        public_route6=public_route6,
        vpn_active=True,
        vpn_interfaces=names,
        tunnel=mode,
        detail=detail,
    )
