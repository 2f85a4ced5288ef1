"""``vpnguard watch`` inside a namespace with a real wireguard-go tunnel."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.vpnclient.lab import (
    PYTHON,
    Lab,
    env_with_pythonpath,
    kill_pid,
    policy_files,
    snapshot,
    wait_for,
)

pytestmark = pytest.mark.root


def start_watch(lab: Lab, root: Path, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            lab.client,
            PYTHON,
            "-m",
            "vpnguard",
            "watch",
            "--root",
            str(root),
            *extra,
        ],
        env=env_with_pythonpath(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lab.procs.append(proc)  # type: ignore[arg-type]  # killed by PID at teardown
    pidfile = root / "var/lib/vpnguard/watch.pid"
    assert wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() == str(proc.pid), 10)
    return proc


def looked_after(
    root: Path, proc: subprocess.Popen[str], since: float, active: list[str] | None = None
) -> bool:
    """Wait (bounded) until this watcher began a look after ``since`` that saw ``active``.

    The watcher writes watch.json after every look, acting or not, so whatever
    that look decided is done once the file says so. This replaces fixed
    "nothing happened" sleeps. Take ``since`` *before* the last link change and
    name the VPNs that change leaves up: a look that began in between saw the
    state before it and does not count. (Taken after the change, a test
    descheduled past the watcher's 0.25 s settle would miss the one look that
    follows, and wait in vain.)
    """

    def done() -> bool:
        try:
            doc = json.loads((root / "var/lib/vpnguard/watch.json").read_text())
        except (OSError, ValueError):
            return False
        return (
            doc.get("pid") == proc.pid
            and (doc.get("checked") or 0) > since
            and (active is None or doc.get("active_vpns") == active)
        )

    return wait_for(done, 10)


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    return proc.returncode, err


def test_up_protects_down_restores_exactly(wglab: Lab, froot: Path) -> None:
    before = snapshot(froot)
    wg = wglab.client_tunnel()
    watch = start_watch(wglab, froot, "--vpn", wg)
    assert looked_after(froot, watch, 0), "the watcher never looked"
    assert policy_files(froot) == []  # the tunnel is down: nothing written
    wglab.link("up")
    assert wait_for(lambda: len(policy_files(froot)) == 2, 10), "policy not written"
    doc = json.loads((froot / "etc/chromium/policies/managed/vpnguard.json").read_text())
    assert doc["WebRtcIPHandling"] == "disable_non_proxied_udp"
    wglab.link("down")
    assert wait_for(lambda: snapshot(froot) == before, 10), "not restored byte for byte"
    code, err = stop(watch)
    assert code == 0, err
    assert "protect" in err and "unprotect" in err


def test_flapping_ten_times_gives_one_consistent_end_state(wglab: Lab, froot: Path) -> None:
    before = snapshot(froot)
    wg = wglab.client_tunnel()
    watch = start_watch(wglab, froot, "--vpn", wg)
    for _ in range(10):
        wglab.link("up")
        wglab.link("down")
    last_flap = time.time()
    wglab.link("up")  # ends up
    assert wait_for(lambda: len(policy_files(froot)) == 2, 10)
    assert looked_after(froot, watch, last_flap, [wg]), "the watcher never saw the final state"
    protected = snapshot(froot)
    for _ in range(10):
        wglab.link("down")
        wglab.link("up")
    last_flap = time.time()
    wglab.link("down")  # ends down
    assert wait_for(lambda: snapshot(froot) == before, 10)
    assert looked_after(froot, watch, last_flap, []), "the watcher never saw the final state"
    assert snapshot(froot) == before
    code, err = stop(watch)
    assert code == 0, err
    # Debounced: a handful of decisions, not one per flap.
    assert err.count("-> protect") + err.count("-> unprotect") <= 6, err
    assert protected != before


def test_restart_does_not_apply_twice_and_undoes_after_a_crash(wglab: Lab, froot: Path) -> None:
    before = snapshot(froot)
    wg = wglab.client_tunnel()
    wglab.link("up")
    watch = start_watch(wglab, froot, "--vpn", wg)
    assert wait_for(lambda: len(policy_files(froot)) == 2, 10)
    kill_pid(watch, signal.SIGKILL)  # a crash: no cleanup at all
    protected = snapshot(froot)
    watch = start_watch(wglab, froot, "--vpn", wg)
    assert looked_after(froot, watch, 0), "the restarted watcher never looked"
    assert snapshot(froot) == protected
    journal = (froot / "var/lib/vpnguard/journal.json").read_text()
    code, err = stop(watch)
    assert code == 0 and "0 change(s)" in err, err
    assert (froot / "var/lib/vpnguard/journal.json").read_text() == journal
    wglab.link("down")  # while no watch runs
    watch = start_watch(wglab, froot, "--vpn", wg)
    assert wait_for(lambda: snapshot(froot) == before, 10), "restart did not undo"
    stop(watch)
    assert snapshot(froot) == before  # and nothing more once the watcher has stopped


# A program attaching to an existing tun device, as OpenVPN does: it gives the link a carrier.
ATTACH_TUN = """
import fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", sys.argv[1].encode(), 0x0001 | 0x1000))
print("attached", flush=True)
sys.stdin.read()
"""


def watch_saw(root: Path) -> list[str] | None:
    try:
        return json.loads((root / "var/lib/vpnguard/watch.json").read_text())["active_vpns"]
    except (OSError, ValueError, KeyError):
        return None


def test_several_vpns_protect_while_any_is_up(wglab: Lab, froot: Path) -> None:
    """Protection stays while any VPN is up; a named but idle tun (IFF_UP, no program
    attached, so no carrier) is not a VPN that is up, as ``status`` says too."""
    before = snapshot(froot)
    wg = wglab.client_tunnel()
    tun = f"vgh{wglab.tag}t"
    subprocess.run(
        ["ip", "netns", "exec", wglab.client, "ip", "tuntap", "add", "dev", tun, "mode", "tun"],
        check=True,
        timeout=10,
    )
    wglab.link("up", tun)  # IFF_UP, but idle: NO-CARRIER
    watch = start_watch(wglab, froot, "--vpn", wg, "--vpn", f"vgh{wglab.tag}[t]")
    wglab.link("up")
    assert wait_for(lambda: len(policy_files(froot)) == 2, 10)
    assert wait_for(lambda: watch_saw(froot) == [wg], 10), watch_saw(froot)
    wglab.link("down")  # the idle tun holds nothing: undone
    assert wait_for(lambda: snapshot(froot) == before, 10), "the idle tun kept protection"

    holder = subprocess.Popen(
        ["ip", "netns", "exec", wglab.client, PYTHON, "-c", ATTACH_TUN, tun],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    wglab.procs.append(holder)  # type: ignore[arg-type]  # killed by PID at teardown
    assert holder.stdout is not None and holder.stdout.readline().strip() == "attached"
    assert wait_for(lambda: len(policy_files(froot)) == 2, 10), "a tun in use is a VPN up"
    wglab.link("up")
    assert wait_for(lambda: watch_saw(froot) == sorted([wg, tun]), 10), watch_saw(froot)
    wglab.link("down")
    assert wait_for(lambda: watch_saw(froot) == [tun], 10), watch_saw(froot)
    assert len(policy_files(froot)) == 2, "unprotected although the tun is still up"
    kill_pid(holder)  # the program goes away: the carrier with it
    assert wait_for(lambda: snapshot(froot) == before, 10)
    stop(watch)


def test_second_watch_refuses_naming_the_first(wglab: Lab, froot: Path) -> None:
    wglab.client_tunnel()
    first = start_watch(wglab, froot)
    second = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            wglab.client,
            PYTHON,
            "-m",
            "vpnguard",
            "watch",
            "--json",
            "--root",
            str(froot),
        ],
        env=env_with_pythonpath(),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert second.returncode == 4, second.stderr
    err = json.loads(second.stdout)["error"]
    assert str(first.pid) in err["message"] and err["kind"] == "refused"
    status = subprocess.run(
        [PYTHON, "-m", "vpnguard", "watch", "--status", "--json", "--root", str(froot)],
        env=env_with_pythonpath(),
        capture_output=True,
        text=True,
        timeout=20,
    )
    state = json.loads(status.stdout)
    assert state["running"] is True and state["pid"] == first.pid
    code, _ = stop(first)
    assert code == 0
    assert (froot / "var/lib/vpnguard/watch.pid").read_text() == ""
