"""protect/unprotect run by an ordinary user: ask for rights the way the app does, or say how.

When writing needs root and the command runs as an ordinary user on the
live system, the same privileged helper the desktop app uses is started
through pkexec. In a terminal pkexec may ask for the password itself (its
text agent) when no desktop agent runs. When that cannot work (no pkexec,
polkitd not running, no agent, ``--no-elevate``), the command fails as before
with exit 3 and names the command to run instead: ``sudo vpnguard ...``.
"""

from __future__ import annotations

import os
import shlex
import sys

from vpnguard.core.errors import NeedsElevationError
from vpnguard.core.model import Action

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    import argparse
    from typing import Any


def add_elevate_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-elevate",
        action="store_true",
        help="as an ordinary user, fail (exit 3) instead of asking for an administrator "
        "password through polkit",
    )


def sudo_command(op: str, args: argparse.Namespace) -> str:
    words = ["sudo", "vpnguard", op]
    if op == "protect" and getattr(args, "level", None):
        words += ["--level", str(args.level)]
    for b in getattr(args, "browsers", None) or ():
        words += ["--browser", b]
    return shlex.join(words)


def may_elevate(args: argparse.Namespace) -> bool:
    return (
        sys.platform.startswith("linux")
        and getattr(args, "root", None) is None
        and not getattr(args, "dry_run", False)
        and not getattr(args, "no_elevate", False)
        and hasattr(os, "geteuid")
        and os.geteuid() != 0
    )


def with_hint(exc: NeedsElevationError, op: str, args: argparse.Namespace) -> NeedsElevationError:
    hint = sudo_command(op, args)
    out = NeedsElevationError(f"{exc.message}. Run it as root: {hint}", path=exc.path)
    return out


def elevate(op: str, args: argparse.Namespace, original: NeedsElevationError) -> dict[str, Any]:
    """The helper's answer (the same JSON ``--json`` prints), or NeedsElevationError with a hint.

    Errors the user can act on (wrong password, cancelled, not an admin) keep
    their own message and kind; all exit 3.
    """
    import shutil

    from vpnguard import elevation

    hint = sudo_command(op, args)
    if shutil.which("pkexec") is None:
        raise NeedsElevationError(
            f"{original.message}. Run it as root: {hint}", path=original.path
        ) from None
    req = elevation.request(
        Action(op), getattr(args, "level", None), getattr(args, "browsers", None)
    )
    helper = elevation.helper_command()
    plan = elevation.plan_linux(req, helper)
    if sys.stdin.isatty():  # pkexec may then ask in this terminal itself
        plan = elevation.Plan(elevation.Method.PKEXEC, ("pkexec", *helper), req)
    try:
        return elevation.run_plan(plan)
    except (elevation.ElevationNoPolkit, elevation.ElevationNoAgent) as exc:
        raise NeedsElevationError(
            f"{original.message}. No administrator password can be asked for here "
            f"({exc.kind.replace('_', ' ')}: {exc.stderr or exc.message}). Run it as root: {hint}",
            path=original.path,
        ) from None
