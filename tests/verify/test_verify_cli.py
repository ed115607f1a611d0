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


def test_calibrated_mode_is_labelled_not_sound(files, capsys, tmp_path):
    cat, _ = files
    # Typical inflation (the fixture's 14 ms to Warsaw, 891 km, is near fibre speed: faster than
    # calibrated mode's upper bound, so its annuli would not meet, a landmark fault, exit 12).
    rtts = tmp_path / "typical.csv"
    rtts.write_text(
        "target,landmark,protocol,sent_unix_ns,rtt_ms\n"
        "me,fra,icmp,0,1.0\nme,par,icmp,0,9.5\nme,waw,icmp,0,18.0\nme,mad,icmp,0,28.0\n"
    )
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
    assert code == 2 and "--out" in err and "does not exist" in err and out == ""  # at parse time
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
    assert code == 2 and out == "" and "is a directory" in err and len(err.strip().splitlines()) == 1
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


# ------------------------------------------------------------------------- --map and --report
def _claim_500(files):
    cat, rtts = files
    return ["--claim", "50.11,8.68", "--radius-km", "500", "--rtts", str(rtts), "--landmarks", str(cat)]


def test_map_and_report_draw_the_claim_region_and_deciding_landmarks(files, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    svg, page = tmp_path / "v.svg", tmp_path / "v.html"
    code, out, err = run(capsys, *_claim_500(files), "--map", str(svg), "--report", str(page),
                         "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert err.splitlines() == [f"wrote {svg}", f"wrote {page}"]
    (fra,) = doc["deciding_landmarks"]
    radius = fra["radius_km"]  # the decision's own disc of the deciding landmark
    text = svg.read_text()
    for gid in ("verified-region", "claim", "discs", "landmarks", "decision"):
        assert f'id="{gid}"' in text, gid
    assert f"fra: {radius:.0f} km, 1 ms" in text  # the label of its disc: radius, RTT
    assert "proven: within 500 km of 50.1100, 8.6800" in text
    html = page.read_text()
    assert "<script" not in html and "<svg" in html and 'id="landmark-table"' in html
    assert 'id="verdict">PROVEN: every position' in html
    rows = html.split('<tbody>', 1)[1].split('</tbody>', 1)[0]
    assert rows.count("<tr") == 4 and '<tr class="deciding"><td class="id">fra</td>' in rows
    assert f"<td>{radius:,.0f}</td>" in rows


def test_map_formats_and_claims_that_are_labelled_as_claimed(files, tmp_path, capsys):
    """PDF by the suffix; a "not in" claim draws the countries, and its legend says "outside"."""
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    cat, rtts = files
    pdf, svg = tmp_path / "m.pdf", tmp_path / "cn.svg"
    code, _, err = run(capsys, "--country", "DE", "--rtts", str(rtts), "--landmarks", str(cat),
                       "--map", str(pdf), "-q")
    assert code == 11 and err == "" and pdf.read_bytes()[:5] == b"%PDF-"
    code, _, _ = run(capsys, "--not-country", "CN", "--rtts", str(rtts), "--landmarks", str(cat),
                     "--map", str(svg), "-q")
    assert code == 0 and "claim: outside China (CN)" in svg.read_text()


def test_a_landmark_fault_is_mapped_and_reported_without_a_region(files, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    cat, _ = files
    liar = tmp_path / "liar.csv"
    liar.write_text("landmark,rtt_ms\nfra,0.5\nmad,0.5\n")
    svg, page = tmp_path / "fault.svg", tmp_path / "fault.html"
    code, out, _ = run(capsys, "--claim", "50,8", "--radius-km", "500", "--rtts", str(liar),
                       "--landmarks", str(cat), "--map", str(svg), "--report", str(page))
    assert code == 12 and out.startswith("LANDMARK FAULT")
    text = svg.read_text()
    assert "landmark-fault: within 500 km" in text and 'id="verified-region"' not in text
    html = page.read_text()
    assert 'id="verdict">LANDMARK FAULT: the trusted landmarks contradict' in html
    assert "<dd>empty-intersection, landmark-pairs-contradict</dd>" in html


@pytest.mark.parametrize(
    ("option", "name", "needle"),
    [
        ("--map", "nodir/m.png", "does not exist"),
        ("--map", "m.txt", "expected a .png or .svg or .pdf file name"),
        ("--map", "adir.svg/", "is a directory"),
        ("--report", "r.pdf", "expected a .html or .htm file name"),
        ("--report", "nodir/r.html", "does not exist"),
        ("--report", "adir.html/", "is a directory"),
    ],
)
def test_bad_map_and_report_paths_exit_2_before_any_work(files, tmp_path, capsys, option, name,
                                                          needle):
    target = str(tmp_path / name)
    if name.endswith("/"):
        (tmp_path / name).mkdir()
    before = sorted(tmp_path.rglob("*"))
    code, out, err = run(capsys, *_claim_500(files), "--out", str(tmp_path / "d.json"),
                         option, target)
    assert code == 2 and out == "", err
    assert len(err.strip().splitlines()) == 1 and option in err and needle in err
    assert "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, no directory made


def test_bad_input_with_map_writes_no_picture(files, tmp_path, capsys):
    cat, _ = files
    png, page = tmp_path / "m.png", tmp_path / "r.html"
    code, _, err = run(capsys, "--claim", "50,8", "--radius-km", "500", "--rtts",
                       str(tmp_path / "none.csv"), "--landmarks", str(cat), "--map", str(png),
                       "--report", str(page))
    assert code == 2 and "none.csv" in err and len(err.strip().splitlines()) == 1
    assert not png.exists() and not page.exists()


def test_every_output_carries_the_provenance(files, tmp_path, capsys, monkeypatch):
    """--out (JSON and GeoJSON), --json and --report name the rttgeo version, the RTTs file and the
    catalog as given, with the SHA-256 of each."""
    import hashlib

    from rttgeo import __version__

    cat, rtts = files
    monkeypatch.chdir(tmp_path)
    want = {
        "rttgeo_version": __version__,
        "method": "sound",
        "source": "s.csv",  # paths as typed
        "source_sha256": hashlib.sha256(rtts.read_bytes()).hexdigest(),
        "campaign": None,
        "catalog": "cat.csv",
        "catalog_sha256": hashlib.sha256(cat.read_bytes()).hexdigest(),
    }
    base = ["--claim", "50.11,8.68", "--radius-km", "500", "--rtts", "s.csv", "--landmarks", "cat.csv"]
    code, out, _ = run(capsys, *base, "--json", "--out", "d.json")
    assert code == 0
    for doc in (json.loads(out), json.loads((tmp_path / "d.json").read_text())):
        prov = doc["provenance"]
        assert {k: prov[k] for k in want} == want
        assert prov["calibration"].startswith("none: sound mode") and prov["created_utc"]
    code, _, _ = run(capsys, *base, "-q", "--out", "d.geojson")
    props = json.loads((tmp_path / "d.geojson").read_text())["features"][0]["properties"]
    assert code == 0 and {k: props["provenance"][k] for k in want} == want
    # calibrated mode names the model's data
    code, out, _ = run(capsys, *base, "--json", "--mode", "calibrated")
    prov = json.loads(out)["provenance"]
    assert prov["method"] == "calibrated" and "WonderProxy 2020 mesh (sha256 " in prov["calibration"]
    # the values and the verb: no file read, the catalog given as Landmark values
    r = verify(RadiusClaim(*FRA, 500), [1.0, 9.5],
               landmarks=[Landmark("fra", *FRA), Landmark("par", 48.86, 2.35)])
    assert r.provenance is not None
    assert (r.provenance.source, r.provenance.source_sha256) == ("values", None)
    assert (r.provenance.catalog, r.provenance.catalog_sha256) == ("given", None)
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    code, _, _ = run(capsys, *base, "-q", "--report", "v.html")
    html = (tmp_path / "v.html").read_text()
    assert code == 0
    for label, value in (("rttgeo version", __version__), ("RTTs from", "s.csv"),
                         ("RTTs file SHA-256", want["source_sha256"]),
                         ("Landmark catalog", "cat.csv"),
                         ("Catalog SHA-256", want["catalog_sha256"])):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in html, label
    assert html.count("<dt>RTTs from</dt>") == 1


def _verify_subprocess(files, stdout, *claim):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    cat, rtts = files
    return subprocess.Popen(
        [sys.executable, "-m", "rttgeo", "verify", *claim, "--rtts", str(rtts), "--landmarks",
         str(cat)], stdout=stdout, stderr=subprocess.PIPE, text=True)


def test_a_reader_that_goes_away_does_not_change_the_verdict(files) -> None:
    """`verify ... | true` exited 0, "proven", whatever the verdict; the verdict's code stays."""
    import subprocess

    for claim, want in ((["--claim", "40.0,116.0", "--radius-km", "1000"], 10),
                        (["--claim", "48.86,2.35", "--radius-km", "400"], 11)):
        proc = _verify_subprocess(files, subprocess.PIPE, *claim)
        proc.stdout.close()  # the reader is gone before the verdict is printed
        proc.wait(timeout=120)
        assert proc.returncode == want, proc.stderr.read()


def test_a_full_disk_on_stdout_is_one_line_and_exit_1(files) -> None:
    """It was a traceback (OSError ENOSPC from print)."""
    with open("/dev/full", "w") as full:
        proc = _verify_subprocess(files, full, "--claim", "50.11,8.68", "--radius-km", "500")
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert err == "rttgeo: error: No space left on device\n"
