"""Small filesystem helpers for hooks and auto mode: atomic replace, the state lock.

Both are the core's (through the service): one atomic write, one lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from vpnguard.core.errors import RefusedError, VpnguardError
from vpnguard.core.service import exclusive_lock
from vpnguard.core.service import write_file as atomic_write

__all__ = ["atomic_write", "locked"]


def _busy(holder: str, waited: float) -> VpnguardError:
    return RefusedError(
        f"another vpnguard (pid {holder}) is updating auto mode's state; gave up after "
        f"{waited:.0f} s, nothing changed"
    )


@contextlib.contextmanager
def locked(path: Path, wait_s: float = 30.0) -> Iterator[None]:
    """Auto mode's state lock (``auto.lock``): waits at most ``wait_s``, then refuses naming
    the holder's PID (a hook must never hang the VPN client for ever)."""
    with exclusive_lock(path, wait_s=wait_s, busy=_busy, mode=0o644):
        yield
