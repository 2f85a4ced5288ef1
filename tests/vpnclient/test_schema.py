"""Real CLI output validates against the JSON Schemas shipped in the package."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.vpnclient.lab import PYTHON, env_with_pythonpath
from vpnguard import schema


def cli(*argv: str) -> tuple[int, dict[str, object]]:
    r = subprocess.run(
        [PYTHON, "-m", "vpnguard", *argv, "--json"],
        env=env_with_pythonpath(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return r.returncode, json.loads(r.stdout)


@pytest.mark.parametrize("name", schema.NAMES)
def test_schemas_are_valid_draft_2020_12(name: str) -> None:
    import jsonschema

    doc = schema.load(name)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(doc)


def test_cli_documents_validate(froot: Path, tmp_path: Path) -> None:
    code, doc = cli("status", "--root", str(froot))
    assert code == 0
    schema.validator("status").validate(doc)
    for argv in (
        ("protect", "--level", "balanced"),
        ("protect",),
        ("unprotect",),
        ("protect", "--dry-run"),
    ):
        code, doc = cli(*argv, "--root", str(froot))
        assert code == 0, doc
        schema.validator("change").validate(doc)
    code, doc = cli("protect", "--browser", "no-such-browser", "--root", str(froot))
    assert code == 2
    schema.validator("error").validate(doc)
    conf = tmp_path / "wg9.conf"
    conf.write_text("[Interface]\nPrivateKey = x\n")
    code, doc = cli("hook", "install", "wireguard", "--config", str(conf), "--root", str(froot))
    assert code == 0
    schema.validator("hook").validate(doc)
    conf.write_text("[Interface]\nPrivateKey = x\n[Interface]\n")
    code, doc = cli("hook", "uninstall", "wireguard", "--config", str(tmp_path / "missing.conf"))
    assert code == 4
    schema.validator("error").validate(doc)
    code, doc = cli("watch", "--status", "--root", str(froot))
    assert code == 0
    schema.validator("auto-mode").validate(doc)


@pytest.mark.root
def test_live_status_with_network_validates() -> None:
    code, doc = cli("status")
    assert code == 0, doc  # a crash in detection fails here: it is never skipped
    schema.validator("status").validate(doc)
    assert doc["network"] is not None
