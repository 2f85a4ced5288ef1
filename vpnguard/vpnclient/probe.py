"""Which VPN interfaces are up, cheaply enough to ask after every netlink event.

On Linux this reads ``/sys/class/net`` only (no route lookups): a device is
VPN-like when the kernel says so (tun/tap ``tun_flags``, ``DEVTYPE=wireguard``,
PPP) or its name is a known VPN name; it is up when ``IFF_UP`` is set. Other
systems use psutil with the same name rules, and on macOS a ``utun`` counts
only with an address (idle system utuns exist).
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

IFF_UP = 0x1
ARPHRD_PPP = 512
ARPHRD_NONE = 65534

VPN_NAME = re.compile(
    r"^(tun|tap|wg|ppp|utun|tailscale|zt|nordlynx|proton|ipsec|vti|gpd|cscotun|"
    r"CloudflareWARP|mullvad|nordtun|expressvpn)",
    re.IGNORECASE,
)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def linux_active_vpns(
    sysfs: Path = Path("/sys/class/net"), named: Iterable[str] = ()
) -> dict[str, str]:
    named = list(named)
    out: dict[str, str] = {}
    try:
        names = sorted(os.listdir(sysfs))
    except OSError:
        return out
    for name in names:
        dev = sysfs / name
        try:
            flags = int(_read(dev / "flags") or "0", 16)
        except ValueError:
            continue
        if not flags & IFF_UP:
            continue
        if any(fnmatch.fnmatchcase(name, p) for p in named):
            out[name] = "named by --vpn"
            continue
        uevent = _read(dev / "uevent").split()
        arphrd = _read(dev / "type")
        if "DEVTYPE=wireguard" in uevent:
            out[name] = "wireguard"
        elif (dev / "tun_flags").exists():
            out[name] = "wireguard-go/tun" if name.startswith("wg") else "tun/tap"
        elif arphrd == str(ARPHRD_PPP):
            out[name] = "ppp"
        elif VPN_NAME.match(name) and not (dev / "device").exists():
            out[name] = "vpn name (virtual device)"
    return out


def psutil_active_vpns() -> dict[str, str]:
    import psutil

    stats = psutil.net_if_stats()
    addrs = psutil.net_if_addrs()
    out: dict[str, str] = {}
    for name, st in stats.items():
        if not st.isup or not VPN_NAME.match(name):
            continue
        if name.startswith("utun") and not any(
            a.family.name in {"AF_INET", "AF_INET6"} and not a.address.startswith("fe80")
            for a in addrs.get(name, [])
        ):
            continue
        out[name] = "vpn name"
    return out


def active_vpns(named: Iterable[str] = ()) -> dict[str, str]:
    """``{interface: why it counts}`` for every VPN-like interface that is up, plus any up
    interface matching a ``--vpn`` pattern (a VPN with an unusual name)."""
    if sys.platform.startswith("linux"):
        return linux_active_vpns(named=named)
    return psutil_active_vpns()


def matching(active: dict[str, str], patterns: Iterable[str]) -> dict[str, str]:
    """Keep the interfaces ``--vpn`` asked for (shell-style patterns; none given: all)."""
    pats = list(patterns)
    if not pats:
        return dict(active)
    return {n: r for n, r in active.items() if any(fnmatch.fnmatchcase(n, p) for p in pats)}
