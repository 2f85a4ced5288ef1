"""Pure edits of JSON policy documents, with exact undo.

Every policy file vpnguard touches is a JSON object; what vpnguard writes is a
set of *edits*, each a key path (``("policies", "Preferences", pref)``) and a
value. Applying edits records what each path held before (``prior``) and
which containers had to be created, so undo can put back exactly that, and
leave alone anything an admin added in between.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

from vpnguard.core.browsers.catalog import BrowserSpec
from vpnguard.core.errors import RefusedError
from vpnguard.core.model import Family, Level
from vpnguard.core.policy.levels import firefox_locked_pref, settings_for

KeyPath = tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Edit:
    path: KeyPath
    value: Any


@dataclasses.dataclass(frozen=True)
class Applied:
    """One applied edit and what the path held before it."""

    path: KeyPath
    had_prior: bool
    prior: Any = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": list(self.path), "had_prior": self.had_prior}
        if self.had_prior:
            out["prior"] = self.prior
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Applied:
        return cls(tuple(doc["path"]), bool(doc["had_prior"]), doc.get("prior"))


def edits_for(spec: BrowserSpec, level: Level) -> tuple[Edit, ...]:
    """The document edits that put ``spec`` at ``level`` (Linux JSON targets)."""
    settings = settings_for(spec, level)
    if spec.family is Family.CHROMIUM:
        return tuple(Edit((s.name,), s.value) for s in settings)
    return tuple(
        Edit(("policies", "Preferences", s.name), firefox_locked_pref(s.value)) for s in settings
    )


def parse_object(data: bytes | None, where: str) -> dict[str, Any]:
    """Parse an existing policy file; refuse anything that is not a JSON object."""
    if data is None:
        return {}
    try:
        text = data.decode("utf-8-sig")
        doc = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RefusedError(
            f"{where} is not valid JSON ({exc}); left unchanged", path=where
        ) from None
    if not isinstance(doc, dict):
        raise RefusedError(
            f"{where} holds a JSON {type(doc).__name__}, not an object; left unchanged", path=where
        )
    return doc


def dump(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _container(
    doc: dict[str, Any], path: KeyPath, where: str, create: bool
) -> tuple[dict[str, Any] | None, list[KeyPath]]:
    """The object holding ``path[-1]``; creates missing parents when ``create``."""
    node = doc
    created: list[KeyPath] = []
    for i, key in enumerate(path[:-1]):
        child = node.get(key)
        if child is None and key not in node:
            if not create:
                return None, created
            child = {}
            node[key] = child
            created.append(path[: i + 1])
        if not isinstance(child, dict):
            dotted = ".".join(path[: i + 1])
            kind = type(child).__name__
            raise RefusedError(
                f"{where}: {dotted} is a {kind}, expected an object; left unchanged",
                path=where,
            )
        node = child
    return node, created


def apply(
    doc: dict[str, Any], edits: Sequence[Edit], where: str
) -> tuple[dict[str, Any], tuple[Applied, ...], tuple[KeyPath, ...]]:
    """Apply ``edits`` to a copy of ``doc``; return it with priors and created containers."""
    out = copy.deepcopy(doc)
    applied: list[Applied] = []
    created: list[KeyPath] = []
    for edit in edits:
        node, made = _container(out, edit.path, where, create=True)
        assert node is not None
        created += made
        key = edit.path[-1]
        if key in node:
            applied.append(Applied(edit.path, True, copy.deepcopy(node[key])))
        else:
            applied.append(Applied(edit.path, False))
        node[key] = copy.deepcopy(edit.value)
    return out, tuple(applied), tuple(created)


def undo(
    doc: dict[str, Any],
    applied: Iterable[Applied],
    created: Iterable[KeyPath],
    where: str,
) -> dict[str, Any]:
    """Put back what each applied path held; drop containers we created once empty."""
    out = copy.deepcopy(doc)
    for a in reversed(list(applied)):
        try:
            node, _ = _container(out, a.path, where, create=a.had_prior)
        except RefusedError:
            continue  # someone replaced a parent since; nothing of ours is left there
        if node is None:
            continue
        if a.had_prior:
            node[a.path[-1]] = copy.deepcopy(a.prior)
        else:
            node.pop(a.path[-1], None)
    for path in sorted(created, key=len, reverse=True):
        node, _ = _container(out, path, where, create=False)
        if node is not None and node.get(path[-1]) == {}:
            del node[path[-1]]
    return out
