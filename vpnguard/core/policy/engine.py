"""Protect and unprotect: plan every file first, then write, with the journal.

``plan_*`` reads and checks everything and changes nothing (that is what
``--dry-run`` prints); ``execute`` writes the plan. If any write fails, the
files already written in this run are put back, so a run changes all of its
files or none.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from vpnguard.core.browsers.catalog import BY_ID
from vpnguard.core.errors import RefusedError, VpnguardError
from vpnguard.core.host import Host
from vpnguard.core.model import Browser, FileAction, Level, TargetKind
from vpnguard.core.model import FileChange as FileChange  # defined in the model: a result
from vpnguard.core.policy import fsio, render
from vpnguard.core.policy.journal import Entry, Journal
from vpnguard.core.policy.levels import OWN_FILE

log = logging.getLogger(__name__)


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


def file_of(kind: TargetKind, location: str) -> str:
    """The file vpnguard writes for a target: its own file in a Chromium dir."""
    if kind is TargetKind.CHROMIUM_MANAGED_DIR:
        return location.rstrip("/") + "/" + OWN_FILE
    return location


def _dir_of(system_path: str) -> str:
    return system_path.rsplit("/", 1)[0] or "/"


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
        if old is not None:
            entry = dataclasses.replace(
                old,
                browsers=browsers_now,
                level=level.value,
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
        current_sha = fsio.sha256(current)
        original = entry.original

        def step(
            action: FileAction, detail: str, after: bytes | None, mode: int, dirs: list[str]
        ) -> Step:
            return Step(
                change=FileChange(path, action, ids, detail),  # noqa: B023
                system_path=path,  # noqa: B023
                before=current,  # noqa: B023
                after=after,
                mode=mode,
                make_dirs=[],
                remove_dirs=dirs,
                entry=None,
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
        fsio.check_dir(host, _dir_of(path), writable=not preview)
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
            # The journal learns of a write before the write happens.
            if step.entry is not None:
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
                fsio.atomic_write(real, step.after, step.mode)
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
                fsio.atomic_write(real, step.before, step.mode)
        except VpnguardError:
            log.error("rollback of %s failed", step.system_path)


def refuse_unknown(browser_ids: Sequence[str], detected: Sequence[Browser]) -> None:
    """Refuse to protect a catalog browser that is not installed here."""
    found = {b.id for b in detected}
    missing = [i for i in browser_ids if i not in found]
    if missing:
        raise RefusedError(f"not installed here: {', '.join(missing)}; nothing changed")
