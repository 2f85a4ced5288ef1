"""Levels (relay, strict, balanced), their read-back, and what ``auto`` picks per network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import fakeroot
from vpnguard.core import service
from vpnguard.core.errors import UsageError
from vpnguard.core.model import (
    Family,
    InterfaceKind,
    Level,
    LevelChoice,
    NetInterface,
    NetworkState,
    Protection,
    Route,
    TunnelMode,
)
from vpnguard.core.policy import auto
from vpnguard.core.policy.levels import (
    CALLS,
    CHOICE_SUMMARY,
    FIREFOX_PREFS,
    LEVEL_SUMMARY,
    RECOMMENDED,
    chromium_level_of,
    firefox_level_of,
    firefox_locked_pref,
)

FF = "etc/firefox/policies/policies.json"
CR = "etc/chromium/policies/managed/vpnguard.json"
ICE = "media.peerconnection.ice."


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return fakeroot.debian(tmp_path / "root")


def protection(root: Path) -> dict[str, Protection]:
    return {b.browser.id: b.policy.protection for b in service.status(root=root).browsers}


def test_relay_is_recommended_and_uses_relay_only_not_proxy_only() -> None:
    assert RECOMMENDED is Level.RELAY
    prefs = FIREFOX_PREFS[Level.RELAY]
    assert prefs == {
        ICE + "default_address_only": True,
        ICE + "no_host": True,
        ICE + "relay_only": True,
    }
    assert ICE + "proxy_only" in FIREFOX_PREFS[Level.STRICT]  # strict stays the strongest
    assert set(LEVEL_SUMMARY) == set(CALLS) == set(Level)
    assert set(CHOICE_SUMMARY) == set(LevelChoice)
    assert "blocked" in CALLS[Level.STRICT][Family.FIREFOX]
    assert "blocked" not in CALLS[Level.RELAY][Family.FIREFOX]


def test_relay_writes_and_reads_back(root: Path) -> None:
    report = service.protect("relay", root=root)
    assert report.level is Level.RELAY and report.auto is None
    prefs = json.loads((root / FF).read_text())["policies"]["Preferences"]
    assert prefs[ICE + "relay_only"] == {"Value": True, "Status": "locked"}
    assert ICE + "proxy_only" not in prefs
    assert json.loads((root / CR).read_text())["WebRtcIPHandling"] == "disable_non_proxied_udp"
    prot = protection(root)
    assert prot["firefox-esr"] is Protection.RELAY
    # Chromium has one value for strict and relay: it reads back as the stronger name.
    assert prot["chromium"] is Protection.STRICT
    assert any(n.startswith("Calls under 'relay' in Firefox") for n in report.notices), (
        report.notices
    )


def test_old_strict_files_still_read_as_strict_and_switch_cleanly(root: Path) -> None:
    """A policies.json written by an earlier vpnguard (strict = proxy_only) stays known."""
    old = {k: firefox_locked_pref(v) for k, v in FIREFOX_PREFS[Level.STRICT].items()}
    assert firefox_level_of(old) == (Level.STRICT, False)
    assert chromium_level_of("disable_non_proxied_udp") is Level.STRICT
    service.protect("strict", root=root)
    service.protect("relay", root=root)
    prefs = json.loads((root / FF).read_text())["policies"]["Preferences"]
    assert ICE + "proxy_only" not in prefs  # the old level's pref is undone
    assert protection(root)["firefox-esr"] is Protection.RELAY
    service.unprotect(root=root)
    assert protection(root) == {"chromium": Protection.NONE, "firefox-esr": Protection.NONE}


def test_unknown_level_is_a_usage_error(root: Path) -> None:
    with pytest.raises(UsageError, match="relay"):
        service.protect("paranoid", root=root)


# -- auto ------------------------------------------------------------------------------

WG = NetInterface("wg0", InterfaceKind.VPN, "wireguard", ("10.66.0.2",), True, "wireguard")
LAN = NetInterface("eth0", InterfaceKind.PHYSICAL, "ethernet", ("192.168.1.5",), True)


def net(
    tunnel: TunnelMode, *, v6: Route | None = None, detail: str = "", up: bool = True
) -> NetworkState:
    via_vpn = tunnel is TunnelMode.FULL
    r4 = Route("1.1.1.1", "wg0" if via_vpn else "eth0", None, via_vpn=via_vpn)
    return NetworkState(
        (WG, LAN), r4, v6, tunnel is not TunnelMode.NONE, ("wg0",) if up else (), tunnel, detail
    )


def test_auto_picks_balanced_only_in_a_verified_full_tunnel() -> None:
    full = auto.choose(net(TunnelMode.FULL), ())
    assert full.level is Level.BALANCED and "verified full tunnel" in full.reason
    for state, bypass, why in (
        (net(TunnelMode.SPLIT, detail="wg0 is up but traffic bypasses it."), (), "bypasses"),
        (net(TunnelMode.NONE, up=False), (), "no VPN"),
        (None, (), "unknown"),
        (net(TunnelMode.FULL), None, "cannot be listed"),
        (net(TunnelMode.FULL), ("198.51.100.1 via 192.168.1.1 dev eth0",), "198.51.100.1"),
    ):
        choice = auto.choose(state, bypass)
        assert choice.level is RECOMMENDED, why
        assert why in choice.reason


def test_bypass_routes_counts_gatewayed_routes_outside_the_vpn() -> None:
    rows: list[dict[str, Any]] = [
        {"dst": "default", "gateway": "192.168.77.1", "dev": "lan"},
        {"dst": "default", "dev": "wg0", "table": "51820"},
        {"dst": "192.168.77.0/24", "dev": "lan", "protocol": "kernel", "scope": "link"},
        {"type": "local", "dst": "127.0.0.1", "dev": "lo", "table": "local"},
        {"dst": "198.51.100.1", "gateway": "192.168.77.1", "dev": "lan"},
        {"dst": "10.20.0.0/16", "gateway": "10.66.0.1", "dev": "wg0"},
        {"dst": "fe80::/64", "dev": "lan", "protocol": "kernel"},
        {"dst": "2001:db8:77::/48", "gateway": "fe80::1", "dev": "lan"},
        {"dst": "ff00::/8", "gateway": "fe80::1", "dev": "lan"},
        {"dst": "not-an-address", "gateway": "x", "dev": "lan"},
    ]
    assert auto.bypass_routes(rows, ["wg0"]) == (
        "198.51.100.1 via 192.168.77.1 dev lan",
        "2001:db8:77::/48 via fe80::1 dev lan",
    )


def test_protect_auto_records_what_it_chose(root: Path) -> None:
    full = net(TunnelMode.FULL)
    # a fake root has no network of its own: auto falls back to the recommended level
    report = service.protect("auto", root=root)
    assert report.level is RECOMMENDED and report.auto is not None
    doc = report.to_json()
    assert doc["auto"]["level"] == "relay" and doc["level"] == "relay"
    assert report.notices[0].startswith("auto chose 'relay'")
    assert protection(root)["firefox-esr"] is Protection.RELAY
    # given a network state (the lab and watch pass the live one), the pure rule decides
    # a fake root cannot list kernel routes, so even a full tunnel is not "verified" there
    report = service.protect("auto", root=root, network=full, dry_run=True)
    assert report.auto is not None and report.auto.level is RECOMMENDED
    assert "cannot be listed" in report.auto.reason
