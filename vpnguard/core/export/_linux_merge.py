# vpnguard policy bundle: the merge program run by install.sh / uninstall.sh.
#
# This file is embedded verbatim into the generated shell scripts (python3 reads
# it from a here-document), so it must stay standalone: standard library only,
# no vpnguard imports, Python 3.7+ (what Linux desktops ship).
#
# What it guarantees on the target machine:
# - every existing file is parsed before anything is written; a malformed one
#   stops the whole run (exit 4) with nothing changed;
# - foreign keys are kept: only our keys are set, in place, in key order;
# - files are replaced atomically (temp file, fsync, rename, fsync dir), keeping
#   the original file's mode and owner;
# - a second install changes nothing (idempotent);
# - uninstall restores the original bytes when nobody changed the file since
#   install (from a copy kept under /var/lib/vpnguard/bundle-backup/, never
#   beside the file: Chromium reads EVERY regular file in a managed directory,
#   in name order, the later winning, so a backup there would be live policy),
#   and otherwise removes only our keys (putting back any value an admin had for
#   them before);
# - no temp, backup or lock file is ever created inside a Chromium managed
#   directory: its temp file is made one level up and renamed in.
# Exit codes: 0 ok, 2 usage, 3 permission denied, 4 refused (nothing changed);
# verify: 0 compliant, 1 not compliant.
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import stat
import sys
import tempfile
from typing import Any

STATE_FILE = "/var/lib/vpnguard/bundle-state.json"
BACKUP_DIR = "/var/lib/vpnguard/bundle-backup"
# Where bundles before 0.x kept the backup (inside the managed dir: a live policy
# file for Chromium). Still read, then removed, so an upgrade cleans it up.
LEGACY_BACKUP_SUFFIX = ".vpnguard-backup"
TAG = "vpnguard-bundle"


class Refused(Exception):
    """Bad input on this machine (e.g. malformed JSON): nothing was changed."""


MESSAGES: list[str] = []
QUIET = False  # the Ansible module collects messages instead of printing them


def _say(msg: str) -> None:
    MESSAGES.append(msg)
    if not QUIET:
        sys.stdout.write(TAG + ": " + msg + "\n")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _arch() -> str:
    m = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m or "x86_64")


class Fs:
    """System paths mapped under a root prefix (``--root``/``VPNGUARD_ROOT``)."""

    def __init__(self, root: str, dry_run: bool = False) -> None:
        self.root = root.rstrip("/")
        # dry_run (Ansible --check): decide everything, write nothing.
        self.dry_run = dry_run
        self.changed: list[str] = []  # policy files changed (or that would change)
        self.diffs: list[dict[str, str]] = []  # before/after of policy files (Ansible --diff)

    def _record(self, system_path: str, after: bytes) -> None:
        if system_path.startswith("/var/lib/vpnguard/"):
            return  # our own state and backups: not policy
        before = self.read(system_path) or b""
        self.diffs.append(
            {
                "before_header": system_path,
                "after_header": system_path,
                "before": before.decode("utf-8", "replace"),
                "after": after.decode("utf-8", "replace"),
            }
        )

    def p(self, system_path: str) -> str:
        return self.root + system_path if self.root else system_path

    def read(self, system_path: str) -> bytes | None:
        try:
            with open(self.p(system_path), "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    def exists(self, system_path: str) -> bool:
        return os.path.lexists(self.p(system_path))

    def makedirs(self, system_dir: str, created: list[str]) -> None:
        """mkdir -p, recording each directory it had to create (outermost first)."""
        missing = []
        d = system_dir
        while d not in ("/", "") and not os.path.isdir(self.p(d)):
            missing.append(d)
            d = os.path.dirname(d)
        for d in reversed(missing):
            if self.dry_run:
                created.append(d)
                continue
            os.mkdir(self.p(d), 0o755)
            os.chmod(self.p(d), 0o755)
            created.append(d)

    def write_atomic(
        self,
        system_path: str,
        data: bytes,
        like: dict[str, int] | None,
        tmp_outside: bool = False,
    ) -> None:
        """Temp file, fsync, rename, fsync dir. ``tmp_outside``: make the temp file in
        the parent directory (same filesystem), so not even a crash leaves a stray
        file in a directory whose every file is read as policy."""
        self._record(system_path, data)
        if self.dry_run:
            return
        target = self.p(system_path)
        directory = os.path.dirname(target)
        tmp_dir = os.path.dirname(directory) if tmp_outside else directory
        fd, tmp = tempfile.mkstemp(prefix=".vpnguard-", dir=tmp_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, (like or {}).get("mode", 0o644))
            if like and hasattr(os, "chown"):
                with contextlib.suppress(PermissionError):
                    os.chown(tmp, like["uid"], like["gid"])
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def remove(self, system_path: str) -> None:
        self._record(system_path, b"")
        if not self.dry_run:
            os.unlink(self.p(system_path))

    def rmdir(self, system_path: str) -> None:
        if not self.dry_run:
            with contextlib.suppress(OSError):
                os.rmdir(self.p(system_path))

    def stat_of(self, system_path: str) -> dict[str, int]:
        st = os.stat(self.p(system_path))
        return {"mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid}


def parse_doc(data: bytes | None, path: str, container: list[str]) -> dict[str, Any]:
    """The JSON object in ``data`` ({} if none); refuse anything we could not merge safely."""
    if data is None:
        return {}
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(
            f"{path} is not valid JSON ({exc}); fix or remove it, then run again"
        ) from None
    if not isinstance(doc, dict):
        raise Refused(f"{path} does not hold a JSON object; fix it, then run again")
    node: Any = doc
    for name in container:
        node = node.get(name, {})
        if not isinstance(node, dict):
            raise Refused(f'{path}: "{name}" is not a JSON object; fix it, then run again')
    return doc


def dump_doc(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def node_of(doc: dict[str, Any], container: list[str], create: bool) -> dict[str, Any] | None:
    node = doc
    for name in container:
        if name not in node:
            if not create:
                return None
            node[name] = {}
        node = node[name]
    return node


def merge(doc: dict[str, Any], container: list[str], keys: dict[str, Any]) -> None:
    node = node_of(doc, container, create=True)
    assert node is not None
    for name, value in keys.items():
        node[name] = value


def unmerge(
    doc: dict[str, Any], container: list[str], keys: dict[str, Any], original: dict[str, Any]
) -> list[str]:
    """Take our keys out of ``doc`` where they still hold our value; put back what the
    original file had for them; drop containers that only we created. Returns the
    keys left alone because someone changed them since."""
    left: list[str] = []
    node = node_of(doc, container, create=False)
    if node is None:
        return left
    orig_node = node_of(original, container, create=False) or {}
    for name, value in keys.items():
        if name not in node:
            continue
        if node[name] != value:
            left.append(name)
        elif name in orig_node:
            node[name] = orig_node[name]
        else:
            del node[name]
    # Remove now-empty containers the original did not have, innermost first.
    for depth in range(len(container), 0, -1):
        parent = node_of(doc, container[: depth - 1], create=False)
        name = container[depth - 1]
        if parent is None or parent.get(name) != {}:
            continue
        if node_of(original, container[:depth], create=False) is None:
            del parent[name]
    return left


def backup_path(system_path: str) -> str:
    """Where the original bytes of ``system_path`` are kept (outside every managed dir)."""
    return BACKUP_DIR + system_path


def is_managed_dir_file(entry_or_target: dict[str, Any]) -> bool:
    """Chromium-family targets (no JSON container): their directory is all policy."""
    return not entry_or_target["container"]


def read_backup(fs: Fs, path: str) -> bytes | None:
    data = fs.read(backup_path(path))
    if data is None:
        data = fs.read(path + LEGACY_BACKUP_SUFFIX)
    return data


def write_backup(fs: Fs, path: str, data: bytes, state: dict[str, Any]) -> None:
    fs.makedirs(os.path.dirname(backup_path(path)), state.setdefault("backup_dirs", []))
    fs.write_atomic(backup_path(path), data, {"mode": 0o600, "uid": 0, "gid": 0})


def drop_backup(fs: Fs, path: str) -> None:
    for p in (backup_path(path), path + LEGACY_BACKUP_SUFFIX):
        if os.path.lexists(fs.p(p)):
            fs.remove(p)


def resolve_targets(fs: Fs, plan: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    """Where each planned target goes on *this* machine."""
    out = []
    arch = _arch()
    for t in plan["targets"]:
        only_if = t.get("only_if")
        if only_if and not fs.exists(only_if):
            continue
        paths = [t["path"].replace("{arch}", arch)]
        if t.get("fallbacks") and paths[0] not in state["files"] and not fs.exists(paths[0]):
            # A policies.json in /etc/firefox/policies shadows every
            # distribution/policies.json: never create it when the admin keeps
            # policies in a distribution file; merge into those instead.
            found = [f for f in t["fallbacks"] if fs.exists(f)]
            if found:
                paths = found
        for path in paths:
            out.append(dict(t, path=path))
    return out


def load_state(fs: Fs) -> dict[str, Any]:
    data = fs.read(STATE_FILE)
    if data is None:
        return {"version": 1, "files": {}, "created_dirs": []}
    try:
        state = json.loads(data.decode("utf-8"))
        if not isinstance(state.get("files"), dict):
            raise ValueError("no files")
    except (UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise Refused(f"{STATE_FILE} is damaged ({exc}); nothing was changed") from None
    return dict(state)


def save_state(fs: Fs, state: dict[str, Any]) -> None:
    if not state["files"]:
        if os.path.exists(fs.p(STATE_FILE)):
            fs.remove(STATE_FILE)
        # Folders install created for backups and state, deepest first.
        made = set(state.get("backup_dirs", [])) | set(state.get("state_dirs", []))
        for d in sorted(made, key=lambda d: (-d.count("/"), d)):
            fs.rmdir(d)
        return
    if "state_dirs" not in state:
        state["state_dirs"] = []
        fs.makedirs(os.path.dirname(STATE_FILE), state["state_dirs"])
    data = dump_doc(state)
    if fs.read(STATE_FILE) != data:  # a re-run that changes nothing writes nothing
        fs.write_atomic(STATE_FILE, data, {"mode": 0o600, "uid": 0, "gid": 0})


def install(fs: Fs, plan: dict[str, Any]) -> int:
    state = load_state(fs)
    targets = resolve_targets(fs, plan, state)
    # Phase 1: read and parse everything; refuse before touching anything.
    work = []
    for t in targets:
        path = t["path"]
        data = fs.read(path)
        doc = parse_doc(data, fs.p(path), t["container"])
        work.append((t, data, doc))
    # Phase 2: write.
    changed = 0
    for t, data, doc in work:
        path = t["path"]
        entry = state["files"].get(path)
        first = entry is None
        if entry is None:
            entry = {
                "existed": data is not None,
                "stat": fs.stat_of(path) if data is not None else None,
                "container": t["container"],
                "keys": {},
                "created_dirs": [],
            }
        if first and data is not None:
            # Keep the admin's original bytes outside the managed directory:
            # uninstall restores them.
            write_backup(fs, path, data, state)
        elif entry["existed"] and fs.exists(path + LEGACY_BACKUP_SUFFIX):
            # An older bundle left its backup beside the file: move it out.
            legacy = fs.read(path + LEGACY_BACKUP_SUFFIX)
            assert legacy is not None
            if fs.read(backup_path(path)) is None:
                write_backup(fs, path, legacy, state)
            fs.remove(path + LEGACY_BACKUP_SUFFIX)
            fs.changed.append(path + LEGACY_BACKUP_SUFFIX)
            _say(f"moved old backup out of the policy directory: {path}{LEGACY_BACKUP_SUFFIX}")
        original: dict[str, Any] = {}
        if entry["existed"]:
            original = parse_doc(read_backup(fs, path), fs.p(backup_path(path)), [])
        # Keys an earlier bundle (e.g. another level) set and this one does not.
        stale = {k: v for k, v in entry["keys"].items() if k not in t["keys"]}
        if stale:
            unmerge(doc, t["container"], stale, original)
        merge(doc, t["container"], t["keys"])
        new = dump_doc(doc)
        if data == new:
            _say(f"unchanged: {path}")
        else:
            if data is None:
                fs.makedirs(os.path.dirname(path), entry["created_dirs"])
            fs.write_atomic(path, new, entry["stat"], is_managed_dir_file(t))
            _say(("updated: " if data is not None else "created: ") + path)
            fs.changed.append(path)
            changed += 1
        entry["keys"] = dict(t["keys"])
        entry["installed_sha256"] = _sha(new)
        state["files"][path] = entry
        save_state(fs, state)
    _say(f"done: {changed} file(s) changed, {len(work) - changed} already in place")
    if changed:
        _say("Chromium-family browsers apply this within seconds (Edge: restart);")
        _say("Firefox must be restarted. Verify in chrome://policy and about:policies.")
    return 0


def uninstall(fs: Fs, plan: dict[str, Any]) -> int:
    state = load_state(fs)
    if not state["files"]:
        _say("nothing to undo: this bundle is not installed here")
        return 0
    work = []
    for path, entry in state["files"].items():
        data = fs.read(path)
        doc = parse_doc(data, fs.p(path), entry["container"]) if data is not None else None
        backup = read_backup(fs, path) if entry["existed"] else None
        if entry["existed"] and backup is None:
            raise Refused(f"backup {fs.p(backup_path(path))} is missing; nothing was changed")
        work.append((path, entry, data, doc, backup))
    created: list[str] = []
    for path, entry, data, doc, backup in work:
        outside = is_managed_dir_file(entry)
        if data is not None or backup is not None:
            fs.changed.append(path)
        if data is not None and _sha(data) == entry.get("installed_sha256"):
            # Nobody changed the file since install: put the original bytes back.
            if backup is not None:
                fs.write_atomic(path, backup, entry["stat"], outside)
                _say(f"restored original: {path}")
            else:
                fs.remove(path)
                _say(f"removed: {path}")
        elif data is None:
            _say(f"already gone: {path}")
            if backup is not None:
                fs.write_atomic(path, backup, entry["stat"], outside)
                _say(f"restored original: {path}")
        else:
            # Changed since install: remove only what is ours, keep the rest.
            assert doc is not None
            original = parse_doc(backup, path, []) if backup is not None else {}
            left = unmerge(doc, entry["container"], entry["keys"], original)
            if not doc and not entry["existed"]:
                fs.remove(path)
                _say(f"removed: {path}")
            else:
                fs.write_atomic(path, dump_doc(doc), fs.stat_of(path), outside)
                _say(f"removed our settings, kept later changes: {path}")
            for name in left:
                _say(f"left alone (changed by someone since install): {name} in {path}")
        drop_backup(fs, path)
        created.extend(entry.get("created_dirs", []))
        del state["files"][path]
        save_state(fs, state)
    # Directories install created for policy files, deepest first, once all files are gone.
    for d in sorted(set(created), key=lambda d: (-d.count("/"), d)):
        fs.rmdir(d)
    _say("done: restart Firefox (and Edge) for the change to take effect")
    return 0


def _managed_dir_docs(fs: Fs, directory: str) -> list[tuple[str, dict[str, Any] | None]]:
    """Every regular file of a Chromium managed dir in the order Chromium reads them
    (name order; a later file wins on a shared key); None for a file it ignores."""
    out: list[tuple[str, dict[str, Any] | None]] = []
    try:
        names = sorted(os.listdir(fs.p(directory)), key=os.fsencode)
    except OSError:
        return out
    for name in names:
        full = fs.p(directory + "/" + name)
        try:
            if not stat.S_ISREG(os.stat(full).st_mode):
                continue  # FIFOs, sockets, folders: never opened
            with open(full, "rb") as fh:
                doc = json.loads(fh.read().decode("utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError):
            doc = None
        out.append((name, doc if isinstance(doc, dict) else None))
    return out


def verify(fs: Fs, plan: dict[str, Any]) -> list[dict[str, Any]]:
    """What each browser gets on this machine, target by target: one result per
    (browser, file). Compliant means every one of our keys has our value *as the
    browser reads it* (for Chromium: after every later file in the directory)."""
    results = []
    for t in resolve_targets(fs, plan, {"files": {}}):
        path, keys = t["path"], t["keys"]
        conflicts: list[dict[str, Any]] = []
        value: dict[str, Any] = {}
        error = None
        if is_managed_dir_file(t):
            directory, own = os.path.dirname(path), os.path.basename(path)
            docs = _managed_dir_docs(fs, directory)
            present = any(n == own and d is not None for n, d in docs)
            for key in keys:
                setters = [(n, d[key]) for n, d in docs if d is not None and key in d]
                if setters:
                    value[key] = setters[-1][1]
                conflicts.extend(
                    {"file": directory + "/" + n, "key": key, "value": v}
                    for n, v in setters
                    if n != own and v != keys[key]
                )
        else:
            data = fs.read(path)
            present = data is not None
            try:
                doc = parse_doc(data, fs.p(path), t["container"])
            except Refused as exc:
                doc, error = {}, str(exc)
            node = node_of(doc, t["container"], create=False) or {}
            value = {k: node[k] for k in keys if k in node}
        compliant = error is None and all(value.get(k) == v for k, v in keys.items())
        for browser in t["browsers"]:
            r: dict[str, Any] = {
                "browser": browser,
                "file": path,
                "present": present,
                "compliant": compliant,
                "value": value,
                "conflicts": conflicts,
            }
            if error:
                r["error"] = error
            results.append(r)
    return results


def main(argv: list[str], plan: dict[str, Any]) -> int:
    if len(argv) != 2 or argv[0] not in ("install", "uninstall", "verify"):
        sys.stderr.write(TAG + ": usage: (install|uninstall|verify) ROOT\n")
        return 2
    mode, root = argv
    if root and not os.path.isdir(root):
        sys.stderr.write(f"{TAG}: root prefix {root!r} is not a directory\n")
        return 2
    if mode == "verify":
        # A compliance probe: one JSON line per browser and file; exit 0 only if all
        # comply, 1 otherwise. Reads only, so no root needed.
        results = verify(Fs(root), plan)
        for r in results:
            sys.stdout.write(json.dumps(r, sort_keys=True) + "\n")
        return 0 if results and all(r["compliant"] for r in results) else 1
    if not root and hasattr(os, "geteuid") and os.geteuid() != 0:
        sys.stderr.write(f"{TAG}: run as root (sudo ./{mode}.sh); nothing was changed\n")
        return 3
    fs = Fs(root)
    try:
        return install(fs, plan) if mode == "install" else uninstall(fs, plan)
    except Refused as exc:
        sys.stderr.write(f"{TAG}: refused: {exc}\n")
        return 4
    except PermissionError as exc:
        sys.stderr.write(f"{TAG}: permission denied: {exc} (run as root)\n")
        return 3
