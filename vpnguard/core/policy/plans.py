"""Windows registry and macOS managed-preference *plans*: pure data.

A plan is what must be true after writing, as values; thin adapters apply it
(``winreg`` on Windows, a configuration profile on macOS) and the admin
exporter renders the very same plan to ``.reg``, PowerShell and
``.mobileconfig``. Tests check plans on Linux by parsing what is rendered.
"""

from __future__ import annotations

import dataclasses
import json

from vpnguard.core.browsers.catalog import BrowserSpec
from vpnguard.core.model import Family, Level
from vpnguard.core.policy.levels import firefox_locked_pref, settings_for

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

HKLM = "HKLM"


@dataclasses.dataclass(frozen=True)
class RegValue:
    """One registry value under HKLM; ``data`` is str (REG_SZ), int (REG_DWORD) or a tuple
    of str (REG_MULTI_SZ)."""

    hive: str
    key: str
    name: str
    type: str  # "REG_SZ" | "REG_DWORD" | "REG_MULTI_SZ"
    data: str | int | tuple[str, ...]


def firefox_preferences(spec: BrowserSpec, level: Level) -> dict[str, Any]:
    """The ``Preferences`` policy object (pref -> locked entry) for a Firefox-family browser."""
    return {s.name: firefox_locked_pref(s.value) for s in settings_for(spec, level)}


def windows_values(spec: BrowserSpec, level: Level) -> tuple[RegValue, ...]:
    """Registry values that make ``level`` mandatory for ``spec`` (empty if it has no key).

    Firefox reads its ``Preferences`` policy on Windows as one JSON document in a
    REG_MULTI_SZ value named ``Preferences`` under its policy key (the GPO
    "Preferences (JSON)" form); booleans stay JSON booleans, so no ``Type`` is needed.
    """
    key = spec.windows.policy_key
    if key is None or spec.self_managed:
        return ()
    if spec.family is Family.CHROMIUM:
        return tuple(
            RegValue(HKLM, key, s.name, "REG_SZ", str(s.value)) for s in settings_for(spec, level)
        )
    doc = json.dumps(firefox_preferences(spec, level), indent=2, sort_keys=True)
    return (RegValue(HKLM, key, "Preferences", "REG_MULTI_SZ", tuple(doc.splitlines())),)


def macos_payload_content(spec: BrowserSpec, level: Level) -> dict[str, Any]:
    """The managed-preference keys for ``spec``'s domain (what a profile payload carries)."""
    if spec.macos.domain is None or spec.self_managed:
        return {}
    if spec.family is Family.CHROMIUM:
        return {s.name: s.value for s in settings_for(spec, level)}
    return {
        "EnterprisePoliciesEnabled": True,
        "Preferences": firefox_preferences(spec, level),
    }
