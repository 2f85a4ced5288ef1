"""Who wants protection right now, and whether vpnguard's automation put it there.

Hooks and ``watch`` share one small state file, ``<state dir>/auto.json``,
under its own lock (``auto.lock``; the core's journal lock is taken inside
``protect``/``unprotect``)::

    {"holders": {"wireguard:wg0": "wg0", "watch:tun0": "tun0"},
     "owned": true, "owned_browsers": ["chromium"], "level": "strict", ...}

* A *holder* is one VPN that is up (per hook kind or per watch). Protection
  stays while any holder remains, so two VPNs can come and go in any order.
* ``owned`` says the automation wrote the protection. If ``protect`` changed
  nothing when the first VPN came up, the user (or an admin) had protected
  already, and going down must not undo their choice.
* ``protect`` is idempotent and ``unprotect`` restores what was there, so
  running the same event twice, or restarting, never applies twice.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from vpnguard.core import service
from vpnguard.core.model import Action, LevelChoice
from vpnguard.core.service import AUTO_LOCK_FILE, AUTO_STATE_FILE, AutoState, Host
from vpnguard.vpnclient.fsutil import locked

log = logging.getLogger(__name__)

# (action, level, root) -> (exit code, JSON document)
Applier = Callable[[Action, LevelChoice, str | None], tuple[int, dict[str, Any]]]


def cli_apply(action: Action, level: LevelChoice, root: str | None) -> tuple[int, dict[str, Any]]:
    """``vpnguard protect|unprotect --json`` in this process: its exit code and JSON.

    Calls the service directly (the very object the CLI prints), so a hook does
    not pay for a second argument parser on the tunnel's critical path.
    """
    from vpnguard.core import service
    from vpnguard.core.errors import VpnguardError, envelope, internal_error

    try:
        if action == Action.PROTECT:
            report = service.protect(level, root=root)
        else:
            report = service.unprotect(root=root)
        return 0, report.to_json()
    except VpnguardError as exc:
        return int(exc.exit_code), envelope(exc)
    except Exception as exc:  # a hook must log, never crash the tunnel
        err = internal_error(exc)
        return int(err.exit_code), envelope(err)


def real_changes(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The entries of a change document that changed a file (the core lists "unchanged" too)."""
    return [c for c in doc.get("changes") or [] if c.get("action") != "unchanged"]


def interface_exists(name: str) -> bool:
    if sys.platform.startswith("linux"):
        return os.path.exists(f"/sys/class/net/{name}")
    try:
        import psutil

        return name in psutil.net_if_stats()
    except Exception:  # unknown: keep the holder (protection stays: the safe side)
        return True


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one update did: ``action`` is "protect", "unprotect" or "none"."""

    action: str  # an Action, or "none"
    exit_code: int
    doc: dict[str, Any] | None
    holders: tuple[str, ...]
    owned: bool
    reason: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def changes(self) -> int:
        return len(real_changes(self.doc)) if self.doc else 0


class Coordinator:
    def __init__(
        self,
        host: Host,
        level: LevelChoice,
        *,
        root: str | None = None,
        apply: Applier = cli_apply,
        exists: Callable[[str], bool] = interface_exists,
    ) -> None:
        self.host = host
        self.level = level
        self.root = root
        self.apply = apply
        self.exists = exists

    @property
    def state_path(self) -> Path:
        return self.host.state_dir() / AUTO_STATE_FILE

    def read(self) -> AutoState:
        return AutoState.load(self.state_path)

    def update(
        self,
        *,
        add: Mapping[str, str] | None = None,
        remove: Iterable[str] = (),
        replace_prefix: str | None = None,
        always: bool = False,
    ) -> Outcome:
        """Change the holders and then protect or unprotect as the new set requires.

        ``replace_prefix`` drops every holder with that prefix first (``watch``
        states its full current view each time). Holders whose interface has
        vanished are dropped too, except ones being added now.
        """
        add = dict(add or {})
        with locked(self.host.state_dir() / AUTO_LOCK_FILE):
            state = self.read()
            before = set(state.holders)
            if replace_prefix is not None:
                state.holders = {
                    k: v for k, v in state.holders.items() if not k.startswith(replace_prefix)
                }
            for key in remove:
                state.holders.pop(key, None)
            stale = [k for k, v in state.holders.items() if k not in add and not self.exists(v)]
            for key in stale:
                log.info("dropping holder %s: interface %s is gone", key, state.holders.pop(key))
            state.holders.update(add)
            outcome = self._decide(state, before, always)
            state.updated = time.time()
            if outcome.action != "none":
                state.last_action = {
                    "action": outcome.action,
                    "exit_code": outcome.exit_code,
                    "time": state.updated,
                    "reason": outcome.reason,
                }
            state.save(self.state_path)
            return outcome

    def _decide(self, state: AutoState, before: set[str], always: bool) -> Outcome:
        holders = tuple(sorted(state.holders))
        if holders:
            reason = f"VPN up: {', '.join(holders)}"
            if not state.owned and state.pending != Action.PROTECT:
                # Write-ahead: if we are killed after protect wrote but before
                # ``owned`` is saved, the next update still knows it was ours.
                state.pending = Action.PROTECT.value
                state.protected_before = service.has_protection(host=self.host)
                state.save(self.state_path)
            code, doc = self.apply(Action.PROTECT, self.level, self.root)
            if code == 0:
                changes = real_changes(doc)
                # Protection that was not there before the pending protect is ours, also
                # when a killed earlier run wrote it and this one found nothing to change.
                new_since_pending = state.pending == Action.PROTECT and not state.protected_before
                if changes or (new_since_pending and service.has_protection(host=self.host)):
                    state.owned = True
                    browsers = {b for c in changes for b in (c.get("browsers") or [])}
                    state.owned_browsers = sorted(set(state.owned_browsers) | browsers)
                elif not before and not state.owned:
                    reason += " (already protected before the VPN came up: left to its owner)"
                state.level = self.level.value
                state.pending = None
            return Outcome(Action.PROTECT, code, doc, holders, state.owned, reason)
        if always:
            return Outcome("none", 0, None, holders, state.owned, "no VPN up; --always keeps it")
        if not state.owned:
            return Outcome("none", 0, None, holders, False, "no VPN up; nothing of ours to undo")
        code, doc = self.apply(Action.UNPROTECT, self.level, self.root)
        if code == 0:
            state.owned = False
            state.owned_browsers = []
        return Outcome(Action.UNPROTECT, code, doc, holders, state.owned, "no VPN up any more")


def summarize(outcome: Outcome) -> str:
    if outcome.action == "none":
        return f"no change ({outcome.reason})"
    if not outcome.ok:
        err = (outcome.doc or {}).get("error") or {}
        return (
            f"{outcome.action} FAILED with exit {outcome.exit_code}: "
            f"{err.get('message', 'unknown error')} ({outcome.reason})"
        )
    return f"{outcome.action}: {outcome.changes()} change(s) ({outcome.reason})"
