"""The embedded WebRTC leak check: page + local server, browser runner, parser, verdict.

Entry point: :func:`run_check`. The parser (:mod:`.candidates`) and the
verdict (:mod:`.verdict`) are pure; :mod:`.server`, :mod:`.runner` and
:mod:`.stun` touch sockets and processes. No Qt anywhere here.
"""

from __future__ import annotations

from vpnguard.core.leakcheck.candidates import Candidate, CandidateError, parse_candidate
from vpnguard.core.leakcheck.report import (
    SCHEMA_VERSION,
    BrowserResult,
    CallPath,
    CallResult,
    CandidateType,
    CheckReport,
    ViewName,
    ViewResult,
)
from vpnguard.core.leakcheck.runner import (
    DEFAULT_STUN,
    DEFAULT_VIEWS,
    TurnServer,
    call_spec,
    measure_paths,
    run_check,
)
from vpnguard.core.leakcheck.server import CallSpec
from vpnguard.core.leakcheck.stun import StunProbe, parse_ice_url, stun_probe
from vpnguard.core.leakcheck.verdict import Finding, PathFacts, Verdict, judge

__all__ = [
    "DEFAULT_STUN",
    "DEFAULT_VIEWS",
    "SCHEMA_VERSION",
    "BrowserResult",
    "CallPath",
    "CallResult",
    "CallSpec",
    "Candidate",
    "CandidateError",
    "CandidateType",
    "CheckReport",
    "Finding",
    "PathFacts",
    "StunProbe",
    "TurnServer",
    "Verdict",
    "ViewName",
    "ViewResult",
    "call_spec",
    "judge",
    "measure_paths",
    "parse_candidate",
    "parse_ice_url",
    "run_check",
    "stun_probe",
]
