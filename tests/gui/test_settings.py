"""Settings: saved to an ini file; TURN passwords only to a real keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail

from tests.keyrings import MemoryKeyring
from vpnguard.gui.dialogs import SettingsDialog
from vpnguard.gui.settings import Settings


@pytest.fixture
def restore_keyring() -> Iterator[None]:
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


def test_turn_password_goes_to_the_keyring_not_the_file(
    qtbot: Any, tmp_path: Path, restore_keyring: None
) -> None:
    mem = MemoryKeyring()
    keyring.set_keyring(mem)
    settings = Settings(tmp_path / "gui.ini")
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.turn_url.setText("turn:turn.example.org:3478?transport=tcp")
    dialog.turn_user.setText("alice")
    dialog.turn_password.setText("s3cret-pw")
    dialog.stun.setPlainText("stun:198.51.100.1:3478\n\n")
    dialog.level.setCurrentIndex(dialog.level.findData("balanced"))
    assert dialog.save()
    from vpnguard.core.service import load_turn_secret

    assert load_turn_secret("turn:turn.example.org:3478?transport=tcp", "alice") == "s3cret-pw"
    assert "s3cret-pw" not in (tmp_path / "gui.ini").read_text()
    again = Settings(tmp_path / "gui.ini")
    assert again.level == "balanced"
    assert again.stun_servers == ["stun:198.51.100.1:3478"]
    assert again.turn_server == ("turn:turn.example.org:3478?transport=tcp", "alice")


def test_forget_removes_the_turn_password_from_the_keyring(
    qtbot: Any, tmp_path: Path, restore_keyring: None
) -> None:
    from vpnguard.core import service
    from vpnguard.core.errors import RefusedError

    mem = MemoryKeyring()
    keyring.set_keyring(mem)
    url = "turn:turn.example.org:3478?transport=tcp"
    service.store_turn_secret(url, "alice", "s3cret-pw")
    dialog = SettingsDialog(Settings(tmp_path / "gui.ini"))
    qtbot.addWidget(dialog)
    dialog.turn_url.setText(url)
    dialog.turn_user.setText("")
    assert not dialog.forget()  # whose password? nothing removed
    assert service.load_turn_secret(url, "alice") == "s3cret-pw"
    dialog.turn_user.setText("alice")
    dialog.forget_password.click()
    assert "no longer stored" in dialog.message.text()
    with pytest.raises(RefusedError):
        service.load_turn_secret(url, "alice")
    assert mem.store == {}
    assert dialog.forget()  # forgetting twice is fine


def test_no_keyring_is_a_clear_message_and_nothing_saved(
    qtbot: Any, tmp_path: Path, restore_keyring: None
) -> None:
    keyring.set_keyring(fail.Keyring())
    settings = Settings(tmp_path / "gui.ini")
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.turn_url.setText("turn:turn.example.org:3478")
    dialog.turn_user.setText("alice")
    dialog.turn_password.setText("pw")
    dialog.level.setCurrentIndex(dialog.level.findData("balanced"))
    assert not dialog.save()
    assert "keyring" in dialog.message.text().lower()
    assert Settings(tmp_path / "gui.ini").level == "relay"  # nothing saved: the default


def test_bad_turn_url_is_refused(qtbot: Any, tmp_path: Path) -> None:
    dialog = SettingsDialog(Settings(tmp_path / "gui.ini"))
    qtbot.addWidget(dialog)
    dialog.turn_url.setText("http://example.org")
    assert not dialog.save()
    assert "turn:" in dialog.message.text()


def test_check_passes_stun_and_turn_from_settings(make_window: Any, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    class Recorder:
        def available(self) -> None:
            return None

        def check(self, browsers: Any, network: Any, progress: Any, **kw: Any) -> Any:
            from vpnguard.gui.backend import CheckOutcome

            seen.update(kw)
            return CheckOutcome(())

    w = make_window(checker=Recorder())
    w.settings.stun_servers = ["stun:198.51.100.1:3478"]
    w.settings.turn_server = ("turn:198.51.100.1:3478?transport=tcp", "bob")
    w.refresh()
    w.check()
    assert seen["stun"] == ["stun:198.51.100.1:3478"]
    assert [(t.url, t.username) for t in seen["turn"]] == [
        ("turn:198.51.100.1:3478?transport=tcp", "bob")
    ]
