"""protect -> unprotect through the real engine on fake roots, and every bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vpnguard
from tests import fakeroot
from vpnguard.core import service
from vpnguard.core.errors import RefusedError, UsageError
from vpnguard.core.model import Protection

FF = "etc/firefox/policies/policies.json"
CR_DIR = "etc/chromium/policies/managed"


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file (bytes), link (target) and directory under root except vpnguard's state."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel.startswith("var/lib/vpnguard"):
            continue
        out[rel + "/"] = "dir"
        for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = os.path.join(dirpath, n)
            out[os.path.join(rel, n)] = (
                "link:" + os.readlink(p) if os.path.islink(p) else Path(p).read_bytes()
            )
    return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return fakeroot.debian(tmp_path / "root")


def protection(root: Path) -> dict[str, Protection]:
    return {b.browser.id: b.policy.protection for b in service.status(root=root).browsers}


def test_protect_unprotect_round_trip_on_empty_system(root: Path) -> None:
    before = snapshot(root)
    report = service.protect("strict", root=root)
    assert {c.action for c in report.changes} == {"create"}
    assert protection(root) == {"chromium": Protection.STRICT, "firefox-esr": Protection.STRICT}
    assert json.loads((root / CR_DIR / "vpnguard.json").read_text()) == {
        "WebRtcIPHandling": "disable_non_proxied_udp"
    }
    assert oct((root / CR_DIR / "vpnguard.json").stat().st_mode & 0o777) == "0o644"
    again = service.protect("strict", root=root)
    assert not again.changed  # idempotent
    service.unprotect(root=root)
    assert snapshot(root) == before  # files and the directories we created are gone


def test_admin_chromium_files_never_touched_and_conflict_named(root: Path) -> None:
    admin = root / CR_DIR / "corp.json"
    admin.parent.mkdir(parents=True)
    admin.write_bytes(b'{"WebRtcIPHandling": "default", "HomepageLocation": "https://corp"}')
    service.protect("strict", ["chromium"], root=root)
    assert admin.read_bytes().startswith(b'{"WebRtcIPHandling": "default"')
    st_ = service.status(["chromium"], root=root).browsers[0].policy
    assert st_.protection is Protection.CONFLICT
    assert "/etc/chromium/policies/managed/corp.json" in st_.detail
    assert st_.targets[0].conflicts[0].value == "default"
    service.unprotect(root=root)
    assert service.status(["chromium"], root=root).browsers[0].policy.protection is Protection.NONE


def test_admin_set_strict_is_reported_as_strict(root: Path) -> None:
    admin = root / CR_DIR / "corp.json"
    admin.parent.mkdir(parents=True)
    admin.write_text('{"WebRtcIPHandling": "disable_non_proxied_udp"}')
    st_ = service.status(["chromium"], root=root).browsers[0].policy
    assert st_.protection is Protection.STRICT and "corp.json" in st_.detail


def test_admin_edit_in_between_is_kept_on_unprotect(root: Path) -> None:
    ff = root / FF
    ff.parent.mkdir(parents=True)
    ff.write_text('{"policies": {"DisableTelemetry": true}}')
    service.protect("strict", root=root)
    doc = json.loads(ff.read_text())
    doc["policies"]["BlockAboutConfig"] = True  # an admin edits after us
    ff.write_text(json.dumps(doc))
    report = service.unprotect(root=root)
    change = next(c for c in report.changes if c.path.endswith("policies.json"))
    assert change.action == "modify" and "only vpnguard's keys" in change.detail
    assert json.loads(ff.read_text()) == {
        "policies": {"DisableTelemetry": True, "BlockAboutConfig": True}
    }


def test_switching_level_undoes_prefs_of_the_old_level(root: Path) -> None:
    service.protect("strict", root=root)
    service.protect("balanced", root=root)
    prefs = json.loads((root / FF).read_text())["policies"]["Preferences"]
    assert "media.peerconnection.ice.proxy_only" not in prefs
    assert prefs["media.peerconnection.ice.proxy_only_if_behind_proxy"]["Status"] == "locked"
    assert protection(root)["firefox-esr"] is Protection.BALANCED


def test_partial_when_one_pref_unlocked(root: Path) -> None:
    service.protect("strict", root=root)
    doc = json.loads((root / FF).read_text())
    doc["policies"]["Preferences"]["media.peerconnection.ice.no_host"]["Status"] = "default"
    (root / FF).write_text(json.dumps(doc))
    assert protection(root)["firefox-esr"] is Protection.PARTIAL


def test_unprotect_one_browser_keeps_a_shared_file(root: Path) -> None:
    fakeroot._exe(root / "usr/lib/firefox/firefox")
    (root / "usr/lib/firefox/application.ini").write_text("[App]\nVersion=140.0\n")
    service.protect("strict", root=root)
    report = service.unprotect(["firefox"], root=root)
    (change,) = report.changes
    assert change.action == "unchanged" and "firefox-esr" in change.detail
    assert protection(root)["firefox-esr"] is Protection.STRICT
    service.unprotect(["firefox-esr"], root=root)
    assert not (root / FF).exists()


json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
policies_docs = st.fixed_dictionaries(
    {},
    optional={
        "policies": st.dictionaries(
            st.sampled_from(["DisableTelemetry", "Preferences", "Homepage", "x"])
            | st.text(max_size=5),
            json_values,
            max_size=4,
        ).map(
            lambda d: (
                {**d, "Preferences": d["Preferences"]}
                if isinstance(d.get("Preferences"), dict)
                else {k: v for k, v in d.items() if k != "Preferences"}
            )
        ),
        "comment": json_values,
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    doc=policies_docs,
    indent=st.sampled_from([None, 2, 4]),
    prefs=st.dictionaries(
        st.sampled_from(
            [
                "media.peerconnection.ice.no_host",
                "media.peerconnection.ice.proxy_only",
                "browser.startup.page",
                "media.peerconnection.enabled",
            ]
        ),
        st.fixed_dictionaries(
            {"Value": json_scalars, "Status": st.sampled_from(["locked", "default", "user"])}
        ),
        max_size=3,
    ),
)
def test_any_existing_policies_json_survives_byte_exact(
    tmp_path_factory: pytest.TempPathFactory, doc: dict, indent: int | None, prefs: dict
) -> None:
    root = fakeroot.debian(tmp_path_factory.mktemp("r"))
    if prefs and isinstance(doc.get("policies"), dict):
        doc["policies"]["Preferences"] = prefs
    ff = root / FF
    ff.parent.mkdir(parents=True)
    raw = json.dumps(doc, indent=indent).encode()
    ff.write_bytes(raw)
    before = snapshot(root)
    service.protect("strict", root=root)
    written = json.loads(ff.read_text())
    for key, value in doc.get("policies", {}).items():  # foreign keys intact while protected
        if key != "Preferences":
            assert written["policies"][key] == value
    for key, value in doc.items():
        if key != "policies":
            assert written[key] == value
    service.protect("balanced", root=root)
    service.unprotect(root=root)
    assert snapshot(root) == before


# ---- bad input: a clear error, a distinct exit code, nothing changed -------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"policies": ', "not valid JSON"),
        (b"[1, 2]", "holds a JSON list, not an object"),
        (b'{"policies": []}', "policies is a list, expected an object"),
        (b'{"policies": {"Preferences": "x"}}', "Preferences is a str"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
    ],
)
def test_malformed_policies_json_refused_nothing_changed(
    root: Path, content: bytes, message: str
) -> None:
    ff = root / FF
    ff.parent.mkdir(parents=True)
    ff.write_bytes(content)
    before = snapshot(root)
    with pytest.raises(RefusedError, match=message) as info:
        service.protect("strict", root=root)
    assert info.value.exit_code == 4
    assert snapshot(root) == before  # not even the Chromium file was written
    assert not (root / "var/lib/vpnguard/journal.json").exists()


def test_policy_dir_symlink_outside_root_refused(root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "etc/chromium/policies").mkdir(parents=True)
    os.symlink(elsewhere, root / CR_DIR)
    before = snapshot(root)
    with pytest.raises(RefusedError, match=r"symbolic link .* outside the system root"):
        service.protect("strict", root=root)
    assert snapshot(root) == before and list(elsewhere.iterdir()) == []


def test_policy_dir_symlink_to_world_writable_dir_refused(root: Path) -> None:
    target = root / "tmp/evil"
    target.mkdir(parents=True)
    target.chmod(0o777)
    (root / "etc/chromium/policies").mkdir(parents=True)
    # Relative, so it stays inside the fake root (an absolute one would leave it).
    os.symlink("../../../tmp/evil", root / CR_DIR)
    with pytest.raises(RefusedError, match="writable by other users"):
        service.protect("strict", ["chromium"], root=root)
    assert list(target.iterdir()) == []


def test_policy_file_that_is_a_symlink_refused(root: Path) -> None:
    real = root / "etc/real.json"
    real.write_text("{}")
    (root / FF).parent.mkdir(parents=True)
    os.symlink("/etc/real.json", root / FF)
    with pytest.raises(RefusedError, match="symbolic link"):
        service.protect("strict", ["firefox-esr"], root=root)
    assert real.read_text() == "{}"


def test_read_only_policy_dir_refused(root: Path) -> None:
    d = root / CR_DIR
    d.mkdir(parents=True)
    d.chmod(0o555)
    try:
        with pytest.raises(RefusedError, match="read-only") as info:
            service.protect("strict", root=root)
        assert info.value.exit_code == 4
        assert list(d.iterdir()) == [] and not (root / FF).exists()
    finally:
        d.chmod(0o755)


def test_unknown_browser_and_uninstalled_browser(root: Path) -> None:
    with pytest.raises(UsageError):
        service.protect("strict", ["mosaic"], root=root)
    with pytest.raises(RefusedError, match="not installed here: brave"):
        service.protect("strict", ["brave"], root=root)
    with pytest.raises(UsageError, match="unknown level"):
        service.protect("paranoid", root=root)
    assert not (root / CR_DIR).exists()


def test_damaged_journal_refused(root: Path) -> None:
    service.protect("strict", root=root)
    journal = root / "var/lib/vpnguard/journal.json"
    journal.write_text("{not json")
    before = snapshot(root)
    with pytest.raises(RefusedError, match=r"journal .* is damaged"):
        service.unprotect(root=root)
    assert snapshot(root) == before


def run_as_nobody(
    args: list[str], *, writable_state: bool = False
) -> tuple[subprocess.CompletedProcess[str], Path, dict[str, bytes | str]]:
    """Run the real CLI as 'nobody' on a fresh root-owned Debian tree.

    'nobody' can read neither this venv nor pytest's temp dirs, so the package is
    copied to a world-readable temp dir and run with the system interpreter.
    Returns the process, the tree and a snapshot of it taken before the run.
    """
    base = Path(tempfile.mkdtemp(prefix="vpnguard-nobody-"))
    base.chmod(0o755)
    pkg = base / "src"
    shutil.copytree(Path(vpnguard.__file__).parent, pkg / "vpnguard")
    root = fakeroot.debian(base / "root")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(pkg)}
    if writable_state:  # so that only the policy dirs stand in the way
        state = base / "state"
        state.mkdir()
        state.chmod(0o777)
        env["VPNGUARD_STATE_DIR"] = str(state)
    before = snapshot(root)
    proc = subprocess.run(
        ["/usr/bin/python3", "-m", "vpnguard", *args, "--root", str(root), "--json"],
        user="nobody",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=base,
        env=env,
    )
    return proc, root, before


@pytest.mark.root
def test_not_writable_as_ordinary_user_needs_elevation() -> None:
    proc, root, before = run_as_nobody(["protect"], writable_state=True)
    try:
        assert proc.returncode == 3, proc.stderr
        assert json.loads(proc.stdout)["error"]["kind"] == "permission_denied"
        assert "run as root" in proc.stderr
        assert snapshot(root) == before
    finally:
        shutil.rmtree(root.parent)


def test_atomic_write_failure_rolls_back_earlier_files(root: Path) -> None:
    # The Firefox dir exists but the file path is a directory: the second write fails,
    # and the Chromium file written first must be taken back.
    (root / FF).mkdir(parents=True)
    before = snapshot(root)
    with pytest.raises(RefusedError, match="not a regular file"):
        service.protect("strict", root=root)
    assert snapshot(root) == before


@pytest.mark.root
def test_dry_run_as_ordinary_user_reads_only() -> None:
    # The desktop app previews as the user before asking for elevation: exact plan, exit 0.
    proc, root, before = run_as_nobody(["protect", "--dry-run"])
    try:
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["dry_run"] and {c["action"] for c in doc["changes"]} == {"create"}
        assert snapshot(root) == before
        assert not (root / "var/lib/vpnguard").exists()
    finally:
        shutil.rmtree(root.parent)
