"""Host.exists/is_file/is_symlink/fs answer as pathlib does on Host.p, for the same files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vpnguard.core.host import Host
from vpnguard.core.model import OS


def _tree(root: Path) -> list[str]:
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/file").write_text("x")
    (root / "usr/bin/link").symlink_to("file")
    (root / "usr/bin/dangling").symlink_to("missing")
    (root / "usr/bin/loop").symlink_to("loop")
    return [
        "/usr/bin/file",
        "/usr/bin/link",
        "/usr/bin/dangling",
        "/usr/bin/loop",
        "/usr/bin",
        "/usr/bin/",
        "/usr//bin/./file",
        "/usr/bin/file/below",  # ENOTDIR
        "/usr/bin/missing",
        "/usr/bin/nul\0byte",
        "/",
    ]


@pytest.mark.parametrize("live", [False, True], ids=["fake-root", "live"])
def test_answers_match_pathlib(tmp_path: Path, live: bool) -> None:
    paths = _tree(tmp_path)
    host = Host.current(root=tmp_path, os_=OS.LINUX)
    if live:  # the live root: the same tree seen through absolute paths
        host = Host.current(os_=OS.LINUX)
        paths = [f"{tmp_path}{p}" for p in paths]
    for system_path in paths:
        mapped = host.p(system_path)
        assert host.exists(system_path) == mapped.exists(), system_path
        assert host.is_file(system_path) == mapped.is_file(), system_path
        assert host.is_symlink(system_path) == mapped.is_symlink(), system_path
        if mapped.is_symlink() or mapped.exists():  # the very same file
            assert os.path.samestat(os.lstat(host.fs(system_path)), os.lstat(mapped))


def test_fs_maps_under_the_root(tmp_path: Path) -> None:
    _tree(tmp_path)
    host = Host.current(root=tmp_path, os_=OS.LINUX)
    assert (
        host.fs("/usr/bin/file") == str(tmp_path / "usr/bin/file") == str(host.p("/usr/bin/file"))
    )
    assert Host.current(os_=OS.LINUX).fs("/usr/bin/file") == "/usr/bin/file"
    win = Host.current(root=tmp_path, os_=OS.WINDOWS)
    assert win.fs(r"C:\Program Files\x.exe") == str(win.p(r"C:\Program Files\x.exe"))


def test_other_errors_are_raised_as_pathlib_raises(tmp_path: Path) -> None:
    host = Host.current(root=tmp_path, os_=OS.LINUX)
    long_name = "/" + "x" * 5000  # ENAMETOOLONG: not one of the errors pathlib ignores
    with pytest.raises(OSError) as ours:
        host.exists(long_name)
    with pytest.raises(OSError) as theirs:
        host.p(long_name).exists()
    assert ours.value.errno == theirs.value.errno
