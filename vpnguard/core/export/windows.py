# ruff: noqa: E501  (admin-facing text and embedded script templates read better unwrapped)
"""Windows part of an admin bundle: .reg pair, PowerShell pair, Intune listing.

Values come from :func:`vpnguard.core.policy.plans.windows_values` (plus the
per-URL exceptions as Chromium's dictionary policy, a REG_SZ holding JSON).

Firefox reads ``Preferences`` from ``HKLM\\SOFTWARE\\Policies\\Mozilla\\Firefox``
as REG_MULTI_SZ whose lines, joined with newlines, are one JSON document
(``WindowsGPOParser.sys.mjs``: a REG_MULTI_SZ value is always parsed as JSON).
A *subkey* named ``Preferences`` (the deprecated one-value-per-pref GPO form)
replaces that value entirely, since child keys are read after values: the
PowerShell installer refuses then, and the README says so.
"""

from __future__ import annotations

import csv
import io
import json
from xml.sax.saxutils import escape as xml_escape

from vpnguard.core.browsers.catalog import BrowserSpec
from vpnguard.core.export.plan import URL_POLICY
from vpnguard.core.export.urlpatterns import UrlException
from vpnguard.core.model import Family, Level
from vpnguard.core.policy.levels import ALL_FIREFOX_PREFS
from vpnguard.core.policy.plans import HKLM, RegValue, windows_values

REG_HEADER = "Windows Registry Editor Version 5.00"
HIVE_NAMES = {HKLM: "HKEY_LOCAL_MACHINE"}
STATE_KEY = r"SOFTWARE\vpnguard\PolicyBundle"


def registry_values(
    specs: tuple[BrowserSpec, ...], level: Level, exceptions: tuple[UrlException, ...]
) -> tuple[RegValue, ...]:
    """Every value the bundle sets, de-duplicated (Firefox and Firefox ESR share a key)."""
    out: dict[tuple[str, str, str], RegValue] = {}
    for spec in specs:
        values = list(windows_values(spec, level))
        if values and exceptions and spec.family is Family.CHROMIUM:
            key = spec.windows.policy_key
            assert key is not None
            data = json.dumps([e.to_policy() for e in exceptions], separators=(",", ":"))
            values.append(RegValue(HKLM, key, URL_POLICY, "REG_SZ", data))
        for v in values:
            ident = (v.hive, v.key.lower(), v.name.lower())
            if ident in out and out[ident] != v:
                raise AssertionError(f"two browsers want different data in {v.key}\\{v.name}")
            out.setdefault(ident, v)
    return tuple(out.values())


# ---------------------------------------------------------------- .reg files


def reg_string(s: str) -> str:
    """A regedit string literal: backslash and double quote escaped."""
    if any(c in s for c in "\r\n\0"):
        raise ValueError("REG_SZ data in a .reg file cannot hold CR, LF or NUL")
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _hex_lines(prefix: str, data: bytes) -> list[str]:
    """regedit's hex layout: comma-separated bytes, lines continued with a backslash."""
    parts = [f"{b:02x}" for b in data]
    lines: list[str] = []
    current = prefix
    for i, part in enumerate(parts):
        piece = part + ("," if i < len(parts) - 1 else "")
        if len(current) + len(piece) > 78 and current.strip():
            lines.append(current + "\\")
            current = "  "
        current += piece
    lines.append(current)
    return lines


def reg_value_lines(v: RegValue) -> list[str]:
    name = reg_string(v.name)
    if v.type == "REG_SZ":
        assert isinstance(v.data, str)
        return [f"{name}={reg_string(v.data)}"]
    if v.type == "REG_DWORD":
        assert isinstance(v.data, int) and 0 <= v.data <= 0xFFFFFFFF
        return [f"{name}=dword:{v.data:08x}"]
    if v.type == "REG_MULTI_SZ":
        assert isinstance(v.data, tuple)
        raw = b"".join(s.encode("utf-16-le") + b"\0\0" for s in v.data) + b"\0\0"
        return _hex_lines(f"{name}=hex(7):", raw)
    raise ValueError(f"unsupported registry type {v.type}")


def _by_key(values: tuple[RegValue, ...]) -> dict[str, list[RegValue]]:
    grouped: dict[str, list[RegValue]] = {}
    for v in values:
        grouped.setdefault(f"{HIVE_NAMES[v.hive]}\\{v.key}", []).append(v)
    return grouped


def _reg_file(lines: list[str]) -> bytes:
    return b"\xff\xfe" + "\r\n".join(lines).encode("utf-16-le")


def reg_file(values: tuple[RegValue, ...], comment: str) -> bytes:
    lines = [REG_HEADER, "", f"; {comment}", ""]
    for key, vals in _by_key(values).items():
        lines.append(f"[{key}]")
        for v in vals:
            lines.extend(reg_value_lines(v))
        lines.append("")
    lines.append("")
    return _reg_file(lines)


def undo_reg_file(values: tuple[RegValue, ...], comment: str) -> bytes:
    lines = [REG_HEADER, "", f"; {comment}", ""]
    for key, vals in _by_key(values).items():
        lines.append(f"[{key}]")
        lines.extend(f"{reg_string(v.name)}=-" for v in vals)
        lines.append("")
    lines.append("")
    return _reg_file(lines)


# ---------------------------------------------------------------- PowerShell

_PS_QUOTES = "'\u2018\u2019\u201a\u201b"


def ps_quote(s: str) -> str:
    """A PowerShell single-quoted (verbatim) string: every quote character doubled.

    PowerShell treats the typographic single quotes as quote characters too, so
    they are doubled as well; nothing inside is expanded.
    """
    out = "".join(c + c if c in _PS_QUOTES else c for c in s)
    return "'" + out + "'"


def browsers_by_key(specs: tuple[BrowserSpec, ...]) -> dict[str, str]:
    """Registry key (lower case) -> the browser ids that read it ("firefox firefox-esr")."""
    out: dict[str, str] = {}
    for spec in specs:
        key = spec.windows.policy_key
        if key is not None and not spec.self_managed:
            k = key.lower()
            out[k] = f"{out[k]} {spec.id}" if k in out else spec.id
    return out


def _ps_value_table(values: tuple[RegValue, ...], browsers: dict[str, str]) -> list[str]:
    rows = []
    for v in values:
        if v.type == "REG_MULTI_SZ":
            continue  # Firefox Preferences: merged separately
        kind = {"REG_SZ": "String", "REG_DWORD": "DWord"}[v.type]
        data = ps_quote(str(v.data)) if v.type == "REG_SZ" else str(v.data)
        who = ps_quote(browsers.get(v.key.lower(), ""))
        rows.append(
            f"    @{{ Key = {ps_quote(v.key)}; Name = {ps_quote(v.name)}; Kind = '{kind}'; Data = {data}; Browser = {who} }}"
        )
    return rows


def _ps_prefs(values: tuple[RegValue, ...], browsers: dict[str, str]) -> list[str]:
    rows = []
    for v in values:
        if v.type == "REG_MULTI_SZ" and v.name == "Preferences":
            assert isinstance(v.data, tuple)
            doc = json.dumps(json.loads("\n".join(v.data)), separators=(",", ":"), sort_keys=True)
            who = ps_quote(browsers.get(v.key.lower(), ""))
            rows.append(
                f"    @{{ Key = {ps_quote(v.key)}; Json = {ps_quote(doc)}; Browser = {who} }}"
            )
    return rows


_PS_COMMON = r"""
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0
$StateKey = 'HKLM:\__STATE__'
$script:Changes = 0

function Say([string]$Text) { Write-Output "vpnguard-bundle: $Text" }

# Not Write-Error: under $ErrorActionPreference = 'Stop' it is a terminating error,
# and the script would stop with exit code 1 before "exit 3/4". Write to stderr
# directly, then exit with the documented code (Intune/SCCM read it).
function Fail([int]$Code, [string]$Text) {
    [Console]::Error.WriteLine("vpnguard-bundle: $Text")
    exit $Code
}

function Test-Admin {
    $id = [Security.Principal.WindowsIdentity]::GetCurrent()
    $p = New-Object Security.Principal.WindowsPrincipal($id)
    return $p.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

function Get-Reg([string]$Key, [string]$Name) {
    # Returns $null when absent, else @{ Kind = ...; Data = ... }.
    $k = Get-Item -LiteralPath "HKLM:\$Key" -ErrorAction SilentlyContinue
    if ($null -eq $k) { return $null }
    if (-not ($k.GetValueNames() -contains $Name)) { return $null }
    return @{ Kind = $k.GetValueKind($Name).ToString(); Data = $k.GetValue($Name, $null, 'DoNotExpandEnvironmentNames') }
}

function ConvertTo-Canonical($Object) {
    # Compact JSON with properties in name order: compares entries regardless of layout.
    if ($null -eq $Object) { return 'null' }
    if ($Object -is [System.Management.Automation.PSCustomObject]) {
        $parts = @()
        foreach ($p in ($Object.PSObject.Properties | Sort-Object Name)) {
            $parts += ((ConvertTo-Json -InputObject $p.Name -Compress) + ':' + (ConvertTo-Canonical $p.Value))
        }
        return '{' + ($parts -join ',') + '}'
    }
    return (ConvertTo-Json -InputObject $Object -Compress -Depth 20)
}

function Read-Json([string]$Text, [string]$Where) {
    try { return ($Text | ConvertFrom-Json) }
    catch { throw "refused: $Where does not hold valid JSON ($($_.Exception.Message)); nothing was changed" }
}

function Get-PrefsObject([string]$Key) {
    $cur = Get-Reg $Key 'Preferences'
    if ($null -eq $cur) { return $null }
    $text = if ($cur.Data -is [array]) { $cur.Data -join "`n" } else { [string]$cur.Data }
    $obj = Read-Json $text "HKLM:\$Key\Preferences"
    if (-not ($obj -is [System.Management.Automation.PSCustomObject])) {
        throw "refused: HKLM:\$Key\Preferences is not a JSON object; nothing was changed"
    }
    return $obj
}

function Set-PrefsObject([string]$Key, $Object) {
    $json = ConvertTo-Json -InputObject $Object -Depth 20
    $lines = [string[]]($json -split "`r?`n")
    if (-not (Test-Path -LiteralPath "HKLM:\$Key")) { New-Item -Path "HKLM:\$Key" -Force | Out-Null }
    New-ItemProperty -LiteralPath "HKLM:\$Key" -Name 'Preferences' -PropertyType MultiString -Value $lines -Force | Out-Null
}

function Get-Backup([string]$Id) {
    $b = Get-Reg ($StateKey.Substring(5)) $Id
    if ($null -eq $b) { return $null }
    return (Read-Json ([string]$b.Data) "$StateKey\$Id")
}

function Set-Backup([string]$Id, $Object) {
    if (-not (Test-Path -LiteralPath $StateKey)) { New-Item -Path $StateKey -Force | Out-Null }
    $json = ConvertTo-Json -InputObject $Object -Compress -Depth 20
    New-ItemProperty -LiteralPath $StateKey -Name $Id -PropertyType String -Value $json -Force | Out-Null
}
""".replace("__STATE__", STATE_KEY)


_PS_INSTALL = r"""
if (-not (Test-Admin)) { Fail 3 'run this script as Administrator; nothing was changed' }

# Check everything before changing anything.
try {
    foreach ($f in $FirefoxPrefs) {
        if (Test-Path -LiteralPath ("HKLM:\" + $f.Key + '\Preferences')) {
            throw ("refused: HKLM:\" + $f.Key + "\Preferences is a key (the deprecated one-value-per-preference form); " +
                   "Firefox reads it instead of the JSON Preferences value, so this policy would be ignored. " +
                   "Move those preferences into the JSON Preferences policy first; nothing was changed")
        }
        [void](Get-PrefsObject $f.Key)
    }
} catch { Fail 4 $_.Exception.Message }

foreach ($v in $Values) {
    $id = $v.Key + '|' + $v.Name
    $cur = Get-Reg $v.Key $v.Name
    if ($null -eq (Get-Backup $id)) {
        if ($null -eq $cur) { Set-Backup $id @{ existed = $false } }
        else { Set-Backup $id @{ existed = $true; kind = $cur.Kind; data = $cur.Data } }
    }
    if ($null -ne $cur -and $cur.Kind -eq $v.Kind -and "$($cur.Data)" -ceq "$($v.Data)") {
        Say ("unchanged: HKLM:\" + $v.Key + '\' + $v.Name)
        continue
    }
    if (-not (Test-Path -LiteralPath ("HKLM:\" + $v.Key))) { New-Item -Path ("HKLM:\" + $v.Key) -Force | Out-Null }
    New-ItemProperty -LiteralPath ("HKLM:\" + $v.Key) -Name $v.Name -PropertyType $v.Kind -Value $v.Data -Force | Out-Null
    Say ("set: HKLM:\" + $v.Key + '\' + $v.Name + ' = ' + $v.Data)
    $script:Changes++
}

# Values an earlier install set and this bundle does not (e.g. a dropped --exception
# leaves WebRtcIPHandlingUrl): put back what was there before, or remove them.
$wanted = @($Values | ForEach-Object { $_.Key + '|' + $_.Name }) + @($FirefoxPrefs | ForEach-Object { $_.Key + '|Preferences' })
$stateItem = Get-Item -LiteralPath $StateKey -ErrorAction SilentlyContinue
if ($null -ne $stateItem) {
    foreach ($id in $stateItem.GetValueNames()) {
        if ($wanted -contains $id -or $id.EndsWith('|Preferences')) { continue }
        $parts = $id.Split('|')
        if ($parts.Count -ne 2) { continue }
        $backup = Get-Backup $id
        $path = "HKLM:\" + $parts[0]
        if ($null -ne (Get-Reg $parts[0] $parts[1])) {
            if ($null -ne $backup -and $backup.existed) {
                New-ItemProperty -LiteralPath $path -Name $parts[1] -PropertyType $backup.kind -Value $backup.data -Force | Out-Null
                Say ("restored previous value (no longer in this bundle): $path\" + $parts[1])
            } else {
                Remove-ItemProperty -LiteralPath $path -Name $parts[1]
                Say ("removed (no longer in this bundle): $path\" + $parts[1])
            }
            $script:Changes++
        }
        Remove-ItemProperty -LiteralPath $StateKey -Name $id
    }
}

foreach ($f in $FirefoxPrefs) {
    $id = $f.Key + '|Preferences'
    $obj = Get-PrefsObject $f.Key
    if ($null -eq (Get-Backup $id)) {
        if ($null -eq $obj) { Set-Backup $id @{ existed = $false } }
        else { Set-Backup $id @{ existed = $true; prefs = $obj } }
    }
    if ($null -eq $obj) { $obj = New-Object PSObject }
    $ours = $f.Json | ConvertFrom-Json
    $changed = $false
    # Prefs another level sets and this one does not (strict -> balanced must unlock
    # proxy_only): back to the value before the first install, or removed.
    $backup = Get-Backup $id
    foreach ($name in $AllFirefoxPrefs) {
        if ($null -ne $ours.PSObject.Properties[$name]) { continue }
        $existing = $obj.PSObject.Properties[$name]
        if ($null -eq $existing) { continue }
        $old = $null
        if ($null -ne $backup -and $backup.existed) { $old = $backup.prefs.PSObject.Properties[$name] }
        if ($null -ne $old) {
            if ((ConvertTo-Canonical $existing.Value) -ceq (ConvertTo-Canonical $old.Value)) { continue }
            $obj | Add-Member -NotePropertyName $name -NotePropertyValue $old.Value -Force
        } else { $obj.PSObject.Properties.Remove($name) }
        Say ("removed: Firefox preference $name (not set by this level) in HKLM:\" + $f.Key + '\Preferences')
        $changed = $true
    }
    foreach ($p in $ours.PSObject.Properties) {
        $existing = $obj.PSObject.Properties[$p.Name]
        if ($null -ne $existing -and (ConvertTo-Canonical $existing.Value) -ceq (ConvertTo-Canonical $p.Value)) { continue }
        $obj | Add-Member -NotePropertyName $p.Name -NotePropertyValue $p.Value -Force
        Say ("set: Firefox preference " + $p.Name + ' (locked) in HKLM:\' + $f.Key + '\Preferences')
        $changed = $true
    }
    if ($changed) { Set-PrefsObject $f.Key $obj; $script:Changes++ }
    else { Say ("unchanged: HKLM:\" + $f.Key + '\Preferences') }
}

Say ("done: $($script:Changes) change(s). Chrome/Chromium/Brave apply within seconds; restart Edge and Firefox.")
Say 'verify: chrome://policy, edge://policy, about:policies (or run: vpnguard check)'
exit 0
"""


_PS_UNINSTALL = r"""
if (-not (Test-Admin)) { Fail 3 'run this script as Administrator; nothing was changed' }
if (-not (Test-Path -LiteralPath $StateKey)) {
    Say 'nothing to undo: the bundle was not installed with Install-VpnguardPolicy.ps1 here'
    exit 0
}

try { foreach ($f in $FirefoxPrefs) { [void](Get-PrefsObject $f.Key) } }
catch { Fail 4 $_.Exception.Message }

foreach ($v in $Values) {
    $id = $v.Key + '|' + $v.Name
    $path = "HKLM:\" + $v.Key
    $cur = Get-Reg $v.Key $v.Name
    $backup = Get-Backup $id
    if ($null -eq $cur) { Say ("already absent: $path\" + $v.Name); continue }
    if (-not ($cur.Kind -eq $v.Kind -and "$($cur.Data)" -ceq "$($v.Data)")) {
        Say ("left alone (changed by someone since install): $path\" + $v.Name); continue
    }
    if ($null -ne $backup -and $backup.existed) {
        New-ItemProperty -LiteralPath $path -Name $v.Name -PropertyType $backup.kind -Value $backup.data -Force | Out-Null
        Say ("restored previous value: $path\" + $v.Name)
    } else {
        Remove-ItemProperty -LiteralPath $path -Name $v.Name
        Say ("removed: $path\" + $v.Name)
    }
    $script:Changes++
}

foreach ($f in $FirefoxPrefs) {
    $id = $f.Key + '|Preferences'
    $obj = Get-PrefsObject $f.Key
    if ($null -eq $obj) { Say ("already absent: HKLM:\" + $f.Key + '\Preferences'); continue }
    $backup = Get-Backup $id
    $before = $null
    if ($null -ne $backup -and $backup.existed) { $before = $backup.prefs }
    $ours = $f.Json | ConvertFrom-Json
    foreach ($p in $ours.PSObject.Properties) {
        $existing = $obj.PSObject.Properties[$p.Name]
        if ($null -eq $existing) { continue }
        if ((ConvertTo-Canonical $existing.Value) -cne (ConvertTo-Canonical $p.Value)) {
            Say ("left alone (changed by someone since install): Firefox preference " + $p.Name); continue
        }
        $old = $null
        if ($null -ne $before) { $old = $before.PSObject.Properties[$p.Name] }
        if ($null -ne $old) { $obj | Add-Member -NotePropertyName $p.Name -NotePropertyValue $old.Value -Force }
        else { $obj.PSObject.Properties.Remove($p.Name) }
        Say ("removed: Firefox preference " + $p.Name)
        $script:Changes++
    }
    if (@($obj.PSObject.Properties).Count -eq 0 -and ($null -eq $backup -or -not $backup.existed)) {
        Remove-ItemProperty -LiteralPath ("HKLM:\" + $f.Key) -Name 'Preferences'
        Say ("removed: HKLM:\" + $f.Key + '\Preferences (now empty)')
    } else {
        Set-PrefsObject $f.Key $obj
    }
}

if (Test-Path -LiteralPath $StateKey) { Remove-Item -LiteralPath $StateKey -Recurse -Force }
Say ("done: $($script:Changes) change(s). Restart Edge and Firefox.")
exit 0
"""


_PS_CHECK = r"""
function Get-Compliance {
    # One result per browser and registry value, read back as the browser reads it.
    $out = @()
    foreach ($v in $Values) {
        $cur = Get-Reg $v.Key $v.Name
        $ok = ($null -ne $cur -and $cur.Kind -eq $v.Kind -and "$($cur.Data)" -ceq "$($v.Data)")
        $val = $null
        if ($null -ne $cur) { $val = "$($cur.Data)" }
        foreach ($b in $v.Browser.Split(' ')) {
            $out += [ordered]@{ browser = $b; key = "HKLM\$($v.Key)"; name = $v.Name; present = ($null -ne $cur); value = $val; compliant = $ok; conflicts = @() }
        }
    }
    foreach ($f in $FirefoxPrefs) {
        $conflicts = @()
        $obj = $null
        $err = $null
        if (Test-Path -LiteralPath ("HKLM:" + $f.Key + '\Preferences')) {
            # The deprecated per-preference key: Firefox reads it instead of the JSON value.
            $conflicts += "HKLM\$($f.Key)\Preferences (key)"
        }
        try { $obj = Get-PrefsObject $f.Key } catch { $err = $_.Exception.Message }
        $ours = $f.Json | ConvertFrom-Json
        $ok = ($null -eq $err -and $null -ne $obj -and $conflicts.Count -eq 0)
        $val = [ordered]@{}
        foreach ($p in $ours.PSObject.Properties) {
            $existing = $null
            if ($null -ne $obj) { $existing = $obj.PSObject.Properties[$p.Name] }
            if ($null -eq $existing) { $ok = $false; continue }
            $val[$p.Name] = $existing.Value
            if ((ConvertTo-Canonical $existing.Value) -cne (ConvertTo-Canonical $p.Value)) { $ok = $false }
        }
        foreach ($b in $f.Browser.Split(' ')) {
            $r = [ordered]@{ browser = $b; key = "HKLM\$($f.Key)"; name = 'Preferences'; present = ($null -ne $obj); value = $val; compliant = $ok; conflicts = $conflicts }
            if ($null -ne $err) { $r['error'] = $err }
            $out += $r
        }
    }
    return $out
}
"""


_PS_VERIFY = r"""
# A compliance probe: one JSON line per browser and value; exit 0 only if all comply.
$results = @(Get-Compliance)
foreach ($r in $results) { Write-Output (ConvertTo-Json -InputObject $r -Compress -Depth 20) }
if (@($results | Where-Object { -not $_.compliant }).Count -eq 0) { exit 0 }
exit 1
"""


_PS_DETECT = r"""
# Intune Remediations detection: exit 0 = compliant (remediation not run), exit 1 =
# not compliant (Intune runs the remediation script). One line of output, which
# Intune shows in the device status.
try { $results = @(Get-Compliance) }
catch { Write-Output ("vpnguard: cannot read policy: " + $_.Exception.Message); exit 1 }
$bad = @($results | Where-Object { -not $_.compliant } | ForEach-Object { $_.browser + ':' + $_.name })
if ($bad.Count -eq 0) { Write-Output 'vpnguard: compliant'; exit 0 }
Write-Output ('vpnguard: not compliant: ' + ($bad -join ', '))
exit 1
"""


def _ps_script(
    title: str,
    values: tuple[RegValue, ...],
    body: str,
    verb: str,
    browsers: dict[str, str] | None = None,
) -> bytes:
    browsers = browsers or {}
    lines = [
        "#Requires -Version 5.1",
        f"# {title}",
        f"# {verb} vpnguard's WebRTC browser policy (generated by vpnguard export; do not edit).",
        "# Run in an elevated PowerShell:  powershell -ExecutionPolicy Bypass -File .\\<this file>",
        "# Idempotent; reports every change. Exit codes: 0 ok, 3 not elevated, 4 refused (nothing changed).",
        "",
        "$Values = @(",
        *_ps_value_table(values, browsers),
        ")",
        "$FirefoxPrefs = @(",
        *_ps_prefs(values, browsers),
        ")",
        "$AllFirefoxPrefs = @(" + ", ".join(ps_quote(p) for p in ALL_FIREFOX_PREFS) + ")",
        _PS_COMMON.strip("\n"),
        _PS_CHECK.strip("\n"),
        body.rstrip("\n"),
        "",
    ]
    # UTF-8 with BOM: Windows PowerShell 5.1 reads BOM-less files in the ANSI code page.
    return b"\xef\xbb\xbf" + "\r\n".join(lines).replace("\r\n", "\n").replace("\n", "\r\n").encode(
        "utf-8"
    )


def install_ps1(
    values: tuple[RegValue, ...], title: str, browsers: dict[str, str] | None = None
) -> bytes:
    return _ps_script(title, values, _PS_INSTALL, "Installs", browsers)


def uninstall_ps1(
    values: tuple[RegValue, ...], title: str, browsers: dict[str, str] | None = None
) -> bytes:
    return _ps_script(title, values, _PS_UNINSTALL, "Removes", browsers)


def verify_ps1(values: tuple[RegValue, ...], title: str, browsers: dict[str, str]) -> bytes:
    return _ps_script(title, values, _PS_VERIFY, "Checks (reads only)", browsers)


def detect_ps1(values: tuple[RegValue, ...], title: str, browsers: dict[str, str]) -> bytes:
    return _ps_script(title, values, _PS_DETECT, "Detects (Intune Remediations)", browsers)


# ---------------------------------------------------------------- Intune

# ADMX-backed OMA-URIs: ./Device/Vendor/MSFT/Policy/Config/{AppName}~Policy~{category
# path}/{policy}, valid once the vendor's ADMX was ingested under that AppName with
# ./Device/Vendor/MSFT/Policy/ConfigOperations/ADMXInstall/{AppName}/Policy/{UniqueID}.
# - Chrome: Chromium's ADMX writer (components/policy/tools/template_writers/writers/
#   admx_writer.py) puts each policy in a category named after its policy group, under
#   "googlechrome"; WebRtcIPHandling and WebRtcIPHandlingUrl are in the group "WebRtc"
#   (policy_definitions/WebRtc/). A string-enum is an <enum id="{policy}">, a dict
#   policy a <text id="{policy}">, so the <data> id is the policy name.
# - Edge: same writer; Microsoft documents the GP path "Microsoft Edge/WebRtc settings"
#   (MSEdge.admx) for WebRtcLocalhostIpHandling and WebRtcIPHandlingUrl.
# - Firefox: Mozilla's windows/firefox.admx: policy "PreferencesOneLine" (category
#   "firefox") is a <text id="JSONOneLine" valueName="Preferences">, i.e. REG_SZ holding
#   the JSON on one line; documented URI in policy-templates docs/oma-uris.md.
ADMX = {
    "chrome": (
        "Chrome",
        "Chrome~Policy~googlechrome~WebRtc",
        "chrome.admx (Google's Chrome policy templates)",
    ),
    "edge": (
        "microsoft_edge",
        "microsoft_edge~Policy~microsoft_edge~WebRtc",
        "msedge.admx (Microsoft Edge policy templates)",
    ),
    "firefox": (
        "Firefox",
        "Firefox~Policy~firefox",
        "firefox.admx (mozilla/policy-templates windows/; its parent category is in mozilla.admx: ingest that too)",
    ),
}
ADMX["firefox-esr"] = ADMX["firefox"]
POLICY_URI = "./Device/Vendor/MSFT/Policy/Config/{path}/{name}"
INGEST_URI = "./Device/Vendor/MSFT/Policy/ConfigOperations/ADMXInstall/{app}/Policy/{app}Admx"
FIREFOX_ONE_LINE = "PreferencesOneLine"


def admx_data(element_id: str, value: str) -> str:
    """The SyncML value of an ADMX-backed policy: ``<enabled/><data id=".." value=".."/>``,
    with the value escaped as an XML attribute (JSON is full of double quotes)."""
    return (
        f'<enabled/><data id="{xml_escape(element_id, _ATTR)}" value="{xml_escape(value, _ATTR)}"/>'
    )


_ATTR = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def intune_rows(specs: tuple[BrowserSpec, ...], values: tuple[RegValue, ...]) -> list[list[str]]:
    """One row per registry value (browsers sharing a key share the row), then one
    ingestion row per ADMX the rows need."""
    rows: dict[tuple[str, str], list[str]] = {}
    ingest: dict[str, list[str]] = {}
    for spec in specs:
        key = spec.windows.policy_key
        if key is None or spec.self_managed:
            continue
        for v in values:
            if v.key.lower() != key.lower():
                continue
            ident = (v.key.lower(), v.name.lower())
            if ident in rows:
                rows[ident][0] += " " + spec.id
                continue
            admx = ADMX.get(spec.id)
            reg_type, data = (
                v.type,
                ("\n".join(v.data) if isinstance(v.data, tuple) else str(v.data)),
            )
            if spec.family is Family.FIREFOX and admx is not None:
                # Intune carries one string: the one-line JSON variant, a REG_SZ.
                data = json.dumps(json.loads(data), separators=(",", ":"), sort_keys=True)
                reg_type, setting, element = "REG_SZ", FIREFOX_ONE_LINE, "JSONOneLine"
            else:
                setting, element = v.name, v.name
            if admx is not None:
                app, path, source = admx
                uri, status = (
                    POLICY_URI.format(path=path, name=setting),
                    f"after ingesting {source} as AppName {app}",
                )
                value = admx_data(element, data)
                ingest.setdefault(
                    app,
                    [
                        spec.id,
                        "ADMX ingestion",
                        INGEST_URI.format(app=app),
                        f"do once, before the rows of {app}",
                        f"String: the full text of {source}",
                        "",
                        "",
                        "",
                        "",
                    ],
                )
            else:
                uri, status, value = (
                    "",
                    "no ADMX from the vendor: deploy windows/remediation/ (Intune Remediations) or the .reg/PowerShell",
                    "",
                )
            rows[ident] = [
                spec.id,
                setting,
                uri,
                status,
                value,
                f"HKLM\\{v.key}",
                v.name,
                reg_type,
                data,
            ]
    return [*ingest.values(), *rows.values()]


INTUNE_HEADER = [
    "browser",
    "setting",
    "oma_uri",
    "oma_uri_status",
    "oma_value",
    "registry_key",
    "registry_value",
    "registry_type",
    "registry_data",
]


def intune_csv(specs: tuple[BrowserSpec, ...], values: tuple[RegValue, ...]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(INTUNE_HEADER)
    for row in intune_rows(specs, values):
        w.writerow(row)
    return buf.getvalue().encode("utf-8")
