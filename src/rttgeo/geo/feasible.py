"""Feasible regions: the intersection of spherical discs (caps) as a set of grid cells.

Coarse-to-fine on the equal-area grid of :mod:`rttgeo.geo.grid`: a cell survives a level when, for
every disc, its centre lies within radius + cell circumradius of the disc's centre (conservative: no
point of the true intersection is ever discarded), and at the end level when its centre lies within
every radius. The result equals a dense evaluation of cell centres at the end level (tested), at a
small fraction of the cost. Error budget: the boundary of the region is resolved to one end-level cell
(about 20 km at level 4); the region's area is exact for the cells it holds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from rttgeo.geo.grid import (
    CellRegion,
    cell_unit_vectors,
    children,
    circumradius_km,
    global_cells,
)
from rttgeo.units import EARTH_RADIUS_KM

__all__ = ["disc_intersection", "smallest_common_scale"]

FloatArray = NDArray[np.float64]

#: Half the circumference: a disc at least this large covers the whole sphere.
HALF_CIRCUMFERENCE_KM = np.pi * EARTH_RADIUS_KM


def _angles_km(u: FloatArray, centres: FloatArray) -> FloatArray:
    return EARTH_RADIUS_KM * np.arccos(np.clip(u @ centres.T, -1.0, 1.0))


def disc_intersection(
    centres_unit: FloatArray, radius_km: FloatArray, end_level: int = 4, start_level: int = 0
) -> CellRegion:
    """Cells at ``end_level`` whose centres lie within every disc (empty region if none).

    ``centres_unit`` (L, 3) unit vectors, ``radius_km`` (L,); discs of NaN radius are ignored,
    discs larger than half the circumference cover everything. Discs whose constraint holds with room
    to spare for every surviving cell are dropped from the finer levels.
    """
    radius = np.asarray(radius_km, dtype=float)
    keep = np.isfinite(radius) & (radius < HALF_CIRCUMFERENCE_KM)
    centres = np.asarray(centres_unit, dtype=float)[keep]
    radius = radius[keep]
    rows, cols = global_cells(start_level)
    if len(radius) == 0:
        for _ in range(start_level, end_level):
            rows, cols = children(rows, cols)
        return CellRegion.from_cells(end_level, rows, cols)
    order = np.argsort(radius)
    centres, radius = centres[order], radius[order]
    for level in range(start_level, end_level + 1):
        if level > start_level:
            rows, cols = children(rows, cols)
        u = cell_unit_vectors(level, rows, cols)
        pad = circumradius_km(level, rows) if level < end_level else np.zeros(len(rows))
        # The tightest disc first prunes most cells cheaply.
        d0 = _angles_km(u, centres[:1])[:, 0]
        ok = d0 - pad <= radius[0]
        rows, cols, u, pad = rows[ok], cols[ok], u[ok], pad[ok]
        if len(rows) == 0:
            break
        d = _angles_km(u, centres)
        ok = np.all(d - pad[:, None] <= radius[None, :], axis=1)
        rows, cols = rows[ok], cols[ok]
        if len(rows) == 0:
            break
        # Drop discs that contain every surviving cell entirely: they cannot cut finer cells.
        inside = np.all(d[ok] + pad[ok, None] <= radius[None, :], axis=0)
        inside[0] = False
        centres, radius = centres[~inside], radius[~inside]
    return CellRegion.from_cells(end_level, rows, cols)


def smallest_common_scale(
    centres_unit: FloatArray,
    radius_km: FloatArray,
    end_level: int = 4,
    rel_tol: float = 0.005,
) -> tuple[float, CellRegion]:
    """Smallest factor s >= 1 by which all radii must grow for the discs to share a cell.

    Bisection to ``rel_tol``; returns (s, region at that scale). Used when constraints are
    inconsistent (the plain intersection is empty).
    """
    # A zero radius (an RTT below a bestline's intercept) would never grow: floor it at 1 km.
    radius = np.maximum(np.asarray(radius_km, dtype=float), 1.0)
    region = disc_intersection(centres_unit, radius, end_level)
    if not region.empty:
        return 1.0, region
    lo, hi = 1.0, 2.0
    region = disc_intersection(centres_unit, radius * hi, end_level)
    while region.empty:  # terminates: at s = 2e4 every disc covers the sphere
        lo, hi = hi, hi * 2.0
        region = disc_intersection(centres_unit, radius * hi, end_level)
    best = region
    while hi / lo > 1.0 + rel_tol:
        mid = 0.5 * (lo + hi)
        r = disc_intersection(centres_unit, radius * mid, end_level)
        if r.empty:
            lo = mid
        else:
            hi, best = mid, r
    return hi, best
