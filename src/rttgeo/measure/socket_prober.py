"""Shared engine of the datagram probers (ICMP raw, ICMP datagram, UDP): one socket, many probes.

One non-blocking socket per prober, read by the event loop's reader callback with ``recvmsg`` (for
the ``SO_TIMESTAMPNS`` control message). Each probe registers a key (e.g. address and ICMP
sequence, or a UDP nonce) and a random token the reply must echo; replies are demultiplexed by key.
A reply is taken as an RTT only if its key is pending and its token matches; otherwise it is counted
in :attr:`Prober.stats` as ``unmatched`` (unknown key or wrong token: spoofed or someone else's),
``duplicate`` (key already answered), ``late`` (key already timed out) or ``malformed``.

An ICMP error (destination unreachable, time exceeded) ends a probe only if it quotes at least
:data:`MIN_ERROR_TOKEN_BYTES` of the probe's random token and they match. Anyone on the path, or
anyone who can guess the address and sequence number, can forge an error quoting just the IP
header and 8 bytes (RFC 792's minimum, no token); such an error is only a hint: counted in
``stats.extra["unverified_errors"]``, named in the probe's result if it then times out, and the
probe keeps waiting for its reply until the timeout.
Recently finished keys are remembered (at most :data:`RECENT_KEYS`) to tell duplicates and late
replies apart from unmatched ones.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import errno
import ipaddress
import socket
import struct
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

from rttgeo.measure import timestamps as ts
from rttgeo.measure.base import Prober, ProbeResult
from rttgeo.models import Landmark

__all__ = ["Malformed", "Parsed", "SocketProber"]

#: How many finished probe keys are remembered to classify duplicate and late replies.
RECENT_KEYS = 16384
#: Bytes of a probe's random token an ICMP error must quote (and match) to end the probe: 64 bits
#: cannot be guessed by someone who did not see the probe.
MIN_ERROR_TOKEN_BYTES = 8
_RECV_SIZE = 65535
_MAX_READS_PER_WAKEUP = 512


class Malformed(Exception):
    """Raised by ``_parse`` for a datagram that is not a well-formed reply."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """A reply decoded by ``_parse``: its demultiplexing key, echoed token and kind."""

    key: Hashable
    token: bytes
    status: str = "ok"  # or "unreachable" for an ICMP error quoting our probe
    detail: str = ""
    #: Time (ns) the far end says it held the probe, to subtract from the RTT, and the suffix the
    #: ``timing`` label then gets (UDP server TURNAROUND, only when the prober trusts it).
    adjust_ns: int = 0
    adjust_label: str = ""
    #: Position the far end announced (lat_deg, lon_deg), for :meth:`SocketProber._verdict`.
    announced: tuple[float, float] | None = None


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[tuple[int | None, int, Parsed]]
    token: bytes
    stamp: ts.SendStamp | None = None
    hints: list[str] = field(default_factory=list)  # unverified ICMP errors about this probe


class SocketProber(Prober, abc.ABC):
    """Base of the datagram probers; subclasses make the socket, build probes and parse replies."""

    #: Address family of the socket (AF_INET, or AF_INET6 for dual-stack UDP).
    family: int = socket.AF_INET

    def __init__(self) -> None:
        super().__init__()
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[Hashable, _Pending] = {}
        self._recent: OrderedDict[Hashable, str] = OrderedDict()
        self._resolved: dict[str, str] = {}
        self.kernel_timestamps = False
        #: Ask the kernel for ICMP errors about our probes (IP_RECVERR) and end those probes early;
        #: subclasses that want it set this True and implement ``_parse_error``.
        self.recv_errors = False
        self._write_waiters: list[asyncio.Future[None]] = []

    # -- to implement -------------------------------------------------------------------------
    @abc.abstractmethod
    def _make_socket(self) -> socket.socket:
        """A non-blocking socket; raises PermissionDenied with advice if the OS refuses."""

    @abc.abstractmethod
    def _new_probe(self, ip: str, landmark: Landmark) -> tuple[Hashable, bytes, bytes, tuple]:
        """(key, token, datagram, sockaddr) for one new probe; key must not be pending."""

    @abc.abstractmethod
    def _parse(self, data: bytes, addr: tuple) -> Parsed | None:
        """Decode one datagram; None if it is not for this prober at all; raises Malformed."""

    # -- lifecycle ----------------------------------------------------------------------------
    async def open(self) -> None:
        if self._sock is not None:
            return
        sock = self._make_socket()
        sock.setblocking(False)
        self.kernel_timestamps = ts.enable_rx_timestamps(sock)
        _grow_rcvbuf(sock)
        if self.recv_errors:
            self.recv_errors = _enable_recverr(sock)
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._on_readable)

    async def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(sock.fileno())
            with contextlib.suppress(Exception):
                self._loop.remove_writer(sock.fileno())
        sock.close()
        waiters, self._write_waiters = self._write_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        # Probes still in flight end as errors (never as an RTT, never by raising).
        for key, pending in list(self._pending.items()):
            if not pending.future.done():
                closed = Parsed(key, b"", "error", "prober closed before a reply came")
                pending.future.set_result((None, 0, closed))
            self._pending.pop(key, None)

    # -- probing ------------------------------------------------------------------------------
    async def _resolve(self, landmark: Landmark) -> str:
        host = landmark.address or landmark.id
        cached = self._resolved.get(host)
        if cached is not None:
            return cached
        try:
            ip = str(ipaddress.ip_address(host))
        except ValueError:
            assert self._loop is not None
            fam = socket.AF_INET if self.family == socket.AF_INET else socket.AF_UNSPEC
            infos = await self._loop.getaddrinfo(host, None, family=fam, type=socket.SOCK_DGRAM)
            ip = str(infos[0][4][0])
        self._resolved[host] = ip
        return ip

    def _note_kernel_drops(self) -> None:
        """Copy the socket's count of datagrams the kernel dropped (receive buffer full) into
        ``stats.extra["kernel_drops"]``: it tells a lost reply from a lost probe."""
        sock = self._sock
        if sock is None:
            return
        try:
            info = sock.getsockopt(socket.SOL_SOCKET, _SO_MEMINFO, 4 * (_SK_MEMINFO_DROPS + 1))
        except OSError:
            return
        if len(info) >= 4 * (_SK_MEMINFO_DROPS + 1):
            drops = struct.unpack_from("I", info, 4 * _SK_MEMINFO_DROPS)[0]
            if drops:
                self.stats.extra["kernel_drops"] = drops

    def _remember(self, key: Hashable, state: str) -> None:
        self._recent[key] = state
        if len(self._recent) > RECENT_KEYS:
            self._recent.popitem(last=False)

    async def probe(self, landmark: Landmark, timeout_s: float) -> ProbeResult:
        if self._sock is None:
            await self.open()
        assert self._sock is not None and self._loop is not None
        label_ns = ts.realtime_ns()
        try:
            ip = await self._resolve(landmark)
        except (OSError, ValueError) as exc:
            return ProbeResult("error", None, label_ns, "", f"cannot resolve: {exc}")
        try:
            key, token, datagram, sockaddr = self._new_probe(ip, landmark)
        except ValueError as exc:
            return ProbeResult("error", None, label_ns, "", str(exc))
        fut: asyncio.Future[tuple[int | None, int, Parsed]] = self._loop.create_future()
        pending = _Pending(fut, token)
        self._pending[key] = pending
        try:
            stamp = await self._send(datagram, sockaddr)
        except OSError as exc:
            self._pending.pop(key, None)
            status = "unreachable" if exc.errno in _UNREACHABLE else "error"
            return ProbeResult(status, None, label_ns, "", f"send failed: {exc.strerror or exc}")
        pending.stamp = stamp
        self.stats.sent += 1
        try:
            kernel_ns, mono_ns, parsed = await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            self._pending.pop(key, None)
            self._remember(key, "expired")
            self.stats.lost += 1
            self._note_kernel_drops()
            detail = f"no reply in {timeout_s} s"
            if pending.hints:
                detail += (f"; {len(pending.hints)} unverified ICMP error(s) meanwhile, not "
                           f"quoting the probe's token: {pending.hints[0]}")
            return ProbeResult("timeout", None, stamp.real_ns, "", detail)
        except asyncio.CancelledError:
            # The caller gave up on this probe: forget it, so a reply still coming counts as late.
            if self._pending.get(key) is pending:
                del self._pending[key]
                self._remember(key, "expired")
            raise
        if parsed.status != "ok":
            return ProbeResult(parsed.status, None, stamp.real_ns, "", parsed.detail)
        refused = self._verdict(parsed, landmark)
        if refused is not None:
            self.stats.extra[refused[0]] = self.stats.extra.get(refused[0], 0) + 1
            return ProbeResult(refused[0], None, stamp.real_ns, "", refused[1])
        rtt, timing = ts.rtt_ns(stamp, kernel_ns, mono_ns)
        if 0 < parsed.adjust_ns < rtt:
            rtt -= parsed.adjust_ns
            timing += parsed.adjust_label
        return ProbeResult("ok", rtt / 1e6, stamp.real_ns, timing, parsed.detail)

    async def _send(self, datagram: bytes, sockaddr: tuple) -> ts.SendStamp:
        """Send now, stamping right before the system call; waits if the send buffer is full."""
        sock = self._sock
        assert sock is not None and self._loop is not None
        stale_error_retried = False
        while True:
            stamp = ts.send_stamp()
            try:
                sock.sendto(datagram, sockaddr)
                return stamp
            except OSError as exc:
                if isinstance(exc, (BlockingIOError, InterruptedError)):
                    pass
                elif self.recv_errors and not stale_error_retried:
                    # With IP_RECVERR an ICMP error about an *earlier* probe leaves a pending
                    # socket error that the next send reports (and clears). Hand the queued
                    # errors to their probes, then send this one again, once.
                    stale_error_retried = True
                    self._drain_errors(sock)
                    continue
                else:
                    raise
                # Send buffer full: wait until the socket is writable again (all waiting
                # probes share one writer callback), then stamp afresh and retry.
                ready = self._loop.create_future()
                if not self._write_waiters:
                    self._loop.add_writer(sock.fileno(), self._on_writable)
                self._write_waiters.append(ready)
                await ready
                if self._sock is not sock:
                    raise OSError("prober closed while waiting to send") from None

    def _on_writable(self) -> None:
        if self._sock is not None and self._loop is not None:
            self._loop.remove_writer(self._sock.fileno())
        waiters, self._write_waiters = self._write_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(_MAX_READS_PER_WAKEUP):
            try:
                data, anc, _flags, addr = sock.recvmsg(_RECV_SIZE, ts.ANCBUF_SIZE)
            except (BlockingIOError, InterruptedError):
                if self.recv_errors:
                    self._drain_errors(sock)
                return
            except OSError:
                # An asynchronous error (e.g. ICMP port unreachable) surfaced on the socket; the
                # details wait in the error queue.
                if self.recv_errors:
                    self._drain_errors(sock)
                else:
                    self.stats.extra["socket_errors"] = self.stats.extra.get("socket_errors", 0) + 1
                continue
            mono = ts.monotonic_ns()
            self._dispatch(data, addr, ts.kernel_rx_ns(anc), mono)

    def _drain_errors(self, sock: socket.socket) -> None:
        """Read the IP_RECVERR error queue: each entry quotes one datagram we sent."""
        for _ in range(_MAX_READS_PER_WAKEUP):
            try:
                data, anc, _flags, addr = sock.recvmsg(_RECV_SIZE, 512, socket.MSG_ERRQUEUE)
            except OSError:  # EAGAIN: empty
                return
            err = _extended_err(anc)
            if err is None:
                continue
            try:
                parsed = self._parse_error(data, addr, *err)
            except Malformed:
                parsed = None
            if parsed is None:
                self.stats.extra["foreign_errors"] = self.stats.extra.get("foreign_errors", 0) + 1
                continue
            self._dispatch_parsed(parsed, None, ts.monotonic_ns())

    def _parse_error(
        self, quoted: bytes, dest: tuple, icmp_type: int, icmp_code: int, offender: str
    ) -> Parsed | None:
        """The probe an ICMP error (quoting our datagram ``quoted`` sent to ``dest``) ends."""
        return None

    def _verdict(self, parsed: Parsed, landmark: Landmark) -> tuple[str, str] | None:
        """(status, detail) refusing a matched reply as a sample (e.g. it announces another
        position than the catalog's), or None to take it; subclasses override."""
        return None

    def _dispatch(self, data: bytes, addr: tuple, kernel_ns: int | None, mono_ns: int) -> None:
        """Match one datagram against the pending probes (public for tests via ``inject``)."""
        stats = self.stats
        try:
            parsed = self._parse(data, addr)
        except Malformed:
            stats.malformed += 1
            return
        except Exception:  # a parser bug must not stop the reader: count it, keep going
            stats.malformed += 1
            stats.extra["parser_errors"] = stats.extra.get("parser_errors", 0) + 1
            return
        if parsed is None:
            stats.unmatched += 1
            return
        self._dispatch_parsed(parsed, kernel_ns, mono_ns)

    def _dispatch_parsed(self, parsed: Parsed, kernel_ns: int | None, mono_ns: int) -> None:
        stats = self.stats
        pending = self._pending.get(parsed.key)
        if pending is None or pending.stamp is None:
            state = self._recent.get(parsed.key)
            if state == "done":
                stats.duplicate += 1
            elif state == "expired":
                stats.late += 1
            else:
                stats.unmatched += 1
            return
        if parsed.status == "ok":
            matches = parsed.token == pending.token
        else:  # an ICMP error: it must quote enough of the token to prove it saw the probe
            quoted = parsed.token[: len(pending.token)]
            if len(quoted) < min(MIN_ERROR_TOKEN_BYTES, len(pending.token)):
                stats.extra["unverified_errors"] = stats.extra.get("unverified_errors", 0) + 1
                if len(pending.hints) < 4:
                    pending.hints.append(parsed.detail or parsed.status)
                return
            matches = quoted == pending.token[: len(quoted)]
        if not matches:
            stats.unmatched += 1
            stats.extra["token_mismatch"] = stats.extra.get("token_mismatch", 0) + 1
            return
        del self._pending[parsed.key]
        self._remember(parsed.key, "done")
        if pending.future.done():  # cancelled
            return
        if parsed.status == "ok":
            stats.answered += 1
        pending.future.set_result((kernel_ns, mono_ns, parsed))


_SOL_IP, _IP_RECVERR, _SOL_IPV6, _IPV6_RECVERR = 0, 11, 41, 25
_SO_MEMINFO = 55
_SK_MEMINFO_DROPS = 8
_SO_RCVBUFFORCE = 33
#: Receive buffer asked for: room for about 4000 replies arriving before the loop reads them.
RCVBUF_BYTES = 4 << 20


def _grow_rcvbuf(sock: socket.socket) -> None:
    """Ask for RCVBUF_BYTES (beyond net.core.rmem_max with CAP_NET_ADMIN, else up to it)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, RCVBUF_BYTES)
    except OSError:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
_EE = struct.Struct("=IBBBBII")  # struct sock_extended_err
_SO_EE_ORIGIN_ICMP, _SO_EE_ORIGIN_ICMP6 = 2, 3


def _enable_recverr(sock: socket.socket) -> bool:
    ok = False
    with contextlib.suppress(OSError):
        sock.setsockopt(_SOL_IP, _IP_RECVERR, 1)
        ok = True
    if sock.family == socket.AF_INET6:
        with contextlib.suppress(OSError):
            sock.setsockopt(_SOL_IPV6, _IPV6_RECVERR, 1)
            ok = True
    return ok


def _extended_err(anc: list[tuple[int, int, bytes]]) -> tuple[int, int, str] | None:
    """(ICMP type, code, offender address) of an IP_RECVERR / IPV6_RECVERR message, or None."""
    for level, kind, data in anc:
        if (level, kind) in ((_SOL_IP, _IP_RECVERR), (_SOL_IPV6, _IPV6_RECVERR)) and len(
            data
        ) >= _EE.size:
            _errno, origin, icmp_type, icmp_code, _pad, _info, _data = _EE.unpack_from(data)
            if origin not in (_SO_EE_ORIGIN_ICMP, _SO_EE_ORIGIN_ICMP6):
                return None
            offender = ""
            off = data[_EE.size :]
            if len(off) >= 8 and int.from_bytes(off[:2], "little") == socket.AF_INET:
                offender = socket.inet_ntop(socket.AF_INET, off[4:8])
            elif len(off) >= 24 and int.from_bytes(off[:2], "little") == socket.AF_INET6:
                offender = socket.inet_ntop(socket.AF_INET6, off[8:24])
            return icmp_type, icmp_code, offender
    return None


_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ENETDOWN}
