"""Read protection back from disk: what the browser will really get.

Nothing here trusts the journal: a browser's protection is what its policy
sources say now, including files an admin wrote and values that conflict.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vpnguard.core.browsers.catalog import BY_ID, BrowserSpec
from vpnguard.core.host import Host
from vpnguard.core.model import (
    Browser,
    Conflict,
    Level,
    PolicyState,
    PolicyTarget,
    Protection,
    TargetKind,
    TargetState,
)
from vpnguard.core.policy.levels import (
    CHROMIUM_VALUES,
    OWN_FILE,
    chromium_level_of,
    firefox_level_of,
    protection_of,
)

if TYPE_CHECKING:
    from vpnguard.core.policy.registry import Registry

log = logging.getLogger(__name__)

WEAKENING_KEYS = ("WebRtcLocalIpsAllowedUrls",)


def _load(path: Any) -> tuple[dict[str, Any] | None, str]:
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        return None, ""
    except PermissionError:
        return None, f"{path.name}: unreadable"
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        return None, f"{path.name}: not valid JSON, the browser ignores it ({exc})"
    if not isinstance(doc, dict):
        return None, f"{path.name}: not a JSON object, the browser ignores it"
    return doc, ""


def _level_protection(level: Level | None) -> Protection:
    return protection_of(level)


def chromium_dir_state(host: Host, spec: BrowserSpec, target: PolicyTarget) -> TargetState:
    key = spec.webrtc_key or ""
    directory = host.p(target.location)
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    except FileNotFoundError:
        return TargetState(target, Protection.NONE, "no managed policy directory")
    except PermissionError:
        return TargetState(target, Protection.NONE, "policy directory unreadable")
    ours: Any = None
    others: list[tuple[str, Any]] = []
    notes: list[str] = []
    for name in names:
        doc, problem = _load(directory / name)
        if problem:
            notes.append(problem)
        if doc is None:
            continue
        for weak in WEAKENING_KEYS:
            if weak in doc:
                notes.append(f"{name} sets {weak}: listed origins still see local addresses")
        if key in doc:
            if name == OWN_FILE:
                ours = doc[key]
            else:
                others.append((f"{target.location}/{name}", doc[key]))
    # Edge and Chrome use different names; a file naming the other one does nothing.
    conflicts = tuple(
        Conflict(source, key, value, ours)
        for source, value in others
        if ours is not None and value != ours
    )
    if conflicts:
        names_ = ", ".join(c.source for c in conflicts)
        return TargetState(
            target, Protection.CONFLICT, f"{names_} sets {key} differently", conflicts
        )
    values = [v for _, v in others] + ([ours] if ours is not None else [])
    if not values:
        return TargetState(target, Protection.NONE, "; ".join(notes))
    value = values[0]
    if len({json.dumps(v) for v in values}) > 1:
        c = tuple(Conflict(s, key, v, values[0]) for s, v in others)
        return TargetState(target, Protection.CONFLICT, f"managed files disagree on {key}", c)
    level = chromium_level_of(value)
    who = "vpnguard" if ours is not None else ", ".join(s for s, _ in others)
    detail = f"{key}={value} (set by {who})"
    if level is None and value not in CHROMIUM_VALUES.values():
        detail = f"{key}={value!r} set by {who} gives no protection"
    return TargetState(target, _level_protection(level), "; ".join([detail, *notes]))


def firefox_file_state(host: Host, target: PolicyTarget) -> TargetState:
    doc, problem = _load(host.p(target.location))
    if doc is None:
        return TargetState(target, Protection.NONE, problem or "no policies.json")
    policies = doc.get("policies")
    prefs = policies.get("Preferences") if isinstance(policies, dict) else None
    if not isinstance(prefs, dict):
        return TargetState(target, Protection.NONE, "policies.json sets no Preferences")
    level, partial = firefox_level_of(prefs)
    if level is not None:
        return TargetState(target, _level_protection(level), "locked prefs in policies.json")
    if partial:
        return TargetState(target, Protection.PARTIAL, "only some of the WebRTC prefs are locked")
    return TargetState(target, Protection.NONE, "")


def macos_state(host: Host, spec: BrowserSpec, target: PolicyTarget) -> TargetState:
    """Mandatory macOS policy: what a configuration profile put in Managed Preferences.

    A plain ``defaults write`` is only a recommendation the user can override, so
    only ``/Library/Managed Preferences`` counts.
    """
    import plistlib

    path = host.p(f"/Library/Managed Preferences/{target.location}.plist")
    try:
        with open(path, "rb") as fh:
            doc = plistlib.load(fh)
    except FileNotFoundError:
        return TargetState(target, Protection.NONE, "no configuration profile sets it")
    except (OSError, plistlib.InvalidFileException, ValueError) as exc:
        return TargetState(target, Protection.NONE, f"unreadable managed preferences: {exc}")
    if not isinstance(doc, dict):
        return TargetState(target, Protection.NONE, "managed preferences are not a dictionary")
    if spec.webrtc_key:
        value = doc.get(spec.webrtc_key)
        level = chromium_level_of(value)
        if value is None:
            return TargetState(target, Protection.NONE, "")
        return TargetState(target, _level_protection(level), f"{spec.webrtc_key}={value}")
    prefs = doc.get("Preferences")
    if not doc.get("EnterprisePoliciesEnabled") or not isinstance(prefs, dict):
        return TargetState(target, Protection.NONE, "")
    level, partial = firefox_level_of(prefs)
    if level is None:
        return TargetState(target, Protection.PARTIAL if partial else Protection.NONE, "")
    return TargetState(target, _level_protection(level), "locked prefs from a profile")


def combine(states: Sequence[TargetState]) -> Protection:
    if not states:
        return Protection.UNSUPPORTED
    kinds = {s.protection for s in states}
    if Protection.CONFLICT in kinds:
        return Protection.CONFLICT
    if len(kinds) == 1:
        return kinds.pop()
    return Protection.PARTIAL


def _started_before(host: Host, browser: Browser, mtime: float) -> bool:
    """True when a process of this browser started before the policy last changed."""
    if not host.is_live or not browser.running:
        return False
    import psutil

    names = set(BY_ID[browser.id].process_names)
    for proc in psutil.process_iter(["name", "create_time"]):
        if proc.info.get("name") in names and (proc.info.get("create_time") or 0) < mtime:
            return True
    return False


def read_state(host: Host, browser: Browser, registry: Registry | None = None) -> PolicyState:
    spec = BY_ID[browser.id]
    if spec.self_managed:
        return PolicyState(
            browser.id, Protection.SELF_MANAGED, (), False, "manages WebRTC itself; not written"
        )
    states: list[TargetState] = []
    mtimes: list[float] = []
    for target in browser.targets:
        if target.kind is TargetKind.CHROMIUM_MANAGED_DIR:
            states.append(chromium_dir_state(host, spec, target))
            p = host.p(target.location)
        elif target.kind is TargetKind.FIREFOX_POLICIES_JSON:
            states.append(firefox_file_state(host, target))
            p = host.p(target.location)
        elif target.kind is TargetKind.MACOS_MANAGED_PREFS:
            states.append(macos_state(host, spec, target))
            continue
        elif target.kind is TargetKind.WINDOWS_REGISTRY and registry is not None:
            from vpnguard.core.policy.registry import target_state

            states.append(target_state(registry, browser, target))
            continue
        else:
            states.append(TargetState(target, Protection.UNSUPPORTED, "read on its own OS only"))
            continue
        with contextlib.suppress(OSError):
            mtimes.append(p.stat().st_mtime)
    protection = combine(states)
    restart = bool(spec.restart_to_apply and mtimes and _started_before(host, browser, max(mtimes)))
    detail = "; ".join(s.detail for s in states if s.detail)
    if not states:
        detail = "no known policy location for this install"
    return PolicyState(browser.id, protection, tuple(states), restart, detail)


def read_states(
    host: Host, browsers: Sequence[Browser], registry: Registry | None = None
) -> dict[str, PolicyState]:
    return {b.id: read_state(host, b, registry) for b in browsers}
