"""vpnguard status: browsers, their protection read back from disk, and the VPN state."""

from __future__ import annotations

from vpnguard.cli import Env
from vpnguard.commands._common import add_browser_option, add_common, print_status

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_browser_option(parser)
    add_common(parser)


def run(args: argparse.Namespace, env: Env) -> int:
    from vpnguard.core import service

    report = service.status(args.browsers, root=args.root)
    if env.json:
        env.emit_json(report.to_json())
    else:
        print_status(env, report)
    return 0
