"""What vpnguard wrote, and what was there before: the basis of exact undo.

One entry per policy file (or registry value) vpnguard manages. The entry is
saved *before* the file is written, so a crash between the two leaves a
journal that still knows the original; undo then finds the file unchanged
and simply forgets the entry.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vpnguard.core.errors import NeedsElevationError, RefusedError
from vpnguard.core.host import Host
from vpnguard.core.lock import busy_changing, exclusive
from vpnguard.core.policy import fsio
from vpnguard.core.policy.render import Applied, KeyPath

JOURNAL_VERSION = 1
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
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Entry:
        return cls(
            location=str(doc["location"]),
            kind=str(doc["kind"]),
            browsers=list(doc["browsers"]),
            level=str(doc["level"]),
            original_exists=bool(doc["original_exists"]),
            original_b64=doc.get("original_b64"),
            original_mode=doc.get("original_mode"),
            written_sha256=doc.get("written_sha256"),
            applied=[Applied.from_json(a) for a in doc.get("applied", [])],
            created=[tuple(c) for c in doc.get("created", [])],
            created_dirs=list(doc.get("created_dirs", [])),
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
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path, {})
        except PermissionError:
            raise NeedsElevationError(f"cannot read {path}", path=str(path)) from None
        try:
            doc = json.loads(raw)
            entries = {e["location"]: Entry.from_json(e) for e in doc["entries"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise RefusedError(
                f"the vpnguard journal {path} is damaged ({exc}); nothing changed. "
                "Move it aside to start afresh (protection already written stays in place).",
                path=str(path),
            ) from None
        return cls(path, entries)

    def save(self) -> None:
        doc = {
            "schema_version": JOURNAL_VERSION,
            "entries": [self.entries[k].to_json() for k in sorted(self.entries)],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fsio.atomic_write(self.path, (json.dumps(doc, indent=1) + "\n").encode(), mode=0o644)


@contextlib.contextmanager
def locked(host: Host, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Serialize every change: one protect/unprotect at a time per system."""
    with exclusive(host.state_dir() / "lock", wait_s=wait_s, busy=busy_changing("changing policy")):
        yield
