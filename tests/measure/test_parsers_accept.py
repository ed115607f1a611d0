"""The reply parsers accept every well-formed reply and key it right (hypothesis).

test_probers_parsers.py checks that garbage raises nothing but Malformed; a parser that rejects
everything would pass it (issue #15). Here, for random ids, sequence numbers, payloads, positions
and addresses, each parser must return the match a prober waits for, and must not match what is
not ours. Packets are built byte by byte here (RFC 792 / 4443 layouts, RFC 1071 checksum), not with
the probers' own code.
"""

from __future__ import annotations

import socket
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from rttgeo import wire
from rttgeo.measure.icmp import Icmp6DgramProber, Icmp6RawProber, IcmpDgramProber, IcmpRawProber
from rttgeo.measure.socket_prober import Parsed
from rttgeo.measure.udp import UdpProber

RAW = IcmpRawProber()
DGRAM = IcmpDgramProber()
UDP = UdpProber()
RAW6 = Icmp6RawProber()
DGRAM6 = Icmp6DgramProber()

SEQ = st.integers(0, 0xFFFF)
PAYLOAD = st.binary(min_size=0, max_size=64)
IPV4 = st.tuples(st.integers(1, 223), st.integers(0, 255), st.integers(0, 255), st.integers(1, 254))


def rfc1071(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmp(kind: int, code: int, ident: int, seq: int, payload: bytes) -> bytes:
    body = struct.pack(">BBHHH", kind, code, 0, ident, seq) + payload
    return body[:2] + struct.pack(">H", rfc1071(body)) + body[4:]


def ipv4(src: str, dst: str, payload: bytes, proto: int = 1) -> bytes:
    head = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))
    return head[:10] + struct.pack(">H", rfc1071(head)) + head[12:] + payload


def dotted(t: tuple[int, int, int, int]) -> str:
    return ".".join(map(str, t))


@settings(max_examples=200, deadline=None)
@given(seq=SEQ, payload=PAYLOAD, src=IPV4)
def test_raw_icmp_accepts_our_echo_reply(seq: int, payload: bytes, src: tuple) -> None:
    data = ipv4(dotted(src), "10.0.0.1", icmp(0, 0, RAW.ident, seq, payload))
    parsed = RAW._parse(data, (dotted(src), 0))
    assert parsed == Parsed((dotted(src), seq), payload)
    # Another process's ping (another id) is not ours.
    other = ipv4(dotted(src), "10.0.0.1", icmp(0, 0, RAW.ident ^ 0x5A5A, seq, payload))
    assert RAW._parse(other, (dotted(src), 0)) is None


@settings(max_examples=200, deadline=None)
@given(seq=SEQ, payload=PAYLOAD, dst=IPV4, kind=st.sampled_from([3, 11]), code=st.integers(0, 15))
def test_raw_icmp_matches_an_error_quoting_our_echo_request(
    seq: int, payload: bytes, dst: tuple, kind: int, code: int
) -> None:
    quoted = ipv4("10.0.0.1", dotted(dst), icmp(8, 0, RAW.ident, seq, payload))
    data = ipv4("192.0.2.9", "10.0.0.1", icmp(kind, code, 0, 0, quoted))
    parsed = RAW._parse(data, ("192.0.2.9", 0))
    assert parsed is not None and parsed.key == (dotted(dst), seq) and parsed.token == payload
    assert parsed.status == "unreachable" and "192.0.2.9" in parsed.detail


@settings(max_examples=200, deadline=None)
@given(seq=SEQ, payload=PAYLOAD, ident=st.integers(0, 0xFFFF), src=IPV4)
def test_dgram_icmp_accepts_every_echo_reply(seq: int, payload: bytes, ident: int, src: tuple) -> None:
    # On a ping socket the kernel has already matched the id: every echo reply is ours.
    parsed = DGRAM._parse(icmp(0, 0, ident, seq, payload), (dotted(src), 0))
    assert parsed == Parsed((dotted(src), seq), payload)


@settings(max_examples=200, deadline=None)
@given(
    nonce=st.binary(min_size=16, max_size=16),
    lat_e7=st.integers(-90 * 10**7, 90 * 10**7),
    lon_e7=st.integers(-180 * 10**7, 180 * 10**7),
    server_id=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=16).filter(
        lambda s: len(s.encode()) <= wire.MAX_SERVER_ID_BYTES
    ),
    src=IPV4,
    port=st.integers(1, 0xFFFF),
)
def test_udp_accepts_every_echo_reply(
    nonce: bytes, lat_e7: int, lon_e7: int, server_id: str, src: tuple, port: int
) -> None:
    reply = wire.encode(wire.Message(wire.MsgType.ECHO_REPLY, nonce, 0, lat_e7, lon_e7, server_id))
    parsed = UDP._parse(reply, (f"::ffff:{dotted(src)}", port, 0, 0))
    # keyed by the probed address *and* port, with the nonce
    assert parsed is not None and parsed.key == (dotted(src), port, nonce) and parsed.token == nonce
    assert parsed.status == "ok" and f"lat_deg={lat_e7 / 1e7}" in parsed.detail
    assert parsed.announced == (lat_e7 / 1e7, lon_e7 / 1e7)


@settings(max_examples=200, deadline=None)
@given(seq=SEQ, payload=PAYLOAD, host=st.integers(1, 0xFFFF))
def test_icmp6_parsers_accept_our_echo_reply(seq: int, payload: bytes, host: int) -> None:
    src = f"fd00::{host:x}"
    # The kernel checks ICMPv6 checksums on these sockets: the parsers need not.
    parsed = RAW6._parse(icmp(129, 0, RAW6.ident, seq, payload), (src, 0, 0, 0))
    assert parsed == Parsed((src, seq), payload)
    assert RAW6._parse(icmp(129, 0, RAW6.ident ^ 0x5A5A, seq, payload), (src, 0, 0, 0)) is None
    parsed = DGRAM6._parse(icmp(129, 0, 0, seq, payload), (src.upper(), 0, 0, 0))
    assert parsed == Parsed((src, seq), payload)  # the address in canonical form
