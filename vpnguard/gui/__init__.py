"""The desktop app: the only package of vpnguard that imports PySide6.

It talks to the Qt-free core only through :mod:`vpnguard.core.service` (via
:mod:`vpnguard.gui.backend`) and runs every detection, write and check on a
worker thread (:mod:`vpnguard.gui.worker`).
"""
