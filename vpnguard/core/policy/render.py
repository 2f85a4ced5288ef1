"""Pure edits of JSON policy documents, with exact undo.

Every policy file vpnguard touches is a JSON object; what vpnguard writes is a
set of *edits*, each a key path (``("policies", "Preferences", pref)``) and a
value. Applying edits records what each path held before (``prior``) and
which containers had to be created, so undo can put back exactly that, and
leave alone anything an admin added in between.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from vpnguard.core.browsers.catalog import BrowserSpec
from vpnguard.core.errors import RefusedError, StrictJsonError
from vpnguard.core.model import Family, Level
from vpnguard.core.policy.levels import firefox_locked_pref, settings_for
from vpnguard.core.record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time
if TYPE_CHECKING:
    from typing import Any

KeyPath = tuple[str, ...]


@record
class Edit:
    path: KeyPath
    value: Any


@record
class Applied:
    """One applied edit and what the path held before it."""

    path: KeyPath
    had_prior: bool
    prior: Any = None
    value: Any = None  # the concrete setting written: the journal never depends on level names

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": list(self.path), "had_prior": self.had_prior}
        if self.had_prior:
            out["prior"] = self.prior
        out["value"] = self.value
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Applied:
        path = doc["path"]
        if (
            not isinstance(path, list)
            or not path
            or not all(isinstance(k, str) for k in path)
            or not isinstance(doc["had_prior"], bool)
        ):
            raise TypeError("an applied edit has a malformed path")
        return cls(tuple(path), doc["had_prior"], doc.get("prior"), doc.get("value"))


def edits_for(spec: BrowserSpec, level: Level) -> tuple[Edit, ...]:
    """The document edits that put ``spec`` at ``level`` (Linux JSON targets)."""
    settings = settings_for(spec, level)
    if spec.family is Family.CHROMIUM:
        return tuple(Edit((s.name,), s.value) for s in settings)
    return tuple(
        Edit(("policies", "Preferences", s.name), firefox_locked_pref(s.value)) for s in settings
    )


MAX_DEPTH = 100  # real policy files nest a handful of levels; refuse before recursing


def _no_constant(name: str) -> Any:
    raise StrictJsonError(
        f"holds {name}, which is not JSON (browsers ignore the whole file)", "constant", name
    )


_INF = float("inf")


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (_INF, -_INF):  # math.isfinite, without loading math (status)
        raise StrictJsonError(f"holds the number {text[:40]}, out of range for a browser", "number")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise StrictJsonError(f"names the key {key!r} twice", "duplicate", key)
        out[key] = value
    return out


def _depth(text: str) -> int:
    """Deepest bracket nesting outside strings (checked before parsing: no recursion)."""
    depth = deepest = 0
    in_str = escaped = False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _check_strings(doc: Any) -> None:
    stack = [doc]
    while stack:
        node = stack.pop()
        items: list[Any] = []
        if isinstance(node, dict):
            items = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            items = node
        elif isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise StrictJsonError(
                    "holds a lone surrogate (\\ud800-\\udfff), not valid Unicode", "surrogate"
                ) from None
        stack.extend(items)


def loads_strict(data: bytes) -> Any:
    """Parse JSON the way a strict parser does, or raise ValueError saying why
    (:class:`StrictJsonError` for the rules below, ``json.JSONDecodeError`` for syntax,
    ``UnicodeDecodeError`` for bytes that are not UTF-8).

    Refused: non-finite numbers (``NaN``, ``Infinity``, ``1e400``), lone
    surrogates, duplicate keys, nesting over :data:`MAX_DEPTH`, integers
    too long to convert: anything that would not survive parse and dump unchanged.
    """
    text = data.decode("utf-8-sig")
    if _depth(text) > MAX_DEPTH:
        raise StrictJsonError(f"is nested deeper than {MAX_DEPTH} levels", "depth")
    try:
        doc = json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique,
        )
    except RecursionError:
        raise StrictJsonError(f"is nested deeper than {MAX_DEPTH} levels", "depth") from None
    except ValueError as exc:
        if isinstance(exc, (StrictJsonError, json.JSONDecodeError)):
            raise
        raise StrictJsonError(f"holds a number with too many digits ({exc})", "digits") from None
    _check_strings(doc)
    return doc


def parse_object(data: bytes | None, where: str) -> dict[str, Any]:
    """Parse an existing policy file; refuse anything that is not a JSON object."""
    if data is None:
        return {}
    try:
        doc = loads_strict(data)
    except StrictJsonError as exc:
        raise RefusedError(f"{where} {exc}; left unchanged", path=where) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise RefusedError(
            f"{where} is not valid JSON ({exc}); left unchanged", path=where
        ) from None
    if not isinstance(doc, dict):
        raise RefusedError(
            f"{where} holds a JSON {type(doc).__name__}, not an object; left unchanged", path=where
        )
    return doc


def dump(doc: dict[str, Any]) -> bytes:
    """What vpnguard writes: strict JSON only (``allow_nan=False``), UTF-8."""
    return (json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


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
    import copy  # here, not at the top: status reads policy files through this module

    out = copy.deepcopy(doc)
    applied: list[Applied] = []
    created: list[KeyPath] = []
    for edit in edits:
        node, made = _container(out, edit.path, where, create=True)
        assert node is not None
        created += made
        key = edit.path[-1]
        if key in node:
            applied.append(Applied(edit.path, True, copy.deepcopy(node[key]), edit.value))
        else:
            applied.append(Applied(edit.path, False, None, edit.value))
        node[key] = copy.deepcopy(edit.value)
    return out, tuple(applied), tuple(created)


def undo(
    doc: dict[str, Any],
    applied: Iterable[Applied],
    created: Iterable[KeyPath],
    where: str,
) -> dict[str, Any]:
    """Put back what each applied path held; drop containers we created once empty."""
    import copy

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
