"""Every browser vpnguard knows, as data: one :class:`BrowserSpec` each.

Where a location comes from the lab (see docs/browser-facts.md, "Where policy lives")
it is marked ``verified``; a location taken from vendor docs only is still
used, but reported as unverified so nobody mistakes it for proven.
"""

from __future__ import annotations

from collections.abc import Sequence

from vpnguard.core.errors import UsageError
from vpnguard.core.model import Family
from vpnguard.core.record import record

CHROMIUM_KEY = "WebRtcIPHandling"
EDGE_KEY = "WebRtcLocalhostIpHandling"


@record
class LinuxSpec:
    """Where a browser lives on Linux and where it reads managed policy."""

    binaries: tuple[str, ...] = ()  # names looked up on PATH
    paths: tuple[str, ...] = ()  # absolute install locations (executables)
    deb_packages: tuple[str, ...] = ()  # for the version, read from dpkg's status file
    snap: str | None = None
    flatpak: str | None = None
    # Chromium family: managed policy directories (mandatory level).
    policy_dirs: tuple[str, ...] = ()
    # Flatpak Chromium reads a policy *extension* instead of host /etc.
    flatpak_policy_dir: str | None = None
    # Firefox family: policies.json candidates, in the order the browser reads them.
    # "{install}" stands for the browser's install directory.
    policy_files: tuple[str, ...] = ()
    flatpak_policy_file: str | None = None
    # Strings to search the binary for when vendors disagree on the policy dir.
    probe_policy_dir: bool = False


@record
class WindowsSpec:
    """Where a browser lives on Windows and its policy key."""

    exe_relpaths: tuple[str, ...] = ()  # relative to Program Files / Program Files (x86)
    policy_key: str | None = None  # under HKLM


@record
class MacSpec:
    """A browser's macOS app bundles and managed preferences domain."""

    apps: tuple[str, ...] = ()  # bundle names under /Applications
    domain: str | None = None  # managed preferences domain


@record
class BrowserSpec:
    """One browser vpnguard knows: its names, family and per-OS locations."""

    id: str
    name: str
    family: Family
    process_names: tuple[str, ...]
    linux: LinuxSpec
    windows: WindowsSpec
    macos: MacSpec
    # Chromium family: the policy name this browser honors for WebRTC IP handling.
    webrtc_key: str | None = None
    # True when the browser must restart to read a changed policy (Firefox, Edge).
    restart_to_apply: bool = False
    # Tor Browser disables WebRTC itself: detected and reported, never written to.
    self_managed: bool = False
    verified: bool = False


CATALOG: tuple[BrowserSpec, ...] = (
    BrowserSpec(
        id="chrome",
        name="Google Chrome",
        family=Family.CHROMIUM,
        process_names=("chrome",),
        webrtc_key=CHROMIUM_KEY,
        linux=LinuxSpec(
            binaries=("google-chrome-stable", "google-chrome"),
            paths=("/opt/google/chrome/chrome",),
            deb_packages=("google-chrome-stable", "google-chrome-beta"),
            flatpak="com.google.Chrome",
            policy_dirs=("/etc/opt/chrome/policies/managed",),
        ),
        windows=WindowsSpec(
            exe_relpaths=(r"Google\Chrome\Application\chrome.exe",),
            policy_key=r"SOFTWARE\Policies\Google\Chrome",
        ),
        macos=MacSpec(apps=("Google Chrome.app",), domain="com.google.Chrome"),
    ),
    BrowserSpec(
        id="chromium",
        name="Chromium",
        family=Family.CHROMIUM,
        process_names=("chromium",),
        webrtc_key=CHROMIUM_KEY,
        verified=True,
        linux=LinuxSpec(
            binaries=("chromium",),
            paths=("/usr/lib/chromium/chromium",),
            deb_packages=("chromium",),
            flatpak="org.chromium.Chromium",
            policy_dirs=("/etc/chromium/policies/managed",),
            flatpak_policy_dir=(
                "/var/lib/flatpak/extension/org.chromium.Chromium.Extension.vpnguard/"
                "{arch}/1/policies/managed"
            ),
        ),
        windows=WindowsSpec(
            exe_relpaths=(r"Chromium\Application\chrome.exe",),
            policy_key=r"SOFTWARE\Policies\Chromium",
        ),
        macos=MacSpec(apps=("Chromium.app",), domain="org.chromium.Chromium"),
    ),
    BrowserSpec(
        id="chromium-browser",
        name="Chromium (Ubuntu/Snap)",
        family=Family.CHROMIUM,
        process_names=("chromium-browser", "chrome"),
        webrtc_key=CHROMIUM_KEY,
        linux=LinuxSpec(
            binaries=("chromium-browser",),
            paths=("/usr/lib/chromium-browser/chromium-browser",),
            deb_packages=("chromium-browser",),
            snap="chromium",
            policy_dirs=("/etc/chromium-browser/policies/managed",),
        ),
        windows=WindowsSpec(),
        macos=MacSpec(),
    ),
    BrowserSpec(
        id="edge",
        name="Microsoft Edge",
        family=Family.CHROMIUM,
        process_names=("msedge",),
        webrtc_key=EDGE_KEY,
        restart_to_apply=True,
        linux=LinuxSpec(
            binaries=("microsoft-edge-stable", "microsoft-edge"),
            paths=("/opt/microsoft/msedge/msedge",),
            deb_packages=("microsoft-edge-stable", "microsoft-edge-beta"),
            flatpak="com.microsoft.Edge",
            policy_dirs=("/etc/opt/edge/policies/managed",),
        ),
        windows=WindowsSpec(
            exe_relpaths=(r"Microsoft\Edge\Application\msedge.exe",),
            policy_key=r"SOFTWARE\Policies\Microsoft\Edge",
        ),
        macos=MacSpec(apps=("Microsoft Edge.app",), domain="com.microsoft.Edge"),
    ),
    BrowserSpec(
        id="brave",
        name="Brave",
        family=Family.CHROMIUM,
        process_names=("brave",),
        webrtc_key=CHROMIUM_KEY,
        linux=LinuxSpec(
            binaries=("brave-browser", "brave-browser-stable", "brave"),
            paths=("/opt/brave.com/brave/brave",),
            deb_packages=("brave-browser",),
            snap="brave",
            flatpak="com.brave.Browser",
            policy_dirs=("/etc/brave/policies/managed",),
        ),
        windows=WindowsSpec(
            exe_relpaths=(r"BraveSoftware\Brave-Browser\Application\brave.exe",),
            policy_key=r"SOFTWARE\Policies\BraveSoftware\Brave",
        ),
        macos=MacSpec(apps=("Brave Browser.app",), domain="com.brave.Browser"),
    ),
    BrowserSpec(
        id="vivaldi",
        name="Vivaldi",
        family=Family.CHROMIUM,
        process_names=("vivaldi-bin", "vivaldi"),
        webrtc_key=CHROMIUM_KEY,
        linux=LinuxSpec(
            binaries=("vivaldi-stable", "vivaldi"),
            paths=("/opt/vivaldi/vivaldi-bin",),
            deb_packages=("vivaldi-stable",),
            snap="vivaldi",
            policy_dirs=("/etc/opt/vivaldi/policies/managed",),
            probe_policy_dir=True,
        ),
        windows=WindowsSpec(
            exe_relpaths=(r"Vivaldi\Application\vivaldi.exe",),
            policy_key=r"SOFTWARE\Policies\Vivaldi",
        ),
        macos=MacSpec(apps=("Vivaldi.app",), domain="com.vivaldi.Vivaldi"),
    ),
    BrowserSpec(
        id="opera",
        name="Opera",
        family=Family.CHROMIUM,
        process_names=("opera",),
        webrtc_key=CHROMIUM_KEY,
        linux=LinuxSpec(
            binaries=("opera",),
            paths=("/usr/lib/x86_64-linux-gnu/opera/opera",),
            deb_packages=("opera-stable",),
            snap="opera",
            policy_dirs=(),
            probe_policy_dir=True,
        ),
        windows=WindowsSpec(
            exe_relpaths=(r"Opera\launcher.exe",),
        ),
        macos=MacSpec(apps=("Opera.app",), domain="com.operasoftware.Opera"),
    ),
    BrowserSpec(
        id="firefox",
        name="Firefox",
        family=Family.FIREFOX,
        process_names=("firefox", "firefox-bin"),
        restart_to_apply=True,
        linux=LinuxSpec(
            binaries=("firefox",),
            paths=("/usr/lib/firefox/firefox", "/opt/firefox/firefox"),
            deb_packages=("firefox",),
            snap="firefox",
            flatpak="org.mozilla.firefox",
            policy_files=(
                "/etc/firefox/policies/policies.json",
                "{install}/distribution/policies.json",
            ),
            flatpak_policy_file=(
                "/var/lib/flatpak/extension/org.mozilla.firefox.systemconfig/"
                "{arch}/stable/policies/policies.json"
            ),
        ),
        windows=WindowsSpec(
            exe_relpaths=(r"Mozilla Firefox\firefox.exe",),
            policy_key=r"SOFTWARE\Policies\Mozilla\Firefox",
        ),
        macos=MacSpec(apps=("Firefox.app",), domain="org.mozilla.firefox"),
    ),
    BrowserSpec(
        id="firefox-esr",
        name="Firefox ESR",
        family=Family.FIREFOX,
        process_names=("firefox-esr",),
        restart_to_apply=True,
        verified=True,
        linux=LinuxSpec(
            binaries=("firefox-esr",),
            paths=("/usr/lib/firefox-esr/firefox-esr",),
            deb_packages=("firefox-esr",),
            # Seen: Debian's ESR ignores /etc/firefox-esr/policies.
            policy_files=(
                "/etc/firefox/policies/policies.json",
                "{install}/distribution/policies.json",
            ),
        ),
        windows=WindowsSpec(
            exe_relpaths=(r"Mozilla Firefox ESR\firefox.exe",),
            policy_key=r"SOFTWARE\Policies\Mozilla\Firefox",
        ),
        macos=MacSpec(apps=("Firefox ESR.app",), domain="org.mozilla.firefox"),
    ),
    BrowserSpec(
        id="librewolf",
        name="LibreWolf",
        family=Family.FIREFOX,
        process_names=("librewolf",),
        restart_to_apply=True,
        linux=LinuxSpec(
            binaries=("librewolf",),
            paths=("/usr/share/librewolf/librewolf", "/usr/lib/librewolf/librewolf"),
            deb_packages=("librewolf",),
            flatpak="io.gitlab.librewolf-community",
            policy_files=(
                "/etc/librewolf/policies/policies.json",
                "{install}/distribution/policies.json",
            ),
        ),
        windows=WindowsSpec(
            exe_relpaths=(r"LibreWolf\librewolf.exe",),
            policy_key=r"SOFTWARE\Policies\LibreWolf",
        ),
        macos=MacSpec(apps=("LibreWolf.app",), domain="io.gitlab.librewolf-community"),
    ),
    BrowserSpec(
        id="tor-browser",
        name="Tor Browser",
        family=Family.FIREFOX,
        process_names=("tor-browser", "firefox.real"),
        self_managed=True,
        linux=LinuxSpec(
            binaries=("torbrowser-launcher", "tor-browser"),
            paths=("/opt/tor-browser/Browser/start-tor-browser",),
            deb_packages=("torbrowser-launcher",),
            flatpak="org.torproject.torbrowser-launcher",
        ),
        windows=WindowsSpec(exe_relpaths=(r"Tor Browser\Browser\firefox.exe",)),
        macos=MacSpec(apps=("Tor Browser.app",)),
    ),
)

BY_ID: dict[str, BrowserSpec] = {spec.id: spec for spec in CATALOG}


def get(browser_id: str) -> BrowserSpec:
    try:
        return BY_ID[browser_id]
    except KeyError:
        known = ", ".join(sorted(BY_ID))
        raise UsageError(f"unknown browser id {browser_id!r} (known: {known})") from None


def resolve_ids(ids: Sequence[str] | None) -> tuple[BrowserSpec, ...]:
    """The specs for the given ids (all of them when ``ids`` is empty); rejects unknown ids."""
    if not ids:
        return CATALOG
    return tuple(get(i) for i in dict.fromkeys(ids))
