"""The landmark's side of the signed challenge-response (``rttgeo serve --key``; docs/verify.md).

A host opens a session (it sends first, so this works behind NAT); the landmark answers with a
fresh 32-byte nonce and notes when it sent it; the host answers with its Ed25519 signature over
``CONTEXT_ANSWER || session id || landmark public key || nonce``; the landmark stamps the
answer's arrival, checks the signature and times the round with its own clock. Each answer is
itself answered with the next nonce, until K rounds verified; then the landmark signs a receipt
(:mod:`rttgeo.receipt`) holding the minimum RTT.

Timing: the send stamp is read right before the reply leaves ``handle`` (the server sends it a few
µs later: only ever longer); the arrival is the kernel's ``SO_TIMESTAMPNS`` stamp, a realtime
value converted to the monotonic clock with the realtime-minus-monotonic offset read at send and
at receipt; if the two offsets differ by more than a legal slew (500 ppm of the elapsed time plus
2 µs: the wall clock was stepped) or the stamp is missing or out of range, the round is timed on
the monotonic clock in user space (later than the kernel stamp, so only ever longer) and the
receipt says ``clock = monotonic``. The smaller of the two offsets is used, so a slew during the
round can lengthen the RTT but never shorten it. Nothing the host reports is ever subtracted.

Rules (replay and redirect): a nonce is valid for one answer only, and only while it is the
session's current nonce (a NEXT request or an answer voids it); the host's signature names this
landmark's key, so an answer made for another landmark fails; a session belongs to the address and
port that opened it and expires ``session_ttl_s`` after it opened; a bad signature closes it.

Load: replies are never longer than the request they answer; OPEN, NEXT, RECEIPT and any request
that does not answer a live session's current nonce spend a token of the server's per-source and
global rate limits (``allow``); an answer to the current nonce does not (there is at most one per
nonce the landmark chose to send). Open sessions are bounded in number overall and per source.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rttgeo import crypto, wire
from rttgeo.receipt import CLOCK_KERNEL, CLOCK_MONOTONIC, Receipt, sign_receipt
from rttgeo.wire import ChallengeError, ChallengeMessage, HostOp, LandmarkOp, MsgType

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["ChallengeResponder", "ChallengeStats"]

_SLEW_PPM = 500
_SLACK_NS = 2_000
_E7 = 10_000_000
Peer = tuple[str, int]


@dataclass(slots=True)
class ChallengeStats:
    """Counters of the challenge-response; ``errors`` counts ERROR replies and drops by reason."""

    opened: int = 0
    answered: int = 0
    receipts: int = 0
    kernel_timed: int = 0
    monotonic_timed: int = 0
    too_short: int = 0
    errors: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Session:
    sid: bytes
    peer: Peer
    host_key: bytes
    challenge: bytes
    rounds: int
    opened_mono_ns: int
    start_unix_ns: int
    answer_prefix: bytes  # CONTEXT_ANSWER || sid || landmark key
    nonce: bytes | None = None  # the current nonce; None once answered (single use)
    tx_mono_ns: int = 0
    tx_offset_ns: int = 0  # realtime - monotonic when the nonce was sent
    answered: int = 0
    min_rtt_ns: int = 0
    clock: int = CLOCK_KERNEL
    last_answered: bytes = b""
    rtts_ns: list[int] = field(default_factory=list)
    receipt: bytes = b""
    counted: bool = True  # counts against its source's limit (until its receipt is fetched)


def _clock_pair(mono: Callable[[], int], real: Callable[[], int]) -> tuple[int, int]:
    """(monotonic, realtime - monotonic) read back to back (retried if preempted in between)."""
    for _ in range(4):
        m0 = mono()
        r = real()
        m1 = mono()
        if m1 - m0 <= 2_000:
            break
    m = (m0 + m1) // 2
    return m, r - m


class ChallengeResponder:
    """Sessions of the signed challenge-response for the landmark ``landmark_id`` at a position.

    ``handle(datagram, peer, rx_real_ns, allow)`` returns the reply bytes or None (dropped);
    ``allow()`` spends a rate-limit token of the peer (False: drop). ``mono_ns``/``real_ns`` are
    the clocks (tests script them). ``keep_rtts``: remember the per-round RTTs of the last
    sessions in :attr:`recent` (benchmarks read them).
    """

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        *,
        landmark_id: str,
        lat_deg: float,
        lon_deg: float,
        max_rounds: int = 64,
        session_ttl_s: float = 30.0,
        max_sessions: int = 4096,
        max_sessions_per_source: int = 8,
        mono_ns: Callable[[], int] = time.monotonic_ns,
        real_ns: Callable[[], int] = time.time_ns,
        keep_rtts: int = 0,
    ) -> None:
        if not 1 <= len(landmark_id.encode()) <= 64:
            raise ValueError("a signing landmark needs an id of 1-64 bytes of UTF-8")
        if not (-90.0 <= lat_deg <= 90.0 and -180.0 <= lon_deg <= 180.0):
            raise ValueError("position out of range")
        if not (1 <= max_rounds <= 0xFFFF and session_ttl_s > 0 and max_sessions >= 1
                and max_sessions_per_source >= 1):
            raise ValueError("bad session limits")
        self._key = private_key
        self.public_key = crypto.public_bytes(private_key)
        self.landmark_id = landmark_id
        self.lat_e7 = round(lat_deg * _E7)
        self.lon_e7 = round(lon_deg * _E7)
        self.max_rounds = max_rounds
        self.ttl_ns = int(session_ttl_s * 1e9)
        self.max_sessions = max_sessions
        self.max_per_source = max_sessions_per_source
        self._mono = mono_ns
        self._real = real_ns
        self.keep_rtts = keep_rtts
        self.recent: list[tuple[bytes, list[int]]] = []
        self.stats = ChallengeStats()
        self._sessions: dict[bytes, _Session] = {}  # in opening order (oldest first)
        self._per_source: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    # -- dispatch ------------------------------------------------------------------------------
    def handle(self, data: bytes, peer: Peer, rx_real_ns: int | None,
               allow: Callable[[], bool] = lambda: True) -> bytes | None:
        """The reply to one CHALLENGE_REQUEST from ``peer`` (ip, port), or None if dropped."""
        rx_mono, rx_offset = _clock_pair(self._mono, self._real)
        if len(data) < wire.MIN_REQUEST_SIZE:
            self.stats.too_short += 1
            return None
        try:
            msg = wire.decode_challenge(data)
        except wire.WireFormatError as exc:
            self._count(f"malformed-{exc.reason}")
            return None
        if msg.type != MsgType.CHALLENGE_REQUEST:
            self._count("not-a-request")  # replies are never answered
            return None
        peer = (peer[0], peer[1])
        session = self._sessions.get(msg.session_id)
        live_answer = (
            msg.op == HostOp.ANSWER and session is not None and session.peer == peer
            and session.nonce is not None and msg.challenge == session.nonce
            and rx_mono - session.opened_mono_ns <= self.ttl_ns
        )
        if not live_answer and not allow():
            return None  # counted by the server's limiter
        if msg.op == HostOp.OPEN:
            reply = self._open(msg, peer, rx_mono)
        elif session is None or session.peer != peer:
            reply = self._error(msg, ChallengeError.UNKNOWN_SESSION)
        elif rx_mono - session.opened_mono_ns > self.ttl_ns:
            self._close(session)
            reply = self._error(msg, ChallengeError.UNKNOWN_SESSION, "expired")
        elif msg.op == HostOp.ANSWER:
            reply = self._answer(msg, session, rx_real_ns, rx_mono, rx_offset)
        elif msg.op == HostOp.NEXT:
            reply = self._next(msg, session)
        else:
            reply = self._receipt(msg, session)
        if reply is None:
            return None
        if len(reply) > len(data):  # no amplification, ever
            self.stats.too_short += 1
            return None
        self._stamp_if_nonce(reply)
        return reply

    # -- ops -----------------------------------------------------------------------------------
    def _open(self, msg: ChallengeMessage, peer: Peer, now_mono: int) -> bytes:
        if not 1 <= msg.round <= self.max_rounds:
            return self._error(msg, ChallengeError.BAD_REQUEST, "rounds")
        if crypto.public_key_problem(msg.key, subgroup=False):
            return self._error(msg, ChallengeError.BAD_KEY)
        self._purge(now_mono)
        if len(self._sessions) >= self.max_sessions:
            self._evict_finished()
        if self._per_source.get(peer[0], 0) >= self.max_per_source or (
            len(self._sessions) >= self.max_sessions
        ):
            return self._error(msg, ChallengeError.BUSY)
        sid = os.urandom(wire.SESSION_ID_SIZE)
        session = _Session(
            sid=sid, peer=peer, host_key=msg.key, challenge=msg.verifier_challenge,
            rounds=msg.round, opened_mono_ns=now_mono, start_unix_ns=self._real(),
            answer_prefix=crypto.answer_message(sid, self.public_key, b""),
        )
        self._sessions[sid] = session
        self._per_source[peer[0]] = self._per_source.get(peer[0], 0) + 1
        self.stats.opened += 1
        return self._nonce(msg, session, key=self.public_key)

    def _answer(self, msg: ChallengeMessage, session: _Session, rx_real_ns: int | None,
                rx_mono: int, rx_offset: int) -> bytes:
        if session.nonce is None or msg.challenge != session.nonce:
            if session.answered >= session.rounds and msg.challenge == session.last_answered:
                return self._reply(msg, session, LandmarkOp.DONE)  # our DONE was lost
            return self._error(msg, ChallengeError.STALE_NONCE)
        if msg.round != session.answered + 1:
            return self._error(msg, ChallengeError.STALE_NONCE, "round")
        if not crypto.verify(session.host_key, msg.signature,
                             session.answer_prefix + msg.challenge, subgroup=False):
            self._close(session)
            return self._error(msg, ChallengeError.BAD_SIGNATURE)
        rtt, clock = self._rtt(session, rx_real_ns, rx_mono, rx_offset)
        session.nonce = None  # single use
        session.last_answered = msg.challenge
        session.answered += 1
        session.rtts_ns.append(rtt)
        if session.answered == 1 or rtt < session.min_rtt_ns:
            session.min_rtt_ns = rtt
            session.clock = clock
        self.stats.answered += 1
        if session.answered < session.rounds:
            return self._nonce(msg, session)
        self._make_receipt(session)
        return self._reply(msg, session, LandmarkOp.DONE)

    def _next(self, msg: ChallengeMessage, session: _Session) -> bytes:
        if session.answered >= session.rounds:
            return self._reply(msg, session, LandmarkOp.DONE)
        return self._nonce(msg, session)  # the old nonce is void from now on

    def _receipt(self, msg: ChallengeMessage, session: _Session) -> bytes:
        if not session.receipt:
            return self._error(msg, ChallengeError.NOT_DONE)
        self._uncount(session)  # finished: kept only so that a lost receipt can be fetched again
        return wire.encode_challenge(ChallengeMessage(
            MsgType.CHALLENGE_REPLY, LandmarkOp.RECEIPT, msg.nonce, session.sid,
            round=session.answered, receipt=session.receipt))

    # -- helpers -------------------------------------------------------------------------------
    def _rtt(self, s: _Session, rx_real_ns: int | None, rx_mono: int, rx_offset: int
             ) -> tuple[int, int]:
        user_rtt = rx_mono - s.tx_mono_ns
        if rx_real_ns is not None:
            elapsed = max(user_rtt, 0)
            if abs(rx_offset - s.tx_offset_ns) <= elapsed * _SLEW_PPM // 1_000_000 + _SLACK_NS:
                kernel_rtt = rx_real_ns - min(rx_offset, s.tx_offset_ns) - s.tx_mono_ns
                if 0 <= kernel_rtt <= user_rtt:
                    self.stats.kernel_timed += 1
                    return kernel_rtt, CLOCK_KERNEL
        self.stats.monotonic_timed += 1
        return max(user_rtt, 0), CLOCK_MONOTONIC

    def _nonce(self, msg: ChallengeMessage, session: _Session, key: bytes = b"") -> bytes:
        session.nonce = os.urandom(32)
        return wire.encode_challenge(ChallengeMessage(
            MsgType.CHALLENGE_REPLY, LandmarkOp.NONCE, msg.nonce, session.sid,
            round=session.answered + 1, challenge=session.nonce, key=key))

    def _stamp_if_nonce(self, reply: bytes) -> None:
        """Note the send time of a fresh nonce: the last thing before the reply leaves."""
        if reply[wire.HEADER_SIZE] != LandmarkOp.NONCE:
            return
        session = self._sessions.get(reply[wire.HEADER_SIZE + 4 : wire.CHALLENGE_HEADER_SIZE])
        if session is not None:
            session.tx_mono_ns, session.tx_offset_ns = _clock_pair(self._mono, self._real)

    def _reply(self, msg: ChallengeMessage, session: _Session, op: LandmarkOp) -> bytes:
        return wire.encode_challenge(ChallengeMessage(
            MsgType.CHALLENGE_REPLY, op, msg.nonce, session.sid, round=session.answered))

    def _error(self, msg: ChallengeMessage, code: ChallengeError, detail: str = "") -> bytes:
        self._count(code.name.lower() + (f"-{detail}" if detail else ""))
        return wire.encode_challenge(ChallengeMessage(
            MsgType.CHALLENGE_REPLY, LandmarkOp.ERROR, msg.nonce, msg.session_id, code=code))

    def _count(self, reason: str) -> None:
        self.stats.errors[reason] = self.stats.errors.get(reason, 0) + 1

    def _make_receipt(self, s: _Session) -> None:
        receipt = sign_receipt(Receipt(
            session_id=s.sid, landmark_key=self.public_key, host_key=s.host_key,
            challenge=s.challenge, landmark_id=self.landmark_id, lat_e7=self.lat_e7,
            lon_e7=self.lon_e7, min_rtt_ns=s.min_rtt_ns, rounds=s.answered,
            start_unix_ns=s.start_unix_ns, end_unix_ns=max(self._real(), s.start_unix_ns),
            clock=s.clock), self._key)
        s.receipt = receipt.to_bytes()
        self.stats.receipts += 1
        if self.keep_rtts:
            self.recent.append((s.sid, list(s.rtts_ns)))
            del self.recent[: -self.keep_rtts]

    def _close(self, s: _Session) -> None:
        if self._sessions.pop(s.sid, None) is not None:
            self._uncount(s)

    def _uncount(self, s: _Session) -> None:
        if s.counted:
            s.counted = False
            left = self._per_source.get(s.peer[0], 1) - 1
            if left > 0:
                self._per_source[s.peer[0]] = left
            else:
                self._per_source.pop(s.peer[0], None)

    def _evict_finished(self) -> None:
        """Make room by dropping the oldest session whose receipt was already fetched."""
        for s in self._sessions.values():
            if not s.counted:
                self._close(s)
                return

    def _purge(self, now_mono: int) -> None:
        """Drop expired sessions (oldest first: they are kept in opening order)."""
        sessions = self._sessions
        while sessions:
            s = next(iter(sessions.values()))
            if now_mono - s.opened_mono_ns <= self.ttl_ns:
                break
            self._close(s)
