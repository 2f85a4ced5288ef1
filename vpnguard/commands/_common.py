"""Helpers shared by the status/protect/unprotect commands (human output)."""

from __future__ import annotations

from vpnguard.cli import Env, add_common
from vpnguard.core.model import Protection

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    import argparse

    from vpnguard.core.service import StatusReport


def add_browser_option(parser: argparse.ArgumentParser) -> None:
    from vpnguard.core import service

    parser.add_argument(
        "--browser",
        action="append",
        metavar="ID",
        dest="browsers",
        help=f"only this browser (repeatable): {', '.join(service.browser_ids())}",
    )


def print_status(env: Env, report: StatusReport) -> None:
    if not report.browsers:
        env.say("No supported browser found.")
    else:
        width = max(len(b.browser.name) for b in report.browsers)
        for b in report.browsers:
            version = b.browser.version or "version unknown"
            running = ", running" if b.browser.running else ""
            restart = "  (restart needed)" if b.policy.restart_needed else ""
            env.say(
                f"  {b.browser.name:<{width}}  {b.policy.protection.value:<9} "
                f"{version}{running}{restart}"
            )
            if b.policy.detail and b.policy.protection in (Protection.CONFLICT, Protection.PARTIAL):
                env.say(f"  {'':<{width}}  {b.policy.detail}")
    net = report.network
    if net is not None:
        env.say("")
        env.say(f"Network: {net.detail or net.tunnel.value}")
        if net.public_route is not None:
            r = net.public_route
            env.say(f"  internet route: {r.interface} from {r.source}")
    for w in report.warnings:
        env.warn(f"warning: {w}")


__all__ = ["add_browser_option", "add_common", "print_status"]
