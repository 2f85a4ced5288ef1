"""Add or remove vpnguard's ``PostUp``/``PreDown`` lines in a wg-quick config (text → text).

wg-quick reads ``Key = Value`` lines (keys case-sensitive), ``#`` comments,
and one ``[Interface]`` section followed by ``[Peer]`` sections. Every hook
line of the same key runs, in file order, through bash with ``%i`` replaced
by the interface name. Existing ``PostUp`` lines are kept: ours are added in
a marked block at the end of the ``[Interface]`` section.
"""

from __future__ import annotations

from vpnguard.core.errors import RefusedError
from vpnguard.vpnclient.configedit import blocks

KIND = "wireguard"
_SECTIONS = {"[Interface]", "[Peer]"}


def _strip(line: str) -> str:
    return line.split("#", 1)[0].strip()


def parse_check(text: str, source: str) -> tuple[list[str], int]:
    """Check ``text`` is a wg-quick config; return its lines and the index of the
    last line of the ``[Interface]`` section that carries a setting."""
    lines = text.splitlines(keepends=True)
    interface_at: int | None = None
    last_setting: int | None = None
    section: str | None = None
    for i, line in enumerate(lines):
        stripped = _strip(line)
        if not stripped:
            continue
        if stripped.startswith("["):
            if stripped not in _SECTIONS:
                raise RefusedError(
                    f"{source}:{i + 1}: unknown section {stripped!r} (wg-quick knows "
                    "[Interface] and [Peer])",
                    path=source,
                )
            if stripped == "[Interface]":
                if interface_at is not None:
                    raise RefusedError(
                        f"{source}:{i + 1}: a second [Interface] section", path=source
                    )
                interface_at = i
            section = stripped
            continue
        if "=" not in stripped or not stripped.split("=", 1)[0].strip():
            raise RefusedError(
                f"{source}:{i + 1}: not a 'Key = Value' line: {stripped[:60]!r}", path=source
            )
        if section is None:
            raise RefusedError(f"{source}:{i + 1}: a setting before any section", path=source)
        if section == "[Interface]":
            last_setting = i
    if interface_at is None:
        raise RefusedError(f"{source}: no [Interface] section; not a wg-quick config", path=source)
    return lines, last_setting if last_setting is not None else interface_at


def _foreign_vpnguard_lines(lines: list[str], span: blocks.BlockSpan | None) -> list[int]:
    out = []
    for i, line in enumerate(lines):
        if span is not None and span.start <= i <= span.end:
            continue
        if "vpnguard" in _strip(line) and "hook run" in _strip(line):
            out.append(i + 1)
    return out


def block_lines(up_command: str, down_command: str) -> list[str]:
    return [
        blocks.begin_marker("#", KIND),
        f"PostUp = {up_command}",
        f"PreDown = {down_command}",
        blocks.end_marker("#"),
    ]


def add_hook(text: str, up_command: str, down_command: str, source: str = "config") -> str:
    """Return ``text`` with our block in place; unchanged when it is already there."""
    for cmd in (up_command, down_command):
        if "\n" in cmd or "\r" in cmd or "#" in cmd:
            raise RefusedError("hook command must be one line without '#'")
    lines, anchor = parse_check(text, source)
    span = blocks.find_block(lines, "#", source)
    foreign = _foreign_vpnguard_lines(lines, span)
    if foreign:
        raise RefusedError(
            f"{source}: line(s) {foreign} already call vpnguard outside the vpnguard-hook "
            "block; remove them first so the hook does not run twice",
            path=source,
        )
    want = block_lines(up_command, down_command)
    if span is not None:
        have = [line.rstrip("\r\n") for line in lines[span.start : span.end + 1]]
        if have == want:
            return text
        # Same place, new content (e.g. another level): take the old block out first.
        text = blocks.remove_block(lines, span)
        lines, anchor = parse_check(text, source)
    return blocks.insert_block(lines, anchor, want)


def remove_hook(text: str, source: str = "config") -> str:
    """Return ``text`` without our block (byte-exact inverse of :func:`add_hook`)."""
    lines = text.splitlines(keepends=True)
    span = blocks.find_block(lines, "#", source)
    if span is None:
        return text
    return blocks.remove_block(lines, span)


def has_hook(text: str, source: str = "config") -> bool:
    return blocks.find_block(text.splitlines(keepends=True), "#", source) is not None
