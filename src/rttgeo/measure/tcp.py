"""TCP handshake prober: no privileges, the kernel's own RTT of the handshake.

Each probe opens a non-blocking TCP connection to ``landmark.port`` (else the prober's
``port``). After the handshake the kernel's ``TCP_INFO.tcpi_rtt`` (µs) holds the RTT it measured
between sending the SYN and receiving the SYN-ACK, free of user-space delays; that is the sample
(``timing="tcp_info"``, error budget +0 to +5 µs, resolution 1 µs). Where ``TCP_INFO`` is missing
the user-space connect time on the monotonic clock is used (``timing="connect"``, +10 to +200 µs).

A refused connection (a RST, or an ICMP port unreachable the kernel reports the same way) is a
full round trip too, timed on the monotonic clock from just before ``connect()`` to the moment the
refusal is seen (+10 to +200 µs; no kernel timestamp exists for it). But it may come from a
firewall or middlebox anywhere on the path, even next to the prober, and one RTT that is too small
poisons the minimum and can exclude the true position. So by default it is status ``refused``,
``rtt_ms=None``, with the time in ``detail``; ``TcpProber(rst_is_sample=True)`` takes it as a
sample (status ``ok``, ``timing="connect_rst"``) for landmarks known to answer themselves.

A SYN lost and retransmitted (after 1 s) inflates a connect
time but not ``tcpi_rtt``, which the kernel takes from the TCP timestamp echo or, without it,
refuses to take from a retransmitted SYN (Karn's rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import os
import socket
import struct

from rttgeo.measure import timestamps as ts
from rttgeo.measure.base import Prober, ProbeResult
from rttgeo.models import Landmark

__all__ = ["TcpProber", "tcp_info_rtt_us"]

_TCP_INFO_SIZE = 104
_RTT_OFFSET = 8 + 15 * 4  # after 8 u8 fields: rto ato snd_mss rcv_mss unacked sacked lost retrans
#                          fackets last_data_sent last_ack_sent last_data_recv last_ack_recv pmtu
#                          rcv_ssthresh, then rtt
_TOTAL_RETRANS_OFFSET = 8 + 23 * 4


def tcp_info_rtt_us(sock: socket.socket) -> tuple[int, int] | None:
    """(``tcpi_rtt`` µs, ``tcpi_total_retrans``) of a connected socket, or None if unavailable."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return None
    if len(info) < _TOTAL_RETRANS_OFFSET + 4:
        return None
    (rtt_us,) = struct.unpack_from("I", info, _RTT_OFFSET)
    (retrans,) = struct.unpack_from("I", info, _TOTAL_RETRANS_OFFSET)
    return rtt_us, retrans


class TcpProber(Prober):
    """One TCP handshake per probe to ``landmark.port`` or ``port`` (default 80); no privilege."""

    protocol = "tcp"

    def __init__(self, port: int = 80, rst_is_sample: bool = False) -> None:
        super().__init__()
        self.port = port
        self.rst_is_sample = rst_is_sample

    async def probe(self, landmark: Landmark, timeout_s: float) -> ProbeResult:
        loop = asyncio.get_running_loop()
        label_ns = ts.realtime_ns()
        host = landmark.address or landmark.id
        port = landmark.port or self.port
        try:
            ip = ipaddress.ip_address(host)
            family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
            addr: str = str(ip)
        except ValueError:
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                return ProbeResult("error", None, label_ns, "", f"cannot resolve: {exc}")
            family, addr = infos[0][0], str(infos[0][4][0])
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:  # e.g. EMFILE: too many probes in flight for the fd limit
            hint = " (raise `ulimit -n` or lower the concurrency)" if exc.errno == errno.EMFILE else ""
            return ProbeResult("error", None, label_ns, "", f"cannot open a socket: {exc}{hint}")
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.stats.sent += 1
        try:
            return await self._handshake(loop, sock, addr, port, timeout_s)
        finally:
            sock.close()  # linger 0: a RST, no TIME_WAIT left on either side

    async def _handshake(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        addr: str,
        port: int,
        timeout_s: float,
    ) -> ProbeResult:
        stamp = ts.send_stamp()
        err = sock.connect_ex((addr, port))
        if err not in (0, errno.EINPROGRESS):
            return self._failed(err, stamp, None)
        if err == errno.EINPROGRESS:
            ready = loop.create_future()
            loop.add_writer(sock.fileno(), lambda: ready.done() or ready.set_result(None))
            try:
                await asyncio.wait_for(ready, timeout_s)
            except TimeoutError:
                self.stats.lost += 1
                detail = f"no SYN-ACK in {timeout_s} s"
                return ProbeResult("timeout", None, stamp.real_ns, "", detail)
            finally:
                loop.remove_writer(sock.fileno())
        mono_end = ts.monotonic_ns()
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            return self._failed(err, stamp, mono_end)
        self.stats.answered += 1
        info = tcp_info_rtt_us(sock)
        if info is not None and info[0] > 0:
            return ProbeResult("ok", info[0] / 1000.0, stamp.real_ns, "tcp_info")
        return ProbeResult("ok", (mono_end - stamp.mono_ns) / 1e6, stamp.real_ns, "connect")

    def _failed(self, err: int, stamp: ts.SendStamp, mono_end: int | None) -> ProbeResult:
        end = ts.monotonic_ns() if mono_end is None else mono_end
        if err == errno.ECONNREFUSED:
            rtt_ms = (end - stamp.mono_ns) / 1e6
            if self.rst_is_sample:
                self.stats.answered += 1
                return ProbeResult("ok", rtt_ms, stamp.real_ns, "connect_rst", "port closed: RST")
            detail = f"refused (RST) after {rtt_ms:.3f} ms; rst_is_sample=True would use it"
            return ProbeResult("refused", None, stamp.real_ns, "", detail)
        msg = os.strerror(err)
        if err in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL, errno.ENETDOWN):
            return ProbeResult("unreachable", None, stamp.real_ns, "", msg)
        if err == errno.ETIMEDOUT:
            self.stats.lost += 1
            return ProbeResult("timeout", None, stamp.real_ns, "", msg)
        return ProbeResult("error", None, stamp.real_ns, "", msg)
