"""Points on a sphere of radius :data:`~rttgeo.units.EARTH_RADIUS_KM` (pure numpy).

Shape convention: latitudes / longitudes in degrees broadcast like numpy arrays; unit vectors are
``(..., 3)`` arrays (x towards lat 0 lon 0, z towards the north pole).

Error budget: the sphere is a model of the WGS84 ellipsoid. Great-circle distances on it differ from
WGS84 geodesic distances by at most 0.5614 % (0.12 % median; the worst case is a short north-south
arc at the equator), tested against geographiclib over
random pairs; the formulas themselves (atan2 of cross and dot products) are accurate to about 1e-9 km
for every separation including antipodes and coincident points.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.units import EARTH_RADIUS_KM

__all__ = [
    "arc_km",
    "destination",
    "distance_km",
    "from_unit_vectors",
    "pairwise_distance_km",
    "to_unit_vectors",
    "unit_distance_km",
]

FloatArray = NDArray[np.float64]


def to_unit_vectors(lat_deg: ArrayLike, lon_deg: ArrayLike) -> FloatArray:
    """Unit vectors of shape ``broadcast(lat, lon).shape + (3,)``."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    cl = np.cos(lat)
    return np.stack(np.broadcast_arrays(cl * np.cos(lon), cl * np.sin(lon), np.sin(lat)), axis=-1)


def from_unit_vectors(xyz: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Latitude and longitude in degrees (lon in [-180, 180]) of vectors ``(..., 3)``; any norm > 0."""
    v = np.asarray(xyz, dtype=float)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    lon = np.degrees(np.arctan2(y, x))
    return lat, lon


def unit_distance_km(u: ArrayLike, v: ArrayLike, radius_km: float = EARTH_RADIUS_KM) -> FloatArray:
    """Great-circle distance between unit vectors ``u`` and ``v`` (broadcast over leading axes)."""
    a = np.asarray(u, dtype=float)
    b = np.asarray(v, dtype=float)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.sum(a * b, axis=-1)
    return radius_km * np.arctan2(cross, dot)


def distance_km(
    lat1_deg: ArrayLike,
    lon1_deg: ArrayLike,
    lat2_deg: ArrayLike,
    lon2_deg: ArrayLike,
    radius_km: float = EARTH_RADIUS_KM,
) -> FloatArray:
    """Great-circle distance in km between points (broadcast); see the module's error budget."""
    return unit_distance_km(
        to_unit_vectors(lat1_deg, lon1_deg), to_unit_vectors(lat2_deg, lon2_deg), radius_km
    )


def pairwise_distance_km(u: ArrayLike, v: ArrayLike, radius_km: float = EARTH_RADIUS_KM) -> FloatArray:
    """Distances ``(M, N)`` between unit vectors ``u`` (M, 3) and ``v`` (N, 3).

    Uses arccos of the dot product, clipped to [-1, 1]: fast, and accurate to about 0.1 km for
    separations under 1 km and near antipodes (arccos loses precision near 0 and pi); use
    :func:`unit_distance_km` where sub-km accuracy there matters.
    """
    return arc_km(np.asarray(u, dtype=float) @ np.asarray(v, dtype=float).T, radius_km)


def arc_km(dot: NDArray[np.floating], radius_km: float = EARTH_RADIUS_KM) -> NDArray[np.floating]:
    """Great-circle distance from dot products of unit vectors, computed in ``dot``'s own buffer
    (which it overwrites and returns, in its dtype): radius x arccos(clip(dot, -1, 1)), the same
    values without temporaries. The estimators call it on (cells, landmarks) arrays at every
    grid level; accuracy as :func:`pairwise_distance_km`."""
    np.minimum(np.maximum(dot, -1.0, out=dot), 1.0, out=dot)
    np.arccos(dot, out=dot)
    dot *= dot.dtype.type(radius_km)
    return dot


def destination(
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    bearing_deg: ArrayLike,
    distance_km_: ArrayLike,
    radius_km: float = EARTH_RADIUS_KM,
) -> tuple[FloatArray, FloatArray]:
    """Point reached from (lat, lon) going ``distance_km_`` along initial ``bearing_deg`` (from north).

    Returns (lat_deg, lon_deg) with lon in [-180, 180]; broadcasts. Exact on the sphere (vector form).
    """
    u = to_unit_vectors(lat_deg, lon_deg)
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    # Local east and north unit vectors.
    east = np.stack(np.broadcast_arrays(-np.sin(lon), np.cos(lon), np.zeros_like(lon)), axis=-1)
    north = np.stack(
        np.broadcast_arrays(-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)),
        axis=-1,
    )
    b = np.radians(np.asarray(bearing_deg, dtype=float))[..., None]
    t = (np.asarray(distance_km_, dtype=float) / radius_km)[..., None]
    direction = np.cos(b) * north + np.sin(b) * east
    p = np.cos(t) * u + np.sin(t) * direction
    return from_unit_vectors(p)
