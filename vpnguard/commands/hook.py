"""``vpnguard hook install|uninstall|show|run KIND``: VPN-client hooks (issue #6)."""

from __future__ import annotations

import argparse

from vpnguard.core.model import LevelChoice
from vpnguard.vpnclient.configedit.scripts import KINDS

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from vpnguard.cli import Env


LEVELS = tuple(c.value for c in LevelChoice)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vpnguard.cli import add_common

    sub = parser.add_subparsers(dest="hook_action", metavar="ACTION", required=True)
    helps = {
        "show": "print the hook lines/script without changing anything",
        "install": "install the hook (idempotent; keeps every other line of a config)",
        "uninstall": "remove the hook; configs come back byte for byte",
        "run": "what an installed hook executes (called by the VPN client, not by hand)",
    }
    for action, text in helps.items():
        p = sub.add_parser(action, help=text, description=text)
        p.add_argument("kind", choices=KINDS, help="VPN client")
        p.add_argument("--level", choices=LEVELS, default="strict")
        p.add_argument(
            "--fail-closed",
            action="store_true",
            help="let a failed protect fail the tunnel's start (default: log it, exit 0)",
        )
        add_common(p)
        if action == "run":
            p.add_argument("--event", choices=("up", "down"))
            p.add_argument("--interface", help="device name (wg-quick passes %%i)")
            p.add_argument("--only", action="append", default=[], metavar="NAME")
            p.add_argument(
                "--arg",
                dest="extra",
                action="append",
                default=[],
                metavar="VALUE",
                help='an argument the VPN client passed (scripts use --arg="$1")',
            )
        else:
            p.add_argument(
                "--interface",
                action="append",
                default=[],
                metavar="NAME",
                help="wireguard: /etc/wireguard/NAME.conf; openvpn/networkmanager: only NAME",
            )
            p.add_argument(
                "--config", metavar="PATH", help="the wg-quick or OpenVPN config to edit"
            )


def run(args: argparse.Namespace, env: Env) -> int:

    if args.hook_action == "run":
        from vpnguard.vpnclient.hookrun import run_hook

        return run_hook(
            args.kind,
            level=LevelChoice(args.level),
            root=args.root,
            fail_closed=args.fail_closed,
            event=args.event,
            interface=args.interface,
            only=tuple(args.only),
            extra=tuple(args.extra),
        )
    from vpnguard.vpnclient import install

    plan = install.run(
        args.hook_action,
        install.HookOptions(
            kind=args.kind,
            level=LevelChoice(args.level),
            interfaces=tuple(args.interface),
            config=args.config,
            root=args.root,
            fail_closed=args.fail_closed,
        ),
    )
    if env.json:
        env.emit_json(plan.to_json())
    else:
        env.say(install.render_text(plan))
    return 0
