"""``rttgeo verify`` end to end through rttgeo.cli.main, and the ``verify`` verb."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from rttgeo.api.verify import verify
from rttgeo.cli import main
from rttgeo.errors import InputError
from rttgeo.models import Landmark
from rttgeo.verify import RadiusClaim

FRA = (50.11, 8.68)


@pytest.fixture()
def files(tmp_path):
    """A catalog of 4 landmarks and the RTTs of a host in Frankfurt (1 ms from the Frankfurt one)."""
    cat = tmp_path / "cat.csv"
    cat.write_text(
        "id,lat_deg,lon_deg,address\n"
        "fra,50.11,8.68,192.0.2.1\n"
        "par,48.86,2.35,192.0.2.2\n"
        "waw,52.23,21.01,192.0.2.3\n"
        "mad,40.42,-3.70,192.0.2.4\n"
    )
    rtts = tmp_path / "s.csv"
    rtts.write_text(
        "target,landmark,protocol,sent_unix_ns,rtt_ms\n"
        "me,fra,icmp,0,1.2\nme,fra,icmp,1,1.0\nme,fra,icmp,2,\n"
        "me,par,icmp,0,9.5\nme,waw,icmp,0,14.0\nme,mad,icmp,0,22.0\n"
    )
    return cat, rtts


def run(capsys, *argv):
    code = main(["verify", *argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize(
    ("claim", "code", "word"),
    [
        (["--claim", "50.11,8.68", "--radius-km", "500"], 0, "PROVEN"),
        (["--claim", "40.0,116.0", "--radius-km", "1000"], 10, "REFUTED"),
        (["--claim", "48.86,2.35", "--radius-km", "400"], 11, "UNDECIDED"),
        (["--country", "DE"], 11, "UNDECIDED"),
        (["--not-country", "CN,HK,MO"], 0, "PROVEN"),
    ],
)
def test_outcomes_and_exit_codes(files, capsys, claim, code, word):
    cat, rtts = files
    got, out, err = run(capsys, *claim, "--rtts", str(rtts), "--landmarks", str(cat))
    assert got == code, (out, err)
    assert out.startswith(word)
    assert "mode:      sound" in out and err == ""


def test_landmark_fault_exits_12(tmp_path, capsys, files):
    cat, _ = files
    rtts = tmp_path / "liar.csv"
    rtts.write_text("landmark,rtt_ms\nfra,0.5\nmad,0.5\n")
    code, out, _ = run(
        capsys, "--claim", "50,8", "--radius-km", "500", "--rtts", str(rtts), "--landmarks", str(cat)
    )
    assert code == 12 and out.startswith("LANDMARK FAULT") and "fra and mad" in out
    code, out, _ = run(
        capsys,
        "--claim",
        "50,8",
        "--radius-km",
        "2000",
        "--faults",
        "1",
        "--rtts",
        str(rtts),
        "--landmarks",
        str(cat),
    )
    assert code in (0, 11) and "any 1 of them faulty" in out


def test_json_out_geojson_and_quiet(files, tmp_path, capsys):
    cat, rtts = files
    out_json, out_geo = tmp_path / "d.json", tmp_path / "d.geojson"
    base = ["--claim", "50.11,8.68", "--radius-km", "500", "--rtts", str(rtts), "--landmarks", str(cat)]
    code, out, _ = run(capsys, *base, "--json", "--out", str(out_json))
    assert code == 0
    printed = json.loads(out)
    assert printed["outcome"] == "proven" and printed["mode"] == "sound" and "region" not in printed
    assert printed["rtts"][0] == {"landmark": "fra", "rtt_ms": 1.0}
    saved = json.loads(out_json.read_text())
    assert saved["region"]["type"] in ("Polygon", "MultiPolygon") and saved["area_km2"] > 0
    code, out, err = run(capsys, *base, "-q", "--out", str(out_geo))
    assert code == 0 and out == "" and err == ""
    fc = json.loads(out_geo.read_text())
    assert fc["type"] == "FeatureCollection" and fc["features"][0]["properties"]["outcome"] == "proven"


def test_calibrated_mode_is_labelled_not_sound(files, capsys):
    cat, rtts = files
    code, out, _ = run(
        capsys,
        "--mode",
        "calibrated",
        "--claim",
        "50.11,8.68",
        "--radius-km",
        "500",
        "--rtts",
        str(rtts),
        "--landmarks",
        str(cat),
    )
    assert code in (0, 11)
    assert "calibrated" in out and "NOT sound against a lying host" in out
    assert "false-accept rate" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "give exactly one claim"),
        (["--country", "DE", "--not-country", "CN"], "give exactly one claim"),
        (["--claim", "50.1"], "--claim"),
        (["--claim", "50.1,x", "--radius-km", "5"], "--claim"),
        (["--claim", "50,8"], "--radius-km"),
        (["--claim", "50,8", "--radius-km", "-5"], "radius"),
        (["--claim", "95,8", "--radius-km", "5"], "latitude"),
        (["--country", "DE", "--radius-km", "5"], "--radius-km"),
        (["--country", "DE", "--margin-km", "5"], "--margin-km"),
        (["--country", "XX"], "no bundled border for XX"),
        (["--polygon", "/nonexistent/zone.geojson"], "no such file"),
        (["--country", "DE", "--faults", "-1"], "--faults"),
        (["--country", "DE", "--faults", "9"], "faults"),
    ],
)
def test_bad_options_exit_2_with_one_line(files, capsys, argv, needle):
    cat, rtts = files
    code, out, err = run(capsys, *argv, "--rtts", str(rtts), "--landmarks", str(cat))
    assert code == 2, (out, err)
    assert out == "" and len(err.strip().splitlines()) == 1 and needle in err
    assert "Traceback" not in err


def test_bad_input_files_exit_2(files, tmp_path, capsys):
    cat, rtts = files
    claim = ["--claim", "50,8", "--radius-km", "500"]
    code, _, err = run(capsys, *claim, "--landmarks", str(cat))
    assert code == 2 and "--rtts" in err
    code, _, err = run(capsys, *claim, "--rtts", str(tmp_path / "none.csv"), "--landmarks", str(cat))
    assert code == 2 and "none.csv" in err
    unknown = tmp_path / "u.csv"
    unknown.write_text("landmark,rtt_ms\nzzz,3.0\n")
    code, _, err = run(capsys, *claim, "--rtts", str(unknown), "--landmarks", str(cat))
    assert code == 2 and "zzz" in err
    zero = tmp_path / "z.csv"
    zero.write_text("landmark,rtt_ms\nfra,0\n")
    code, _, err = run(capsys, *claim, "--rtts", str(zero), "--landmarks", str(cat))
    assert code == 2 and "z.csv:2" in err
    bad_poly = tmp_path / "p.geojson"
    bad_poly.write_text('{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}')
    code, _, err = run(capsys, "--polygon", str(bad_poly), "--rtts", str(rtts), "--landmarks", str(cat))
    assert code == 2 and "p.geojson" in err and "coordinates[0]" in err


def test_out_into_a_missing_directory_writes_nothing(files, tmp_path, capsys):
    cat, rtts = files
    target = tmp_path / "nodir" / "d.json"
    code, out, err = run(
        capsys,
        "--claim",
        "50,8",
        "--radius-km",
        "500",
        "--rtts",
        str(rtts),
        "--landmarks",
        str(cat),
        "--out",
        str(target),
    )
    assert code == 2 and "no such directory" in err and out == ""
    assert not target.parent.exists()


def test_verify_reads_nothing_it_should_not_change(files, capsys):
    cat, rtts = files
    before = (cat.read_bytes(), rtts.read_bytes())
    run(capsys, "--country", "DE", "--rtts", str(rtts), "--landmarks", str(cat))
    assert (cat.read_bytes(), rtts.read_bytes()) == before


def test_verb_accepts_values_mappings_files_and_evidence(files):
    cat, rtts = files
    lms = [Landmark("fra", *FRA), Landmark("par", 48.86, 2.35)]
    claim = RadiusClaim(*FRA, 500)
    a = verify(claim, [1.0, 9.5], landmarks=lms)
    b = verify(claim, {"fra": 1.0, "par": 9.5}, landmarks=lms)
    c = verify(claim, rtts, landmarks=cat)
    assert a.outcome == b.outcome == c.outcome == "proven"
    assert c.source == str(rtts) and c.rtt_ms[0] == 1.0
    evidence = SimpleNamespace(
        landmarks=tuple(lms), rtt_ms=np.array([1.0, 9.5]), host_key=b"\x01" * 32, receipts=()
    )
    e = verify(claim, evidence)
    assert e.outcome == "proven" and e.host_key == b"\x01" * 32
    assert "host key:  0101" in e.describe() and e.to_json()["host_key"] == "01" * 32
    # The signed catalog's per-landmark position uncertainty is used unless one is given.
    pinned = SimpleNamespace(
        landmarks=tuple(lms), rtt_ms=np.array([1.0, 9.5]), uncertainty_km=np.array([900.0, 0.0])
    )
    assert verify(claim, pinned).outcome == "undecided"
    assert verify(claim, pinned, position_uncertainty_km=0.0).outcome == "proven"
    with pytest.raises(InputError, match="own landmarks"):
        verify(claim, evidence, landmarks=lms)
    with pytest.raises(InputError, match="not in the catalog"):
        verify(claim, {"nope": 1.0}, landmarks=lms)


def test_out_dash_prints_the_whole_document_even_when_quiet(files, capsys):
    cat, rtts = files
    code, out, err = run(
        capsys,
        "--claim",
        "50.11,8.68",
        "--radius-km",
        "500",
        "--rtts",
        str(rtts),
        "--landmarks",
        str(cat),
        "--out",
        "-",
        "-q",
    )
    assert code == 0 and err == ""
    doc = json.loads(out)
    assert doc["outcome"] == "proven" and doc["region"]["type"] in ("Polygon", "MultiPolygon")


def test_out_onto_a_directory_is_an_input_error(files, tmp_path, capsys):
    cat, rtts = files
    code, out, err = run(
        capsys,
        "--claim",
        "50.11,8.68",
        "--radius-km",
        "500",
        "--rtts",
        str(rtts),
        "--landmarks",
        str(cat),
        "--out",
        str(tmp_path),
    )
    assert code == 2 and out == "" and "cannot write" in err and len(err.strip().splitlines()) == 1
    assert not [p for p in tmp_path.parent.iterdir() if p.name.endswith(".tmp")]


def test_map_draws_the_claim_region_and_landmarks(files, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    cat, rtts = files
    png = tmp_path / "v.png"
    code, _, err = run(
        capsys,
        "--claim",
        "50.11,8.68",
        "--radius-km",
        "500",
        "--rtts",
        str(rtts),
        "--landmarks",
        str(cat),
        "--map",
        str(png),
    )
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {png}" in err
    svg = tmp_path / "v.svg"
    code, _, _ = run(
        capsys,
        "--not-country",
        "CN",
        "--rtts",
        str(rtts),
        "--landmarks",
        str(cat),
        "--map",
        str(svg),
        "-q",
    )
    assert code == 0 and "not in CN" in svg.read_text()
    code, _out, err = run(
        capsys,
        "--country",
        "DE",
        "--rtts",
        str(rtts),
        "--landmarks",
        str(cat),
        "--map",
        str(tmp_path / "v.txt"),
    )
    assert code == 2 and "expected a .png or .svg or .pdf" in err and not (tmp_path / "v.txt").exists()
