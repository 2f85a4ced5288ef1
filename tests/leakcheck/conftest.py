"""Fixtures for the leak check: a real coturn STUN server on loopback, fake browser scripts."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vpnguard.core.model import (
    Browser,
    Family,
    Install,
    InterfaceKind,
    NetInterface,
    NetworkState,
    TunnelMode,
)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_tcp_port() -> int:
    """A loopback port free for both UDP and TCP right now (coturn listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = int(u.getsockname()[1])
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue  # the TCP twin is taken: coturn would retry its bind forever
                return port


@contextlib.contextmanager
def running_coturn(
    tmp: Path, args: list[str], ready: Callable[[int], bool], attempts: int = 3
) -> Iterator[int]:
    """Start a real coturn on a fresh loopback port; yield the port once `ready(port)`.

    coturn never exits when its port is taken between our check and its bind: it
    logs "Trying to bind ... again" forever. So each attempt is bounded, and a
    port that does not come up is given up for a new one. Only the process
    group started here is killed.
    """
    if shutil.which("turnserver") is None:
        pytest.skip("coturn (turnserver) not installed")
    log = tmp / "turnserver.log"
    for attempt in range(attempts):
        port = free_udp_tcp_port()
        with log.open("ab") as out:
            out.write(f"--- attempt {attempt + 1}, port {port}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                [
                    "turnserver",
                    "-n",
                    "--listening-ip=127.0.0.1",
                    f"--listening-port={port}",
                    *args,
                    "--log-file=stdout",
                    "--simple-log",
                    f"--pidfile={tmp / 'turn.pid'}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and proc.poll() is None:
                if ready(port):
                    yield port
                    return
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    tail = log.read_text(errors="replace")[-2000:]
    pytest.fail(f"coturn did not start in {attempts} attempts; its log ends:\n{tail}")


@pytest.fixture(scope="session")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real STUN server (coturn) on 127.0.0.1; yields its stun: URL."""
    from vpnguard.core.leakcheck.stun import stun_probe

    with running_coturn(
        tmp_path_factory.mktemp("coturn"),
        ["--stun-only", "--no-cli", "--no-tls", "--no-dtls", "--no-rfc5780"],
        lambda port: stun_probe("127.0.0.1", port, timeout=0.3).mapped is not None,
    ) as port:
        yield f"stun:127.0.0.1:{port}"


@pytest.fixture
def dead_stun() -> str:
    """A loopback UDP port nobody answers on."""
    return f"stun:127.0.0.1:{free_udp_port()}"


def fake_browser(tmp: Path, name: str, body: str) -> Browser:
    """A real executable that behaves like a (broken) browser: argv ends with the URL."""
    path = tmp / name
    path.write_text(f"#!{sys.executable}\nimport os, sys, time, subprocess\n{body}\n")
    path.chmod(0o755)
    return Browser(
        id=name,
        name=f"Fake {name}",
        family=Family.CHROMIUM,
        version="0",
        path=str(path),
        installs=(Install.USER,),
        running=False,
        targets=(),
    )


def loopback_network() -> NetworkState:
    lo = NetInterface("lo", InterfaceKind.LOOPBACK, "test", ("127.0.0.1",), True)
    return NetworkState((lo,), None, None, False, (), TunnelMode.NONE)
