"""Find installed browsers, their versions, whether they run, and where their policy lives.

Detection never executes a browser: versions come from dpkg's status file,
snap/flatpak metadata, Firefox's ``application.ini``, Windows version
directories or macOS ``Info.plist``. That keeps ``vpnguard status`` fast
enough to run from a VPN hook.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path, PureWindowsPath

from vpnguard._lazylog import get_logger
from vpnguard.core.browsers.catalog import BrowserSpec, resolve_ids
from vpnguard.core.host import Host
from vpnguard.core.model import OS, Browser, Family, Install, PolicyTarget, TargetKind

log = get_logger(__name__)  # imports logging only if a message is emitted

_VERSION_DIR = r"^\d+(\.\d+){2,3}$"  # Windows only: compiled (and cached by re) on first use


def _resolve(host: Host, system_path: str, max_hops: int = 40) -> str:
    """Follow symlinks of a system path *inside* the root (absolute link targets stay in it)."""
    parts = [p for p in system_path.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        if part == ".":
            continue
        candidate = "/" + "/".join([*resolved, part])
        if host.is_symlink(candidate):
            hops += 1
            if hops > max_hops:
                return candidate
            target = os.readlink(host.fs(candidate))
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        resolved.append(part)
    return "/" + "/".join(resolved)


def _dpkg_version(status: bytes, package: str) -> str | None:
    """The installed version of one package, from dpkg's status file.

    Only the package's own stanza is parsed: the file is megabytes on a desktop.
    """
    start = status.find(b"\nPackage: " + package.encode() + b"\n")
    if start < 0:
        if not status.startswith(b"Package: " + package.encode() + b"\n"):
            return None
        start = 0
    end = status.find(b"\n\n", start + 1)
    stanza = status[start : end if end >= 0 else len(status)].decode("utf-8", "replace")
    version = None
    installed = False
    for line in stanza.splitlines():
        if line.startswith("Version: "):
            version = line[9:].strip()
        elif line.startswith("Status: "):
            installed = line.rstrip().endswith(" installed")
    return version if installed else None


class _Versions:
    """dpkg's status file is read at most once per detection run."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._status: bytes | None = None

    def dpkg(self, packages: Iterable[str]) -> str | None:
        if self._status is None:
            try:
                self._status = self._host.p("/var/lib/dpkg/status").read_bytes()
            except OSError:
                self._status = b""
        for pkg in packages:
            version = _dpkg_version(self._status, pkg)
            if version is not None:
                return version
        return None


def application_ini(text: str) -> dict[str, str]:
    """The ``[App]`` section of a Firefox-family ``application.ini``, keys lower-cased
    (``version``, ``buildid``, ...); empty when the text does not parse (pure)."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
        return dict(parser["App"]) if parser.has_section("App") else {}
    except configparser.Error:
        return {}


def _application_ini_version(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return application_ini(text).get("version")


def _snap_version(host: Host, snap: str) -> str | None:
    meta = host.p(f"/snap/{snap}/current/meta/snap.yaml")
    try:
        for line in meta.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("version:"):
                return line.split(":", 1)[1].strip().strip("'\"")
    except OSError:
        pass
    return None


def _flatpak_version(app_dir: Path, app_id: str) -> str | None:
    for sub in ("metainfo", "appdata"):
        for suffix in ("metainfo.xml", "appdata.xml"):
            f = app_dir / "current/active/files/share" / sub / f"{app_id}.{suffix}"
            try:
                m = re.search(r'<release[^>]*version="([^"]+)"', f.read_text(errors="replace"))
            except OSError:
                continue
            if m:
                return m.group(1)
    return None


def policy_dirs_from_binary(path: Path) -> tuple[str, ...]:
    """Managed-policy directories compiled into a Chromium-family binary.

    Vendors disagree on where Vivaldi and Opera read policy; the binary itself
    says, as a string like ``/etc/opt/vivaldi/policies``.
    """
    import mmap

    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            found = re.findall(rb"/etc/[A-Za-z0-9_./-]{1,80}?/policies(?=[\x00/])", mm)
    except (OSError, ValueError):
        return ()
    dirs = dict.fromkeys(f.decode("ascii", "replace") + "/managed" for f in found)
    return tuple(dirs)


def _proc_comm_names() -> set[str] | None:
    """Linux: /proc/PID/comm is what psutil reads for the name, without its per-process cost."""
    if not os.path.isdir("/proc/self"):
        return None
    names: set[str] = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:  # os.read, not open(): no buffered file object per process
                fd = os.open(f"/proc/{pid}/comm", os.O_RDONLY)
            except OSError:
                continue
            try:
                names.add(os.read(fd, 64).strip().decode("utf-8", "replace"))
            except OSError:
                continue
            finally:
                os.close(fd)
    return names


def _psutil_names() -> set[str]:
    import psutil

    names = set()
    for proc in psutil.process_iter(["name", "exe"]):
        info = proc.info
        if info.get("name"):
            names.add(str(info["name"]))
        if info.get("exe"):
            names.add(os.path.basename(str(info["exe"])))
    return names


def _claimed_elsewhere(spec: BrowserSpec) -> set[str]:
    from vpnguard.core.browsers.catalog import CATALOG

    return {p for other in CATALOG if other.id != spec.id for p in other.linux.paths}


def _linux_browser(
    host: Host, spec: BrowserSpec, versions: _Versions, running: set[str]
) -> Browser | None:
    lx = spec.linux
    installs: list[Install] = []
    exe: str | None = None
    install_dir: str | None = None
    version: str | None = None

    for d in host.path_dirs:
        if d.startswith("/snap"):
            continue
        for name in lx.binaries:
            candidate = f"{d.rstrip('/')}/{name}"
            if not host.is_file(candidate):
                continue
            real = _resolve(host, candidate)
            if real in _claimed_elsewhere(spec):
                continue
            if (
                spec.family is Family.FIREFOX
                and not spec.self_managed
                and not host.is_file(f"{os.path.dirname(real)}/application.ini")
                and versions.dpkg(lx.deb_packages) is None
            ):
                # Not a Firefox install but a wrapper: Debian's firefox-esr ships a
                # /usr/bin/firefox script that only execs firefox-esr.
                continue
            exe, install_dir = candidate, os.path.dirname(real)
            break
        if exe:
            break
    if exe is None:
        for path in lx.paths:
            if host.is_file(path):
                exe, install_dir = path, os.path.dirname(path)
                break
    if exe is not None:
        installs.append(Install.SYSTEM)
        version = versions.dpkg(lx.deb_packages)
        if version is None and spec.family is Family.FIREFOX and install_dir:
            version = _application_ini_version(host.p(f"{install_dir}/application.ini"))

    snap_found = bool(lx.snap) and host.exists(f"/snap/{lx.snap}/current")
    if snap_found and lx.snap:
        installs.append(Install.SNAP)
        exe = exe or f"/snap/bin/{lx.snap}"
        version = version or _snap_version(host, lx.snap)

    flatpak_found = False
    if lx.flatpak:
        for base in ("/var/lib/flatpak/app", f"{host.home}/.local/share/flatpak/app"):
            if host.exists(f"{base}/{lx.flatpak}/current"):
                app_dir = host.p(f"{base}/{lx.flatpak}")
                flatpak_found = True
                installs.append(Install.FLATPAK)
                exe = exe or f"{base}/{lx.flatpak}"
                version = version or _flatpak_version(app_dir, lx.flatpak)
                break

    if exe is None:
        return None

    targets: list[PolicyTarget] = []
    if spec.family is Family.CHROMIUM and not spec.self_managed:
        dirs: tuple[str, ...] = lx.policy_dirs
        if lx.probe_policy_dir and Install.SYSTEM in installs and install_dir:
            probed = policy_dirs_from_binary(host.p(_resolve(host, exe)))
            if probed:
                dirs = probed
        if Install.SYSTEM in installs or Install.SNAP in installs:
            targets += [PolicyTarget(TargetKind.CHROMIUM_MANAGED_DIR, d, OS.LINUX) for d in dirs]
        if flatpak_found and lx.flatpak_policy_dir:
            targets.append(
                PolicyTarget(
                    TargetKind.CHROMIUM_MANAGED_DIR,
                    lx.flatpak_policy_dir.format(arch=host.arch),
                    OS.LINUX,
                    note="flatpak policy extension",
                )
            )
    elif spec.family is Family.FIREFOX and not spec.self_managed:
        if Install.SYSTEM in installs or Install.SNAP in installs:
            candidates = [
                f.format(install=install_dir)
                for f in lx.policy_files
                if install_dir or "{" not in f
            ]
            effective = next((c for c in candidates if host.exists(c)), None)
            if candidates:
                chosen = effective or candidates[0]
                note = "in effect" if effective else "created on protect"
                targets.append(
                    PolicyTarget(TargetKind.FIREFOX_POLICIES_JSON, chosen, OS.LINUX, note=note)
                )
        if flatpak_found and lx.flatpak_policy_file:
            targets.append(
                PolicyTarget(
                    TargetKind.FIREFOX_POLICIES_JSON,
                    lx.flatpak_policy_file.format(arch=host.arch),
                    OS.LINUX,
                    note="flatpak systemconfig extension",
                )
            )

    is_running = bool(running.intersection(spec.process_names))
    return Browser(
        id=spec.id,
        name=spec.name,
        family=spec.family,
        version=version,
        path=exe,
        installs=tuple(installs),
        running=is_running,
        targets=tuple(targets),
        self_managed=spec.self_managed,
    )


def _windows_browser(host: Host, spec: BrowserSpec, running: set[str]) -> Browser | None:
    bases = (
        host.environ.get("PROGRAMFILES", r"C:\Program Files"),
        host.environ.get("PROGRAMFILES(X86)", r"C:\Program Files (x86)"),
        host.environ.get("LOCALAPPDATA", rf"C:\Users\{os.path.basename(host.home)}\AppData\Local"),
    )
    for base in bases:
        for rel in spec.windows.exe_relpaths:
            exe = str(PureWindowsPath(base) / rel)
            real = host.p(exe)
            if not real.is_file():
                continue
            version = None
            if spec.family is Family.FIREFOX:
                version = _application_ini_version(real.parent / "application.ini")
            else:
                vdirs = sorted(
                    (d.name for d in real.parent.iterdir() if re.match(_VERSION_DIR, d.name)),
                    key=lambda v: tuple(int(x) for x in v.split(".")),
                )
                version = vdirs[-1] if vdirs else None
            targets: tuple[PolicyTarget, ...] = ()
            if spec.windows.policy_key and not spec.self_managed:
                targets = (
                    PolicyTarget(
                        TargetKind.WINDOWS_REGISTRY, f"HKLM\\{spec.windows.policy_key}", OS.WINDOWS
                    ),
                )
            exe_names = {PureWindowsPath(r).name.lower() for r in spec.windows.exe_relpaths}
            return Browser(
                id=spec.id,
                name=spec.name,
                family=spec.family,
                version=version,
                path=exe,
                installs=(Install.SYSTEM if "Program Files" in base else Install.USER,),
                running=bool({n.lower() for n in running} & exe_names),
                targets=targets,
                self_managed=spec.self_managed,
            )
    return None


def _macos_browser(host: Host, spec: BrowserSpec, running: set[str]) -> Browser | None:
    for base in ("/Applications", f"{host.home}/Applications"):
        for app in spec.macos.apps:
            bundle = f"{base}/{app}"
            info = host.p(f"{bundle}/Contents/Info.plist")
            if not info.is_file():
                continue
            import plistlib

            version = None
            try:
                with open(info, "rb") as fh:
                    plist = plistlib.load(fh)
                version = str(plist.get("CFBundleShortVersionString") or "") or None
            except (OSError, plistlib.InvalidFileException, ValueError):
                log.debug("unreadable Info.plist %s", info)
            targets: tuple[PolicyTarget, ...] = ()
            if spec.macos.domain and not spec.self_managed:
                targets = (
                    PolicyTarget(TargetKind.MACOS_MANAGED_PREFS, spec.macos.domain, OS.MACOS),
                )
            return Browser(
                id=spec.id,
                name=spec.name,
                family=spec.family,
                version=version,
                path=bundle,
                installs=(Install.APP,),
                running=bool(running.intersection(spec.process_names))
                or app.removesuffix(".app") in running,
                targets=targets,
                self_managed=spec.self_managed,
            )
    return None


# --- one finder per OS (an ABC, a factory and a Null fallback; see core.host.System) ------


class BrowserFinder(ABC):
    """Finds the catalog's browsers on one OS, under ``host``'s root."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def running_names(self) -> set[str]:
        """Names of running processes (only on the live system, not in a fake root)."""
        return _psutil_names() if self.host.is_live else set()

    @abstractmethod
    def find(self, spec: BrowserSpec, running: set[str]) -> Browser | None: ...


class LinuxFinder(BrowserFinder):
    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.versions = _Versions(host)

    def running_names(self) -> set[str]:
        if not self.host.is_live:
            return set()
        names = _proc_comm_names()
        return names if names is not None else _psutil_names()

    def find(self, spec: BrowserSpec, running: set[str]) -> Browser | None:
        return _linux_browser(self.host, spec, self.versions, running)


class WindowsFinder(BrowserFinder):
    def find(self, spec: BrowserSpec, running: set[str]) -> Browser | None:
        return _windows_browser(self.host, spec, running)


class MacosFinder(BrowserFinder):
    def find(self, spec: BrowserSpec, running: set[str]) -> Browser | None:
        return _macos_browser(self.host, spec, running)


class NullFinder(BrowserFinder):
    """An OS without known browser locations: finds nothing (and says so in the log)."""

    def find(self, spec: BrowserSpec, running: set[str]) -> Browser | None:
        log.debug("no browser locations known for %s", self.host.os)
        return None


FINDERS: dict[OS, type[BrowserFinder]] = {
    OS.LINUX: LinuxFinder,
    OS.WINDOWS: WindowsFinder,
    OS.MACOS: MacosFinder,
}


def finder_for(host: Host) -> BrowserFinder:
    return FINDERS.get(host.os, NullFinder)(host)


def detect_browsers(host: Host, ids: Sequence[str] | None = None) -> tuple[Browser, ...]:
    """Every installed browser of the catalog (or of ``ids``), in catalog order."""
    specs = resolve_ids(ids)
    finder = finder_for(host)
    running = finder.running_names()
    found = (finder.find(spec, running) for spec in specs)
    return tuple(b for b in found if b is not None)
