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
            "                  file (exit 4, file untouched), write atomically, and keep each original"
        )
        add("                  file under /var/lib/vpnguard/bundle-backup/ (never beside it) so")
        add(
            "                  uninstall restores it byte for byte. A re-install with another level or"
        )
        add(
            "                  other exceptions removes what the earlier one set and this one does not."
        )
        add("                  Requires python3 (standard library only) on the target machine.")
        add("  linux/verify.sh compliance probe (reads only): one JSON line per browser and file")
        add(
            '                  ("present", "value" as the browser reads it, "compliant", "conflicts");'
        )
        add("                  exit 0 only when every one complies, 1 otherwise.")
        add("  linux/chromium/<browser>/vpnguard.json")
        add("                  the managed policy file, for configuration management that copies")
        add("                  files itself. Chromium reads EVERY regular file in a managed policy")
        add(
            "                  directory (not only *.json), in name order, and a later file wins on a"
        )
        add(
            "                  shared key: never leave backups, temp or editor files there, and make"
        )
        add("                  sure no file sorting after vpnguard.json sets WebRtcIPHandling")
        add("                  (verify.sh and `vpnguard status` report such a file as a conflict).")
        add("  linux/firefox/policies.json")
        add("                  the Firefox policy fragment. Do NOT copy it over an existing")
        add("                  policies.json (it would drop the other policies): use install.sh or")
        add("                  the Ansible role.")
        add(
            "  linux/ansible/  an Ansible role (roles/vpnguard_webrtc), playbook.yml and an example"
        )
        add(
            "                  inventory. The role's module is the same program install.sh runs, so it"
        )
        add(
            "                  writes the same files; it is idempotent (a second run reports changed=0),"
        )
        add("                  supports --check --diff, refuses malformed JSON, removes with")
        add("                  -e vpnguard_webrtc_state=absent (restoring what was there), and its")
        add(
            '                  verify task prints "vpnguard-compliance <host>: compliant" or NOT per host.'
        )
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
            "                  uninstall puts them back; a re-install removes what an earlier install"
        )
        add("                  set and this bundle does not (another level, a dropped exception).")
        add("                  Exit codes: 0 ok, 3 not elevated, 4 refused (nothing changed), e.g.")
        add("                  when Firefox policy uses the deprecated per-preference key")
        add("                  HKLM\\...\\Firefox\\Preferences, which Firefox would read instead.")
        add("  windows/Verify-VpnguardPolicy.ps1")
        add(
            "                  compliance probe: one JSON line per browser and value; exit 0 only when"
        )
        add("                  every one complies, 1 otherwise.")
        add("  windows/remediation/Detect-VpnguardPolicy.ps1, Remediate-VpnguardPolicy.ps1")
        add(
            "                  Intune Remediations pair (Devices > Scripts and remediations): detection"
        )
        add(
            "                  prints one line and exits 0 when compliant, 1 when not (Intune then runs"
        )
        add(
            "                  the remediation, which is the installer). Run as SYSTEM, 64-bit PowerShell."
        )
        add("  windows/intune.csv")
        add("                  one row per registry value: the ADMX-backed OMA-URI and its value")
        add(
            "                  (<enabled/><data id=... value=.../>, XML-escaped), and the registry value"
        )
        add(
            "                  it ends up as. First rows: ADMX ingestion (see Deploy). Browsers whose"
        )
        add(
            "                  vendor ships no ADMX (Chromium, Brave, Vivaldi, LibreWolf) have no OMA-URI:"
        )
        add("                  use the Remediations pair or the PowerShell scripts for them.")
    if Platform.MACOS in platforms:
        add("  macos/vpnguard-webrtc.mobileconfig")
        add(
            "                  configuration profile: one com.apple.ManagedClient.preferences payload"
        )
        add(
            "                  per browser domain, settings under Forced > mcx_preference_settings (the"
        )
        add("                  form Apple documents for managed app preferences, and the nesting")
        add("                  Mozilla requires for Firefox). Unsigned: sign it with your own")
        add("                  certificate before distributing, e.g.")
        add('                    security cms -S -N "Your Signing Identity" \\')
        add(
            "                      -i vpnguard-webrtc.mobileconfig -o vpnguard-webrtc-signed.mobileconfig"
        )
        add(
            "                  Only a profile (or MDM) makes the policy mandatory; `defaults write`"
        )
        add("                  would only be a recommendation the user can override.")
        add("  macos/jamf/<domain>.plist")
        add("                  the same keys as a plain plist per preference domain, for Jamf Pro")
        add(
            '                  "Application & Custom Settings" (upload; preference domain = file name'
        )
        add("                  without .plist) or any MDM custom-settings payload.")
        add("                  Opera documents no macOS policy domain: it gets no payload.")
    add("")
    add("Deploy")
    add("------")
    if Platform.LINUX in platforms:
        add("  Linux:   sudo ./linux/install.sh, or with Ansible:")
        add("             cd linux/ansible && ansible-playbook -i inventory.ini playbook.yml")
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
            "           Intune, every browser: Remediations with the two scripts in windows/remediation."
        )
        add("           Intune, ADMX-backed (Chrome, Edge, Firefox): a Custom profile whose first")
        add("           setting ingests the vendor's ADMX (OMA-URI ./Device/Vendor/MSFT/Policy/")
        add(
            "           ConfigOperations/ADMXInstall/<AppName>/Policy/<AppName>Admx, String = the whole"
        )
        add("           .admx file: Google's chrome.admx, Microsoft's msedge.admx, Mozilla's")
        add(
            "           firefox.admx - whose parent category lives in mozilla.admx, ingest it too),"
        )
        add("           then the rows of intune.csv for that browser (data type String, value =")
        add("           oma_value). The OMA-URI uses the AppName you ingested under: Chrome,")
        add("           microsoft_edge, Firefox as in the CSV. Newer tenants can instead use the")
        add("           Settings Catalog (Chrome/Edge) or Mozilla's Intune guide for Firefox.")
        add(
            "           GPO: import the vendor ADMX into the central store and set the same values,"
        )
        add("           or regedit /s the .reg.")
    if Platform.MACOS in platforms:
        add(
            "  macOS:   upload the (signed) .mobileconfig to your MDM, or open it and approve it in"
        )
        add(
            "           System Settings > Privacy & Security > Profiles; in Jamf Pro you can instead"
        )
        add("           add macos/jamf/<domain>.plist as Application & Custom Settings.")
    add("")
    add("  Firefox and Edge read policy at start: restart them. Chrome, Chromium and Brave pick up")
    add("  a changed file within seconds for new connections.")
    add("")
    add("Verify")
    add("------")
    if Platform.LINUX in platforms:
        add("  Linux:   ./linux/verify.sh   (exit 0 = compliant; usable as a fleet probe)")
    if Platform.WINDOWS in platforms:
        add("  Windows: .\\windows\\Verify-VpnguardPolicy.ps1   (exit 0 = compliant)")
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
        add(
            "           Ansible: ansible-playbook ... -e vpnguard_webrtc_state=absent (same behaviour)."
        )
    if Platform.WINDOWS in platforms:
        add(
            "  Windows: Uninstall-VpnguardPolicy.ps1 (restores previous values), or import the undo .reg;"
        )
        add("           Intune: unassign the profile / remediation, then run the uninstall script.")
    if Platform.MACOS in platforms:
        add("  macOS:   remove the profile in your MDM or in System Settings > Profiles.")
    add("")
    add("Sources checked for the formats (vendor documents, as of this vpnguard version):")
    add(
        "  Chromium policy_definitions/WebRtc/ (WebRtcIPHandling, WebRtcIPHandlingUrl; group WebRtc) and"
    )
    add(
        "  its ADMX writer (category = policy group under googlechrome); Microsoft Edge policy docs"
    )
    add("  (GP path Microsoft Edge/WebRtc settings, MSEdge.admx); mozilla/policy-templates")
    add(
        "  windows/firefox.admx (PreferencesOneLine: text JSONOneLine -> REG_SZ), docs/oma-uris.md,"
    )
    add("  mac/README.md (mcx_preference_settings, EnterprisePoliciesEnabled); Apple Device")
    add("  Management ManagedPreferences (com.apple.ManagedClient.preferences, Forced).")
    add("")
    add("Same inputs give byte-identical files (no timestamps), so bundles can be diffed and")
    add("checked against manifest.json (sha256).")
    add("")
    return "\n".join(L).encode("utf-8")
