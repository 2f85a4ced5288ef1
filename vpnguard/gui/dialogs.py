"""Dialogs and the one place the window asks the user something (:class:`Prompter`).

Tests replace :class:`Prompter` with a fake that answers at once, so no test
ever blocks on a modal dialog.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vpnguard.core.errors import VpnguardError
from vpnguard.gui.backend import CheckResult


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(what a person reads, the detail with kind, exit code and trace)."""
    if isinstance(exc, VpnguardError):
        text = exc.message[:1].upper() + exc.message[1:]
        detail = f"kind: {exc.kind}\nexit code: {int(exc.exit_code)}"
        if exc.path:
            detail += f"\npath: {exc.path}"
        return text, detail
    text = (
        "Something went wrong inside vpnguard. Nothing more was changed after the error. "
        "Please report this with the details below."
    )
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return text, f"kind: internal_error\nexit code: 5\n\n{trace}"


class Prompter:
    """Asks and tells the user things through message boxes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    def confirm(self, title: str, text: str, details: str = "", yes: str = "Continue") -> bool:
        box, ok = self.confirm_box(title, text, details, yes)
        box.exec()
        return box.clickedButton() is ok

    def confirm_box(
        self, title: str, text: str, details: str = "", yes: str = "Continue"
    ) -> tuple[QMessageBox, QPushButton]:
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(title)
        box.setText(text)
        if details:
            box.setInformativeText(details)
        box.setTextFormat(Qt.TextFormat.PlainText)
        ok = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(ok)
        return box, ok

    def error(self, title: str, exc: BaseException) -> None:
        text, detail = describe_error(exc)
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(text)
        box.setDetailedText(detail)
        box.exec()

    def info(self, title: str, text: str, details: str = "") -> None:
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle(title)
        box.setText(text)
        if details:
            box.setInformativeText(details)
        box.exec()

    def show_dialog(self, dialog: QDialog) -> int:
        return dialog.exec()


class CheckDetailsDialog(QDialog):
    """Verdict, reason and every candidate the page got for one browser."""

    def __init__(self, result: CheckResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Leak check details: {result.name}")
        self.resize(640, 480)
        layout = QVBoxLayout(self)
        head = QLabel(f"<b>{result.name}</b>: {VERDICT_TEXT.get(result.verdict, result.verdict)}")
        head.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(head)
        reason = QLabel(result.reason)
        reason.setWordWrap(True)
        reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(reason)
        layout.addWidget(QLabel("Candidates the page received:"))
        cands = QPlainTextEdit("\n".join(result.candidates) or "(none)")
        cands.setReadOnly(True)
        cands.setAccessibleName("ICE candidates")
        layout.addWidget(cands)
        raw = QPlainTextEdit(json.dumps(dict(result.details), indent=2, default=str))
        raw.setReadOnly(True)
        raw.setAccessibleName("Full result as JSON")
        raw.setVisible(False)
        more = QPushButton("Show full &report")
        more.setCheckable(True)
        more.toggled.connect(raw.setVisible)
        layout.addWidget(more, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(raw)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


VERDICT_TEXT: Mapping[str, str] = {
    "pass": "No leak",
    "leak": "Leak found",
    "webrtc_disabled": "WebRTC is off",
    "inconclusive": "Inconclusive",
    "error": "Check failed",
    "skipped": "Not checked",
}


class SettingsDialog(QDialog):
    """Default level, appearance, STUN and TURN servers (TURN password to the keyring)."""

    def __init__(self, settings: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("vpnguard settings")
        form = QFormLayout()
        self.level = QComboBox()
        from vpnguard.gui.window import add_level_items

        add_level_items(self.level)
        self.level.setCurrentIndex(max(0, self.level.findData(settings.level)))
        self.level.setAccessibleName("Default protection level")
        form.addRow("Default &level:", self.level)
        self.appearance = QComboBox()
        for label, value in (("Follow the system", "system"), ("Light", "light"), ("Dark", "dark")):
            self.appearance.addItem(label, value)
        self.appearance.setCurrentIndex(["system", "light", "dark"].index(settings.appearance))
        self.appearance.setAccessibleName("Appearance")
        form.addRow("&Appearance:", self.appearance)
        self.stun = QPlainTextEdit("\n".join(settings.stun_servers))
        self.stun.setAccessibleName("STUN servers, one per line")
        self.stun.setPlaceholderText("empty: vpnguard's default public STUN servers")
        self.stun.setFixedHeight(70)
        form.addRow("&STUN servers\n(one per line):", self.stun)
        url, user = settings.turn_server
        self.turn_url = QLineEdit(url)
        self.turn_url.setPlaceholderText("turn:turn.example.org:3478?transport=tcp")
        self.turn_url.setAccessibleName("TURN server URL")
        form.addRow("&TURN server:", self.turn_url)
        self.turn_user = QLineEdit(user)
        self.turn_user.setAccessibleName("TURN user name")
        form.addRow("TURN &user:", self.turn_user)
        self.turn_password = QLineEdit()
        self.turn_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.turn_password.setPlaceholderText("kept in the system keyring; leave empty to keep")
        self.turn_password.setAccessibleName("TURN password")
        form.addRow("TURN &password:", self.turn_password)
        self.forget_password = QPushButton("&Forget saved TURN password")
        self.forget_password.setAccessibleName("Forget saved TURN password")
        self.forget_password.clicked.connect(self.forget)
        form.addRow("", self.forget_password)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Settings message")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def forget(self) -> bool:
        """Remove the TURN password for the URL and user shown from the system keyring."""
        from vpnguard.core.errors import VpnguardError
        from vpnguard.core.service import delete_turn_secret

        url, user = self.turn_url.text().strip(), self.turn_user.text().strip()
        if not (url and user):
            self.message.setText(
                "Enter the TURN server URL and user name whose password to forget."
            )
            return False
        try:
            delete_turn_secret(url, user)
        except VpnguardError as exc:  # no usable keyring
            self.message.setText(exc.message[:1].upper() + exc.message[1:])
            return False
        self.turn_password.clear()
        self.message.setText(f"The TURN password for {user} is no longer stored.")
        return True

    def save(self) -> bool:
        from vpnguard.core.errors import VpnguardError
        from vpnguard.core.service import store_turn_secret

        url, user = self.turn_url.text().strip(), self.turn_user.text().strip()
        password = self.turn_password.text()
        if url and not url.startswith(("turn:", "turns:")):
            self.message.setText("A TURN server URL starts with turn: or turns:.")
            return False
        if password:
            if not (url and user):
                self.message.setText("A TURN password needs the server URL and a user name.")
                return False
            try:
                store_turn_secret(url, user, password)
            except VpnguardError as exc:  # no keyring (NoKeyringError) or a plaintext one
                self.message.setText(exc.message[:1].upper() + exc.message[1:])
                return False
        self.settings.level = self.level.currentData()
        self.settings.appearance = self.appearance.currentData()
        self.settings.stun_servers = [
            s.strip() for s in self.stun.toPlainText().splitlines() if s.strip()
        ]
        self.settings.turn_server = (url, user)
        self.settings.sync()
        self.accept()
        return True


class ExportDialog(QDialog):
    """Admin policy bundle: platforms, level, output folder (``service.export_bundle``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtWidgets import QCheckBox

        from vpnguard.core.service import export_platforms

        self.setWindowTitle("Export policy bundle")
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Write the same WebRTC policy as files an administrator deploys with their own "
            "tools (install scripts, .reg/PowerShell/Intune, a macOS configuration profile)."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        row = QHBoxLayout()
        self.platforms: dict[str, QCheckBox] = {}
        for p in export_platforms():
            box = QCheckBox(p.value)
            box.setChecked(True)
            self.platforms[p.value] = box
            row.addWidget(box)
        form.addRow("Platforms:", row)
        self.level = QComboBox()
        self.level.addItem("Strict (recommended)", "strict")
        self.level.addItem("Balanced", "balanced")
        form.addRow("&Level:", self.level)
        out_row = QHBoxLayout()
        self.out = QLineEdit()
        self.out.setAccessibleName("Output folder or .zip")
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self._browse)
        out_row.addWidget(self.out)
        out_row.addWidget(browse)
        form.addRow("&Save to:", out_row)
        layout.addLayout(form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save bundle", "vpnguard-policy.zip", "*.zip")
        if path:
            self.out.setText(path)

    def request(self) -> tuple[list[str], str, str]:
        platforms = [name for name, box in self.platforms.items() if box.isChecked()]
        return platforms, str(self.level.currentData()), self.out.text().strip()
