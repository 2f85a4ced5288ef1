"""The only code that writes policy files: safety checks and atomic replace.

A reader (a browser starting now, or a crash mid-write) must only ever see the
old file or the new one, never half of either: temp file in the same
directory, fsync, chmod, ``os.replace``, fsync the directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from vpnguard.core.errors import NeedsElevationError, RefusedError, VpnguardError
from vpnguard.core.host import Host


def sha256(data: bytes | None) -> str | None:
    import hashlib

    return None if data is None else hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist; refuses links and non-files."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise NeedsElevationError(
            f"cannot read {path}: permission denied", path=str(path)
        ) from None
    if stat.S_ISLNK(st.st_mode):
        raise RefusedError(
            f"{path} is a symbolic link; vpnguard does not write through links", path=str(path)
        )
    if not stat.S_ISREG(st.st_mode):
        raise RefusedError(f"{path} is not a regular file", path=str(path))
    try:
        return path.read_bytes()
    except PermissionError:
        raise NeedsElevationError(
            f"cannot read {path}: permission denied", path=str(path)
        ) from None


def _owner_ok(st: os.stat_result) -> bool:
    return st.st_uid in (0, os.geteuid()) if hasattr(os, "geteuid") else True


def check_dir(host: Host, system_dir: str, *, writable: bool = True) -> list[str]:
    """Refuse unsafe directories before any write; return the dirs that must be created.

    Refused: a directory (or parent) that is a link leading outside the root,
    or into a directory someone else owns or that others may write (a classic
    way to make a root process write where an attacker chooses); a directory
    with no write bits at all (an admin locked it); a file where a directory
    should be. Not writable by us is "needs elevation".
    """
    to_create: list[str] = []
    real_root = os.path.realpath(host.root)
    parts = [p for p in system_dir.split("/") if p]
    for i in range(len(parts), 0, -1):
        sys_path = "/" + "/".join(parts[:i])
        path = host.p(sys_path)
        try:
            os.lstat(path)
        except FileNotFoundError:
            to_create.append(sys_path)
            continue
        except PermissionError:
            raise NeedsElevationError(f"cannot inspect {sys_path}", path=sys_path) from None
        break
    else:
        sys_path = "/"
        path = host.p("/")

    # Check the nearest existing directory and every link on the way to it.
    for i in range(1, len(parts) + 1):
        here = "/" + "/".join(parts[:i])
        p = host.p(here)
        if not os.path.lexists(p):
            break
        if os.path.islink(p):
            real = os.path.realpath(p)
            if real != real_root and not real.startswith(real_root.rstrip("/") + "/"):
                raise RefusedError(
                    f"{here} is a symbolic link to {real}, outside the system root; not written",
                    path=here,
                )
            try:
                st = os.stat(p)
            except OSError:
                raise RefusedError(f"{here} is a dangling symbolic link", path=here) from None
            if not _owner_ok(st) or st.st_mode & 0o022:
                raise RefusedError(
                    f"{here} is a symbolic link to {real}, which is writable by other users; "
                    "not written",
                    path=here,
                )

    if not stat.S_ISDIR(os.stat(path).st_mode):
        raise RefusedError(f"{sys_path} is not a directory", path=sys_path)
    st = os.stat(path)
    if not to_create and st.st_mode & 0o222 == 0:
        raise RefusedError(
            f"{sys_path} is read-only (mode {stat.S_IMODE(st.st_mode):o}); an administrator "
            "locked it, so vpnguard leaves it alone",
            path=sys_path,
        )
    if writable and not os.access(path, os.W_OK):
        raise NeedsElevationError(
            f"{sys_path} is not writable by this user: run as root (or use the desktop app, "
            "which asks for permission)",
            path=sys_path,
        )
    return list(reversed(to_create))


def make_dirs(host: Host, system_dirs: list[str]) -> None:
    for d in system_dirs:
        try:
            os.mkdir(host.p(d), 0o755)
        except FileExistsError:
            pass
        except OSError as exc:
            raise translate(exc, d) from None


def translate(exc: OSError, where: str) -> VpnguardError:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return NeedsElevationError(f"permission denied writing {where}", path=where)
    if exc.errno == errno.EROFS:
        return RefusedError(f"{where} is on a read-only filesystem; nothing changed", path=where)
    if exc.errno == errno.ENOSPC:
        return RefusedError(f"no space left writing {where}", path=where)
    return VpnguardError(f"cannot write {where}: {exc.strerror or exc}", path=where)


def _fsync_dir(directory: Path) -> None:
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int | None = 0o644) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file only.

    An existing file keeps its owner; ``mode=None`` also keeps its mode (0644 when new).
    """
    directory = path.parent
    try:
        old: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise translate(exc, str(path)) from None
    if mode is None:
        mode = stat.S_IMODE(old.st_mode) if old is not None else 0o644
    # A run killed mid-write leaves its temp file; callers hold the lock, so any
    # such file is stale.
    for stale in directory.glob(f".{path.name}.vpnguard-*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()
    tmp = directory / f".{path.name}.vpnguard-{os.urandom(4).hex()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
            os.fchmod(fd, mode)
            if old is not None and hasattr(os, "fchown"):
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, old.st_uid, old.st_gid)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(directory)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise translate(exc, str(path)) from None


def remove(path: Path) -> None:
    try:
        os.unlink(path)
        _fsync_dir(path.parent)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise translate(exc, str(path)) from None


def remove_empty_dirs(host: Host, system_dirs: list[str]) -> None:
    """Remove directories vpnguard created, deepest first, only while they are empty."""
    for d in sorted(system_dirs, key=len, reverse=True):
        try:
            os.rmdir(host.p(d))
        except OSError:
            return
