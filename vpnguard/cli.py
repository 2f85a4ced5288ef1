"""The headless command line: the contract VPN clients and scripts rely on.

Each subcommand lives in ``vpnguard/commands/<name>.py`` with two functions,
``add_arguments(parser)`` and ``run(args, env) -> int``. Only the module of the
command being run is imported, so ``vpnguard status`` from a VPN hook never
pays for the leak checker, the exporter or Qt. A command line made only of
the command's own options is read by :func:`parse_simple` without argparse;
anything else is argparse's. This module must never import PySide6 (a test
proves it).

Exit codes (stable): 0 ok, 1 leak found (``check``), 2 usage, 3 permission
denied / needs elevation, 4 refused bad input or environment (nothing
changed), 5 internal error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence

from vpnguard import __version__, _lazylog
from vpnguard.core.errors import ExitCode, UsageError, VpnguardError, envelope, internal_error

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    import argparse
    from typing import Any, TextIO

# name -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "status": ("vpnguard.commands.status", "show browsers, their protection, and the VPN state"),
    "protect": ("vpnguard.commands.protect", "write WebRTC policy for installed browsers"),
    "unprotect": ("vpnguard.commands.unprotect", "undo exactly what protect wrote"),
    "check": ("vpnguard.commands.check", "prove it: run a WebRTC leak check in each browser"),
    "export": ("vpnguard.commands.export", "write an admin policy bundle (Linux, Windows, macOS)"),
    "hook": ("vpnguard.commands.hook", "install, show or remove VPN-client hooks"),
    "watch": ("vpnguard.commands.watch", "auto mode: protect while a VPN is up"),
    "gui": ("vpnguard.commands.gui", "open the desktop app"),
}

EPILOG = """exit codes:
  0  success
  1  check: at least one browser leaks
  2  usage error (unknown option, unknown browser id, missing root prefix)
  3  permission denied: run as root / administrator
  4  refused: bad input or environment (e.g. malformed policies.json); nothing changed
  5  internal error
"""


class Env:
    """The process environment a command sees; tests pass their own streams."""

    def __init__(self, stdout: TextIO, stderr: TextIO, json: bool = False) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.json = json

    def __repr__(self) -> str:
        return f"Env(stdout={self.stdout!r}, stderr={self.stderr!r}, json={self.json!r})"

    def emit_json(self, doc: dict[str, Any]) -> None:
        json.dump(doc, self.stdout, indent=2, sort_keys=False)
        self.stdout.write("\n")

    def say(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def warn(self, text: str) -> None:
        self.stderr.write(text + "\n")


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``, without importing shutil (and bz2, lzma, …)."""
    import os

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 80


def add_common(parser: argparse.ArgumentParser, *, root: bool = True) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    if root:
        parser.add_argument(
            "--root",
            metavar="DIR",
            help="treat DIR as the filesystem root (tests, image builders)",
        )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")


def build_parser(command: str | None, *, only_command: bool = False) -> argparse.ArgumentParser:
    """The parser; ``command``'s own options are added (only its module is imported).

    ``only_command``: add no other subcommand. Right when ``command`` is the first
    argument: the top-level parser then hands every other argument to it and never
    shows its own help or the list of commands.
    """
    import argparse  # here: a simple command line is parsed without it (parse_simple)

    class _Formatter(argparse.RawDescriptionHelpFormatter):
        """argparse's formatter, told the terminal width so that it does not import shutil."""

        def __init__(
            self,
            prog: str,
            indent_increment: int = 2,
            max_help_position: int = 24,
            width: int | None = None,
        ) -> None:
            if width is None:
                width = _terminal_columns() - 2
            super().__init__(prog, indent_increment, max_help_position, width)

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> Any:  # argparse exits 2 itself; add our error form
            raise UsageError(message)

    parser = _Parser(
        prog="vpnguard",
        description="Keep WebRTC from revealing your address around your VPN, and prove it.",
        epilog=EPILOG,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"vpnguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module_name, help_text) in COMMANDS.items():
        if only_command and name != command:
            continue
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EPILOG,
            formatter_class=_Formatter,
        )
        if name == command:
            module = _load(module_name)
            module.add_arguments(p)
    return parser


# --- simple command lines without argparse -------------------------------------------
#
# VPN hooks run ``vpnguard status --json`` (or ``protect --level auto --json``) on every
# connect; importing argparse, gettext and locale and building the parser was a fifth of
# that start-up. A command line made only of the command and its own option strings, each
# exactly as declared (values as separate arguments), is parsed here into the namespace
# argparse would give; anything else -- help, abbreviations, ``--opt=value``, a value
# starting with "-", unknown words, a bad choice, a command using argparse features not
# modelled here -- goes to argparse, unchanged. The options come from the command's own
# ``add_arguments`` (run against :class:`_Recorder`), and tests/test_cli_simple.py checks
# the result against argparse's for every command and combination of its options.

_ACTIONS = {None: "store", "store": "store", "store_true": "store_true"}
_ACTIONS |= {"store_false": "store_false", "append": "append"}


class _Unsupported(Exception):
    """The command declares something the simple parser does not model: use argparse."""


class _Option:
    __slots__ = ("action", "choices", "default", "dest")

    def __init__(
        self, action: str, dest: str, default: object, choices: tuple[str, ...] | None
    ) -> None:
        self.action = action
        self.dest = dest
        self.default = default
        self.choices = choices


class _Recorder:
    """Stands in for a command's argparse parser and records its options.

    Only plain optionals are modelled (``store``, ``store_true``, ``store_false``,
    ``append``; ``dest``, ``default``, ``choices``, ``metavar``, ``help``); anything
    else raises :class:`_Unsupported`.
    """

    def __init__(self) -> None:
        self.options: dict[str, _Option] = {}
        self.defaults: dict[str, object] = {}

    def add_argument(
        self,
        *names: str,
        action: str | None = None,
        dest: str | None = None,
        choices: Iterable[str] | None = None,
        metavar: object = None,
        help: object = None,  # argparse's keyword
        **other: object,
    ) -> None:
        kind = _ACTIONS.get(action)
        if kind is None or set(other) - {"default"} or not names:
            raise _Unsupported
        if not all(n.startswith("--") or (len(n) == 2 and n[0] == "-") for n in names):
            raise _Unsupported  # a positional argument
        longs = [n for n in names if n.startswith("--")]
        dest = dest or (longs[0] if longs else names[0]).lstrip("-").replace("-", "_")
        implicit = {"store_true": False, "store_false": True}.get(kind)
        default = other.get("default", implicit)
        if kind == "append" and default is not None and default != []:
            raise _Unsupported
        if choices is not None and kind != "store":
            raise _Unsupported
        option = _Option(kind, dest, default, None if choices is None else tuple(choices))
        for name in names:
            if name in self.options:
                raise _Unsupported
            self.options[name] = option
        self.defaults[dest] = default

    def __getattr__(self, name: str) -> Any:  # groups, subparsers, set_defaults, ...
        raise _Unsupported


def parse_simple(argv: Sequence[str]) -> Any:
    """The namespace argparse gives for ``argv``, if it is a simple command line; else None."""
    if not argv or argv[0] not in COMMANDS:
        return None
    command = argv[0]
    recorder = _Recorder()
    try:
        _load(COMMANDS[command][0]).add_arguments(recorder)
    except _Unsupported:
        return None
    values: dict[str, object] = {"command": command, **recorder.defaults}
    i = 1
    while i < len(argv):
        option = recorder.options.get(argv[i])
        if option is None:
            return None  # -h, --opt=value, an abbreviation, "--", a word: argparse decides
        if option.action == "store_true":
            values[option.dest] = True
        elif option.action == "store_false":
            values[option.dest] = False
        else:
            i += 1
            if i == len(argv) or argv[i].startswith("-"):
                return None  # a missing value, or one argparse may read as an option
            value = argv[i]
            if option.choices is not None and value not in option.choices:
                return None
            if option.action == "append":
                current = values[option.dest]
                values[option.dest] = [*current, value] if isinstance(current, list) else [value]
            else:
                values[option.dest] = value
        i += 1
    from types import SimpleNamespace

    return SimpleNamespace(**values)


def _load(module_name: str) -> Any:
    """``importlib.import_module`` for a command module, without importing importlib."""
    __import__(module_name)
    return sys.modules[module_name]


def _find_command(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None, env: Env | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = env or Env(stdout=sys.stdout, stderr=sys.stderr)
    env.json = "--json" in argv
    try:
        args = parse_simple(argv)
        if args is None:
            command = _find_command(argv)
            parser = build_parser(command, only_command=command is not None and argv[0] == command)
            try:
                args = parser.parse_args(argv)
            except SystemExit as exc:  # --help / --version
                return int(exc.code or 0)
            if args.command is None:
                parser.print_help(env.stdout)
                return int(ExitCode.USAGE)
        _lazylog.configure(  # logging.basicConfig, once something is logged
            level=_lazylog.DEBUG if getattr(args, "verbose", False) else _lazylog.WARNING,
            stream=env.stderr,
            format="vpnguard: %(levelname)s %(name)s: %(message)s",
        )
        module = _load(COMMANDS[args.command][0])
        return int(module.run(args, env))
    except VpnguardError as exc:
        return _report_error(env, exc)
    except BrokenPipeError:
        # The reader went away (`vpnguard status --json | head`): not an error of ours.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.OK)
    except KeyboardInterrupt:
        return _report_error(env, VpnguardError("interrupted"))
    except Exception as exc:  # the contract: a clear message and exit 5, not a traceback
        _lazylog.get_logger(__name__).debug("internal error", exc_info=True)
        return _report_error(env, internal_error(exc))


def _report_error(env: Env, exc: VpnguardError) -> int:
    if env.json:
        env.emit_json(envelope(exc))
    env.warn(f"vpnguard: error: {exc.message}")
    return int(exc.exit_code)


if __name__ == "__main__":
    sys.exit(main())
