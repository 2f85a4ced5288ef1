"""Wake-ups when links, addresses or routes change: rtnetlink on Linux, a timer elsewhere.

The messages are not parsed: any change means "look again", and the look
(``vpnguard.core.service.active_vpns``) reads the current state, so a lost or
merged message costs nothing but a moment. One source for every front end
(``service.network_events``): ``watch`` blocks in :meth:`EventSource.wait`; the
app hands :meth:`EventSource.fileno` to its event loop and calls
:meth:`EventSource.drain` when it is readable.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import sys

RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
GROUPS = (
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE
)


class EventSource:
    """Polling fallback: every wait simply times out (the caller re-checks on its period)."""

    name = "polling"

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` s; True when something changed."""
        import time

        time.sleep(max(0.0, timeout))
        return False

    def fileno(self) -> int | None:
        """A descriptor that becomes readable on a change, for an event loop; None: poll."""
        return None

    def drain(self) -> None:
        """Consume what is pending (after the descriptor became readable)."""

    def close(self) -> None:
        pass


class NetlinkEvents(EventSource):
    name = "netlink"

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, GROUPS))
        self.sock.setblocking(False)

    def wait(self, timeout: float) -> bool:
        try:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        except InterruptedError:
            return False
        if not ready:
            return False
        self.drain()
        return True

    def fileno(self) -> int | None:
        return self.sock.fileno()

    def drain(self) -> None:
        while True:
            try:
                self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:  # overflow: we missed some; re-reading covers it
                    continue
                raise

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def open_events() -> EventSource:
    if sys.platform.startswith("linux"):
        try:
            return NetlinkEvents()
        except OSError:
            pass
    return EventSource()
