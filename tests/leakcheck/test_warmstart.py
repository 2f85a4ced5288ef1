"""Firefox warm start (:mod:`vpnguard.core.leakcheck.warmstart`) against real files, FIFOs,
links, threads and killed processes; no browser is launched.

A fake Firefox install is a directory with an ``application.ini`` and a binary reached through
links; a fake profile holds the files Firefox writes (the four kinds that are kept, and the user
state that must never be). Crashes are real: a forked child is SIGKILLed just before one of its
writes (an audit hook counts them), then what it left is used as the next check would.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import pytest

from vpnguard.core.leakcheck.warmstart import (
    FILES,
    MANIFEST,
    MAX_MISSES,
    MISSES,
    STALE_SAVE,
    STARTUP_DIR,
    FirefoxBuild,
    WarmStart,
    _allowed,
    builtin_only,
    compatible,
    firefox_build,
)

T = TypeVar("T")

VERSION = "153.8.0"
BUILD_ID = "20261117185949"
STARTUP_NAME = "startupCache.8.little"
BUILTIN_ADDONS: list[dict[str, Any]] = [
    {"id": "default-theme@mozilla.org", "location": "app-builtin", "active": True},
    {"id": "formautofill@mozilla.org", "location": "app-builtin-addons"},
    {"id": "ddg@search.mozilla.org", "location": "app-system-defaults"},
]
# What Firefox also writes into a profile: user state, never carried over.
NOISE = {
    "prefs.js": b'user_pref("media.peerconnection.enabled", true);\n',
    "permissions.sqlite": b"SQLite format 3\0" + b"\1" * 100,
    "cookies.sqlite": b"SQLite format 3\0" + b"\2" * 100,
    "times.json": b'{"created": 1}',
    f"{STARTUP_DIR}/.hidden": b"not a cache file",
}


# --- fake installs, profiles and helpers -------------------------------------------------------


def fake_app(parent: Path, version: str = VERSION, build_id: str = BUILD_ID) -> FirefoxBuild:
    """An install dir with ``application.ini`` and a binary, reached through a link."""
    app = parent / f"firefox-{version}-{build_id}"
    app.mkdir(parents=True)
    (app / "application.ini").write_text(
        f"[App]\nVendor=Mozilla\nName=Firefox\nVersion={version}\nBuildID={build_id}\n"
    )
    binary = app / "firefox"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    link = parent / f"{app.name}-bin"
    link.symlink_to(binary)
    build = firefox_build(str(link))
    assert build is not None
    return build


def compat_ini(build: FirefoxBuild, *, last_version: str = "", app_dir: str = "") -> bytes:
    return (
        "[Compatibility]\n"
        f"LastVersion={last_version or build.last_version}\n"
        "LastOSABI=Linux_x86_64-gcc3\n"
        f"LastPlatformDir={app_dir or build.app_dir}\n"
        f"LastAppDir={app_dir or build.app_dir}/browser\n"
    ).encode()


def extensions(addons: list[Any]) -> bytes:
    return json.dumps({"schemaVersion": 37, "addons": addons}).encode()


def make_profile(
    profile: Path,
    build: FirefoxBuild,
    *,
    compat: bytes | None = None,
    addons: list[dict[str, Any]] | None = None,
    startup: dict[str, bytes] | None = None,
) -> dict[str, bytes]:
    """Write a profile as Firefox leaves it; returns the files a warm start should keep."""
    kept = {
        "compatibility.ini": compat if compat is not None else compat_ini(build),
        "extensions.json": extensions(BUILTIN_ADDONS if addons is None else addons),
        "addonStartup.json.lz4": b"mozLz40\0" + os.urandom(300),
    }
    if startup is None:
        startup = {STARTUP_NAME: os.urandom(5000), "scriptCache.bin": os.urandom(700)}
    kept.update({f"{STARTUP_DIR}/{name}": data for name, data in startup.items()})
    (profile / STARTUP_DIR).mkdir(parents=True, exist_ok=True)
    for rel, data in {**kept, **NOISE}.items():
        (profile / rel).write_bytes(data)
    return kept


def tree(top: Path) -> dict[str, bytes]:
    """Every regular file under ``top`` (links not followed), by relative path."""
    out: dict[str, bytes] = {}
    for dirpath, _, names in os.walk(top):
        for name in names:
            path = Path(dirpath) / name
            assert stat.S_ISREG(os.lstat(path).st_mode), f"not a regular file: {path}"
            out[str(path.relative_to(top))] = path.read_bytes()
    return out


def assert_cold(profile: Path, before: dict[str, bytes] | None = None) -> None:
    """Nothing of the template is in ``profile``: it holds exactly what it held before."""
    assert tree(profile) == (before or {})
    if not before or not any(rel.startswith(STARTUP_DIR + "/") for rel in before):
        assert not (profile / STARTUP_DIR).exists()


def save_now(ws: WarmStart, build: FirefoxBuild, profile: Path, wait: float = 3.0) -> bool:
    return ws.save(build, profile, alive=lambda: True, deadline=time.monotonic() + wait)


def bounded(fn: Callable[[], T], timeout: float = 10.0) -> T:
    """``fn()`` in a thread: a hang fails the test instead of blocking it forever."""
    out: list[T] = []
    err: list[BaseException] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # re-raised in the test's thread
            err.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"still running after {timeout} s: it hangs"
    if err:
        raise err[0]
    return out[0]


def misses(ws: WarmStart, build: FirefoxBuild) -> int:
    """The count of misses kept for ``build`` (-1: not a regular file)."""
    path = ws.root / f"{build.key}.{MISSES}"
    if not os.path.lexists(path):
        return 0
    if not stat.S_ISREG(os.lstat(path).st_mode):
        return -1
    return int(path.read_text())


def save_dirs(root: Path) -> list[str]:
    return sorted(n for n in os.listdir(root) if n.startswith(".save-")) if root.exists() else []


@dataclasses.dataclass
class Saved:
    ws: WarmStart
    build: FirefoxBuild
    files: dict[str, bytes]  # what was kept, by relative path

    @property
    def key_dir(self) -> Path:
        return self.ws.root / self.build.key

    def seed_new(self, profile: Path) -> bool:
        profile.mkdir(parents=True, exist_ok=True)
        return bounded(lambda: self.ws.seed(self.build, profile))


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """One real save, made once; each test gets its own copy of the cache (``saved``)."""
    base = tmp_path_factory.mktemp("warm-origin")
    build = fake_app(base / "apps")
    ws = WarmStart(base / "cache")
    files = make_profile(base / "profile", build)
    assert save_now(ws, build, base / "profile")
    return Saved(ws, build, files)


@pytest.fixture
def saved(origin: Saved, tmp_path: Path) -> Saved:
    root = tmp_path / "cache"
    shutil.copytree(origin.ws.root, root, symlinks=True)
    return Saved(WarmStart(root), origin.build, origin.files)


@pytest.fixture
def build(tmp_path: Path) -> FirefoxBuild:
    return fake_app(tmp_path / "apps")


# --- firefox_build ------------------------------------------------------------------------------


def test_firefox_build_follows_a_chain_of_links_to_the_install(tmp_path: Path) -> None:
    app = tmp_path / "opt" / "firefox"
    app.mkdir(parents=True)
    (app / "application.ini").write_text(
        "; comment\n[App]\nName=Firefox\nVersion=128.5.1esr\nBuildID=20241120000000\n"
        "[Gecko]\nMinVersion=128.5.1\n"
    )
    (app / "firefox").write_bytes(b"\x7fELF")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "ff1").symlink_to("../opt/firefox/firefox")
    (tmp_path / "bin" / "ff2").symlink_to(tmp_path / "bin" / "ff1")
    (tmp_path / "lnkdir").symlink_to(tmp_path / "bin")
    got = firefox_build(str(tmp_path / "lnkdir" / "ff2"))
    assert got is not None
    assert got == FirefoxBuild(os.path.realpath(app), "128.5.1esr", "20241120000000")
    assert got.last_version == "128.5.1esr_20241120000000/20241120000000"
    # The key names the install and the build: another dir or another build is another key.
    other = firefox_build(str(app / "firefox"))
    assert other is not None and other.key == got.key
    assert FirefoxBuild(got.app_dir, got.version, "20241121000000").key != got.key
    assert FirefoxBuild(str(tmp_path), got.version, got.build_id).key != got.key
    assert re.fullmatch(r"[0-9a-f]{16}", got.key)


@pytest.mark.parametrize(
    "content",
    [
        None,  # no application.ini: a wrapper script, a Snap launcher
        b"",
        b"Version=153.8.0\nBuildID=20261117185949\n",  # no section
        b"[App]\nVersion=153.8.0\n",  # no BuildID
        b"[App]\nBuildID=20261117185949\n",  # no Version
        b"[App]\nVersion=  \nBuildID=20261117185949\n",
        b"[App]\nVersion=153.8.0\nBuildID=\n",
        b"[Gecko]\nVersion=153.8.0\nBuildID=20261117185949\n",  # not [App]
        b"[App]\nVersion=1\nVersion=2\nBuildID=3\n",  # duplicate key
        b"[App]\n[App]\nVersion=1\nBuildID=3\n",  # duplicate section
        b"[App\nVersion=1\nBuildID=3\n",
        b"\xff\xfe\x00\x01garbage[[[\n\x00",
    ],
)
def test_firefox_build_none_without_a_sound_application_ini(
    tmp_path: Path, content: bytes | None
) -> None:
    (tmp_path / "firefox").write_text('#!/bin/sh\nexec /opt/firefox/firefox "$@"\n')
    if content is not None:
        (tmp_path / "application.ini").write_bytes(content)
    assert firefox_build(str(tmp_path / "firefox")) is None


@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory"])
def test_firefox_build_refuses_a_planted_application_ini_without_hanging(
    tmp_path: Path, kind: str
) -> None:
    real = tmp_path / "elsewhere.ini"
    real.write_text(f"[App]\nVersion={VERSION}\nBuildID={BUILD_ID}\n")
    app = tmp_path / "app"
    app.mkdir()
    (app / "firefox").write_bytes(b"\x7fELF")
    ini = app / "application.ini"
    if kind == "fifo":
        os.mkfifo(ini)
    elif kind == "symlink":
        ini.symlink_to(real)
    else:
        ini.mkdir()
    assert bounded(lambda: firefox_build(str(app / "firefox")), timeout=5) is None


def test_firefox_build_of_a_missing_binary_is_none(tmp_path: Path) -> None:
    assert firefox_build(str(tmp_path / "nowhere" / "firefox")) is None
    (tmp_path / "file").write_text("x")
    assert firefox_build(str(tmp_path / "file" / "firefox")) is None  # a parent is a file


@pytest.mark.skipif(not os.path.exists("/usr/bin/firefox-esr"), reason="firefox-esr missing")
def test_firefox_build_reads_the_real_firefox_esr() -> None:
    got = firefox_build("/usr/bin/firefox-esr")
    assert got is not None
    assert got.app_dir == os.path.dirname(os.path.realpath("/usr/bin/firefox-esr"))
    out = subprocess.run(
        ["/usr/bin/firefox-esr", "--version"], capture_output=True, text=True, timeout=30
    ).stdout
    m = re.search(r"(\d+(?:\.\d+)+)", out)
    assert m, out
    assert got.version == m.group(1)
    assert re.fullmatch(r"\d{14}", got.build_id)


# --- pure helpers -------------------------------------------------------------------------------


def test_compatible_only_with_the_same_build_and_install() -> None:
    b = FirefoxBuild("/usr/lib/firefox-esr", VERSION, BUILD_ID)
    assert compatible(compat_ini(b), b)
    assert compatible(compat_ini(b).replace(b"\n", b"\r\n"), b)
    assert not compatible(compat_ini(b, last_version=f"{VERSION}_1/1"), b)
    assert not compatible(compat_ini(b, last_version=f"115.0_{BUILD_ID}/{BUILD_ID}"), b)
    assert not compatible(compat_ini(b, app_dir="/opt/firefox"), b)
    assert not compatible(compat_ini(b, app_dir="/usr/lib/firefox-esr/"), b)
    assert not compatible(compat_ini(b).replace(b"LastPlatformDir", b"LastXDir"), b)
    assert not compatible(compat_ini(b).replace(b"LastVersion", b"Version"), b)
    assert not compatible(compat_ini(b).replace(b"[Compatibility]", b"[Other]"), b)
    assert not compatible(compat_ini(b) + compat_ini(b), b)  # duplicate section
    assert not compatible(b"", b)
    assert not compatible(b"\xff\xfe garbage \x00", b)
    assert not compatible(b"LastVersion=" + b.last_version.encode(), b)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (extensions(BUILTIN_ADDONS), True),
        (extensions([]), True),  # nothing beyond Firefox's own
        (extensions([*BUILTIN_ADDONS, {"id": "ublock@x", "location": "app-profile"}]), False),
        (extensions([{"id": "a@b", "location": "app-system-share"}]), False),
        (extensions([{"id": "a@b", "location": "app-system-user"}]), False),
        (extensions([{"id": "a@b", "location": "app-system-local"}]), False),
        (extensions([{"id": "a@b", "location": "app-global"}]), False),
        (extensions([{"id": "a@b", "location": "app-temporary"}]), False),
        (extensions([{"id": "a@b", "location": "APP-BUILTIN"}]), False),
        (extensions([{"id": "a@b"}]), False),  # no location
        (extensions([{"id": "a@b", "location": ["app-builtin"]}]), False),  # unhashable
        (extensions([{"id": "a@b", "location": None}]), False),
        (extensions(["app-builtin"]), False),  # an add-on that is not an object
        (json.dumps({"schemaVersion": 37, "addons": {"a": "app-builtin"}}).encode(), False),
        (json.dumps({"schemaVersion": 37}).encode(), False),
        (b"[]", False),
        (b"null", False),
        (b'"addons"', False),
        (b"42", False),
        (b"", False),
        (b"{not json", False),
        (b"\xff\xfe\x00", False),
        (b"[" * 100_000 + b"]" * 100_000, False),  # nested past the recursion limit
    ],
)
def test_builtin_only(doc: bytes, expected: bool) -> None:
    assert builtin_only(doc) is expected


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("compatibility.ini", True),
        ("extensions.json", True),
        ("addonStartup.json.lz4", True),
        ("startupCache/startupCache.8.little", True),
        ("startupCache/scriptCache-child.bin", True),
        ("prefs.js", False),
        ("permissions.sqlite", False),
        ("cookies.sqlite", False),
        ("user.js", False),
        ("startupCache/../prefs.js", False),
        ("startupCache/..", False),
        ("startupCache/.", False),
        ("startupCache/.x", False),
        ("startupCache/a/b", False),
        ("startupCache/a\\b", False),
        ("startupCache/a\nb", False),
        ("startupCache/a\x00b", False),
        ("startupCache/", False),
        ("startupCache", False),
        ("./compatibility.ini", False),
        ("/compatibility.ini", False),
        ("/etc/passwd", False),
        ("/startupCache/x", False),
        ("../startupCache/x", False),
        ("x/startupCache/y", False),
        ("StartupCache/x", False),
        ("", False),
    ],
)
def test_allowed(rel: str, expected: bool) -> None:
    assert _allowed(rel) is expected


# --- save then seed -----------------------------------------------------------------------------


def test_save_then_seed_round_trip(tmp_path: Path, build: FirefoxBuild) -> None:
    ws = WarmStart(tmp_path / "cache")
    assert ws.wanted(build)
    files = make_profile(tmp_path / "p1", build)
    before = time.time()
    assert save_now(ws, build, tmp_path / "p1")
    assert not ws.wanted(build)

    key_dir = ws.root / build.key
    assert sorted(os.listdir(ws.root)) == [build.key]  # no .save-*, no misses file
    assert tree(key_dir) == {**files, MANIFEST: (key_dir / MANIFEST).read_bytes()}
    manifest = json.loads((key_dir / MANIFEST).read_bytes())
    assert manifest["app_dir"] == build.app_dir
    assert manifest["last_version"] == build.last_version
    assert manifest["files"] == {rel: len(data) for rel, data in files.items()}
    assert set(FILES) < set(manifest["files"])
    assert int(before) <= manifest["saved"] <= time.time() + 1
    for d in (ws.root, key_dir, key_dir / STARTUP_DIR):
        assert stat.S_IMODE(os.lstat(d).st_mode) == 0o700, d
    for rel in [*files, MANIFEST]:
        assert stat.S_IMODE(os.lstat(key_dir / rel).st_mode) == 0o600, rel

    s = Saved(ws, build, files)
    assert s.seed_new(tmp_path / "p2")
    assert tree(tmp_path / "p2") == files  # byte-identical; no prefs.js, no manifest
    assert stat.S_IMODE(os.lstat(tmp_path / "p2" / STARTUP_DIR).st_mode) == 0o700
    # Seeding again (another check) works as well and leaves the template as it was.
    assert s.seed_new(tmp_path / "p3")
    assert tree(tmp_path / "p3") == files
    assert tree(key_dir) == {**files, MANIFEST: (key_dir / MANIFEST).read_bytes()}


def test_seed_copies_only_what_the_manifest_lists(saved: Saved, tmp_path: Path) -> None:
    """A file planted in the template beside the listed ones is never carried over."""
    (saved.key_dir / "prefs.js").write_bytes(NOISE["prefs.js"])
    (saved.key_dir / STARTUP_DIR / "planted.bin").write_bytes(b"x" * 10)
    assert saved.seed_new(tmp_path / "p")
    assert tree(tmp_path / "p") == saved.files


def test_seed_of_another_build_finds_nothing(saved: Saved, tmp_path: Path) -> None:
    newer = FirefoxBuild(saved.build.app_dir, saved.build.version, "20990101000000")
    profile = tmp_path / "p"
    profile.mkdir()
    assert not saved.ws.seed(newer, profile)
    assert_cold(profile)
    assert saved.seed_new(tmp_path / "p2")  # the kept build's copy is untouched


# --- save refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("other", ["build", "app_dir"])
def test_save_refuses_a_profile_of_another_build(
    tmp_path: Path, build: FirefoxBuild, other: str
) -> None:
    ws = WarmStart(tmp_path / "cache")
    compat = (
        compat_ini(build, last_version=f"{VERSION}_20200101000000/20200101000000")
        if other == "build"
        else compat_ini(build, app_dir="/usr/lib/firefox")
    )
    make_profile(tmp_path / "p", build, compat=compat)
    assert not save_now(ws, build, tmp_path / "p")
    assert not (ws.root / build.key).exists()
    assert save_dirs(ws.root) == []
    # Counted, so that a build whose profiles never match is not waited for forever.
    assert misses(ws, build) == 1
    assert ws.wanted(build)


@pytest.mark.parametrize("location", ["app-profile", "app-system-share", "app-global"])
def test_save_refuses_add_ons_beyond_firefox_and_gives_up_at_once(
    tmp_path: Path, build: FirefoxBuild, location: str
) -> None:
    ws = WarmStart(tmp_path / "cache")
    addons = [*BUILTIN_ADDONS, {"id": "someone@example.org", "location": location}]
    make_profile(tmp_path / "p", build, addons=addons)
    assert not save_now(ws, build, tmp_path / "p")
    assert not (ws.root / build.key).exists()
    assert save_dirs(ws.root) == []
    assert not ws.wanted(build)


def test_save_returns_at_once_when_firefox_is_gone(tmp_path: Path, build: FirefoxBuild) -> None:
    ws = WarmStart(tmp_path / "cache")
    make_profile(tmp_path / "p", build)
    far = time.monotonic() + 3600
    assert not bounded(lambda: ws.save(build, tmp_path / "p", alive=lambda: False, deadline=far))
    assert not (ws.root / build.key).exists()
    # Dying while it waits (files not written yet) ends the wait too.
    (tmp_path / "q").mkdir()
    calls = iter(range(5))
    assert not bounded(
        lambda: ws.save(build, tmp_path / "q", alive=lambda: next(calls, -1) >= 0, deadline=far)
    )
    assert ws.wanted(build)


def test_save_gives_up_on_files_that_keep_changing(tmp_path: Path, build: FirefoxBuild) -> None:
    ws = WarmStart(tmp_path / "cache")
    make_profile(tmp_path / "p", build)
    target = tmp_path / "p" / STARTUP_DIR / STARTUP_NAME
    stop = threading.Event()

    def rewrite() -> None:  # Firefox still writing its cache
        n = 0
        while not stop.is_set():
            n += 1
            target.write_bytes(b"c" * (1000 + n % 500))
            time.sleep(0.01)

    writer = threading.Thread(target=rewrite, daemon=True)
    writer.start()
    try:
        assert not bounded(lambda: save_now(ws, build, tmp_path / "p", wait=0.4), timeout=5)
    finally:
        stop.set()
        writer.join(5)
    assert not (ws.root / build.key).exists()
    assert save_dirs(ws.root) == []
    assert misses(ws, build) == 1
    assert ws.wanted(build)


@pytest.mark.parametrize("layout", ["no startupCache", "empty startupCache", "only dot-files"])
def test_save_waits_in_vain_without_a_startup_cache(
    tmp_path: Path, build: FirefoxBuild, layout: str
) -> None:
    ws = WarmStart(tmp_path / "cache")
    make_profile(tmp_path / "p", build, startup={})
    if layout == "no startupCache":
        shutil.rmtree(tmp_path / "p" / STARTUP_DIR)
    elif layout == "empty startupCache":
        (tmp_path / "p" / STARTUP_DIR / ".hidden").unlink()
    assert not save_now(ws, build, tmp_path / "p", wait=0.2)
    assert not (ws.root / build.key).exists()
    assert misses(ws, build) == 1


@pytest.mark.parametrize("planted", ["symlink", "fifo", "empty", "directory"])
def test_save_never_copies_a_planted_profile_file(
    tmp_path: Path, build: FirefoxBuild, planted: str
) -> None:
    """A kept file that is a link, a FIFO, empty or a dir in the profile: nothing is kept."""
    ws = WarmStart(tmp_path / "cache")
    make_profile(tmp_path / "p", build)
    path = tmp_path / "p" / "extensions.json"
    (tmp_path / "outside.json").write_bytes(extensions(BUILTIN_ADDONS))
    path.unlink()
    if planted == "symlink":
        path.symlink_to(tmp_path / "outside.json")
    elif planted == "fifo":
        os.mkfifo(path)
    elif planted == "empty":
        path.write_bytes(b"")
    else:
        path.mkdir()
    assert not bounded(lambda: save_now(ws, build, tmp_path / "p", wait=0.3))
    assert not (ws.root / build.key).exists()
    assert save_dirs(ws.root) == []


def test_wanted_turns_false_after_max_misses(tmp_path: Path, build: FirefoxBuild) -> None:
    ws = WarmStart(tmp_path / "cache")
    (tmp_path / "p").mkdir()  # Firefox never writes its caches here
    for n in range(1, MAX_MISSES + 1):
        assert ws.wanted(build)
        assert not ws.save(build, tmp_path / "p", alive=lambda: True, deadline=time.monotonic())
        assert misses(ws, build) == n
    assert not ws.wanted(build)
    other = FirefoxBuild(build.app_dir, build.version, "20990101000000")
    assert ws.wanted(other)  # counted per build
    assert not [n for n in os.listdir(ws.root) if n.startswith(".")]  # no temp file left


def test_wanted_makes_the_cache_dir_or_says_no(tmp_path: Path, build: FirefoxBuild) -> None:
    """No check waits for caches that could not be kept: a root that cannot be made is False."""
    ws = WarmStart(tmp_path / "a" / "cache")
    assert ws.wanted(build)
    assert stat.S_IMODE(os.lstat(ws.root).st_mode) == 0o700
    (tmp_path / "file").write_text("x")
    for root in (tmp_path / "file", tmp_path / "file" / "cache"):
        assert not WarmStart(root).wanted(build), root
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.parametrize("content", ["garbage", "symlink", "fifo", "directory"])
def test_a_damaged_misses_file_counts_from_zero(
    tmp_path: Path, build: FirefoxBuild, content: str
) -> None:
    ws = WarmStart(tmp_path / "cache")
    ws.root.mkdir()
    path = ws.root / f"{build.key}.{MISSES}"
    (tmp_path / "three").write_text(str(MAX_MISSES))
    if content == "garbage":
        path.write_bytes(b"\xff lots")
    elif content == "symlink":
        path.symlink_to(tmp_path / "three")
    elif content == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    assert bounded(lambda: ws.wanted(build))
    (tmp_path / "p").mkdir()
    bounded(lambda: ws.save(build, tmp_path / "p", alive=lambda: True, deadline=0.0))
    if content != "directory":  # a dir in its place cannot be replaced: never followed
        assert misses(ws, build) == 1
    assert not [n for n in os.listdir(ws.root) if n.startswith(".")]  # no temp file left
    assert (tmp_path / "three").read_text() == str(MAX_MISSES)  # a link is not followed


# --- seed refusals ------------------------------------------------------------------------------


def test_seed_without_a_template_is_cold_and_deletes_nothing(
    tmp_path: Path, build: FirefoxBuild
) -> None:
    ws = WarmStart(tmp_path / "cache")
    (tmp_path / "p").mkdir()
    assert not ws.seed(build, tmp_path / "p")  # no root at all
    assert not ws.root.exists()
    ws.root.mkdir()
    (ws.root / f"{build.key}.{MISSES}").write_text("1")
    other = ws.root / "0123456789abcdef"
    other.mkdir()
    (other / MANIFEST).write_text("{}")
    assert not ws.seed(build, tmp_path / "p")
    assert_cold(tmp_path / "p")
    assert sorted(os.listdir(ws.root)) == sorted(["0123456789abcdef", f"{build.key}.{MISSES}"])
    assert (other / MANIFEST).read_text() == "{}"


def _manifest_doc(saved: Saved) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((saved.key_dir / MANIFEST).read_bytes())
    return doc


def _edit(doc: dict[str, Any], change: str) -> Any:
    files = doc["files"]
    cache = f"{STARTUP_DIR}/{STARTUP_NAME}"
    edits: dict[str, Callable[[], Any]] = {
        "wrong app_dir": lambda: {**doc, "app_dir": "/opt/firefox"},
        "no app_dir": lambda: {k: v for k, v in doc.items() if k != "app_dir"},
        "wrong last_version": lambda: {**doc, "last_version": "1.0_1/1"},
        "files not a dict": lambda: {**doc, "files": list(files)},
        "files missing one": lambda: {
            **doc,
            "files": {k: v for k, v in files.items() if k != "extensions.json"},
        },
        "prefs.js": lambda: {**doc, "files": {**files, "prefs.js": len(NOISE["prefs.js"])}},
        "../x": lambda: {**doc, "files": {**files, "../x": 1}},
        "traversal": lambda: {**doc, "files": {**files, "startupCache/../../etc/passwd": 10}},
        "absolute": lambda: {**doc, "files": {**files, "/etc/passwd": 10}},
        "dot-file": lambda: {**doc, "files": {**files, "startupCache/.hidden": 16}},
        "negative size": lambda: {**doc, "files": {**files, cache: -1}},
        "zero size": lambda: {**doc, "files": {**files, cache: 0}},
        "string size": lambda: {**doc, "files": {**files, cache: str(files[cache])}},
        "float size": lambda: {**doc, "files": {**files, cache: files[cache] + 0.5}},
        "null size": lambda: {**doc, "files": {**files, cache: None}},
        "a list": lambda: [doc],
        "null": lambda: None,
    }
    return edits[change]()


MANIFEST_EDITS = [
    "wrong app_dir",
    "no app_dir",
    "wrong last_version",
    "files not a dict",
    "files missing one",
    "prefs.js",
    "../x",
    "traversal",
    "absolute",
    "dot-file",
    "negative size",
    "zero size",
    "string size",
    "float size",
    "null size",
    "a list",
    "null",
]


@pytest.mark.parametrize("change", MANIFEST_EDITS)
def test_seed_refuses_and_deletes_a_manifest_that_does_not_hold(
    saved: Saved, tmp_path: Path, change: str
) -> None:
    # What a planted name would point at is there, so only the manifest check stands between.
    (saved.key_dir / "prefs.js").write_bytes(NOISE["prefs.js"])
    (saved.key_dir / STARTUP_DIR / ".hidden").write_bytes(NOISE[f"{STARTUP_DIR}/.hidden"])
    (saved.ws.root / "x").write_bytes(b"x")
    (saved.key_dir / MANIFEST).write_text(json.dumps(_edit(_manifest_doc(saved), change)))
    assert not saved.seed_new(tmp_path / "p")
    assert_cold(tmp_path / "p")
    assert not saved.key_dir.exists()
    assert (saved.ws.root / "x").read_bytes() == b"x"  # discard stays inside its dir
    assert saved.ws.wanted(saved.build)


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000, b'"manifest"', b"42"],
    ids=["empty", "truncated", "binary", "too deep", "a string", "a number"],
)
def test_seed_refuses_and_deletes_a_garbage_manifest(
    saved: Saved, tmp_path: Path, raw: bytes
) -> None:
    (saved.key_dir / MANIFEST).write_bytes(raw)
    assert not saved.seed_new(tmp_path / "p")
    assert_cold(tmp_path / "p")
    assert not saved.key_dir.exists()


@pytest.mark.parametrize("rel", [f"{STARTUP_DIR}/{STARTUP_NAME}", "extensions.json"])
@pytest.mark.parametrize("change", ["truncated", "grown", "missing", "emptied"])
def test_seed_refuses_a_file_that_is_not_the_saved_size(
    saved: Saved, tmp_path: Path, rel: str, change: str
) -> None:
    path = saved.key_dir / rel
    data = path.read_bytes()
    if change == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif change == "grown":
        path.write_bytes(data + b"\0")
    elif change == "missing":
        path.unlink()
    else:
        path.write_bytes(b"")
    assert not saved.seed_new(tmp_path / "p")
    assert_cold(tmp_path / "p")
    assert not saved.key_dir.exists()


@pytest.mark.parametrize("rel", ["compatibility.ini", f"{STARTUP_DIR}/{STARTUP_NAME}", MANIFEST])
def test_seed_refuses_a_file_replaced_by_a_link(saved: Saved, tmp_path: Path, rel: str) -> None:
    path = saved.key_dir / rel
    outside = tmp_path / "outside"
    outside.write_bytes(path.read_bytes())  # the right size, the right bytes even
    path.unlink()
    path.symlink_to(outside)
    assert not saved.seed_new(tmp_path / "p")
    assert_cold(tmp_path / "p")
    assert not saved.key_dir.exists()
    assert outside.exists()  # the link is removed, never what it points at


@pytest.mark.parametrize(
    "rel", ["addonStartup.json.lz4", f"{STARTUP_DIR}/{STARTUP_NAME}", MANIFEST]
)
def test_seed_refuses_a_fifo_promptly(saved: Saved, tmp_path: Path, rel: str) -> None:
    path = saved.key_dir / rel
    path.unlink()
    os.mkfifo(path)
    profile = tmp_path / "p"
    profile.mkdir()
    assert not bounded(lambda: saved.ws.seed(saved.build, profile), timeout=5)
    assert_cold(profile)
    assert not saved.key_dir.exists()


def test_seed_refuses_a_startup_cache_dir_that_is_a_link(saved: Saved, tmp_path: Path) -> None:
    """``startupCache`` of the template a link to another dir (with the right files)."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(saved.key_dir / STARTUP_DIR, elsewhere)
    shutil.rmtree(saved.key_dir / STARTUP_DIR)
    (saved.key_dir / STARTUP_DIR).symlink_to(elsewhere)
    assert not saved.seed_new(tmp_path / "p")
    assert_cold(tmp_path / "p")
    assert not saved.key_dir.exists()
    assert sorted(os.listdir(elsewhere)) == sorted(
        rel.split("/")[1] for rel in saved.files if rel.startswith(STARTUP_DIR + "/")
    )


def test_seed_refuses_a_key_dir_that_is_a_link(saved: Saved, tmp_path: Path) -> None:
    """The build's dir a link to another dir that holds a perfect copy: refused, and
    discarding it removes the link, not the target's contents."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(saved.key_dir, elsewhere)
    shutil.rmtree(saved.key_dir)
    saved.key_dir.symlink_to(elsewhere)
    before = tree(elsewhere)
    assert not saved.seed_new(tmp_path / "p")
    assert_cold(tmp_path / "p")
    assert not os.path.lexists(saved.key_dir)
    assert tree(elsewhere) == before


def test_a_kept_dir_without_its_manifest_is_deleted(saved: Saved, tmp_path: Path) -> None:
    """What a discard killed midway leaves (files, no manifest) must not block later saves."""
    (saved.key_dir / MANIFEST).unlink()
    assert not saved.seed_new(tmp_path / "p")
    assert_cold(tmp_path / "p")
    assert not saved.key_dir.exists()
    assert saved.ws.wanted(saved.build)
    files = make_profile(tmp_path / "fresh", saved.build)
    assert save_now(saved.ws, saved.build, tmp_path / "fresh")
    assert Saved(saved.ws, saved.build, files).seed_new(tmp_path / "q")
    assert tree(tmp_path / "q") == files


@pytest.mark.parametrize("kind", ["file", "fifo"])
def test_seed_refuses_and_removes_a_key_path_that_is_no_dir(
    saved: Saved, tmp_path: Path, kind: str
) -> None:
    shutil.rmtree(saved.key_dir)
    if kind == "file":
        saved.key_dir.write_bytes(b"{}")
    else:
        os.mkfifo(saved.key_dir)
    assert not saved.seed_new(tmp_path / "p")
    assert_cold(tmp_path / "p")
    assert not os.path.lexists(saved.key_dir)
    assert saved.ws.wanted(saved.build)


@pytest.mark.parametrize("rel", ["compatibility.ini", f"{STARTUP_DIR}/{STARTUP_NAME}"])
def test_seed_into_a_profile_that_already_has_the_file(
    saved: Saved, tmp_path: Path, rel: str
) -> None:
    """O_EXCL: never writes over (or through) what is there; what it copied is taken back."""
    profile = tmp_path / "p"
    (profile / STARTUP_DIR).mkdir(parents=True)
    (profile / rel).write_bytes(b"mine")
    before = tree(profile)
    assert not saved.seed_new(profile)
    assert_cold(profile, before)
    assert not saved.key_dir.exists()  # refused like any seed that fails: the next is cold


def test_seed_into_a_profile_with_a_planted_link(saved: Saved, tmp_path: Path) -> None:
    profile = tmp_path / "p"
    profile.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    (profile / "extensions.json").symlink_to(victim)
    assert not saved.seed_new(profile)
    assert victim.read_bytes() == b"keep me"
    assert sorted(os.listdir(profile)) == ["extensions.json"]  # only the planted link


SEED_IN_CHILD = r"""
import resource, signal, sys
from pathlib import Path
from vpnguard.core.leakcheck.warmstart import FirefoxBuild, WarmStart
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[5]), int(sys.argv[5])))
ok = WarmStart(Path(sys.argv[1])).seed(FirefoxBuild(*sys.argv[2:5]), Path(sys.argv[6]))
print("seeded" if ok else "cold")
"""


def test_seed_that_fails_midway_through_a_file_leaves_no_part_of_it(
    saved: Saved, tmp_path: Path
) -> None:
    """A full disk (here: a file-size limit) while a file is written: no half file stays."""
    profile = tmp_path / "p"
    profile.mkdir()
    big = max(len(d) for d in saved.files.values())
    b = saved.build
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            SEED_IN_CHILD,
            str(saved.ws.root),
            b.app_dir,
            b.version,
            b.build_id,
            str(big // 2),
            str(profile),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "cold"
    assert_cold(profile)


# --- crashes ------------------------------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _is_write(event: str, args: tuple[Any, ...]) -> bool:
    if event == "open":
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        mode = args[1] if len(args) > 1 else None
        return bool(flags & _WRITE_FLAGS) or (isinstance(mode, str) and mode[:1] in "wax+")
    return event in {
        "os.mkdir",
        "os.rename",
        "os.remove",
        "os.rmdir",
        "os.chmod",
        "os.utime",
        "os.truncate",
        "os.symlink",
        "os.link",
    }


def in_child(fn: Callable[[], int], kill_at: int = 0, count_to: Path | None = None) -> int:
    """Fork; the child runs ``fn`` and is SIGKILLed just before its ``kill_at``-th write
    (0: never); with ``count_to`` it writes there how many writes it made. Returns the pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        writes = [0]

        def hook(event: str, args: tuple[Any, ...]) -> None:
            if _is_write(event, args):
                writes[0] += 1
                if writes[0] == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

        sys.addaudithook(hook)
        code = fn()
        if count_to is not None:
            count_to.write_text(str(writes[0]))
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def wait_child(pid: int, timeout: float = 20.0) -> int:
    """The child's exit status, or -signal; kills it (and fails) when it hangs."""
    end = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"child {pid} hung")
        time.sleep(0.01)


def count_writes(fn: Callable[[], int], tmp: Path) -> tuple[int, int]:
    counter = tmp / "count"
    counter.write_text("")
    status = wait_child(in_child(fn, count_to=counter))
    return status, int(counter.read_text())


@pytest.fixture
def quiet_threads() -> Iterator[None]:
    """Forking is only sound while no other thread of ours runs."""
    assert threading.active_count() == 1, threading.enumerate()
    yield


def test_save_killed_before_any_of_its_writes(
    tmp_path: Path, build: FirefoxBuild, quiet_threads: None
) -> None:
    """SIGKILL before each write of a save, in turn: the next check starts cold (or warm with
    the whole copy), never with part of it; a later save works; leftovers go when stale."""
    profile = tmp_path / "p"
    files = make_profile(profile, build)

    def save_in(root: Path) -> Callable[[], int]:
        return lambda: 0 if save_now(WarmStart(root), build, profile) else 1

    status, total = count_writes(save_in(tmp_path / "count-root"), tmp_path)
    assert status == 0 and total >= len(files) + 3, (status, total)
    roots = [tmp_path / f"root-{k}" for k in range(1, total + 1)]
    pids = [in_child(save_in(root), kill_at=k) for k, root in enumerate(roots, 1)]
    for pid in pids:
        assert wait_child(pid) == -signal.SIGKILL

    warm = []
    for k, root in enumerate(roots, 1):
        s = Saved(WarmStart(root), build, files)
        warm.append(s.seed_new(tmp_path / f"seed-{k}"))
        if warm[-1]:
            assert tree(tmp_path / f"seed-{k}") == files, k
        else:
            assert_cold(tmp_path / f"seed-{k}")
    # Cold when killed before the rename, warm with the whole copy from then on.
    assert warm == sorted(warm) and warm[-1] and not warm[0], warm

    results: dict[int, bool] = {}

    def again(k: int, root: Path) -> None:
        ws = WarmStart(root)
        results[k] = not ws.wanted(build) or save_now(ws, build, profile)

    threads = [threading.Thread(target=again, args=(k, r)) for k, r in enumerate(roots, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert all(results.get(k) for k in range(1, total + 1)), results
    for k, root in enumerate(roots, 1):
        s = Saved(WarmStart(root), build, files)
        assert s.seed_new(tmp_path / f"again-{k}"), k
        assert tree(tmp_path / f"again-{k}") == files
        leftovers = save_dirs(root)
        assert len(leftovers) <= 1, leftovers
        for name in leftovers:  # a fresh one is kept (it may be a live save) ...
            WarmStart(root)._prune(build)
            assert (root / name).exists()
            old = time.time() - STALE_SAVE - 60
            os.utime(root / name, (old, old))
            WarmStart(root)._prune(build)  # ... a stale one goes
            assert not (root / name).exists()
        assert (root / build.key / MANIFEST).exists()


def test_discard_killed_midway_does_not_block_later_saves(
    saved: Saved, tmp_path: Path, quiet_threads: None
) -> None:
    """A damaged template is deleted; SIGKILL before each of those deletions in turn: the next
    check starts cold and its save keeps a new copy."""
    target = saved.key_dir / STARTUP_DIR / STARTUP_NAME
    target.write_bytes(target.read_bytes()[:100])  # truncated: seed will discard it

    def seed_in(root: Path, profile: Path) -> Callable[[], int]:
        def run() -> int:
            profile.mkdir()
            return 0 if WarmStart(root).seed(saved.build, profile) else 1

        return run

    pristine = tmp_path / "pristine"
    shutil.copytree(saved.ws.root, pristine, symlinks=True)
    status, total = count_writes(seed_in(saved.ws.root, tmp_path / "count-p"), tmp_path)
    assert status == 1 and total >= 5, (status, total)
    assert not saved.key_dir.exists()
    roots = [tmp_path / f"root-{k}" for k in range(1, total + 1)]
    for root in roots:
        shutil.copytree(pristine, root, symlinks=True)
    pids = [
        in_child(seed_in(root, tmp_path / f"p-{k}"), kill_at=k) for k, root in enumerate(roots, 1)
    ]
    for pid in pids:
        assert wait_child(pid) == -signal.SIGKILL
    fresh = tmp_path / "fresh"
    make_profile(fresh, saved.build, startup={STARTUP_NAME: b"new cache " * 100})
    for k, root in enumerate(roots, 1):
        ws = WarmStart(root)
        profile = tmp_path / f"next-{k}"
        assert not Saved(ws, saved.build, saved.files).seed_new(profile), k
        assert_cold(profile)
        assert ws.wanted(saved.build), k
    results: dict[int, bool] = {}

    def again(k: int, root: Path) -> None:  # the saves wait for the files: in parallel
        results[k] = save_now(WarmStart(root), saved.build, fresh)

    threads = [threading.Thread(target=again, args=(k, r)) for k, r in enumerate(roots, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert results == {k: True for k in range(1, total + 1)}
    for root in roots:
        assert (root / saved.build.key / STARTUP_DIR / STARTUP_NAME).read_bytes() == (
            b"new cache " * 100
        )


# --- _prune -------------------------------------------------------------------------------------


def test_a_new_build_replaces_the_old_one_of_the_same_install(tmp_path: Path) -> None:
    old = fake_app(tmp_path / "apps")
    new = FirefoxBuild(old.app_dir, "153.9.0", "20261201000000")
    elsewhere = fake_app(tmp_path / "apps2")  # another install, same version and build
    assert elsewhere.app_dir != old.app_dir
    ws = WarmStart(tmp_path / "cache")
    for b, name in ((old, "p-old"), (elsewhere, "p-else")):
        make_profile(tmp_path / name, b)
        assert save_now(ws, b, tmp_path / name)
    (ws.root / "garbage").mkdir()
    (ws.root / "garbage" / MANIFEST).write_bytes(b"\xff not json")
    make_profile(tmp_path / "p-new", new)
    assert save_now(ws, new, tmp_path / "p-new")
    assert not (ws.root / old.key).exists()
    assert (ws.root / new.key / MANIFEST).exists()
    assert (ws.root / elsewhere.key / MANIFEST).exists()
    assert (ws.root / "garbage" / MANIFEST).exists()  # not ours to judge: left alone
    assert not ws.wanted(new) and ws.wanted(old) and not ws.wanted(elsewhere)


def test_prune_never_follows_a_link_in_the_cache_root(tmp_path: Path, build: FirefoxBuild) -> None:
    ws = WarmStart(tmp_path / "cache")
    ws.root.mkdir(mode=0o700)
    victim = tmp_path / "victim"  # looks like an old build of the same install
    victim.mkdir()
    (victim / MANIFEST).write_text(json.dumps({"app_dir": build.app_dir, "files": {}}))
    (victim / "precious").write_text("keep")
    (ws.root / "0000000000000000").symlink_to(victim)
    (ws.root / ".save-old").symlink_to(victim)
    old = time.time() - STALE_SAVE - 60
    os.utime(ws.root / ".save-old", (old, old), follow_symlinks=False)
    os.mkfifo(ws.root / "fifo")
    os.mkfifo(ws.root / ".save-fifo")
    os.utime(ws.root / ".save-fifo", (old, old))
    (ws.root / ".save-file").write_text("x")
    os.utime(ws.root / ".save-file", (old, old))
    (ws.root / "fifodir").mkdir()
    os.mkfifo(ws.root / "fifodir" / MANIFEST)
    (ws.root / "deep").mkdir()
    (ws.root / "deep" / MANIFEST).write_bytes(b"[" * 100_000 + b"]" * 100_000)
    make_profile(tmp_path / "p", build)
    assert bounded(lambda: save_now(ws, build, tmp_path / "p"))
    assert sorted(os.listdir(victim)) == [MANIFEST, "precious"]
    assert (victim / "precious").read_text() == "keep"
    # Stale leftovers that are no dirs go too (a link itself, never its target).
    assert not {".save-old", ".save-fifo", ".save-file"} & set(os.listdir(ws.root))
    assert (ws.root / "deep").is_dir() and (ws.root / "fifodir").is_dir()


def test_prune_keeps_a_fresh_save_dir_and_removes_a_stale_one(
    tmp_path: Path, build: FirefoxBuild
) -> None:
    """A save killed midway (its ``.save-*`` left behind, complete but never renamed): no
    check uses it; the next save works; it is removed once older than STALE_SAVE."""
    ws = WarmStart(tmp_path / "cache")
    ws.root.mkdir(mode=0o700)
    files = make_profile(tmp_path / "p", build)
    for name in (".save-stale", ".save-fresh"):
        d = ws.root / name
        (d / STARTUP_DIR).mkdir(parents=True)
        for rel, data in files.items():
            (d / rel).write_bytes(data)
        (d / MANIFEST).write_text(
            json.dumps(
                {
                    "app_dir": build.app_dir,
                    "last_version": build.last_version,
                    "files": {rel: len(data) for rel, data in files.items()},
                }
            )
        )
    old = time.time() - STALE_SAVE - 60
    os.utime(ws.root / ".save-stale", (old, old))
    (tmp_path / "q").mkdir()
    assert not ws.seed(build, tmp_path / "q")
    assert_cold(tmp_path / "q")
    assert ws.wanted(build)
    assert save_now(ws, build, tmp_path / "p")
    assert save_dirs(ws.root) == [".save-fresh"]
    assert Saved(ws, build, files).seed_new(tmp_path / "r")
    assert tree(tmp_path / "r") == files


# --- racing saves -------------------------------------------------------------------------------


def test_two_saves_racing_for_the_same_build(
    tmp_path: Path, build: FirefoxBuild, quiet_threads: None
) -> None:
    """Two checks' saves both reach the rename at once (held there by an audit hook): one copy
    is kept, whole, no ``.save-*`` is left and neither fails."""
    root = tmp_path / "cache"
    arrived_r, arrived_w = os.pipe()
    go_r, go_w = os.pipe()
    profiles = []
    for n in range(2):
        files = make_profile(tmp_path / f"p{n}", build, startup={STARTUP_NAME: bytes([n]) * 4000})
        profiles.append(files)

    def racer(n: int) -> Callable[[], int]:
        def run() -> int:
            def hold(event: str, args: tuple[Any, ...]) -> None:
                if event == "os.rename" and Path(str(args[0])).name.startswith(".save-"):
                    os.write(arrived_w, b"x")
                    os.read(go_r, 1)

            sys.addaudithook(hold)
            return 0 if save_now(WarmStart(root), build, tmp_path / f"p{n}") else 1

        return run

    pids = [in_child(racer(n)) for n in range(2)]
    try:
        got = b""
        end = time.monotonic() + 20
        while len(got) < 2 and time.monotonic() < end:
            if select.select([arrived_r], [], [], max(0.0, end - time.monotonic()))[0]:
                got += os.read(arrived_r, 2 - len(got))
        assert got == b"xx"
        assert len(save_dirs(root)) == 2  # both complete, both about to rename
        os.write(go_w, b"gg")
        codes = sorted(wait_child(pid) for pid in pids)
    finally:
        for fd in (arrived_r, arrived_w, go_r, go_w):
            os.close(fd)
    assert codes == [0, 1]  # one kept it, the other found it kept: no error
    assert sorted(os.listdir(root)) == [build.key]
    ws = WarmStart(root)
    assert not ws.wanted(build)
    assert Saved(ws, build, profiles[0]).seed_new(tmp_path / "s")
    assert tree(tmp_path / "s") in profiles


# --- for_user -----------------------------------------------------------------------------------


def test_for_user_honours_vpnguard_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VPNGUARD_CACHE_DIR", str(tmp_path / "c"))
    assert WarmStart.for_user().root == tmp_path / "c" / "firefox-start"


@pytest.mark.parametrize("override", [None, ""])
def test_for_user_defaults_to_the_user_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, override: str | None
) -> None:
    if override is None:
        monkeypatch.delenv("VPNGUARD_CACHE_DIR", raising=False)
    else:
        monkeypatch.setenv("VPNGUARD_CACHE_DIR", override)
    expected = Path(platformdirs.user_cache_dir("vpnguard", appauthor=False)) / "firefox-start"
    assert WarmStart.for_user().root == expected
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert WarmStart.for_user().root == tmp_path / "xdg" / "vpnguard" / "firefox-start"
