"""`vpnguard check` in-process: arguments, keyring handling, JSON shape, real Chromium."""

from __future__ import annotations

import importlib.resources
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import keyring
import keyring.backend
import pytest
from keyring.backends import fail

from tests.keyrings import MemoryKeyring
from vpnguard.cli import Env, main
from vpnguard.core.host import Host
from vpnguard.core.leakcheck import TurnServer, run_check
from vpnguard.core.leakcheck.credentials import load_turn_secret

from .conftest import loopback_network
from .test_runner import reporter

SCHEMA = json.loads(
    importlib.resources.files("vpnguard").joinpath("data", "check-report.schema.json").read_text()
)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    old = keyring.get_keyring()
    kr = MemoryKeyring()
    keyring.set_keyring(kr)
    try:
        yield kr
    finally:
        keyring.set_keyring(old)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    old = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(old)


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--stun", "http://example.org"],
        ["check", "--stun", "turn:t.example:3478"],
        ["check", "--turn", "stun:s.example"],
        ["check", "--turn", "turn:t.example"],  # no --turn-user
        ["check", "--timeout", "0"],
        ["check", "--timeout", "nan"],
        ["check", "--browser", "netscape"],
    ],
)
def test_usage_errors(argv: list[str]) -> None:
    code, _, err = cli(*argv)
    assert code == 2, err


def test_help_lists_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("--help")[0] == 0
    assert "prove it" in capsys.readouterr().out  # argparse prints help to sys.stdout
    assert cli("check", "--help")[0] == 0
    out = capsys.readouterr().out
    assert "--interactive" in out and "--stun" in out


def test_no_keyring_is_refused_clearly(no_keyring: None) -> None:
    code, out, _ = cli(
        "check", "--turn", "turn:t.example:3478?transport=tcp", "--turn-user", "u", "--json"
    )
    assert code == 4
    doc = json.loads(out)
    assert doc["error"]["kind"] == "refused" and "keyring" in doc["error"]["message"]


def test_turn_password_stored_in_keyring_and_kept_out_of_the_report(
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    coturn: str,
) -> None:
    url = "turn:127.0.0.1:3478?transport=tcp"
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    # Stores, then runs the check; the check itself may find no browser in a bare CI.
    cli("check", "--turn", url, "--turn-user", "alice", "--store-turn-password", "--timeout", "1")
    assert load_turn_secret(url, "alice") == "s3cret"
    assert "s3cret" in memory_keyring.store.values()
    b = reporter(tmp_path, "fake", [])
    report = run_check(
        Host.current(),
        [b],
        loopback_network(),
        stun=[coturn],
        turn=[TurnServer(url, "alice", "s3cret")],
        timeout=10,
        protections={},
    )
    assert "s3cret" not in json.dumps(report.to_json())
    assert url in report.to_json()["ice_servers"]


def test_missing_turn_entry_names_the_fix(memory_keyring: MemoryKeyring) -> None:
    code, _, err = cli("check", "--turn", "turn:t.example", "--turn-user", "bob")
    assert code == 4 and "--store-turn-password" in err


def test_report_matches_schema(tmp_path: Path, coturn: str) -> None:
    bs = [
        reporter(tmp_path, "leaky", ["candidate:1 1 udp 1 10.1.2.3 5 typ host"]),
        reporter(tmp_path, "off", [], webrtc=False),
    ]
    doc = run_check(
        Host.current(), bs, loopback_network(), stun=[coturn], timeout=10, protections={}
    ).to_json()
    jsonschema.validate(doc, SCHEMA)
    assert doc["browsers"][0]["leaks"][0]["address"] == "10.1.2.3"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed")
def test_real_chromium_on_loopback(coturn: str) -> None:
    code, out, _ = cli("check", "--browser", "chromium", "--stun", coturn, "--json")
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    b = doc["browsers"][0]
    assert b["id"] == "chromium" and b["webrtc"] is True and b["verdict"] != "error", b["reason"]
    assert code == doc["exit_code"]
    code, out, _ = cli("check", "--browser", "chromium", "--stun", coturn)
    assert out.splitlines()[0].split() == ["Browser", "Protection", "Verdict", "Calls"]
    assert "Chromium" in out and "STUN 127.0.0.1" in out
    assert "  any page: " in out and "  a site allowed camera and microphone: " in out
    assert "  call 'default' (" in out


def test_turn_password_stdin_needs_no_keyring(
    no_keyring: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Headless: the password comes from stdin once, and reaches no keyring and no report."""
    monkeypatch.setattr("sys.stdin", io.StringIO("pw-from-stdin\nsecond line is never read\n"))
    seen: dict[str, object] = {}

    def fake_check(*args: object, **kw: object) -> object:
        seen.update(kw)
        raise SystemExit(0)

    monkeypatch.setattr("vpnguard.core.service.check", fake_check)
    with pytest.raises(SystemExit):
        cli(
            "check",
            "--turn",
            "turn:127.0.0.1:3478?transport=udp",
            "--turn",
            "turn:127.0.0.1:3478?transport=tcp",
            "--turn-user",
            "u",
            "--turn-password-stdin",
        )
    turn = seen["turn"]
    assert [t.credential for t in turn] == ["pw-from-stdin"] * 2  # type: ignore[attr-defined]
    assert "second line" in __import__("sys").stdin.read()


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--turn-password-stdin"],  # no --turn
        [
            "check",
            "--turn",
            "turn:t.example",
            "--turn-user",
            "u",
            "--turn-password-stdin",
            "--store-turn-password",
        ],
    ],
)
def test_turn_password_stdin_usage(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("pw\n"))
    assert cli(*argv)[0] == 2


def test_turn_password_stdin_empty_is_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = cli(
        "check", "--turn", "turn:t.example", "--turn-user", "u", "--turn-password-stdin"
    )
    assert code == 2 and "no TURN password on stdin" in err
