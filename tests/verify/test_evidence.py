"""Evidence bundles (rttgeo.verify.evidence): what a verifier accepts, and every way a bundle or a
receipt in it can be wrong, each named in the error."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cryptography", reason="the verify extra (cryptography) is not installed")

from rttgeo import crypto
from rttgeo.catalog.signed import load_signed_catalog, sign_catalog
from rttgeo.errors import VerificationError
from rttgeo.receipt import Receipt, sign_receipt
from rttgeo.verify.evidence import (
    BUNDLE_FORMAT,
    build_bundle,
    check_bundle,
    write_receipts,
)

T0 = 1_700_000_000 * 10**9
CHALLENGE = b"V" * 32
POSITIONS = {"ams": (52.37, 4.9), "fra": (50.11, 8.68), "par": (48.86, 2.35)}


class World:
    """Three signing landmarks in a signed catalog, and a host."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.keys = {name: crypto.generate_key() for name in POSITIONS}
        self.signer = crypto.generate_key()
        self.host = crypto.generate_key()
        self.host_key = crypto.public_bytes(self.host)
        lines = ["id,lat_deg,lon_deg,address,port,protocols,public_key,position_uncertainty_km"]
        for i, (name, (lat, lon)) in enumerate(POSITIONS.items()):
            lines.append(f"{name},{lat},{lon},192.0.2.{i + 1},4789,udp,"
                         f"{crypto.public_bytes(self.keys[name]).hex()},{i * 0.25}")
        (tmp / "c.csv").write_text("\n".join(lines) + "\n")
        sign_catalog(tmp / "c.csv", self.signer, tmp / "c.json")
        self.catalog = load_signed_catalog(tmp / "c.json",
                                           trusted_keys=[crypto.public_bytes(self.signer)])

    def receipt(self, name: str, rtt_ms: float, *, t_s: float = 0.0, **kw) -> Receipt:  # type: ignore[no-untyped-def]
        lat, lon = POSITIONS[name]
        fields = dict(session_id=bytes([len(name), int(rtt_ms * 10) % 256]) + bytes(14),
                      landmark_key=bytes(32), host_key=self.host_key, challenge=CHALLENGE,
                      landmark_id=name, lat_e7=round(lat * 1e7), lon_e7=round(lon * 1e7),
                      min_rtt_ns=int(rtt_ms * 1e6), rounds=10,
                      start_unix_ns=T0 + int(t_s * 1e9), end_unix_ns=T0 + int((t_s + 1) * 1e9))
        fields.update(kw)
        key = kw.pop("signing_key", None) or self.keys[name]
        fields.pop("signing_key", None)
        return sign_receipt(Receipt(**fields), key)

    def receipts_file(self, receipts: list[Receipt], name: str = "r.json", **doc) -> Path:  # type: ignore[no-untyped-def]
        p = write_receipts(self.tmp / name, host_key=self.host_key, challenge=CHALLENGE,
                           receipts=[(r.landmark_id, r.to_bytes()) for r in receipts])
        if doc:
            d = json.loads(p.read_text())
            d.update(doc)
            p.write_text(json.dumps(d))
        return p


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_a_bundle_round_trip(world: World, tmp_path: Path) -> None:
    receipts = [world.receipt("par", 9.5, t_s=2), world.receipt("ams", 4.25),
                world.receipt("ams", 3.75, t_s=1)]
    ev = build_bundle(world.receipts_file(receipts), world.catalog, tmp_path / "b.json")
    assert [lm.id for lm in ev.landmarks] == ["ams", "par"]  # catalog order; fra had no receipt
    np.testing.assert_array_equal(ev.rtt_ms, [3.75, 9.5])  # the smaller of ams's two
    np.testing.assert_array_equal(ev.uncertainty_km, [0.0, 0.5])
    assert ev.host_key == world.host_key and ev.challenge == CHALLENGE
    assert ev.receipts[0].min_rtt_ns == 3_750_000 and len(ev) == 2
    assert (ev.start_unix_ns, ev.end_unix_ns) == (T0, T0 + 3 * 10**9)
    assert ev.catalog_signer == world.catalog.signer_key
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["format"] == BUNDLE_FORMAT and doc["catalog"]["sha256"] == world.catalog.sha256
    again = check_bundle(tmp_path / "b.json", world.catalog, challenge=CHALLENGE)
    np.testing.assert_array_equal(again.rtt_ms, ev.rtt_ms)
    assert [r.session_id for r in again.receipts] == [r.session_id for r in ev.receipts]


def _bundle(world: World, receipts: list[Receipt]) -> Path:
    p = world.tmp / "b.json"
    build_bundle(world.receipts_file([world.receipt("fra", 5.0)]), world.catalog, p)
    doc = json.loads(p.read_text())
    doc["receipts"] = [{"landmark": r.landmark_id, "receipt": r.to_bytes().hex()}
                       for r in receipts]
    p.write_text(json.dumps(doc))
    return p


def test_a_tampered_receipt_is_named(world: World) -> None:
    good = world.receipt("fra", 5.0)
    data = bytearray(good.to_bytes())
    data[128 + 7] ^= 0x40  # min_rtt_ns: 5 ms would become something else
    p = _bundle(world, [world.receipt("ams", 4.0)])
    doc = json.loads(p.read_text())
    doc["receipts"].append({"landmark": "fra", "receipt": data.hex()})
    p.write_text(json.dumps(doc))
    with pytest.raises(VerificationError, match=r"receipts\[1\].*'fra'.*does not verify"):
        check_bundle(p, world.catalog)


@pytest.mark.parametrize("make, match", [
    (lambda w: w.receipt("fra", 5, signing_key=crypto.generate_key()), "unknown landmark"),
    (lambda w: w.receipt("fra", 5, host_key=crypto.public_bytes(crypto.generate_key())),
     "another host key"),
    (lambda w: w.receipt("fra", 5, challenge=b"X" * 32), "another challenge"),
    (lambda w: w.receipt("fra", 5, landmark_id="par"), "names landmark 'par'"),
    (lambda w: w.receipt("fra", 5, lat_e7=round(50.5 * 1e7)), "catalog pins"),
    (lambda w: w.receipt("fra", 5, min_rtt_ns=0), "no positive RTT"),
    (lambda w: w.receipt("fra", 5, signing_key=w.keys["ams"], landmark_id="ams"),
     "served position"),  # ams's key signing ams's id but fra's position
])
def test_receipts_that_do_not_belong_are_rejected(world: World, make, match) -> None:  # type: ignore[no-untyped-def]
    p = _bundle(world, [world.receipt("ams", 4.0), make(world)])
    with pytest.raises(VerificationError, match=match):
        check_bundle(p, world.catalog)


def test_a_signature_made_for_one_landmark_shown_as_another(world: World) -> None:
    """fra's receipt re-labelled as par's (the id is signed, so it cannot be changed; the
    listing label is checked against it)."""
    p = _bundle(world, [world.receipt("fra", 5.0)])
    doc = json.loads(p.read_text())
    doc["receipts"][0]["landmark"] = "par"
    p.write_text(json.dumps(doc))
    with pytest.raises(VerificationError, match="listed as 'par'"):
        check_bundle(p, world.catalog)


def test_a_replayed_receipt_in_the_same_bundle(world: World) -> None:
    r = world.receipt("fra", 5.0)
    with pytest.raises(VerificationError, match="repeats session"):
        check_bundle(_bundle(world, [r, r]), world.catalog)


def test_freshness(world: World) -> None:
    p = _bundle(world, [world.receipt("ams", 4.0), world.receipt("par", 9.0, t_s=700)])
    with pytest.raises(VerificationError, match="span 701 s"):
        check_bundle(p, world.catalog)
    ev = check_bundle(p, world.catalog, max_span_s=800)
    assert ev.end_unix_ns == T0 + 701 * 10**9
    with pytest.raises(VerificationError, match="not fresh"):
        check_bundle(p, world.catalog, max_span_s=800, challenge=b"W" * 32)
    with pytest.raises(VerificationError, match="s old"):
        check_bundle(p, world.catalog, max_span_s=800, max_age_s=3600,
                     now_unix_s=T0 / 1e9 + 701 + 3601)
    check_bundle(p, world.catalog, max_span_s=800, max_age_s=3600, now_unix_s=T0 / 1e9 + 800)
    # A receipt ending in the future never ages out: with --max-age, more than 300 s ahead of the
    # verifier's clock is refused; a little clock difference is not.
    with pytest.raises(VerificationError, match="in the future"):
        check_bundle(p, world.catalog, max_span_s=800, max_age_s=3600,
                     now_unix_s=T0 / 1e9 + 701 - 301)
    check_bundle(p, world.catalog, max_span_s=800, max_age_s=3600, now_unix_s=T0 / 1e9 + 701 - 299)


def test_a_bundle_for_another_host_key(world: World) -> None:
    p = _bundle(world, [world.receipt("ams", 4.0)])
    doc = json.loads(p.read_text())
    doc["host_key"] = crypto.public_bytes(crypto.generate_key()).hex()
    p.write_text(json.dumps(doc))
    with pytest.raises(VerificationError, match="another host key"):
        check_bundle(p, world.catalog)


@pytest.mark.parametrize("content, match", [
    ("not json", "b.json"),
    ("[]", "not a JSON object"),
    ('{"format": "rttgeo-receipts", "version": 1}', "format"),
    ('{"format": "rttgeo-evidence", "version": 7}', "version"),
    ('{"format": "rttgeo-evidence", "version": 1, "host_key": "zz"}', "host_key"),
    ('{"format": "rttgeo-evidence", "version": 1, "host_key": "' + "00" * 32 + '"}', "small order"),
    ("[" * 50_000, "nested"),
    ('{"format": "rttgeo-evidence", "version": 1, "host_key": "' + "00" * 31 + '"}', "64 hex"),
])
def test_malformed_bundles(world: World, content: str, match: str) -> None:
    p = world.tmp / "b.json"
    p.write_text(content)
    with pytest.raises(VerificationError, match=match):
        check_bundle(p, world.catalog)


def test_malformed_receipt_lists(world: World) -> None:
    p = _bundle(world, [world.receipt("ams", 4.0)])
    doc = json.loads(p.read_text())
    for receipts, match in (([], "no receipts"), ("x", "no receipts"), ([5], r"receipts\[0\] is not"),
                            ([{"receipt": "abc"}], "hexadecimal"),
                            ([{"receipt": "00" * 40}], "too short")):
        doc["receipts"] = receipts
        p.write_text(json.dumps(doc))
        with pytest.raises(VerificationError, match=match):
            check_bundle(p, world.catalog)
    with pytest.raises(VerificationError, match="no such file"):
        check_bundle(world.tmp / "missing.json", world.catalog)


def test_a_bundle_is_not_a_receipts_file_and_back(world: World) -> None:
    receipts = world.receipts_file([world.receipt("ams", 4.0)])
    with pytest.raises(VerificationError, match="format 'rttgeo-receipts'"):
        check_bundle(receipts, world.catalog)
    build_bundle(receipts, world.catalog, world.tmp / "b.json")
    with pytest.raises(VerificationError, match="format 'rttgeo-evidence'"):
        build_bundle(world.tmp / "b.json", world.catalog)


def test_evidence_is_frozen(world: World) -> None:
    ev = build_bundle(world.receipts_file([world.receipt("ams", 4.0)]), world.catalog)
    with pytest.raises(AttributeError):
        ev.host_key = b""  # type: ignore[misc]
    assert replace(ev.receipts[0]).landmark_id == "ams"


@pytest.mark.parametrize("version", [True, 1.0, "1", 2])
def test_a_bundle_of_another_version_is_refused(world: World, version) -> None:  # type: ignore[no-untyped-def]
    """`"version": true` and `1.0` passed the check (both equal 1 in Python)."""
    p = _bundle(world, [world.receipt("ams", 4.0)])
    doc = json.loads(p.read_text())
    doc["version"] = version
    p.write_text(json.dumps(doc))
    with pytest.raises(VerificationError, match="unsupported version"):
        check_bundle(p, world.catalog)
