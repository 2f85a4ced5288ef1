"""Per-URL WebRTC exceptions (``WebRtcIPHandlingUrl``) and their validation.

Chromium's policy definition (``policy_definitions/WebRtc/WebRtcIPHandlingUrl.yaml``)
takes a list of ``{"url": pattern, "handling": value}`` objects, checked in order;
the first match wins and unmatched pages use ``WebRtcIPHandling`` (Edge:
``WebRtcLocalhostIpHandling``). Patterns follow the enterprise URL-pattern format
(``[scheme://][[*.]]host[:port][/path]``, or ``*``); only the origin is matched.

A pattern we cannot vouch for is refused as a *usage* error (exit 2): it is a
malformed command-line argument, like an unknown browser id, and nothing is written.
"""

from __future__ import annotations

import dataclasses
import re

from vpnguard.core.errors import UsageError

HANDLING_VALUES: tuple[str, ...] = (
    "default",
    "default_public_and_private_interfaces",
    "default_public_interface_only",
    "disable_non_proxied_udp",
)
# What an exception gets when the admin names only the URL: WebRTC works through the
# default-route interface (the VPN in a full tunnel) and local addresses stay hidden.
DEFAULT_EXCEPTION_HANDLING = "default_public_interface_only"
# Handlings that expose local addresses to the matched origin: allowed, but the
# README and manifest say so.
WEAKENING_HANDLINGS = frozenset({"default", "default_public_and_private_interfaces"})

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PATTERN = re.compile(
    r"""
    ^(?:(?P<scheme>\*|[a-z][a-z0-9+.\-]*)://)?
    (?P<host>
        \*
      | (?:\[\*\.\])?(?:LABEL\.)*LABEL\.?
      | \[[0-9a-f:.]+\]
    )
    (?::(?P<port>\*|[0-9]{1,5}))?
    (?P<path>/[!-~]*)?$
    """.replace("LABEL", _LABEL),
    re.IGNORECASE | re.VERBOSE,
)


@dataclasses.dataclass(frozen=True)
class UrlException:
    """One ``WebRtcIPHandlingUrl`` entry."""

    url: str
    handling: str = DEFAULT_EXCEPTION_HANDLING

    def to_policy(self) -> dict[str, str]:
        return {"url": self.url, "handling": self.handling}


def validate_pattern(url: str) -> str:
    """Return ``url`` if it is a Chrome enterprise URL pattern we accept, else raise UsageError."""
    if not url or url != url.strip():
        raise UsageError(f"exception URL {url!r}: empty or surrounded by spaces")
    if not url.isascii() or any(c in url for c in "\"'\\`$<>{}|^ \t\r\n"):
        raise UsageError(
            f"exception URL {url!r}: only ASCII without quotes, backslashes, spaces or "
            "shell/JSON specials is accepted (write international names in punycode)"
        )
    m = _PATTERN.match(url)
    if m is None:
        hint = ""
        if "*." in url and "[*.]" not in url:
            hint = " (a subdomain wildcard is written [*.]example.com, not *.example.com)"
        raise UsageError(
            f"exception URL {url!r} is not a valid Chrome URL pattern{hint}; "
            "examples: https://meet.example.com, https://[*.]example.com:443, [*.]example.org"
        )
    port = m.group("port")
    if port not in (None, "*") and not 0 < int(port) <= 65535:
        raise UsageError(f"exception URL {url!r}: port {port} out of range")
    scheme = (m.group("scheme") or "").lower()
    if scheme in {"javascript", "data", "file", "about", "chrome"}:
        raise UsageError(f"exception URL {url!r}: scheme {scheme!r} has no web origin")
    return url


def parse_exception(text: str) -> UrlException:
    """``URL`` or ``URL=HANDLING`` (HANDLING one of :data:`HANDLING_VALUES`)."""
    url, handling = text, DEFAULT_EXCEPTION_HANDLING
    if "=" in text:
        url, _, handling = text.rpartition("=")
        if handling not in HANDLING_VALUES:
            raise UsageError(
                f"exception {text!r}: handling {handling!r} is not one of "
                + ", ".join(HANDLING_VALUES)
            )
    return UrlException(validate_pattern(url), handling)


def parse_exceptions(items: list[str] | tuple[str, ...] | None) -> tuple[UrlException, ...]:
    """Parse and de-duplicate (first occurrence wins: Chromium matches in order)."""
    out: dict[str, UrlException] = {}
    for item in items or ():
        exc = item if isinstance(item, UrlException) else parse_exception(item)
        out.setdefault(exc.url, exc)
    return tuple(out.values())
