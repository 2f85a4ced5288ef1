"""The house plan, checked: front ends reach core only through its facade; Qt only in gui/.

Every module of the package is parsed with ``ast``; every import counts, at
the top of a module or inside a function (``import x``, ``from x import y``,
relative imports, and ``importlib.import_module("...")`` with a literal name).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "vpnguard"

# What a front end may import from vpnguard.core.
FACADE = {"vpnguard.core.service", "vpnguard.core.model", "vpnguard.core.errors"}

# The front ends, by where their modules live (relative to vpnguard/).
FRONT_ENDS = {
    "cli": ("cli.py", "__main__.py", "commands/"),
    "gui": ("gui/",),
    "vpnclient": ("vpnclient/",),
    "privileged": ("privileged.py", "elevation.py"),
    "api": ("__init__.py",),
}

# Which other front ends a front end may start. The CLI is the command line of
# the VPN-client hooks and auto mode (`vpnguard hook`, `vpnguard watch`) and
# opens the app (`vpnguard gui`); the app asks for elevation through the helper.
MAY_START = {
    "cli": {"vpnguard.vpnclient", "vpnguard.gui.app", "vpnguard.cli", "vpnguard.commands"},
    "gui": {"vpnguard.elevation", "vpnguard.gui"},
    "vpnclient": {"vpnguard.vpnclient"},
    "privileged": {"vpnguard.privileged", "vpnguard.elevation"},
    "api": set(),
}
FRONT_END_PACKAGES = (
    "vpnguard.cli",
    "vpnguard.commands",
    "vpnguard.gui",
    "vpnguard.vpnclient",
    "vpnguard.privileged",
    "vpnguard.elevation",
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, fully qualified module) for every import in ``path``, at any depth.

    ``from a.b import c`` yields ``a.b.c`` (c may be a module or a name in
    ``a.b``; both are checked against the rules, which are prefixes).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    own = _module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def front_end_of(path: Path) -> str | None:
    rel = path.relative_to(PKG).as_posix()
    for front, places in FRONT_ENDS.items():
        for place in places:
            if rel == place or (place.endswith("/") and rel.startswith(place)):
                return front
    return None


def violations(path: Path) -> list[str]:
    """What ``path`` imports that the house plan forbids, as readable lines."""
    front = front_end_of(path)
    rel = path.relative_to(PKG).as_posix()
    out: list[str] = []
    for line, name in imports_of(path):
        if _under(name, "vpnguard.core"):
            if front is None:
                continue
            if name in {"vpnguard.core"} or any(_under(name, f) for f in FACADE):
                continue
            out.append(f"{rel}:{line} imports {name} (front ends use core.service/model/errors)")
        elif front is None and rel.startswith("core/"):
            if any(_under(name, p) for p in FRONT_END_PACKAGES):
                out.append(f"{rel}:{line} imports front end {name} (core never imports upward)")
        elif (
            front is not None
            and any(_under(name, p) for p in FRONT_END_PACKAGES)
            and not any(_under(name, p) for p in MAY_START[front])
        ):
            out.append(f"{rel}:{line} imports front end {name} (not one {front} may use)")
    return out


def all_modules() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def test_front_ends_reach_core_only_through_the_facade() -> None:
    found = [v for p in all_modules() for v in violations(p)]
    assert found == [], "\n".join(found)


def test_every_module_is_classified() -> None:
    """A new top-level module must be placed: front end, or core, or a neutral leaf."""
    neutral = {"schema.py"}
    for p in all_modules():
        rel = p.relative_to(PKG).as_posix()
        assert front_end_of(p) or rel.startswith("core/") or rel in neutral, rel


def _qt_names(path: Path) -> set[str]:
    names = {n.split(".")[0] for _, n in imports_of(path)}
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # names handed to importlib etc. as strings
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value.split(".")[0])
    return names & {"PySide6", "shiboken6"}


def test_only_the_gui_package_imports_qt() -> None:
    offenders = [
        str(p.relative_to(PKG))
        for p in all_modules()
        if p.relative_to(PKG).parts[0] != "gui" and _qt_names(p)
    ]
    assert offenders == []


# The checker itself must see what it claims to see: each kind of import, in a scratch module.
@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("from vpnguard.core.host import Host\n", True),
        ("def f():\n    import vpnguard.core.policy.engine\n", True),
        ("def f():\n    from ..core.browsers import catalog\n", True),
        ("from vpnguard.core import host\n", True),
        ("import importlib\nimportlib.import_module('vpnguard.core.network')\n", True),
        ("from vpnguard.vpnclient.watch import x\n", True),  # the GUI may not start watch
        ("from vpnguard.core import service, model\n", False),
        ("from vpnguard.core.errors import VpnguardError\n", False),
        ("from ..core.model import Verdict\n", False),
        ("from . import backend\n", False),
    ],
)
def test_checker_sees_every_kind_of_import(source: str, bad: bool) -> None:
    scratch = PKG / "gui" / "_architecture_probe.py"
    scratch.write_text(source)
    try:
        assert bool(violations(scratch)) is bad, violations(scratch)
    finally:
        scratch.unlink()


def test_qt_checker_sees_function_local_imports() -> None:
    scratch = PKG / "core" / "_architecture_probe.py"
    scratch.write_text("def f():\n    from PySide6 import QtCore\n")
    try:
        assert _qt_names(scratch) == {"PySide6"}
    finally:
        scratch.unlink()
