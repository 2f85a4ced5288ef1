"""Nothing lost, ever: re-protect after admin edits, hostile files, crafted journals.

Each case asserts the exit code, the message and a byte snapshot of the whole
tree (every file outside vpnguard's own state is left exactly as it was).
"""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests import fakeroot
from tests.core.test_engine import CR_DIR, FF
from vpnguard import cli
from vpnguard.core import service
from vpnguard.core.host import Host

OWN = CR_DIR + "/vpnguard.json"
JOURNAL = "var/lib/vpnguard/journal.json"
CLI = [sys.executable, "-m", "vpnguard"]


def snapshot(root: Path) -> dict[str, object]:
    """Every entry under root except vpnguard's state: bytes, link target, or its type.

    Never opens a FIFO or a device (that would block the test itself).
    """
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel.startswith("var/lib/vpnguard"):
            continue
        st = os.lstat(dirpath)
        out[rel + "/"] = ("dir", st.st_mode, st.st_uid)
        for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[os.path.join(rel, n)] = "link:" + os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                out[os.path.join(rel, n)] = (Path(p).read_bytes(), st.st_mode, st.st_uid)
            else:
                out[os.path.join(rel, n)] = ("special", st.st_mode)
    return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return fakeroot.debian(tmp_path / "root")


def run_cli(*args: str) -> tuple[int, dict, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([*args, "--json"], cli.Env(stdout=out, stderr=err))
    return code, json.loads(out.getvalue()), err.getvalue()


# ---- 1. re-protect and level switches keep a correct undo ------------------------------------


def test_reprotect_after_admin_edits_keeps_the_admins_keys(root: Path) -> None:
    ff = root / FF
    ff.parent.mkdir(parents=True)
    ff.write_bytes(b'{"policies": {"DisableTelemetry": true}}\n')
    service.protect("strict", root=root)
    doc = json.loads(ff.read_bytes())
    doc["policies"]["BlockAboutConfig"] = True
    doc["policies"]["Preferences"]["browser.startup.page"] = {"Value": 1, "Status": "locked"}
    ff.write_text(json.dumps(doc))
    own = json.loads((root / OWN).read_bytes())
    own["HomepageLocation"] = "https://corp.example"
    (root / OWN).write_text(json.dumps(own))
    service.protect("strict", root=root)  # hooks and watch re-protect all the time
    service.protect("balanced", root=root)
    service.unprotect(root=root)
    assert json.loads(ff.read_bytes()) == {
        "policies": {
            "DisableTelemetry": True,
            "BlockAboutConfig": True,
            "Preferences": {"browser.startup.page": {"Value": 1, "Status": "locked"}},
        }
    }
    assert json.loads((root / OWN).read_bytes()) == {"HomepageLocation": "https://corp.example"}


def test_untouched_file_is_restored_byte_exact_after_level_switches(root: Path) -> None:
    ff = root / FF
    ff.parent.mkdir(parents=True)
    original = b'{ "policies" : {"DisableTelemetry":true} }'
    ff.write_bytes(original)
    before = snapshot(root)
    for level in ("strict", "balanced", "strict", "strict", "balanced"):
        service.protect(level, root=root)
    service.unprotect(root=root)
    assert ff.read_bytes() == original and snapshot(root) == before


def test_v1_journal_is_migrated_and_still_undoes(root: Path) -> None:
    ff = root / FF
    ff.parent.mkdir(parents=True)
    original = b'{"policies": {"DisableTelemetry": true}}'
    ff.write_bytes(original)
    service.protect("strict", root=root)
    journal = root / JOURNAL
    doc = json.loads(journal.read_bytes())
    # The format vpnguard 0.x wrote: schema_version 1, no concrete values, no intents.
    v1 = {"schema_version": 1, "entries": []}
    for e in doc["entries"]:
        e = {k: v for k, v in e.items() if k not in ("pending",)}
        e["applied"] = [{k: v for k, v in a.items() if k != "value"} for a in e["applied"]]
        v1["entries"].append(e)
    journal.write_text(json.dumps(v1))
    service.protect("balanced", root=root)
    assert json.loads(journal.read_bytes())["version"] == 2
    service.unprotect(root=root)
    assert ff.read_bytes() == original


# ---- 2. numbers and strings that would not round-trip ----------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"policies": {"X": 1e400}}', "out of range"),
        (b'{"policies": {"X": NaN}}', "NaN"),
        (b'{"policies": {"X": Infinity}}', "Infinity"),
        (b'{"policies": {"X": -Infinity}}', "-Infinity"),
        (b'{"policies": {"X": "\\ud800"}}', "lone surrogate"),
        (b'{"policies": {"X": ' + b"[" * 600 + b"]" * 600 + b"}}", "nested"),
        (b'{"policies": {"X": 1, "X": 2}}', "twice"),
        (b'{"policies": {"X": 1' + b"0" * 5000 + b"}}", "digits"),
    ],
    ids=["1e400", "nan", "inf", "-inf", "surrogate", "deep", "dupkey", "hugeint"],
)
def test_json_that_would_not_round_trip_is_refused(
    root: Path, content: bytes, message: str
) -> None:
    ff = root / FF
    ff.parent.mkdir(parents=True)
    ff.write_bytes(content)
    before = snapshot(root)
    code, doc, err = run_cli("protect", "--root", str(root))
    assert code == 4, (doc, err)
    assert message in doc["error"]["message"] and "left unchanged" in doc["error"]["message"]
    assert snapshot(root) == before


def test_status_never_calls_a_non_finite_file_strict(root: Path) -> None:
    d = root / CR_DIR
    d.mkdir(parents=True)
    (d / "corp.json").write_bytes(b'{"WebRtcIPHandling": "disable_non_proxied_udp", "X": NaN}')
    code, doc, _ = run_cli("status", "--root", str(root))
    assert code == 0
    chromium = next(b for b in doc["browsers"] if b["id"] == "chromium")
    assert chromium["protection"] == "none" and "NaN" in chromium["protection_detail"]


# ---- 3. FIFOs and other non-files never block ------------------------------------------------


def _cli_proc(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args, "--json"], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_fifo_as_policies_json_does_not_hang_status_or_protect(root: Path) -> None:
    (root / FF).parent.mkdir(parents=True)
    os.mkfifo(root / FF)
    before = snapshot(root)
    proc = _cli_proc("status", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    esr = next(b for b in json.loads(proc.stdout)["browsers"] if b["id"] == "firefox-esr")
    assert "not a regular file" in esr["protection_detail"]
    proc = _cli_proc("protect", "--root", str(root))
    assert proc.returncode == 4, proc.stderr
    assert "not a regular file" in json.loads(proc.stdout)["error"]["message"]
    assert snapshot(root) == before


def test_fifo_among_managed_files_does_not_hang_the_read_back(root: Path) -> None:
    (root / CR_DIR).mkdir(parents=True)
    os.mkfifo(root / CR_DIR / "corp.json")
    proc = _cli_proc("protect", "--root", str(root), "--browser", "chromium")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    (chromium,) = doc["status"]["browsers"]
    assert chromium["protection"] == "strict"
    assert "corp.json: not a regular file" in chromium["protection_detail"]
    proc = _cli_proc("unprotect", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(root / CR_DIR)) == ["corp.json"]


# ---- 6. the journal is not trusted with paths -------------------------------------------------


def test_crafted_journal_cannot_make_unprotect_write_elsewhere(root: Path) -> None:
    service.protect("strict", root=root)
    (root / "etc/cron.d").mkdir(parents=True)
    journal = root / JOURNAL
    doc = json.loads(journal.read_bytes())
    evil = dict(doc["entries"][0])
    evil.update(
        location="/etc/cron.d/vpnguard-evil",
        kind="firefox_policies_json",
        browsers=["firefox-esr"],
        original_exists=True,
        original_b64=base64.b64encode(b"* * * * * root sh -c 'id > /tmp/pwned'\n").decode(),
        written_sha256=None,
        applied=[],
        created=[],
        created_dirs=[],
    )
    doc["entries"].append(evil)
    journal.write_text(json.dumps(doc))
    before = snapshot(root)
    code, out, _ = run_cli("unprotect", "--root", str(root))
    assert code == 4, out
    assert "/etc/cron.d/vpnguard-evil" in out["error"]["message"]
    assert "not a policy location" in out["error"]["message"]
    assert snapshot(root) == before


def test_crafted_journal_with_wrong_types_is_refused(root: Path) -> None:
    service.protect("strict", root=root)
    journal = root / JOURNAL
    doc = json.loads(journal.read_bytes())
    doc["entries"][0]["applied"] = [{"path": 5, "had_prior": "yes"}]
    doc["entries"][0]["created_dirs"] = "/etc"
    journal.write_text(json.dumps(doc))
    before = snapshot(root)
    code, out, _ = run_cli("unprotect", "--root", str(root))
    assert code == 4, out
    assert "damaged" in out["error"]["message"]
    assert snapshot(root) == before


def test_state_dir_override_ignored_when_elevated(tmp_path: Path) -> None:
    host = Host.current(fakeroot.debian(tmp_path / "root"))
    host = type(host)(**{**host.__dict__, "environ": {"VPNGUARD_STATE_DIR": str(tmp_path)}})
    if os.geteuid() == 0:
        assert host.state_dir() == host.p("/var/lib/vpnguard")
    else:
        assert host.state_dir() == tmp_path


@pytest.mark.root
def test_planted_symlink_in_user_owned_install_dir_is_refused(root: Path) -> None:
    """A user who owns /opt/firefox points distribution/ at a root-owned dir elsewhere."""
    opt = root / "opt/firefox"
    fakeroot._exe(opt / "firefox", b"\x7fELF fake firefox")
    (opt / "application.ini").write_text("[App]\nVersion=140.0\n")
    target = root / "etc/other-app"
    target.mkdir(parents=True)
    (target / "policies.json").write_bytes(b'{"policies": {"Keep": 1}}')
    os.symlink("../../etc/other-app", opt / "distribution")  # relative: stays in the fake root
    for p in (opt, opt / "firefox", opt / "application.ini"):
        os.lchown(p, 65534, 65534)
    os.lchown(opt / "distribution", 65534, 65534)
    before = snapshot(root)
    code, out, _ = run_cli("protect", "--root", str(root), "--browser", "firefox")
    assert code == 4, out
    assert "/opt/firefox" in out["error"]["message"]
    assert "owned by" in out["error"]["message"]
    assert snapshot(root) == before


# ---- 3b. a hook has a hard overall deadline --------------------------------------------------


@pytest.mark.root
@pytest.mark.parametrize("fail_closed, code", [(False, 0), (True, 5)])
def test_hook_that_hangs_exits_at_its_deadline(
    root: Path, tmp_path: Path, fail_closed: bool, code: int
) -> None:
    """Another process holds the hooks' lock forever: the hook must still end, on time."""
    import fcntl
    import time

    state = root / "var/lib/vpnguard"
    state.mkdir(parents=True)
    with open(state / "auto.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        start = time.monotonic()
        proc = subprocess.run(
            [*CLI, "hook", "run", "wireguard", "--event", "up", "--interface", "wg-test"]
            + ["--root", str(root)]
            + (["--fail-closed"] if fail_closed else []),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "VPNGUARD_HOOK_DEADLINE_S": "2", "VPNGUARD_LOG_DIR": str(tmp_path)},
        )
        elapsed = time.monotonic() - start
    assert proc.returncode == code, proc.stderr
    assert "deadline of 2.0 s passed" in proc.stderr
    assert "deadline of 2.0 s passed" in (tmp_path / "hooks.log").read_text()
    assert elapsed < 30
