"""vpnguard-helper: the only vpnguard code that ever runs with admin rights.

The desktop app never runs as root. To write ``/etc`` it starts this helper
through ``pkexec`` (Linux), UAC ``runas`` (Windows) or ``osascript ... with
administrator privileges`` (macOS) and sends one small JSON request::

    {"version": 1, "op": "protect", "level": "strict", "browsers": ["chromium"]}
    {"version": 1, "op": "unprotect"}

The request names an operation, a level and catalog browser ids, nothing
else. Every path and every byte of policy is computed here from the catalog
and the level tables; the caller can give neither. Anything else is refused
before anything is read or written: unknown or duplicate keys, wrong types,
unknown ids, ids that look like paths, a level on ``unprotect``, input over
:data:`MAX_REQUEST` bytes, non-UTF-8 or non-JSON input.

The request comes on stdin (Linux, macOS), or base64url-encoded after
``--request`` where the elevation mechanism cannot pass stdin (Windows
``Start-Process -Verb RunAs``); both go through the same parser. The answer
is one JSON document on stdout; the exit code is vpnguard's (0 ok, 2 usage,
3 permission, 4 refused, 5 internal).

**Fake roots, and why a caller cannot choose one.** Tests must run the real
helper against a fake tree, but a root prefix is a path, and a path from the
caller would let an unprivileged user aim root's writes anywhere. So the only
way to set it is the environment variable :data:`TEST_ROOT_ENV`, and it is
honored only when the helper was *not* started by an elevation tool:

* ``pkexec`` clears the environment (it keeps a fixed allow-list: ``LANG``,
  ``TERM``, ``DISPLAY``...), so a variable set by the unprivileged caller
  never reaches the elevated helper; and pkexec always sets ``PKEXEC_UID``.
  If ``PKEXEC_UID`` (or ``SUDO_UID``/``SUDO_USER``/``DOAS_USER``) is present
  together with the variable, something is wrong: the helper refuses.
* on Windows and macOS the variable is never honored (their elevation paths
  are not proven to clear the environment).
* without elevation the helper runs with the caller's own rights, so a fake
  root gives the caller nothing they could not do themselves.

Every other ``VPNGUARD_*`` variable (e.g. ``VPNGUARD_STATE_DIR``) is dropped
when elevated, judged by the markers above *or* the process's own rights
(euid 0 / an elevated token, :attr:`vpnguard.core.host.Host.is_admin`), so
``su``, macOS ``osascript`` and Windows UAC are covered too. Whatever the
request (garbage, lone surrogates, deep nesting) or failure, the helper
answers exactly one JSON document and writes one audit line. The helper is
started as ``python -I`` (isolated: no
``PYTHONPATH``, no user site-packages).

Everything the helper does, and everything it refuses, is logged to syslog
(``LOG_AUTHPRIV`` facility where available) and to ``helper.log`` in
vpnguard's state directory (``/var/lib/vpnguard``).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import json
import logging
import os
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO, TextIO

from vpnguard.core.errors import (
    ExitCode,
    RefusedError,
    StrictJsonError,
    UsageError,
    VpnguardError,
    envelope,
    internal_error,
)
from vpnguard.core.model import Action, LevelChoice

log = logging.getLogger("vpnguard.helper")

PROTOCOL_VERSION = 1
MAX_REQUEST = 4096
MAX_BROWSERS = 32
TEST_ROOT_ENV = "VPNGUARD_HELPER_TEST_ROOT"
ELEVATION_MARKERS = ("PKEXEC_UID", "SUDO_UID", "SUDO_USER", "DOAS_USER")
_ID = re.compile(r"[a-z][a-z0-9-]{0,31}\Z")
_KEYS = {
    "protect": frozenset({"version", "op", "level", "browsers"}),
    "unprotect": frozenset({"version", "op", "browsers"}),
}


@dataclasses.dataclass(frozen=True)
class Request:
    op: Action
    level: str | None
    browsers: tuple[str, ...] | None


def _refuse(message: str) -> RefusedError:
    return RefusedError(f"request refused: {message}; nothing changed")


_NOT_JSON = {  # StrictJsonError.reason -> what the request holds
    "number": "a number out of range",
    "digits": "a number with too many digits",
    "surrogate": "a lone surrogate",
}


def parse_request(raw: bytes) -> Request:
    """Validate one request; raise :class:`RefusedError` for anything but the narrow form."""
    from vpnguard.core import service

    if len(raw) > MAX_REQUEST:
        raise _refuse(f"request is larger than {MAX_REQUEST} bytes")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse("request is not UTF-8") from None
    if raw.startswith(b"\xef\xbb\xbf"):  # loads_strict skips a BOM; a request has none
        raise _refuse("request is not JSON")
    # The same strict parser as every policy file: no NaN/Infinity/1e400, no duplicate
    # keys, no lone surrogates, nesting checked before parsing (no RecursionError).
    try:
        doc = service.loads_strict(raw)
    except StrictJsonError as exc:
        if exc.reason == "depth":
            raise _refuse("request is nested too deeply") from None
        if exc.reason == "duplicate":
            raise _refuse(f"duplicate key {exc.key!r}") from None
        what = exc.key if exc.reason == "constant" else _NOT_JSON.get(exc.reason, exc.reason)
        raise _refuse(f"request is not JSON (it holds {what})") from None
    except ValueError:
        raise _refuse("request is not JSON") from None
    if not isinstance(doc, dict):
        raise _refuse("request is not a JSON object")
    op = doc.get("op")
    if not isinstance(op, str) or op not in _KEYS:
        raise _refuse('\'op\' must be "protect" or "unprotect"')
    unknown = set(doc) - _KEYS[op]
    if unknown:
        raise _refuse(f"unknown key(s) for {op}: {', '.join(sorted(map(repr, unknown)))}")
    version = doc.get("version")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise _refuse(f"'version' must be {PROTOCOL_VERSION}")
    level: str | None = None
    if op == Action.PROTECT:
        level = doc.get("level", "strict")
        if not isinstance(level, str) or level not in set(LevelChoice):
            *others, last = (f'"{c.value}"' for c in LevelChoice)
            raise _refuse(f"'level' must be {', '.join(others)} or {last}")
    browsers: tuple[str, ...] | None = None
    if "browsers" in doc and doc["browsers"] is not None:
        value = doc["browsers"]
        if not isinstance(value, list) or not value or len(value) > MAX_BROWSERS:
            raise _refuse(f"'browsers' must be a list of 1 to {MAX_BROWSERS} browser ids")
        for item in value:
            if not isinstance(item, str) or not _ID.match(item):
                raise _refuse(f"{item!r} is not a browser id")
            if item not in service.browser_ids():
                raise _refuse(f"unknown browser id {item!r}")
        if len(set(value)) != len(value):
            raise _refuse("'browsers' lists an id twice")
        browsers = tuple(value)
    return Request(op=Action(op), level=level, browsers=browsers)


def elevated_by_tool(environ: Mapping[str, str]) -> bool:
    return any(m in environ for m in ELEVATION_MARKERS)


def resolve_root(environ: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """The fake root for tests, or ``None`` for the live system (see the module doc)."""
    value = environ.get(TEST_ROOT_ENV)
    if not value:
        return None
    if not platform.startswith("linux"):
        raise _refuse(f"{TEST_ROOT_ENV} is honored on Linux only")
    if elevated_by_tool(environ):
        raise _refuse(f"{TEST_ROOT_ENV} is never honored in an elevated helper")
    return value


def _read_request(argv: Sequence[str], stdin: BinaryIO) -> bytes:
    if not argv:
        return stdin.read(MAX_REQUEST + 1)
    if len(argv) == 2 and argv[0] == "--request":
        encoded = argv[1]
        if len(encoded) > (MAX_REQUEST * 4) // 3 + 4:
            raise _refuse(f"request is larger than {MAX_REQUEST} bytes")
        try:
            return base64.urlsafe_b64decode(encoded.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise _refuse("--request is not base64url") from None
    raise UsageError("usage: vpnguard-helper [--request BASE64URL]  (JSON request on stdin)")


def handle(request: Request, root: str | None) -> dict[str, Any]:
    from vpnguard.core import service

    if request.op == Action.PROTECT:
        assert request.level is not None
        report = service.protect(request.level, request.browsers, root=root)
    else:
        report = service.unprotect(request.browsers, root=root)
    return report.to_json()


def _state_log_path(root: str | None) -> str:
    from vpnguard.core import service

    return str(service.host(root).state_dir() / "helper.log")


def _audit(
    root: str | None, caller: str, outcome: str, detail: str, *, to_file: bool = True
) -> None:
    """Log to syslog and to helper.log in the state dir; never fail the request over it."""
    # Whatever the request held (lone surrogates, control characters), the line is clean UTF-8.
    line = f"caller={caller} outcome={outcome} {detail}"
    line = line.encode("utf-8", "backslashreplace").decode("utf-8").replace("\n", "\\n")
    try:
        import syslog

        facility = getattr(syslog, "LOG_AUTHPRIV", syslog.LOG_AUTH)
        syslog.openlog("vpnguard-helper", syslog.LOG_PID, facility)
        syslog.syslog(syslog.LOG_NOTICE, line)
    except (ImportError, OSError, ValueError):  # pragma: no cover - Windows has no syslog
        pass
    if not to_file:
        return
    try:
        path = _state_log_path(root)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(f"{stamp} pid={os.getpid()} {line}\n")
    except (OSError, ValueError, VpnguardError):
        log.debug("could not write helper.log", exc_info=True)


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: BinaryIO | None = None,
    stdout: TextIO | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    """Answer exactly one JSON document and write one audit line, whatever happens."""
    out = stdout if stdout is not None else sys.stdout
    try:
        return _main(argv, stdin=stdin, stdout=out, environ=environ)
    except Exception as exc:  # a bug must still give one answer and one audit line
        _audit(None, "?", "internal-error", f"{type(exc).__name__}: {exc}", to_file=False)
        err = internal_error(exc, " in the helper")
        return _answer(out, envelope(err), err.exit_code)


def _main(
    argv: Sequence[str] | None = None,
    *,
    stdin: BinaryIO | None = None,
    stdout: TextIO | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout
    env = os.environ if environ is None else environ
    caller = env.get("PKEXEC_UID") or env.get("SUDO_UID") or str(getattr(os, "getuid", int)())
    try:
        root = resolve_root(env)
    except VpnguardError as exc:
        # A refused root is never used, not even for the log file.
        _audit(None, caller, "refused", exc.message, to_file=False)
        return _answer(stdout, envelope(exc), exc.exit_code)
    try:
        from vpnguard.core import service

        if elevated_by_tool(env) or service.host(None).is_admin:
            for key in [k for k in env if k.startswith("VPNGUARD_")]:
                env.pop(key, None)
        request = parse_request(_read_request(argv, stdin))
    except VpnguardError as exc:
        _audit(root, caller, "refused", exc.message)
        return _answer(stdout, envelope(exc), exc.exit_code)
    what = f"op={request.op} level={request.level} browsers={request.browsers or 'all'}"
    try:
        report = handle(request, root)
    except VpnguardError as exc:
        _audit(root, caller, "error", f"{what}: {exc.message}")
        return _answer(stdout, envelope(exc), exc.exit_code)
    except Exception as exc:
        _audit(root, caller, "internal-error", f"{what}: {type(exc).__name__}: {exc}")
        err = internal_error(exc, " in the helper")
        return _answer(stdout, envelope(err), err.exit_code)
    changed = [
        f"{c['action']}:{c['path']}" for c in report["changes"] if c["action"] != "unchanged"
    ]
    _audit(root, caller, "ok", f"{what} changes={changed or 'none'}")
    return _answer(stdout, report, ExitCode.OK)


def _answer(stdout: TextIO, doc: dict[str, Any], code: ExitCode) -> int:
    stdout.write(json.dumps(doc, allow_nan=False) + "\n")
    stdout.flush()
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
