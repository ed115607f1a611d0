"""Dataset loaders on the real files (and the bundled copy)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from rttgeo.datasets import dataset_dir, load, load_ripe_atlas, load_wonderproxy
from rttgeo.errors import DatasetError, InputError

RAW = dataset_dir("wonderproxy-2020")


def test_bundled_mesh_has_the_real_shape() -> None:
    # The figures of shared/datasets/README.md: 246 servers with coordinates; 204 (Belfast) and
    # 220 (La Ceiba) have wrong ones; 292-295 appear in the pings without coordinates.
    m = load_wonderproxy(bundled=True)
    assert len(m) == 246
    assert set(np.array(m.ids)[m.bad]) == {"204", "220"}
    assert not {"292", "293", "294", "295"} & set(m.ids), "hosts without coordinates are dropped"
    assert np.all(np.isnan(np.diag(m.rtt_ms)))
    assert np.nanmin(m.rtt_ms) > 0
    assert m.labels[m.index("1")] == "Melbourne, Australia"


@pytest.mark.skipif(RAW is None, reason="raw WonderProxy files not found (shared/datasets absent)")
def test_bundled_copy_equals_the_raw_files_exactly() -> None:
    # Regression (issue #11): the copies differed by up to 0.5 us (RTTs rounded to integer us),
    # which moved 11 of 244 targets by more than 1 km and the median from 146 to 154 km.
    raw, bundled = load_wonderproxy(), load_wonderproxy(bundled=True)
    assert raw.ids == bundled.ids and raw.labels == bundled.labels
    np.testing.assert_array_equal(raw.rtt_ms, bundled.rtt_ms)  # NaN where NaN, every bit equal
    np.testing.assert_array_equal(raw.lat_deg, bundled.lat_deg)
    np.testing.assert_array_equal(raw.lon_deg, bundled.lon_deg)
    np.testing.assert_array_equal(raw.bad, bundled.bad)


def test_every_mesh_says_where_it_came_from() -> None:
    bundled = load_wonderproxy(bundled=True)
    assert bundled.source == "bundled" and len(bundled.sha256) == 64
    from importlib import resources

    data = resources.files("rttgeo.data").joinpath("wonderproxy-2020.npz").read_bytes()
    assert bundled.sha256 == hashlib.sha256(data).hexdigest()
    assert load("wonderproxy-2020-bundled").source == "bundled"
    if RAW is not None:
        raw = load_wonderproxy()
        assert raw.source == str(RAW)
        listing = "".join(
            f"{hashlib.sha256((RAW / f).read_bytes()).hexdigest()}  {f}\n"
            for f in ("servers-2020-07-19.csv", "pings-2020-07-19-2020-07-20-grouped.csv")
        )
        assert raw.sha256 == hashlib.sha256(listing.encode()).hexdigest()
        assert raw.subset([0, 1]).sha256 == raw.sha256


@pytest.mark.skipif(dataset_dir("ripe-atlas-2023") is None, reason="RIPE Atlas files not found")
def test_ripe_atlas_anchors() -> None:
    m = load_ripe_atlas()
    assert len(m) == 784  # shared/datasets/README.md: 784 anchors, every one with a position
    assert np.all(np.isnan(m.rtt_ms))
    assert all(lab for lab in m.labels), "every anchor has an address"


def test_malformed_dataset_names_file_line_and_field(tmp_path) -> None:
    (tmp_path / "servers-2020-07-19.csv").write_text(
        "id,name,title,location,state,country,state_abbv,continent,latitude,longitude\n"
        "1,A,A,A,,X,,1,10.0,20.0\n2,B,B,B,,X,,1,north,20.0\n"
    )
    (tmp_path / "pings-2020-07-19-2020-07-20-grouped.csv").write_text(
        "source,destination,min,avg,max,mdev\n1,2,5.0,5,5,0\n"
    )
    with pytest.raises(DatasetError, match=r"servers-2020-07-19.csv:3: field 'latitude'"):
        load_wonderproxy(tmp_path)


def test_unknown_dataset_name_is_bad_input_saying_what_is_accepted(tmp_path) -> None:
    with pytest.raises(InputError, match=r"unknown dataset 'no-such-data'.*mesh folder"):
        load("no-such-data")
    with pytest.raises(InputError, match="holds no mesh"):
        load(tmp_path)
