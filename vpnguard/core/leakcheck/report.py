"""The check report: one result per browser plus the network facts it was judged by.

``CheckReport.to_json()`` is exactly what ``vpnguard check --json`` prints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from vpnguard.core.errors import ExitCode
from vpnguard.core.leakcheck.candidates import Candidate
from vpnguard.core.leakcheck.verdict import Finding, PathFacts, Verdict
from vpnguard.core.model import NetworkState

SCHEMA_VERSION = 2


@dataclasses.dataclass(frozen=True)
class Rejected:
    line: str
    error: str


class ViewName(StrEnum):
    """Through whose eyes a browser is checked."""

    NO_PERMISSION = "no_permission"  # any page: no camera/microphone permission
    MEDIA_PERMISSION = "media_permission"  # a site you allowed camera and microphone

    @property
    def label(self) -> str:
        return {
            ViewName.NO_PERMISSION: "any page",
            ViewName.MEDIA_PERMISSION: "a site allowed camera and microphone",
        }[self]


# Worst first: the browser's verdict is the worst of its views.
_SEVERITY = {
    Verdict.LEAK: 0,
    Verdict.ERROR: 1,
    Verdict.INCONCLUSIVE: 2,
    Verdict.PASS: 3,
    Verdict.WEBRTC_DISABLED: 4,
    Verdict.SKIPPED: 5,
}


def worst(verdicts: Sequence[Verdict]) -> Verdict:
    return min(verdicts, key=lambda v: _SEVERITY[v]) if verdicts else Verdict.ERROR


@dataclasses.dataclass(frozen=True)
class ViewResult:
    name: ViewName
    verdict: Verdict
    reason: str
    candidates: tuple[str, ...] = ()
    parsed: tuple[Candidate, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    findings: tuple[Finding, ...] = ()
    gathering_state: str | None = None
    timed_out: bool = False
    settled: bool = False  # judged after candidates stopped coming, gathering still open
    proof: str | None = None  # why gathering could end before the browser said complete
    media: str | None = None  # what getUserMedia did (media view only)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    candidate_ms: tuple[float, ...] = ()  # page time of each candidate (benchmark timeline)

    @property
    def leaks(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.leak)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name.value,
            "verdict": self.verdict.value,
            "reason": self.reason,
            **_evidence_json(self),
            "gathering_state": self.gathering_state,
            "timed_out": self.timed_out,
            "settled": self.settled,
            "proof": self.proof,
            "media": self.media,
            "timings": dict(self.timings),
        }


class CandidateType(StrEnum):
    HOST = "host"
    SRFLX = "srflx"
    PRFLX = "prflx"
    RELAY = "relay"


@dataclasses.dataclass(frozen=True)
class CallPath:
    """The nominated, succeeded candidate pair's local side, from getStats()."""

    local: CandidateType
    protocol: str | None  # "udp" | "tcp"
    relay_protocol: str | None  # "udp" | "tcp" | "tls" for a relay candidate, else None
    remote: CandidateType | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "local": self.local.value,
            "protocol": self.protocol,
            "relay_protocol": self.relay_protocol,
            "remote": self.remote.value if self.remote else None,
        }

    def describe(self) -> str:
        """Plain words: "TURN over TCP", "a direct connection"."""
        if self.local is CandidateType.RELAY:
            return f"TURN over {(self.relay_protocol or self.protocol or '?').upper()}"
        if self.local is CandidateType.HOST:
            return f"a direct connection ({(self.protocol or '?').upper()})"
        return f"a direct connection through NAT ({(self.protocol or '?').upper()})"


@dataclasses.dataclass(frozen=True)
class CallResult:
    """A real call between two RTCPeerConnections in the page, under the browser's policy."""

    name: str
    connected: bool
    reason: str
    path: CallPath | None = None
    ms: int | None = None
    ice_servers: tuple[str, ...] = ()  # URLs only
    relay_only: bool = False
    view: ViewName | None = None
    errors: tuple[str, ...] = ()  # icecandidateerror events, "code text (url)"
    local_types: tuple[str, ...] = ()

    def summary(self) -> str:
        """ "calls work through TURN over TCP" / "no call path: calls are blocked" """
        if self.connected and self.path is not None:
            return f"calls work through {self.path.describe()}"
        if self.connected:
            return "calls work"
        return f"no call: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "connected": self.connected,
            "path": self.path.to_json() if self.path else None,
            "ms": self.ms,
            "reason": self.reason,
            "ice_servers": list(self.ice_servers),
            "relay_only": self.relay_only,
            "view": self.view.value if self.view else None,
            "errors": list(self.errors),
            "local_types": list(self.local_types),
        }


@dataclasses.dataclass(frozen=True)
class BrowserResult:
    browser_id: str
    name: str
    family: str | None
    version: str | None
    path: str | None
    protection: str  # Protection value read from disk, or "unknown" (interactive mode)
    verdict: Verdict  # the worst of the views
    reason: str
    webrtc: bool | None = None
    user_agent: str | None = None
    candidates: tuple[str, ...] = ()  # raw, every view's, exactly as the pages got them
    parsed: tuple[Candidate, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    findings: tuple[Finding, ...] = ()
    gathering_state: str | None = None
    timed_out: bool = False
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    exit_status: int | None = None  # the browser's exit code when it died before reporting
    views: tuple[ViewResult, ...] = ()
    calls: tuple[CallResult, ...] = ()

    @property
    def leaks(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.leak)

    @property
    def call(self) -> CallResult | None:
        """The first call that connected, else the first call."""
        return next((c for c in self.calls if c.connected), self.calls[0] if self.calls else None)

    def view(self, name: ViewName) -> ViewResult | None:
        return next((v for v in self.views if v.name is name), None)

    def summary(self) -> str:
        """One line a person reads: "Chromium: strict, no leak"."""
        prot = "not protected" if self.protection == "none" else self.protection
        return f"{self.name}: {prot}, {self.verdict.value} ({self.reason})"

    def to_json(self) -> dict[str, Any]:
        call = self.call
        return {
            "id": self.browser_id,
            "name": self.name,
            "family": self.family,
            "version": self.version,
            "path": self.path,
            "protection": self.protection,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "webrtc": self.webrtc,
            "user_agent": self.user_agent,
            **_evidence_json(self),
            "gathering_state": self.gathering_state,
            "timed_out": self.timed_out,
            "timings": dict(self.timings),
            "exit_status": self.exit_status,
            "views": [v.to_json() for v in self.views],
            "call": call.to_json() if call else None,
            "calls": [c.to_json() for c in self.calls],
        }


def _evidence_json(result: ViewResult | BrowserResult) -> dict[str, Any]:
    """What a view and a browser's result both report: the raw candidates, how each
    was read, and what the verdict found in them."""
    return {
        "candidates": list(result.candidates),
        "parsed": [c.to_json() for c in result.parsed],
        "rejected": [dataclasses.asdict(r) for r in result.rejected],
        "findings": [f.to_json() for f in result.findings],
        "leaks": [f.to_json() for f in result.leaks],
    }


@dataclasses.dataclass(frozen=True)
class CheckReport:
    browsers: tuple[BrowserResult, ...]
    network: NetworkState | None
    paths: PathFacts
    ice_servers: tuple[str, ...]  # URLs only: credentials never appear in a report
    interactive: bool = False
    duration_ms: float = 0.0

    @property
    def leak(self) -> bool:
        return any(b.verdict is Verdict.LEAK for b in self.browsers)

    @property
    def exit_code(self) -> ExitCode:
        """1 when any browser leaks; else 4 when any check failed or was inconclusive; else 0.

        4 ("refused: environment") because a crashed browser or an unreachable
        STUN server is a property of the environment, and must never read as
        "no leak" to a script.
        """
        if self.leak:
            return ExitCode.LEAK
        if any(b.verdict in (Verdict.ERROR, Verdict.INCONCLUSIVE) for b in self.browsers):
            return ExitCode.REFUSED
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "ok": self.exit_code is not ExitCode.REFUSED,
            "leak": self.leak,
            "exit_code": int(self.exit_code),
            "interactive": self.interactive,
            "ice_servers": list(self.ice_servers),
            "network": self.network.to_json() if self.network else None,
            "paths": self.paths.to_json(),
            "browsers": [b.to_json() for b in self.browsers],
            "duration_ms": round(self.duration_ms, 1),
        }
