"""The model's values that ``vpnguard status`` does not need: what a change did, the
catalog as front ends list it, level advice and TURN servers.

Import them from :mod:`vpnguard.core.model` (same names, loaded from here on first use).
"""

from __future__ import annotations

import dataclasses

from vpnguard.core.model import Family, FileAction, JsonMixin, Level


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
class AutoChoice(JsonMixin):
    """What ``auto`` chose for the network as it is now, and why (core.policy.auto)."""

    level: Level
    reason: str
