"""Windows adapter descriptions, which psutil does not give.

psutil names Windows interfaces by their alias ("Ethernet 2", "Local Area
Connection* 3"); what says "this is WireGuard" is the adapter's
*InterfaceDescription* ("WireGuard Tunnel", "TAP-Windows Adapter V9"). We
get it from ``Get-NetAdapter``. The parser is pure and tested on Linux; the
runner only ever runs on Windows.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
from typing import Any

log = logging.getLogger(__name__)

POWERSHELL_COMMAND = (
    "Get-NetAdapter -IncludeHidden | "
    "Select-Object Name,InterfaceDescription,Status,ifIndex,MediaType | "
    "ConvertTo-Json -Compress"
)


@dataclasses.dataclass(frozen=True)
class WindowsAdapter:
    name: str  # the alias psutil uses as the interface name
    description: str
    status: str  # "Up", "Disconnected", "Disabled", "Not Present"
    if_index: int | None = None


def _status_text(value: Any) -> str:
    # Older PowerShell serializes enums as numbers, newer ones as strings.
    if isinstance(value, int):
        return {1: "Up", 2: "Down", 7: "Not Present"}.get(value, str(value))
    return str(value or "")


def parse_get_netadapter_json(text: str) -> dict[str, WindowsAdapter]:
    """Parse ``Get-NetAdapter | ConvertTo-Json`` output, keyed by adapter alias (pure).

    ConvertTo-Json gives a bare object for a single adapter and a list for
    several; PowerShell may prefix a UTF-8 BOM.
    """
    text = text.lstrip("\ufeff").strip()
    if not text:
        return {}
    data = json.loads(text)
    rows = data if isinstance(data, list) else [data]
    out: dict[str, WindowsAdapter] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        name = row.get("Name") or row.get("name")
        if not name:
            continue
        idx = row.get("ifIndex", row.get("InterfaceIndex"))
        out[str(name)] = WindowsAdapter(
            name=str(name),
            description=str(row.get("InterfaceDescription") or ""),
            status=_status_text(row.get("Status")),
            if_index=int(idx) if isinstance(idx, int) else None,
        )
    return out


def windows_adapters(timeout: float = 5.0) -> dict[str, WindowsAdapter]:
    """Run PowerShell's ``Get-NetAdapter`` (Windows only); empty on any failure."""
    try:
        proc = subprocess.run(
            ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", POWERSHELL_COMMAND],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("cannot list Windows adapters: %s", exc)
        return {}
    if proc.returncode != 0:
        log.warning("Get-NetAdapter failed: %s", proc.stderr.strip()[:200])
        return {}
    try:
        return parse_get_netadapter_json(proc.stdout)
    except ValueError as exc:
        log.warning("cannot parse Get-NetAdapter output: %s", exc)
        return {}
