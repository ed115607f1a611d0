"""rttgeo.geo.feasible against brute force: every cell centre of the end level, distances by the
atan2 formula (``unit_distance_km``), not the arccos one the module uses."""

from __future__ import annotations

import numpy as np
import pytest

from rttgeo.geo.feasible import disc_intersection, smallest_common_scale
from rttgeo.geo.grid import CellRegion, cell_centers, global_cells, level_shape
from rttgeo.geo.sphere import to_unit_vectors, unit_distance_km

#: Centre distances this close to a radius may fall either way (arccos vs atan2 rounding).
BORDER_KM = 1e-6


def dense_distances_km(level: int, centres: np.ndarray) -> np.ndarray:
    rows, cols = global_cells(level)
    u = to_unit_vectors(*cell_centers(level, rows, cols))
    return unit_distance_km(u[:, None, :], centres[None, :, :])  # (cells, discs), row-major keys


def assert_same_cells(
    region_keys: np.ndarray, want: np.ndarray, d: np.ndarray, r: np.ndarray
) -> None:
    got = np.zeros(len(want), dtype=bool)
    got[region_keys] = True
    differ = np.flatnonzero(got != want)
    if len(differ):
        margin = np.min(np.abs(d[differ] - r[None, :]), axis=1)
        assert np.all(margin < BORDER_KM), f"{len(differ)} cells differ, margins {margin[:5]}"


def region_keys(region: CellRegion) -> np.ndarray:
    nc = level_shape(region.level)[1]
    return np.asarray(region.rows) * nc + np.asarray(region.cols)


@pytest.mark.parametrize("seed", range(6))
def test_disc_intersection_equals_dense_evaluation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # A host somewhere, landmarks around it, radii that contain it with some slack: a realistic,
    # non-empty intersection; some seeds put the host near a pole or the antimeridian.
    host_lat = [48.0, -33.0, 85.0, 0.0, -80.0, 64.0][seed]
    host_lon = [2.0, 151.0, 20.0, 179.9, -60.0, -150.0][seed]
    n = 8
    lm_lat = np.clip(host_lat + rng.normal(0, 15, n), -89, 89)
    lm_lon = host_lon + rng.normal(0, 25, n)
    centres = to_unit_vectors(lm_lat, lm_lon)
    host = to_unit_vectors(host_lat, host_lon)
    radius = unit_distance_km(centres, host) * rng.uniform(1.05, 1.6, n) + 50.0
    level = 3
    region = disc_intersection(centres, radius, end_level=level)
    assert region.level == level and not region.empty
    d = dense_distances_km(level, centres)
    want = np.all(d <= radius[None, :], axis=1)
    assert_same_cells(region_keys(region), want, d, radius)
    assert len(np.unique(region_keys(region))) == len(region)


def test_disc_intersection_nan_and_huge_radii_are_ignored() -> None:
    centres = to_unit_vectors([10.0, 12.0, -50.0], [20.0, 25.0, 100.0])
    radius = np.array([900.0, 1200.0, np.nan])
    level = 3
    a = disc_intersection(centres, radius, end_level=level)
    b = disc_intersection(centres[:2], radius[:2], end_level=level)
    c = disc_intersection(centres, np.array([900.0, 1200.0, 30_000.0]), end_level=level)
    assert np.array_equal(np.sort(region_keys(a)), np.sort(region_keys(b)))
    assert np.array_equal(np.sort(region_keys(a)), np.sort(region_keys(c)))
    everything = disc_intersection(centres[:1], np.array([np.nan]), end_level=2)
    assert len(everything) == np.prod(level_shape(2))


def test_disjoint_discs_give_an_empty_region() -> None:
    centres = to_unit_vectors([0.0, 0.0], [0.0, 90.0])
    region = disc_intersection(centres, np.array([1000.0, 1000.0]), end_level=4)
    assert region.empty


@pytest.mark.parametrize("seed", range(3))
def test_smallest_common_scale_is_the_brute_force_minimum(seed: int) -> None:
    rng = np.random.default_rng(50 + seed)
    n = 5
    centres = to_unit_vectors(rng.uniform(-60, 60, n), rng.uniform(-40, 40, n))
    radius = rng.uniform(300.0, 1500.0, n)  # mutually inconsistent in general
    level = 3
    d = dense_distances_km(level, centres)
    want_scale = max(float(np.min(np.max(d / radius[None, :], axis=1))), 1.0)
    scale, region = smallest_common_scale(centres, radius, end_level=level)
    assert scale >= 1.0
    assert scale == pytest.approx(want_scale, rel=1e-6)
    assert not region.empty
    # The region is the intersection of the scaled discs, and it is tight: a hair smaller, empty.
    want = np.all(d <= scale * radius[None, :], axis=1)
    assert_same_cells(region_keys(region), want, d, scale * radius)
    if want_scale > 1.0:
        assert not np.any(np.all(d <= want_scale * (1 - 1e-6) * radius[None, :], axis=1))
