"""``vpnguard hook run KIND``: what a VPN client's hook executes.

Contract: return quickly, never fail the tunnel (exit 0 unless the hook was
installed with ``--fail-closed``), log every decision and the JSON result of
``protect``/``unprotect`` to ``hooks.log`` (``/var/log/vpnguard`` as root),
and be safe to run twice. Values the VPN client hands over (device names) are
validated here and never reach a shell.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vpnguard.core.errors import ExitCode, RefusedError, VpnguardError
from vpnguard.core.model import LevelChoice
from vpnguard.core.service import Host
from vpnguard.vpnclient import paths
from vpnguard.vpnclient.claims import Coordinator, summarize
from vpnguard.vpnclient.configedit.names import check_interface

LOG_NAME = "hooks.log"
MAX_LOG_BYTES = 1 << 20
TIMEOUT_S = 25  # NetworkManager gives dispatcher scripts 60 s; stay well inside it

log = logging.getLogger("vpnguard.hook")


@dataclasses.dataclass(frozen=True)
class HookEvent:
    event: str  # "up" | "down"
    interface: str
    source: str  # what the client said, for the log


def resolve_event(
    kind: str,
    *,
    event: str | None,
    interface: str | None,
    extra: Sequence[str],
    environ: Mapping[str, str],
    host: Host | None,
    only: Sequence[str] = (),
) -> HookEvent | None:
    """Turn what the VPN client passed into one event, or ``None`` when it is not ours."""
    if kind == "wireguard":
        if event not in {"up", "down"} or not interface:
            raise RefusedError("wireguard hook needs --event up|down and --interface")
        return HookEvent(event, check_interface(interface), f"wg-quick {event}")
    if kind == "openvpn":
        script_type = event or environ.get("script_type", "")
        if script_type not in {"up", "down"}:
            return None  # route-up, ipchange, ...: not ours
        dev = interface or environ.get("dev") or (extra[0] if extra else "")
        if not dev:
            raise RefusedError("openvpn hook: no device ($dev) in the environment")
        return HookEvent(script_type, check_interface(dev), f"openvpn script_type={script_type}")
    if kind == "networkmanager":
        iface = extra[0] if extra else environ.get("DEVICE_IP_IFACE", "")
        action = extra[1] if len(extra) > 1 else environ.get("NM_DISPATCHER_ACTION", "")
        conn = environ.get("CONNECTION_ID", "?")
        if action in {"vpn-up", "vpn-down"}:
            iface = environ.get("VPN_IP_IFACE") or iface
            if not iface:
                raise RefusedError(f"networkmanager {action}: no interface given")
            iface = check_interface(iface)
            if only and iface not in only:
                return None
            return HookEvent(action[4:], iface, f"NetworkManager {action} ({conn})")
        if action in {"up", "down"} and iface:
            if not _is_wireguard(iface, environ, host, only):
                return None
            return HookEvent(action, check_interface(iface), f"NetworkManager {action} ({conn})")
        return None
    raise RefusedError(f"unknown hook kind {kind!r}")


def _is_wireguard(
    iface: str, environ: Mapping[str, str], host: Host | None, only: Sequence[str]
) -> bool:
    """NetworkManager types WireGuard connections ``wireguard`` (``Vpn == false``)."""
    if iface in only:
        return True
    if only:
        return False
    if environ.get("CONNECTION_TYPE", "").lower() == "wireguard":
        return True
    filename = environ.get("CONNECTION_FILENAME", "")
    if filename.startswith("/") and host is not None:
        from vpnguard.core import service

        try:  # never blocks: a FIFO here must not hang the tunnel
            data = service.read_file(host.p(filename)) or b""
        except VpnguardError:
            data = b""
        text = data.decode("utf-8", errors="replace")
        section = ""
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[connection]" and line.replace(" ", "") == "type=wireguard":
                return True
    try:
        uevent = Path(f"/sys/class/net/{iface}/uevent").read_text()
    except OSError:
        return False
    return "DEVTYPE=wireguard" in uevent.split()


def setup_logging(host: Host | None) -> Path | None:
    """Log to ``hooks.log`` and stderr (wg-quick's terminal, OpenVPN's log, NM's journal)."""
    log.setLevel(logging.INFO)
    log.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s vpnguard-hook[%(process)d]: %(message)s")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(fmt)
    stderr.setLevel(logging.INFO)
    stderr.addFilter(lambda record: not getattr(record, "json_doc", False))  # file only
    log.addHandler(stderr)
    path: Path | None = None
    try:
        override = os.environ.get("VPNGUARD_LOG_DIR")
        if host is None and not override:
            return None
        directory = paths.log_dir(host) if host is not None else Path(str(override))
        directory.mkdir(parents=True, exist_ok=True, mode=0o755)
        path = directory / LOG_NAME
        if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
            os.replace(path, directory / (LOG_NAME + ".1"))
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(fmt)
        log.addHandler(handler)
    except OSError as exc:
        log.warning("cannot write the hook log (%s); logging to stderr only", exc)
        path = None
    return path


def _arm_deadline(fail_closed: bool, seconds: float = TIMEOUT_S) -> None:
    """A hard overall deadline: whatever hangs (a FIFO, a stuck filesystem, a bug), the
    process logs and exits ``seconds`` after it started, so the tunnel goes on.

    Exiting mid-write is safe: writes are atomic and the journal's write-ahead
    record lets the next run finish or undo (see ``engine.recover``). The exit code
    is ``5`` with ``--fail-closed``, else ``0`` (the hook contract).
    """
    code = int(ExitCode.INTERNAL) if fail_closed else 0

    def expired(signum: int, frame: Any) -> None:
        try:
            log.error("vpnguard hook: deadline of %s s passed; exiting %s", seconds, code)
            for handler in log.handlers:
                handler.flush()
        finally:
            os._exit(code)

    if hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    else:  # pragma: no cover - Windows: a watchdog thread
        import threading

        timer = threading.Timer(seconds, expired, args=(0, None))
        timer.daemon = True
        timer.start()


def run_hook(
    kind: str,
    *,
    level: LevelChoice,
    root: str | None,
    fail_closed: bool,
    event: str | None,
    interface: str | None,
    only: Sequence[str],
    extra: Sequence[str],
    environ: Mapping[str, str] | None = None,
) -> int:
    environ = os.environ if environ is None else environ
    host: Host | None = None
    host_error: VpnguardError | None = None
    try:
        host = Host.current(root)
    except VpnguardError as exc:
        host_error = exc
    except OSError as exc:
        host_error = VpnguardError(f"cannot use root prefix {root!r}: {exc}")
    setup_logging(host)
    try:
        deadline = min(float(environ.get("VPNGUARD_HOOK_DEADLINE_S", TIMEOUT_S)), TIMEOUT_S)
    except ValueError:
        deadline = TIMEOUT_S
    _arm_deadline(fail_closed, deadline)
    try:
        return _run(
            kind, level, root, fail_closed, event, interface, only, extra, environ, host, host_error
        )
    finally:
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)


def _run(
    kind: str,
    level: LevelChoice,
    root: str | None,
    fail_closed: bool,
    event: str | None,
    interface: str | None,
    only: Sequence[str],
    extra: Sequence[str],
    environ: Mapping[str, str],
    host: Host | None,
    host_error: VpnguardError | None,
) -> int:
    def fail(code: int) -> int:
        return code if fail_closed else 0

    try:
        ev = resolve_event(
            kind,
            event=event,
            interface=interface,
            extra=extra,
            environ=environ,
            host=host,
            only=only,
        )
    except VpnguardError as exc:
        log.error("%s: refused: %s (args %s)", kind, exc.message, list(extra))
        return fail(int(exc.exit_code))
    if ev is None:
        return 0
    if only and ev.interface not in only:
        log.info("%s %s %s: not one of %s; ignored", kind, ev.event, ev.interface, list(only))
        return 0
    where = f"{kind} {ev.event} {ev.interface}"
    if not (host or Host.current()).is_admin:
        uid = getattr(os, "geteuid", lambda: -1)()
        hint = (
            " OpenVPN runs `down` after dropping privileges (`user`/`group`): use the "
            "down-root plugin for it."
            if kind == "openvpn"
            else ""
        )
        log.error(
            "%s: vpnguard hook needs root but runs as uid %s: nothing changed.%s",
            where,
            uid,
            hint,
        )
        return fail(int(ExitCode.PERMISSION)) if ev.event == "up" else 0
    if host is None:
        assert host_error is not None
        log.error("%s: %s", where, host_error.message)
        return fail(int(host_error.exit_code)) if ev.event == "up" else 0
    try:
        coordinator = Coordinator(host, level, root=root)
        holder = f"{kind}:{ev.interface}"
        if ev.event == "up":
            outcome = coordinator.update(add={holder: ev.interface})
        else:
            outcome = coordinator.update(remove=[holder])
    except VpnguardError as exc:
        log.error("%s: %s", where, exc.message)
        return fail(int(exc.exit_code)) if ev.event == "up" else 0
    except Exception as exc:  # never let a bug take the tunnel down
        log.exception("%s: internal error: %s", where, exc)
        return fail(int(ExitCode.INTERNAL)) if ev.event == "up" else 0
    level_name = logging.INFO if outcome.ok else logging.ERROR
    log.log(level_name, "%s (%s): %s", where, ev.source, summarize(outcome))
    if outcome.doc is not None:
        doc = json.dumps(outcome.doc, separators=(",", ":"))
        log.log(level_name, "%s result %s", where, doc, extra={"json_doc": True})
    if outcome.ok or ev.event == "down":
        return 0
    return fail(outcome.exit_code)
