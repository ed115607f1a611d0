"""Edge cases of rttgeo.geo.feasible, each stating the property it protects (found by mutation
testing: each test kills mutants that the random and dense tests let through; docs/testing.md)."""

from __future__ import annotations

import numpy as np
import pytest

from rttgeo.geo.feasible import HALF_CIRCUMFERENCE_KM, disc_intersection, smallest_common_scale
from rttgeo.geo.grid import (
    CellRegion,
    cell_centers,
    cell_unit_vectors,
    global_cells,
    level_shape,
)
from rttgeo.geo.sphere import destination, to_unit_vectors, unit_distance_km
from rttgeo.units import EARTH_RADIUS_KM


def module_distance_km(u: np.ndarray, c: np.ndarray) -> float:
    """The distance exactly as disc_intersection computes it (arccos of the clipped dot product)."""
    return float(EARTH_RADIUS_KM * np.arccos(np.clip(u @ c, -1.0, 1.0)))


def keys(region: CellRegion) -> list[int]:
    return region.keys().tolist()


def dense_keys(level: int, centres: np.ndarray, radius: np.ndarray) -> list[int]:
    rows, cols = global_cells(level)
    u = cell_unit_vectors(level, rows, cols)
    d = unit_distance_km(u[:, None, :], centres[None, :, :])
    return np.flatnonzero(np.all(d <= radius[None, :], axis=1)).tolist()


def self_dot_above_one(level: int) -> tuple[int, int, np.ndarray]:
    """A cell whose centre's unit vector dotted with itself rounds above 1 (arccos would be NaN),
    and with its opposite below -1, computed as the module does (matrix product)."""
    rows, cols = global_cells(level)
    u = cell_unit_vectors(level, rows, cols)
    for i in range(len(rows)):
        if (u @ u[i : i + 1].T)[i, 0] > 1.0 and (u @ -u[i : i + 1].T)[i, 0] < -1.0:
            return int(rows[i]), int(cols[i]), u[i]
    raise AssertionError("no cell centre whose dot product with itself rounds above 1")


def test_discs_are_closed_a_centre_exactly_on_the_boundary_belongs() -> None:
    """A host exactly as far as the speed of light allows is consistent: discs include their edge."""
    level = 2
    rows, cols = global_cells(level)
    u = cell_unit_vectors(level, rows, cols)
    i = len(rows) // 2 + 77
    lat, lon = cell_centers(level, rows[i], cols[i])
    clat, clon = destination(lat, lon, 30.0, 400.0)
    centre = to_unit_vectors(clat, clon)
    r = module_distance_km(u[i], centre)
    for cover in (False, True):
        region = disc_intersection(centre[None, :], np.array([r]), end_level=level, cover=cover)
        assert int(rows[i] * level_shape(level)[1] + cols[i]) in keys(region)
    # Two discs, the cell on the edge of the second (not the tightest) one: the full test is closed.
    big = to_unit_vectors(lat + 3.0, lon)
    r_big = module_distance_km(u[i], big)
    region = disc_intersection(np.stack([centre, big]), np.array([r + 50.0, r_big]), end_level=level)
    assert int(rows[i] * level_shape(level)[1] + cols[i]) in keys(region)


@pytest.mark.parametrize("level", [0, 2])
def test_a_zero_radius_disc_on_a_cell_centre_holds_that_cell(level: int) -> None:
    """Rounding must not lose the distance 0: u . u can exceed 1 in floating point."""
    row, col, u = self_dot_above_one(level)
    region = disc_intersection(u[None, :], np.array([0.0]), end_level=level)
    assert keys(region) == [row * level_shape(level)[1] + col]


def test_the_cover_keeps_the_cell_antipodal_to_a_disc_centre_when_the_disc_reaches_it() -> None:
    """u . (-u) can fall below -1: the antipode's cell is still half a circumference away."""
    level = 1
    row, col, u = self_dot_above_one(level)
    radius = np.array([HALF_CIRCUMFERENCE_KM - 1.0])
    region = disc_intersection(-u[None, :], radius, end_level=level, cover=True)
    assert row * level_shape(level)[1] + col in keys(region)
    scale, _ = smallest_common_scale(-u[None, :], radius, end_level=level)
    assert scale == pytest.approx(1.0)


def test_defaults_are_level_4_from_the_whole_globe() -> None:
    centres = to_unit_vectors([48.0, 45.0], [2.0, 5.0])
    radius = np.array([700.0, 500.0])
    region = disc_intersection(centres, radius)
    assert region.level == 4
    assert keys(region) == keys(disc_intersection(centres, radius, end_level=4, start_level=0))
    # The cover depends on where refinement starts (coarse levels drop cells that hold no point of
    # a disc): near the pole a tiny disc shows it. The default starts at level 0.
    pole = to_unit_vectors(89.991, 0.0)
    tiny = np.array([0.75])
    default = disc_intersection(pole[None, :], tiny, end_level=1, cover=True)
    assert keys(default) == keys(
        disc_intersection(pole[None, :], tiny, end_level=1, start_level=0, cover=True)
    )
    assert len(default) < len(
        disc_intersection(pole[None, :], tiny, end_level=1, start_level=1, cover=True)
    )
    scale, region = smallest_common_scale(centres, radius)
    assert region.level == 4 and scale == 1.0 * (1.0 + 1e-9)


def test_start_level_above_zero() -> None:
    """Refinement may start at any level: same centre-rule region, and all cells without discs."""
    centres = to_unit_vectors([10.0, 12.0], [20.0, 24.0])
    radius = np.array([600.0, 500.0])
    want = dense_keys(3, centres, radius)
    assert keys(disc_intersection(centres, radius, end_level=3, start_level=2)) == want
    assert keys(disc_intersection(centres, radius, end_level=3, start_level=3)) == want
    everything = disc_intersection(centres, np.array([np.nan, np.nan]), end_level=3, start_level=2)
    assert len(everything) == np.prod(level_shape(3)) and everything.level == 3


def test_one_disc_alone_constrains() -> None:
    centre = to_unit_vectors(-20.0, 130.0)
    region = disc_intersection(centre[None, :], np.array([800.0]), end_level=3)
    assert keys(region) == dense_keys(3, centre[None, :], np.array([800.0]))


def test_a_single_surviving_coarse_cell_is_still_refined_to_the_end_level() -> None:
    """A small disc at the centre of a level-0 cell: that cell alone survives level 0."""
    lat, lon = cell_centers(0, 20, 64)
    centre = to_unit_vectors(lat, lon)
    radius = np.array([80.0])
    assert counts(0, centre[None, :], radius)[0] == 1
    region = disc_intersection(centre[None, :], radius, end_level=2)
    assert region.level == 2
    want = dense_keys(2, centre[None, :], radius)
    assert len(want) >= 1 and keys(region) == want


def test_an_empty_intersection_is_an_empty_region() -> None:
    """A tiny disc between cell centres holds no centre: an empty region (never None)."""
    lat, lon = cell_centers(0, 20, 64)
    clat, clon = destination(lat, lon, 45.0, 100.0)
    region = disc_intersection(to_unit_vectors(clat, clon)[None, :], np.array([1.0]), end_level=0)
    assert isinstance(region, CellRegion) and region.empty and region.level == 0


def test_nan_and_none_radii_mean_not_measured() -> None:
    centres = to_unit_vectors([10.0, 50.0], [20.0, 60.0])
    a = disc_intersection(centres, [900.0, None], end_level=2)
    b = disc_intersection(centres[:1], np.array([900.0]), end_level=2)
    assert keys(a) == keys(b) and not a.empty


# -- stopping early (max_cells) ------------------------------------------------------------------


def counts(level: int, centres: np.ndarray, radius: np.ndarray) -> tuple[int, int]:
    """(cells kept by the padded test, cells kept by the exact test) at ``level``, as the module
    sees them when it reaches that level: the cover and the centre region ending there."""
    cover = disc_intersection(centres, radius, end_level=level, cover=True)
    return len(cover), len(disc_intersection(centres, radius, end_level=level))


CENTRE = to_unit_vectors(30.0, 40.0)[None, :]
RADIUS_KM = np.array([2500.0])
#: A thin lens: two discs 3,832 km apart whose radii overlap by 30 km.
LENS = to_unit_vectors([30.0, 30.0], [20.0, 60.0])
LENS_KM = np.full(2, float(unit_distance_km(LENS[0], LENS[1])) / 2 + 15.0)


def test_max_cells_stops_at_the_first_level_where_four_times_the_cells_exceed_it() -> None:
    """Stop at level L when 4 x (cells kept at L) > max_cells, returning the exact cells of L."""
    (padded0, _), (padded1, exact1) = counts(0, CENTRE, RADIUS_KM), counts(1, CENTRE, RADIUS_KM)
    assert 4 * padded0 < 4 * padded1 - 1
    # 4 x padded0 <= max_cells < 4 x padded1: level 0 goes on, level 1 stops.
    for max_cells in (4 * padded1 - 1, 4 * padded0):
        region = disc_intersection(CENTRE, RADIUS_KM, 3, max_cells=max_cells)
        assert region.level == 1, max_cells
        assert keys(region) == dense_keys(1, CENTRE, RADIUS_KM) and len(region) == exact1
    # Exactly at the threshold it goes on (the rule is "would exceed").
    assert disc_intersection(CENTRE, RADIUS_KM, 3, max_cells=4 * padded1).level > 1
    # Never stops at the end level, whatever max_cells says.
    region = disc_intersection(CENTRE, RADIUS_KM, 0, max_cells=4)
    assert region.level == 0 and keys(region) == dense_keys(0, CENTRE, RADIUS_KM)


def test_max_cells_goes_on_while_too_few_exact_cells_remain() -> None:
    """A thin region is refined further while it has fewer than max_cells // 16 exact cells."""
    c = [counts(level, LENS, LENS_KM) for level in range(4)]
    assert c[3] == (31, 6)  # level 3: 31 cells padded, 6 exact (thin: 6 < 31 / 4)
    for max_cells in (97, 111, 112, 123):
        assert all(4 * padded <= max_cells for padded, _ in c[:3])  # no stop before level 3
        assert 4 * c[3][0] > max_cells  # level 3 is too big to go on ...
        region = disc_intersection(LENS, LENS_KM, 4, max_cells=max_cells)
        # ... unless fewer than max_cells // 16 exact cells remain there.
        assert region.level == (3 if max_cells // 16 <= 6 else 4), max_cells
    assert keys(disc_intersection(LENS, LENS_KM, 4, max_cells=97)) == dense_keys(3, LENS, LENS_KM)


def test_max_cells_never_makes_a_region_empty() -> None:
    """With max_cells under 16, a level without any exact cell is not a place to stop."""
    region = disc_intersection(LENS, LENS_KM, 3, max_cells=8)
    assert not region.empty and region.level == 1


def test_smallest_common_scale_passes_max_cells_on_and_floors_radii_at_1_km() -> None:
    centres = to_unit_vectors([0.0, 0.0], [0.0, 20.0])
    radius = np.array([2000.0, 2000.0])  # 2,224 km apart: consistent, a large region
    scale, region = smallest_common_scale(centres, radius, end_level=3, max_cells=64)
    assert scale == 1.0 * (1.0 + 1e-9) and region.level < 3
    _, full = smallest_common_scale(centres, radius, end_level=3)
    assert full.level == 3
    # A zero radius counts as 1 km: a disc of radius 0 next to one of 1 km, 10 km apart, must
    # grow until both reach a common cell centre; it grows the same as for two 1 km discs.
    lat, lon = cell_centers(3, 100, 300)
    a = to_unit_vectors(lat, lon)
    b = to_unit_vectors(*destination(lat, lon, 90.0, 10.0))
    s0, _ = smallest_common_scale(np.stack([a, b]), np.array([0.0, 1.0]), end_level=3)
    s1, _ = smallest_common_scale(np.stack([a, b]), np.array([1.0, 1.0]), end_level=3)
    assert s0 == s1 and s0 > 5.0
