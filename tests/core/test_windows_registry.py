"""Windows protection through the same engine: fake Windows root + a typed in-memory registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import fakeroot
from vpnguard.core import service
from vpnguard.core.host import Host
from vpnguard.core.model import OS, Protection

CHROME = r"HKLM\SOFTWARE\Policies\Google\Chrome"
FIREFOX = r"HKLM\SOFTWARE\Policies\Mozilla\Firefox"


class TypedRegistry:
    """Holds values the way the registry does, and rejects what it would reject."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], tuple[str, Any]] = {}

    def read(self, key: str, name: str) -> tuple[str, Any] | None:
        return self.values.get((key.lower(), name.lower()))

    def write(self, key: str, name: str, value: tuple[str, Any]) -> None:
        typ, data = value
        assert key.startswith("HKLM\\SOFTWARE\\Policies\\"), key
        if typ == "REG_SZ":
            assert isinstance(data, str) and "\0" not in data
        elif typ == "REG_DWORD":
            assert isinstance(data, int) and 0 <= data < 2**32
        elif typ == "REG_MULTI_SZ":
            assert isinstance(data, tuple) and all(isinstance(s, str) and s for s in data)
        else:
            raise AssertionError(typ)
        self.values[(key.lower(), name.lower())] = value

    def delete(self, key: str, name: str) -> None:
        self.values.pop((key.lower(), name.lower()), None)


@pytest.fixture
def host(tmp_path: Path) -> Host:
    root = fakeroot.windows(tmp_path)
    return Host(root, OS.WINDOWS, (), r"C:\Users\ada", "x86_64", {"PROGRAMDATA": r"C:\ProgramData"})


def test_protect_writes_typed_values_and_unprotect_restores(host: Host) -> None:
    reg = TypedRegistry()
    admin_prefs = {"browser.startup.page": {"Value": 3, "Status": "locked"}}
    reg.write(FIREFOX, "Preferences", ("REG_MULTI_SZ", tuple(json.dumps(admin_prefs).splitlines())))
    reg.write(CHROME, "HomepageLocation", ("REG_SZ", "https://intranet"))
    before = dict(reg.values)

    report = service.protect("strict", host=host, registry=reg)
    assert {c.path for c in report.changes} == {
        CHROME + r"\WebRtcIPHandling",
        FIREFOX + r"\Preferences",
    }
    assert reg.read(CHROME, "WebRtcIPHandling") == ("REG_SZ", "disable_non_proxied_udp")
    prefs = json.loads("\n".join(reg.read(FIREFOX, "Preferences")[1]))
    assert prefs["browser.startup.page"] == admin_prefs["browser.startup.page"]
    assert prefs["media.peerconnection.ice.proxy_only"] == {"Value": True, "Status": "locked"}
    states = {
        b.browser.id: b.policy.protection for b in service.status(host=host, registry=reg).browsers
    }
    assert states == {"chrome": Protection.STRICT, "firefox": Protection.STRICT}
    assert (host.root / "C/ProgramData/vpnguard/journal.json").exists()

    assert not service.protect("strict", host=host, registry=reg).changed  # idempotent
    service.unprotect(host=host, registry=reg)
    assert reg.values == before


def test_admin_change_after_protect_is_left_alone(host: Host) -> None:
    reg = TypedRegistry()
    service.protect("balanced", ["chrome"], host=host, registry=reg)
    reg.write(CHROME, "WebRtcIPHandling", ("REG_SZ", "default"))  # the admin's GPO wins now
    report = service.unprotect(host=host, registry=reg)
    assert (
        report.changes[0].action == "unchanged" and "changed by someone" in report.changes[0].detail
    )
    assert reg.read(CHROME, "WebRtcIPHandling") == ("REG_SZ", "default")


def test_malformed_firefox_preferences_value_refused(host: Host) -> None:
    reg = TypedRegistry()
    reg.write(FIREFOX, "Preferences", ("REG_MULTI_SZ", ("{not json",)))
    before = dict(reg.values)
    with pytest.raises(Exception, match="not valid JSON") as info:
        service.protect("strict", host=host, registry=reg)
    assert getattr(info.value, "exit_code", None) == 4
    assert reg.values == before


def test_reprotect_after_admin_edit_keeps_admin_prefs_in_the_registry(host: Host) -> None:
    reg = TypedRegistry()
    service.protect("strict", host=host, registry=reg)
    kind, lines = reg.read(FIREFOX, "Preferences") or ("", ())
    doc = json.loads("\n".join(lines))
    doc["browser.startup.page"] = {"Value": 3, "Status": "locked"}  # an admin adds a pref
    reg.write(FIREFOX, "Preferences", (kind, tuple(json.dumps(doc).splitlines())))
    service.protect("strict", host=host, registry=reg)  # hooks re-protect
    service.protect("balanced", host=host, registry=reg)
    service.unprotect(host=host, registry=reg)
    value = reg.read(FIREFOX, "Preferences")
    assert value is not None
    assert json.loads("\n".join(value[1])) == {
        "browser.startup.page": {"Value": 3, "Status": "locked"}
    }
