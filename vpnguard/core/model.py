"""Plain, frozen data shared by every part of vpnguard (no Qt, no OS access).

Each dataclass has a ``to_json`` giving the shape documented in the JSON
schema; the CLI, the Python API and the GUI all read these same objects.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any


class OS(StrEnum):
    LINUX = "linux"
    WINDOWS = "windows"
    MACOS = "macos"


class Family(StrEnum):
    CHROMIUM = "chromium"
    FIREFOX = "firefox"


class Level(StrEnum):
    """A concrete protection level: what it writes per family is in core.policy.levels.

    Ordered from the strongest; ``RELAY`` is the recommended one (the lab's
    matrix, docs/matrix.md: no leak in any scenario, calls through TURN).
    """

    STRICT = "strict"
    RELAY = "relay"
    BALANCED = "balanced"


class LevelChoice(StrEnum):
    """What a user may ask for: a concrete level, or ``auto`` (follow the tunnel).

    ``auto`` is resolved to a :class:`Level` from the network as it is now
    (core.policy.auto); nothing is ever written "at auto".
    """

    STRICT = "strict"
    RELAY = "relay"
    BALANCED = "balanced"
    AUTO = "auto"


class Protection(StrEnum):
    """What the policy on disk gives a browser, read back from disk."""

    STRICT = "strict"
    RELAY = "relay"
    BALANCED = "balanced"
    NONE = "none"
    CONFLICT = "conflict"  # another managed source sets the same key differently
    PARTIAL = "partial"  # some targets/prefs protected, others not
    SELF_MANAGED = "self_managed"  # e.g. Tor Browser: manages WebRTC itself, never written
    UNSUPPORTED = "unsupported"  # no known policy location on this OS


class Action(StrEnum):
    """What a change does to the browsers' policy."""

    PROTECT = "protect"
    UNPROTECT = "unprotect"


class FileAction(StrEnum):
    """What a change does (or would do) to one policy file or registry value."""

    CREATE = "create"
    MODIFY = "modify"
    RESTORE = "restore"
    REMOVE = "remove"
    UNCHANGED = "unchanged"


class Install(StrEnum):
    """How a browser is installed; one browser can be installed several ways at once."""

    SYSTEM = "system"
    SNAP = "snap"
    FLATPAK = "flatpak"
    APP = "app"  # macOS application bundle
    USER = "user"  # Windows per-user install


class Verdict(StrEnum):
    """A leak check's answer for one browser."""

    PASS = "pass"
    LEAK = "leak"
    WEBRTC_DISABLED = "webrtc_disabled"
    INCONCLUSIVE = "inconclusive"  # no public path observable: never reported as pass
    ERROR = "error"  # the browser crashed, hung, or never reported
    SKIPPED = "skipped"  # self-managed browsers (Tor)


class CheckPhase(StrEnum):
    """Where one browser's leak check is, as ``progress(browser_id, phase)`` reports it."""

    LAUNCHING = "launching"
    WAITING = "waiting"
    REPORTED = "reported"
    JUDGED = "judged"  # a verdict is in
    SKIPPED = "skipped"  # self-managed: not checked
    ERROR = "error"  # the browser never gave a usable report


class TargetKind(StrEnum):
    CHROMIUM_MANAGED_DIR = "chromium_managed_dir"
    FIREFOX_POLICIES_JSON = "firefox_policies_json"
    WINDOWS_REGISTRY = "windows_registry"
    MACOS_MANAGED_PREFS = "macos_managed_prefs"


class InterfaceKind(StrEnum):
    PHYSICAL = "physical"
    VPN = "vpn"
    VIRTUAL = "virtual"
    LOOPBACK = "loopback"


class TunnelMode(StrEnum):
    NONE = "none"  # no VPN interface is up
    FULL = "full"  # the route to the public internet goes through the VPN
    SPLIT = "split"  # a VPN is up, but the public route bypasses it


def _jsonable(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


class JsonMixin:
    def to_json(self) -> dict[str, Any]:
        out = _jsonable(self)
        assert isinstance(out, dict)
        return out


@dataclasses.dataclass(frozen=True)
class PolicyTarget(JsonMixin):
    """One place a browser reads managed policy from.

    ``location`` is a filesystem path as the browser sees it (without any
    ``--root`` prefix), a registry key (``HKLM\\SOFTWARE\\Policies\\...``) or a
    macOS preference domain.
    """

    kind: TargetKind
    location: str
    os: OS
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Browser(JsonMixin):
    """An installed browser as detected on this machine."""

    id: str  # catalog id, e.g. "chromium", "firefox-esr"
    name: str
    family: Family
    version: str | None
    path: str  # executable or app bundle, as seen without the root prefix
    installs: tuple[Install, ...]  # e.g. (SYSTEM, SNAP): both are there, both are covered
    running: bool
    targets: tuple[PolicyTarget, ...]
    self_managed: bool = False  # Tor Browser: detected, never written to

    @property
    def install(self) -> str:
        """The JSON form: the ways it is installed joined by "+" (e.g. "system+snap")."""
        return "+".join(i.value for i in self.installs)

    def to_json(self) -> dict[str, Any]:
        # Same keys, same order as always: "installs" is shown as its joined "install" string.
        return {
            ("install" if k == "installs" else k): (self.install if k == "installs" else v)
            for k, v in super().to_json().items()
        }


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """A browser vpnguard knows, installed or not (what front ends list and name)."""

    id: str
    name: str
    family: Family
    restart_to_apply: bool  # a running instance must restart to pick a policy change up
    process_names: tuple[str, ...]
    self_managed: bool = False


@dataclasses.dataclass(frozen=True)
class LevelAdvice:
    """Does a protection level (or what is on disk) stop the leak on this network?"""

    holds: bool
    reason: str  # why not, for people; empty when it holds


@dataclasses.dataclass(frozen=True)
class FileChange:
    """One file's (or registry value's) change, as reported to the user and in ``--json``."""

    path: str
    action: FileAction
    browsers: tuple[str, ...]
    detail: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", FileAction(self.action))  # "create" is accepted

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "action": self.action.value,
            "browsers": list(self.browsers),
            "detail": self.detail,
        }


@dataclasses.dataclass(frozen=True)
class TurnServer:
    """A TURN server for the leak check, with its password (read from the OS keyring)."""

    url: str
    username: str
    credential: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class Conflict(JsonMixin):
    """Another policy source sets one of our keys to a different value."""

    source: str  # file path or registry value
    key: str
    value: Any
    ours: Any


@dataclasses.dataclass(frozen=True)
class TargetState(JsonMixin):
    target: PolicyTarget
    protection: Protection
    detail: str = ""
    conflicts: tuple[Conflict, ...] = ()


@dataclasses.dataclass(frozen=True)
class PolicyState(JsonMixin):
    """A browser's protection, read back from disk."""

    browser_id: str
    protection: Protection
    targets: tuple[TargetState, ...]
    restart_needed: bool
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class NetInterface(JsonMixin):
    name: str
    kind: InterfaceKind
    reason: str  # why it was classified so, in words a person can check
    addresses: tuple[str, ...]
    is_up: bool
    vpn_type: str | None = None  # "wireguard", "openvpn", "tailscale", ... when known


@dataclasses.dataclass(frozen=True)
class Route(JsonMixin):
    """The kernel's answer for one destination: which interface and source address."""

    destination: str
    interface: str | None
    source: str | None
    gateway: str | None = None
    via_vpn: bool = False


@dataclasses.dataclass(frozen=True)
class NetworkState(JsonMixin):
    interfaces: tuple[NetInterface, ...]
    public_route: Route | None  # IPv4 route to a public address
    public_route6: Route | None
    vpn_active: bool  # a VPN-like interface is up
    vpn_interfaces: tuple[str, ...]
    tunnel: TunnelMode
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class AutoChoice(JsonMixin):
    """What ``auto`` chose for the network as it is now, and why (core.policy.auto)."""

    level: Level
    reason: str
