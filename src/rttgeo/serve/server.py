"""The rttgeo landmark server: answers ECHO_REQUESTs over UDP with its position (docs/serve.md).

Use in-process (tests, notebooks)::

    server = LandmarkServer(48.85, 2.35, server_id="paris-1", port=0, tcp=True)
    await server.start()        # binds; server.port is the UDP (and TCP) port
    ...
    await server.stop()

Safety: replies are never longer than the request (requests shorter than the reply are dropped),
each source IP has a token bucket (``rate_per_s``, ``burst``) in bounded memory, a global bucket
caps the total reply rate, and malformed datagrams are dropped and counted by reason. With ``tcp``
a TCP listener on the same port accepts and closes connections, so clients can time handshakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket
import struct
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from rttgeo import wire
from rttgeo.errors import InputError, MeasurementError, PermissionDenied
from rttgeo.serve.ratelimit import TokenBucketLimiter
from rttgeo.wire import DEFAULT_PORT

if TYPE_CHECKING:  # pragma: no cover
    from rttgeo.serve.challenge import ChallengeResponder

__all__ = ["DEFAULT_PORT", "LandmarkServer", "ServerStats"]

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux value; the cmsg type is the same
_TIMESPEC = struct.Struct("@qq")
_IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
_IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
_IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
_IN_PKTINFO = struct.Struct("=i4s4s")  # ifindex, spec_dst, addr
_ANCBUF = socket.CMSG_SPACE(_TIMESPEC.size) + socket.CMSG_SPACE(_IN_PKTINFO.size) + 64
_RECV_SIZE = 2048  # > MAX_DATAGRAM_SIZE, so oversized datagrams are seen as such


def _parse_anc(
    ancdata: list[tuple[int, int, bytes]],
) -> tuple[int | None, list[tuple[int, int, bytes]]]:
    """(kernel receive stamp ns, control messages that make the reply leave from the address the
    request was sent to) from ``recvmsg`` ancillary data."""
    stamp = None
    reply_anc: list[tuple[int, int, bytes]] = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            stamp = sec * 1_000_000_000 + nsec
        elif level == socket.IPPROTO_IPV6 and kind == _IPV6_PKTINFO and len(data) >= 20:
            reply_anc = [(level, kind, bytes(data[:16]) + bytes(4))]  # that address, any interface
        elif level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(data) >= _IN_PKTINFO.size:
            _ifindex, _spec, dst = _IN_PKTINFO.unpack_from(data)
            reply_anc = [(level, kind, _IN_PKTINFO.pack(0, dst, bytes(4)))]
    return stamp, reply_anc


@dataclass(slots=True)
class ServerStats:
    """Counters of one server run; ``malformed`` counts dropped datagrams by reason."""

    received: int = 0
    replied: int = 0
    rate_limited: int = 0
    global_limited: int = 0
    too_short: int = 0
    unsupported: int = 0
    send_errors: int = 0
    send_dropped: int = 0
    malformed: dict[str, int] = field(default_factory=dict)
    tcp_accepted: int = 0

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["malformed_total"] = self.malformed_total
        return d


def _bind_error(exc: OSError, what: str, host: str, port: int) -> Exception:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(
            f"cannot bind {what} {host}:{port}: {exc.strerror}; ports below 1024 need root or "
            f"CAP_NET_BIND_SERVICE: choose --port 1024 or above (default {DEFAULT_PORT})"
        )
    if exc.errno == errno.EADDRINUSE:
        return MeasurementError(
            f"cannot bind {what} {host}:{port}: the port is in use; stop the other server or "
            "choose another --port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return MeasurementError(
            f"cannot bind {what} {host}:{port}: no interface has that address; check --bind"
        )
    return MeasurementError(f"cannot bind {what} {host}:{port}: {exc}")


class LandmarkServer:
    """A landmark at (``lat_deg``, ``lon_deg``) answering on UDP ``port`` (0 = any free port).

    ``host`` "" binds every address (IPv6 dual-stack when available, else IPv4). ``challenge``
    (``rttgeo serve --key``) answers the signed challenge-response on the same port
    (:mod:`rttgeo.serve.challenge`), under the same rate limits.
    """

    def __init__(
        self,
        lat_deg: float,
        lon_deg: float,
        *,
        server_id: str = "",
        host: str = "",
        port: int = DEFAULT_PORT,
        tcp: bool = False,
        rate_per_s: float = 20.0,
        burst: float = 40.0,
        max_sources: int = 65536,
        global_rate_per_s: float = 20000.0,
        challenge: ChallengeResponder | None = None,
    ) -> None:
        # Validate now, so that a bad position fails before binding.
        self._template = wire.encode(wire.echo_reply(bytes(16), lat_deg, lon_deg, server_id))
        self._no_turnaround = wire.turnaround_tlv(0xFFFFFFFF)  # "unknown": no kernel stamp
        self.lat_deg = lat_deg
        self.lon_deg = lon_deg
        self.server_id = server_id
        self.host = host
        self.port = port
        self.tcp = tcp
        self.reply_size = len(self._template) + len(self._no_turnaround)
        self.limiter = TokenBucketLimiter(rate_per_s, burst, max_sources)
        self.global_limiter = TokenBucketLimiter(global_rate_per_s, global_rate_per_s, 1)
        self.stats = ServerStats()
        self.challenge = challenge
        self._sock: socket.socket | None = None
        self._tcp_sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- datagram logic (pure apart from the counters; unit-testable without sockets) ------------
    def handle(self, data: bytes, source: str, rx_real_ns: int | None = None,
               port: int = 0) -> bytes | None:
        """The reply to one datagram from ``source`` (IP) and ``port``, or None if it is dropped
        (counted).

        ``rx_real_ns`` is the kernel's CLOCK_REALTIME receive stamp of the datagram; the reply's
        TURNAROUND TLV then says how long the server held it (else 2**32-1, "unknown").
        """
        stats = self.stats
        stats.received += 1
        if wire.peek_type(data) == wire.MsgType.CHALLENGE_REQUEST:
            if self.challenge is None:
                stats.unsupported += 1  # not a signing landmark (no --key)
                return None
            reply = self.challenge.handle(data, (source, port), rx_real_ns,
                                          lambda: self._allow(source))
            if reply is not None:
                stats.replied += 1
            return reply
        try:
            msg = wire.decode(data)
        except wire.WireFormatError as exc:
            stats.malformed[exc.reason] = stats.malformed.get(exc.reason, 0) + 1
            return None
        if msg.type != wire.MsgType.ECHO_REQUEST:
            stats.unsupported += 1
            return None
        if len(data) < self.reply_size or len(data) < wire.MIN_REQUEST_SIZE:
            stats.too_short += 1
            return None
        if not self.limiter.allow(source):
            stats.rate_limited += 1
            return None
        if not self.global_limiter.allow(None):
            stats.global_limited += 1
            return None
        t = self._template
        stats.replied += 1
        if rx_real_ns is None:
            tail = self._no_turnaround
        else:
            tail = wire.turnaround_tlv(time.clock_gettime_ns(time.CLOCK_REALTIME) - rx_real_ns)
        return t[:8] + msg.nonce + t[24:] + tail

    def _allow(self, source: str) -> bool:
        """Spend a token of ``source`` and of the global bucket (challenge messages)."""
        if not self.limiter.allow(source):
            self.stats.rate_limited += 1
            return False
        if not self.global_limiter.allow(None):
            self.stats.global_limited += 1
            return False
        return True

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(256):
            try:
                data, anc, _flags, addr = sock.recvmsg(_RECV_SIZE, _ANCBUF)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.stats.send_errors += 1  # an ICMP error about an earlier reply
                continue
            stamp, reply_anc = _parse_anc(anc)
            reply = self.handle(data, addr[0], stamp, addr[1])
            if reply is None:
                continue
            try:
                if reply_anc:
                    sock.sendmsg([reply], reply_anc, 0, addr)
                else:
                    sock.sendto(reply, addr)
            except (BlockingIOError, InterruptedError):
                self.stats.send_dropped += 1  # send buffer full: shed load, never queue
            except OSError:
                self.stats.send_errors += 1

    # -- sockets ---------------------------------------------------------------------------------
    def _make_udp_socket(self) -> socket.socket:
        family = socket.AF_INET
        host = self.host
        if not host:
            if socket.has_ipv6:
                family, host = socket.AF_INET6, "::"
            else:
                host = "0.0.0.0"
        else:
            try:
                version = ipaddress.ip_address(host).version
            except ValueError:
                raise InputError(
                    f"bind address {host!r} is not an IP address (e.g. 0.0.0.0, ::, 192.0.2.7)",
                    field="bind",
                ) from None
            if version == 6:
                family = socket.AF_INET6
        for attempt in (0, 1):
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                if family == socket.AF_INET6 and not self.host:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.bind((host, self.port))
                sock.setblocking(False)
                return sock
            except OSError as exc:
                sock.close()
                if attempt == 0 and not self.host and exc.errno == errno.EAFNOSUPPORT:
                    family, host = socket.AF_INET, "0.0.0.0"  # IPv6 disabled in the kernel
                    continue
                raise _bind_error(exc, "UDP", host, self.port) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _make_tcp_socket(self, family: int, host: str) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and not self.host:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind((host, self.port))
            sock.listen(1024)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise _bind_error(exc, "TCP", host, self.port) from exc
        return sock

    def _accept_all(self) -> None:
        assert self._tcp_sock is not None
        for _ in range(256):
            try:
                conn, _addr = self._tcp_sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.stats.tcp_accepted += 1
            conn.close()

    async def start(self) -> None:
        """Bind the sockets (synchronously, in the calling thread's network namespace) and serve."""
        if self._sock is not None:
            raise RuntimeError("server already started")
        loop = asyncio.get_running_loop()
        udp = self._make_udp_socket()
        family = udp.family
        host = udp.getsockname()[0]
        self.port = udp.getsockname()[1]
        tcp_sock = None
        if self.tcp:
            try:
                tcp_sock = self._make_tcp_socket(family, host)
            except BaseException:
                udp.close()
                raise
        with contextlib.suppress(OSError):
            udp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        # On a multi-homed host, answer from the address each request was sent to (clients only
        # accept replies from the address they probed).
        with contextlib.suppress(OSError):
            if udp.family == socket.AF_INET6:
                udp.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVPKTINFO, 1)
            else:
                udp.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
        self._sock = udp
        self._loop = loop
        loop.add_reader(udp.fileno(), self._on_readable)
        if tcp_sock is not None:
            self._tcp_sock = tcp_sock
            loop.add_reader(tcp_sock.fileno(), self._accept_all)

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        if self._sock is None:
            raise RuntimeError("server not started")
        name = self._sock.getsockname()
        return name[0], name[1]

    async def stop(self) -> None:
        """Close the sockets; counters stay readable in :attr:`stats`."""
        if self._tcp_sock is not None:
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._tcp_sock.fileno())
            self._tcp_sock.close()
            self._tcp_sock = None
        if self._sock is not None:
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        await asyncio.sleep(0)

    async def __aenter__(self) -> LandmarkServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
