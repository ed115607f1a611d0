"""The prover: one UDP socket, one tight loop, sessions to several landmarks at once.

The answer path is what a landmark's RTT contains besides the network: the host's wake-up, the
parse, the Ed25519 signature (37 µs with OpenSSL on the project's VM) and ``sendto``. It is kept
short: the reply is recognised at fixed offsets (a NONCE always carries its CHALLENGE TLV at offset
44), the answer is concatenated from pre-built parts, the next request id is drawn after the send,
the garbage collector is off while sessions run. The sessions run at SCHED_FIFO priority
``rt_priority`` (default :data:`DEFAULT_RT_PRIORITY` where allowed: root or CAP_SYS_NICE; else at
normal priority), so a busy machine's other processes cannot delay the host's wake-up or preempt its
answer. Polling: by default (``busy_poll=None``) a prover at real-time priority sleeps in
``recvfrom`` until shortly (:data:`SPIN_LEAD_NS`) before the next nonce is due (each landmark's
last nonce-to-nonce gap predicts it) and polls the socket from then on, so no wake-up delays the
answer and the signing code stays in the caches, at the cost of ~1-2 ms of busy CPU per round; at
normal priority it only sleeps (a spinning process at normal priority loses its CPU for whole
time slices on a busy machine). ``busy_poll=True`` polls all the time, ``False`` never.
Everything else (the full decode, the landmark's announced key, retransmissions) happens after the
answer left. Figures: docs/verify.md, "Timing cost".

A lost datagram costs a timeout: a host asks for a fresh nonce (NEXT), re-opens, or asks for the
receipt again; after ``retries`` timeouts in a row the landmark is given up with a reason.
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rttgeo import crypto, wire
from rttgeo.errors import InputError, MeasurementError, PermissionDenied, VerificationError
from rttgeo.receipt import decode_receipt
from rttgeo.wire import ChallengeError, ChallengeMessage, HostOp, LandmarkOp, MsgType

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["DEFAULT_RT_PRIORITY", "ProveResult", "ProveTarget", "Prover"]

#: SCHED_FIFO priority of the sessions when the process may use one (below the lab engine's 10).
DEFAULT_RT_PRIORITY = 5
#: Automatic polling starts this long before a nonce is due and stops this long after (ns).
SPIN_LEAD_NS = 1_000_000

_H3 = wire.MAGIC + bytes([wire.VERSION, MsgType.CHALLENGE_REQUEST, 0, 0])
_ANSWER_OP = bytes([HostOp.ANSWER, 0])
_TLV_CHALLENGE = bytes([wire.Tlv.CHALLENGE, 0, 32])
_TLV_SIGNATURE = bytes([wire.Tlv.SIGNATURE, 0, 64])
_NONCE_REPLY = (MsgType.CHALLENGE_REPLY, LandmarkOp.NONCE)

_OPEN, _ROUNDS, _RECEIPT, _OK, _FAILED = range(5)


@dataclass(frozen=True, slots=True)
class ProveTarget:
    """A landmark to prove against: where it listens and the public key a catalog pins for it."""

    landmark_id: str
    address: str
    port: int
    public_key: bytes


@dataclass(frozen=True, slots=True)
class ProveResult:
    """The outcome of one session. ``receipt`` is the landmark-signed receipt (empty on failure,
    then ``error`` says why). ``answer_us`` is the host's own time from reading each nonce to
    having sent its answer: informational only (a verifier never uses what the host reports)."""

    landmark_id: str
    address: str
    port: int
    receipt: bytes = b""
    error: str = ""
    answer_us: tuple[float, ...] = ()
    timeouts: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.receipt)


@dataclass(slots=True)
class _State:
    target: ProveTarget
    sockaddr: tuple  # type: ignore[type-arg]
    phase: int = _OPEN
    req: bytes = b""
    next_req: bytes = b""
    sent_ns: int = 0
    expect_ns: int = 0  # when the next nonce is expected (0: unknown)
    tries: int = 0
    timeouts: int = 0
    sid: bytes = b""
    prefix: bytes = b""
    error: str = ""
    receipt: bytes = b""
    answer_ns: list[int] = field(default_factory=list)


class Prover:
    """Answer landmarks' nonces with ``private_key``; ``challenge``: 32 bytes bound into every
    receipt (a verifier's freshness challenge). ``rounds`` per landmark (1-64), ``timeout_s``
    before a retransmission, ``retries`` timeouts in a row before giving a landmark up,
    ``parallel`` sessions at once, ``busy_poll`` to spin instead of sleeping in ``recvfrom``
    (None: around each nonce's expected arrival when at real-time priority; see the module doc),
    ``rt_priority`` SCHED_FIFO priority during the sessions (1-99; 0 = normal scheduling; None =
    :data:`DEFAULT_RT_PRIORITY` if allowed, else normal). :attr:`priority` says what was used."""

    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        *,
        challenge: bytes = bytes(32),
        rounds: int = 10,
        timeout_s: float = 1.0,
        retries: int = 4,
        parallel: int = 4,
        busy_poll: bool | None = None,
        rt_priority: int | None = None,
    ) -> None:
        if len(challenge) != 32:
            raise InputError("the challenge must be 32 bytes (64 hex digits)", field="challenge")
        if not 1 <= rounds <= 64:
            raise InputError("rounds must be in [1, 64]", field="rounds")
        if not (timeout_s > 0 and retries >= 0 and parallel >= 1
                and (rt_priority is None or 0 <= rt_priority <= 99)):
            raise InputError("timeout_s must be > 0, retries >= 0, parallel >= 1, "
                             "rt_priority in [0, 99]")
        self._key = private_key
        self.public_key = crypto.public_bytes(private_key)
        self.challenge = bytes(challenge)
        self.rounds = rounds
        self.timeout_ns = int(timeout_s * 1e9)
        self.retries = retries
        self.parallel = parallel
        self.busy_poll = busy_poll
        self.rt_priority = rt_priority
        #: the scheduling of the last run: "SCHED_FIFO 5" or "normal"
        self.priority = "normal"

    # -- the loop --------------------------------------------------------------------------------
    def run(self, targets: Sequence[ProveTarget]) -> list[ProveResult]:
        """One session with each target; results in the targets' order. Raises
        :class:`MeasurementError` if no socket can be opened, InputError on bad targets."""
        family = socket.AF_INET
        for t in targets:
            try:
                ipaddress.ip_address(t.address)
            except ValueError:
                raise InputError(f"landmark {t.landmark_id!r}: address {t.address!r} is not an "
                                 "IP address") from None
            if ":" in t.address:
                family = socket.AF_INET6
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        except OSError as exc:
            raise MeasurementError(f"cannot open a UDP socket: {exc.strerror}") from None
        states = [_State(t, self._sockaddr(family, t)) for t in targets]
        by_addr: dict[tuple, _State] = {}  # type: ignore[type-arg]
        for st in states:
            if st.sockaddr[:2] in by_addr:
                raise InputError(f"landmarks {by_addr[st.sockaddr[:2]].target.landmark_id!r} "
                                 f"and {st.target.landmark_id!r} share one address and port")
            by_addr[st.sockaddr[:2]] = st
        gc_was_enabled = gc.isenabled()
        gc.disable()
        policy = None
        try:
            with sock:
                policy = self._raise_priority()
                self._loop(sock, states, by_addr)
        finally:
            if policy is not None:
                os.sched_setscheduler(0, *policy)
            if gc_was_enabled:
                gc.enable()
        return [self._result(st) for st in states]

    def _loop(self, sock: socket.socket, states: list[_State], by_addr: dict) -> None:  # type: ignore[type-arg]
        mono = time.monotonic_ns
        sign = self._signer()
        sendto = sock.sendto
        recvfrom = sock.recvfrom
        spin_always = self.busy_poll is True
        spin_auto = self.busy_poll is None and self.priority != "normal"
        settimeout = sock.settimeout
        waiting = list(states)
        active: list[_State] = []
        while waiting or active:
            while waiting and len(active) < self.parallel:
                st = waiting.pop(0)
                active.append(st)
                self._send_open(sock, st)
                if st.phase >= _OK:
                    active.remove(st)
            if not active:
                continue
            now = mono()
            due = min(st.sent_ns for st in active) + self.timeout_ns
            if now >= due:
                for st in active:
                    if st.phase < _OK and now >= st.sent_ns + self.timeout_ns:
                        self._on_timeout(sock, st)
                active = [st for st in active if st.phase < _OK]
                continue
            spin_until = due if spin_always else 0
            sleep_until = due
            if spin_auto:
                expected = [st.expect_ns for st in active if st.expect_ns]
                if expected:
                    nxt = min(expected)
                    if now >= nxt - SPIN_LEAD_NS:
                        spin_until = min(due, max(nxt, now) + SPIN_LEAD_NS)
                    else:
                        sleep_until = min(due, nxt - SPIN_LEAD_NS)
            try:
                if spin_until > now:
                    settimeout(0.0)
                    while True:
                        try:
                            data, addr = recvfrom(2048)
                            break
                        except BlockingIOError:
                            if mono() >= spin_until:
                                raise TimeoutError from None
                else:
                    settimeout((sleep_until - now) / 1e9)
                    data, addr = recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                continue  # an ICMP error about an earlier datagram
            t_in = mono()
            st = by_addr.get(addr[:2])
            if st is None or st.phase >= _OK:
                continue
            # -- fast path: a fresh nonce, answered before anything else is looked at --------------
            if (len(data) >= 79 and data[5] == _NONCE_REPLY[0] and data[24] == _NONCE_REPLY[1]
                    and data[8:24] == st.req and data[44:47] == _TLV_CHALLENGE
                    and st.phase <= _ROUNDS and (not st.sid or data[28:44] == st.sid)):
                if not st.sid:
                    st.sid = data[28:44]
                    st.prefix = crypto.answer_message(st.sid, st.target.public_key, b"")
                nonce = data[47:79]
                req = st.next_req
                with contextlib.suppress(OSError):  # lost like a dropped datagram: timeout, NEXT
                    sendto(_H3 + req + _ANSWER_OP + data[26:44] + _TLV_CHALLENGE + nonce
                           + _TLV_SIGNATURE + sign(st.prefix + nonce), addr)
                gap = t_in - st.sent_ns  # our last send to this nonce: RTT + the landmark's work
                st.sent_ns = mono()
                st.expect_ns = st.sent_ns + gap
                st.answer_ns.append(st.sent_ns - t_in)
                st.req = req
                st.next_req = os.urandom(wire.NONCE_SIZE)
                st.tries = 0
                if st.phase == _OPEN:
                    st.phase = _ROUNDS
                    self._check_announced_key(data, st)
            else:
                self._on_other(sock, st, data)
            if st.phase >= _OK:
                active.remove(st)

    def _signer(self) -> Callable[[bytes], bytes]:
        """``sign(message)`` used on the answer path (experiments override it, e.g. a host that
        waits before answering some landmarks: the message names the landmark's key)."""
        return crypto.fast_signer(self._key)

    def _raise_priority(self) -> tuple | None:  # type: ignore[type-arg]
        """Switch to SCHED_FIFO; the policy to restore, or None if unchanged."""
        self.priority = "normal"
        prio = DEFAULT_RT_PRIORITY if self.rt_priority is None else self.rt_priority
        if not prio or not hasattr(os, "sched_setscheduler"):
            return None
        policy = (os.sched_getscheduler(0), os.sched_getparam(0))
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(prio))
        except PermissionError:
            if self.rt_priority is None:
                return None  # not allowed here: normal priority, as documented
            raise PermissionDenied("a real-time priority needs root or CAP_SYS_NICE: run as root "
                                   "or pass --rt-priority 0") from None
        self.priority = f"SCHED_FIFO {prio}"
        return policy

    # -- everything off the fast path ---------------------------------------------------------------
    def _on_other(self, sock: socket.socket, st: _State, data: bytes) -> None:
        try:
            msg = wire.decode_challenge(data)
        except wire.WireFormatError:
            return
        if msg.type != MsgType.CHALLENGE_REPLY or msg.nonce != st.req:
            return  # stale, or not an answer to our latest request
        if msg.op == LandmarkOp.ERROR:
            try:
                name = ChallengeError(msg.code).name.lower()
            except ValueError:
                name = f"code {msg.code}"
            st.error = f"the landmark refused: {name}"
            st.phase = _FAILED
        elif msg.op == LandmarkOp.DONE and st.phase == _ROUNDS:
            st.phase = _RECEIPT
            st.expect_ns = 0  # no more nonces: nothing to poll for
            st.tries = 0
            self._send(sock, st, HostOp.RECEIPT, wire.RECEIPT_REQUEST_SIZE)
        elif msg.op == LandmarkOp.RECEIPT and st.phase == _RECEIPT:
            try:
                self._check_receipt(st, msg.receipt)
            except VerificationError as exc:
                st.error = str(exc)
                st.phase = _FAILED
                return
            st.receipt = msg.receipt
            st.phase = _OK

    def _check_announced_key(self, data: bytes, st: _State) -> None:
        try:
            msg = wire.decode_challenge(data)
        except wire.WireFormatError:
            return
        if msg.key and msg.key != st.target.public_key:
            st.error = (f"the landmark announces key {crypto.key_id(msg.key)}, the catalog pins "
                        f"{crypto.key_id(st.target.public_key)}")
            st.phase = _FAILED

    def _check_receipt(self, st: _State, data: bytes) -> None:
        r = decode_receipt(data, what=f"receipt from {st.target.landmark_id}")
        r.check_signature()
        if r.landmark_key != st.target.public_key:
            raise VerificationError("the receipt is signed by another key than the catalog's")
        if r.host_key != self.public_key or r.challenge != self.challenge:
            raise VerificationError("the receipt names another host key or challenge")
        if r.session_id != st.sid:
            raise VerificationError("the receipt is for another session")

    def _on_timeout(self, sock: socket.socket, st: _State) -> None:
        st.tries += 1
        st.timeouts += 1
        if st.tries > self.retries:
            what = {_OPEN: "to the session opening", _ROUNDS: "to a nonce",
                    _RECEIPT: "to the receipt request"}[st.phase]
            st.error = f"no answer {what} after {st.tries} tries"
            st.phase = _FAILED
        elif st.phase == _OPEN:
            self._send_open(sock, st, count=False)
        elif st.phase == _ROUNDS:
            self._send(sock, st, HostOp.NEXT, wire.MIN_REQUEST_SIZE)
        else:
            self._send(sock, st, HostOp.RECEIPT, wire.RECEIPT_REQUEST_SIZE)

    def _send_open(self, sock: socket.socket, st: _State, *, count: bool = True) -> None:
        st.sid = b""
        st.req = os.urandom(wire.NONCE_SIZE)
        st.next_req = os.urandom(wire.NONCE_SIZE)
        data = wire.encode_challenge(ChallengeMessage(
            MsgType.CHALLENGE_REQUEST, HostOp.OPEN, st.req, round=self.rounds,
            key=self.public_key, verifier_challenge=self.challenge), pad_to=wire.MIN_REQUEST_SIZE)
        self._sendto(sock, st, data)

    def _send(self, sock: socket.socket, st: _State, op: HostOp, size: int) -> None:
        st.req = os.urandom(wire.NONCE_SIZE)
        data = wire.encode_challenge(ChallengeMessage(
            MsgType.CHALLENGE_REQUEST, op, st.req, st.sid or bytes(16)), pad_to=size)
        self._sendto(sock, st, data)

    @staticmethod
    def _sendto(sock: socket.socket, st: _State, data: bytes) -> None:
        try:
            sock.sendto(data, st.sockaddr)
        except (BlockingIOError, InterruptedError):
            pass  # as if lost: the timeout sends again
        except OSError as exc:
            st.error = f"cannot send to {st.target.address} port {st.target.port}: {exc.strerror}"
            st.phase = _FAILED
        st.sent_ns = time.monotonic_ns()

    @staticmethod
    def _sockaddr(family: int, t: ProveTarget) -> tuple:  # type: ignore[type-arg]
        ip = ipaddress.ip_address(t.address)
        if family == socket.AF_INET6:
            if ip.version == 4:
                ip = ipaddress.IPv6Address(f"::ffff:{ip}")
            return (socket.inet_ntop(socket.AF_INET6, ip.packed), t.port, 0, 0)
        return (str(ip), t.port)

    @staticmethod
    def _result(st: _State) -> ProveResult:
        error = st.error
        if not st.receipt and not error:
            error = "not run"
        return ProveResult(
            st.target.landmark_id, st.target.address, st.target.port, st.receipt,
            "" if st.receipt else error, tuple(ns / 1000 for ns in st.answer_ns), st.timeouts,
        )
