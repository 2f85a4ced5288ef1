"""Detection against fake system trees of each OS, through the real code."""

from __future__ import annotations

import os
import plistlib
from pathlib import Path

import pytest

from tests import fakeroot
from vpnguard.core.browsers.detect import detect_browsers, policy_dirs_from_binary
from vpnguard.core.errors import UsageError
from vpnguard.core.host import Host
from vpnguard.core.model import OS, TargetKind


def host(root: Path, os_: OS = OS.LINUX) -> Host:
    return Host.current(root, os_)


def test_debian_chromium_and_esr_found_with_versions(tmp_path: Path) -> None:
    fakeroot.debian(tmp_path)
    found = {b.id: b for b in detect_browsers(host(tmp_path))}
    # /usr/bin/firefox is Debian's wrapper around firefox-esr, not a second browser.
    assert set(found) == {"chromium", "firefox-esr"}
    assert found["chromium"].version == "156.0.8078.108-1~deb12u1"
    assert found["chromium"].path == "/usr/bin/chromium"
    assert found["chromium"].targets[0].location == "/etc/chromium/policies/managed"
    esr = found["firefox-esr"]
    assert esr.version == "153.7.0esr-1~deb12u1"
    # Nothing exists yet: the system-wide file Firefox reads first is created.
    assert esr.targets[0].location == "/etc/firefox/policies/policies.json"
    assert not any(b.running for b in found.values())  # a fake root runs nothing


def test_esr_target_follows_the_file_in_effect(tmp_path: Path) -> None:
    fakeroot.debian(tmp_path)
    dist = tmp_path / "usr/share/firefox-esr/distribution/policies.json"
    dist.write_text('{"policies": {}}')
    (esr,) = detect_browsers(host(tmp_path), ["firefox-esr"])
    assert esr.targets[0].location == "/usr/lib/firefox-esr/distribution/policies.json"
    assert esr.targets[0].note == "in effect"
    etc = tmp_path / "etc/firefox/policies/policies.json"
    etc.parent.mkdir(parents=True)
    etc.write_text('{"policies": {}}')
    (esr,) = detect_browsers(host(tmp_path), ["firefox-esr"])
    assert esr.targets[0].location == "/etc/firefox/policies/policies.json"


def test_snap_and_flatpak(tmp_path: Path) -> None:
    snap = tmp_path / "snap/chromium/current/meta"
    snap.mkdir(parents=True)
    (snap / "snap.yaml").write_text("name: chromium\nversion: '131.0.6778.85'\n")
    flat = (
        tmp_path / "var/lib/flatpak/app/org.chromium.Chromium/current/active/files/share/metainfo"
    )
    flat.mkdir(parents=True)
    (flat / "org.chromium.Chromium.metainfo.xml").write_text(
        '<component><releases><release version="130.0.6723.91" date="x"/></releases></component>'
    )
    ff = tmp_path / "var/lib/flatpak/app/org.mozilla.firefox/current"
    ff.mkdir(parents=True)
    found = {b.id: b for b in detect_browsers(host(tmp_path))}
    assert found["chromium-browser"].install == "snap"
    assert found["chromium-browser"].version == "131.0.6778.85"
    assert found["chromium-browser"].targets[0].location == "/etc/chromium-browser/policies/managed"
    assert found["chromium"].install == "flatpak"
    assert found["chromium"].version == "130.0.6723.91"
    (t,) = found["chromium"].targets
    assert t.location.startswith("/var/lib/flatpak/extension/org.chromium.Chromium.Extension.")
    assert t.location.endswith("/1/policies/managed")
    (f,) = found["firefox"].targets
    assert (
        "org.mozilla.firefox.systemconfig" in f.location
        and f.kind is TargetKind.FIREFOX_POLICIES_JSON
    )


def test_vivaldi_policy_dir_read_from_its_binary(tmp_path: Path) -> None:
    binary = tmp_path / "opt/vivaldi/vivaldi-bin"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"\x7fELF\x00junk\x00/etc/opt/vivaldi/policies\x00more\x00")
    assert policy_dirs_from_binary(binary) == ("/etc/opt/vivaldi/policies/managed",)
    (viv,) = detect_browsers(host(tmp_path), ["vivaldi"])
    assert [t.location for t in viv.targets] == ["/etc/opt/vivaldi/policies/managed"]


def test_tor_browser_detected_as_self_managed(tmp_path: Path) -> None:
    fakeroot._exe(tmp_path / "usr/bin/torbrowser-launcher")
    (tor,) = detect_browsers(host(tmp_path), ["tor-browser"])
    assert tor.self_managed and tor.targets == ()


def test_windows_program_files(tmp_path: Path) -> None:
    fakeroot.windows(tmp_path)
    h = Host.current(tmp_path, OS.WINDOWS)
    h = Host(h.root, OS.WINDOWS, (), r"C:\Users\ada", h.arch, {})
    found = {b.id: b for b in detect_browsers(h)}
    assert found["chrome"].version == "131.0.6778.86"  # the newest version dir
    assert found["chrome"].targets[0].location == r"HKLM\SOFTWARE\Policies\Google\Chrome"
    assert found["firefox"].version == "133.0.3"
    assert found["firefox"].targets[0].kind is TargetKind.WINDOWS_REGISTRY


def test_macos_applications(tmp_path: Path) -> None:
    fakeroot.macos(tmp_path)
    found = {b.id: b for b in detect_browsers(host(tmp_path, OS.MACOS))}
    assert found["chrome"].version == "131.0.6778.86"
    assert found["chrome"].targets[0].location == "com.google.Chrome"
    assert found["firefox"].targets[0].location == "org.mozilla.firefox"
    bad = tmp_path / "Applications/Brave Browser.app/Contents/Info.plist"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a plist")
    assert {b.id: b for b in detect_browsers(host(tmp_path, OS.MACOS))}["brave"].version is None
    assert plistlib  # used by the fake root


def test_missing_root_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        Host.current(tmp_path / "nope")


def test_unknown_id_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown browser id 'netscape'"):
        detect_browsers(host(tmp_path), ["netscape"])


def test_symlinked_binary_resolved_inside_root(tmp_path: Path) -> None:
    # An absolute link target must be resolved inside the fake root, not on the host.
    inst = tmp_path / "opt/firefox"
    fakeroot._exe(inst / "firefox")
    (inst / "application.ini").write_text("[App]\nVersion=140.0\n")
    (tmp_path / "usr/bin").mkdir(parents=True)
    os.symlink("/opt/firefox/firefox", tmp_path / "usr/bin/firefox")
    (ff,) = detect_browsers(host(tmp_path), ["firefox"])
    assert ff.version == "140.0"
    assert ff.targets[0].location == "/etc/firefox/policies/policies.json"
