"""End to end (root): the signed challenge-response in ``rttgeo lab --signed``. Landmarks run
``rttgeo serve --key``; a target runs ``rttgeo prove``; ``rttgeo verify --receipts`` and
``--check`` decide from what the landmarks signed. The landmark-timed RTTs are the lab's
configured ones (never shorter); an honest claim is proven and false ones are refuted or
undecided; a host that adds delay (in the path, or by sleeping before chosen landmarks) cannot get
a false claim proven; an accomplice without the host's key fails on the signature. Behind a real
source NAT (nftables MASQUERADE in the gateway's namespace) the host-initiated sessions work, the
landmarks see only the NAT's address, and a second host behind the same NAT address cannot use the
first host's session."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cryptography", reason="the verify extra (cryptography) is not installed")

from rttgeo import crypto, wire
from rttgeo.catalog.signed import load_signed_catalog
from rttgeo.lab.world import parse_world
from rttgeo.verify.evidence import build_bundle

from .lab_helpers import settle_min_rtt

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.timeout(240)]

#: Landmark-timed minimum RTT minus the configured one, ms: the engine's two wake-ups and the
#: host's answer (~0.1 ms) with a margin for a loaded 2-core machine; never below -0.01.
TOL_MS = 1.0
CHALLENGE = "c0" * 32

WORLD = {
    "name": "verify-e2e",
    "delay": {"model": "geography", "fraction_of_c": 0.6667, "inflation": 1.4},
    "network": {"prefix_len": 27, "port": 4343},
    "hosts": [
        {"name": "paris", "lat_deg": 48.8566, "lon_deg": 2.3522},
        {"name": "london", "lat_deg": 51.5074, "lon_deg": -0.1278},
        {"name": "frankfurt", "lat_deg": 50.1109, "lon_deg": 8.6821},
        {"name": "madrid", "lat_deg": 40.4168, "lon_deg": -3.7038},
        {"name": "rome", "lat_deg": 41.9028, "lon_deg": 12.4964},
        {"name": "warsaw", "lat_deg": 52.2297, "lon_deg": 21.0122},
        # the honest host, the same place adding 4 ms to every RTT, and an accomplice in Madrid
        {"name": "lyon", "lat_deg": 45.764, "lon_deg": 4.8357, "role": "target"},
        {"name": "lyon-slow", "lat_deg": 45.764, "lon_deg": 4.8357, "role": "target",
         "access_ms": 4.0},
        {"name": "toledo", "lat_deg": 39.8628, "lon_deg": -4.0273, "role": "target"},
        # a home router in Zurich doing source NAT for hosts behind it (tests below)
        {"name": "zurich-nat", "lat_deg": 47.3769, "lon_deg": 8.5417, "role": "target"},
    ],
}


@pytest.fixture(scope="module")
def signed_lab(tmp_path_factory):  # type: ignore[no-untyped-def]
    """One signed lab for the module (built once: starting six servers takes a while)."""
    from rttgeo.lab import down, up

    from .lab_helpers import lab_unavailable

    why = lab_unavailable()
    if why:
        pytest.skip(why)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RTTGEO_LAB_RUN", str(tmp_path_factory.mktemp("run")))  # a private run root
        lab = up(parse_world(WORLD, where="verify-e2e"), serve=True, signed=True)
        try:
            yield lab
        finally:
            down(lab.id, force=True)


def _prove(lab, host: str, work: Path, *extra: str) -> tuple[int, str, Path]:  # type: ignore[no-untyped-def]
    key = work / f"{host}.key"
    if not key.exists():
        crypto.save_private_key(crypto.generate_key(), key)
    out = work / f"{host}.receipts.json"
    r = lab.exec(host, [sys.executable, "-m", "rttgeo", "prove", "--key", str(key), "--catalog",
                        str(lab.signed_catalog_path), "--catalog-key", str(lab.catalog_key_path),
                        "--out", str(out), "--challenge", CHALLENGE, "--rounds", "5", *extra],
                 timeout_s=180)
    return r.returncode, r.stdout + r.stderr, out


def _verify(lab, work: Path, *args: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """``rttgeo verify`` as any third party runs it: offline, trusting only the catalog key."""
    r = subprocess.run([sys.executable, "-m", "rttgeo", "verify", "--catalog",
                        str(lab.signed_catalog_path), "--catalog-key", str(lab.catalog_key_path),
                        *args], capture_output=True, text=True, timeout=300, cwd=work)
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, r.stdout + r.stderr


PROVEN, REFUTED, UNDECIDED = 0, 10, 11
MADRID_200 = ("--claim", "40.4168,-3.7038", "--radius-km", "200")
WARSAW_200 = ("--claim", "52.2297,21.0122", "--radius-km", "200")


def _configured_ms(lab, host: str, ids: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    names = [h.name for h in lab.world.hosts]
    i = names.index(host)
    return np.array([lab.world.rtt_ms[i, names.index(lid)] for lid in ids])


def test_the_signed_lab_and_an_honest_host(signed_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lab = signed_lab
    catalog = load_signed_catalog(lab.signed_catalog_path, trusted_keys=[
        crypto.parse_public_key(str(lab.catalog_key_path))])
    assert [lm.id for lm in catalog.landmarks] == ["paris", "london", "frankfurt", "madrid",
                                                   "rome", "warsaw"]
    ids = [lm.id for lm in catalog.landmarks]
    want = dict(zip(ids, _configured_ms(lab, "lyon", ids), strict=True))
    runs: list = []  # (output, receipts, bundle) of each run of prove

    def prove_once() -> dict[str, float | None]:
        code, out, receipts = _prove(lab, "lyon", tmp_path)
        assert code == 0, out
        ev = build_bundle(receipts, catalog, tmp_path / "bundle.json",
                          challenge=bytes.fromhex(CHALLENGE))
        assert [lm.id for lm in ev.landmarks] == ids, out
        runs.append((out, receipts, ev))
        return dict(zip(ids, map(float, ev.rtt_ms), strict=True))

    # Every run's RTTs are never shorter than the path; their minimum over a few runs is within
    # TOL_MS of it (one run alone can be late by more on a busy machine: lab_helpers.settle_min_rtt).
    settled = settle_min_rtt(prove_once, want, TOL_MS, what="landmark-timed RTT", max_rounds=4)
    print(f"landmark-timed min RTT - configured (ms), {settled.rounds} run(s):",
          {k: round(v, 3) for k, v in settled.excess.items()})
    out, receipts, ev = runs[-1]  # the verdicts below judge the last run's receipts
    # the verifier: receipts -> bundle, and decisions anyone can re-check from the bundle
    bundle = tmp_path / "verified.json"
    code, out = _verify(lab, tmp_path, "--receipts", str(receipts), "--challenge", CHALLENGE,
                        "--bundle-out", str(bundle), "--not-country", "CN")
    assert code == PROVEN, out
    page = tmp_path / "lyon.html"
    code, out = _verify(lab, tmp_path, "--check", str(bundle), "--claim", "45.764,4.8357",
                        "--radius-km", "1500", "--report", str(page))
    assert code == PROVEN, out
    html = page.read_text()  # the report names the host key the receipts are bound to
    assert f"<dd>{ev.host_key.hex()}</dd>" in html and 'id="verdict">PROVEN' in html
    code, out = _verify(lab, tmp_path, "--check", str(bundle), *WARSAW_200)
    assert code == REFUTED, out
    code, out = _verify(lab, tmp_path, "--check", str(bundle), *MADRID_200)
    assert code in (REFUTED, UNDECIDED), out


def test_a_host_that_adds_delay_only_looks_farther(signed_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lab = signed_lab
    catalog = load_signed_catalog(lab.signed_catalog_path, trusted_keys=None)
    code, out, receipts = _prove(lab, "lyon-slow", tmp_path)
    assert code == 0, out
    ev = build_bundle(receipts, catalog)
    ids = [lm.id for lm in ev.landmarks]
    configured = _configured_ms(lab, "lyon-slow", ids)  # includes its 4 ms access delay
    assert np.all(ev.rtt_ms >= configured - 0.01)
    assert np.all(ev.rtt_ms >= _configured_ms(lab, "lyon", ids) + 4.0 - 0.01)
    for claim in (MADRID_200, WARSAW_200):
        code, out = _verify(lab, tmp_path, "--receipts", str(receipts), *claim)
        assert code in (REFUTED, UNDECIDED), out


def test_a_host_sleeping_to_look_like_madrid_is_not_proven_there(signed_lab,  # type: ignore[no-untyped-def]
                                                                 tmp_path: Path) -> None:
    """The optimal shaping toward a claimed place: before answering each landmark the host in
    Lyon waits what would make its RTT Madrid's (it cannot shorten the ones Madrid would have
    shorter). The false claim is never proven, and the RTTs stay landmark-timed."""
    from rttgeo.api.prove import prove
    from rttgeo.prove import Prover
    from rttgeo.verify.evidence import write_receipts

    lab = signed_lab
    catalog = load_signed_catalog(lab.signed_catalog_path, trusted_keys=None)
    ids = [lm.id for lm in catalog.landmarks]
    from_lyon = _configured_ms(lab, "lyon", ids)
    names = [h.name for h in lab.world.hosts]
    madrid = lab.world.rtt_ms[names.index("madrid")]
    from_madrid = np.array([0.0 if lid == "madrid" else madrid[names.index(lid)] for lid in ids])
    wait_s = {pk: max(0.0, (m - ly) / 1000) for pk, m, ly in
              zip(catalog.public_keys, from_madrid, from_lyon, strict=True)}
    offset = len(crypto.CONTEXT_ANSWER) + 16

    class Shaper(Prover):
        def _signer(self):  # type: ignore[no-untyped-def]
            sign = super()._signer()

            def slow_sign(message: bytes) -> bytes:
                time.sleep(wait_s[message[offset : offset + 32]])
                return sign(message)

            return slow_sign

    shaper = Shaper(crypto.generate_key(), challenge=bytes.fromhex(CHALLENGE), rounds=3)
    report = lab.in_host("lyon", lambda: prove(catalog, "unused", prover=shaper))
    assert report.receipts == len(ids), report.describe()
    receipts = write_receipts(tmp_path / "shaped.json", host_key=report.host_key,
                              challenge=report.challenge,
                              receipts=[(r.landmark_id, r.receipt) for r in report.results])
    ev = build_bundle(receipts, catalog)
    assert np.all(ev.rtt_ms >= np.maximum(from_lyon, from_madrid) - 0.01)
    for claim in (MADRID_200, ("--claim", "40.4168,-3.7038", "--radius-km", "600")):
        code, out = _verify(lab, tmp_path, "--receipts", str(receipts), *claim)
        assert code in (REFUTED, UNDECIDED), out


def test_a_keyless_accomplice_fails_on_the_signature(signed_lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The accomplice in Toledo (near Madrid) opens sessions in the host's name (its public key)
    but cannot sign with the host's key: every landmark refuses it, no receipt exists."""
    from rttgeo.prove import Prover, ProveTarget

    lab = signed_lab
    catalog = load_signed_catalog(lab.signed_catalog_path, trusted_keys=None)
    host_public = crypto.public_bytes(crypto.generate_key())  # the host keeps its private key

    class Accomplice(Prover):
        """Sends the host's public key in OPEN, signs with a key of its own."""

    cheat = Accomplice(crypto.generate_key(), challenge=bytes.fromhex(CHALLENGE), rounds=3,
                       timeout_s=0.5, retries=2)
    cheat.public_key = host_public
    targets = [ProveTarget(lm.id, lm.address, lm.port or 0, pk)
               for lm, pk in zip(catalog.landmarks, catalog.public_keys, strict=True)]
    results = lab.in_host("toledo", lambda: cheat.run(targets))
    assert [r.error for r in results] == ["the landmark refused: bad_signature"] * len(targets)
    assert not any(r.ok for r in results)
    for lm in catalog.landmarks:  # the landmarks are still serving, without a traceback
        log = (lab.run_dir / "logs" / f"{lm.id}.log").read_text()
        assert "Traceback" not in log, log


# ------------------------------------------------------------------------------------ behind NAT
@pytest.fixture(scope="module")
def nat(signed_lab):  # type: ignore[no-untyped-def]
    """Two hosts, ``nat-a`` and ``nat-b``, behind the lab host ``zurich-nat`` doing source NAT."""
    from .lab_helpers import behind_nat

    with behind_nat(signed_lab, "zurich-nat", ["nat-a", "nat-b"]) as n:
        yield n


def _udp_socket(bind: tuple[str, int]):  # type: ignore[no-untyped-def]
    import socket

    def make() -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(bind)
        s.settimeout(20.0)
        return s

    return make


def test_landmarks_see_only_the_nat_and_cannot_reach_behind_it(signed_lab, nat) -> None:  # type: ignore[no-untyped-def]
    """A landmark sees the NAT's address (and a port the NAT chose), never the host's; it reaches
    the host only by answering a flow the host opened. A datagram to the NAT's address before the
    host sent anything, or to the mapping the host opened towards another landmark, is refused by
    the gateway itself (its ICMP port unreachable comes back: no sleep decides it), and one to the
    host's own address has no route; the host receives only the two replies."""
    import errno

    lab = signed_lab
    port = 40000
    host = nat.in_host("nat-a", _udp_socket(("0.0.0.0", port)))
    paris = lab.in_host("paris", _udp_socket((lab.address("paris"), port + 1)))
    london = lab.in_host("london", _udp_socket((lab.address("london"), port + 1)))

    def refused(landmark: str, to: tuple[str, int]) -> None:
        """A datagram from ``landmark`` to ``to`` that the gateway answers with port unreachable."""
        probe = lab.in_host(landmark, _udp_socket((lab.address(landmark), port + 2)))
        with probe:
            probe.connect(to)  # a connected UDP socket reports the ICMP error
            probe.send(b"unsolicited")
            with pytest.raises(ConnectionRefusedError):
                probe.recv(2048)

    with host, paris, london:
        refused("paris", (nat.public_address, port))  # the host's port, before it sent anything
        with pytest.raises(OSError) as exc:  # the lab routes nothing to the inside addresses
            paris.sendto(b"unsolicited to the host", (nat.inside["nat-a"], port))
        assert exc.value.errno == errno.ENETUNREACH
        host.sendto(b"hello paris", (lab.address("paris"), port + 1))
        data, seen = paris.recvfrom(2048)
        assert data == b"hello paris"
        assert seen[0] == nat.public_address != nat.inside["nat-a"], seen
        refused("london", seen)  # the mapping the host opened towards paris is paris's only
        host.sendto(b"hello london", (lab.address("london"), port + 1))
        data, seen_by_london = london.recvfrom(2048)
        assert (data, seen_by_london[0]) == (b"hello london", nat.public_address)
        london.sendto(b"reply london", seen_by_london)
        paris.sendto(b"reply paris", seen)
        got = {host.recvfrom(2048)[0] for _ in range(2)}
        assert got == {b"reply paris", b"reply london"}, got
        host.setblocking(False)
        with pytest.raises(BlockingIOError):
            print("arrived unsolicited:", host.recvfrom(2048))


def test_prove_behind_nat(signed_lab, nat, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Two hosts behind one NAT address run ``rttgeo prove`` at the same time: each gets a receipt
    from every landmark, bound to its own key; the landmark-timed RTTs are those of the NAT's
    path (never shorter); the gateway's conntrack table shows every session leaving with the
    NAT's address; the honest claim is proven, false ones are not."""
    from .lab_helpers import conntrack_entries

    lab = signed_lab
    catalog = load_signed_catalog(lab.signed_catalog_path, trusted_keys=[
        crypto.parse_public_key(str(lab.catalog_key_path))])
    keys = {}
    for name in ("nat-a", "nat-b"):
        keys[name] = tmp_path / f"{name}.key"
        crypto.save_private_key(crypto.generate_key(), keys[name])
    ids = [lm.id for lm in catalog.landmarks]
    configured = _configured_ms(lab, "zurich-nat", ids)

    def prove_both() -> dict[tuple[str, str], float | None]:
        procs = {name: subprocess.Popen(nat.command(name, [
            sys.executable, "-m", "rttgeo", "prove", "--key", str(keys[name]), "--catalog",
            str(lab.signed_catalog_path), "--catalog-key", str(lab.catalog_key_path), "--out",
            str(tmp_path / f"{name}.receipts.json"), "--challenge", CHALLENGE, "--rounds", "5"]),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for name in keys}
        outs = {name: p.communicate(timeout=180)[0] for name, p in procs.items()}
        got: dict[tuple[str, str], float | None] = {}
        for name, p in procs.items():
            assert p.returncode == 0, outs[name]
            ev = build_bundle(tmp_path / f"{name}.receipts.json", catalog,
                              challenge=bytes.fromhex(CHALLENGE))
            assert [lm.id for lm in ev.landmarks] == ids, outs[name]
            assert ev.host_key == crypto.public_bytes(crypto.load_private_key(keys[name]))
            got.update({(name, lid): float(r) for lid, r in zip(ids, ev.rtt_ms, strict=True)})
        return got

    # Both hosts at once, a few times at most: every RTT never shorter than the NAT's path, the
    # minima within TOL_MS of it (lab_helpers.settle_min_rtt).
    want = {(name, lid): float(c) for name in keys for lid, c in zip(ids, configured, strict=True)}
    settled = settle_min_rtt(prove_both, want, TOL_MS, what="behind NAT", max_rounds=4)
    print(f"behind NAT, landmark-timed min RTT - configured (ms), {settled.rounds} run(s):",
          {f"{n}/{lid}": round(v, 3) for (n, lid), v in settled.excess.items()})
    # every session left with the NAT's address: conntrack entries in the gateway, one per
    # inside host and landmark, whose reply goes to the NAT's address
    table = conntrack_entries(lab, "zurich-nat")
    for name in ("nat-a", "nat-b"):
        for lm in catalog.landmarks:
            flows = [line for line in table if f"src={nat.inside[name]} dst={lm.address} " in line
                     and f"dport={lm.port} " in line]
            assert flows, f"no conntrack entry {name} -> {lm.id}:\n" + "\n".join(table)
            assert all(f"src={lm.address} dst={nat.public_address} " in f for f in flows), flows
    receipts = tmp_path / "nat-a.receipts.json"
    code, out = _verify(lab, tmp_path, "--receipts", str(receipts), "--challenge", CHALLENGE,
                        "--claim", "47.3769,8.5417", "--radius-km", "1500")
    assert code == PROVEN, out
    code, out = _verify(lab, tmp_path, "--receipts", str(receipts), *WARSAW_200)
    assert code == REFUTED, out
    code, out = _verify(lab, tmp_path, "--receipts", str(receipts), *MADRID_200)
    assert code in (REFUTED, UNDECIDED), out


def test_a_second_host_behind_the_nat_cannot_use_the_first_hosts_session(signed_lab, nat) -> None:  # type: ignore[no-untyped-def]
    """Both hosts come from the NAT's one address. Host B sends host A's answer, with A's valid
    signature, into A's session: refused (``unknown session``: a session belongs to the address
    *and port* that opened it), and A's nonce stays valid. B asks for A's receipt: refused. B
    opens a session in A's name (A's public key) and answers with its own key: ``bad
    signature``. A's session then completes, and its receipt names A's key."""
    from rttgeo.receipt import decode_receipt
    from rttgeo.wire import ChallengeError, ChallengeMessage, HostOp, LandmarkOp, MsgType

    lab = signed_lab
    catalog = load_signed_catalog(lab.signed_catalog_path, trusted_keys=None)
    i = [lm.id for lm in catalog.landmarks].index("paris")
    lm, lm_key = catalog.landmarks[i], catalog.public_keys[i]
    addr = (lm.address, lm.port)
    key_a, key_b = crypto.generate_key(), crypto.generate_key()
    pub_a = crypto.public_bytes(key_a)
    sock_a = nat.in_host("nat-a", _udp_socket(("0.0.0.0", 0)))
    sock_b = nat.in_host("nat-b", _udp_socket(("0.0.0.0", 0)))

    def ask(sock, op: HostOp, sid: bytes = bytes(16), size: int = wire.MIN_REQUEST_SIZE,  # type: ignore[no-untyped-def]
            **fields) -> ChallengeMessage:
        req = os.urandom(16)
        sock.sendto(wire.encode_challenge(ChallengeMessage(
            MsgType.CHALLENGE_REQUEST, op, req, sid, **fields), pad_to=size), addr)
        while True:  # the reply to this request (the lab loses nothing; 20 s socket timeout)
            data, src = sock.recvfrom(2048)
            msg = wire.decode_challenge(data)
            if src[:2] == addr and msg.nonce == req:
                return msg

    def answer(sock, key, sid: bytes, rnd: int, nonce: bytes) -> ChallengeMessage:  # type: ignore[no-untyped-def]
        sig = key.sign(crypto.answer_message(sid, lm_key, nonce))
        return ask(sock, HostOp.ANSWER, sid, round=rnd, challenge=nonce, signature=sig)

    with sock_a, sock_b:
        opened = ask(sock_a, HostOp.OPEN, round=2, key=pub_a,
                     verifier_challenge=bytes.fromhex(CHALLENGE))
        assert opened.op == LandmarkOp.NONCE, opened
        sid, n1 = opened.session_id, opened.challenge
        stolen = answer(sock_b, key_a, sid, 1, n1)  # A's valid answer, sent by B
        assert (stolen.op, stolen.code) == (LandmarkOp.ERROR, ChallengeError.UNKNOWN_SESSION)
        nxt = answer(sock_a, key_a, sid, 1, n1)  # A's own answer still counts
        assert (nxt.op, nxt.round) == (LandmarkOp.NONCE, 2), nxt
        grab = ask(sock_b, HostOp.RECEIPT, sid, wire.RECEIPT_REQUEST_SIZE)
        assert (grab.op, grab.code) == (LandmarkOp.ERROR, ChallengeError.UNKNOWN_SESSION)
        posing = ask(sock_b, HostOp.OPEN, round=2, key=pub_a,
                     verifier_challenge=bytes.fromhex(CHALLENGE))
        assert posing.op == LandmarkOp.NONCE, posing
        forged = answer(sock_b, key_b, posing.session_id, 1, posing.challenge)
        assert (forged.op, forged.code) == (LandmarkOp.ERROR, ChallengeError.BAD_SIGNATURE)
        done = answer(sock_a, key_a, sid, 2, nxt.challenge)
        assert done.op == LandmarkOp.DONE, done
        got = ask(sock_a, HostOp.RECEIPT, sid, wire.RECEIPT_REQUEST_SIZE)
        assert got.op == LandmarkOp.RECEIPT, got
    receipt = decode_receipt(got.receipt)
    receipt.check_signature()
    assert (receipt.host_key, receipt.session_id, receipt.rounds) == (pub_a, sid, 2)
    assert receipt.landmark_key == lm_key
    assert receipt.min_rtt_ms >= _configured_ms(lab, "zurich-nat", ["paris"])[0] - 0.01
