"""The RFC 8839 candidate parser: real lines from both engines, and garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpnguard.core.leakcheck.candidates import CandidateError, parse_candidate

# Seen in the lab (Chromium 156, firefox-esr 153).
CHROMIUM_SRFLX = (
    "candidate:1513078420 1 udp 1677729535 192.168.77.2 52250 typ srflx raddr 0.0.0.0 "
    "rport 0 generation 0 ufrag N0NE network-cost 999"
)
CHROMIUM_MDNS = (
    "candidate:3091729115 1 udp 2113937151 00c2420e-aa5a-4d88-bb02-acc12231f63e.local 52250 "
    "typ host generation 0 ufrag N0NE network-cost 999"
)
FIREFOX_TCP = (
    "candidate:2 1 TCP 2105524479 2cd88b5a-0b3b-4862-b433-f4dde13fa765.local 9 typ host "
    "tcptype active"
)


def test_chromium_srflx() -> None:
    c = parse_candidate(CHROMIUM_SRFLX)
    assert (c.type, c.transport, c.address, c.port) == ("srflx", "udp", "192.168.77.2", 52250)
    assert (c.raddr, c.rport) == ("0.0.0.0", 0)
    assert ("network-cost", "999") in c.extensions
    assert c.raw == CHROMIUM_SRFLX


def test_mdns_host_and_firefox_tcp() -> None:
    assert parse_candidate(CHROMIUM_MDNS).address.endswith(".local")
    c = parse_candidate("a=" + FIREFOX_TCP)
    assert (c.transport, c.tcptype, c.port) == ("tcp", "active", 9)


def test_ipv6_with_zone_id() -> None:
    c = parse_candidate("candidate:7 1 udp 2122262783 fe80::1c2f:3eff:fe4d:5a6b%eth0 5000 typ host")
    assert c.address == "fe80::1c2f:3eff:fe4d:5a6b%eth0"
    assert c.ip is not None and c.ip.is_link_local


def test_relay_with_raddr() -> None:
    c = parse_candidate(
        "candidate:9 1 udp 41885439 198.51.100.1 50000 typ relay raddr 203.0.113.10 rport 4000"
    )
    assert (c.type, c.raddr, c.rport) == ("relay", "203.0.113.10", 4000)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "candidate:",
        "hello world",
        "candidate:1 1 udp 1 1.2.3.4 5 typ",
        "candidate:1 1 udp 1 1.2.3.4 5 type host",
        "candidate:1 1 udp 1 1.2.3.4 5 typ bogus",
        "candidate:1 1 sctp 1 1.2.3.4 5 typ host",
        "candidate:1 1 udp 1 1.2.3.4 65536 typ host",  # port too large
        "candidate:1 1 udp 1 1.2.3.4 99999999999999999999 typ host",  # huge port
        "candidate:1 1 udp 1 1.2.3.4 -1 typ host",
        "candidate:1 0 udp 1 1.2.3.4 5 typ host",  # component 0
        "candidate:1 1 udp 4294967296 1.2.3.4 5 typ host",  # priority > 2^32-1
        "candidate:1 1 udp 1 999.2.3.4 5 typ host",
        "candidate:1 1 udp 1 <script> 5 typ host",
        "candidate:1 1 udp 1 fe80::1% 5 typ host",  # empty zone id
        "candidate:1 1 udp 1 1.2.3.4 5 typ srflx raddr",  # dangling attribute
        "candidate:1 1 udp 1 1.2.3.4 5 typ srflx raddr x_y rport 1",
        "candidate:1 1 udp 1 1.2.3.4 5 typ srflx rport 70000",
        "candidate:1 1 tcp 1 1.2.3.4 5 typ host tcptype sideways",
        "candidate:" + "a" * 40 + " 1 udp 1 1.2.3.4 5 typ host",  # foundation > 32
        "candidate:1 1 udp 1 1.2.3.4 5 typ host " + "x y " * 2000,  # too long
    ],
)
def test_garbage_is_rejected(line: str) -> None:
    with pytest.raises(CandidateError):
        parse_candidate(line)


def test_non_string_is_rejected() -> None:
    with pytest.raises(CandidateError):
        parse_candidate(None)  # type: ignore[arg-type]


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_candidate_error(text: str) -> None:
    with contextlib.suppress(CandidateError):
        parse_candidate(text)


@given(
    st.lists(
        st.sampled_from(
            [
                "candidate:1",
                "1",
                "udp",
                "TCP",
                "99",
                "1.2.3.4",
                "::1%lo",
                "x.local",
                "typ",
                "host",
                "srflx",
                "raddr",
                "rport",
                "tcptype",
                "so",
                "65535",
                "65536",
                "-",
                "%",
            ]
        ),
        max_size=14,
    )
)
def test_token_soup_never_crashes(tokens: list[str]) -> None:
    try:
        c = parse_candidate(" ".join(tokens))
    except CandidateError:
        return
    assert 0 <= c.port <= 65535
