"""The JSON Schemas (draft 2020-12) of vpnguard's ``--json`` documents, shipped in the package.

``validator("status")`` needs the optional ``jsonschema`` package; ``load("status")``
needs nothing. Names: status, change, error, hook, auto-mode.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

NAMES = ("status", "change", "error", "hook", "auto-mode")


def load(name: str) -> dict[str, Any]:
    if name not in NAMES:
        raise ValueError(f"unknown schema {name!r}; one of {', '.join(NAMES)}")
    text = resources.files("vpnguard").joinpath(f"data/schema/{name}.schema.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


def validator(name: str) -> Any:
    """A ``jsonschema`` validator with the sibling schemas registered (change -> status)."""
    import jsonschema
    from referencing import Registry, Resource

    registry: Registry[Any] = Registry().with_resources(
        (load(n)["$id"], Resource.from_contents(load(n))) for n in NAMES
    )
    schema = load(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
