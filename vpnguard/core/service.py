"""The one facade the CLI, the GUI, hooks and the Python API call.

Returns typed reports whose ``to_json()`` is exactly what ``--json`` prints
(``schema_version`` 1); raises :class:`~vpnguard.core.errors.VpnguardError`
subclasses carrying the CLI exit code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from vpnguard.core.browsers.catalog import BY_ID, resolve_ids
from vpnguard.core.browsers.detect import detect_browsers
from vpnguard.core.errors import UsageError
from vpnguard.core.host import Host
from vpnguard.core.model import (
    OS,
    AutoChoice,
    Browser,
    Family,
    Level,
    LevelChoice,
    NetworkState,
    PolicyState,
    TunnelMode,
)

if TYPE_CHECKING:  # the writing machinery is imported only when something is written
    from vpnguard.core.leakcheck import CheckReport, TurnServer
    from vpnguard.core.policy import engine
    from vpnguard.core.policy.registry import Registry
from vpnguard.core.policy.status import read_states

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class BrowserStatus:
    browser: Browser
    policy: PolicyState

    def to_json(self) -> dict[str, Any]:
        out = self.browser.to_json()
        out["protection"] = self.policy.protection.value
        out["protection_detail"] = self.policy.detail
        out["target_states"] = [t.to_json() for t in self.policy.targets]
        out["restart_needed"] = self.policy.restart_needed
        return out


@dataclasses.dataclass(frozen=True)
class StatusReport:
    browsers: tuple[BrowserStatus, ...]
    network: NetworkState | None
    warnings: tuple[str, ...] = ()

    def browser(self, browser_id: str) -> BrowserStatus | None:
        return next((b for b in self.browsers if b.browser.id == browser_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "browsers": [b.to_json() for b in self.browsers],
            "network": self.network.to_json() if self.network else None,
            "warnings": list(self.warnings),
        }


@dataclasses.dataclass(frozen=True)
class ChangeReport:
    action: str  # "protect" | "unprotect"
    level: Level | None
    dry_run: bool
    changes: tuple[engine.FileChange, ...]
    notices: tuple[str, ...]
    restart_needed: tuple[str, ...]
    status: StatusReport
    auto: AutoChoice | None = None  # set when the level was asked as ``auto``

    @property
    def changed(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)

    def to_json(self) -> dict[str, Any]:
        auto = {"auto": self.auto.to_json()} if self.auto is not None else {}
        return {
            "schema_version": SCHEMA_VERSION,
            "ok": True,
            "action": self.action,
            **auto,
            "level": self.level.value if self.level else None,
            "dry_run": self.dry_run,
            "changes": [c.to_json() for c in self.changes],
            "notices": list(self.notices),
            "restart_needed": list(self.restart_needed),
            "status": self.status.to_json(),
        }


def _host(root: str | os.PathLike[str] | None, host: Host | None) -> Host:
    return host if host is not None else Host.current(root)


def _network(host: Host) -> NetworkState | None:
    if not host.is_live:
        return None  # a fake root has no network of its own
    from vpnguard.core.network import detect_network

    state: NetworkState = detect_network(host)
    return state


def _registry(h: Host, registry: Registry | None) -> Registry | None:
    if registry is None and h.os is OS.WINDOWS and h.is_live:  # pragma: no cover - Windows
        from vpnguard.core.policy.registry import WinRegistry

        return WinRegistry()
    return registry


def status(
    browsers: Sequence[str] | None = None,
    *,
    root: str | os.PathLike[str] | None = None,
    host: Host | None = None,
    network: bool = True,
    registry: Registry | None = None,
    detected: Sequence[Browser] | None = None,
) -> StatusReport:
    """Installed browsers with their protection read from disk, and the VPN state."""
    h = _host(root, host)
    resolve_ids(browsers)  # unknown ids are a usage error
    found = tuple(detected) if detected is not None else detect_browsers(h, browsers)
    states = read_states(h, found, _registry(h, registry))
    report = StatusReport(
        browsers=tuple(BrowserStatus(b, states[b.id]) for b in found),
        network=_network(h) if network else None,
    )
    return dataclasses.replace(report, warnings=warnings_for(report))


def warnings_for(report: StatusReport) -> tuple[str, ...]:
    out: list[str] = []
    net = report.network
    if net is not None and net.tunnel is TunnelMode.SPLIT:
        weak = [b.browser.name for b in report.browsers if b.policy.protection.value == "balanced"]
        if weak:
            out.append(
                "split tunnel: 'balanced' does not stop the leak here; use 'strict' for "
                + ", ".join(weak)
            )
        out.append(
            "split tunnel: even under 'strict', a page that brings its own TURN server reached "
            "outside the VPN learns your ISP-side address (seen in the lab with Chromium); "
            "send all traffic through the VPN to close that."
        )
    for b in report.browsers:
        if b.policy.protection.value == "conflict":
            out.append(f"{b.browser.name}: {b.policy.detail}")
    return tuple(out)


def _level(level: Level | LevelChoice | str) -> LevelChoice:
    try:
        return LevelChoice(level)
    except ValueError:
        known = ", ".join(c.value for c in LevelChoice)
        raise UsageError(f"unknown level {level!r} (known: {known})") from None


def auto_level(
    *,
    root: str | os.PathLike[str] | None = None,
    host: Host | None = None,
    network: NetworkState | None = None,
) -> AutoChoice:
    """The concrete level ``auto`` means for the network as it is now, with the reason."""
    from vpnguard.core.network.bypass import kernel_routes
    from vpnguard.core.policy.auto import bypass_routes, choose

    h = _host(root, host)
    net = network if network is not None else _network(h)
    rows = kernel_routes() if h.is_live and net is not None else None
    bypass = bypass_routes(rows, net.vpn_interfaces) if rows is not None and net else None
    return choose(net, bypass)


def _concrete(
    choice: LevelChoice, h: Host, network: NetworkState | None = None
) -> tuple[Level, AutoChoice | None]:
    if choice is LevelChoice.AUTO:
        picked = auto_level(host=h, network=network)
        return picked.level, picked
    return Level(choice.value), None


def _notices(level: Level | None, touched: Sequence[BrowserStatus], action: str) -> list[str]:
    notes: list[str] = []
    if action == "protect":
        if any(b.browser.family is Family.CHROMIUM for b in touched):
            notes.append(
                "Chrome, Chromium and Edge will show 'Managed by your organization': that is this "
                "policy, nothing else."
            )
        if level is Level.BALANCED:
            notes.append(
                "'balanced' does not hold in a split tunnel, with IPv6 around the VPN or without "
                "a VPN: the address can still leak there; 'relay' holds everywhere."
            )
        if level is not None:
            from vpnguard.core.policy.levels import CALLS

            for fam in sorted({b.browser.family for b in touched}):
                names = ", ".join(b.browser.name for b in touched if b.browser.family is fam)
                notes.append(f"Calls under '{level.value}' in {names}: {CALLS[level][fam]}.")
    for b in touched:
        spec = BY_ID[b.browser.id]
        if b.browser.running and spec.restart_to_apply:
            notes.append(f"{b.browser.name} is running: restart it to apply the change.")
        elif b.browser.running:
            notes.append(f"{b.browser.name} is running: it picks up the change within seconds.")
    return notes


def _change(
    action: str,
    level: Level | None,
    browsers: Sequence[str] | None,
    dry_run: bool,
    h: Host,
    registry: Registry | None,
) -> ChangeReport:
    from vpnguard.core.policy import engine
    from vpnguard.core.policy import registry as regpolicy
    from vpnguard.core.policy.journal import Journal, locked

    resolve_ids(browsers)
    found = detect_browsers(h, browsers)
    if browsers and action == "protect":
        engine.refuse_unknown(list(browsers), found)
    reg = _registry(h, registry)
    ids = list(browsers) if browsers else None
    # A dry run only reads: no lock, no state dir, no write access needed, so an
    # ordinary user (the desktop app before it asks for elevation) gets the exact plan.
    with contextlib.nullcontext() if dry_run else locked(h):
        journal = Journal.load(h)
        if action == "protect":
            assert level is not None
            steps = engine.plan_protect(h, found, level, journal, preview=dry_run)
            reg_steps = regpolicy.plan_protect(reg, found, level, journal) if reg else []
        else:
            steps = engine.plan_unprotect(h, ids, journal, preview=dry_run)
            reg_steps = regpolicy.plan_unprotect(reg, ids, journal) if reg else []
        if not dry_run:
            engine.execute(h, steps, journal)
            if reg is not None:
                regpolicy.execute(reg, reg_steps, journal)
    changes = [s.change for s in steps] + [s.change for s in reg_steps]
    # The status after a change skips network detection: hooks want protect fast, and the
    # VPN state is not what changed.
    after = status(browsers, host=h, network=False, registry=reg, detected=found)
    changed_ids = {i for c in changes if c.action != "unchanged" for i in c.browsers}
    touched = [b for b in after.browsers if b.browser.id in changed_ids]
    restart = tuple(
        b.browser.id for b in touched if b.browser.running and BY_ID[b.browser.id].restart_to_apply
    )
    notices = _notices(level, touched, action)
    if h.os is OS.MACOS and action == "protect":
        notices.append(
            "On macOS a policy is mandatory only when it comes from a configuration profile: "
            "export one with 'vpnguard export --platform macos' and install it in System "
            "Settings > Privacy & Security > Profiles (or through your MDM)."
        )
    for c in changes:
        log.info("%s %s: %s (%s)", action, c.path, c.action, c.detail)
    return ChangeReport(
        action=action,
        level=level,
        dry_run=dry_run,
        changes=tuple(changes),
        notices=tuple(notices),
        restart_needed=restart,
        status=after,
    )


def protect(
    level: Level | LevelChoice | str = Level.STRICT,
    browsers: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    root: str | os.PathLike[str] | None = None,
    host: Host | None = None,
    registry: Registry | None = None,
    network: NetworkState | None = None,
) -> ChangeReport:
    """Write WebRTC policy at ``level`` for the installed browsers (or ``browsers``).

    ``auto`` is resolved first (:func:`auto_level`, or from ``network`` when
    given) and the report's ``auto`` says what it chose and why.
    """
    h = _host(root, host)
    concrete, picked = _concrete(_level(level), h, network)
    report = _change("protect", concrete, browsers, dry_run, h, registry)
    if picked is None:
        return report
    notices = (f"auto chose '{picked.level.value}': {picked.reason}", *report.notices)
    return dataclasses.replace(report, auto=picked, notices=notices)


def unprotect(
    browsers: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    root: str | os.PathLike[str] | None = None,
    host: Host | None = None,
    registry: Registry | None = None,
) -> ChangeReport:
    """Undo exactly what ``protect`` wrote (byte for byte where nobody changed it since)."""
    return _change("unprotect", None, browsers, dry_run, _host(root, host), registry)


def check(
    browsers: Sequence[str] | None = None,
    *,
    stun: Sequence[str] | None = None,
    turn: Sequence[TurnServer] = (),
    timeout: float = 30.0,
    interactive: bool = False,
    progress: Callable[[str, str], None] | None = None,
    root: str | os.PathLike[str] | None = None,
    host: Host | None = None,
) -> CheckReport:
    """Run the leak check in every installed browser (or ``browsers``) at once.

    ``progress`` gets ``(browser_id, phase)`` from worker threads. Raises
    RefusedError when none of the asked-for browsers is installed.
    """
    from vpnguard.core.errors import RefusedError
    from vpnguard.core.leakcheck import DEFAULT_STUN, run_check
    from vpnguard.core.network import detect_network

    h = _host(root, host)
    resolve_ids(browsers)
    found: tuple[Browser, ...] = () if interactive else detect_browsers(h, browsers)
    if not interactive:
        if not found:
            raise RefusedError(
                "no supported browser is installed"
                + (f" among {', '.join(browsers)}" if browsers else "")
            )
        missing = set(browsers or ()) - {b.id for b in found}
        if missing:
            raise RefusedError(f"not installed: {', '.join(sorted(missing))}")
    network = detect_network(h)
    return run_check(
        h,
        found,
        network,
        stun=tuple(stun or DEFAULT_STUN),
        turn=turn,
        timeout=timeout,
        interactive=interactive,
        progress=progress,
    )
