"""Dialogs and the one place the window asks the user something (:class:`Prompter`).

Tests replace :class:`Prompter` with a fake that answers at once, so no test
ever blocks on a modal dialog.
"""

from __future__ import annotations

import html
import json
import os
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
        said = getattr(exc, "stderr", "")
        if said:
            detail += f"\nthe tool said: {said}"
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
    """Plain verdict first; per-view and call results; then reasons, candidates, raw JSON."""

    def __init__(self, result: CheckResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from vpnguard.gui import results as wording

        self.setWindowTitle(f"Leak check details: {result.name}")
        self.resize(640, 480)
        layout = QVBoxLayout(self)
        verdict = wording.VERDICT_TEXT.get(result.verdict, result.verdict)
        head = QLabel(f"<b>{html.escape(result.name)}</b>: {html.escape(verdict)}")
        head.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(head)
        lines = [
            wording.VERDICT_SENTENCE.get(result.verdict, ""),
            wording.views_sentence(result),
            wording.call_sentence(result),
        ]
        self.plain = QLabel("\n".join(line for line in lines if line))
        self.plain.setWordWrap(True)
        self.plain.setAccessibleName("What the check found")
        layout.addWidget(self.plain)
        tech = [f"Reason: {result.reason}"]
        for v in result.details.get("views") or ():
            if isinstance(v, Mapping):
                name = wording.VIEW_NAMES.get(str(v.get("name")), str(v.get("name")))
                tech.append(f"Seen by {name}: {v.get('verdict')} ({v.get('reason', '')})")
        call = result.details.get("call")
        if isinstance(call, Mapping):
            path = call.get("path") if isinstance(call.get("path"), Mapping) else {}
            assert isinstance(path, Mapping)
            how = ", ".join(f"{k} {v}" for k, v in path.items() if v)
            state = f"connected in {call.get('ms')} ms" if call.get("connected") else "no call"
            tech.append(
                f"Call test: {state}"
                + (f" ({how})" if how else "")
                + f". {call.get('reason') or ''}"
            )
        self.reason = QLabel("\n".join(tech))
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason.setAccessibleName("Technical reason")
        layout.addWidget(self.reason)
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


class SettingsDialog(QDialog):
    """Default level, appearance, STUN and TURN servers (TURN password to the keyring)."""

    def __init__(self, settings: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("vpnguard settings")
        form = QFormLayout()
        self.level = QComboBox()
        _fill_levels(self.level, settings.level)
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


PLATFORM_NAMES: Mapping[str, str] = {"linux": "Linux", "windows": "Windows", "macos": "macOS"}


def _fill_levels(combo: QComboBox, current: str) -> None:
    from vpnguard.gui.window import LEVEL_CHOICES

    for value, label, _text in LEVEL_CHOICES:
        combo.addItem(label, value)
    index = combo.findData(current)
    combo.setCurrentIndex(max(index, 0))


class ExportDialog(QDialog):
    """Admin policy bundle: platforms, level, output folder or .zip (``service.export_bundle``).

    A path the user chose to replace in the file picker ("Replace?" → Yes) is
    exported with ``force``; any other existing path is refused by the core.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtWidgets import QCheckBox

        from vpnguard.core.service import export_platforms

        self.setWindowTitle("Export policy bundle")
        self.setMinimumWidth(520)
        self.replace: str | None = None  # the path the user agreed to replace
        self.message = QLabel("")
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
            box = QCheckBox(PLATFORM_NAMES.get(p.value, p.value))
            box.setChecked(True)
            self.platforms[p.value] = box
            row.addWidget(box)
        row.addStretch(1)
        form.addRow("Platforms:", row)
        self.level = QComboBox()
        _fill_levels(self.level, "strict")
        level_label = QLabel("&Level:")
        level_label.setBuddy(self.level)
        form.addRow(level_label, self.level)
        out_row = QHBoxLayout()
        self.out = QLineEdit()
        self.out.setAccessibleName("Output folder or .zip")
        self.out.setPlaceholderText("a new folder, or a file ending in .zip")
        self.out.textEdited.connect(lambda _t: self.message.setText(""))
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self._browse)
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        out_label = QLabel("&Save to:")
        out_label.setBuddy(self.out)
        form.addRow(out_label, out_row)
        layout.addLayout(form)
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Export message")
        self.message.setStyleSheet("color: #c0392b;")
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save bundle", "vpnguard-policy.zip", "*.zip")
        if path:
            self.chosen(path)

    def chosen(self, path: str) -> None:
        """A path from the file picker, which already asked "Replace?" if it exists."""
        self.out.setText(path)
        self.replace = path if os.path.exists(path) else None
        self.message.setText("")

    def try_accept(self) -> bool:
        out = self.out.text().strip()
        if not out:
            self.message.setText("Choose where to save the bundle (a folder or a .zip file).")
            return False
        if not any(box.isChecked() for box in self.platforms.values()):
            self.message.setText("Choose at least one platform.")
            return False
        if os.path.exists(out) and out != self.replace:
            self.message.setText(
                f"{out} already exists. Choose it with “Browse…” to replace it, or type a new name."
            )
            return False
        self.accept()
        return True

    def request(self) -> tuple[list[str], str, str, bool]:
        platforms = [name for name, box in self.platforms.items() if box.isChecked()]
        out = self.out.text().strip()
        return platforms, str(self.level.currentData()), out, out == self.replace
