"""Saved estimates read back for drawing: the GeoJSON region answers like the grid region."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rttgeo.errors import InputError
from rttgeo.models import Estimate
from rttgeo.plot import estimate_from_json


@pytest.mark.parametrize("name", ["europe", "pacific"])
def test_round_trip_keeps_point_landmarks_and_region(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    est: Estimate = request.getfixturevalue(name)
    path = tmp_path / "e.json"
    # The document rttgeo locate --out writes wraps the estimate.
    path.write_text(json.dumps({"estimate": est.to_json(), "confidence": {}, "measurement": {}}))
    back = estimate_from_json(path)
    assert (back.lat_deg, back.lon_deg, back.method) == (est.lat_deg, est.lon_deg, est.method)
    assert back.area_km2 == pytest.approx(est.area_km2)
    assert [d.id for d in back.landmarks] == [d.id for d in est.landmarks]
    assert [d.used for d in back.landmarks] == [d.used for d in est.landmarks]
    # Point test: random points near the region, compared with the grid region's own answer.
    rng = np.random.default_rng(7)
    lat = est.lat_deg + rng.uniform(-6, 6, 4000)
    lon = est.lon_deg + rng.uniform(-8, 8, 4000)
    lat = np.clip(lat, -89.9, 89.9)
    agree = back.region.contains(lat, lon) == est.region.contains(lat, lon)
    assert agree.mean() > 0.998  # points on a cell edge itself may go either way
    assert est.region.contains(lat, lon).sum() > 100  # the test does probe the inside


def test_map_of_a_saved_estimate(europe: Estimate, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from rttgeo.plot import map_estimate, write_report

    back = estimate_from_json(europe.to_json())
    out = map_estimate(back, tmp_path / "m.png", true_lat_deg=47.0, true_lon_deg=4.0)
    assert out.stat().st_size > 10_000
    html = write_report(back, tmp_path / "r.html", true_location=(47.0, 4.0)).read_text()
    assert "Truth inside region</dt><dd>yes" in html


def test_bad_documents_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="point"):
        estimate_from_json({"foo": 1})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match=r"bad\.json"):
        estimate_from_json(bad)
    with pytest.raises(InputError, match="malformed"):
        estimate_from_json({"point": {"lat_deg": 1.0}})
