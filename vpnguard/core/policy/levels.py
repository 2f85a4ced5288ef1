"""What each protection level means, per browser family: the one source of truth.

Local ``protect``, the admin bundles and the status read-back all derive from
these tables. Pure data and pure functions only.

Measured in the leak lab (docs/matrix.md, tests/lab/test_matrix.py):

* ``relay`` (recommended): Chromium ``disable_non_proxied_udp``, Firefox
  ``default_address_only`` + ``no_host`` + ``relay_only``. No host or
  server-reflexive address in any scenario or view; calls still connect
  through a site's TURN server (Chromium: TURN over TCP/TLS only).
* ``strict``: same Chromium value (there is none stronger); Firefox
  ``proxy_only`` instead of ``relay_only``, which allows no TURN relay without
  an HTTP proxy, so every Firefox call fails. For when calls do not matter.
* ``balanced``: Chromium ``default_public_interface_only``, Firefox
  ``default_address_only`` + ``no_host`` + ``proxy_only_if_behind_proxy``:
  direct calls, but only safe in a verified full tunnel (leaks in a split
  tunnel, with an IPv6 route around the tunnel, and without a VPN).

Names are stable: journals, hook lines (``--level strict``) and files written
by earlier versions read back as the same level.
"""

from __future__ import annotations

from vpnguard.core.browsers.catalog import BrowserSpec
from vpnguard.core.model import Family, Level, LevelChoice, Protection
from vpnguard.core.record import record

RECOMMENDED = Level.RELAY

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

# vpnguard's own file in each Chromium managed-policy directory.
OWN_FILE = "vpnguard.json"

CHROMIUM_VALUES: dict[Level, str] = {
    Level.STRICT: "disable_non_proxied_udp",
    Level.RELAY: "disable_non_proxied_udp",  # Chromium has nothing stronger: same as strict
    Level.BALANCED: "default_public_interface_only",
}

PREF = "media.peerconnection.ice."

FIREFOX_PREFS: dict[Level, dict[str, Any]] = {
    Level.STRICT: {
        PREF + "default_address_only": True,
        PREF + "no_host": True,
        PREF + "proxy_only": True,
    },
    Level.RELAY: {
        PREF + "default_address_only": True,
        PREF + "no_host": True,
        PREF + "relay_only": True,
    },
    Level.BALANCED: {
        PREF + "default_address_only": True,
        PREF + "no_host": True,
        PREF + "proxy_only_if_behind_proxy": True,
    },
}

# Read-back order: the first level whose settings are all present wins (for
# Chromium, where strict and relay write the same value, that is strict).
READ_ORDER: tuple[Level, ...] = (Level.STRICT, Level.RELAY, Level.BALANCED)

PROTECTION: dict[Level, Protection] = {
    Level.STRICT: Protection.STRICT,
    Level.RELAY: Protection.RELAY,
    Level.BALANCED: Protection.BALANCED,
}

# Every pref any level may set: switching levels must undo the ones the new
# level does not set.
ALL_FIREFOX_PREFS: tuple[str, ...] = tuple(
    dict.fromkeys(p for prefs in FIREFOX_PREFS.values() for p in prefs)
)

LEVEL_SUMMARY: dict[Level, str] = {
    Level.RELAY: (
        "Recommended. WebRTC only through a TURN relay: no local or public address is "
        "gathered in full or split tunnels, with IPv6 or without a VPN, and calls still "
        "connect through the site's TURN server (Chromium-family browsers: TURN over TCP "
        "or TLS only). A TURN server reached outside the VPN (split tunnel) still sees "
        "your ISP-side address."
    ),
    Level.STRICT: (
        "No direct WebRTC at all: nothing is gathered in any scenario. Chromium-family "
        "calls still work through TURN over TCP/TLS; Firefox calls do not work at all "
        "(no relay without a proxy). In a split tunnel a page's own TURN server, reached "
        "outside the VPN, still sees the ISP-side address (Chromium shows it as the "
        "relay's raddr)."
    ),
    Level.BALANCED: (
        "Only the default-route interface is used and local addresses stay hidden; "
        "direct calls work. Safe only in a full tunnel: Does NOT hold in a split tunnel, "
        "when IPv6 bypasses the VPN, or without a VPN."
    ),
}

# What each choice in the app's level chooser says (auto is resolved per network).
CHOICE_SUMMARY: dict[LevelChoice, str] = {
    **{LevelChoice(level.value): text for level, text in LEVEL_SUMMARY.items()},
    LevelChoice.AUTO: (
        "Follows your VPN: balanced (direct calls) while a verified full tunnel carries all "
        "your traffic, relay in a split tunnel, when IPv6 goes around the VPN, or without a "
        "VPN. Re-chosen whenever the tunnel changes while auto mode runs."
    ),
}

# What the same levels mean for calls, in plain words per family (the app and
# the CLI say this; tests/lab/test_matrix.py holds the measured cells).
CALLS: dict[Level, dict[Family, str]] = {
    Level.RELAY: {
        Family.CHROMIUM: "calls work through TURN over TCP/TLS (not TURN over UDP)",
        Family.FIREFOX: (
            "calls work through TURN over UDP or TCP, except through a TURN server that a "
            "split tunnel bypasses (no answer reaches Firefox there)"
        ),
    },
    Level.STRICT: {
        Family.CHROMIUM: "calls work through TURN over TCP/TLS (not TURN over UDP)",
        Family.FIREFOX: "calls are blocked (no path without an HTTP proxy)",
    },
    Level.BALANCED: {
        Family.CHROMIUM: "calls work, directly or through TURN",
        Family.FIREFOX: "calls work, directly or through TURN",
    },
}


@record
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
    for level in READ_ORDER:
        if value == CHROMIUM_VALUES[level]:
            return level
    return None


def protection_of(level: Level | None) -> Protection:
    return PROTECTION[level] if level is not None else Protection.NONE


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
    for level in READ_ORDER:
        wanted = FIREFOX_PREFS[level]
        hits = sum(1 for name, value in wanted.items() if locked_at(name, value))
        if hits == len(wanted):
            return level, False
        if hits:
            partial = True
    return None, partial
