"""Issue 11, Linux side and export safety: nothing stray in Chromium managed dirs,
``status`` reads a managed dir as Chromium does, export never writes through links."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests import fakeroot
from vpnguard.cli import Env, main
from vpnguard.core import service
from vpnguard.core.export import build_bundle
from vpnguard.core.model import Protection

CR = "etc/chromium/policies/managed"
OLD = b'{"WebRtcIPHandling": "default"}\n'


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), Env(stdout=out, stderr=err))
    return rc, out.getvalue(), err.getvalue()


def write_bundle(tmp: Path, *exc: str) -> Path:
    b = build_bundle(["linux"], "strict", ["chromium", "firefox-esr"], list(exc))
    for name, data in b.files.items():
        p = tmp / "b" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        p.chmod(b.mode_of(name))
    return tmp / "b" / "linux"


def run(script: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), "--root", str(root)], capture_output=True, text=True, timeout=30
    )


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_install_leaves_nothing_but_our_file_in_the_managed_dir(tmp_path: Path) -> None:
    root = fakeroot.debian(tmp_path / "root")
    (root / CR).mkdir(parents=True, exist_ok=True)
    (root / CR / "vpnguard.json").write_bytes(OLD)  # e.g. an earlier hand-made file
    (root / CR / "admin.json").write_bytes(b'{"HomepageLocation": "x"}')
    before = tree(root)
    linux = write_bundle(tmp_path)
    r = run(linux / "install.sh", root)
    assert r.returncode == 0, r.stderr
    # Chromium reads every regular file here: only the admin's and ours may be there.
    assert sorted(os.listdir(root / CR)) == ["admin.json", "vpnguard.json"]
    backup = root / "var/lib/vpnguard/bundle-backup" / CR / "vpnguard.json"
    assert backup.read_bytes() == OLD
    # And status, reading the dir as Chromium does, sees strict, no conflict.
    st = service.status(["chromium"], root=root).browsers[0].policy
    assert st.protection is Protection.STRICT, st.detail
    r = run(linux / "uninstall.sh", root)
    assert r.returncode == 0, r.stderr
    assert tree(root) == before
    assert not (root / "var/lib/vpnguard").exists()


def test_install_moves_an_old_backup_out_of_the_managed_dir(tmp_path: Path) -> None:
    root = fakeroot.debian(tmp_path / "root")
    (root / CR).mkdir(parents=True, exist_ok=True)
    (root / CR / "vpnguard.json").write_bytes(OLD)
    linux = write_bundle(tmp_path)
    assert run(linux / "install.sh", root).returncode == 0
    # Simulate a machine where an older bundle kept its backup beside the file.
    (root / "var/lib/vpnguard/bundle-backup" / CR / "vpnguard.json").rename(
        root / CR / "vpnguard.json.vpnguard-backup"
    )
    st = service.status(["chromium"], root=root).browsers[0].policy
    assert st.protection is Protection.CONFLICT  # the old layout is a live override
    r = run(linux / "install.sh", root)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(root / CR)) == ["vpnguard.json"]
    assert run(linux / "uninstall.sh", root).returncode == 0
    assert (root / CR / "vpnguard.json").read_bytes() == OLD


@pytest.mark.parametrize("later", ["vpnguard.json.vpnguard-backup", "zz-admin", "zz.conf", "~tmp"])
def test_status_reports_a_later_non_json_file_overriding_ours(tmp_path: Path, later: str) -> None:
    root = fakeroot.debian(tmp_path / "root")
    d = root / CR
    d.mkdir(parents=True, exist_ok=True)
    (d / "vpnguard.json").write_text('{"WebRtcIPHandling": "disable_non_proxied_udp"}')
    (d / later).write_bytes(OLD)
    os.mkfifo(d / "zzz-fifo")  # never opened (would block), never counted
    (d / "sub.json").mkdir()
    st = service.status(["chromium"], root=root).browsers[0].policy
    assert st.protection is Protection.CONFLICT
    assert later in st.detail and "overrides" in st.detail
    c = st.targets[0].conflicts
    assert [x.value for x in c] == ["default"] and c[0].source.endswith("/" + later)


def test_status_earlier_file_loses_to_ours_and_last_wins_without_ours(tmp_path: Path) -> None:
    root = fakeroot.debian(tmp_path / "root")
    d = root / CR
    d.mkdir(parents=True, exist_ok=True)
    (d / "a-policy").write_text('{"WebRtcIPHandling": "default"}')
    (d / "b-policy").write_text('{"WebRtcIPHandling": "disable_non_proxied_udp"}')
    st = service.status(["chromium"], root=root).browsers[0].policy
    assert st.protection is Protection.CONFLICT and "b-policy is read last and wins" in st.detail
    (d / "a-policy").unlink()
    st = service.status(["chromium"], root=root).browsers[0].policy
    assert st.protection is Protection.STRICT and "b-policy" in st.detail


def test_exception_naming_the_heredoc_terminator_works(tmp_path: Path) -> None:
    url = "https://a.com/VPNGUARD_MERGE_PY"
    out = tmp_path / "out"
    rc, _, err = cli("export", "--platform", "linux", "--exception", url, "--out", str(out))
    assert rc == 0, err
    root = tmp_path / "root"
    root.mkdir()
    r = run(out / "linux/install.sh", root)
    assert r.returncode == 0, r.stderr
    assert url in (root / CR / "vpnguard.json").read_text()


def test_force_never_writes_through_a_planted_symlink(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("keep")
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (out / "manifest.json").symlink_to(victim)
    rc, _, err = cli("export", "--force", "--platform", "linux", "--out", str(out))
    assert rc == 4 and "symbolic link" in err
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt", "manifest.json"]
    # A planted folder link too.
    (out / "manifest.json").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "linux").symlink_to(elsewhere)
    rc, _, err = cli("export", "--force", "--platform", "linux", "--out", str(out))
    assert rc == 4 and "symbolic link" in err
    assert list(elsewhere.iterdir()) == [] and sorted(p.name for p in out.iterdir()) == [
        "keep.txt",
        "linux",
    ]


@pytest.mark.parametrize("force", [False, True])
def test_out_that_is_a_symlink_is_refused(tmp_path: Path, force: bool) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    zlink = tmp_path / "b.zip"
    zlink.symlink_to(tmp_path / "target.zip")
    for target in (link, zlink):
        rc, _, err = cli("export", *(["--force"] if force else []), "--out", str(target))
        assert rc == 4 and "symbolic link" in err, err
    assert list(real.iterdir()) == [] and not (tmp_path / "target.zip").exists()


def _verify(linux: Path, root: Path) -> tuple[int, list[dict[str, object]]]:
    r = subprocess.run(
        ["bash", str(linux / "verify.sh"), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return r.returncode, [json.loads(line) for line in r.stdout.splitlines()]


def test_verify_sh_is_a_compliance_probe(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    linux = write_bundle(tmp_path)
    rc, rows = _verify(linux, root)
    assert rc == 1 and rows and not any(r["compliant"] for r in rows)
    assert {r["browser"] for r in rows} == {"chromium", "firefox-esr"}
    assert run(linux / "install.sh", root).returncode == 0
    rc, rows = _verify(linux, root)
    assert rc == 0 and all(r["compliant"] and r["present"] for r in rows)
    cr = next(r for r in rows if r["file"] == "/etc/chromium/policies/managed/vpnguard.json")
    assert cr["value"] == {"WebRtcIPHandling": "disable_non_proxied_udp"}
    # A later file (any name, not only *.json) overrides ours: not compliant, named.
    (root / CR / "zz-local").write_bytes(OLD)
    rc, rows = _verify(linux, root)
    cr = next(r for r in rows if r["file"] == "/etc/chromium/policies/managed/vpnguard.json")
    assert rc == 1 and not cr["compliant"]
    assert cr["conflicts"] == [
        {
            "file": "/etc/chromium/policies/managed/zz-local",
            "key": "WebRtcIPHandling",
            "value": "default",
        }
    ]
    (root / CR / "zz-local").unlink()
    assert run(linux / "uninstall.sh", root).returncode == 0
    assert _verify(linux, root)[0] == 1


def test_readme_tells_the_truth_about_managed_dirs() -> None:
    text = build_bundle(["all"], "strict", None, None).files["README.txt"].decode()
    assert "merges every *.json" not in text and ".vpnguard-backup" not in text
    assert "reads EVERY regular file" in text and "name order" in text
    assert "/var/lib/vpnguard/bundle-backup/" in text
    assert "verify.sh" in text and "Verify-VpnguardPolicy.ps1" in text
    assert "ADMXInstall" in text and "Opera documents no macOS policy domain" in text
    assert "vpnguard_webrtc_state=absent" in text


def test_reinstall_without_an_exception_removes_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    with_exc = write_bundle(tmp_path / "a", "https://meet.example.com")
    without = write_bundle(tmp_path / "b")
    assert run(with_exc / "install.sh", root).returncode == 0
    assert "WebRtcIPHandlingUrl" in (root / CR / "vpnguard.json").read_text()
    assert run(without / "install.sh", root).returncode == 0
    assert json.loads((root / CR / "vpnguard.json").read_text()) == {
        "WebRtcIPHandling": "disable_non_proxied_udp"
    }
    assert run(without / "uninstall.sh", root).returncode == 0
    assert not (root / "etc").exists()
