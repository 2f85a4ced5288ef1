"""``vpnguard watch``: auto mode, protect while a matching VPN is up (issue #6)."""

from __future__ import annotations

import argparse
import logging

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from vpnguard.cli import Env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpnguard.cli import add_common
    from vpnguard.core.model import LevelChoice

    parser.add_argument(
        "--level",
        choices=[c.value for c in LevelChoice],
        default="strict",
        help="auto follows the tunnel: re-chosen (and re-written) whenever the routes change",
    )
    parser.add_argument(
        "--vpn",
        action="append",
        default=[],
        metavar="NAME",
        help="only these interfaces (shell patterns, e.g. 'wg*'); default: any VPN-like one",
    )
    parser.add_argument(
        "--always", action="store_true", help="protect when a VPN comes up; never undo"
    )
    parser.add_argument("--status", action="store_true", help="print auto-mode state and exit")
    add_common(parser)


def run(args: argparse.Namespace, env: Env) -> int:
    from vpnguard.core.model import LevelChoice
    from vpnguard.vpnclient import watch

    if args.status:
        from vpnguard.core import service

        state = service.auto_mode_state(args.root)
        if env.json:
            env.emit_json({"schema_version": 1, **state.to_json()})
        else:
            running = f"yes, PID {state.pid}" if state.running else "no"
            env.say(f"watch running: {running}")
            env.say(f"holders: {', '.join(state.holders) or 'none'}")
            env.say(f"protected by automation: {'yes' if state.protected_by_automation else 'no'}")
        return 0
    if not args.verbose:
        # A service: say what it decides (journald/stderr), not only warnings.
        logging.getLogger("vpnguard.vpnclient").setLevel(logging.INFO)
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.INFO)
        logging.getLogger().setLevel(logging.INFO)
    return watch.watch(LevelChoice(args.level), args.vpn, args.always, args.root)
