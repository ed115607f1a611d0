"""The equal-area grid checked with formulas and references independent of rttgeo.geo.grid."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic

from rttgeo.geo.grid import (
    MAX_LEVEL,
    CellRegion,
    cell_area_km2,
    cell_bounds,
    cell_bounds_within_km,
    cell_centers,
    cell_index,
    children,
    circumradius_km,
    global_cells,
    level_for_resolution,
    level_shape,
    refine,
)
from rttgeo.geo.sphere import destination, to_unit_vectors, unit_distance_km
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


# -- boxes around cells (cell_bounds_within_km) -----------------------------------------------


def _documented_box(level: int, row: int, col: int, margin_km: float) -> tuple[float, ...]:
    """cell_bounds_within_km's docstring in scalar math: latitude grows by m / R, longitude by
    2 asin(sin(m / 2R) / cos(lat_max)); a box reaching a pole, or whose longitude growth has no
    solution (the sine reaches 1), spans all longitudes; latitudes stop at the poles."""
    lat0, lat1, lon0, lon1 = (float(x[0]) for x in cell_bounds(level, [row], [col]))
    m = max(margin_km, 0.0)
    grow = math.degrees(m / EARTH_RADIUS_KM)
    lat0, lat1 = lat0 - grow, lat1 + grow
    s = math.sin(m / (2 * EARTH_RADIUS_KM)) / math.cos(math.radians(min(max(-lat0, lat1), 90.0)))
    if lat0 <= -90.0 or lat1 >= 90.0 or s >= 1.0:
        lon0, lon1 = -180.0, 180.0
    else:
        dlon = math.degrees(2 * math.asin(s))
        lon0, lon1 = lon0 - dlon, lon1 + dlon
    return max(lat0, -90.0), min(lat1, 90.0), lon0, lon1


@pytest.mark.parametrize("margin_km", [25.0, 150.0, 700.0])
def test_cell_bounds_within_km_hold_every_point_within_the_margin_and_are_the_documented_box(
    margin_km: float,
) -> None:
    """Sound: every point within the margin of a cell (from its corners and edges, in 36
    directions, at the margin and inside it) lies in the box. Exact: the box is the documented one
    (its latitude edges are reached: the point due south of the cell's southern edge)."""
    level = 3
    nr, nc = level_shape(level)
    rng = np.random.default_rng(int(margin_km))
    rows = np.array([nr // 2, nr // 2 + 37, nr // 4, nr // 2 + 110, 12])  # equator to 75 deg
    cols = rng.integers(0, nc, len(rows))
    box = np.array(cell_bounds_within_km(level, rows, cols, margin_km))
    for k, (row, col) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        assert box[:, k] == pytest.approx(_documented_box(level, row, col, margin_km), abs=1e-9)
        assert box[2, k] > -180.0 - 90.0 and box[3, k] - box[2, k] < 360.0  # a real box
        lat0, lat1, lon0, lon1 = (float(x[0]) for x in cell_bounds(level, [row], [col]))
        t = np.linspace(0.0, 1.0, 9)
        edge_lat = np.concatenate([np.full(9, lat0), np.full(9, lat1), lat0 + t * (lat1 - lat0),
                                   lat0 + t * (lat1 - lat0)])
        edge_lon = np.concatenate([lon0 + t * (lon1 - lon0), lon0 + t * (lon1 - lon0),
                                   np.full(9, lon0), np.full(9, lon1)])
        bearing = np.arange(0.0, 360.0, 10.0)
        for dist in (margin_km, margin_km * 0.5):
            plat, plon = destination(edge_lat[:, None], edge_lon[:, None], bearing[None, :], dist)
            assert np.all((plat >= box[0, k] - 1e-9) & (plat <= box[1, k] + 1e-9))
            assert np.all((plon - box[2, k]) % 360.0 <= box[3, k] - box[2, k] + 1e-9)
        south, _ = destination(lat0, lon0, 180.0, margin_km)
        assert float(south) == pytest.approx(box[0, k], abs=1e-9)


def test_cell_bounds_within_km_span_all_longitudes_at_the_poles_and_stop_there() -> None:
    """Boxes reaching a pole, or too close to one for the longitude growth to exist, span all
    longitudes; latitudes stop at the poles; no floating-point warning reaches the caller."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _polar_boxes()


def _polar_boxes() -> None:
    level = 3
    nr = level_shape(level)[0]
    # The polar rows touch a pole even without a margin: all longitudes, latitude to the pole.
    lat0, lat1, lon0, lon1 = cell_bounds_within_km(level, [0, nr - 1], [5, 5], 0.0)
    assert lat0.tolist() == [-90.0, float(cell_bounds(level, nr - 1, 5)[0])]
    assert lat1.tolist() == [float(cell_bounds(level, 0, 5)[1]), 90.0]
    assert lon0.tolist() == [-180.0, -180.0] and lon1.tolist() == [180.0, 180.0]
    # A margin past the pole stops at it.
    lat0, lat1, lon0, lon1 = cell_bounds_within_km(level, [2, nr - 3], [9, 9], 1200.0)
    assert lat0[0] == -90.0 and lat1[1] == 90.0
    assert lon0.tolist() == [-180.0, -180.0] and lon1.tolist() == [180.0, 180.0]
    # Near a pole without reaching it, the longitude growth has no solution (its sine passes 1:
    # 1.18, 1.14 and 27.6 here): the box spans all longitudes too.
    for row, margin_km in ((nr - 2, 500.0), (1, 500.0), (nr - 3, 700.0), (2, 700.0), (nr - 2, 700.0)):
        box = [float(x[0]) for x in cell_bounds_within_km(level, [row], [9], margin_km)]
        assert box[0] > -90.0 and box[1] < 90.0
        assert box == pytest.approx(_documented_box(level, row, 9, margin_km), abs=1e-9)
        assert box[2:] == [-180.0, 180.0]
    # And a cell 200 km from the pole with a 150 km margin does not (the sine is below 1).
    box = [float(x[0]) for x in cell_bounds_within_km(level, [nr - 2], [9], 150.0)]
    assert box[1] < 90.0 and 0.0 < box[3] - box[2] < 360.0


def test_cell_bounds_within_km_without_a_margin_is_the_cell_and_an_infinite_one_the_globe() -> None:
    """Margins of zero or less are no margin (the cell's own bounds); an infinite margin is the
    whole globe, computed without a floating-point warning."""
    level = 2
    rows, cols = np.array([10, 80, 150]), np.array([0, 300, 511])
    want = np.array(cell_bounds(level, rows, cols))
    for margin_km in (0.0, -5.0):
        assert np.array_equal(np.array(cell_bounds_within_km(level, rows, cols, margin_km)), want)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        box = np.array(cell_bounds_within_km(level, rows, cols, math.inf))
    assert box.T.tolist() == [[-90.0, 90.0, -180.0, 180.0]] * 3


# -- regions (CellRegion) ----------------------------------------------------------------------


def test_cell_region_orders_cells_row_major_and_keys_them() -> None:
    """from_unique_cells sorts distinct cells row-major like from_cells; a key is row x cols + col."""
    level = 1
    nc = level_shape(level)[1]
    rng = np.random.default_rng(7)
    rows = np.array([3, 3, 2, 70, 0, 2, 79])
    cols = np.array([5, 1, 255, 0, 9, 3, 255])
    shuffle = rng.permutation(len(rows))
    region = CellRegion.from_unique_cells(level, rows[shuffle], cols[shuffle])
    assert region.level == level
    assert list(zip(region.rows.tolist(), region.cols.tolist(), strict=True)) == sorted(
        zip(rows.tolist(), cols.tolist(), strict=True)
    )
    assert region.keys().tolist() == sorted((rows * nc + cols).tolist())
    same = CellRegion.from_cells(level, rows, cols)
    assert np.array_equal(same.rows, region.rows) and np.array_equal(same.cols, region.cols)


def test_cell_region_contains_exactly_the_points_of_its_cells() -> None:
    """Points in the region's first, middle and last cells are in it; points of the cells just
    before, between and after them are not, nor anything in an empty region (a boolean mask)."""
    level = 2
    rows, cols = np.array([40, 40, 41, 90]), np.array([7, 8, 0, 511])
    region = CellRegion.from_cells(level, rows, cols)
    inside = cell_centers(level, rows, cols)
    got = region.contains(*inside)
    assert got.dtype == bool and got.tolist() == [True] * 4
    outside = cell_centers(level, np.array([0, 40, 40, 41, 90, 159]), np.array([0, 6, 9, 1, 510, 3]))
    assert region.contains(*outside).tolist() == [False] * 6
    # One cell: a point of a later cell is not in it.
    one = CellRegion.from_cells(level, [40], [7])
    lat, lon = cell_centers(level, np.array([40, 40, 39]), np.array([7, 8, 7]))
    assert one.contains(lat, lon).tolist() == [True, False, False]
    empty = CellRegion.from_cells(level, [], [])
    got = empty.contains(*inside)
    assert got.dtype == bool and got.tolist() == [False] * 4


def test_cell_region_unit_vectors_centroid_and_geojson() -> None:
    """Unit vectors are the cells' centres; the centroid of cells symmetric about a meridian and
    the equator is on both; an empty region's centroid is NaN; a one-cell region's GeoJSON is its
    cell's box."""
    level = 2
    nr = level_shape(level)[0]
    rows = np.array([nr // 2 - 1, nr // 2 - 1, nr // 2, nr // 2, nr // 2 - 3, nr // 2 + 2])
    cols = np.array([100, 101, 100, 101, 100, 101])
    region = CellRegion.from_cells(level, rows, cols)
    lat, lon = cell_centers(level, region.rows, region.cols)
    assert np.allclose(region.unit_vectors(), to_unit_vectors(lat, lon), atol=1e-15)
    clat, clon = region.centroid()
    assert clat == pytest.approx(0.0, abs=1e-9)
    assert clon == pytest.approx(float(cell_bounds(level, 0, 101)[2]), abs=1e-9)
    assert all(math.isnan(x) for x in CellRegion.from_cells(level, [], []).centroid())
    lat0, lat1, lon0, lon1 = (float(x) for x in cell_bounds(level, 3, 17))
    geo = CellRegion.from_cells(level, [3], [17]).to_geojson()
    assert geo["type"] == "Polygon"
    ring = geo["coordinates"][0]
    assert {(x, y) for x, y in ring} == {(lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1)}


# -- edges of the index functions (found by mutation testing, docs/testing.md) -----------------


def test_cell_index_puts_the_poles_and_the_antimeridian_in_real_cells() -> None:
    """The north pole is in the last row (z = 1 would be row nr); a point a hair west of the
    antimeridian (lon -180 - 3e-14, i.e. 180 - 3e-14) is in the last column, not column nc; the
    south pole and lon 180 (= -180) start the first row and column."""
    level = 2
    nr, nc = level_shape(level)
    west = float(np.nextafter(-180.0, -np.inf))
    rows, cols = cell_index(level, [90.0, -90.0, 0.0, 0.0], [0.0, 0.0, west, 180.0])
    assert rows.tolist()[:2] == [nr - 1, 0]
    assert cols.tolist()[2:] == [nc - 1, 0]


def test_cell_indices_are_integers_even_from_empty_input() -> None:
    """Rows and columns index arrays: integer dtype from cell_index, children and from_cells, also
    for no cells at all (an empty float array cannot index)."""
    level = 1
    grid = np.zeros(level_shape(level))
    r, c = cell_index(level, [10.5, -33.0], [20.25, 151.0])
    assert r.dtype == c.dtype == np.int64 and grid[r, c].shape == (2,)
    r, c = children([], [])
    assert r.dtype == c.dtype == np.int64 and np.zeros(level_shape(1))[r, c].shape == (0,)
    empty = CellRegion.from_cells(level, [], [])
    assert empty.rows.dtype == empty.cols.dtype == np.int64
    assert grid[empty.rows, empty.cols].shape == (0,)


@pytest.mark.parametrize("level", LEVELS)
def test_cell_centres_lie_in_their_cells(level: int) -> None:
    """Each centre (as returned, longitude in [-180, 180]) lies strictly inside its cell's bounds."""
    nr, nc = level_shape(level)
    rows = np.concatenate([np.arange(nr), np.zeros(nc, dtype=int)])
    cols = np.concatenate([np.arange(nr) % nc, np.arange(nc)])
    lat, lon = cell_centers(level, rows, cols)
    lat0, lat1, lon0, lon1 = cell_bounds(level, rows, cols)
    assert np.all((lat0 < lat) & (lat < lat1) & (lon0 < lon) & (lon < lon1))


def test_level_for_resolution_takes_a_level_whose_cells_are_exactly_that_size() -> None:
    """'At most resolution_km across': a resolution equal to a level's cell size gives that level,
    for every level (the finest included); finer than the finest level gives the finest."""
    for level in LEVELS:
        assert level_for_resolution(cell_area_km2(level) ** 0.5) == level
    assert level_for_resolution(cell_area_km2(MAX_LEVEL) ** 0.5 / 2) == MAX_LEVEL
    with pytest.raises(ValueError, match=f"grid level {MAX_LEVEL + 1} outside"):
        level_shape(MAX_LEVEL + 1)


def test_refine_refines_only_the_given_cells_and_a_single_cell_to_the_end_level() -> None:
    """Given rows and cols, refinement starts from those cells only (half of a disc's candidates
    give half of its cells); with one of them missing it starts from the globe. A single cell kept
    at a coarse level is still refined to the end level."""
    centre = to_unit_vectors(0.0, 0.0)

    def keep(u: np.ndarray, pad_km: np.ndarray) -> np.ndarray:
        return unit_distance_km(u, centre) <= 900.0 + pad_km

    nc = level_shape(3)[1]
    whole_r, whole_c = refine(keep, 0, 3)
    r1, c1 = global_cells(1)
    cand = keep(to_unit_vectors(*cell_centers(1, r1, c1)), circumradius_km(1, r1))
    east = cand & (c1 >= level_shape(1)[1] // 2)  # candidates east of the meridian 0
    r, c = refine(keep, 1, 3, r1[east], c1[east])
    assert 0 < len(r) < len(whole_r)
    want = np.sort((whole_r * nc + whole_c)[whole_c >= nc // 2])
    assert np.array_equal(np.sort(r * nc + c), want)
    for rows, cols in ((r1[east], None), (None, c1[east])):
        r, c = refine(keep, 1, 3, rows, cols)
        assert np.array_equal(np.sort(r * nc + c), np.sort(whole_r * nc + whole_c))
    # A 30 km disc at a level-0 cell's centre: that cell alone is kept at level 0.
    lat, lon = cell_centers(0, 20, 64)
    tiny = to_unit_vectors(lat, lon)

    def keep_tiny(u: np.ndarray, pad_km: np.ndarray) -> np.ndarray:
        return unit_distance_km(u, tiny) <= 30.0 + pad_km

    assert len(refine(keep_tiny, 0, 0, cover=True)[0]) == 1
    r, c = refine(keep_tiny, 0, 3)
    r_all, c_all = global_cells(3)
    dense = unit_distance_km(to_unit_vectors(*cell_centers(3, r_all, c_all)), tiny) <= 30.0
    assert len(r) >= 1 and np.array_equal(np.sort(r * nc + c), np.flatnonzero(dense))
