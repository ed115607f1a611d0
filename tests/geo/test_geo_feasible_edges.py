"""Edge cases of rttgeo.geo.feasible, each stating the property it protects (found by mutation
testing: each test kills mutants that the random and dense tests let through; docs/testing.md)."""

from __future__ import annotations

import numpy as np
import pytest

from rttgeo.geo.feasible import (
    HALF_CIRCUMFERENCE_KM,
    annulus_tests,
    disc_intersection,
    smallest_common_scale,
)
from rttgeo.geo.grid import (
    CellRegion,
    cell_centers,
    cell_unit_vectors,
    circumradius_km,
    global_cells,
    level_shape,
)
from rttgeo.geo.sphere import arc_km, destination, to_unit_vectors, unit_distance_km
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


# -- annulus_tests: exact counts, closed bounds, the slack and chunking ---------------------------
#
# The rule (annulus_tests' docstring): a cell's distances to an annulus' centre lie in the closed
# band [d - pad, d + pad] (d to the cell's centre, pad = circumradius + slack); the annulus is the
# closed interval [lo, hi]. Definite: band and annulus are disjoint. Possible: the band is not
# inside the annulus. Crossing: they overlap without the band being inside.

SLACK_KM = 0.2  # annulus_tests' documented default


def band_km(level: int, rows: np.ndarray, cols: np.ndarray, centres: np.ndarray) -> tuple:
    """(cell centres, circumradii, d (cells, annuli) as the module computes it, pad + slack)."""
    u = cell_unit_vectors(level, rows, cols)
    pad = circumradius_km(level, rows)
    d = arc_km(u @ centres.T)
    return u, pad, d, pad[:, None] + SLACK_KM


def interval_rule(d_km: np.ndarray, pad_km: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple:
    """The documented rule evaluated densely and independently (atan2 distances welcome)."""
    out = (d_km + pad_km < lo) | (d_km - pad_km > hi)
    # Distances are never negative: the band's near end is max(d - pad, 0).
    inside = (np.maximum(d_km - pad_km, 0.0) >= lo) & (d_km + pad_km <= hi)
    return out.sum(axis=1), (~inside).sum(axis=1), np.any(~out & ~inside, axis=0)


def test_annulus_tests_counts_each_cell_exactly_by_the_interval_rule() -> None:
    """Two cells 5,000 km apart and four annuli, each far (50 km or more) from any tie: per cell
    exact definite / possible counts, and exactly the annuli that cross some cell."""
    rows, cols = np.array([60, 100]), np.array([100, 400])
    u, pad, _, _ = band_km(2, rows, cols, np.eye(3))
    lat, lon = cell_centers(2, rows, cols)
    far = float(unit_distance_km(u[0], u[1]))
    assert far > 5000.0
    beside = to_unit_vectors(*destination(lat[0], lon[0], 10.0, 300.0))
    centres = np.stack([u[0], beside, u[1], u[0]])
    r0 = float(pad[0]) + SLACK_KM
    lo = np.array([r0 + 50.0, 0.0, 0.0, far - 300.0])
    hi = np.array([r0 + 500.0, 300.0 + r0 + 60.0, r0 / 2, far + 300.0])
    # Cell 0: annulus 0 lies beyond it (definite), the disc 1 holds it (certain), 2 (at the other
    # cell) is too far (definite), 3 too near (definite). Cell 1: 0 and 1 lie far away
    # (definite), 2 is a disc around its centre smaller than the cell (crossing), 3 holds it.
    definite, possible, crossing = annulus_tests(u, pad, centres, lo, hi)
    assert definite.tolist() == [3, 2] and possible.tolist() == [3, 3]
    assert crossing.tolist() == [False, False, True, False]
    want = interval_rule(unit_distance_km(u[:, None, :], centres[None]), pad[:, None] + SLACK_KM,
                         lo, hi)
    assert [definite.tolist(), possible.tolist(), crossing.tolist()] == [w.tolist() for w in want]
    # One cell, one annulus, and either of them empty: the shapes follow the inputs.
    one = annulus_tests(u[1:], pad[1:], centres[2:3], lo[2:3], hi[2:3])
    assert [x.tolist() for x in one] == [[0], [1], [True]]
    for m, n in ((2, 0), (0, 4)):
        definite, possible, crossing = annulus_tests(u[:m], pad[:m], centres[:n], lo[:n], hi[:n])
        assert definite.tolist() == possible.tolist() == [0] * m and crossing.tolist() == [False] * n


def test_a_disc_around_a_cell_holding_it_whole_is_certain_there() -> None:
    """An inner bound of 0 is no bound: the cell holding a disc's centre, wholly inside the disc,
    is neither possibly violated nor crossed (it once was, since the band's near end d - pad is
    below 0, which made that landmark 'deciding' for every region around it). A hole of 1 km, in
    the same place, is uncertain there."""
    rows, cols = np.array([100]), np.array([333])
    u, pad_km, d, pad = band_km(2, rows, cols, cell_unit_vectors(2, rows, cols))
    assert float((d - pad)[0, 0]) < 0.0
    hi = np.array([float(pad[0, 0]) + 10.0])
    got = annulus_tests(u, pad_km, u, np.array([0.0]), hi)
    assert [x.tolist() for x in got] == [[0], [0], [False]]
    got = annulus_tests(u, pad_km, u, np.array([1.0]), hi)
    assert [x.tolist() for x in got] == [[0], [1], [True]]
    assert [x.tolist() for x in interval_rule(d, pad, np.array([0.0]), hi)] == [[0], [0], [False]]


def test_annulus_tests_bounds_are_closed_a_band_touching_an_edge_is_uncertain() -> None:
    """Exact ties, computed as the module computes them: a band whose end touches an annulus' edge
    from outside is not definitely violated (and crosses it); a band whose ends touch both edges
    from inside is certain (not possibly violated, not crossing)."""
    rows, cols = np.array([100]), np.array([333])
    centre = to_unit_vectors(*destination(*cell_centers(2, rows, cols), 40.0, 900.0))[0]
    centres = np.stack([centre] * 3)
    u, pad_km, d, pad = band_km(2, rows, cols, centres)
    near, far = float((d - pad)[0, 0]), float((d + pad)[0, 0])
    lo = np.array([far, 0.0, near])  # touches the band's far end / nothing / its near end
    hi = np.array([far + 100.0, near, far])  # - / touches the near end / touches the far end
    for i in range(3):
        definite, possible, crossing = annulus_tests(u, pad_km, centres[i : i + 1], lo[i : i + 1],
                                                     hi[i : i + 1])
        assert (int(definite[0]), int(possible[0]), bool(crossing[0])) == (
            (0, 1, True), (0, 1, True), (0, 0, False)
        )[i], i


def test_annulus_tests_slack_is_two_tenths_of_a_km_by_default() -> None:
    """The default slack widens the band by 0.2 km, no more, no less: an annulus that begins 0.5 km
    beyond the cell's farthest point is certainly violated, one that begins 0.1 km beyond it
    possibly satisfied; likewise inside (an annulus 0.1 km wider than the band, each side, is not
    certain; 0.5 km wider is)."""
    rows, cols = np.array([40]), np.array([45])
    centre = to_unit_vectors(*destination(*cell_centers(2, rows, cols), 200.0, 1500.0))[0]
    u, pad_km, d, _ = band_km(2, rows, cols, centre[None, :])
    near, far = float(d[0, 0] - pad_km[0]), float(d[0, 0] + pad_km[0])
    centres = np.stack([centre] * 4)
    lo = np.array([far + 0.5, far + 0.1, near - 0.5, near - 0.1])
    hi = np.array([far + 50.0, far + 50.0, far + 0.5, far + 0.1])
    definite, possible, crossing = annulus_tests(u, pad_km, centres, lo, hi)
    assert definite.tolist() == [1] and possible.tolist() == [3]
    assert crossing.tolist() == [False, True, False, True]
    definite, possible, _ = annulus_tests(u, pad_km, centres, lo, hi, slack_km=0.0)
    assert definite.tolist() == [2] and possible.tolist() == [2]


def test_annulus_tests_chunks_give_the_dense_answer_with_many_cells_per_chunk_boundary() -> None:
    """More cells than a chunk holds (every level-1 cell, 7 cells per chunk): the counts and the
    crossing mask equal the one-chunk evaluation and the dense rule, including annuli that cross
    only cells of early chunks (crossing accumulates over chunks)."""
    rows, cols = global_cells(1)
    rng = np.random.default_rng(15)
    n = 6
    lat = rng.uniform(-70.0, 70.0, n)
    centres = to_unit_vectors(lat, rng.uniform(-180.0, 180.0, n))
    lo = rng.uniform(0.0, 800.0, n)
    hi = lo + rng.uniform(50.0, 600.0, n)
    u, pad_km, _, _ = band_km(1, rows, cols, centres)
    want = interval_rule(unit_distance_km(u[:, None, :], centres[None]), pad_km[:, None] + SLACK_KM,
                         lo, hi)
    one = annulus_tests(u, pad_km, centres, lo, hi)
    chunked = annulus_tests(u, pad_km, centres, lo, hi, chunk=7 * n + 3)
    for got in (one, chunked):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    # A chunk smaller than one cell's annuli still takes a cell at a time.
    tiny = annulus_tests(u[:300], pad_km[:300], centres, lo, hi, chunk=1)
    for g, w in zip(tiny, annulus_tests(u[:300], pad_km[:300], centres, lo, hi), strict=True):
        np.testing.assert_array_equal(g, w)
    # The test means something: annuli cross cells, but none in the last chunk (the polar row the
    # grid ends with), so a crossing mask kept from the last chunk alone would be all False.
    d = unit_distance_km(u[:, None, :], centres[None])
    p = pad_km[:, None] + SLACK_KM
    cross = ~((d + p < lo) | (d - p > hi)) & ~((d - p >= lo) & (d + p <= hi))
    assert want[2].sum() >= 4 and not cross[-7:].any()
    assert want[0].max() == n and want[1].min() < n  # cells out of all, cells certainly in one


def test_smallest_common_scale_floor_is_1_km_and_scales_with_the_radii() -> None:
    """Radii of 1 km are not raised (the floor is 1 km, not more): doubling every radius halves
    the scale, from 1 km up, as s = min over cells of max_i d_i / r_i says."""
    lat, lon = cell_centers(3, 100, 300)
    a = to_unit_vectors(lat, lon)
    b = to_unit_vectors(*destination(lat, lon, 90.0, 30.0))
    centres = np.stack([a, b])
    s1, _ = smallest_common_scale(centres, np.array([1.0, 1.0]), end_level=3)
    s2, _ = smallest_common_scale(centres, np.array([2.0, 2.0]), end_level=3)
    assert s1 > 10.0 and s1 == pytest.approx(2.0 * s2, rel=1e-9)


def test_smallest_common_scale_keeps_the_cell_of_a_disc_centred_on_a_cell_centre() -> None:
    """A disc centred exactly on a coarse cell's centre gives a best ratio of 0 at that level:
    the branch and bound must keep the cells whose lower bound is 0 (those that hold the centre),
    and the discs are consistent (scale 1)."""
    lat, lon = cell_centers(0, 20, 64)
    centre = to_unit_vectors(lat, lon)
    radius = np.array([100.0])
    scale, region = smallest_common_scale(centre[None, :], radius, end_level=2)
    assert scale == pytest.approx(1.0)
    assert keys(region) == dense_keys(2, centre[None, :], radius) and not region.empty


def test_discs_of_half_the_circumference_constrain_nothing_even_with_max_cells() -> None:
    """A disc of radius half the circumference (or more) covers the sphere and is left out: with no
    other disc the region is every end-level cell, max_cells or not, exactly as with NaN radii."""
    centre = to_unit_vectors(10.0, 20.0)[None, :]
    for radius in (HALF_CIRCUMFERENCE_KM, HALF_CIRCUMFERENCE_KM + 1.0, np.nan):
        region = disc_intersection(centre, np.array([radius]), end_level=2, max_cells=100)
        assert region.level == 2 and len(region) == np.prod(level_shape(2)), radius


def test_max_cells_stop_keeps_a_cell_whose_centre_is_exactly_on_the_boundary() -> None:
    """The centre rule is closed at the level where max_cells stops refinement too. A disc around
    the north pole (0, 0, 1), so that u . c is a cell's z exactly whatever the matrix product's
    order, whose radius is exactly the distance to a level-1 row's centres: that whole row is in."""
    level = 1
    nr, nc = level_shape(level)
    pole = np.array([[0.0, 0.0, 1.0]])
    row = nr - 12
    u = cell_unit_vectors(level, np.array([row]), np.array([0]))
    r = arc_km(u @ pole.T)[0]
    padded0, padded1 = counts(0, pole, r)[0], counts(1, pole, r)[0]
    assert 4 * padded0 <= 4 * padded1 - 1
    region = disc_intersection(pole, r, end_level=3, max_cells=4 * padded1 - 1)
    assert region.level == 1
    assert keys(region) == list(range(row * nc, nr * nc))  # rows row .. nr - 1, all columns


def test_max_cells_stops_with_a_single_exact_cell_when_max_cells_is_under_32() -> None:
    """Stopping needs max(max_cells // 16, 1) exact cells: one cell is enough when max_cells < 32.
    A 200 km disc at a level-0 cell's centre: that centre alone is within it, and the 5 cells the
    padded test keeps are more than max_cells / 4."""
    lat, lon = cell_centers(0, 20, 64)
    centre = to_unit_vectors(lat, lon)[None, :]
    radius = np.array([200.0])
    padded, exact = counts(0, centre, radius)
    assert exact == 1 and 4 * padded > 19
    for max_cells in (8, 19):
        region = disc_intersection(centre, radius, end_level=3, max_cells=max_cells)
        assert region.level == 0 and keys(region) == [20 * level_shape(0)[1] + 64], max_cells
