"""Protect and unprotect: plan every file first, then write, with the journal.

``plan_*`` reads and checks everything and changes nothing (that is what
``--dry-run`` prints); ``execute`` writes the plan. If any write fails, the
files already written in this run are put back, so a run changes all of its
files or none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from vpnguard._lazylog import get_logger
from vpnguard.core.browsers.catalog import BY_ID
from vpnguard.core.errors import RefusedError, VpnguardError
from vpnguard.core.host import Host
from vpnguard.core.model import Browser, FileAction, Level, TargetKind
from vpnguard.core.model import FileChange as FileChange  # defined in the model: a result
from vpnguard.core.policy import fsio, render
from vpnguard.core.policy.journal import Entry, Journal
from vpnguard.core.policy.levels import OWN_FILE

log = get_logger(__name__)  # imports logging only if a message is emitted


@dataclasses.dataclass
class Step:
    change: FileChange
    system_path: str
    before: bytes | None
    after: bytes | None  # None: remove the file
    mode: int
    make_dirs: list[str]
    remove_dirs: list[str]
    entry: Entry | None  # journal entry after the step; None: forget it
    # Where the temp file of a write goes (system path); None: beside the file. For a
    # Chromium managed dir its parent: Chromium reads every regular file in the dir.
    temp_dir: str | None = None


def file_of(kind: TargetKind, location: str) -> str:
    """The file vpnguard writes for a target: its own file in a Chromium dir."""
    if kind is TargetKind.CHROMIUM_MANAGED_DIR:
        return location.rstrip("/") + "/" + OWN_FILE
    return location


def _dir_of(system_path: str) -> str:
    return system_path.rsplit("/", 1)[0] or "/"


def _temp_dir_of(kind: str, system_path: str) -> str | None:
    """Where temp files for writes of this file go: outside a Chromium managed dir (its
    parent), beside the file otherwise. Firefox reads only the file named
    ``policies.json``, so a temp file beside it is never policy, and beside it the rename
    never crosses a filesystem (``<install>/distribution`` is often a link elsewhere)."""
    if kind == TargetKind.CHROMIUM_MANAGED_DIR.value:
        return _dir_of(_dir_of(system_path))
    return None


def plan_protect(
    host: Host,
    browsers: Sequence[Browser],
    level: Level,
    journal: Journal,
    *,
    preview: bool = False,
) -> list[Step]:
    groups: dict[str, tuple[TargetKind, list[Browser]]] = {}
    for b in browsers:
        if b.self_managed:
            continue
        for t in b.targets:
            if t.kind not in (TargetKind.CHROMIUM_MANAGED_DIR, TargetKind.FIREFOX_POLICIES_JSON):
                continue
            path = file_of(t.kind, t.location)
            groups.setdefault(path, (t.kind, []))[1].append(b)

    steps: list[Step] = []
    for path, (kind, members) in groups.items():
        spec = BY_ID[members[0].id]
        edits = render.edits_for(spec, level)
        ids = tuple(sorted(b.id for b in members))
        new_dirs = fsio.check_dir(host, _dir_of(path), writable=not preview)
        temp_dir = None
        if kind is TargetKind.CHROMIUM_MANAGED_DIR:
            temp_dir = fsio.check_temp_dir(host, _dir_of(path), writable=not preview)
        before = fsio.read_bytes(host.p(path))
        doc = render.parse_object(before, path)
        old = journal.entries.get(path)
        if old is not None:
            doc = render.undo(doc, old.applied, old.created, path)
        new_doc, applied, created = render.apply(doc, edits, path)
        after = render.dump(new_doc)
        mode = 0o644
        if before is not None:
            mode = _mode(host, path)
        browsers_now = sorted(set(ids) | set(old.browsers if old else ()))
        if old is not None and fsio.sha256(before) == old.written_sha256:
            # Untouched since vpnguard wrote it: the byte-exact original still applies.
            entry = dataclasses.replace(
                old,
                browsers=browsers_now,
                level=level.value,
                applied=list(applied),
                created=list(created),
                written_sha256=fsio.sha256(after),
            )
        elif old is not None:
            # Changed by someone since (or removed): the original is now "the file as it is,
            # minus vpnguard's keys", never the bytes from before the first protect.
            exists = before is not None and (bool(doc) or old.original_exists)
            entry = dataclasses.replace(
                old,
                browsers=browsers_now,
                level=level.value,
                original_exists=exists,
                original_b64=Entry.encode(render.dump(doc)) if exists else None,
                original_mode=mode if exists else None,
                applied=list(applied),
                created=list(created),
                written_sha256=fsio.sha256(after),
            )
        else:
            entry = Entry(
                location=path,
                kind=kind.value,
                browsers=browsers_now,
                level=level.value,
                original_exists=before is not None,
                original_b64=Entry.encode(before),
                original_mode=mode if before is not None else None,
                written_sha256=fsio.sha256(after),
                applied=list(applied),
                created=list(created),
                created_dirs=new_dirs,
            )
        if after == before:
            action, detail = FileAction.UNCHANGED, f"already {level.value}"
        elif before is None:
            action, detail = FileAction.CREATE, f"set {level.value}"
        else:
            action, detail = FileAction.MODIFY, f"set {level.value}, other keys kept"
        steps.append(
            Step(
                change=FileChange(path, action, ids, detail),
                system_path=path,
                before=before,
                after=after,
                mode=mode,
                make_dirs=new_dirs,
                remove_dirs=[],
                entry=entry,
                temp_dir=temp_dir,
            )
        )
    return steps


def _mode(host: Host, path: str) -> int:
    import stat

    return stat.S_IMODE(host.p(path).stat().st_mode)


def plan_unprotect(
    host: Host,
    browser_ids: Sequence[str] | None,
    journal: Journal,
    *,
    preview: bool = False,
) -> list[Step]:
    steps: list[Step] = []
    for path, entry in sorted(journal.entries.items()):
        if entry.kind not in (
            TargetKind.CHROMIUM_MANAGED_DIR.value,
            TargetKind.FIREFOX_POLICIES_JSON.value,
        ):
            continue
        if browser_ids:
            leaving = [b for b in entry.browsers if b in browser_ids]
            if not leaving:
                continue
            staying = [b for b in entry.browsers if b not in browser_ids]
            if staying:
                steps.append(
                    Step(
                        change=FileChange(
                            path,
                            FileAction.UNCHANGED,
                            tuple(leaving),
                            f"still protects {', '.join(staying)} (shared file)",
                        ),
                        system_path=path,
                        before=None,
                        after=None,
                        mode=0,
                        make_dirs=[],
                        remove_dirs=[],
                        entry=dataclasses.replace(entry, browsers=staying),
                    )
                )
                continue
        ids = tuple(entry.browsers)
        current = fsio.read_bytes(host.p(path)) if host.p(path).parent.exists() else None
        temp_dir = _temp_dir_of(entry.kind, path)
        if current is not None or entry.original_exists:
            fsio.check_dir(host, _dir_of(path), writable=not preview)
        current_sha = fsio.sha256(current)
        original = entry.original

        def step(
            action: FileAction, detail: str, after: bytes | None, mode: int, dirs: list[str]
        ) -> Step:
            if temp_dir is not None and action in (FileAction.RESTORE, FileAction.MODIFY):  # noqa: B023
                # Only a write needs the temp dir: removing vpnguard.json from a managed
                # dir that is a mount point (written by an earlier version) still works.
                fsio.check_temp_dir(host, _dir_of(path), writable=not preview)  # noqa: B023
            return Step(
                change=FileChange(path, action, ids, detail),  # noqa: B023
                system_path=path,  # noqa: B023
                before=current,  # noqa: B023
                after=after,
                mode=mode,
                make_dirs=[],
                remove_dirs=dirs,
                entry=None,
                temp_dir=temp_dir,  # noqa: B023
            )

        if current_sha == entry.written_sha256 or current == original:
            if current == original:
                action, detail = FileAction.UNCHANGED, "already as it was before vpnguard"
            elif original is None:
                action, detail = FileAction.REMOVE, "vpnguard created it"
            else:
                action, detail = FileAction.RESTORE, "restored byte for byte"
            dirs = entry.created_dirs if original is None else []
            steps.append(step(action, detail, original, entry.original_mode or 0o644, dirs))
            continue
        if current is None:
            detail = "already removed by someone else"
            steps.append(step(FileAction.UNCHANGED, detail, None, 0, entry.created_dirs))
            continue
        # Changed since we wrote it (an admin edited it): take back only our keys.
        doc = render.parse_object(current, path)
        restored = render.undo(doc, entry.applied, entry.created, path)
        if not restored and not entry.original_exists:
            detail = "vpnguard created it and nothing else is left in it"
            steps.append(step(FileAction.REMOVE, detail, None, 0, entry.created_dirs))
        else:
            detail = "changed by someone since vpnguard wrote it: only vpnguard's keys taken back"
            steps.append(
                step(FileAction.MODIFY, detail, render.dump(restored), _mode(host, path), [])
            )
    return steps


def execute(host: Host, steps: Sequence[Step], journal: Journal) -> None:
    """Write the plan; on failure, put back the files this run already wrote."""
    done: list[Step] = []
    saved = dict(journal.entries)
    try:
        for step in steps:
            # The journal learns of a write before the write happens, with the entry as
            # it was before (write-ahead), so that recover() can tell which state the
            # file is in after a kill.
            if step.entry is not None and step.change.action != "unchanged":
                old = saved.get(step.system_path)
                prev = old.to_json() if old is not None else {}
                prev.pop("previous", None)
                journal.entries[step.system_path] = dataclasses.replace(step.entry, previous=prev)
            elif step.entry is not None:
                journal.entries[step.system_path] = step.entry
            if step.change.action == FileAction.UNCHANGED:
                if step.entry is None:
                    journal.entries.pop(step.system_path, None)
                    fsio.remove_empty_dirs(host, step.remove_dirs)
                journal.save()
                continue
            journal.save()
            fsio.make_dirs(host, step.make_dirs)
            real = host.p(step.system_path)
            if step.after is None:
                fsio.remove(real)
                fsio.remove_empty_dirs(host, step.remove_dirs)
            else:
                fsio.atomic_write(real, step.after, step.mode, temp_dir=_temp(host, step))
            done.append(step)
            if step.entry is None:
                journal.entries.pop(step.system_path, None)
                journal.save()
    except VpnguardError:
        _rollback(host, done)
        journal.entries = saved
        try:
            journal.save()
        except VpnguardError:
            log.error("could not restore the journal after a failed run")
        raise


def _rollback(host: Host, done: Sequence[Step]) -> None:
    for step in reversed(done):
        real = host.p(step.system_path)
        try:
            if step.before is None:
                fsio.remove(real)
                fsio.remove_empty_dirs(host, step.make_dirs)
            else:
                fsio.make_dirs(host, step.remove_dirs)
                fsio.atomic_write(real, step.before, step.mode, temp_dir=_temp(host, step))
        except VpnguardError:
            log.error("rollback of %s failed", step.system_path)


def _temp(host: Host, step: Step) -> Path | None:
    return host.p(step.temp_dir) if step.temp_dir is not None else None


def _remove_stale_temps(host: Host, path: str, kind: str) -> None:
    """Temp files of ours a killed run left for this file: beside it (where earlier
    versions made them, in the managed dir itself, and where journals they wrote may
    still point) and, for a Chromium managed dir, in its parent. Only ours: the exact
    name, a regular file, owned by this user."""
    real = host.p(path)
    places: list[Path | None] = [None]
    temp_dir = _temp_dir_of(kind, path)
    if temp_dir is not None:
        places.append(host.p(temp_dir))
    for place in places:
        for tmp in fsio.remove_stale_temps(real, place):
            log.warning("removed %s left by a killed run", tmp)


def recover(host: Host, journal: Journal, *, write: bool = True) -> bool:
    """Finish what a killed run left: settle write-ahead records, remove temp files and
    directories it created. Returns True when the journal changed (and was saved).

    An entry keeps ``previous`` (the entry before its last write). When the file holds
    what ``previous`` wrote instead of what the entry says was written, that write never
    happened and the entry goes back to ``previous``. When the file is exactly the
    entry's original (a first write that never happened, or an unprotect killed before
    it dropped the entry), nothing of vpnguard's is in it and the entry goes. A file
    that matches none of these was changed by someone since: the entry stays (it still
    knows vpnguard's keys).

    Run under the lock before planning. With ``write=False`` (a dry run) only the
    in-memory journal is settled.
    """
    changed = False
    for path, entry in sorted(journal.entries.items()):
        if entry.kind not in (
            TargetKind.CHROMIUM_MANAGED_DIR.value,
            TargetKind.FIREFOX_POLICIES_JSON.value,
        ):
            continue
        real = host.p(path)
        if write:  # a temp file in a managed dir can become policy: gone before anything else
            _remove_stale_temps(host, path, entry.kind)
        current = fsio.read_bytes(real) if real.parent.is_dir() else None
        sha = fsio.sha256(current)
        if sha == entry.written_sha256:
            continue  # the last write happened: the entry is right as it is
        prev = entry.previous
        if prev and sha == prev.get("written_sha256"):
            # Killed before the write: back to the entry from before that run.
            journal.entries[path] = Entry.from_json({**prev, "previous": None})
            changed = True
        elif current == entry.original:
            # The file is as it was before vpnguard: a first write that never happened, or
            # an unprotect killed after it put the original back but before it dropped the
            # entry. Kept, that entry would make the next protect take the original for a
            # file "changed since" and record it re-serialized, not byte for byte.
            journal.entries.pop(path)
            changed = True
            if write and current is None:
                fsio.remove_empty_dirs(host, entry.created_dirs)
        # Otherwise changed by someone since: the entry still knows vpnguard's keys.
    if changed and write:
        journal.save()
    return changed


def allowed_locations(host: Host, browser_ids: Sequence[str]) -> set[str]:
    """Every file path the catalog would have vpnguard write for these browsers here."""
    from vpnguard.core.browsers.detect import detect_browsers

    out: set[str] = set()
    known = [i for i in browser_ids if i in BY_ID]
    for bid in known:
        spec = BY_ID[bid]
        lx = spec.linux
        if spec.family.value == "chromium":
            dirs = list(lx.policy_dirs)
            if lx.flatpak_policy_dir:
                dirs.append(lx.flatpak_policy_dir.format(arch=host.arch))
            out.update(file_of(TargetKind.CHROMIUM_MANAGED_DIR, d) for d in dirs)
        else:
            installs = {p.rsplit("/", 1)[0] for p in lx.paths}
            for f in lx.policy_files:
                if "{install}" in f:
                    out.update(f.format(install=i) for i in installs)
                else:
                    out.add(f)
            if lx.flatpak_policy_file:
                out.add(lx.flatpak_policy_file.format(arch=host.arch))
    for b in detect_browsers(host, known) if known else ():
        out.update(file_of(t.kind, t.location) for t in b.targets)
    return out


def check_trusted(host: Host, journal: Journal) -> None:
    """Refuse a journal naming a path the catalog would not produce for its browsers.

    The journal lives in a root-owned directory, but it is still data: whoever
    altered it must not be able to aim root's writes (or the bytes restored) anywhere.
    """
    for path, entry in journal.entries.items():
        if entry.kind == TargetKind.WINDOWS_REGISTRY.value:
            continue
        if entry.kind not in (
            TargetKind.CHROMIUM_MANAGED_DIR.value,
            TargetKind.FIREFOX_POLICIES_JSON.value,
        ):
            raise RefusedError(
                f"the vpnguard journal names {path} with unknown kind {entry.kind!r}; "
                "nothing changed",
                path=path,
            )
        allowed = allowed_locations(host, entry.browsers)
        parent = _dir_of(path)
        bad_dirs = [
            d for d in entry.created_dirs if not (parent == d or parent.startswith(d + "/"))
        ]
        prev = entry.previous or {}
        if (
            path not in allowed
            or bad_dirs
            or (prev and prev.get("location") != path)
            or not entry.browsers
        ):
            raise RefusedError(
                f"the vpnguard journal names {path}, which is not a policy location vpnguard "
                f"writes for {', '.join(entry.browsers) or 'any browser'}; the journal was "
                "altered, nothing changed",
                path=path,
            )


def refuse_unknown(browser_ids: Sequence[str], detected: Sequence[Browser]) -> None:
    """Refuse to protect a catalog browser that is not installed here."""
    found = {b.id for b in detected}
    missing = [i for i in browser_ids if i not in found]
    if missing:
        raise RefusedError(f"not installed here: {', '.join(missing)}; nothing changed")
