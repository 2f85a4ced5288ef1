"""Follow outside changes: policy files (CLI, hooks, another admin) and the network.

No polling: a :class:`QFileSystemWatcher` on the paths the core names
(``service.watch_paths``) and, on Linux, a netlink socket subscribed to link,
address and route changes, read through a :class:`QSocketNotifier`. Bursts
(a VPN coming up changes links, addresses and routes at once; an editor
writes a file in several steps) are folded into one ``changed`` signal after
:data:`DEBOUNCE_MS` of quiet.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable, Sequence

from PySide6.QtCore import QFileSystemWatcher, QObject, QSocketNotifier, QTimer, Signal

log = logging.getLogger(__name__)

DEBOUNCE_MS = 300

# <linux/rtnetlink.h> multicast groups (bit masks for nl_groups).
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV4_ROUTE = 0x40
RTMGRP_IPV6_IFADDR = 0x100
RTMGRP_IPV6_ROUTE = 0x400
NETLINK_GROUPS = (
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE
)


def open_netlink() -> socket.socket | None:
    """A non-blocking rtnetlink socket for link/address/route events, or None off Linux."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "AF_NETLINK"):
        return None
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        sock.bind((0, NETLINK_GROUPS))
        sock.setblocking(False)
        return sock
    except OSError:
        log.debug("no netlink socket: network changes are seen on refresh only", exc_info=True)
        return None


class LiveWatcher(QObject):
    """Emits ``changed`` once after a burst of file or network events."""

    changed = Signal()

    def __init__(
        self,
        paths: Callable[[], Sequence[str]],
        *,
        network: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._paths = paths
        self.files = QFileSystemWatcher(self)
        self.files.fileChanged.connect(self._poke)
        self.files.directoryChanged.connect(self._poke)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self._fire)
        self.sock = open_netlink() if network else None
        self.notifier: QSocketNotifier | None = None
        if self.sock is not None:
            self.notifier = QSocketNotifier(self.sock.fileno(), QSocketNotifier.Type.Read, self)
            self.notifier.activated.connect(self._netlink)
        self.rewatch()

    def rewatch(self) -> None:
        """Watch what exists now (a created folder replaces its parent in the list)."""
        try:
            wanted = set(self._paths())
        except Exception:  # a watch list is a convenience: never break the window over it
            log.debug("could not list paths to watch", exc_info=True)
            return
        have = set(self.files.files()) | set(self.files.directories())
        if have - wanted:
            self.files.removePaths(sorted(have - wanted))
        if wanted - have:
            self.files.addPaths(sorted(wanted - have))

    def watched(self) -> list[str]:
        return sorted(self.files.files() + self.files.directories())

    def _poke(self, *_args: object) -> None:
        self.timer.start()

    def _netlink(self, *_args: object) -> None:
        assert self.sock is not None
        try:
            while self.sock.recv(65536):
                pass
        except BlockingIOError:
            pass
        except OSError:
            log.debug("netlink read failed", exc_info=True)
        self._poke()

    def _fire(self) -> None:
        self.rewatch()
        self.changed.emit()

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.setEnabled(False)
        if self.sock is not None:
            self.sock.close()
            self.sock = None
