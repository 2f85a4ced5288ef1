"""vpnguard gui: open the desktop app (Qt is imported only here, inside run())."""

from __future__ import annotations

import argparse

from vpnguard.cli import Env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", metavar="DIR", help="work on the file tree DIR instead of this computer"
    )
    parser.add_argument(
        "--config-dir", metavar="DIR", help="keep the app's settings in DIR (default: per user)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")


def run(args: argparse.Namespace, env: Env) -> int:
    from vpnguard.gui.app import run as run_gui

    return run_gui(args)
