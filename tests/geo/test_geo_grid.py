"""The equal-area grid checked with formulas and references independent of rttgeo.geo.grid."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic

from rttgeo.geo.grid import (
    MAX_LEVEL,
    CellRegion,
    cell_area_km2,
    cell_bounds,
    cell_centers,
    cell_index,
    children,
    circumradius_km,
    global_cells,
    level_for_resolution,
    level_shape,
    refine,
)
from rttgeo.geo.sphere import to_unit_vectors, unit_distance_km
from rttgeo.units import EARTH_RADIUS_KM

SPHERE_AREA_KM2 = 4.0 * math.pi * EARTH_RADIUS_KM**2
LEVELS = range(MAX_LEVEL + 1)


def _bounds_area_km2(lat0, lat1, lon0, lon1) -> np.ndarray:
    """Area of lat/lon rectangles on the sphere: R^2 * dlon * (sin lat1 - sin lat0)."""
    return (
        EARTH_RADIUS_KM**2
        * np.radians(np.asarray(lon1) - np.asarray(lon0))
        * (np.sin(np.radians(lat1)) - np.sin(np.radians(lat0)))
    )


@pytest.mark.parametrize("level", LEVELS)
def test_cells_have_equal_area_and_tile_the_sphere(level: int) -> None:
    nr, nc = level_shape(level)
    assert (nr, nc) == (40 * 2**level, 128 * 2**level)
    assert cell_area_km2(level) * nr * nc == pytest.approx(SPHERE_AREA_KM2, rel=1e-12)
    # Area depends only on the row: check every row (one column each) plus random columns.
    rows = np.arange(nr)
    cols = np.random.default_rng(level).integers(0, nc, nr)
    area = _bounds_area_km2(*cell_bounds(level, rows, cols))
    assert np.allclose(area, cell_area_km2(level), rtol=1e-9, atol=0)
    # Rows tile [-90, 90] and columns [-180, 180] without gaps or overlaps.
    lat0, lat1, lon0, lon1 = cell_bounds(level, rows, np.arange(nr) % nc)
    assert lat0[0] == -90.0 and lat1[-1] == 90.0
    assert np.array_equal(lat1[:-1], lat0[1:])
    _, _, lon0, lon1 = cell_bounds(level, np.zeros(nc, dtype=int), np.arange(nc))
    assert lon0[0] == -180.0 and lon1[-1] == 180.0
    assert np.array_equal(lon1[:-1], lon0[1:])
    assert math.fsum(_bounds_area_km2(-90.0, 90.0, lon0, lon1)) == pytest.approx(
        SPHERE_AREA_KM2, rel=1e-12
    )


def test_global_cells_enumerates_every_cell_once() -> None:
    rows, cols = global_cells(2)
    nr, nc = level_shape(2)
    assert len(rows) == nr * nc
    assert len(np.unique(rows * nc + cols)) == nr * nc


@pytest.mark.parametrize("level", LEVELS)
def test_cell_index_of_centres_is_the_cell(level: int) -> None:
    nr, nc = level_shape(level)
    rng = np.random.default_rng(100 + level)
    rows = np.concatenate([rng.integers(0, nr, 3000), [0, nr - 1, 0, nr - 1]])
    cols = np.concatenate([rng.integers(0, nc, 3000), [0, nc - 1, nc - 1, 0]])
    lat, lon = cell_centers(level, rows, cols)
    r, c = cell_index(level, lat, lon)
    assert np.array_equal(r, rows) and np.array_equal(c, cols)


@pytest.mark.parametrize("level", [0, 3, 6, 8])
def test_cell_index_of_random_points_lies_within_bounds(level: int) -> None:
    rng = np.random.default_rng(200 + level)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 5000)))
    lon = rng.uniform(-180, 180, 5000)
    r, c = cell_index(level, lat, lon)
    lat0, lat1, lon0, lon1 = cell_bounds(level, r, c)
    assert np.all((lat0 <= lat) & (lat <= lat1) & (lon0 <= lon) & (lon <= lon1))
    # Longitudes outside [-180, 180) wrap to the same cell.
    r2, c2 = cell_index(level, lat, lon + 360.0)
    assert np.array_equal(r, r2) and np.mean(c == c2) > 0.999


def test_children_partition_the_parent() -> None:
    level = 3
    rng = np.random.default_rng(8)
    nr, nc = level_shape(level)
    rows = rng.integers(0, nr, 200)
    cols = rng.integers(0, nc, 200)
    cr, cc = children(rows, cols)
    assert cr.shape == (800,)
    # Grouped per parent, each child's parent is the parent, and the four are distinct.
    assert np.array_equal(cr.reshape(-1, 4) // 2, np.repeat(rows[:, None], 4, axis=1))
    assert np.array_equal(cc.reshape(-1, 4) // 2, np.repeat(cols[:, None], 4, axis=1))
    keys = (cr * (2 * nc) + cc).reshape(-1, 4)
    assert all(len(set(k)) == 4 for k in keys.tolist())
    # Children's areas sum to the parent's, and their bounds cover exactly the parent's bounds.
    assert 4 * cell_area_km2(level + 1) == pytest.approx(cell_area_km2(level), rel=1e-15)
    p = np.array(cell_bounds(level, rows, cols))
    ch = np.array(cell_bounds(level + 1, cr, cc)).reshape(4, -1, 4)
    assert np.allclose(ch[0].min(axis=1), p[0]) and np.allclose(ch[1].max(axis=1), p[1])
    assert np.allclose(ch[2].min(axis=1), p[2]) and np.allclose(ch[3].max(axis=1), p[3])
    # Random points of the parent fall in one of its children at the next level.
    z = rng.uniform(np.sin(np.radians(p[0])), np.sin(np.radians(p[1])))
    lon = rng.uniform(p[2], p[3])
    r1, c1 = cell_index(level + 1, np.degrees(np.arcsin(z)), lon)
    assert np.array_equal(r1 // 2, rows) and np.array_equal(c1 // 2, cols)


@pytest.mark.parametrize("level", [0, 2, 5, 8])
def test_circumradius_bounds_every_point_of_the_cell(level: int) -> None:
    nr, nc = level_shape(level)
    rng = np.random.default_rng(300 + level)
    # Every row (cells stretch towards the poles), 40 random points per cell plus the 4 corners.
    rows = np.arange(nr)
    cols = rng.integers(0, nc, nr)
    lat0, lat1, lon0, lon1 = cell_bounds(level, rows, cols)
    k = 40
    z = rng.uniform(np.sin(np.radians(lat0))[:, None], np.sin(np.radians(lat1))[:, None], (nr, k))
    lon = rng.uniform(lon0[:, None], lon1[:, None], (nr, k))
    lat = np.degrees(np.arcsin(z))
    lat = np.concatenate([lat, np.stack([lat0, lat0, lat1, lat1], axis=1)], axis=1)
    lon = np.concatenate([lon, np.stack([lon0, lon1, lon0, lon1], axis=1)], axis=1)
    clat, clon = cell_centers(level, rows, cols)
    d = unit_distance_km(to_unit_vectors(clat, clon)[:, None, :], to_unit_vectors(lat, lon))
    rad = circumradius_km(level, rows)
    # 1e-9 km of slack: corner distances of 1 km cells carry ~1e-13 km of rounding.
    assert np.all(d <= rad[:, None] + 1e-9)
    # And it is tight: the farthest corner is at the circumradius.
    assert np.allclose(d[:, -4:].max(axis=1), rad, rtol=1e-9)
    # On WGS84 the circumradius still bounds the cell within the sphere's error budget (0.5614 %).
    g = Geodesic.WGS84
    sel = rng.choice(nr, size=min(nr, 60), replace=False)
    for i in sel:
        far = max(
            g.Inverse(clat[i], clon[i], lat[i, j], lon[i, j])["s12"] / 1000.0
            for j in range(lat.shape[1])
        )
        assert far <= rad[i] * 1.005615
        assert far >= rad[i] * (1 - 0.005615)


@pytest.mark.parametrize(
    ("lat_deg", "lon_deg", "radius_km", "end_level"),
    [
        (48.85, 2.35, 800.0, 4),
        (-33.9, 151.2, 1500.0, 4),
        (0.0, 179.5, 600.0, 4),  # crosses the antimeridian
        (87.0, -40.0, 900.0, 4),  # covers the north pole
        (-89.5, 10.0, 600.0, 4),  # covers the south pole (polar cells are 500 km tall here)
        (10.0, -75.0, 40.0, 5),  # a few cells only
    ],
)
def test_refine_disc_equals_dense_evaluation(
    lat_deg: float, lon_deg: float, radius_km: float, end_level: int
) -> None:
    centre = to_unit_vectors(lat_deg, lon_deg)

    def keep(u: np.ndarray, pad_km: np.ndarray) -> np.ndarray:
        return unit_distance_km(u, centre) <= radius_km + pad_km

    rows, cols = refine(keep, 0, end_level)
    nc = level_shape(end_level)[1]
    got = np.sort(rows * nc + cols)
    assert len(np.unique(got)) == len(got)
    # Dense: every cell centre of the end level.
    all_rows, all_cols = global_cells(end_level)
    dense_u = to_unit_vectors(*cell_centers(end_level, all_rows, all_cols))
    inside = unit_distance_km(dense_u, centre) <= radius_km
    want = np.flatnonzero(inside)  # row-major order = key order
    assert len(want) > 0
    assert np.array_equal(got, want)


def test_refine_starting_from_given_cells_and_empty_result() -> None:
    centre = to_unit_vectors(0.0, 0.0)

    def keep(u: np.ndarray, pad_km: np.ndarray) -> np.ndarray:
        return unit_distance_km(u, centre) <= 500.0 + pad_km

    # Candidates at level 1 (padded test, as refine does below its end level), then refined on.
    r1, c1 = global_cells(1)
    pad = keep(to_unit_vectors(*cell_centers(1, r1, c1)), circumradius_km(1, r1))
    r, c = refine(keep, 1, 3, r1[pad], c1[pad])
    r_all, c_all = refine(keep, 0, 3)
    nc = level_shape(3)[1]
    assert len(r) > 0
    assert np.array_equal(np.sort(r * nc + c), np.sort(r_all * nc + c_all))
    rows, _ = refine(lambda u, pad: np.zeros(len(u), dtype=bool), 0, 4)
    assert len(rows) == 0


@pytest.mark.parametrize("radius_km", [200.0, 500.0, 1000.0, 2000.0, 3000.0])
@pytest.mark.parametrize(
    ("lat_deg", "lon_deg"),
    [
        (0.0, 0.0),
        (48.85, 2.35),
        (-33.9, 151.2),
        (64.1, -21.9),
        (78.2, 15.6),  # Longyearbyen
        (-77.85, 166.67),  # McMurdo
        (1.3, 179.8),
    ],
)
def test_cap_area_at_level_5_within_2_percent(
    lat_deg: float, lon_deg: float, radius_km: float
) -> None:
    centre = to_unit_vectors(lat_deg, lon_deg)

    def keep(u: np.ndarray, pad_km: np.ndarray) -> np.ndarray:
        return unit_distance_km(u, centre) <= radius_km + pad_km

    region = CellRegion.from_cells(5, *refine(keep, 0, 5))
    exact_km2 = 2.0 * math.pi * EARTH_RADIUS_KM**2 * (1.0 - math.cos(radius_km / EARTH_RADIUS_KM))
    # Observed worst: 0.6 % (500 km at lat 78); the cells are ~10 km across (but up to 356 km tall
    # in the polar rows: caps at the pole are tested in test_geo_properties.py).
    assert region.area_km2 == pytest.approx(exact_km2, rel=0.02)


def test_level_for_resolution() -> None:
    for res_km in (1.0, 10.0, 50.0, 316.0, 1000.0):
        level = level_for_resolution(res_km)
        assert cell_area_km2(level) ** 0.5 <= res_km or level == MAX_LEVEL
        if level > 0 and cell_area_km2(level) ** 0.5 <= res_km:
            assert cell_area_km2(level - 1) ** 0.5 > res_km
    with pytest.raises(ValueError):
        level_shape(MAX_LEVEL + 1)
