"""rttgeo.geo.sphere beyond the geographiclib comparison: input types, broadcasting, antipodes
(each test kills mutants that test_geo_sphere.py let through; docs/testing.md)."""

from __future__ import annotations

import numpy as np
import pytest

from rttgeo.geo.sphere import (
    destination,
    distance_km,
    from_unit_vectors,
    pairwise_distance_km,
    to_unit_vectors,
    unit_distance_km,
)
from rttgeo.units import EARTH_RADIUS_KM

RNG = np.random.default_rng(15)
LAT = RNG.uniform(-89.0, 89.0, 50)
LON = RNG.uniform(-180.0, 180.0, 50)


def test_single_precision_inputs_are_computed_in_double() -> None:
    """Coordinates may arrive as float32 (a Parquet column, a GPU array): the sphere still works in
    float64, so its error budget (about 1e-9 km) holds; float32 arithmetic would err by metres,
    and by kilometres for nearby points through arccos."""
    lat32, lon32 = LAT.astype(np.float32), LON.astype(np.float32)
    lat64, lon64 = lat32.astype(np.float64), lon32.astype(np.float64)
    u32, u64 = to_unit_vectors(lat32, lon32), to_unit_vectors(lat64, lon64)
    assert u32.dtype == np.float64 and np.array_equal(u32, u64)
    lat_b, lon_b = from_unit_vectors(u64.astype(np.float32))
    assert lon_b.dtype == np.float64
    assert lat_b.dtype == np.float64
    np.testing.assert_array_equal(lat_b, from_unit_vectors(u64.astype(np.float32).astype(float))[0])
    v32, v64 = u32[::-1].astype(np.float32), u64[::-1].astype(np.float32).astype(float)
    d = unit_distance_km(u64.astype(np.float32), v32)
    assert d.dtype == np.float64
    np.testing.assert_array_equal(d, unit_distance_km(u64.astype(np.float32).astype(float), v64))
    p = pairwise_distance_km(u64.astype(np.float32), v32)
    assert p.dtype == np.float64
    np.testing.assert_array_equal(p, pairwise_distance_km(u64.astype(np.float32).astype(float), v64))
    bearing32 = RNG.uniform(0, 360, 50).astype(np.float32)
    dist32 = RNG.uniform(0, 5000, 50).astype(np.float32)
    got = destination(lat32, lon32, bearing32, dist32)
    want = destination(lat64, lon64, bearing32.astype(float), dist32.astype(float))
    assert got[0].dtype == np.float64
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_distances_are_double_for_any_float_input_on_either_side() -> None:
    """Each side of a distance is converted to float64 on its own, so neither a float32 nor an
    extended-precision (long double) array on one side changes the result: float64 (FloatArray),
    equal to the distance of the float64-rounded inputs. (Where long double is double, as on
    Windows or ARM macOS, this only checks float64 in, float64 out.)"""
    u = to_unit_vectors(LAT, LON)
    v = u[::-1]
    for wide in (np.float32, np.longdouble):
        for a, b in ((u.astype(wide), v), (u, v.astype(wide))):
            a64, b64 = np.asarray(a).astype(float), np.asarray(b).astype(float)
            d = unit_distance_km(a, b)
            assert d.dtype == np.float64, (wide, d.dtype)
            np.testing.assert_array_equal(d, unit_distance_km(a64, b64))
            p = pairwise_distance_km(a, b)
            assert p.dtype == np.float64, (wide, p.dtype)
            np.testing.assert_array_equal(p, pairwise_distance_km(a64, b64))


def test_destination_broadcasts_like_numpy() -> None:
    """Scalars, vectors and 2-D grids of bearings and distances: each element as if alone."""
    lat, lon = destination(48.0, 2.0, 90.0, 100.0)
    assert np.shape(lat) == () and np.shape(lon) == ()
    bearings = np.array([[0.0, 90.0, 180.0], [45.0, 135.0, 270.0]])
    dists = np.array([[10.0], [2000.0]])
    glat, glon = destination(48.0, 2.0, bearings, dists)
    assert glat.shape == (2, 3) and glon.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            one = destination(48.0, 2.0, bearings[i, j], dists[i, 0])
            assert (glat[i, j], glon[i, j]) == pytest.approx(one, abs=1e-12)
    # and the point is where it should be: that far from the start
    d = distance_km(48.0, 2.0, glat, glon)
    np.testing.assert_allclose(d, np.broadcast_to(dists, (2, 3)), rtol=1e-9)
    slat, slon = destination(np.full((2, 3), 48.0), np.full((2, 3), 2.0), bearings, dists)
    np.testing.assert_allclose(slat, glat, atol=1e-12)
    np.testing.assert_allclose(slon, glon, atol=1e-12)


def test_radius_is_honoured() -> None:
    """On the unit sphere the great-circle distance is the central angle in radians."""
    d = distance_km(0.0, 0.0, 0.0, 90.0, radius_km=1.0)
    assert d == pytest.approx(np.pi / 2, rel=1e-15)
    assert distance_km(0.0, 0.0, 0.0, 90.0) == pytest.approx(np.pi / 2 * EARTH_RADIUS_KM)
    u, v = to_unit_vectors(0.0, 0.0), to_unit_vectors(0.0, 90.0)
    assert unit_distance_km(u, v, radius_km=2.0) == pytest.approx(np.pi, rel=1e-15)
    assert pairwise_distance_km(u[None], v[None], radius_km=2.0)[0, 0] == pytest.approx(np.pi)


def test_pairwise_distance_of_antipodes_is_half_the_circumference() -> None:
    """u . (-u) can round below -1 (arccos would give NaN): antipodes are pi R apart, never NaN."""
    u = to_unit_vectors(LAT, LON)
    d = pairwise_distance_km(u, -u)
    assert np.any(np.diag(u @ (-u).T) < -1.0)  # the case this test is about does occur
    # arccos loses precision next to pi as next to 0: about 0.1 km (the function's docstring)
    np.testing.assert_allclose(np.diag(d), np.pi * EARTH_RADIUS_KM, rtol=0, atol=0.2)
    assert not np.isnan(d).any()
