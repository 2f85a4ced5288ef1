# ruff: noqa: E501  (admin-facing text and embedded script templates read better unwrapped)
"""README.txt for the admin who receives a bundle: what, how to deploy, verify, roll back."""

from __future__ import annotations

import json
from typing import Any

from vpnguard.core.browsers.catalog import BrowserSpec
from vpnguard.core.export.plan import LinuxTarget, Note, Platform
from vpnguard.core.export.urlpatterns import WEAKENING_HANDLINGS, UrlException
from vpnguard.core.model import Level
from vpnguard.core.policy.levels import LEVEL_SUMMARY


def readme(
    *,
    version: str,
    level: Level,
    platforms: tuple[Platform, ...],
    specs: tuple[BrowserSpec, ...],
    settings: dict[str, dict[str, Any]],
    exceptions: tuple[UrlException, ...],
    notes: tuple[Note, ...],
    linux_targets: tuple[LinuxTarget, ...],
) -> bytes:
    L: list[str] = []
    add = L.append
    add(f"vpnguard {version} - WebRTC policy bundle, level: {level.value}")
    add("=" * 60)
    add("")
    add("What it does: makes a WebRTC IP-handling policy mandatory in the browsers below, so web")
    add("pages cannot learn local or non-VPN addresses through WebRTC. It writes only WebRTC keys")
    add("and keeps every other policy an administrator has set.")
    add("")
    add(f"Level {level.value}: {LEVEL_SUMMARY[level]}")
    add("")
    add("Settings per browser:")
    for spec in specs:
        s = settings.get(spec.id) or {}
        if not s:
            continue
        add(f"  {spec.name} ({spec.id}):")
        for k, v in s.items():
            if k == "Preferences":
                for pref, entry in v.items():
                    add(f"      Preferences: {pref} = {json.dumps(entry['Value'])} (locked)")
            else:
                add(f"      {k} = {json.dumps(v)}")
    add("")
    add("Per-URL exceptions (WebRtcIPHandlingUrl):")
    if not exceptions:
        add("  none")
    for e in exceptions:
        warn = (
            "  <- exposes local addresses to this origin"
            if e.handling in WEAKENING_HANDLINGS
            else ""
        )
        add(f"  {e.url} -> {e.handling}{warn}")
    if exceptions:
        add(
            "  Chromium-family browsers check these patterns in order (Chrome/Chromium 133+, Edge 135+);"
        )
        add(
            "  every other page gets the level above. Firefox-family browsers CANNOT express per-URL"
        )
        add(
            "  exceptions: for them the exceptions do not apply and every site gets the level above."
        )
    add("")
    add('What a browser cannot do here (also in manifest.json, "notes"):')
    if not notes:
        add("  nothing: every selected browser gets the full setting on every platform")
    for n in notes:
        add(f"  - [{n.platform}] {n.text}")
    add("")
    add("Files")
    add("-----")
    add("  README.txt      this file")
    add("  manifest.json   vpnguard version, level, browsers, notes, sha256 of every file")
    if Platform.LINUX in platforms:
        add("  linux/install.sh, linux/uninstall.sh")
        add(
            "                  apply / undo on one machine. They merge into an existing policies.json"
        )
        add(
            "                  (other keys kept), change nothing on a second run, refuse a malformed"
        )
        add(
            "                  file (exit 4, file untouched), write atomically, and keep the original"
        )
        add("                  as <file>.vpnguard-backup so uninstall restores it byte for byte.")
        add("                  Requires python3 (standard library only) on the target machine.")
        add("  linux/chromium/<browser>/vpnguard.json")
        add("                  the managed policy file, for configuration management that copies")
        add("                  files itself. Chromium merges every *.json in the directory.")
        add("  linux/firefox/policies.json")
        add("                  the Firefox policy fragment. Do NOT copy it over an existing")
        add("                  policies.json (it would drop the other policies): use install.sh.")
    if Platform.WINDOWS in platforms:
        add("  windows/vpnguard-webrtc.reg, windows/vpnguard-webrtc-undo.reg")
        add(
            "                  regedit import / undo (HKLM, needs Administrator). CAUTION: the .reg"
        )
        add(
            '                  REPLACES the whole Firefox "Preferences" value and the undo deletes it;'
        )
        add("                  if you already set Firefox Preferences, use the PowerShell scripts.")
        add("  windows/Install-VpnguardPolicy.ps1, windows/Uninstall-VpnguardPolicy.ps1")
        add("                  idempotent; report each change; merge the Firefox Preferences JSON;")
        add(
            "                  remember previous values under HKLM\\SOFTWARE\\vpnguard\\PolicyBundle so"
        )
        add(
            "                  uninstall puts them back. They refuse (exit 4) when Firefox policy uses"
        )
        add(
            "                  the deprecated per-preference key HKLM\\...\\Firefox\\Preferences, which"
        )
        add("                  Firefox would read instead of the JSON value.")
        add("  windows/intune.csv")
        add(
            "                  one row per setting: OMA-URI (after ADMX ingestion) and value, plus the"
        )
        add(
            '                  registry value it ends up as. Rows marked "check": confirm the category'
        )
        add("                  path against the ADMX version you ingested.")
    if Platform.MACOS in platforms:
        add("  macos/vpnguard-webrtc.mobileconfig")
        add("                  configuration profile, one payload per browser domain. Unsigned:")
        add("                  sign it with your own certificate before distributing, e.g.")
        add('                    security cms -S -N "Your Signing Identity" \\')
        add(
            "                      -i vpnguard-webrtc.mobileconfig -o vpnguard-webrtc-signed.mobileconfig"
        )
        add(
            "                  Only a profile (or MDM) makes the policy mandatory; `defaults write`"
        )
        add("                  would only be a recommendation the user can override.")
    add("")
    add("Deploy")
    add("------")
    if Platform.LINUX in platforms:
        add("  Linux:   sudo ./linux/install.sh   (or push it with your config management)")
        add(
            "           Files it merges into (those of browsers not installed are still created, so"
        )
        add(
            "           a later install is covered; Flatpak paths only when the Flatpak is installed):"
        )
        for t in linux_targets:
            extra = ""
            if t.fallbacks:
                extra = " (if absent and the admin keeps policies in <install>/distribution/policies.json, those are merged instead)"
            if t.only_if:
                extra = f" (only if {t.only_if} exists)"
            add(f"             {t.path}{extra}")
    if Platform.WINDOWS in platforms:
        add("  Windows: elevated PowerShell:")
        add(
            "             powershell -ExecutionPolicy Bypass -File .\\windows\\Install-VpnguardPolicy.ps1"
        )
        add(
            "           or GPO/Intune with the same values (see intune.csv), or regedit /s the .reg."
        )
    if Platform.MACOS in platforms:
        add(
            "  macOS:   upload the (signed) .mobileconfig to your MDM, or open it and approve it in"
        )
        add("           System Settings > Privacy & Security > Profiles.")
    add("")
    add("  Firefox and Edge read policy at start: restart them. Chrome, Chromium and Brave pick up")
    add("  a changed file within seconds for new connections.")
    add("")
    add("Verify")
    add("------")
    add("  chrome://policy (edge://policy, brave://policy): WebRtcIPHandling (Edge:")
    add("    WebRtcLocalhostIpHandling) shows the value above, source Platform, level Mandatory.")
    add(
        "  about:policies in Firefox: Preferences lists the media.peerconnection.ice.* prefs, locked."
    )
    add("  On one machine, with the VPN up:  vpnguard check  (exit 0 = no leak found).")
    add("")
    add("Roll back")
    add("---------")
    if Platform.LINUX in platforms:
        add(
            "  Linux:   sudo ./linux/uninstall.sh - restores each file byte for byte if nobody changed it"
        )
        add(
            "           since install; otherwise removes only vpnguard's keys and keeps later changes."
        )
    if Platform.WINDOWS in platforms:
        add(
            "  Windows: Uninstall-VpnguardPolicy.ps1 (restores previous values), or import the undo .reg."
        )
    if Platform.MACOS in platforms:
        add("  macOS:   remove the profile in your MDM or in System Settings > Profiles.")
    add("")
    add("Same inputs give byte-identical files (no timestamps), so bundles can be diffed and")
    add("checked against manifest.json (sha256).")
    add("")
    return "\n".join(L).encode("utf-8")
