"""The Qt-free core: every decision vpnguard makes lives here."""
