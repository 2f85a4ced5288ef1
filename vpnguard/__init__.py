"""vpnguard: keep WebRTC from revealing addresses around a VPN, and prove it.

The package root stays light so that ``vpnguard`` starts fast from VPN hooks;
the Python API (``status``, ``protect``, ``unprotect``, ``check``) is loaded on
first use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "check", "protect", "status", "unprotect"]


def __getattr__(name: str) -> Any:
    if name in {"status", "protect", "unprotect", "check"}:
        from vpnguard.core import service

        return getattr(service, name)
    raise AttributeError(f"module 'vpnguard' has no attribute {name!r}")
