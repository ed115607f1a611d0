"""Measure reflection: what a landmark server sends back for spoofed traffic (Linux, root).

A spoofed packet carries a victim's address as its source; whatever the server answers goes to the
victim. :class:`ReflectionLab` puts a real ``rttgeo serve`` in a fresh network namespace whose only
link is a TUN device held by this process: every packet written to the TUN arrives at the server
as if from the wire (any source address), and every packet the namespace sends anywhere but
itself comes back out of the TUN, so bytes and packets in and out are counted exactly at the IP
layer, with no other traffic on the link (IPv6 and its router solicitations are off). Used by the
reflection tests (tests/serve/test_serve_reflection.py) and benchmarks/bench_serve_load.py.

The packet builders give IPv4 packets with correct checksums (the kernel checks them).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rttgeo.errors import MeasurementError
from rttgeo.wire import DEFAULT_PORT

__all__ = [
    "MSS_ONLY",
    "Reflection",
    "ReflectionLab",
    "ipv4_packet",
    "tcp_segment",
    "udp_datagram",
]

#: TCP option blocks of SYNs seen in the wild (and crafted ones), for the tests and benchmark.
MSS_ONLY = b"\x02\x04\x05\xb4"
LINUX_SYN = b"\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x01\x03\x03\x07"
TS_ONLY = b"\x01\x01\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00"
MSS_TS_WS_TIGHT = b"\x02\x04\x05\xb4\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x03\x03\x07\x00"
SACK_ONLY = b"\x01\x01\x04\x02"

SYN, ACK, RST = 0x02, 0x10, 0x04


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_packet(src: str, dst: str, proto: int, payload: bytes, *, ttl: int = 64) -> bytes:
    """An IPv4 packet (no options) carrying ``payload``; header checksum filled in."""
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), secrets.randbits(16), 0x4000,
                      ttl, proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", _checksum(hdr)) + hdr[12:] + payload


def _pseudo(src: str, dst: str, proto: int, length: int) -> bytes:
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)


def tcp_segment(src: str, dst: str, sport: int, dport: int, *, flags: int = SYN, seq: int = 1,
                ack: int = 0, options: bytes = b"", payload: bytes = b"") -> bytes:
    """An IPv4 TCP packet; ``options`` is padded with zero bytes (end of options) to 4 bytes."""
    options = options + b"\0" * (-len(options) % 4)
    doff = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 65535, 0, 0)
    seg = hdr + options + payload
    csum = _checksum(_pseudo(src, dst, socket.IPPROTO_TCP, len(seg)) + seg)
    seg = seg[:16] + struct.pack("!H", csum) + seg[18:]
    return ipv4_packet(src, dst, socket.IPPROTO_TCP, seg)


def udp_datagram(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """An IPv4 UDP packet with its checksum."""
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    csum = _checksum(_pseudo(src, dst, socket.IPPROTO_UDP, len(seg)) + seg) or 0xFFFF
    seg = seg[:6] + struct.pack("!H", csum) + seg[8:]
    return ipv4_packet(src, dst, socket.IPPROTO_UDP, seg)


@dataclass(frozen=True, slots=True)
class Reflection:
    """Counts at the IP layer: what was injected, what came back (to the spoofed sources)."""

    packets_in: int
    bytes_in: int
    packets_out: int
    bytes_out: int
    out_by_kind: dict[str, int]

    @property
    def packet_ratio(self) -> float:
        return self.packets_out / self.packets_in if self.packets_in else 0.0

    @property
    def byte_ratio(self) -> float:
        return self.bytes_out / self.bytes_in if self.bytes_in else 0.0


def _kind(pkt: bytes) -> str:
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return "other"
    proto, ihl = pkt[9], (pkt[0] & 15) * 4
    if proto == socket.IPPROTO_TCP and len(pkt) >= ihl + 14:
        flags = pkt[ihl + 13]
        if flags & SYN and flags & ACK:
            return "tcp-synack"
        if flags & RST:
            return "tcp-rst"
        return "tcp-other"
    if proto == socket.IPPROTO_UDP:
        return "udp"
    if proto == socket.IPPROTO_ICMP:
        return "icmp"
    return "other"


class ReflectionLab:
    """``rttgeo serve`` alone in a fresh namespace behind a TUN device (see the module doc).

    ``serve_args`` are extra options for ``rttgeo serve`` (e.g. ``["--tcp"]``). The server binds
    :attr:`server_ip` port :attr:`port`. ``syncookies`` sets ``net.ipv4.tcp_syncookies`` in the
    namespace (None: the kernel's default for a new namespace, 1). Use as a context manager;
    everything is removed on exit.
    """

    server_ip = "10.200.0.1"

    def __init__(self, serve_args: Sequence[str] = (), *, port: int = DEFAULT_PORT,
                 syncookies: int | None = None) -> None:
        self.port = port
        self.syncookies = syncookies
        self.serve_args = list(serve_args)
        tag = f"{os.getpid() % 100000:05d}{secrets.token_hex(2)}"
        self.netns = f"rtgrefl{tag}"
        self.tun = f"rtr{tag}"[:15]
        self._fd = -1
        self._server: subprocess.Popen[str] | None = None
        self.server_stats: dict[str, object] = {}

    def __enter__(self) -> ReflectionLab:
        from rttgeo.lab import netns as labns

        try:
            labns.run_ip(["netns", "add", self.netns])
            self._fd = labns.in_netns(self.netns, lambda: labns.open_tun(self.tun))
            sysctls = {
                "net/ipv6/conf/all/disable_ipv6": "1",
                "net/ipv6/conf/default/disable_ipv6": "1",
                "net/ipv4/conf/all/rp_filter": "0",
                "net/ipv4/conf/default/rp_filter": "0",
            }
            if self.syncookies is not None:
                sysctls["net/ipv4/tcp_syncookies"] = str(self.syncookies)
            labns.write_sysctls(self.netns, sysctls)
            labns.run_ip(["-n", self.netns], batch=[
                "link set lo up",
                f"link set {self.tun} up",
                f"addr add {self.server_ip}/32 dev {self.tun}",
                f"route add default dev {self.tun}",
            ])
            os.set_blocking(self._fd, False)
            argv = [sys.executable, "-m", "rttgeo", "serve", "--lat", "48.8566", "--lon",
                    "2.3522", "--id", "reflect", "--bind", self.server_ip, "--port",
                    str(self.port), "--netns", self.netns, *self.serve_args]
            self._server = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True)
            assert self._server.stdout is not None
            line = self._server.stdout.readline()
            if "listening" not in line:
                err = self._server.stderr.read() if self._server.stderr else ""
                raise MeasurementError(f"rttgeo serve did not start: {line.strip()} {err.strip()}")
            self.drain(0.2)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        from rttgeo.lab import netns as labns

        if self._server is not None and self._server.poll() is None:
            self._server.send_signal(signal.SIGTERM)
            try:
                out, _err = self._server.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self._server.kill()
                out, _err = self._server.communicate()
            import json

            for line in out.splitlines():
                if line.startswith("{"):
                    with contextlib.suppress(ValueError):
                        self.server_stats = json.loads(line).get("rttgeo_serve_stats", {})
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(Exception):
            labns.run_ip(["netns", "del", self.netns], check=False)

    def inject(self, packets: Iterable[bytes], *, pace_s: float = 0.0) -> tuple[int, int]:
        """Write ``packets`` to the TUN (they arrive at the server); returns (packets, bytes)."""
        n = b = 0
        for pkt in packets:
            while True:
                try:
                    os.write(self._fd, pkt)
                    break
                except BlockingIOError:
                    time.sleep(0.001)
            n += 1
            b += len(pkt)
            if pace_s:
                time.sleep(pace_s)
        return n, b

    def drain(self, seconds: float) -> list[bytes]:
        """Every packet the namespace sends out during ``seconds`` (monotonic clock)."""
        out: list[bytes] = []
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out
            ready, _, _ = select.select([self._fd], [], [], left)
            if not ready:
                continue
            while True:
                try:
                    out.append(os.read(self._fd, 65535))
                except BlockingIOError:
                    break

    def measure(self, packets: Sequence[bytes], *, listen_s: float,
                pace_s: float = 0.0) -> Reflection:
        """Inject ``packets`` and count what comes back within ``listen_s`` after the last one.

        ``listen_s`` must cover the retransmissions being looked for (Linux resends an
        unanswered SYN-ACK after 1, 3, 7, 15 and 31 s).
        """
        self.drain(0.0)
        n_in, b_in = self.inject(packets, pace_s=pace_s)
        got = self.drain(listen_s)
        kinds: dict[str, int] = {}
        for pkt in got:
            k = _kind(pkt)
            kinds[k] = kinds.get(k, 0) + 1
        return Reflection(n_in, b_in, len(got), sum(map(len, got)), kinds)
