"""The measured matrix (docs/matrix.json) and every claim made from it.

* Without root: the docs (docs/matrix.md, docs/matrix.svg, the README's lab
  table) are rendered from docs/matrix.json, and the recorded cells say what
  the app and the README say (the recommended level leaks nowhere, calls per
  family, what auto picks).
* As root in the lab (CI): a fresh measurement on the product's check equals
  docs/matrix.json cell by cell, and ``watch --level auto`` switches the policy
  when a full tunnel becomes split, with the next check passing in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vpnguard.core.model import Family, Level
from vpnguard.core.policy.levels import CALLS, RECOMMENDED

from . import matrix
from .matrix import BROWSERS, SCENARIOS, Cell, Results

DOCS = matrix.REPO / "docs"
FAMILY = {"chromium": Family.CHROMIUM, "firefox-esr": Family.FIREFOX}


def recorded() -> tuple[Results, dict[str, Any]]:
    doc = json.loads((DOCS / "matrix.json").read_text())
    return matrix.from_rows(doc["rows"]), doc


# -- the docs and the claims, from the recorded results (no root needed) -----------------


def test_docs_are_rendered_from_the_recorded_matrix() -> None:
    results, doc = recorded()
    assert (DOCS / "matrix.md").read_text() == matrix.render_markdown(
        results, doc["facts"], doc["date"]
    )
    assert (DOCS / "matrix.svg").read_text() == matrix.render_svg(results, doc["date"])
    readme = (matrix.REPO / "README.md").read_text()
    assert matrix.block(readme) == matrix.render_readme_block(results)
    # every level x scenario x browser is there
    assert {(b, lv, sc) for b, lv, sc in results} == {
        (b, lv, sc) for b in BROWSERS for lv in matrix.LEVELS for sc in SCENARIOS
    }


def cell(results: Results, browser: str, level: str, scenario: str) -> Cell:
    return results[(browser, level, scenario)]


def connected_in(results: Results, browser: str, level: str, i: int) -> dict[str, str]:
    """scenario -> path, where call ``i`` (0 TURN/UDP offered, 1 TURN/TCP) connected."""
    return {
        sc: c.calls[i].path
        for sc in SCENARIOS
        if (c := results[(browser, level, sc)]).calls[i].connected
    }


def test_recommended_level_leaks_nowhere_and_keeps_calls() -> None:
    results, _ = recorded()
    rec = RECOMMENDED.value
    for b in BROWSERS:
        for sc in SCENARIOS:
            c = cell(results, b, rec, sc)
            assert [v.verdict for v in c.views[:2]] == ["pass", "pass"], (b, sc, c)
    # Chromium: TURN over TCP, never TURN over UDP (disable_non_proxied_udp)
    assert connected_in(results, "chromium", rec, 0) == {}
    tcp = connected_in(results, "chromium", rec, 1)
    assert tcp and set(tcp.values()) == {"relay/tcp"}, tcp
    assert "TCP" in CALLS[RECOMMENDED][Family.CHROMIUM]
    assert "not TURN over UDP" in CALLS[RECOMMENDED][Family.CHROMIUM]
    # Firefox: through TURN (UDP and TCP), only ever relayed
    for i in (0, 1):
        got = connected_in(results, "firefox-esr", rec, i)
        assert got and all(p.startswith("relay/") for p in got.values()), (i, got)
    # the documented exception: a TURN server the split tunnel routes around never answers
    # Firefox (its sockets carry the tunnel's source address): no candidate, no call
    assert not any(k.connected for k in cell(results, "firefox-esr", rec, "split").calls)
    assert "bypasses" in CALLS[RECOMMENDED][Family.FIREFOX]


def test_what_the_levels_leave_of_calls_matches_the_app() -> None:
    results, _ = recorded()
    # strict: Firefox calls blocked everywhere; Chromium as under relay (the same value)
    assert connected_in(results, "firefox-esr", "strict", 0) == {}
    assert connected_in(results, "firefox-esr", "strict", 1) == {}
    assert "blocked" in CALLS[Level.STRICT][Family.FIREFOX]
    assert connected_in(results, "chromium", "strict", 0) == {}
    assert set(connected_in(results, "chromium", "strict", 1).values()) == {"relay/tcp"}
    for sc in SCENARIOS:
        assert (
            cell(results, "chromium", "strict", sc).views[:2]
            == cell(results, "chromium", "relay", sc).views[:2]
        )
    # balanced: calls in a full tunnel in both families
    for b in BROWSERS:
        assert any(k.connected for k in cell(results, b, "balanced", "full").calls), b


def test_no_policy_and_balanced_leaks_are_in_the_matrix() -> None:
    results, _ = recorded()
    from tests.lab.netlab import LAN6_ADDR, LAN_ADDR, VPN_ADDR

    # the meeting-site view catches the raw host leak of a full tunnel with no policy
    full = cell(results, "chromium", "none", "full")
    assert full.views[0].verdict == "pass"
    assert full.views[1].verdict == "leak"
    assert {LAN_ADDR, VPN_ADDR} <= set(full.views[1].leaked)
    # balanced holds in a full tunnel only
    for b in BROWSERS:
        assert not cell(results, b, "balanced", "full").leak, b
    assert LAN_ADDR in cell(results, "chromium", "balanced", "split").views[0].leaked
    assert LAN6_ADDR in cell(results, "chromium", "balanced", "ipv6").views[0].leaked
    for b in BROWSERS:
        assert LAN_ADDR in cell(results, b, "balanced", "novpn").views[0].leaked, b


def test_auto_row_is_the_least_restrictive_leak_free_level() -> None:
    results, doc = recorded()
    chosen = {sc: doc["facts"]["auto"][sc]["level"] for sc in SCENARIOS}
    assert chosen == {"full": "balanced", "split": "relay", "ipv6": "relay", "novpn": "relay"}
    for b in BROWSERS:
        for sc in SCENARIOS:
            c = cell(results, b, "auto", sc)
            assert c.chosen == chosen[sc] and not c.leak, (b, sc)
    # in the full tunnel auto keeps direct calls, which relay would not
    assert cell(results, "chromium", "auto", "full").calls[0].path == "direct"


# -- the lab: measure again and compare; auto follows the tunnel (root) ---------------------


@pytest.fixture(scope="module")
def labs() -> Iterator[dict[str, Any]]:
    from .netlab import Lab, missing_tools

    missing = missing_tools() + [b for b in BROWSERS if not shutil.which(b)]
    if missing:
        pytest.skip(f"lab needs: {', '.join(missing)}")
    built = {sc: Lab() for sc in SCENARIOS}
    try:
        matrix.build_all(built)
        yield built
    finally:
        for lab in built.values():
            lab.close()


@pytest.fixture
def no_policy(system_lock: None) -> Iterator[None]:
    status = matrix.vpnguard_host(
        "status", "--json", "--browser", "chromium", "--browser", "firefox-esr"
    )
    prot = {b["id"]: b["protection"] for b in json.loads(status.stdout)["browsers"]}
    if any(v != "none" for v in prot.values()):
        pytest.fail(f"policy present before the lab ran (left by someone?): {prot}")
    try:
        yield
    finally:
        matrix.vpnguard_host("unprotect")


def contradictions(got: Results, want: Results) -> list[str]:
    """Where a measurement contradicts the recording, in the cells that are stable.

    Stable, asserted per cell: the two STUN views and auto's choice. Blocked calls: a
    (browser, level, call) that connected in no scenario of the recording (Firefox under
    strict, TURN/UDP under Chromium's relay and strict) must never connect. Own-TURN leaks
    may only reveal addresses some level revealed there in the recording. Not asserted per
    cell: a "no call" of a level whose call connected elsewhere, and an own-TURN "no leak"
    (a TURN allocation through the lab's tunnel fails now and then); see :func:`unconfirmed`.
    """
    out = []
    for key in sorted(set(got) | set(want)):
        g, w = got.get(key), want.get(key)
        if g is None or w is None:
            out.append(f"{key}: measured {g}, recorded {w}")
            continue
        b, lv, sc = key
        if g.views[:2] != w.views[:2] or g.chosen != w.chosen:
            out.append(
                f"{key}: views/auto measured {g.views[:2]} {g.chosen!r}, "
                f"recorded {w.views[:2]} {w.chosen!r}"
            )
        seen = {a for lv2 in matrix.LEVELS for a in want[(b, lv2, sc)].views[2].leaked}
        if g.views[2].verdict == "leak" and not set(g.views[2].leaked) <= seen:
            out.append(f"{key}: own-TURN view leaked {g.views[2].leaked}, never seen there")
        for i, name in enumerate(matrix.CALLS):
            blocked = not any(want[(b, lv, s2)].calls[i].connected for s2 in SCENARIOS)
            if blocked and g.calls[i].connected:
                out.append(f"{key}: {name} connected ({g.calls[i].path}); recorded as blocked")
    return out


def unconfirmed(got: Results, want: Results) -> list[str]:
    """(browser, level, call) recorded as connecting somewhere but connecting nowhere now."""
    out = []
    for b in BROWSERS:
        for lv in matrix.LEVELS:
            for i, name in enumerate(matrix.CALLS):
                rec = [sc for sc in SCENARIOS if want[(b, lv, sc)].calls[i].connected]
                now = [
                    sc for sc in SCENARIOS if (c := got.get((b, lv, sc))) and c.calls[i].connected
                ]
                if rec and not now:
                    out.append(f"{b} {lv} {name}: recorded connecting in {rec}, now nowhere")
    return out


@pytest.mark.lab
@pytest.mark.root
def test_a_fresh_measurement_equals_the_recorded_matrix(
    labs: dict[str, Any], no_policy: None, tmp_path: Path
) -> None:
    want, _ = recorded()
    got, facts = matrix.measure(labs)
    if contradictions(got, want) or unconfirmed(got, want):
        # once more for the levels that differed: a browser that timed out under load, or a
        # TURN allocation that failed; calls and own-TURN leaks are OR-ed (matrix.merge)
        keys = {k for k in want if got.get(k) != want[k]}
        levels = {k[1] for k in keys} | {c.chosen for k, c in want.items() if k in keys}
        again, facts = matrix.measure(labs, [lv for lv in matrix.POLICY_LEVELS if lv in levels])
        got = matrix.merge(got, again)
    out = Path(os.environ.get("VPNGUARD_MATRIX_OUT", tmp_path)) / "matrix-run.json"
    out.write_text(json.dumps({"facts": facts, "rows": matrix.to_rows(got)}, indent=1))
    problems = contradictions(got, want) + unconfirmed(got, want)
    assert not problems, "\n".join(problems)


@contextlib.contextmanager
def watching(lab: Any, state_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``watch --level auto`` in the lab; as root it keeps auto mode's files in the
    system state dir (an elevated process ignores VPNGUARD_STATE_DIR), so they are put
    back as they were afterwards: a test's holder must not outlive it."""
    from vpnguard.core import automode

    system = Path("/var/lib/vpnguard")
    names = (automode.STATE_FILE, automode.STATUS_FILE, automode.PID_FILE, automode.LOCK_FILE)
    saved = {n: (system / n).read_bytes() if (system / n).is_file() else None for n in names}
    try:
        yield from _watching(lab, state_dir)
    finally:
        if os.geteuid() == 0:
            for n, data in saved.items():
                if data is None:
                    (system / n).unlink(missing_ok=True)
                else:
                    (system / n).write_bytes(data)


def _watching(lab: Any, state_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(matrix.REPO), "VPNGUARD_STATE_DIR": str(state_dir)}
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            lab.client,
            sys.executable,
            "-m",
            "vpnguard",
            "watch",
            "--level",
            "auto",
            "--vpn",
            lab.wg_c,
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(state_dir / "watch.log", "wb"),  # noqa: SIM115 - closed with the dir
        start_new_session=True,
        env=env,
        cwd=matrix.REPO,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def wait_for(what: str, cond: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def watch_status(state: Path) -> Path:
    """Where watch keeps its status: an elevated process ignores VPNGUARD_STATE_DIR
    (core.host.Host.state_dir), so as root (every lab run) it is the system's state dir."""
    return (Path("/var/lib/vpnguard") if os.geteuid() == 0 else state) / "watch.json"


def chromium_value() -> str | None:
    p = Path("/etc/chromium/policies/managed/vpnguard.json")
    try:
        return str(json.loads(p.read_text()).get("WebRtcIPHandling"))
    except (OSError, ValueError):
        return None


@pytest.mark.lab
@pytest.mark.root
def test_auto_follows_the_tunnel(labs: dict[str, Any], no_policy: None) -> None:
    """Full tunnel: balanced, a direct call, no leak. Split: watch switches to relay and the
    next check passes within Chromium's policy reload time."""
    lab = labs["full"]
    state = Path(tempfile.mkdtemp(prefix="vgl-auto-"))
    env_state = {"VPNGUARD_STATE_DIR": str(state)}
    try:
        with watching(lab, state):
            wait_for(
                "auto to write balanced",
                lambda: chromium_value() == "default_public_interface_only",
                20,
            )
            status = json.loads(watch_status(state).read_text())
            assert status["level"] == "auto" and status["auto"]["level"] == "balanced"
            doc = matrix.check(lab, ["chromium"])["check"]["browsers"][0]
            assert doc["verdict"] == "pass", doc["reason"]
            udp = [c for c in doc["calls"] if c["name"].startswith("turn_udp")]
            # balanced keeps calls that are not relayed end to end: at least one side of the
            # pair is the peer's own (srflx/prflx/host) candidate; which pair ICE nominates
            # varies from run to run (seen: srflx-prflx, relay-srflx)
            pairs = [(c["path"]["local"], c["path"]["remote"]) for c in udp if c["connected"]]
            direct = [pair for pair in pairs if pair != ("relay", "relay")]
            assert direct, udp

            lab.set_scenario("split")
            switched = time.monotonic()
            wait_for(
                "watch to switch to relay",
                lambda: chromium_value() == "disable_non_proxied_udp",
                10,
            )
            status = json.loads(watch_status(state).read_text())
            assert status["auto"]["level"] == "relay", status
            assert "198.51.100.1" in status["auto"]["reason"]
            # a running Chromium re-reads managed policy within ~6 s; a fresh check gets it now
            doc = matrix.check(lab, ["chromium"])["check"]["browsers"][0]
            assert doc["verdict"] == "pass", doc["reason"]
            assert time.monotonic() - switched < 30
    finally:
        lab.set_scenario("full")
        subprocess.run(  # undo with the journal in the watch's own state dir
            [sys.executable, "-m", "vpnguard", "unprotect"],
            env={**os.environ, "PYTHONPATH": str(matrix.REPO), **env_state},
            cwd=matrix.REPO,
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(state, ignore_errors=True)
