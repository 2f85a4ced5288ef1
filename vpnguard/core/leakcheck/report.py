"""The check report: one result per browser plus the network facts it was judged by.

``CheckReport.to_json()`` is exactly what ``vpnguard check --json`` prints.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from vpnguard.core.errors import ExitCode
from vpnguard.core.leakcheck.candidates import Candidate
from vpnguard.core.leakcheck.verdict import Finding, PathFacts, Verdict
from vpnguard.core.model import NetworkState

SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Rejected:
    line: str
    error: str


@dataclasses.dataclass(frozen=True)
class BrowserResult:
    browser_id: str
    name: str
    family: str | None
    version: str | None
    path: str | None
    protection: str  # Protection value read from disk, or "unknown" (interactive mode)
    verdict: Verdict
    reason: str
    webrtc: bool | None = None
    user_agent: str | None = None
    candidates: tuple[str, ...] = ()  # raw, exactly as the page got them
    parsed: tuple[Candidate, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    findings: tuple[Finding, ...] = ()
    gathering_state: str | None = None
    timed_out: bool = False
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    exit_status: int | None = None  # the browser's exit code when it died before reporting

    @property
    def leaks(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.leak)

    def summary(self) -> str:
        """One line a person reads: "Chromium: strict, no leak"."""
        prot = "not protected" if self.protection == "none" else self.protection
        return f"{self.name}: {prot}, {self.verdict.value} ({self.reason})"

    def to_json(self) -> dict[str, Any]:
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
            "candidates": list(self.candidates),
            "parsed": [c.to_json() for c in self.parsed],
            "rejected": [dataclasses.asdict(r) for r in self.rejected],
            "findings": [f.to_json() for f in self.findings],
            "leaks": [f.to_json() for f in self.leaks],
            "gathering_state": self.gathering_state,
            "timed_out": self.timed_out,
            "timings": dict(self.timings),
            "exit_status": self.exit_status,
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
