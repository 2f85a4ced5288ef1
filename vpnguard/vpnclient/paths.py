"""Where hooks log, and how a hook finds this very vpnguard again."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

from vpnguard.core.service import Host


def log_dir(host: Host) -> Path:
    """System services log in the OS's system log dir (``/var/log/vpnguard`` on Linux) when
    run as an administrator; a user run uses platformdirs.

    ``VPNGUARD_LOG_DIR`` overrides both (tests, unusual setups).
    """
    override = host.environ.get("VPNGUARD_LOG_DIR")
    if override:
        return Path(override)
    if host.is_admin or not host.is_live:
        return host.system_log_dir()
    import platformdirs

    return Path(platformdirs.user_log_dir("vpnguard", appauthor=False))


@functools.cache
def invocation() -> tuple[str, str | None]:
    """``(python, pythonpath)`` that runs this vpnguard as ``python -m vpnguard``.

    ``sys.executable`` is kept as given (a venv's python is a symlink whose
    *path* selects the venv). When this vpnguard is not what the bare
    interpreter imports (a source checkout), the checkout goes into PYTHONPATH.
    """
    python = os.path.abspath(sys.executable)
    here = Path(__file__).resolve().parents[1]  # .../vpnguard
    try:
        out = subprocess.run(
            [python, "-I", "-c", "import vpnguard; print(vpnguard.__file__)"],
            capture_output=True,
            text=True,
            timeout=20,
            cwd="/",
        )
        found = Path(out.stdout.strip()).resolve().parent if out.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        found = None
    return python, None if found == here else str(here.parent)
