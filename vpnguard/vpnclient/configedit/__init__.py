"""Pure parts of the VPN-client integration: names, config-text editing, hook scripts.

Everything here is text in, text out: no filesystem, no processes. The
installers in :mod:`vpnguard.vpnclient` read and write the files.
"""
