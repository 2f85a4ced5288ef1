"""The only code that writes policy files: safety checks and atomic replace.

A reader (a browser starting now, or a crash mid-write) must only ever see the
old file or the new one, never half of either: temp file, fsync, chmod,
``os.replace``, fsync both directories. The temp file is beside the target,
except for a Chromium managed (or recommended) directory: Chromium reads every
regular file there as policy, dot-files included (seen in the lab), so its temp
files are made one level up, on the same mount (:func:`check_temp_dir`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from pathlib import Path

from vpnguard.core.errors import NeedsElevationError, RefusedError, VpnguardError
from vpnguard.core.host import Host


def sha256(data: bytes | None) -> str | None:
    import hashlib

    return None if data is None else hashlib.sha256(data).hexdigest()


MAX_READ = 16 << 20  # no policy file or journal is this large; refuse rather than fill memory

_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist.

    Opens without following a final link and without blocking (a FIFO or a
    device opens at once and is then refused by ``fstat``), so a hostile file
    can neither redirect nor hang the read. Refuses links, non-files and files
    over :data:`MAX_READ`.
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise NeedsElevationError(
            f"cannot read {path}: permission denied", path=str(path)
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(path):
            raise RefusedError(
                f"{path} is a symbolic link; vpnguard does not write through links",
                path=str(path),
            ) from None
        if exc.errno == errno.ENOTDIR:
            raise RefusedError(
                f"{path}: a parent of it is not a directory", path=str(path)
            ) from None
        raise RefusedError(f"cannot open {path}: {exc.strerror or exc}", path=str(path)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RefusedError(f"{path} is not a regular file", path=str(path))
        if st.st_size > MAX_READ:
            raise RefusedError(f"{path} is larger than {MAX_READ} bytes", path=str(path))
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_READ:
                raise RefusedError(f"{path} is larger than {MAX_READ} bytes", path=str(path))
            chunks.append(chunk)
        return b"".join(chunks)
    except PermissionError:
        raise NeedsElevationError(
            f"cannot read {path}: permission denied", path=str(path)
        ) from None
    except OSError as exc:
        raise RefusedError(f"cannot read {path}: {exc.strerror or exc}", path=str(path)) from None
    finally:
        os.close(fd)


def _owner_ok(st: os.stat_result) -> bool:
    return st.st_uid in (0, os.geteuid()) if hasattr(os, "geteuid") else True


def _check_component(where: str, st: os.stat_result) -> None:
    if not _owner_ok(st):
        raise RefusedError(
            f"{where} is owned by uid {st.st_uid}, not by root: whoever owns it could point "
            "vpnguard's writes elsewhere; not written",
            path=where,
        )
    if stat.S_ISLNK(st.st_mode):
        return
    if st.st_mode & 0o002 or (st.st_mode & 0o020 and st.st_gid != 0):
        raise RefusedError(
            f"{where} is writable by other users (mode {stat.S_IMODE(st.st_mode):o}); not written",
            path=where,
        )


def _check_chain(host: Host, parts: list[str], real_root: str) -> None:
    """Every existing component from the root down, and every component a link on the way
    resolves to, must be owned by root (or this user, for an unprivileged run on its own
    tree) and not writable by others (group-writable only with group root). Otherwise a
    user who owns or may write one of them could swap in a link to any file root may write.
    """
    for i in range(1, len(parts) + 1):
        here = "/" + "/".join(parts[:i])
        p = host.p(here)
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return
        except OSError:
            raise RefusedError(f"cannot inspect {here}", path=here) from None
        _check_component(here, st)
        if stat.S_ISLNK(st.st_mode):
            real = os.path.realpath(p)
            rel = os.path.relpath(real, real_root)
            sub = [x for x in rel.split("/") if x and x != "."]
            for j in range(1, len(sub) + 1):
                there = "/" + "/".join(sub[:j])
                try:
                    st2 = os.lstat(host.p(there))
                except FileNotFoundError:
                    break
                except OSError:
                    raise RefusedError(f"cannot inspect {there}", path=there) from None
                _check_component(f"{there} (where {here} leads)", st2)


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

    _check_chain(host, parts, real_root)
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


_TEMP_TOKEN_BYTES = 4  # 8 hex digits: the name pattern below (and of every earlier version)
_TEMP_TRIES = 8
_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL  # never an existing name: a planted file, FIFO, dir or link fails with EEXIST
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def temp_prefix(path: Path, temp_dir: Path | None = None) -> str:
    """The fixed part of the temp file name for a write of ``path``.

    Beside the file: ``.<name>.vpnguard-`` (every earlier version's name too). In another
    directory (the parent of a Chromium managed dir): ``.<dir name>.<name>.vpnguard-``, so
    that a leftover names the file it was meant for and recovery removes only our own.
    """
    if temp_dir is None or temp_dir == path.parent:
        return f".{path.name}.vpnguard-"
    return f".{path.parent.name}.{path.name}.vpnguard-"


def _temp_name_re(prefix: str) -> re.Pattern[str]:
    return re.compile(re.escape(prefix) + f"[0-9a-f]{{{2 * _TEMP_TOKEN_BYTES}}}\\.tmp")


def stale_temps(path: Path, temp_dir: Path | None = None) -> list[Path]:
    """Temp files a killed write of ``path`` left in ``temp_dir`` (default: beside it).

    Only ours: the exact name pattern, a regular file (never a link, FIFO or directory,
    which are left alone and never followed) owned by this user.
    """
    where = path.parent if temp_dir is None else temp_dir
    pattern = _temp_name_re(temp_prefix(path, temp_dir))
    try:
        names = os.listdir(where)
    except OSError:
        return []
    out = []
    me = os.geteuid() if hasattr(os, "geteuid") else None
    for name in sorted(names):
        if not pattern.fullmatch(name):
            continue
        try:
            st = os.lstat(where / name)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and (me is None or st.st_uid == me):
            out.append(where / name)
    return out


def remove_stale_temps(path: Path, temp_dir: Path | None = None) -> list[Path]:
    """Remove :func:`stale_temps`; return what was removed."""
    gone = []
    for stale in stale_temps(path, temp_dir):
        try:
            os.unlink(stale)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise translate(exc, str(stale)) from None
        gone.append(stale)
    if gone:
        _fsync_dir(gone[0].parent)
    return gone


def _mount_point(real: str) -> str | None:
    """The mount point holding ``real`` (a resolved path), from /proc/self/mountinfo;
    None where the kernel does not say (not Linux)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    best: str | None = None
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
        inside = mp == "/" or real == mp or real.startswith(mp.rstrip("/") + "/")
        if inside and (best is None or len(mp) >= len(best)):
            best = mp
    return best


def same_mount(a: Path, b: Path) -> bool:
    """Whether a rename from directory ``a`` into directory ``b`` stays on one mount
    (same device, and no mount point between them, a bind mount included)."""
    if os.stat(a).st_dev != os.stat(b).st_dev:
        return False
    ma, mb = _mount_point(os.path.realpath(a)), _mount_point(os.path.realpath(b))
    return ma == mb


def check_temp_dir(host: Host, system_dir: str, *, writable: bool = True) -> str:
    """The directory for the temp files of writes into ``system_dir`` (a Chromium managed
    or recommended dir, which Chromium reads whole): its parent, checked like a policy dir
    (owner, others' write bits, links), and on the same mount so that the final rename is
    atomic. A managed dir that is a mount point of its own (or on another device than its
    parent) is refused: a temp file inside it could be read as policy, and a copy across
    filesystems is not atomic. Returns the parent's system path.
    """
    parent = system_dir.rstrip("/").rsplit("/", 1)[0] or "/"
    check_dir(host, parent, writable=writable)
    d, p = host.p(system_dir), host.p(parent)
    if os.path.isdir(d) and os.path.isdir(p) and not same_mount(d, p):
        raise RefusedError(
            f"{system_dir} is a mount point (or on another filesystem than {parent}): "
            f"vpnguard writes its temporary file in {parent} so that none ever appears "
            "inside a directory Chromium reads as policy, and cannot rename it across "
            "filesystems; nothing changed. Write the policy on the filesystem that holds "
            f"{system_dir} some other way, or unmount it",
            path=system_dir,
        )
    return parent


def atomic_write(
    path: Path, data: bytes, mode: int | None = 0o644, *, temp_dir: Path | None = None
) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file only.

    The temp file is made in ``temp_dir`` (default: beside ``path``), which must be on the
    same filesystem: for a Chromium managed dir its parent, because Chromium reads every
    regular file of the managed dir, dot-files included. It is created with ``O_EXCL |
    O_NOFOLLOW`` under a random name (never through anything planted there), written,
    fsynced and given its final mode (and the old file's owner), then renamed into
    place; both directories are fsynced. An existing file keeps its owner;
    ``mode=None`` also keeps its mode (0644 when new).
    """
    directory = path.parent
    where = directory if temp_dir is None else temp_dir
    try:
        old: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise translate(exc, str(path)) from None
    if mode is None:
        mode = stat.S_IMODE(old.st_mode) if old is not None else 0o644
    # A run killed mid-write leaves its temp file; callers hold the lock, so any
    # such file of ours is stale.
    remove_stale_temps(path, temp_dir)
    prefix = temp_prefix(path, temp_dir)
    tmp: Path | None = None  # set once the temp file exists: only then is it ours to unlink
    try:
        for _attempt in range(_TEMP_TRIES):
            name = where / f"{prefix}{os.urandom(_TEMP_TOKEN_BYTES).hex()}.tmp"
            try:
                fd = os.open(name, _CREATE_FLAGS, 0o600)
            except FileExistsError:
                continue  # something is there already: never opened, never removed
            tmp = name
            break
        else:
            raise RefusedError(
                f"cannot create a temporary file in {where}: every name vpnguard picked at "
                "random was taken (planted there?); nothing changed",
                path=str(where),
            )
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
        tmp = None
        _fsync_dir(directory)
        if where != directory:
            _fsync_dir(where)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if exc.errno == errno.EXDEV:
            raise RefusedError(
                f"{directory} is on another filesystem than {where} (a mount point?): "
                "the temporary file cannot be renamed into place; nothing changed",
                path=str(directory),
            ) from None
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
        except FileNotFoundError:
            continue  # already gone (a killed run got this far): go on with its parents
        except OSError:
            return
