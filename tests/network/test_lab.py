"""Detection against the real kernel, inside network namespaces this test creates.

Topology (names carry a random suffix; other engineers build labs at the
same time, and wireguard-go's socket directory is shared by all namespaces):

    client ns  vgn-XXXXXX                     inet ns  vgi-XXXXXX
      lan0  192.168.77.2/24  <-- veth -->  gw0 192.168.77.1/24
      wgcXXXXXX 10.66.0.2/24  ~~ WireGuard over the LAN ~~  wgsXXXXXX 10.66.0.1/24
      tun0  10.8.0.2/24 (held open by a helper process when needed)

Detection runs *inside* the client namespace in a fresh interpreter, exactly
as ``vpnguard status`` would, and prints ``NetworkState.to_json()``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
WG_SOCK_DIR = Path("/var/run/wireguard")

HOLD_TUN = r"""
import fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", sys.argv[1].encode(), 0x0001 | 0x1000))
print("ready", flush=True)
sys.stdin.read()  # hold the device until the test closes our stdin or kills us
"""

DETECT = r"""
import json, sys
import vpnguard
from vpnguard.core.network import detect_network
assert vpnguard.__file__.startswith(sys.argv[2]), vpnguard.__file__
print(json.dumps(detect_network(use_ip_command=sys.argv[1] == "ip").to_json()))
"""


# The venv may hold another checkout of vpnguard: make sure children import this one.
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(args), capture_output=True, text=True, timeout=20, check=False, cwd=REPO, env=ENV
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass
class Lab:
    suffix: str
    tmp: Path
    procs: list[subprocess.Popen[Any]] = field(default_factory=list)

    @property
    def client(self) -> str:
        return f"vgn-{self.suffix}"

    @property
    def inet(self) -> str:
        return f"vgi-{self.suffix}"

    @property
    def wgc(self) -> str:
        return f"wgc{self.suffix}"

    @property
    def wgs(self) -> str:
        return f"wgs{self.suffix}"

    def c(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.client, *args, check=check)

    def i(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.inet, *args)

    def detect(self, via: str = "netlink") -> dict[str, Any]:
        out = self.c(PY, "-c", DETECT, via, str(REPO))
        state: dict[str, Any] = json.loads(out.stdout)
        return state

    def wireguard_go(self, ns: str, name: str) -> None:
        """Start wireguard-go in the foreground so that we own its PID."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "wireguard-go", "-f", name],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        sock = WG_SOCK_DIR / f"{name}.sock"
        deadline = time.monotonic() + 10
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"wireguard-go {name} did not start")
            time.sleep(0.05)

    def hold_tun(self, name: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.client, PY, "-c", HOLD_TUN, name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()  # bounded: the helper either prints or dies
        assert line.strip() == "ready", f"tun holder failed ({proc.poll()})"
        return proc

    def teardown(self) -> None:
        for proc in reversed(self.procs):
            if proc.stdin is not None:
                proc.stdin.close()
            _stop(proc)
        for ns in (self.client, self.inet):
            run("ip", "netns", "del", ns, check=False)
        for name in (self.wgc, self.wgs):
            (WG_SOCK_DIR / f"{name}.sock").unlink(missing_ok=True)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    for tool in ("ip", "wg", "wireguard-go"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    lab = Lab(suffix=secrets.token_hex(3), tmp=tmp_path)
    try:
        run("ip", "netns", "add", lab.client)
        run("ip", "netns", "add", lab.inet)
        for ns in (lab.client, lab.inet):
            run("ip", "-n", ns, "link", "set", "lo", "up")
        # The LAN is created inside the client namespace: no name ever exists on the host.
        run(
            "ip",
            "-n",
            lab.client,
            "link",
            "add",
            "lan0",
            "type",
            "veth",
            "peer",
            "name",
            "gw0",
            "netns",
            lab.inet,
        )
        run("ip", "-n", lab.client, "addr", "add", "192.168.77.2/24", "dev", "lan0")
        run("ip", "-n", lab.inet, "addr", "add", "192.168.77.1/24", "dev", "gw0")
        run("ip", "-n", lab.client, "link", "set", "lan0", "up")
        run("ip", "-n", lab.inet, "link", "set", "gw0", "up")
        run("ip", "-n", lab.client, "route", "add", "default", "via", "192.168.77.1")

        # A real WireGuard tunnel, client <-> inet, over the LAN.
        keys = {}
        old = os.umask(0o077)
        try:
            for who in ("c", "s"):
                priv = run("wg", "genkey").stdout
                (tmp_path / f"{who}.key").write_text(priv)
                keys[who] = subprocess.run(
                    ["wg", "pubkey"],
                    input=priv,
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=True,
                ).stdout.strip()
        finally:
            os.umask(old)
        lab.wireguard_go(lab.inet, lab.wgs)
        lab.wireguard_go(lab.client, lab.wgc)
        lab.i(
            "wg",
            "set",
            lab.wgs,
            "listen-port",
            "51820",
            "private-key",
            str(tmp_path / "s.key"),
            "peer",
            keys["c"],
            "allowed-ips",
            "10.66.0.2/32",
        )
        lab.i("ip", "addr", "add", "10.66.0.1/24", "dev", lab.wgs)
        lab.i("ip", "link", "set", lab.wgs, "up")
        lab.c(
            "wg",
            "set",
            lab.wgc,
            "private-key",
            str(tmp_path / "c.key"),
            "peer",
            keys["s"],
            "allowed-ips",
            "0.0.0.0/0",
            "endpoint",
            "192.168.77.1:51820",
        )
        lab.c("ip", "addr", "add", "10.66.0.2/24", "dev", lab.wgc)
        # A persistent tun, as `openvpn --mktun` leaves it: no process behind it yet.
        lab.c("ip", "tuntap", "add", "dev", "tun0", "mode", "tun")
        lab.c("ip", "addr", "add", "10.8.0.2/24", "dev", "tun0")
        lab.c("ip", "link", "set", "tun0", "up")
        yield lab
    finally:
        lab.teardown()


def by_name(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in state["interfaces"]}


def test_lab_scenarios(lab: Lab) -> None:
    # 1. No VPN: wg is down, tun0 has nobody behind it.
    s = lab.detect()
    ifs = by_name(s)
    assert s["tunnel"] == "none" and s["vpn_active"] is False, s["detail"]
    assert s["public_route"]["interface"] == "lan0"
    assert s["public_route"]["gateway"] == "192.168.77.1"
    assert s["public_route"]["source"] == "192.168.77.2"
    assert s["public_route6"] is None  # no IPv6 route in the namespace
    # The LAN is a veth: never a VPN; it carries the public route, so it is the uplink.
    assert ifs["lan0"]["kind"] == "physical" and "veth" in ifs["lan0"]["reason"]
    # A tun with no process: a VPN device, but not up, so no VPN is active.
    assert ifs["tun0"]["kind"] == "vpn" and ifs["tun0"]["is_up"] is False
    assert ifs[lab.wgc]["kind"] == "vpn" and ifs[lab.wgc]["is_up"] is False
    assert "exists but is down" in s["detail"]

    # 2. Split tunnel: wg up, default route still via the LAN.
    lab.c("ip", "link", "set", lab.wgc, "up")
    s = lab.detect()
    ifs = by_name(s)
    assert ifs[lab.wgc]["is_up"] is True
    assert ifs[lab.wgc]["vpn_type"] == "wireguard"
    assert f"/var/run/wireguard/{lab.wgc}.sock" in ifs[lab.wgc]["reason"]
    assert s["tunnel"] == "split" and s["vpn_interfaces"] == [lab.wgc]
    assert s["public_route"]["interface"] == "lan0" and not s["public_route"]["via_vpn"]
    assert "bypasses it (split tunnel)" in s["detail"]

    # The tunnel is real: UDP into it completes a WireGuard handshake.
    lab.c(PY, "-c", "import socket; s=socket.socket(2,2); s.sendto(b'x', ('10.66.0.1', 9))")
    # WireGuard resends a lost handshake initiation after 5 s (REKEY_TIMEOUT): the bound
    # leaves room for one resend; a working tunnel shakes hands within milliseconds.
    deadline = time.monotonic() + 12
    while True:
        hs = lab.c("wg", "show", lab.wgc, "latest-handshakes").stdout.split()
        if len(hs) == 2 and hs[1] != "0":
            break
        assert time.monotonic() < deadline, "no WireGuard handshake within 12 s"
        time.sleep(0.1)

    # 3. Full tunnel: a plain default route into wg.
    lab.c("ip", "route", "replace", "default", "dev", lab.wgc)
    for via in ("netlink", "ip"):
        s = lab.detect(via)
        assert s["tunnel"] == "full", (via, s["detail"])
        assert s["public_route"] == {
            "destination": "1.1.1.1",
            "interface": lab.wgc,
            "source": "10.66.0.2",
            "gateway": None,
            "via_vpn": True,
        }
        assert s["detail"] == f"WireGuard {lab.wgc} is up and carries your internet traffic."
        assert by_name(s)["lan0"]["kind"] == "virtual"  # no longer the uplink

    # 4. wg-quick style: the main table still says LAN; policy routing says wg.
    lab.c("ip", "route", "replace", "default", "via", "192.168.77.1")
    lab.c("ip", "route", "add", "default", "dev", lab.wgc, "table", "51820")
    lab.c("ip", "rule", "add", "not", "fwmark", "51820", "table", "51820")
    lab.c("ip", "rule", "add", "table", "main", "suppress_prefixlength", "0")
    main_default = lab.c("ip", "route", "show", "default").stdout
    assert "lan0" in main_default  # what netifaces.gateways() would believe
    for via in ("netlink", "ip"):
        s = lab.detect(via)
        assert s["tunnel"] == "full", (via, s["detail"])
        assert s["public_route"]["interface"] == lab.wgc and s["public_route"]["via_vpn"]
    # The LAN itself stays reachable outside the tunnel (suppress_prefixlength 0).
    out = lab.c(
        PY,
        "-c",
        "from vpnguard.core.network import route_to;"
        "r=route_to('192.168.77.1'); print(r.interface, r.via_vpn)",
    ).stdout
    assert out.split() == ["lan0", "False"]
    lab.c("ip", "rule", "del", "not", "fwmark", "51820", "table", "51820")
    lab.c("ip", "rule", "del", "table", "main", "suppress_prefixlength", "0")
    lab.c("ip", "route", "flush", "table", "51820")
    lab.c("ip", "link", "set", lab.wgc, "down")

    # 5. OpenVPN style: 0.0.0.0/1 + 128.0.0.0/1 via tun0, beside the LAN default.
    lab.c("ip", "route", "add", "0.0.0.0/1", "dev", "tun0")
    lab.c("ip", "route", "add", "128.0.0.0/1", "dev", "tun0")
    # Without a process behind tun0 the routes lead into a dead device: nothing is up.
    s = lab.detect()
    assert s["tunnel"] == "none" and "goes nowhere" in s["detail"], s["detail"]
    assert s["public_route"]["interface"] == "tun0"
    holder = lab.hold_tun("tun0")
    s = lab.detect()
    ifs = by_name(s)
    assert ifs["tun0"]["is_up"] is True and ifs["tun0"]["vpn_type"] == "openvpn"
    assert s["tunnel"] == "full" and s["vpn_interfaces"] == ["tun0"], s["detail"]
    assert s["public_route"]["interface"] == "tun0" and s["public_route"]["source"] == "10.8.0.2"
    assert s["detail"] == "OpenVPN tun0 is up and carries your internet traffic."
    # The process goes away (OpenVPN crashed): carrier drops, no VPN is active any more.
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait(timeout=5)
    # The kernel's linkwatch reports the lost carrier (IFF_RUNNING) up to ~1 s later.
    deadline = time.monotonic() + 3
    while (s := lab.detect())["tunnel"] != "none" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert s["tunnel"] == "none" and by_name(s)["tun0"]["is_up"] is False, s["detail"]


def test_lab_unreachable_is_none(lab: Lab) -> None:
    lab.c("ip", "route", "del", "default")
    s = lab.detect()
    assert s["public_route"] is None and s["tunnel"] == "none"
    out = lab.c(PY, "-c", "from vpnguard.core.network import route_to; print(route_to('1.1.1.1'))")
    assert out.stdout.strip() == "None"
