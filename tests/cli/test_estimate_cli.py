"""The estimation commands end to end (in-process through rttgeo.cli.main)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from rttgeo.cli import main
from rttgeo.datasets import load_wonderproxy
from rttgeo.estimate.delay import symmetric_rtt_ms


def test_demo_runs_offline_and_explains(capsys) -> None:
    assert main(["demo", "--method", "shortest-ping,cbg"]) == 0
    out = capsys.readouterr().out
    assert "Frankfurt" in out and "true location" in out and "region" in out


def test_demo_states_one_radius_per_rtt_saying_fibre_or_vacuum(capsys) -> None:
    """Issue #12: the demo said 'within 323 km' in its text and 484 km in its table, neither
    saying fibre or vacuum. Now every radius names its speed, and they agree."""
    import re

    def km(text: str) -> float:
        return float(text.replace(",", ""))

    assert main(["demo"]) == 0  # the default method, rttgeo, draws radii at c
    out = capsys.readouterr().out
    intro = re.search(r"within ([\d,]+) km of it if the signal ran in fibre.*?within ([\d,]+) km "
                      r"at most at the speed of light in vacuum", out, re.S)
    near = re.search(r"nearest: +(\S+) at ([\d.]+) ms, so within ([\d,]+) km \(fibre, 2/3 c\) / "
                     r"([\d,]+) km \(vacuum, c\)", out)
    assert intro and near, out
    assert (km(intro[1]), km(intro[2])) == (km(near[3]), km(near[4]))
    assert abs(km(near[4]) - float(near[2]) * 149.896229) <= 1.5  # RTT printed to 0.01 ms
    row = re.search(rf"^{near[1]} .*? {near[2]} +([\d,]+) ", out, re.M)
    assert row and km(row[1]) == km(near[4])  # the table's radius is the vacuum one, as stated
    assert "'max km' is the radius rttgeo allows for each RTT at the speed of light in vacuum" in out


def test_eval_writes_csv_and_json(tmp_path, capsys) -> None:
    csv_out, json_out = tmp_path / "s.csv", tmp_path / "s.json"
    assert main(["eval", "--method", "shortest-ping,cbg", "--limit", "8", "--jobs", "1",
                 "--out", str(csv_out), "--quiet"]) == 0
    assert main(["eval", "--method", "cbg", "--limit", "8", "--jobs", "1", "--out",
                 str(json_out), "--quiet"]) == 0
    rows = list(csv.DictReader(csv_out.open()))
    assert [r["method"] for r in rows] == ["shortest-ping", "cbg"]
    assert int(rows[0]["n_targets"]) == 8
    data = json.loads(json_out.read_text())
    assert data[0]["method"] == "cbg" and data[0]["coverage"] is not None
    assert "median km" in capsys.readouterr().out


def test_eval_intervals_in_text_csv_and_json(tmp_path, capsys) -> None:
    csv_out = tmp_path / "s.csv"
    args = ["eval", "wonderproxy-2020-bundled", "--method", "shortest-ping,cbg", "--limit", "30",
            "--jobs", "1", "--intervals", "--quiet"]
    assert main([*args, "--out", str(csv_out)]) == 0
    out = capsys.readouterr().out
    assert "95 % bootstrap intervals over the 30 targets (percentile method, 10,000 resamples, " \
        "seed 0)" in out
    rows = {r["method"]: r for r in csv.DictReader(csv_out.open())}
    assert rows["shortest-ping"]["coverage_low"] == "" and rows["cbg"]["coverage_low"] != ""
    for r in rows.values():
        lo, value, hi = (float(r[k]) for k in ("p90_km_low", "p90_km", "p90_km_high"))
        assert lo <= value <= hi
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["summaries"]
    assert [d["method"] for d in data] == ["shortest-ping", "cbg"]
    assert data[1]["coverage_low"] <= data[1]["coverage"] <= data[1]["coverage_high"]
    assert data[0]["coverage_low"] is None
    assert float(rows["cbg"]["median_km_low"]) == pytest.approx(data[1]["median_km_low"])
    # Without --intervals the summaries are as before: no interval columns.
    assert main(["eval", "wonderproxy-2020-bundled", "--method", "cbg", "--limit", "5", "--jobs", "1",
                 "--quiet", "--json"]) == 0
    assert "median_km_low" not in json.loads(capsys.readouterr().out)["summaries"][0]


def test_eval_rejects_unknown_method(capsys) -> None:
    assert main(["eval", "--method", "magic"]) == 2
    assert "unknown method 'magic'" in capsys.readouterr().err


def _catalog_and_samples(tmp_path, t: int = 30):
    mesh = load_wonderproxy()
    sym = symmetric_rtt_ms(mesh.rtt_ms)
    cat = tmp_path / "cat.csv"
    with cat.open("w") as fh:
        fh.write("id,lat_deg,lon_deg,address\n")
        for i in range(len(mesh)):
            if i != t:
                fh.write(f"{mesh.ids[i]},{mesh.lat_deg[i]},{mesh.lon_deg[i]},192.0.2.{i % 250}\n")
    samples = tmp_path / "s.csv"
    with samples.open("w") as fh:
        fh.write("target,landmark,protocol,sent_unix_ns,rtt_ms\n")
        for i in range(len(mesh)):
            if i != t and np.isfinite(sym[t, i]):
                fh.write(f"me,{mesh.ids[i]},icmp,0,{sym[t, i] + 0.5}\n")
                fh.write(f"me,{mesh.ids[i]},icmp,1,{sym[t, i]}\n")
                fh.write(f"me,{mesh.ids[i]},icmp,2,\n")  # a lost probe
    return mesh, cat, samples


def test_estimate_from_samples_csv(tmp_path, capsys) -> None:
    mesh, cat, samples = _catalog_and_samples(tmp_path)
    out, gj = tmp_path / "e.json", tmp_path / "r.geojson"
    assert main(["estimate", str(samples), "--landmarks", str(cat), "--method", "cbg",
                 "--out", str(out), "--geojson", str(gj)]) == 0
    doc = json.loads(out.read_text())
    e = doc["estimate"]
    assert doc["provenance"]["source"] == str(samples) and doc["confidence"]["grade"] == "low"
    from rttgeo.geo.sphere import distance_km

    err = distance_km(e["point"]["lat_deg"], e["point"]["lon_deg"], mesh.lat_deg[30],
                      mesh.lon_deg[30])
    assert err < 1500
    assert e["region"]["type"] in ("Polygon", "MultiPolygon")
    fc = json.loads(gj.read_text())
    assert fc["type"] == "FeatureCollection" and fc["features"][0]["properties"]["method"] == "cbg"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("me,1,icmp,0,0", "field 'rtt_ms'"),
        ("me,1,icmp,0,-2.5", "field 'rtt_ms'"),
        ("me,1,icmp,0,nan", "field 'rtt_ms'"),
        ("me,1,icmp,0,fast", "not a number"),
        ("me,no-such-landmark,icmp,0,5.0", "not in the catalog"),
    ],
)
def test_estimate_rejects_bad_samples_naming_line_and_field(tmp_path, capsys, line, message) -> None:
    _mesh, cat, _ = _catalog_and_samples(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("target,landmark,protocol,sent_unix_ns,rtt_ms\nme,2,icmp,0,10.0\n" + line + "\n")
    assert main(["estimate", str(bad), "--landmarks", str(cat)]) == 2
    err = capsys.readouterr().err
    assert message in err
    if "field" in message:
        assert "bad.csv:3" in err


def test_eval_per_target_map_and_progress(tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    import importlib

    ev = importlib.import_module("rttgeo.api.evaluate")  # the module; rttgeo.api.evaluate is the verb

    class Bar:  # stands for tqdm on a terminal: records what the bar was told
        def __init__(self, total):
            self.total, self.n, self.desc, self.closed = total, 0, [], False

        def set_description(self, d):
            self.desc.append(d)

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True

    bars = []
    monkeypatch.setattr(ev, "_bar", lambda total, enabled: bars.append(Bar(total)) or bars[-1])
    png = tmp_path / "grid.png"
    code = main(["eval", "--method", "shortest-ping,rttgeo", "--limit", "4", "--jobs", "2",
                 "--per-target", "-", "--map", str(png)])
    out = capsys.readouterr().out
    assert code == 0
    (bar,) = bars
    assert bar.total == 8 and bar.n == 8 and bar.desc == ["shortest-ping", "rttgeo"] and bar.closed
    rows = list(csv.DictReader(out[out.index("method,target"):].splitlines()))
    assert len(rows) == 8 and {"est_lat_deg", "true_lat_deg", "est_lon_deg"} <= set(rows[0])
    assert all(r["est_lat_deg"] and r["true_lon_deg"] for r in rows)
    assert png.read_bytes()[:4] == b"\x89PNG"  # the default method's worst/best grid


def test_eval_draws_cdf_reliability_and_model(tmp_path, capsys) -> None:
    """``eval --plot/--plot-reliability/--plot-model``: the three figures of issue #14, written
    in the formats their suffixes ask for, and saying what they show."""
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    import xml.etree.ElementTree as ET

    cdf, rel, model = tmp_path / "cdf.svg", tmp_path / "rel.svg", tmp_path / "model.pdf"
    code = main(["eval", "--method", "cbg,spotter", "--limit", "6", "--jobs", "1", "-q",
                 "--plot", str(cdf), "--plot-reliability", str(rel), "--plot-model", str(model)])
    assert code == 0, capsys.readouterr().err

    def texts(path):
        svg = "{http://www.w3.org/2000/svg}"
        return " ".join("".join(t.itertext()) for t in ET.parse(path).getroot().iter(f"{svg}text"))

    t = texts(cdf)
    assert "cbg: median" in t and "spotter: median" in t and "the median" in t
    t = texts(rel)
    assert "spotter (n=6; 90 % region holds" in t
    assert "cbg: feasible region (stated certain) holds" in t
    assert model.read_bytes()[:5] == b"%PDF-"


def _small_mesh_dir(tmp_path, n: int = 12):
    from rttgeo.datasets.meshdir import save_mesh_dir

    mesh = load_wonderproxy(bundled=True)
    keep = [i for i in range(len(mesh)) if not mesh.bad[i]][:n]
    return save_mesh_dir(mesh.subset(np.array(keep)), tmp_path / "mesh")


def test_eval_never_writes_over_its_data_or_one_output_over_another(tmp_path, capsys) -> None:
    folder = _small_mesh_dir(tmp_path)
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    base = ["eval", str(folder), "--method", "shortest-ping", "--jobs", "1", "--quiet"]
    assert main([*base, "--out", str(folder / "pairs.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "field '--out'" in err and "is a file of the dataset" in err
    assert main([*base, "--per-target", str(folder / "hosts.csv")]) == 2
    assert "field '--per-target'" in capsys.readouterr().err
    same = tmp_path / "same.csv"
    assert main([*base, "--out", str(same), "--per-target", str(same)]) == 2
    assert "is also given to --out" in capsys.readouterr().err
    assert not same.exists()
    assert {f.name: f.read_bytes() for f in folder.iterdir()} == before
    # A summary beside the data is fine, and so is writing it again.
    out = folder / "summary.csv"
    assert main([*base, "--out", str(out)]) == 0 and main([*base, "--out", str(out)]) == 0
    # --out names CSV or JSON; any other suffix is refused before anything runs.
    assert main([*base, "--out", str(tmp_path / "s.geojson")]) == 2
    assert "expected a .csv or .json file name" in capsys.readouterr().err


def test_eval_of_a_mesh_no_method_can_place_fails_cleanly(tmp_path, capsys) -> None:
    """Every RTT 0.01 ms between hosts hundreds of km apart: no estimate anywhere. The run exits 2
    naming `rttgeo mesh check`, before writing any output."""
    import dataclasses

    from rttgeo.datasets.meshdir import save_mesh_dir

    mesh = load_wonderproxy(bundled=True)
    keep = np.array([i for i in range(len(mesh)) if not mesh.bad[i]][:10])
    sub = mesh.subset(keep)
    fast = np.where(np.isfinite(sub.rtt_ms), 0.01, np.nan)
    folder = save_mesh_dir(dataclasses.replace(sub, rtt_ms=fast), tmp_path / "ftl")
    out, pic = tmp_path / "s.csv", tmp_path / "cdf.png"
    code = main(["eval", str(folder), "--method", "cbg,cbg-bestline", "--jobs", "1", "--quiet",
                 "--out", str(out), "--plot", str(pic)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "no method placed any of the 10 targets" in err and "rttgeo mesh check" in err
    assert "Traceback" not in err and not out.exists() and not pic.exists()
    # One host's RTTs alone too fast: the others are placed, and the run says, in one line per
    # method, how many targets got no estimate.
    one = np.where(np.isfinite(sub.rtt_ms), sub.rtt_ms, np.nan)
    one[0, :] = np.where(np.isfinite(one[0, :]), 0.01, np.nan)
    one[:, 0] = np.where(np.isfinite(one[:, 0]), 0.01, np.nan)
    folder = save_mesh_dir(dataclasses.replace(sub, rtt_ms=one), tmp_path / "one")
    assert main(["eval", str(folder), "--method", "shortest-ping,cbg", "--jobs", "1", "--quiet"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert warned, "target 0 has no possible position"
    for line in warned:
        assert line.startswith("rttgeo: warning: ") and " of 10 targets (counted as infinite " \
            "errors)" in line and f"`rttgeo mesh check {folder}`" in line, line


def test_evaluate_needs_three_hosts() -> None:
    from rttgeo.api import evaluate
    from rttgeo.errors import InputError

    mesh = load_wonderproxy(bundled=True)
    with pytest.raises(InputError, match="at least 3"):
        evaluate(mesh.subset(np.array([0, 1])), methods="shortest-ping")


def test_no_command_writes_over_a_file_it_reads(tmp_path, capsys) -> None:
    """`estimate s.csv --out s.csv` replaced the samples with the estimate's JSON; two outputs on
    one name kept only the last. Every command's outputs are checked before anything runs."""
    cat = tmp_path / "c.csv"
    cat.write_text("id,lat_deg,lon_deg,address\nfra,50.11,8.68,\npar,48.86,2.35,\nams,52.37,4.90,\n")
    samples = tmp_path / "s.csv"
    samples.write_text("landmark,rtt_ms\nfra,3.0\npar,9\nams,8\n")
    before = samples.read_bytes(), cat.read_bytes()
    for out, field in ((samples, "--out"), (cat, "--out")):
        assert main(["estimate", str(samples), "--landmarks", str(cat), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"rttgeo: error: field '{field}': {out} is a file this command reads: name " \
            "another file"
    link = tmp_path / "link.csv"
    link.symlink_to(samples)
    assert main(["estimate", str(samples), "--landmarks", str(cat), "--report", str(tmp_path / "r.html"),
                 "--out", str(link)]) == 2
    assert "is a file this command reads" in capsys.readouterr().err
    twice = tmp_path / "x.json"
    assert main(["estimate", str(samples), "--landmarks", str(cat), "--out", str(twice),
                 "--geojson", str(twice)]) == 2
    assert "field '--geojson'" in capsys.readouterr().err and not twice.exists()
    assert (samples.read_bytes(), cat.read_bytes()) == before
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("extra", [["--calibration-mesh", "nosuch.parquet"], ["--workers", "2"],
                                   ["--chunk", "10"], ["--no-region"], ["--dask", "local"],
                                   ["--region-format", "wkb"]])
def test_estimate_refuses_batch_flags_without_batch(tmp_path, capsys, extra) -> None:
    """--calibration-mesh without --batch was ignored: a pooled result, exit 0."""
    cat = tmp_path / "c.csv"
    cat.write_text("id,lat_deg,lon_deg,address\nfra,50.11,8.68,\npar,48.86,2.35,\nams,52.37,4.90,\n")
    samples = tmp_path / "s.csv"
    samples.write_text("landmark,rtt_ms\nfra,3.0\npar,9\nams,8\n")
    out = tmp_path / "e.json"
    assert main(["estimate", str(samples), "--landmarks", str(cat), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rttgeo: error: field '{extra[0]}': goes with --batch") and not out.exists()
