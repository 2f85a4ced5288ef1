"""The one inter-process lock: bounded wait, and a refusal that names the holder's PID.

Used for policy changes (the journal's ``lock``), auto mode's shared state
(``auto.lock``) and the single ``vpnguard watch`` (``watch.pid``, held for the
process's life with no wait). The holder writes its PID into the lock file, so
whoever gives up can say who holds it. ``flock`` on POSIX, ``msvcrt.locking``
on Windows; the lock goes with the process, so a crash never leaves it held.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from vpnguard.core.errors import NeedsElevationError, RefusedError, VpnguardError

DEFAULT_WAIT_S = 30.0
_POLL_S = 0.05


def _try_lock(fd: int) -> bool:
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise


def busy_changing(what: str) -> Callable[[str, float], VpnguardError]:
    """The usual refusal: ``another vpnguard (pid N) is <what>; gave up after S s``."""

    def refuse(holder: str, waited: float) -> VpnguardError:
        return RefusedError(
            f"another vpnguard (pid {holder}) is {what}; gave up after {waited:.0f} s, "
            "nothing changed"
        )

    return refuse


@contextlib.contextmanager
def exclusive(
    path: Path,
    *,
    wait_s: float = DEFAULT_WAIT_S,
    busy: Callable[[str, float], VpnguardError] | None = None,
    mode: int = 0o600,
    clear_on_release: bool = False,
) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created with ``mode``), waiting at most ``wait_s``.

    When the wait runs out, raises ``busy(holder_pid, wait_s)`` (by default a
    RefusedError naming the PID). ``clear_on_release`` empties the file when
    done, for a PID file others read while it is held.
    """
    from vpnguard.core.policy import fsio

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    except PermissionError:
        raise NeedsElevationError(
            f"cannot create vpnguard's state in {path.parent}: run as root",
            path=str(path.parent),
        ) from None
    except OSError as exc:
        raise fsio.translate(exc, str(path.parent)) from None
    try:
        deadline = time.monotonic() + wait_s
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                raise (busy or busy_changing("changing vpnguard's state"))(holder, wait_s)
            time.sleep(_POLL_S)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            if clear_on_release:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the lock
