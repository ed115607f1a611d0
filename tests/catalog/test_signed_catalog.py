"""Signed landmark catalogs: signing, trust, tampering, bad entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("cryptography", reason="the verify extra (cryptography) is not installed")

from rttgeo import crypto
from rttgeo.catalog.signed import load_signed_catalog, sign_catalog
from rttgeo.errors import CatalogError, VerificationError


def write_catalog(path: Path, rows: list[dict]) -> Path:  # type: ignore[type-arg]
    cols = ["id", "lat_deg", "lon_deg", "address", "port", "protocols", "public_key",
            "position_uncertainty_km"]
    lines = [",".join(cols)] + [",".join(str(r.get(c, "")) for c in cols) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def rows(n: int = 2) -> list[dict]:  # type: ignore[type-arg]
    return [{"id": f"lm-{i}", "lat_deg": 10 + i, "lon_deg": 20 + i, "address": f"192.0.2.{i + 1}",
             "port": 4789, "protocols": "udp",
             "public_key": crypto.public_bytes(crypto.generate_key()).hex(),
             "position_uncertainty_km": i * 0.5} for i in range(n)]


@pytest.fixture(scope="module")
def signer():  # type: ignore[no-untyped-def]
    return crypto.generate_key()


def test_sign_and_load_with_trust(tmp_path: Path, signer) -> None:  # type: ignore[no-untyped-def]
    rs = rows(3)
    src = write_catalog(tmp_path / "c.csv", rs)
    signed = sign_catalog(src, signer, tmp_path / "c.signed.json", name="test")
    again = load_signed_catalog(tmp_path / "c.signed.json",
                                trusted_keys=[crypto.public_bytes(signer)])
    assert again == signed
    assert [lm.id for lm in again.landmarks] == ["lm-0", "lm-1", "lm-2"]
    assert [k.hex() for k in again.public_keys] == [r["public_key"] for r in rs]
    assert again.uncertainty_km == (0.0, 0.5, 1.0)
    assert again.name == "test" and again.index_of_key(again.public_keys[2]) == 2
    assert again.index_of_key(bytes(32)) is None


def test_an_untrusted_signer_is_refused(tmp_path: Path, signer) -> None:  # type: ignore[no-untyped-def]
    sign_catalog(write_catalog(tmp_path / "c.csv", rows()), signer, tmp_path / "s.json")
    other = crypto.public_bytes(crypto.generate_key())
    with pytest.raises(VerificationError, match="not a trusted catalog key"):
        load_signed_catalog(tmp_path / "s.json", trusted_keys=[other])
    load_signed_catalog(tmp_path / "s.json", trusted_keys=None)  # integrity only


def test_a_tampered_catalog_is_refused(tmp_path: Path, signer) -> None:  # type: ignore[no-untyped-def]
    """Moving a landmark by editing the signed text (the attack a catalog signature stops)."""
    sign_catalog(write_catalog(tmp_path / "c.csv", rows()), signer, tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    doc["catalog"] = doc["catalog"].replace('"lat_deg": 10', '"lat_deg": 11')
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(VerificationError, match="does not verify"):
        load_signed_catalog(tmp_path / "s.json", trusted_keys=[crypto.public_bytes(signer)])
    # re-signing with another key and naming it as signer: caught by the trust check
    forger = crypto.generate_key()
    doc["signer_key"] = crypto.public_bytes(forger).hex()
    doc["signature"] = forger.sign(crypto.CONTEXT_CATALOG + doc["catalog"].encode()).hex()
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(VerificationError, match="not a trusted"):
        load_signed_catalog(tmp_path / "s.json", trusted_keys=[crypto.public_bytes(signer)])


def test_a_signature_of_another_context_is_refused(tmp_path: Path, signer) -> None:  # type: ignore[no-untyped-def]
    sign_catalog(write_catalog(tmp_path / "c.csv", rows()), signer, tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    doc["signature"] = signer.sign(crypto.CONTEXT_RECEIPT + doc["catalog"].encode()).hex()
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(VerificationError, match="does not verify"):
        load_signed_catalog(tmp_path / "s.json", trusted_keys=None)


@pytest.mark.parametrize("content, match", [
    ("", "JSON"),
    ("[1, 2]", "not a signed catalog"),
    ('{"format": "rttgeo-signed-catalog", "version": 2}', "version"),
    ('{"format": "rttgeo-signed-catalog", "version": 1, "signer_key": "zz"}', "signer_key"),
    ("[" * 100_000, "nested"),
    ('{"format": "rttgeo-signed-catalog", "version": 1, "signer_key": "' + "00" * 32
     + '", "signature": "' + "00" * 64 + '", "catalog": "{}"}', "small order"),
])
def test_malformed_envelopes(tmp_path: Path, content: str, match: str) -> None:
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(VerificationError, match=match):
        load_signed_catalog(p, trusted_keys=None)
    with pytest.raises(VerificationError, match="no such"):
        load_signed_catalog(tmp_path / "missing.json", trusted_keys=None)


@pytest.mark.parametrize("change, match", [
    ({"public_key": ""}, "public_key"),
    ({"public_key": "12"}, "64 hex"),
    ({"public_key": "00" * 32}, "small order"),
    ({"position_uncertainty_km": "-1"}, "position_uncertainty_km"),
    ({"position_uncertainty_km": "5_0"}, "position_uncertainty_km"),
    ({"lat_deg": "95"}, "lat_deg"),
])
def test_bad_entries_name_line_and_field(tmp_path: Path, signer, change, match) -> None:  # type: ignore[no-untyped-def]
    rs = rows()
    rs[1].update(change)
    with pytest.raises(CatalogError, match=match) as info:
        sign_catalog(write_catalog(tmp_path / "c.csv", rs), signer, tmp_path / "s.json")
    assert "c.csv:3" in str(info.value)
    assert not (tmp_path / "s.json").exists()


def test_two_landmarks_cannot_share_a_key(tmp_path: Path, signer) -> None:  # type: ignore[no-untyped-def]
    rs = rows()
    rs[1]["public_key"] = rs[0]["public_key"]
    with pytest.raises(CatalogError, match="also the key of 'lm-0'"):
        sign_catalog(write_catalog(tmp_path / "c.csv", rs), signer, tmp_path / "s.json")
