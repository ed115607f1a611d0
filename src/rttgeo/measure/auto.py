"""Choose a prober: ``make_prober("auto")`` and ``available_protocols()``.

``auto`` means ICMP echo: a raw socket through scapy when the process may open one (root or
CAP_NET_RAW), else the unprivileged ICMP datagram socket when ``net.ipv4.ping_group_range``
includes the process's group, else :class:`rttgeo.errors.PermissionDenied` explaining both refusals
and what to change. Names: ``auto``, ``icmp`` (same as auto), ``icmp-raw``, ``icmp-dgram``,
``tcp`` (options ``port``, default 80, and ``rst_is_sample``), ``udp`` (options ``port``,
default 8848 = rttgeo.wire.DEFAULT_PORT, ``request_size`` and ``subtract_turnaround``), and for
IPv6 landmarks ``icmp6`` (raw if allowed, else datagram), ``icmp6-raw``, ``icmp6-dgram``.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from typing import Any

from rttgeo.errors import MissingExtra, PermissionDenied
from rttgeo.measure.base import Prober

__all__ = ["PROTOCOL_NAMES", "ProtocolStatus", "available_protocols", "make_prober"]

PROTOCOL_NAMES = (
    "auto",
    "icmp",
    "icmp-raw",
    "icmp-dgram",
    "tcp",
    "udp",
    "icmp6",
    "icmp6-raw",
    "icmp6-dgram",
)


@dataclass(frozen=True, slots=True)
class ProtocolStatus:
    """Whether ``name`` works in this process, and why not (with the fix) when it does not."""

    name: str
    available: bool
    reason: str


def _raw_status(v6: bool = False) -> ProtocolStatus:
    from rttgeo.measure.icmp import raw_permission_advice

    name = "icmp6-raw" if v6 else "icmp-raw"
    family, proto = (socket.AF_INET6, socket.IPPROTO_ICMPV6) if v6 else (socket.AF_INET, socket.IPPROTO_ICMP)
    try:
        socket.socket(family, socket.SOCK_RAW, proto).close()
    except PermissionError:
        return ProtocolStatus(name, False, raw_permission_advice())
    except OSError as exc:
        return ProtocolStatus(name, False, f"raw ICMP socket refused: {exc}")
    try:
        import scapy.layers.inet  # noqa: F401
    except ImportError:
        return ProtocolStatus(name, False, "scapy is not installed: pip install 'rttgeo[measure]'")
    return ProtocolStatus(name, True, "raw socket allowed (root or CAP_NET_RAW)")


def _dgram_status(v6: bool = False) -> ProtocolStatus:
    from rttgeo.measure.icmp import dgram_permission_advice, ping_group_range

    name = "icmp6-dgram" if v6 else "icmp-dgram"
    family, proto = (socket.AF_INET6, socket.IPPROTO_ICMPV6) if v6 else (socket.AF_INET, socket.IPPROTO_ICMP)
    try:
        socket.socket(family, socket.SOCK_DGRAM, proto).close()
    except PermissionError:
        return ProtocolStatus(name, False, dgram_permission_advice())
    except OSError as exc:
        if exc.errno in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT):
            return ProtocolStatus(name, False, "this kernel has no such ICMP datagram socket")
        return ProtocolStatus(name, False, f"ICMP datagram socket refused: {exc}")
    rng = ping_group_range()
    return ProtocolStatus(name, True, f"allowed by net.ipv4.ping_group_range {rng}")


def available_protocols() -> list[ProtocolStatus]:
    """What works here: icmp-raw, icmp-dgram, tcp, udp, icmp6-raw, icmp6-dgram (opens and
    closes test sockets)."""
    return [
        _raw_status(),
        _dgram_status(),
        ProtocolStatus("tcp", True, "TCP handshakes need no privilege (needs an open port)"),
        ProtocolStatus("udp", True, "UDP needs no privilege (landmark must run rttgeo serve)"),
        _raw_status(v6=True),
        _dgram_status(v6=True),
    ]


def make_prober(protocol: str = "auto", **opts: Any) -> Prober:
    """A new, unopened prober for ``protocol`` (see module docstring); ``opts`` go to it.

    Raises :class:`PermissionDenied` (with what to change) if no ICMP socket is allowed for
    ``auto``/``icmp``, or if the named ICMP socket kind is refused; ValueError for unknown names.
    """
    name = protocol.lower()
    if name in ("auto", "icmp"):
        raw = _raw_status()
        if raw.available:
            from rttgeo.measure.icmp import IcmpRawProber

            return IcmpRawProber(**opts)
        dgram = _dgram_status()
        if dgram.available:
            from rttgeo.measure.icmp import IcmpDgramProber

            return IcmpDgramProber(**opts)
        raise PermissionDenied(
            f"no ICMP socket is allowed: {raw.reason}; and {dgram.reason}; "
            "or probe with --protocol tcp (open port) or udp (rttgeo serve landmarks)"
        )
    if name == "icmp-raw":
        raw = _raw_status()
        if not raw.available:
            if "scapy" in raw.reason:
                raise MissingExtra("measure", "scapy")
            raise PermissionDenied(raw.reason)
        from rttgeo.measure.icmp import IcmpRawProber

        return IcmpRawProber(**opts)
    if name == "icmp-dgram":
        dgram = _dgram_status()
        if not dgram.available:
            raise PermissionDenied(dgram.reason)
        from rttgeo.measure.icmp import IcmpDgramProber

        return IcmpDgramProber(**opts)
    if name in ("icmp6", "icmp6-raw", "icmp6-dgram"):
        from rttgeo.measure.icmp import Icmp6DgramProber, Icmp6RawProber

        raw6 = _raw_status(v6=True)
        if name != "icmp6-dgram" and raw6.available:
            return Icmp6RawProber(**opts)
        dgram6 = _dgram_status(v6=True)
        if name != "icmp6-raw" and dgram6.available:
            return Icmp6DgramProber(**opts)
        reasons = {"icmp6-raw": raw6.reason, "icmp6-dgram": dgram6.reason}
        raise PermissionDenied(reasons.get(name, f"{raw6.reason}; and {dgram6.reason}"))
    if name == "tcp":
        from rttgeo.measure.tcp import TcpProber

        return TcpProber(**opts)
    if name == "udp":
        from rttgeo.measure.udp import UdpProber

        return UdpProber(**opts)
    raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOL_NAMES)}")
