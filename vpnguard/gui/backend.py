"""What the window asks of the core, in one object the tests can point at a fake tree.

No Qt here: every method blocks and is meant to run on a worker thread.
Reading (status, previews) happens in this process; writing goes through a
:class:`Writer`: in-process for a fake ``--root`` (the user owns that tree),
or the privileged helper behind pkexec/UAC/osascript for the live system.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from vpnguard.core.errors import NeedsElevationError, VpnguardError
from vpnguard.core.model import (
    Action,
    Browser,
    CheckPhase,
    Family,
    FileAction,
    FileChange,
    Level,
    NetworkState,
    Protection,
    Verdict,
)

if TYPE_CHECKING:
    from vpnguard.core.service import AutoModeState, StatusReport

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

NetworkProvider = Callable[[], NetworkState | None]
CheckProgress = Callable[[str, CheckPhase], None]


Change = FileChange  # one file's change, as the core reports it


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A protect/unprotect (or its preview), in the terms the window shows."""

    action: Action
    level: Level | None
    dry_run: bool
    changes: tuple[Change, ...]
    notices: tuple[str, ...]
    restart_needed: tuple[str, ...]
    exact: bool = True  # False: a preview made without rights to read vpnguard's journal
    elevated: bool = False

    @property
    def changed(self) -> bool:
        return any(c.action is not FileAction.UNCHANGED for c in self.changes)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], *, elevated: bool = False) -> Outcome:
        return cls(
            action=Action(doc["action"]),
            level=Level(doc["level"]) if doc.get("level") else None,
            dry_run=bool(doc.get("dry_run")),
            changes=tuple(
                Change(c["path"], c["action"], tuple(c["browsers"]), c.get("detail", ""))
                for c in doc.get("changes", ())
            ),
            notices=tuple(doc.get("notices", ())),
            restart_needed=tuple(doc.get("restart_needed", ())),
            elevated=elevated,
        )


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """One browser's leak-check verdict (normalized from the leak checker's report)."""

    browser_id: str
    name: str
    verdict: Verdict
    reason: str
    candidates: tuple[str, ...] = ()
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class CheckOutcome:
    results: tuple[CheckResult, ...]
    network_detail: str = ""
    duration_ms: float = 0.0

    @property
    def leak(self) -> bool:
        return any(r.verdict is Verdict.LEAK for r in self.results)


class Writer(Protocol):
    elevated: bool

    def apply(self, op: Action, level: str | None, browsers: Sequence[str] | None) -> Outcome: ...


class DirectWriter:
    """Writes in this process: for a fake root, or a process that already has the rights."""

    elevated = False

    def __init__(self, root: str | None) -> None:
        self.root = root

    def apply(self, op: Action, level: str | None, browsers: Sequence[str] | None) -> Outcome:
        from vpnguard.core import service

        if op == Action.PROTECT:
            report = service.protect(level or "strict", browsers, root=self.root)
        else:
            report = service.unprotect(browsers, root=self.root)
        return Outcome.from_json(report.to_json())


class HelperWriter:
    """Asks the privileged helper (pkexec / UAC / osascript); see vpnguard.elevation."""

    elevated = True

    def __init__(self, run: Callable[[bytes], dict[str, Any]] | None = None) -> None:
        self._run = run

    def apply(self, op: Action, level: str | None, browsers: Sequence[str] | None) -> Outcome:
        from vpnguard import elevation

        req = elevation.request(op, level, browsers)
        doc = self._run(req) if self._run else elevation.run_plan(elevation.plan(req))
        return Outcome.from_json(doc, elevated=True)


@dataclasses.dataclass(frozen=True)
class Turn:
    """A TURN server from the settings; the password is read from the keyring at check time."""

    url: str
    username: str


class Checker(Protocol):
    def available(self) -> str | None:
        """None when checks can run, else why not (shown to the user)."""

    def check(
        self,
        browsers: Sequence[Browser],
        network: NetworkState | None,
        progress: CheckProgress,
        *,
        interactive: bool = False,
        stun: Sequence[str] = (),
        turn: Sequence[Turn] = (),
    ) -> CheckOutcome: ...


CHECK_NICENESS = 10


def run_niced(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``func`` on a fresh thread with a lower CPU priority (Linux), and wait for it.

    Starting two browsers at once saturates a small machine; on Linux the
    nice value is per thread and is inherited by the threads and processes
    that thread starts, so the check's threads and the browsers it launches
    yield the CPU to the GUI thread. (A thread cannot raise its priority back
    without privileges, hence a thread of its own that simply ends.)
    """
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        if sys.platform.startswith("linux"):
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CHECK_NICENESS)
            except OSError:
                log.debug("could not lower the check's priority", exc_info=True)
        try:
            result.append(func(*args, **kwargs))
        except BaseException as exc:
            error.append(exc)

    t = threading.Thread(target=body, name="vpnguard-check")
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


class LeakChecker:
    """The real leak check, through ``vpnguard.core.service.check``."""

    def __init__(self, root: str | None = None, timeout: float = 30.0) -> None:
        self.root = root
        self.timeout = timeout

    def available(self) -> str | None:
        return None

    def check(
        self,
        browsers: Sequence[Browser],
        network: NetworkState | None,
        progress: CheckProgress,
        *,
        interactive: bool = False,
        stun: Sequence[str] = (),
        turn: Sequence[Turn] = (),
    ) -> CheckOutcome:
        from vpnguard.core import service

        servers = [service.turn_server(t.url, t.username) for t in turn]
        report = run_niced(
            service.check,
            None if interactive else [b.id for b in browsers if not b.self_managed] or None,
            stun=list(stun) or None,
            turn=servers,
            timeout=self.timeout,
            interactive=interactive,
            progress=progress,
            root=self.root,
        )
        results = tuple(
            CheckResult(
                b.browser_id,
                b.name,
                b.verdict,
                b.reason,
                tuple(b.candidates),
                b.to_json(),
            )
            for b in report.browsers
        )
        detail = report.network.detail if report.network else ""
        return CheckOutcome(results, detail, report.duration_ms)


class Backend:
    """Status, previews, protect/unprotect and checks for one machine or fake tree.

    ``network`` replaces network detection (a fake tree has no network of its
    own; tests and screenshots pass a fixed state). ``running`` marks browser
    ids as running, for fake trees, whose process table is not part of a tree.
    """

    def __init__(
        self,
        root: str | None = None,
        *,
        network: NetworkProvider | None = None,
        writer: Writer | None = None,
        checker: Checker | None = None,
        running: frozenset[str] = frozenset(),
    ) -> None:
        self.root = root
        self._network = network
        if writer is None:
            from vpnguard.core import service

            admin = root is None and service.host().is_admin
            writer = DirectWriter(root) if root is not None or admin else HelperWriter()
        self.writer = writer
        self.checker: Checker = checker if checker is not None else LeakChecker(root)
        self.running = running

    def _detected(self) -> tuple[Browser, ...] | None:
        if not self.running:
            return None
        from vpnguard.core import service

        found = service.detect_browsers(root=self.root)
        return tuple(
            dataclasses.replace(b, running=b.running or b.id in self.running) for b in found
        )

    def status(self) -> StatusReport:
        """A :class:`vpnguard.core.service.StatusReport` (network from ``network`` if given)."""
        from vpnguard.core import service

        t0 = time.perf_counter()
        report = service.status(
            root=self.root, network=self._network is None, detected=self._detected()
        )
        if self._network is not None:
            report = dataclasses.replace(report, network=self._network())
            report = dataclasses.replace(report, warnings=service.warnings_for(report))
        log.debug("status in %.0f ms", (time.perf_counter() - t0) * 1000)
        return report

    def auto_mode(self) -> AutoModeState | None:
        """``vpnguard watch``'s state, or None when unknown."""
        from vpnguard.core import service

        try:
            return service.auto_mode_state(self.root)
        except Exception:  # auto mode is a side note: never fail a refresh over it
            log.debug("auto mode state unavailable", exc_info=True)
            return None

    def snapshot(self) -> tuple[StatusReport, AutoModeState | None]:
        """(status report, auto-mode state): what a refresh shows."""
        return self.status(), self.auto_mode()

    def preview(self, op: Action, level: str | None, status: StatusReport | None = None) -> Outcome:
        """What ``op`` would do, without writing (``dry_run``)."""
        from vpnguard.core import service

        try:
            if op == Action.PROTECT:
                report = service.protect(level or "strict", dry_run=True, root=self.root)
            else:
                report = service.unprotect(dry_run=True, root=self.root)
        except NeedsElevationError:
            # vpnguard's journal and lock are root's: say what we can from the read-back.
            return self._approximate(op, level, status or self.status())
        out = Outcome.from_json(report.to_json())
        return self._with_running(out, op)

    def _with_running(self, out: Outcome, op: Action) -> Outcome:
        """Add restart notices for browsers marked running by ``running`` (fake trees)."""
        if not self.running:
            return out
        from vpnguard.core import service

        touched = {
            i for c in out.changes if c.action is not FileAction.UNCHANGED for i in c.browsers
        }
        known = {e.id: e for e in service.catalog()}
        extra = tuple(
            i
            for i in sorted(touched & self.running)
            if known[i].restart_to_apply and i not in out.restart_needed
        )
        notes = tuple(service.restart_notice(known[i].name) for i in extra)
        return dataclasses.replace(
            out, restart_needed=out.restart_needed + extra, notices=out.notices + notes
        )

    def _approximate(self, op: Action, level: str | None, status: StatusReport) -> Outcome:
        from vpnguard.core import service

        known = {e.id: e for e in service.catalog()}
        changes: list[Change] = []
        restart: list[str] = []
        notices: list[str] = []
        chromium = False
        for b in status.browsers:
            prot = b.policy.protection
            if b.browser.self_managed or prot is Protection.UNSUPPORTED:
                continue
            if op == Action.UNPROTECT and prot is Protection.NONE:
                continue
            if op == Action.PROTECT and prot.value == level:
                continue
            chromium = chromium or b.browser.family is Family.CHROMIUM
            for t in b.browser.targets:
                changes.append(
                    Change(service.policy_file(t), FileAction.MODIFY, (b.browser.id,), "estimated")
                )
            if b.browser.running and known[b.browser.id].restart_to_apply:
                restart.append(b.browser.id)
                notices.append(service.restart_notice(b.browser.name))
        if op == Action.PROTECT and chromium:
            notices.insert(0, service.MANAGED_NOTICE)
        return Outcome(
            Action(op),
            Level(level) if level else None,
            True,
            tuple(changes),
            tuple(notices),
            tuple(restart),
            exact=False,
        )

    def apply(self, op: Action, level: str | None) -> Outcome:
        out = self.writer.apply(op, level, None)
        return self._with_running(out, op)

    def check(
        self,
        browsers: Sequence[Browser],
        network: NetworkState | None,
        progress: CheckProgress,
        *,
        interactive: bool = False,
        stun: Sequence[str] = (),
        turn: Sequence[Turn] = (),
    ) -> CheckOutcome:
        reason = self.checker.available()
        if reason:
            raise VpnguardError(reason)
        return self.checker.check(
            browsers, network, progress, interactive=interactive, stun=stun, turn=turn
        )
