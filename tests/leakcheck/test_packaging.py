"""The page must ship inside the wheel: a top-level resources/ dir would not be installed."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path


def test_wheel_contains_the_page(built_wheel: Path) -> None:
    names = set(zipfile.ZipFile(built_wheel).namelist())
    for f in ("leakcheck.html", "leakcheck.js", "check-report.schema.json"):
        assert f"vpnguard/data/{f}" in names


def test_installed_wheel_serves_its_own_page(built_wheel: Path, tmp_path: Path) -> None:
    # Install the wheel alone into a directory and use it from there, away from the
    # source tree: the page, schemas and icons must come from the installed package.
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(built_wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = (
        "import importlib.resources as r, vpnguard, sys;"
        "assert vpnguard.__file__.startswith(sys.argv[1]), vpnguard.__file__;"
        "d = r.files('vpnguard') / 'data';"
        "assert (d / 'leakcheck.html').read_text().strip();"
        "assert (d / 'schema' / 'status.schema.json').is_file();"
        "assert any(p.name.endswith('.svg') for p in (d / 'icons').iterdir());"
        "from vpnguard.core.leakcheck import server; print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(site)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
