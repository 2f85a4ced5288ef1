"""A tray icon showing protected / unprotected / leak, with Protect, Check and Open.

Created only where a system tray exists; the app works the same without one.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from vpnguard.gui import theme
from vpnguard.gui.window import MainWindow

ICONS = {
    "protected": "status-protected",
    "unprotected": "status-unprotected",
    "leak": "status-leak",
}


class Tray(QSystemTrayIcon):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(theme.icon("status-unprotected"), window)
        self.window = window
        menu = QMenu()
        menu.addAction("&Protect my browsers", window.protect)
        menu.addAction("&Check for leaks", window.check)
        menu.addAction("&Open vpnguard", self.open)
        menu.addSeparator()
        menu.addAction("&Quit", window.close)
        self._menu = menu
        self.setContextMenu(menu)
        self.activated.connect(self._activated)
        window.state_changed.connect(self.set_state)
        self.set_state(window.overall_state())

    def set_state(self, state: str) -> None:
        self.setIcon(theme.icon(ICONS.get(state, "status-unknown")))
        self.setToolTip(self.window.state_sentence())  # true for every mix, from the window

    def open(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is QSystemTrayIcon.ActivationReason.Trigger:
            self.open()


def make_tray(window: MainWindow) -> Tray | None:
    if not QSystemTrayIcon.isSystemTrayAvailable():
        return None
    tray = Tray(window)
    tray.show()
    return tray
