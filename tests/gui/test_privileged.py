"""The privileged helper, run as a real process with hostile requests.

Every refusal must leave the tree exactly as it was (only the helper's own
audit log may grow) and answer with exit 4 and a JSON error.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vpnguard import schema
from vpnguard.privileged import MAX_REQUEST, TEST_ROOT_ENV

REPO = Path(__file__).resolve().parents[2]


def run_helper(
    root: Path | None,
    payload: bytes,
    *,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> tuple[int, dict[str, Any]]:
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}
    if root is not None:
        e[TEST_ROOT_ENV] = str(root)
    e.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "vpnguard.privileged", *(args or [])],
        input=payload,
        capture_output=True,
        env=e,
        timeout=60,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout.decode().strip().splitlines()[-1])


def snapshot(root: Path) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if rel in ("var/lib/vpnguard", "var/lib/vpnguard/helper.log"):
            continue  # the helper's own audit log (and its directory) may appear
        out[rel] = None if p.is_dir() or p.is_symlink() else p.read_bytes()
    return out


HOSTILE: list[tuple[str, bytes]] = [
    ("not json", b"protect please"),
    ("not an object", b'["protect"]'),
    ("not utf-8", b'{"version": 1, "op": "protect\xff"}'),
    ("unknown op", b'{"version": 1, "op": "exec"}'),
    ("op wrong type", b'{"version": 1, "op": ["protect"]}'),
    ("missing version", b'{"op": "protect"}'),
    ("version as string", b'{"version": "1", "op": "protect"}'),
    ("version as bool", b'{"version": true, "op": "protect"}'),
    ("unknown key path", b'{"version": 1, "op": "protect", "path": "/etc/shadow"}'),
    ("unknown key root", b'{"version": 1, "op": "protect", "root": "/tmp/x"}'),
    (
        "policy content",
        b'{"version": 1, "op": "protect", "policy": {"WebRtcIPHandling": "default"}}',
    ),
    ("unknown level", b'{"version": 1, "op": "protect", "level": "off"}'),
    ("level wrong type", b'{"version": 1, "op": "protect", "level": 1}'),
    ("level on unprotect", b'{"version": 1, "op": "unprotect", "level": "strict"}'),
    ("unknown browser", b'{"version": 1, "op": "protect", "browsers": ["netscape"]}'),
    ("traversal id", b'{"version": 1, "op": "protect", "browsers": ["../../etc/passwd"]}'),
    ("absolute path id", b'{"version": 1, "op": "protect", "browsers": ["/etc/chromium"]}'),
    ("id with nul", b'{"version": 1, "op": "protect", "browsers": ["chromium\\u0000"]}'),
    ("uppercase id", b'{"version": 1, "op": "protect", "browsers": ["CHROMIUM"]}'),
    ("browsers not a list", b'{"version": 1, "op": "protect", "browsers": "chromium"}'),
    ("browser not a string", b'{"version": 1, "op": "protect", "browsers": [{"id": "chromium"}]}'),
    ("empty browsers", b'{"version": 1, "op": "protect", "browsers": []}'),
    ("duplicate id", b'{"version": 1, "op": "protect", "browsers": ["chromium", "chromium"]}'),
    ("duplicate key", b'{"version": 1, "op": "unprotect", "op": "protect"}'),
    (
        "oversized",
        b'{"version": 1, "op": "protect", "level": "strict", "pad": "' + b"x" * MAX_REQUEST + b'"}',
    ),
    ("oversized whitespace", b'{"version": 1, "op": "protect"' + b" " * (MAX_REQUEST + 10) + b"}"),
    ("empty", b""),
]


@pytest.mark.parametrize(("name", "payload"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_requests_are_refused_and_change_nothing(
    tree: Path, name: str, payload: bytes
) -> None:
    before = snapshot(tree)
    code, doc = run_helper(tree, payload)
    assert code == 4, doc
    assert doc["ok"] is False and doc["error"]["kind"] == "refused"
    assert "nothing changed" in doc["error"]["message"]
    schema.validator("error").validate(doc)  # the one envelope, schema_version included
    assert snapshot(tree) == before
    log = (tree / "var/lib/vpnguard/helper.log").read_text()
    assert "outcome=refused" in log


def test_hostile_base64_argument_is_refused(tree: Path) -> None:
    before = snapshot(tree)
    for args in (["--request", "not base64!!"], ["--request", "A" * 20000], ["--path", "/etc"]):
        code, doc = run_helper(tree, b"", args=args)
        assert code in (2, 4), (args, doc)
        assert doc["ok"] is False
        schema.validator("error").validate(doc)
    assert snapshot(tree) == before


def test_valid_request_protects_then_unprotects_the_tree(tree: Path) -> None:
    before = snapshot(tree)
    code, doc = run_helper(tree, b'{"version": 1, "op": "protect", "level": "strict"}')
    assert code == 0, doc
    assert {c["path"] for c in doc["changes"]} == {
        "/etc/chromium/policies/managed/vpnguard.json",
        "/etc/firefox/policies/policies.json",
    }
    policy = json.loads((tree / "etc/chromium/policies/managed/vpnguard.json").read_text())
    assert policy == {"WebRtcIPHandling": "disable_non_proxied_udp"}
    log = (tree / "var/lib/vpnguard/helper.log").read_text()
    assert "outcome=ok op=protect level=strict" in log
    code, doc = run_helper(tree, b'{"version": 1, "op": "unprotect", "browsers": ["chromium"]}')
    assert code == 0, doc
    assert not (tree / "etc/chromium/policies/managed/vpnguard.json").exists()
    code, doc = run_helper(tree, b'{"version": 1, "op": "unprotect"}')
    assert code == 0
    after = snapshot(tree)
    assert {k: v for k, v in after.items() if "vpnguard" not in k} == {
        k: v for k, v in before.items() if "vpnguard" not in k
    }


def test_base64_request_is_the_same_protocol(tree: Path) -> None:
    req = base64.urlsafe_b64encode(b'{"version": 1, "op": "protect", "browsers": ["chromium"]}')
    code, doc = run_helper(tree, b"", args=["--request", req.decode()])
    assert code == 0, doc
    assert (tree / "etc/chromium/policies/managed/vpnguard.json").exists()
    assert not (tree / "etc/firefox/policies/policies.json").exists()


@pytest.mark.parametrize("marker", ["PKEXEC_UID", "SUDO_UID", "SUDO_USER", "DOAS_USER"])
def test_fake_root_is_never_honored_when_elevated(tree: Path, marker: str) -> None:
    """pkexec strips the caller's environment and sets PKEXEC_UID; if the variable
    still arrived together with an elevation marker, the helper refuses outright
    (it does not fall back to the live system either)."""
    before = snapshot(tree)
    code, doc = run_helper(
        tree, b'{"version": 1, "op": "unprotect", "browsers": ["brave"]}', env={marker: "1000"}
    )
    assert code == 4
    assert "never honored in an elevated helper" in doc["error"]["message"]
    assert snapshot(tree) == before
    assert not (tree / "var/lib/vpnguard/helper.log").exists()  # a refused root gets no log


def test_fake_root_only_on_linux() -> None:
    from vpnguard.core.errors import RefusedError
    from vpnguard.privileged import resolve_root

    assert resolve_root({TEST_ROOT_ENV: "/tmp/x"}, "linux") == "/tmp/x"
    assert resolve_root({}, "linux") is None
    for platform in ("win32", "darwin"):
        with pytest.raises(RefusedError):
            resolve_root({TEST_ROOT_ENV: "/tmp/x"}, platform)


def test_elevated_helper_drops_vpnguard_variables(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under pkexec, VPNGUARD_STATE_DIR (and every VPNGUARD_* variable) is dropped."""
    import io

    from vpnguard import privileged

    seen: dict[str, Any] = {}

    def fake_handle(request: Any, root: Any) -> dict[str, Any]:
        seen["root"] = root
        seen["env"] = dict(env)
        return {"changes": []}

    monkeypatch.setattr(privileged, "handle", fake_handle)
    monkeypatch.setattr(privileged, "_audit", lambda *a, **k: None)
    env = {"PKEXEC_UID": "1000", "VPNGUARD_STATE_DIR": "/tmp/evil", "LANG": "C"}
    out = io.StringIO()
    code = privileged.main(
        [], stdin=io.BytesIO(b'{"version": 1, "op": "unprotect"}'), stdout=out, environ=env
    )
    assert code == 0
    assert seen["root"] is None
    assert "VPNGUARD_STATE_DIR" not in seen["env"]


def _pkexec_works() -> bool:
    if shutil.which("pkexec") is None or os.geteuid() != 0:
        return False
    try:
        proc = subprocess.run(
            ["pkexec", "--disable-internal-agent", "/usr/bin/true"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


@pytest.mark.skipif(not _pkexec_works(), reason="pkexec cannot run here (no polkitd / not root)")
def test_pkexec_really_clears_the_callers_environment() -> None:
    proc = subprocess.run(
        ["pkexec", "--disable-internal-agent", "/usr/bin/env"],
        capture_output=True,
        env={**os.environ, TEST_ROOT_ENV: "/tmp/attacker-tree"},
        timeout=10,
        check=True,
    )
    out = proc.stdout.decode()
    assert TEST_ROOT_ENV not in out
    assert "PKEXEC_UID=" in out


DEEP_AND_ODD: list[tuple[str, bytes]] = [
    ("deep nesting", b"[" * 2000 + b"]" * 2000),
    (
        "deep browsers",
        b'{"version": 1, "op": "protect", "browsers": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    ),
    ("surrogate id", b'{"version": 1, "op": "protect", "browsers": ["\\ud800"]}'),
    ("surrogate key", b'{"\\udfff": 1, "version": 1, "op": "protect"}'),
    ("surrogate level", b'{"version": 1, "op": "protect", "level": "\\ud800"}'),
    ("nan version", b'{"version": NaN, "op": "protect"}'),
    ("infinite version", b'{"version": 1e400, "op": "protect"}'),
    ("garbage bytes", bytes(range(256))),
    ("nul", b"\x00"),
    (
        "nesting over the strict limit",
        b'{"version": 1, "op": "protect", "x": ' + b"[" * 150 + b"]" * 150 + b"}",
    ),
    ("minus infinity", b'{"version": 1, "op": "protect", "level": -Infinity}'),
    ("byte order mark", b'\xef\xbb\xbf{"version": 1, "op": "unprotect"}'),
]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"protect please", "request is not JSON;"),
        (b"[" * 2000 + b"]" * 2000, "request is nested too deeply"),
        (b'{"op": ' + b"[" * 101 + b"]" * 101 + b"}", "request is nested too deeply"),
        (b'{"version": 1, "op": "unprotect", "op": "protect"}', "duplicate key 'op'"),
        (b'{"version": NaN, "op": "protect"}', "request is not JSON (it holds NaN)"),
        (b'{"version": 1e400, "op": "protect"}', "request is not JSON (it holds a number out"),
        (b'{"version": 1, "op": "\\udfff"}', "request is not JSON (it holds a lone surrogate)"),
        (b'\xef\xbb\xbf{"version": 1, "op": "unprotect"}', "request is not JSON;"),
        (b'{"version": 1, "op": "protect\xff"}', "request is not UTF-8"),
    ],
)
def test_the_request_goes_through_the_strict_policy_parser(payload: bytes, message: str) -> None:
    """The helper parses with render.loads_strict (the rules every policy file obeys) and
    keeps its own words for what it refuses."""
    from vpnguard.core.errors import RefusedError
    from vpnguard.privileged import parse_request

    with pytest.raises(RefusedError) as info:
        parse_request(payload)
    assert info.value.message.startswith(f"request refused: {message}"), info.value.message
    assert info.value.message.endswith("; nothing changed")


@pytest.mark.parametrize(("name", "payload"), DEEP_AND_ODD, ids=[h[0] for h in DEEP_AND_ODD])
def test_odd_requests_get_one_json_answer_and_an_audit_line(
    tree: Path, name: str, payload: bytes
) -> None:
    before = snapshot(tree)
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}
    e[TEST_ROOT_ENV] = str(tree)
    proc = subprocess.run(
        [sys.executable, "-m", "vpnguard.privileged"],
        input=payload,
        capture_output=True,
        env=e,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 4, proc.stderr
    assert b"Traceback" not in proc.stderr
    (line,) = proc.stdout.decode().splitlines()  # exactly one document
    doc = json.loads(line)
    assert doc["ok"] is False and doc["error"]["kind"] == "refused"
    assert "nothing changed" in doc["error"]["message"]
    assert snapshot(tree) == before
    log = (tree / "var/lib/vpnguard/helper.log").read_text(encoding="utf-8")
    assert log.count("outcome=refused") == 1
