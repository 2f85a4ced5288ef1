"""``vpnguard export``: write an admin policy bundle (directory or .zip)."""

from __future__ import annotations

import argparse

from vpnguard.cli import add_common

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from vpnguard.cli import Env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--platform",
        action="append",
        metavar="linux|windows|macos|all",
        help="platform(s) to export for; repeatable (default: all)",
    )
    parser.add_argument(
        "--level",
        default="strict",
        metavar="strict|relay|balanced",
        help="protection level (default: strict)",
    )
    parser.add_argument(
        "--browser",
        action="append",
        metavar="ID",
        help="browser id; repeatable (default: every known browser)",
    )
    parser.add_argument(
        "--exception",
        action="append",
        metavar="URL[=HANDLING]",
        help=(
            "per-URL exception for Chromium-family browsers (WebRtcIPHandlingUrl), a Chrome URL "
            "pattern such as https://[*.]meet.example.com; HANDLING defaults to "
            "default_public_interface_only. An invalid pattern is a usage error (exit 2)."
        ),
    )
    parser.add_argument(
        "--out", required=True, metavar="PATH", help="output directory, or a file ending in .zip"
    )
    parser.add_argument(
        "--force", action="store_true", help="write into a non-empty directory / replace a zip"
    )
    add_common(parser, root=False)


def run(args: argparse.Namespace, env: Env) -> int:
    from vpnguard.core import service

    result = service.export_bundle(
        args.platform, args.level, args.browser, args.exception, args.out, args.force
    )
    if env.json:
        env.emit_json({"schema_version": 1, "ok": True, "export": result.to_json()})
        return 0
    kind = "zip" if result.is_zip else "directory"
    env.say(f"wrote {len(result.files)} files to {result.out} ({kind}), level {result.level.value}")
    for name in result.files:
        env.say(f"  {name}")
    for note in result.notes:
        env.warn(f"note [{note.platform}]: {note.text}")
    env.say("read README.txt in the bundle for deployment, verification and roll back")
    return 0
