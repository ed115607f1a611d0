"""Receipts (rttgeo.receipt) and the challenge messages of the wire format: layouts, signatures,
tampering, malformed input."""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("cryptography", reason="the verify extra (cryptography) is not installed")

from rttgeo import crypto, wire
from rttgeo.errors import VerificationError
from rttgeo.receipt import MAX_RECEIPT_SIZE, Receipt, decode_receipt, sign_receipt
from rttgeo.wire import ChallengeMessage, HostOp, LandmarkOp, MsgType, WireFormatError


@pytest.fixture(scope="module")
def landmark_key():  # type: ignore[no-untyped-def]
    return crypto.generate_key()


def make_receipt(key, **kw) -> Receipt:  # type: ignore[no-untyped-def]
    fields = dict(
        session_id=b"S" * 16, landmark_key=bytes(32), host_key=crypto.public_bytes(
            crypto.generate_key()), challenge=b"C" * 32, landmark_id="frankfurt-1",
        lat_e7=501_109_000, lon_e7=86_821_000, min_rtt_ns=3_456_789, rounds=10,
        start_unix_ns=1_700_000_000_000_000_000, end_unix_ns=1_700_000_000_500_000_000)
    fields.update(kw)
    return sign_receipt(Receipt(**fields), key)


def test_layout_round_trip_and_size(landmark_key) -> None:  # type: ignore[no-untyped-def]
    r = make_receipt(landmark_key)
    data = r.to_bytes()
    assert len(data) == 153 + len("frankfurt-1") + 64
    assert data[:4] == b"RTGR" and data[4] == 1
    back = decode_receipt(data)
    assert back == r
    back.check_signature()
    assert (back.lat_deg, back.lon_deg, back.min_rtt_ms) == (50.1109, 8.6821, 3.456789)
    assert len(make_receipt(landmark_key, landmark_id="x" * 64).to_bytes()) == MAX_RECEIPT_SIZE
    assert MAX_RECEIPT_SIZE == wire._MAX_RECEIPT  # the wire module's copy of the bound


def test_the_clock_that_timed_the_rounds_survives_the_round_trip(landmark_key) -> None:  # type: ignore[no-untyped-def]
    """A receipt timed by the landmark's monotonic clock (no kernel stamps) says so once decoded,
    and `rttgeo prove` reports which clock timed each landmark: the signed field must not fall
    back to the default (kernel) one."""
    from rttgeo.receipt import CLOCK_KERNEL, CLOCK_MONOTONIC

    for clock in (CLOCK_MONOTONIC, CLOCK_KERNEL):
        back = decode_receipt(make_receipt(landmark_key, clock=clock).to_bytes())
        assert back.clock == clock
        back.check_signature()
    assert CLOCK_MONOTONIC != CLOCK_KERNEL


def test_every_tampered_byte_is_caught(landmark_key) -> None:  # type: ignore[no-untyped-def]
    data = make_receipt(landmark_key).to_bytes()
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x01
        with pytest.raises(VerificationError):
            decode_receipt(bytes(bad)).check_signature()


def test_a_receipt_signed_by_another_key_or_a_forged_small_order_one(landmark_key) -> None:  # type: ignore[no-untyped-def]
    r = make_receipt(landmark_key)
    other = make_receipt(crypto.generate_key())
    with pytest.raises(VerificationError, match="does not verify"):
        replace(r, signature=other.signature).check_signature()
    # the zero-signature forgery under the identity key, which OpenSSL alone would accept
    forged = replace(r, landmark_key=bytes([1]) + bytes(31), signature=bytes([1]) + bytes(63))
    with pytest.raises(VerificationError, match="small order"):
        decode_receipt(forged.to_bytes()).check_signature()
    with pytest.raises(VerificationError, match="host"):
        make_receipt(landmark_key, host_key=bytes(32)).check_signature()


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d[:100], "too short"),
    (lambda d: b"XXXX" + d[4:], "bad magic"),
    (lambda d: d[:4] + b"\x02" + d[5:], "version 2"),
    (lambda d: d[:5] + b"\x09" + d[6:], "unknown clock"),
    (lambda d: d[:6] + b"\x00\x00" + d[8:], "no answered round"),
    (lambda d: d[:152] + b"\x05" + d[153:], "length"),
    (lambda d: d + b"\x00", "length"),
    (lambda d: d[:120] + (91 * 10**7).to_bytes(4, "big") + d[124:], "position"),
    (lambda d: d[:136] + (2**64 - 1).to_bytes(8, "big") + d[144:], "ends before"),
    (lambda d: d[:153] + b"\xff" + d[154:], "UTF-8"),
])
def test_malformed_receipts_say_what_is_wrong(landmark_key, mutate, match) -> None:  # type: ignore[no-untyped-def]
    data = make_receipt(landmark_key).to_bytes()
    with pytest.raises(VerificationError, match=match):
        decode_receipt(mutate(data), what="receipts[3]")


def test_unsigned_or_bad_receipts_cannot_be_encoded(landmark_key) -> None:  # type: ignore[no-untyped-def]
    r = make_receipt(landmark_key)
    with pytest.raises(ValueError, match="not signed"):
        replace(r, signature=b"").to_bytes()
    with pytest.raises(ValueError, match="landmark id"):
        replace(r, landmark_id="").body()
    with pytest.raises(ValueError, match="rounds"):
        replace(r, rounds=0).body()
    # the upper limit is the 16-bit field's own: 65,535 encodes, 65,536 is a ValueError naming
    # the field (not struct.error from the packer)
    assert replace(r, rounds=0xFFFF).body()
    assert replace(r, rounds=1).body() and replace(r, landmark_id="a").body()  # lower limits
    with pytest.raises(ValueError, match="rounds"):
        replace(r, rounds=0x10000).body()


# -- challenge messages ------------------------------------------------------------------------------
def _msgs() -> list[tuple[ChallengeMessage, int]]:
    sid, n16 = os.urandom(16), os.urandom(16)
    return [
        (ChallengeMessage(MsgType.CHALLENGE_REQUEST, HostOp.OPEN, n16, bytes(16), round=10,
                          key=os.urandom(32), verifier_challenge=os.urandom(32)), 128),
        (ChallengeMessage(MsgType.CHALLENGE_REQUEST, HostOp.ANSWER, n16, sid, round=3,
                          challenge=os.urandom(32), signature=os.urandom(64)), 0),
        (ChallengeMessage(MsgType.CHALLENGE_REQUEST, HostOp.NEXT, n16, sid), 128),
        (ChallengeMessage(MsgType.CHALLENGE_REQUEST, HostOp.RECEIPT, n16, sid), 384),
        (ChallengeMessage(MsgType.CHALLENGE_REPLY, LandmarkOp.NONCE, n16, sid, round=1,
                          challenge=os.urandom(32), key=os.urandom(32)), 0),
        (ChallengeMessage(MsgType.CHALLENGE_REPLY, LandmarkOp.DONE, n16, sid, round=4), 0),
        (ChallengeMessage(MsgType.CHALLENGE_REPLY, LandmarkOp.RECEIPT, n16, sid, round=4,
                          receipt=os.urandom(281)), 0),
        (ChallengeMessage(MsgType.CHALLENGE_REPLY, LandmarkOp.ERROR, n16, sid, code=5), 0),
    ]


def test_challenge_messages_round_trip() -> None:
    for msg, pad in _msgs():
        data = wire.encode_challenge(msg, pad_to=pad)
        assert len(data) >= pad
        assert wire.peek_type(data) == msg.type
        assert wire.decode_challenge(data) == msg
    # a NONCE carries its CHALLENGE at offset 44 (the prover's fast path relies on it)
    nonce_msg = _msgs()[4][0]
    nonce_reply = wire.encode_challenge(nonce_msg)
    assert nonce_reply[44:47] == b"\x40\x00\x20" and nonce_reply[47:79] == nonce_msg.challenge


def test_the_largest_receipt_reply_fits_a_receipt_request() -> None:
    reply = wire.encode_challenge(ChallengeMessage(
        MsgType.CHALLENGE_REPLY, LandmarkOp.RECEIPT, bytes(16), bytes(16),
        receipt=bytes(MAX_RECEIPT_SIZE)))
    assert len(reply) <= wire.RECEIPT_REQUEST_SIZE


@pytest.mark.parametrize("mutate, reason", [
    (lambda d: d[:40], "short"),
    (lambda d: d[:24] + b"\x09" + d[25:], "op"),
    (lambda d: d[:5] + b"\x01" + d[6:], "type"),
    (lambda d: d[:44] + bytes([0x40, 0, 31]) + bytes(31), "tlv"),
    (lambda d: d + bytes([0x40, 0, 32]) + bytes(32), "tlv"),
    (lambda d: d[:44], "missing"),
    (lambda d: d + bytes([0x99, 0, 0]), "critical"),
    (lambda d: d + bytes([0x40, 0, 200]), "truncated"),
    (lambda d: d + bytes(1300), "long"),
])
def test_malformed_challenge_messages(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    msg = _msgs()[1][0]  # an ANSWER
    with pytest.raises(WireFormatError) as info:
        wire.decode_challenge(mutate(wire.encode_challenge(msg)))
    assert info.value.reason == reason


def test_echo_decode_points_challenge_messages_elsewhere() -> None:
    data = wire.encode_challenge(_msgs()[2][0], pad_to=128)
    with pytest.raises(WireFormatError, match="decode_challenge"):
        wire.decode(data)
    assert wire.peek_type(b"junk" * 10) is None


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_decode_challenge_raises_only_wire_format_errors(data: bytes) -> None:
    framed = wire.MAGIC + bytes([1, 3 + (len(data) & 1), 0, 0]) + data
    for d in (data, framed):
        with contextlib.suppress(WireFormatError):  # anything else fails the test
            wire.decode_challenge(d)


def _with_fields(data: bytes, **kw: int) -> bytes:
    """``data`` with fixed-layout fields replaced (no re-signing: decode checks layout only)."""
    from rttgeo.receipt import _FIXED

    names = ("magic", "version", "clock", "rounds", "sid", "lkey", "hkey", "chal", "lat", "lon",
             "rtt", "start", "end", "idlen")
    values = dict(zip(names, _FIXED.unpack_from(data, 0), strict=True))
    values.update(kw)
    return _FIXED.pack(*values.values()) + data[_FIXED.size:]


# Every limit decode_receipt checks, at the limit and one past it (issue #15: mutants of these
# bounds survived the tests above).
def test_decode_accepts_each_limit_and_refuses_one_past_it(landmark_key) -> None:  # type: ignore[no-untyped-def]
    from rttgeo.receipt import _FIXED

    e7 = 10_000_000
    data = make_receipt(landmark_key).to_bytes()
    for field, ok, bad, words in (
        ("lat", (-90 * e7, 90 * e7), (-90 * e7 - 1, 90 * e7 + 1), "position out of range"),
        ("lon", (-180 * e7, 180 * e7), (-180 * e7 - 1, 180 * e7 + 1), "position out of range"),
        ("rounds", (1,), (0,), "no answered round"),
    ):
        for v in ok:
            assert getattr(decode_receipt(_with_fields(data, **{field: v})), {
                "lat": "lat_e7", "lon": "lon_e7", "rounds": "rounds"}[field]) == v
        for v in bad:
            with pytest.raises(VerificationError, match=f"^receipt: {words}$"):
                decode_receipt(_with_fields(data, **{field: v}))
    r = make_receipt(landmark_key)
    same = _with_fields(data, end=r.start_unix_ns)  # a session may start and end in one ns
    assert decode_receipt(same).end_unix_ns == r.start_unix_ns
    with pytest.raises(VerificationError, match="ends before it starts"):
        decode_receipt(_with_fields(data, end=r.start_unix_ns - 1))
    # landmark ids of 1 and 64 bytes: the shortest and the longest receipt decode, version kept
    for lid in ("a", "x" * 64):
        one = make_receipt(landmark_key, landmark_id=lid)
        back = decode_receipt(one.to_bytes())
        assert back == one and back.version == one.version
    shortest = make_receipt(landmark_key, landmark_id="a").to_bytes()
    assert len(shortest) == _FIXED.size + 1 + crypto.SIGNATURE_SIZE
    with pytest.raises(VerificationError, match=r"^receipt: \d+ bytes is too short"):
        decode_receipt(shortest[:-1])
    longest = make_receipt(landmark_key, landmark_id="x" * 64).to_bytes()
    with pytest.raises(VerificationError, match="landmark id length"):
        decode_receipt(_with_fields(longest, idlen=65) + b"x")
    with pytest.raises(VerificationError, match="landmark id length"):
        decode_receipt(_with_fields(shortest, idlen=0))
