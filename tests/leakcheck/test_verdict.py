"""The verdict, rule by rule, against hand-written networks shaped like the lab."""

from __future__ import annotations

from vpnguard.core.leakcheck.candidates import parse_candidate
from vpnguard.core.leakcheck.stun import StunProbe
from vpnguard.core.leakcheck.verdict import AddressKind, PathFacts, Verdict, judge
from vpnguard.core.model import InterfaceKind, NetInterface, NetworkState, Route, TunnelMode

LAN = NetInterface("lc0", InterfaceKind.PHYSICAL, "test", ("192.168.77.2", "fe80::1"), True)
WG = NetInterface("wgc0", InterfaceKind.VPN, "test", ("10.66.0.2",), True, "wireguard")
LO = NetInterface("lo", InterfaceKind.LOOPBACK, "test", ("127.0.0.1", "::1"), True)


def net(vpn: bool = True) -> NetworkState:
    wg = WG if vpn else NetInterface("wgc0", InterfaceKind.VPN, "t", ("10.66.0.2",), False)
    return NetworkState(
        interfaces=(LO, LAN, wg),
        public_route=Route("192.0.2.1", "wgc0" if vpn else "lc0", None, None, vpn),
        public_route6=None,
        vpn_active=vpn,
        vpn_interfaces=("wgc0",) if vpn else (),
        tunnel=TunnelMode.FULL if vpn else TunnelMode.NONE,
    )


def paths(scenario: str) -> PathFacts:
    via_vpn = scenario == "full"
    route = Route(
        "198.51.100.1",
        "wgc0" if via_vpn else "lc0",
        "10.66.0.2" if via_vpn else "192.168.77.2",
        None,
        via_vpn,
    )
    default = "203.0.113.10" if via_vpn else "192.168.77.2"
    return PathFacts(
        "198.51.100.1:3478",
        route,
        (
            StunProbe("198.51.100.1:3478", None, route.source, default),
            StunProbe("198.51.100.1:3478", "lc0", "192.168.77.2", "198.18.0.7"),  # ISP NAT
        ),
    )


def c(addr: str, typ: str = "srflx", raddr: str = "0.0.0.0") -> str:
    extra = f" raddr {raddr} rport 0" if typ != "host" else ""
    return f"candidate:1 1 udp 100 {addr} 5000 typ {typ}{extra}"


def verdict(lines: list[str], scenario: str = "full", vpn: bool = True):  # type: ignore[no-untyped-def]
    return judge([parse_candidate(x) for x in lines], net(vpn), paths(scenario))


def test_full_tunnel_exit_and_mdns_pass() -> None:
    v, reason, f = verdict([c("203.0.113.10"), c("ab-cd.local", "host")])
    assert v is Verdict.PASS, reason
    assert [x.kind for x in f] == [AddressKind.VPN_EXIT, AddressKind.MDNS]


def test_split_tunnel_lan_srflx_leaks() -> None:
    v, reason, f = verdict([c("192.168.77.2"), c("x.local", "host")], "split")
    assert v is Verdict.LEAK and "192.168.77.2" in reason
    assert f[0].kind is AddressKind.LOCAL_ADDRESS and f[0].leak


def test_isp_public_address_leaks_even_when_route_says_vpn() -> None:
    v, _, f = verdict([c("198.18.0.7")])
    assert v is Verdict.LEAK and f[0].kind is AddressKind.ISP_PUBLIC


def test_any_srflx_leaks_when_route_bypasses_vpn() -> None:
    v, _reason, f = verdict([c("198.51.100.77")], "split")
    assert v is Verdict.LEAK and "bypasses" in f[0].why


def test_no_vpn_srflx_is_the_real_address() -> None:
    v, _, f = verdict([c("198.51.100.77")], "novpn", vpn=False)
    assert v is Verdict.LEAK and "no VPN" in f[0].why


def test_raw_host_addresses_leak_by_kind() -> None:
    cases = {
        "192.168.77.2": AddressKind.LOCAL_ADDRESS,
        "10.66.0.2": AddressKind.VPN_ADDRESS,
        "172.16.5.5": AddressKind.PRIVATE_V4,
        "fe80::99%lc0": AddressKind.IPV6_LINK_LOCAL,
        "fd00::5": AddressKind.IPV6_ULA,
        "2001:db8::5": AddressKind.IPV6_GLOBAL,
    }
    for addr, kind in cases.items():
        v, _, f = verdict([c(addr, "host")])
        assert v is Verdict.LEAK, addr
        assert f[0].kind is kind, addr


def test_temporary_ipv6_is_named() -> None:
    p = paths("full")
    p = PathFacts(p.stun_server, p.stun_route, p.probes, ("2001:db8::abcd",))
    v, _, f = judge([parse_candidate(c("2001:db8::abcd", "host"))], net(), p)
    assert v is Verdict.LEAK and f[0].kind is AddressKind.IPV6_TEMPORARY


def test_loopback_unspecified_and_relay_are_fine() -> None:
    v, _, _ = verdict([c("127.0.0.1", "host"), c("198.51.100.1", "relay")])
    assert v is Verdict.PASS


def test_raddr_revealing_lan_address_leaks() -> None:
    v, _, f = verdict([c("203.0.113.10", raddr="192.168.77.2")])
    assert v is Verdict.LEAK
    assert [x.field for x in f if x.leak] == ["raddr"]


def test_webrtc_disabled_is_a_result() -> None:
    v, _, f = judge([], net(), paths("full"), webrtc=False)
    assert v is Verdict.WEBRTC_DISABLED and f == ()


def test_no_public_path_is_never_pass() -> None:
    dead = PathFacts(
        "198.51.100.1:3478",
        None,
        (StunProbe("198.51.100.1:3478", None, None, None, "no answer before timeout"),),
    )
    for lines in ([], [c("x.local", "host")]):
        v, reason, _ = judge([parse_candidate(x) for x in lines], net(), dead)
        assert v is Verdict.INCONCLUSIVE, lines
        assert "could not observe a public path" in reason
    # ... but a leak found anyway is still reported as a leak
    v, _, _ = judge([parse_candidate(c("192.168.1.4", "host"))], net(), dead)
    assert v is Verdict.LEAK


def test_no_candidates_with_working_stun_is_pass() -> None:
    v, reason, _ = verdict([])
    assert v is Verdict.PASS and "no candidates" in reason


def test_relay_raddr_is_judged_as_the_mapped_address() -> None:
    """Seen: Chromium strict + TURN/TCP puts the address the TURN server saw in raddr."""
    relay = c("198.51.100.1", "relay", raddr="203.0.113.10")
    assert verdict([relay], "full")[0] is Verdict.PASS  # the VPN exit
    v, reason, f = verdict([c("198.51.100.1", "relay", raddr="192.168.77.2")], "split")
    assert v is Verdict.LEAK and "192.168.77.2 (relay)" in reason
    assert [(x.field, x.leak) for x in f] == [("address", False), ("raddr", True)]


def test_srflx_whose_raddr_is_the_exit_passes_in_a_full_tunnel() -> None:
    """Seen (lab matrix): Firefox balanced, camera-allowed page: "srflx <exit> raddr <exit>"."""
    line = c("203.0.113.10", raddr="203.0.113.10")
    v, _, f = verdict([line], "full")
    assert v is Verdict.PASS
    assert [(x.field, x.kind) for x in f] == [
        ("address", AddressKind.VPN_EXIT),
        ("raddr", AddressKind.VPN_EXIT),
    ]
    # the same line where the STUN route bypasses the VPN is still judged a leak
    assert verdict([c("192.168.77.2", raddr="192.168.77.2")], "split")[0] is Verdict.LEAK


def test_relay_whose_raddr_is_the_relay_itself_reveals_nothing() -> None:
    """Seen (lab matrix, no VPN): Firefox's relay candidates carry the relay as raddr."""
    v, _, f = verdict([c("198.51.100.1", "relay", raddr="198.51.100.1")], "novpn", vpn=False)
    assert v is Verdict.PASS and [x.field for x in f] == ["address"]
    v, _, _ = verdict([c("198.51.100.1", "relay", raddr="192.168.77.2")], "novpn", vpn=False)
    assert v is Verdict.LEAK
