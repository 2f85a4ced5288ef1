"""Small filesystem helpers for hooks and auto mode: atomic replace, locks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from vpnguard.core.service import write_file as atomic_write

__all__ = ["atomic_write", "locked"]


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
