"""rttgeo.geo.caps against brute force: random points on the sphere, distances by the atan2 formula
(``unit_distance_km``), not the arccos one the module uses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rttgeo.geo.caps import nearest_point_in_discs, smallest_scale_point
from rttgeo.geo.sphere import from_unit_vectors, to_unit_vectors, unit_distance_km

SAMPLES = 40_000


def _dense(rng: np.random.Generator, centre_lat: float, centre_lon: float, spread_km: float) -> np.ndarray:
    """Unit vectors scattered around a point (half of them within ``spread_km``), and uniform ones."""
    g = rng.normal(size=(SAMPLES, 3))
    g /= np.linalg.norm(g, axis=1)[:, None]
    c = to_unit_vectors(centre_lat, centre_lon)
    local = c[None, :] + rng.normal(scale=spread_km / 6371.0, size=(SAMPLES, 3))
    local /= np.linalg.norm(local, axis=1)[:, None]
    return np.concatenate([g, local])


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    scale_km=st.sampled_from([5.0, 300.0, 3000.0]),
)
def test_nearest_point_is_inside_every_disc_and_no_sampled_point_is_nearer(seed, n, scale_km) -> None:
    rng = np.random.default_rng(seed)
    lat0, lon0 = rng.uniform(-70, 70), rng.uniform(-180, 180)
    centres = to_unit_vectors(lat0 + rng.normal(0, scale_km / 111.0, n),
                              lon0 + rng.normal(0, scale_km / 111.0, n))
    radius = rng.uniform(0.3, 1.5, n) * scale_km
    p_lat, p_lon = lat0 + rng.normal(0, 2 * scale_km / 111.0), lon0 + rng.normal(0, 2 * scale_km / 111.0)
    p_lat = float(np.clip(p_lat, -89.9, 89.9))
    got = nearest_point_in_discs(p_lat, p_lon, centres, radius)
    pts = _dense(rng, lat0, lon0, 2 * scale_km)
    inside = np.all(unit_distance_km(pts[:, None, :], centres[None, :, :]) <= radius[None, :], axis=1)
    p = to_unit_vectors(p_lat, p_lon)
    if got is None:
        assert not inside.any(), "a sampled point lies in every disc, yet None was returned"
        return
    x = to_unit_vectors(*got)
    assert np.all(unit_distance_km(x[None, :], centres) <= radius + 1e-6)
    if inside.any():
        best = unit_distance_km(pts[inside], p[None, :]).min()
        assert float(unit_distance_km(x, p)) <= best + 1e-6


def test_a_point_already_inside_is_returned_unchanged() -> None:
    c = to_unit_vectors([10.0, 10.0], [20.0, 21.0])
    assert nearest_point_in_discs(10.0, 20.5, c, [100.0, 100.0]) == (10.0, 20.5)


def test_tiny_discs_a_hundred_metres_apart() -> None:
    # Three landmarks 100 m apart, each answering in 0.05 ms: discs of 7.5 km. The nearest common
    # point to a place 25 km away lies on the boundary of the disc nearest that place.
    lat = np.array([48.0, 48.0009, 48.0])
    lon = np.array([2.0, 2.0, 2.00134])
    r = np.full(3, 7.4948)
    got = nearest_point_in_discs(48.2, 2.1, to_unit_vectors(lat, lon), r)
    assert got is not None
    d = unit_distance_km(to_unit_vectors(*got)[None, :], to_unit_vectors(lat, lon))
    assert np.all(d <= r) and np.max(d) == pytest.approx(7.4948, abs=1e-3)


def test_disjoint_discs_have_no_common_point_and_a_smallest_scale() -> None:
    c = to_unit_vectors([0.0, 0.0], [0.0, 1.0])  # 111.2 km apart
    assert nearest_point_in_discs(5.0, 0.5, c, [40.0, 40.0]) is None
    gap = float(unit_distance_km(c[0], c[1]))
    s, lat, lon = smallest_scale_point(5.0, 0.5, c, [40.0, 40.0])
    assert s == pytest.approx(gap / 80.0, rel=1e-5)
    d = unit_distance_km(to_unit_vectors(lat, lon)[None, :], c)
    assert np.all(d <= 40.0 * s + 1e-6)


def test_nan_and_whole_sphere_discs_are_ignored() -> None:
    c = to_unit_vectors([0.0, 50.0, -30.0], [0.0, 50.0, 100.0])
    got = nearest_point_in_discs(1.0, 1.0, c, [500.0, np.nan, 30_000.0])
    assert got == (1.0, 1.0)


def test_antipodal_start_is_handled() -> None:
    c = to_unit_vectors(0.0, 0.0)[None, :]
    lat, lon = from_unit_vectors(-c[0])
    got = nearest_point_in_discs(float(lat), float(lon), c, [100.0])
    assert got is not None
    assert float(unit_distance_km(to_unit_vectors(*got), c[0])) <= 100.0
