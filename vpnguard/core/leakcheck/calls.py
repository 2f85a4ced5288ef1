"""What a call the page placed proves, in plain words (pure functions).

The page reports facts only: whether the echo came back, the getStats()
path, which candidate types each side gathered, ``icecandidateerror`` events
and the ICE state. The reason a person reads is derived here from those
facts, so each wording is unit-tested and never guessed by the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vpnguard.core.leakcheck.report import CallPath, CallResult, CandidateType, ViewName
from vpnguard.core.leakcheck.server import PageCall

# icecandidateerror codes (W3C webrtc-pc, RFC 8656): 401 = credentials refused;
# 701 = the server could not be reached (no answer / DNS / connect failure).
AUTH_CODES = frozenset({401, 431, 441})
UNREACHABLE_CODES = frozenset({701})


def _path(raw: dict[str, object] | None) -> CallPath | None:
    if not raw:
        return None
    try:
        local = CandidateType(str(raw.get("local")))
    except ValueError:
        return None
    remote_raw = raw.get("remote")
    try:
        remote = CandidateType(str(remote_raw)) if remote_raw else None
    except ValueError:
        remote = None
    proto = raw.get("protocol")
    relay = raw.get("relay_protocol")
    return CallPath(
        local=local,
        protocol=str(proto).lower() if proto in ("udp", "tcp", "UDP", "TCP") else None,
        relay_protocol=(
            str(relay).lower()
            if local is CandidateType.RELAY and str(relay).lower() in ("udp", "tcp", "tls")
            else None
        ),
        remote=remote,
    )


def _errors(call: PageCall) -> tuple[str, ...]:
    return tuple(
        f"{e.code} {e.text}".strip() + (f" ({e.url})" if e.url else "") for e in call.errors
    )


def no_path_reason(browser_name: str, protection: str) -> str:
    if protection not in ("none", "unknown", "self_managed", ""):
        return f"{protection} leaves {browser_name} no path: calls are blocked"
    return f"{browser_name} gathered no ICE candidate: calls are blocked"


def judge_call(
    call: PageCall,
    *,
    browser_name: str,
    protection: str,
    ice_urls: Sequence[str] = (),
    relay_only: bool = False,
    view: ViewName | None = None,
) -> CallResult:
    """One page call -> :class:`CallResult` with a plain reason."""
    path = _path(dict(call.path) if call.path else None)
    base: dict[str, Any] = {
        "name": call.name,
        "ms": call.ms,
        "ice_servers": tuple(ice_urls),
        "relay_only": relay_only,
        "view": view,
        "errors": _errors(call),
        "local_types": call.local_types,
    }
    ms = f" in {call.ms} ms" if call.ms is not None else ""
    if call.connected:
        how = path.describe() if path else "a path getStats() did not name"
        return CallResult(connected=True, path=path, reason=f"connected{ms} through {how}", **base)
    codes = {e.code for e in call.errors}
    turn = [u for u in ice_urls if u.startswith("turn")]
    if call.error:
        reason = f"the call could not start: {call.error}"
    elif codes & AUTH_CODES:
        reason = "the TURN server refused the credentials (401 Unauthorized)"
    elif not call.local_types and not call.remote_types and codes & UNREACHABLE_CODES and turn:
        reason = f"the TURN server could not be reached ({', '.join(turn)})"
    elif (
        relay_only
        and turn
        and not call.local_types
        and protection in ("none", "unknown", "self_managed", "")
    ):
        # No level in the way, no error event, no relay candidate: nobody answered.
        reason = f"no answer from the TURN server ({', '.join(turn)}): unreachable?"
    elif not call.local_types or not call.remote_types:
        reason = no_path_reason(browser_name, protection)
        if relay_only and turn:
            reason += f" (no relay candidate from {', '.join(turn)})"
        elif relay_only:
            reason += " (relay only, and no TURN server given)"
    elif call.ice_state == "failed":
        kinds = ", ".join(sorted(set(call.local_types)))
        reason = f"no candidate pair worked (ICE failed; gathered {kinds})"
    elif call.timed_out:
        reason = f"no connection{ms} (timed out; ICE state {call.ice_state or 'unknown'})"
    else:
        reason = f"no connection (ICE state {call.ice_state or 'unknown'})"
    tls = [u for u in turn if u.startswith("turns:")]
    if tls and not call.local_types and not codes & AUTH_CODES and not call.error:
        # Seen (lab, coturn with a self-signed certificate): Chromium reports 701, Firefox
        # ESR nothing; Chromium with --ignore-certificate-errors then connects over TLS.
        reason += "; TURN over TLS needs a certificate the browser trusts"
    return CallResult(connected=False, path=None, reason=reason, **base)


def missing_call(
    name: str, why: str, *, ice_urls: Sequence[str] = (), relay_only: bool = False
) -> CallResult:
    """A call the page never reported (WebRTC disabled, browser crashed, tampered run)."""
    return CallResult(
        name=name, connected=False, reason=why, ice_servers=tuple(ice_urls), relay_only=relay_only
    )
