"""Equal-area global grids with coarse-to-fine refinement, and regions as sets of cells.

The grid is Lambert's cylindrical equal-area raster: cells are uniform in longitude and in
z = sin(latitude), so every cell of a level has exactly the same area on the sphere. Level L has
``40 * 2**L`` rows (z from -1 at the south pole to 1 at the north pole) and ``128 * 2**L`` columns
(longitude from -180 to 180); each cell splits into 2 x 2 children at the next level. Level 0 cells
are about 316 km across at the equator, level 5 about 10 km (97 km^2). Cells stretch north-south
and shrink east-west towards the poles; :func:`circumradius_km` accounts for that exactly.

Limit at the poles: the cells of the first and last rows are thin wedges from the pole, reaching
arccos(1 - 2/rows) (about 2/sqrt(rows) radians: 356 km at level 5, 126 km at level 8), with their
centres at arccos(1 - 1/rows) from it (252 km at level 5). A region decided by cell centres cannot
resolve a shape near a pole smaller than that: a 200 km cap at the pole holds no cell centre at
level 5 and comes out empty. Regions that must hold every point of a shape use the cover rule
(``refine(..., cover=True)``, ``disc_intersection(..., cover=True)``), which keeps every cell that
may hold a point of it: there the same cap gives the whole polar row (tested).

Edges of the raster coincide with the antimeridian and the poles, which is what makes the GeoJSON of
a region (``rttgeo.geo.polygon``) split at the antimeridian and close at the poles without special
cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.geo._arrays import sorted_unique
from rttgeo.geo.sphere import to_unit_vectors, unit_distance_km
from rttgeo.units import EARTH_AREA_KM2, EARTH_RADIUS_KM

__all__ = [
    "BASE_COLS",
    "BASE_ROWS",
    "CellRegion",
    "cell_area_km2",
    "cell_bounds",
    "cell_bounds_within_km",
    "cell_centers",
    "cell_index",
    "cell_unit_vectors",
    "children",
    "circumradius_km",
    "global_cells",
    "level_for_resolution",
    "level_shape",
    "refine",
]

BASE_ROWS = 40
BASE_COLS = 128
MAX_LEVEL = 8

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def level_shape(level: int) -> tuple[int, int]:
    """(rows, cols) of the raster at ``level``."""
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"grid level {level} outside [0, {MAX_LEVEL}]")
    return BASE_ROWS << level, BASE_COLS << level


def cell_area_km2(level: int) -> float:
    """Area of every cell at ``level`` (exact on the sphere)."""
    r, c = level_shape(level)
    return EARTH_AREA_KM2 / (r * c)


def level_for_resolution(resolution_km: float) -> int:
    """Smallest level whose cells are at most ``resolution_km`` across (square-root of area)."""
    for level in range(MAX_LEVEL + 1):
        if cell_area_km2(level) ** 0.5 <= resolution_km:
            return level
    return MAX_LEVEL


def global_cells(level: int) -> tuple[IntArray, IntArray]:
    """Row and column indices of every cell at ``level`` (row-major)."""
    nr, nc = level_shape(level)
    rows, cols = np.divmod(np.arange(nr * nc, dtype=np.int64), nc)
    return rows, cols


def cell_bounds(level: int, rows: ArrayLike, cols: ArrayLike) -> tuple[FloatArray, ...]:
    """(lat0, lat1, lon0, lon1) in degrees of cells."""
    nr, nc = level_shape(level)
    r = np.asarray(rows)
    c = np.asarray(cols)
    z0 = -1.0 + 2.0 * r / nr
    z1 = -1.0 + 2.0 * (r + 1) / nr
    lon0 = -180.0 + 360.0 * c / nc
    lon1 = -180.0 + 360.0 * (c + 1) / nc
    return (
        np.degrees(np.arcsin(np.clip(z0, -1, 1))),
        np.degrees(np.arcsin(np.clip(z1, -1, 1))),
        lon0,
        lon1,
    )


def cell_bounds_within_km(
    level: int, rows: ArrayLike, cols: ArrayLike, margin_km: float
) -> tuple[FloatArray, ...]:
    """(lat0, lat1, lon0, lon1) in degrees of boxes holding every point within ``margin_km`` of
    each cell (great-circle distance on the sphere of EARTH_RADIUS_KM).

    Latitude grows by the margin's angle; longitude by 2 asin(sin(m / 2R) / cos(lat_max)) with
    lat_max the largest |lat| of the grown box (haversine: two points whose |lat| are at most lat_max
    and whose longitudes differ by dlon are at least that far apart). A box reaching a pole spans all
    longitudes (-180 to 180). Longitudes may leave [-180, 180]: callers wrap them.
    """
    lat0, lat1, lon0, lon1 = cell_bounds(level, rows, cols)
    m = max(float(margin_km), 0.0)
    dlat = np.degrees(m / EARTH_RADIUS_KM)
    lat0, lat1 = lat0 - dlat, lat1 + dlat
    polar = (lat0 <= -90.0) | (lat1 >= 90.0)
    lat_max = np.minimum(np.maximum(np.abs(lat0), np.abs(lat1)), 90.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sin(m / (2.0 * EARTH_RADIUS_KM)) / np.cos(np.radians(lat_max))
    polar |= ~(s < 1.0)
    dlon = np.degrees(2.0 * np.arcsin(np.where(polar, 0.0, s)))
    lon0 = np.where(polar, -180.0, lon0 - dlon)
    lon1 = np.where(polar, 180.0, lon1 + dlon)
    return np.maximum(lat0, -90.0), np.minimum(lat1, 90.0), lon0, lon1


def cell_centers(level: int, rows: ArrayLike, cols: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(lat_deg, lon_deg) of the centres of cells (centre in z and longitude)."""
    nr, nc = level_shape(level)
    z = -1.0 + 2.0 * (np.asarray(rows) + 0.5) / nr
    lon = -180.0 + 360.0 * (np.asarray(cols) + 0.5) / nc
    return np.degrees(np.arcsin(z)), lon


def cell_unit_vectors(level: int, rows: ArrayLike, cols: ArrayLike) -> FloatArray:
    """Unit vectors (N, 3) of cell centres."""
    lat, lon = cell_centers(level, rows, cols)
    return to_unit_vectors(lat, lon)


@cache
def _row_circumradius_km(level: int) -> FloatArray:
    nr, nc = level_shape(level)
    rows = np.arange(nr)
    lat_c, _ = cell_centers(level, rows, np.zeros(nr, dtype=int))
    lat0, lat1, _, _ = cell_bounds(level, rows, np.zeros(nr, dtype=int))
    half_lon = 180.0 / nc
    centre = to_unit_vectors(lat_c, 0.0)
    d0 = unit_distance_km(centre, to_unit_vectors(lat0, half_lon))
    d1 = unit_distance_km(centre, to_unit_vectors(lat1, half_lon))
    out = np.maximum(d0, d1)
    out.setflags(write=False)
    return out


def circumradius_km(level: int, rows: ArrayLike) -> FloatArray:
    """Largest distance from each cell's centre to any of its points (the farthest corner), km.

    Any point of the cell lies within this distance of the centre, so a disc test padded by it is
    conservative; coarse-to-fine refinement relies on that.
    """
    return _row_circumradius_km(level)[np.asarray(rows)]


def children(rows: ArrayLike, cols: ArrayLike) -> tuple[IntArray, IntArray]:
    """The 4 children at the next level of each cell, grouped per parent."""
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    dr = np.array([0, 0, 1, 1], dtype=np.int64)
    dc = np.array([0, 1, 0, 1], dtype=np.int64)
    return (2 * r[:, None] + dr).ravel(), (2 * c[:, None] + dc).ravel()


def cell_index(level: int, lat_deg: ArrayLike, lon_deg: ArrayLike) -> tuple[IntArray, IntArray]:
    """(row, col) of the cells holding the given points; lon is wrapped into [-180, 180)."""
    nr, nc = level_shape(level)
    z = np.sin(np.radians(np.asarray(lat_deg, dtype=float)))
    lon = (np.asarray(lon_deg, dtype=float) + 180.0) % 360.0
    rows = np.clip(np.floor((z + 1.0) / 2.0 * nr), 0, nr - 1).astype(np.int64)
    cols = np.clip(np.floor(lon / 360.0 * nc), 0, nc - 1).astype(np.int64)
    return rows, cols


def refine(
    keep: Callable[[FloatArray, FloatArray], NDArray[np.bool_]],
    start_level: int,
    end_level: int,
    rows: IntArray | None = None,
    cols: IntArray | None = None,
    *,
    cover: bool = False,
) -> tuple[IntArray, IntArray]:
    """Coarse-to-fine search: cells where ``keep(unit_vectors, circumradius_km)`` holds, at end_level.

    At each level the kept cells split into 4 children. ``keep`` must be conservative (true for a
    cell whenever it could hold for any point of it, which the circumradius padding gives); at
    ``end_level`` it is called with a circumradius of 0 so that cell centres decide exactly, or,
    with ``cover``, with the circumradius again, so that every cell that may hold a point where
    ``keep`` holds is kept. Starts from the whole globe at ``start_level`` unless ``rows``/``cols``
    are given.
    """
    if rows is None or cols is None:
        rows, cols = global_cells(start_level)
    for level in range(start_level, end_level + 1):
        if level > start_level:
            rows, cols = children(rows, cols)
        u = cell_unit_vectors(level, rows, cols)
        pad = circumradius_km(level, rows) if cover or level < end_level else np.zeros(len(rows))
        mask = keep(u, pad)
        rows, cols = rows[mask], cols[mask]
        if len(rows) == 0:
            break
    return rows, cols


@dataclass(frozen=True, eq=False, slots=True)
class CellRegion:
    """A region: a set of cells of one grid level (row-major sorted, unique)."""

    level: int
    rows: IntArray
    cols: IntArray

    @staticmethod
    def from_cells(level: int, rows: ArrayLike, cols: ArrayLike) -> CellRegion:
        nc = level_shape(level)[1]
        key = sorted_unique(np.asarray(rows, dtype=np.int64) * nc + np.asarray(cols, dtype=np.int64))
        r, c = np.divmod(key, nc)
        return CellRegion(level, r, c)

    @staticmethod
    def from_unique_cells(level: int, rows: IntArray, cols: IntArray) -> CellRegion:
        """Like :meth:`from_cells` for cells known to be distinct (e.g. from :func:`refine`)."""
        nc = level_shape(level)[1]
        order = np.argsort(rows * nc + cols, kind="stable")
        return CellRegion(level, rows[order], cols[order])

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def empty(self) -> bool:
        return len(self.rows) == 0

    @property
    def area_km2(self) -> float:
        """Area in km^2 (exact for the cells; the region's own boundary is resolved to one cell)."""
        return len(self.rows) * cell_area_km2(self.level)

    def keys(self) -> IntArray:
        return self.rows * level_shape(self.level)[1] + self.cols

    def contains(self, lat_deg: ArrayLike, lon_deg: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point lies in a cell of the region."""
        r, c = cell_index(self.level, lat_deg, lon_deg)
        key = r * level_shape(self.level)[1] + c
        keys = self.keys()  # sorted: regions are built row-major sorted
        pos = np.clip(np.searchsorted(keys, key), 0, max(len(keys) - 1, 0))
        return (keys[pos] == key) if len(keys) else np.zeros(np.shape(key), dtype=bool)

    def unit_vectors(self) -> FloatArray:
        return cell_unit_vectors(self.level, self.rows, self.cols)

    def centroid(self) -> tuple[float, float]:
        """(lat_deg, lon_deg) of the normalised mean of cell-centre unit vectors (NaN if empty)."""
        if self.empty:
            return float("nan"), float("nan")
        from rttgeo.geo.sphere import from_unit_vectors

        lat, lon = from_unit_vectors(self.unit_vectors().mean(axis=0))
        return float(lat), float(lon)

    def to_geojson(self) -> dict[str, Any]:
        """RFC 7946 geometry (Polygon or MultiPolygon, lon/lat order, split at the antimeridian)."""
        from rttgeo.geo.polygon import region_to_geojson

        return region_to_geojson(self)
