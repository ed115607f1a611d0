"""Points in an intersection of discs (spherical caps), exactly, without a grid.

A grid resolves a region to one cell (about 20 km at level 4), which is too coarse for the discs of
sub-millisecond RTTs (0.05 ms at the speed of light is 7.5 km). These routines work on the discs
themselves:

- :func:`nearest_point_in_discs`: the point of the intersection nearest to a given point, or None
  when the discs share no point. Exact up to ``TOLERANCE_RAD`` (about 1 mm): the nearest point of
  an intersection of caps is the point itself, its projection onto one cap's boundary, or a corner
  where two boundaries cross; an active-set loop adds the caps the current answer violates and
  enumerates those candidates again (finite: the set only grows).
- :func:`smallest_scale_point`: when they share none, the smallest factor s >= 1 by which every
  radius must grow for them to share a point, and that point (bisection on s, each step exact).

Conventions: ``centres_unit`` (L, 3) unit vectors, ``radius_km`` (L,) on the sphere of
:data:`~rttgeo.units.EARTH_RADIUS_KM`; discs with a NaN radius or one of at least half the
circumference (the whole sphere) are ignored.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.geo.sphere import from_unit_vectors, to_unit_vectors
from rttgeo.units import EARTH_RADIUS_KM

__all__ = ["TOLERANCE_RAD", "nearest_point_in_discs", "smallest_scale_point"]

FloatArray = NDArray[np.float64]

#: Angular tolerance of the answers (1e-9 rad is 6.4 mm on the Earth). Answers are computed for
#: radii shrunk by this much and accepted within half of it (where two boundary circles cross at a
#: shallow angle their crossing is found to about 1e-10 rad), so a returned point lies inside every
#: disc, not merely near it. Lenses thinner than this may be reported as empty.
TOLERANCE_RAD = 1e-9
_ACCEPT_RAD = 0.5 * TOLERANCE_RAD


def _prepare(centres_unit: ArrayLike, radius_km: ArrayLike) -> tuple[FloatArray, FloatArray]:
    c = np.asarray(centres_unit, dtype=float).reshape(-1, 3)
    theta = np.asarray(radius_km, dtype=float).reshape(-1) / EARTH_RADIUS_KM
    keep = np.isfinite(theta) & (theta < np.pi)
    return c[keep], np.maximum(theta[keep], 0.0)


def _violation(x: FloatArray, c: FloatArray, theta: FloatArray) -> FloatArray:
    """Angle by which ``x`` lies outside each cap (negative inside)."""
    return np.arccos(np.clip(c @ x, -1.0, 1.0)) - theta


def _project(p: FloatArray, c: FloatArray, theta: FloatArray) -> FloatArray:
    """(K, 3) the nearest point to ``p`` on each cap's boundary circle."""
    t = p[None, :] - (c @ p)[:, None] * c
    norm = np.linalg.norm(t, axis=1)
    flat = norm < 1e-15  # p is a cap's centre or its antipode: any direction will do
    if flat.any():
        alt = np.cross(c[flat], np.array([0.0, 0.0, 1.0]))
        bad = np.linalg.norm(alt, axis=1) < 1e-9
        alt[bad] = np.cross(c[flat][bad], np.array([1.0, 0.0, 0.0]))
        t[flat] = alt
        norm[flat] = np.linalg.norm(alt, axis=1)
    t = t / norm[:, None]
    return np.cos(theta)[:, None] * c + np.sin(theta)[:, None] * t


def _corners(c: FloatArray, theta: FloatArray) -> FloatArray:
    """(M, 3) every point where two caps' boundary circles cross.

    From the first centre, the crossing lies at angle theta_i, at a bearing phi off the great circle
    towards the second centre, with 1 - cos(phi) = 2 sin((ti + tj - D) / 2) sin((tj - ti + D) / 2)
    / (sin ti sin D) (spherical law of cosines written without cancellation, so that the
    crossings of circles a few km wide are found to about 1e-12 rad).
    """
    i, j = np.triu_indices(len(c), 1)
    if len(i) == 0:
        return np.zeros((0, 3))
    ci, cj = c[i], c[j]
    ti, tj = theta[i], theta[j]
    cross = np.cross(ci, cj)
    sin_d = np.linalg.norm(cross, axis=1)
    d = np.arctan2(sin_d, np.einsum("ij,ij->i", ci, cj))
    ok = (sin_d > 1e-15) & (np.sin(ti) > 0) & (d <= ti + tj) & (tj <= ti + d) & (ti <= tj + d)
    ci, ti, tj, d, cross, sin_d = ci[ok], ti[ok], tj[ok], d[ok], cross[ok], sin_d[ok]
    one_minus_cos = 2.0 * np.sin(0.5 * (ti + tj - d)) * np.sin(0.5 * (tj - ti + d)) / (np.sin(ti) * sin_d)
    cos_phi = np.clip(1.0 - one_minus_cos, -1.0, 1.0)
    sin_phi = np.sqrt(np.maximum(one_minus_cos * (2.0 - one_minus_cos), 0.0))
    b = cross / sin_d[:, None]  # unit normal of the great circle through both centres
    t = np.cross(b, ci)  # unit tangent at ci towards cj
    ring = np.cos(ti)[:, None] * ci
    s_t = np.sin(ti)[:, None]
    pts = np.concatenate([
        ring + s_t * (cos_phi[:, None] * t + sin_phi[:, None] * b),
        ring + s_t * (cos_phi[:, None] * t - sin_phi[:, None] * b),
    ])
    return pts / np.linalg.norm(pts, axis=1)[:, None]


def _nearest_unit(p: FloatArray, c: FloatArray, theta: FloatArray) -> FloatArray | None:
    """Nearest point to unit vector ``p`` in the caps (radii already shrunk), or None if empty."""
    if len(c) == 0:
        return p
    active = np.flatnonzero(_violation(p, c, theta) > 0.0)
    if len(active) == 0:
        return p
    while True:
        ca, ta = c[active], theta[active]
        cand = np.concatenate([_project(p, ca, ta), _corners(ca, ta)])
        # Candidates in every active cap (a little slack for rounding at the corners).
        inside = np.all(
            np.arccos(np.clip(cand @ ca.T, -1.0, 1.0)) - ta[None, :] <= _ACCEPT_RAD, axis=1
        )
        if not inside.any():
            return None  # even the active caps share no point
        cand = cand[inside]
        x = cand[int(np.argmax(cand @ p))]
        more = np.flatnonzero(_violation(x, c, theta) > _ACCEPT_RAD)
        more = np.setdiff1d(more, active)
        if len(more) == 0:
            return x
        active = np.union1d(active, more)


def nearest_point_in_discs(
    lat_deg: float, lon_deg: float, centres_unit: ArrayLike, radius_km: ArrayLike
) -> tuple[float, float] | None:
    """(lat, lon) of the point inside every disc nearest to (``lat_deg``, ``lon_deg``); None when
    the discs share no point. The point itself when it is inside all of them. See the module."""
    c, theta = _prepare(centres_unit, radius_km)
    p = to_unit_vectors(lat_deg, lon_deg)
    if len(c) == 0 or np.all(_violation(p, c, theta) <= 0.0):
        return float(lat_deg), float(lon_deg)
    x = _nearest_unit(p, c, np.maximum(theta - TOLERANCE_RAD, 0.0))
    if x is None:
        return None
    la, lo = from_unit_vectors(x)
    return float(la), float(lo)


def smallest_scale_point(
    lat_deg: float, lon_deg: float, centres_unit: ArrayLike, radius_km: ArrayLike, rel_tol: float = 1e-6
) -> tuple[float, float, float]:
    """(scale, lat, lon): the smallest s >= 1 (to ``rel_tol``) for which the discs of radius
    s x ``radius_km`` share a point, and their point nearest to (``lat_deg``, ``lon_deg``).

    A radius of 0 never grows: radii are floored at 1 m first. The scale is found by bisection,
    each step decided exactly by :func:`nearest_point_in_discs`.
    """
    c, theta = _prepare(centres_unit, radius_km)
    if len(c) == 0:
        return 1.0, float(lat_deg), float(lon_deg)
    theta = np.maximum(theta, 1e-3 / EARTH_RADIUS_KM)
    p = to_unit_vectors(lat_deg, lon_deg)

    def at(scale: float) -> FloatArray | None:
        return _nearest_unit(p, c, np.minimum(theta * scale, np.pi) - TOLERANCE_RAD)

    x = at(1.0)
    if x is not None:
        la, lo = from_unit_vectors(x)
        return 1.0, float(la), float(lo)
    lo_s, hi_s = 1.0, 2.0
    while at(hi_s) is None:
        lo_s, hi_s = hi_s, hi_s * 2.0
        if theta.min() * lo_s >= np.pi:  # pragma: no cover - every disc covers the sphere by now
            break
    while hi_s - lo_s > rel_tol * hi_s:
        mid = 0.5 * (lo_s + hi_s)
        if at(mid) is None:
            lo_s = mid
        else:
            hi_s = mid
    x = at(hi_s)
    assert x is not None
    la, lo = from_unit_vectors(x)
    return float(hi_s), float(la), float(lo)
