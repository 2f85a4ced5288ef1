"""The RFC 5389 client: message coding, and real probes against coturn."""

from __future__ import annotations

import struct

import pytest

from vpnguard.core.leakcheck.stun import (
    MAGIC_COOKIE,
    StunUrlError,
    build_request,
    parse_ice_url,
    parse_response,
    stun_probe,
)

TID = bytes(range(12))


def xor_mapped(addr: bytes, port: int) -> bytes:
    xport = port ^ (MAGIC_COOKIE >> 16)
    key = struct.pack("!I", MAGIC_COOKIE) + TID
    xaddr = bytes(b ^ key[i] for i, b in enumerate(addr))
    fam = 1 if len(addr) == 4 else 2
    value = struct.pack("!BBH", 0, fam, xport) + xaddr
    return struct.pack("!HH", 0x0020, len(value)) + value


def message(attrs: bytes, mtype: int = 0x0101, tid: bytes = TID) -> bytes:
    return struct.pack("!HHI12s", mtype, len(attrs), MAGIC_COOKIE, tid) + attrs


def test_request_layout() -> None:
    req = build_request(TID)
    assert len(req) == 20 and req[:2] == b"\x00\x01" and req[8:] == TID


def test_xor_mapped_v4_and_v6() -> None:
    assert parse_response(message(xor_mapped(bytes([192, 168, 77, 2]), 5000)), TID) == (
        "192.168.77.2",
        5000,
    )
    v6 = bytes.fromhex("20010db8000000000000000000000005")
    assert parse_response(message(xor_mapped(v6, 1)), TID) == ("2001:db8::5", 1)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01" * 19,
        message(b"", tid=bytes(12)),  # another transaction
        message(b"", mtype=0x0111),  # error response
        message(b""),  # success without an address
        message(struct.pack("!HH", 0x0020, 2) + b"\x00\x01"),  # truncated attribute
    ],
)
def test_bad_responses_raise_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_response(data, TID)


def test_urls() -> None:
    u = parse_ice_url("stun:198.51.100.1:3478")
    assert (u.scheme, u.host, u.port, u.is_turn) == ("stun", "198.51.100.1", 3478, False)
    assert parse_ice_url("turns:[2001:db8::1]").port == 5349
    assert parse_ice_url("turn:t.example:443?transport=tcp").transport == "tcp"
    for bad in ("http://x", "stun:", "stun:a b", "stun:x:99999", "stun:x?transport=sctp"):
        with pytest.raises(StunUrlError):
            parse_ice_url(bad)


def test_probe_real_coturn(coturn: str) -> None:
    u = parse_ice_url(coturn)
    p = stun_probe(u.host, u.port)
    assert p.mapped == "127.0.0.1" and p.error is None and p.rtt_ms is not None


def test_probe_pinned_to_loopback(coturn: str) -> None:
    u = parse_ice_url(coturn)
    p = stun_probe(u.host, u.port, interface="lo")
    # Root pins with SO_BINDTODEVICE; without the capability the failure is reported.
    assert p.mapped == "127.0.0.1" or (p.error and "bind to device" in p.error)


def test_probe_dead_port_reports_instead_of_raising(dead_stun: str) -> None:
    u = parse_ice_url(dead_stun)
    p = stun_probe(u.host, u.port, timeout=0.5)
    assert p.mapped is None and p.error


def test_probe_unresolvable_host() -> None:
    p = stun_probe("no-such-host.invalid", 3478, timeout=0.5)
    assert p.mapped is None and p.error and "resolve" in p.error
