"""A posterior over grid cells: its credible regions and the level at which a point enters them."""

from __future__ import annotations

import numpy as np
import pytest

from rttgeo.estimate.estimators import hpd_region
from rttgeo.geo.density import CellDensity
from rttgeo.geo.grid import cell_centers, global_cells


def _random_density(seed: int, n: int = 400, level: int = 2) -> CellDensity:
    rng = np.random.default_rng(seed)
    rows, cols = global_cells(level)
    pick = rng.choice(len(rows), n, replace=False)
    return CellDensity.from_log(level, rows[pick], cols[pick], rng.normal(0, 3, n))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_point_enters_the_region_exactly_above_its_credible_level(seed: int) -> None:
    d = _random_density(seed)
    assert d.mass.sum() == pytest.approx(1.0)
    lat, lon = cell_centers(d.level, d.rows, d.cols)
    levels = d.credible_level(lat, lon)
    for p in (0.05, 0.5, 0.9, 0.99):
        inside = d.hpd(p).contains(lat, lon)
        np.testing.assert_array_equal(inside, levels < p)
        # The estimators' own hpd_region is the same set.
        region, _ = hpd_region(d.level, d.rows, d.cols, np.log(d.mass), p)
        np.testing.assert_array_equal(region.contains(lat, lon), inside)
    # The densest cell enters first (level 0); a point outside every cell never enters.
    assert levels[np.argmax(d.mass)] == 0.0
    assert d.credible_level(np.array([89.99]), np.array([179.99]))[0] in (1.0, *levels)


def test_levels_are_uniform_for_points_drawn_from_the_density() -> None:
    """Calibration in its purest form: truths drawn from the posterior itself have credible levels
    uniform on [0, 1], so the coverage at p is p (the diagonal of a reliability diagram)."""
    d = _random_density(7, n=2000, level=3)
    rng = np.random.default_rng(0)
    k = rng.choice(len(d), 20000, p=d.mass)
    lat, lon = cell_centers(d.level, d.rows[k], d.cols[k])
    levels = d.credible_level(lat, lon)
    for p in (0.5, 0.8, 0.9, 0.95):
        # Cells are discrete: coverage at p is within one cell's mass of p (plus sampling noise).
        assert np.mean(levels < p) == pytest.approx(p, abs=0.01 + d.mass.max())


def test_from_log_rejects_no_mass() -> None:
    with pytest.raises(ValueError):
        CellDensity.from_log(0, [], [], [])
    with pytest.raises(ValueError):
        CellDensity.from_log(0, [1], [1], [-np.inf])
