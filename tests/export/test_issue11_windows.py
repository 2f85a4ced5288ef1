"""Issue 11, Windows: PowerShell exit codes reach Intune/SCCM, re-install removes what an
earlier install set, intune.csv is well-formed and follows the vendors' ADMX.

No PowerShell can run here (Debian ships none; PyPI/npm carry no pwsh), so the
scripts are parsed with tree-sitter-powershell and checked statement by statement.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from vpnguard.core.export import build_bundle
from vpnguard.core.policy.levels import ALL_FIREFOX_PREFS

SCRIPTS = ["windows/Install-VpnguardPolicy.ps1", "windows/Uninstall-VpnguardPolicy.ps1"]


def _parse(text: str) -> Any:
    ts = pytest.importorskip("tree_sitter")
    tsp = pytest.importorskip("tree_sitter_powershell")
    return ts.Parser(ts.Language(tsp.language())).parse(text.encode()).root_node


def _nodes(node: Any, kind: str) -> list[Any]:
    out = [node] if node.type == kind else []
    for c in node.children:
        out.extend(_nodes(c, kind))
    return out


def _script(name: str, level: str = "strict", exc: tuple[str, ...] = ()) -> str:
    raw = build_bundle(["windows"], level, None, list(exc)).files[name]
    return raw[3:].decode("utf-8").replace("\r\n", "\n")


def _command_names(root: Any) -> list[str]:
    return [
        n.child_by_field_name("command_name").text.decode()
        for n in _nodes(root, "command")
        if n.child_by_field_name("command_name") is not None
    ]


@pytest.mark.parametrize("name", SCRIPTS)
def test_exit_codes_3_and_4_are_not_swallowed_by_write_error(name: str) -> None:
    text = _script(name)
    root = _parse(text)
    # Under $ErrorActionPreference = 'Stop', Write-Error ends the script with 1.
    assert "$ErrorActionPreference = 'Stop'" in text
    assert "Write-Error" not in _command_names(root)
    # Every refusal goes through Fail N, which writes to stderr and exits N.
    fails = [
        n.text.decode() for n in _nodes(root, "command") if n.text.decode().startswith("Fail ")
    ]
    assert any(f.startswith("Fail 3 ") for f in fails)
    assert any(f.startswith("Fail 4 ") for f in fails)
    fn = next(f for f in _nodes(root, "function_statement") if b"function Fail" in f.text)
    body = fn.text.decode()
    assert "[Console]::Error.WriteLine" in body and "exit $Code" in body


def test_uninstall_stops_when_there_is_nothing_to_undo() -> None:
    root = _parse(_script(SCRIPTS[1]))
    ifs = [n for n in _nodes(root, "if_statement") if b"nothing to undo" in n.text]
    assert len(ifs) == 1
    assert "exit 0" in ifs[0].text.decode()


def test_install_removes_what_an_earlier_install_set() -> None:
    text = _script(SCRIPTS[0], "balanced")
    # Every pref any level sets is known to the script, so balanced unlocks proxy_only.
    line = next(x for x in text.splitlines() if x.startswith("$AllFirefoxPrefs = @("))
    assert all(f"'{p}'" in line for p in ALL_FIREFOX_PREFS)
    assert "media.peerconnection.ice.proxy_only'" not in text.split("$AllFirefoxPrefs")[0]
    # Values recorded by an earlier install that this bundle does not set are undone.
    root = _parse(text)
    loop = next(n for n in _nodes(root, "foreach_statement") if b"GetValueNames()" in n.text)
    body = loop.text.decode()
    assert "$wanted -contains $id" in body and "Remove-ItemProperty" in body
    assert "$backup.existed" in body  # an admin's earlier value is put back, not deleted
    assert _nodes(root, "ERROR") == []


EXCEPTIONS = [
    (),
    ("https://meet.example.com",),
    ("https://[*.]corp.example:8443=default", "https://a.com/x?a&b;c", "[*.]example.org"),
    ("https://a.com/VPNGUARD_MERGE_PY=disable_non_proxied_udp", "*=default_public_interface_only"),
]


@pytest.mark.parametrize("exc", EXCEPTIONS)
def test_intune_csv_payloads_are_well_formed_xml(exc: tuple[str, ...]) -> None:
    b = build_bundle(["windows"], "strict", None, list(exc))
    rows = list(csv.DictReader(io.StringIO(b.files["windows/intune.csv"].decode())))
    checked = 0
    for r in rows:
        if not r["oma_value"] or r["setting"] == "ADMX ingestion":
            continue
        doc = ET.fromstring(f"<r>{r['oma_value']}</r>")
        assert [c.tag for c in doc] == ["enabled", "data"]
        data = doc.find("data")
        assert data is not None
        # The attribute value, once XML-decoded, is exactly the registry data.
        assert data.get("value") == r["registry_data"]
        if r["setting"] == "WebRtcIPHandlingUrl":
            assert json.loads(data.get("value") or "") == [
                {"url": e.rsplit("=", 1)[0] if "=" in e else e, "handling": h}
                for e, h in [
                    (x, x.rsplit("=", 1)[1] if "=" in x else "default_public_interface_only")
                    for x in exc
                ]
            ]
            checked += 1
    assert checked == (2 if exc else 0)  # Chrome and Edge


def test_intune_csv_rows_follow_the_vendors_admx() -> None:
    b = build_bundle(["windows"], "strict", None, ["https://meet.example.com"])
    rows = list(csv.DictReader(io.StringIO(b.files["windows/intune.csv"].decode())))
    by = {(r["browser"], r["setting"]): r for r in rows}
    chrome = by[("chrome", "WebRtcIPHandling")]
    assert chrome["oma_uri"] == (
        "./Device/Vendor/MSFT/Policy/Config/Chrome~Policy~googlechrome~WebRtc/WebRtcIPHandling"
    )
    assert by[("chrome", "WebRtcIPHandlingUrl")]["oma_uri"].endswith(
        "Chrome~Policy~googlechrome~WebRtc/WebRtcIPHandlingUrl"
    )
    assert by[("edge", "WebRtcLocalhostIpHandling")]["oma_uri"].endswith(
        "microsoft_edge~Policy~microsoft_edge~WebRtc/WebRtcLocalhostIpHandling"
    )
    # Firefox and Firefox ESR share one key: one row, not duplicates.
    mozilla = [r for r in rows if r["registry_key"] == r"HKLM\SOFTWARE\Policies\Mozilla\Firefox"]
    assert len(mozilla) == 1 and mozilla[0]["browser"] == "firefox firefox-esr"
    # PreferencesOneLine is a <text> element in firefox.admx: REG_SZ, JSON on one line.
    assert mozilla[0]["setting"] == "PreferencesOneLine"
    assert mozilla[0]["registry_type"] == "REG_SZ" and "\n" not in mozilla[0]["registry_data"]
    # LibreWolf has no ADMX: never Firefox's OMA-URI or key.
    lw = [r for r in rows if r["browser"] == "librewolf"]
    assert lw and all(r["oma_uri"] == "" and "LibreWolf" in r["registry_key"] for r in lw)
    assert all("Mozilla" not in r["registry_key"] for r in lw)
    # Ingestion is a row of its own for each ADMX the rows rely on.
    ingest = {r["browser"]: r["oma_uri"] for r in rows if r["setting"] == "ADMX ingestion"}
    assert ingest["chrome"].endswith("/ConfigOperations/ADMXInstall/Chrome/Policy/ChromeAdmx")
    assert set(ingest) == {"chrome", "edge", "firefox"}
    assert len({tuple(r.values()) for r in rows}) == len(rows)


def _all_ps(b: Any) -> dict[str, str]:
    return {
        n: d[3:].decode("utf-8").replace("\r\n", "\n")
        for n, d in b.files.items()
        if n.endswith(".ps1")
    }


def test_every_powershell_file_parses_and_remediation_is_the_installer() -> None:
    b = build_bundle(["windows"], "strict", None, ["https://meet.example.com"])
    scripts = _all_ps(b)
    assert set(scripts) == {
        "windows/Install-VpnguardPolicy.ps1",
        "windows/Uninstall-VpnguardPolicy.ps1",
        "windows/Verify-VpnguardPolicy.ps1",
        "windows/remediation/Detect-VpnguardPolicy.ps1",
        "windows/remediation/Remediate-VpnguardPolicy.ps1",
    }
    for name, text in scripts.items():
        root = _parse(text)
        assert _nodes(root, "ERROR") == [] and not any(
            n.is_missing for n in _nodes(root, "command")
        ), name
    assert (
        b.files["windows/remediation/Remediate-VpnguardPolicy.ps1"]
        == b.files["windows/Install-VpnguardPolicy.ps1"]
    )


def _top_level_tail(text: str) -> str:
    """The script's own statements after the shared function definitions."""
    return text.rsplit("\n}\n", 1)[1]


def test_detection_script_speaks_intune() -> None:
    text = _script("windows/remediation/Detect-VpnguardPolicy.ps1")
    tail = _top_level_tail(text)
    root = _parse(tail)
    assert _nodes(root, "ERROR") == []
    # Intune reads exit 0 as compliant, 1 as "run the remediation"; nothing else.
    code = [ln.split("#", 1)[0] for ln in tail.splitlines()]
    exits = [ln.rsplit("exit", 1)[1].strip(" }") for ln in code if "exit " in ln]
    assert sorted(exits) == ["0", "1", "1"]
    # Each of the three outcomes writes exactly one line, then exits.
    assert _command_names(root).count("Write-Output") == 3
    for ln in code:
        if "exit " in ln:
            assert "Write-Output" in ln or "Write-Output" in code[code.index(ln) - 1]
    assert "Get-Compliance" in tail and "Write-Error" not in _command_names(root)


def test_verify_script_prints_json_lines_and_exits_0_only_when_compliant() -> None:
    b = build_bundle(["windows"], "strict", ["chrome", "firefox", "firefox-esr"], None)
    text = b.files["windows/Verify-VpnguardPolicy.ps1"][3:].decode().replace("\r\n", "\n")
    tail = _top_level_tail(text)
    assert "ConvertTo-Json -InputObject $r -Compress" in tail
    assert "exit 0" in tail and tail.rstrip().endswith("exit 1")
    # Every browser of the bundle is named on its rows (Firefox and ESR share a key).
    assert "Browser = 'chrome'" in text and "Browser = 'firefox firefox-esr'" in text
    fn = next(f for f in _nodes(_parse(text), "function_statement") if b"Get-Compliance" in f.text)
    body = fn.text.decode()
    for field in ("browser", "present", "value", "compliant", "conflicts"):
        assert f"{field} = " in body
