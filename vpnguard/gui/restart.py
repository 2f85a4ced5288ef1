"""Restart a browser gracefully so it reads new policy: terminate, wait, relaunch.

Only the current user's processes are touched, only after the user agreed,
and a browser that does not exit in time is left alone (never killed).
"""

from __future__ import annotations

import getpass
import logging
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from vpnguard.core import service
from vpnguard.core.errors import RefusedError
from vpnguard.core.model import Browser

log = logging.getLogger(__name__)
WAIT_S = 15.0


def _matching(browser: Browser) -> list[Any]:
    import psutil

    names = set(service.catalog_entry(browser.id).process_names)
    me = getpass.getuser()
    found = []
    for proc in psutil.process_iter(["name", "username", "ppid"]):
        info = proc.info
        if info.get("name") in names and info.get("username") == me:
            found.append(proc)
    # Only the top process of each tree: children follow their parent out.
    pids = {p.pid for p in found}
    return [p for p in found if p.info.get("ppid") not in pids]


def restart(
    browser: Browser,
    *,
    root: str | None = None,
    wait_s: float = WAIT_S,
    find: Callable[[Browser], list[Any]] = _matching,
    launch: Sequence[str] | None = None,
) -> str:
    """Returns a sentence for the status bar; raises RefusedError when it cannot."""
    if root is not None:
        raise RefusedError(
            f"{browser.name} belongs to the file tree {root}, not to this computer: "
            "nothing to restart"
        )
    import psutil

    procs = find(browser)
    if not procs:
        return f"{browser.name} is not running any more: it will read the policy when it starts."
    for p in procs:
        p.terminate()
    _gone, alive = psutil.wait_procs(procs, timeout=wait_s)
    if alive:
        raise RefusedError(
            f"{browser.name} did not close within {wait_s:.0f} s (maybe it asks about open "
            "tabs); close it yourself and start it again"
        )
    kwargs: dict[str, object] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    if sys.platform != "win32":
        kwargs["start_new_session"] = True
    subprocess.Popen(list(launch or [browser.path]), **kwargs)  # type: ignore[call-overload]
    log.info("restarted %s", browser.id)
    return f"{browser.name} was restarted and now uses the new policy."
