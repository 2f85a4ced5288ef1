"""Builders for fake system trees that the real core code runs against.

These are real files on disk, laid out as Debian, Ubuntu, Windows or macOS
would; detection, writing and undo run unmodified on them through ``--root``.
"""

from __future__ import annotations

import os
import plistlib
from pathlib import Path

DPKG_STANZA = """Package: {name}
Status: install ok installed
Architecture: amd64
Version: {version}
"""


def _exe(path: Path, content: bytes = b"#!/bin/sh\nexit 0\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(0o755)


def dpkg(root: Path, packages: dict[str, str]) -> None:
    status = root / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(DPKG_STANZA.format(name=n, version=v) for n, v in packages.items())
    status.write_text(text)


def debian(root: Path, *, chromium: bool = True, firefox_esr: bool = True) -> Path:
    """A Debian 12 desktop with the packaged chromium and firefox-esr."""
    pkgs: dict[str, str] = {"base-files": "12.4+deb12u8"}
    if chromium:
        _exe(root / "usr/bin/chromium")
        _exe(root / "usr/lib/chromium/chromium", b"\x7fELF fake chromium")
        pkgs["chromium"] = "156.0.8078.108-1~deb12u1"
    if firefox_esr:
        inst = root / "usr/lib/firefox-esr"
        _exe(inst / "firefox-esr", b"\x7fELF fake firefox")
        (inst / "application.ini").write_text("[App]\nVendor=Mozilla\nVersion=153.7.0\n")
        share = root / "usr/share/firefox-esr/distribution"
        share.mkdir(parents=True, exist_ok=True)
        os.symlink("../../share/firefox-esr/distribution", inst / "distribution")
        (root / "usr/bin").mkdir(parents=True, exist_ok=True)
        os.symlink("../lib/firefox-esr/firefox-esr", root / "usr/bin/firefox-esr")
        # Debian's firefox-esr diverts /usr/bin/firefox to a wrapper script.
        _exe(root / "usr/bin/firefox", b'#!/bin/sh\nexec firefox-esr "$@"\n')
        pkgs["firefox-esr"] = "153.7.0esr-1~deb12u1"
    dpkg(root, pkgs)
    (root / "etc").mkdir(exist_ok=True)
    return root


def windows(root: Path) -> Path:
    pf = root / "C/Program Files"
    _exe(pf / "Google/Chrome/Application/chrome.exe")
    (pf / "Google/Chrome/Application/131.0.6778.86").mkdir()
    (pf / "Google/Chrome/Application/99.0.1.2").mkdir()
    _exe(pf / "Mozilla Firefox/firefox.exe")
    (pf / "Mozilla Firefox/application.ini").write_text("[App]\nVersion=133.0.3\n")
    return root


def macos(root: Path) -> Path:
    for app, version in (("Google Chrome.app", "131.0.6778.86"), ("Firefox.app", "133.0")):
        info = root / "Applications" / app / "Contents/Info.plist"
        info.parent.mkdir(parents=True)
        info.write_bytes(plistlib.dumps({"CFBundleShortVersionString": version}))
    return root
