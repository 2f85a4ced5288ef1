"""The Linux package (slow: ~40 s). Runs when VPNGUARD_TEST_DEB=1 (CI's packaging job)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from vpnguard import elevation

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("VPNGUARD_TEST_DEB") != "1", reason="set VPNGUARD_TEST_DEB=1"
    ),
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb"),
]


def test_deb_builds_and_holds_a_working_app(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    subprocess.run(
        [str(REPO / "packaging/linux/build-deb.sh")],
        env={**os.environ, "OUT": str(out)},
        check=True,
        capture_output=True,
        timeout=900,
    )
    deb = next(out.glob("vpnguard_*.deb"))
    x = tmp_path / "x"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(x)], check=True)
    control = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True, check=True
    ).stdout
    assert "python3 (>= 3.11)" in control and "libxcb-cursor0" in control
    helper = x / elevation.LINUX_HELPER.lstrip("/")
    assert helper.read_text().startswith("#!/opt/vpnguard/venv/bin/python3 -I\n")
    assert os.access(helper, os.X_OK)
    policy = (x / "usr/share/polkit-1/actions/org.vpnguard.protect.policy").read_text()
    assert f">{elevation.LINUX_HELPER}<" in policy
    assert os.readlink(x / "usr/bin/vpnguard-gui") == "../../opt/vpnguard/venv/bin/vpnguard-gui"
    for rel in (
        "usr/share/applications/org.vpnguard.VpnGuard.desktop",
        "usr/share/metainfo/org.vpnguard.VpnGuard.metainfo.xml",
        "usr/share/icons/hicolor/scalable/apps/org.vpnguard.VpnGuard.svg",
    ):
        assert (x / rel).is_file(), rel
    # No staging path leaked into scripts.
    bindir = x / "opt/vpnguard/venv/bin"
    for script in bindir.iterdir():
        if script.is_file() and not script.is_symlink():
            assert str(tmp_path) not in script.read_text(errors="replace"), script
    # The packaged interpreter runs the app's modules (isolated from this checkout).
    py = bindir / "python3"
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}
    probe = "import vpnguard, vpnguard.gui.window; print(vpnguard.__file__)"
    where = subprocess.run(
        [str(py), "-I", "-c", probe], env=env, cwd="/", capture_output=True, text=True, check=True
    ).stdout
    assert where.startswith(str(x / "opt/vpnguard/venv/lib"))
    refused = subprocess.run(
        [str(py), "-I", "-m", "vpnguard.privileged", "--request", "!!"],
        env={**env, "VPNGUARD_HELPER_TEST_ROOT": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 4
