"""Auto mode's shared state, as files in the state directory.

Hooks and ``vpnguard watch`` (front ends in :mod:`vpnguard.vpnclient`) write
it; the desktop app and ``vpnguard watch --status`` read it through
:func:`vpnguard.core.service.auto_mode_state`. Its format lives here, once:

* ``auto.json``: who holds protection (one holder per VPN that is up) and
  whether the automation wrote it (see :class:`AutoState`), under ``auto.lock``;
* ``watch.pid``: the running watch's PID, flock'ed for its life;
* ``watch.json``: what the running watch saw last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from pathlib import Path

from vpnguard._lazylog import get_logger
from vpnguard.core.errors import NeedsElevationError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

log = get_logger(__name__)  # imports logging only if a message is emitted

STATE_FILE = "auto.json"
LOCK_FILE = "auto.lock"
PID_FILE = "watch.pid"
STATUS_FILE = "watch.json"


def write_file(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Atomic replace (owner kept, mode kept unless ``mode`` is given) after creating the
    parent directories that hook scripts and state files may need."""
    from vpnguard.core.policy import fsio

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except PermissionError as exc:
        raise NeedsElevationError(
            f"cannot write {path}: permission denied (run as root)", path=str(path)
        ) from exc
    fsio.atomic_write(path, data, mode)


@dataclasses.dataclass
class AutoState:
    """``auto.json``: the holders, and whether the automation owns the protection."""

    holders: dict[str, str] = dataclasses.field(default_factory=dict)
    owned: bool = False
    owned_browsers: list[str] = dataclasses.field(default_factory=list)
    level: str | None = None
    updated: float = 0.0
    last_action: dict[str, Any] | None = None
    # Write-ahead for ownership: saved *before* a protect that may make the
    # protection ours, cleared after it returns. A crash between protect's
    # writes and the save of ``owned`` leaves it set, and the next update
    # still knows the protection it finds is the automation's own unless
    # vpnguard had protected already (``protected_before``).
    pending: str | None = None
    protected_before: bool = False

    @classmethod
    def load(cls, path: Path) -> AutoState:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError):
            log.warning("%s is unreadable; starting from an empty auto-mode state", path)
            return cls()
        if not isinstance(raw, dict):
            return cls()
        holders = raw.get("holders")
        return cls(
            holders={str(k): str(v) for k, v in holders.items()}
            if isinstance(holders, dict)
            else {},
            owned=bool(raw.get("owned", False)),
            owned_browsers=[str(b) for b in raw.get("owned_browsers") or []],
            level=raw.get("level") if isinstance(raw.get("level"), str) else None,
            updated=float(raw.get("updated") or 0.0),
            last_action=raw.get("last_action")
            if isinstance(raw.get("last_action"), dict)
            else None,
            pending=raw.get("pending") if isinstance(raw.get("pending"), str) else None,
            protected_before=raw.get("protected_before") is not False,
        )

    def save(self, path: Path) -> None:
        data = json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"
        write_file(path, data.encode(), mode=0o644)


@dataclasses.dataclass(frozen=True)
class AutoModeState:
    """What the GUI shows for auto mode (read-only; costs a few small file reads)."""

    running: bool
    pid: int | None
    level: str | None
    active_vpns: tuple[str, ...]
    holders: tuple[str, ...]
    protected_by_automation: bool
    last_action: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if sys.platform.startswith("linux"):
        try:
            return b"vpnguard" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
    return True


def read_state(state_dir: Path) -> AutoModeState:
    """Is ``watch`` running, and what have hooks/watch done?"""
    pid: int | None = None
    with contextlib.suppress(OSError, ValueError):
        pid = int((state_dir / PID_FILE).read_text().strip() or "0") or None
    running = pid is not None and pid_alive(pid)
    status: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        status = json.loads((state_dir / STATUS_FILE).read_text())
    auto = AutoState.load(state_dir / STATE_FILE)
    return AutoModeState(
        running=running,
        pid=pid if running else None,
        level=status.get("level") if running else auto.level,
        active_vpns=tuple(status.get("active_vpns") or ()) if running else (),
        holders=tuple(sorted(auto.holders)),
        protected_by_automation=auto.owned,
        last_action=auto.last_action,
    )
