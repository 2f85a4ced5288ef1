"""Small filesystem helpers for hooks and auto mode: atomic replace, locks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from vpnguard.core.errors import NeedsElevationError
from vpnguard.core.policy import fsio


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Atomic replace (``core.policy.fsio``: owner kept, mode kept unless ``mode`` is
    given) after creating the parent directories hooks and state files may need."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except PermissionError as exc:
        raise NeedsElevationError(
            f"cannot write {path}: permission denied (run as root)", path=str(path)
        ) from exc
    fsio.atomic_write(path, data, mode)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created if needed); no-op where flock is missing."""
    try:
        import fcntl
    except ImportError:  # Windows: hooks are serialized by the VPN client there
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
