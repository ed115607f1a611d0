"""Properties of the feasible-region geometry that verification relies on (hypothesis).

For random discs anywhere on the sphere (poles and antimeridian included) and random grid levels,
against a dense evaluation of every cell of the end level with the atan2 distance
(``unit_distance_km``), not the arccos one the module uses:

- cover rule (``cover=True``): every point inside all discs lies in the region, and every cell of
  it has its centre within radius + circumradius of every disc (so it lies within one circumradius
  of every disc);
- centre rule (default): the region is exactly the cells whose centre lies within every radius;
- the centre region is a subset of the cover region, and stopping early (``max_cells``) keeps the
  cover sound.

The regression tests at the end pin issue #15's planted bug (dropping a disc from the finer levels
when the cell *centres* lie inside it, ignoring the cells' extent), which no test caught before.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rttgeo.geo.feasible import annulus_tests, disc_intersection
from rttgeo.geo.grid import (
    CellRegion,
    cell_bounds,
    cell_centers,
    cell_index,
    cell_unit_vectors,
    circumradius_km,
    global_cells,
    level_shape,
    refine,
)
from rttgeo.geo.sphere import destination, to_unit_vectors, unit_distance_km
from rttgeo.units import EARTH_RADIUS_KM

#: Distances this close to a bound may fall either way (arccos in the module, atan2 here).
BORDER_KM = 1e-6
#: Dense evaluation grows 4x per level: level 3 has 327,680 cells, enough for every property.
MAX_LEVEL = 3

#: Examples per property: 40 in the suite; scripts/mutation.py asks for fewer, always the same ones
#: (RTTGEO_HYPOTHESIS_EXAMPLES, derandomized), so that every mutant meets the same cases.
EXAMPLES = int(os.environ.get("RTTGEO_HYPOTHESIS_EXAMPLES", "40"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize="RTTGEO_HYPOTHESIS_EXAMPLES" in os.environ,
)


@st.composite
def disc_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(centres (L, 3), radius_km (L,), host lat, host lon): discs scattered around a host.

    Radii are the host's distance times a factor in [0.6, 1.6] plus up to 300 km, so the
    intersection is often non-empty and holds the host, sometimes thin, sometimes empty.
    """
    z = draw(st.floats(-1.0, 1.0))
    host_lat = draw(st.one_of(st.just(90.0), st.just(-90.0), st.just(math.degrees(math.asin(z)))))
    host_lon = draw(st.floats(-180.0, 180.0))
    n = draw(st.integers(1, 6))
    bearing = np.array(draw(st.lists(st.floats(0, 360), min_size=n, max_size=n)))
    dist = np.array(draw(st.lists(st.floats(0, 4000), min_size=n, max_size=n)))
    factor = np.array(draw(st.lists(st.floats(0.6, 1.6), min_size=n, max_size=n)))
    extra = np.array(draw(st.lists(st.floats(0, 300), min_size=n, max_size=n)))
    lat, lon = destination(host_lat, host_lon, bearing, dist)
    centres = to_unit_vectors(lat, lon)
    host = to_unit_vectors(host_lat, host_lon)
    radius = unit_distance_km(centres, host) * factor + extra
    return centres, radius, host_lat, host_lon


def dense(level: int, centres: np.ndarray, radius: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every cell of ``level``, row-major: (centre distances (cells, L), circumradius (cells,))."""
    rows, cols = global_cells(level)
    u = to_unit_vectors(*cell_centers(level, rows, cols))
    d = unit_distance_km(u[:, None, :], centres[None, :, :])
    return d, circumradius_km(level, rows)


def assert_region_is(region: CellRegion, want: np.ndarray, margin_km: np.ndarray) -> None:
    """``region`` holds exactly the cells of mask ``want`` except where ``margin_km`` is tiny."""
    nc = level_shape(region.level)[1]
    got = np.zeros(len(want), dtype=bool)
    got[region.rows * nc + region.cols] = True
    differ = np.flatnonzero(got != want)
    assert np.all(margin_km[differ] < BORDER_KM), (
        f"{len(differ)} cells differ from the dense evaluation ({int(got.sum())} in the region, "
        f"{int(want.sum())} wanted); margins {margin_km[differ][:5]} km"
    )


def points_inside_all(
    centres: np.ndarray, radius: np.ndarray, rng: np.random.Generator, n: int = 4000
) -> tuple[np.ndarray, np.ndarray]:
    """Random points (lat, lon) inside every disc: drawn uniformly in the smallest disc, kept when
    inside all (by atan2 distance, with BORDER_KM to spare)."""
    i = int(np.argmin(radius))
    clat, clon = (float(a) for a in np.degrees(
        [np.arcsin(centres[i, 2]), np.arctan2(centres[i, 1], centres[i, 0])]
    ))
    r = min(float(radius[i]), math.pi * EARTH_RADIUS_KM)
    # Uniform on the cap: cos(distance) uniform between cos(r) and 1.
    t = np.arccos(rng.uniform(math.cos(r / EARTH_RADIUS_KM), 1.0, n)) * EARTH_RADIUS_KM
    lat, lon = destination(clat, clon, rng.uniform(0, 360, n), t)
    # Points exactly on the boundary of the smallest disc test the cover where it is tightest.
    blat, blon = destination(clat, clon, rng.uniform(0, 360, n // 4), np.full(n // 4, r - 1e-3))
    lat, lon = np.concatenate([lat, blat]), np.concatenate([lon, blon])
    d = unit_distance_km(to_unit_vectors(lat, lon)[:, None, :], centres[None, :, :])
    inside = np.all(d <= radius[None, :] - BORDER_KM, axis=1)
    return lat[inside], lon[inside]


@PROPERTY
@given(discs=disc_sets(), level=st.integers(0, MAX_LEVEL), seed=st.integers(0, 2**32 - 1))
def test_cover_holds_every_point_inside_all_discs_and_nothing_farther_than_a_cell(
    discs: tuple[np.ndarray, np.ndarray, float, float], level: int, seed: int
) -> None:
    centres, radius, host_lat, host_lon = discs
    region = disc_intersection(centres, radius, end_level=level, cover=True)
    assert region.level == level
    lat, lon = points_inside_all(centres, radius, np.random.default_rng(seed))
    lat, lon = np.append(lat, host_lat), np.append(lon, host_lon)
    host_inside = np.all(
        unit_distance_km(to_unit_vectors(host_lat, host_lon), centres) <= radius - BORDER_KM
    )
    if not host_inside:
        lat, lon = lat[:-1], lon[:-1]
    assert np.all(region.contains(lat, lon)), "a point inside every disc lies outside the region"
    # Every cell of it lies within radius + circumradius of every disc (dense evaluation). Not
    # every such cell is in it: coarser levels already drop cells none of whose points is in a
    # disc, and a padded test at the end level may still pass for some of their children.
    d, pad = dense(level, centres, radius)
    slack = d - pad[:, None] - radius[None, :]
    outside = np.max(slack[region.rows * level_shape(level)[1] + region.cols], axis=1, initial=-1.0)
    assert np.all(outside <= BORDER_KM), f"a region cell is {outside.max():.6f} km beyond a disc"


@PROPERTY
@given(discs=disc_sets(), level=st.integers(0, MAX_LEVEL))
def test_centre_rule_equals_dense_evaluation_and_lies_inside_the_cover(
    discs: tuple[np.ndarray, np.ndarray, float, float], level: int
) -> None:
    centres, radius, _, _ = discs
    region = disc_intersection(centres, radius, end_level=level)
    d, _ = dense(level, centres, radius)
    slack = d - radius[None, :]
    assert_region_is(region, np.all(slack <= 0, axis=1), np.min(np.abs(slack), axis=1))
    cover = disc_intersection(centres, radius, end_level=level, cover=True)
    assert set(region.keys().tolist()) <= set(cover.keys().tolist())


@PROPERTY
@given(
    discs=disc_sets(),
    level=st.integers(1, MAX_LEVEL + 1),
    max_cells=st.integers(16, 20_000),
    seed=st.integers(0, 2**32 - 1),
)
def test_cover_stays_sound_when_refinement_stops_early(
    discs: tuple[np.ndarray, np.ndarray, float, float], level: int, max_cells: int, seed: int
) -> None:
    centres, radius, _, _ = discs
    region = disc_intersection(centres, radius, end_level=level, max_cells=max_cells, cover=True)
    assert region.level <= level
    lat, lon = points_inside_all(centres, radius, np.random.default_rng(seed))
    assert np.all(region.contains(lat, lon))


def test_refine_cover_keeps_every_cell_touching_the_shape() -> None:
    """``refine(cover=True)`` at the end level pads by the circumradius, like disc_intersection."""
    centre = to_unit_vectors(40.0, -3.0)

    def keep(u: np.ndarray, pad_km: np.ndarray) -> np.ndarray:
        return unit_distance_km(u, centre) <= 300.0 + pad_km

    rows, cols = refine(keep, 0, 3, cover=True)
    d, pad = dense(3, centre[None, :], np.array([300.0]))
    nc = level_shape(3)[1]
    # Away from the poles a padded parent keeps every child that passes the padded test.
    assert np.array_equal(np.sort(rows * nc + cols), np.flatnonzero(d[:, 0] <= 300.0 + pad))
    centre_only = refine(keep, 0, 3)
    assert len(centre_only[0]) < len(rows)


# -- the polar cap (was a strict xfail in test_geo_grid.py) ---------------------------------------

POLE = to_unit_vectors(90.0, 0.0)


def polar_cap(radius_km: float, level: int, cover: bool) -> CellRegion:
    return disc_intersection(POLE[None, :], np.array([radius_km]), end_level=level, cover=cover)


def cap_area_km2(radius_km: float) -> float:
    return 2.0 * math.pi * EARTH_RADIUS_KM**2 * (1.0 - math.cos(radius_km / EARTH_RADIUS_KM))


def test_a_cap_at_the_pole_is_covered_at_level_5() -> None:
    """The cover of a 200 km cap at the pole holds all of it: the whole polar row at level 5."""
    region = polar_cap(200.0, 5, cover=True)
    nr, nc = level_shape(5)
    assert np.all(region.rows == nr - 1) and len(region) == nc
    # The polar row is the cap reaching arccos(1 - 2/rows) from the pole: 356 km at level 5.
    row_km = EARTH_RADIUS_KM * math.acos(1.0 - 2.0 / nr)
    assert row_km == pytest.approx(356.2, abs=0.1)
    assert region.area_km2 == pytest.approx(cap_area_km2(row_km), rel=1e-9)
    rng = np.random.default_rng(5)
    lat, lon = destination(90.0, 0.0, rng.uniform(0, 360, 5000), rng.uniform(0, 200.0, 5000))
    assert np.all(region.contains(lat, lon))


def test_the_centre_rule_limit_at_the_pole_is_what_the_grid_documents() -> None:
    """Documented limit (rttgeo.geo.grid): at the pole the centre rule takes whole polar rows, those
    whose centre (at colatitude arccos(1 - (2k+1)/rows) for the k-th row from the pole) lies in the
    cap. So a 200 km cap is empty at level 5 (first centre at 252 km) and 3 rows (1.19 times its
    area) at level 8; elsewhere caps are within 2 % (test_geo_grid.py)."""
    for level, want_rows in ((5, 0), (8, 3)):
        nr, nc = level_shape(level)
        colat_km = EARTH_RADIUS_KM * np.arccos(1.0 - (2.0 * np.arange(8) + 1.0) / nr)
        assert int(np.sum(colat_km <= 200.0)) == want_rows
        region = polar_cap(200.0, level, cover=False)
        assert len(region) == want_rows * nc
        assert np.all(region.rows >= nr - want_rows)
        row_area_km2 = 4.0 * math.pi * EARTH_RADIUS_KM**2 / nr
        assert region.area_km2 == pytest.approx(want_rows * row_area_km2, rel=1e-12)
    # Either side of the first centre (251.85 km at level 5): nothing, then the whole row.
    nr, nc = level_shape(5)
    centre_km = EARTH_RADIUS_KM * math.acos(1.0 - 1.0 / nr)
    assert centre_km == pytest.approx(251.85, abs=0.01)
    assert polar_cap(centre_km - 0.5, 5, cover=False).empty
    assert len(polar_cap(centre_km + 0.5, 5, cover=False)) == nc


# -- issue #15's planted bug: a disc dropped because the cell centres are inside it --------------


def test_a_disc_is_not_dropped_while_a_cell_reaches_outside_it() -> None:
    """Regression (issue #15): with the drop test ``d <= r`` instead of ``d + circumradius <= r``,
    the big disc here is dropped at level 0 (every surviving centre lies inside it) although the
    surviving cells reach out of it; the finer cells outside it are then kept."""
    # A small disc straddling the big disc's edge: cells of the small one stick out of the big one.
    big = to_unit_vectors(0.0, 0.0)
    lat, lon = destination(0.0, 0.0, 90.0, 1480.0)
    small = to_unit_vectors(lat, lon)
    centres = np.stack([big, small])
    radius = np.array([1500.0, 400.0])
    region = disc_intersection(centres, radius, end_level=3)
    d, pad = dense(3, centres, radius)
    slack = d - radius[None, :]
    assert_region_is(region, np.all(slack <= 0, axis=1), np.min(np.abs(slack), axis=1))
    cover = disc_intersection(centres, radius, end_level=3, cover=True)
    slack = d - pad[:, None] - radius[None, :]
    assert np.all(slack[cover.keys()] <= BORDER_KM)


# -- annulus_tests: the conservative cell test the verify room decides with -----------------------


@PROPERTY
@given(
    discs=disc_sets(),
    inner=st.lists(st.floats(0.0, 0.95), min_size=6, max_size=6),
    level=st.integers(0, MAX_LEVEL),
    seed=st.integers(0, 2**32 - 1),
)
def test_annulus_tests_bound_the_violations_of_every_point_of_a_cell(
    discs: tuple[np.ndarray, np.ndarray, float, float], inner: list[float], level: int, seed: int
) -> None:
    """For any point x of a cell: definite <= #annuli x violates <= possible; an annulus that some
    point of a cell satisfies and another violates is flagged as crossing."""
    centres, hi, host_lat, host_lon = discs
    lo = hi * np.array(inner[: len(hi)])
    rng = np.random.default_rng(seed)
    nr, nc = level_shape(level)
    # Cells around the host (where annuli cross) and anywhere.
    hr, hc = (int(a[0]) for a in cell_index(level, [host_lat], [host_lon]))
    rows = np.concatenate([np.clip(hr + rng.integers(-3, 4, 40), 0, nr - 1), rng.integers(0, nr, 40)])
    cols = np.concatenate([(hc + rng.integers(-3, 4, 40)) % nc, rng.integers(0, nc, 40)])
    u = cell_unit_vectors(level, rows, cols)
    definite, possible, crossing = annulus_tests(u, circumradius_km(level, rows), centres, lo, hi)
    # 60 random points per cell plus its corners, distances by atan2.
    lat0, lat1, lon0, lon1 = cell_bounds(level, rows, cols)
    z = rng.uniform(np.sin(np.radians(lat0))[:, None], np.sin(np.radians(lat1))[:, None], (80, 60))
    lat = np.concatenate([np.degrees(np.arcsin(z)), np.stack([lat0, lat0, lat1, lat1], 1)], 1)
    lon = np.concatenate(
        [rng.uniform(lon0[:, None], lon1[:, None], (80, 60)), np.stack([lon0, lon1, lon0, lon1], 1)], 1
    )
    d = unit_distance_km(to_unit_vectors(lat, lon)[:, :, None, :], centres[None, None, :, :])
    violates = (d < lo - BORDER_KM) | (d > hi + BORDER_KM)  # (cells, points, annuli)
    count = violates.sum(axis=2)
    assert np.all(definite[:, None] <= count) and np.all(count <= possible[:, None])
    surely = (d > lo + BORDER_KM) & (d < hi - BORDER_KM)
    mixed = np.any(violates, axis=1) & np.any(surely, axis=1)  # (cells, annuli)
    assert np.all(crossing[np.any(mixed, axis=0)])

