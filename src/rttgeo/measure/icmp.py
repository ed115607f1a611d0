"""ICMP echo probers (IPv4): raw socket through scapy, or the unprivileged ICMP datagram socket.

* :class:`IcmpRawProber` needs root or CAP_NET_RAW. Echo requests are built with scapy (random
  identifier per prober, sequence per probe, a 16-byte random token as payload) and sent through
  one raw socket read by the event loop; replies are parsed with scapy. The kernel's ``ICMP_FILTER``
  passes only echo replies, destination-unreachable and time-exceeded messages to the socket. An
  ICMP error quoting one of our probes ends it with status ``unreachable``.
* :class:`IcmpDgramProber` uses ``socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)``, which the kernel
  allows when the process's group is inside ``net.ipv4.ping_group_range``; the kernel chooses the
  identifier (the socket's "port") and delivers only replies carrying it. ICMP errors about our
  echoes come through the socket's error queue (``IP_RECVERR``) and end the probe as
  ``unreachable``.

Both time RTTs from the send stamp to the kernel receive stamp (see
:mod:`rttgeo.measure.timestamps`; ``timing="so_timestampns"``; error budget +2 to +10 µs).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Hashable

from rttgeo.errors import PermissionDenied
from rttgeo.measure.socket_prober import Malformed, Parsed, SocketProber
from rttgeo.models import Landmark

__all__ = [
    "Icmp6DgramProber",
    "Icmp6RawProber",
    "IcmpDgramProber",
    "IcmpRawProber",
    "ping_group_range",
    "raw_permission_advice",
]

TOKEN_SIZE = 16
SOL_RAW = 255
ICMP_FILTER = 1
ECHO_REPLY, DEST_UNREACH, ECHO_REQUEST, TIME_EXCEEDED = 0, 3, 8, 11
_ECHO = struct.Struct(">BBHHH")
_PING_RANGE = "/proc/sys/net/ipv4/ping_group_range"


def ping_group_range() -> tuple[int, int] | None:
    """``net.ipv4.ping_group_range`` of this network namespace, or None if unreadable."""
    try:
        with open(_PING_RANGE) as fh:
            lo, hi = fh.read().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return None


def dgram_permission_advice() -> str:
    """Why the ICMP datagram socket is refused and what to change."""
    rng = ping_group_range()
    groups = sorted({os.getegid(), *os.getgroups()})
    now = f"is {rng[0]} {rng[1]}" if rng else "could not be read"
    return (
        f"the unprivileged ICMP socket is refused: net.ipv4.ping_group_range {now} and does not "
        f"include this process's groups {groups}; allow it with "
        '`sudo sysctl -w net.ipv4.ping_group_range="0 2147483647"` '
        "(add it to /etc/sysctl.d/ to keep it), or use a raw socket as root / with CAP_NET_RAW"
    )


def raw_permission_advice() -> str:
    """Why the raw ICMP socket is refused and what to change."""
    return (
        "a raw ICMP socket needs root or CAP_NET_RAW: run as root, or grant the capability with "
        '`sudo setcap cap_net_raw+ep "$(readlink -f $(which python3))"`'
    )


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class _IcmpBase(SocketProber):
    protocol = "icmp"

    def __init__(self) -> None:
        super().__init__()
        self._seq = int.from_bytes(os.urandom(2), "big")

    def _next_seq(self, ip: str) -> int:
        if ":" in ip:
            raise ValueError(f"{ip} is an IPv6 address: probe it with icmp6 (or udp, tcp), not icmp")
        for _ in range(65536):
            self._seq = (self._seq + 1) & 0xFFFF
            if (ip, self._seq) not in self._pending:
                return self._seq
        raise ValueError("65536 probes to one address are already pending")


class IcmpRawProber(_IcmpBase):
    """ICMP echo through a raw socket (root or CAP_NET_RAW); packets built and parsed by scapy."""

    def __init__(self) -> None:
        super().__init__()
        self.ident = int.from_bytes(os.urandom(2), "big")
        from scapy.layers.inet import ICMP, IP  # heavy import, only for this prober
        from scapy.packet import Raw

        self._ICMP, self._IP, self._Raw = ICMP, IP, Raw

    def _make_socket(self) -> socket.socket:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except PermissionError as exc:
            raise PermissionDenied(raw_permission_advice()) from exc
        passed = (1 << ECHO_REPLY) | (1 << DEST_UNREACH) | (1 << TIME_EXCEEDED)
        # Without the filter every ICMP message arrives and is classified in _parse.
        with contextlib.suppress(OSError):
            sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", ~passed & 0xFFFFFFFF))
        return sock

    def _new_probe(self, ip: str, landmark: Landmark) -> tuple[Hashable, bytes, bytes, tuple]:
        seq = self._next_seq(ip)
        token = os.urandom(TOKEN_SIZE)
        pkt = self._ICMP(type=ECHO_REQUEST, code=0, id=self.ident, seq=seq) / self._Raw(token)
        return (ip, seq), token, bytes(pkt), (ip, 0)

    def _parse(self, data: bytes, addr: tuple) -> Parsed | None:
        try:
            ip = self._IP(data)
        except Exception as exc:  # scapy raises assorted errors on garbage
            raise Malformed(str(exc)) from None
        icmp = ip.getlayer(self._ICMP)
        if ip.proto != 1 or icmp is None:
            raise Malformed("not ICMP")
        raw = data[ip.ihl * 4 :]
        if len(raw) < 8 or _checksum(raw) != 0:
            raise Malformed("bad ICMP checksum")
        if icmp.type == ECHO_REPLY:
            if icmp.code != 0:
                raise Malformed("echo reply with nonzero code")
            if icmp.id != self.ident:
                return None  # another process's ping
            return Parsed((ip.src, icmp.seq), bytes(raw[8:]))
        if icmp.type in (DEST_UNREACH, TIME_EXCEEDED):
            inner = icmp.payload  # scapy parses the quoted packet as IPerror / ICMPerror
            quoted = bytes(inner)
            if len(quoted) < 20:
                raise Malformed("ICMP error without quoted header")
            ihl = (quoted[0] & 0x0F) * 4
            if quoted[9] != 1 or len(quoted) < ihl + 8:
                return None  # quotes something that is not our ICMP
            q_type, _q_code, _csum, q_id, q_seq = _ECHO.unpack_from(quoted, ihl)
            if q_type != ECHO_REQUEST or q_id != self.ident:
                return None
            dst = socket.inet_ntoa(quoted[16:20])
            what = "destination unreachable" if icmp.type == DEST_UNREACH else "TTL exceeded"
            detail = f"{what} (code {icmp.code}) from {ip.src}"
            return Parsed((dst, q_seq), bytes(quoted[ihl + 8 :]), "unreachable", detail)
        return None  # any other ICMP message (when ICMP_FILTER is unavailable)


class IcmpDgramProber(_IcmpBase):
    """ICMP echo through the unprivileged datagram socket (``net.ipv4.ping_group_range``)."""

    def __init__(self) -> None:
        super().__init__()
        self.recv_errors = True  # ICMP errors about our echoes arrive on the error queue

    def _make_socket(self) -> socket.socket:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
        except PermissionError as exc:
            raise PermissionDenied(dgram_permission_advice()) from exc
        except OSError as exc:
            if exc.errno in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT):
                raise PermissionDenied(
                    "this kernel has no ICMP datagram sockets; use a raw socket as root / with "
                    "CAP_NET_RAW, or --protocol tcp/udp"
                ) from exc
            raise
        return sock

    def _new_probe(self, ip: str, landmark: Landmark) -> tuple[Hashable, bytes, bytes, tuple]:
        seq = self._next_seq(ip)
        token = os.urandom(TOKEN_SIZE)
        header = _ECHO.pack(ECHO_REQUEST, 0, 0, 0, seq)  # the kernel sets id and checksum
        return (ip, seq), token, header + token, (ip, 0)

    def _parse(self, data: bytes, addr: tuple) -> Parsed | None:
        if len(data) < 8:
            raise Malformed("short ICMP message")
        kind, code, _csum, _ident, seq = _ECHO.unpack_from(data)
        if kind != ECHO_REPLY or code != 0:
            raise Malformed(f"ICMP type {kind} code {code} on a ping socket")
        return Parsed((addr[0], seq), bytes(data[8:]))

    def _parse_error(
        self, quoted: bytes, dest: tuple, icmp_type: int, icmp_code: int, offender: str
    ) -> Parsed | None:
        if len(quoted) < 8 or quoted[0] != ECHO_REQUEST:
            return None
        seq = _ECHO.unpack_from(quoted)[4]
        what = "destination unreachable" if icmp_type == DEST_UNREACH else "TTL exceeded"
        detail = f"{what} (code {icmp_code}) from {offender or '?'}"
        return Parsed((dest[0], seq), bytes(quoted[8:]), "unreachable", detail)


# -- ICMPv6 ------------------------------------------------------------------------------------
ECHO6_REQUEST, ECHO6_REPLY, DEST6_UNREACH, TIME6_EXCEEDED = 128, 129, 1, 3
ICMP6_FILTER = 1


def _canonical6(ip: str) -> str:
    return str(ipaddress.ip_address(ip.split("%", 1)[0]))


class _Icmp6Base(_IcmpBase):
    protocol = "icmp6"  # the label of its samples; catalogs list it as icmp (the same service)
    family = socket.AF_INET6

    def _next_seq(self, ip: str) -> int:
        if ":" not in ip:
            raise ValueError(f"{ip} is an IPv4 address: probe it with icmp, not icmp6")
        for _ in range(65536):
            self._seq = (self._seq + 1) & 0xFFFF
            if (ip, self._seq) not in self._pending:
                return self._seq
        raise ValueError("65536 probes to one address are already pending")

    async def _resolve(self, landmark: Landmark) -> str:
        return _canonical6(await super()._resolve(landmark))

    def _quoted_echo(self, quoted: bytes, detail: str) -> Parsed | None:
        """An ICMPv6 error quoting (IPv6 header + echo request): the probe it ends, if ours."""
        if len(quoted) < 48 or quoted[6] != 58 or quoted[40] != ECHO6_REQUEST:
            return None
        _t, _c, _sum, q_id, q_seq = _ECHO.unpack_from(quoted, 40)
        if not self._ident_matches(q_id):
            return None
        dst = socket.inet_ntop(socket.AF_INET6, quoted[24:40])
        return Parsed((dst, q_seq), bytes(quoted[48:]), "unreachable", detail)

    def _ident_matches(self, ident: int) -> bool:
        return True


class Icmp6RawProber(_Icmp6Base):
    """ICMPv6 echo through a raw socket (root or CAP_NET_RAW); packets built and parsed by scapy.

    The kernel computes and verifies ICMPv6 checksums on raw sockets (bad ones never arrive), and
    ``ICMP6_FILTER`` passes only echo replies, destination unreachable and time exceeded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.ident = int.from_bytes(os.urandom(2), "big")
        from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest

        self._Req, self._Rep = ICMPv6EchoRequest, ICMPv6EchoReply

    def _ident_matches(self, ident: int) -> bool:
        return ident == self.ident

    def _make_socket(self) -> socket.socket:
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        except PermissionError as exc:
            raise PermissionDenied(raw_permission_advice()) from exc
        blocked = [0xFFFFFFFF] * 8
        for kind in (ECHO6_REPLY, DEST6_UNREACH, TIME6_EXCEEDED):
            blocked[kind >> 5] &= ~(1 << (kind & 31)) & 0xFFFFFFFF
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("8I", *blocked))
        return sock

    def _new_probe(self, ip: str, landmark: Landmark) -> tuple[Hashable, bytes, bytes, tuple]:
        seq = self._next_seq(ip)
        token = os.urandom(TOKEN_SIZE)
        pkt = self._Req(id=self.ident, seq=seq, data=token, cksum=0)  # the kernel sums it
        return (ip, seq), token, bytes(pkt), (ip, 0, 0, 0)

    def _parse(self, data: bytes, addr: tuple) -> Parsed | None:
        if len(data) < 8:
            raise Malformed("short ICMPv6 message")
        kind = data[0]
        if kind == ECHO6_REPLY:
            try:
                rep = self._Rep(data)
            except Exception as exc:  # scapy raises assorted errors on garbage
                raise Malformed(str(exc)) from None
            if rep.code != 0:
                raise Malformed("echo reply with nonzero code")
            if rep.id != self.ident:
                return None  # another process's ping
            return Parsed((_canonical6(addr[0]), rep.seq), bytes(data[8:]))
        if kind in (DEST6_UNREACH, TIME6_EXCEEDED):
            what = "destination unreachable" if kind == DEST6_UNREACH else "hop limit exceeded"
            src = _canonical6(addr[0])
            return self._quoted_echo(bytes(data[8:]), f"{what} (code {data[1]}) from {src}")
        return None


class Icmp6DgramProber(_Icmp6Base):
    """ICMPv6 echo through the unprivileged datagram socket (``net.ipv4.ping_group_range`` also
    governs IPv6); ICMPv6 errors come through the error queue (``IPV6_RECVERR``)."""

    def __init__(self) -> None:
        super().__init__()
        self.recv_errors = True

    def _make_socket(self) -> socket.socket:
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6)
        except PermissionError as exc:
            raise PermissionDenied(dgram_permission_advice()) from exc
        except OSError as exc:
            raise PermissionDenied(
                f"no ICMPv6 datagram socket here ({exc}); use icmp6-raw as root, or udp/tcp"
            ) from exc
        return sock

    def _new_probe(self, ip: str, landmark: Landmark) -> tuple[Hashable, bytes, bytes, tuple]:
        seq = self._next_seq(ip)
        token = os.urandom(TOKEN_SIZE)
        header = _ECHO.pack(ECHO6_REQUEST, 0, 0, 0, seq)  # the kernel sets id and checksum
        return (ip, seq), token, header + token, (ip, 0, 0, 0)

    def _parse(self, data: bytes, addr: tuple) -> Parsed | None:
        if len(data) < 8:
            raise Malformed("short ICMPv6 message")
        kind, code, _csum, _ident, seq = _ECHO.unpack_from(data)
        if kind != ECHO6_REPLY or code != 0:
            raise Malformed(f"ICMPv6 type {kind} code {code} on a ping socket")
        return Parsed((_canonical6(addr[0]), seq), bytes(data[8:]))

    def _parse_error(
        self, quoted: bytes, dest: tuple, icmp_type: int, icmp_code: int, offender: str
    ) -> Parsed | None:
        if len(quoted) < 8 or quoted[0] != ECHO6_REQUEST:
            return None
        seq = _ECHO.unpack_from(quoted)[4]
        what = "destination unreachable" if icmp_type == DEST6_UNREACH else "hop limit exceeded"
        detail = f"{what} (code {icmp_code}) from {offender or '?'}"
        return Parsed((_canonical6(dest[0]), seq), bytes(quoted[8:]), "unreachable", detail)
