"""vpnguard protect: write the WebRTC policy each browser really honors."""

from __future__ import annotations

from vpnguard.cli import Env
from vpnguard.commands._common import add_browser_option, add_common
from vpnguard.commands._elevate import add_elevate_option, elevate, may_elevate, with_hint
from vpnguard.core.errors import NeedsElevationError
from vpnguard.core.model import Action, FileAction, LevelChoice

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from vpnguard.core.service import ChangeReport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpnguard.core import service

    parser.add_argument(
        "--level",
        choices=[c.value for c in LevelChoice],
        default="strict",
        help=service.LEVEL_HELP,
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would change; write nothing"
    )
    add_browser_option(parser)
    add_elevate_option(parser)
    add_common(parser)


def run(args: argparse.Namespace, env: Env) -> int:
    from vpnguard.core import service

    try:
        report = service.protect(args.level, args.browsers, dry_run=args.dry_run, root=args.root)
    except NeedsElevationError as exc:
        if not may_elevate(args):
            raise with_hint(exc, "protect", args) from None
        print_change_doc(env, elevate("protect", args, exc))
        return 0
    print_change(env, report)
    return 0


def print_change(env: Env, report: ChangeReport) -> None:
    print_change_doc(env, report.to_json())


def print_change_doc(env: Env, doc: dict[str, Any]) -> None:
    """A change report as JSON (``--json``) or lines; the helper answers with the same JSON."""
    if env.json:
        env.emit_json(doc)
        return
    changes = doc.get("changes") or []
    dry_run = bool(doc.get("dry_run"))
    if not changes:
        env.say(
            "Nothing to do: vpnguard has written nothing here."
            if doc.get("action") == Action.UNPROTECT
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
    for c in changes:
        action = FileAction(str(c["action"]))
        word = (
            "Unchanged" if action is FileAction.UNCHANGED else (future if dry_run else past)[action]
        )
        env.say(f"{word:<13} {c['path']}  [{', '.join(c['browsers'])}] {c.get('detail', '')}")
    for n in doc.get("notices") or ():
        env.say(f"Note: {n}")
    if not dry_run:
        for b in (doc.get("status") or {}).get("browsers") or ():
            env.say(f"  {b.get('name', b.get('id'))}: {b.get('protection')}")
