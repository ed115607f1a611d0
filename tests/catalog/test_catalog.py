"""Catalog reading and validation: every error names file, line and field."""

from __future__ import annotations

import json

import pytest

from rttgeo.catalog import (
    DEFAULT_CATALOG_NAME,
    default_catalog_path,
    file_sha256,
    load_catalog,
    load_default_catalog,
    save_catalog,
)
from rttgeo.errors import CatalogError, InputError
from rttgeo.models import Landmark

HEADER = "id,lat_deg,lon_deg,address,port,protocols,country,source\n"


def write(tmp_path, text, name="c.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_good_csv_with_optional_columns(tmp_path):
    p = write(
        tmp_path,
        HEADER + "a,48.8,2.3,192.0.2.1,8848,udp;icmp,FR,me\nb,-33.9,151.2,example.org,,,AU,\n\n",
    )
    a, b = load_catalog(p)
    assert a == Landmark("a", 48.8, 2.3, "192.0.2.1", 8848, ("udp", "icmp"), "FR", "me")
    # no protocols stated: every protocol allowed (issue #12), the port left to the prober
    assert b.port is None and b.protocols == ("icmp", "tcp", "udp") and b.address == "example.org"


def test_only_required_columns(tmp_path):
    p = write(tmp_path, "id,lat_deg,lon_deg,address\nx,0,0,127.0.0.1\n")
    assert load_catalog(p)[0].protocols == ("icmp", "tcp", "udp")  # no column: no restriction


@pytest.mark.parametrize(
    ("row", "line", "field", "msg"),
    [
        ("a,91,0,h,,,,", 3, "lat_deg", "outside"),
        ("a,0,-180.5,h,,,,", 3, "lon_deg", "outside"),
        ("a,nan,0,h,,,,", 3, "lat_deg", "finite"),
        ("a,0,inf,h,,,,", 3, "lon_deg", "finite"),
        ("a,north,0,h,,,,", 3, "lat_deg", "number"),
        ("a,0,0,h,70000,udp,,", 3, "port", "outside"),
        ("a,0,0,h,80.5,tcp,,", 3, "port", "integer"),
        ("a,0,0,h,http,tcp,,", 3, "port", "integer"),
        ("a,0,0,h,,udp,,", 3, "port", "need a port"),
        ("a,0,0,h,,icmp;sctp,,", 3, "protocols", "sctp"),
        (",0,0,h,,,,", 3, "id", "empty id"),
        ("a,0,0,h h,,,,", 3, "address", "spaces"),
        ("z,0,0,h,,,,", 3, "id", "duplicate id 'z' (first defined on line 2)"),
    ],
)
def test_bad_rows_name_file_line_field(tmp_path, row, line, field, msg):
    p = write(tmp_path, HEADER + "z,1,1,host,,,,\n" + row + "\n")
    with pytest.raises(CatalogError) as ei:
        load_catalog(p)
    e = ei.value
    assert e.where == f"{p}:{line}" and e.field == field
    assert msg in str(e) and str(p) in str(e)
    assert isinstance(e, InputError) and isinstance(e, ValueError)


def test_duplicate_line_numbers_count_blank_lines(tmp_path):
    p = write(tmp_path, HEADER + "a,1,1,h,,,,\n\nb,1,1,h,,,,\n\na,2,2,h,,,,\n")
    with pytest.raises(
        CatalogError,
        match=r"c\.csv:6: field 'id': duplicate id 'a' \(first "
        r"defined on line 2\)",
    ):
        load_catalog(p)


def test_missing_column_and_empty_and_ragged(tmp_path):
    with pytest.raises(CatalogError, match=r":1: field 'address': missing column"):
        load_catalog(write(tmp_path, "id,lat_deg,lon_deg\na,1,1\n"))
    with pytest.raises(CatalogError, match="empty file"):
        load_catalog(write(tmp_path, ""))
    with pytest.raises(CatalogError, match="no landmark"):
        load_catalog(write(tmp_path, HEADER))
    with pytest.raises(CatalogError, match=r":2: field 'address': fewer fields"):
        load_catalog(write(tmp_path, "id,lat_deg,lon_deg,address\na,1,1\n"))
    with pytest.raises(CatalogError, match=r":2: more fields"):
        load_catalog(write(tmp_path, "id,lat_deg,lon_deg,address\na,1,1,h,extra\n"))
    with pytest.raises(CatalogError, match="no such file"):
        load_catalog(tmp_path / "absent.csv")


def test_json_catalogs(tmp_path):
    good = [
        {"id": "a", "lat_deg": 1.5, "lon_deg": 2, "address": "h", "port": 7, "protocols": ["tcp"]}
    ]
    assert load_catalog(write(tmp_path, json.dumps(good), "g.json"))[0].port == 7
    assert load_catalog(write(tmp_path, json.dumps({"landmarks": good}), "h.json"))[0].id == "a"
    bad = [*good, {"id": "b", "lat_deg": 100, "lon_deg": 0, "address": "h"}]
    with pytest.raises(CatalogError, match=r"b\.json:2: field 'lat_deg'"):
        load_catalog(write(tmp_path, json.dumps(bad), "b.json"))
    with pytest.raises(CatalogError, match=r"m\.json:1: field 'address': missing"):
        load_catalog(
            write(tmp_path, json.dumps([{"id": "a", "lat_deg": 0, "lon_deg": 0}]), "m.json")
        )
    with pytest.raises(CatalogError, match=r"x\.json:1: not JSON"):
        load_catalog(write(tmp_path, "[{", "x.json"))
    with pytest.raises(CatalogError, match="expected a number"):
        load_catalog(write(tmp_path, json.dumps([{**good[0], "lat_deg": True}]), "t.json"))


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_save_load_roundtrip(tmp_path, suffix):
    lms = [
        Landmark("a", 1.25, -2.5, "192.0.2.9", 8848, ("udp", "icmp"), "NL", "x,y"),
        Landmark("b", -90.0, 180.0, "h", None, ("icmp",), "", ""),
    ]
    p = save_catalog(lms, tmp_path / f"r{suffix}")
    assert load_catalog(p) == lms


def test_bundled_catalog_is_the_april_2023_atlas_anchors():
    lms = load_default_catalog()
    assert default_catalog_path().name == DEFAULT_CATALOG_NAME
    assert len(lms) == 784
    assert all(
        lm.protocols == ("icmp",) and lm.address and lm.id.startswith("atlas-") for lm in lms
    )
    assert all("April 2023" in lm.source for lm in lms)
    assert len({lm.country for lm in lms}) > 80
    assert len(file_sha256(default_catalog_path())) == 64


def test_build_script_regenerates_the_bundled_catalog(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from rttgeo.datasets.loaders import dataset_dir

    root = Path(__file__).resolve().parents[2]
    folder = dataset_dir("ripe-atlas-2023")  # found as the loaders find it (walking up, or env)
    if folder is None or not (folder / "anchors.csv").exists():
        pytest.skip("the RIPE Atlas snapshot (shared/datasets/ripe-atlas-2023) is not on this machine")
    anchors = folder / "anchors.csv"
    out = tmp_path / "cat.csv"
    subprocess.run(
        [
            sys.executable,
            str(root / "scripts" / "build_catalog.py"),
            "--anchors",
            str(anchors),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == default_catalog_path().read_bytes()
