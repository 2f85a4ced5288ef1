"""Desktop integration files: validated by the freedesktop tools, consistent with the code."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from vpnguard import elevation
from vpnguard.gui import theme

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "resources" / "linux"
DESKTOP = LINUX / f"{theme.APP_ID}.desktop"
METAINFO = LINUX / f"{theme.APP_ID}.metainfo.xml"
POLICY = LINUX / "org.vpnguard.protect.policy"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils")
def test_desktop_file_validates() -> None:
    proc = subprocess.run(
        ["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stdout


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstream not installed")
def test_metainfo_validates() -> None:
    proc = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(METAINFO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_desktop_file_matches_the_app() -> None:
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read(DESKTOP)
    entry = cp["Desktop Entry"]
    assert entry["Icon"] == theme.APP_ID  # app.setDesktopFileName uses the same id
    assert entry["Exec"].split()[0] == "vpnguard-gui"
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'vpnguard-gui = "vpnguard.gui.app:main"' in pyproject
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == theme.APP_ID
    assert root.findtext("launchable") == DESKTOP.name


def test_polkit_action_names_the_installed_helper() -> None:
    root = ET.parse(POLICY).getroot()
    action = root.find("action")
    assert action is not None and action.get("id") == elevation.POLKIT_ACTION
    annotations = {a.get("key"): a.text for a in action.findall("annotate")}
    assert annotations["org.freedesktop.policykit.exec.path"] == elevation.LINUX_HELPER
    defaults = action.find("defaults")
    assert defaults is not None
    assert defaults.findtext("allow_any") == "auth_admin"  # never "yes"


def test_icons_ship_inside_the_package_and_are_svg() -> None:
    icons = REPO / "vpnguard" / "data" / "icons"
    names = {p.stem for p in icons.glob("*.svg")}
    assert {theme.APP_ID, "status-protected", "status-unprotected", "status-leak"} <= names
    for p in icons.glob("*.svg"):
        assert ET.parse(p).getroot().tag.endswith("svg")
    assert (REPO / "resources" / "icons" / f"{theme.APP_ID}.svg").read_bytes() == (
        icons / f"{theme.APP_ID}.svg"
    ).read_bytes()


def test_icons_load_at_high_dpi(qtbot: object) -> None:
    from PySide6.QtCore import QSize

    pix = theme.icon("status-protected").pixmap(QSize(256, 256))
    assert not pix.isNull() and pix.width() == 256


def test_wheel_contains_gui_icons_and_helper(built_wheel: Path) -> None:
    wheel = built_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    assert f"vpnguard/data/icons/{theme.APP_ID}.svg" in names
    assert "vpnguard/gui/app.py" in names and "vpnguard/privileged.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "vpnguard-helper = vpnguard.privileged:main" in text
    assert "vpnguard-gui = vpnguard.gui.app:main" in text
