"""Feasible regions: the intersection of spherical discs (caps) as a set of grid cells.

Coarse-to-fine on the equal-area grid of :mod:`rttgeo.geo.grid`: a cell survives a level when, for
every disc, its centre lies within radius + cell circumradius of the disc's centre (conservative: no
point of the true intersection is ever discarded). At the end level two rules:

- centre (default): the cells whose centre lies within every radius. The boundary is resolved to
  one end-level cell (about 20 km at level 4; near the poles cells are up to 2 / sqrt(rows) radians
  tall, see :mod:`rttgeo.geo.grid`), so a point of the intersection may lie in a cell left out and
  an intersection thinner than a cell may come out empty. Best for areas and pictures.
- ``cover=True``: the cells whose centre lies within radius + circumradius of every disc, i.e. every
  cell that may hold a point of the intersection. Every point inside all discs lies in the region,
  and every cell of it lies within one circumradius of every disc. What verification needs: a
  region that is sure to hold the host.

Tested with hypothesis against a dense evaluation of every end-level cell: the centre rule equals
it; the cover holds every point inside all discs and no cell beyond radius + circumradius of a disc
(it may leave out some cells that pass that padded test but hold no point of any disc, dropped at
a coarser level). Both cost a small fraction of the dense evaluation; the region's area is exact
for the cells it holds.
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
from rttgeo.geo.sphere import arc_km
from rttgeo.units import EARTH_RADIUS_KM

__all__ = ["annulus_tests", "disc_intersection", "smallest_common_scale"]

FloatArray = NDArray[np.float64]

#: Half the circumference: a disc at least this large covers the whole sphere.
HALF_CIRCUMFERENCE_KM = np.pi * EARTH_RADIUS_KM


def _angles_km(u: FloatArray, centres: FloatArray) -> FloatArray:
    return arc_km(u @ centres.T)


def disc_intersection(
    centres_unit: FloatArray,
    radius_km: FloatArray,
    end_level: int = 4,
    start_level: int = 0,
    max_cells: int | None = None,
    *,
    cover: bool = False,
) -> CellRegion:
    """Cells at ``end_level`` whose centres lie within every disc (empty region if none).

    ``centres_unit`` (L, 3) unit vectors, ``radius_km`` (L,); discs of NaN radius are ignored,
    discs larger than half the circumference cover everything. Discs whose constraint holds with room
    to spare for every surviving cell are dropped from the finer levels. With ``max_cells``, refinement
    stops early at the level where going on would exceed that many cells (a large region does not
    need fine cells) if the centre rule there keeps at least max(max_cells // 16, 1) cells; the
    region then has that level. Without any disc that constrains (every radius NaN or at least half
    the circumference) the region is every cell of ``end_level``, whatever ``max_cells``. With
    ``cover`` the region is every cell that may hold a point of the intersection (the module's
    second rule): it holds every point inside all discs, at every level it stops at.
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
        final = level == end_level
        # The arccos distances below err by up to 0.1 km at separations under 0.1 km (and far less
        # beyond); a circumradius is at least 0.87 km (level 8), so a padded test stays sound.
        pad = circumradius_km(level, rows) if cover or not final else np.zeros(len(rows))
        # The tightest disc first prunes most cells cheaply. (Some disc always remains: one is
        # dropped only when every surviving cell lies inside it, which the cells on the boundary of
        # the smallest disc never do.)
        d0 = _angles_km(u, centres[:1])[:, 0]
        ok = d0 - pad <= radius[0]
        rows, cols, u, pad = rows[ok], cols[ok], u[ok], pad[ok]
        if len(rows) == 0:
            break
        d = _angles_km(u, centres)
        ok = np.all(d - pad[:, None] <= radius[None, :], axis=1)
        if not final and max_cells is not None and 4 * ok.sum() > max_cells:
            # A large region does not need finer cells: stop here if the exact test at this
            # level already leaves enough of it (otherwise the region is thin: go on).
            exact = ok if cover else np.all(d <= radius[None, :], axis=1)
            if exact.sum() >= max(max_cells // 16, 1):
                return CellRegion.from_unique_cells(level, rows[exact], cols[exact])
        rows, cols = rows[ok], cols[ok]
        if len(rows) == 0 or final:
            break
        # Drop discs that contain every surviving cell entirely: they cannot cut finer cells.
        inside = np.all(d[ok] + pad[ok, None] <= radius[None, :], axis=0)
        centres, radius = centres[~inside], radius[~inside]
    return CellRegion.from_unique_cells(end_level, rows, cols)


def annulus_tests(
    u: FloatArray,
    pad_km: FloatArray,
    centres_unit: FloatArray,
    lo_km: FloatArray,
    hi_km: FloatArray,
    slack_km: float = 0.2,
    chunk: int = 1 << 21,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """Conservative tests of cells against annuli lo_i <= d(x, centre_i) <= hi_i (discs: lo = 0).

    ``u`` (M, 3) cell centres, ``pad_km`` (M,) their circumradii (every point of a cell lies within
    it of the centre), ``centres_unit`` (L, 3), ``lo_km`` / ``hi_km`` (L,). Returns, per cell,
    ``definite`` = how many annuli no point of the cell can satisfy, ``possible`` = how many some
    point of it may violate (so ``definite <= true violations of any point <= possible``), and the
    (L,) mask of annuli whose boundary may cross at least one of the cells. ``slack_km`` absorbs
    the arccos rounding of distances (about 0.1 km near 0): it only widens the uncertain band.

    Exactly: with d the arccos distance from a cell's centre to an annulus' centre and
    pad = circumradius + slack, the cell's band [d - pad, d + pad] and the annulus [lo, hi] are
    both closed. The annulus counts in ``definite`` when they are disjoint, in ``possible`` when
    the band is not inside the annulus, and is ``crossing`` when they overlap without the band
    being inside it: a band that only touches an edge is uncertain, never decided. An inner bound
    of 0 or less is no bound (no distance is negative): a disc's own centre cell is not uncertain.
    ``chunk`` bounds the (cells x annuli) temporaries, about ``chunk`` floats each; results do not
    depend on it (tested with more cells than a chunk holds).
    """
    m, n = len(u), len(lo_km)
    definite = np.zeros(m, dtype=np.int64)
    possible = np.zeros(m, dtype=np.int64)
    crossing = np.zeros(n, dtype=bool)
    if m == 0 or n == 0:
        return definite, possible, crossing
    lo = np.asarray(lo_km, dtype=float)[None, :]
    hi = np.asarray(hi_km, dtype=float)[None, :]
    step = max(1, chunk // n)
    for a in range(0, m, step):
        d = _angles_km(u[a : a + step], centres_unit)
        pad = np.asarray(pad_km, dtype=float)[a : a + step, None] + slack_km
        out = (d + pad < lo) | (d - pad > hi)
        # No distance is below 0: an inner bound of 0 or less (a disc) is never violated.
        maybe = ((d - pad < lo) & (lo > 0.0)) | (d + pad > hi)
        definite[a : a + step] = out.sum(axis=1)
        possible[a : a + step] = maybe.sum(axis=1)
        crossing |= np.any(maybe & ~out, axis=0)
    return definite, possible, crossing


def smallest_common_scale(
    centres_unit: FloatArray,
    radius_km: FloatArray,
    end_level: int = 4,
    max_cells: int | None = None,
) -> tuple[float, CellRegion]:
    """Smallest factor s >= 1 by which all radii must grow for the discs to share a cell.

    s = min over cell centres x of max_i d_i(x) / r_i, found by branch and bound over the grid
    levels (a cell's lower bound uses distances shortened by its circumradius). Returns (s, region
    of the discs scaled by s). Used when constraints are inconsistent (the intersection is empty).
    """
    # A zero radius (an RTT below a bestline's intercept) would never grow: floor it at 1 km.
    radius = np.maximum(np.asarray(radius_km, dtype=float), 1.0)
    centres = np.asarray(centres_unit, dtype=float)
    rows, cols = global_cells(0)
    best = np.inf
    for level in range(0, end_level + 1):
        if level > 0:
            rows, cols = children(rows, cols)
        u = cell_unit_vectors(level, rows, cols)
        d = _angles_km(u, centres)
        ratio = d / radius[None, :]
        upper = np.max(ratio, axis=1)
        if level == end_level:
            best = float(upper.min())
            break
        # Coarse centres bound s over the sphere, not over end-level centres: keep a 5 % margin.
        best = min(best, float(upper.min()))
        pad = circumradius_km(level, rows)
        d -= pad[:, None]
        np.maximum(d, 0.0, out=d)
        lower = np.max(np.divide(d, radius[None, :], out=ratio), axis=1)
        keep = lower <= best * 1.05
        rows, cols = rows[keep], cols[keep]
    scale = max(best, 1.0) * (1.0 + 1e-9)
    return scale, disc_intersection(centres, radius * scale, end_level, max_cells=max_cells)
