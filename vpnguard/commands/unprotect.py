"""vpnguard unprotect: undo exactly what protect wrote."""

from __future__ import annotations

import argparse

from vpnguard.cli import Env
from vpnguard.commands._common import add_browser_option, add_common
from vpnguard.commands.protect import print_change


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would change; write nothing"
    )
    add_browser_option(parser)
    add_common(parser)


def run(args: argparse.Namespace, env: Env) -> int:
    from vpnguard.core import service

    report = service.unprotect(args.browsers, dry_run=args.dry_run, root=args.root)
    print_change(env, report)
    return 0
