"""The v1 wire format: exact layout, strict parsing, round trip, and a hypothesis fuzz of decode."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rttgeo import wire

NONCE = bytes(range(16))


def test_request_layout_is_the_documented_one() -> None:
    data = wire.encode(wire.echo_request(NONCE, flags=wire.FLAG_SIGN), pad_to=wire.MIN_REQUEST_SIZE)
    assert len(data) == wire.MIN_REQUEST_SIZE
    assert data[:4] == b"RTGL" and data[4] == 1 and data[5] == wire.MsgType.ECHO_REQUEST
    assert struct.unpack(">H", data[6:8])[0] == wire.FLAG_SIGN
    assert data[8:24] == NONCE
    assert data[24] == wire.Tlv.PAD and struct.unpack(">H", data[25:27])[0] == 128 - 27


def test_reply_layout_and_position_precision() -> None:
    data = wire.encode(wire.echo_reply(NONCE, -33.8688197, 151.2092955, "syd-1"))
    assert data[5] == wire.MsgType.ECHO_REPLY
    lat_e7, lon_e7 = struct.unpack(">ii", data[24:32])
    assert (lat_e7, lon_e7) == (-338688197, 1512092955)
    msg = wire.decode(data)
    assert msg.server_id == "syd-1" and msg.nonce == NONCE
    assert msg.lat_deg == pytest.approx(-33.8688197, abs=1e-7)
    assert len(data) <= 24 + 8 + 3 + wire.MAX_SERVER_ID_BYTES < wire.MIN_REQUEST_SIZE
    with_turnaround = wire.encode(wire.echo_reply(NONCE, 0.0, 0.0, "x" * 64)) + wire.turnaround_tlv(
        123_456
    )
    assert len(with_turnaround) == 106 < wire.MIN_REQUEST_SIZE  # the largest v1 reply
    assert wire.decode(with_turnaround).turnaround_ns == 123_456
    assert (
        wire.turnaround_tlv(-5)[-4:] == bytes(4) and wire.turnaround_tlv(2**40)[-4:] == b"\xff" * 4
    )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d[:10], "short"),
        (lambda d: b"XXXX" + d[4:], "magic"),
        (lambda d: d[:4] + b"\x02" + d[5:], "version"),
        (lambda d: d[:5] + b"\x03" + d[6:], "type"),  # reserved CHALLENGE_REQUEST
        (lambda d: d + b"\x00", "truncated"),  # a lone TLV type byte
        (lambda d: d[:24] + b"\x00\x00\xff", "truncated"),  # PAD longer than the datagram
        (lambda d: d[:24] + b"\x99\x00\x00", "critical"),
        (lambda d: d[:24] + b"\x01\x00\x01x", "server_id"),  # SERVER_ID in a request
        (lambda d: d + bytes(wire.MAX_DATAGRAM_SIZE), "long"),
    ],
)
def test_malformed_requests_name_their_reason(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    good = wire.encode(wire.echo_request(NONCE), pad_to=wire.MIN_REQUEST_SIZE)
    with pytest.raises(wire.WireFormatError) as info:
        wire.decode(mutate(good))
    assert info.value.reason == reason


def test_unknown_noncritical_tlv_is_kept_and_reserved_signing_tlvs_parse() -> None:
    msg = wire.Message(wire.MsgType.ECHO_REQUEST, NONCE, 0, extra=((0x23, b"abc"), (0x40, b"c")))
    assert wire.decode(wire.encode(msg)).extra == ((0x23, b"abc"), (0x40, b"c"))


def test_encode_refuses_bad_values() -> None:
    with pytest.raises(ValueError):
        wire.echo_reply(NONCE, 91.0, 0.0)
    with pytest.raises(ValueError):
        wire.echo_reply(NONCE, float("nan"), 0.0)
    with pytest.raises(ValueError):
        wire.encode(wire.echo_reply(NONCE, 0.0, 0.0, "x" * 65))
    with pytest.raises(ValueError):
        wire.encode(wire.echo_request(b"short"))


_extra_tlvs = st.lists(
    st.tuples(
        st.integers(3, 0x7F) | st.sampled_from([0x40, 0x41, 0x42]),
        st.binary(max_size=40),
    ),
    max_size=4,
).map(tuple)

_messages = st.one_of(
    st.builds(
        wire.Message,
        type=st.just(int(wire.MsgType.ECHO_REQUEST)),
        nonce=st.binary(min_size=16, max_size=16),
        flags=st.integers(0, 0xFFFF),
        extra=_extra_tlvs,
    ),
    st.builds(
        wire.Message,
        type=st.just(int(wire.MsgType.ECHO_REPLY)),
        nonce=st.binary(min_size=16, max_size=16),
        flags=st.integers(0, 0xFFFF),
        lat_e7=st.integers(-900_000_000, 900_000_000),
        lon_e7=st.integers(-1_800_000_000, 1_800_000_000),
        server_id=st.text(max_size=16),
        extra=_extra_tlvs,
        turnaround_ns=st.none() | st.integers(0, 2**32 - 1),
    ),
)


@settings(max_examples=250, deadline=None)
@given(_messages, st.integers(0, 400))
def test_round_trip(msg: wire.Message, pad_to: int) -> None:
    data = wire.encode(msg, pad_to=pad_to)
    assert len(data) >= pad_to
    assert wire.decode(data) == msg


@settings(max_examples=800, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=1400),
        st.tuples(st.sampled_from([b"RTGL\x01\x01", b"RTGL\x01\x02"]), st.binary(max_size=300)).map(
            lambda t: t[0] + t[1]
        ),
    )
)
def test_decode_of_random_bytes_raises_only_its_own_error(data: bytes) -> None:
    try:
        out = wire.decode(data)
    except wire.WireFormatError:
        return
    assert out.type in (wire.MsgType.ECHO_REQUEST, wire.MsgType.ECHO_REPLY)
    assert wire.decode(wire.encode(out)) == out  # whatever parses is representable


@settings(max_examples=400, deadline=None)
@given(_messages, st.data())
def test_decode_of_mutated_messages_raises_only_its_own_error(msg: wire.Message, data) -> None:  # type: ignore[no-untyped-def]
    raw = bytearray(wire.encode(msg, pad_to=64))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        out = wire.decode(bytes(raw[:cut]))
    except wire.WireFormatError:
        return
    assert out.nonce == bytes(raw[8:24])  # whatever parses keeps the nonce where it was
