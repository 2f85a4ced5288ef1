"""Plain, frozen data shared by every part of vpnguard (no Qt, no OS access).

Each record (a frozen dataclass, see :mod:`vpnguard.core.record`) has a
``to_json`` giving the shape documented in the JSON schema; the CLI, the
Python API and the GUI all read these same objects.
"""

from __future__ import annotations

from enum import StrEnum

from vpnguard.core.record import fields_of, record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
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


class Install(StrEnum):
    """How a browser is installed; one browser can be installed several ways at once."""

    SYSTEM = "system"
    SNAP = "snap"
    FLATPAK = "flatpak"
    APP = "app"  # macOS application bundle
    USER = "user"  # Windows per-user install


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
    names = fields_of(value) if not isinstance(value, type) else None
    if names is not None:
        return {name: _jsonable(getattr(value, name)) for name in names}
    if not isinstance(value, type) and hasattr(type(value), "__dataclass_fields__"):
        import dataclasses  # a real dataclass (model_extra): not on the status path

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


@record
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


@record
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


@record
class Conflict(JsonMixin):
    """Another policy source sets one of our keys to a different value."""

    source: str  # file path or registry value
    key: str
    value: Any
    ours: Any


@record
class TargetState(JsonMixin):
    """The protection one policy target gives, read back from disk."""

    target: PolicyTarget
    protection: Protection
    detail: str = ""
    conflicts: tuple[Conflict, ...] = ()


@record
class PolicyState(JsonMixin):
    """A browser's protection, read back from disk."""

    browser_id: str
    protection: Protection
    targets: tuple[TargetState, ...]
    restart_needed: bool
    detail: str = ""


@record
class NetInterface(JsonMixin):
    """One network interface, classified (with the reason)."""

    name: str
    kind: InterfaceKind
    reason: str  # why it was classified so, in words a person can check
    addresses: tuple[str, ...]
    is_up: bool
    vpn_type: str | None = None  # "wireguard", "openvpn", "tailscale", ... when known


@record
class Route(JsonMixin):
    """The kernel's answer for one destination: which interface and source address."""

    destination: str
    interface: str | None
    source: str | None
    gateway: str | None = None
    via_vpn: bool = False


@record
class NetworkState(JsonMixin):
    """The VPN state: the interfaces, the routes to the internet, full or split tunnel."""

    interfaces: tuple[NetInterface, ...]
    public_route: Route | None  # IPv4 route to a public address
    public_route6: Route | None
    vpn_active: bool  # a VPN-like interface is up
    vpn_interfaces: tuple[str, ...]
    tunnel: TunnelMode
    detail: str = ""


# Values and enums that ``vpnguard status`` never uses live in vpnguard.core.model_extra and
# are loaded on first use (creating an enum class costs ~0.1 ms).
_EXTRA = frozenset(
    {
        "AutoChoice",
        "CatalogEntry",
        "LevelAdvice",
        "FileChange",
        "TurnServer",
        "Action",
        "FileAction",
        "Verdict",
        "CheckPhase",
    }
)
if TYPE_CHECKING:
    from vpnguard.core.model_extra import Action as Action
    from vpnguard.core.model_extra import AutoChoice as AutoChoice
    from vpnguard.core.model_extra import CatalogEntry as CatalogEntry
    from vpnguard.core.model_extra import CheckPhase as CheckPhase
    from vpnguard.core.model_extra import FileAction as FileAction
    from vpnguard.core.model_extra import FileChange as FileChange
    from vpnguard.core.model_extra import LevelAdvice as LevelAdvice
    from vpnguard.core.model_extra import TurnServer as TurnServer
    from vpnguard.core.model_extra import Verdict as Verdict
else:

    def __getattr__(name: str) -> object:
        if name in _EXTRA:
            from vpnguard.core import model_extra

            return getattr(model_extra, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
