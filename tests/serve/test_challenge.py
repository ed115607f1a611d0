"""The landmark's side of the signed challenge-response (rttgeo.serve.challenge), with a scripted
clock: sessions, RTTs timed by the landmark, and every rejection the protocol promises (replayed
and stale nonces, a signature made for another landmark, expired sessions, small-order keys,
another peer), no amplification, rate limits."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("cryptography", reason="the verify extra (cryptography) is not installed")

from rttgeo import crypto, wire
from rttgeo.receipt import CLOCK_KERNEL, CLOCK_MONOTONIC, decode_receipt
from rttgeo.serve import LandmarkServer
from rttgeo.serve.challenge import ChallengeResponder
from rttgeo.wire import ChallengeError, ChallengeMessage, HostOp, LandmarkOp, MsgType

PEER = ("192.0.2.7", 40000)
OFFSET_NS = 1_700_000_000 * 10**9  # realtime - monotonic


class Clock:
    """Monotonic ``t`` ns; realtime = t + offset (a step changes offset)."""

    def __init__(self) -> None:
        self.t = 5 * 10**9
        self.offset = OFFSET_NS

    def mono(self) -> int:
        return self.t

    def real(self) -> int:
        return self.t + self.offset


class Host:
    """A scripted host: builds requests, signs answers with its key."""

    def __init__(self, key=None, challenge: bytes = b"C" * 32) -> None:  # type: ignore[no-untyped-def]
        self.key = key or crypto.generate_key()
        self.public_key = crypto.public_bytes(self.key)
        self.challenge = challenge

    def open(self, rounds: int = 3, key: bytes | None = None) -> bytes:
        return wire.encode_challenge(ChallengeMessage(
            MsgType.CHALLENGE_REQUEST, HostOp.OPEN, os.urandom(16), round=rounds,
            key=self.public_key if key is None else key, verifier_challenge=self.challenge),
            pad_to=wire.MIN_REQUEST_SIZE)

    def answer(self, nonce_reply: ChallengeMessage, landmark_key: bytes,
               sid: bytes | None = None, signature: bytes | None = None) -> bytes:
        sid = nonce_reply.session_id if sid is None else sid
        sig = signature if signature is not None else self.key.sign(
            crypto.answer_message(sid, landmark_key, nonce_reply.challenge))
        return wire.encode_challenge(ChallengeMessage(
            MsgType.CHALLENGE_REQUEST, HostOp.ANSWER, os.urandom(16), sid,
            round=nonce_reply.round, challenge=nonce_reply.challenge, signature=sig))

    @staticmethod
    def simple(op: HostOp, sid: bytes, size: int = wire.MIN_REQUEST_SIZE) -> bytes:
        return wire.encode_challenge(ChallengeMessage(
            MsgType.CHALLENGE_REQUEST, op, os.urandom(16), sid), pad_to=size)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def landmark(clock: Clock) -> ChallengeResponder:
    return ChallengeResponder(crypto.generate_key(), landmark_id="paris-1", lat_deg=48.8566,
                              lon_deg=2.3522, mono_ns=clock.mono, real_ns=clock.real,
                              session_ttl_s=10.0, keep_rtts=4)


def send(lm: ChallengeResponder, data: bytes, peer=PEER, rx_real_ns=None):  # type: ignore[no-untyped-def]
    reply = lm.handle(data, peer, rx_real_ns)
    if reply is None:
        return None
    assert len(reply) <= len(data)
    msg = wire.decode_challenge(reply)
    assert msg.type == MsgType.CHALLENGE_REPLY
    assert msg.nonce == data[8:24]  # the request id is echoed
    return msg


def run_session(lm: ChallengeResponder, clock: Clock, host: Host, rtts_us: list[int],
                kernel_lag_us: int = 30):  # type: ignore[no-untyped-def]
    """Open, answer each nonce after ``rtts_us[i]`` (kernel stamp ``kernel_lag_us`` before the
    user-space read), fetch the receipt."""
    msg = send(lm, host.open(rounds=len(rtts_us)))
    assert msg.op == LandmarkOp.NONCE and msg.key == lm.public_key and msg.round == 1
    for i, rtt in enumerate(rtts_us):
        clock.t += rtt * 1000
        rx_real = clock.real()
        clock.t += kernel_lag_us * 1000
        msg = send(lm, host.answer(msg, lm.public_key), rx_real_ns=rx_real)
        want = LandmarkOp.NONCE if i + 1 < len(rtts_us) else LandmarkOp.DONE
        assert msg.op == want, msg
    out = send(lm, Host.simple(HostOp.RECEIPT, msg.session_id, wire.RECEIPT_REQUEST_SIZE))
    assert out.op == LandmarkOp.RECEIPT
    return decode_receipt(out.receipt), msg.session_id


def test_a_session_yields_a_receipt_with_the_landmark_timed_minimum(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    t0_real = clock.real()
    r, sid = run_session(landmark, clock, host, [900, 700, 800])
    r.check_signature()
    assert r.min_rtt_ns == 700_000  # kernel stamps: the 30 µs user-space lag is not counted
    assert r.clock == CLOCK_KERNEL and r.rounds == 3
    assert (r.landmark_key, r.host_key, r.challenge) == (landmark.public_key, host.public_key,
                                                          host.challenge)
    assert (r.landmark_id, r.lat_deg, r.lon_deg) == ("paris-1", 48.8566, 2.3522)
    assert r.session_id == sid and r.start_unix_ns == t0_real <= r.end_unix_ns
    assert landmark.recent[-1][1] == [900_000, 700_000, 800_000]
    # the receipt can be fetched again (its reply was lost) and is the same
    again = send(landmark, Host.simple(HostOp.RECEIPT, sid, wire.RECEIPT_REQUEST_SIZE))
    assert decode_receipt(again.receipt) == r


def test_without_kernel_stamps_the_round_is_timed_in_user_space(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    msg = send(landmark, host.open(rounds=1))
    clock.t += 500_000
    msg = send(landmark, host.answer(msg, landmark.public_key), rx_real_ns=None)
    assert msg.op == LandmarkOp.DONE
    r = decode_receipt(send(landmark, Host.simple(HostOp.RECEIPT, msg.session_id,
                                                  wire.RECEIPT_REQUEST_SIZE)).receipt)
    assert (r.min_rtt_ns, r.clock) == (500_000, CLOCK_MONOTONIC)


def test_a_wall_clock_step_during_a_round_never_shortens_it(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    """Regression: a kernel stamp is realtime; a step of the wall clock between the nonce's send
    and the answer must not make the round look shorter. It falls back to user space."""
    host = Host()
    msg = send(landmark, host.open(rounds=1))
    clock.t += 400_000
    clock.offset += 300_000  # the wall clock jumps 300 µs forward
    rx_real = clock.real()
    clock.t += 20_000
    msg = send(landmark, host.answer(msg, landmark.public_key), rx_real_ns=rx_real)
    r = decode_receipt(send(landmark, Host.simple(HostOp.RECEIPT, msg.session_id,
                                                  wire.RECEIPT_REQUEST_SIZE)).receipt)
    assert r.clock == CLOCK_MONOTONIC and r.min_rtt_ns == 420_000


def test_a_replayed_answer_is_rejected_and_not_timed(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    n1 = send(landmark, host.open(rounds=3))
    clock.t += 800_000
    answer1 = host.answer(n1, landmark.public_key)
    n2 = send(landmark, answer1, rx_real_ns=clock.real())
    assert n2.op == LandmarkOp.NONCE and n2.challenge != n1.challenge
    clock.t += 100_000
    replay = send(landmark, answer1, rx_real_ns=clock.real())
    assert (replay.op, replay.code) == (LandmarkOp.ERROR, ChallengeError.STALE_NONCE)
    # answering the same (old) nonce again under a fresh request id: still stale
    again = send(landmark, host.answer(n1, landmark.public_key), rx_real_ns=clock.real())
    assert again.code == ChallengeError.STALE_NONCE
    assert landmark.stats.answered == 1


def test_a_nonce_voided_by_next_cannot_be_answered(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    """A host that asks for a fresh nonce (NEXT) cannot answer the old one it already knew."""
    host = Host()
    n1 = send(landmark, host.open(rounds=2))
    n1b = send(landmark, Host.simple(HostOp.NEXT, n1.session_id))
    assert n1b.op == LandmarkOp.NONCE and n1b.round == 1 and n1b.challenge != n1.challenge
    clock.t += 1_000
    stale = send(landmark, host.answer(n1, landmark.public_key), rx_real_ns=clock.real())
    assert stale.code == ChallengeError.STALE_NONCE
    ok = send(landmark, host.answer(n1b, landmark.public_key), rx_real_ns=clock.real())
    assert ok.op == LandmarkOp.NONCE and ok.round == 2


def test_a_signature_made_for_another_landmark_is_rejected(clock) -> None:  # type: ignore[no-untyped-def]
    """Redirect: a host's answer names the landmark key it meant; shown to another landmark (even
    with that landmark's own session id and nonce), it fails there and closes the session."""
    a = ChallengeResponder(crypto.generate_key(), landmark_id="a", lat_deg=0, lon_deg=0,
                           mono_ns=clock.mono, real_ns=clock.real)
    b = ChallengeResponder(crypto.generate_key(), landmark_id="b", lat_deg=0, lon_deg=0,
                           mono_ns=clock.mono, real_ns=clock.real)
    host = Host()
    nb = send(b, host.open(rounds=1))
    wrong = host.answer(nb, a.public_key)  # signed for landmark a
    out = send(b, wrong, rx_real_ns=clock.real())
    assert (out.op, out.code) == (LandmarkOp.ERROR, ChallengeError.BAD_SIGNATURE)
    assert len(b) == 0  # closed
    # and an answer signed for a's session id does not work in b's session either
    na = send(a, host.open(rounds=1))
    nb = send(b, host.open(rounds=1))
    sig = host.key.sign(crypto.answer_message(na.session_id, b.public_key, nb.challenge))
    out = send(b, host.answer(nb, b.public_key, signature=sig), rx_real_ns=clock.real())
    assert out.code == ChallengeError.BAD_SIGNATURE


def test_a_keyless_relay_fails_on_the_signature(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    """An accomplice that opens a session in the host's name but lacks its key cannot answer."""
    honest = Host()
    accomplice = Host(challenge=honest.challenge)
    n = send(landmark, accomplice.open(rounds=1, key=honest.public_key))
    out = send(landmark, accomplice.answer(n, landmark.public_key), rx_real_ns=clock.real())
    assert out.code == ChallengeError.BAD_SIGNATURE
    assert landmark.stats.receipts == 0


def test_an_expired_session_is_rejected(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    n = send(landmark, host.open(rounds=2))
    clock.t += 10 * 10**9 + 1  # past the 10 s time to live
    out = send(landmark, host.answer(n, landmark.public_key), rx_real_ns=clock.real())
    assert (out.op, out.code) == (LandmarkOp.ERROR, ChallengeError.UNKNOWN_SESSION)
    assert landmark.stats.errors.get("unknown_session-expired") == 1 and len(landmark) == 0
    out = send(landmark, Host.simple(HostOp.RECEIPT, n.session_id, wire.RECEIPT_REQUEST_SIZE))
    assert out.code == ChallengeError.UNKNOWN_SESSION


def test_a_session_belongs_to_the_address_and_port_that_opened_it(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    n = send(landmark, host.open(rounds=1))
    for other in (("192.0.2.8", PEER[1]), (PEER[0], PEER[1] + 1)):
        out = send(landmark, host.answer(n, landmark.public_key), peer=other,
                   rx_real_ns=clock.real())
        assert out.code == ChallengeError.UNKNOWN_SESSION
    assert send(landmark, host.answer(n, landmark.public_key), rx_real_ns=clock.real()).op == (
        LandmarkOp.DONE)


@pytest.mark.parametrize("key_hex", [
    "00" * 32,
    "01" + "00" * 31,
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
])
def test_small_order_host_keys_cannot_open_a_session(landmark, clock, key_hex) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    out = send(landmark, host.open(rounds=1, key=bytes.fromhex(key_hex)))
    assert (out.op, out.code) == (LandmarkOp.ERROR, ChallengeError.BAD_KEY)
    assert len(landmark) == 0


def test_receipt_before_the_rounds_and_bad_rounds(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    n = send(landmark, host.open(rounds=2))
    out = send(landmark, Host.simple(HostOp.RECEIPT, n.session_id, wire.RECEIPT_REQUEST_SIZE))
    assert out.code == ChallengeError.NOT_DONE
    for rounds in (0, 65):
        assert send(landmark, host.open(rounds=rounds)).code == ChallengeError.BAD_REQUEST


def test_host_reported_times_are_ignored(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    """Never subtract what the host reports: a TURNAROUND (or any) TLV added to an answer changes
    nothing in the landmark's RTT."""
    host = Host()
    n = send(landmark, host.open(rounds=1))
    clock.t += 600_000
    base = host.answer(n, landmark.public_key)
    liar = base + wire.turnaround_tlv(599_000) + bytes([0x7F, 0, 4]) + b"\x00\x09\x27\xc0"
    msg = send(landmark, liar, rx_real_ns=clock.real())
    assert msg.op == LandmarkOp.DONE
    r = decode_receipt(send(landmark, Host.simple(HostOp.RECEIPT, n.session_id,
                                                  wire.RECEIPT_REQUEST_SIZE)).receipt)
    assert r.min_rtt_ns == 600_000


def test_replies_never_exceed_requests(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    n = send(landmark, host.open(rounds=1))
    send(landmark, host.answer(n, landmark.public_key), rx_real_ns=clock.real())
    short_receipt_request = Host.simple(HostOp.RECEIPT, n.session_id, 200)
    assert landmark.handle(short_receipt_request, PEER, None) is None
    assert landmark.stats.too_short == 1
    tiny_open = host.open(rounds=1)[:wire.CHALLENGE_HEADER_SIZE + 70]
    assert landmark.handle(tiny_open, PEER, None) is None  # below MIN_REQUEST_SIZE


def test_rate_limits_apply_except_to_live_answers(landmark, clock) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    n = send(landmark, host.open(rounds=2))
    refuse = lambda: False  # noqa: E731 - the bucket is empty
    assert landmark.handle(host.open(rounds=1), PEER, None, refuse) is None
    assert landmark.handle(Host.simple(HostOp.NEXT, n.session_id), PEER, None, refuse) is None
    # the answer to the current nonce passes (one per nonce the landmark chose to send) ...
    reply = landmark.handle(host.answer(n, landmark.public_key), PEER, clock.real(), refuse)
    assert reply is not None
    # ... but not a replay of it, nor answers in a session that does not exist
    assert landmark.handle(host.answer(n, landmark.public_key), PEER, clock.real(), refuse) is None


def test_sessions_are_bounded_per_source(clock) -> None:  # type: ignore[no-untyped-def]
    lm = ChallengeResponder(crypto.generate_key(), landmark_id="x", lat_deg=0, lon_deg=0,
                            mono_ns=clock.mono, real_ns=clock.real, max_sessions_per_source=2,
                            max_sessions=3, session_ttl_s=1.0)
    host = Host()
    assert send(lm, host.open()).op == LandmarkOp.NONCE
    assert send(lm, host.open()).op == LandmarkOp.NONCE
    assert send(lm, host.open()).code == ChallengeError.BUSY
    assert send(lm, host.open(), peer=("192.0.2.9", 1)).op == LandmarkOp.NONCE
    assert send(lm, host.open(), peer=("192.0.2.10", 1)).code == ChallengeError.BUSY  # full
    clock.t += 2 * 10**9  # all expired: purged on the next open
    assert send(lm, host.open()).op == LandmarkOp.NONCE and len(lm) == 1


def test_finished_sessions_do_not_count_against_the_source(clock) -> None:  # type: ignore[no-untyped-def]
    """A host that proves again and again (a daemon) is not refused: a session whose receipt was
    fetched stops counting, and is the first to go when the table is full."""
    lm = ChallengeResponder(crypto.generate_key(), landmark_id="x", lat_deg=0, lon_deg=0,
                            mono_ns=clock.mono, real_ns=clock.real, max_sessions_per_source=2,
                            max_sessions=3)
    host = Host()
    for _ in range(5):
        run_session(lm, clock, host, [100])
    assert len(lm) == 3  # the oldest finished ones were evicted
    assert send(lm, host.open()).op == LandmarkOp.NONCE
    assert send(lm, host.open()).op == LandmarkOp.NONCE
    assert send(lm, host.open()).code == ChallengeError.BUSY  # two unfinished: the limit


def test_replies_are_never_answered(landmark) -> None:  # type: ignore[no-untyped-def]
    reply = wire.encode_challenge(ChallengeMessage(
        MsgType.CHALLENGE_REPLY, LandmarkOp.NONCE, os.urandom(16), os.urandom(16), round=1,
        challenge=os.urandom(32)), pad_to=200)
    assert landmark.handle(reply, PEER, None) is None


def test_the_server_dispatches_challenges_only_with_a_key(clock) -> None:  # type: ignore[no-untyped-def]
    host = Host()
    plain = LandmarkServer(1.0, 2.0, server_id="plain")
    assert plain.handle(host.open(), PEER[0], None, PEER[1]) is None
    assert plain.stats.unsupported == 1 and plain.stats.malformed_total == 0
    lm = ChallengeResponder(crypto.generate_key(), landmark_id="signing", lat_deg=1.0,
                            lon_deg=2.0)
    signing = LandmarkServer(1.0, 2.0, server_id="signing", challenge=lm, rate_per_s=1, burst=1)
    reply = signing.handle(host.open(), PEER[0], None, PEER[1])
    assert wire.decode_challenge(reply).op == LandmarkOp.NONCE
    assert signing.handle(host.open(), PEER[0], None, PEER[1]) is None  # burst of 1 spent
    assert signing.stats.rate_limited == 1 and signing.stats.replied == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 6))
def test_junk_is_dropped_or_answered_small(data: bytes, op: int) -> None:
    lm = ChallengeResponder(crypto.generate_key(), landmark_id="f", lat_deg=0, lon_deg=0)
    framed = wire.MAGIC + bytes([1, 3, 0, 0]) + bytes(16) + bytes([op]) + data
    for datagram in (data, framed):
        reply = lm.handle(datagram, PEER, None)
        assert reply is None or len(reply) <= len(datagram)
