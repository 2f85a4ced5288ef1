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
from collections.abc import Callable, Sequence

from PySide6.QtCore import QFileSystemWatcher, QObject, QSocketNotifier, QTimer, Signal

from vpnguard.core import service

log = logging.getLogger(__name__)

DEBOUNCE_MS = 300


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
        self.events = service.network_events() if network else None
        fd = self.events.fileno() if self.events is not None else None
        self.notifier: QSocketNotifier | None = None
        if fd is not None:
            self.notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
            self.notifier.activated.connect(self._netlink)
        else:
            log.debug("no netlink events: network changes are seen on refresh only")
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
        assert self.events is not None
        try:
            self.events.drain()
        except OSError:
            log.debug("netlink read failed", exc_info=True)
        self._poke()

    def _fire(self) -> None:
        self.rewatch()
        self.changed.emit()

    def close(self) -> None:
        """Stop for good: no more events, and a change already waiting out its debounce is
        dropped (the window is closing; a refresh then would touch a window on its way out)."""
        self.timer.stop()
        paths = self.watched()
        if paths:
            self.files.removePaths(paths)
        if self.notifier is not None:
            self.notifier.setEnabled(False)
        if self.events is not None:
            self.events.close()
            self.events = None
