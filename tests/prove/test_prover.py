"""The prover against real signing landmark servers on loopback: receipts, the fast path's bytes,
lost datagrams, a landmark whose key is not the pinned one, nobody listening."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

pytest.importorskip("cryptography", reason="the verify extra (cryptography) is not installed")

from rttgeo import crypto, wire
from rttgeo.prove import Prover, ProveTarget
from rttgeo.receipt import decode_receipt
from rttgeo.serve import LandmarkServer
from rttgeo.serve.challenge import ChallengeResponder


class Landmarks:
    """Signing landmark servers on 127.0.0.1 in one background event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[LandmarkServer] = []

    def add(self, name: str, server_cls: type[LandmarkServer] = LandmarkServer,
            key=None) -> tuple[LandmarkServer, ProveTarget]:  # type: ignore[no-untyped-def]
        key = key or crypto.generate_key()
        resp = ChallengeResponder(key, landmark_id=name, lat_deg=10.0, lon_deg=20.0, keep_rtts=8)
        srv = server_cls(10.0, 20.0, server_id=name, host="127.0.0.1", port=0, challenge=resp,
                         rate_per_s=1000, burst=1000)
        asyncio.run_coroutine_threadsafe(srv.start(), self.loop).result(5)
        self.servers.append(srv)
        return srv, ProveTarget(name, "127.0.0.1", srv.address[1], resp.public_key)

    def close(self) -> None:
        for srv in self.servers:
            asyncio.run_coroutine_threadsafe(srv.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def landmarks() -> Iterator[Landmarks]:
    lms = Landmarks()
    try:
        yield lms
    finally:
        lms.close()


class Recording(LandmarkServer):
    """Keeps every datagram it handles."""

    seen: list[bytes]

    def handle(self, data, source, rx_real_ns=None, port=0):  # type: ignore[no-untyped-def, override]
        self.__dict__.setdefault("seen", []).append(bytes(data))
        return super().handle(data, source, rx_real_ns, port)


class Lossy(LandmarkServer):
    """Drops its 2nd and 5th reply (a NONCE each time), as a lossy path would."""

    def handle(self, data, source, rx_real_ns=None, port=0):  # type: ignore[no-untyped-def, override]
        reply = super().handle(data, source, rx_real_ns, port)
        n = self.__dict__["n"] = self.__dict__.get("n", 0) + 1
        return None if n in (2, 5) else reply


def test_receipts_from_several_landmarks(landmarks: Landmarks) -> None:
    host = crypto.generate_key()
    challenge = bytes(range(32))
    targets = [landmarks.add(f"lm-{i}")[1] for i in range(3)]
    results = Prover(host, challenge=challenge, rounds=5, parallel=2).run(targets)
    assert [r.landmark_id for r in results] == ["lm-0", "lm-1", "lm-2"]
    for r, t in zip(results, targets, strict=True):
        assert r.ok, r.error
        rec = decode_receipt(r.receipt)
        rec.check_signature()
        assert (rec.landmark_key, rec.host_key, rec.challenge) == (
            t.public_key, crypto.public_bytes(host), challenge)
        assert rec.rounds == 5 and 0 < rec.min_rtt_ms < 1000
        assert len(r.answer_us) == 5 and all(a > 0 for a in r.answer_us)


def test_the_fast_path_answer_is_a_valid_wire_message(landmarks: Landmarks) -> None:
    srv, target = landmarks.add("rec", Recording)
    host = crypto.generate_key()
    r = Prover(host, rounds=3, busy_poll=True).run([target])[0]
    assert r.ok, r.error
    answers = [wire.decode_challenge(d) for d in srv.seen  # type: ignore[attr-defined]
               if wire.decode_challenge(d).op == wire.HostOp.ANSWER]
    assert [a.round for a in answers] == [1, 2, 3]
    sid = decode_receipt(r.receipt).session_id
    for a in answers:
        assert a.session_id == sid and len(a.challenge) == 32
        assert crypto.verify(crypto.public_bytes(host), a.signature,
                             crypto.answer_message(sid, target.public_key, a.challenge))
        assert wire.encode_challenge(a) == next(d for d in srv.seen  # type: ignore[attr-defined]
                                                if d[44:79] == b"\x40\x00\x20" + a.challenge)


def test_lost_nonces_are_replaced_and_the_session_completes(landmarks: Landmarks) -> None:
    _srv, target = landmarks.add("lossy", Lossy)
    r = Prover(crypto.generate_key(), rounds=4, timeout_s=0.2).run([target])[0]
    assert r.ok, r.error
    assert r.timeouts >= 2  # one per lost nonce (more if this machine stalls for 0.2 s)
    assert decode_receipt(r.receipt).rounds == 4


def test_a_landmark_with_another_key_than_the_catalog_pins(landmarks: Landmarks) -> None:
    _srv, target = landmarks.add("impostor")
    pinned = ProveTarget(target.landmark_id, target.address, target.port,
                         crypto.public_bytes(crypto.generate_key()))
    r = Prover(crypto.generate_key(), rounds=2).run([pinned])[0]
    assert not r.ok and "catalog pins" in r.error


def test_nobody_listening_is_given_up_with_a_reason() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never read: datagrams vanish
        t = ProveTarget("silent", "127.0.0.1", port, crypto.public_bytes(crypto.generate_key()))
        r = Prover(crypto.generate_key(), timeout_s=0.05, retries=2).run([t])[0]
    assert not r.ok and r.error == "no answer to the session opening after 3 tries"
    assert r.timeouts == 3


def test_a_refused_session_says_why(landmarks: Landmarks) -> None:
    srv, target = landmarks.add("strict")
    srv.challenge.max_rounds = 2  # type: ignore[union-attr]
    r = Prover(crypto.generate_key(), rounds=5).run([target])[0]
    assert not r.ok and r.error == "the landmark refused: bad_request"


def test_bad_targets() -> None:
    from rttgeo.errors import InputError

    key = crypto.generate_key()
    pk = crypto.public_bytes(key)
    with pytest.raises(InputError, match="not an IP address"):
        Prover(key).run([ProveTarget("x", "example.org", 1, pk)])
    with pytest.raises(InputError, match="share one address"):
        Prover(key).run([ProveTarget("a", "127.0.0.1", 9, pk), ProveTarget("b", "127.0.0.1", 9, pk)])
    with pytest.raises(InputError, match="32 bytes"):
        Prover(key, challenge=b"short")


def test_real_time_priority_is_used_where_allowed_and_restored(landmarks: Landmarks) -> None:
    import os

    _srv, target = landmarks.add("prio")
    before = (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority)
    normal = Prover(crypto.generate_key(), rounds=1, rt_priority=0)
    assert normal.run([target])[0].ok and normal.priority == "normal"
    auto = Prover(crypto.generate_key(), rounds=1)
    assert auto.run([target])[0].ok
    if os.geteuid() == 0:
        assert auto.priority == "SCHED_FIFO 5"
    assert (os.sched_getscheduler(0), os.sched_getparam(0).sched_priority) == before
