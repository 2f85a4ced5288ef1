"""Auto mode: ``vpnguard watch`` protects while a matching VPN is up.

How it decides:

* **Events**: rtnetlink link/address/route messages wake it (a timer on other
  systems, and a re-check every ``recheck_s`` anyway). Each wake-up re-reads
  the whole state (``service.active_vpns``: the same classifier and the same
  "up" rule as ``vpnguard status``, so a named but idle ``tun0`` does not
  count), so what counts is the state, never the order of messages.
* **Debounce**: it acts once no event came for ``settle_s`` (or, while events
  never stop, at most every ``max_delay_s``). A link flapping ten times in a
  second gives one decision on the state it ends in.
* **Several VPNs**: the set of matching VPNs that are up is written as holders
  ``watch:<iface>`` into the shared auto-mode state; protection stays while
  any holder (of watch or of a hook) is left.
* **Restarts**: the first look happens at start. ``protect`` is idempotent and
  the state file remembers whether automation wrote the protection, so a
  restart neither applies twice nor forgets to undo after a crash.
* **One instance**: ``watch.pid`` in the state directory, flock'ed for the
  process's life; a second ``watch`` refuses (exit 4) naming the first's PID.
* **Stop**: SIGTERM/SIGINT end the loop between decisions; protection is left
  as it is (the VPN may still be up); the next start reconciles.
* **auto**: with ``--level auto`` each look also asks the core which concrete
  level fits the tunnel now (``service.auto_level``); when that changes while
  a VPN is up (full tunnel becomes split, IPv6 appears around it), the policy
  is written again at once. ``watch.json`` records the level auto chose and why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from vpnguard.core import service
from vpnguard.core.errors import RefusedError, VpnguardError
from vpnguard.core.model import Action, AutoChoice, Level, LevelChoice
from vpnguard.core.service import WATCH_PID_FILE as PID_FILE
from vpnguard.core.service import WATCH_STATUS_FILE as STATUS_FILE
from vpnguard.core.service import Host
from vpnguard.vpnclient.claims import Coordinator, Outcome, summarize
from vpnguard.vpnclient.fsutil import atomic_write

log = logging.getLogger(__name__)

HOLDER_PREFIX = "watch:"


@dataclasses.dataclass(frozen=True)
class WatchConfig:
    level: LevelChoice = LevelChoice.STRICT
    vpn_patterns: tuple[str, ...] = ()
    always: bool = False
    root: str | None = None
    settle_s: float = 0.25
    max_delay_s: float = 2.0
    recheck_s: float = 30.0
    poll_s: float = 2.0  # without netlink


@contextlib.contextmanager
def single_instance(state_dir: Path) -> Iterator[None]:
    """Hold ``watch.pid`` locked while running; refuse at once when another watch holds it.

    The file holds the running watch's PID (world-readable: the app shows it) and is
    emptied on a clean stop.
    """

    def busy(holder: str, _waited: float) -> VpnguardError:
        return RefusedError(
            f"another vpnguard watch is already running (PID {holder}); stop it first",
            path=str(state_dir / PID_FILE),
        )

    with service.exclusive_lock(
        state_dir / PID_FILE, wait_s=0, busy=busy, mode=0o644, clear_on_release=True
    ):
        yield


def _active(patterns: Sequence[str]) -> dict[str, str]:
    """``{interface: why it counts}`` for the VPNs up now (``--vpn`` patterns: those instead)."""
    from vpnguard.core import service

    return {i.name: i.reason for i in service.active_vpns(patterns)}


class Watcher:
    def __init__(
        self,
        config: WatchConfig,
        *,
        host: Host | None = None,
        coordinator: Coordinator | None = None,
        events: service.EventSource | None = None,
        look: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.config = config
        self.host = host or Host.current(config.root)
        self.coordinator = coordinator or Coordinator(self.host, config.level, root=config.root)
        self.events = events
        self.look = look or (lambda: _active(config.vpn_patterns))
        self.stopping = False
        self.last_seen: tuple[tuple[str, ...], str | None] | None = None
        self.auto: AutoChoice | None = None  # what auto chose at the last look
        self.last_outcome: Outcome | None = None
        self.started = time.time()
        self.checked: float | None = None  # when the last look began (decision or not)
        self.checks = 0

    def stop(self, *_: Any) -> None:
        self.stopping = True

    def current(self) -> dict[str, str]:
        return self.look()

    def evaluate(self, force: bool = False) -> Outcome | None:
        """Look once; change holders and protection only when the matching set changed."""
        self.checked = time.time()
        self.checks += 1
        active = self.current()
        names = tuple(sorted(active))
        auto = self._auto_choice() if self.config.level is LevelChoice.AUTO and names else None
        seen = (names, auto.level.value if auto else None)
        if (
            not force
            and seen == self.last_seen
            and (self.last_outcome is None or self.last_outcome.ok)
        ):
            self._write_status(active)  # says "looked, nothing to do" (tests wait on it)
            return None
        outcome = self.coordinator.update(
            add={HOLDER_PREFIX + n: n for n in names},
            replace_prefix=HOLDER_PREFIX,
            always=self.config.always,
        )
        written = (outcome.doc or {}).get("auto") if outcome.action == Action.PROTECT else None
        if isinstance(written, dict) and isinstance(written.get("level"), str):
            # what protect really chose (the network may have moved since our look)
            auto = AutoChoice(Level(written["level"]), str(written.get("reason") or ""))
            seen = (names, auto.level.value)
        self.auto = auto
        if auto is not None:
            log.info("auto: %s (%s)", auto.level.value, auto.reason)
        self.last_seen = seen
        self.last_outcome = outcome
        vpns = ", ".join(f"{n} ({r})" for n, r in sorted(active.items())) or "none"
        lvl = logging.INFO if outcome.ok else logging.ERROR
        log.log(lvl, "VPNs up: %s -> %s", vpns, summarize(outcome))
        if outcome.doc is not None:
            log.debug("result %s", json.dumps(outcome.doc, separators=(",", ":")))
        self._write_status(active)
        return outcome

    def _auto_choice(self) -> AutoChoice:
        return service.auto_level(root=self.config.root)

    def _write_status(self, active: dict[str, str]) -> None:
        o = self.last_outcome
        doc = {
            "schema_version": 1,
            "pid": os.getpid(),
            "started": self.started,
            "updated": time.time(),
            "checked": self.checked,  # start of the last look, whether or not it acted
            "checks": self.checks,
            "level": self.config.level.value,
            "auto": self.auto.to_json() if self.auto else None,
            "vpn_patterns": list(self.config.vpn_patterns),
            "always": self.config.always,
            "events": self.events.name if self.events else None,
            "active_vpns": sorted(active),
            "last_action": None
            if o is None
            else {"action": o.action, "exit_code": o.exit_code, "reason": o.reason},
        }
        try:
            atomic_write(
                self.host.state_dir() / STATUS_FILE, (json.dumps(doc, indent=2) + "\n").encode()
            )
        except Exception as exc:  # status is for display; never stop watching for it
            log.warning("cannot write %s: %s", STATUS_FILE, exc)

    def run(self) -> int:
        cfg = self.config
        with single_instance(self.host.state_dir()):
            self.events = self.events or service.network_events()
            old = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
            log.info(
                "watching (%s) for %s; level %s%s",
                self.events.name,
                ", ".join(cfg.vpn_patterns) or "any VPN",
                cfg.level.value,
                "; --always" if cfg.always else "",
            )
            try:
                self._loop()
            finally:
                for sig, handler in old.items():
                    signal.signal(sig, handler)
                self.events.close()
            log.info("stopped; protection left as it is (the next start reconciles)")
        return 0

    def _loop(self) -> None:
        cfg = self.config
        assert self.events is not None
        self.evaluate(force=True)
        first_event: float | None = None
        last_event = 0.0
        last_check = time.monotonic()
        period = cfg.recheck_s if self.events.name == "netlink" else cfg.poll_s
        while not self.stopping:
            now = time.monotonic()
            if first_event is None:
                timeout = max(0.0, last_check + period - now)
            else:
                timeout = min(last_event + cfg.settle_s, first_event + cfg.max_delay_s) - now
            changed = self.events.wait(min(max(timeout, 0.0), 0.5))
            now = time.monotonic()
            if changed:
                last_event = now
                if first_event is None:
                    first_event = now
                continue
            if self.stopping:
                break
            due = first_event is not None and (
                now - last_event >= cfg.settle_s or now - first_event >= cfg.max_delay_s
            )
            if due or now - last_check >= period:
                first_event = None
                last_check = now
                try:
                    self.evaluate()
                except Exception:  # keep watching; the next event retries
                    log.exception("evaluation failed")


def watch(
    level: LevelChoice = LevelChoice.STRICT,
    vpn_patterns: Sequence[str] = (),
    always: bool = False,
    root: str | None = None,
) -> int:
    return Watcher(
        WatchConfig(level=level, vpn_patterns=tuple(vpn_patterns), always=always, root=root)
    ).run()
