"""``auto``: the least restrictive level the lab matrix shows leak-free for the tunnel now.

Pure: network state in, a concrete :class:`Level` and the reason out. What
each level does in each scenario is measured in docs/matrix.md
(tests/lab/test_matrix.py asserts every cell this module relies on):

* ``balanced`` leaks in a split tunnel, when IPv6 goes around an IPv4-only
  tunnel, and without a VPN; it holds (both views, direct calls) only in a
  full tunnel. So auto picks it only for a *verified* full tunnel: a VPN
  carries the IPv4 and IPv6 public routes, and no other route sends any
  destination through a gateway outside the VPN.
* everywhere else, and whenever the state is unknown, the recommended level
  (``relay``), which leaks in no scenario and keeps calls through TURN.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from vpnguard.core.model import AutoChoice, Level, NetworkState, TunnelMode
from vpnguard.core.policy.levels import RECOMMENDED

FULL_TUNNEL_LEVEL = Level.BALANCED


def bypass_routes(
    routes: Iterable[Mapping[str, Any]], vpn_interfaces: Sequence[str]
) -> tuple[str, ...]:
    """Destinations the kernel sends through a gateway outside the VPN (``ip -j route`` rows).

    Default routes are not counted (the public-route lookup already says
    whether the default bypasses the VPN), nor on-link subnets, nor routes
    into a VPN interface. What is left -- ``198.51.100.1 via 192.168.77.1``,
    an excluded subnet, an OpenVPN server's /32 -- is a destination a page's
    STUN server could sit at and be reached outside the tunnel. The server
    route of a VPN looks the same, so it counts too: auto then keeps the
    recommended level (the safe side).
    """
    out: list[str] = []
    vpns = set(vpn_interfaces)
    for r in routes:
        dst = str(r.get("dst") or "")
        if not dst or dst == "default" or not r.get("gateway"):
            continue
        if r.get("type", "unicast") != "unicast" or r.get("dev") in vpns:
            continue
        try:
            net = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
        if net.prefixlen == 0 or net.is_link_local or net.is_multicast or net.is_loopback:
            continue
        out.append(f"{dst} via {r.get('gateway')} dev {r.get('dev')}")
    return tuple(dict.fromkeys(out))


def choose(network: NetworkState | None, bypass: Sequence[str] | None) -> AutoChoice:
    """The concrete level for the network as it is now.

    ``bypass`` lists routes around the VPN (:func:`bypass_routes`); ``None``
    means they could not be listed, which never counts as a verified full
    tunnel.
    """
    rec = RECOMMENDED.value
    if network is None:
        return AutoChoice(RECOMMENDED, f"network state unknown: {rec}, which holds everywhere")
    if network.tunnel is TunnelMode.NONE:
        return AutoChoice(
            RECOMMENDED, f"no VPN is up: {rec} hides your address and keeps calls via TURN"
        )
    if network.tunnel is TunnelMode.SPLIT:
        return AutoChoice(RECOMMENDED, f"{network.detail} {rec} holds in a split tunnel.".strip())
    if bypass is None:
        return AutoChoice(
            RECOMMENDED,
            f"a VPN carries the default route, but the routes around it cannot be listed "
            f"on this system, so the full tunnel is not verified: {rec}",
        )
    if bypass:
        shown = ", ".join(bypass[:3]) + (" …" if len(bypass) > 3 else "")
        return AutoChoice(
            RECOMMENDED,
            f"split routes bypass the VPN ({shown}): a page's STUN server there would see "
            f"your ISP-side address under balanced; {rec} holds",
        )
    return AutoChoice(
        FULL_TUNNEL_LEVEL,
        "verified full tunnel (the VPN carries every public route, IPv4 and IPv6): "
        f"{FULL_TUNNEL_LEVEL.value} shows only the VPN's exit address and keeps direct calls",
    )
