"""Classification from facts alone: no network, no root."""

from __future__ import annotations

import pytest

from vpnguard.core.model import OS, InterfaceKind
from vpnguard.core.network.classify import (
    ARPHRD_ETHER,
    ARPHRD_LOOPBACK,
    ARPHRD_NONE,
    ARPHRD_PPP,
    InterfaceFacts,
    classify,
    has_routable_address,
)

TUN = 0x1001  # IFF_TUN | IFF_NO_PI
TAP = 0x1002


def linux(name: str, **kw: object) -> InterfaceFacts:
    return InterfaceFacts(name=name, os=OS.LINUX, is_up=True, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "vpn_type", "reason_part"),
    [
        (linux("wg0", arphrd=ARPHRD_NONE, devtype="wireguard"), "wireguard", "DEVTYPE=wireguard"),
        (
            linux("wg0-mullvad", arphrd=ARPHRD_NONE, devtype="wireguard"),
            "mullvad",
            "DEVTYPE=wireguard in /sys/class/net/wg0-mullvad/uevent",
        ),
        (linux("nordlynx", arphrd=ARPHRD_NONE, devtype="wireguard"), "nordlynx", "DEVTYPE"),
        (linux("proton0", arphrd=ARPHRD_NONE, devtype="wireguard"), "proton", "DEVTYPE"),
        (
            linux("CloudflareWARP", arphrd=ARPHRD_NONE, tun_flags=TUN),
            "cloudflare-warp",
            "Cloudflare WARP",
        ),
        (linux("tailscale0", arphrd=ARPHRD_NONE, tun_flags=TUN), "tailscale", "Tailscale"),
        (linux("ztabcdef12", arphrd=ARPHRD_ETHER, tun_flags=TAP), "zerotier", "ZeroTier"),
        (linux("tun0", arphrd=ARPHRD_NONE, tun_flags=TUN), "openvpn", "tun_flags exists"),
        (linux("tap0", arphrd=ARPHRD_ETHER, tun_flags=TAP), "openvpn", "tap device"),
        (linux("ipsec0", arphrd=768), "ipsec", "IPsec"),
        (linux("xfrm0", arphrd=ARPHRD_NONE), "ipsec", "IPsec"),
        (linux("vti1", arphrd=768), "ipsec", "IPsec"),
        (linux("ppp0", arphrd=ARPHRD_PPP), "ppp", "ARPHRD_PPP"),
        (linux("cscotun0", arphrd=ARPHRD_NONE, tun_flags=TUN), "cisco-anyconnect", "AnyConnect"),
        (linux("gpd0", arphrd=ARPHRD_NONE, tun_flags=TUN), "globalprotect", "GlobalProtect"),
        # A tun with a name nobody uses is still a tunnel some program holds.
        (linux("mytunnel", arphrd=ARPHRD_NONE, tun_flags=TUN), "tun", "a program tunnels"),
        # Userspace WireGuard under a custom name: the control socket tells.
        (
            linux("office", arphrd=ARPHRD_NONE, tun_flags=0x1, wg_socket=True),
            "wireguard",
            "/var/run/wireguard/office.sock",
        ),
    ],
)
def test_linux_vpns(facts: InterfaceFacts, vpn_type: str, reason_part: str) -> None:
    c = classify(facts)
    assert c.kind is InterfaceKind.VPN
    assert c.vpn_type == vpn_type
    assert reason_part in c.reason


def test_wireguard_socket_alone_is_not_enough() -> None:
    # /var/run/wireguard is shared by all namespaces: a same-named socket
    # must not turn an ordinary NIC into a VPN.
    c = classify(linux("eth0", arphrd=ARPHRD_ETHER, has_device=True, wg_socket=True))
    assert c.kind is InterfaceKind.PHYSICAL


@pytest.mark.parametrize(
    ("facts", "reason_part"),
    [
        (linux("docker0", arphrd=ARPHRD_ETHER, devtype="bridge"), "DEVTYPE=bridge"),
        (linux("virbr0", arphrd=ARPHRD_ETHER, devtype="bridge"), "DEVTYPE=bridge"),
        (linux("br-0123abcd", arphrd=ARPHRD_ETHER), "plumbing"),
        (linux("veth1a2b3c", arphrd=ARPHRD_ETHER, driver="veth"), "driver 'veth'"),
        # The veth's name says nothing; the driver does.
        (
            linux("lan0", arphrd=ARPHRD_ETHER, driver="veth", addresses=("192.168.77.2",)),
            "driver 'veth'",
        ),
        (linux("eth0.5", arphrd=ARPHRD_ETHER, devtype="vlan"), "DEVTYPE=vlan"),
        (linux("virbr0-nic", arphrd=ARPHRD_ETHER, tun_flags=TAP), "virtualisation plumbing"),
        (linux("vnet3", arphrd=ARPHRD_ETHER, tun_flags=TAP), "virtualisation plumbing"),
        (linux("sit0", arphrd=776), "plumbing"),
        (linux("dummy0", arphrd=ARPHRD_ETHER, driver="dummy"), "driver 'dummy'"),
    ],
)
def test_linux_virtual(facts: InterfaceFacts, reason_part: str) -> None:
    c = classify(facts)
    assert c.kind is InterfaceKind.VIRTUAL, c
    assert c.vpn_type is None
    assert reason_part in c.reason


def test_veth_carrying_the_public_route_is_the_uplink_never_a_vpn() -> None:
    f = linux(
        "eth0",
        arphrd=ARPHRD_ETHER,
        driver="veth",
        addresses=("172.17.0.2",),
        carries_public_route=True,
    )
    c = classify(f)
    assert c.kind is InterfaceKind.PHYSICAL
    assert "uplink" in c.reason and "veth" in c.reason


def test_linux_physical_and_loopback() -> None:
    eth = classify(linux("enp3s0", arphrd=ARPHRD_ETHER, has_device=True, driver="e1000e"))
    assert eth.kind is InterfaceKind.PHYSICAL
    assert "/sys/class/net/enp3s0/device exists" in eth.reason
    wlan = classify(linux("wlp2s0", arphrd=ARPHRD_ETHER, devtype="wlan", has_device=True))
    assert wlan.kind is InterfaceKind.PHYSICAL
    lo = classify(linux("lo", arphrd=ARPHRD_LOOPBACK, flags="up,loopback,running"))
    assert lo.kind is InterfaceKind.LOOPBACK
    assert "ARPHRD_LOOPBACK" in lo.reason


@pytest.mark.parametrize(
    ("description", "vpn_type"),
    [
        ("TAP-Windows Adapter V9", "openvpn"),
        ("TAP-Windows Adapter V9 for OpenVPN Connect", "openvpn"),
        ("Wintun Userspace Tunnel", "wintun"),
        ("WireGuard Tunnel", "wireguard"),
        ("Tailscale Tunnel", "tailscale"),
        ("OpenVPN Data Channel Offload", "openvpn"),
        (
            "Cisco AnyConnect Secure Mobility Client Virtual Miniport Adapter for Windows x64",
            "cisco-anyconnect",
        ),
        ("Fortinet SSL VPN Virtual Ethernet Adapter", "fortinet"),
        ("PANGP Virtual Ethernet Adapter Secure", "globalprotect"),
        ("Juniper Networks Virtual Adapter", "juniper"),
        ("NordLynx Tunnel", "nordlynx"),
        ("Mullvad Tunnel", "mullvad"),
        ("ProtonVPN TUN", "proton"),
        ("Cloudflare WARP Interface Tunnel", "cloudflare-warp"),
        ("ZeroTier Virtual Port", "zerotier"),
    ],
)
def test_windows_descriptions(description: str, vpn_type: str) -> None:
    f = InterfaceFacts(name="Local Area Connection 2", os=OS.WINDOWS, description=description)
    c = classify(f)
    assert c.kind is InterfaceKind.VPN
    assert c.vpn_type == vpn_type
    assert description in c.reason


@pytest.mark.parametrize(
    ("description", "kind"),
    [
        ("Intel(R) Ethernet Connection (7) I219-V", InterfaceKind.PHYSICAL),
        ("Realtek PCIe GbE Family Controller", InterfaceKind.PHYSICAL),
        ("Hyper-V Virtual Ethernet Adapter", InterfaceKind.VIRTUAL),
        ("VirtualBox Host-Only Ethernet Adapter", InterfaceKind.VIRTUAL),
        ("Microsoft Wi-Fi Direct Virtual Adapter #2", InterfaceKind.VIRTUAL),
        ("Software Loopback Interface 1", InterfaceKind.LOOPBACK),
        ("WAN Miniport (IKEv2)", InterfaceKind.VIRTUAL),  # idle, no address
    ],
)
def test_windows_non_vpn(description: str, kind: InterfaceKind) -> None:
    c = classify(InterfaceFacts(name="x", os=OS.WINDOWS, description=description))
    assert c.kind is kind, c


def test_windows_builtin_vpn_counts_once_it_has_an_address() -> None:
    f = InterfaceFacts(
        name="Work VPN",
        os=OS.WINDOWS,
        description="WAN Miniport (IKEv2)",
        addresses=("10.20.30.40",),
    )
    c = classify(f)
    assert (c.kind, c.vpn_type) == (InterfaceKind.VPN, "ipsec")


def test_windows_without_description_falls_back_to_names() -> None:
    c = classify(InterfaceFacts(name="wg0", os=OS.WINDOWS))
    assert c.kind is InterfaceKind.VPN
    assert "no adapter description" in c.reason
    c = classify(InterfaceFacts(name="Ethernet", os=OS.WINDOWS))
    assert c.kind is InterfaceKind.PHYSICAL


def test_macos_utun_needs_a_real_address() -> None:
    idle = InterfaceFacts(
        name="utun2",
        os=OS.MACOS,
        flags="up,pointopoint,running,multicast",
        addresses=("fe80::ce81:b1c:bd2c:69e%utun2",),
        is_up=True,
    )
    assert classify(idle).kind is InterfaceKind.VIRTUAL
    active = InterfaceFacts(
        name="utun4",
        os=OS.MACOS,
        flags="up,pointopoint,running,multicast",
        addresses=("10.66.0.2", "fe80::1%utun4"),
        is_up=True,
    )
    c = classify(active)
    assert (c.kind, c.vpn_type) == (InterfaceKind.VPN, "utun")
    assert "non-link-local" in c.reason


def test_macos_other_names() -> None:
    assert classify(InterfaceFacts(name="en0", os=OS.MACOS)).kind is InterfaceKind.PHYSICAL
    assert classify(InterfaceFacts(name="lo0", os=OS.MACOS)).kind is InterfaceKind.LOOPBACK
    assert classify(InterfaceFacts(name="bridge0", os=OS.MACOS)).kind is InterfaceKind.VIRTUAL
    assert classify(InterfaceFacts(name="awdl0", os=OS.MACOS)).kind is InterfaceKind.VIRTUAL
    ppp = classify(InterfaceFacts(name="ppp0", os=OS.MACOS, addresses=("10.0.0.5",)))
    assert (ppp.kind, ppp.vpn_type) == (InterfaceKind.VPN, "ppp")
    ipsec_idle = classify(InterfaceFacts(name="ipsec0", os=OS.MACOS))
    assert ipsec_idle.kind is InterfaceKind.VIRTUAL


def test_has_routable_address() -> None:
    assert not has_routable_address(())
    assert not has_routable_address(("fe80::1%utun0",))
    assert has_routable_address(("fe80::1%utun0", "fd7a:115c:a1e0::1"))
    assert has_routable_address(("100.64.0.7",))
    assert not has_routable_address(("not-an-ip",))


def test_every_reason_is_nonempty_for_many_names() -> None:
    for name in ["eth0", "wlan0", "lo", "tun9", "wg7", "weird", "vethX", "docker0"]:
        for os_ in OS:
            c = classify(InterfaceFacts(name=name, os=os_))
            assert c.reason, (name, os_)


def _literal_heads(items: list[tuple[object, object]]) -> set[str]:
    """Every literal text a parsed regex sequence must start with (one per branch)."""
    from re._constants import BRANCH, LITERAL, SUBPATTERN

    heads = {""}
    for op, av in items:
        if op is LITERAL:
            heads = {h + chr(av) for h in heads}  # type: ignore[call-overload]
        elif op is SUBPATTERN:
            heads = {h + t for h in heads for t in _literal_heads(list(av[-1]))}  # type: ignore[index]
        elif op is BRANCH:
            tails = set().union(*(_literal_heads(list(b)) for b in av[1]))  # type: ignore[index]
            heads = {h + t for h in heads for t in tails}
        else:
            break
    return heads


def test_each_name_rule_needs_one_of_its_prefixes() -> None:
    """A name without the rule's prefixes cannot match it: classify skips (never compiles) it."""
    from re import _parser
    from re._constants import AT, AT_BEGINNING, BRANCH

    from vpnguard.core.network.classify import _VPN_NAMES

    for prefixes, pattern, _vpn_type, _why in _VPN_NAMES:
        parsed = list(_parser.parse(pattern))
        branches = (
            [list(b) for b in parsed[0][1][1]]
            if len(parsed) == 1 and parsed[0][0] is BRANCH
            else [parsed]
        )
        for branch in branches:
            assert branch[0] == (AT, AT_BEGINNING), pattern  # anchored: a match starts at 0
            for head in _literal_heads(branch[1:]):
                assert head.startswith(prefixes), (pattern, head, prefixes)
    # and the rules still name what they named
    for name, vpn_type in [
        ("wg0-mullvad", "mullvad"),
        ("pvpnksintrf0", "proton"),
        ("proton0", "proton"),
        ("xfrm1", "ipsec"),
        ("vpn-1", "openconnect"),
        ("zt5u4y6kqp", "zerotier"),
        ("wgoffice", "wireguard"),
    ]:
        c = classify(linux(name))
        assert c.vpn_type == vpn_type, (name, c)
    assert classify(linux("eth0")).vpn_type is None
