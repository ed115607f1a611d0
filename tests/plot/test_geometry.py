"""Plane geometry of the maps: windows, circles, clipping, GeoJSON rings (no matplotlib needed)."""

from __future__ import annotations

import numpy as np
import pytest

from rttgeo.geo.grid import cell_area_km2, level_shape
from rttgeo.geo.sphere import distance_km
from rttgeo.plot.geometry import (
    HALF_CIRCUMFERENCE_KM,
    circle_lonlat,
    clip_polygon,
    clip_polyline,
    geojson_rings,
    lon_offsets,
    lon_window,
    orient_ring,
    region_cell_runs,
    split_at_jumps,
)


def _area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


@pytest.mark.parametrize(
    ("lons", "expected"),
    [
        ([170.0, -170.0], (170.0, 190.0)),
        ([-10.0, 10.0, 0.0], (-10.0, 10.0)),
        ([179.0, -179.0, 178.0], (178.0, 181.0)),
        ([-179.5, 179.5], (179.5, 180.5)),
        ([5.0], (5.0, 5.0)),
    ],
)
def test_lon_window_is_the_shortest_arc(lons: list[float], expected: tuple[float, float]) -> None:
    lo, hi = lon_window(lons)
    assert lo == pytest.approx(expected[0])
    assert hi == pytest.approx(expected[1])
    assert -180.0 <= lo < 180.0


def test_lon_window_whole_world_when_spread_or_empty() -> None:
    assert lon_window([]) == (-180.0, 180.0)
    assert lon_window([0.0, 120.0, -120.0], pad_deg=60.0) == (-180.0, 180.0)
    assert lon_window([0.0], min_span_deg=400.0) == (-180.0, 180.0)


def test_lon_offsets_cover_a_window_across_the_antimeridian() -> None:
    assert lon_offsets(170.0, 190.0) == [0.0, 360.0]
    assert lon_offsets(-10.0, 10.0) == [0.0]
    assert lon_offsets(-180.0, 180.0, -180.0, 190.3) == [-360.0, 0.0]


@pytest.mark.parametrize(
    ("lat", "lon", "radius_km"),
    [(48.0, 2.0, 800.0), (-17.0, 179.5, 1500.0), (80.0, 30.0, 1500.0), (0.0, -179.9, 9000.0)],
)
def test_circle_is_at_radius_and_never_jumps(lat: float, lon: float, radius_km: float) -> None:
    clon, clat = circle_lonlat(lat, lon, radius_km)
    d = distance_km(lat, lon, clat, clon)
    np.testing.assert_allclose(d, radius_km, rtol=1e-9, atol=1e-6)
    assert np.max(np.abs(np.diff(clon))) < 30.0  # continuous: no band across the world


def test_circle_around_a_pole_spans_all_longitudes() -> None:
    clon, clat = circle_lonlat(85.0, 10.0, 1000.0)  # holds the north pole (556 km away)
    assert clon.max() - clon.min() == pytest.approx(360.0, abs=1.5)
    assert clat.min() > 70.0
    clon2, _ = circle_lonlat(60.0, 10.0, 1000.0)  # does not
    assert clon2.max() - clon2.min() < 60.0


def test_circle_covering_the_earth_or_invalid_is_empty() -> None:
    for r in (HALF_CIRCUMFERENCE_KM, 1e9, 0.0, -5.0, float("nan")):
        clon, clat = circle_lonlat(0.0, 0.0, r)
        assert clon.size == 0 and clat.size == 0


def test_split_at_jumps() -> None:
    parts = split_at_jumps([170, 175, 179, -179, -175], [0, 1, 2, 3, 4])
    assert [p[0].tolist() for p in parts] == [[170, 175, 179], [-179, -175]]


def test_clip_polygon_area_and_orientation() -> None:
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
    out = clip_polygon(square, (5, 20, -5, 4))
    assert _area(out) == pytest.approx(5 * 4)
    assert _area(clip_polygon(square[::-1], (5, 20, -5, 4))) == pytest.approx(-20.0)
    assert clip_polygon(square, (20, 30, 20, 30)).shape == (0, 2)
    np.testing.assert_allclose(_area(clip_polygon(square, (-1, 11, -1, 11))), 100.0)


def test_clip_polyline_keeps_crossing_segments() -> None:
    line = np.array(
        [[-5, 0], [-1, 0], [1, 0], [3, 0], [8, 0], [9, 0], [10, 0], [2, 1], [2, 2]], float
    )
    parts = clip_polyline(line, (0, 4, -1, 3))
    assert [p[:, 0].tolist() for p in parts] == [[-1, 1, 3, 8], [10, 2, 2]]
    assert clip_polyline(line, (100, 101, 0, 1)) == []


def test_geojson_rings_orients_and_unwraps() -> None:
    outer = [[0, 0], [0, 10], [10, 10], [10, 0], [0, 0]]  # clockwise
    hole = [[2, 2], [8, 2], [8, 8], [2, 8], [2, 2]]  # counter-clockwise
    polys = geojson_rings({"type": "Polygon", "coordinates": [outer, hole]})
    assert len(polys) == 1 and len(polys[0]) == 2
    assert _area(polys[0][0]) > 0 and _area(polys[0][1]) < 0
    # A producer that did not split at 180: the ring is made continuous instead of world-wide.
    bad = [[179, 0], [-179, 0], [-179, 2], [179, 2], [179, 0]]
    (ring,) = geojson_rings({"type": "MultiPolygon", "coordinates": [[bad]]})[0]
    assert np.ptp(ring[:, 0]) == pytest.approx(2.0)
    assert geojson_rings(None) == [] and geojson_rings({"type": "Point"}) == []


def test_orient_ring() -> None:
    r = np.array([[0, 0], [1, 0], [1, 1]], float)
    assert _area(orient_ring(r, ccw=True)) > 0
    assert _area(orient_ring(r, ccw=False)) < 0


def test_region_cell_runs_cover_the_cells_exactly() -> None:
    level = 2
    _nr, nc = level_shape(level)
    rows = np.array([10, 10, 10, 10, 11, 11, 30])
    cols = np.array([0, 1, 2, nc - 1, 5, 7, 3])
    runs = region_cell_runs(level, rows, cols)
    assert runs.shape == (5, 4)  # (10: 0-2), (10: last), (11: 5), (11: 7), (30: 3)
    widths = runs[:, 1] - runs[:, 0]
    assert widths.sum() == pytest.approx(len(rows) * 360.0 / nc)
    assert np.all(widths < 180.0)
    assert cell_area_km2(level) > 0
    assert region_cell_runs(level, [], []).shape == (0, 4)


def test_importing_the_plot_room_does_not_import_matplotlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys, rttgeo.plot, rttgeo.plot.maps, rttgeo.plot.charts, rttgeo.plot.report, "
        "rttgeo.plot.io; print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
