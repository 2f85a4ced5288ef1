"""Read protection back from disk: what the browser will really get.

Nothing here trusts the journal: a browser's protection is what its policy
sources say now, including files an admin wrote and values that conflict.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Sequence

from vpnguard._lazylog import get_logger
from vpnguard.core.browsers.catalog import BY_ID, BrowserSpec
from vpnguard.core.host import Host
from vpnguard.core.model import (
    Browser,
    Conflict,
    Level,
    PolicyState,
    PolicyTarget,
    Protection,
    TargetKind,
    TargetState,
)
from vpnguard.core.policy.levels import (
    CHROMIUM_VALUES,
    OWN_FILE,
    chromium_level_of,
    firefox_level_of,
    protection_of,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

    from vpnguard.core.policy.registry import Registry

log = get_logger(__name__)  # imports logging only if a message is emitted

WEAKENING_KEYS = ("WebRtcLocalIpsAllowedUrls",)


def _load(path: Any) -> tuple[dict[str, Any] | None, str]:
    """Read one policy file safely (no links, no FIFOs: never blocks) and parse it strictly."""
    from vpnguard.core.errors import VpnguardError
    from vpnguard.core.policy import fsio
    from vpnguard.core.policy.render import loads_strict

    try:
        data = fsio.read_bytes(path)
    except VpnguardError as exc:
        if "permission denied" in exc.message:
            return None, f"{path.name}: unreadable"
        reason = exc.message.replace(str(path), "").strip(" :;").removeprefix("is ") or "unreadable"
        return None, f"{path.name}: {reason}, the browser cannot use it"
    if data is None:
        return None, ""
    try:
        doc = loads_strict(data)
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"{path.name}: not valid JSON, the browser ignores it ({exc})"
    if not isinstance(doc, dict):
        return None, f"{path.name}: not a JSON object, the browser ignores it"
    return doc, ""


def _level_protection(level: Level | None) -> Protection:
    return protection_of(level)


def _managed_dir_files(directory: Any) -> list[tuple[str, Any]]:
    """Every file of a Chromium managed directory, in the order Chromium reads them.

    ``ConfigDirPolicyLoader`` enumerates every file (not only ``*.json``, dot files
    included), sorts the paths lexicographically and lets a later file win on a
    shared key. Directories are left out; anything else is listed so that the
    reader can say why a FIFO, socket or device is no policy (:func:`_load` never
    blocks on one).
    """
    out: list[tuple[str, Any]] = []
    for name in sorted(os.listdir(directory), key=os.fsencode):
        path = directory / name
        try:
            st = path.stat()
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            out.append((name, path))
    return out


def chromium_dir_state(host: Host, spec: BrowserSpec, target: PolicyTarget) -> TargetState:
    """Read a managed directory exactly as Chromium does: every regular file, in name
    order, the last file that sets a key wins. A file after ours that sets our key
    differently overrides us: a conflict (and the effective value is theirs)."""
    key = spec.webrtc_key or ""
    directory = host.p(target.location)
    try:
        files = _managed_dir_files(directory)
    except FileNotFoundError:
        return TargetState(target, Protection.NONE, "no managed policy directory")
    except NotADirectoryError:
        return TargetState(target, Protection.NONE, "policy path is not a directory")
    except PermissionError:
        return TargetState(target, Protection.NONE, "policy directory unreadable")
    setters: list[tuple[str, Any]] = []  # (file name, value) in reading order
    notes: list[str] = []
    for name, path in files:
        doc, problem = _load(path)
        if problem:
            notes.append(problem)
        if doc is None:
            continue
        for weak in WEAKENING_KEYS:
            if weak in doc:
                notes.append(f"{name} sets {weak}: listed origins still see local addresses")
        if key in doc:
            setters.append((name, doc[key]))
    if not setters:
        return TargetState(target, Protection.NONE, "; ".join(notes))
    # Edge and Chrome use different names; a file naming the other one does nothing.
    winner, value = setters[-1]
    ours_at = [i for i, (n, _) in enumerate(setters) if n == OWN_FILE]
    ours = setters[ours_at[0]][1] if ours_at else None
    where = target.location
    if ours_at:
        i = ours_at[0]
        later = [(n, v) for n, v in setters[i + 1 :] if v != ours]
        earlier = [(n, v) for n, v in setters[:i] if v != ours]
        if later or earlier:
            conflicts = tuple(Conflict(f"{where}/{n}", key, v, ours) for n, v in later + earlier)
            parts = [
                f"{where}/{n} sets {key}={v} and, read after {OWN_FILE}, overrides it"
                for n, v in later
            ] + [f"{where}/{n} sets {key} differently ({v}; {OWN_FILE} wins)" for n, v in earlier]
            return TargetState(target, Protection.CONFLICT, "; ".join(parts), conflicts)
    elif len({json.dumps(v, sort_keys=True) for _, v in setters}) > 1:
        c = tuple(Conflict(f"{where}/{n}", key, v, value) for n, v in setters[:-1])
        return TargetState(
            target,
            Protection.CONFLICT,
            f"managed files disagree on {key}; {where}/{winner} is read last and wins",
            c,
        )
    level = chromium_level_of(value)
    who = "vpnguard" if ours_at else ", ".join(f"{where}/{n}" for n, _ in setters)
    detail = f"{key}={value} (set by {who})"
    if level is None and value not in CHROMIUM_VALUES.values():
        detail = f"{key}={value!r} set by {who} gives no protection"
    return TargetState(target, _level_protection(level), "; ".join([detail, *notes]))


def firefox_file_state(host: Host, target: PolicyTarget) -> TargetState:
    doc, problem = _load(host.p(target.location))
    if doc is None:
        return TargetState(target, Protection.NONE, problem or "no policies.json")
    policies = doc.get("policies")
    prefs = policies.get("Preferences") if isinstance(policies, dict) else None
    if not isinstance(prefs, dict):
        return TargetState(target, Protection.NONE, "policies.json sets no Preferences")
    level, partial = firefox_level_of(prefs)
    if level is not None:
        return TargetState(target, _level_protection(level), "locked prefs in policies.json")
    if partial:
        return TargetState(target, Protection.PARTIAL, "only some of the WebRTC prefs are locked")
    return TargetState(target, Protection.NONE, "")


def macos_state(host: Host, spec: BrowserSpec, target: PolicyTarget) -> TargetState:
    """Mandatory macOS policy: what a configuration profile put in Managed Preferences.

    A plain ``defaults write`` is only a recommendation the user can override, so
    only ``/Library/Managed Preferences`` counts.
    """
    import plistlib

    path = host.p(f"/Library/Managed Preferences/{target.location}.plist")
    from vpnguard.core.errors import VpnguardError
    from vpnguard.core.policy import fsio

    try:
        data = fsio.read_bytes(path)
        if data is None:
            return TargetState(target, Protection.NONE, "no configuration profile sets it")
        doc = plistlib.loads(data)
    except (VpnguardError, plistlib.InvalidFileException, ValueError) as exc:
        return TargetState(target, Protection.NONE, f"unreadable managed preferences: {exc}")
    if not isinstance(doc, dict):
        return TargetState(target, Protection.NONE, "managed preferences are not a dictionary")
    if spec.webrtc_key:
        value = doc.get(spec.webrtc_key)
        level = chromium_level_of(value)
        if value is None:
            return TargetState(target, Protection.NONE, "")
        return TargetState(target, _level_protection(level), f"{spec.webrtc_key}={value}")
    prefs = doc.get("Preferences")
    if not doc.get("EnterprisePoliciesEnabled") or not isinstance(prefs, dict):
        return TargetState(target, Protection.NONE, "")
    level, partial = firefox_level_of(prefs)
    if level is None:
        return TargetState(target, Protection.PARTIAL if partial else Protection.NONE, "")
    return TargetState(target, _level_protection(level), "locked prefs from a profile")


def combine(states: Sequence[TargetState]) -> Protection:
    if not states:
        return Protection.UNSUPPORTED
    kinds = {s.protection for s in states}
    if Protection.CONFLICT in kinds:
        return Protection.CONFLICT
    if len(kinds) == 1:
        return kinds.pop()
    return Protection.PARTIAL


def _started_before(host: Host, browser: Browser, mtime: float) -> bool:
    """True when a process of this browser started before the policy last changed."""
    if not host.is_live or not browser.running:
        return False
    names = set(BY_ID[browser.id].process_names)
    if os.path.isdir("/proc/self") and os.path.isfile("/proc/stat"):
        return _linux_started_before(names, mtime)
    import psutil

    for proc in psutil.process_iter(["name", "create_time"]):
        if proc.info.get("name") in names and (proc.info.get("create_time") or 0) < mtime:
            return True
    return False


def _linux_started_before(names: set[str], mtime: float) -> bool:
    """psutil's ``name``/``create_time`` check from /proc, without importing psutil.

    A process's start is ``btime`` (/proc/stat) plus field 22 of
    /proc/PID/stat in clock ticks: psutil's own arithmetic.
    """
    try:
        with open("/proc/stat", "rb") as fh:
            btime = next(int(line.split()[1]) for line in fh if line.startswith(b"btime "))
    except (OSError, StopIteration, ValueError):
        return False
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:  # os.read, not open(): no buffered file object per process
            fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        except OSError:
            continue
        try:
            stat = os.read(fd, 4096)  # one line, well under a page
        except OSError:
            continue
        finally:
            os.close(fd)
        head, _, tail = stat.rpartition(b")")
        name = head.partition(b"(")[2].decode("utf-8", "replace")
        fields = tail.split()
        if name in names and len(fields) > 19 and btime + int(fields[19]) / ticks < mtime:
            return True
    return False


def read_state(host: Host, browser: Browser, registry: Registry | None = None) -> PolicyState:
    spec = BY_ID[browser.id]
    if spec.self_managed:
        return PolicyState(
            browser.id, Protection.SELF_MANAGED, (), False, "manages WebRTC itself; not written"
        )
    states: list[TargetState] = []
    mtimes: list[float] = []
    for target in browser.targets:
        if target.kind is TargetKind.CHROMIUM_MANAGED_DIR:
            states.append(chromium_dir_state(host, spec, target))
            p = host.p(target.location)
        elif target.kind is TargetKind.FIREFOX_POLICIES_JSON:
            states.append(firefox_file_state(host, target))
            p = host.p(target.location)
        elif target.kind is TargetKind.MACOS_MANAGED_PREFS:
            states.append(macos_state(host, spec, target))
            continue
        elif target.kind is TargetKind.WINDOWS_REGISTRY and registry is not None:
            from vpnguard.core.policy.registry import target_state

            states.append(target_state(registry, browser, target))
            continue
        else:
            states.append(TargetState(target, Protection.UNSUPPORTED, "read on its own OS only"))
            continue
        try:  # noqa: SIM105  # not contextlib.suppress: status does not import contextlib
            mtimes.append(p.stat().st_mtime)
        except OSError:
            pass
    protection = combine(states)
    restart = bool(spec.restart_to_apply and mtimes and _started_before(host, browser, max(mtimes)))
    detail = "; ".join(s.detail for s in states if s.detail)
    if not states:
        detail = "no known policy location for this install"
    return PolicyState(browser.id, protection, tuple(states), restart, detail)


def read_states(
    host: Host, browsers: Sequence[Browser], registry: Registry | None = None
) -> dict[str, PolicyState]:
    return {b.id: read_state(host, b, registry) for b in browsers}
