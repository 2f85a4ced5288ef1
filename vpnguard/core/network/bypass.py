"""List the kernel's routes so that ``auto`` can tell a verified full tunnel (Linux).

The decision itself is pure (core.policy.auto.bypass_routes); this module
only reads ``ip -j route show table all`` for IPv4 and IPv6. Other systems
return ``None``: unknown, which auto never treats as a full tunnel.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from typing import Any

log = logging.getLogger(__name__)


def kernel_routes(timeout: float = 2.0) -> list[dict[str, Any]] | None:
    """Every route in every table, IPv4 and IPv6; ``None`` when they cannot be read."""
    if not sys.platform.startswith("linux"):
        return None
    ip = shutil.which("ip") or next(
        (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if os.path.exists(p)), None
    )
    if ip is None:
        return None
    rows: list[dict[str, Any]] = []
    for family in ("-4", "-6"):
        try:
            proc = subprocess.run(
                [ip, "-j", family, "route", "show", "table", "all"],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            doc = json.loads(proc.stdout or "[]") if proc.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            log.info("cannot list routes: %s", exc)
            return None
        if not isinstance(doc, list):
            return None
        rows += [r for r in doc if isinstance(r, dict)]
    return rows
