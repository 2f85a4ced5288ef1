"""Admin policy bundles: the same level definitions as local protect, as files an
administrator deploys with their own tools (Linux scripts, .reg/PowerShell/Intune,
a macOS configuration profile). Qt-free; the GUI dialog calls :func:`export_bundle`."""

from __future__ import annotations

from vpnguard.core.export.bundle import Bundle, ExportResult, build_bundle, export_bundle, zip_bytes
from vpnguard.core.export.plan import ALL_PLATFORMS, Note, Platform, parse_platforms
from vpnguard.core.export.urlpatterns import HANDLING_VALUES, UrlException, parse_exception

__all__ = [
    "ALL_PLATFORMS",
    "HANDLING_VALUES",
    "Bundle",
    "ExportResult",
    "Note",
    "Platform",
    "UrlException",
    "build_bundle",
    "export_bundle",
    "parse_exception",
    "parse_platforms",
    "zip_bytes",
]
