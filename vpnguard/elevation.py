"""How an unprivileged program (the desktop app) asks the privileged helper to act.

Qt-free. Building the command (:func:`plan`) is separate from running it
(:func:`run_plan`), so the Windows and macOS paths are tested on Linux as
argument lists without running anything. See :mod:`vpnguard.privileged` for
what the helper accepts and why a caller cannot choose paths.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from vpnguard.core.errors import ExitCode, NeedsElevationError, RefusedError, VpnguardError
from vpnguard.core.model import OS, Action
from vpnguard.core.service import current_os

#: Where the Linux package installs the helper; the polkit action's
#: ``org.freedesktop.policykit.exec.path`` annotation names this exact path.
LINUX_HELPER = "/usr/libexec/vpnguard/vpnguard-helper"
POLKIT_ACTION = "org.vpnguard.protect"
PKEXEC_CANCELLED = 126  # the user dismissed the authentication dialog
PKEXEC_NOT_AUTHORIZED = 127  # not authorized (or no polkit agent could ask)
WINDOWS_CANCELLED = 1223  # ERROR_CANCELLED: the user said no to UAC
HELPER_TIMEOUT_S = 300.0  # the user may take a while to type a password


class ElevationCancelled(VpnguardError):
    exit_code = ExitCode.PERMISSION
    kind = "cancelled"


class ElevationDenied(VpnguardError):
    exit_code = ExitCode.PERMISSION
    kind = "not_authorized"


class Method(StrEnum):
    """How the helper is elevated: one per OS."""

    PKEXEC = "pkexec"  # Linux: polkit
    RUNAS = "runas"  # Windows: UAC
    OSASCRIPT = "osascript"  # macOS: the administrator-privileges prompt


@dataclasses.dataclass(frozen=True)
class Plan:
    """One command to run: the argument list, what goes to stdin, and how it elevates."""

    method: Method
    argv: tuple[str, ...]
    stdin: bytes | None


def request(op: Action, level: str | None = None, browsers: Sequence[str] | None = None) -> bytes:
    """The JSON request the helper accepts (see :func:`vpnguard.privileged.parse_request`)."""
    doc: dict[str, Any] = {"version": 1, "op": op}
    if op == Action.PROTECT:
        doc["level"] = level or "strict"
    if browsers:
        doc["browsers"] = list(browsers)
    return json.dumps(doc).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def helper_command(python: str = sys.executable, installed: str = LINUX_HELPER) -> tuple[str, ...]:
    """The packaged helper when installed (the polkit action matches it), else this Python."""
    if os.path.isfile(installed) and os.access(installed, os.X_OK):
        return (installed,)
    return (python, "-I", "-m", "vpnguard.privileged")


def plan_linux(req: bytes, helper: Sequence[str], pkexec: str = "pkexec") -> Plan:
    return Plan(Method.PKEXEC, (pkexec, "--disable-internal-agent", *helper), req)


def _ps_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def frozen_helper(executable: str = sys.executable, os_: OS | None = None) -> tuple[str, ...]:
    """In a PyInstaller build the helper is its own executable beside the app."""
    exe = "vpnguard-helper.exe" if (os_ or current_os()) is OS.WINDOWS else "vpnguard-helper"
    return (os.path.join(os.path.dirname(executable), exe),)


def _default_helper(python: str, os_: OS) -> tuple[str, ...]:
    if getattr(sys, "frozen", False):
        return frozen_helper(sys.executable, os_)
    return (python, "-I", "-m", "vpnguard.privileged")


def plan_windows(req: bytes, helper: Sequence[str]) -> Plan:
    """UAC: Start-Process -Verb RunAs cannot pass stdin, so the request goes base64url-encoded."""
    program, *lead = helper
    args = ", ".join(_ps_quote(a) for a in (*lead, "--request", _b64(req)))
    script = (
        "try { $p = Start-Process -FilePath "
        + _ps_quote(program)
        + f" -ArgumentList {args} -Verb RunAs -Wait -PassThru -WindowStyle Hidden; "
        "exit $p.ExitCode } catch { exit " + str(WINDOWS_CANCELLED) + " }"
    )
    return Plan(
        Method.RUNAS,
        ("powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script),
        None,
    )


def _as_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def plan_macos(req: bytes, helper: Sequence[str]) -> Plan:
    """osascript's admin prompt; ``quoted form of`` keeps each word one shell word."""
    words = ' & " " & '.join(f"(quoted form of {_as_quote(w)})" for w in helper)
    script = f'do shell script {words} & " --request {_b64(req)}" with administrator privileges'
    return Plan(Method.OSASCRIPT, ("/usr/bin/osascript", "-e", script), None)


# --- one elevator per OS: an ABC, a factory and a Null fallback (see core.host.System) ----


class Elevator(ABC):
    """How one OS asks for administrator rights: the command, and what its failures mean."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python

    @abstractmethod
    def plan(self, req: bytes) -> Plan: ...

    def refusal(self, returncode: int, stderr: bytes) -> VpnguardError | None:
        """The person-readable error for a run that gave no answer, when the prompt says why."""
        return None


class PolkitElevator(Elevator):
    def plan(self, req: bytes) -> Plan:
        return plan_linux(req, helper_command(self.python))

    def refusal(self, returncode: int, stderr: bytes) -> VpnguardError | None:
        if returncode == PKEXEC_CANCELLED:
            return ElevationCancelled("You cancelled the password prompt. Nothing was changed.")
        if returncode == PKEXEC_NOT_AUTHORIZED:
            return ElevationDenied(
                "Not authorized: your account may not change browser policy, or no "
                "authentication agent was available to ask for a password. Nothing was changed."
            )
        return None


class UacElevator(Elevator):
    def plan(self, req: bytes) -> Plan:
        return plan_windows(req, _default_helper(self.python, OS.WINDOWS))

    def refusal(self, returncode: int, stderr: bytes) -> VpnguardError | None:
        if returncode == WINDOWS_CANCELLED:
            return ElevationCancelled("You declined the administrator prompt. Nothing was changed.")
        return None


class OsascriptElevator(Elevator):
    def plan(self, req: bytes) -> Plan:
        return plan_macos(req, _default_helper(self.python, OS.MACOS))

    def refusal(self, returncode: int, stderr: bytes) -> VpnguardError | None:
        if b"-128" in stderr:  # "User canceled."
            return ElevationCancelled("You cancelled the password prompt. Nothing was changed.")
        return None


class NullElevator(Elevator):
    """An OS vpnguard cannot ask for rights on: refuse clearly, run nothing."""

    def plan(self, req: bytes) -> Plan:
        raise NeedsElevationError(
            "vpnguard cannot ask for administrator rights on this system: run "
            "'vpnguard protect' as an administrator instead"
        )


ELEVATORS: dict[OS, type[Elevator]] = {
    OS.LINUX: PolkitElevator,
    OS.WINDOWS: UacElevator,
    OS.MACOS: OsascriptElevator,
}
BY_METHOD: dict[Method, type[Elevator]] = {
    Method.PKEXEC: PolkitElevator,
    Method.RUNAS: UacElevator,
    Method.OSASCRIPT: OsascriptElevator,
}


def elevator_for(os_: OS | None, python: str = sys.executable) -> Elevator:
    cls = ELEVATORS.get(os_, NullElevator) if os_ is not None else NullElevator
    return cls(python)


def plan(req: bytes, os_: OS | None = None, python: str = sys.executable) -> Plan:
    return elevator_for(os_ or current_os(), python).plan(req)


Runner = Callable[..., "subprocess.CompletedProcess[bytes]"]


def run_plan(p: Plan, runner: Runner = subprocess.run) -> dict[str, Any]:
    """Run the plan; the helper's JSON answer, or a :class:`VpnguardError` a person understands."""
    if p.method is Method.PKEXEC and shutil.which(p.argv[0]) is None and runner is subprocess.run:
        raise NeedsElevationError(
            "pkexec is not installed: install the 'pkexec' package (polkit) to let vpnguard "
            "ask for your password, or run 'sudo vpnguard protect' in a terminal"
        )
    try:
        proc = runner(
            list(p.argv), input=p.stdin, capture_output=True, timeout=HELPER_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise RefusedError(
            "the administrator prompt was not answered in time; nothing changed"
        ) from None
    except OSError as exc:
        raise NeedsElevationError(f"could not start {p.argv[0]}: {exc}") from None
    out = proc.stdout.decode("utf-8", "replace").strip()
    doc: dict[str, Any] | None = None
    if out:
        try:
            parsed = json.loads(out.splitlines()[-1])
            doc = parsed if isinstance(parsed, dict) else None
        except ValueError:
            doc = None
    if doc is None:
        refused = BY_METHOD[p.method]().refusal(proc.returncode, proc.stderr)
        if refused is not None:
            raise refused
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise VpnguardError(
            f"the privileged helper failed (exit {proc.returncode}): {err or 'no output'}"
        )
    if doc.get("ok") is False:
        e = doc.get("error") or {}
        failure = VpnguardError(str(e.get("message", "the helper refused")))
        code = e.get("exit_code", ExitCode.INTERNAL)
        failure.exit_code = (
            ExitCode(code) if code in ExitCode._value2member_map_ else ExitCode.INTERNAL
        )
        failure.kind = str(e.get("kind", "internal_error"))
        raise failure
    return doc
