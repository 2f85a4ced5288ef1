"""What front ends ask the service besides status/protect/unprotect: real calls, no stand-ins."""

from __future__ import annotations

import pytest

from vpnguard.core import service
from vpnguard.core.errors import UsageError
from vpnguard.core.model import OS as OSKind
from vpnguard.core.model import (
    InterfaceKind,
    Level,
    NetInterface,
    PolicyTarget,
    Protection,
    Route,
    TargetKind,
    TunnelMode,
)

ETH = NetInterface("eth0", InterfaceKind.PHYSICAL, "nic", ("192.168.1.2",), True)
WG = NetInterface("wg0", InterfaceKind.VPN, "wg", ("10.0.0.2",), True, "wireguard")


def _net(mode: str) -> service.NetworkState:
    if mode == "split":
        return service.network_state((ETH, WG), Route("1.1.1.1", "eth0", "192.168.1.2"))
    if mode == "full":
        return service.network_state((ETH, WG), Route("1.1.1.1", "wg0", "10.0.0.2", via_vpn=True))
    return service.network_state((ETH,), Route("1.1.1.1", "eth0", "192.168.1.2"))


@pytest.mark.parametrize(
    ("level", "mode", "holds"),
    [
        (Level.STRICT, "split", True),
        (Level.STRICT, "full", True),
        (Level.RELAY, "split", True),
        (Protection.RELAY, "split", True),
        (Level.BALANCED, "full", True),
        (Level.BALANCED, "none", True),
        (Level.BALANCED, "split", False),
        (Protection.BALANCED, "split", False),
        (Protection.NONE, "full", False),
        (Protection.PARTIAL, "none", False),
        ("strict", "split", True),
    ],
)
def test_level_advice_is_the_one_split_tunnel_rule(
    level: Level | Protection | str, mode: str, holds: bool
) -> None:
    net = _net(mode)
    assert (net.tunnel is TunnelMode.SPLIT) == (mode == "split")
    advice = service.level_advice(level, net)
    assert advice.holds is holds
    assert (advice.reason == "") is holds
    if Protection(level) is Protection.BALANCED and not holds:
        assert advice.reason == service.BALANCED_SPLIT


def test_balanced_with_an_unknown_network_holds() -> None:
    assert service.level_advice(Level.BALANCED, None).holds


def test_catalog_and_policy_file() -> None:
    ids = service.browser_ids()
    assert "chromium" in ids and "firefox-esr" in ids and len(set(ids)) == len(ids)
    assert service.catalog_entry("chromium").restart_to_apply in (True, False)
    with pytest.raises(UsageError):
        service.catalog_entry("netscape")
    d = PolicyTarget(
        TargetKind.CHROMIUM_MANAGED_DIR, "/etc/chromium/policies/managed/", OSKind.LINUX
    )
    assert service.policy_file(d) == "/etc/chromium/policies/managed/vpnguard.json"
    f = PolicyTarget(
        TargetKind.FIREFOX_POLICIES_JSON, "/etc/firefox/policies/policies.json", OSKind.LINUX
    )
    assert service.policy_file(f) == f.location


def test_ice_urls_are_checked_by_kind() -> None:
    service.validate_ice_urls(["stun:198.51.100.1:3478"], ["turn:198.51.100.1:3478"])
    with pytest.raises(UsageError, match="is a TURN URL"):
        service.validate_ice_urls(["turn:198.51.100.1:3478"])
    with pytest.raises(UsageError, match="not a TURN URL"):
        service.validate_ice_urls([], ["stun:198.51.100.1:3478"])
    assert all(u.startswith("stun:") for u in service.default_stun())
