"""The leak lab: network namespaces, a real WireGuard tunnel and a real STUN server.

Topology (every name carries a random suffix: other engineers build labs at
the same time, and wireguard-go's socket directory is shared by all
namespaces)::

    client ns vgl-c-SFX                  vpnsrv ns vgl-v-SFX            inet ns vgl-i-SFX
      lcSFX 192.168.77.2/24 <------------------- LAN ---------------------> liSFX 192.168.77.1/24
      vcSFX 172.31.9.2/24 <---> vsSFX 172.31.9.1/24                  lo 198.51.100.1 (coturn)
      wgcSFX 10.66.0.2 ~~~ WireGuard ~~~ wgsSFX 10.66.0.1
                                         xvSFX 203.0.113.10 (masquerade) <-> xiSFX 203.0.113.1

Scenarios only change routes in the client namespace, so the namespaces,
tunnel and STUN server are built once per test module:

* ``full``:  default route through the tunnel; STUN sees the exit 203.0.113.10
* ``split``: like full, plus 198.51.100.1/32 via the LAN; STUN sees 192.168.77.2
* ``novpn``: tunnel link down, default route via the LAN
* ``ipv6``: full tunnel for IPv4 only, while the LAN has a global-looking IPv6
  address (2001:db8:5:1::14, nodad) and the IPv6 default route goes by the
  LAN; STUN/TURN also answer on 2001:db8:53::1 in ``inet``. A STUN request
  over IPv6 leaves outside the tunnel: the classic IPv6 leak.

coturn: STUN on 3478 (UDP), TURN with long-term credentials on 3479 over UDP
and TCP, both on 198.51.100.1 and 2001:db8:53::1. Every coturn runs with
``--no-rfc5780``: seen, with two listening addresses the STUN-only server also
bound its RFC 5780 alternate port, listening port + 1 = 3479, and took part of
the TURN traffic (allocations failed now and then, or every time).

Everything is torn down on exit, even after a failure: processes by their own
PID/process group, namespaces by name, temp files by path.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STUN_IP = "198.51.100.1"
STUN_URL = f"stun:{STUN_IP}:3478"
TURN_URL = f"turn:{STUN_IP}:3479?transport=tcp"  # long-term credentials alice/secret
TURN_UDP_URL = f"turn:{STUN_IP}:3479?transport=udp"
TURN_TCP_URL = TURN_URL
STUN6_IP = "2001:db8:53::1"
STUN6_URL = f"stun:[{STUN6_IP}]:3478"
LAN6_ADDR = "2001:db8:5:1::14"
LAN6_GW = "2001:db8:5:1::1"
TURN_USER, TURN_SECRET = "alice", "lab-secret"
TURNS_PORT = 5349  # TURN over TLS, self-signed certificate (the lab's own; see build())
TURNS_URL = f"turns:{STUN_IP}:{TURNS_PORT}?transport=tcp"
LAN_ADDR = "192.168.77.2"
LAN_GW = "192.168.77.1"
VPN_ADDR = "10.66.0.2"
EXIT_ADDR = "203.0.113.10"
WG_SOCK_DIR = Path("/var/run/wireguard")
SCENARIOS = ("full", "split", "novpn")
# Every scenario the matrix measures (SCENARIOS stays the leak lab's original three).
ALL_SCENARIOS = ("full", "split", "ipv6", "novpn")
REQUIRED = ("ip", "wg", "wireguard-go", "turnserver", "nft")


def missing_tools() -> list[str]:
    return [t for t in REQUIRED if shutil.which(t) is None]


def sh(
    *args: str, check: bool = True, timeout: float = 20, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


class Lab:
    def __init__(self) -> None:
        self.sfx = secrets.token_hex(3)
        s = self.sfx
        self.client, self.inet, self.vpnsrv = f"vgl-c-{s}", f"vgl-i-{s}", f"vgl-v-{s}"
        self.lan_c, self.lan_i = f"lc{s}", f"li{s}"
        self.vl_c, self.vl_s = f"vc{s}", f"vs{s}"
        self.x_v, self.x_i = f"xv{s}", f"xi{s}"
        self.wg_c, self.wg_s = f"wgc{s}", f"wgs{s}"
        self.tmp = Path(tempfile.mkdtemp(prefix=f"vgl-{s}-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.scenario: str | None = None

    # -- helpers -----------------------------------------------------------------------
    def ns(self, ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", ns, *args, check=check)

    def _spawn(self, ns: str, *args: str, env: dict[str, str] | None = None) -> None:
        with open(self.tmp / f"{Path(args[0]).name}-{len(self.procs)}.log", "wb") as log:
            self.procs.append(
                subprocess.Popen(
                    ["ip", "netns", "exec", ns, *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    env=env,
                )
            )

    def _wait(self, what: str, cond: object, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if callable(cond) and cond():
                return
            time.sleep(0.05)
        raise RuntimeError(f"lab: timed out waiting for {what}")

    # -- build -------------------------------------------------------------------------
    def build(self) -> Lab:
        for n in (self.client, self.inet, self.vpnsrv):
            sh("ip", "netns", "add", n)
            self.ns(n, "ip", "link", "set", "lo", "up")
        c, i, v = self.client, self.inet, self.vpnsrv
        # client LAN <-> "internet"
        sh(
            "ip",
            "link",
            "add",
            self.lan_c,
            "netns",
            c,
            "type",
            "veth",
            "peer",
            self.lan_i,
            "netns",
            i,
        )
        self.ns(c, "ip", "addr", "add", f"{LAN_ADDR}/24", "dev", self.lan_c)
        self.ns(i, "ip", "addr", "add", f"{LAN_GW}/24", "dev", self.lan_i)
        self.ns(i, "ip", "addr", "add", f"{STUN_IP}/32", "dev", "lo")
        self.ns(i, "ip", "-6", "addr", "add", f"{STUN6_IP}/128", "dev", "lo", "nodad")
        self.ns(i, "ip", "-6", "addr", "add", f"{LAN6_GW}/64", "dev", self.lan_i, "nodad")
        self.ns(c, "ip", "link", "set", self.lan_c, "up")
        self.ns(i, "ip", "link", "set", self.lan_i, "up")
        # client <-> vpn server (carries the WireGuard UDP)
        sh(
            "ip",
            "link",
            "add",
            self.vl_c,
            "netns",
            c,
            "type",
            "veth",
            "peer",
            self.vl_s,
            "netns",
            v,
        )
        self.ns(c, "ip", "addr", "add", "172.31.9.2/24", "dev", self.vl_c)
        self.ns(v, "ip", "addr", "add", "172.31.9.1/24", "dev", self.vl_s)
        self.ns(c, "ip", "link", "set", self.vl_c, "up")
        self.ns(v, "ip", "link", "set", self.vl_s, "up")
        # vpn server <-> internet, masquerading to the exit address
        sh("ip", "link", "add", self.x_v, "netns", v, "type", "veth", "peer", self.x_i, "netns", i)
        self.ns(v, "ip", "addr", "add", f"{EXIT_ADDR}/24", "dev", self.x_v)
        self.ns(i, "ip", "addr", "add", "203.0.113.1/24", "dev", self.x_i)
        self.ns(v, "ip", "link", "set", self.x_v, "up")
        self.ns(i, "ip", "link", "set", self.x_i, "up")
        self.ns(v, "ip", "route", "add", "default", "via", "203.0.113.1")
        self.ns(v, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.ns(
            v,
            "nft",
            "add table ip nat; "
            "add chain ip nat post { type nat hook postrouting priority 100 ; }; "
            f"add rule ip nat post oifname {self.x_v} masquerade",
        )
        # STUN server
        self._spawn(
            i,
            "turnserver",
            "-n",
            f"--listening-ip={STUN_IP}",
            f"--listening-ip={STUN6_IP}",
            "--listening-port=3478",
            "--stun-only",
            "--no-cli",
            "--no-rfc5780",  # else a second listening address makes it bind port+1 too
            "--no-tls",
            "--no-dtls",
            "--log-file=stdout",
            "--simple-log",
            f"--pidfile={self.tmp / 'turn.pid'}",
        )
        # TURN (long-term credentials) beside it, for the relay scenarios
        self._spawn(
            i,
            "turnserver",
            "-n",
            f"--listening-ip={STUN_IP}",
            f"--listening-ip={STUN6_IP}",
            "--listening-port=3479",
            f"--relay-ip={STUN_IP}",
            f"--relay-ip={STUN6_IP}",
            "--lt-cred-mech",
            f"--user={TURN_USER}:{TURN_SECRET}",
            "--realm=lab",
            "--no-cli",
            "--no-rfc5780",  # else a second listening address makes it bind port+1 too
            "--no-tls",
            "--no-dtls",
            "--log-file=stdout",
            "--simple-log",
            f"--pidfile={self.tmp / 'turn2.pid'}",
        )
        # TURN over TLS (turns:) with a self-signed certificate made for this lab
        if shutil.which("openssl"):
            sh(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                f"/CN={STUN_IP}",
                "-addext",
                f"subjectAltName=IP:{STUN_IP}",
                "-keyout",
                str(self.tmp / "turns.key"),
                "-out",
                str(self.tmp / "turns.pem"),
            )
            self._spawn(
                i,
                "turnserver",
                "-n",
                f"--listening-ip={STUN_IP}",
                "--listening-port=3480",
                f"--tls-listening-port={TURNS_PORT}",
                f"--relay-ip={STUN_IP}",
                "--lt-cred-mech",
                f"--user={TURN_USER}:{TURN_SECRET}",
                "--realm=lab",
                "--no-cli",
                "--no-rfc5780",  # else a second listening address makes it bind port+1 too
                "--no-dtls",
                f"--cert={self.tmp / 'turns.pem'}",
                f"--pkey={self.tmp / 'turns.key'}",
                "--log-file=stdout",
                "--simple-log",
                f"--pidfile={self.tmp / 'turn3.pid'}",
            )
        # WireGuard, userspace, in the foreground so we own the PIDs
        keys = {}
        for name in ("c", "s"):
            key = sh("wg", "genkey").stdout.strip()
            pub = subprocess.run(
                ["wg", "pubkey"], input=key, capture_output=True, text=True, check=True
            ).stdout.strip()
            path = self.tmp / f"{name}.key"
            path.write_text(key)
            path.chmod(0o600)
            keys[name] = (path, pub)
        env = {**os.environ, "WG_PROCESS_FOREGROUND": "1"}
        self._spawn(v, "wireguard-go", "-f", self.wg_s, env=env)
        self._spawn(c, "wireguard-go", "-f", self.wg_c, env=env)
        for name in (self.wg_s, self.wg_c):
            sock = WG_SOCK_DIR / f"{name}.sock"
            self._wait(f"{sock}", sock.exists)
        self.ns(
            v,
            "wg",
            "set",
            self.wg_s,
            "listen-port",
            "51820",
            "private-key",
            str(keys["s"][0]),
            "peer",
            keys["c"][1],
            "allowed-ips",
            f"{VPN_ADDR}/32",
        )
        self.ns(v, "ip", "addr", "add", "10.66.0.1/24", "dev", self.wg_s)
        self.ns(v, "ip", "link", "set", self.wg_s, "up")
        self.ns(
            c,
            "wg",
            "set",
            self.wg_c,
            "private-key",
            str(keys["c"][0]),
            "peer",
            keys["s"][1],
            "allowed-ips",
            "0.0.0.0/0",
            "endpoint",
            "172.31.9.1:51820",
        )
        self.ns(c, "ip", "addr", "add", f"{VPN_ADDR}/24", "dev", self.wg_c)
        self.ns(c, "ip", "link", "set", self.wg_c, "up")
        self.set_scenario("full")
        self._wait("STUN through the tunnel", lambda: self.stun_mapped() == EXIT_ADDR, 15)
        return self

    def stun_mapped(self, server: str = STUN_IP) -> str | None:
        """What the STUN server sees from the client namespace (one quick probe)."""
        code = (
            "from vpnguard.core.leakcheck.stun import stun_probe;"
            f"print(stun_probe('{server}', 3478, timeout=0.6).mapped)"
        )
        out = sh(
            "ip",
            "netns",
            "exec",
            self.client,
            sys.executable,
            "-c",
            code,
            check=False,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        return out.stdout.strip() if out.returncode == 0 else None

    def set_scenario(self, name: str) -> None:
        c = self.client
        self.ns(c, "ip", "route", "del", f"{STUN_IP}/32", check=False)
        # IPv6 on the LAN only in the ipv6 scenario (flushing also drops its routes)
        self.ns(c, "ip", "-6", "addr", "flush", "dev", self.lan_c, "scope", "global")
        # the route outlives its address: left in place, IPv6 would leave from fe80::
        self.ns(c, "ip", "-6", "route", "del", "default", check=False)
        if name == "ipv6":
            self.ns(c, "ip", "-6", "addr", "add", f"{LAN6_ADDR}/64", "dev", self.lan_c, "nodad")
            self.ns(c, "ip", "-6", "route", "replace", "default", "via", LAN6_GW, "dev", self.lan_c)
        if name in ("full", "split", "ipv6"):
            self.ns(c, "ip", "link", "set", self.wg_c, "up")
            self.ns(c, "ip", "route", "replace", "default", "dev", self.wg_c)
            if name == "split":
                self.ns(c, "ip", "route", "add", f"{STUN_IP}/32", "via", LAN_GW, "dev", self.lan_c)
        elif name == "novpn":
            self.ns(c, "ip", "link", "set", self.wg_c, "down")
            self.ns(c, "ip", "route", "replace", "default", "via", LAN_GW, "dev", self.lan_c)
        else:
            raise ValueError(name)
        self.scenario = name

    # -- running vpnguard inside the client ----------------------------------------------
    def vpnguard(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        return subprocess.run(
            ["ip", "netns", "exec", self.client, sys.executable, "-m", "vpnguard", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=REPO,
        )

    def check_api(self, browsers: list[str], *, turn: bool = False) -> dict[str, object]:
        """run_check() inside the client, through the Python API.

        The CLI keeps TURN secrets only in an OS keyring, and a namespace has
        no D-Bus session: the API takes the credential directly.
        """
        code = (
            "import json, sys\n"
            "from vpnguard.core.host import Host\n"
            "from vpnguard.core.browsers.detect import detect_browsers\n"
            "from vpnguard.core.network import detect_network\n"
            "from vpnguard.core.leakcheck import run_check, TurnServer\n"
            "h = Host.current()\n"
            f"turn = [TurnServer({TURN_URL!r}, {TURN_USER!r}, {TURN_SECRET!r})] if {turn} else []\n"
            "r = run_check(h, detect_browsers(h, sys.argv[1:]), detect_network(h),\n"
            f"              stun=[{STUN_URL!r}], turn=turn, timeout=12)\n"
            "print(json.dumps(r.to_json()))\n"
        )
        proc = subprocess.run(
            ["ip", "netns", "exec", self.client, sys.executable, "-c", code, *browsers],
            capture_output=True,
            text=True,
            timeout=90,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        doc: dict[str, object] = json.loads(proc.stdout)
        return doc

    # -- teardown ----------------------------------------------------------------------
    def close(self) -> None:
        for p in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)
        for n in (self.client, self.inet, self.vpnsrv):
            sh("ip", "netns", "del", n, check=False)
        for name in (self.wg_c, self.wg_s):
            with contextlib.suppress(OSError):
                (WG_SOCK_DIR / f"{name}.sock").unlink()
        shutil.rmtree(self.tmp, ignore_errors=True)


@contextlib.contextmanager
def lab() -> Iterator[Lab]:
    the_lab = Lab()
    try:
        yield the_lab.build()
    finally:
        the_lab.close()
