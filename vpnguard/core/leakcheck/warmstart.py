"""Firefox warm start: Firefox's own start-up caches, kept once per build, in each fresh profile.

Every check launches Firefox with a new, empty profile. On an empty profile
Firefox compiles its own user-interface scripts and scans its built-in
add-ons before it loads any page: measured on firefox-esr 153 alone on two
CPUs, the first page request came after 1.10 s from an empty profile and
after 0.83 s from one that held these caches (and ~0.27 s less CPU), a cost
paid again on every check.

So the first check of a Firefox build keeps, once the browser has written
them, exactly these files of its temporary profile, and later checks copy
them into their own new profile before the launch:

* ``compatibility.ini`` -- which build wrote the caches (Firefox discards
  them itself when it does not match);
* ``extensions.json`` and ``addonStartup.json.lz4`` -- the list of built-in
  add-ons; saved only when every add-on in it is built into Firefox, so that
  no add-on of the user's, the system's or a policy's is carried over;
* ``startupCache/*`` -- compiled user-interface scripts.

Never ``prefs.js``, permissions, cookies or any site data: the profile a
check measures still has no user state, and WebRTC behaves as the system's
policy says. This is a cache and nothing depends on it: a copy that is
missing, from another build, damaged or planted (links, FIFOs, sizes that do
not match, names outside that list) is not used -- and is deleted -- and the
check starts cold, as before. One copy per Firefox install is kept (a new
build replaces the old one) in the user's cache dir
(``~/.cache/vpnguard/firefox-start``); deleting it at any time is safe.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import errno
import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from vpnguard.core.browsers.detect import application_ini
from vpnguard.core.errors import VpnguardError
from vpnguard.core.policy.fsio import read_bytes

log = logging.getLogger(__name__)

FILES = ("compatibility.ini", "extensions.json", "addonStartup.json.lz4")
STARTUP_DIR = "startupCache"
MANIFEST = "manifest.json"
MISSES = "misses"
# Add-on install locations that are part of Firefox itself (see XPIProvider's
# KEY_APP_BUILTINS / KEY_APP_SYSTEM_DEFAULTS): anything else is somebody's choice.
BUILTIN_LOCATIONS = frozenset({"app-builtin", "app-builtin-addons", "app-system-defaults"})
SAVE_WAIT = 3.0  # s after the reports: the longest a first check keeps Firefox for its caches
STABLE = 0.1  # s the files must stay unchanged before they are copied
MAX_MISSES = 3  # a build whose caches never appeared in time is not waited for again
STALE_SAVE = 600.0  # s: a ".save-*" dir this old was left by a check that was killed
_WRITE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


@dataclasses.dataclass(frozen=True)
class FirefoxBuild:
    """One installed Firefox build: where it lives and which build it is (``application.ini``)."""

    app_dir: str
    version: str
    build_id: str

    @property
    def key(self) -> str:
        raw = "\0".join((self.app_dir, self.version, self.build_id)).encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    @property
    def last_version(self) -> str:
        """What this build writes as ``LastVersion`` in a profile's ``compatibility.ini``."""
        return f"{self.version}_{self.build_id}/{self.build_id}"


def firefox_build(binary: str) -> FirefoxBuild | None:
    """The build behind ``binary`` (links resolved), or None when it has no ``application.ini``
    beside it (a wrapper script, a Snap or Flatpak launcher: those start cold)."""
    app_dir = os.path.dirname(os.path.realpath(binary))
    try:
        text = read_bytes(Path(app_dir) / "application.ini")
    except VpnguardError:
        return None
    if text is None:
        return None
    app = application_ini(text.decode("utf-8", "replace"))
    version, build_id = app.get("version", "").strip(), app.get("buildid", "").strip()
    if not version or not build_id:
        return None
    return FirefoxBuild(app_dir, version, build_id)


def _allowed(rel: str) -> bool:
    """Whether ``rel`` names one of the files a warm start may carry (pure)."""
    if rel in FILES:
        return True
    head, _, name = rel.partition("/")
    return (
        head == STARTUP_DIR
        and bool(name)
        and "/" not in name
        and "\\" not in name
        and not name.startswith(".")
        and name.isprintable()
    )


def builtin_only(extensions_json: bytes) -> bool:
    """Whether every add-on in an ``extensions.json`` is built into Firefox (pure)."""
    try:
        doc = json.loads(extensions_json)
        addons = doc["addons"]
        return isinstance(addons, list) and all(
            isinstance(a, dict) and a.get("location") in BUILTIN_LOCATIONS for a in addons
        )
    except (ValueError, KeyError, TypeError, RecursionError):  # nested past the limit
        return False


def compatible(compatibility_ini: bytes, build: FirefoxBuild) -> bool:
    """Whether a profile's ``compatibility.ini`` was written by ``build`` (pure)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(compatibility_ini.decode("utf-8", "replace"))
        last = parser.get("Compatibility", "LastVersion", fallback=None)
        platform_dir = parser.get("Compatibility", "LastPlatformDir", fallback=None)
    except configparser.Error:
        return False
    return last == build.last_version and platform_dir == build.app_dir


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (never over or through what is there) with ``data``, or not at all:
    a write that fails midway (a full disk) takes the part written back."""
    fd = os.open(path, _WRITE_FLAGS, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    finally:
        os.close(fd)


def _remove(path: str | Path) -> None:
    """Delete ``path``: a dir with what it holds; anything else (a link, a file, a FIFO) itself.

    ``shutil.rmtree`` does nothing on a plain file, and on Python 3.11 its open of a FIFO
    blocks for ever (seen): a planted one would hang the check.
    """
    try:
        is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return
    if is_dir:
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _snapshot(profile: Path) -> dict[str, tuple[int, int]] | None:
    """Size and mtime of every file to keep, or None while one is missing."""
    out: dict[str, tuple[int, int]] = {}
    try:
        names = sorted(os.listdir(profile / STARTUP_DIR))
    except OSError:
        return None
    rels = [*FILES, *(f"{STARTUP_DIR}/{n}" for n in names if _allowed(f"{STARTUP_DIR}/{n}"))]
    if len(rels) == len(FILES):
        return None
    for rel in rels:
        try:
            st = os.lstat(profile / rel)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            return None
        out[rel] = (st.st_size, st.st_mtime_ns)
    return out


class WarmStart:
    """The saved start-up caches of each Firefox build, under ``root`` (one dir per build)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_user(cls) -> WarmStart:
        """In the user's cache dir (platformdirs): ``~/.cache/vpnguard/firefox-start``.

        ``VPNGUARD_CACHE_DIR`` replaces ``~/.cache/vpnguard`` (tests; a VPN client that
        wants it elsewhere).
        """
        override = os.environ.get("VPNGUARD_CACHE_DIR")
        if override:
            return cls(Path(override) / "firefox-start")
        import platformdirs

        return cls(Path(platformdirs.user_cache_dir("vpnguard", appauthor=False)) / "firefox-start")

    def _dir(self, build: FirefoxBuild) -> Path:
        return self.root / build.key

    def _manifest(self, build: FirefoxBuild) -> dict[str, int]:
        """The saved files and their sizes; FileNotFoundError when nothing is kept for ``build``,
        ValueError when what is kept does not hold."""
        d = self._dir(build)
        if not stat.S_ISDIR(os.lstat(d).st_mode):  # FileNotFoundError: nothing kept
            raise ValueError("not a directory")
        raw = read_bytes(d / MANIFEST)
        if raw is None:
            # A save renames a whole dir into place: this one is what a killed discard left,
            # and kept, it would make every later save fail.
            raise ValueError("no manifest")
        try:
            doc = json.loads(raw)
        except RecursionError:
            raise ValueError("manifest nested too deep") from None
        if not isinstance(doc, dict):
            raise ValueError("the manifest is not a JSON object")
        if doc.get("app_dir") != build.app_dir or doc.get("last_version") != build.last_version:
            raise ValueError("saved by another build")
        files = doc.get("files")
        if not isinstance(files, dict) or not set(FILES) <= set(files):
            raise ValueError("files missing from the manifest")
        for rel, size in files.items():
            if not _allowed(rel) or type(size) is not int or size <= 0:  # not bool either
                raise ValueError(f"not a start-up cache file: {rel!r}")
        # read_bytes refuses a link only as the last component: startupCache is checked here.
        if any(rel.startswith(STARTUP_DIR + "/") for rel in files):
            try:
                is_dir = stat.S_ISDIR(os.lstat(d / STARTUP_DIR).st_mode)
            except FileNotFoundError:
                is_dir = False
            if not is_dir:
                raise ValueError(f"{STARTUP_DIR} is not a directory")
        return dict(files)

    def seed(self, build: FirefoxBuild, profile: Path) -> bool:
        """Copy the saved caches into the new ``profile``; False (a cold start) when there are
        none or they do not hold -- then nothing of them is left in ``profile``."""
        copied: list[Path] = []
        try:
            files = self._manifest(build)
            for rel, size in files.items():
                data = read_bytes(self._dir(build) / rel)
                if data is None or len(data) != size:
                    raise ValueError(f"{rel}: not the saved size")
                if rel.startswith(STARTUP_DIR + "/"):
                    (profile / STARTUP_DIR).mkdir(mode=0o700, exist_ok=True)
                _write_new(profile / rel, data)
                copied.append(profile / rel)
        except FileNotFoundError:
            self._undo(profile, copied)
            return False
        except (OSError, ValueError, VpnguardError) as exc:
            log.info("Firefox warm start not used (%s): starting cold", exc)
            self._undo(profile, copied)
            self.discard(build)
            return False
        return True

    @staticmethod
    def _undo(profile: Path, copied: list[Path]) -> None:
        for path in copied:
            with contextlib.suppress(OSError):
                path.unlink()
        with contextlib.suppress(OSError):
            (profile / STARTUP_DIR).rmdir()

    def wanted(self, build: FirefoxBuild) -> bool:
        """Whether a check of ``build`` should keep its caches: none saved, not given up on,
        and a cache dir that can take them (else no check waits for caches it cannot keep)."""
        if (self._dir(build) / MANIFEST).exists():
            return False
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            return False
        if not os.access(self.root, os.W_OK | os.X_OK):
            return False
        return self._misses(build) < MAX_MISSES

    def _misses(self, build: FirefoxBuild) -> int:
        """How many checks of ``build`` waited in vain; an unreadable count is 0 (and replaced
        by the next miss)."""
        try:
            return int((read_bytes(self.root / f"{build.key}.{MISSES}") or b"0").strip() or 0)
        except (ValueError, VpnguardError):
            return 0

    def save(
        self,
        build: FirefoxBuild,
        profile: Path,
        *,
        alive: Callable[[], bool],
        deadline: float,
    ) -> bool:
        """Wait (until ``deadline``, monotonic) for Firefox to write its caches into ``profile``,
        then keep a copy; False when they did not come, do not hold or cannot be kept."""
        got = self._wait_ready(profile, alive, deadline)
        if got is None:
            self._miss(build)
            return False
        tmp: Path | None = None
        try:
            compat = read_bytes(profile / "compatibility.ini") or b""
            if not compatible(compat, build):
                # Counted: an install whose profiles never match must not be waited for on
                # every check.
                log.info("Firefox warm start: the profile was written by another build")
                self._miss(build)
                return False
            if not builtin_only(read_bytes(profile / "extensions.json") or b""):
                log.info("Firefox warm start: add-ons beyond Firefox's own; not kept")
                self._miss(build, MAX_MISSES)
                return False
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".save-", dir=self.root))
            (tmp / STARTUP_DIR).mkdir(mode=0o700)
            for rel, (size, mtime) in got.items():
                data = read_bytes(profile / rel)
                st = os.lstat(profile / rel)
                unchanged = (st.st_size, st.st_mtime_ns) == (size, mtime)
                if data is None or len(data) != size or not unchanged:
                    raise ValueError(f"{rel} changed while it was copied")
                _write_new(tmp / rel, data)
            manifest = {
                "app_dir": build.app_dir,
                "last_version": build.last_version,
                "files": {rel: size for rel, (size, _) in got.items()},
                "saved": int(time.time()),
            }
            _write_new(tmp / MANIFEST, json.dumps(manifest, indent=1).encode())
            self._prune(build)
            try:
                os.rename(tmp, self._dir(build))
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                return False  # another check saved the same build first
            tmp = None
            with contextlib.suppress(OSError):
                (self.root / f"{build.key}.{MISSES}").unlink()
            return True
        except (OSError, ValueError, VpnguardError) as exc:
            log.info("Firefox warm start not kept: %s", exc)
            self._miss(build)
            return False
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _wait_ready(
        profile: Path, alive: Callable[[], bool], deadline: float
    ) -> dict[str, tuple[int, int]] | None:
        """The files once all exist and none changed for :data:`STABLE` s (bounded)."""
        last: dict[str, tuple[int, int]] | None = None
        since = 0.0
        while alive():
            now = time.monotonic()
            snap = _snapshot(profile)
            if snap is not None and snap == last:
                if now - since >= STABLE:
                    return snap
            else:
                last, since = snap, now
            if now >= deadline:
                return None
            time.sleep(0.02)
        return None

    def _miss(self, build: FirefoxBuild, count: int | None = None) -> None:
        """Count a check that waited in vain (or give up at once with ``count``)."""
        path = self.root / f"{build.key}.{MISSES}"
        n = count if count is not None else self._misses(build) + 1
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            _write_new(tmp, str(n).encode())
            os.replace(tmp, path)
        except OSError as exc:
            log.debug("cannot count a Firefox warm-start miss: %s", exc)
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _prune(self, build: FirefoxBuild) -> None:
        """Delete what was kept for other builds of the same install (an upgrade's leftovers)."""
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return
        now = time.time()
        for entry in entries:
            if entry.name.startswith(".save-"):
                # A save killed midway; a live one is seconds old.
                with contextlib.suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime > STALE_SAVE:
                        _remove(entry.path)
                continue
            if entry.name == build.key or entry.name.startswith("."):
                continue
            if entry.name.endswith(f".{MISSES}"):
                continue
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue  # a link: never read through, its target never deleted
                raw = read_bytes(Path(entry.path) / MANIFEST)
                doc = json.loads(raw) if raw else {}
            except (OSError, ValueError, VpnguardError, RecursionError):
                continue
            if isinstance(doc, dict) and doc.get("app_dir") == build.app_dir:
                _remove(entry.path)

    def discard(self, build: FirefoxBuild) -> None:
        """Delete what was kept for ``build`` (it failed: the next check starts cold)."""
        _remove(self._dir(build))
