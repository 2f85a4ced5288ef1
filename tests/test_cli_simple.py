"""cli.parse_simple gives exactly argparse's namespace, or declines (then argparse parses).

For every command whose options it models, every combination of up to three of
its option strings (each with a plain value, or each allowed choice) is parsed
both ways; any difference fails. The simple parser must also decline whatever
it does not model, so that argparse keeps deciding help, errors and abbreviations.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from vpnguard import cli
from vpnguard.core.errors import UsageError

# Commands whose add_arguments use only what the simple parser models; the others
# (subparsers, type=, required=, mutually exclusive groups) always go to argparse.
SIMPLE = ("status", "protect", "unprotect", "watch", "gui")
NOT_SIMPLE = ("check", "export", "hook")


def _argparse(argv: list[str]) -> dict[str, Any] | None:
    parser = cli.build_parser(argv[0], only_command=True)
    try:
        return vars(parser.parse_args(argv))
    except (UsageError, SystemExit):
        return None


def _simple(argv: list[str]) -> dict[str, Any] | None:
    ns = cli.parse_simple(argv)
    return None if ns is None else vars(ns)


def _recorded(command: str) -> cli._Recorder:
    recorder = cli._Recorder()
    cli._load(cli.COMMANDS[command][0]).add_arguments(recorder)
    return recorder


def _uses(name: str, option: Any) -> Iterator[list[str]]:
    if option.action in ("store_true", "store_false"):
        yield [name]
    elif option.choices is not None:
        for choice in option.choices:
            yield [name, choice]
    else:
        yield [name, "value"]
        yield [name, ""]


@pytest.mark.parametrize("command", SIMPLE)
def test_every_combination_parses_as_argparse_does(command: str) -> None:
    options = _recorded(command).options
    assert options, command
    seen = 0
    for k in range(4):
        for names in itertools.combinations(sorted(options), k):
            for uses in itertools.product(*(_uses(n, options[n]) for n in names)):
                argv = [command, *itertools.chain.from_iterable(uses)]
                expected = _argparse(argv)
                assert expected is not None, argv
                assert _simple(argv) == expected, argv
                seen += 1
    assert seen > 10
    # repeated options: the last store wins, appends accumulate, flags stay set
    for name, option in options.items():
        for first, second in itertools.product(_uses(name, option), repeat=2):
            argv = [command, *first, *second]
            assert _simple(argv) == _argparse(argv), argv


@pytest.mark.parametrize("command", NOT_SIMPLE)
def test_commands_with_other_argparse_features_are_left_to_argparse(command: str) -> None:
    with pytest.raises(cli._Unsupported):
        _recorded(command)
    assert cli.parse_simple([command]) is None


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--version"],
        ["-h"],
        ["status", "-h"],
        ["status", "--help"],
        ["status", "--jso"],  # an abbreviation argparse accepts
        ["status", "--json=1"],
        ["status", "--root=/x"],
        ["status", "-vv"],
        ["status", "--"],
        ["status", "--root"],  # a missing value
        ["status", "--root", "-x"],  # a value argparse may read as an option
        ["status", "--root", "--json"],
        ["status", "extra"],
        ["status", "--level", "strict"],  # another command's option
        ["protect", "--level", "bogus"],  # not a choice
        ["-v", "status"],
        ["nope"],
    ],
)
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert cli.parse_simple(argv) is None


def test_defaults_are_argparses_own_objects() -> None:
    argv = ["watch"]
    simple, full = _simple(argv), _argparse(argv)
    assert simple == full
    assert simple is not None and simple["vpn"] == [] and simple["level"] == "strict"
    grown = _simple(["watch", "--vpn", "wg*", "--vpn", "tun*"])
    assert grown is not None and grown["vpn"] == ["wg*", "tun*"]
    assert simple["vpn"] == []  # appending never changes the default list
