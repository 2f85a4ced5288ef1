"""The main window: VPN panel, browser list, Protect / Undo, leak check."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterable
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
    InterfaceKind,
    Level,
    NetworkState,
    Protection,
    TunnelMode,
    Verdict,
)
from vpnguard.gui import theme
from vpnguard.gui.backend import Backend, CheckOutcome, CheckResult, Outcome, Turn
from vpnguard.gui.dialogs import VERDICT_TEXT, CheckDetailsDialog, Prompter
from vpnguard.gui.settings import Settings
from vpnguard.gui.worker import TaskRunner

if TYPE_CHECKING:
    from vpnguard.core.service import AutoModeState, StatusReport

log = logging.getLogger(__name__)

PROTECTION_TEXT = {
    Protection.STRICT: "Strict",
    Protection.RELAY: "Relay",
    Protection.BALANCED: "Balanced",
    Protection.NONE: "Not protected",
    Protection.CONFLICT: "Conflict",
    Protection.PARTIAL: "Partly protected",
    Protection.SELF_MANAGED: "Manages WebRTC itself",
    Protection.UNSUPPORTED: "Not supported here",
}
LEVEL_ITEMS = (  # (label, value): strict stays first, as older settings expect
    ("Strict (no Firefox calls)", "strict"),
    ("Balanced", "balanced"),
    ("Relay (recommended: calls keep working)", "relay"),
    ("Automatic (follows your VPN)", "auto"),
)


def add_level_items(combo: Any) -> None:
    for label, value in LEVEL_ITEMS:
        combo.addItem(label, value)


PHASE_TEXT = {
    CheckPhase.LAUNCHING: "Starting…",
    CheckPhase.WAITING: "Gathering…",
    CheckPhase.REPORTED: "Judging…",
    CheckPhase.JUDGED: "Done",
    CheckPhase.ERROR: "Failed",
    CheckPhase.SKIPPED: "Not checked",
}
COL_BROWSER, COL_VERSION, COL_RUNNING, COL_PROTECTION, COL_CHECK, COL_NOTE = range(6)


def _short(source: str) -> str:
    """A policy source as a cell shows it: a file's name, a registry value's last part."""
    return source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or source


class VpnPanel(QFrame):
    """Is a VPN up, which, full or split tunnel; the reasons one click away."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("VPN status")
        self.icon = QLabel()
        self.icon.setFixedSize(48, 48)
        self.headline = QLabel("Looking at your network…")
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setWordWrap(True)
        self.headline.setAccessibleName("VPN summary")
        self.sub = QLabel("")
        self.sub.setWordWrap(True)
        self.sub.setAccessibleName("VPN advice")
        self.toggle = QToolButton()
        self.toggle.setText("&Details")
        self.toggle.setCheckable(True)
        self.toggle.setAccessibleName("Show network details")
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAccessibleName("Network details")
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
                "WebRTC can still reveal local addresses: protect your browsers below."
            )
        elif net.tunnel is TunnelMode.SPLIT:
            self._set_icon("vpn-split")
            self.sub.setText(service.level_advice(Level.BALANCED, net).reason)
        else:
            self._set_icon("vpn-down")
            self.sub.setText(
                "Without a VPN every site sees your public address anyway; protection still "
                "keeps your local addresses private."
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

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(6)
        self.setHeaderLabels(["Browser", "Version", "Running", "Protection", "Last check", ""])
        self.setRootIsDecorated(False)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.setIconSize(QSize(24, 24))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAccessibleName("Browsers")
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_BROWSER, QHeaderView.ResizeMode.Stretch)
        for col in (COL_VERSION, COL_RUNNING, COL_PROTECTION, COL_CHECK, COL_NOTE):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.items: dict[str, QTreeWidgetItem] = {}
        self.itemActivated.connect(self._activated)

    def _activated(self, item: QTreeWidgetItem, _col: int) -> None:
        self.details_requested.emit(item.data(COL_BROWSER, Qt.ItemDataRole.UserRole))

    def set_status(
        self, report: StatusReport, verdicts: dict[str, CheckResult], restart: set[str]
    ) -> None:
        selected = self.currentItem()
        keep = selected.data(COL_BROWSER, Qt.ItemDataRole.UserRole) if selected else None
        self.clear()
        self.items = {}
        for bs in report.browsers:
            b, policy = bs.browser, bs.policy
            item = QTreeWidgetItem(self)
            item.setData(COL_BROWSER, Qt.ItemDataRole.UserRole, b.id)
            item.setText(COL_BROWSER, b.name)
            item.setIcon(COL_BROWSER, theme.browser_icon(b.id, b.family.value))
            item.setToolTip(COL_BROWSER, b.path)
            item.setText(COL_VERSION, b.version or "unknown")
            item.setText(COL_RUNNING, "Running" if b.running else "—")
            prot = PROTECTION_TEXT.get(policy.protection, policy.protection.value)
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
                item.setToolTip(COL_PROTECTION, advice.reason)
            item.setIcon(COL_PROTECTION, theme.icon(icon))
            self.items[b.id] = item
            self.set_verdict(b.id, verdicts.get(b.id))
            needs = policy.restart_needed or b.id in restart
            if needs:
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

    def set_verdict(self, browser_id: str, result: CheckResult | None) -> None:
        item = self.items.get(browser_id)
        if item is None:
            return
        if result is None:
            item.setText(COL_CHECK, "Not checked yet")
            item.setIcon(COL_CHECK, theme.icon("status-unknown"))
            return
        item.setText(COL_CHECK, VERDICT_TEXT.get(result.verdict, result.verdict))
        item.setToolTip(COL_CHECK, result.reason + "\n(double-click for details)")
        name = {
            "pass": "status-protected",
            "webrtc_disabled": "status-protected",
            "leak": "status-leak",
        }.get(result.verdict, "status-unknown")
        item.setIcon(COL_CHECK, theme.icon(name))

    def set_phase(self, browser_id: str, phase: CheckPhase) -> None:
        item = self.items.get(browser_id)
        if item is not None:
            item.setText(COL_CHECK, PHASE_TEXT.get(phase, phase))
            item.setIcon(COL_CHECK, QIcon())


class MainWindow(QMainWindow):
    """The window; every slow call goes through ``runner`` (a worker thread)."""

    state_changed = Signal(str)  # "protected" | "unprotected" | "leak"

    def __init__(
        self,
        backend: Backend,
        settings: Settings,
        *,
        runner: TaskRunner | None = None,
        prompter: Prompter | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.settings = settings
        self.runner = runner or TaskRunner(parent=self)
        self.prompter = prompter or Prompter(self)
        self.report: StatusReport | None = None
        self.verdicts: dict[str, CheckResult] = {}
        self.restart: set[str] = set()
        self.last_error: BaseException | None = None
        self.last_outcome: Outcome | None = None
        self.last_check: CheckOutcome | None = None
        self.auto: AutoModeState | None = None
        self.checking = False
        self.setWindowTitle("vpnguard")
        self.setWindowIcon(theme.app_icon())
        self._build()
        self.runner.busy_changed.connect(self._busy)
        geometry = settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(880, 600)
        state = settings.window_state()
        if state is not None:
            self.restoreState(state)

    # ---- layout -------------------------------------------------------------------------

    def _build(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        self.vpn = VpnPanel()
        layout.addWidget(self.vpn)
        self.warnings = QLabel("")
        self.warnings.setWordWrap(True)
        self.warnings.setAccessibleName("Warnings")
        self.warnings.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.warnings.setVisible(False)
        layout.addWidget(self.warnings)
        self.list = BrowserList()
        self.list.restart_requested.connect(self.restart_browser)
        self.list.details_requested.connect(self.show_details)
        layout.addWidget(self.list, 1)

        protect_box = QGroupBox("Protection")
        pb = QVBoxLayout(protect_box)
        row = QHBoxLayout()
        self.level = QComboBox()
        add_level_items(self.level)
        self.level.setCurrentIndex(max(0, self.level.findData(self.settings.level)))
        self.level.setAccessibleName("Protection level")
        level_label = QLabel("&Level:")
        level_label.setBuddy(self.level)
        self.protect_button = QPushButton("&Protect my browsers")
        self.protect_button.setDefault(True)
        self.protect_button.setIcon(theme.icon("status-protected"))
        self.protect_button.setAccessibleName("Protect my browsers")
        font = QFont(self.protect_button.font())
        font.setBold(True)
        self.protect_button.setFont(font)
        self.protect_button.setMinimumHeight(34)
        self.undo_button = QPushButton("&Undo protection")
        self.undo_button.setAccessibleName("Undo protection")
        row.addWidget(level_label)
        row.addWidget(self.level)
        row.addStretch(1)
        row.addWidget(self.undo_button)
        row.addWidget(self.protect_button)
        pb.addLayout(row)
        self.level_help = QLabel("")
        self.level_help.setWordWrap(True)
        self.level_help.setAccessibleName("What this level does")
        pb.addWidget(self.level_help)
        self.auto_label = QLabel("")
        self.auto_label.setWordWrap(True)
        self.auto_label.setAccessibleName("Auto mode")
        self.auto_label.setStyleSheet("font-style: italic;")
        self.auto_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.auto_label.setVisible(False)
        pb.addWidget(self.auto_label)
        layout.addWidget(protect_box)

        check_box = QGroupBox("Leak check")
        cb = QHBoxLayout(check_box)
        self.check_button = QPushButton("&Check for leaks")
        self.check_button.setAccessibleName("Check every browser for leaks")
        self.own_button = QPushButton("Check in my &own browser")
        self.own_button.setAccessibleName("Open the leak check in my own browser")
        self.check_summary = QLabel("Runs each browser against a page served on this computer.")
        self.check_summary.setWordWrap(True)
        self.check_summary.setAccessibleName("Leak check summary")
        self.check_summary.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        cb.addWidget(self.check_summary, 1)
        cb.addWidget(self.own_button)
        cb.addWidget(self.check_button)
        layout.addWidget(check_box)
        self.setCentralWidget(central)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        self.progress.setAccessibleName("Working")
        self.statusBar().addPermanentWidget(self.progress)

        self.level.currentIndexChanged.connect(self._level_changed)
        self.protect_button.clicked.connect(self.protect)
        self.undo_button.clicked.connect(self.unprotect)
        self.check_button.clicked.connect(lambda: self.check())
        self.own_button.clicked.connect(lambda: self.check(interactive=True))
        self._level_changed()
        self._menus()
        self.setTabOrder(self.list, self.level)
        self.setTabOrder(self.level, self.undo_button)
        self.setTabOrder(self.undo_button, self.protect_button)
        self.setTabOrder(self.protect_button, self.own_button)
        self.setTabOrder(self.own_button, self.check_button)

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
            "Keeps WebRTC from revealing your address around your VPN, and proves it.",
        )

    # ---- state --------------------------------------------------------------------------

    def _level_changed(self) -> None:
        from vpnguard.core.model import LevelChoice

        level = LevelChoice(self.level.currentData())
        self.level_help.setText(service.level_summary(level))
        self.settings.level = level.value

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        for w in (self.protect_button, self.undo_button, self.check_button, self.own_button):
            w.setEnabled(not busy)
        self.refresh_action.setEnabled(not busy)
        if not busy:
            self._update_buttons()

    def _update_buttons(self) -> None:
        if self.report is None:
            return
        writable = [
            b
            for b in self.report.browsers
            if b.policy.protection not in (Protection.SELF_MANAGED, Protection.UNSUPPORTED)
        ]
        protected = [b for b in writable if b.policy.protection is not Protection.NONE]
        self.protect_button.setEnabled(bool(writable))
        self.undo_button.setEnabled(bool(protected))
        reason = self.backend.checker.available()
        self.check_button.setEnabled(bool(self.report.browsers) and reason is None)
        self.own_button.setEnabled(reason is None)
        if reason:
            self.check_summary.setText(reason)

    def overall_state(self) -> str:
        if any(r.verdict is Verdict.LEAK for r in self.verdicts.values()):
            return "leak"
        if self.report is None:
            return "unprotected"
        writable = [
            b
            for b in self.report.browsers
            if b.policy.protection not in (Protection.SELF_MANAGED, Protection.UNSUPPORTED)
        ]
        net = self.report.network
        if writable and all(service.level_advice(b.policy.protection, net).holds for b in writable):
            return "protected"
        return "unprotected"

    def _show_report(self, report: StatusReport) -> None:
        self.report = report
        self.list.set_status(report, self.verdicts, self.restart)
        if report.network is None and self.backend.root is not None:
            self.vpn.set_network(
                None,
                f"Network not examined: vpnguard is working on the file tree "
                f"{self.backend.root}, which has no network of its own.",
            )
        else:
            self.vpn.set_network(report.network, "Could not examine the network.")
        self._show_warnings()
        self._update_buttons()
        self.state_changed.emit(self.overall_state())

    def _show_warnings(self) -> None:
        lines = list(self.report.warnings) if self.report is not None else []
        leaks = [r.name for r in self.verdicts.values() if r.verdict is Verdict.LEAK]
        if leaks:
            lines.insert(0, f"The last leak check found a leak in {', '.join(leaks)}.")
        self.warnings.setText("\n".join(f"⚠ {w}" for w in lines))
        self.warnings.setVisible(bool(lines))

    def _fail(self, title: str) -> Callable[[BaseException], None]:
        def show(exc: BaseException) -> None:
            self.last_error = exc
            self.checking = False
            self.statusBar().showMessage(f"{title}: failed", 8000)
            self.prompter.error(title, exc)

        return show

    # ---- actions ------------------------------------------------------------------------

    def refresh(self) -> None:
        self.statusBar().showMessage("Looking for browsers and your VPN…")
        self.runner.run_task(
            lambda _p: self.backend.snapshot(), self._refreshed, self._fail("Could not read status")
        )

    def _refreshed(self, snapshot: tuple[StatusReport, AutoModeState | None]) -> None:
        report, auto = snapshot
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
                f"Auto mode is on (vpnguard watch, PID {auto.pid}): it protects at "
                f"{auto.level or 'strict'} while {vpns} is up, and may undo when it goes down."
            )
        elif auto.holders:
            text = f"Protection is also held by VPN hooks: {', '.join(auto.holders)}."
        else:
            text = (
                "Auto mode is off. 'vpnguard watch' (run as a service) protects automatically "
                "while a VPN is up."
            )
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
        self.statusBar().showMessage("Writing policy…" if op == Action.PROTECT else "Restoring…")
        self.runner.run_task(
            lambda _p: (self.backend.apply(op, level), *self.backend.snapshot()),
            self._applied,
            self._fail("Protection failed" if op == Action.PROTECT else "Undo failed"),
        )

    def _applied(self, result: tuple[Outcome, StatusReport, AutoModeState | None]) -> None:
        outcome, report, auto = result
        self._show_auto(auto)
        self.last_outcome = outcome
        if outcome.action == Action.PROTECT:
            self.restart |= set(outcome.restart_needed)
        else:
            self.restart = set(outcome.restart_needed)
        done = sum(1 for c in outcome.changes if c.action != "unchanged")
        what = "Policy written" if outcome.action == Action.PROTECT else "Protection undone"
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
            "Waiting for the page in your browser…"
            if interactive
            else f"Checking {len(browsers)} browser(s) at once…"
        )
        self.statusBar().showMessage("Leak check running…")
        self.runner.run_task(
            lambda progress: self.backend.check(
                browsers, network, progress, interactive=interactive, stun=stun, turn=turn
            ),
            self._checked,
            self._check_failed,
            self._check_progress,
        )

    def _check_progress(self, browser_id: str, phase: CheckPhase) -> None:
        if self.checking:  # a late progress report never overwrites a verdict
            self.list.set_phase(browser_id, phase)

    def _check_failed(self, exc: BaseException) -> None:
        self.checking = False
        for bid in self.list.items:
            self.list.set_verdict(bid, self.verdicts.get(bid))
        self.check_summary.setText("The check could not run.")
        self._fail("Leak check failed")(exc)

    def _checked(self, outcome: CheckOutcome) -> None:
        self.checking = False
        self.last_check = outcome
        for r in outcome.results:
            self.verdicts[r.browser_id] = r
        for bid in self.list.items:
            self.list.set_verdict(bid, self.verdicts.get(bid))
        leaks = [r.name for r in outcome.results if r.verdict is Verdict.LEAK]
        self.statusBar().showMessage(
            f"Leak check finished in {outcome.duration_ms / 1000:.1f} s", 8000
        )
        self.check_summary.setStyleSheet("color: #c0392b; font-weight: bold;" if leaks else "")
        self._show_warnings()
        if leaks:
            self.check_summary.setText(
                f"Leak found in {', '.join(leaks)}. Protect your browsers (Strict), then check "
                "again. Double-click a browser for details."
            )
        elif outcome.results:
            self.check_summary.setText(
                "No leak found in "
                + ", ".join(r.name for r in outcome.results if r.verdict is not Verdict.SKIPPED)
                + ". Double-click a browser for details."
            )
        self.state_changed.emit(self.overall_state())

    def show_details(self, browser_id: str) -> None:
        result = self.verdicts.get(browser_id)
        if result is None:
            self.statusBar().showMessage("No leak check result for this browser yet.", 4000)
            return
        self.prompter.show_dialog(CheckDetailsDialog(result, self))

    def open_settings(self) -> None:
        from vpnguard.gui.dialogs import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        if self.prompter.show_dialog(dialog):
            self.level.setCurrentIndex(max(0, self.level.findData(self.settings.level)))
            from PySide6.QtWidgets import QApplication

            app = QApplication.instance()
            if isinstance(app, QApplication):
                theme.apply_palette(app, self.settings.appearance)

    def export_bundle(self) -> None:
        from vpnguard.gui.dialogs import ExportDialog

        dialog = ExportDialog(self)
        if not self.prompter.show_dialog(dialog):
            return
        platforms, level, out = dialog.request()
        if not out:
            return
        self.runner.run_task(
            lambda _p: service.export_bundle(platforms, level, None, None, out),
            lambda res: self.prompter.info(
                "Bundle written", f"Wrote {len(res.files)} files to {res.out}."
            ),
            self._fail("Export failed"),
        )

    # ---- window state -------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.report is None and not self.runner.busy:
            QTimer.singleShot(0, self.refresh)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        super().closeEvent(event)
