"""No temp file ever appears inside a Chromium managed policy directory.

Chromium reads every regular file in ``/etc/chromium/policies/managed``, dot-files
included (seen in the lab: a ``.vpnguard.json.vpnguard-XXXX.tmp`` there was applied
as policy), so a write of ``vpnguard.json`` makes its temp file in the parent,
``/etc/chromium/policies``, and renames it into place. These tests run the real CLI
(traced with strace, killed mid-write, with hostile entries planted at temp names)
and, as root, on mount points and on the real ``/etc``. The crash-injection test
(``test_crash_injection.py``) checks the managed dir at every kill point.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import fakeroot
from tests.core.test_datasafety import snapshot
from tests.core.test_engine import CR_DIR, FF
from tests.core.test_real_system import WATCHED, tree
from vpnguard.core.errors import RefusedError
from vpnguard.core.policy import fsio

CLI = [sys.executable, "-m", "vpnguard"]
PARENT = CR_DIR.rsplit("/", 1)[0]  # etc/chromium/policies
OURS = re.compile(r"\.managed\.vpnguard\.json\.vpnguard-[0-9a-f]{8}\.tmp")
STRACE = shutil.which("strace")


def vpnguard(*args: str, root: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra = ["--root", str(root)] if root is not None else []
    return subprocess.run(
        [*CLI, *args, *extra, "--json"], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return fakeroot.debian(tmp_path / "root")


def _need_strace() -> str:
    if STRACE is None:
        if os.environ.get("CI"):
            pytest.fail("strace is not installed; CI must install it (scripts/test.sh)")
        pytest.skip("strace is not installed")
    return STRACE


def test_a_traced_run_creates_nothing_inside_the_managed_dir(root: Path, tmp_path: Path) -> None:
    """Every file a protect / level switch / unprotect creates or renames, from strace."""
    strace = _need_strace()
    managed = str(root / CR_DIR) + "/"
    created: list[str] = []
    renamed: list[tuple[str, str]] = []
    for args in (["protect", "--level", "strict"], ["protect", "--level", "balanced"]):
        out = tmp_path / "trace"
        traced = [strace, "-f", "-qq", "-o", str(out), "-e", "trace=openat,rename,renameat2"]
        proc = subprocess.run(
            [*traced, *CLI, *args, "--root", str(root)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        text = out.read_text()
        created += re.findall(r'openat\(AT_FDCWD, "([^"]+)", [^)]*O_CREAT', text)
        renamed += re.findall(r'rename\("([^"]+)", "([^"]+)"\)', text)
    inside = [p for p in created if p.startswith(managed)]
    assert inside == [], f"files created inside the managed dir: {inside}"
    into = [(a, b) for a, b in renamed if b.startswith(managed)]
    assert len(into) == 2, renamed  # one Chromium write per run
    for src, dst in into:
        assert dst == managed + "vpnguard.json"
        assert Path(src).parent == root / PARENT and OURS.fullmatch(Path(src).name), src
        assert src in created  # made by this run, with O_CREAT
    # Firefox reads only the file named policies.json: its temp file stays beside it.
    ff = [(a, b) for a, b in renamed if b == str(root / FF)]
    assert ff and all(Path(a).parent == (root / FF).parent for a, _ in ff), renamed
    assert sorted(os.listdir(root / CR_DIR)) == ["vpnguard.json"]
    assert [n for n in os.listdir(root / PARENT) if n.endswith(".tmp")] == []
    assert vpnguard("unprotect", root=root).returncode == 0


def _plant_hostile(root: Path) -> tuple[Path, dict[str, object]]:
    """Entries at (or near) our temp names in the parent that are not ours to touch:
    a link to a file root may write, a FIFO, a directory, another user's file, and
    regular files whose names differ from the pattern by one detail."""
    parent = root / PARENT
    parent.mkdir(parents=True, exist_ok=True)
    victim = root / "etc/shadow-like"
    victim.write_bytes(b"root:secret\n")
    os.symlink("../../shadow-like", parent / ".managed.vpnguard.json.vpnguard-00000000.tmp")
    os.mkfifo(parent / ".managed.vpnguard.json.vpnguard-11111111.tmp")
    (parent / ".managed.vpnguard.json.vpnguard-22222222.tmp").mkdir()
    other = parent / ".managed.vpnguard.json.vpnguard-33333333.tmp"
    other.write_bytes(b"someone else's\n")
    os.chown(other, 65534, 65534)
    for near in ("vpnguard-4444444.tmp", "vpnguard-ABCDEF01.tmp", "vpnguard-55555555.tmp.bak"):
        (parent / f".managed.vpnguard.json.{near}").write_bytes(b"not ours\n")
    (root / CR_DIR).mkdir(exist_ok=True)
    # Not ours either, in the old location: a link and a directory with the old pattern.
    os.symlink("../../../shadow-like", root / CR_DIR / ".vpnguard.json.vpnguard-66666666.tmp")
    planted = {
        k: v for k, v in snapshot(root).items() if ".vpnguard-" in k or k.endswith("shadow-like")
    }
    return victim, planted


@pytest.mark.root  # chown to another user
def test_planted_entries_at_temp_names_are_neither_followed_nor_removed(root: Path) -> None:
    victim, planted = _plant_hostile(root)
    for args in (["protect", "--level", "strict"], ["protect", "--level", "balanced"]):
        proc = vpnguard(*args, root=root)
        assert proc.returncode == 0, proc.stderr
        now = snapshot(root)
        assert {k: now.get(k) for k in planted} == planted  # nothing followed, nothing removed
        assert victim.read_bytes() == b"root:secret\n"
        assert json.loads((root / CR_DIR / "vpnguard.json").read_bytes())["WebRtcIPHandling"]
    proc = vpnguard("unprotect", root=root)
    assert proc.returncode == 0, proc.stderr
    now = snapshot(root)
    assert {k: now.get(k) for k in planted} == planted
    assert not (root / CR_DIR / "vpnguard.json").exists()


def test_a_name_collision_never_opens_what_is_there(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The random name is forced to collide with a planted link and a FIFO: O_EXCL refuses
    both (no write through the link, no blocking open of the FIFO); another name is
    tried, and after the last try the write is refused with nothing changed."""
    parent, managed = root / PARENT, root / CR_DIR
    managed.mkdir(parents=True)
    target = managed / "vpnguard.json"
    target.write_bytes(b"{}")
    victim = root / "etc/victim"
    victim.write_bytes(b"precious")
    os.symlink(victim, parent / ".managed.vpnguard.json.vpnguard-00000000.tmp")
    os.mkfifo(parent / ".managed.vpnguard.json.vpnguard-01010101.tmp")
    tokens = iter([b"\0\0\0\0", b"\1\1\1\1", b"\2\2\2\2"])
    monkeypatch.setattr(os, "urandom", lambda n: next(tokens))
    fsio.atomic_write(target, b'{"a": 1}', temp_dir=parent)
    monkeypatch.undo()
    assert target.read_bytes() == b'{"a": 1}' and victim.read_bytes() == b"precious"
    assert sorted(os.listdir(parent)) == [
        ".managed.vpnguard.json.vpnguard-00000000.tmp",
        ".managed.vpnguard.json.vpnguard-01010101.tmp",
        "managed",
    ]
    monkeypatch.setattr(os, "urandom", lambda n: b"\0" * n)  # every try collides
    with pytest.raises(RefusedError, match="every name vpnguard picked at random was taken"):
        fsio.atomic_write(target, b'{"a": 2}', temp_dir=parent)
    monkeypatch.undo()
    assert target.read_bytes() == b'{"a": 1}' and victim.read_bytes() == b"precious"
    assert os.readlink(parent / ".managed.vpnguard.json.vpnguard-00000000.tmp") == str(victim)


def test_recovery_removes_only_our_leftovers_inside_and_outside(root: Path) -> None:
    """A killed run's temp file in the parent (this version) and in the managed dir (a
    journal written by an earlier version) are removed by the next run; look-alikes are
    not."""
    assert vpnguard("protect", root=root).returncode == 0
    parent = root / PARENT
    new = parent / ".managed.vpnguard.json.vpnguard-0a1b2c3d.tmp"
    old = root / CR_DIR / ".vpnguard.json.vpnguard-0a1b2c3d.tmp"
    for leftover in (new, old):
        leftover.write_bytes(b'{"WebRtcIPHandling": "default"}')
    for near in ("vpnguard-0a1b2c3.tmp", "vpnguard-0a1b2c3d.tmpx", "vpnguar-0a1b2c3d.tmp"):
        (parent / f".managed.vpnguard.json.{near}").write_bytes(b"look-alike\n")
    os.mkfifo(parent / ".managed.vpnguard.json.vpnguard-feedbeef.tmp")
    keep = {k: v for k, v in snapshot(root).items() if "look-alike" in repr(v) or "feedbeef" in k}
    assert len(keep) == 4
    proc = vpnguard("unprotect", root=root)
    assert proc.returncode == 0, proc.stderr
    assert not new.exists() and not old.exists()
    now = snapshot(root)
    assert {k: now.get(k) for k in keep} == keep
    assert not (root / CR_DIR).exists()  # emptied, and vpnguard created it


@pytest.mark.root  # chown to another user
@pytest.mark.parametrize("hostile", ["owner", "world-writable"])
def test_an_untrusted_parent_is_refused_like_the_policy_dir(root: Path, hostile: str) -> None:
    """The temp file's directory is held to the policy dir's rule: a user who owns (or may
    write) /etc/chromium/policies could swap the temp file before the rename."""
    (root / CR_DIR).mkdir(parents=True)
    parent = root / PARENT
    if hostile == "owner":
        os.chown(parent, 65534, 65534)
    else:
        parent.chmod(0o777)
    before = snapshot(root)
    proc = vpnguard("protect", "--browser", "chromium", root=root)
    assert proc.returncode == 4, proc.stderr
    message = json.loads(proc.stdout)["error"]["message"]
    assert "/etc/chromium/policies " in message
    assert ("owned by uid 65534" if hostile == "owner" else "writable by other") in message
    assert snapshot(root) == before


@pytest.mark.root  # chown
def test_mode_and_owner_of_the_file_are_kept(root: Path) -> None:
    """The temp file is made elsewhere, but the file renamed into place keeps the mode and
    owner the admin gave it."""
    assert vpnguard("protect", "--level", "strict", root=root).returncode == 0
    own = root / CR_DIR / "vpnguard.json"
    own.chmod(0o640)
    os.chown(own, 0, 65534)
    assert vpnguard("protect", "--level", "balanced", root=root).returncode == 0
    st = own.stat()
    assert (oct(st.st_mode & 0o7777), st.st_uid, st.st_gid) == (oct(0o640), 0, 65534)
    assert json.loads(own.read_bytes()) == {"WebRtcIPHandling": "default_public_interface_only"}


@pytest.mark.root
@pytest.mark.parametrize(
    "mount",
    ["mount -t tmpfs -o mode=0755 vgtmp {m}", "mount --bind {m} {m}"],
    ids=["tmpfs", "bind-mount-same-device"],
)
def test_managed_dir_that_is_a_mount_point_is_refused(root: Path, mount: str) -> None:
    """A temp file in the parent cannot be renamed into another mount, and one inside
    could be read as policy: refused with exit 4 before anything is written. The bind
    mount has the parent's st_dev: only /proc/self/mountinfo tells it apart."""
    managed = root / CR_DIR
    managed.mkdir(parents=True)
    (root / FF).parent.mkdir(parents=True)
    (root / FF).write_bytes(b'{"policies": {}}')
    script = textwrap.dedent(
        f"""
        set -e
        mount --make-rprivate /
        {mount.format(m=managed)}
        {" ".join(CLI)} protect --root {root} --json > {root}/out.json || echo $? > {root}/rc
        ls -A {managed} > {root}/inside
        """
    )
    before = snapshot(root)
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert (root / "rc").read_text().strip() == "4"
    error = json.loads((root / "out.json").read_text())["error"]
    assert "is a mount point (or on another filesystem" in error["message"]
    assert error["path"] == "/" + CR_DIR
    assert (root / "inside").read_text() == ""  # nothing written into the mount
    for name in ("rc", "out.json", "inside"):
        (root / name).unlink()
    assert snapshot(root) == before  # Firefox's file too: a run changes all or nothing
    journal = root / "var/lib/vpnguard/journal.json"
    assert not journal.exists() or json.loads(journal.read_text())["entries"] == []


@pytest.mark.root
def test_unprotect_still_removes_our_file_from_a_mount_point(root: Path) -> None:
    """Removing needs no temp file: a vpnguard.json written before the managed dir became a
    mount point (or by an earlier version) is still taken back."""
    assert vpnguard("protect", root=root).returncode == 0
    managed = root / CR_DIR
    script = textwrap.dedent(
        f"""
        set -e
        mount --make-rprivate /
        mount --bind {managed} {managed}
        {" ".join(CLI)} unprotect --root {root} --json > {root}/out.json
        """
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((root / "out.json").read_text())["ok"] is True
    (root / "out.json").unlink()
    assert os.listdir(managed) == []  # (a mount point cannot be removed: the dir stays)
    journal = json.loads((root / "var/lib/vpnguard/journal.json").read_text())
    assert journal["entries"] == []


@pytest.mark.root
def test_rename_across_filesystems_is_refused_and_leaves_no_temp(tmp_path: Path) -> None:
    """The last line of defence when a mount appears between the check and the write:
    EXDEV from rename() is a refusal, the temp file is removed, the target unchanged."""
    base = tmp_path / "x"
    (base / "managed").mkdir(parents=True)
    (base / "managed/vpnguard.json").write_bytes(b"old")
    code = textwrap.dedent(
        f"""
        import os, subprocess, sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parents[2])!r})
        from vpnguard.core.errors import RefusedError
        from vpnguard.core.policy import fsio
        base = Path({str(base)!r})
        subprocess.run(["mount", "--make-rprivate", "/"], check=True)
        subprocess.run(["mount", "-t", "tmpfs", "vgtmp", str(base / "tmp")], check=True)
        try:
            fsio.atomic_write(base / "managed/vpnguard.json", b"new", temp_dir=base / "tmp")
        except RefusedError as exc:
            print("refused:", exc, "| left:", os.listdir(base / "tmp"))
        """
    )
    (base / "tmp").mkdir()
    proc = subprocess.run(
        ["unshare", "-m", sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "refused:" in proc.stdout and "is on another filesystem" in proc.stdout, proc.stdout
    assert proc.stdout.rstrip().endswith("| left: []")
    assert (base / "managed/vpnguard.json").read_bytes() == b"old"


# ---- the real /etc, as root, through the real CLI ---------------------------------------------


@pytest.fixture
def real_etc(system_lock: None) -> Iterator[None]:
    if shutil.which("chromium") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium (scripts/test.sh)")
        pytest.skip("chromium is not installed")
    journal = Path("/var/lib/vpnguard/journal.json")
    if journal.exists() and json.loads(journal.read_text())["entries"]:
        subprocess.run([*CLI, "unprotect"], check=True, capture_output=True, timeout=60)
    before = tree(WATCHED)
    yield
    if tree(WATCHED) != before:  # never leave this machine changed, even when a test fails
        subprocess.run([*CLI, "unprotect"], capture_output=True, timeout=60)
    assert tree(WATCHED) == before


def _killed_at_chromium_rename(strace: str, *args: str) -> None:
    """Run the real CLI on /etc and kill it at its second rename(): the journal's
    write-ahead record is the first, the Chromium file the second (asserted below)."""
    kill = ["-e", "trace=rename", "-e", "inject=rename:signal=KILL:when=2"]
    subprocess.run(
        [strace, "-f", "-qq", "-o", "/dev/null", *kill, *CLI, *args],
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.mark.root
@pytest.mark.usefixtures("real_etc")
def test_real_etc_killed_mid_write_leaves_the_managed_dir_clean() -> None:
    strace = _need_strace()
    managed, parent = Path("/etc/chromium/policies/managed"), Path("/etc/chromium/policies")
    # A first protect killed with its temp file written, before the rename.
    _killed_at_chromium_rename(strace, "protect", "--level", "strict")
    assert os.listdir(managed) == []  # Chromium finds no policy file at all
    (tmp,) = [n for n in os.listdir(parent) if n != "managed"]
    assert OURS.fullmatch(tmp), tmp
    assert json.loads((parent / tmp).read_bytes()) == {
        "WebRtcIPHandling": "disable_non_proxied_udp"
    }
    # The next run removes it and does the work.
    proc = vpnguard("protect", "--level", "strict")
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(parent)) == ["managed"]
    assert os.listdir(managed) == ["vpnguard.json"]
    # A level switch killed the same way: the managed dir holds the old, whole file.
    _killed_at_chromium_rename(strace, "protect", "--level", "balanced")
    assert os.listdir(managed) == ["vpnguard.json"]
    assert json.loads((managed / "vpnguard.json").read_bytes()) == {
        "WebRtcIPHandling": "disable_non_proxied_udp"
    }
    assert len([n for n in os.listdir(parent) if OURS.fullmatch(n)]) == 1
    proc = vpnguard("unprotect")  # the fixture checks /etc is exactly as it was
    assert proc.returncode == 0, proc.stderr
    assert not parent.exists() or not [n for n in os.listdir(parent) if OURS.fullmatch(n)]


@pytest.mark.root
@pytest.mark.usefixtures("real_etc")
def test_real_chromium_reads_a_dot_file_in_the_managed_dir_but_nothing_in_its_parent(
    tmp_path: Path,
) -> None:
    """Why the temp file moved: the premise, checked against the real browser. A policy
    in a dot-file named like the old temp file blocks a page; the same policy in a file
    named like the new temp file, in the parent, does not."""
    chromium = shutil.which("chromium")
    assert chromium is not None
    parent = Path("/etc/chromium/policies")
    made = [d for d in (parent.parent, parent, parent / "managed") if not d.exists()]
    inside = parent / "managed/.vpnguard.json.vpnguard-0a1b2c3d.tmp"
    outside = parent / ".managed.vpnguard.json.vpnguard-0a1b2c3d.tmp"
    pages = {}
    runs: dict[str, subprocess.Popen[str]] = {}
    for name in ("inside", "outside"):
        pages[name] = tmp_path / f"{name}.html"
        pages[name].write_text(f"<p>{name.upper()}-LOADED</p>")
    try:
        for d in made:
            d.mkdir(mode=0o755)
        inside.write_text(json.dumps({"URLBlocklist": [pages["inside"].as_uri()]}))
        outside.write_text(json.dumps({"URLBlocklist": [pages["outside"].as_uri()]}))
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"]
        runs = {
            name: subprocess.Popen(
                [chromium, *flags, f"--user-data-dir={tmp_path / name}", page.as_uri()],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # its helpers (crashpad) share the group: killed below
            )
            for name, page in pages.items()
        }
        out = {name: proc.communicate(timeout=60)[0] for name, proc in runs.items()}
    finally:
        for proc in runs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        inside.unlink(missing_ok=True)
        outside.unlink(missing_ok=True)
        for d in reversed(made):
            d.rmdir()
    assert "ERR_BLOCKED_BY_ADMINISTRATOR" in out["inside"], out["inside"][-800:]
    assert "OUTSIDE-LOADED" in out["outside"], out["outside"][-800:]
