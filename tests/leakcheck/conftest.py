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
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real STUN server (coturn) on 127.0.0.1; yields its stun: URL."""
    if shutil.which("turnserver") is None:
        pytest.skip("coturn (turnserver) not installed")
    from vpnguard.core.leakcheck.stun import stun_probe

    tmp = tmp_path_factory.mktemp("coturn")
    port = free_udp_port()
    proc = subprocess.Popen(
        [
            "turnserver",
            "-n",
            "--listening-ip=127.0.0.1",
            f"--listening-port={port}",
            "--stun-only",
            "--no-cli",
            "--no-tls",
            "--no-dtls",
            "--log-file=stdout",
            "--simple-log",
            f"--pidfile={tmp / 'turn.pid'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while stun_probe("127.0.0.1", port, timeout=0.3).mapped is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("coturn did not start")
        yield f"stun:127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


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
