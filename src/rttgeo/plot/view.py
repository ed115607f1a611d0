"""The view of a map: a projection and the rectangle of the projected plane (km) that the map shows.

A regional view is azimuthal (equidistant by default, or Lambert equal-area) and centred on what the
map must show (the region, the point estimate, the truth), so that distances and areas read near
the estimate are true; a view wider than about 4,500 km from its centre becomes a world view in the
Equal Earth projection (equal-area). Everything is drawn in projected km:
:meth:`MapView.project_points`, :meth:`MapView.project_lines` and :meth:`MapView.project_polygon`
take lon/lat geometry and return what to draw, cut where a feature leaves the visible side of the
globe or crosses the seam of a world map, so that no line is drawn across the map by mistake.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rttgeo.geo.sphere import from_unit_vectors, to_unit_vectors
from rttgeo.models import Estimate
from rttgeo.plot.geometry import clip_polygon, densify, geojson_rings, lon_offsets, lon_window
from rttgeo.plot.projection import Azimuthal, EqualEarth, Projection, angular_distance_rad
from rttgeo.units import EARTH_RADIUS_KM

__all__ = ["MapView", "estimate_extent_points", "map_view", "map_window", "view_of_points"]

FloatArray = NDArray[np.float64]

#: Largest angle (degrees) from the centre that a regional (azimuthal) view may reach; beyond it the
#: view is a world map. At 40 degrees (4,450 km) the AEQD scale across is +8.6 %.
MAX_REGIONAL_DEG = 40.0
#: Points farther than this from an azimuthal view's centre are not drawn (the far side of the globe).
VISIBLE_DEG = 100.0


@dataclass(frozen=True)
class MapView:
    """A projection and the box (``x0_km``, ``x1_km``, ``y0_km``, ``y1_km``) it shows."""

    projection: Projection
    x0_km: float
    x1_km: float
    y0_km: float
    y1_km: float

    @property
    def world(self) -> bool:
        """Whether this is a world view (Equal Earth) rather than a regional (azimuthal) one."""
        return isinstance(self.projection, EqualEarth)

    @property
    def box(self) -> tuple[float, float, float, float]:
        return self.x0_km, self.x1_km, self.y0_km, self.y1_km

    @property
    def width_km(self) -> float:
        return self.x1_km - self.x0_km

    @property
    def height_km(self) -> float:
        return self.y1_km - self.y0_km

    def contains_xy(self, x_km: ArrayLike, y_km: ArrayLike) -> NDArray[np.bool_]:
        x = np.asarray(x_km)
        y = np.asarray(y_km)
        return (x >= self.x0_km) & (x <= self.x1_km) & (y >= self.y0_km) & (y <= self.y1_km)

    def boundary_lonlat(self, n: int = 64) -> tuple[FloatArray, FloatArray]:
        """(lat_deg, lon_deg) of ``4 n`` points around the box (for an overview's outline)."""
        t = np.linspace(0.0, 1.0, n, endpoint=False)
        x0, x1, y0, y1 = self.box
        xs = np.concatenate([x0 + t * (x1 - x0), np.full(n, x1), x1 - t * (x1 - x0), np.full(n, x0)])
        ys = np.concatenate([np.full(n, y0), y0 + t * (y1 - y0), np.full(n, y1), y1 - t * (y1 - y0)])
        return self.projection.inverse(xs, ys)

    def lonlat_window(self) -> tuple[float, float, float, float]:
        """See :attr:`window_lonlat` (computed once per view)."""
        return self.window_lonlat

    @cached_property
    def window_lonlat(self) -> tuple[float, float, float, float]:
        """A (lon0, lon1, lat0, lat1) window holding everything the view shows, with a margin;
        ``lon1`` may pass 180 (see :mod:`rttgeo.plot.geometry`). Used to pick and cut features
        before projecting them. A world view's window is its seam to seam, pole to pole."""
        p = self.projection
        if self.world:
            return p.lon0_deg - 180.0, p.lon0_deg + 180.0, -90.0, 90.0
        gx, gy = np.meshgrid(
            np.linspace(self.x0_km, self.x1_km, 25), np.linspace(self.y0_km, self.y1_km, 25)
        )
        lat, lon = p.inverse(gx.ravel(), gy.ravel())
        blat, blon = self.boundary_lonlat(96)
        lat, lon = np.concatenate([lat, blat]), np.concatenate([lon, blon])
        margin = 2.0
        lat0, lat1 = float(lat.min()) - margin, float(lat.max()) + margin
        for pole in (90.0, -90.0):
            px, py = p.forward(pole, 0.0)
            if bool(self.contains_xy(px, py)):
                lat0, lat1 = (lat0, 90.0) if pole > 0 else (-90.0, lat1)
                return -180.0, 180.0, max(lat0, -90.0), min(lat1, 90.0)
        # Near a pole a degree of longitude is short: widen the margin accordingly.
        mlon = margin / max(math.cos(math.radians(min(max(abs(lat0), abs(lat1)), 85.0))), 0.1)
        lon0, lon1 = lon_window(lon, pad_deg=mlon)
        return lon0, lon1, max(lat0, -90.0), min(lat1, 90.0)

    # -- projecting features ---------------------------------------------------------------------

    def _far(self, lat: FloatArray, lon: FloatArray) -> NDArray[np.bool_]:
        if self.world:
            return np.zeros(lat.shape, dtype=bool)
        p = self.projection
        return np.degrees(angular_distance_rad(p.lat0_deg, p.lon0_deg, lat, lon)) > VISIBLE_DEG

    def project_points(self, lat_deg: ArrayLike, lon_deg: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Projected (x_km, y_km) of points; NaN for points on the hidden side of the globe."""
        lat = np.asarray(lat_deg, dtype=float)
        lon = np.asarray(lon_deg, dtype=float)
        x, y = self.projection.forward(lat, lon)
        far = self._far(lat, lon)
        return np.where(far, np.nan, x), np.where(far, np.nan, y)

    def project_lines(self, lat_deg: ArrayLike, lon_deg: ArrayLike) -> list[FloatArray]:
        """A lon/lat polyline as projected (N, 2) pieces: cut where it goes out of sight (regional
        views) or crosses the seam (world views, with the crossing point added on both sides)."""
        lat = np.asarray(lat_deg, dtype=float).ravel()
        lon = np.asarray(lon_deg, dtype=float).ravel()
        if lat.size < 2:
            return []
        if self.world:
            return self._seam_pieces(lat, lon)
        far = self._far(lat, lon)
        x, y = self.projection.forward(lat, lon)
        xy = np.column_stack([x, y])
        keep = np.flatnonzero(~far)
        if keep.size < 2:
            return []
        cut = np.flatnonzero(np.diff(keep) > 1) + 1
        pieces = [xy[run] for run in np.split(keep, cut) if run.size >= 2]
        # A line that closes on itself (a circle) and is cut only by the array's ends is one piece.
        if (
            len(pieces) >= 2
            and keep[0] == 0
            and keep[-1] == lat.size - 1
            and np.allclose(xy[0], xy[-1], atol=1e-6)
        ):
            pieces = [np.vstack([pieces[-1], pieces[0][1:]]), *pieces[1:-1]]
        return pieces

    def _seam_pieces(self, lat: FloatArray, lon: FloatArray) -> list[FloatArray]:
        """World view: split a polyline where it crosses the seam, ending and starting the pieces
        at the crossing point (linear in lon/lat between the two vertices)."""
        proj = self.projection
        assert isinstance(proj, EqualEarth)
        rel = proj.relative_lon_deg(lon)
        jumps = np.flatnonzero(np.abs(np.diff(rel)) > 180.0)
        lat_parts, rel_parts = np.split(lat, jumps + 1), np.split(rel, jumps + 1)
        for k, j in enumerate(jumps):
            a, b = rel[j], rel[j + 1]
            edge = 180.0 if a > 0 else -180.0
            t = (edge - a) / ((b + 2.0 * edge) - a)
            lat_x = lat[j] + t * (lat[j + 1] - lat[j])
            side = edge * (1.0 - 1e-9)
            lat_parts[k] = np.append(lat_parts[k], lat_x)
            rel_parts[k] = np.append(rel_parts[k], side)
            lat_parts[k + 1] = np.insert(lat_parts[k + 1], 0, lat_x)
            rel_parts[k + 1] = np.insert(rel_parts[k + 1], 0, -side)
        out = []
        for pl, pr in zip(lat_parts, rel_parts, strict=True):
            if pl.size >= 2:
                x, y = proj.forward(pl, pr + proj.lon0_deg)
                out.append(np.column_stack([x, y]))
        return out

    def project_polygon(
        self, rings: Sequence[ArrayLike], *, clip_margin: float = 0.15
    ) -> list[FloatArray]:
        """Rings (exterior first, (N, 2) lon/lat) of one polygon as projected rings to fill.

        The polygon is cut to :meth:`lonlat_window` (world views: exactly at the seam) in lon/lat,
        densified so that cut edges follow the map's curves, projected, then (regional views) cut to
        the box widened by ``clip_margin`` of its size. Orientation is kept (holes stay holes under
        the non-zero rule when the producer oriented them oppositely, as :func:`geojson_rings` does).
        """
        lon0, lon1, lat0, lat1 = self.lonlat_window()
        if self.world:  # cut just inside the seam, so that no vertex lands on the other side
            lon0, lon1 = lon0 + 1e-7, lon1 - 1e-7
        mx = 0.0 if self.world else clip_margin * self.width_km
        my = 0.0 if self.world else clip_margin * self.height_km
        pbox = (self.x0_km - mx, self.x1_km + mx, self.y0_km - my, self.y1_km + my)
        out: list[FloatArray] = []
        arrs = [np.asarray(r, dtype=float).reshape(-1, 2) for r in rings]
        arrs = [a for a in arrs if len(a) >= 3]
        if not arrs:
            return out
        rmin = min(float(a[:, 0].min()) for a in arrs)
        rmax = max(float(a[:, 0].max()) for a in arrs)
        for off in lon_offsets(lon0, lon1, rmin, rmax):
            for a in arrs:
                c = a + np.array([off, 0.0])
                inside = (
                    c[:, 0].min() >= lon0
                    and c[:, 0].max() <= lon1
                    and c[:, 1].min() >= lat0
                    and c[:, 1].max() <= lat1
                )
                if not inside:  # cut, and give the cut edges vertices to follow the map's curves
                    c = clip_polygon(c, (lon0, lon1, lat0, lat1))
                    if len(c) < 3:
                        continue
                    c = densify(c, 0.5)
                x, y = self.projection.forward(c[:, 1], c[:, 0])
                xy = np.column_stack([x, y])
                if not self.world and not (
                    x.min() >= pbox[0] and x.max() <= pbox[1] and y.min() >= pbox[2] and y.max() <= pbox[3]
                ):
                    xy = clip_polygon(xy, pbox)
                if len(xy) >= 3:
                    out.append(xy)
        return out


def view_of_points(
    lat_deg: ArrayLike,
    lon_deg: ArrayLike,
    *,
    aspect: float = 1.45,
    min_height_km: float = 650.0,
    pad: float = 0.12,
    kind: str = "aeqd",
    world_lon0_deg: float | None = None,
) -> MapView:
    """The view showing every point, padded by ``pad`` of the extent (at least 60 km), at least
    ``min_height_km`` tall, widened to ``aspect`` (width / height); azimuthal ``kind`` ("aeqd" or
    "laea") centred on the points, or a world view (Equal Earth) when they spread farther than
    :data:`MAX_REGIONAL_DEG` from their centre or cover the globe."""
    lat = np.asarray(lat_deg, dtype=float).ravel()
    lon = np.asarray(lon_deg, dtype=float).ravel()
    ok = np.isfinite(lat) & np.isfinite(lon)
    lat, lon = lat[ok], lon[ok]
    if lat.size == 0:
        return world_view(0.0 if world_lon0_deg is None else world_lon0_deg)
    u = to_unit_vectors(lat, lon).reshape(-1, 3)
    m = u.mean(axis=0)
    if np.linalg.norm(m) < 1e-6:
        return world_view(0.0 if world_lon0_deg is None else world_lon0_deg)
    clat, clon = (float(v) for v in from_unit_vectors(m / np.linalg.norm(m)))
    # Centre of the bounding cap: a few steps towards the farthest point (minimax centre).
    for _ in range(30):
        d = angular_distance_rad(clat, clon, lat, lon)
        k = int(np.argmax(d))
        c = to_unit_vectors(clat, clon).ravel()
        new = c + 0.15 * (u[k] - c)
        clat, clon = (float(v) for v in from_unit_vectors(new / np.linalg.norm(new)))
    reach = float(np.degrees(angular_distance_rad(clat, clon, lat, lon).max()))
    if reach > MAX_REGIONAL_DEG:
        return world_view(clon if world_lon0_deg is None else world_lon0_deg)
    proj = Azimuthal(round(clat, 3), round(clon, 3), kind)
    x, y = proj.forward(lat, lon)
    x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
    px = max(pad * (x1 - x0), 60.0)
    py = max(pad * (y1 - y0), 60.0)
    x0, x1, y0, y1 = x0 - px, x1 + px, y0 - py, y1 + py
    if y1 - y0 < min_height_km:
        grow = (min_height_km - (y1 - y0)) / 2.0
        y0, y1 = y0 - grow, y1 + grow
    w, h = x1 - x0, y1 - y0
    if w < aspect * h:
        grow = (aspect * h - w) / 2.0
        x0, x1 = x0 - grow, x1 + grow
    else:
        grow = (w / aspect - h) / 2.0
        y0, y1 = y0 - grow, y1 + grow
    # Never show the far side of the globe: keep the box within 90 degrees of the centre.
    lim = EARTH_RADIUS_KM * math.pi / 2.0 * (0.95 if kind == "aeqd" else 0.68)
    x0, x1, y0, y1 = max(x0, -lim), min(x1, lim), max(y0, -lim), min(y1, lim)
    return MapView(proj, x0, x1, y0, y1)


def world_view(lon0_deg: float = 0.0) -> MapView:
    """The whole Earth in Equal Earth, central meridian ``lon0_deg`` (rounded to 10 degrees)."""
    proj = EqualEarth(float(round(((lon0_deg + 180.0) % 360.0 - 180.0) / 10.0) * 10.0))
    w, h = proj.half_width_km(), proj.half_height_km()
    return MapView(proj, -w * 1.01, w * 1.01, -h * 1.02, h * 1.02)


def estimate_extent_points(
    estimate: Estimate, truth: tuple[float, float] | None = None
) -> tuple[FloatArray, FloatArray]:
    """(lat_deg, lon_deg) of what a map of ``estimate`` must show: the point, the truth, the
    region (its cells' centres and corners: the 90 % credible cells of a posterior, else the
    region's), or without a region the two landmarks with the smallest RTT."""
    lats: list[float] = [estimate.lat_deg]
    lons: list[float] = [estimate.lon_deg]
    if truth is not None:
        lats.append(truth[0])
        lons.append(truth[1])
    cells = None
    if estimate.posterior is not None:
        cells = estimate.posterior.hpd(0.9)
    elif estimate.region is not None and not estimate.region.empty and hasattr(estimate.region, "rows"):
        cells = estimate.region
    if cells is not None and not cells.empty:
        from rttgeo.geo.grid import cell_bounds

        la0, la1, lo0, lo1 = cell_bounds(cells.level, cells.rows, cells.cols)
        lats.extend(np.concatenate([la0, la1, la0, la1]).tolist())
        lons.extend(np.concatenate([lo0, lo0, lo1, lo1]).tolist())
    elif estimate.region is not None and not estimate.region.empty:
        for poly in geojson_rings(estimate.region.to_geojson()):
            lons.extend(poly[0][:, 0].tolist())
            lats.extend(poly[0][:, 1].tolist())
    else:
        near = sorted((d for d in estimate.landmarks if np.isfinite(d.rtt_ms)), key=lambda d: d.rtt_ms)[:2]
        lats.extend(d.lat_deg for d in near)
        lons.extend(d.lon_deg for d in near)
    return np.asarray(lats, dtype=float), np.asarray(lons, dtype=float)


def map_view(
    estimate: Estimate,
    *,
    true_lat_deg: float | None = None,
    true_lon_deg: float | None = None,
    aspect: float = 1.45,
    kind: str = "aeqd",
) -> MapView:
    """The view of a map of ``estimate``: its region, point and truth, padded (see
    :func:`view_of_points`)."""
    truth = None if true_lat_deg is None or true_lon_deg is None else (true_lat_deg, true_lon_deg)
    lat, lon = estimate_extent_points(estimate, truth)
    return view_of_points(lat, lon, aspect=aspect, kind=kind)


def map_window(
    estimate: Estimate,
    *,
    true_lat_deg: float | None = None,
    true_lon_deg: float | None = None,
    aspect: float = 1.45,
) -> tuple[float, float, float, float]:
    """The (lon0, lon1, lat0, lat1) window around :func:`map_view`'s view (``lon1`` may pass 180)."""
    return map_view(
        estimate, true_lat_deg=true_lat_deg, true_lon_deg=true_lon_deg, aspect=aspect
    ).lonlat_window()
