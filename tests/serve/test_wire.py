"""rttgeo.wire at its boundaries: every limit of the format accepted exactly up to the documented
value and refused one past it, with its reason (issue #15: a decode without the position range
check, or one that took a duplicate TURNAROUND TLV, passed every earlier test)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rttgeo import wire
from rttgeo.errors import InputError
from rttgeo.wire import ChallengeMessage, HostOp, LandmarkOp, MsgType, Tlv

NONCE = bytes(range(16))
SID = bytes(range(100, 116))
E7 = 10_000_000


def tlv(kind: int, value: bytes) -> bytes:
    return struct.pack(">BH", kind, len(value)) + value


def reply_bytes(lat_e7: int = 0, lon_e7: int = 0, tlvs: bytes = b"", flags: int = 0) -> bytes:
    """An ECHO_REPLY written byte by byte (docs/serve.md layout), position unchecked."""
    return (
        struct.pack(">4sBBH16s", b"RTGL", 1, 2, flags, NONCE) + struct.pack(">ii", lat_e7, lon_e7)
        + tlvs
    )


def request_bytes(tlvs: bytes = b"", kind: int = 1) -> bytes:
    return struct.pack(">4sBBH16s", b"RTGL", 1, kind, 0, NONCE) + tlvs


def reason(data: bytes, decode=wire.decode) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(wire.WireFormatError) as info:
        decode(data)
    assert isinstance(info.value, InputError) and info.value.field == info.value.reason
    return info.value.reason


# -- positions --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat_e7", "lon_e7"),
    [(90 * E7, 0), (-90 * E7, 0), (0, 180 * E7), (0, -180 * E7), (90 * E7, -180 * E7)],
)
def test_positions_at_the_range_limits_are_accepted(lat_e7: int, lon_e7: int) -> None:
    msg = wire.decode(reply_bytes(lat_e7, lon_e7))
    assert (msg.lat_e7, msg.lon_e7) == (lat_e7, lon_e7)
    assert (msg.lat_deg, msg.lon_deg) == (lat_e7 / E7, lon_e7 / E7)


@pytest.mark.parametrize(
    ("lat_e7", "lon_e7"),
    [
        (90 * E7 + 1, 0),
        (-90 * E7 - 1, 0),
        (0, 180 * E7 + 1),
        (0, -180 * E7 - 1),
        (2**31 - 1, 0),
        (-(2**31), -(2**31)),
    ],
)
def test_a_reply_claiming_a_position_off_the_earth_is_refused(lat_e7: int, lon_e7: int) -> None:
    """A landmark's position is what distances are measured from: a bad one must never parse."""
    assert reason(reply_bytes(lat_e7, lon_e7)) == "position"


def test_echo_reply_encodes_positions_up_to_the_limits_only() -> None:
    for lat, lon in [(90.0, 180.0), (-90.0, -180.0)]:
        msg = wire.echo_reply(NONCE, lat, lon)
        assert (msg.lat_e7, msg.lon_e7) == (round(lat * E7), round(lon * E7))
    for lat, lon in [(90.0000001, 0.0), (-90.0000001, 0.0), (0.0, 180.0000001), (0.0, -180.0000001)]:
        with pytest.raises(ValueError, match="outside"):
            wire.echo_reply(NONCE, lat, lon)
    assert wire.echo_reply(NONCE, 1.23456785, 0.0).lat_e7 == 12345678  # rounds (half to even)
    assert wire.echo_reply(NONCE, -1.23456786, 0.0).lat_e7 == -12345679
    assert wire.echo_request(NONCE).lat_deg is None and wire.echo_request(NONCE).lon_deg is None


def test_a_reply_without_its_position_is_truncated() -> None:
    assert reason(reply_bytes()[:31]) == "truncated"
    assert reason(reply_bytes()[:24]) == "truncated"


# -- TLVs -------------------------------------------------------------------------------------------


def test_a_duplicate_turnaround_is_refused() -> None:
    """Two TURNAROUNDs would let a server's reply claim two processing times: refuse it."""
    one = tlv(Tlv.TURNAROUND, struct.pack(">I", 1000))
    assert wire.decode(reply_bytes(tlvs=one)).turnaround_ns == 1000
    assert reason(reply_bytes(tlvs=one + one)) == "turnaround"
    assert reason(reply_bytes(tlvs=one + tlv(Tlv.PAD, b"") + one)) == "turnaround"


@pytest.mark.parametrize("value", [b"", b"\0\0\0", b"\0\0\0\0\0"])
def test_a_turnaround_of_other_than_4_bytes_is_refused(value: bytes) -> None:
    assert reason(reply_bytes(tlvs=tlv(Tlv.TURNAROUND, value))) == "turnaround"


def test_turnaround_and_server_id_belong_to_replies_only() -> None:
    assert reason(request_bytes(tlv(Tlv.TURNAROUND, bytes(4)))) == "turnaround"
    assert reason(request_bytes(tlv(Tlv.SERVER_ID, b"x"))) == "server_id"


def test_turnaround_extremes_and_clamping() -> None:
    for ns in (0, 2**32 - 1):
        data = reply_bytes(tlvs=tlv(Tlv.TURNAROUND, struct.pack(">I", ns)))
        assert wire.decode(data).turnaround_ns == ns
    assert wire.turnaround_tlv(2**32 - 1)[-4:] == b"\xff" * 4
    assert wire.turnaround_tlv(2**32)[-4:] == b"\xff" * 4
    assert wire.turnaround_tlv(0)[-4:] == bytes(4) and wire.turnaround_tlv(-1)[-4:] == bytes(4)
    assert wire.turnaround_tlv(7) == bytes([Tlv.TURNAROUND, 0, 4, 0, 0, 0, 7])


@pytest.mark.parametrize("size", [1, 2, 63, 64])
def test_server_ids_of_1_to_64_bytes_parse(size: int) -> None:
    sid = "é" * (size // 2) + "x" * (size % 2)
    assert len(sid.encode()) == size
    assert wire.decode(reply_bytes(tlvs=tlv(Tlv.SERVER_ID, sid.encode()))).server_id == sid
    assert wire.decode(wire.encode(wire.echo_reply(NONCE, 0.0, 0.0, sid))).server_id == sid


def test_bad_server_ids_are_refused() -> None:
    one = tlv(Tlv.SERVER_ID, b"a")
    for data in (
        tlv(Tlv.SERVER_ID, b""),
        tlv(Tlv.SERVER_ID, b"x" * 65),
        tlv(Tlv.SERVER_ID, b"\xff\xfe"),  # not UTF-8
        one + one,
    ):
        assert reason(reply_bytes(tlvs=data)) == "server_id"
    with pytest.raises(ValueError, match="64"):
        wire.encode(wire.echo_reply(NONCE, 0.0, 0.0, "x" * 65))


def test_critical_and_unknown_tlvs() -> None:
    assert reason(request_bytes(tlv(0x80, b""))) == "critical"
    assert reason(request_bytes(tlv(0xFF, b"x"))) == "critical"
    msg = wire.decode(request_bytes(tlv(0x7F, b"kept") + tlv(Tlv.PAD, b"gone") + tlv(0x03, b"")))
    assert msg.extra == ((0x7F, b"kept"), (0x03, b""))


def test_tlv_framing() -> None:
    assert reason(request_bytes(b"\x00")) == "truncated"
    assert reason(request_bytes(b"\x00\x00")) == "truncated"
    assert wire.decode(request_bytes(b"\x00\x00\x00")).extra == ()  # an empty PAD: exactly 3
    assert reason(request_bytes(b"\x00\x00\x02x")) == "truncated"  # one byte short
    assert wire.decode(request_bytes(b"\x00\x00\x02xy")).extra == ()  # exactly the datagram


# -- sizes, header ----------------------------------------------------------------------------------


def test_datagram_size_limits() -> None:
    assert wire.decode(request_bytes()).nonce == NONCE  # the bare header is a request
    assert reason(request_bytes()[:23]) == "short"
    assert reason(b"") == "short"
    pad = wire.MAX_DATAGRAM_SIZE - wire.HEADER_SIZE - 3
    assert wire.decode(request_bytes(tlv(Tlv.PAD, bytes(pad)))).type == MsgType.ECHO_REQUEST
    assert reason(request_bytes(tlv(Tlv.PAD, bytes(pad + 1)))) == "long"


def test_header_fields() -> None:
    assert reason(b"RTGX" + request_bytes()[4:]) == "magic"
    assert reason(request_bytes()[:4] + b"\x00" + request_bytes()[5:]) == "version"
    assert reason(request_bytes()[:4] + b"\x02" + request_bytes()[5:]) == "version"
    for kind in (0, 5, 255):
        assert reason(request_bytes(kind=kind)) == "type"
        with pytest.raises(wire.WireFormatError, match=f": unsupported message type {kind}$"):
            wire.decode(request_bytes(kind=kind))  # not pointed at the challenge decoder
    for kind in (3, 4):  # challenge messages have their own decoder
        with pytest.raises(wire.WireFormatError, match="decode_challenge") as info:
            wire.decode(request_bytes(kind=kind))
        assert info.value.reason == "type"
    msg = wire.decode(reply_bytes(flags=0xFFFF))
    assert msg.flags == 0xFFFF and msg.type == MsgType.ECHO_REPLY and isinstance(msg.type, int)


def test_encode_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="nonce"):
        wire.encode(wire.echo_request(NONCE[:15]))
    for kind, flags in ((256, 0), (-1, 0), (1, 0x10000), (1, -1)):
        with pytest.raises(ValueError, match="range"):
            wire.encode(wire.Message(kind, NONCE, flags))
    assert wire.encode(wire.Message(255, NONCE, 0xFFFF))[5:8] == b"\xff\xff\xff"
    assert wire.encode(wire.Message(0, NONCE, 0))[5:8] == b"\0\0\0"  # every byte value encodes
    for lat, lon in ((None, 0), (0, None)):
        with pytest.raises(ValueError, match="ECHO_REPLY"):
            wire.encode(wire.Message(MsgType.ECHO_REPLY, NONCE, 0, lat, lon))
    with pytest.raises(ValueError, match="longer"):
        wire.encode(wire.echo_request(NONCE), pad_to=wire.MAX_DATAGRAM_SIZE + 1)
    assert len(wire.encode(wire.echo_request(NONCE), pad_to=wire.MAX_DATAGRAM_SIZE)) == 1232


@pytest.mark.parametrize("extra", [0, 1, 2, 3, 4, 100])
def test_padding_reaches_pad_to_exactly_when_a_pad_tlv_fits(extra: int) -> None:
    bare = len(wire.encode(wire.echo_request(NONCE)))
    data = wire.encode(wire.echo_request(NONCE), pad_to=bare + extra)
    # A PAD TLV is at least 3 bytes: closer than that, the message ends 1-2 bytes past pad_to.
    assert len(data) == (bare if extra == 0 else max(bare + extra, bare + 3))
    assert wire.decode(data) == wire.echo_request(NONCE)


def test_min_request_size_exceeds_the_largest_reply() -> None:
    largest = wire.encode(
        wire.Message(MsgType.ECHO_REPLY, NONCE, 0, 0, 0, "x" * 64, turnaround_ns=2**32 - 1)
    )
    assert len(largest) == 106 < wire.MIN_REQUEST_SIZE == 128


# -- the challenge-response messages (types 3 and 4) -----------------------------------------------

KEY = bytes(range(32))
SIG = bytes(range(64))
FULL = {"challenge": KEY, "signature": SIG, "key": KEY, "verifier_challenge": KEY}


def challenge(kind: MsgType, op: int, **kw) -> ChallengeMessage:  # type: ignore[no-untyped-def]
    return ChallengeMessage(type=int(kind), op=int(op), nonce=NONCE, session_id=SID, **kw)


def fixed(kind: int, op: int, rnd: int = 0, code: int = 0, tlvs: bytes = b"") -> bytes:
    """A challenge message written byte by byte: header, op, code, round, session id, TLVs."""
    return struct.pack(">4sBBH16sBBH16s", b"RTGL", 1, kind, 0, NONCE, op, code, rnd, SID) + tlvs


REQ, REP = MsgType.CHALLENGE_REQUEST, MsgType.CHALLENGE_REPLY


def test_challenge_layout() -> None:
    data = wire.encode_challenge(challenge(REP, LandmarkOp.NONCE, challenge=KEY, round=258))
    assert data[:6] == b"RTGL\x01\x04" and data[6:8] == b"\0\0" and data[8:24] == NONCE
    assert data[24:28] == bytes([LandmarkOp.NONCE, 0, 1, 2]) and data[28:44] == SID
    assert wire.CHALLENGE_HEADER_SIZE == 44
    assert data[44:47] == bytes([Tlv.CHALLENGE, 0, 32]) and data[47:79] == KEY  # the fast path
    both = wire.encode_challenge(challenge(REQ, HostOp.ANSWER, signature=SIG, challenge=KEY))
    assert both[44] == Tlv.CHALLENGE  # CHALLENGE first even when other TLVs are given


@pytest.mark.parametrize(
    ("kind", "op", "need"),
    [
        (REQ, HostOp.OPEN, ("key", "verifier_challenge")),
        (REQ, HostOp.ANSWER, ("challenge", "signature")),
        (REQ, HostOp.NEXT, ()),
        (REQ, HostOp.RECEIPT, ()),
        (REP, LandmarkOp.NONCE, ("challenge",)),
        (REP, LandmarkOp.DONE, ()),
        (REP, LandmarkOp.RECEIPT, ("receipt",)),
        (REP, LandmarkOp.ERROR, ()),
    ],
)
def test_each_op_needs_exactly_its_tlvs(kind: MsgType, op: int, need: tuple[str, ...]) -> None:
    values = {**FULL, "receipt": b"r" * 10}
    full = challenge(kind, op, round=7, code=3, **{k: values[k] for k in need})
    assert wire.decode_challenge(wire.encode_challenge(full)) == full
    for missing in need:
        partial = challenge(kind, op, **{k: values[k] for k in need if k != missing})
        assert reason(wire.encode_challenge(partial), wire.decode_challenge) == "missing"


@pytest.mark.parametrize(
    ("kind", "size"),
    [(Tlv.CHALLENGE, 32), (Tlv.SIGNATURE, 64), (Tlv.KEY_ID, 32), (Tlv.VERIFIER_CHALLENGE, 32)],
)
def test_fixed_size_tlvs_must_have_their_size(kind: int, size: int) -> None:
    ok = wire.decode_challenge(fixed(REQ, HostOp.NEXT, tlvs=tlv(kind, bytes(size))))
    assert ok.op == HostOp.NEXT
    for bad in (size - 1, size + 1, 0):
        assert reason(fixed(REQ, HostOp.NEXT, tlvs=tlv(kind, bytes(bad))), wire.decode_challenge) == "tlv"
    twice = tlv(kind, bytes(size)) * 2
    assert reason(fixed(REQ, HostOp.NEXT, tlvs=twice), wire.decode_challenge) == "tlv"
    with pytest.raises(ValueError, match="bytes"):
        field = {Tlv.CHALLENGE: "challenge", Tlv.SIGNATURE: "signature", Tlv.KEY_ID: "key",
                 Tlv.VERIFIER_CHALLENGE: "verifier_challenge"}[kind]
        wire.encode_challenge(challenge(REQ, HostOp.NEXT, **{field: bytes(size + 1)}))


def test_receipt_tlv_sizes() -> None:
    for size in (1, 281):
        msg = wire.decode_challenge(fixed(REP, LandmarkOp.RECEIPT, tlvs=tlv(Tlv.RECEIPT, bytes(size))))
        assert len(msg.receipt) == size
    for size in (0, 282):
        data = fixed(REP, LandmarkOp.RECEIPT, tlvs=tlv(Tlv.RECEIPT, bytes(size)))
        assert reason(data, wire.decode_challenge) == "tlv"
    two = tlv(Tlv.RECEIPT, b"a") * 2
    assert reason(fixed(REP, LandmarkOp.RECEIPT, tlvs=two), wire.decode_challenge) == "tlv"


def test_challenge_header_checks() -> None:
    good = fixed(REQ, HostOp.NEXT)
    assert len(good) == 44 and wire.decode_challenge(good).op == HostOp.NEXT
    assert reason(good[:43], wire.decode_challenge) == "short"
    assert reason(good + tlv(Tlv.PAD, bytes(wire.MAX_DATAGRAM_SIZE)), wire.decode_challenge) == "long"
    pad = wire.MAX_DATAGRAM_SIZE - 44 - 3
    assert wire.decode_challenge(good + tlv(Tlv.PAD, bytes(pad))).op == HostOp.NEXT
    assert reason(b"XTGL" + good[4:], wire.decode_challenge) == "magic"
    assert reason(good[:4] + b"\x02" + good[5:], wire.decode_challenge) == "version"
    for kind in (1, 2, 5):
        assert reason(good[:5] + bytes([kind]) + good[6:], wire.decode_challenge) == "type"
    for kind, op in ((REQ, 0), (REQ, 5), (REP, 0), (REP, 5)):
        assert reason(fixed(kind, op), wire.decode_challenge) == "op"
    msg = wire.decode_challenge(fixed(REP, LandmarkOp.ERROR, rnd=0xFFFF, code=255))
    assert (msg.round, msg.code, msg.session_id, msg.nonce) == (0xFFFF, 255, SID, NONCE)


def test_challenge_tlv_framing_and_unknown_tlvs() -> None:
    base = fixed(REQ, HostOp.NEXT)
    assert reason(base + b"\x00\x00", wire.decode_challenge) == "truncated"
    assert reason(base + b"\x00\x00\x02x", wire.decode_challenge) == "truncated"
    assert reason(base + tlv(0x80, b""), wire.decode_challenge) == "critical"
    msg = wire.decode_challenge(base + tlv(0x7F, b"k") + tlv(Tlv.PAD, b"p") + tlv(0x05, b""))
    assert msg.extra == ((0x7F, b"k"), (0x05, b""))
    assert wire.decode_challenge(wire.encode_challenge(challenge(REQ, HostOp.NEXT, extra=msg.extra))) == (
        challenge(REQ, HostOp.NEXT, extra=msg.extra)
    )


def test_encode_challenge_checks_its_arguments() -> None:
    for kind, op in ((1, 1), (REQ, 0), (REQ, 5), (REP, 5)):
        with pytest.raises(ValueError, match="not a challenge"):
            wire.encode_challenge(challenge(kind, op))  # type: ignore[arg-type]
    for kw in ({"nonce": NONCE[:15]}, {"session_id": SID + b"x"}):
        with pytest.raises(ValueError, match="16 bytes"):
            wire.encode_challenge(ChallengeMessage(**{"type": int(REQ), "op": 3, "nonce": NONCE,
                                                      "session_id": SID, **kw}))
    for kw in ({"round": 0x10000}, {"round": -1}, {"code": 256}, {"code": -1}):
        with pytest.raises(ValueError, match="range"):
            wire.encode_challenge(challenge(REQ, HostOp.NEXT, **kw))
    edge = challenge(REQ, HostOp.NEXT, round=0xFFFF, code=255)
    assert wire.decode_challenge(wire.encode_challenge(edge)) == edge
    with pytest.raises(ValueError, match="longer"):
        wire.encode_challenge(challenge(REQ, HostOp.NEXT), pad_to=wire.MAX_DATAGRAM_SIZE + 1)
    data = wire.encode_challenge(challenge(REQ, HostOp.RECEIPT), pad_to=wire.RECEIPT_REQUEST_SIZE)
    assert len(data) == wire.RECEIPT_REQUEST_SIZE == 384
    near = wire.encode_challenge(challenge(REQ, HostOp.RECEIPT), pad_to=45)
    assert len(near) == 47  # a PAD TLV needs 3 bytes


def test_peek_type() -> None:
    assert wire.peek_type(fixed(REQ, HostOp.NEXT)) == 3
    assert wire.peek_type(request_bytes()) == 1
    assert wire.peek_type(request_bytes()[:24]) == 1
    assert wire.peek_type(request_bytes()[:23]) is None
    assert wire.peek_type(b"RTGX" + request_bytes()[4:]) is None
    assert wire.peek_type(request_bytes()[:4] + b"\x02" + request_bytes()[5:]) is None


_ops = st.one_of(
    st.tuples(st.just(REQ), st.sampled_from(list(HostOp))),
    st.tuples(st.just(REP), st.sampled_from(list(LandmarkOp))),
)


@settings(max_examples=200, deadline=None)
@given(
    kind_op=_ops,
    rnd=st.integers(0, 0xFFFF),
    code=st.integers(0, 255),
    tlvs=st.fixed_dictionaries(
        {},
        optional={
            "challenge": st.binary(min_size=32, max_size=32),
            "signature": st.binary(min_size=64, max_size=64),
            "key": st.binary(min_size=32, max_size=32),
            "verifier_challenge": st.binary(min_size=32, max_size=32),
            "receipt": st.binary(min_size=1, max_size=281),
        },
    ),
    pad_to=st.integers(0, 600),
)
def test_challenge_round_trip(kind_op, rnd: int, code: int, tlvs: dict, pad_to: int) -> None:  # type: ignore[no-untyped-def]
    kind, op = kind_op
    need = {
        (REQ, HostOp.OPEN): {"key": KEY, "verifier_challenge": KEY},
        (REQ, HostOp.ANSWER): {"challenge": KEY, "signature": SIG},
        (REP, LandmarkOp.NONCE): {"challenge": KEY},
        (REP, LandmarkOp.RECEIPT): {"receipt": b"r"},
    }.get((kind, op), {})
    msg = challenge(kind, op, round=rnd, code=code, **{**need, **tlvs})
    data = wire.encode_challenge(msg, pad_to=pad_to)
    assert len(data) >= pad_to
    assert wire.decode_challenge(data) == msg
    assert wire.peek_type(data) == kind


def test_defaults_are_empty_and_unflagged() -> None:
    """Builders send nothing the caller did not ask for: no flag, no server id, no padding."""
    req = wire.echo_request(NONCE)
    assert req.flags == 0 and req.lat_e7 is None and req.server_id == ""
    rep = wire.echo_reply(NONCE, 1.0, 2.0)
    assert (rep.flags, rep.server_id, rep.turnaround_ns, rep.extra) == (0, "", None, ())
    assert len(wire.encode(rep)) == 32  # header + position, no TLV
    assert len(wire.encode_challenge(challenge(REQ, HostOp.NEXT))) == wire.CHALLENGE_HEADER_SIZE


def test_positions_out_of_range_name_the_coordinate() -> None:
    with pytest.raises(ValueError, match=r"^lat_deg 91\.0 outside \[-90\.0, 90\.0\]$"):
        wire.echo_reply(NONCE, 91.0, 0.0)
    with pytest.raises(ValueError, match=r"^lon_deg -181\.0 outside \[-180\.0, 180\.0\]$"):
        wire.echo_reply(NONCE, 0.0, -181.0)


def test_challenge_padding_and_size_limits_are_exact() -> None:
    bare = wire.encode_challenge(challenge(REQ, HostOp.NEXT))
    # Already long enough: no PAD TLV (a message exactly pad_to long is not padded further).
    assert wire.encode_challenge(challenge(REQ, HostOp.NEXT), pad_to=len(bare)) == bare
    # A message of exactly MAX_DATAGRAM_SIZE bytes is allowed, one more is not.
    full = wire.encode_challenge(challenge(REQ, HostOp.NEXT), pad_to=wire.MAX_DATAGRAM_SIZE)
    assert len(full) == wire.MAX_DATAGRAM_SIZE
    assert wire.decode_challenge(full) == challenge(REQ, HostOp.NEXT)
    big = challenge(REP, LandmarkOp.RECEIPT, receipt=bytes(281),
                    extra=((0x10, bytes(wire.MAX_DATAGRAM_SIZE - 44 - 284 - 3)),))
    assert len(wire.encode_challenge(big)) == wire.MAX_DATAGRAM_SIZE
    too_big = challenge(REP, LandmarkOp.RECEIPT, receipt=bytes(281),
                        extra=((0x10, bytes(wire.MAX_DATAGRAM_SIZE - 44 - 284 - 2)),))
    with pytest.raises(ValueError, match="longer"):
        wire.encode_challenge(too_big)
