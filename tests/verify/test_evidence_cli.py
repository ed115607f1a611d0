"""``rttgeo verify --receipts / --check`` through the real entry point: decisions from signed
evidence, and every bad bundle, key or option giving one line on stderr, exit 2, never proven."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("cryptography", reason="the verify extra (cryptography) is not installed")

from rttgeo import crypto
from rttgeo.cli import main
from rttgeo.geo import distance_km

from .test_evidence import CHALLENGE, POSITIONS, World

HOST = (50.0, 8.3)  # near Frankfurt
FIBRE_KM_PER_MS = 0.66 * 299.792458 / 2  # one-way km per ms of RTT at 2/3 c


def honest_receipts(world: World) -> Path:
    """Receipts whose RTTs are what fibre from HOST to each landmark takes (plus 0.2 ms)."""
    rs = []
    for name, (lat, lon) in POSITIONS.items():
        d = float(distance_km(HOST[0], HOST[1], lat, lon))
        rs.append(world.receipt(name, d / FIBRE_KM_PER_MS + 0.2))
    return world.receipts_file(rs)


def run(argv: list[str], capsys) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def refused(code: int, out: str, err: str, *needles: str) -> None:
    assert code == 2, (code, out, err)
    assert out == "", out  # never a verdict, let alone "proven"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and re.match(r"rttgeo( [a-z-]+)?: error: ", lines[0]), err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    (tmp_path / "catalog.pub").write_text(crypto.public_bytes(w.signer).hex() + "\n")
    return w


def trust(world: World) -> list[str]:
    return ["--catalog", str(world.tmp / "c.json"), "--catalog-key", str(world.tmp / "catalog.pub")]


def test_receipts_to_bundle_to_verdicts(world: World, capsys) -> None:  # type: ignore[no-untyped-def]
    receipts = honest_receipts(world)
    bundle = world.tmp / "bundle.json"
    code, out, err = run(["verify", "--receipts", str(receipts), *trust(world), "--challenge",
                          CHALLENGE.hex(), "--bundle-out", str(bundle), "--not-country", "CN"],
                         capsys)
    assert code == 0, (out, err)
    assert out.startswith("PROVEN") and crypto.public_bytes(world.host).hex() in out
    assert json.loads(bundle.read_text())["format"] == "rttgeo-evidence"
    # anyone re-checks the bundle offline with the pinned catalog
    code, out, err = run(["verify", "--check", str(bundle), *trust(world), "--claim",
                          f"{HOST[0]},{HOST[1]}", "--radius-km", "1500"], capsys)
    assert code == 0, (out, err)
    code, out, err = run(["verify", "--check", str(bundle), *trust(world), "--claim",
                          "40.42,-3.70", "--radius-km", "100"], capsys)  # Madrid
    assert code == 10 and out.startswith("REFUTED"), (out, err)
    code, out, _ = run(["verify", "--check", str(bundle), *trust(world), "--json", "--country",
                        "DE"], capsys)
    assert code in (0, 11) and json.loads(out)["host_key"] == crypto.public_bytes(
        world.host).hex()


def test_a_tampered_bundle_is_never_proven(world: World, capsys) -> None:  # type: ignore[no-untyped-def]
    bundle = world.tmp / "bundle.json"
    assert run(["verify", "--receipts", str(honest_receipts(world)), *trust(world),
                "--bundle-out", str(bundle), "--not-country", "CN"], capsys)[0] == 0
    doc = json.loads(bundle.read_text())
    data = bytearray.fromhex(doc["receipts"][1]["receipt"])
    data[135] ^= 0x7F  # a shorter minimum RTT
    doc["receipts"][1]["receipt"] = data.hex()
    bundle.write_text(json.dumps(doc))
    refused(*run(["verify", "--check", str(bundle), *trust(world), "--not-country", "CN"], capsys),
            "bundle.json", "receipts[1]", "does not verify")


def test_bad_evidence_inputs(world: World, capsys) -> None:  # type: ignore[no-untyped-def]
    receipts = honest_receipts(world)
    base = ["verify", "--not-country", "CN"]
    other = crypto.public_bytes(crypto.generate_key()).hex()
    stranger = world.receipts_file([world.receipt("fra", 5, signing_key=crypto.generate_key())],
                                   name="stranger.json")
    foreign = world.receipts_file(
        [world.receipt("fra", 5, host_key=crypto.public_bytes(crypto.generate_key()))],
        name="foreign.json")
    (world.tmp / "junk.json").write_text("{not json")
    cases = [
        (["--receipts", str(receipts), "--catalog", str(world.tmp / "c.json")], ["--catalog-key"]),
        (["--receipts", str(receipts), "--catalog-key", other], ["--catalog"]),
        (["--receipts", str(receipts), "--catalog", str(world.tmp / "c.json"), "--catalog-key",
          other], ["not a trusted catalog key"]),
        (["--receipts", str(receipts), *trust(world), "--rtts", str(receipts)], ["--rtts"]),
        (["--check", str(receipts), *trust(world)], ["format 'rttgeo-receipts'"]),
        (["--check", str(receipts), "--receipts", str(receipts), *trust(world)], ["--check"]),
        (["--check", str(receipts), *trust(world), "--bundle-out", "x.json"], ["--bundle-out"]),
        (["--receipts", str(receipts), *trust(world), "--challenge", "12"], ["--challenge"]),
        (["--receipts", str(receipts), *trust(world), "--challenge", "ab" * 32], ["not fresh"]),
        (["--receipts", str(receipts), *trust(world), "--max-span", "0"], ["--max-span"]),
        (["--receipts", str(receipts), *trust(world), "--max-age", "60"], ["s old"]),
        (["--receipts", str(stranger), *trust(world)], ["unknown landmark"]),
        (["--receipts", str(foreign), *trust(world)], ["another host key"]),
        (["--receipts", str(world.tmp / "junk.json"), *trust(world)], ["junk.json"]),
        (["--receipts", str(world.tmp / "none.json"), *trust(world)], ["no such file"]),
        (["--catalog", str(world.tmp / "c.json"), "--rtts", str(receipts)], ["--catalog"]),
    ]
    for extra, needles in cases:
        refused(*run(base + extra, capsys), *needles)
    assert not (world.tmp / "x.json").exists()


def test_verdicts_from_evidence_carry_the_bundle_and_signed_catalog_hashes(world: World, capsys) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    receipts = honest_receipts(world)
    bundle = world.tmp / "bundle.json"
    catalog = world.tmp / "c.json"
    code, out, err = run(["verify", "--receipts", str(receipts), *trust(world), "--bundle-out",
                          str(bundle), "--json", "--not-country", "CN"], capsys)
    assert code == 0, (out, err)
    prov = json.loads(out)["provenance"]
    assert prov["source"] == str(receipts)  # the receipts read; the bundle is written from them
    assert prov["source_sha256"] == hashlib.sha256(receipts.read_bytes()).hexdigest()
    assert prov["catalog"] == str(catalog)
    assert prov["catalog_sha256"] == hashlib.sha256(catalog.read_bytes()).hexdigest()
    code, out, err = run(["verify", "--check", str(bundle), *trust(world), "--json",
                          "--not-country", "CN"], capsys)
    assert code == 0, (out, err)
    prov = json.loads(out)["provenance"]
    assert prov["source"] == str(bundle)
    assert prov["source_sha256"] == hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert prov["catalog_sha256"] == hashlib.sha256(catalog.read_bytes()).hexdigest()


def test_a_bundle_is_not_left_behind_when_the_verdict_fails_on_input(world: World, capsys) -> None:  # type: ignore[no-untyped-def]
    """--bundle-out was written as the receipts were checked, then --faults was refused: the
    bundle stayed. It is removed again (when this run created it)."""
    receipts = honest_receipts(world)
    bundle = world.tmp / "left.json"
    code, out, err = run(["verify", "--receipts", str(receipts), *trust(world), "--challenge",
                          CHALLENGE.hex(), "--bundle-out", str(bundle), "--not-country", "CN",
                          "--faults", "50"], capsys)
    assert code == 2 and "faults" in err and out == "", (code, out, err)
    assert not bundle.exists()
