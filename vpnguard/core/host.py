"""The machine vpnguard looks at, as one injectable object.

Everything that reads or writes the filesystem goes through :class:`Host`, so
a test or an image builder can point vpnguard at a fake tree with ``--root``
and run Windows or macOS detection logic on Linux.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path, PurePosixPath, PureWindowsPath

from vpnguard.core.errors import RefusedError, UsageError
from vpnguard.core.model import OS
from vpnguard.core.record import field, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import ClassVar

_LIVE_ROOT = Path("/")  # built once: is_live is asked for every path detection maps

# What pathlib's exists()/is_file()/is_symlink() take for "no" (any other error is raised).
_IGNORED_ERRNOS = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def _mode(path: str, *, follow: bool = True) -> int | None:
    """``st_mode`` of ``path``, or None where pathlib's predicates answer False."""
    try:
        return (os.stat(path) if follow else os.lstat(path)).st_mode
    except OSError as exc:
        if exc.errno in _IGNORED_ERRNOS or getattr(exc, "winerror", None) in (21, 123, 1921):
            return None
        raise
    except ValueError:  # e.g. an embedded NUL
        return None


def current_os(platform_name: str = sys.platform) -> OS:
    if platform_name.startswith("win"):
        return OS.WINDOWS
    if platform_name == "darwin":
        return OS.MACOS
    return OS.LINUX


# --- what differs per OS for the machine itself --------------------------------------------
#
# One strategy object per OS behind an ABC, a factory and a Null fallback (the model is
# Vorta's network_status/abc.py); the OS adapter that answers "am I an administrator?" is
# injected, so a test asks the Windows strategy on Linux with a fake answer.

AdminCheck = Callable[[], bool]


def effective_uid_is_root() -> bool:
    """POSIX: the *effective* uid decides what the process may write (sudo, pkexec, setuid)."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def windows_token_is_elevated() -> bool:
    """Windows: is this process's token elevated (UAC)? shell32's ``IsUserAnAdmin``."""
    import ctypes

    windll = getattr(ctypes, "windll", None)  # absent off Windows
    if windll is None:
        return False
    try:
        return bool(windll.shell32.IsUserAnAdmin())
    except (AttributeError, OSError):
        return False


class System(ABC):
    """The OS vpnguard runs on: admin rights, and where its own state and logs live."""

    os: ClassVar[OS | None] = None
    path_sep: ClassVar[str] = ":"

    def __init__(self, admin_check: AdminCheck | None = None) -> None:
        self._admin_check = admin_check or self.default_admin_check

    def is_admin(self) -> bool:
        return self._admin_check()

    @staticmethod
    @abstractmethod
    def default_admin_check() -> bool: ...

    @abstractmethod
    def state_dir(self, host: Host) -> Path:
        """Where the journal, the lock and auto mode's state live (system-wide)."""

    @abstractmethod
    def system_log_dir(self, host: Host) -> Path:
        """Where system services (hooks as root, the helper) log."""


class LinuxSystem(System):
    os = OS.LINUX
    default_admin_check = staticmethod(effective_uid_is_root)

    def state_dir(self, host: Host) -> Path:
        return host.p("/var/lib/vpnguard")

    def system_log_dir(self, host: Host) -> Path:
        return host.p("/var/log/vpnguard")


class MacosSystem(System):
    os = OS.MACOS
    default_admin_check = staticmethod(effective_uid_is_root)

    def state_dir(self, host: Host) -> Path:
        return host.p("/Library/Application Support/vpnguard")

    def system_log_dir(self, host: Host) -> Path:
        return host.p("/Library/Logs/vpnguard")


class WindowsSystem(System):
    os = OS.WINDOWS
    path_sep = ";"
    default_admin_check = staticmethod(windows_token_is_elevated)

    def _program_data(self, host: Host) -> str:
        return host.environ.get("PROGRAMDATA", r"C:\ProgramData")

    def state_dir(self, host: Host) -> Path:
        return host.p(self._program_data(host) + r"\vpnguard")

    def system_log_dir(self, host: Host) -> Path:
        return host.p(self._program_data(host) + r"\vpnguard\logs")


class NullSystem(System):
    """An OS vpnguard knows nothing about: never an administrator, no state of its own."""

    default_admin_check = staticmethod(lambda: False)

    def state_dir(self, host: Host) -> Path:
        raise RefusedError("vpnguard keeps no state on this operating system")

    def system_log_dir(self, host: Host) -> Path:
        raise RefusedError("vpnguard has no system log directory on this operating system")


SYSTEMS: dict[OS, type[System]] = {
    OS.LINUX: LinuxSystem,
    OS.MACOS: MacosSystem,
    OS.WINDOWS: WindowsSystem,
}


def system_for(os_: OS | None, admin_check: AdminCheck | None = None) -> System:
    """The strategy for ``os_`` (the Null one for an OS not in :data:`SYSTEMS`)."""
    cls = SYSTEMS.get(os_, NullSystem) if os_ is not None else NullSystem
    return cls(admin_check)


def _arch() -> str:
    if hasattr(os, "uname"):  # what platform.machine() reads on POSIX, without importing platform
        machine = os.uname().machine.lower()
    else:  # pragma: no cover - Windows
        import platform

        machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine or "x86_64")


@record
class Host:
    """Where the system lives (``root``), which OS it is, and its search path.

    ``root`` is ``/`` on a live system. With a fake root, system paths map
    inside it; Windows paths map to ``<root>/C/Program Files/...``.
    """

    root: Path
    os: OS
    path_dirs: tuple[str, ...]
    home: str
    arch: str
    environ: Mapping[str, str]
    system: System = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.system is None:
            object.__setattr__(self, "system", system_for(self.os))

    @classmethod
    def current(cls, root: str | PathLike[str] | None = None, os_: OS | None = None) -> Host:
        if root is None:
            root_path = _LIVE_ROOT
        else:
            root_path = Path(root)
            if not root_path.is_dir():
                raise UsageError(
                    f"root prefix {str(root)!r} does not exist or is not a directory",
                    path=str(root),
                )
            root_path = root_path.resolve()
        env = dict(os.environ)
        the_os = os_ or current_os()
        system = system_for(the_os)
        path_dirs = tuple(p for p in env.get("PATH", "").split(system.path_sep) if p)
        if the_os is OS.LINUX and root_path != Path("/"):
            # A fake tree is searched at the standard places, not the caller's PATH.
            path_dirs = ("/usr/local/bin", "/usr/bin", "/bin", "/snap/bin", "/usr/games")
        return cls(
            root=root_path,
            os=the_os,
            path_dirs=path_dirs,
            home=str(Path.home()),
            arch=_arch(),
            environ=env,
            system=system,
        )

    @property
    def is_admin(self) -> bool:
        """May this process write system-wide policy? Effective uid 0 on POSIX, an
        elevated token on Windows (asked of the OS strategy)."""
        return self.system.is_admin()

    @property
    def is_live(self) -> bool:
        return self.root is _LIVE_ROOT or self.root == _LIVE_ROOT

    def p(self, system_path: str) -> Path:
        """Map a path as the system sees it onto the real filesystem under ``root``."""
        if self.os is OS.WINDOWS:
            win = PureWindowsPath(system_path)
            if self.is_live:
                return Path(str(win))
            drive = win.drive.rstrip(":") or "C"
            return self.root.joinpath(drive, *win.parts[1:])
        rel = PurePosixPath(system_path)
        if self.is_live:
            return Path(rel)
        return self.root.joinpath(*rel.parts[1:]) if rel.is_absolute() else self.root / rel

    def fs(self, system_path: str) -> str:
        """:meth:`p` as a string for OS calls, without building a Path on POSIX.

        The same file as ``str(self.p(system_path))`` (which may differ in
        spelling: no ``//`` or ``/./`` folding); detection maps hundreds of paths.
        """
        if self.os is not OS.WINDOWS and system_path.startswith("/"):
            return system_path if self.is_live else f"{self.root}{system_path}"
        return str(self.p(system_path))

    def exists(self, system_path: str) -> bool:
        """``self.p(system_path).exists()``: the same answers and errors, no Path built."""
        return _mode(self.fs(system_path)) is not None

    def is_file(self, system_path: str) -> bool:
        """``self.p(system_path).is_file()``: the same answers and errors, no Path built."""
        mode = _mode(self.fs(system_path))
        return mode is not None and stat.S_ISREG(mode)

    def is_symlink(self, system_path: str) -> bool:
        """``self.p(system_path).is_symlink()``: the same answers and errors, no Path built."""
        mode = _mode(self.fs(system_path), follow=False)
        return mode is not None and stat.S_ISLNK(mode)

    def state_dir(self) -> Path:
        """Where the journal and lock live.

        Policies are system-wide, so their journal is too: a per-user journal
        would lose track when another user, or the elevated helper, undoes.
        ``VPNGUARD_STATE_DIR`` (tests, unprivileged runs on a writable tree) is
        ignored whenever the process is elevated (:attr:`is_admin`: euid 0, an
        elevated Windows token), however it got elevated: an elevated process must
        not take its journal, the basis of what it writes, from a caller's variable.
        """
        override = self.environ.get("VPNGUARD_STATE_DIR")
        if override and not self.is_admin:
            return Path(override)
        return self.system.state_dir(self)

    def system_log_dir(self) -> Path:
        """Where vpnguard logs when it runs as a system service (root / SYSTEM)."""
        return self.system.system_log_dir(self)
