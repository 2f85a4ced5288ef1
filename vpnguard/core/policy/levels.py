"""What each protection level means, per browser family: the one source of truth.

Local ``protect``, the admin bundles and the status read-back all derive from
these tables. Pure data and pure functions only.

Lab evidence (docs/browser-facts.md, "Levels"): Chromium's ``default_public_interface_only``
still leaks the LAN-side address as srflx in a split tunnel; only
``disable_non_proxied_udp`` held there. Hence ``strict`` is the default.
"""

from __future__ import annotations

import dataclasses

from vpnguard.core.browsers.catalog import BrowserSpec
from vpnguard.core.model import Family, Level

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

# vpnguard's own file in each Chromium managed-policy directory.
OWN_FILE = "vpnguard.json"

CHROMIUM_VALUES: dict[Level, str] = {
    Level.STRICT: "disable_non_proxied_udp",
    Level.BALANCED: "default_public_interface_only",
}

PREF = "media.peerconnection.ice."

FIREFOX_PREFS: dict[Level, dict[str, Any]] = {
    Level.STRICT: {
        PREF + "default_address_only": True,
        PREF + "no_host": True,
        PREF + "proxy_only": True,
    },
    Level.BALANCED: {
        PREF + "default_address_only": True,
        PREF + "no_host": True,
        PREF + "proxy_only_if_behind_proxy": True,
    },
}

LEVEL_SUMMARY: dict[Level, str] = {
    Level.STRICT: (
        "No direct WebRTC UDP at all: no local or public address is gathered, in full and "
        "split tunnels. Chromium-family calls still work through TURN relays; Firefox allows "
        "none without a proxy. In a split tunnel a page's own TURN server, reached outside "
        "the VPN, still sees the ISP-side address (Chromium shows it as the relay's raddr)."
    ),
    Level.BALANCED: (
        "Only the default-route interface is used and local addresses stay hidden. "
        "Does NOT hold in a split tunnel: the public address can still leak there."
    ),
}


@dataclasses.dataclass(frozen=True)
class Setting:
    """One policy setting: a Chromium policy name or a Firefox pref name, and its value."""

    name: str
    value: Any


def settings_for(spec: BrowserSpec, level: Level) -> tuple[Setting, ...]:
    """The exact settings ``level`` writes for ``spec`` (empty for self-managed browsers)."""
    if spec.self_managed:
        return ()
    if spec.family is Family.CHROMIUM:
        assert spec.webrtc_key is not None
        return (Setting(spec.webrtc_key, CHROMIUM_VALUES[level]),)
    return tuple(Setting(name, value) for name, value in FIREFOX_PREFS[level].items())


def chromium_level_of(value: object) -> Level | None:
    for level, v in CHROMIUM_VALUES.items():
        if value == v:
            return level
    return None


def firefox_locked_pref(value: Any) -> dict[str, Any]:
    """The ``Preferences`` policy entry that locks ``value``."""
    return {"Value": value, "Status": "locked"}


def firefox_level_of(prefs: dict[str, Any]) -> tuple[Level | None, bool]:
    """(level, partial) for a ``Preferences`` policy object.

    A level counts only when each of its prefs is *locked* at its value;
    ``partial`` is true when some, but not all, of a level's prefs are.
    """

    def locked_at(name: str, value: Any) -> bool:
        entry = prefs.get(name)
        return (
            isinstance(entry, dict)
            and entry.get("Value") == value
            and entry.get("Status") == "locked"
        )

    partial = False
    for level in (Level.STRICT, Level.BALANCED):
        wanted = FIREFOX_PREFS[level]
        hits = sum(1 for name, value in wanted.items() if locked_at(name, value))
        if hits == len(wanted):
            return level, False
        if hits:
            partial = True
    return None, partial
