"""What vpnguard wrote, and what was there before: the basis of exact undo.

One entry per policy file (or registry value) vpnguard manages. The entry is
saved *before* the file is written (a write-ahead record) and also carries
``previous``, the entry as it was before that write (``{}`` when there was
none). The next run (``engine.recover``) looks at the file: if it holds what
the entry says was written, the write happened; if it holds what ``previous``
describes, it never did and the entry goes back to ``previous``, with the
temp file and any directory the killed run created removed.

Format version 2 (``"version": 2``) records the concrete value of every
setting written (not only a level name, which may be renamed) and the
write-ahead record; version 1 journals (``"schema_version": 1``) are migrated
on load.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

from vpnguard.core.errors import NeedsElevationError, RefusedError
from vpnguard.core.host import Host
from vpnguard.core.lock import busy_changing, exclusive
from vpnguard.core.policy import fsio
from vpnguard.core.policy.render import Applied, KeyPath, loads_strict

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

JOURNAL_VERSION = 2

# What the two v1 levels wrote, frozen here so that v1 journals migrate the same way
# whatever the level tables say today.
_V1_CHROMIUM = {"strict": "disable_non_proxied_udp", "balanced": "default_public_interface_only"}
_V1_PREF = "media.peerconnection.ice."
_V1_FIREFOX: dict[str, dict[str, bool]] = {
    "strict": {
        _V1_PREF + "default_address_only": True,
        _V1_PREF + "no_host": True,
        _V1_PREF + "proxy_only": True,
    },
    "balanced": {
        _V1_PREF + "default_address_only": True,
        _V1_PREF + "no_host": True,
        _V1_PREF + "proxy_only_if_behind_proxy": True,
    },
}
LOCK_WAIT_S = 30.0


@dataclasses.dataclass
class Entry:
    location: str  # system path of the file, or registry key\\value
    kind: str
    browsers: list[str]
    level: str
    original_exists: bool
    original_b64: str | None
    original_mode: int | None
    written_sha256: str | None
    applied: list[Applied]
    created: list[KeyPath]
    created_dirs: list[str]
    previous: dict[str, Any] | None = None  # write-ahead: the entry before this run ({}: none)

    @property
    def original(self) -> bytes | None:
        if not self.original_exists or self.original_b64 is None:
            return None
        return base64.b64decode(self.original_b64)

    def to_json(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "kind": self.kind,
            "browsers": sorted(self.browsers),
            "level": self.level,
            "original_exists": self.original_exists,
            "original_b64": self.original_b64,
            "original_mode": self.original_mode,
            "written_sha256": self.written_sha256,
            "applied": [a.to_json() for a in self.applied],
            "created": [list(c) for c in self.created],
            "created_dirs": self.created_dirs,
            "previous": self.previous,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Entry:
        """Parse one entry, checking every type: a crafted journal is refused, not obeyed."""

        def strs(value: Any, what: str) -> list[str]:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"{what} is not a list of strings")
            return list(value)

        def opt(value: Any, kind: type, what: str) -> Any:
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise TypeError(f"{what} has the wrong type")
            return value

        if not isinstance(doc, dict):
            raise TypeError("an entry is not an object")
        location, kind, level = doc["location"], doc["kind"], doc["level"]
        if not all(isinstance(v, str) for v in (location, kind, level)):
            raise TypeError("location, kind and level must be strings")
        if not isinstance(doc["original_exists"], bool):
            raise TypeError("original_exists must be true or false")
        original_b64 = opt(doc.get("original_b64"), str, "original_b64")
        if original_b64 is not None:
            base64.b64decode(original_b64, validate=True)
        mode = opt(doc.get("original_mode"), int, "original_mode")
        if mode is not None and not 0 <= mode <= 0o7777:
            raise ValueError("original_mode out of range")
        created = doc.get("created", [])
        if not isinstance(created, list):
            raise TypeError("created is not a list")
        previous = doc.get("previous")
        if previous is not None:
            if not isinstance(previous, dict):
                raise TypeError("previous is not an object")
            if previous:
                cls.from_json(previous)
        applied = doc.get("applied", [])
        if not isinstance(applied, list):
            raise TypeError("applied is not a list")
        return cls(
            location=location,
            kind=kind,
            browsers=strs(doc["browsers"], "browsers"),
            level=level,
            original_exists=doc["original_exists"],
            original_b64=original_b64,
            original_mode=mode,
            written_sha256=opt(doc.get("written_sha256"), str, "written_sha256"),
            applied=[Applied.from_json(a) for a in applied],
            created=[tuple(strs(c, "created")) for c in created],
            created_dirs=strs(doc.get("created_dirs", []), "created_dirs"),
            previous=previous,
        )

    @staticmethod
    def encode(data: bytes | None) -> str | None:
        return None if data is None else base64.b64encode(data).decode("ascii")


@dataclasses.dataclass
class Journal:
    path: Path
    entries: dict[str, Entry]

    @classmethod
    def load(cls, host: Host) -> Journal:
        path = host.state_dir() / "journal.json"
        try:
            raw = fsio.read_bytes(path)  # no links, no FIFOs: a journal read never blocks
        except NeedsElevationError:
            raise NeedsElevationError(f"cannot read {path}", path=str(path)) from None
        if raw is None:
            return cls(path, {})
        try:
            doc = loads_strict(raw)
            if not isinstance(doc, dict) or not isinstance(doc["entries"], list):
                raise TypeError("not a journal")
            if doc.get("version") == JOURNAL_VERSION:
                pass
            elif doc.get("schema_version") == 1 and "version" not in doc:
                doc = _migrate_v1(doc)
            else:
                raise ValueError(
                    f"unknown journal version {doc.get('version', doc.get('schema_version'))!r}"
                )
            entries = {}
            for e in doc["entries"]:
                entry = Entry.from_json(e)
                if entry.location in entries:
                    raise ValueError(f"{entry.location} listed twice")
                entries[entry.location] = entry
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise RefusedError(
                f"the vpnguard journal {path} is damaged ({exc}); nothing changed. "
                "Move it aside to start afresh (protection already written stays in place).",
                path=str(path),
            ) from None
        return cls(path, entries)

    def save(self) -> None:
        doc = {
            "version": JOURNAL_VERSION,
            "entries": [self.entries[k].to_json() for k in sorted(self.entries)],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
        fsio.atomic_write(self.path, text.encode(), mode=0o644)


def _v1_value(kind: str, level: str, path: list[str]) -> Any:
    if not path:
        return None
    if kind == "chromium_managed_dir":
        return _V1_CHROMIUM.get(level)
    value = _V1_FIREFOX.get(level, {}).get(path[-1])
    return None if value is None else {"Value": value, "Status": "locked"}


def _migrate_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """v1 -> v2: record the concrete values the v1 level names stood for."""
    entries = []
    for e in doc["entries"]:
        e = dict(e)
        e["applied"] = [
            {**a, "value": _v1_value(str(e.get("kind")), str(e.get("level")), list(a["path"]))}
            for a in e.get("applied", [])
        ]
        e["previous"] = None
        entries.append(e)
    return {"version": JOURNAL_VERSION, "entries": entries}


@contextlib.contextmanager
def locked(host: Host, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Serialize every change: one protect/unprotect at a time per system."""
    with exclusive(host.state_dir() / "lock", wait_s=wait_s, busy=busy_changing("changing policy")):
        yield
