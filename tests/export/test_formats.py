"""Every rendered file parsed back with a real parser, and compared with levels.py."""

from __future__ import annotations

import csv
import io
import json
import plistlib
import uuid
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from tests.export.regparse import DELETE, parse_reg
from vpnguard.core.browsers.catalog import BY_ID, CATALOG
from vpnguard.core.export import build_bundle
from vpnguard.core.export.windows import ps_quote, reg_string
from vpnguard.core.model import Family, Level
from vpnguard.core.policy.levels import CHROMIUM_VALUES, FIREFOX_PREFS, settings_for

EXC = ["https://meet.example.com", "https://[*.]corp.example:8443=default"]

# The subset of Mozilla's policies.json shape we write (policy-templates: Preferences).
FIREFOX_SCHEMA = {
    "type": "object",
    "required": ["policies"],
    "additionalProperties": False,
    "properties": {
        "policies": {
            "type": "object",
            "properties": {
                "Preferences": {
                    "type": "object",
                    "propertyNames": {"pattern": r"^media\.peerconnection\."},
                    "additionalProperties": {
                        "type": "object",
                        "required": ["Value", "Status"],
                        "additionalProperties": False,
                        "properties": {
                            "Value": {"type": ["boolean", "string", "number"]},
                            "Status": {"enum": ["default", "locked", "user", "clear"]},
                            "Type": {"enum": ["boolean", "number", "string"]},
                        },
                    },
                }
            },
        }
    },
}


@pytest.fixture(scope="module", params=[Level.STRICT, Level.BALANCED])
def bundle(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return request.param, build_bundle(["all"], request.param, None, EXC)


def test_chromium_json_matches_levels(bundle) -> None:  # type: ignore[no-untyped-def]
    level, b = bundle
    for spec in CATALOG:
        name = f"linux/chromium/{spec.id}/vpnguard.json"
        if spec.family is Family.CHROMIUM and spec.linux.policy_dirs:
            doc = json.loads(b.files[name])
            (setting,) = settings_for(spec, level)
            assert doc[setting.name] == CHROMIUM_VALUES[level]
            assert doc["WebRtcIPHandlingUrl"] == [
                {"url": "https://meet.example.com", "handling": "default_public_interface_only"},
                {"url": "https://[*.]corp.example:8443", "handling": "default"},
            ]
            assert "WebRtcIPHandlingPolicy" not in doc
        else:
            assert name not in b.files


def test_firefox_fragment_schema_and_values(bundle) -> None:  # type: ignore[no-untyped-def]
    level, b = bundle
    doc = json.loads(b.files["linux/firefox/policies.json"])
    jsonschema.validate(doc, FIREFOX_SCHEMA)
    prefs = doc["policies"]["Preferences"]
    assert {k: v["Value"] for k, v in prefs.items()} == FIREFOX_PREFS[level]
    assert all(v["Status"] == "locked" for v in prefs.values())


def test_reg_file_parses_and_matches(bundle) -> None:  # type: ignore[no-untyped-def]
    level, b = bundle
    keys = {k.path: k.values for k in parse_reg(b.files["windows/vpnguard-webrtc.reg"])}
    chrome = keys[r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Google\Chrome"]
    assert chrome["WebRtcIPHandling"] == ("REG_SZ", CHROMIUM_VALUES[level])
    kind, data = chrome["WebRtcIPHandlingUrl"]
    assert kind == "REG_SZ" and json.loads(data)[1]["handling"] == "default"
    edge = keys[r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Edge"]
    assert edge["WebRtcLocalhostIpHandling"] == ("REG_SZ", CHROMIUM_VALUES[level])
    kind, lines = keys[r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Mozilla\Firefox"]["Preferences"]
    assert kind == "REG_MULTI_SZ"
    # Firefox joins REG_MULTI_SZ lines with "\n" and parses JSON (WindowsGPOParser).
    prefs = json.loads("\n".join(lines))
    assert {k: v["Value"] for k, v in prefs.items()} == FIREFOX_PREFS[level]
    undo = {k.path: k.values for k in parse_reg(b.files["windows/vpnguard-webrtc-undo.reg"])}
    assert set(undo) == set(keys)
    for path, values in keys.items():
        assert set(undo[path]) == set(values)
        assert all(v == ("DELETE", DELETE) for v in undo[path].values())


def test_reg_grammar_rejects_broken_files() -> None:
    good = build_bundle(["windows"], "strict", ["chrome"], None).files[
        "windows/vpnguard-webrtc.reg"
    ]
    parse_reg(good)
    text = good[2:].decode("utf-16-le")
    for broken in (
        good[2:],  # no BOM
        b"\xff\xfe" + text.replace("\r\n", "\n").encode("utf-16-le"),
        b"\xff\xfe" + text.replace("5.00", "4.00").encode("utf-16-le"),
        b"\xff\xfe" + text.replace('"disable', '"dis"able').encode("utf-16-le"),
    ):
        with pytest.raises(ValueError):
            parse_reg(broken)


def test_reg_string_escapes_round_trip() -> None:
    from tests.export.regparse import _string

    for s in ['a"b', "c:\\x\\", '\\"', ""]:
        assert _string(reg_string(s), 0) == (s, len(reg_string(s)))


# Apple: "Configuration Profile" top-level keys and the keys common to every payload
# (Device Management docs, TopLevel / CommonPayloadKeys), and the ManagedPreferences
# payload (com.apple.ManagedClient.preferences): PayloadContent maps a domain to
# {"Forced": [{"mcx_preference_settings": {...}}]} (or "Set-Once").
PROFILE_KEYS = {
    "PayloadContent", "PayloadDescription", "PayloadDisplayName", "PayloadIdentifier",
    "PayloadOrganization", "PayloadUUID", "PayloadRemovalDisallowed", "PayloadType",
    "PayloadVersion", "PayloadScope", "RemovalDate", "DurationUntilRemoval", "ConsentText",
}  # fmt: skip
PAYLOAD_KEYS = {
    "PayloadType", "PayloadVersion", "PayloadIdentifier", "PayloadUUID", "PayloadDisplayName",
    "PayloadDescription", "PayloadOrganization", "PayloadEnabled", "PayloadContent",
}  # fmt: skip


def managed_prefs(profile: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    """Validate the profile's structure; return domain -> forced settings."""
    assert set(profile) <= PROFILE_KEYS, set(profile) - PROFILE_KEYS
    assert profile["PayloadType"] == "Configuration" and profile["PayloadVersion"] == 1
    uuid.UUID(profile["PayloadUUID"])
    out: dict[str, dict] = {}  # type: ignore[type-arg]
    for p in profile["PayloadContent"]:
        assert set(p) <= PAYLOAD_KEYS, set(p) - PAYLOAD_KEYS
        for key in ("PayloadType", "PayloadVersion", "PayloadIdentifier", "PayloadUUID"):
            assert p[key], key
        uuid.UUID(p["PayloadUUID"])
        assert p["PayloadType"] == "com.apple.ManagedClient.preferences"
        assert p["PayloadIdentifier"].startswith(profile["PayloadIdentifier"] + ".")
        ((domain, spec),) = p["PayloadContent"].items()
        assert list(spec) == ["Forced"]
        (forced,) = spec["Forced"]
        assert list(forced) == ["mcx_preference_settings"]
        assert domain not in out
        out[domain] = forced["mcx_preference_settings"]
    ids = [p["PayloadUUID"] for p in profile["PayloadContent"]]
    assert len(set(ids)) == len(ids)
    return out


def test_mobileconfig_round_trip(bundle) -> None:  # type: ignore[no-untyped-def]
    level, b = bundle
    raw = b.files["macos/vpnguard-webrtc.mobileconfig"]
    profile = plistlib.loads(raw)
    assert plistlib.loads(plistlib.dumps(profile, sort_keys=True)) == profile
    by_domain = managed_prefs(profile)
    assert by_domain["com.google.Chrome"]["WebRtcIPHandling"] == CHROMIUM_VALUES[level]
    assert by_domain["com.microsoft.Edge"]["WebRtcLocalhostIpHandling"] == CHROMIUM_VALUES[level]
    assert (
        by_domain["com.brave.Browser"]["WebRtcIPHandlingUrl"][0]["url"]
        == "https://meet.example.com"
    )
    # Mozilla (policy-templates mac/README.md): EnterprisePoliciesEnabled, nested in
    # mcx_preference_settings.
    ff = by_domain["org.mozilla.firefox"]
    assert ff["EnterprisePoliciesEnabled"] is True
    assert "WebRtcIPHandlingUrl" not in ff
    assert {k: v["Value"] for k, v in ff["Preferences"].items()} == FIREFOX_PREFS[level]
    assert all(v["Status"] == "locked" for v in ff["Preferences"].values())
    # Opera documents no macOS domain: no payload, no plist.
    assert "com.operasoftware.Opera" not in by_domain
    # One plain plist per domain for Jamf "Application & Custom Settings": same keys.
    jamf = {
        n.removeprefix("macos/jamf/").removesuffix(".plist"): plistlib.loads(d)
        for n, d in b.files.items()
        if n.startswith("macos/jamf/")
    }
    assert jamf == by_domain


def test_uuids_change_with_content() -> None:
    a = plistlib.loads(
        build_bundle(["macos"], "strict", None, None).files["macos/vpnguard-webrtc.mobileconfig"]
    )
    b = plistlib.loads(
        build_bundle(["macos"], "balanced", None, None).files["macos/vpnguard-webrtc.mobileconfig"]
    )
    assert a["PayloadUUID"] != b["PayloadUUID"]


def test_intune_csv(bundle) -> None:  # type: ignore[no-untyped-def]
    level, b = bundle
    rows = list(csv.DictReader(io.StringIO(b.files["windows/intune.csv"].decode())))
    chrome = [r for r in rows if r["browser"] == "chrome" and r["setting"] == "WebRtcIPHandling"]
    assert chrome[0]["registry_data"] == CHROMIUM_VALUES[level]
    ff = next(r for r in rows if r["setting"] == "PreferencesOneLine")
    assert ff["oma_uri"].endswith("Firefox~Policy~firefox/PreferencesOneLine")
    data = ET.fromstring(f"<r>{ff['oma_value']}</r>").find("data")
    assert data is not None and data.get("id") == "JSONOneLine"
    one_line = data.get("value") or ""
    assert {k: v["Value"] for k, v in json.loads(one_line).items()} == FIREFOX_PREFS[level]


def test_manifest(bundle) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    import vpnguard

    level, b = bundle
    m = json.loads(b.files["manifest.json"])
    assert m["schema_version"] == 1 and m["vpnguard_version"] == vpnguard.__version__
    assert m["level"] == level.value
    listed = {f["path"]: f["sha256"] for f in m["files"]}
    assert set(listed) == set(b.files) - {"manifest.json"}
    for name, digest in listed.items():
        assert hashlib.sha256(b.files[name]).hexdigest() == digest
    ff = next(x for x in m["browsers"] if x["id"] == "firefox")
    assert ff["exceptions_applied"] is False
    assert any("cannot express per-URL" in n for n in ff["notes"])
    tor = next(x for x in m["browsers"] if x["id"] == "tor-browser")
    assert tor["settings"] == {} and tor["notes"]


def test_readme_names_what_cannot_be_expressed() -> None:
    text = (
        build_bundle(["all"], "strict", ["chrome", "firefox", "opera"], EXC)
        .files["README.txt"]
        .decode()
    )
    assert "CANNOT express per-URL" in text
    assert "Opera: no known managed-policy location on linux" in text
    assert "security cms -S" in text and "about:policies" in text and "chrome://policy" in text
    assert "vpnguard check" in text and "python3" in text
    assert "exposes local addresses" in text  # the "=default" exception is flagged


# ------------------------------------------------------------- PowerShell


def _ps_parser():  # type: ignore[no-untyped-def]
    ts = pytest.importorskip("tree_sitter")
    tsp = pytest.importorskip("tree_sitter_powershell")
    return ts.Parser(ts.Language(tsp.language()))


def _errors(node) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    if node.type == "ERROR" or node.is_missing:
        out.append(f"{node.type} at {node.start_point}: {node.text[:60]!r}")
    for child in node.children:
        out.extend(_errors(child))
    return out


@pytest.mark.parametrize(
    "name", ["windows/Install-VpnguardPolicy.ps1", "windows/Uninstall-VpnguardPolicy.ps1"]
)
def test_powershell_scripts_parse(bundle, name: str) -> None:  # type: ignore[no-untyped-def]
    parser = _ps_parser()
    _, b = bundle
    raw = b.files[name]
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw[3:].decode("utf-8")
    assert "\n" not in text.replace("\r\n", "")
    tree = parser.parse(text.replace("\r\n", "\n").encode())
    assert _errors(tree.root_node) == []
    # The data tables carry exactly the plan's values.
    assert CHROMIUM_VALUES[b.manifest and Level(b.manifest["level"])] in text
    for pref in FIREFOX_PREFS[Level(b.manifest["level"])]:
        assert pref in text


def test_powershell_parser_catches_errors() -> None:
    parser = _ps_parser()
    assert _errors(parser.parse(b"$x = @{ a = 'b' }\nWrite-Output \"$x\"\n").root_node) == []
    assert _errors(parser.parse(b"$x = @{ a = 'b' \nWrite-Output 'x\n").root_node)


@pytest.mark.parametrize(
    "s", ["plain", "it's", "a''b", "\u2018smart\u2019", "$(Remove-Item C:\\)", '"dq"', "`tick"]
)
def test_ps_quote_is_one_verbatim_string(s: str) -> None:
    parser = _ps_parser()
    src = f"$v = {ps_quote(s)}\n".encode()
    tree = parser.parse(src)
    assert _errors(tree.root_node) == []
    strings = []

    def walk(n):  # type: ignore[no-untyped-def]
        if n.type == "verbatim_string_characters":
            strings.append(n.text.decode())
        for c in n.children:
            walk(c)

    walk(tree.root_node)
    assert strings == [ps_quote(s)]
    # Undo PowerShell's doubling: the literal's value is exactly s.
    inner = ps_quote(s)[1:-1]
    value, i = [], 0
    while i < len(inner):
        value.append(inner[i])
        i += 2 if inner[i] in "'\u2018\u2019\u201a\u201b" else 1
    assert "".join(value) == s


def test_settings_come_from_levels_for_every_browser() -> None:
    for level in Level:
        m = build_bundle(["all"], level, None, None).manifest
        for entry in m["browsers"]:
            spec = BY_ID[entry["id"]]
            expected = {s.name: s.value for s in settings_for(spec, level)}
            got = entry["settings"]
            if spec.family is Family.FIREFOX and expected:
                got = {k: v["Value"] for k, v in got["Preferences"].items()}
            assert got == expected
