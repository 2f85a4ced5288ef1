"""A small WireGuard lab for hook/watch tests: namespaces, a real wireguard-go tunnel.

Names are unique per test (``vgh<rand>``), since other engineers run labs at
the same time and wireguard-go's control sockets in /var/run/wireguard are
shared by all namespaces. Every process is started here, tracked by PID and
killed by PID; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

WORKTREE = Path(__file__).resolve().parents[2]
PYTHON = os.path.abspath(os.sys.executable)


def sh(
    *argv: str, ns: str | None = None, check: bool = True, **kw: object
) -> subprocess.CompletedProcess[str]:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=30, **kw)  # type: ignore[call-overload]


def wait_for(pred: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def env_with_pythonpath(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(WORKTREE)
    env.update(extra or {})
    return env


def kill_pid(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str] | int, sig: int = signal.SIGTERM
) -> None:
    pid = proc if isinstance(proc, int) else proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    if not isinstance(proc, int):
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            proc.wait(timeout=5)


class Lab:
    """Client and server namespaces joined by a veth; a wireguard-go tunnel between them."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.tag = tag
        self.client = f"vgh-{tag}c"
        self.server = f"vgh-{tag}s"
        self.wg = f"vgh{tag}w"  # <= 15 chars, unique socket name
        self.wgs = f"vgh{tag}v"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.extra_pids: list[int] = []
        self.tmp = Path(f"/tmp/vgh-lab-{tag}")

    def start(self) -> Lab:
        self.tmp.mkdir(mode=0o700)
        for ns in (self.client, self.server):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        va, vb = f"vgh{self.tag}a", f"vgh{self.tag}b"
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", va, "netns", self.client)
        sh("ip", "link", "set", vb, "netns", self.server)
        sh("ip", "addr", "add", "172.31.9.2/24", "dev", va, ns=self.client)
        sh("ip", "addr", "add", "172.31.9.1/24", "dev", vb, ns=self.server)
        sh("ip", "link", "set", va, "up", ns=self.client)
        sh("ip", "link", "set", vb, "up", ns=self.server)
        self.keys = {}
        for side in ("c", "s"):
            key = subprocess.run(
                ["wg", "genkey"], capture_output=True, text=True, check=True
            ).stdout
            pub = subprocess.run(
                ["wg", "pubkey"], input=key, capture_output=True, text=True, check=True
            ).stdout
            (self.tmp / f"{side}.key").write_text(key)
            self.keys[side] = (key.strip(), pub.strip())
        self._wireguard_go(self.server, self.wgs)
        sh(
            "wg",
            "set",
            self.wgs,
            "listen-port",
            "51820",
            "private-key",
            str(self.tmp / "s.key"),
            "peer",
            self.keys["c"][1],
            "allowed-ips",
            "10.66.0.2/32",
            ns=self.server,
        )
        sh("ip", "addr", "add", "10.66.0.1/24", "dev", self.wgs, ns=self.server)
        sh("ip", "link", "set", self.wgs, "up", ns=self.server)
        return self

    def _wireguard_go(self, ns: str, name: str) -> None:
        env = dict(os.environ, WG_PROCESS_FOREGROUND="1")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "wireguard-go", name],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        sock = Path(f"/var/run/wireguard/{name}.sock")
        assert wait_for(sock.exists, 10), f"wireguard-go {name} did not start"

    def client_tunnel(self) -> str:
        """Create the client's wireguard-go interface (down); return its name."""
        self._wireguard_go(self.client, self.wg)
        sh(
            "wg",
            "set",
            self.wg,
            "private-key",
            str(self.tmp / "c.key"),
            "peer",
            self.keys["s"][1],
            "allowed-ips",
            "10.66.0.0/24",
            "endpoint",
            "172.31.9.1:51820",
            ns=self.client,
        )
        sh("ip", "addr", "add", "10.66.0.2/24", "dev", self.wg, ns=self.client)
        return self.wg

    def link(self, state: str, name: str | None = None) -> None:
        sh("ip", "link", "set", name or self.wg, state, ns=self.client)

    def wg_quick_userspace(self) -> Path:
        """A WG_QUICK_USERSPACE_IMPLEMENTATION that runs wireguard-go with a known PID."""
        script = self.tmp / "wg-userspace"
        script.write_text(
            "#!/bin/sh\n"
            f'WG_PROCESS_FOREGROUND=1 wireguard-go "$1" >/dev/null 2>&1 &\n'
            f"echo $! >> {self.tmp}/wg-quick.pids\n"
            'i=0; while [ ! -S "/var/run/wireguard/$1.sock" ] && [ $i -lt 100 ]; do '
            "sleep 0.05; i=$((i+1)); done\n"
        )
        script.chmod(0o755)
        return script

    def close(self) -> None:
        pidfile = self.tmp / "wg-quick.pids"
        if pidfile.exists():
            for line in pidfile.read_text().split():
                kill_pid(int(line))
        for proc in reversed(self.procs):
            kill_pid(proc)
        for ns in (self.client, self.server):
            sh("ip", "netns", "del", ns, check=False)
        for name in (self.wg, self.wgs):
            with contextlib.suppress(FileNotFoundError):
                Path(f"/var/run/wireguard/{name}.sock").unlink()
        subprocess.run(["rm", "-rf", str(self.tmp)], check=False, timeout=30)


@contextlib.contextmanager
def lab() -> Iterator[Lab]:
    the_lab = Lab()
    try:
        yield the_lab.start()
    finally:
        the_lab.close()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file and link under a fake root except vpnguard's own state and logs.

    Safe to take while a watcher writes: a file removed mid-walk is left out,
    so callers polling for a final state compare again once the writer stopped.
    """
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel.startswith(("var/lib/vpnguard", "var/log/vpnguard")):
            dirnames[:] = []
            continue
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = os.path.join(dirpath, name)
            key = os.path.relpath(p, root)
            try:
                out[key] = (
                    b"->" + os.readlink(p).encode() if os.path.islink(p) else Path(p).read_bytes()
                )
            except FileNotFoundError:
                continue  # removed while we walked (a watcher undoing now): not there
    return out


def policy_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in [
            root / "etc/chromium/policies/managed/vpnguard.json",
            root / "etc/firefox/policies/policies.json",
        ]
        if p.exists()
    )
