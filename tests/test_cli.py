"""The CLI contract, run in-process (httpie style) and as a real process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests import fakeroot
from vpnguard.cli import Env, main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), Env(stdout=out, stderr=err))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return fakeroot.debian(tmp_path / "root")


def test_status_json_document(root: Path) -> None:
    code, out, _ = run("status", "--json", "--root", str(root))
    assert code == 0
    doc = json.loads(out)
    assert doc["schema_version"] == 1
    ids = [b["id"] for b in doc["browsers"]]
    assert ids == ["chromium", "firefox-esr"]
    b = doc["browsers"][0]
    for key in (
        "id",
        "name",
        "family",
        "version",
        "path",
        "running",
        "targets",
        "protection",
        "restart_needed",
    ):
        assert key in b
    assert b["protection"] == "none"
    assert doc["network"] is None  # a fake root has no network of its own


def test_protect_dry_run_changes_nothing_and_says_what_would(root: Path) -> None:
    code, out, _ = run("protect", "--dry-run", "--root", str(root))
    assert code == 0
    assert "Would create" in out and "/etc/chromium/policies/managed/vpnguard.json" in out
    assert "Managed by your organization" in out
    assert not (root / "etc/chromium/policies").exists()


def test_protect_then_unprotect_json(root: Path) -> None:
    code, out, _ = run("protect", "--level", "balanced", "--json", "--root", str(root))
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["action"] == "protect" and doc["level"] == "balanced"
    assert {c["action"] for c in doc["changes"]} == {"create"}
    assert any("split tunnel" in n for n in doc["notices"])
    assert {b["protection"] for b in doc["status"]["browsers"]} == {"balanced"}
    code, out, _ = run("unprotect", "--json", "--root", str(root))
    assert code == 0 and {c["action"] for c in json.loads(out)["changes"]} == {"remove"}


@pytest.mark.parametrize(
    "argv, code, kind",
    [
        (["protect", "--browser", "nope"], 2, "usage"),
        (["protect", "--level", "max"], 2, "usage"),
        (["status", "--root", "/does/not/exist"], 2, "usage"),
        (["frobnicate"], 2, "usage"),
    ],
)
def test_usage_errors(argv: list[str], code: int, kind: str, root: Path) -> None:
    got, out, err = run(*argv, "--json")
    assert got == code
    assert json.loads(out)["error"]["kind"] == kind
    assert err.startswith("vpnguard: error:")


def test_refused_input_exit_4_json(root: Path) -> None:
    ff = root / "etc/firefox/policies/policies.json"
    ff.parent.mkdir(parents=True)
    ff.write_text("nope")
    code, out, err = run("protect", "--json", "--root", str(root))
    assert code == 4
    error = json.loads(out)["error"]
    assert error["kind"] == "refused" and error["path"] == "/etc/firefox/policies/policies.json"
    assert "left unchanged" in err
    assert ff.read_text() == "nope"


def test_no_command_prints_help_and_exits_2() -> None:
    code, out, _ = run()
    assert code == 2 and "protect" in out and "exit codes" in out


def test_cli_never_imports_qt(root: Path) -> None:
    code = (
        "import sys, io; from vpnguard.cli import main, Env;"
        f"main(['status', '--root', {str(root)!r}], Env(io.StringIO(), io.StringIO()));"
        f"main(['protect', '--dry-run', '--root', {str(root)!r}],"
        " Env(io.StringIO(), io.StringIO()));"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_module_entry_point(root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vpnguard", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.startswith("vpnguard ")
