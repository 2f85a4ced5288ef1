"""Plain reasons for calls, derived from what the page observed (pure)."""

from __future__ import annotations

from vpnguard.core.leakcheck.calls import judge_call
from vpnguard.core.leakcheck.report import CandidateType, ViewName
from vpnguard.core.leakcheck.server import PageCall, PageCallError


def page_call(**kw: object) -> PageCall:
    base: dict[str, object] = {
        "name": "c",
        "connected": False,
        "ms": 1200,
        "ice_state": "checking",
        "gathering": ("complete", "complete"),
        "local_types": (),
        "remote_types": (),
        "errors": (),
        "path": None,
        "error": None,
        "timed_out": False,
    }
    base.update(kw)
    return PageCall(**base)  # type: ignore[arg-type]


def judge(call: PageCall, protection: str = "none", **kw: object):  # type: ignore[no-untyped-def]
    return judge_call(call, browser_name="Firefox ESR", protection=protection, **kw)  # type: ignore[arg-type]


def test_connected_through_turn_over_tcp() -> None:
    r = judge(
        page_call(
            connected=True,
            ms=85,
            local_types=("relay",),
            remote_types=("relay",),
            path={"local": "relay", "protocol": "udp", "relay_protocol": "tcp", "remote": "relay"},
        ),
        view=ViewName.MEDIA_PERMISSION,
    )
    assert r.connected and r.path is not None
    assert r.path.local is CandidateType.RELAY and r.path.relay_protocol == "tcp"
    assert r.summary() == "calls work through TURN over TCP"
    assert r.reason == "connected in 85 ms through TURN over TCP"
    assert r.to_json()["path"] == {
        "local": "relay",
        "protocol": "udp",
        "relay_protocol": "tcp",
        "remote": "relay",
    }


def test_direct_host_path_has_no_relay_protocol() -> None:
    r = judge(
        page_call(
            connected=True,
            path={"local": "host", "protocol": "udp", "relay_protocol": "udp", "remote": "host"},
        )
    )
    assert r.path is not None and r.path.relay_protocol is None
    assert r.summary() == "calls work through a direct connection (UDP)"


def test_no_candidates_under_a_level_names_the_level() -> None:
    r = judge(page_call(gathering=("new", "new")), protection="strict")
    assert not r.connected and r.path is None
    assert r.reason == "strict leaves Firefox ESR no path: calls are blocked"
    assert r.summary() == "no call: strict leaves Firefox ESR no path: calls are blocked"


def test_no_candidates_without_policy() -> None:
    r = judge(page_call())
    assert r.reason == "Firefox ESR gathered no ICE candidate: calls are blocked"


def test_turn_auth_failure_wins() -> None:
    r = judge(
        page_call(errors=(PageCallError(401, "Unauthorized", "turn:x:3478"),)),
        ice_urls=("turn:x:3478?transport=udp",),
        relay_only=True,
    )
    assert r.reason == "the TURN server refused the credentials (401 Unauthorized)"
    assert r.errors == ("401 Unauthorized (turn:x:3478)",)


def test_unreachable_turn() -> None:
    r = judge(
        page_call(errors=(PageCallError(701, "timed out", ""),)),
        ice_urls=("turn:198.51.100.9:3478?transport=tcp",),
    )
    assert r.reason == "the TURN server could not be reached (turn:198.51.100.9:3478?transport=tcp)"


def test_relay_only_without_relay_candidate() -> None:
    r = judge(page_call(), "strict", ice_urls=("turn:x:1?transport=udp",), relay_only=True)
    assert r.reason == (
        "strict leaves Firefox ESR no path: calls are blocked "
        "(no relay candidate from turn:x:1?transport=udp)"
    )
    # No level in the way and no answer at all: the server is what failed.
    r = judge(page_call(), ice_urls=("turn:x:1?transport=udp",), relay_only=True)
    assert r.reason == "no answer from the TURN server (turn:x:1?transport=udp): unreachable?"


def test_ice_failed_and_timeout() -> None:
    r = judge(page_call(local_types=("host",), remote_types=("host",), ice_state="failed"))
    assert r.reason == "no candidate pair worked (ICE failed; gathered host)"
    r = judge(page_call(local_types=("srflx",), remote_types=("srflx",), timed_out=True))
    assert r.reason == "no connection in 1200 ms (timed out; ICE state checking)"


def test_page_error_and_unknown_path_fields() -> None:
    assert judge(page_call(error="InvalidAccessError")).reason.startswith(
        "the call could not start: InvalidAccessError"
    )
    r = judge(page_call(connected=True, path={"local": "bogus"}))
    assert r.connected and r.path is None and "getStats() did not name" in r.reason


def test_turns_failure_names_the_certificate() -> None:
    r = judge(
        page_call(errors=(PageCallError(701, "Failed to establish connection", ""),)),
        ice_urls=("turns:t.example:5349?transport=tcp",),
        relay_only=True,
    )
    assert r.reason == (
        "the TURN server could not be reached (turns:t.example:5349?transport=tcp); "
        "TURN over TLS needs a certificate the browser trusts"
    )
