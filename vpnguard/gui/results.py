"""What the window says about leak-check results, and the last check kept per user.

Qt-free and pure apart from :class:`LastCheckStore`. The rule: say only what
was proven. ``pass`` and ``webrtc_disabled`` are proofs of "no leak";
``inconclusive``, ``error`` and ``skipped`` prove nothing and are never
counted as "no leak" anywhere (summary, tray, list).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from vpnguard.core.model import Verdict
from vpnguard.gui.backend import CheckOutcome, CheckResult

log = logging.getLogger(__name__)

SAFE = frozenset({Verdict.PASS, Verdict.WEBRTC_DISABLED})
UNPROVEN = frozenset({Verdict.INCONCLUSIVE, Verdict.ERROR})

#: The list cell: short, plain.
VERDICT_TEXT: Mapping[Verdict, str] = {
    Verdict.PASS: "No leak",
    Verdict.LEAK: "Leak found",
    Verdict.WEBRTC_DISABLED: "No leak (WebRTC off)",
    Verdict.INCONCLUSIVE: "Not proven",
    Verdict.ERROR: "Check failed",
    Verdict.SKIPPED: "Not checked",
}

#: One sentence a person reads before any detail.
VERDICT_SENTENCE: Mapping[Verdict, str] = {
    Verdict.PASS: "Sites cannot see your real address through WebRTC.",
    Verdict.LEAK: "A site could see an address your VPN should hide.",
    Verdict.WEBRTC_DISABLED: "WebRTC is switched off in this browser, so it cannot leak.",
    Verdict.INCONCLUSIVE: (
        "The check could not prove anything: the test page could not reach the internet "
        "the way a site would (for example no STUN server was reachable)."
    ),
    Verdict.ERROR: "The check did not finish in this browser.",
    Verdict.SKIPPED: "This browser manages WebRTC itself and was not checked.",
}

VIEW_NAMES: Mapping[str, str] = {
    "no_permission": "a site you did not allow your camera",
    "media_permission": "a site you allowed your camera or microphone",
}

RELAY = {"udp": "over UDP", "tcp": "over TCP", "tls": "over TLS"}


def views_sentence(result: CheckResult) -> str:
    """The per-view outcome (sites with and without camera permission), or ""."""
    views = [v for v in result.details.get("views") or () if isinstance(v, Mapping)]
    if not views:
        return ""
    verdicts = {str(v.get("name")): str(v.get("verdict")) for v in views}
    if all(v in SAFE for v in verdicts.values()):
        if "media_permission" in verdicts:
            return "No leak on any site, including sites you allowed your camera."
        return "No leak on sites you have not allowed your camera."
    leaks = [VIEW_NAMES.get(n, n) for n, v in verdicts.items() if v == Verdict.LEAK]
    unproven = [VIEW_NAMES.get(n, n) for n, v in verdicts.items() if v not in SAFE | {"leak"}]
    text = ""
    if leaks:
        text = "Leak seen by " + " and by ".join(leaks) + "."
    if unproven:
        text += (" " if text else "") + "Not proven for " + " and ".join(unproven) + "."
    return text


def per_browser(results: Sequence[CheckResult], sentence: Callable[[CheckResult], str]) -> str:
    """One sentence when every browser says the same, else one per browser, named."""
    said = [(r.name, sentence(r)) for r in results]
    said = [(n, s) for n, s in said if s]
    if not said:
        return ""
    if len({s for _n, s in said}) == 1 and len(said) == len(results):
        return said[0][1]
    return " ".join(f"{n}: {s}" for n, s in said)


def call_sentence(result: CheckResult) -> str:
    """Whether a test call could connect, in plain words, or "".

    "Blocked by this protection" only where a protection level was in force;
    otherwise the call failed for another reason (Details has it).
    """
    call = result.details.get("call")
    if not isinstance(call, Mapping):
        return ""
    if not call.get("connected"):
        if str(result.details.get("protection")) in ("strict", "balanced"):
            return "Calls are blocked by this protection."
        return "The test call could not connect."
    path = call.get("path") if isinstance(call.get("path"), Mapping) else {}
    assert isinstance(path, Mapping)
    if path.get("local") == "relay":
        how = RELAY.get(str(path.get("relay_protocol") or path.get("protocol") or ""), "")
        return f"Calls work (through a relay{' ' + how if how else ''})."
    if path.get("local"):
        return "Calls work (directly)."
    return "Calls work."


def reason_of(result: CheckResult) -> str:
    """The technical reason, for Details only."""
    return result.reason


@dataclasses.dataclass(frozen=True)
class Summary:
    text: str
    tone: str  # "good" | "bad" | "unknown"


def summarize(results: Sequence[CheckResult], *, stale: bool = False) -> Summary:
    """The one line under "Leak check". Never "no leak" for a browser not proven safe."""
    checked = [r for r in results if r.verdict is not Verdict.SKIPPED]
    if not checked:
        return Summary("No browser was checked.", "unknown")
    leaks = [r.name for r in checked if r.verdict is Verdict.LEAK]
    safe = [r.name for r in checked if r.verdict in SAFE]
    unproven = [r.name for r in checked if r.verdict is Verdict.INCONCLUSIVE]
    failed = [r.name for r in checked if r.verdict is Verdict.ERROR]
    parts: list[str] = []
    if leaks:
        parts.append(f"Leak found in {_join(leaks)}.")
    if safe:
        parts.append(f"No leak in {_join(safe)}.")
    if unproven:
        parts.append(
            f"Not proven for {_join(unproven)}: the check could not test the way a site "
            "would (see Details), so it says nothing about leaks."
        )
    if failed:
        parts.append(f"The check failed in {_join(failed)}, so it says nothing about leaks there.")
    unproven += failed
    tone = "bad" if leaks else ("good" if safe and not unproven else "unknown")
    if stale:
        parts.insert(0, "Before the last change of protection:")
        tone = "unknown"
    return Summary(" ".join(parts), tone)


def _join(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def when_text(at: datetime.datetime, now: datetime.datetime | None = None) -> str:
    """ "today at 14:03", "yesterday at 09:12" or "on 3 Mar 2026 at 10:00" (local time)."""
    now = now or datetime.datetime.now(datetime.UTC)
    local, today = at.astimezone(), now.astimezone().date()
    hm = local.strftime("%H:%M")
    if local.date() == today:
        return f"today at {hm}"
    if (today - local.date()).days == 1:
        return f"yesterday at {hm}"
    return f"on {local.day} {local.strftime('%b %Y')} at {hm}"


@dataclasses.dataclass(frozen=True)
class LastCheck:
    """A finished check as kept on disk: results, when, and the protection it saw."""

    outcome: CheckOutcome
    at: datetime.datetime
    protection: Mapping[str, str]  # browser id -> Protection value at check time
    own: CheckResult | None = None  # "Check in my own browser"


def _result_json(r: CheckResult) -> dict[str, Any]:
    return {
        "browser_id": r.browser_id,
        "name": r.name,
        "verdict": str(r.verdict),
        "reason": r.reason,
        "candidates": list(r.candidates),
        "details": json.loads(json.dumps(dict(r.details), default=str)),
    }


def _result(doc: Mapping[str, Any]) -> CheckResult:
    return CheckResult(
        str(doc["browser_id"]),
        str(doc["name"]),
        Verdict(str(doc["verdict"])),
        str(doc.get("reason", "")),
        tuple(str(c) for c in doc.get("candidates", ())),
        dict(doc.get("details") or {}),
    )


class LastCheckStore:
    """``last-check.json`` in the user's state dir (platformdirs), written atomically."""

    VERSION = 1

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            import platformdirs

            state = platformdirs.user_state_dir("vpnguard", appauthor=False)
            path = Path(state) / "last-check.json"
        self.path = path

    def save(self, last: LastCheck) -> None:
        doc = {
            "version": self.VERSION,
            "at": last.at.isoformat(),
            "duration_ms": last.outcome.duration_ms,
            "network_detail": last.outcome.network_detail,
            "protection": dict(last.protection),
            "results": [_result_json(r) for r in last.outcome.results],
            "own": _result_json(last.own) if last.own else None,
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".last-check.", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent=1)
            os.replace(tmp, self.path)
        except OSError:  # a result we cannot keep is still shown; never fail the check
            log.warning("could not keep the last check in %s", self.path, exc_info=True)

    def load(self) -> LastCheck | None:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("version") != self.VERSION:
                return None
            at = datetime.datetime.fromisoformat(doc["at"])
            if at.tzinfo is None:
                at = at.replace(tzinfo=datetime.UTC)
            outcome = CheckOutcome(
                tuple(_result(r) for r in doc.get("results", ())),
                str(doc.get("network_detail", "")),
                float(doc.get("duration_ms", 0.0)),
            )
            own = _result(doc["own"]) if doc.get("own") else None
            prot = {str(k): str(v) for k, v in (doc.get("protection") or {}).items()}
            return LastCheck(outcome, at, prot, own)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignoring an unreadable %s", self.path, exc_info=True)
            return None

    def clear(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("could not remove %s", self.path, exc_info=True)
