"""Parse ICE candidate lines (RFC 8839 section 5.1) into plain data.

The lines come from a web page, so from anywhere: every field is checked and
a bad line yields :class:`CandidateError`, never an unhandled exception. The
verdict must see exactly what the browser offered, so the raw line is kept.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re

from vpnguard.core.model import JsonMixin

MAX_LINE = 2048
_FOUNDATION = re.compile(r"^[A-Za-z0-9+/]{1,32}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,256}$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?$"
)
TYPES = frozenset({"host", "srflx", "prflx", "relay"})
TCPTYPES = frozenset({"active", "passive", "so"})


class CandidateError(ValueError):
    """A candidate line that does not follow the grammar."""


@dataclasses.dataclass(frozen=True)
class Candidate(JsonMixin):
    foundation: str
    component: int
    transport: str  # "udp" | "tcp" (lowercased)
    priority: int
    address: str  # an IP literal (zone id kept) or an FQDN such as "<uuid>.local"
    port: int
    type: str  # host | srflx | prflx | relay
    raddr: str | None = None
    rport: int | None = None
    tcptype: str | None = None
    extensions: tuple[tuple[str, str], ...] = ()
    raw: str = ""

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The address as an IP (zone id dropped), or None for an FQDN."""
        return parse_ip(self.address)


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address from ``text``, ignoring an IPv6 zone id (``fe80::1%eth0``)."""
    bare = text.split("%", 1)[0] if ":" in text else text
    try:
        return ipaddress.ip_address(bare.strip("[]"))
    except ValueError:
        return None


def _int(text: str, what: str, lo: int, hi: int) -> int:
    if not text.isdigit() or len(text) > 10:
        raise CandidateError(f"{what} is not a number: {text[:40]!r}")
    value = int(text)
    if not lo <= value <= hi:
        raise CandidateError(f"{what} {value} out of range {lo}..{hi}")
    return value


def _address(text: str, what: str) -> str:
    if parse_ip(text) is not None:
        if "%" in text:
            zone = text.split("%", 1)[1]
            if not zone or not _TOKEN.match(zone):
                raise CandidateError(f"{what} has a bad zone id")
        return text
    if _HOSTNAME.match(text) and not re.fullmatch(r"[0-9.]+", text):
        # An all-numeric dotted name is a broken IPv4 literal, not a host name.
        return text.lower()
    raise CandidateError(f"{what} is neither an IP address nor a host name: {text[:60]!r}")


def parse_candidate(line: str) -> Candidate:
    """Parse one candidate (``candidate:...`` with or without the ``a=`` prefix)."""
    if not isinstance(line, str):
        raise CandidateError("candidate is not a string")
    if len(line) > MAX_LINE:
        raise CandidateError("candidate line too long")
    text = line.strip()
    if text.startswith("a="):
        text = text[2:]
    if not text.startswith("candidate:"):
        raise CandidateError("does not start with 'candidate:'")
    parts = text[len("candidate:") :].split()
    if len(parts) < 8:
        raise CandidateError(f"only {len(parts)} fields, need at least 8")
    foundation, component, transport, priority, address, port, typ_kw, typ = parts[:8]
    if not _FOUNDATION.match(foundation):
        raise CandidateError(f"bad foundation {foundation[:40]!r}")
    if typ_kw != "typ":
        raise CandidateError("missing 'typ'")
    typ = typ.lower()
    if typ not in TYPES:
        raise CandidateError(f"unknown candidate type {typ[:20]!r}")
    transport = transport.lower()
    if transport not in ("udp", "tcp"):
        raise CandidateError(f"unknown transport {transport[:20]!r}")
    raddr: str | None = None
    rport: int | None = None
    tcptype: str | None = None
    ext: list[tuple[str, str]] = []
    rest = parts[8:]
    if len(rest) % 2:
        raise CandidateError("extension attribute without a value")
    for key, value in zip(rest[::2], rest[1::2], strict=True):
        if not _TOKEN.match(key) or not _TOKEN.match(value):
            raise CandidateError("bad extension attribute")
        if key == "raddr":
            raddr = _address(value, "raddr")
        elif key == "rport":
            rport = _int(value, "rport", 0, 65535)
        elif key == "tcptype":
            if value not in TCPTYPES:
                raise CandidateError(f"bad tcptype {value[:20]!r}")
            tcptype = value
        else:
            ext.append((key, value))
    return Candidate(
        foundation=foundation,
        component=_int(component, "component", 1, 256),
        transport=transport,
        priority=_int(priority, "priority", 0, 2**32 - 1),
        address=_address(address, "address"),
        port=_int(port, "port", 0, 65535),
        type=typ,
        raddr=raddr,
        rport=rport,
        tcptype=tcptype,
        extensions=tuple(ext),
        raw=line[:MAX_LINE],
    )
