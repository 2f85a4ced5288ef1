"""VPN-client integration that touches the OS: hook installers, the hook runner, auto mode.

The pure text work (config editing, script rendering, name checks) lives in
:mod:`vpnguard.core.integrations`; this package reads and writes files, takes
locks and runs ``protect``/``unprotect`` through the same CLI contract users get.
"""
