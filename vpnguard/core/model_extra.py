"""The model's values that ``vpnguard status`` does not need: what a change did, the
catalog as front ends list it, level advice, TURN servers, and the enums of changes
and leak checks.

Import them from :mod:`vpnguard.core.model` (same names, loaded from here on first use).
"""

from __future__ import annotations

from enum import StrEnum

from vpnguard.core.model import Family, JsonMixin, Level
from vpnguard.core.record import field, record


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


@record
class CatalogEntry:
    """A browser vpnguard knows, installed or not (what front ends list and name)."""

    id: str
    name: str
    family: Family
    restart_to_apply: bool  # a running instance must restart to pick a policy change up
    process_names: tuple[str, ...]
    self_managed: bool = False


@record
class LevelAdvice:
    """Does a protection level (or what is on disk) stop the leak on this network?"""

    holds: bool
    reason: str  # why not, for people; empty when it holds


@record
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


@record
class TurnServer:
    """A TURN server for the leak check, with its password (read from the OS keyring)."""

    url: str
    username: str
    credential: str = field(repr=False)


@record
class AutoChoice(JsonMixin):
    """What ``auto`` chose for the network as it is now, and why (core.policy.auto)."""

    level: Level
    reason: str
