"""Build an admin policy bundle in memory, then write it as a directory or a .zip.

Everything is rendered and checked before the first byte is written, so a bad
input (unknown browser, bad URL pattern, non-empty output) leaves nothing behind.
The output is reproducible: no timestamps, fixed order, fixed zip metadata.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vpnguard import __version__
from vpnguard.core.browsers.catalog import BrowserSpec, resolve_ids
from vpnguard.core.errors import NeedsElevationError, RefusedError, UsageError
from vpnguard.core.export import linux, macos, windows
from vpnguard.core.export.plan import (
    Note,
    Platform,
    browser_settings,
    chromium_policy,
    linux_targets,
    notes_for,
    parse_platforms,
)
from vpnguard.core.export.readme import readme
from vpnguard.core.export.urlpatterns import UrlException, parse_exceptions
from vpnguard.core.model import Family, Level
from vpnguard.core.policy.plans import firefox_preferences

log = logging.getLogger(__name__)

MANIFEST_SCHEMA_VERSION = 1
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
EXECUTABLE = frozenset({"linux/install.sh", "linux/uninstall.sh"})


@dataclasses.dataclass(frozen=True)
class Bundle:
    """A rendered bundle: relative POSIX path -> bytes, in write order."""

    files: dict[str, bytes]
    manifest: dict[str, Any]
    notes: tuple[Note, ...]

    def mode_of(self, name: str) -> int:
        return 0o755 if name in EXECUTABLE else 0o644


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What :func:`export_bundle` wrote (for the CLI and the GUI dialog)."""

    out: Path
    is_zip: bool
    files: tuple[str, ...]
    level: Level
    platforms: tuple[Platform, ...]
    browsers: tuple[str, ...]
    notes: tuple[Note, ...]
    manifest: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "zip": self.is_zip,
            "level": self.level.value,
            "platforms": [p.value for p in self.platforms],
            "browsers": list(self.browsers),
            "files": list(self.files),
            "notes": [dataclasses.asdict(n) for n in self.notes],
        }


def _level(level: Level | str) -> Level:
    try:
        return Level(level)
    except ValueError:
        raise UsageError(f"unknown level {level!r} (known: strict, balanced)") from None


def build_bundle(
    platforms: Sequence[str] | None,
    level: Level | str,
    browser_ids: Sequence[str] | None = None,
    exceptions: Sequence[str | UrlException] | None = None,
    *,
    version: str = __version__,
) -> Bundle:
    """Render every file of the bundle (pure: reads and writes nothing)."""
    plats = parse_platforms(list(platforms) if platforms else None)
    lvl = _level(level)
    specs: tuple[BrowserSpec, ...] = resolve_ids(list(browser_ids) if browser_ids else None)
    excs = parse_exceptions(
        [e if isinstance(e, str) else f"{e.url}={e.handling}" for e in exceptions or ()]
    )
    writable = [s for s in specs if not s.self_managed]
    if not writable:
        raise RefusedError(
            "nothing to export: the selected browsers manage WebRTC themselves "
            f"({', '.join(s.id for s in specs)})"
        )
    notes = notes_for(specs, plats, excs)
    title = f"vpnguard {version} WebRTC policy bundle, level {lvl.value}"
    settings = {s.id: browser_settings(s, lvl, excs) for s in specs}
    files: dict[str, bytes] = {}
    ltargets = linux_targets(specs, lvl, excs)

    if Platform.LINUX in plats:
        for spec in writable:
            if spec.family is Family.CHROMIUM and (
                spec.linux.policy_dirs or spec.linux.flatpak_policy_dir
            ):
                files[f"linux/chromium/{spec.id}/vpnguard.json"] = linux.json_bytes(
                    chromium_policy(spec, lvl, excs)
                )
        prefs: dict[str, Any] = {}
        for spec in writable:
            if spec.family is Family.FIREFOX and spec.linux.policy_files:
                prefs.update(firefox_preferences(spec, lvl))
        if prefs:
            files["linux/firefox/policies.json"] = linux.firefox_fragment(prefs)
        files["linux/install.sh"] = linux.install_script(ltargets, title)
        files["linux/uninstall.sh"] = linux.uninstall_script(ltargets, title)
    if Platform.WINDOWS in plats:
        values = windows.registry_values(tuple(writable), lvl, excs)
        if values:
            files["windows/vpnguard-webrtc.reg"] = windows.reg_file(values, title)
            files["windows/vpnguard-webrtc-undo.reg"] = windows.undo_reg_file(
                values, title + " (undo)"
            )
            files["windows/Install-VpnguardPolicy.ps1"] = windows.install_ps1(values, title)
            files["windows/Uninstall-VpnguardPolicy.ps1"] = windows.uninstall_ps1(values, title)
            files["windows/intune.csv"] = windows.intune_csv(tuple(writable), values)
    if Platform.MACOS in plats and macos.payloads(tuple(writable), lvl, excs):
        files["macos/vpnguard-webrtc.mobileconfig"] = macos.mobileconfig(tuple(writable), lvl, excs)

    files = {
        "README.txt": readme(
            version=version,
            level=lvl,
            platforms=plats,
            specs=specs,
            settings=settings,
            exceptions=excs,
            notes=notes,
            linux_targets=ltargets,
        ),
        **dict(sorted(files.items())),
    }
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "generator": "vpnguard export",
        "vpnguard_version": version,
        "level": lvl.value,
        "platforms": [p.value for p in plats],
        "browsers": [
            {
                "id": s.id,
                "name": s.name,
                "family": s.family.value,
                "self_managed": s.self_managed,
                "verified": s.verified,
                "settings": settings[s.id],
                "exceptions_applied": bool(excs)
                and s.family is Family.CHROMIUM
                and not s.self_managed,
                "notes": [n.text for n in notes if n.browser_id == s.id],
            }
            for s in specs
        ],
        "exceptions": [e.to_policy() for e in excs],
        "notes": [dataclasses.asdict(n) for n in notes],
        "files": [
            {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in files.items()
        ],
    }
    files["manifest.json"] = linux.json_bytes(manifest)
    return Bundle(files=files, manifest=manifest, notes=notes)


def zip_bytes(bundle: Bundle) -> bytes:
    """A reproducible zip: fixed entry order, timestamps, permissions and compression."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in sorted(bundle.files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = (0o100000 | bundle.mode_of(name)) << 16
            zf.writestr(
                info, bundle.files[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9
            )
    return buf.getvalue()


def _permission(exc: OSError, path: Path) -> NeedsElevationError:
    return NeedsElevationError(
        f"cannot write {path}: {exc.strerror or exc}; nothing was written", path=str(path)
    )


def _check_out(out: Path, is_zip: bool, force: bool) -> None:
    if out.is_symlink() or out.exists():
        if is_zip:
            if not out.is_file():
                raise RefusedError(
                    f"{out} exists and is not a file; nothing was written", path=str(out)
                )
            if not force:
                raise RefusedError(
                    f"{out} already exists; use --force to replace it", path=str(out)
                )
        else:
            if not out.is_dir():
                raise RefusedError(
                    f"{out} exists and is not a directory; nothing was written", path=str(out)
                )
            if any(out.iterdir()) and not force:
                raise RefusedError(
                    f"{out} is not empty; choose a new directory or use --force to write into it",
                    path=str(out),
                )


def write_bundle(bundle: Bundle, out: Path, force: bool = False) -> bool:
    """Write ``bundle`` to ``out`` (a directory, or a zip when the name ends in .zip)."""
    is_zip = out.suffix.lower() == ".zip"
    _check_out(out, is_zip, force)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if is_zip:
            fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(zip_bytes(bundle))
                os.chmod(tmp, 0o644)
                os.replace(tmp, out)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
            return True
        if out.is_dir() and any(out.iterdir()):
            _write_tree(bundle, out)  # --force: write over our own file names only
            return False
        tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
        try:
            _write_tree(bundle, tmpdir)
            os.chmod(tmpdir, 0o755)
            if out.is_dir():
                out.rmdir()
            os.replace(tmpdir, out)
        except BaseException:
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise
        return False
    except PermissionError as exc:
        raise _permission(exc, out) from None
    except OSError as exc:
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise _permission(exc, out) from None
        raise


def _write_tree(bundle: Bundle, root: Path) -> None:
    for name, data in bundle.files.items():
        path = root.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o755)
        path.write_bytes(data)
        os.chmod(path, bundle.mode_of(name))


def export_bundle(
    platforms: Sequence[str] | None,
    level: Level | str,
    browser_ids: Sequence[str] | None,
    exceptions: Sequence[str | UrlException] | None,
    out: str | os.PathLike[str],
    force: bool = False,
) -> ExportResult:
    """Render and write an admin bundle; the one entry point for the CLI and the GUI.

    Raises UsageError (unknown platform/browser/level, bad exception pattern),
    RefusedError (output exists and is not empty without ``force``; nothing to
    export) or NeedsElevationError (output not writable). Nothing is written then.
    """
    bundle = build_bundle(platforms, level, browser_ids, exceptions)
    out_path = Path(out)
    is_zip = write_bundle(bundle, out_path, force)
    log.info("wrote %d files to %s", len(bundle.files), out_path)
    m = bundle.manifest
    return ExportResult(
        out=out_path,
        is_zip=is_zip,
        files=tuple(bundle.files),
        level=Level(m["level"]),
        platforms=tuple(Platform(p) for p in m["platforms"]),
        browsers=tuple(b["id"] for b in m["browsers"]),
        notes=bundle.notes,
        manifest=m,
    )
