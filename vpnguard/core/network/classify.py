"""Decide what one network interface is, from facts gathered elsewhere (pure).

Nothing here touches the OS: :mod:`vpnguard.core.network.detect` reads sysfs,
psutil and the Windows adapter list, and hands the facts in. Every answer
carries a reason a person can check on their own machine ("DEVTYPE=wireguard
in /sys/class/net/wg0/uevent"), because a VPN tool that says "no VPN" without
saying why is not believable.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from vpnguard.core.model import OS, InterfaceKind
from vpnguard.core.record import record, replace

# Linux ARPHRD_* numbers from /sys/class/net/<n>/type (include/uapi/linux/if_arp.h).
ARPHRD_ETHER = 1
ARPHRD_PPP = 512
ARPHRD_TUNNEL = 768  # ipip
ARPHRD_TUNNEL6 = 769
ARPHRD_LOOPBACK = 772
ARPHRD_SIT = 776
ARPHRD_IPGRE = 778
ARPHRD_NONE = 65534  # tun, wireguard

# tun_flags bits (include/uapi/linux/if_tun.h).
IFF_TUN = 0x0001
IFF_TAP = 0x0002


@record
class InterfaceFacts:
    """What the OS says about one interface; every field optional but the name.

    ``addresses`` are the interface's IP addresses as strings (IPv6 may carry
    a ``%scope`` suffix). ``flags`` is psutil's comma-separated flag string.
    """

    name: str
    os: OS = OS.LINUX
    flags: str = ""
    is_up: bool = False
    addresses: tuple[str, ...] = ()
    # Linux sysfs
    arphrd: int | None = None  # /sys/class/net/<n>/type
    devtype: str | None = None  # DEVTYPE= in /sys/class/net/<n>/uevent
    tun_flags: int | None = None  # /sys/class/net/<n>/tun_flags, None when absent
    has_device: bool = False  # /sys/class/net/<n>/device exists: backed by a bus device
    driver: str | None = None  # ethtool driver name ("veth", "tun", "virtio_net"), if known
    wg_socket: bool = False  # /var/run/wireguard/<n>.sock: wireguard-go / boringtun
    # Windows
    description: str | None = None  # adapter InterfaceDescription
    # Routing (filled in by detect once the kernel named the uplink)
    carries_public_route: bool = False


@record
class Classification:
    """What an interface is, and why (in words a person can check)."""

    kind: InterfaceKind
    reason: str
    vpn_type: str | None = None


def _flag_set(flags: str) -> set[str]:
    return {f.strip().lower() for f in flags.split(",") if f.strip()}


def has_routable_address(addresses: tuple[str, ...]) -> bool:
    """True when an address other than IPv6 link-local (fe80::/10) is present.

    Idle macOS ``utun`` devices and Windows miniports carry only link-local
    IPv6 addresses; those say nothing about a tunnel being in use.
    """
    for raw in addresses:
        try:
            ip = ipaddress.ip_address(raw.split("%", 1)[0])
        except ValueError:
            continue
        if not ip.is_link_local:
            return True
    return False


# --- Windows adapter descriptions -------------------------------------------------

# (pattern, vpn_type) tried in order against InterfaceDescription; the first
# match wins, so brand names come before the generic drivers they ship.
_WINDOWS_VPN_SOURCE: tuple[tuple[str, str], ...] = (
    (r"nordlynx", "nordlynx"),
    (r"mullvad", "mullvad"),
    (r"proton\s*vpn", "proton"),
    (r"cloudflare\s*warp", "cloudflare-warp"),
    (r"tailscale", "tailscale"),
    (r"zerotier", "zerotier"),
    (r"wireguard", "wireguard"),
    (r"openvpn data channel offload", "openvpn"),
    (r"tap-windows|tap-win32|\btap-", "openvpn"),
    (r"wintun", "wintun"),
    (r"cisco anyconnect|cisco secure client|cisco systems vpn", "cisco-anyconnect"),
    (r"fortinet|forticlient", "fortinet"),
    (r"pangp|globalprotect|palo alto", "globalprotect"),
    (r"juniper|pulse secure|ivanti", "juniper"),
    (r"sonicwall", "sonicwall"),
    (r"check point|checkpoint", "checkpoint"),
    (r"expressvpn", "expressvpn"),
    (r"surfshark", "surfshark"),
    (r"private internet access", "pia"),
)


@functools.cache
def _windows_vpn() -> tuple[tuple[re.Pattern[str], str], ...]:
    # Compiled on first use: Linux and macOS never pay for Windows' patterns.
    return tuple((re.compile(p, re.IGNORECASE), t) for p, t in _WINDOWS_VPN_SOURCE)


# Windows' own RAS miniports exist on every machine; they are a VPN only once
# a connection gives them an address.
_WINDOWS_MINIPORT = r"wan miniport \((ikev2|l2tp|pptp|sstp)\)"
_MINIPORT_TYPE = {"ikev2": "ipsec", "l2tp": "ipsec", "pptp": "ppp", "sstp": "ppp"}

_WINDOWS_VIRTUAL = (
    r"hyper-v|virtualbox|vmware|wi-fi direct virtual|kernel debug|npcap|"
    r"wan miniport|teredo|6to4|ip-https|isatap|microsoft kernel debug|docker|wsl"
)


def _search(pattern: str, text: str) -> re.Match[str] | None:
    # A Windows pattern, compiled on first use (re caches it): Linux never pays for it.
    return re.search(pattern, text, re.IGNORECASE)


def _classify_windows(f: InterfaceFacts) -> Classification:
    desc = (f.description or "").strip()
    where = f"adapter description {desc!r}"
    if not desc:
        if "loopback" in _flag_set(f.flags) or f.name.lower().startswith("loopback"):
            return Classification(InterfaceKind.LOOPBACK, f"name {f.name!r} is the loopback")
        named = _classify_by_name(f)
        if named is not None:
            return replace(named, reason=named.reason + " (no adapter description available)")
        return Classification(
            InterfaceKind.PHYSICAL,
            f"no adapter description for {f.name!r} and the name matches no VPN",
        )
    if _search("loopback", desc):
        return Classification(InterfaceKind.LOOPBACK, f"{where} is a loopback")
    mini = _search(_WINDOWS_MINIPORT, desc)
    if mini:
        if has_routable_address(f.addresses):
            return Classification(
                InterfaceKind.VPN,
                f"{where} is Windows' built-in VPN and it has an address",
                _MINIPORT_TYPE[mini.group(1).lower()],
            )
        return Classification(
            InterfaceKind.VIRTUAL, f"{where} is an idle built-in VPN miniport (no address)"
        )
    for pattern, vpn_type in _windows_vpn():
        if pattern.search(desc):
            return Classification(InterfaceKind.VPN, f"{where} is a {vpn_type} adapter", vpn_type)
    if _search(_WINDOWS_VIRTUAL, desc):
        return Classification(InterfaceKind.VIRTUAL, f"{where} is a virtual adapter")
    return Classification(InterfaceKind.PHYSICAL, f"{where} names no VPN or virtual adapter")


# --- Names (Linux, macOS, and Windows without a description) ----------------------

# (the prefixes a name needs, regex on the interface name, vpn_type, what the name means).
# Order matters: provider names come before the generic protocol names they use. Every
# regex is anchored on one of its prefixes (tests/network/test_classify.py proves it), so
# a name without any of them cannot match and its regex is never compiled: most machines
# have only eth0/lo-like names, and compiling these was a tenth of a millisecond each.
_VPN_NAMES: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (("wg",), r"^wg\d*-mullvad$", "mullvad", "Mullvad's WireGuard device"),
    (("nordlynx",), r"^nordlynx$", "nordlynx", "NordVPN's WireGuard device"),
    (("nordtun",), r"^nordtun$", "openvpn", "NordVPN's OpenVPN device"),
    (("proton", "pvpn"), r"^proton\d*$|^pvpn", "proton", "Proton VPN's device"),
    (("CloudflareWARP",), r"^CloudflareWARP$", "cloudflare-warp", "Cloudflare WARP's device"),
    (("tailscale",), r"^tailscale\d*$", "tailscale", "Tailscale's device"),
    (("zt",), r"^zt[0-9a-z]+$", "zerotier", "ZeroTier's device"),
    (("wg",), r"^wg", "wireguard", "WireGuard's conventional name"),
    (("tun",), r"^tun\d*$", "openvpn", "OpenVPN's default tun device name"),
    (("tap",), r"^tap\d*$", "openvpn", "OpenVPN's default tap device name"),
    (
        ("ipsec", "xfrm", "vti", "ip_vti"),
        r"^(ipsec|xfrm|vti|ip_vti)\d*$",
        "ipsec",
        "an IPsec device",
    ),
    (("ppp",), r"^ppp\d*$", "ppp", "a PPP link (PPTP, L2TP, SSTP, dial-up)"),
    (("cscotun",), r"^cscotun\d*$", "cisco-anyconnect", "Cisco AnyConnect's device"),
    (("gpd",), r"^gpd\d*$", "globalprotect", "GlobalProtect's device"),
    (("vpn",), r"^(vpn|vpn-)\d*$|^vpn$", "openconnect", "OpenConnect's conventional name"),
)

# Names that are containers, bridges and hypervisors' plumbing, never a VPN. A pattern
# string, compiled (and cached by re) when first searched: many machines never ask.
_VIRTUAL_NAMES = (
    r"^(docker\d*|br-[0-9a-f]+|virbr\d+(-nic)?|veth|vnet\d+|lxcbr\d*|lxdbr\d*|cni\d*|"
    r"flannel|cali|weave|kube-|vmnet\d+|vboxnet\d+|ifb\d+|dummy\d*|podman\d*|"
    r"tunl0$|sit0$|gre0$|gretap0$|erspan0$|ip6tnl0$|ip6gre0$|ip_vti0$|ip6_vti0$|"
    r"bridge\d+$|awdl\d+$|llw\d+$|anpi\d+$|ap\d+$|gif\d+$|stf\d+$)"
)

_VIRTUAL_DEVTYPES = {
    "bridge",
    "vlan",
    "bond",
    "macvlan",
    "macvtap",
    "ipvlan",
    "vxlan",
    "geneve",
    "team",
    "vrf",
    "dsa",
}

_VIRTUAL_DRIVERS = {
    "veth",
    "bridge",
    "802.1Q VLAN Support",
    "bonding",
    "macvlan",
    "ipvlan",
    "vxlan",
    "dummy",
    "ifb",
    "vrf",
    "openvswitch",
}


def _classify_by_name(f: InterfaceFacts) -> Classification | None:
    for prefixes, pattern, vpn_type, why in _VPN_NAMES:
        if f.name.startswith(prefixes) and re.search(pattern, f.name):  # re caches it
            return Classification(
                InterfaceKind.VPN,
                f"name {f.name!r} is {why}",
                vpn_type,
            )
    return None


def _tun_kind(tun_flags: int) -> str:
    return "tap" if tun_flags & IFF_TAP else "tun"


def _uplink(c: Classification, f: InterfaceFacts) -> Classification:
    """A virtual link that carries the route to the internet is this machine's uplink.

    A container's or a network namespace's ``eth0`` is one end of a veth
    pair; for leak purposes it is the ISP side, exactly like a NIC, and must
    never be mistaken for a tunnel.
    """
    if c.kind is InterfaceKind.VIRTUAL and f.carries_public_route:
        return Classification(
            InterfaceKind.PHYSICAL,
            c.reason + "; it carries the route to the internet, so it is this machine's uplink",
        )
    return c


def _classify_linux(f: InterfaceFacts) -> Classification:
    sys_dir = f"/sys/class/net/{f.name}"
    flags = _flag_set(f.flags)
    if f.arphrd == ARPHRD_LOOPBACK or "loopback" in flags or f.name == "lo":
        why = (
            f"type {ARPHRD_LOOPBACK} (ARPHRD_LOOPBACK) in {sys_dir}/type"
            if f.arphrd == ARPHRD_LOOPBACK
            else "loopback flag"
            if "loopback" in flags
            else "name 'lo'"
        )
        return Classification(InterfaceKind.LOOPBACK, why)

    named = _classify_by_name(f)
    named_type = named.vpn_type if named else None

    # Kernel WireGuard says so itself.
    if f.devtype == "wireguard":
        vpn_type = named_type if named_type in _WG_PROVIDERS else "wireguard"
        return Classification(InterfaceKind.VPN, f"DEVTYPE=wireguard in {sys_dir}/uevent", vpn_type)
    # Userspace WireGuard (wireguard-go, boringtun) is a tun plus a control socket.
    # The socket directory is shared by all network namespaces, so the socket
    # alone proves nothing about an interface here: require the tun too.
    if f.wg_socket and f.tun_flags is not None:
        vpn_type = named_type if named_type in _WG_PROVIDERS else "wireguard"
        return Classification(
            InterfaceKind.VPN,
            f"tun device ({sys_dir}/tun_flags exists) with WireGuard control socket "
            f"/var/run/wireguard/{f.name}.sock (userspace WireGuard)",
            vpn_type,
        )
    if f.tun_flags is not None:
        tt = _tun_kind(f.tun_flags)
        if named is not None:
            return Classification(
                InterfaceKind.VPN,
                f"{named.reason} and it is a {tt} device ({sys_dir}/tun_flags exists)",
                named.vpn_type,
            )
        if re.search(_VIRTUAL_NAMES, f.name):
            return Classification(
                InterfaceKind.VIRTUAL,
                f"{tt} device whose name {f.name!r} is virtualisation plumbing "
                "(VM or container tap)",
            )
        return Classification(
            InterfaceKind.VPN,
            f"{tt} device ({sys_dir}/tun_flags exists); a program tunnels through it",
            tt,
        )
    if f.arphrd == ARPHRD_PPP:
        return Classification(
            InterfaceKind.VPN, f"type {ARPHRD_PPP} (ARPHRD_PPP) in {sys_dir}/type", "ppp"
        )

    if f.devtype in _VIRTUAL_DEVTYPES:
        return _uplink(
            Classification(InterfaceKind.VIRTUAL, f"DEVTYPE={f.devtype} in {sys_dir}/uevent"),
            f,
        )
    if f.driver in _VIRTUAL_DRIVERS:
        return _uplink(Classification(InterfaceKind.VIRTUAL, f"driver {f.driver!r} (ethtool)"), f)
    if re.search(_VIRTUAL_NAMES, f.name):
        return _uplink(
            Classification(
                InterfaceKind.VIRTUAL, f"name {f.name!r} is container/VM/bridge plumbing"
            ),
            f,
        )
    if named is not None and named.vpn_type in {"ipsec", "openconnect"}:
        return named
    if named is not None and not f.has_device:
        return named
    if f.arphrd in {ARPHRD_TUNNEL, ARPHRD_TUNNEL6, ARPHRD_SIT, ARPHRD_IPGRE}:
        return _uplink(
            Classification(
                InterfaceKind.VIRTUAL,
                f"type {f.arphrd} in {sys_dir}/type is a kernel IP-in-IP/GRE tunnel, "
                "not a VPN client",
            ),
            f,
        )
    if f.has_device:
        return Classification(
            InterfaceKind.PHYSICAL, f"{sys_dir}/device exists (backed by hardware)"
        )
    if f.arphrd is None and f.devtype is None and f.driver is None:
        # No sysfs facts at all (a fake tree, or another OS's names): say so.
        if "pointopoint" in flags:
            return Classification(
                InterfaceKind.VPN, "point-to-point link (psutil flags) with no sysfs facts", "tun"
            )
        return Classification(
            InterfaceKind.PHYSICAL, f"no sysfs facts for {f.name!r}; assumed a normal link"
        )
    return _uplink(
        Classification(
            InterfaceKind.VIRTUAL, f"{sys_dir}/device is missing (not backed by hardware)"
        ),
        f,
    )


_WG_PROVIDERS = {"mullvad", "nordlynx", "proton", "cloudflare-warp", "tailscale"}


def _classify_macos(f: InterfaceFacts) -> Classification:
    flags = _flag_set(f.flags)
    if "loopback" in flags or re.match(r"^lo\d*$", f.name):
        return Classification(InterfaceKind.LOOPBACK, f"name {f.name!r} is the loopback")
    if re.match(r"^utun\d+$", f.name):
        if has_routable_address(f.addresses):
            return Classification(
                InterfaceKind.VPN,
                f"{f.name} is a utun device with a non-link-local address "
                "(WireGuard, OpenVPN, Tailscale, WARP and IKEv2 all use utun)",
                "utun",
            )
        return Classification(
            InterfaceKind.VIRTUAL,
            f"{f.name} is a utun device without an address (macOS keeps idle system utuns)",
        )
    if re.match(r"^ipsec\d+$", f.name):
        if has_routable_address(f.addresses):
            return Classification(
                InterfaceKind.VPN, f"{f.name} is an IPsec device with an address", "ipsec"
            )
        return Classification(InterfaceKind.VIRTUAL, f"{f.name} is an IPsec device, idle")
    if re.match(r"^ppp\d+$", f.name):
        return Classification(InterfaceKind.VPN, f"{f.name} is a PPP link", "ppp")
    named = _classify_by_name(f)
    if named is not None and named.vpn_type not in {"openvpn"}:
        return named
    if re.match(r"^(tun|tap)\d+$", f.name):  # tuntaposx
        return Classification(
            InterfaceKind.VPN, f"name {f.name!r} is a tuntaposx device (OpenVPN)", "openvpn"
        )
    if re.search(_VIRTUAL_NAMES, f.name) or re.match(r"^(vmenet|feth)\d+$", f.name):
        return _uplink(
            Classification(InterfaceKind.VIRTUAL, f"name {f.name!r} is system plumbing"), f
        )
    if "pointopoint" in flags and has_routable_address(f.addresses):
        return Classification(
            InterfaceKind.VPN, f"{f.name} is point-to-point with an address", "tun"
        )
    return Classification(InterfaceKind.PHYSICAL, f"name {f.name!r} is a normal link (en*)")


def classify(facts: InterfaceFacts) -> Classification:
    """Classify one interface as physical, VPN, virtual or loopback, with the reason."""
    if facts.os is OS.WINDOWS:
        return _classify_windows(facts)
    if facts.os is OS.MACOS:
        return _classify_macos(facts)
    return _classify_linux(facts)
