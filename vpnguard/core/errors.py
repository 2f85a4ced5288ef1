"""Errors with the stable exit codes that scripts and VPN clients rely on."""

from __future__ import annotations

from enum import IntEnum

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = 1  # of every --json document, the error envelope included


class ExitCode(IntEnum):
    """Process exit codes: part of the CLI contract, never renumber."""

    OK = 0
    LEAK = 1  # `check` only: at least one browser leaks
    USAGE = 2
    PERMISSION = 3  # permission denied / needs elevation
    REFUSED = 4  # bad input or environment; nothing was changed
    INTERNAL = 5


class VpnguardError(Exception):
    """Base error; carries the exit code the CLI returns for it."""

    exit_code: ExitCode = ExitCode.INTERNAL
    kind: str = "internal_error"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "message": self.message,
            "exit_code": int(self.exit_code),
        }
        if self.path is not None:
            out["path"] = self.path
        return out


class UsageError(VpnguardError):
    exit_code = ExitCode.USAGE
    kind = "usage"


class NeedsElevationError(VpnguardError):
    exit_code = ExitCode.PERMISSION
    kind = "permission_denied"


class RefusedError(VpnguardError):
    """Bad input or an environment we will not write into; nothing changed."""

    exit_code = ExitCode.REFUSED
    kind = "refused"


class StrictJsonError(ValueError):
    """What the strict JSON parser (``service.loads_strict``) refuses beyond a syntax error.

    ``reason`` names the rule, for callers with messages of their own (the privileged
    helper): ``depth``, ``duplicate`` (``key`` names it), ``constant`` (``key``: NaN,
    Infinity, -Infinity), ``number`` (out of range), ``digits`` (too long) or
    ``surrogate``. The message completes a sentence that starts with the file's name.
    """

    def __init__(self, message: str, reason: str, key: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.key = key


def internal_error(exc: BaseException, where: str = "") -> VpnguardError:
    """An unexpected exception as the contract's exit-5 error (never a traceback)."""
    return VpnguardError(f"internal error{where}: {type(exc).__name__}: {exc}")


def envelope(exc: VpnguardError) -> dict[str, Any]:
    """The one JSON document every front end prints or returns for a failure."""
    return {"schema_version": SCHEMA_VERSION, "ok": False, "error": exc.to_json()}
