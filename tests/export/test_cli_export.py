"""``vpnguard export`` end to end in-process: reproducibility and refusals."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

import vpnguard
from vpnguard.cli import Env, main


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(list(argv), Env(stdout=out, stderr=err))
    return rc, out.getvalue(), err.getvalue()


def tree(d: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(d)): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


ARGS = ("--platform", "all", "--level", "strict", "--exception", "https://meet.example.com")


def test_directory_and_zip_are_reproducible(tmp_path: Path) -> None:
    assert cli("export", *ARGS, "--out", str(tmp_path / "a"))[0] == 0
    assert cli("export", *ARGS, "--out", str(tmp_path / "b"))[0] == 0
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert a == b and "linux/install.sh" in a
    assert a["linux/install.sh"][1] == 0o755 and a["README.txt"][1] == 0o644
    assert cli("export", *ARGS, "--out", str(tmp_path / "a.zip"))[0] == 0
    assert cli("export", *ARGS, "--out", str(tmp_path / "b.zip"))[0] == 0
    za, zb = (tmp_path / "a.zip").read_bytes(), (tmp_path / "b.zip").read_bytes()
    assert za == zb
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        names = zf.namelist()
        assert names == sorted(names)
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            mode = info.external_attr >> 16
            assert mode & 0o777 == (0o755 if info.filename.endswith(".sh") else 0o644)
            assert zf.read(info) == a[info.filename][0]


def test_json_output(tmp_path: Path) -> None:
    rc, out, _ = cli(
        "export",
        "--json",
        "--platform",
        "macos",
        "--browser",
        "chrome",
        "--out",
        str(tmp_path / "m"),
    )
    assert rc == 0
    doc = json.loads(out)
    assert doc["ok"] and doc["export"]["files"] == [
        "README.txt",
        "macos/jamf/com.google.Chrome.plist",
        "macos/vpnguard-webrtc.mobileconfig",
        "manifest.json",
    ]


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (("--browser", "netscape"), 2, "unknown browser"),
        (("--platform", "beos"), 2, "unknown platform"),
        (("--level", "paranoid"), 2, "unknown level"),
        (("--exception", "https://*.example.com"), 2, "[*.]"),
        (("--exception", "not a url"), 2, "exception URL"),
        (("--exception", "https://x.example=sometimes"), 2, "handling"),
        (("--browser", "tor-browser"), 4, "nothing to export"),
    ],
)
def test_bad_input_writes_nothing(
    tmp_path: Path, argv: tuple[str, ...], code: int, words: str
) -> None:
    out = tmp_path / "out"
    rc, _, err = cli("export", *argv, "--out", str(out))
    assert rc == code
    assert words in err
    assert list(tmp_path.iterdir()) == []


def test_non_empty_output_is_refused_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    rc, _, err = cli("export", "--out", str(out))
    assert rc == 4 and "not empty" in err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    zip_out = tmp_path / "x.zip"
    zip_out.write_bytes(b"old")
    assert cli("export", "--out", str(zip_out))[0] == 4
    assert zip_out.read_bytes() == b"old"
    assert cli("export", "--force", "--out", str(out))[0] == 0
    assert (out / "mine.txt").read_text() == "keep" and (out / "manifest.json").exists()
    assert cli("export", "--force", "--out", str(zip_out))[0] == 0
    assert zipfile.is_zipfile(zip_out)


def test_empty_existing_directory_is_fine(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    assert cli("export", "--platform", "linux", "--out", str(out))[0] == 0
    assert (out / "linux/install.sh").exists()


@pytest.mark.root
def test_unwritable_output_is_exit_3() -> None:
    base = Path(tempfile.mkdtemp(prefix="vpnguard-export-ro-"))
    src = Path(tempfile.mkdtemp(prefix="vpnguard-export-src-"))
    try:
        os.chmod(base, 0o755)  # owned by root: nobody cannot create anything in it
        # 'nobody' cannot read this venv or the worktree: run a world-readable copy
        os.chmod(src, 0o755)
        shutil.copytree(Path(vpnguard.__file__).parent, src / "vpnguard")
        for target in (base / "bundle", base / "bundle.zip"):
            r = subprocess.run(
                ["/usr/bin/python3", "-m", "vpnguard", "export", "--out", str(target)],
                capture_output=True,
                text=True,
                user="nobody",
                cwd=src,
                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(src)},
                timeout=60,
            )
            # a run that cannot even start as nobody fails here: it is never skipped
            assert r.returncode == 3, r.stderr
            assert "cannot write" in r.stderr
        assert list(base.iterdir()) == []
    finally:
        shutil.rmtree(base)
        shutil.rmtree(src)
