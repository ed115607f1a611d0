"""rttgeo.serve: the landmark server users deploy on machines they own (docs/serve.md).

:class:`LandmarkServer` answers the v1 UDP echo of :mod:`rttgeo.wire` (the documented
wire format, also used by :mod:`rttgeo.measure.udp`) with its position; optionally it answers TCP
SYNs (with SYN cookies only, so spoofed SYNs are not amplified) so clients can time handshakes.
"""

from __future__ import annotations

from rttgeo.serve.server import LandmarkServer, ServerStats
from rttgeo.wire import DEFAULT_PORT

__all__ = ["DEFAULT_PORT", "LandmarkServer", "ServerStats"]
