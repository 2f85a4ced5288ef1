"""Random sequences of protect / admin edits / unprotect: no foreign key is ever lost.

Runs the real engine on a fake root (unprivileged, fast). Invariants:

* no vpnguard operation changes anything but vpnguard's own keys;
* after the final ``unprotect``, each file is the admin's content without vpnguard's
  keys, and when the admin never touched anything, the tree is byte for byte as before.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fakeroot
from tests.core.test_datasafety import snapshot
from tests.core.test_engine import CR_DIR, FF
from vpnguard.core import service
from vpnguard.core.policy.levels import ALL_FIREFOX_PREFS

OWN = CR_DIR + "/vpnguard.json"
OUR_CHROMIUM_KEY = "WebRtcIPHandling"

scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4)
foreign_keys = st.sampled_from(["DisableTelemetry", "Homepage", "BlockAboutConfig", "Ä", "x"])
foreign_prefs = st.sampled_from(["browser.startup.page", "media.peerconnection.enabled"])

protects = st.tuples(st.just("protect"), st.sampled_from(["strict", "balanced"]))
ops = st.one_of(
    protects,
    protects,
    protects,
    st.tuples(st.just("admin-ff"), foreign_keys, scalars),
    st.tuples(st.just("admin-ff-pref"), foreign_prefs, scalars),
    st.tuples(st.just("admin-own"), st.sampled_from(["HomepageLocation", "x"]), scalars),
    st.tuples(st.just("admin-drop-ours"), st.sampled_from(["ff", "own"]), st.none()),
    st.tuples(st.just("unprotect"), st.sampled_from([None, "chromium", "firefox-esr"])),
)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_bytes()) if path.exists() else {}


def _foreign_ff(doc: dict[str, Any]) -> dict[str, Any]:
    """The admin's part: without vpnguard's prefs; empty containers do not count."""
    doc = json.loads(json.dumps(doc))
    pol = doc.get("policies")
    if isinstance(pol, dict):
        prefs = pol.get("Preferences")
        if isinstance(prefs, dict):
            for p in ALL_FIREFOX_PREFS:
                prefs.pop(p, None)
            if not prefs:
                del pol["Preferences"]
        if not pol:
            del doc["policies"]
    return doc


def _foreign_own(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != OUR_CHROMIUM_KEY}


def _foreign(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    return _foreign_ff(_load(root / FF)), _foreign_own(_load(root / OWN))


def _admin(root: Path, op: tuple[Any, ...], indent: int | None) -> None:
    kind, key, value = op
    if kind in ("admin-ff", "admin-ff-pref"):
        doc = _load(root / FF)
        pol = doc.setdefault("policies", {})
        if kind == "admin-ff":
            pol[key] = value
        else:
            pol.setdefault("Preferences", {})[key] = {"Value": value, "Status": "locked"}
        (root / FF).parent.mkdir(parents=True, exist_ok=True)
        (root / FF).write_text(json.dumps(doc, indent=indent, ensure_ascii=False))
    elif kind == "admin-own" and (root / OWN).exists():
        doc = _load(root / OWN)
        doc[key] = value
        (root / OWN).write_text(json.dumps(doc, indent=indent))
    elif kind == "admin-drop-ours":
        path = root / (FF if key == "ff" else OWN)
        if path.exists():
            doc = _load(path)
            if key == "ff":
                prefs = doc.get("policies", {}).get("Preferences", {})
                for p in list(prefs):
                    if p in ALL_FIREFOX_PREFS:
                        del prefs[p]
                        break
            else:
                doc.pop(OUR_CHROMIUM_KEY, None)
            path.write_text(json.dumps(doc, indent=indent))


def test_random_sequences_never_lose_a_foreign_key(capsys: pytest.CaptureFixture[str]) -> None:
    tried = {"sequences": 0, "operations": 0, "admin_edits": 0, "byte_exact_checks": 0}

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        initial=st.none()
        | st.dictionaries(foreign_keys, scalars, max_size=3).map(lambda d: {"policies": d}),
        sequence=st.lists(ops, min_size=1, max_size=10),
        indent=st.sampled_from([None, 1, 4]),
    )
    def run(initial: dict[str, Any] | None, sequence: list[tuple[Any, ...]], indent: Any) -> None:
        with tempfile.TemporaryDirectory(prefix="vpnguard-seq-") as tmp:
            one_sequence(Path(tmp), initial, sequence, indent)

    def one_sequence(
        tmp: Path, initial: dict[str, Any] | None, sequence: list[tuple[Any, ...]], indent: Any
    ) -> None:
        root = fakeroot.debian(tmp / "root")
        if initial is not None:
            (root / FF).parent.mkdir(parents=True)
            (root / FF).write_text(json.dumps(initial, indent=indent))
        pristine = snapshot(root)
        edited = False
        tried["sequences"] += 1
        for op in sequence:
            tried["operations"] += 1
            before = _foreign(root)
            if op[0] == "protect":
                service.protect(op[1], root=root)
            elif op[0] == "unprotect":
                service.unprotect([op[1]] if op[1] else None, root=root)
            else:
                tried["admin_edits"] += 1
                edited = True
                _admin(root, op, indent)
                continue
            assert _foreign(root) == before, op  # vpnguard touched only its own keys
        expected = _foreign(root)
        service.unprotect(root=root)
        ff, own = _load(root / FF), _load(root / OWN)
        prefs = ff.get("policies", {}).get("Preferences", {})
        assert not set(prefs) & set(ALL_FIREFOX_PREFS) and OUR_CHROMIUM_KEY not in own
        assert _foreign(root) == expected  # and every foreign key is there
        if not edited:
            tried["byte_exact_checks"] += 1
            assert snapshot(root) == pristine

    run()
    with capsys.disabled():
        print(f"\n[sequences] tried {tried}")
