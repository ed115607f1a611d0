"""The generic mesh format (hosts.csv + pairs.csv / pairs.parquet): round trips, and every bad case
through the real command line (``rttgeo eval PATH`` and ``rttgeo mesh check PATH``): one clean
line on stderr naming file, line and field, exit code 2, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rttgeo.cli import main
from rttgeo.datasets import load, load_mesh_dir, load_wonderproxy, save_mesh_dir
from rttgeo.errors import InputError

HOSTS = "id,lat_deg,lon_deg,label\nparis,48.8566,2.3522,Paris\nberlin,52.52,13.405,Berlin\n" \
        "madrid,40.4168,-3.7038,Madrid\nlondon,51.5074,-0.1278,London\n"
PAIRS = "a,b,rtt_ms\nparis,berlin,12.1\nberlin,paris,11.9\nparis,madrid,17.5\nparis,london,8.2\n" \
        "berlin,madrid,35.0\nberlin,london,16.4\nmadrid,london,26.0\nmadrid,london,25.1\n"


def _mesh(tmp_path, hosts: str = HOSTS, pairs: str = PAIRS, name: str = "pairs.csv"):
    d = tmp_path / "mesh"
    d.mkdir(exist_ok=True)
    (d / "hosts.csv").write_text(hosts, encoding="utf-8")
    (d / name).write_text(pairs, encoding="utf-8")
    return d


def test_a_small_mesh_loads_with_the_minimum_of_repeated_pairs(tmp_path) -> None:
    m = load(_mesh(tmp_path))
    assert m.ids == ("paris", "berlin", "madrid", "london") and m.labels[1] == "Berlin"
    assert m.rtt_ms[0, 1] == 12.1 and m.rtt_ms[1, 0] == 11.9  # both directions kept
    assert m.rtt_ms[2, 3] == 25.1  # the smaller of two rows
    assert np.isnan(m.rtt_ms[3, 2]) and not m.bad.any()
    assert m.source == str(tmp_path / "mesh") and len(m.sha256) == 64


def test_a_utf8_byte_order_mark_is_accepted(tmp_path) -> None:
    m = load_mesh_dir(_mesh(tmp_path, hosts="\ufeff" + HOSTS))
    assert m.ids[0] == "paris"


@pytest.mark.parametrize("parquet", [False, True])
def test_wonderproxy_round_trips_exactly(tmp_path, parquet: bool) -> None:
    if parquet:
        pytest.importorskip("pyarrow", reason="Parquet needs the measure extra (pyarrow)")
    wp = load_wonderproxy(bundled=True)
    back = load(save_mesh_dir(wp, tmp_path / "wp", parquet=parquet))
    assert back.ids == wp.ids and back.labels == wp.labels
    np.testing.assert_array_equal(back.rtt_ms, wp.rtt_ms)
    np.testing.assert_array_equal(back.lat_deg, wp.lat_deg)
    np.testing.assert_array_equal(back.bad, wp.bad)


def test_eval_reads_a_mesh_folder_and_says_which_data(tmp_path, capsys) -> None:
    d = _mesh(tmp_path)
    out = tmp_path / "s.json"
    assert main(["eval", str(d), "--method", "shortest-ping,cbg", "--jobs", "1", "-q",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    first = text.splitlines()[0]
    assert first.startswith(f"data: mesh from {d} (sha256 ") and "rttgeo 0.1.0" in first
    rows = json.loads(out.read_text())
    assert {r["data"] for r in rows} == {str(d)} and rows[0]["data_sha256"] == load(d).sha256


BAD = [
    # (file, text, where, message)
    ("hosts.csv", "id,lat_deg,lon_deg\nparis,48.8,2.3\nparis,52.5,13.4\n", "hosts.csv:3",
     "listed twice"),
    ("hosts.csv", "id,lat_deg,lon_deg\nparis,north,2.3\n", "hosts.csv:2", "field 'lat_deg'"),
    ("hosts.csv", "id,lat_deg,lon_deg\nparis,95,2.3\n", "hosts.csv:2", "outside [-90, 90]"),
    ("hosts.csv", "id,lat_deg,lon_deg\nparis,4_8,2.3\n", "hosts.csv:2", "plain decimal"),
    ("hosts.csv", "id,lat_deg,lon_deg\nparis,nan,2.3\n", "hosts.csv:2", "plain decimal"),
    ("hosts.csv", "id,lat_deg,lon_deg,lat_deg\nparis,1,2,3\n", "hosts.csv:1", "named twice"),
    ("hosts.csv", "id,lat_deg,lon_deg,height\nparis,1,2,3\n", "hosts.csv:1", "unknown column"),
    ("hosts.csv", "id,lat_deg\nparis,1\n", "hosts.csv:1", "missing column 'lon_deg'"),
    ("hosts.csv", "id,lat_deg,lon_deg\nparis,1\n", "hosts.csv:2", "2 fields where the header has 3"),
    ("hosts.csv", "id,lat_deg,lon_deg,bad\nparis,1,2,maybe\n", "hosts.csv:2", "field 'bad'"),
    ("hosts.csv", "", "hosts.csv:1", "empty file"),
    ("pairs.csv", "a,b,rtt_ms\nparis,rome,5\n", "pairs.csv:2", "'rome' is not in hosts.csv"),
    ("pairs.csv", "a,b,rtt_ms\nparis,paris,5\n", "pairs.csv:2", "with itself"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,0\n", "pairs.csv:2", "not a positive RTT"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,-3\n", "pairs.csv:2", "not a positive RTT"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,1e400\n", "pairs.csv:2", "overflows"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,\n", "pairs.csv:2", "field 'rtt_ms'"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,5,6\n", "pairs.csv:2", "4 fields"),
    ("pairs.csv", "a,b\nparis,berlin\n", "pairs.csv:1", "missing column 'rtt_ms'"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,\"" + "9" * 140_000 + "\"\n", "pairs.csv:2",
     "longer than"),
]


@pytest.mark.parametrize(("file", "text", "where", "message"), BAD, ids=[f"{b[0]}:{b[3]}" for b in BAD])
@pytest.mark.parametrize("command", [["eval", "--method", "cbg", "--jobs", "1", "-q"],
                                     ["mesh", "check"]])
def test_a_malformed_mesh_is_one_line_naming_file_line_and_field(
    tmp_path, capsys, command, file, text, where, message
) -> None:
    d = _mesh(tmp_path, **({"hosts": text} if file == "hosts.csv" else {"pairs": text}))
    out = tmp_path / "s.json"
    args = [*command, str(d)] + (["--out", str(out)] if command[0] == "eval" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"{d / where}" in err and message in err, err
    assert not out.exists()


def test_a_folder_with_both_pair_files_or_none_is_refused(tmp_path) -> None:
    d = _mesh(tmp_path)
    (d / "pairs.parquet").write_bytes(b"x")
    with pytest.raises(InputError, match="both pairs\\.csv and pairs\\.parquet"):
        load_mesh_dir(d)
    (d / "pairs.csv").unlink()
    (d / "pairs.parquet").unlink()
    with pytest.raises(InputError, match="no pairs\\.csv or pairs\\.parquet"):
        load_mesh_dir(d)


def test_a_parquet_pairs_file_that_is_not_parquet_is_bad_input(tmp_path) -> None:
    pytest.importorskip("pyarrow", reason="Parquet needs the measure extra (pyarrow)")
    d = _mesh(tmp_path, pairs="not parquet", name="pairs.parquet")
    with pytest.raises(InputError, match="pairs\\.parquet: not a readable Parquet file"):
        load_mesh_dir(d)


def test_a_parquet_pairs_file_names_the_bad_row(tmp_path) -> None:
    pa = pytest.importorskip("pyarrow", reason="Parquet needs the measure extra (pyarrow)")
    import pyarrow.parquet as pq

    d = _mesh(tmp_path)
    (d / "pairs.csv").unlink()
    pq.write_table(pa.table({"a": ["paris", "paris"], "b": ["berlin", "oslo"],
                             "rtt_ms": [12.0, 20.0]}), str(d / "pairs.parquet"))
    with pytest.raises(InputError, match=r"pairs.parquet: row 2: field 'b': host 'oslo'"):
        load_mesh_dir(d)
