"""A marked block of lines inside someone else's config file, added and removed exactly.

Removing a block must give back the file byte for byte, so insertion and
removal are written as inverses: a block is whole lines between a begin and an
end marker comment. When it has to go after a last line that has no newline,
the newline is put *before* the block and the block ends without one; removal
notices that shape and takes the newline back.
"""

from __future__ import annotations

import dataclasses

from vpnguard.core.errors import RefusedError

MARK = "vpnguard-hook"


def begin_marker(comment: str, kind: str) -> str:
    return (
        f"{comment} {MARK} begin: added by `vpnguard hook install {kind}`; "
        f"`vpnguard hook uninstall {kind}` removes it"
    )


def end_marker(comment: str) -> str:
    return f"{comment} {MARK} end"


@dataclasses.dataclass(frozen=True)
class BlockSpan:
    start: int  # index of the begin line
    end: int  # index of the end line (inclusive)


def find_block(lines: list[str], comment: str, source: str) -> BlockSpan | None:
    """Locate our block among ``lines`` (each with its line ending), or refuse a broken one."""
    begins = [i for i, line in enumerate(lines) if _is_marker(line, comment, "begin")]
    ends = [i for i, line in enumerate(lines) if _is_marker(line, comment, "end")]
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise RefusedError(
            f"{source}: the vpnguard-hook block markers are damaged "
            f"({len(begins)} begin, {len(ends)} end); fix the file by hand",
            path=source,
        )
    return BlockSpan(begins[0], ends[0])


def _is_marker(line: str, comment: str, which: str) -> bool:
    text = line.strip()
    return text.startswith(f"{comment} {MARK} {which}")


def insert_block(lines: list[str], after: int, block: list[str]) -> str:
    """Insert ``block`` (lines without endings) after index ``after`` (-1: at the top)."""
    nl = _newline_style(lines)
    if after >= 0 and not lines[after].endswith(("\n", "\r")):
        # The anchor is the last line and has no newline: keep the file's "no final
        # newline" shape by moving the missing newline in front of the block.
        new = nl + nl.join(block)
    else:
        new = "".join(line + nl for line in block)
    return "".join(lines[: after + 1]) + new + "".join(lines[after + 1 :])


def remove_block(lines: list[str], span: BlockSpan) -> str:
    kept_before = lines[: span.start]
    kept_after = lines[span.end + 1 :]
    last = lines[span.end]
    if not kept_after and not last.endswith(("\n", "\r")) and kept_before:
        # Inverse of insert_block's end-of-file case.
        prev = kept_before[-1]
        kept_before[-1] = prev.rstrip("\r\n")
    return "".join(kept_before) + "".join(kept_after)


def _newline_style(lines: list[str]) -> str:
    for line in lines:
        if line.endswith("\r\n"):
            return "\r\n"
        if line.endswith("\n"):
            return "\n"
    return "\n"


def decode(data: bytes, source: str) -> str:
    if b"\x00" in data:
        raise RefusedError(f"{source}: contains NUL bytes; not a text config", path=source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RefusedError(f"{source}: not UTF-8 text ({exc.reason})", path=source) from exc
