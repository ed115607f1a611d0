"""Dataset loaders on the real files (and the bundled copy)."""

from __future__ import annotations

import numpy as np
import pytest

from rttgeo.datasets import dataset_dir, load, load_ripe_atlas, load_wonderproxy
from rttgeo.errors import DatasetError

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
def test_bundled_copy_equals_the_raw_files() -> None:
    raw, bundled = load_wonderproxy(), load_wonderproxy(bundled=True)
    assert raw.ids == bundled.ids
    np.testing.assert_array_equal(np.isnan(raw.rtt_ms), np.isnan(bundled.rtt_ms))
    np.testing.assert_allclose(raw.rtt_ms, bundled.rtt_ms, atol=5e-4, equal_nan=True)
    np.testing.assert_array_equal(raw.lat_deg, bundled.lat_deg)


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


def test_unknown_dataset_name() -> None:
    with pytest.raises(DatasetError, match="unknown dataset"):
        load("no-such-data")
