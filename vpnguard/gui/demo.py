"""Fixed networks and a simulated leak check, for screenshots, the benchmark and tests.

A fake ``--root`` tree has no network and no browsers that can run, so the
screenshot script and the tests pair the real core (detection, writing, undo
on the tree) with these stand-ins for the two things a tree cannot have.
Qt-free.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence

from vpnguard.core.model import (
    Browser,
    CheckPhase,
    InterfaceKind,
    NetInterface,
    NetworkState,
    Route,
    Verdict,
)
from vpnguard.core.service import network_state as decide
from vpnguard.gui.backend import CheckOutcome, CheckProgress, CheckResult, Turn

ETH = NetInterface(
    "eth0",
    InterfaceKind.PHYSICAL,
    "has a default route and a hardware driver",
    ("192.168.77.2",),
    True,
)
WG = NetInterface(
    "wg0",
    InterfaceKind.VPN,
    "WireGuard interface (kernel type wireguard)",
    ("10.66.0.2",),
    True,
    vpn_type="wireguard",
)


def network(mode: str) -> NetworkState:
    """ "full", "split" or "none": the state the core decides for such a machine."""
    if mode == "full":
        route = Route("1.1.1.1", "wg0", "10.66.0.2", None, via_vpn=True)
        return decide((ETH, WG), route, None)
    if mode == "split":
        route = Route("1.1.1.1", "eth0", "192.168.77.2", "192.168.77.1", via_vpn=False)
        return decide((ETH, WG), route, None)
    route = Route("1.1.1.1", "eth0", "192.168.77.2", "192.168.77.1", via_vpn=False)
    return decide((ETH,), route, None)


class SimulatedChecker:
    """Runs each browser on its own thread (like the real check) and reports phases.

    ``verdicts`` maps browser id -> verdict (default "pass"); ``seconds`` is
    how long each browser takes.
    """

    def __init__(self, verdicts: Mapping[str, str] | None = None, seconds: float = 0.3) -> None:
        self.verdicts = dict(verdicts or {})
        self.seconds = seconds

    def available(self) -> str | None:
        return None

    def check(
        self,
        browsers: Sequence[Browser],
        network: NetworkState | None,
        progress: CheckProgress,
        *,
        interactive: bool = False,
        stun: Sequence[str] = (),
        turn: Sequence[Turn] = (),
    ) -> CheckOutcome:
        results: dict[str, CheckResult] = {}

        def one(b: Browser) -> None:
            progress(b.id, CheckPhase.LAUNCHING)
            time.sleep(self.seconds / 3)
            progress(b.id, CheckPhase.WAITING)
            time.sleep(self.seconds / 3)
            progress(b.id, CheckPhase.REPORTED)
            time.sleep(self.seconds / 3)
            verdict = Verdict(self.verdicts.get(b.id, "pass"))
            cands: tuple[str, ...] = ()
            if verdict is Verdict.LEAK:
                cands = (
                    "candidate:1 1 udp 2122260223 1f3a….local 54321 typ host",
                    "candidate:2 1 udp 1686052607 192.168.77.2 54321 typ srflx raddr 0.0.0.0",
                )
                reason = (
                    "srflx 192.168.77.2 is eth0's address: the STUN request left outside the VPN"
                )
            else:
                reason = "no candidate revealed an address (UDP outside a proxy is off)"
            results[b.id] = CheckResult(b.id, b.name, verdict, reason, cands, {"id": b.id})
            progress(b.id, CheckPhase.JUDGED)

        threads = [threading.Thread(target=one, args=(b,)) for b in browsers]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ordered = tuple(results[b.id] for b in browsers if b.id in results)
        detail = network.detail if network else ""
        return CheckOutcome(ordered, detail, (time.perf_counter() - t0) * 1000)
