"""Start the desktop app: ``vpnguard gui`` or the ``vpnguard-gui`` launcher."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from vpnguard.core.errors import RefusedError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", metavar="DIR", help="work on the file tree DIR instead of this computer"
    )
    parser.add_argument(
        "--config-dir", metavar="DIR", help="keep the app's settings in DIR (default: per user)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")


def refuse_root(root: str | None) -> str | None:
    """Why the GUI will not start, or None. It never runs as root: writes go to the helper."""
    from vpnguard.core import service

    if root is None and service.host().is_admin:
        return (
            "the desktop app does not run as root. Start it as yourself: it asks "
            "for an administrator password only when it writes policy. (Root may still use "
            "'vpnguard protect' in a terminal, or the app with --root DIR on a file tree.)"
        )
    return None


def run(args: argparse.Namespace) -> int:
    why = refuse_root(args.root)
    if why:
        raise RefusedError(why)
    from PySide6.QtWidgets import QApplication

    from vpnguard.gui import theme
    from vpnguard.gui.backend import Backend
    from vpnguard.gui.settings import Settings, config_path
    from vpnguard.gui.tray import make_tray
    from vpnguard.gui.window import MainWindow

    if args.root is not None:
        from vpnguard.core import service

        service.host(args.root)  # a missing tree is a usage error before any window
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("vpnguard")
    app.setOrganizationName("vpnguard")
    app.setApplicationDisplayName("vpnguard")
    app.setDesktopFileName(theme.APP_ID)
    app.setWindowIcon(theme.app_icon())
    settings = Settings(config_path(args.config_dir))
    theme.apply_palette(app, settings.appearance)
    window = MainWindow(Backend(args.root), settings)
    window.show()
    tray = make_tray(window)
    app.setQuitOnLastWindowClosed(True)
    code = app.exec()
    del tray
    return int(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vpnguard-gui", description="vpnguard desktop app")
    add_arguments(parser)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="vpnguard: %(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args)
    except Exception as exc:  # a message, not a traceback
        from vpnguard.core.errors import VpnguardError

        if isinstance(exc, VpnguardError):
            sys.stderr.write(f"vpnguard: error: {exc.message}\n")
            return int(exc.exit_code)
        raise


if __name__ == "__main__":
    sys.exit(main())
