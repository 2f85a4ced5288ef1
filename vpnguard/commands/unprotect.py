"""vpnguard unprotect: undo exactly what protect wrote."""

from __future__ import annotations

from vpnguard.cli import Env
from vpnguard.commands._common import add_browser_option, add_common
from vpnguard.commands._elevate import add_elevate_option, elevate, may_elevate, with_hint
from vpnguard.commands.protect import print_change, print_change_doc
from vpnguard.core.errors import NeedsElevationError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would change; write nothing"
    )
    add_browser_option(parser)
    add_elevate_option(parser)
    add_common(parser)


def run(args: argparse.Namespace, env: Env) -> int:
    from vpnguard.core import service

    try:
        report = service.unprotect(args.browsers, dry_run=args.dry_run, root=args.root)
    except NeedsElevationError as exc:
        if not may_elevate(args):
            raise with_hint(exc, "unprotect", args) from None
        print_change_doc(env, elevate("unprotect", args, exc))
        return 0
    print_change(env, report)
    return 0
