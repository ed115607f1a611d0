"""The generic mesh format (hosts.csv + pairs.csv / pairs.parquet): round trips, and every bad case
through the real command line (``rttgeo eval PATH`` and ``rttgeo mesh check PATH``): one clean
line on stderr naming file, line and field, exit code 2, nothing written."""

from __future__ import annotations

import datetime
import decimal
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

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
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,0\n", "pairs.csv:2", "not an RTT in (0, 60000] ms"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,-3\n", "pairs.csv:2", "not an RTT in (0, 60000] ms"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,1e400\n", "pairs.csv:2", "'1e400' is not an RTT in"),
    # The bound of samples files: 1e300 ms was accepted, 1e308 overflowed the estimators.
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,1e300\n", "pairs.csv:2",
     "field 'rtt_ms': '1e300' is not an RTT in (0, 60000] ms"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,60000.001\n", "pairs.csv:2", "(0, 60000] ms"),
    # Python 3.11's csv takes a NUL byte as any other character.
    ("hosts.csv", HOSTS.replace("Paris", "Pa\x00ris"), "hosts.csv:2", "field 'label': a NUL byte"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,1\x002\n", "pairs.csv:2", "field 'rtt_ms': a NUL byte"),
    ("pairs.csv", "a,b\x00,rtt_ms\nparis,berlin,12\n", "pairs.csv:1", "a NUL byte"),
    # What no estimator can use: too few hosts, no pair, a host in no pair.
    ("hosts.csv", "id,lat_deg,lon_deg\nparis,48.8,2.3\nberlin,52.5,13.4\n", "hosts.csv",
     "hosts.csv: 2 hosts: a mesh needs at least 3"),
    ("hosts.csv", "id,lat_deg,lon_deg\n", "hosts.csv", "hosts.csv: 0 hosts: a mesh needs at least 3"),
    ("pairs.csv", "a,b,rtt_ms\n", "pairs.csv", "pairs.csv: no pair: a mesh needs RTTs"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,12\nmadrid,berlin,30\n", "hosts.csv:5",
     "field 'id': host 'london' has no RTT to any other host in pairs.csv: measure it or leave"),
    ("pairs.csv", "a,b,rtt_ms\nparis,berlin,12\n", "hosts.csv:4",
     "host 'madrid' has no RTT to any other host in pairs.csv (2 hosts have none; this is the first)"),
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


def _parquet_mesh(tmp_path, rtt_ms):  # type: ignore[no-untyped-def]
    """The small mesh with its pairs in pairs.parquet, ``rtt_ms`` the RTT column (an Arrow array
    or a list of values for its six rows)."""
    pa = pytest.importorskip("pyarrow", reason="Parquet needs the measure extra (pyarrow)")
    import pyarrow.parquet as pq

    d = _mesh(tmp_path)
    (d / "pairs.csv").unlink()
    a = ["paris", "paris", "paris", "berlin", "berlin", "madrid"]
    b = ["berlin", "madrid", "london", "madrid", "london", "london"]
    pq.write_table(pa.table({"a": a, "b": b, "rtt_ms": rtt_ms}), str(d / "pairs.parquet"))
    return d


PARQUET_NOT_NUMBERS = {  # the Arrow type the message names (its start), and a column of it
    "bool": [True] * 6,  # was read as 1.0 ms
    "string": ["12.5"] * 6,
    "list<": [[12.5]] * 6,  # was a TypeError traceback
    "timestamp[": [datetime.datetime(2020, 1, 1)] * 6,  # was a TypeError traceback
    "duration[": [datetime.timedelta(milliseconds=12)] * 6,
}


@pytest.mark.parametrize("kind", list(PARQUET_NOT_NUMBERS))
@pytest.mark.parametrize("command", [["eval", "--method", "cbg", "--jobs", "1", "-q"],
                                     ["mesh", "check"]])
def test_a_parquet_rtt_column_that_is_not_numbers_is_one_line(tmp_path, capsys, command,
                                                              kind) -> None:
    d = _parquet_mesh(tmp_path, PARQUET_NOT_NUMBERS[kind])
    out = tmp_path / "s.json"
    args = [*command, str(d)] + (["--out", str(out)] if command[0] == "eval" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{d / 'pairs.parquet'}: field 'rtt_ms': rtt_ms must be a number column" in err, err
    assert f"(got {kind}" in err, err
    assert not out.exists()


@pytest.mark.parametrize(("value", "shown"), [(1e308, "1e+308"), (float("nan"), "nan"),
                                              (None, "null"), (0.0, "0.0")])
def test_a_parquet_rtt_out_of_bounds_names_its_row(tmp_path, value, shown) -> None:
    d = _parquet_mesh(tmp_path, [12.1, 17.5, value, 35.0, 16.4, 26.0])
    with pytest.raises(InputError, match=re.escape(f"pairs.parquet: row 3: field 'rtt_ms': {shown} "
                                                   "is not an RTT in (0, 60000] ms")):
        load_mesh_dir(d)


def test_rtts_up_to_the_bound_and_every_number_column_are_read(tmp_path) -> None:
    m = load_mesh_dir(_mesh(tmp_path, pairs=PAIRS.replace("35.0", "60000")))
    assert m.rtt_ms[1, 2] == 60000.0
    pa = pytest.importorskip("pyarrow", reason="Parquet needs the measure extra (pyarrow)")
    for column in (pa.array([12, 17, 8, 35, 16, 60000], pa.int32()),
                   pa.array([decimal.Decimal("12.1"), *[decimal.Decimal(7)] * 5]),
                   pa.array([12.5] * 6, pa.float32())):
        m = load_mesh_dir(_parquet_mesh(tmp_path, column))
        assert m.rtt_ms[0, 1] == float(column[0].as_py())


@pytest.mark.parametrize("command", [["eval", "--method", "cbg", "--jobs", "1", "-q"],
                                     ["mesh", "check"]])
@pytest.mark.parametrize("what", ["hosts.csv/", "pairs.csv/", "pairs.csv|"])
def test_a_mesh_file_that_is_not_a_regular_file_says_so(tmp_path, capsys, command, what) -> None:
    """It said "this folder holds no mesh" or "no pairs.csv" (and a FIFO must not block)."""
    d = _mesh(tmp_path)
    f = d / what[:-1]
    f.unlink()
    if what.endswith("/"):
        f.mkdir()
    else:
        os.mkfifo(f)
    out = tmp_path / "s.json"
    args = [*command, str(d)] + (["--out", str(out)] if command[0] == "eval" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    kind = "a directory" if what.endswith("/") else "a FIFO"
    assert err == f"rttgeo: error: {f}: not a regular file ({kind})\n"
    assert not out.exists()


#: Exit code of a mesh file or folder the OS will not let rttgeo read: 2, as the samples and catalog
#: readers give for an unreadable file (``cannot read: Permission denied``).
UNREADABLE_EXIT = 2


def _as_nobody(args: list[str], capsys) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """``rttgeo ARGS`` where file modes hold: in process when not root; as root (which reads any
    file, whatever its mode), in a subprocess still root but without the capabilities that
    override them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, dropped from the bounding set by
    util-linux's setpriv), so that it can still run this Python under /root."""
    if os.geteuid() != 0:
        code = main(args)
        return code, capsys.readouterr().err
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is absent: as root, no way to run rttgeo where file "
                    "modes hold")
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "rttgeo",
         *args], capture_output=True, text=True, env=env, timeout=120, cwd="/")
    return proc.returncode, proc.stderr


@pytest.mark.ci_may_skip("as root, the test needs util-linux's setpriv to drop the capabilities "
                         "that let root read any file")
@pytest.mark.parametrize("command", [["eval", "--method", "cbg", "--jobs", "1", "-q"],
                                     ["mesh", "check"]])
@pytest.mark.parametrize("denied", ["folder", "above", "hosts.csv", "pairs.csv", "pairs.parquet"])
def test_an_unreadable_mesh_is_one_line_naming_the_path(tmp_path, capsys, command, denied) -> None:
    """A folder nobody may enter was a PermissionError traceback from Path.is_file (Python 3.11)."""
    if denied == "pairs.parquet":
        pytest.importorskip("pyarrow", reason="Parquet needs the measure extra (pyarrow)")
    base = tmp_path / "above"
    base.mkdir()
    d = save_mesh_dir(load(_mesh(tmp_path)), base / "mesh", parquet=denied == "pairs.parquet")
    locked = {"folder": d, "above": base}.get(denied, d / denied)
    where = {"folder": f"{d}", "above": f"{d}: field 'dataset'"}.get(denied, f"{d / denied}")
    out = tmp_path / "out"
    out.mkdir(mode=0o777)
    os.chmod(out, 0o777)
    args = [*command, str(d)] + (["--out", str(out / "s.json")] if command[0] == "eval" else [])
    os.chmod(locked, 0)
    try:
        code, err = _as_nobody(args, capsys)
    finally:
        os.chmod(locked, 0o755)
    assert (code, err) == (UNREADABLE_EXIT,
                           f"rttgeo: error: {where}: cannot read: Permission denied\n")
    assert os.listdir(out) == []
