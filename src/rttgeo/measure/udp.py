"""UDP prober for the rttgeo landmark server (``rttgeo serve``; wire format in docs/serve.md).

One UDP socket (IPv6 dual-stack, or IPv4 if the kernel has no IPv6) for all probes; each probe
is an ECHO_REQUEST padded to :data:`rttgeo.wire.MIN_REQUEST_SIZE` bytes with a fresh
16-byte random nonce, and only a well-formed ECHO_REPLY from the probed address *and port* echoing
that nonce counts. A reply announcing a position more than ``position_tolerance_km`` (10 km) from
the catalog's ends the probe as ``mismatch``, never as a sample: whoever answers is not the
landmark the catalog describes (an impostor answering for it, or a wrong catalog entry); the
announced position is in the result's ``detail``. No privilege needed. An ICMP port unreachable
quoting the request, nonce included (read from the error queue, ``IP_RECVERR``), ends the probe at
once as ``refused``: no server listens there.

Timing as in :mod:`rttgeo.measure.timestamps` (``so_timestampns``, +2 to +10 µs) plus the
server's own turnaround: its wake-up and Python processing, 30-250 µs on an idle VM. The server
reports that turnaround (kernel receive stamp to send) in its reply; with
``subtract_turnaround=True`` the prober subtracts it (``timing="so_timestampns-turnaround"``),
which brings UDP within a few µs of ping. Do that only for servers you trust: a server that lies
about its turnaround can look closer than it is, so a verifier checking a claim made by whoever
runs the server keeps the default (False). The position, id and turnaround the server announces
are in each result's ``detail``, the last position and id per address in
:attr:`UdpProber.announced`.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Hashable

from rttgeo import wire
from rttgeo.measure.socket_prober import Malformed, Parsed, SocketProber
from rttgeo.models import Landmark
from rttgeo.wire import DEFAULT_PORT

__all__ = ["POSITION_TOLERANCE_KM", "UdpProber"]

#: Default tolerance between an announced and a catalog position, km: far above rounding the
#: coordinates to 0.01 degree (1.1 km) and far below any distance that would matter to an estimate.
POSITION_TOLERANCE_KM = 10.0


def _canonical_ip(ip: str) -> str:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


class UdpProber(SocketProber):
    """Echo to an rttgeo landmark server on ``landmark.port`` or ``port`` (default 8848,
    :data:`rttgeo.wire.DEFAULT_PORT`)."""

    protocol = "udp"

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        request_size: int = wire.MIN_REQUEST_SIZE,
        subtract_turnaround: bool = False,
        position_tolerance_km: float | None = POSITION_TOLERANCE_KM,
    ) -> None:
        super().__init__()
        #: Largest distance (km) between the position a reply announces and the catalog's before
        #: the probe ends as ``mismatch``; None accepts any position.
        self.position_tolerance_km = position_tolerance_km
        if not wire.MIN_REQUEST_SIZE <= request_size <= wire.MAX_DATAGRAM_SIZE:
            raise ValueError(
                f"request_size must be in [{wire.MIN_REQUEST_SIZE}, {wire.MAX_DATAGRAM_SIZE}]"
            )
        self.port = port
        self.request_size = request_size
        self.subtract_turnaround = subtract_turnaround
        #: landmark address -> (server_id, lat_deg, lon_deg) announced in its last reply.
        self.announced: dict[str, tuple[str, float, float]] = {}
        self.family = socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET
        self.recv_errors = True  # ICMP port unreachable: no server there -> "refused" at once

    def _make_socket(self) -> socket.socket:
        if self.family == socket.AF_INET6:
            try:
                sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                return sock
            except OSError:
                self.family = socket.AF_INET  # IPv6 disabled in this kernel
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def _new_probe(self, ip: str, landmark: Landmark) -> tuple[Hashable, bytes, bytes, tuple]:
        nonce = os.urandom(wire.NONCE_SIZE)
        datagram = wire.encode(wire.echo_request(nonce), pad_to=self.request_size)
        port = landmark.port or self.port
        canon = _canonical_ip(ip)
        if self.family == socket.AF_INET6:
            v6 = canon if ":" in canon else f"::ffff:{canon}"
            sockaddr: tuple = (v6, port, 0, 0)
        else:
            if ":" in canon:
                raise ValueError(f"cannot reach IPv6 address {canon}: this kernel has no IPv6")
            sockaddr = (canon, port)
        return (canon, port, nonce), nonce, datagram, sockaddr

    def _parse(self, data: bytes, addr: tuple) -> Parsed | None:
        try:
            msg = wire.decode(data)
        except wire.WireFormatError as exc:
            raise Malformed(str(exc)) from None
        if msg.type != wire.MsgType.ECHO_REPLY:
            raise Malformed(f"message type {msg.type} where a reply was expected")
        src = _canonical_ip(addr[0])
        key = (src, addr[1], msg.nonce)  # the probed address *and* port
        turnaround = msg.turnaround_ns
        known = turnaround is not None and turnaround < 0xFFFFFFFF
        detail = f"server_id={msg.server_id} lat_deg={msg.lat_deg} lon_deg={msg.lon_deg}"
        if known:
            detail += f" turnaround_us={turnaround / 1000:.1f}"  # type: ignore[operator]
        if key in self._pending:
            self.announced[src] = (msg.server_id, msg.lat_deg or 0.0, msg.lon_deg or 0.0)
        adjust = turnaround if known and self.subtract_turnaround else 0
        announced = None
        if msg.lat_deg is not None and msg.lon_deg is not None:
            announced = (msg.lat_deg, msg.lon_deg)
        return Parsed(key, msg.nonce, "ok", detail, adjust or 0, "-turnaround", announced)

    def _verdict(self, parsed: Parsed, landmark: Landmark) -> tuple[str, str] | None:
        """``mismatch`` when the reply announces a position too far from the catalog's."""
        tol = self.position_tolerance_km
        if tol is None or parsed.announced is None:
            return None
        from rttgeo.geo.sphere import distance_km

        lat, lon = parsed.announced
        d_km = float(distance_km(lat, lon, landmark.lat_deg, landmark.lon_deg))
        if d_km <= tol:
            return None
        return "mismatch", (
            f"the reply announces ({lat:.5f}, {lon:.5f}), {d_km:.0f} km from the catalog's "
            f"({landmark.lat_deg:.5f}, {landmark.lon_deg:.5f}) for {landmark.id}: not taken as a "
            f"sample (an impostor, or a wrong catalog entry); {parsed.detail}"
        )

    def _parse_error(
        self, quoted: bytes, dest: tuple, icmp_type: int, icmp_code: int, offender: str
    ) -> Parsed | None:
        try:
            msg = wire.decode(quoted)
        except wire.WireFormatError:
            return None
        if msg.type != wire.MsgType.ECHO_REQUEST:
            return None
        port_unreachable = (icmp_type, icmp_code) in ((3, 3), (1, 4))  # ICMPv4, ICMPv6
        status = "refused" if port_unreachable else "unreachable"
        what = "port unreachable (no rttgeo serve there)" if port_unreachable else "unreachable"
        detail = f"ICMP {what}, type {icmp_type} code {icmp_code}, from {offender or '?'}"
        return Parsed((_canonical_ip(dest[0]), dest[1], msg.nonce), msg.nonce, status, detail)
