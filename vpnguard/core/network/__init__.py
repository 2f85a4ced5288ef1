"""VPN and network detection: which interfaces are VPNs, and does traffic use them.

``detect_network()`` answers for ``vpnguard status``; ``route_to()`` asks the
kernel about one destination. Classification and the tunnel decision are
pure (:mod:`.classify`, :mod:`.tunnel`); only :mod:`.detect`, :mod:`.routes`
and :mod:`.windows` touch the OS.
"""

from __future__ import annotations

from vpnguard.core.network.detect import detect_network, route_to

__all__ = ["detect_network", "route_to"]
