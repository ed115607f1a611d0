"""Batch estimation: streamed chunks, per-target error rows, processes and Dask give one result."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rttgeo.api.batch import estimate_batch, iter_target_chunks
from rttgeo.catalog import load_default_catalog
from rttgeo.cli import main
from rttgeo.errors import SamplesError
from rttgeo.geo.sphere import distance_km

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _longform(path, n_targets=40, per_target=20, seed=3, lost_target=True):
    """Targets at anchor positions jittered by ~50 km, RTTs at 2/3 c x 1.4 + 2 ms from the nearest
    ``per_target`` anchors and random others; one target with every probe lost."""
    rng = np.random.default_rng(seed)
    cat = load_default_catalog()
    lat = np.array([lm.lat_deg for lm in cat])
    lon = np.array([lm.lon_deg for lm in cat])
    rows = {"target": [], "landmark": [], "rtt_ms": []}
    truth = {}
    for t in range(n_targets):
        k = int(rng.integers(len(cat)))
        tl, tg = lat[k] + rng.normal(0, 0.4), lon[k] + rng.normal(0, 0.4)
        name = f"198.18.{t // 250}.{t % 250 + 1}"
        truth[name] = (tl, tg)
        d = distance_km(tl, tg, lat, lon)
        pick = np.concatenate([np.argsort(d)[: per_target // 2],
                               rng.choice(len(cat), per_target // 2, replace=False)])
        for j in pick:
            rtt = None if (lost_target and t == 7) else float(2 * d[j] / 199.86 * 1.4 + 2.0)
            for _ in range(2):
                rows["target"].append(name)
                rows["landmark"].append(cat[j].id)
                rows["rtt_ms"].append(None if rtt is None else rtt + float(rng.uniform(0, 1)))
    pq.write_table(pa.table(rows), path, row_group_size=97)
    return cat, truth


def test_chunks_hold_the_minimum_per_target_and_landmark(tmp_path):
    f = tmp_path / "l.parquet"
    cat, truth = _longform(f, n_targets=9, per_target=6)
    ids = [lm.id for lm in cat]
    chunks = list(iter_target_chunks(f, ids, chunk_targets=4, read_rows=13))
    assert [len(c[0]) for c in chunks] == [4, 4, 1]
    got = {t: row for ids_, m in chunks for t, row in zip(ids_, m, strict=True)}
    table = pq.read_table(f).to_pylist()
    t0 = next(iter(truth))
    for lid in {r["landmark"] for r in table if r["target"] == t0}:
        want = min(r["rtt_ms"] for r in table if r["target"] == t0 and r["landmark"] == lid)
        assert got[t0][ids.index(lid)] == want
    assert np.isnan(got[t0]).sum() == len(ids) - len(
        {r["landmark"] for r in table if r["target"] == t0})


def test_single_process_two_workers_and_dask_give_the_same_file(tmp_path):
    f = tmp_path / "l.parquet"
    cat, truth = _longform(f)
    outs = {}
    res = estimate_batch(f, tmp_path / "one.parquet", landmarks=cat, method="cbg",
                         chunk_targets=7, workers=1)
    outs["one"] = pq.read_table(tmp_path / "one.parquet")
    estimate_batch(f, tmp_path / "two.parquet", landmarks=cat, method="cbg", chunk_targets=7,
                   workers=2)
    outs["two"] = pq.read_table(tmp_path / "two.parquet")
    pytest.importorskip("distributed")
    estimate_batch(f, tmp_path / "dask.parquet", landmarks=cat, method="cbg", chunk_targets=7,
                   workers=2, dask="local")
    outs["dask"] = pq.read_table(tmp_path / "dask.parquet")
    assert outs["one"].equals(outs["two"]) and outs["one"].equals(outs["dask"])
    rows = outs["one"].to_pylist()
    assert res.n_targets == 40 == len(rows) and res.n_errors == 1
    assert [r["target"] for r in rows] == list(truth)  # input order
    bad = rows[7]
    assert bad["lat_deg"] is None and "no usable landmark" in bad["error"]
    good = [r for r in rows if not r["error"]]
    err = [distance_km(*truth[r["target"]], r["lat_deg"], r["lon_deg"]) for r in good]
    assert float(np.median(err)) < 150
    assert all(r["region_geojson"].startswith('{"type"') for r in good)
    assert all(r["n_landmarks_used"] == len(r["landmarks_used"].split(",")) for r in good)


def test_wkb_regions_are_the_geojson_polygons_in_a_geoparquet_file(tmp_path):
    """--region-format wkb: the same polygons as the GeoJSON column, read back by shapely, with
    GeoParquet 1.0.0 metadata naming the column; 2 processes give the same file."""
    import json

    shapely = pytest.importorskip("shapely")
    from shapely.geometry import shape

    f = tmp_path / "l.parquet"
    cat, _ = _longform(f, n_targets=14)
    estimate_batch(f, tmp_path / "g.parquet", landmarks=cat, method="cbg", chunk_targets=5)
    estimate_batch(f, tmp_path / "w.parquet", landmarks=cat, method="cbg", chunk_targets=5,
                   region_format="wkb")
    estimate_batch(f, tmp_path / "w2.parquet", landmarks=cat, method="cbg", chunk_targets=5,
                   region_format="wkb", workers=2)
    g = pq.read_table(tmp_path / "g.parquet")
    w = pq.read_table(tmp_path / "w.parquet")
    assert w.equals(pq.read_table(tmp_path / "w2.parquet"))
    assert w.column_names == [c if c != "region_geojson" else "region_wkb" for c in g.column_names]
    assert w.schema.field("region_wkb").type == pa.binary()
    assert w.drop(["region_wkb"]).equals(g.drop(["region_geojson"]))
    kinds = set()
    for text, wkb in zip(g.column("region_geojson").to_pylist(),
                         w.column("region_wkb").to_pylist(), strict=True):
        assert (text is None) == (wkb is None)
        if text is None:
            continue
        geom = shapely.from_wkb(wkb)
        assert geom.is_valid and geom.equals_exact(shape(json.loads(text)), tolerance=0)
        kinds.add(geom.geom_type)
    assert kinds and w.column("region_wkb").null_count == 1  # the target with every probe lost
    geo = json.loads(pq.read_schema(tmp_path / "w.parquet").metadata[b"geo"])
    assert geo["version"] == "1.0.0" and geo["primary_column"] == "region_wkb"
    col = geo["columns"]["region_wkb"]
    assert col["encoding"] == "WKB" and kinds <= set(col["geometry_types"])
    assert b"geo" not in (pq.read_schema(tmp_path / "g.parquet").metadata or {})


def test_store_source_equals_the_file_it_was_imported_from(tmp_path):
    f = tmp_path / "l.parquet"
    cat, _ = _longform(f, n_targets=12)
    db = tmp_path / "s.db"
    assert main(["import", str(f), "--store", str(db)]) == 0
    estimate_batch(f, tmp_path / "a.parquet", landmarks=cat, method="shortest-ping")
    estimate_batch(db, tmp_path / "b.parquet", landmarks=cat, method="shortest-ping")
    a = pq.read_table(tmp_path / "a.parquet").sort_by("target")
    b = pq.read_table(tmp_path / "b.parquet").sort_by("target")
    assert a.equals(b)
    before = db.read_bytes()
    estimate_batch(db, tmp_path / "c.parquet", landmarks=cat, method="shortest-ping")
    assert db.read_bytes() == before  # read-only


def test_cli_batch(tmp_path, capsys):
    f = tmp_path / "l.parquet"
    _longform(f, n_targets=10)
    out = tmp_path / "e.parquet"
    rc = main(["estimate", str(f), "--batch", "--out", str(out), "--method", "cbg",
               "--workers", "1", "--quiet", "--no-region"])
    text = capsys.readouterr().out
    assert rc == 0 and "10 targets (1 without estimate" in text
    t = pq.read_table(out)
    assert t.column_names[:3] == ["target", "lat_deg", "lon_deg"]
    assert t.column("region_geojson").null_count == 10
    rc = main(["estimate", str(f), "--batch", "--out", str(out), "--method", "cbg",
               "--workers", "1", "-q", "--region-format", "wkb"])
    assert rc == 0 and "wrote" in capsys.readouterr().out
    t = pq.read_table(out)
    assert "region_geojson" not in t.column_names and t.column("region_wkb").null_count == 1


@pytest.mark.parametrize(
    ("content", "extra", "match"),
    [
        ("target,landmark,rtt_ms\na,atlas-6025,3\nb,atlas-6025,4\na,atlas-6031,5\n", [],
         r"rows of target 'a' are not contiguous"),
        ("target,landmark,rtt_ms\na,nowhere,3\n", [], r"landmark 'nowhere' is not in the catalog"),
        ("target,landmark,rtt_ms\na,atlas-6025,0\n", [], r"row 1: field 'rtt_ms'"),
        ("target,landmark,rtt_ms\na,atlas-6025,3\n", ["--out", "{dir}/e.json"], r"--out FILE.parquet"),
        ("target,landmark,rtt_ms\na,atlas-6025,3\n", ["--target", "a"], r"--target does not apply"),
        ("target,landmark,rtt_ms\na,atlas-6025,3\n", ["--region-format", "wkt"],
         r"--region-format: invalid choice"),
        ("target,landmark,rtt_ms\na,atlas-6025,3\n", ["--region-format", "wkb", "--no-region"],
         r"--no-region writes no region"),
    ],
)
def test_cli_batch_bad_input_writes_nothing(tmp_path, capsys, content, extra, match):
    f = tmp_path / "l.csv"
    f.write_text(content)
    extra = [x.replace("{dir}", str(tmp_path)) for x in extra]
    args = ["estimate", str(f), "--batch", "--workers", "1", "--quiet"]
    if "--out" not in extra:
        args += ["--out", str(tmp_path / "e.parquet")]
    rc = main(args + extra)
    err = capsys.readouterr().err
    assert rc == 2 and re.search(match, err), err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("e.*"))


def test_non_contiguous_targets_raise_in_the_reader(tmp_path):
    f = tmp_path / "l.csv"
    f.write_text("target,landmark,rtt_ms\na,atlas-6025,3\nb,atlas-6025,4\na,atlas-6031,5\n")
    with pytest.raises(SamplesError, match="not contiguous"):
        list(iter_target_chunks(f, [lm.id for lm in load_default_catalog()]))
