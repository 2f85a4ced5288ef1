"""Windows: apply the registry plan through a thin adapter, with the same journal.

The plan (``plans.windows_values``) is pure; :class:`WinRegistry` is the only
code that touches ``winreg``, and anything with the :class:`Registry` shape can
stand in for it (tests use an in-memory registry that keeps the same types).
Firefox's ``Preferences`` value is one JSON document shared with the admin's
other prefs: it is merged and taken back key by key, like ``policies.json``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any, Protocol

from vpnguard.core.browsers.catalog import BY_ID
from vpnguard.core.errors import NeedsElevationError, VpnguardError
from vpnguard.core.model import (
    Browser,
    Family,
    FileAction,
    Level,
    PolicyTarget,
    Protection,
    TargetKind,
    TargetState,
)
from vpnguard.core.policy import fsio, render
from vpnguard.core.policy.engine import FileChange
from vpnguard.core.policy.journal import Entry, Journal
from vpnguard.core.policy.levels import chromium_level_of, firefox_level_of, protection_of
from vpnguard.core.policy.plans import RegValue, windows_values

Value = tuple[str, Any]  # (REG_SZ | REG_DWORD | REG_MULTI_SZ, data)


class Registry(Protocol):
    def read(self, key: str, name: str) -> Value | None: ...
    def write(self, key: str, name: str, value: Value) -> None: ...
    def delete(self, key: str, name: str) -> None: ...


class WinRegistry:  # pragma: no cover - runs on Windows only
    """HKLM through ``winreg``, 64-bit view (policy keys are not redirected there)."""

    def __init__(self) -> None:
        import winreg  # type: ignore[import-not-found,unused-ignore]

        self._w: Any = winreg
        self._types = {
            "REG_SZ": self._w.REG_SZ,
            "REG_DWORD": self._w.REG_DWORD,
            "REG_MULTI_SZ": self._w.REG_MULTI_SZ,
        }

    def _sub(self, key: str) -> str:
        return key.split("\\", 1)[1] if key.upper().startswith("HKLM\\") else key

    def read(self, key: str, name: str) -> Value | None:
        w = self._w
        try:
            with w.OpenKey(
                w.HKEY_LOCAL_MACHINE, self._sub(key), 0, w.KEY_READ | w.KEY_WOW64_64KEY
            ) as k:
                data, typ = w.QueryValueEx(k, name)
        except FileNotFoundError:
            return None
        names = {v: n for n, v in self._types.items()}
        return names.get(typ, str(typ)), tuple(data) if isinstance(data, list) else data

    def write(self, key: str, name: str, value: Value) -> None:
        w = self._w
        data = list(value[1]) if value[0] == "REG_MULTI_SZ" else value[1]
        try:
            with w.CreateKeyEx(
                w.HKEY_LOCAL_MACHINE, self._sub(key), 0, w.KEY_SET_VALUE | w.KEY_WOW64_64KEY
            ) as k:
                w.SetValueEx(k, name, 0, self._types[value[0]], data)
        except PermissionError:
            raise NeedsElevationError(f"writing {key} needs an administrator") from None

    def delete(self, key: str, name: str) -> None:
        w = self._w
        try:
            with w.OpenKey(
                w.HKEY_LOCAL_MACHINE, self._sub(key), 0, w.KEY_SET_VALUE | w.KEY_WOW64_64KEY
            ) as k:
                w.DeleteValue(k, name)
        except FileNotFoundError:
            pass
        except PermissionError:
            raise NeedsElevationError(f"writing {key} needs an administrator") from None


def _encode(value: Value | None) -> bytes | None:
    if value is None:
        return None
    typ, data = value
    return json.dumps(
        {"type": typ, "data": list(data) if isinstance(data, tuple) else data}, sort_keys=True
    ).encode()


def _decode(raw: bytes | None) -> Value | None:
    if raw is None:
        return None
    doc = json.loads(raw)
    data = doc["data"]
    return doc["type"], tuple(data) if isinstance(data, list) else data


def _prefs_doc(value: Value | None, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    data = value[1]
    text = "\n".join(data) if isinstance(data, tuple) else str(data)
    return render.parse_object(text.encode(), where)


def _prefs_value(doc: dict[str, Any]) -> Value:
    return "REG_MULTI_SZ", tuple(json.dumps(doc, indent=2, sort_keys=True).splitlines())


@dataclasses.dataclass
class RegStep:
    change: FileChange
    key: str
    name: str
    before: Value | None
    after: Value | None
    entry: Entry | None


def plan_protect(
    registry: Registry, browsers: Sequence[Browser], level: Level, journal: Journal
) -> list[RegStep]:
    wanted: dict[str, tuple[RegValue, list[str]]] = {}
    for b in browsers:
        if b.self_managed or not any(t.kind is TargetKind.WINDOWS_REGISTRY for t in b.targets):
            continue
        for rv in windows_values(BY_ID[b.id], level):
            loc = f"{rv.hive}\\{rv.key}\\{rv.name}"
            wanted.setdefault(loc, (rv, []))[1].append(b.id)
    steps: list[RegStep] = []
    for loc, (rv, ids) in wanted.items():
        before = registry.read(f"{rv.hive}\\{rv.key}", rv.name)
        old = journal.entries.get(loc)
        applied: list[render.Applied] = []
        doc: dict[str, Any] = {}
        if rv.name == "Preferences":
            doc = _prefs_doc(before, loc)
            if old is not None:
                doc = render.undo(doc, old.applied, old.created, loc)
            edits = [render.Edit((k,), v) for k, v in json.loads("\n".join(rv.data)).items()]  # type: ignore[arg-type]
            new_doc, got, _ = render.apply(doc, edits, loc)
            applied = list(got)
            after: Value = _prefs_value(new_doc)
        else:
            after = (rv.type, rv.data)
        keep = old or Entry(
            loc,
            TargetKind.WINDOWS_REGISTRY.value,
            [],
            level.value,
            before is not None,
            Entry.encode(_encode(before)),
            None,
            None,
            [],
            [],
            [],
        )
        if (
            old is not None
            and rv.name == "Preferences"
            and fsio.sha256(_encode(before)) != old.written_sha256
        ):
            # Changed by an admin since vpnguard wrote it: the undo is rebased on the value
            # as it is now, minus vpnguard's prefs (never the value from the first protect).
            exists = before is not None and (bool(doc) or old.original_exists)
            keep = dataclasses.replace(
                old,
                original_exists=exists,
                original_b64=Entry.encode(_encode(_prefs_value(doc))) if exists else None,
            )
        entry = dataclasses.replace(
            keep,
            browsers=sorted(set(ids) | set(keep.browsers)),
            level=level.value,
            applied=applied,
            written_sha256=fsio.sha256(_encode(after)),
        )
        action = (
            FileAction.UNCHANGED
            if before == after
            else (FileAction.CREATE if before is None else FileAction.MODIFY)
        )
        detail = (
            f"already {level.value}" if action == FileAction.UNCHANGED else f"set {level.value}"
        )
        steps.append(
            RegStep(
                FileChange(loc, action, tuple(sorted(ids)), detail),
                f"{rv.hive}\\{rv.key}",
                rv.name,
                before,
                after,
                entry,
            )
        )
    return steps


def plan_unprotect(
    registry: Registry, browser_ids: Sequence[str] | None, journal: Journal
) -> list[RegStep]:
    steps: list[RegStep] = []
    for loc, entry in sorted(journal.entries.items()):
        if entry.kind != TargetKind.WINDOWS_REGISTRY.value:
            continue
        if browser_ids and not set(entry.browsers) & set(browser_ids):
            continue
        key, name = loc.rsplit("\\", 1)
        current = registry.read(key, name)
        original = _decode(entry.original)
        ids = tuple(entry.browsers)
        if fsio.sha256(_encode(current)) == entry.written_sha256 or current == original:
            action = (
                FileAction.UNCHANGED
                if current == original
                else (FileAction.REMOVE if original is None else FileAction.RESTORE)
            )
            steps.append(
                RegStep(
                    FileChange(loc, action, ids, "as it was before vpnguard"),
                    key,
                    name,
                    current,
                    original,
                    None,
                )
            )
        elif name == "Preferences" and current is not None:
            doc = render.undo(_prefs_doc(current, loc), entry.applied, entry.created, loc)
            after = _prefs_value(doc) if doc or entry.original_exists else None
            steps.append(
                RegStep(
                    FileChange(
                        loc,
                        FileAction.MODIFY if after else FileAction.REMOVE,
                        ids,
                        "only vpnguard's prefs taken back",
                    ),
                    key,
                    name,
                    current,
                    after,
                    None,
                )
            )
        else:
            steps.append(
                RegStep(
                    FileChange(
                        loc,
                        FileAction.UNCHANGED,
                        ids,
                        "changed by someone since vpnguard wrote it; left",
                    ),
                    key,
                    name,
                    current,
                    current,
                    None,
                )
            )
    return steps


def execute(registry: Registry, steps: Sequence[RegStep], journal: Journal) -> None:
    done: list[RegStep] = []
    saved = dict(journal.entries)
    try:
        for step in steps:
            loc = f"{step.key}\\{step.name}"
            if step.entry is not None:
                journal.entries[loc] = step.entry
            else:
                journal.entries.pop(loc, None)
            journal.save()
            if step.change.action == FileAction.UNCHANGED:
                continue
            if step.after is None:
                registry.delete(step.key, step.name)
            else:
                registry.write(step.key, step.name, step.after)
            done.append(step)
    except VpnguardError:
        for step in reversed(done):
            if step.before is None:
                registry.delete(step.key, step.name)
            else:
                registry.write(step.key, step.name, step.before)
        journal.entries = saved
        journal.save()
        raise


def target_state(registry: Registry, browser: Browser, target: PolicyTarget) -> TargetState:
    spec = BY_ID[browser.id]
    key = target.location
    if spec.family is Family.CHROMIUM:
        value = registry.read(key, spec.webrtc_key or "")
        if value is None:
            return TargetState(target, Protection.NONE, "")
        prot = protection_of(chromium_level_of(value[1]))
        return TargetState(target, prot, f"{spec.webrtc_key}={value[1]}")
    try:
        prefs = _prefs_doc(registry.read(key, "Preferences"), key)
    except VpnguardError as exc:
        return TargetState(target, Protection.NONE, exc.message)
    level, partial = firefox_level_of(prefs)
    if level is not None:
        return TargetState(target, protection_of(level), "locked prefs in the registry")
    return TargetState(target, Protection.PARTIAL if partial else Protection.NONE, "")
