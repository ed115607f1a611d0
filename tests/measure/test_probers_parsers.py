"""Hypothesis fuzz of the reply parsers: whatever arrives, they return a match, None, or Malformed."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from rttgeo import wire
from rttgeo.measure.icmp import Icmp6DgramProber, Icmp6RawProber, IcmpDgramProber, IcmpRawProber
from rttgeo.measure.socket_prober import Malformed, Parsed
from rttgeo.measure.udp import UdpProber

_RAW = IcmpRawProber()  # parsers need no socket
_DGRAM = IcmpDgramProber()
_UDP = UdpProber()
_RAW6 = Icmp6RawProber()
_DGRAM6 = Icmp6DgramProber()


def _ipv4(payload: bytes, proto: int = 1) -> bytes:
    return (
        struct.pack(
            ">BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(payload),
            0,
            0,
            64,
            proto,
            0,
            bytes([10, 0, 0, 2]),
            bytes([10, 0, 0, 1]),
        )
        + payload
    )


def _check(parse, data: bytes, addr: tuple) -> None:  # type: ignore[no-untyped-def]
    try:
        out = parse(data, addr)
    except Malformed:
        return
    assert out is None or isinstance(out, Parsed)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=120).map(_ipv4),
        st.tuples(st.sampled_from([0, 3, 11]), st.integers(0, 255), st.binary(max_size=100)).map(
            lambda t: _ipv4(bytes([t[0], t[1], 0, 0]) + t[2])
        ),
    )
)
def test_raw_icmp_parser_never_raises_anything_else(data: bytes) -> None:
    _check(_RAW._parse, data, ("10.0.0.2", 0))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_dgram_icmp_parser_never_raises_anything_else(data: bytes) -> None:
    _check(_DGRAM._parse, data, ("10.0.0.2", 0))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=200).map(lambda b: b"RTGL\x01\x02" + b),
    )
)
def test_udp_parser_never_raises_anything_else(data: bytes) -> None:
    _check(_UDP._parse, data, ("::ffff:127.0.0.1", 4789, 0, 0))


def test_udp_parser_accepts_a_real_reply_and_keys_it_by_canonical_source_and_port() -> None:
    nonce = bytes(range(16))
    reply = wire.encode(wire.echo_reply(nonce, 1.0, 2.0, "x")) + wire.turnaround_tlv(5000)
    parsed = _UDP._parse(reply, ("::ffff:127.0.0.1", 4789, 0, 0))
    assert parsed is not None and parsed.key == ("127.0.0.1", 4789, nonce) and parsed.token == nonce
    assert "turnaround_us=5.0" in parsed.detail and parsed.adjust_ns == 0  # not trusted


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=120),
        st.tuples(st.sampled_from([1, 3, 129]), st.integers(0, 255), st.binary(max_size=100)).map(
            lambda t: bytes([t[0], t[1], 0, 0]) + t[2]
        ),
    )
)
def test_icmp6_parsers_never_raise_anything_else(data: bytes) -> None:
    _check(_RAW6._parse, data, ("fd00::2", 0, 0, 0))
    _check(_DGRAM6._parse, data, ("fd00::2", 0, 0, 0))
