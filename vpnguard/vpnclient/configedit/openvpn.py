"""Add or remove the ``script-security``/``up``/``down`` lines in an OpenVPN config (text → text).

OpenVPN keeps only the last ``up`` and the last ``down`` directive, so a
config that already runs its own up/down script is refused rather than
silently overridden: chain it by hand. ``script-security`` must be at least 2
for user scripts; a lower explicit value is the admin's choice and refused.
Inline files (``<ca>...</ca>``) are skipped while parsing.
"""

from __future__ import annotations

import re

from vpnguard.core.errors import RefusedError
from vpnguard.vpnclient.configedit import blocks

KIND = "openvpn"
_TAG_OPEN = re.compile(r"<([A-Za-z0-9_-]+)>")
_TAG_CLOSE = re.compile(r"</([A-Za-z0-9_-]+)>")


def _directives(
    lines: list[str], source: str, skip: blocks.BlockSpan | None
) -> list[tuple[int, list[str]]]:
    out: list[tuple[int, list[str]]] = []
    inline: str | None = None
    for i, line in enumerate(lines):
        if skip is not None and skip.start <= i <= skip.end:
            continue
        text = line.strip()
        if inline is not None:
            m = _TAG_CLOSE.fullmatch(text)
            if m and m.group(1) == inline:
                inline = None
            continue
        if not text or text[0] in "#;":
            continue
        m = _TAG_OPEN.fullmatch(text)
        if m:
            inline = m.group(1)
            continue
        words = text.split()
        if words[0].startswith("--"):
            words[0] = words[0][2:]
        out.append((i, words))
    if inline is not None:
        raise RefusedError(f"{source}: inline <{inline}> is never closed", path=source)
    return out


def block_lines(script_path: str, need_script_security: bool) -> list[str]:
    if any(c in script_path for c in "\"'\\ \t\n#;"):
        raise RefusedError(f"refused script path {script_path!r}: no quotes, spaces, '#' or ';'")
    lines = [blocks.begin_marker("#", KIND)]
    if need_script_security:
        lines.append("script-security 2")
    lines += [f"up {script_path}", f"down {script_path}", blocks.end_marker("#")]
    return lines


def add_hook(text: str, script_path: str, source: str = "config") -> str:
    lines = text.splitlines(keepends=True)
    span = blocks.find_block(lines, "#", source)
    directives = _directives(lines, source, span)
    need_security = True
    for i, words in directives:
        name = words[0]
        if name in {"up", "down"}:
            raise RefusedError(
                f"{source}:{i + 1}: already runs its own {name!r} script; OpenVPN keeps only "
                "one, so call vpnguard's hook from that script instead",
                path=source,
            )
        if name == "script-security":
            level = words[1] if len(words) > 1 else ""
            if not level.isdigit() or int(level) < 2:
                raise RefusedError(
                    f"{source}:{i + 1}: 'script-security {level}' forbids user scripts; "
                    "the hook needs 2",
                    path=source,
                )
            need_security = False
    want = block_lines(script_path, need_security)
    if span is not None:
        have = [line.rstrip("\r\n") for line in lines[span.start : span.end + 1]]
        if have == want:
            return text
        text = blocks.remove_block(lines, span)
        lines = text.splitlines(keepends=True)
    return blocks.insert_block(lines, len(lines) - 1, want)


def remove_hook(text: str, source: str = "config") -> str:
    lines = text.splitlines(keepends=True)
    span = blocks.find_block(lines, "#", source)
    return text if span is None else blocks.remove_block(lines, span)


def runs_as_unprivileged_user(text: str, source: str = "config") -> bool:
    """True when the config drops root (``user``): the down script then runs unprivileged."""
    lines = text.splitlines(keepends=True)
    return any(words[0] == "user" for _, words in _directives(lines, source, None))
