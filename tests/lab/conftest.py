"""The leak lab fixture: built once per test module, torn down even on failure."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from .netlab import Lab, missing_tools


@pytest.fixture(scope="module")
def leaklab() -> Iterator[Lab]:
    missing = missing_tools() + [b for b in ("chromium", "firefox-esr") if not shutil.which(b)]
    if missing:
        pytest.skip(f"lab needs: {', '.join(missing)} (apt-get install them)")
    lab = Lab()
    try:
        yield lab.build()
    finally:
        lab.close()
