"""The front end VPN clients call: hook installers, the hook runner and auto mode (``watch``).

Like the CLI and the GUI, it reaches the core through :mod:`vpnguard.core.service`.
The pure text work it needs (config editing, script rendering, interface-name
checks) lives beside it in :mod:`vpnguard.vpnclient.configedit`.
"""
