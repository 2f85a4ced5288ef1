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
    pw = parser.add_mutually_exclusive_group()
    pw.add_argument(
        "--store-turn-password",
        action="store_true",
        help="read the TURN password from stdin, store it in the OS keyring, then check",
    )
    pw.add_argument(
        "--turn-password-stdin",
        action="store_true",
        help="read the TURN password from stdin for this check only (no keyring; never "
        "stored, never on a command line)",
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
    if (args.store_turn_password or args.turn_password_stdin) and not args.turn:
        raise UsageError("a TURN password needs --turn URL")
    if args.turn:
        if not args.turn_user:
            raise UsageError("--turn needs --turn-user")
        given: str | None = None
        if args.store_turn_password or args.turn_password_stdin:
            # One line, read once, for every --turn URL; kept only in memory.
            given = sys.stdin.readline().rstrip("\r\n")
            if not given:
                raise UsageError("no TURN password on stdin")
        for url in args.turn:
            if args.store_turn_password and given is not None:
                service.store_turn_secret(url, args.turn_user, given)
            turn.append(
                TurnServer(url, args.turn_user, given)
                if given is not None
                else service.turn_server(url, args.turn_user)
            )

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
    rows = [("Browser", "Protection", "Verdict", "Calls")]
    for b in report.browsers:
        prot = "not protected" if b.protection == "none" else b.protection
        call = b.call
        rows.append((b.name, prot, b.verdict.value, call.summary() if call else "not placed"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        env.say("  ".join(c.ljust(widths[i]) if i < 3 else c for i, c in enumerate(r)).rstrip())
    for b in report.browsers:
        if not b.views:
            continue
        env.say("")
        env.say(f"{b.name}:")
        for v in b.views:
            words = "no leak" if v.reason == "no leak" else v.reason
            env.say(f"  {v.name.label}: {v.verdict.value}: {words}")
        for c in b.calls:
            via = ", ".join(c.ice_servers) or "no ICE server"
            env.say(f"  call {c.name!r} ({via}): {c.summary()}")
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
