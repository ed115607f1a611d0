"""Regions as smooth, closed shapes on a map (numpy, scipy and contourpy; no drawing here).

Three ways a region becomes a shape, by what the estimate holds:

- A posterior (``Estimate.posterior``, probabilistic methods): :func:`credible_contours` puts its
  mass on a raster of the map's own resolution (about 400 pixels across the view, not the
  estimator's cells), smooths it with a Gaussian of half a cell (so that the cells' edges and the
  prior's cities do not show as a comb), and draws the contours that hold 50 % and 90 % of the
  posterior (highest density first). Holes appear only where the smoothed density really dips.
- A feasible region of hard constraints (CBG, ``level`` None): :func:`disc_intersection_outline`,
  the exact outline of the intersection of the landmarks' discs (arcs of the circles themselves
  between their exact crossing points), not the grid cells that approximate it.
- Any other region (e.g. read back from GeoJSON): :func:`smoothed_region`, the region's indicator
  on the raster, smoothed by a quarter of its cell size and cut at one half.

Every contour is closed: the raster has an empty border.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rttgeo.errors import require
from rttgeo.geo.density import CellDensity
from rttgeo.geo.grid import cell_area_km2, cell_index, level_shape
from rttgeo.geo.sphere import from_unit_vectors, to_unit_vectors
from rttgeo.plot.view import MapView
from rttgeo.units import EARTH_RADIUS_KM

__all__ = [
    "RegionShape",
    "credible_contours",
    "disc_intersection_outline",
    "smoothed_region",
]

FloatArray = NDArray[np.float64]

#: Pixels across the longer side of a view's raster.
RASTER_PX = 400
#: Smallest smoothing of a posterior, as a share of the view's longer side (1.2 %: 12 km on a map
#: 1,000 km across, 84 km on a continent): detail finer than that is not read on a map anyway,
#: and a posterior over cities would otherwise draw a lace of rings at continental scale.
MAP_SMOOTHING = 0.012


@dataclass
class RegionShape:
    """Closed contours of a region in projected km, per level.

    ``outlines[level]``: closed (N, 2) rings (first vertex repeated last); ``fills[level]``:
    (vertices, matplotlib path codes) of the filled area above that level's threshold, holes
    included; ``area_km2[level]``: the true area of that filled area (pixels weighted by the
    projection's area scale); ``smoothing_km``: the Gaussian's sigma.
    """

    outlines: dict[float, list[FloatArray]] = field(default_factory=dict)
    fills: dict[float, list[tuple[FloatArray, NDArray[np.uint8]]]] = field(default_factory=dict)
    area_km2: dict[float, float] = field(default_factory=dict)
    smoothing_km: float = float("nan")
    bands: list[tuple[float, float, list[tuple[FloatArray, NDArray[np.uint8]]]]] = field(
        default_factory=list
    )


@dataclass(frozen=True)
class _Raster:
    x: FloatArray  # (nx,) pixel centres, km
    y: FloatArray  # (ny,)
    pixel_km: float
    true_area_km2: FloatArray  # (ny, nx) area on the sphere of each pixel

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.y), len(self.x)


def _raster(view: MapView, margin: float = 0.05) -> _Raster:
    mx, my = margin * view.width_km, margin * view.height_km
    x0, x1, y0, y1 = view.x0_km - mx, view.x1_km + mx, view.y0_km - my, view.y1_km + my
    px = max(x1 - x0, y1 - y0) / RASTER_PX
    x = np.arange(x0 + px / 2.0, x1, px)
    y = np.arange(y0 + px / 2.0, y1, px)
    gx, gy = np.meshgrid(x, y)
    area = px * px / view.projection.area_scale(gx, gy)
    if view.world:  # outside the globe's outline nothing is on the Earth
        lat, lon = view.projection.inverse(gx, gy)
        back = view.projection.forward(lat, lon)
        off = np.hypot(back[0] - gx, back[1] - gy) > px
        area = np.where(off, 0.0, area)
    return _Raster(x, y, px, area)


def _gaussian(z: FloatArray, sigma_px: float) -> FloatArray:
    if sigma_px < 0.3:
        return z
    from scipy.ndimage import gaussian_filter

    return np.asarray(gaussian_filter(z, sigma_px, mode="constant", cval=0.0), dtype=float)


def _density_raster(view: MapView, posterior: CellDensity, r: _Raster) -> FloatArray:
    """Probability per km² on the raster, before smoothing (cells larger than two pixels are
    sampled at pixel centres; smaller ones are summed into the pixel holding their centre)."""
    level = posterior.level
    cell_km = math.sqrt(cell_area_km2(level))
    if cell_km >= 2.0 * r.pixel_km:
        gx, gy = np.meshgrid(r.x, r.y)
        lat, lon = view.projection.inverse(gx, gy)
        rows, cols = cell_index(level, lat, lon)
        nc = level_shape(level)[1]
        keys = posterior.rows * nc + posterior.cols
        order = np.argsort(keys)
        q = rows * nc + cols
        pos = np.clip(np.searchsorted(keys[order], q), 0, len(keys) - 1)
        hit = keys[order][pos] == q
        dens = np.where(hit, posterior.density_per_km2()[order][pos], 0.0)
        if not view.world:
            far = ~np.isfinite(view.project_points(lat, lon)[0])
            dens = np.where(far, 0.0, dens)
        return np.where(r.true_area_km2 > 0, dens, 0.0)
    from rttgeo.geo.grid import cell_centers

    clat, clon = cell_centers(level, posterior.rows, posterior.cols)
    cx, cy = view.project_points(clat, clon)
    ok = np.isfinite(cx)
    ix = np.floor((cx[ok] - (r.x[0] - r.pixel_km / 2.0)) / r.pixel_km).astype(np.int64)
    iy = np.floor((cy[ok] - (r.y[0] - r.pixel_km / 2.0)) / r.pixel_km).astype(np.int64)
    inside = (ix >= 0) & (ix < len(r.x)) & (iy >= 0) & (iy < len(r.y))
    mass = np.zeros(r.shape)
    np.add.at(mass, (iy[inside], ix[inside]), posterior.mass[ok][inside])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(r.true_area_km2 > 0, mass / r.true_area_km2, 0.0)


def _pad(z: FloatArray, r: _Raster) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``z`` with a border of zeros (so that every contour closes) and the padded axes."""
    p = r.pixel_km
    return (
        np.pad(z, 1),
        np.concatenate([[r.x[0] - p], r.x, [r.x[-1] + p]]),
        np.concatenate([[r.y[0] - p], r.y, [r.y[-1] + p]]),
    )


def _paths(pts: Sequence[object], codes: Sequence[object]) -> list[tuple[FloatArray, NDArray[np.uint8]]]:
    return [
        (np.asarray(p, dtype=float), np.asarray(c, dtype=np.uint8)) for p, c in zip(pts, codes, strict=True)
    ]


def _rings_of(points: FloatArray, codes: NDArray[np.uint8]) -> list[FloatArray]:
    """The closed rings of one path (split where a ring starts: code MOVETO = 1)."""
    starts = np.flatnonzero(codes == 1)
    return [r for r in np.split(points, starts[1:]) if len(r) >= 4]


def _ring_area(ring: FloatArray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _drop_small(
    paths: list[tuple[FloatArray, NDArray[np.uint8]]], min_area_km2: float
) -> list[tuple[FloatArray, NDArray[np.uint8]]]:
    """Polygons (outer ring, then holes) without islands or holes smaller than ``min_area_km2``
    in the plane: features finer than the data resolve are not real."""
    out = []
    for pts, codes in paths:
        rings = _rings_of(pts, codes)
        if not rings or abs(_ring_area(rings[0])) < min_area_km2:
            continue
        kept = [rings[0]] + [h for h in rings[1:] if abs(_ring_area(h)) >= min_area_km2]
        new_codes = []
        for r in kept:
            c = np.full(len(r), 2, dtype=np.uint8)  # LINETO
            c[0], c[-1] = 1, 79  # MOVETO, CLOSEPOLY
            new_codes.append(c)
        out.append((np.concatenate(kept), np.concatenate(new_codes)))
    return out


def _contour_shapes(
    z: FloatArray,
    r: _Raster,
    view: MapView,
    thresholds: dict[float, float],
    shape: RegionShape,
    min_area_km2: float,
) -> None:
    """Fills, outlines and areas of ``z`` >= each threshold, into ``shape`` (keyed like
    thresholds), without features smaller than ``min_area_km2``. The outlines are the fills' own
    rings, so that what is outlined is what is filled; areas are true areas (the plane's divided
    by the projection's area scale at each ring's centre)."""
    contourpy = require("contourpy", "plot")
    zp, xp, yp = _pad(z, r)
    gen = contourpy.contour_generator(xp, yp, zp, fill_type="OuterCode")
    top = float(np.nanmax(zp)) * 1.0001 + 1e-300
    for level, t in thresholds.items():
        if not np.isfinite(t) or t <= 0 or t >= top:
            continue
        pts, codes = gen.filled(t, top)
        fills = _drop_small(_paths(pts, codes), min_area_km2)
        rings = [ring for p, c in fills for ring in _rings_of(p, c)]
        shape.fills[level] = fills
        shape.outlines[level] = rings
        area = 0.0
        for ring in rings:
            cx, cy = ring[:-1].mean(axis=0)
            area += _ring_area(ring) / float(view.projection.area_scale(cx, cy))
        shape.area_km2[level] = abs(area)


def credible_contours(
    view: MapView,
    posterior: CellDensity,
    levels: Sequence[float] = (0.5, 0.9),
    *,
    band_levels: Sequence[float] = (0.25, 0.5, 0.75, 0.9),
) -> RegionShape:
    """Contours holding ``levels`` of the posterior's mass, smoothed at the map's resolution.

    The raster spans the view (plus 5 %); the posterior is smoothed by a Gaussian of sigma = half
    the posterior's cell size, or :data:`MAP_SMOOTHING` of the view's size if larger; the threshold
    of level p is the density above which the smoothed raster holds mass p of the whole posterior
    (mass outside the view counts towards the total, so a level the view cannot hold gets no
    contour). ``band_levels``
    give the shaded bands (filled between consecutive thresholds), densest first.
    """
    r = _raster(view)
    dens = _density_raster(view, posterior, r)
    view_km = max(view.width_km, view.height_km)
    sigma_km = max(0.5 * math.sqrt(cell_area_km2(posterior.level)), MAP_SMOOTHING * view_km)
    smooth = _gaussian(dens, sigma_km / r.pixel_km)
    mass = smooth * r.true_area_km2
    flat = mass.ravel()
    order = np.argsort(-smooth.ravel(), kind="stable")
    cum = np.cumsum(flat[order])
    total_view = float(cum[-1]) if cum.size else 0.0
    # Smoothing moves a little mass across the view's edge; the posterior's own mass in view says
    # how much of the whole the raster holds.
    in_view = _mass_in_view(view, posterior)
    scale = in_view / total_view if total_view > 0 else 0.0

    def threshold(p: float) -> float:
        k = int(np.searchsorted(cum * scale, p))
        return float(smooth.ravel()[order][k]) if k < cum.size else float("nan")

    wanted = sorted({*levels, *band_levels})
    thresholds = {p: threshold(p) for p in wanted}
    shape = RegionShape(smoothing_km=sigma_km)
    # Islands and holes finer than the posterior resolves, or than the smoothing disc, are not shown.
    min_area = max(0.5 * cell_area_km2(posterior.level), math.pi * sigma_km**2)
    _contour_shapes(smooth, r, view, {p: thresholds[p] for p in levels}, shape, min_area)
    # Shaded bands: between the thresholds of consecutive band levels (densest band first).
    contourpy = require("contourpy", "plot")
    zp, xp, yp = _pad(smooth, r)
    gen = contourpy.contour_generator(xp, yp, zp, fill_type="OuterCode")
    top = float(np.nanmax(zp)) * 1.0001 + 1e-300
    upper = top
    for p in sorted(band_levels):
        t = thresholds[p]
        if not np.isfinite(t) or t <= 0 or t >= upper:
            continue
        pts, codes = gen.filled(t, upper)
        shape.bands.append((p, t, _drop_small(_paths(pts, codes), min_area)))
        upper = t
    return shape


def _mass_in_view(view: MapView, posterior: CellDensity) -> float:
    from rttgeo.geo.grid import cell_centers

    lat, lon = cell_centers(posterior.level, posterior.rows, posterior.cols)
    x, y = view.project_points(lat, lon)
    return float(posterior.mass[np.isfinite(x) & view.contains_xy(np.nan_to_num(x, nan=np.inf), y)].sum())


def smoothed_region(view: MapView, region: object, cell_km: float | None = None) -> RegionShape:
    """A region's outline smoothed at a quarter of its cell size (``cell_km``; for a region of grid
    cells, their size), cut at one half of the smoothed indicator. ``region`` needs ``contains(lat,
    lon)`` (a CellRegion or a region read back from GeoJSON). Keyed by level 1.0 in the result."""
    r = _raster(view)
    gx, gy = np.meshgrid(r.x, r.y)
    lat, lon = view.projection.inverse(gx, gy)
    inside = np.asarray(region.contains(lat, lon), dtype=float)  # type: ignore[attr-defined]
    if not view.world:
        inside = np.where(np.isfinite(view.project_points(lat, lon)[0]), inside, 0.0)
    inside = np.where(r.true_area_km2 > 0, inside, 0.0)
    if cell_km is None:
        lvl = getattr(region, "level", None)
        cell_km = math.sqrt(cell_area_km2(lvl)) if isinstance(lvl, int) else 2.0 * r.pixel_km
    sigma_km = max(0.25 * cell_km, r.pixel_km)
    smooth = _gaussian(inside, sigma_km / r.pixel_km)
    shape = RegionShape(smoothing_km=sigma_km)
    _contour_shapes(smooth, r, view, {1.0: 0.5}, shape, min(cell_km**2, 4.0 * r.pixel_km**2))
    return shape


# ----------------------------------------------------------------------------- exact disc outline


def _frame(c: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Two unit vectors completing ``c`` to an orthonormal frame."""
    a = np.cross(c, [0.0, 0.0, 1.0])
    if np.linalg.norm(a) < 1e-9:
        a = np.cross(c, [1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    return a, np.cross(c, a)


def _circle_points(c: FloatArray, theta: float, angles: FloatArray) -> FloatArray:
    """Points (K, 3) at angular radius ``theta`` around unit vector ``c``, at ``angles`` (rad)."""
    a, b = _frame(c)
    ring = np.cos(angles)[:, None] * a + np.sin(angles)[:, None] * b
    return math.cos(theta) * c + math.sin(theta) * ring


def _crossings(c1: FloatArray, t1: float, c2: FloatArray, t2: float) -> FloatArray:
    """The (0 or 2, 3) points where two circles (centre, angular radius) cross."""
    d = float(np.clip(c1 @ c2, -1.0, 1.0))
    if abs(d) > 1.0 - 1e-15:
        return np.zeros((0, 3))
    # x = a c1 + b c2 + g (c1 x c2), with x.c1 = cos t1, x.c2 = cos t2, |x| = 1.
    det = 1.0 - d * d
    a = (math.cos(t1) - d * math.cos(t2)) / det
    b = (math.cos(t2) - d * math.cos(t1)) / det
    base = a * c1 + b * c2
    n = np.cross(c1, c2)
    rest = 1.0 - float(base @ base)
    if rest < 0:
        return np.zeros((0, 3))
    g = math.sqrt(rest) / float(np.linalg.norm(n))
    return np.array([base + g * n, base - g * n])


def disc_intersection_outline(
    lat_deg: Sequence[float],
    lon_deg: Sequence[float],
    radius_km: Sequence[float],
    *,
    points_per_circle: int = 1440,
) -> FloatArray | None:
    """The exact outline of the intersection of discs on the sphere, as a closed (N, 2) lon/lat
    ring (counter-clockwise, first vertex repeated), or None when it is empty, not convex or not
    found.

    Discs at least half the circumference cover the sphere and are ignored. Discs smaller than a
    hemisphere intersect in a convex set, whose boundary is made of arcs of the circles: each
    circle is sampled at ``points_per_circle`` points plus its exact crossings with the others,
    the points inside every other disc are kept (to 1 m), and they are ordered by bearing around
    an inner point. Vertices lie exactly on the circles; corners are exact. Only the tightest
    discs shape the outline, so they are added from the smallest until the outline lies inside
    every disc. Returns None when a disc of a hemisphere or more actually cuts the outline (the
    set need not be convex then), so that the caller can draw something else.
    """
    theta = np.asarray(radius_km, dtype=float) / EARTH_RADIUS_KM
    keep = np.isfinite(theta) & (theta > 0) & (theta < math.pi)
    if not keep.any():
        return None
    centres = to_unit_vectors(np.asarray(lat_deg, dtype=float)[keep], np.asarray(lon_deg, dtype=float)[keep])
    centres = centres.reshape(-1, 3)
    theta = theta[keep]
    small = np.flatnonzero(theta < math.pi / 2.0)
    big = np.flatnonzero(theta >= math.pi / 2.0)
    if small.size == 0:
        return None
    order = small[np.argsort(theta[small])]
    active = list(order[: min(6, len(order))])
    tol = 1e-3 / EARTH_RADIUS_KM  # 1 m
    for _ in range(len(order) + 1):
        pts = _outline_points(centres, theta, active, points_per_circle, tol)
        if pts is None:
            return None
        cos_all = pts @ centres[order].T
        violated = np.any(cos_all < np.cos(theta[order] + tol)[None, :], axis=0)
        new = [int(i) for i in order[violated] if int(i) not in active]
        if not new:
            break
        active.extend(new)
    else:  # pragma: no cover - each round adds a disc, so the loop ends by exhaustion
        return None
    if big.size and np.any(pts @ centres[big].T < np.cos(theta[big] + tol)[None, :]):
        return None
    # A disc of a hemisphere or more may also hold the whole outline and still cut a hole in it:
    # its circle then passes inside the intersection.
    ring_angles = np.linspace(0.0, 2.0 * math.pi, points_per_circle, endpoint=False)
    for i in big:
        circle = _circle_points(centres[i], float(theta[i]), ring_angles)
        if np.any(np.all(circle @ centres[active].T > np.cos(theta[active] - tol)[None, :], axis=1)):
            return None
    # Order by bearing around an inner point (the region is convex: every point is seen once).
    inner = pts.mean(axis=0)
    inner /= np.linalg.norm(inner)
    east = np.cross([0.0, 0.0, 1.0], inner)
    if np.linalg.norm(east) < 1e-9:
        east = np.array([0.0, 1.0, 0.0])
    east /= np.linalg.norm(east)
    north = np.cross(inner, east)
    ang = np.arctan2(pts @ north, pts @ east)
    ring = pts[np.argsort(ang)]
    lat, lon = from_unit_vectors(ring)
    lon = np.degrees(np.unwrap(np.radians(np.asarray(lon, dtype=float))))
    out = np.column_stack([lon, np.asarray(lat, dtype=float)])
    return np.vstack([out, out[:1]])


def _outline_points(
    centres: FloatArray, theta: FloatArray, active: list[int], n: int, tol: float
) -> FloatArray | None:
    """Points of the outline of the active discs' intersection: on each circle, the arcs between
    its crossings with the other circles whose middle lies inside every other disc, each sampled
    at least every 2 pi / ``n`` of angle, ends included (the corners, exactly)."""
    pts: list[FloatArray] = []
    for i in active:
        c, t = centres[i], float(theta[i])
        a, b = _frame(c)
        cuts = []
        for j in active:
            if j != i:
                for x in _crossings(c, t, centres[j], float(theta[j])):
                    cuts.append(math.atan2(float(x @ b), float(x @ a)))
        others = [j for j in active if j != i]
        cos_o = np.cos(theta[others] + tol)
        c_o = centres[others]

        def inside(q: FloatArray, c_o: FloatArray = c_o, cos_o: FloatArray = cos_o) -> NDArray[np.bool_]:
            return np.all(q @ c_o.T >= cos_o[None, :], axis=1)

        if not cuts:
            ring = _circle_points(c, t, np.linspace(0.0, 2.0 * math.pi, n, endpoint=False))
            if inside(ring[:1])[0]:
                pts.append(ring)
            continue
        ang = np.sort(np.mod(cuts, 2.0 * math.pi))
        ends = np.append(ang[1:], ang[0] + 2.0 * math.pi)
        mids = _circle_points(c, t, (ang + ends) / 2.0)
        for lo, hi, ok in zip(ang, ends, inside(mids), strict=True):
            if ok:
                k = max(math.ceil((hi - lo) / (2.0 * math.pi) * n), 2)
                pts.append(_circle_points(c, t, np.linspace(lo, hi, k + 1)))
    if not pts:
        return None
    out = np.vstack(pts)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out if len(out) >= 3 else None
