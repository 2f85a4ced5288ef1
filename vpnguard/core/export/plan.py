# ruff: noqa: E501  (admin-facing text and embedded script templates read better unwrapped)
"""What an admin bundle contains, decided once, before anything is rendered.

Every value comes from :mod:`vpnguard.core.policy.levels` (through ``settings_for``
and :mod:`vpnguard.core.policy.plans`); this module only decides *where* each
browser's settings go per platform and records, per browser, what cannot be
expressed there, so the README and manifest say it instead of dropping it.
"""

from __future__ import annotations

import dataclasses
import os
from enum import StrEnum
from typing import Any

from vpnguard.core.browsers.catalog import BrowserSpec
from vpnguard.core.errors import UsageError
from vpnguard.core.export.urlpatterns import UrlException
from vpnguard.core.model import Family, Level
from vpnguard.core.policy.levels import settings_for
from vpnguard.core.policy.plans import firefox_preferences

URL_POLICY = "WebRtcIPHandlingUrl"
CHROMIUM_FILE = "vpnguard.json"
FIREFOX_CONTAINER = ("policies", "Preferences")


class Platform(StrEnum):
    LINUX = "linux"
    WINDOWS = "windows"
    MACOS = "macos"


ALL_PLATFORMS: tuple[Platform, ...] = (Platform.LINUX, Platform.WINDOWS, Platform.MACOS)


def parse_platforms(names: list[str] | tuple[str, ...] | None) -> tuple[Platform, ...]:
    """``linux``/``windows``/``macos``/``all`` (repeatable; empty means all), in a fixed order."""
    wanted: set[Platform] = set()
    for name in names or ("all",):
        key = name.strip().lower()
        if key == "all":
            wanted.update(ALL_PLATFORMS)
            continue
        try:
            wanted.add(Platform(key))
        except ValueError:
            raise UsageError(
                f"unknown platform {name!r} (known: linux, windows, macos, all)"
            ) from None
    return tuple(p for p in ALL_PLATFORMS if p in wanted)


@dataclasses.dataclass(frozen=True)
class Note:
    """Something a browser cannot do on a platform, said in the README and manifest."""

    browser_id: str
    platform: str  # a Platform value or "all"
    text: str


@dataclasses.dataclass(frozen=True)
class LinuxTarget:
    """One file install.sh merges our keys into (paths as the system sees them)."""

    path: str
    container: tuple[str, ...]
    keys: dict[str, Any]
    browsers: tuple[str, ...]
    fallbacks: tuple[str, ...] = ()
    only_if: str | None = None

    def to_plan(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "container": list(self.container),
            "keys": self.keys,
            "browsers": list(self.browsers),
        }
        if self.fallbacks:
            out["fallbacks"] = list(self.fallbacks)
        if self.only_if:
            out["only_if"] = self.only_if
        return out


def chromium_policy(
    spec: BrowserSpec, level: Level, exceptions: tuple[UrlException, ...]
) -> dict[str, Any]:
    """The Chromium-family managed policy object for ``spec`` (level + URL exceptions)."""
    policy: dict[str, Any] = {s.name: s.value for s in settings_for(spec, level)}
    if exceptions:
        policy[URL_POLICY] = [e.to_policy() for e in exceptions]
    return policy


def browser_settings(
    spec: BrowserSpec, level: Level, exceptions: tuple[UrlException, ...]
) -> dict[str, Any]:
    if spec.self_managed:
        return {}
    if spec.family is Family.CHROMIUM:
        return chromium_policy(spec, level, exceptions)
    return {"Preferences": firefox_preferences(spec, level)}


def _install_dirs(spec: BrowserSpec) -> tuple[str, ...]:
    return tuple(dict.fromkeys(os.path.dirname(p) for p in spec.linux.paths))


def linux_targets(
    specs: tuple[BrowserSpec, ...], level: Level, exceptions: tuple[UrlException, ...]
) -> tuple[LinuxTarget, ...]:
    targets: list[LinuxTarget] = []
    firefox: dict[str, tuple[dict[str, Any], list[str], list[str], str | None]] = {}
    for spec in specs:
        if spec.self_managed:
            continue
        if spec.family is Family.CHROMIUM:
            policy = chromium_policy(spec, level, exceptions)
            for d in spec.linux.policy_dirs:
                targets.append(LinuxTarget(f"{d}/{CHROMIUM_FILE}", (), policy, (spec.id,)))
            if spec.linux.flatpak_policy_dir and spec.linux.flatpak:
                targets.append(
                    LinuxTarget(
                        f"{spec.linux.flatpak_policy_dir}/{CHROMIUM_FILE}",
                        (),
                        policy,
                        (spec.id,),
                        only_if=f"/var/lib/flatpak/app/{spec.linux.flatpak}",
                    )
                )
            continue
        prefs = firefox_preferences(spec, level)
        files = [f for f in spec.linux.policy_files if "{install}" not in f]
        fallbacks = [
            f.replace("{install}", d)
            for f in spec.linux.policy_files
            if "{install}" in f
            for d in _install_dirs(spec)
        ]
        for f in files:
            keys, browsers, fb, _ = firefox.setdefault(f, ({}, [], [], None))
            keys.update(prefs)
            browsers.append(spec.id)
            fb.extend(x for x in fallbacks if x not in fb)
        if spec.linux.flatpak_policy_file and spec.linux.flatpak:
            f = spec.linux.flatpak_policy_file
            keys, browsers, _, _ = firefox.setdefault(
                f, ({}, [], [], f"/var/lib/flatpak/app/{spec.linux.flatpak}")
            )
            keys.update(prefs)
            browsers.append(spec.id)
    for path, (keys, browsers, fb, only_if) in firefox.items():
        targets.append(
            LinuxTarget(path, FIREFOX_CONTAINER, keys, tuple(browsers), tuple(fb), only_if)
        )
    return tuple(targets)


def notes_for(
    specs: tuple[BrowserSpec, ...],
    platforms: tuple[Platform, ...],
    exceptions: tuple[UrlException, ...],
) -> tuple[Note, ...]:
    notes: list[Note] = []
    for spec in specs:
        if spec.self_managed:
            notes.append(
                Note(
                    spec.id, "all", f"{spec.name} manages WebRTC itself; nothing is written for it."
                )
            )
            continue
        where = {
            Platform.LINUX: bool(spec.linux.policy_dirs or spec.linux.policy_files),
            Platform.WINDOWS: spec.windows.policy_key is not None,
            # Opera documents no macOS policy domain (see export/macos.py).
            Platform.MACOS: spec.macos.domain is not None and spec.id != "opera",
        }
        for p in platforms:
            if not where[p]:
                notes.append(
                    Note(
                        spec.id,
                        p.value,
                        f"{spec.name}: no known managed-policy location on {p.value}; nothing is written for it there.",
                    )
                )
        if not spec.verified:
            notes.append(
                Note(
                    spec.id,
                    "all",
                    f"{spec.name}: policy locations come from vendor documentation and are not yet proven in vpnguard's lab; verify with {'chrome://policy' if spec.family is Family.CHROMIUM else 'about:policies'}.",
                )
            )
        if exceptions and spec.family is Family.FIREFOX:
            notes.append(
                Note(
                    spec.id,
                    "all",
                    f"{spec.name} cannot express per-URL WebRTC exceptions: the exceptions do NOT apply to it; every site gets the bundle's level.",
                )
            )
        if exceptions and spec.id == "edge":
            notes.append(
                Note(
                    spec.id,
                    "all",
                    "Microsoft Edge honors WebRtcIPHandlingUrl from version 135 (documented for Windows and macOS); older versions ignore the exceptions.",
                )
            )
        elif exceptions and spec.family is Family.CHROMIUM:
            notes.append(
                Note(
                    spec.id,
                    "all",
                    f"{spec.name}: per-URL exceptions (WebRtcIPHandlingUrl) need Chromium 133 or later; older versions ignore them.",
                )
            )
    return tuple(notes)
