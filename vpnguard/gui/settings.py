"""The app's own settings (window state, default level, STUN/TURN servers).

An ini file in the platformdirs user config dir, so it is the same readable
file on every OS. TURN passwords are never in it: they go to the OS keyring
(see :mod:`vpnguard.gui.secrets`).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from vpnguard.core.model import LevelChoice


def config_path(config_dir: str | None = None) -> Path:
    if config_dir is None:
        config_dir = os.environ.get("VPNGUARD_GUI_CONFIG_DIR")
    if config_dir is None:
        import platformdirs

        config_dir = platformdirs.user_config_dir("vpnguard", appauthor=False)
    return Path(config_dir) / "gui.ini"


class Settings:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.qs = QSettings(str(path), QSettings.Format.IniFormat)

    def _str(self, key: str, default: str) -> str:
        value = self.qs.value(key, default)
        return str(value) if value is not None else default

    @property
    def level(self) -> str:
        value = self._str("protect/level", "relay")  # the recommended level (docs/matrix.md)
        return value if value in set(LevelChoice) else LevelChoice.RELAY.value

    @level.setter
    def level(self, value: str) -> None:
        self.qs.setValue("protect/level", value)

    @property
    def appearance(self) -> str:
        value = self._str("ui/appearance", "system")
        return value if value in ("system", "light", "dark") else "system"

    @appearance.setter
    def appearance(self, value: str) -> None:
        self.qs.setValue("ui/appearance", value)

    @property
    def stun_servers(self) -> list[str]:
        raw = self._str("check/stun", "")  # empty: the leak check's own default list
        return [s.strip() for s in raw.splitlines() if s.strip()]

    @stun_servers.setter
    def stun_servers(self, value: list[str]) -> None:
        self.qs.setValue("check/stun", "\n".join(value))

    @property
    def turn_server(self) -> tuple[str, str]:
        """(url, username); the password is in the keyring."""
        return self._str("check/turn_url", ""), self._str("check/turn_user", "")

    @turn_server.setter
    def turn_server(self, value: tuple[str, str]) -> None:
        self.qs.setValue("check/turn_url", value[0])
        self.qs.setValue("check/turn_user", value[1])

    def geometry(self) -> QByteArray | None:
        value = self.qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self.qs.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qs.setValue("window/geometry", geometry)
        self.qs.setValue("window/state", state)

    def sync(self) -> None:
        self.qs.sync()
