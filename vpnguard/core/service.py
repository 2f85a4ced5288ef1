"""The one facade the CLI, the GUI, hooks and the Python API call.

Returns typed reports whose ``to_json()`` is exactly what ``--json`` prints
(``schema_version`` 1); raises :class:`~vpnguard.core.errors.VpnguardError`
subclasses carrying the CLI exit code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from vpnguard._lazylog import get_logger
from vpnguard.core.browsers.catalog import BY_ID, resolve_ids
from vpnguard.core.browsers.detect import detect_browsers as detect_browsers_on
from vpnguard.core.errors import UsageError, VpnguardError
from vpnguard.core.host import Host as Host
from vpnguard.core.host import current_os as current_os
from vpnguard.core.model import (
    OS,
    Browser,
    Family,
    Level,
    LevelChoice,
    NetInterface,
    NetworkState,
    PolicyState,
    PolicyTarget,
    Protection,
    Route,
    TunnelMode,
)
from vpnguard.core.policy.status import read_states
from vpnguard.core.record import record, replace

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    import contextlib
    from pathlib import Path
    from typing import Any

    # the writing machinery is imported only when something is written
    from vpnguard.core.export import ExportResult as ExportResult
    from vpnguard.core.leakcheck import CallSpec as CallSpec
    from vpnguard.core.leakcheck import CheckReport as CheckReport
    from vpnguard.core.leakcheck import ViewName as ViewName
    from vpnguard.core.model import (
        Action,
        AutoChoice,
        CatalogEntry,
        CheckPhase,
        FileChange,
        LevelAdvice,
        TurnServer,
    )
    from vpnguard.core.network.events import EventSource as EventSource
    from vpnguard.core.policy.registry import Registry

# Auto mode's state (its files in the state directory and their format), for hooks and
# watch: vpnguard.core.automode, loaded on first use so that ``status`` does not pay for it.
_AUTOMODE = {
    "AutoModeState": "AutoModeState",
    "AutoState": "AutoState",
    "AUTO_STATE_FILE": "STATE_FILE",
    "AUTO_LOCK_FILE": "LOCK_FILE",
    "WATCH_PID_FILE": "PID_FILE",
    "WATCH_STATUS_FILE": "STATUS_FILE",
}
if TYPE_CHECKING:
    from vpnguard.core import automode as _automode
    from vpnguard.core.automode import AutoModeState as AutoModeState
    from vpnguard.core.automode import AutoState as AutoState

    AUTO_STATE_FILE = _automode.STATE_FILE
    AUTO_LOCK_FILE = _automode.LOCK_FILE
    WATCH_PID_FILE = _automode.PID_FILE
    WATCH_STATUS_FILE = _automode.STATUS_FILE
else:

    def __getattr__(name: str) -> object:
        if name in _AUTOMODE:
            from vpnguard.core import automode

            return getattr(automode, _AUTOMODE[name])
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


log = get_logger(__name__)  # imports logging only if a message is emitted

SCHEMA_VERSION = 1


@record
class BrowserStatus:
    """One installed browser and its protection read from disk."""

    browser: Browser
    policy: PolicyState

    def to_json(self) -> dict[str, Any]:
        out = self.browser.to_json()
        out["protection"] = self.policy.protection.value
        out["protection_detail"] = self.policy.detail
        out["target_states"] = [t.to_json() for t in self.policy.targets]
        out["restart_needed"] = self.policy.restart_needed
        return out


@record
class StatusReport:
    """What ``status`` reports: the browsers, the network and warnings."""

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


@record
class ChangeReport:
    """What ``protect``/``unprotect`` did (or, in a dry run, would do), and the status after."""

    action: Action
    level: Level | None
    dry_run: bool
    changes: tuple[FileChange, ...]
    notices: tuple[str, ...]
    restart_needed: tuple[str, ...]
    status: StatusReport
    auto: AutoChoice | None = None  # set when the level was asked as ``auto``

    @property
    def changed(self) -> bool:
        from vpnguard.core.model import FileAction  # loaded on first use (not by status)

        return any(c.action is not FileAction.UNCHANGED for c in self.changes)

    def to_json(self) -> dict[str, Any]:
        auto = {"auto": self.auto.to_json()} if self.auto is not None else {}
        return {
            "schema_version": SCHEMA_VERSION,
            "ok": True,
            "action": self.action.value,
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
    found = tuple(detected) if detected is not None else detect_browsers_on(h, browsers)
    states = read_states(h, found, _registry(h, registry))
    report = StatusReport(
        browsers=tuple(BrowserStatus(b, states[b.id]) for b in found),
        network=_network(h) if network else None,
    )
    return replace(report, warnings=warnings_for(report))


BALANCED_SPLIT = (
    "'balanced' does not hold in a split tunnel (nor with IPv6 around the VPN): the public "
    "address can still leak there; 'relay' holds everywhere."
)
LEVEL_HELP = (
    "relay (recommended) leaks in no scenario and keeps calls through TURN; strict (default) "
    "also blocks Firefox calls; balanced keeps direct calls but holds only in a full tunnel; "
    "auto picks balanced in a verified full tunnel and relay otherwise"
)


def level_advice(level: Level | Protection | str, network: NetworkState | None) -> LevelAdvice:
    """Whether ``level`` (a level to write, or a protection read from disk) stops WebRTC
    from revealing the address traffic leaves with, on ``network`` (None: unknown).

    The rule, once, from the lab matrix (docs/matrix.md): 'relay' and 'strict' hold
    everywhere; 'balanced' (default-route interface only) does not hold in a split
    tunnel (an IPv6 route around the tunnel counts as one). Without a VPN it shows the
    address traffic leaves with anyway, so it "holds" here, though the check reports
    that address (and ``auto`` prefers relay there); anything else (none, partial,
    conflict, ...) does not hold.
    """
    from vpnguard.core.model import LevelAdvice

    value = Protection(level.value if isinstance(level, Level) else level)
    if value in (Protection.STRICT, Protection.RELAY):
        return LevelAdvice(True, "")
    if value is Protection.BALANCED:
        if network is not None and network.tunnel is TunnelMode.SPLIT:
            return LevelAdvice(False, BALANCED_SPLIT)
        return LevelAdvice(True, "")
    return LevelAdvice(False, f"protection is {value.value}")


def warnings_for(report: StatusReport) -> tuple[str, ...]:
    out: list[str] = []
    net = report.network
    if net is not None and net.tunnel is TunnelMode.SPLIT:
        weak = [
            b.browser.name
            for b in report.browsers
            if b.policy.protection is Protection.BALANCED
            and not level_advice(b.policy.protection, net).holds
        ]
        if weak:
            out.append(
                "split tunnel: 'balanced' does not stop the leak here; use 'relay' (or 'auto') for "
                + ", ".join(weak)
            )
        out.append(
            "split tunnel: even under 'relay' or 'strict', a page that brings its own TURN server "
            "reached outside the VPN learns your ISP-side address (seen in the lab with "
            "Chromium); send all traffic through the VPN to close that."
        )
    for b in report.browsers:
        if b.policy.protection is Protection.CONFLICT:
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


MANAGED_NOTICE = (
    "Chrome, Chromium and Edge will show 'Managed by your organization': that is this "
    "policy, nothing else."
)


def restart_notice(browser_name: str) -> str:
    """What to tell when a running browser needs a restart to apply a policy change."""
    return f"{browser_name} is running: restart it to apply the change."


def _notices(level: Level | None, touched: Sequence[BrowserStatus], action: Action) -> list[str]:
    from vpnguard.core.model import Action

    notes: list[str] = []
    if action is Action.PROTECT:
        if any(b.browser.family is Family.CHROMIUM for b in touched):
            notes.append(MANAGED_NOTICE)
        if level is Level.BALANCED:
            notes.append(BALANCED_SPLIT)
        if level is not None:
            from vpnguard.core.policy.levels import CALLS

            for fam in sorted({b.browser.family for b in touched}):
                names = ", ".join(b.browser.name for b in touched if b.browser.family is fam)
                notes.append(f"Calls under '{level.value}' in {names}: {CALLS[level][fam]}.")
    for b in touched:
        spec = BY_ID[b.browser.id]
        if b.browser.running and spec.restart_to_apply:
            notes.append(restart_notice(b.browser.name))
        elif b.browser.running:
            notes.append(f"{b.browser.name} is running: it picks up the change within seconds.")
    return notes


def _change(
    action: Action,
    level: Level | None,
    browsers: Sequence[str] | None,
    dry_run: bool,
    h: Host,
    registry: Registry | None,
) -> ChangeReport:
    import contextlib  # here, as the names below: status does not need them

    from vpnguard.core.model import Action, FileAction
    from vpnguard.core.policy import engine
    from vpnguard.core.policy.journal import Journal, locked

    resolve_ids(browsers)
    found = detect_browsers_on(h, browsers)
    if browsers and action is Action.PROTECT:
        engine.refuse_unknown(list(browsers), found)
    reg = _registry(h, registry)
    if reg is not None:  # only a registry is written through it: elsewhere it stays unloaded
        from vpnguard.core.policy import registry as regpolicy
    ids = list(browsers) if browsers else None
    # A dry run only reads: no lock, no state dir, no write access needed, so an
    # ordinary user (the desktop app before it asks for elevation) gets the exact plan.
    with contextlib.nullcontext() if dry_run else locked(h):
        journal = Journal.load(h)
        engine.check_trusted(h, journal)
        engine.recover(h, journal, write=not dry_run)
        if action is Action.PROTECT:
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
    changed_ids = {i for c in changes if c.action is not FileAction.UNCHANGED for i in c.browsers}
    touched = [b for b in after.browsers if b.browser.id in changed_ids]
    restart = tuple(
        b.browser.id for b in touched if b.browser.running and BY_ID[b.browser.id].restart_to_apply
    )
    notices = _notices(level, touched, action)
    if h.os is OS.MACOS and action is Action.PROTECT:
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
    from vpnguard.core.model import Action

    h = _host(root, host)
    concrete, picked = _concrete(_level(level), h, network)
    report = _change(Action.PROTECT, concrete, browsers, dry_run, h, registry)
    if picked is None:
        return report
    notices = (f"auto chose '{picked.level.value}': {picked.reason}", *report.notices)
    return replace(report, auto=picked, notices=notices)


def unprotect(
    browsers: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    root: str | os.PathLike[str] | None = None,
    host: Host | None = None,
    registry: Registry | None = None,
) -> ChangeReport:
    """Undo exactly what ``protect`` wrote (byte for byte where nobody changed it since)."""
    from vpnguard.core.model import Action

    return _change(Action.UNPROTECT, None, browsers, dry_run, _host(root, host), registry)


def has_protection(*, root: str | os.PathLike[str] | None = None, host: Host | None = None) -> bool:
    """Whether vpnguard's journal lists anything it wrote (at any level).

    A journal that cannot be read counts as "yes": callers use this to decide
    whether protection found later is theirs to undo, and the safe answer
    keeps protection in place.
    """
    from vpnguard.core.errors import VpnguardError
    from vpnguard.core.policy.journal import Journal

    try:
        return bool(Journal.load(_host(root, host)).entries)
    except VpnguardError:
        return True


def check(
    browsers: Sequence[str] | None = None,
    *,
    stun: Sequence[str] | None = None,
    turn: Sequence[TurnServer] = (),
    timeout: float = 30.0,
    interactive: bool = False,
    progress: Callable[[str, CheckPhase], None] | None = None,
    root: str | os.PathLike[str] | None = None,
    host: Host | None = None,
    views: Sequence[ViewName] | None = None,
    calls: Sequence[CallSpec] | None = None,
    open_url: Callable[[str], bool] | None = None,
) -> CheckReport:
    """Run the leak check in every installed browser (or ``browsers``) at once.

    Each browser is checked in both views (any page, and a site allowed
    camera and microphone) and places a real call; ``views``/``calls``
    narrow or replace those (see :func:`vpnguard.core.leakcheck.run_check`).
    ``progress`` gets ``(browser_id, phase)`` from worker threads. Raises
    RefusedError when none of the asked-for browsers is installed.
    ``open_url`` opens the page in the user's own browser (``interactive``);
    a long-lived caller passes one that reaps its child.
    """
    from vpnguard.core.errors import RefusedError
    from vpnguard.core.leakcheck import DEFAULT_STUN, DEFAULT_VIEWS, run_check
    from vpnguard.core.leakcheck.warmstart import WarmStart
    from vpnguard.core.network import detect_network

    h = _host(root, host)
    resolve_ids(browsers)
    found: tuple[Browser, ...] = () if interactive else detect_browsers_on(h, browsers)
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
        views=tuple(views) if views else DEFAULT_VIEWS,
        calls=calls,
        open_url=open_url,
        warm_start=WarmStart.for_user(),
    )


def watch_paths(
    root: str | os.PathLike[str] | None = None, host: Host | None = None
) -> tuple[str, ...]:
    """The files and folders whose change can change :func:`status`: a front end watches them.

    Each installed browser's policy file (or its managed directory), the
    nearest existing folder of the ones not created yet, and vpnguard's state
    folder (journal, auto mode). Filesystem targets only (registry keys and
    macOS domains are not files).
    """
    from vpnguard.core.model import TargetKind
    from vpnguard.core.policy.engine import file_of

    h = _host(root, host)
    found: list[Path] = [h.state_dir()]
    for b in detect_browsers_on(h):
        for t in b.targets:
            if t.kind not in (TargetKind.CHROMIUM_MANAGED_DIR, TargetKind.FIREFOX_POLICIES_JSON):
                continue
            own = h.p(file_of(t.kind, t.location))
            found += [own, own.parent]
    out: dict[str, None] = {}
    for path in found:
        while not path.exists() and path.parent != path:
            path = path.parent
        out[str(path)] = None
    return tuple(out)


# ---- what front ends need besides status/protect/unprotect/check ----------------------------


def host(root: str | os.PathLike[str] | None = None) -> Host:
    """The machine (or the fake tree at ``root``); a missing ``root`` is a UsageError."""
    return Host.current(root)


def catalog() -> tuple[CatalogEntry, ...]:
    """Every browser vpnguard knows, in display order."""
    from vpnguard.core.browsers.catalog import CATALOG
    from vpnguard.core.model import CatalogEntry

    return tuple(
        CatalogEntry(
            s.id, s.name, s.family, s.restart_to_apply, tuple(s.process_names), s.self_managed
        )
        for s in CATALOG
    )


def catalog_entry(browser_id: str) -> CatalogEntry:
    """One known browser; UsageError for an unknown id."""
    resolve_ids([browser_id])
    return next(e for e in catalog() if e.id == browser_id)


def browser_ids() -> tuple[str, ...]:
    return tuple(BY_ID)  # catalog order


def detect_browsers(
    *, root: str | os.PathLike[str] | None = None, host: Host | None = None
) -> tuple[Browser, ...]:
    """The installed browsers (no policy read-back, no network)."""
    return detect_browsers_on(_host(root, host))


def policy_file(target: PolicyTarget) -> str:
    """The file vpnguard writes for ``target`` (its own file inside a Chromium policy dir)."""
    from vpnguard.core.policy.engine import file_of

    return file_of(target.kind, target.location)


def level_summary(level: Level | LevelChoice | str) -> str:
    """What a level (or ``auto``) does, in a paragraph for people."""
    from vpnguard.core.policy.levels import CHOICE_SUMMARY

    return CHOICE_SUMMARY[_level(level)]


def level_calls(level: Level | str, family: Family) -> str:
    """What ``level`` leaves of calls in ``family``, in plain words (measured: docs/matrix.md)."""
    from vpnguard.core.policy.levels import CALLS

    return CALLS[Level(_level(level).value)][family]


# ---- leak check inputs ------------------------------------------------------------------------


def default_stun() -> tuple[str, ...]:
    """The STUN servers the check uses when none is given."""
    from vpnguard.core.leakcheck import DEFAULT_STUN

    return tuple(DEFAULT_STUN)


def validate_ice_urls(stun: Sequence[str], turn: Sequence[str] = ()) -> None:
    """UsageError unless every ``stun`` URL is STUN and every ``turn`` URL is TURN."""
    from vpnguard.core.leakcheck.stun import StunUrlError, parse_ice_url

    try:
        for url in stun:
            if parse_ice_url(url).is_turn:
                raise UsageError(f"{url} is a TURN URL: pass it with --turn")
        for url in turn:
            if not parse_ice_url(url).is_turn:
                raise UsageError(f"{url} is not a TURN URL")
    except StunUrlError as exc:
        raise UsageError(str(exc)) from None


def store_turn_secret(url: str, username: str, secret: str) -> None:
    """Keep a TURN password in the OS keyring (RefusedError without a safe keyring)."""
    from vpnguard.core.leakcheck import credentials

    credentials.store_turn_secret(url, username, secret)


def load_turn_secret(url: str, username: str) -> str:
    from vpnguard.core.leakcheck import credentials

    return credentials.load_turn_secret(url, username)


def delete_turn_secret(url: str, username: str) -> None:
    """Forget a stored TURN password (nothing stored: nothing to do)."""
    from vpnguard.core.leakcheck import credentials

    credentials.delete_turn_secret(url, username)


def turn_server(url: str, username: str) -> TurnServer:
    """A TURN server with its password from the keyring (RefusedError when none is stored)."""
    from vpnguard.core.model import TurnServer

    return TurnServer(url, username, load_turn_secret(url, username))


# ---- admin bundles ----------------------------------------------------------------------------


def export_platforms() -> tuple[OS, ...]:
    """The platforms an admin bundle can target."""
    from vpnguard.core.export.plan import ALL_PLATFORMS

    return tuple(OS(p.value) for p in ALL_PLATFORMS)


def export_bundle(
    platforms: Sequence[str] | None,
    level: Level | str,
    browser_ids: Sequence[str] | None,
    exceptions: Sequence[str] | None,
    out: str | os.PathLike[str],
    force: bool = False,
) -> ExportResult:
    """Write an admin policy bundle (directory or .zip); see :mod:`vpnguard.core.export`."""
    from vpnguard.core.export import export_bundle as _export

    return _export(platforms, level, browser_ids, exceptions, out, force)


# ---- auto mode --------------------------------------------------------------------------------


def auto_mode_state(
    root: str | os.PathLike[str] | None = None, *, host: Host | None = None
) -> AutoModeState:
    """Is ``vpnguard watch`` running, and what have hooks and watch done? Only reads."""
    from vpnguard.core.automode import read_state

    return read_state(_host(root, host).state_dir())


def write_file(path: os.PathLike[str] | str, data: bytes, *, mode: int | None = None) -> None:
    """Atomic replace, parents created (hook scripts, auto-mode state)."""
    from pathlib import Path

    from vpnguard.core.automode import write_file as _write

    _write(Path(path), data, mode=mode)


def read_file(path: os.PathLike[str] | str) -> bytes | None:
    """A regular file's bytes (None if absent), never blocking and never through a final
    link: a FIFO, device or link raises RefusedError instead of hanging a hook."""
    from pathlib import Path

    from vpnguard.core.policy import fsio

    return fsio.read_bytes(Path(path))


def loads_strict(data: bytes) -> object:
    """Parse JSON as strictly as vpnguard reads policy files: raises
    :class:`~vpnguard.core.errors.StrictJsonError` (NaN/Infinity/1e400, duplicate keys,
    lone surrogates, nesting over 100 levels, checked before parsing), or another
    ``ValueError`` for a syntax error or bytes that are not UTF-8."""
    from vpnguard.core.policy.render import loads_strict as _loads

    return _loads(data)


def network_state(
    interfaces: Sequence[NetInterface],
    public_route: Route | None,
    public_route6: Route | None = None,
) -> NetworkState:
    """The VPN/tunnel state the core decides for these interfaces and routes (pure; demos
    and tests build machines they do not have with it)."""
    from vpnguard.core.network.tunnel import decide

    return decide(interfaces, public_route, public_route6)


def network_events() -> EventSource:
    """Wake-ups on link, address and route changes (rtnetlink on Linux; elsewhere a
    source that never fires, so callers re-check on their own period)."""
    from vpnguard.core.network.events import open_events

    return open_events()


def active_vpns(patterns: Sequence[str] = ()) -> tuple[NetInterface, ...]:
    """The VPN interfaces up on this machine now, by the rule ``status`` uses
    (:func:`vpnguard.core.network.tunnel.vpns_up`: a named but idle tun is not up).

    Cheap enough to ask after every link event: no route lookup, no packet.
    Always the live machine's network, also when policies go to a ``--root`` tree.
    ``patterns`` (shell-style) count up interfaces with unusual names instead.
    """
    from vpnguard.core.network import detect_network
    from vpnguard.core.network.tunnel import vpns_up

    state = detect_network(Host.current(), probe4=None, probe6=None)
    return vpns_up(state.interfaces, patterns)


def exclusive_lock(
    path: os.PathLike[str] | str,
    *,
    wait_s: float = 30.0,
    busy: Callable[[str, float], VpnguardError] | None = None,
    mode: int = 0o600,
    clear_on_release: bool = False,
) -> contextlib.AbstractContextManager[None]:
    """vpnguard's one inter-process lock (:mod:`vpnguard.core.lock`): bounded wait, and a
    refusal naming the holder's PID (``busy(pid, waited)`` builds it)."""
    from pathlib import Path

    from vpnguard.core.lock import exclusive

    return exclusive(
        Path(path), wait_s=wait_s, busy=busy, mode=mode, clear_on_release=clear_on_release
    )
