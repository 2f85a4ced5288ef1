"""Parsers, the tunnel decision and sysfs reading on a fake tree: no root needed."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

import pytest

from vpnguard.core.host import Host
from vpnguard.core.model import OS, InterfaceKind, NetInterface, Route, TunnelMode
from vpnguard.core.network import routes
from vpnguard.core.network.classify import InterfaceFacts, classify
from vpnguard.core.network.detect import classify_all, gather_facts, linux_sysfs_facts
from vpnguard.core.network.tunnel import decide, vpns_up
from vpnguard.core.network.windows import parse_get_netadapter_json

# --- ip -j route get --------------------------------------------------------------


def test_parse_ip_route_get_gateway() -> None:
    text = (
        '[{"dst":"1.1.1.1","gateway":"192.168.77.1","dev":"veth-c","prefsrc":"192.168.77.2",'
        '"flags":[],"uid":0,"cache":[]}]\n'
    )
    assert routes.parse_ip_route_get(text) == {
        "dev": "veth-c",
        "prefsrc": "192.168.77.2",
        "gateway": "192.168.77.1",
        "table": None,
    }


def test_parse_ip_route_get_policy_table_and_no_gateway() -> None:
    text = (
        '[{"dst":"1.1.1.1","dev":"wg0","table":"51820","prefsrc":"10.66.0.2",'
        '"flags":[],"uid":0,"cache":[]}]'
    )
    r = routes.parse_ip_route_get(text)
    assert r is not None
    assert (r["dev"], r["gateway"], r["table"]) == ("wg0", None, "51820")


def test_parse_ip_route_get_unreachable_and_empty() -> None:
    assert routes.parse_ip_route_get("") is None
    assert routes.parse_ip_route_get("[]") is None
    assert routes.parse_ip_route_get('[{"type":"unreachable","dst":"1.1.1.1"}]') is None


# --- netlink ----------------------------------------------------------------------


def _attr(kind: int, payload: bytes) -> bytes:
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * ((-n) % 4)


def test_netlink_request_shape() -> None:
    req = routes.build_getroute_request("1.1.1.1", seq=7)
    length, msg_type, flags, seq, _pid = struct.unpack_from("=IHHII", req)
    assert length == len(req) and msg_type == 26 and flags == 1 and seq == 7
    family, dst_len = req[16], req[17]
    assert (family, dst_len) == (socket.AF_INET, 32)
    assert req[-4:] == bytes([1, 1, 1, 1])
    req6 = routes.build_getroute_request("2606:4700:4700::1111")
    assert req6[16] == socket.AF_INET6 and req6[17] == 128


def test_netlink_reply_parsing() -> None:
    attrs = (
        _attr(15, struct.pack("=I", 51820))
        + _attr(1, bytes([1, 1, 1, 1]))
        + _attr(4, struct.pack("=I", 5))
        + _attr(7, bytes([10, 66, 0, 2]))
        + _attr(5, bytes([10, 66, 0, 1]))
    )
    body = struct.pack("=BBBBBBBBI", socket.AF_INET, 32, 0, 0, 254, 0, 0, 1, 0) + attrs
    msg = struct.pack("=IHHII", 16 + len(body), 24, 0, 1, 0) + body
    assert routes.parse_getroute_reply(msg) == {
        "oif": 5,
        "prefsrc": "10.66.0.2",
        "gateway": "10.66.0.1",
        "table": 51820,
    }


def test_netlink_error_reply_is_no_route() -> None:
    err = struct.pack("=IHHII", 36, 2, 0, 1, 0) + struct.pack("=i", -101) + b"\0" * 16
    assert routes.parse_getroute_reply(err) is None
    with pytest.raises(ValueError):
        routes.parse_getroute_reply(b"\0" * 4)


def test_live_netlink_agrees_with_ip_command_on_loopback() -> None:
    if not hasattr(socket, "AF_NETLINK"):
        pytest.skip("Linux only")
    nl = routes.netlink_route_get("127.0.0.1")
    assert nl is not None and nl["dev"] == "lo"
    ip = routes.ip_route_get("127.0.0.1")
    if ip is not None:
        assert ip["dev"] == nl["dev"] and ip["prefsrc"] == nl["prefsrc"]


# --- mapping and the decision -----------------------------------------------------


def iface(
    name: str,
    kind: InterfaceKind,
    addrs: tuple[str, ...],
    up: bool = True,
    vpn_type: str | None = None,
) -> NetInterface:
    return NetInterface(
        name=name, kind=kind, reason="test", addresses=addrs, is_up=up, vpn_type=vpn_type
    )


LAN = iface("eth0", InterfaceKind.PHYSICAL, ("192.168.77.2", "2001:db8::2", "fe80::1%eth0"))
WG = iface("wg0", InterfaceKind.VPN, ("10.66.0.2",), vpn_type="wireguard")
TUN_DOWN = iface("tun0", InterfaceKind.VPN, ("10.8.0.2",), up=False, vpn_type="openvpn")


def test_make_route_prefers_kernel_dev_over_source_lookup() -> None:
    # A tun without its own address borrows eth0's source: dev must still say tun.
    r = routes.make_route("1.1.1.1", "192.168.77.2", {"dev": "wg0", "gateway": None}, [LAN, WG])
    assert r is not None and r.interface == "wg0" and r.via_vpn
    r = routes.make_route("1.1.1.1", "10.66.0.2", None, [LAN, WG])
    assert r is not None and r.interface == "wg0" and r.via_vpn
    r = routes.make_route("2606:4700:4700::1111", "2001:db8::2", None, [LAN, WG])
    assert r is not None and r.interface == "eth0" and not r.via_vpn
    assert routes.make_route("1.1.1.1", None, None, [LAN]) is None


def route(dest: str, name: str | None, via_vpn: bool) -> Route:
    return Route(destination=dest, interface=name, source="x", via_vpn=via_vpn)


def test_decide_none() -> None:
    s = decide([LAN], route("1.1.1.1", "eth0", False), None)
    assert (s.tunnel, s.vpn_active, s.vpn_interfaces) == (TunnelMode.NONE, False, ())
    assert s.detail == "No VPN is up."


def test_decide_full() -> None:
    s = decide([LAN, WG], route("1.1.1.1", "wg0", True), None)
    assert (s.tunnel, s.vpn_active, s.vpn_interfaces) == (TunnelMode.FULL, True, ("wg0",))
    assert s.detail == "WireGuard wg0 is up and carries your internet traffic."


def test_decide_split() -> None:
    s = decide([LAN, WG], route("1.1.1.1", "eth0", False), None)
    assert s.tunnel is TunnelMode.SPLIT
    assert "bypasses it (split tunnel)" in s.detail and "eth0" in s.detail


def test_decide_ipv6_around_an_ipv4_tunnel_is_split() -> None:
    s = decide([LAN, WG], route("1.1.1.1", "wg0", True), route("2606::1", "eth0", False))
    assert s.tunnel is TunnelMode.SPLIT
    assert "IPv6" in s.detail


def test_decide_tun_without_process_is_not_an_active_vpn() -> None:
    s = decide([LAN, TUN_DOWN], route("1.1.1.1", "tun0", True), None)
    assert (s.tunnel, s.vpn_active) == (TunnelMode.NONE, False)
    assert "tun0 exists but is down" in s.detail and "goes nowhere" in s.detail


def test_decide_vpn_up_without_any_public_route() -> None:
    s = decide([LAN, WG], None, None)
    assert s.tunnel is TunnelMode.FULL and s.vpn_active
    assert "no route to the internet" in s.detail


# --- Windows Get-NetAdapter -------------------------------------------------------

# Real `ConvertTo-Json -Compress` output is a single line (with a BOM from PowerShell 5).
GET_NETADAPTER = (
    "\ufeff"
    '[{"Name":"Ethernet","InterfaceDescription":"Intel(R) Ethernet Connection (7) I219-V",'
    '"Status":"Up","ifIndex":12,"MediaType":"802.3"},'
    '{"Name":"wg-office","InterfaceDescription":"WireGuard Tunnel","Status":"Up",'
    '"ifIndex":31,"MediaType":"IP"},'
    '{"Name":"Local Area Connection","InterfaceDescription":"TAP-Windows Adapter V9",'
    '"Status":"Disconnected","ifIndex":18,"MediaType":"802.3"},'
    '{"Name":"OpenVPN Wintun","InterfaceDescription":"Wintun Userspace Tunnel","Status":2,'
    '"ifIndex":19,"MediaType":null}]\r\n'
)


def test_parse_get_netadapter_list() -> None:
    out = parse_get_netadapter_json(GET_NETADAPTER)
    assert set(out) == {"Ethernet", "wg-office", "Local Area Connection", "OpenVPN Wintun"}
    assert out["wg-office"].description == "WireGuard Tunnel"
    assert out["Local Area Connection"].status == "Disconnected"
    assert out["OpenVPN Wintun"].status == "Down"
    assert out["Ethernet"].if_index == 12


def test_parse_get_netadapter_single_object_and_empty() -> None:
    one = (
        '{"Name":"Wi-Fi","InterfaceDescription":"Intel(R) Wi-Fi 6 AX201 160MHz",'
        '"Status":"Up","ifIndex":7}'
    )
    assert list(parse_get_netadapter_json(one)) == ["Wi-Fi"]
    assert parse_get_netadapter_json("") == {}


def test_windows_facts_use_descriptions(tmp_path: Path) -> None:
    host = Host(
        root=tmp_path, os=OS.WINDOWS, path_dirs=(), home="C:\\Users\\u", arch="x86_64", environ={}
    )
    adapters = parse_get_netadapter_json(GET_NETADAPTER)
    addrs = {"Ethernet": ("192.168.1.20",), "wg-office": ("10.0.0.2",)}
    stats = {"Ethernet": (True, ""), "wg-office": (True, "")}
    ifaces = {i.name: i for i in classify_all(gather_facts(host, addrs, stats, windows=adapters))}
    assert ifaces["wg-office"].kind is InterfaceKind.VPN
    assert ifaces["wg-office"].vpn_type == "wireguard"
    assert ifaces["Ethernet"].kind is InterfaceKind.PHYSICAL


# --- a fake /sys/class/net --------------------------------------------------------


def _net(
    root: Path,
    name: str,
    *,
    type_: int,
    uevent: str = "",
    tun_flags: str | None = None,
    device: bool = False,
) -> None:
    d = root / "sys/class/net" / name
    d.mkdir(parents=True)
    (d / "type").write_text(f"{type_}\n")
    (d / "uevent").write_text(f"{uevent}INTERFACE={name}\nIFINDEX=3\n")
    if tun_flags is not None:
        (d / "tun_flags").write_text(tun_flags + "\n")
    if device:
        (d / "device").mkdir()


@pytest.fixture
def fake_host(tmp_path: Path) -> Host:
    _net(tmp_path, "lo", type_=772)
    _net(tmp_path, "enp3s0", type_=1, device=True)
    _net(tmp_path, "wg0", type_=65534, uevent="DEVTYPE=wireguard\n")
    _net(tmp_path, "tun0", type_=65534, tun_flags="0x1001")
    _net(tmp_path, "office", type_=65534, tun_flags="0x1")
    _net(tmp_path, "docker0", type_=1, uevent="DEVTYPE=bridge\n")
    _net(tmp_path, "tap5", type_=1, tun_flags="0x1002")
    sock_dir = tmp_path / "var/run/wireguard"
    sock_dir.mkdir(parents=True)
    (sock_dir / "office.sock").write_text("")
    return Host(root=tmp_path, os=OS.LINUX, path_dirs=(), home="/root", arch="x86_64", environ={})


def test_sysfs_facts_read_from_fake_tree(fake_host: Host) -> None:
    facts = linux_sysfs_facts(fake_host, "tun0")
    assert facts == {
        "arphrd": 65534,
        "devtype": None,
        "tun_flags": 0x1001,
        "has_device": False,
        "driver": None,
        "wg_socket": False,
    }
    assert linux_sysfs_facts(fake_host, "wg0")["devtype"] == "wireguard"
    assert linux_sysfs_facts(fake_host, "enp3s0")["has_device"] is True
    assert linux_sysfs_facts(fake_host, "missing") == {
        "arphrd": None,
        "devtype": None,
        "tun_flags": None,
        "has_device": False,
        "driver": None,
        "wg_socket": False,
    }


def test_classify_fake_tree(fake_host: Host) -> None:
    names = ["lo", "enp3s0", "wg0", "tun0", "office", "docker0", "tap5"]
    addrs = {n: () for n in names} | {"wg0": ("10.66.0.2",), "enp3s0": ("192.168.1.5",)}
    stats = {n: (True, "") for n in names}
    got = {i.name: i for i in classify_all(gather_facts(fake_host, addrs, stats))}
    assert got["lo"].kind is InterfaceKind.LOOPBACK
    assert got["enp3s0"].kind is InterfaceKind.PHYSICAL
    assert (got["wg0"].kind, got["wg0"].vpn_type) == (InterfaceKind.VPN, "wireguard")
    assert got["wg0"].reason == "DEVTYPE=wireguard in /sys/class/net/wg0/uevent"
    assert (got["tun0"].kind, got["tun0"].vpn_type) == (InterfaceKind.VPN, "openvpn")
    assert (got["office"].kind, got["office"].vpn_type) == (InterfaceKind.VPN, "wireguard")
    assert "office.sock" in got["office"].reason
    assert got["docker0"].kind is InterfaceKind.VIRTUAL
    assert (got["tap5"].kind, got["tap5"].vpn_type) == (InterfaceKind.VPN, "openvpn")
    assert "tap device" in got["tap5"].reason


def test_detect_network_on_fake_root_asks_no_routes(fake_host: Host) -> None:
    from vpnguard.core.network import detect_network

    s = detect_network(fake_host)
    assert s.public_route is None and s.public_route6 is None
    assert os.path.isdir(fake_host.root)


# --- one "VPN is up" rule, for status and watch ------------------------------------


def _iface(name: str, kind: InterfaceKind, up: bool) -> NetInterface:
    return NetInterface(name, kind, "test", (), up)


def test_an_idle_named_tun_is_not_a_vpn_that_is_up() -> None:
    # What sysfs + psutil give for `ip tuntap add tun0; ip link set tun0 up` with no
    # program attached: tun_flags present, IFF_UP, but no carrier, so psutil's isup is False.
    c = classify(InterfaceFacts("tun0", arphrd=65534, tun_flags=0x1001, flags="up,pointopoint"))
    assert c.kind is InterfaceKind.VPN
    idle = NetInterface("tun0", c.kind, c.reason, (), is_up=False)
    eth = _iface("eth0", InterfaceKind.PHYSICAL, True)
    assert vpns_up([eth, idle]) == ()
    state = decide((eth, idle), None, None)
    assert not state.vpn_active and "exists but is down" in state.detail
    assert vpns_up([eth, idle], ["tun*"]) == ()  # --vpn names it; still not up


def test_a_vm_tap_is_never_a_vpn_for_watch_either() -> None:
    for name in ("vnet0", "vboxnet0"):
        c = classify(InterfaceFacts(name, arphrd=1, tun_flags=0x1002, flags="up"))
        assert c.kind is InterfaceKind.VIRTUAL, c
        assert vpns_up([NetInterface(name, c.kind, c.reason, (), True)]) == ()


def test_vpn_patterns_count_up_interfaces_by_name_with_the_reason() -> None:
    odd = _iface("corp0", InterfaceKind.PHYSICAL, True)
    wg = _iface("wg0", InterfaceKind.VPN, True)
    assert [i.name for i in vpns_up([odd, wg])] == ["wg0"]
    picked = vpns_up([odd, wg], ["corp*"])
    assert [i.name for i in picked] == ["corp0"]
    assert picked[0].reason.startswith("named by --vpn (physical:")
