"""A strict parser for regedit's .reg format (version 5.00), for tests only.

Follows what regedit writes and reads: UTF-16 LE with BOM, CRLF line endings,
the header line, ``[HKEY_...\\path]`` (``[-...]`` deletes a key), values as
``"name"="string"`` (escapes ``\\\\`` and ``\\"`` only), ``dword:XXXXXXXX``,
``hex(N):`` byte lists continued with a trailing backslash, and ``"name"=-``
for deletion; ``;`` starts a comment line. Anything else raises ValueError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

HIVES = (
    "HKEY_LOCAL_MACHINE",
    "HKEY_CURRENT_USER",
    "HKEY_CLASSES_ROOT",
    "HKEY_USERS",
    "HKEY_CURRENT_CONFIG",
)
DELETE = object()


@dataclass
class RegKey:
    path: str
    values: dict[str, tuple[str, Any]] = field(default_factory=dict)  # name -> (type, data)


def _string(s: str, pos: int) -> tuple[str, int]:
    if s[pos] != '"':
        raise ValueError(f"expected '\"' at {pos} in {s!r}")
    out = []
    i = pos + 1
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s) or s[i + 1] not in '\\"':
                raise ValueError(f"bad escape in {s!r}")
            out.append(s[i + 1])
            i += 2
        elif c == '"':
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise ValueError(f"unterminated string in {s!r}")


def parse_reg(raw: bytes) -> list[RegKey]:
    if not raw.startswith(b"\xff\xfe"):
        raise ValueError("no UTF-16 LE BOM")
    text = raw[2:].decode("utf-16-le")
    if "\n" in text.replace("\r\n", ""):
        raise ValueError("bare LF: lines must end in CRLF")
    if "\r" in text.replace("\r\n", ""):
        raise ValueError("bare CR")
    lines = text.split("\r\n")
    if lines[0] != "Windows Registry Editor Version 5.00":
        raise ValueError(f"bad header {lines[0]!r}")
    # Join continuation lines.
    logical: list[str] = []
    i = 1
    while i < len(lines):
        line = lines[i]
        while line.endswith("\\") and re.search(r"=hex(\([0-9a-f]+\))?:", line):
            i += 1
            line = line[:-1] + lines[i].lstrip(" ")
        logical.append(line)
        i += 1
    keys: list[RegKey] = []
    for line in logical:
        if not line or line.startswith(";"):
            continue
        if line.startswith("["):
            m = re.fullmatch(r"\[(-?)([^\[\]]+)\]", line)
            if not m or m.group(2).split("\\")[0] not in HIVES or "\\\\" in m.group(2):
                raise ValueError(f"bad key line {line!r}")
            keys.append(RegKey(m.group(1) + m.group(2)))
            continue
        if not keys:
            raise ValueError(f"value before any key: {line!r}")
        if line.startswith("@="):
            name, rest = "", line[2:]
        else:
            name, end = _string(line, 0)
            if line[end : end + 1] != "=":
                raise ValueError(f"expected = in {line!r}")
            rest = line[end + 1 :]
        if rest == "-":
            keys[-1].values[name] = ("DELETE", DELETE)
        elif rest.startswith('"'):
            data, end = _string(rest, 0)
            if end != len(rest):
                raise ValueError(f"trailing text in {line!r}")
            keys[-1].values[name] = ("REG_SZ", data)
        elif m := re.fullmatch(r"dword:([0-9a-f]{8})", rest):
            keys[-1].values[name] = ("REG_DWORD", int(m.group(1), 16))
        elif m := re.fullmatch(r"hex(?:\(([0-9a-f]+)\))?:((?:[0-9a-f]{2},)*[0-9a-f]{2})?", rest):
            kind = int(m.group(1) or "3", 16)
            data = bytes(int(b, 16) for b in (m.group(2) or "").split(",") if b)
            if kind == 7:
                if len(data) % 2 or not data.endswith(b"\0\0\0\0"):
                    raise ValueError("REG_MULTI_SZ must end with two UTF-16 NULs")
                strings = data.decode("utf-16-le")[:-2].split("\0")
                keys[-1].values[name] = ("REG_MULTI_SZ", strings)
            else:
                keys[-1].values[name] = (f"hex({kind})", data)
        else:
            raise ValueError(f"bad value line {line!r}")
    return keys
