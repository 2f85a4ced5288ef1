"""vpnguard protect: write the WebRTC policy each browser really honors."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from vpnguard.cli import Env
from vpnguard.commands._common import add_browser_option, add_common
from vpnguard.core.model import Action, FileAction

if TYPE_CHECKING:
    from vpnguard.core.service import ChangeReport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpnguard.core import service

    parser.add_argument(
        "--level",
        choices=("strict", "relay", "balanced", "auto"),
        default="strict",
        help=service.LEVEL_HELP,
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would change; write nothing"
    )
    add_browser_option(parser)
    add_common(parser)


def run(args: argparse.Namespace, env: Env) -> int:
    from vpnguard.core import service

    report = service.protect(args.level, args.browsers, dry_run=args.dry_run, root=args.root)
    print_change(env, report)
    return 0


def print_change(env: Env, report: ChangeReport) -> None:
    if env.json:
        env.emit_json(report.to_json())
        return
    if not report.changes:
        env.say(
            "Nothing to do: vpnguard has written nothing here."
            if report.action is Action.UNPROTECT
            else "Nothing to do: no browser with a known policy location was found."
        )
    past = {
        FileAction.CREATE: "Created",
        FileAction.MODIFY: "Updated",
        FileAction.RESTORE: "Restored",
        FileAction.REMOVE: "Removed",
    }
    future = {
        FileAction.CREATE: "Would create",
        FileAction.MODIFY: "Would update",
        FileAction.RESTORE: "Would restore",
        FileAction.REMOVE: "Would remove",
    }
    for c in report.changes:
        if c.action is FileAction.UNCHANGED:
            word = "Unchanged"
        else:
            word = (future if report.dry_run else past)[c.action]
        env.say(f"{word:<13} {c.path}  [{', '.join(c.browsers)}] {c.detail}")
    for n in report.notices:
        env.say(f"Note: {n}")
    if not report.dry_run:
        for b in report.status.browsers:
            env.say(f"  {b.browser.name}: {b.policy.protection.value}")
