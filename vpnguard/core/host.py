"""The machine vpnguard looks at, as one injectable object.

Everything that reads or writes the filesystem goes through :class:`Host`, so
a test or an image builder can point vpnguard at a fake tree with ``--root``
and run Windows or macOS detection logic on Linux.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
from collections.abc import Mapping
from os import PathLike
from pathlib import Path, PurePosixPath, PureWindowsPath

from vpnguard.core.errors import UsageError
from vpnguard.core.model import OS


def current_os() -> OS:
    if sys.platform.startswith("win"):
        return OS.WINDOWS
    if sys.platform == "darwin":
        return OS.MACOS
    return OS.LINUX


def is_elevated() -> bool:
    """True when this process runs with admin rights, however it got them.

    Decided from the process itself, never from variables a caller can set or
    omit (``PKEXEC_UID``, ``SUDO_*``): ``su``, macOS ``osascript ... with
    administrator privileges`` and Windows UAC set none of them. POSIX: the
    effective uid is 0. Windows: the token is elevated (``IsUserAnAdmin``).
    """
    if hasattr(os, "geteuid"):
        return os.geteuid() == 0
    try:  # pragma: no cover - Windows
        import ctypes

        return bool(ctypes.windll.shell32.IsUserAnAdmin())  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return True  # unknown: behave as elevated (ignore overrides)


def _arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine or "x86_64")


@dataclasses.dataclass(frozen=True)
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

    @classmethod
    def current(cls, root: str | PathLike[str] | None = None, os_: OS | None = None) -> Host:
        if root is None:
            root_path = Path("/")
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
        sep = ";" if the_os is OS.WINDOWS else ":"
        path_dirs = tuple(p for p in env.get("PATH", "").split(sep) if p)
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
        )

    @property
    def is_live(self) -> bool:
        return self.root == Path("/")

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

    def state_dir(self) -> Path:
        """Where the journal and lock live.

        Policies are system-wide, so their journal is too: a per-user journal
        would lose track when another user, or the elevated helper, undoes.
        ``VPNGUARD_STATE_DIR`` (tests, unprivileged runs on a writable tree) is
        ignored whenever the process is elevated: an elevated process must not
        take its journal, the basis of what it writes, from a caller's variable.
        """
        override = self.environ.get("VPNGUARD_STATE_DIR")
        if override and not is_elevated():
            return Path(override)
        if self.os is OS.WINDOWS:
            base = self.environ.get("PROGRAMDATA", r"C:\ProgramData")
            return self.p(base + r"\vpnguard")
        if self.os is OS.MACOS:
            return self.p("/Library/Application Support/vpnguard")
        return self.p("/var/lib/vpnguard")
