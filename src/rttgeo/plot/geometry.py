"""Plane geometry for drawing on equirectangular lon/lat axes (pure numpy, no matplotlib).

The maps of rttgeo are plain longitude/latitude axes. A view is a longitude window ``[lon0, lon1]``
that may extend past +180 (e.g. ``[160, 200]`` for a region straddling the antimeridian); features
stored in [-180, 180] are drawn once per 360-degree copy that overlaps the window
(:func:`lon_offsets`). Lines that cross the antimeridian are unwrapped around a reference longitude
so that no segment jumps across the world.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.geo.feasible import HALF_CIRCUMFERENCE_KM
from rttgeo.geo.sphere import destination

__all__ = [
    "circle_lonlat",
    "clip_polygon",
    "clip_polyline",
    "densify",
    "geojson_rings",
    "lon_offsets",
    "lon_window",
    "orient_ring",
    "region_cell_runs",
    "split_at_jumps",
]

FloatArray = NDArray[np.float64]



def circle_lonlat(
    lat_deg: float, lon_deg: float, radius_km: float, n: int = 361
) -> tuple[FloatArray, FloatArray]:
    """Geodesic circle of ``radius_km`` around a point, as ``n`` (lon, lat) vertices in degrees.

    Longitudes are unwrapped to be continuous around ``lon_deg`` (they may leave [-180, 180]), so
    the outline never jumps across the antimeridian; draw it with :func:`lon_offsets` copies. A
    circle that encloses a pole spans exactly 360 degrees of longitude: its copies join up into
    the parallel-like curve it is on the map. Exact on the sphere (:func:`rttgeo.geo.destination`).
    Returns empty arrays when ``radius_km`` is not finite and positive or covers the whole sphere.
    """
    if not np.isfinite(radius_km) or radius_km <= 0 or radius_km >= HALF_CIRCUMFERENCE_KM:
        return np.zeros(0), np.zeros(0)
    bearing = np.linspace(0.0, 360.0, n)
    lat, lon = destination(lat_deg, lon_deg, bearing, radius_km)
    lon = np.asarray(lon, dtype=float)
    rel = np.degrees(np.unwrap(np.radians(lon - lon_deg)))
    # unwrap starts from the first vertex, which may itself be a full turn away; recentre.
    rel -= 360.0 * np.round(rel[0] / 360.0)
    return lon_deg + rel, np.asarray(lat, dtype=float)


def lon_window(lon_deg: ArrayLike, *, pad_deg: float = 0.0, min_span_deg: float = 0.0) -> tuple[float, float]:
    """Smallest longitude interval ``(lon0, lon1)`` holding every point, padded.

    ``lon0`` is in [-180, 180) and ``lon1 > lon0`` may exceed 180 when the points straddle the
    antimeridian (e.g. points at 170 and -170 give (170, 190)). Spans of 360 degrees or more, and
    no points, give the whole world (-180, 180).
    """
    lon = np.asarray(lon_deg, dtype=float).ravel()
    lon = lon[np.isfinite(lon)]
    if lon.size == 0:
        return -180.0, 180.0
    s = np.sort(np.mod(lon + 180.0, 360.0) - 180.0)
    gaps = np.diff(np.concatenate([s, [s[0] + 360.0]]))
    k = int(np.argmax(gaps))
    start = s[(k + 1) % s.size]
    span = 360.0 - gaps[k]
    span_padded = max(span + 2.0 * pad_deg, min_span_deg)
    if span_padded >= 360.0 - 1e-9:
        return -180.0, 180.0
    lon0 = start - (span_padded - span) / 2.0
    lon0 = float(np.mod(lon0 + 180.0, 360.0) - 180.0)
    return lon0, lon0 + span_padded


def lon_offsets(
    lon0: float, lon1: float, feature_lon0: float = -180.0, feature_lon1: float = 180.0
) -> list[float]:
    """Multiples of 360 by which a feature spanning [feature_lon0, feature_lon1] must be shifted to
    cover every part of the window [lon0, lon1] where it appears."""
    out = []
    for k in range(-2, 3):
        off = 360.0 * k
        if feature_lon0 + off < lon1 and feature_lon1 + off > lon0:
            out.append(off)
    return out


def split_at_jumps(
    lon_deg: ArrayLike, lat_deg: ArrayLike, max_jump_deg: float = 180.0
) -> list[tuple[FloatArray, FloatArray]]:
    """Split a polyline wherever consecutive longitudes jump by more than ``max_jump_deg``."""
    lon = np.asarray(lon_deg, dtype=float)
    lat = np.asarray(lat_deg, dtype=float)
    if lon.size == 0:
        return []
    cut = np.flatnonzero(np.abs(np.diff(lon)) > max_jump_deg) + 1
    return [(a, b) for a, b in zip(np.split(lon, cut), np.split(lat, cut), strict=True) if a.size > 1]


def _signed_area(lon: FloatArray, lat: FloatArray) -> float:
    return 0.5 * float(np.sum(lon * np.roll(lat, -1) - np.roll(lon, -1) * lat))


def orient_ring(ring: ArrayLike, *, ccw: bool) -> FloatArray:
    """Ring ``(N, 2)`` of (lon, lat) turned counter-clockwise (``ccw``) or clockwise in the plane.

    Matplotlib fills compound paths by the non-zero winding rule, so holes must turn the other way
    from their exterior; RFC 7946 asks for that but a producer may not comply, so we enforce it.
    """
    r = np.asarray(ring, dtype=float).reshape(-1, 2)
    if r.shape[0] < 3:
        return r
    is_ccw = _signed_area(r[:, 0], r[:, 1]) > 0
    return r if is_ccw == ccw else r[::-1]


def geojson_rings(geometry: dict[str, Any] | None) -> list[list[FloatArray]]:
    """Polygons of a GeoJSON (Multi)Polygon as lists of rings (exterior first, CCW; holes CW).

    Each ring is an ``(N, 2)`` (lon, lat) array. Rings whose longitudes jump by more than 180
    degrees between vertices (a producer that did not split at the antimeridian) are unwrapped
    around their first vertex so that they never draw a band across the world.
    """
    if not geometry:
        return []
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    if kind == "Polygon":
        polys: Iterable[Sequence[Any]] = [coords]
    elif kind == "MultiPolygon":
        polys = coords
    elif kind == "GeometryCollection":
        return [p for g in geometry.get("geometries", []) for p in geojson_rings(g)]
    else:
        return []
    out = []
    for poly in polys:
        rings = []
        for i, ring in enumerate(poly):
            r = np.asarray(ring, dtype=float).reshape(-1, 2)
            if r.shape[0] < 3:
                continue
            if np.any(np.abs(np.diff(r[:, 0])) > 180.0):
                r = r.copy()
                r[:, 0] = r[0, 0] + np.degrees(np.unwrap(np.radians(r[:, 0] - r[0, 0])))
            rings.append(orient_ring(r, ccw=(i == 0)))
        if rings:
            out.append(rings)
    return out


def region_cell_runs(level: int, rows: ArrayLike, cols: ArrayLike) -> FloatArray:
    """Cells of a grid region merged into rectangles along each row: ``(K, 4)`` of
    (lon0, lon1, lat0, lat1) in degrees. Used to draw a region without ``rttgeo.geo.polygon``."""
    from rttgeo.geo.grid import cell_bounds

    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    if r.size == 0:
        return np.zeros((0, 4))
    order = np.lexsort((c, r))
    r, c = r[order], c[order]
    new_run = np.ones(r.size, dtype=bool)
    new_run[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1] + 1)
    starts = np.flatnonzero(new_run)
    ends = np.concatenate([starts[1:], [r.size]]) - 1
    lat0, lat1, lon0, _ = cell_bounds(level, r[starts], c[starts])
    _, _, _, lon1 = cell_bounds(level, r[ends], c[ends])
    return np.column_stack([lon0, lon1, lat0, lat1])


def clip_polygon(ring: ArrayLike, box: tuple[float, float, float, float]) -> FloatArray:
    """Ring ``(N, 2)`` clipped to the rectangle ``box`` = (x0, x1, y0, y1) (Sutherland-Hodgman,
    vectorised). The result may have edges along the box; orientation is kept; empty (0, 2)
    when nothing is inside. Exact up to float rounding."""
    p = np.asarray(ring, dtype=float).reshape(-1, 2)
    x0, x1, y0, y1 = box
    for axis, bound, keep_greater in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        if p.shape[0] == 0:
            break
        q = np.roll(p, -1, axis=0)
        inside_p = p[:, axis] >= bound if keep_greater else p[:, axis] <= bound
        inside_q = np.roll(inside_p, -1)
        dp = p[:, axis] - bound
        dq = q[:, axis] - bound
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(dp != dq, dp / (dp - dq), 0.0)
        cross = p + (q - p) * t[:, None]
        # For edge p->q: in->in emit q; in->out emit cross; out->in emit cross, q; out->out none.
        first = np.where((inside_p & inside_q)[:, None], q, cross)
        emit_first = inside_q | inside_p
        emit_second = ~inside_p & inside_q
        pts = np.stack([first, q], axis=1)
        mask = np.stack([emit_first, emit_second], axis=1)
        p = pts[mask]
    return p


def clip_polyline(line: ArrayLike, box: tuple[float, float, float, float]) -> list[FloatArray]:
    """Pieces of a polyline ``(N, 2)`` near ``box``: vertices inside it and their neighbours (so
    segments entering or leaving are kept whole). Segments with both ends outside are dropped,
    which is harmless when ``box`` has a margin around the view."""
    p = np.asarray(line, dtype=float).reshape(-1, 2)
    x0, x1, y0, y1 = box
    inside = (p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1)
    keep = inside.copy()
    keep[1:] |= inside[:-1]
    keep[:-1] |= inside[1:]
    if keep.all():
        return [p]
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return []
    cut = np.flatnonzero(np.diff(idx) > 1) + 1
    return [p[run] for run in np.split(idx, cut) if run.size > 1]


def densify(line: ArrayLike, max_step: float) -> FloatArray:
    """Polyline or ring ``(N, 2)`` with vertices added so that no segment is longer than
    ``max_step`` in either coordinate (evenly along each segment; the closing segment of a ring
    is not added). Used before projecting edges made straight in lon/lat by a cut."""
    p = np.asarray(line, dtype=float).reshape(-1, 2)
    if len(p) < 2:
        return p
    d = np.abs(np.diff(p, axis=0)).max(axis=1)
    n = np.maximum(np.ceil(d / max_step).astype(np.int64), 1)
    if (n == 1).all():
        return p
    seg = np.repeat(np.arange(len(n)), n)
    t = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    frac = (t / n[seg])[:, None]
    out = p[seg] + (p[seg + 1] - p[seg]) * frac
    return np.vstack([out, p[-1:]])
