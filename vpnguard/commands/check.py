"""vpnguard check: run the embedded WebRTC leak check against real browsers."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from vpnguard.cli import Env
from vpnguard.commands._common import add_browser_option, add_common

if TYPE_CHECKING:
    from vpnguard.core.service import CheckReport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_browser_option(parser)
    parser.add_argument(
        "--stun",
        action="append",
        metavar="URL",
        help="STUN server (repeatable), e.g. stun:198.51.100.1:3478; "
        "default: a short list of public servers",
    )
    parser.add_argument(
        "--turn",
        action="append",
        metavar="URL",
        help="TURN server (repeatable), e.g. turn:host:3478?transport=tcp; "
        "its password is read from the OS keyring",
    )
    parser.add_argument("--turn-user", metavar="NAME", help="TURN username (with --turn)")
    parser.add_argument(
        "--store-turn-password",
        action="store_true",
        help="read the TURN password from stdin, store it in the OS keyring, then check",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="give each browser at most S seconds to report (default 30)",
    )
    parser.add_argument(
        "--interactive",
        action="store_true",
        help="open the page in your own default browser instead of headless ones",
    )
    add_common(parser)


def run(args: argparse.Namespace, env: Env) -> int:
    from vpnguard.core import service
    from vpnguard.core.errors import UsageError
    from vpnguard.core.model import TurnServer

    if not 0 < args.timeout <= 600:
        raise UsageError("--timeout must be between 0 and 600 seconds")
    stun = tuple(args.stun or service.default_stun())
    service.validate_ice_urls(stun, args.turn or ())
    turn: list[TurnServer] = []
    if args.turn:
        if not args.turn_user:
            raise UsageError("--turn needs --turn-user")
        for url in args.turn:
            if args.store_turn_password:
                secret = sys.stdin.readline().rstrip("\n")
                if not secret:
                    raise UsageError("--store-turn-password: no password on stdin")
                service.store_turn_secret(url, args.turn_user, secret)
            turn.append(service.turn_server(url, args.turn_user))

    report = service.check(
        args.browsers,
        stun=stun,
        turn=turn,
        timeout=args.timeout,
        interactive=args.interactive,
        root=args.root,
    )
    if env.json:
        env.emit_json(report.to_json())
    else:
        _print(env, report)
    return int(report.exit_code)


def _print(env: Env, report: CheckReport) -> None:
    rows = [("Browser", "Protection", "Verdict", "Detail")]
    for b in report.browsers:
        prot = "not protected" if b.protection == "none" else b.protection
        rows.append((b.name, prot, b.verdict.value, b.reason))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        env.say("  ".join(c.ljust(widths[i]) if i < 3 else c for i, c in enumerate(r)).rstrip())
    net, paths = report.network, report.paths
    env.say("")
    if net is not None:
        env.say(f"Network: {net.detail or net.tunnel.value}")
    if paths.stun_server:
        route = paths.stun_route
        via = (
            f" via {route.interface} ({'inside' if route.via_vpn else 'outside'} the VPN)"
            if route
            else " (no route)"
        )
        env.say(f"STUN {paths.stun_server}{via}:")
        for p in paths.probes:
            where = f"pinned to {p.interface}" if p.interface else "kernel's route"
            env.say(f"  {where}: {p.mapped or 'no answer'}" + (f" ({p.error})" if p.error else ""))
    else:
        env.say("No UDP STUN server configured: no public path was probed.")
