"""How an unprivileged program (the desktop app) asks the privileged helper to act.

Qt-free. Building the command (:func:`plan`) is separate from running it
(:func:`run_plan`), so the Windows and macOS paths are tested on Linux as
argument lists without running anything. See :mod:`vpnguard.privileged` for
what the helper accepts and why a caller cannot choose paths.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
import time
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
# pkexec(1), RETURN VALUE: 126 when "the user dismissed the authentication
# dialog"; 127 when "the calling process is not authorized or an authorization
# could not be obtained through authentication or an error occurred". The
# kind of 127 is only in pkexec's stderr (polkit 122, src/programs/pkexec.c):
#   "Error executing command as another user: Not authorized"
#   "Error executing command as another user: No authentication agent found."
#   "Error getting authority: ..." / "Error checking for authorization ...":
#       polkitd (or the system bus) is not reachable.
PKEXEC_CANCELLED = 126
PKEXEC_NOT_AUTHORIZED = 127
WINDOWS_CANCELLED = 1223  # ERROR_CANCELLED: the user said no to UAC
HELPER_TIMEOUT_S = 300.0  # the user may take a while to type a password
#: A "Not authorized" faster than this came without a password prompt: the
#: system's rules refuse this account outright (it is not an administrator).
NO_PROMPT_S = 1.0


class ElevationError(VpnguardError):
    """Asking for admin rights did not work; ``stderr`` keeps what the tool said."""

    exit_code = ExitCode.PERMISSION
    stderr = ""


class ElevationCancelled(ElevationError):
    """The user closed or cancelled the password prompt (or pressed Cancel in the app)."""

    exit_code = ExitCode.PERMISSION
    kind = "cancelled"


class ElevationDenied(ElevationError):
    """The password was not accepted, or the prompt went away without an answer."""

    exit_code = ExitCode.PERMISSION
    kind = "not_authorized"


class ElevationNotAdmin(ElevationError):
    """The system's rules refused this account without asking for a password."""

    exit_code = ExitCode.PERMISSION
    kind = "not_admin"


class ElevationNoAgent(ElevationError):
    """No polkit authentication agent runs in this session, so nobody can ask."""

    exit_code = ExitCode.PERMISSION
    kind = "no_agent"


class ElevationNoPolkit(ElevationError):
    """polkitd (or the system D-Bus) is not running."""

    exit_code = ExitCode.PERMISSION
    kind = "no_polkit"


SUDO_HINT = "or run 'sudo vpnguard protect' in a terminal"


def pkexec_failure(returncode: int, stderr: str, elapsed: float) -> ElevationError | None:
    """What a pkexec exit without a helper answer means, as an error a person can act on.

    ``elapsed`` (seconds pkexec ran) tells a refusal without a prompt from a
    password that was not accepted; both are "Not authorized" to pkexec.
    """
    if returncode == PKEXEC_CANCELLED:
        return ElevationCancelled("You cancelled the password prompt. Nothing was changed.")
    if returncode != PKEXEC_NOT_AUTHORIZED:
        return None
    if "No authentication agent found" in stderr:
        return ElevationNoAgent(
            "No password prompt could be shown: no authentication agent runs in your "
            "session (a desktop session normally starts one). Nothing was changed. Log in to "
            f"a graphical session, {SUDO_HINT}."
        )
    if "Error getting authority" in stderr or "Error checking for authorization" in stderr:
        return ElevationNoPolkit(
            "The system's authorization service (polkit) is not running, so vpnguard cannot "
            "ask for an administrator password. Nothing was changed. Start it "
            f"('systemctl start polkit'), {SUDO_HINT}."
        )
    if "Not authorized" in stderr and elapsed < NO_PROMPT_S:
        return ElevationNotAdmin(
            "This account may not change browser policy on this computer: it is not an "
            "administrator, and no password was asked. Nothing was changed. Ask an "
            "administrator to protect the browsers."
        )
    return ElevationDenied(
        "The password was not accepted, or the password prompt closed without an answer. "
        "Nothing was changed. Try again with an administrator's password."
    )


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

    def refusal(self, returncode: int, stderr: bytes, elapsed: float = 0.0) -> VpnguardError | None:
        """The person-readable error for a run that gave no answer, when the prompt says why.

        ``elapsed``: seconds the elevation tool ran (a refusal without a prompt is quick).
        """
        return None


class PolkitElevator(Elevator):
    def plan(self, req: bytes) -> Plan:
        return plan_linux(req, helper_command(self.python))

    def refusal(self, returncode: int, stderr: bytes, elapsed: float = 0.0) -> VpnguardError | None:
        return pkexec_failure(returncode, stderr.decode("utf-8", "replace"), elapsed)


class UacElevator(Elevator):
    def plan(self, req: bytes) -> Plan:
        return plan_windows(req, _default_helper(self.python, OS.WINDOWS))

    def refusal(self, returncode: int, stderr: bytes, elapsed: float = 0.0) -> VpnguardError | None:
        if returncode == WINDOWS_CANCELLED:
            return ElevationCancelled("You declined the administrator prompt. Nothing was changed.")
        return None


class OsascriptElevator(Elevator):
    def plan(self, req: bytes) -> Plan:
        return plan_macos(req, _default_helper(self.python, OS.MACOS))

    def refusal(self, returncode: int, stderr: bytes, elapsed: float = 0.0) -> VpnguardError | None:
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


def run_cancellable(
    argv: Sequence[str],
    stdin: bytes | None,
    cancel: threading.Event,
    timeout: float = HELPER_TIMEOUT_S,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv``; when ``cancel`` is set, terminate it and raise :class:`ElevationCancelled`.

    pkexec keeps the caller's real uid while it waits for the password, so the
    caller may signal it; once the helper runs as root it can no longer be
    signalled, and it finishes on its own in well under a second.
    """
    proc = subprocess.Popen(
        list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    end = time.monotonic() + timeout
    data: bytes | None = stdin or b""
    while True:
        try:
            out, err = proc.communicate(data, timeout=0.1)
            return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            data = None  # communicate() already sent it
        if cancel.is_set() or time.monotonic() > end:
            with contextlib.suppress(PermissionError):  # already root's: it finishes quickly
                proc.terminate()
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            if cancel.is_set():
                raise ElevationCancelled("You cancelled the password prompt. Nothing was changed.")
            raise subprocess.TimeoutExpired(list(argv), timeout)


def run_plan(
    p: Plan, runner: Runner | None = None, cancel: threading.Event | None = None
) -> dict[str, Any]:
    """Run the plan; the helper's JSON answer, or a :class:`VpnguardError` a person understands.

    ``cancel`` (the app's Cancel button) stops a pending password prompt.
    """
    if p.method is Method.PKEXEC and runner is None and shutil.which(p.argv[0]) is None:
        raise NeedsElevationError(
            "pkexec is not installed: install the 'pkexec' package (polkit) to let vpnguard "
            f"ask for your password, {SUDO_HINT}"
        )
    t0 = time.monotonic()
    try:
        if runner is None:
            proc = run_cancellable(p.argv, p.stdin, cancel or threading.Event())
        else:
            proc = runner(
                list(p.argv),
                input=p.stdin,
                capture_output=True,
                timeout=HELPER_TIMEOUT_S,
                check=False,
            )
    except subprocess.TimeoutExpired:
        raise RefusedError(
            "the administrator prompt was not answered in time; nothing changed"
        ) from None
    except OSError as exc:
        raise NeedsElevationError(f"could not start {p.argv[0]}: {exc}") from None
    elapsed = time.monotonic() - t0
    out = proc.stdout.decode("utf-8", "replace").strip()
    doc: dict[str, Any] | None = None
    if out:
        try:
            parsed = json.loads(out.splitlines()[-1])
            doc = parsed if isinstance(parsed, dict) else None
        except ValueError:
            doc = None
    if doc is None:
        err = proc.stderr.decode("utf-8", "replace").strip()
        refused = BY_METHOD[p.method]().refusal(proc.returncode, proc.stderr, elapsed)
        if refused is not None:
            if isinstance(refused, ElevationError):
                refused.stderr = err
            raise refused
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
