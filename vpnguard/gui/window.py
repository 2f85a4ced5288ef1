"""The main window: VPN panel, browser list, Protect / Undo, leak check.

Plain words first, the technical reasons one "Details" click away. Every
sentence about a check says only what was proven (see :mod:`vpnguard.gui.results`).
"""

from __future__ import annotations

import datetime
import html
import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QFont, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vpnguard.core import service
from vpnguard.core.model import (
    Action,
    CheckPhase,
    Family,
    InterfaceKind,
    Level,
    NetworkState,
    Protection,
    TunnelMode,
    Verdict,
)
from vpnguard.gui import results as wording
from vpnguard.gui import theme
from vpnguard.gui.backend import Backend, CheckOutcome, CheckResult, Outcome, Turn
from vpnguard.gui.dialogs import CheckDetailsDialog, Prompter, describe_error
from vpnguard.gui.settings import Settings
from vpnguard.gui.worker import TaskRunner

if TYPE_CHECKING:
    from vpnguard.core.service import AutoModeState, BrowserStatus, StatusReport

log = logging.getLogger(__name__)

PROTECTION_TEXT = {
    Protection.STRICT: "Protected (Strict)",
    Protection.RELAY: "Protected (Relay)",
    Protection.BALANCED: "Protected (Balanced)",
    Protection.NONE: "Not protected",
    Protection.CONFLICT: "Conflict",
    Protection.PARTIAL: "Partly protected",
    Protection.SELF_MANAGED: "Protects itself",
    Protection.UNSUPPORTED: "Not supported here",
}
#: Chromium's single setting for both Relay and Strict (disable_non_proxied_udp).
CHROMIUM_RELAY_OR_STRICT = "Protected (Relay)"

PHASE_TEXT = {
    CheckPhase.LAUNCHING: "Starting…",
    CheckPhase.WAITING: "Testing…",
    CheckPhase.REPORTED: "Judging…",
    CheckPhase.JUDGED: "Done",
    CheckPhase.ERROR: "Failed",
    CheckPhase.SKIPPED: "Not checked",
}
COL_BROWSER, COL_PROTECTION, COL_CHECK, COL_NOTE = range(4)

#: The level chooser: (level value, label, what it means in plain words). One
#: entry per level; the technical meaning is core's LEVEL_SUMMARY, behind Details.
LEVEL_CHOICES: tuple[tuple[str, str, str], ...] = (
    (
        "relay",
        "Relay (recommended)",
        "Sites never learn your real address or your home network's addresses, also when "
        "part of your traffic bypasses the VPN, and video calls keep working through the "
        "meeting service's relay server.",
    ),
    (
        "auto",
        "Automatic (follows your VPN)",
        "Allows direct video calls while your VPN verifiably carries all your traffic, and "
        "switches to Relay when it does not (split tunnel, IPv6 around the VPN, no VPN).",
    ),
    (
        "strict",
        "Strict",
        "Like Relay, but calls in Firefox stop working; calls in Chrome-type browsers work "
        "only on services that relay them over TCP.",
    ),
    (
        "balanced",
        "Balanced",
        "Hides your home network's addresses and keeps direct video calls. Not enough "
        "when part of your traffic bypasses the VPN (split tunnel): there your real "
        "address can still show.",
    ),
)
LEVEL_TEXT: Mapping[str, str] = {v: text for v, _label, text in LEVEL_CHOICES}

ICON_OF = {
    Verdict.PASS: "status-protected",
    Verdict.WEBRTC_DISABLED: "status-protected",
    Verdict.LEAK: "status-leak",
}


def _short(source: str) -> str:
    """A policy source as a cell shows it: a file's name, a registry value's last part."""
    return source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or source


def _wrapping(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    if name:
        label.setAccessibleName(name)
    return label


class VpnPanel(QFrame):
    """Is a VPN up, which, full or split tunnel; the reasons one click away."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("VPN status")
        self.icon = QLabel()
        self.icon.setFixedSize(48, 48)
        self.headline = _wrapping("Looking at your network…", "VPN summary")
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.headline.setFont(font)
        self.sub = _wrapping("", "VPN advice")
        self.toggle = QToolButton()
        self.toggle.setText("&Details")
        self.toggle.setCheckable(True)
        self.toggle.setAccessibleName("Show network details")
        self.details = _wrapping("", "Network details")
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setVisible(False)
        self.toggle.toggled.connect(self.details.setVisible)
        text = QVBoxLayout()
        text.addWidget(self.headline)
        text.addWidget(self.sub)
        text.addWidget(self.details)
        row = QHBoxLayout(self)
        row.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addLayout(text, 1)
        row.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignTop)
        self.set_network(None, "Looking at your network…")

    def _set_icon(self, name: str) -> None:
        self.icon.setPixmap(theme.icon(name).pixmap(QSize(48, 48)))

    def set_network(self, net: NetworkState | None, missing: str = "") -> None:
        if net is None:
            self._set_icon("vpn-down")
            self.headline.setText(missing or "Network not examined.")
            self.sub.setText("")
            self.details.setText("")
            self.toggle.setEnabled(False)
            return
        self.toggle.setEnabled(True)
        if net.tunnel is TunnelMode.FULL:
            self._set_icon("vpn-up")
            self.sub.setText(
                "Your VPN hides your address from websites, but browsers can still hand it to "
                "sites through WebRTC (used for video calls). Protect your browsers below."
            )
        elif net.tunnel is TunnelMode.SPLIT:
            self._set_icon("vpn-split")
            text = "Part of your traffic bypasses the VPN."
            if not service.level_advice(Level.BALANCED, net).holds:  # the rule is core's
                text += (
                    " Only Strict keeps sites from seeing the address that traffic leaves "
                    "with; Balanced does not hold here."
                )
            self.sub.setText(text)
        else:
            self._set_icon("vpn-down")
            self.sub.setText(
                "Sites see your public address anyway. Protection still "
                "keeps your home network's addresses private."
            )
        self.headline.setText(net.detail or net.tunnel.value)
        rows = []
        for i in net.interfaces:
            if i.kind is InterfaceKind.LOOPBACK:
                continue
            state = "up" if i.is_up else "down"
            addrs = ", ".join(i.addresses) or "no address"
            rows.append(
                f"<li><b>{html.escape(i.name)}</b> ({i.kind.value}, {state}; "
                f"{html.escape(addrs)}): {html.escape(i.reason)}</li>"
            )
        routes = []
        for label, r in (("IPv4", net.public_route), ("IPv6", net.public_route6)):
            if r is not None:
                via = "through the VPN" if r.via_vpn else "outside the VPN"
                routes.append(
                    f"<li>{label} internet route: {html.escape(r.interface or '?')} from "
                    f"{html.escape(r.source or '?')} ({via})</li>"
                )
        self.details.setText("<ul>" + "".join(rows + routes) + "</ul>")


class BrowserList(QTreeWidget):
    """One row per detected browser; restart and check-detail buttons live in the rows."""

    restart_requested = Signal(str)
    details_requested = Signal(str)
    MIN_ROWS = 3

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(4)
        self.setHeaderLabels(["Browser", "Protection", "Last check", ""])
        self.setRootIsDecorated(False)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.setIconSize(QSize(24, 24))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAccessibleName("Browsers")
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_BROWSER, QHeaderView.ResizeMode.Stretch)
        for col in (COL_PROTECTION, COL_CHECK, COL_NOTE):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.items: dict[str, QTreeWidgetItem] = {}
        self.itemActivated.connect(self._activated)
        self.setMinimumHeight(self.rows_height(self.MIN_ROWS))

    def rows_height(self, rows: int) -> int:
        row = max(self.fontMetrics().height() + 8, self.iconSize().height() + 6, 30)
        return self.header().sizeHint().height() + rows * row + 2 * self.frameWidth() + 4

    def sizeHint(self) -> QSize:
        return QSize(520, self.rows_height(4))

    def _activated(self, item: QTreeWidgetItem, _col: int) -> None:
        self.details_requested.emit(item.data(COL_BROWSER, Qt.ItemDataRole.UserRole))

    def set_status(
        self,
        report: StatusReport,
        verdicts: Mapping[str, CheckResult],
        restart: set[str],
        stale: bool = False,
    ) -> None:
        selected = self.currentItem()
        keep = selected.data(COL_BROWSER, Qt.ItemDataRole.UserRole) if selected else None
        self.clear()
        self.items = {}
        for bs in report.browsers:
            b, policy = bs.browser, bs.policy
            item = QTreeWidgetItem(self)
            item.setData(COL_BROWSER, Qt.ItemDataRole.UserRole, b.id)
            item.setText(COL_BROWSER, b.name + (" (running)" if b.running else ""))
            item.setIcon(COL_BROWSER, theme.browser_icon(b.id, b.family.value))
            item.setToolTip(COL_BROWSER, f"{b.name} {b.version or ''}\n{b.path}".strip())
            prot = PROTECTION_TEXT.get(policy.protection, policy.protection.value)
            if b.family is Family.CHROMIUM and policy.protection is Protection.STRICT:
                # Relay and Strict write the same Chromium setting, and in Chromium it
                # behaves as Relay (calls through relay servers): name what it does.
                prot = CHROMIUM_RELAY_OR_STRICT
            if policy.protection is Protection.CONFLICT:
                # Short in the cell (the other source's file name); the full detail is in
                # the tooltip and the warning line above the list.
                sources = [c.source for t in policy.targets for c in t.conflicts]
                if sources:
                    prot = "Conflict: " + ", ".join(dict.fromkeys(_short(x) for x in sources))
            item.setText(COL_PROTECTION, prot)
            item.setToolTip(COL_PROTECTION, policy.detail or prot)
            icon = {
                Protection.STRICT: "status-protected",
                Protection.RELAY: "status-protected",
                Protection.BALANCED: "status-protected",
                Protection.CONFLICT: "status-leak",
                Protection.PARTIAL: "status-unprotected",
                Protection.NONE: "status-unprotected",
            }.get(policy.protection, "status-unknown")
            advice = service.level_advice(policy.protection, report.network)
            if policy.protection is Protection.BALANCED and not advice.holds:
                icon = "status-unprotected"
                item.setText(COL_PROTECTION, "Balanced: not enough here")
                item.setToolTip(COL_PROTECTION, advice.reason)
            pending = policy.restart_needed or b.id in restart
            weak = policy.protection is Protection.BALANCED and not advice.holds
            if (
                pending
                and not weak
                and policy.protection in (Protection.STRICT, Protection.RELAY, Protection.BALANCED)
            ):
                # Written, but the running browser still uses what it read at start.
                icon = "status-unprotected"
                level = PROTECTION_TEXT[policy.protection].split("(")[-1].rstrip(")")
                if prot == CHROMIUM_RELAY_OR_STRICT:
                    level = "Relay"
                item.setText(COL_PROTECTION, f"{level} after a restart")
                item.setToolTip(
                    COL_PROTECTION,
                    f"The policy is written, but the running {b.name} applies it only when "
                    "it starts again.",
                )
            item.setIcon(COL_PROTECTION, theme.icon(icon))
            self.items[b.id] = item
            self.set_verdict(b.id, verdicts.get(b.id), stale=stale)
            if pending:
                button = QPushButton("Restart needed…")
                button.setAccessibleName(f"Restart {b.name} to apply the policy")
                button.setToolTip(f"{b.name} reads policy only at start: restart it to apply")
                button.clicked.connect(lambda _=False, i=b.id: self.restart_requested.emit(i))
                self.setItemWidget(item, COL_NOTE, button)
            if b.id == keep:
                self.setCurrentItem(item)
        if not report.browsers:
            item = QTreeWidgetItem(self)
            item.setText(COL_BROWSER, "No supported browser was found.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)

    def set_verdict(
        self, browser_id: str, result: CheckResult | None, *, stale: bool = False
    ) -> None:
        item = self.items.get(browser_id)
        if item is None:
            return
        if result is None:
            item.setText(COL_CHECK, "Not checked yet")
            item.setIcon(COL_CHECK, theme.icon("status-unknown"))
            item.setToolTip(COL_CHECK, "Run “Check for leaks” to find out.")
            return
        text = wording.VERDICT_TEXT.get(result.verdict, result.verdict)
        tip = " ".join(
            t
            for t in (
                wording.VERDICT_SENTENCE.get(result.verdict, ""),
                wording.views_sentence(result),
                wording.call_sentence(result),
            )
            if t
        )
        if stale:
            item.setText(COL_CHECK, "Out of date")
            item.setIcon(COL_CHECK, theme.icon("status-unknown"))
            item.setToolTip(
                COL_CHECK,
                f"Was “{text}” before protection changed: check again.\n(double-click for details)",
            )
            return
        item.setText(COL_CHECK, text)
        item.setToolTip(COL_CHECK, f"{tip}\n(double-click for details)")
        item.setIcon(COL_CHECK, theme.icon(ICON_OF.get(result.verdict, "status-unknown")))

    def set_phase(self, browser_id: str, phase: CheckPhase) -> None:
        item = self.items.get(browser_id)
        if item is not None:
            item.setText(COL_CHECK, PHASE_TEXT.get(phase, phase))
            item.setIcon(COL_CHECK, QIcon())


class _Content(QWidget):
    """The scrolled content: as tall as its wrapped text needs at the width it gets.

    By default a layout with word-wrapped labels asks for the height those
    labels need at their *narrowest*, far taller than at the real width, so
    the scroll area would scroll (or, without one, squeeze widgets over each
    other). Without a fixed minimum the scroll area sizes this widget by
    ``heightForWidth`` of the width it really has.
    """

    def minimumSizeHint(self) -> QSize:
        layout = self.layout()
        if layout is None:
            return super().minimumSizeHint()
        return QSize(layout.totalMinimumSize().width(), 0)


class MainWindow(QMainWindow):
    """The window; every slow call goes through ``runner`` (a worker thread)."""

    state_changed = Signal(str)  # "protected" | "unprotected" | "leak"
    MINIMUM = QSize(640, 600)

    def __init__(
        self,
        backend: Backend,
        settings: Settings,
        *,
        runner: TaskRunner | None = None,
        prompter: Prompter | None = None,
        store: wording.LastCheckStore | None = None,
        live: bool = False,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.settings = settings
        self.runner = runner or TaskRunner(parent=self)
        self.prompter = prompter or Prompter(self)
        self.store = store or wording.LastCheckStore(settings.path.parent / "last-check.json")
        self.report: StatusReport | None = None
        self.verdicts: dict[str, CheckResult] = {}
        self.restart: set[str] = set()
        self.last_error: BaseException | None = None
        self.last_outcome: Outcome | None = None
        self.last_check: CheckOutcome | None = None
        self.saved: wording.LastCheck | None = None
        self.own_result: CheckResult | None = None
        self.stale = False
        self.auto: AutoModeState | None = None
        self.checking = False
        self.refresh_again = False
        self.setWindowTitle("vpnguard")
        self.setWindowIcon(theme.app_icon())
        self._build()
        self.setMinimumSize(self.MINIMUM)
        self.runner.busy_changed.connect(self._busy)
        geometry = settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(880, 640)
        state = settings.window_state()
        if state is not None:
            self.restoreState(state)
        self._load_last_check()
        self.watcher: Any = None
        if live:
            self.start_watching()

    # ---- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        central = _Content()
        layout = QVBoxLayout(central)
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetNoConstraint)
        self.vpn = VpnPanel()
        layout.addWidget(self.vpn)
        self.warnings = _wrapping("", "Warnings")
        self.warnings.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.warnings.setVisible(False)
        layout.addWidget(self.warnings)
        self.list = BrowserList()
        self.list.restart_requested.connect(self.restart_browser)
        self.list.details_requested.connect(self.show_details)
        layout.addWidget(self.list, 1)

        protect_box = QGroupBox("Protection")
        self.protect_box = protect_box
        pb = QVBoxLayout(protect_box)
        row = QHBoxLayout()
        self.level = QComboBox()
        for value, label, _text in LEVEL_CHOICES:
            self.level.addItem(label, value)
        self._select_level(self.settings.level)
        self.level.setAccessibleName("Protection level")
        self.level.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        level_label = QLabel("&Level:")
        level_label.setBuddy(self.level)
        self.level_more = QToolButton()
        self.level_more.setText("Te&chnical details")
        self.level_more.setCheckable(True)
        self.level_more.setAccessibleName("Show what this level sets in each browser")
        row.addWidget(level_label)
        row.addWidget(self.level)
        row.addStretch(1)
        row.addWidget(self.level_more)
        pb.addLayout(row)
        self.level_help = _wrapping("", "What this level does")
        pb.addWidget(self.level_help)
        self.level_tech = _wrapping("", "What this level sets, technically")
        self.level_tech.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.level_tech.setStyleSheet("color: palette(placeholder-text);")
        self.level_tech.setVisible(False)
        self.level_more.toggled.connect(self.level_tech.setVisible)
        pb.addWidget(self.level_tech)
        self.auto_label = _wrapping("", "Auto mode")
        self.auto_label.setStyleSheet("font-style: italic;")
        self.auto_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.auto_label.setVisible(False)
        pb.addWidget(self.auto_label)
        buttons = QHBoxLayout()
        self.protect_button = QPushButton("&Protect my browsers")
        # Not a default button: a QMainWindow has no Enter-to-accept, and the default
        # frame would hide the keyboard focus frame.
        self.protect_button.setAutoDefault(False)
        self.protect_button.setIcon(theme.icon("status-protected"))
        self.protect_button.setAccessibleName("Protect my browsers")
        font = QFont(self.protect_button.font())
        font.setBold(True)
        self.protect_button.setFont(font)
        self.protect_button.setMinimumHeight(34)
        self.undo_button = QPushButton("&Undo protection")
        self.undo_button.setAutoDefault(False)
        self.undo_button.setAccessibleName("Undo protection")
        buttons.addStretch(1)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.protect_button)
        pb.addLayout(buttons)
        layout.addWidget(protect_box)

        check_box = QGroupBox("Leak check")
        cb = QVBoxLayout(check_box)
        self.check_summary = _wrapping(
            "Opens each browser on a test page served by this computer and looks at what a "
            "site would learn.",
            "Leak check summary",
        )
        cb.addWidget(self.check_summary)
        self.check_when = _wrapping("", "When the last check ran")
        self.check_when.setVisible(False)
        cb.addWidget(self.check_when)
        self.own_summary = _wrapping("", "Result in my own browser")
        self.own_summary.setVisible(False)
        cb.addWidget(self.own_summary)
        crow = QHBoxLayout()
        self.own_details = QPushButton("D&etails…")
        self.own_details.setAccessibleName("Details of the check in my own browser")
        self.own_details.setVisible(False)
        self.own_details.clicked.connect(lambda: self.show_details("interactive"))
        self.check_button = QPushButton("&Check for leaks")
        self.check_button.setAccessibleName("Check every browser for leaks")
        self.own_button = QPushButton("Check in my &own browser")
        self.own_button.setAccessibleName("Open the leak check in my own browser")
        for b in (self.check_button, self.own_button, self.own_details):
            b.setAutoDefault(False)
        crow.addWidget(self.own_details)
        crow.addStretch(1)
        crow.addWidget(self.own_button)
        crow.addWidget(self.check_button)
        cb.addLayout(crow)
        layout.addWidget(check_box)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        scroll.setWidget(central)
        self.scroller = scroll
        self.content = central
        self.setCentralWidget(scroll)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        self.progress.setAccessibleName("Working")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel the administrator password prompt")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_elevation)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.cancel_button)

        self.level.currentIndexChanged.connect(self._level_changed)
        self.protect_button.clicked.connect(self.protect)
        self.undo_button.clicked.connect(self.unprotect)
        self.check_button.clicked.connect(lambda: self.check())
        self.own_button.clicked.connect(lambda: self.check(interactive=True))
        self._level_changed()
        self._menus()
        self.tab_chain: list[QWidget] = [
            self.vpn.toggle,
            self.list,
            self.level,
            self.level_more,
            self.undo_button,
            self.protect_button,
            self.own_details,
            self.own_button,
            self.check_button,
        ]
        for first, second in itertools.pairwise(self.tab_chain):
            self.setTabOrder(first, second)

    def _menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.refresh_action = QAction("&Refresh", self)
        self.refresh_action.setShortcuts(
            [QKeySequence(QKeySequence.StandardKey.Refresh), QKeySequence("Ctrl+R")]
        )
        self.refresh_action.triggered.connect(self.refresh)
        file_menu.addAction(self.refresh_action)
        settings_action = QAction("&Settings…", self)
        settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        settings_action.triggered.connect(self.open_settings)
        file_menu.addAction(settings_action)
        self.export_action = QAction("&Export policy bundle…", self)
        self.export_action.triggered.connect(self.export_bundle)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        help_menu = bar.addMenu("&Help")
        about = QAction("&About vpnguard", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _about(self) -> None:
        from vpnguard import __version__

        self.prompter.info(
            "About vpnguard",
            f"vpnguard {__version__}",
            "Keeps your browsers from revealing your address around your VPN, and proves it.",
        )

    # ---- live state ---------------------------------------------------------------------

    def start_watching(self) -> None:
        """Refresh on outside changes to policy files and the network (debounced)."""
        from vpnguard.gui.live import LiveWatcher

        self.watcher = LiveWatcher(self.backend.watch_paths, network=self.backend.root is None)
        self.watcher.changed.connect(self._outside_change)

    def _outside_change(self) -> None:
        if self.runner.busy:
            self.refresh_again = True  # after the running task, not in the middle of it
            return
        self.refresh(quiet=True)

    # ---- state --------------------------------------------------------------------------

    def _select_level(self, value: str) -> None:
        index = self.level.findData(value)
        self.level.setCurrentIndex(index if index >= 0 else 0)

    def _level_changed(self) -> None:
        value = str(self.level.currentData())
        self.level_help.setText(LEVEL_TEXT.get(value, ""))
        try:
            self.level_tech.setText(service.level_summary(value))
        except (ValueError, KeyError):
            self.level_tech.setText("")
        self.settings.level = value

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        for w in (self.protect_button, self.undo_button, self.check_button, self.own_button):
            w.setEnabled(not busy)
        self.refresh_action.setEnabled(not busy)
        if not busy:
            self.cancel_button.setVisible(False)
            self._update_buttons()
            if self.refresh_again:
                self.refresh_again = False
                QTimer.singleShot(0, lambda: self.refresh(quiet=True))

    def _writable(self) -> list[Any]:
        if self.report is None:
            return []
        return [
            b
            for b in self.report.browsers
            if b.policy.protection not in (Protection.SELF_MANAGED, Protection.UNSUPPORTED)
        ]

    def _update_buttons(self) -> None:
        if self.report is None:
            return
        writable = self._writable()
        protected = [b for b in writable if b.policy.protection is not Protection.NONE]
        self.protect_button.setEnabled(bool(writable))
        self.undo_button.setEnabled(bool(protected))
        reason = self.backend.checker.available()
        self.check_button.setEnabled(bool(self.report.browsers) and reason is None)
        self.own_button.setEnabled(reason is None)
        if reason:
            self.check_summary.setText(reason)

    def _holds(self, b: BrowserStatus) -> bool:
        """Does this browser's protection hold on this network (the core's rule)?"""
        net = self.report.network if self.report is not None else None
        return service.level_advice(b.policy.protection, net).holds

    def _pending(self) -> list[Any]:
        """Browsers whose running instance has not applied the written policy yet."""
        return [
            b for b in self._writable() if b.policy.restart_needed or b.browser.id in self.restart
        ]

    def overall_state(self) -> str:
        if not self.stale and any(r.verdict is Verdict.LEAK for r in self.verdicts.values()):
            return "leak"
        writable = self._writable()
        if writable and all(self._holds(b) for b in writable) and not self._pending():
            return "protected"
        return "unprotected"

    def state_sentence(self) -> str:
        """The tray's tooltip: true for every mix of protected and unprotected browsers."""
        state = self.overall_state()
        if state == "leak":
            return "vpnguard: the last check found a leak"
        writable = self._writable()
        if self.report is None:
            return "vpnguard: looking at your browsers…"
        if not writable:
            return "vpnguard: no browser vpnguard can protect was found"
        held = [b for b in writable if self._holds(b)]
        pending = [b for b in self._pending() if b in held]
        if len(held) == len(writable):
            if pending:
                names = ", ".join(b.browser.name for b in pending)
                return f"vpnguard: protected once you restart {names}"
            return "vpnguard: your browsers are protected"
        if not held:
            return "vpnguard: no browser is protected"
        names = ", ".join(b.browser.name for b in writable if b not in held)
        return f"vpnguard: not protected: {names}"

    def _protection_map(self) -> dict[str, str]:
        if self.report is None:
            return {}
        return {b.browser.id: b.policy.protection.value for b in self.report.browsers}

    def _show_report(self, report: StatusReport) -> None:
        self.report = report
        running = {b.browser.id for b in report.browsers if b.browser.running}
        self.restart &= running  # a browser that was closed has read the new policy
        if self.saved is not None:
            now = self._protection_map()
            self.stale = any(
                self.saved.protection.get(r.browser_id) != now.get(r.browser_id)
                for r in self.saved.outcome.results
                if r.browser_id in now
            )
        self.list.set_status(report, self.verdicts, self.restart, stale=self.stale)
        if report.network is None and self.backend.root is not None:
            self.vpn.set_network(
                None,
                f"Network not examined: vpnguard is working on the file tree "
                f"{self.backend.root}, which has no network of its own.",
            )
        else:
            self.vpn.set_network(report.network, "Could not examine the network.")
        self._show_warnings()
        self._show_check()
        self._update_buttons()
        self._emit_state()

    def _emit_state(self) -> None:
        # The state in one line, where the action is (as VPN apps head their first screen).
        sentence = self.state_sentence().removeprefix("vpnguard: ")
        self.protect_box.setTitle(f"Protection: {sentence[:1].upper()}{sentence[1:]}")
        self.state_changed.emit(self.overall_state())

    def _show_warnings(self) -> None:
        lines = list(self.report.warnings) if self.report is not None else []
        leaks = [r.name for r in self.verdicts.values() if r.verdict is Verdict.LEAK]
        if leaks and not self.stale:
            lines.insert(0, f"The last leak check found a leak in {', '.join(leaks)}.")
        self.warnings.setText("\n".join(f"⚠ {w}" for w in lines))
        self.warnings.setVisible(bool(lines))

    def _show_check(self) -> None:
        """The check box's sentences, from the results kept (this run or a saved one)."""
        if self.saved is None or self.checking:
            return
        results = [r for r in self.saved.outcome.results if r.browser_id != "interactive"]
        if results:
            summary = wording.summarize(results, stale=self.stale)
            extra = (
                []
                if self.stale
                else [
                    wording.per_browser(results, wording.views_sentence),
                    wording.per_browser(results, wording.call_sentence),
                ]
            )
            text = " ".join([summary.text, *(e for e in extra if e)])
            if not self.stale:
                text += " Double-click a browser for details."
            style = {"bad": "color: #c0392b; font-weight: bold;", "good": "font-weight: bold;"}
            self.check_summary.setStyleSheet(style.get(summary.tone, ""))
            self.check_summary.setText(text)
        when = f"Last checked {wording.when_text(self.saved.at)}."
        if self.stale:
            when += " Protection has changed since: check again to know where you stand."
        self.check_when.setText(when)
        self.check_when.setVisible(True)
        own = self.saved.own
        self.own_result = own
        if own is not None:
            verdict = wording.VERDICT_TEXT.get(own.verdict, own.verdict)
            self.own_summary.setText(
                f"Your own browser: {verdict}. {wording.VERDICT_SENTENCE.get(own.verdict, '')}"
            )
        self.own_summary.setVisible(own is not None)
        self.own_details.setVisible(own is not None)

    def _load_last_check(self) -> None:
        saved = self.store.load()
        if saved is None:
            return
        self.saved = saved
        self.last_check = saved.outcome
        self.verdicts = {
            r.browser_id: r for r in saved.outcome.results if r.browser_id != "interactive"
        }
        self._show_check()

    def _fail(self, title: str) -> Callable[[BaseException], None]:
        def show(exc: BaseException) -> None:
            from vpnguard.elevation import ElevationCancelled, ElevationError

            self.last_error = exc
            self.checking = False
            if isinstance(exc, ElevationCancelled):
                self.statusBar().showMessage("Cancelled: nothing was changed.", 8000)
                return
            text, _detail = describe_error(exc)
            shown = (
                "Could not get administrator rights" if isinstance(exc, ElevationError) else title
            )
            first = text.split(". ")[0].rstrip(".")
            self.statusBar().showMessage(f"{shown}: {first}.", 10000)
            self.prompter.error(shown, exc)

        return show

    # ---- actions ------------------------------------------------------------------------

    def refresh(self, quiet: bool = False) -> None:
        if not quiet:
            self.statusBar().showMessage("Looking for browsers and your VPN…")
        self.runner.run_task(
            lambda _p: self.backend.snapshot(),
            lambda snap: self._refreshed(snap, quiet),
            self._fail("Could not read status"),
        )

    def _refreshed(
        self, snapshot: tuple[StatusReport, AutoModeState | None], quiet: bool = False
    ) -> None:
        report, auto = snapshot
        if not quiet:
            self.statusBar().showMessage("Up to date", 3000)
        self._show_report(report)
        self._show_auto(auto)

    def _show_auto(self, auto: AutoModeState | None) -> None:
        self.auto = auto
        if auto is None:
            self.auto_label.setVisible(False)
            return
        if auto.running:
            vpns = ", ".join(auto.active_vpns) or "a VPN"
            text = (
                f"Automatic protection is on: vpnguard protects your browsers while {vpns} is "
                f"up (vpnguard watch, PID {auto.pid}, level {auto.level or 'strict'})."
            )
        elif auto.holders:
            text = f"Protection is also held by VPN hooks: {', '.join(auto.holders)}."
        else:
            text = "Automatic protection while a VPN is up is off (see “vpnguard watch”)."
        self.auto_label.setText(text)
        self.auto_label.setVisible(True)

    def protect(self) -> None:
        level = str(self.level.currentData())
        self.statusBar().showMessage("Working out what protection will change…")
        report = self.report
        self.runner.run_task(
            lambda _p: self.backend.preview(Action.PROTECT, level, report),
            lambda out: self._confirm_and_apply(out, level),
            self._fail("Could not prepare protection"),
        )

    def unprotect(self) -> None:
        self.statusBar().showMessage("Working out what undo will restore…")
        report = self.report
        self.runner.run_task(
            lambda _p: self.backend.preview(Action.UNPROTECT, None, report),
            lambda out: self._confirm_and_apply(out, None),
            self._fail("Could not prepare undo"),
        )

    def _names(self, ids: Iterable[str]) -> str:
        names = {b.browser.id: b.browser.name for b in self.report.browsers} if self.report else {}
        return ", ".join(names.get(i, i) for i in ids)

    def _confirm_and_apply(self, preview: Outcome, level: str | None) -> None:
        op = preview.action
        self.statusBar().clearMessage()
        if not preview.changed:
            self.prompter.info(
                "Nothing to change",
                "Your browsers are already protected at this level."
                if op == Action.PROTECT
                else "vpnguard has not written anything here, so there is nothing to undo.",
            )
            return
        browsers = sorted(
            {i for c in preview.changes if c.action != "unchanged" for i in c.browsers}
        )
        verb = {
            "create": "create",
            "modify": "update",
            "restore": "restore",
            "remove": "remove",
        }
        files = "\n".join(
            f"• {verb.get(c.action, c.action)} {c.path}"
            for c in preview.changes
            if c.action != "unchanged"
        )
        if op == Action.PROTECT:
            title = "Protect my browsers"
            text = f"vpnguard will set the {level} WebRTC policy for {self._names(browsers)}."
            yes = "Protect"
        else:
            title = "Undo protection"
            text = (
                f"vpnguard will restore exactly what was there before for {self._names(browsers)}."
            )
            yes = "Undo protection"
        details = f"Files:\n{files}"
        if op == Action.PROTECT:
            details += "\n\nUndo protection restores exactly what was there before."
        if not preview.exact:
            details += "\n(The exact list is worked out with administrator rights.)"
        if preview.notices:
            details += "\n\n" + "\n".join(f"• {n}" for n in preview.notices)
        if self.backend.writer.elevated:
            details += "\n\nYou will be asked for an administrator password."
        if not self.prompter.confirm(title, text, details, yes=yes):
            self.statusBar().showMessage("Cancelled: nothing was changed.", 5000)
            return
        if self.backend.writer.elevated:
            self.statusBar().showMessage("Waiting for the administrator password…")
        else:
            self.statusBar().showMessage(
                "Writing policy…" if op == Action.PROTECT else "Restoring…"
            )
        self.runner.run_task(
            lambda _p: (self.backend.apply(op, level), *self.backend.snapshot()),
            self._applied,
            self._fail("Could not protect" if op == Action.PROTECT else "Could not undo"),
        )
        self.cancel_button.setVisible(self.backend.writer.elevated and self.runner.busy)

    def cancel_elevation(self) -> None:
        self.backend.cancel()
        self.cancel_button.setEnabled(False)
        QTimer.singleShot(1000, self.cancel_button, lambda: self.cancel_button.setEnabled(True))

    def _applied(self, result: tuple[Outcome, StatusReport, AutoModeState | None]) -> None:
        outcome, report, auto = result
        self._show_auto(auto)
        self.last_outcome = outcome
        if outcome.action == Action.PROTECT:
            self.restart |= set(outcome.restart_needed)
        else:
            self.restart = set(outcome.restart_needed)
        done = sum(1 for c in outcome.changes if c.action != "unchanged")
        what = "Protection written" if outcome.action == Action.PROTECT else "Protection undone"
        self.statusBar().showMessage(f"{what}: {done} file(s) changed.", 8000)
        self._show_report(report)
        if outcome.restart_needed:
            self.prompter.info(
                "Restart needed",
                f"{self._names(outcome.restart_needed)} read policy only when they start.",
                "Use the “Restart needed…” button in the list when you are ready: vpnguard "
                "closes the browser gracefully and opens it again.",
            )

    def restart_browser(self, browser_id: str) -> None:
        bs = self.report.browser(browser_id) if self.report else None
        if bs is None:
            return
        name = bs.browser.name
        if not self.prompter.confirm(
            f"Restart {name}",
            f"Close {name} and open it again so it applies the new policy?",
            f"{name} is asked to close normally (like closing its window), so it can save "
            "your tabs; vpnguard then starts it again. Unsaved form input may be lost.",
            yes=f"Restart {name}",
        ):
            return
        from vpnguard.gui import restart

        self.runner.run_task(
            lambda _p: restart.restart(bs.browser, root=self.backend.root),
            lambda msg: self._restarted(browser_id, msg),
            self._fail(f"Could not restart {name}"),
        )

    def _restarted(self, browser_id: str, message: str) -> None:
        self.restart.discard(browser_id)
        self.statusBar().showMessage(message, 8000)
        self.refresh()

    def check(self, interactive: bool = False) -> None:
        if self.report is None or self.checking:
            return
        browsers = [b.browser for b in self.report.browsers]
        network = self.report.network
        stun = self.settings.stun_servers
        url, user = self.settings.turn_server
        turn = [Turn(url, user)] if url and user else []
        self.checking = True
        if not interactive:
            for b in browsers:
                self.list.set_phase(b.id, CheckPhase.LAUNCHING)
        self.check_summary.setStyleSheet("")
        self.check_summary.setText(
            "Waiting for the test page in your own browser…"
            if interactive
            else f"Checking {len(browsers)} browser(s) at once…"
        )
        self.statusBar().showMessage("Leak check running…")
        self.runner.run_task(
            lambda progress: self.backend.check(
                browsers, network, progress, interactive=interactive, stun=stun, turn=turn
            ),
            lambda outcome: self._checked(outcome, interactive),
            self._check_failed,
            self._check_progress,
        )

    def _check_progress(self, browser_id: str, phase: CheckPhase) -> None:
        if self.checking:  # a late progress report never overwrites a verdict
            self.list.set_phase(browser_id, phase)

    def _check_failed(self, exc: BaseException) -> None:
        self.checking = False
        for bid in self.list.items:
            self.list.set_verdict(bid, self.verdicts.get(bid), stale=self.stale)
        self.check_summary.setStyleSheet("")
        self.check_summary.setText("The check could not run, so it proved nothing.")
        self._show_check()
        self._fail("Leak check failed")(exc)

    def _checked(self, outcome: CheckOutcome, interactive: bool = False) -> None:
        self.checking = False
        now = datetime.datetime.now(datetime.UTC)
        prot = self._protection_map()
        if interactive:
            own = outcome.results[0] if outcome.results else None
            own = None if own is None else _as_own(own)
            base = self.saved or wording.LastCheck(CheckOutcome(()), now, prot)
            self.saved = wording.LastCheck(base.outcome, base.at, base.protection, own)
            if not base.outcome.results:
                self.saved = wording.LastCheck(base.outcome, now, prot, own)
        else:
            self.last_check = outcome
            self.verdicts = {r.browser_id: r for r in outcome.results}
            own = self.saved.own if self.saved else None
            self.saved = wording.LastCheck(outcome, now, prot, own)
            self.stale = False
        self.store.save(self.saved)
        for bid in self.list.items:
            self.list.set_verdict(bid, self.verdicts.get(bid), stale=self.stale)
        self.statusBar().showMessage(
            f"Leak check finished in {outcome.duration_ms / 1000:.1f} s", 8000
        )
        if interactive and not self.saved.outcome.results:
            self.check_summary.setStyleSheet("")
            self.check_summary.setText("Your browsers have not been checked here yet.")
        self._show_warnings()
        self._show_check()
        self._emit_state()

    def show_details(self, browser_id: str) -> None:
        result = self.own_result if browser_id == "interactive" else self.verdicts.get(browser_id)
        if result is None:
            self.statusBar().showMessage("No leak check result for this browser yet.", 4000)
            return
        self.prompter.show_dialog(CheckDetailsDialog(result, self))

    def open_settings(self) -> None:
        from vpnguard.gui.dialogs import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        if self.prompter.show_dialog(dialog):
            self._select_level(self.settings.level)
            from PySide6.QtWidgets import QApplication

            app = QApplication.instance()
            if isinstance(app, QApplication):
                theme.apply_palette(app, self.settings.appearance)

    def export_bundle(self) -> None:
        from vpnguard.gui.dialogs import ExportDialog

        dialog = ExportDialog(self)
        if not self.prompter.show_dialog(dialog):
            return
        self.run_export(*dialog.request())

    def run_export(self, platforms: list[str], level: str, out: str, force: bool) -> None:
        self.runner.run_task(
            lambda _p: service.export_bundle(platforms, level, None, None, out, force=force),
            lambda res: self.prompter.info(
                "Bundle written", f"Wrote {len(res.files)} files to {res.out}."
            ),
            self._fail("Could not export the bundle"),
        )

    # ---- window state -------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.report is None and not self.runner.busy:
            QTimer.singleShot(0, self.refresh)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        if self.watcher is not None:
            self.watcher.close()
        super().closeEvent(event)


def _as_own(result: CheckResult) -> CheckResult:
    """The interactive result under one id, whatever slot name the check gave it."""
    import dataclasses

    return dataclasses.replace(result, browser_id="interactive", name="Your own browser")
