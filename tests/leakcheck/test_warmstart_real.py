"""Firefox warm start with the real firefox-esr: the kept caches speed it up and change nothing.

The unit and attacker tests of :mod:`vpnguard.core.leakcheck.warmstart` are in
``test_warmstart.py``; these launch the real browser (and one real fake one).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from vpnguard.cli import Env, main
from vpnguard.core.host import Host
from vpnguard.core.leakcheck import Verdict, run_check
from vpnguard.core.leakcheck.report import BrowserResult
from vpnguard.core.leakcheck.warmstart import MANIFEST, STARTUP_DIR, WarmStart, firefox_build
from vpnguard.core.model import Browser, Family, Install

from .conftest import loopback_network

FIREFOX = shutil.which("firefox-esr")
needs_firefox = pytest.mark.skipif(FIREFOX is None, reason="firefox-esr not installed")


def firefox() -> Browser:
    assert FIREFOX is not None
    return Browser(
        "firefox-esr", "Firefox ESR", Family.FIREFOX, None, FIREFOX, (Install.SYSTEM,), False, ()
    )


def shape(doc: dict[str, object]) -> list[tuple[str, str, bool]]:
    """Per view: its verdict, and whether a raw (not mDNS) host address was handed out."""
    out = []
    for v in doc["views"]:  # type: ignore[attr-defined]
        raw_host = any(
            " typ host" in c and ".local " not in c and " 127.0.0.1 " not in c
            for c in v["candidates"]
        )
        out.append((v["name"], v["verdict"], raw_host))
    return out


def cli_check(stun: str) -> dict[str, object]:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["check", "--browser", "firefox-esr", "--stun", stun, "--timeout", "20", "--json"],
        Env(stdout=out, stderr=err),
    )
    doc: dict[str, object] = json.loads(out.getvalue())
    assert code == doc["exit_code"], err.getvalue()
    return doc


@needs_firefox
def test_first_check_keeps_the_caches_and_the_next_starts_warm_with_the_same_result(
    tmp_path: Path, coturn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI, as a user runs it: the first check of this build keeps the caches in
    the cache dir, the second copies them into its fresh profile, and both see the same:
    the granted site still gets raw host addresses, the any-page view still does not."""
    monkeypatch.setenv("VPNGUARD_CACHE_DIR", str(tmp_path / "cache"))
    build = firefox_build(firefox().path)
    assert build is not None
    kept = tmp_path / "cache" / "firefox-start" / build.key

    first = cli_check(coturn)["browsers"][0]  # type: ignore[index]
    assert first["verdict"] != "error", first["reason"]
    assert "media_permission.warm_save_ms" in first["timings"]
    assert "media_permission.warm_start_ms" not in first["timings"]
    manifest = json.loads((kept / MANIFEST).read_text())
    assert set(manifest["files"]) >= {"compatibility.ini", "extensions.json"}
    assert any(f.startswith(f"{STARTUP_DIR}/") for f in manifest["files"])
    # Nothing of the user's state: no prefs, permissions, cookies or site data.
    kept_files = {str(p.relative_to(kept)) for p in kept.rglob("*") if p.is_file()}
    assert kept_files == {*manifest["files"], MANIFEST}

    second = cli_check(coturn)["browsers"][0]  # type: ignore[index]
    assert second["verdict"] != "error", second["reason"]
    assert "media_permission.warm_start_ms" in second["timings"]
    assert "media_permission.warm_save_ms" not in second["timings"]
    assert shape(second) == shape(first)
    assert ("media_permission", "leak", True) in shape(second)  # the granted site's raw hosts
    assert shape(second)[0][2] is False  # any page: mDNS names only
    assert second["call"]["connected"] is first["call"]["connected"]
    assert json.loads((kept / MANIFEST).read_text()) == manifest  # used, not rewritten


@needs_firefox
def test_damaged_caches_cost_speed_not_the_result(tmp_path: Path, coturn: str) -> None:
    """A kept startup cache whose bytes were damaged (size unchanged, so vpnguard's own
    checks pass it): Firefox validates its caches itself and the check is still right."""
    warm = WarmStart(tmp_path / "cache")
    kwargs = dict(stun=[coturn], timeout=20, protections={}, warm_start=warm)
    first = run_check(Host.current(), [firefox()], loopback_network(), **kwargs).browsers[0]  # type: ignore[arg-type]
    build = firefox_build(firefox().path)
    assert build is not None
    cache = next((warm.root / build.key / STARTUP_DIR).iterdir())
    data = bytearray(cache.read_bytes())
    for i in range(0, len(data), 7):
        data[i] ^= 0x5A
    cache.write_bytes(bytes(data))
    second = run_check(Host.current(), [firefox()], loopback_network(), **kwargs).browsers[0]  # type: ignore[arg-type]
    assert "media_permission.warm_start_ms" in second.timings
    assert_same(first, second)


def assert_same(a: BrowserResult, b: BrowserResult) -> None:
    assert b.verdict is not Verdict.ERROR, b.reason
    assert [(v.name, v.verdict) for v in b.views] == [(v.name, v.verdict) for v in a.views]


FAKE_FIREFOX = """#!/bin/sh
# A "Firefox" of this build that dies at once: what a launch seeded with bad caches looks like.
exit 3
"""


def fake_firefox(tmp: Path, script: str) -> Browser:
    """A real executable ``tmp/app/firefox`` running ``script``, beside a real
    application.ini: a Firefox build the warm start recognizes."""
    app = tmp / "app"
    app.mkdir()
    (app / "application.ini").write_text("[App]\nVersion=1.0\nBuildID=20990101000000\n")
    exe = app / "firefox"
    exe.write_text(script)
    exe.chmod(0o755)
    return Browser(
        "fake-firefox", "Fake Firefox", Family.FIREFOX, "1.0", str(exe), (Install.USER,), False, ()
    )


def check_one(browser: Browser, stun: str, warm: WarmStart) -> BrowserResult:
    return run_check(
        Host.current(),
        [browser],
        loopback_network(),
        stun=[stun],
        timeout=10,
        protections={},
        warm_start=warm,
    ).browsers[0]


def test_a_seeded_launch_that_fails_drops_the_caches(tmp_path: Path, coturn: str) -> None:
    """A real executable beside a real application.ini; the kept caches look valid to
    vpnguard, the browser dies on them: the check says so and the next one starts cold."""
    browser = fake_firefox(tmp_path, FAKE_FIREFOX)
    app = tmp_path / "app"
    build = firefox_build(browser.path)
    assert build is not None
    warm = WarmStart(tmp_path / "cache")
    kept = warm.root / build.key
    (kept / STARTUP_DIR).mkdir(parents=True)
    files = {
        "compatibility.ini": (
            f"[Compatibility]\nLastVersion={build.last_version}\nLastPlatformDir={app}\n"
        ).encode(),
        "extensions.json": b'{"schemaVersion": 37, "addons": []}',
        "addonStartup.json.lz4": b"mozLz40\0" + os.urandom(32),
        f"{STARTUP_DIR}/startupCache.8.little": os.urandom(4096),
    }
    for rel, data in files.items():
        (kept / rel).write_bytes(data)
    (kept / MANIFEST).write_text(
        json.dumps(
            {
                "app_dir": str(app),
                "last_version": build.last_version,
                "files": {k: len(v) for k, v in files.items()},
            }
        )
    )
    r = check_one(browser, coturn, warm)
    assert r.verdict is Verdict.ERROR and "exited with status 3" in r.reason
    assert "media_permission.warm_start_ms" in r.timings  # it was seeded ...
    assert not kept.exists()  # ... and the caches are gone: the next launch is cold
    assert warm.wanted(build)


def test_a_cache_that_throws_never_costs_the_check(
    tmp_path: Path, coturn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: seed() and save() raise what they never should. The check still
    reports, its browser is still killed and its temporary dir still removed."""
    from .test_runner import REPORTER

    body = REPORTER.replace("WEBRTC", "True").replace("CANDS", "[]")
    browser = fake_firefox(
        tmp_path, f"#!{sys.executable}\nimport os, sys, time, subprocess\n{body}\n"
    )
    app = tmp_path / "app"
    calls: list[str] = []

    def boom(name: str):  # type: ignore[no-untyped-def]
        def raise_(*_a: object, **_k: object) -> bool:
            calls.append(name)
            raise RuntimeError(f"{name} broke")

        return raise_

    monkeypatch.setattr(WarmStart, "seed", boom("seed"))
    monkeypatch.setattr(WarmStart, "save", boom("save"))
    tmp = Path(tempfile.mkdtemp(prefix="vgw", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    try:
        r = check_one(browser, coturn, WarmStart(tmp_path / "cache"))
        left = list(tmp.iterdir())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert calls == ["seed", "save"]
    assert r.verdict is not Verdict.ERROR, r.reason
    assert left == []
    alive = []
    for p in psutil.process_iter(["cmdline", "status"]):  # read at once: no race with exits
        mine = any(str(app) in a for a in p.info["cmdline"] or ())
        if mine and p.info["status"] not in (None, psutil.STATUS_ZOMBIE):
            alive.append(p.pid)
    assert alive == []
