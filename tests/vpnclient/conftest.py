from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import fakeroot
from tests.vpnclient.lab import Lab, lab


@pytest.fixture
def froot(tmp_path: Path) -> Path:
    """A fake Debian with chromium and firefox-esr installed."""
    root = tmp_path / "root"
    root.mkdir()
    return fakeroot.debian(root)


@pytest.fixture
def wglab() -> Iterator[Lab]:
    with lab() as the_lab:
        yield the_lab
