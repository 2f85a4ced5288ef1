"""Icons (SVG, shipped in the package, crisp at any scale) and light/dark palettes."""

from __future__ import annotations

import functools
from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

APP_ID = "org.vpnguard.VpnGuard"


def icon_path(name: str) -> str:
    return str(resources.files("vpnguard") / "data" / "icons" / f"{name}.svg")


@functools.cache
def icon(name: str) -> QIcon:
    return QIcon(icon_path(name))


def app_icon() -> QIcon:
    return QIcon.fromTheme(APP_ID, icon(APP_ID))


def browser_icon(browser_id: str, family: str) -> QIcon:
    """The desktop theme's icon for the browser when there is one, else a family glyph."""
    fallback = icon("browser-firefox" if family == "firefox" else "browser-chromium")
    names = {
        "chrome": "google-chrome",
        "edge": "microsoft-edge",
        "brave": "brave-browser",
        "firefox-esr": "firefox-esr",
        "tor-browser": "torbrowser",
    }
    return QIcon.fromTheme(names.get(browser_id, browser_id), fallback)


def _palette(dark: bool) -> QPalette:
    p = QPalette()
    if dark:
        base, window, text, mid = "#1e1f22", "#2b2d31", "#e6e6e6", "#3a3c42"
        highlight, link = "#3f8ae0", "#8ab4f8"
    else:
        base, window, text, mid = "#ffffff", "#f3f4f6", "#1d1d1f", "#d0d3d9"
        highlight, link = "#1c5fb3", "#1a56a8"
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: window,
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: window,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.ToolTipBase: base,
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.Highlight: highlight,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: link,
        QPalette.ColorRole.Mid: mid,
        QPalette.ColorRole.PlaceholderText: "#8a8f98",
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7d8290"))
    return p


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return bool(hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark)


def apply_palette(app: QApplication, mode: str) -> bool:
    """mode: "system", "light" or "dark". Returns whether the dark palette is in use."""
    dark = system_prefers_dark() if mode == "system" else mode == "dark"
    app.setStyle("Fusion")
    app.setPalette(_palette(dark))
    return dark
