"""The per-OS network strategies: netlink parsing (pure), netlink against psutil and
netifaces on real interfaces, and netifaces' gateways against the kernel's routes
in a network namespace this test builds (including the VPN routes netifaces misreads).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import netifaces
import pytest

from vpnguard.core.host import Host
from vpnguard.core.model import OS, InterfaceKind, Route
from vpnguard.core.network import netlink
from vpnguard.core.network.detect import detect_network
from vpnguard.core.network.platforms import (
    LinuxNetwork,
    MacNetwork,
    NetworkPlatform,
    NullNetwork,
    PsutilNetwork,
    WindowsNetwork,
    gateway_on_route,
    network_platform,
    psutil_interfaces,
)

REPO = Path(__file__).resolve().parents[2]

# --- netlink messages, built as the kernel builds them -----------------------------


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _msg(kind: int, body: bytes, flags: int = 2) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), kind, flags, 1, 0) + body


def _link(index: int, name: str, flags: int) -> bytes:
    body = netlink.IFINFOMSG.pack(0, 1, index, flags, 0) + _attr(
        netlink.IFLA_IFNAME, name.encode() + b"\0"
    )
    return _msg(netlink.RTM_NEWLINK, body)


def _addr(family: int, index: int, attrs: list[tuple[int, bytes]]) -> bytes:
    body = netlink.IFADDRMSG.pack(family, 24, 0, 0, index)
    body += b"".join(_attr(k, v) for k, v in attrs)
    return _msg(netlink.RTM_NEWADDR, body)


def test_flag_names_are_psutils() -> None:
    assert netlink.flag_names(0x1 | 0x2 | 0x40 | 0x1000) == "up,broadcast,running,multicast"
    assert netlink.flag_names(0x1 | 0x8 | 0x40) == "up,loopback,running"
    assert netlink.flag_names(0x1 | 0x10 | 0x80 | 0x10000) == "up,pointopoint,noarp"


def test_parse_link_and_addresses() -> None:
    data = _link(2, "eth0", 0x1043) + _link(7, "tun0", 0x1091) + _msg(netlink.NLMSG_DONE, b"")
    msgs = netlink.messages(data)
    assert [k for k, _ in msgs] == [netlink.RTM_NEWLINK, netlink.RTM_NEWLINK, netlink.NLMSG_DONE]
    assert netlink.parse_link(msgs[0][1]) == (2, "eth0", 0x1043)
    names = {2: "eth0", 7: "tun0"}
    v4 = socket.inet_pton(socket.AF_INET, "192.168.1.5")
    peer = socket.inet_pton(socket.AF_INET, "10.8.0.1")
    local = socket.inet_pton(socket.AF_INET, "10.8.0.2")
    ll = socket.inet_pton(socket.AF_INET6, "fe80::1")
    g6 = socket.inet_pton(socket.AF_INET6, "2001:db8::5")
    assert netlink.parse_addr(_addr(socket.AF_INET, 2, [(1, v4)]), names) == ("eth0", "192.168.1.5")
    # point-to-point: IFA_ADDRESS is the peer, IFA_LOCAL ours (getifaddrs reports the local one)
    got = netlink.parse_addr(_addr(socket.AF_INET, 7, [(1, peer), (2, local)]), names)
    assert got == ("tun0", "10.8.0.2")
    labelled = _addr(socket.AF_INET, 2, [(1, v4), (3, b"eth0:1\0")])
    assert netlink.parse_addr(labelled, names) == ("eth0:1", "192.168.1.5")
    assert netlink.parse_addr(_addr(socket.AF_INET6, 2, [(1, ll)]), names) == (
        "eth0",
        "fe80::1%eth0",
    )
    assert netlink.parse_addr(_addr(socket.AF_INET6, 2, [(1, g6)]), names) == (
        "eth0",
        "2001:db8::5",
    )
    assert netlink.parse_addr(_addr(socket.AF_PACKET, 2, [(1, b"\0" * 6)]), names) is None


def test_netlink_errors_and_garbage() -> None:
    err = _msg(netlink.NLMSG_ERROR, struct.pack("=i", -13) + b"\0" * 16)
    with pytest.raises(PermissionError):
        netlink.messages(err)
    ack = _msg(netlink.NLMSG_ERROR, struct.pack("=i", 0) + b"\0" * 16)
    assert [k for k, _ in netlink.messages(ack)] == [netlink.NLMSG_ERROR]
    with pytest.raises(ValueError):
        netlink.messages(struct.pack("=IHHII", 400, 16, 0, 1, 0))  # claims more than it has
    bad_attr = _msg(netlink.RTM_NEWLINK, netlink.IFINFOMSG.pack(0, 1, 3, 0, 0) + b"\x02\0\3\0")
    with pytest.raises(ValueError):
        netlink.parse_link(bad_attr)


# --- the real kernel: netlink == psutil == netifaces -------------------------------


def _netifaces_view() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for name in netifaces.interfaces():
        entries = netifaces.ifaddresses(name)
        addrs = [
            e["addr"] for fam in (socket.AF_INET, socket.AF_INET6) for e in entries.get(fam, [])
        ]
        if addrs:
            out[name] = tuple(addrs)
    return out


def _nonempty(addrs: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {k: v for k, v in addrs.items() if v}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="rtnetlink is Linux's")
def test_netlink_sees_what_psutil_and_netifaces_see() -> None:
    addrs, stats = netlink.interfaces()
    p_addrs, p_stats = psutil_interfaces()
    assert stats == p_stats
    assert _nonempty(addrs) == _nonempty(p_addrs)
    assert _nonempty(addrs) == _netifaces_view()
    assert set(stats) == set(netifaces.interfaces())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="detects the live Linux host")
def test_every_strategy_lists_the_same_interfaces_here() -> None:
    host = Host.current()
    linux = {f.name: (f.addresses, f.is_up, f.flags) for f in LinuxNetwork().facts(host)}
    for other in (PsutilNetwork(), MacNetwork(), WindowsNetwork(adapters=dict)):
        got = {f.name: (f.addresses, f.is_up, f.flags) for f in other.facts(host)}
        assert got == linux, type(other).__name__


def test_factory_and_null() -> None:
    assert type(network_platform("linux")) is LinuxNetwork
    assert type(network_platform("darwin")) is MacNetwork
    assert type(network_platform("win32")) is WindowsNetwork
    assert type(network_platform("freebsd14")) is PsutilNetwork
    assert NullNetwork().interfaces() == ({}, {})


class _Fixed(NetworkPlatform):
    """A strategy a test hands to detect_network: two interfaces, no OS access."""

    def interfaces(self) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[bool, str]]]:
        return {"wg0": ("10.66.0.2",), "eth9": ("192.168.9.2",)}, {
            "wg0": (True, "up,pointopoint,running,noarp"),
            "eth9": (True, "up,broadcast,running,multicast"),
        }


def test_detect_network_takes_the_strategy_it_is_given(tmp_path: Path) -> None:
    host = Host(root=tmp_path, os=OS.LINUX, path_dirs=(), home="/root", arch="x86_64", environ={})
    state = detect_network(host, platform=_Fixed())
    kinds = {i.name: i.kind for i in state.interfaces}
    assert kinds == {"eth9": InterfaceKind.PHYSICAL, "wg0": InterfaceKind.VPN}
    assert state.public_route is None  # a fake root asks the kernel nothing


# --- gateways: netifaces names one only where the kernel's route really goes -------


def _route(source: str | None, dest: str = "1.1.1.1") -> Route:
    return Route(destination=dest, interface=None, source=source)


def test_gateway_on_route_pure() -> None:
    held = {"en0": ("192.168.1.20", "fe80::1%en0"), "utun4": ("10.8.0.2",)}
    defaults = {socket.AF_INET: ("192.168.1.1", "en0")}
    assert gateway_on_route(_route("192.168.1.20"), defaults, held.__getitem__) == "192.168.1.1"
    # the kernel sends this route out of the tunnel: the LAN default says nothing about it
    assert gateway_on_route(_route("10.8.0.2"), defaults, held.__getitem__) is None
    assert gateway_on_route(_route("2001:db8::2", "2606:4700::1"), defaults, held.get) is None
    assert gateway_on_route(_route(None), defaults, held.__getitem__) is None


def test_mac_and_windows_fill_only_a_missing_gateway() -> None:
    calls: list[Route] = []

    def gateway_of(route: Route) -> str | None:
        calls.append(route)
        return "192.168.1.1"

    mac = MacNetwork(gateway_of)
    r = mac.with_gateway(_route("192.168.1.20"))
    assert r is not None and r.gateway == "192.168.1.1"
    known = Route("1.1.1.1", "en0", "192.168.1.20", gateway="192.168.1.254")
    assert mac.with_gateway(known) == known
    assert mac.with_gateway(None) is None
    assert len(calls) == 1
    assert LinuxNetwork().with_gateway(known) == known


# --- a namespace: netifaces' real API against the kernel ---------------------------

PROBE = r"""
import json, socket, sys
import netifaces
from vpnguard.core.network import netlink
from vpnguard.core.network.platforms import NetifacesGateways, psutil_interfaces
from vpnguard.core.network.routes import route_to
addrs, stats = netlink.interfaces()
p_addrs, p_stats = psutil_interfaces()
route = route_to("1.1.1.1", ())
print(json.dumps({
    "netlink": [addrs, stats],
    "psutil": [p_addrs, p_stats],
    "netifaces": {n: [e["addr"] for f in (2, 10) for e in netifaces.ifaddresses(n).get(f, [])]
                  for n in netifaces.interfaces()},
    "default": {str(k): v for k, v in netifaces.gateways().get("default", {}).items()},
    "route": route and [route.interface, route.source, route.gateway],
    "netifaces_gateway": route and NetifacesGateways()(route),
}))
"""


class Netns:
    def __init__(self) -> None:
        self.name = f"vgp-{secrets.token_hex(3)}"

    def ip(self, *args: str) -> None:
        subprocess.run(["ip", "-n", self.name, *args], check=True, capture_output=True, timeout=10)

    def probe(self) -> dict[str, Any]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.run(
            ["ip", "netns", "exec", self.name, sys.executable, "-c", PROBE],
            capture_output=True,
            text=True,
            timeout=20,
            env=env,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        out: dict[str, Any] = json.loads(proc.stdout)
        return out


@pytest.fixture(scope="module")
def ns() -> Iterator[Netns]:
    n = Netns()
    subprocess.run(["ip", "netns", "add", n.name], check=True, timeout=10)
    try:
        n.ip("link", "set", "lo", "up")
        n.ip("link", "add", "lan0", "type", "veth", "peer", "name", "gw0")
        n.ip("addr", "add", "192.168.77.2/24", "dev", "lan0")
        n.ip("addr", "add", "192.168.77.9/24", "label", "lan0:1", "dev", "lan0")
        n.ip("-6", "addr", "add", "fd77::2/64", "dev", "lan0", "nodad")
        n.ip("link", "set", "lan0", "up")
        n.ip("link", "set", "gw0", "up")
        # tun0 stands in for a VPN device (a veth: the routes are what matters here)
        n.ip("link", "add", "tun0", "type", "veth", "peer", "name", "vpnpeer")
        n.ip("addr", "add", "10.8.0.2/24", "dev", "tun0")
        n.ip("link", "set", "vpnpeer", "up")
        n.ip("link", "set", "tun0", "up")
        n.ip("link", "add", "idle0", "type", "veth", "peer", "name", "idle1")  # down, no address
        n.ip("route", "add", "default", "via", "192.168.77.1", "dev", "lan0")
        yield n
    finally:
        subprocess.run(["ip", "netns", "del", n.name], check=False, timeout=10)


def _nonempty_json(addrs: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: v for k, v in addrs.items() if v}


@pytest.mark.root
def test_namespace_views_agree_and_netifaces_never_picks_the_route(ns: Netns) -> None:
    # A plain default route: all three libraries list the same, and netifaces'
    # gateway is the kernel's.
    got = ns.probe()
    assert got["netlink"][1] == got["psutil"][1]
    assert _nonempty_json(got["netlink"][0]) == _nonempty_json(got["psutil"][0])
    assert _nonempty_json(got["netlink"][0]) == _nonempty_json(got["netifaces"])
    assert got["netlink"][0]["lan0:1"] == ["192.168.77.9"]  # the label names an alias
    assert got["netlink"][1]["idle0"][0] is False  # down
    assert got["route"] == ["lan0", "192.168.77.2", "192.168.77.1"]
    assert got["netifaces_gateway"] == "192.168.77.1"

    # OpenVPN's 0/1 + 128/1: the kernel routes through tun0, netifaces still names the LAN.
    ns.ip("route", "add", "0.0.0.0/1", "dev", "tun0")
    ns.ip("route", "add", "128.0.0.0/1", "dev", "tun0")
    got = ns.probe()
    assert got["route"] == ["tun0", "10.8.0.2", None]
    assert got["default"]["2"][:2] == ["192.168.77.1", "lan0"]  # what netifaces believes
    assert got["netifaces_gateway"] is None  # so it is not taken for this route

    # `default dev tun0` without a gateway: netifaces sees no default at all.
    ns.ip("route", "del", "0.0.0.0/1")
    ns.ip("route", "del", "128.0.0.0/1")
    ns.ip("route", "replace", "default", "dev", "tun0")
    got = ns.probe()
    assert got["route"] == ["tun0", "10.8.0.2", None]
    assert "2" not in got["default"]
    assert got["netifaces_gateway"] is None
    ns.ip("route", "replace", "default", "via", "192.168.77.1", "dev", "lan0")
