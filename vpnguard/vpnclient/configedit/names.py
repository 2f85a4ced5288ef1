"""Interface names that may appear in a hook: validated, never interpolated into a shell."""

from __future__ import annotations

import re

from vpnguard.core.errors import RefusedError

# The same alphabet wg-quick accepts for its interface names; Linux caps names at 15 bytes.
_IFACE_RE = re.compile(r"[A-Za-z0-9_.=+-]{1,15}")


def is_valid_interface(name: str) -> bool:
    return bool(_IFACE_RE.fullmatch(name)) and name not in {".", ".."}


def check_interface(name: str) -> str:
    """Return ``name`` unchanged, or refuse it (exit 4) when it could not be a safe interface."""
    if not is_valid_interface(name):
        raise RefusedError(
            f"refused interface name {name!r}: use 1-15 characters from A-Z a-z 0-9 _ . = + -"
        )
    return name
