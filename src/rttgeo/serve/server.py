"""The rttgeo landmark server: answers ECHO_REQUESTs over UDP with its position (docs/serve.md).

Use in-process (tests, notebooks)::

    server = LandmarkServer(48.85, 2.35, server_id="paris-1", port=0, tcp=True)
    await server.start()        # binds; server.port is the UDP (and TCP) port
    ...
    await server.stop()

Safety: replies are never longer than the request (requests shorter than the reply are dropped),
each source IP has a token bucket (``rate_per_s``, ``burst``) in bounded memory, a global bucket
caps the total reply rate, and malformed datagrams are dropped and counted by reason. With ``tcp``
a TCP listener on the same port answers SYNs with SYN-ACKs, so clients can time handshakes.

No reflection through TCP: the kernel, not this process, answers SYNs, before any rate limit here
could see them, and a listener with a SYN queue resends each unanswered SYN-ACK to the (possibly
spoofed) source up to ``tcp_synack_retries`` (5) times: x6 in packets. So the listener has a
backlog of 0, which makes the kernel answer SYNs with stateless SYN cookies (one SYN-ACK, never
resent), and a socket filter (:data:`_SYN_FILTER`) passes only pure SYNs whose options start with
MSS: a SYN without it could draw a cookie SYN-ACK longer than itself (a bare 40-byte SYN draws
44 bytes), and no ACK ever completes a connection, so the server holds no TCP state at all.
With ``net.ipv4.tcp_syncookies = 2`` that is exactly one SYN-ACK per SYN, never more bytes out
than in. With the default 1 the kernel still keeps one request at a time in the queue (a backlog
of 0 admits one); the listener's ``TCP_SYNCNT`` of 1 lets that one resend once, so a flood draws
at most one extra SYN-ACK per 3 s. ``tcp_syncookies = 0`` is refused. Measured in
tests/serve/test_serve_reflection.py and benchmarks/bench_serve_load.py.
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

__all__ = [
    "DEFAULT_IPV6_PREFIX_LEN",
    "DEFAULT_PORT",
    "LandmarkServer",
    "ServerStats",
    "source_key",
]

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

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["malformed_total"] = self.malformed_total
        return d


# -- TCP without reflection ----------------------------------------------------------------------
#: Classic BPF run by the kernel on every segment reaching the listener (tcp_filter runs for
#: LISTEN sockets too, before any SYN-ACK), offsets from the TCP header. Only a pure SYN (SYN set,
#: ACK clear) whose options start with MSS (kind 2, length 4), as every real TCP stack sends, gets
#: through. Everything else is dropped: SYNs without that option (their cookie SYN-ACK could be
#: longer than they are), and every ACK, RST or data segment, so no connection is ever completed
#: on the server's side: the accept queue stays empty (a full one would drop SYNs of concurrent
#: probes), spoofed ACKs draw no RST, and the client, which has its SYN-ACK and so its RTT,
#: closes on its own.
_SYN_FILTER = (
    (0x30, 0, 0, 13),          # A = flags byte
    (0x54, 0, 0, 0x12),        # A &= SYN | ACK
    (0x15, 0, 6, 0x02),        # pure SYN? else drop
    (0x30, 0, 0, 12),          # A = data offset byte
    (0x74, 0, 0, 4),           # A >>= 4 (header length in 32-bit words)
    (0x35, 0, 3, 6),           # options present (>= 6 words)? else drop
    (0x28, 0, 0, 20),          # A = first option's kind and length
    (0x15, 0, 1, 0x0204),      # MSS, length 4? else drop
    (0x06, 0, 0, 0xFFFFFFFF),  # accept
    (0x06, 0, 0, 0),           # drop
)
_SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)


def attach_syn_filter(sock: socket.socket) -> None:
    """Attach :data:`_SYN_FILTER` to a TCP socket (no privilege needed; OSError if refused)."""
    import ctypes

    code = b"".join(struct.pack("=HBBI", *ins) for ins in _SYN_FILTER)
    buf = ctypes.create_string_buffer(code)
    prog = struct.pack("@HP", len(_SYN_FILTER), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, prog)


def syncookies_mode(path: str = "/proc/sys/net/ipv4/tcp_syncookies") -> int:
    """``net.ipv4.tcp_syncookies`` of the calling thread's network namespace (-1 if unreadable):
    0 never, 1 when the SYN queue is full, 2 always."""
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return -1


def require_syncookies() -> int:
    """The SYN cookie mode, or MeasurementError if SYN cookies are off (the TCP listener relies
    on them: with a backlog of 0 and no cookies every SYN would be dropped, and any larger backlog
    resends each SYN-ACK to a spoofed source up to ``tcp_synack_retries`` times)."""
    mode = syncookies_mode()
    if mode not in (1, 2):
        raise MeasurementError(
            f"--tcp needs SYN cookies (net.ipv4.tcp_syncookies is {mode if mode >= 0 else '?'}): "
            "set it to 2 with 'sysctl -w net.ipv4.tcp_syncookies=2' (one SYN-ACK per SYN), "
            "or serve UDP only"
        )
    return mode


# -- rate-limit keys ------------------------------------------------------------------------------
#: Default prefix length that IPv6 sources are grouped by: one /64 is what one subscriber or one
#: host usually gets, so per /128 one attacker owns 2**64 buckets.
DEFAULT_IPV6_PREFIX_LEN = 64


def source_key(address: str, ipv6_prefix_len: int = DEFAULT_IPV6_PREFIX_LEN) -> str | bytes:
    """The rate-limit bucket of a source address: an IPv4 address itself (also when it arrives as
    an IPv4-mapped IPv6 address on a dual-stack socket), an IPv6 address's first
    ``ipv6_prefix_len`` bits (a zone ``%eth0`` is ignored)."""
    if ":" not in address:
        return address
    addr = address.split("%", 1)[0]
    if addr.startswith("::ffff:") and "." in addr:
        return addr[7:]
    try:
        raw = socket.inet_pton(socket.AF_INET6, addr)
    except OSError:
        return address
    if ipv6_prefix_len >= 128:
        return raw
    full, rest = divmod(ipv6_prefix_len, 8)
    key = raw[:full]
    if rest:
        key += bytes([raw[full] & (0xFF << (8 - rest)) & 0xFF])
    return key


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
        ipv6_prefix_len: int = DEFAULT_IPV6_PREFIX_LEN,
    ) -> None:
        if not 1 <= ipv6_prefix_len <= 128:
            raise InputError("must be in [1, 128]", field="ipv6_prefix_len")
        self.ipv6_prefix_len = ipv6_prefix_len
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
        #: net.ipv4.tcp_syncookies where the TCP listener was made (2: exactly one SYN-ACK per
        #: SYN; 1: one SYN at a time may draw one resent SYN-ACK); None without TCP.
        self.syncookies: int | None = None
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
        if not self._allow(source):
            return None
        t = self._template
        stats.replied += 1
        if rx_real_ns is None:
            tail = self._no_turnaround
        else:
            tail = wire.turnaround_tlv(time.clock_gettime_ns(time.CLOCK_REALTIME) - rx_real_ns)
        return t[:8] + msg.nonce + t[24:] + tail

    def _allow(self, source: str) -> bool:
        """Spend a token of ``source``'s bucket (its /64 for IPv6) and of the global one."""
        if not self.limiter.allow(source_key(source, self.ipv6_prefix_len)):
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
        self.syncookies = require_syncookies()
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and not self.host:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind((host, self.port))
        except OSError as exc:
            sock.close()
            raise _bind_error(exc, "TCP", host, self.port) from exc
        try:
            attach_syn_filter(sock)
            # A request the kernel keeps (see the module doc) resends its SYN-ACK once at most.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)
            # Backlog 0: the SYN queue counts as full, so the kernel answers SYNs with SYN
            # cookies: one SYN-ACK each, no state, never resent (see the module doc).
            sock.listen(0)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise MeasurementError(f"cannot set up the TCP listener safely: {exc}") from exc
        return sock

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
        # The TCP listener needs no reader: its filter lets no connection complete, so there is
        # never anything to accept (the kernel answers SYNs itself).
        self._tcp_sock = tcp_sock

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
