"""The page must ship inside the wheel: a top-level resources/ dir would not be installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_wheel_contains_the_page(tmp_path: Path) -> None:
    # With build isolation: the venv's setuptools 65 rejects pyproject's license table;
    # the declared build requirement (setuptools>=68) comes from the package index.
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {proc.stderr[-3000:]}")
    wheel = next(tmp_path.glob("vpnguard-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ("leakcheck.html", "leakcheck.js", "check-report.schema.json"):
        assert f"vpnguard/data/{f}" in names
