"""What each candidate reveals, and the per-browser verdict (pure functions).

Inputs are plain data: the candidates a browser offered, the live
:class:`NetworkState`, and :class:`PathFacts` (what a STUN server saw through
each path, and whether the route to it uses the VPN). Nothing here touches
the OS, so every rule is unit-tested with hand-written networks.

Rules (docs/lab-notes.md and FACTS "What a leak is"):

* an mDNS ``.local`` name, ``0.0.0.0``/``::``, loopback and a TURN relay's
  own address reveal nothing;
* any *raw* host address (private IPv4, IPv6 of any scope, the VPN
  interface's own address) is a leak: a page learns a local address;
* a srflx/prflx address equal to a non-VPN interface's address, or to the
  ISP-side public address seen by a STUN probe pinned to a non-VPN
  interface, is a leak; so is any srflx while the route to the STUN server
  bypasses the VPN, or while no VPN is up at all (the page then sees your
  real public address: that is what vpnguard exists to stop);
* a srflx equal to the VPN exit is fine.

A ``pass`` needs evidence that a public path was observable: when the
browser got no server-reflexive or relay candidate *and* every STUN probe
failed, the verdict is ``inconclusive`` (never ``pass``), because a blocked
STUN server and a protected browser look the same from the page.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Sequence
from enum import StrEnum

from vpnguard.core.leakcheck.candidates import Candidate, parse_ip
from vpnguard.core.leakcheck.stun import StunProbe
from vpnguard.core.model import InterfaceKind, JsonMixin, NetworkState, Route
from vpnguard.core.model import Verdict as Verdict  # defined in the model: it crosses to the GUI

IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class AddressKind(StrEnum):
    MDNS = "mdns"
    HOSTNAME = "hostname"
    UNSPECIFIED = "unspecified"
    LOOPBACK = "loopback"
    RELAY = "relay"
    VPN_ADDRESS = "vpn_interface_address"
    LOCAL_ADDRESS = "non_vpn_interface_address"
    ISP_PUBLIC = "isp_public_address"
    VPN_EXIT = "vpn_exit_address"
    PRIVATE_V4 = "private_ipv4"
    IPV6_LINK_LOCAL = "ipv6_link_local"
    IPV6_ULA = "ipv6_ula"
    IPV6_GLOBAL = "ipv6_global"
    IPV6_TEMPORARY = "ipv6_temporary"
    PUBLIC = "public"


@dataclasses.dataclass(frozen=True)
class PathFacts(JsonMixin):
    """What the world sees through each path, measured just before the browsers ran."""

    stun_server: str | None  # "host:port" of the server probed
    stun_route: Route | None  # the kernel's route to that server
    probes: tuple[StunProbe, ...] = ()
    temporary_ipv6: tuple[str, ...] = ()  # addresses the kernel flags as temporary (RFC 8981)

    @property
    def isp_public(self) -> dict[str, str]:
        """mapped address -> interface, from probes pinned to a non-VPN interface."""
        return {p.mapped: p.interface for p in self.probes if p.mapped and p.interface}

    @property
    def default_mapped(self) -> tuple[str, ...]:
        return tuple(p.mapped for p in self.probes if p.mapped and p.interface is None)

    @property
    def any_public_path(self) -> bool:
        return any(p.mapped for p in self.probes)


@dataclasses.dataclass(frozen=True)
class Finding(JsonMixin):
    """One candidate (or its related address), what it is, and whether it leaks."""

    candidate: str  # the raw line
    type: str
    address: str
    field: str  # "address" | "raddr"
    kind: AddressKind
    leak: bool
    why: str


def _owner(ip: IPAddr, network: NetworkState) -> tuple[str, bool] | None:
    """(interface name, is_vpn) for the interface holding ``ip``."""
    for iface in network.interfaces:
        for a in iface.addresses:
            if parse_ip(a) == ip:
                return iface.name, iface.kind is InterfaceKind.VPN
    return None


def _bypasses_vpn(network: NetworkState, paths: PathFacts) -> bool:
    """True when a STUN request would leave outside the tunnel (or no VPN is up)."""
    if not network.vpn_active:
        return True
    if paths.stun_route is not None:
        return not paths.stun_route.via_vpn
    return network.tunnel.value != "full"


def classify_address(
    text: str,
    cand_type: str,
    network: NetworkState,
    paths: PathFacts,
    *,
    field: str = "address",
) -> tuple[AddressKind, bool, str]:
    """(kind, leak, why) for one address a candidate carries.

    ``raddr`` is judged as what it is (RFC 8839): for a relay candidate the
    mapped address the TURN server saw (server-reflexive), for srflx/prflx
    the local base address (host).
    """
    if field == "raddr":
        ip_ = parse_ip(text)
        if (
            cand_type in ("srflx", "prflx")
            and ip_ is not None
            and str(ip_) in paths.default_mapped
            and _owner(ip_, network) is None
            and not _bypasses_vpn(network, paths)
        ):
            # Seen: Firefox on a camera-allowed page gives "srflx <exit> raddr <exit>"
            # (its default-address base); that is the exit the VPN shows, not a host address.
            return AddressKind.VPN_EXIT, False, "the VPN's exit address: what the VPN shows"
        cand_type, field = ("srflx" if cand_type == "relay" else "host"), "address"
    if text.lower().rstrip(".").endswith(".local"):
        return AddressKind.MDNS, False, "mDNS name: hides the real address"
    ip = parse_ip(text)
    if ip is None:
        return AddressKind.HOSTNAME, False, "a host name, not an address"
    if ip.is_unspecified:
        return AddressKind.UNSPECIFIED, False, "unspecified address: reveals nothing"
    if ip.is_loopback:
        return AddressKind.LOOPBACK, False, "loopback: reveals nothing"
    if cand_type == "relay" and field == "address":
        return AddressKind.RELAY, False, "the TURN relay's address, not yours"
    reflexive = cand_type in ("srflx", "prflx") and field == "address"
    isp = paths.isp_public
    owner = _owner(ip, network)
    if str(ip) in isp and not (owner and owner[1]):
        return (
            AddressKind.ISP_PUBLIC,
            True,
            f"your ISP-side public address (seen by STUN through {isp[str(ip)]}, outside the VPN)",
        )
    if owner is not None:
        name, is_vpn = owner
        if is_vpn:
            if reflexive:
                return AddressKind.VPN_ADDRESS, False, f"the VPN interface {name}'s address"
            return (
                AddressKind.VPN_ADDRESS,
                True,
                f"raw address of the VPN interface {name}: reveals the tunnel's inner address",
            )
        how = "a STUN request left outside the VPN" if reflexive else "raw local address"
        return AddressKind.LOCAL_ADDRESS, True, f"address of non-VPN interface {name}: {how}"
    if reflexive and str(ip) in paths.default_mapped and not _bypasses_vpn(network, paths):
        return AddressKind.VPN_EXIT, False, "the VPN's exit address: what the VPN shows"
    if reflexive and _bypasses_vpn(network, paths):
        why = (
            "no VPN is up: this is your real public address"
            if not network.vpn_active
            else "the route to the STUN server bypasses the VPN (split tunnel)"
        )
        return AddressKind.PUBLIC, True, why
    if ip.version == 6:
        if ip.is_link_local:
            return AddressKind.IPV6_LINK_LOCAL, True, "raw IPv6 link-local address"
        if ip in ipaddress.ip_network("fc00::/7"):
            return AddressKind.IPV6_ULA, True, "raw IPv6 unique-local address"
        if str(ip) in paths.temporary_ipv6:
            return AddressKind.IPV6_TEMPORARY, True, "raw IPv6 temporary (privacy) address"
        if reflexive:
            return AddressKind.PUBLIC, False, "a public IPv6 address not on any local interface"
        return AddressKind.IPV6_GLOBAL, True, "raw global IPv6 address"
    if ip.is_private or ip in _CGNAT:
        if reflexive:
            return AddressKind.PRIVATE_V4, False, "a private address behind the VPN's NAT"
        return AddressKind.PRIVATE_V4, True, "raw private IPv4 address"
    if reflexive:
        return AddressKind.PUBLIC, False, "public address reached through the VPN"
    return AddressKind.PUBLIC, True, "raw public address of this machine"


def findings_for(
    candidates: Iterable[Candidate], network: NetworkState, paths: PathFacts
) -> tuple[Finding, ...]:
    out: list[Finding] = []
    for c in candidates:
        kind, leak, why = classify_address(c.address, c.type, network, paths)
        out.append(Finding(c.raw, c.type, c.address, "address", kind, leak, why))
        if c.raddr is not None and not (c.type == "relay" and c.raddr == c.address):
            # Seen: Firefox gives "<relay> typ relay raddr <relay>": the server's own address
            kind, leak, why = classify_address(c.raddr, c.type, network, paths, field="raddr")
            if kind is not AddressKind.UNSPECIFIED:
                out.append(Finding(c.raw, c.type, c.raddr, "raddr", kind, leak, why))
    return tuple(out)


def judge(
    candidates: Sequence[Candidate],
    network: NetworkState,
    paths: PathFacts,
    *,
    webrtc: bool = True,
) -> tuple[Verdict, str, tuple[Finding, ...]]:
    """(verdict, reason, findings) for one browser's gathered candidates."""
    if not webrtc:
        return Verdict.WEBRTC_DISABLED, "RTCPeerConnection is not available in this browser", ()
    findings = findings_for(candidates, network, paths)
    leaks = [f for f in findings if f.leak]
    if leaks:
        shown = ", ".join(dict.fromkeys(f"{f.address} ({f.type})" for f in leaks))
        return Verdict.LEAK, f"leaks {shown}", findings
    public = any(c.type in ("srflx", "prflx", "relay") for c in candidates)
    if not public and not paths.any_public_path:
        return (
            Verdict.INCONCLUSIVE,
            "no STUN server answered from any path and the browser got no server-reflexive "
            "candidate: the check could not observe a public path",
            findings,
        )
    if not candidates:
        return Verdict.PASS, "no candidates at all (WebRTC is held to proxies/relays)", findings
    return Verdict.PASS, "no leak", findings
