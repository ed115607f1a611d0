"""The basemap: land, coastlines, country borders and graticule, from the bundled Natural Earth data.

Drawn in the projected km of a :class:`~rttgeo.plot.view.MapView`: features are picked and cut in
lon/lat to the view's window (which may extend past 180 degrees; every feature is taken once per
360-degree copy that meets it, see :mod:`rttgeo.plot.geometry`), then projected. Nothing is
fetched: the data ship with the package (``_mpl.borders``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from rttgeo.plot import _mpl
from rttgeo.plot.geometry import clip_polyline, lon_offsets
from rttgeo.plot.view import MapView

__all__ = [
    "basemap_legend",
    "draw_basemap",
    "draw_graticule",
    "drop_artificial_edges",
    "lat_label",
    "lon_label",
]


def _bbox(lines: list[np.ndarray]) -> np.ndarray:
    """(K, 4) lon0, lon1, lat0, lat1 of each line."""
    if not lines:
        return np.zeros((0, 4))
    return np.array([[r[:, 0].min(), r[:, 0].max(), r[:, 1].min(), r[:, 1].max()] for r in lines])


def _coarse(line: np.ndarray, step: int) -> np.ndarray:
    """Every ``step``-th vertex, keeping the last (for the world overview)."""
    if len(line) <= 2 * step:
        return line
    return np.vstack([line[::step], line[-1:]])


@lru_cache(maxsize=2)
def _basemap_layers(coarse: bool) -> dict[str, Any]:
    """Land rings, coastlines and borders with their bounding boxes; ``coarse`` drops islands
    under 1 square degree and keeps every 6th vertex (the world overview needs no more)."""
    data = _mpl.borders()
    land = data["land"]
    coast = _coast_lines()
    borders = data["borders"]
    if coarse:

        def big(lines: list[np.ndarray]) -> list[np.ndarray]:
            b = _bbox(lines)
            keep = (b[:, 1] - b[:, 0]) * (b[:, 3] - b[:, 2]) >= 1.0
            return [_coarse(r, 6) for r, k in zip(lines, keep, strict=True) if k]

        land, coast, borders = big(land), big(coast), [_coarse(b, 6) for b in borders]
    return {
        "land": land,
        "land_bbox": _bbox(land),
        "coast": coast,
        "coast_bbox": _bbox(coast),
        "borders": borders,
        "borders_bbox": _bbox(borders),
    }


def _in_window(bbox: np.ndarray, off: float, window: tuple[float, float, float, float]) -> Any:
    lon0, lon1, lat0, lat1 = window
    return (
        (bbox[:, 0] + off <= lon1) & (bbox[:, 1] + off >= lon0) & (bbox[:, 2] <= lat1) & (bbox[:, 3] >= lat0)
    )


def _land_path(rings: list[np.ndarray]) -> Any:
    """One compound path of ``rings`` (filled by the non-zero winding rule)."""
    from matplotlib.path import Path as MplPath

    verts = np.concatenate(rings)
    codes = np.full(len(verts), MplPath.LINETO, dtype=np.uint8)
    first = np.cumsum([0] + [len(r) for r in rings[:-1]])
    codes[first] = MplPath.MOVETO
    return MplPath(verts, codes)


def drop_artificial_edges(ring: np.ndarray, seam_lon: bool) -> list[np.ndarray]:
    """Pieces of a closed ring without its edges along a pole (and, if ``seam_lon``, along the
    +-180 meridian where a polygon was split): those are cuts, not coastlines or region edges."""
    lon, lat = ring[:, 0], ring[:, 1]
    artificial = (np.abs(lat[:-1]) > 89.99) & (np.abs(lat[1:]) > 89.99)
    if seam_lon:
        on_seam = np.abs(np.abs(lon) - 180.0) < 1e-9
        artificial |= on_seam[:-1] & on_seam[1:]
    cut = np.flatnonzero(artificial) + 1
    return [part for part in np.split(ring, cut) if len(part) > 1]


@lru_cache(maxsize=1)
def _coast_lines() -> list[np.ndarray]:
    """Coastlines: land rings (closed) without the closure of Antarctica along the south pole."""
    out = []
    for r in _mpl.borders()["land"]:
        out.extend(drop_artificial_edges(np.vstack([r, r[:1]]), seam_lon=False))
    return out


@lru_cache(maxsize=1)
def _land_lon_extent() -> tuple[float, float]:
    """Longitude extent of the land rings (rings crossing 180 are stored continuous, up to ~190)."""
    rings = _mpl.borders()["land"]
    return min(float(r[:, 0].min()) for r in rings), max(float(r[:, 0].max()) for r in rings)


def lon_label(x: float, _pos: Any = None) -> str:
    """Longitude ``x`` (any multiple of 360 off) as ``12°E`` / ``170°W`` (a tick formatter)."""
    w = (x + 180.0) % 360.0 - 180.0
    if abs(abs(w) - 180.0) < 1e-9:
        return "180°"
    if abs(w) < 1e-9:
        return "0°"
    return f"{abs(w):g}°{'E' if w > 0 else 'W'}"


def lat_label(y: float, _pos: Any = None) -> str:
    """Latitude ``y`` as ``48°N`` / ``17.5°S`` (a tick formatter)."""
    if abs(y) < 1e-9:
        return "0°"
    return f"{abs(y):g}°{'N' if y > 0 else 'S'}"


def draw_basemap(ax: Any, view: MapView, *, coarse: bool = False, graticule: bool = True) -> None:
    """Land, coastlines and country borders of ``view`` on ``ax``, in projected km.

    Only features whose bounding box meets the view's lon/lat window are drawn, cut to it (small
    SVG files); ``coarse`` draws a decimated, rasterised world for overviews. Sets the limits and
    an equal aspect. ``graticule``: parallels and meridians, labelled on the left and bottom edges
    of a regional view. A world view is drawn as the globe's outline, filled with sea, without
    axes frame.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.patches import PathPatch

    window = view.lonlat_window()
    lon0, lon1 = window[:2]
    layers = _basemap_layers(coarse)
    if view.world:
        _draw_globe(ax, view)
    else:
        ax.set_facecolor(_mpl.SEA_COLOUR)
    land: list[np.ndarray] = []
    lines: dict[str, list[np.ndarray]] = {"coast": [], "borders": []}
    for off in lon_offsets(lon0, lon1, *_land_lon_extent()):
        hit = _in_window(layers["land_bbox"], off, window)
        for r, k in zip(layers["land"], hit, strict=True):
            if k:
                land.extend(view.project_polygon([r + np.array([off, 0.0])]))
        for name in lines:
            keep = _in_window(layers[f"{name}_bbox"], off, window)
            for r, k in zip(layers[name], keep, strict=True):
                if not k:
                    continue
                for piece in clip_polyline(r + np.array([off, 0.0]), window):
                    lines[name].extend(view.project_lines(piece[:, 1], piece[:, 0]))
    if land:
        # add_artist, not add_patch: the limits are set below, and updating them from the
        # vertices of a long Bezier-checked path costs seconds.
        ax.add_artist(
            PathPatch(
                _land_path(land),
                facecolor=_mpl.LAND_COLOUR,
                edgecolor="none",
                zorder=0,
                rasterized=coarse,  # the overview is an image in SVG: small files
            )
        )
    if not view.world:
        m = 0.1
        box = (
            view.x0_km - m * view.width_km,
            view.x1_km + m * view.width_km,
            view.y0_km - m * view.height_km,
            view.y1_km + m * view.height_km,
        )
        lines = {k: [p for ln in v for p in clip_polyline(ln, box)] for k, v in lines.items()}
    for name, colour, lw in (("coast", _mpl.COAST_COLOUR, 0.5), ("borders", _mpl.BORDER_COLOUR, 0.45)):
        if lines[name]:
            ax.add_collection(
                LineCollection(lines[name], colors=colour, linewidths=lw, zorder=1, rasterized=coarse),
                autolim=False,
            )
    ax.set_xlim(view.x0_km, view.x1_km)
    ax.set_ylim(view.y0_km, view.y1_km)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if graticule:
        draw_graticule(ax, view, labels=not view.world and not coarse)


def _draw_globe(ax: Any, view: MapView) -> None:
    """A world view's outline (the seam meridians and the pole lines), filled with sea."""
    from matplotlib.patches import Polygon

    proj = view.projection
    lat = np.linspace(-90.0, 90.0, 181)
    east = proj.forward(lat, np.full_like(lat, proj.lon0_deg + 179.999999))
    west = proj.forward(lat[::-1], np.full_like(lat, proj.lon0_deg - 179.999999))
    outline = np.column_stack([np.concatenate([east[0], west[0]]), np.concatenate([east[1], west[1]])])
    ax.add_patch(
        Polygon(outline, closed=True, facecolor=_mpl.SEA_COLOUR, edgecolor="#777777", lw=0.8, zorder=-1)
    )
    ax.set_facecolor("none")
    for side in ax.spines.values():
        side.set_visible(False)


def _nice_step(span_deg: float, target: int = 5) -> float:
    for step in (0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0):
        if span_deg / step <= target:
            return step
    return 30.0


def draw_graticule(ax: Any, view: MapView, *, labels: bool = True) -> None:
    """Parallels and meridians (thin dotted grey), every 0.5 to 30 degrees so that about five of
    each cross a regional view (30 on a world view); with ``labels`` the latitudes are written
    where parallels meet the left edge and the longitudes where meridians meet the bottom edge."""
    from matplotlib.collections import LineCollection

    lon0, lon1, lat0, lat1 = view.lonlat_window()
    if view.world:
        step_lat = step_lon = 30.0
    else:
        # Spans measured on the view itself (the window has margins and may hold a pole).
        blat, _ = view.boundary_lonlat(32)
        span_lat = float(blat.max() - blat.min())
        step_lat = _nice_step(span_lat)
        step_lon = _nice_step(min(float(lon1 - lon0), 360.0), 6)
    segs: list[np.ndarray] = []
    yticks: list[tuple[float, str]] = []
    xticks: list[tuple[float, str]] = []
    fine_lon = np.linspace(lon0, lon1, max(int((lon1 - lon0) * 4), 50))
    fine_lat = np.linspace(max(lat0, -89.9), min(lat1, 89.9), max(int((lat1 - lat0) * 4), 50))
    for lat in np.arange(np.ceil(lat0 / step_lat) * step_lat, lat1 + 1e-9, step_lat):
        if abs(lat) > 89.0:
            continue
        pieces = view.project_lines(np.full_like(fine_lon, lat), fine_lon)
        segs.extend(pieces)
        if labels:
            for pc in pieces:
                y = _crossing(pc, 0, view.x0_km)
                if y is not None and view.y0_km < y < view.y1_km:
                    yticks.append((y, lat_label(float(lat))))
                    break
    for lon in np.arange(np.ceil(lon0 / step_lon) * step_lon, lon1 + 1e-9, step_lon):
        pieces = view.project_lines(fine_lat, np.full_like(fine_lat, lon))
        segs.extend(pieces)
        if labels:
            for pc in pieces:
                x = _crossing(pc, 1, view.y0_km)
                if x is not None and view.x0_km < x < view.x1_km:
                    xticks.append((x, lon_label(float(lon))))
                    break
    if segs:
        ax.add_collection(
            LineCollection(segs, colors="#bdbdbd", linewidths=0.4, linestyles=":", zorder=0.5),
            autolim=False,
        )
    if labels:
        # Meridians converge near the poles: keep labels at least 12 % of the edge apart.
        yticks = _spaced(yticks, 0.08 * view.height_km)
        xticks = _spaced(xticks, 0.12 * view.width_km)
        ax.set_yticks([t for t, _ in yticks], [s for _, s in yticks])
        ax.set_xticks([t for t, _ in xticks], [s for _, s in xticks])
        ax.tick_params(labelsize=8, length=3)


def _spaced(ticks: list[tuple[float, str]], min_gap: float) -> list[tuple[float, str]]:
    """Ticks (position, label) in order, dropping any closer than ``min_gap`` to the last kept."""
    out: list[tuple[float, str]] = []
    for t in sorted(ticks):
        if not out or t[0] - out[-1][0] >= min_gap:
            out.append(t)
    return out


def _crossing(line: np.ndarray, axis: int, value: float) -> float | None:
    """The other coordinate where ``line`` (N, 2) first crosses ``line[:, axis] == value``."""
    d = line[:, axis] - value
    s = np.flatnonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)
    if s.size == 0:
        return None
    i = int(s[0])
    t = d[i] / (d[i] - d[i + 1])
    return float(line[i, 1 - axis] + t * (line[i + 1, 1 - axis] - line[i, 1 - axis]))


def basemap_legend() -> list[tuple[Any, str]]:
    """Legend entries (handle, label) of the basemap's land and borders."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [
        (Patch(facecolor=_mpl.LAND_COLOUR, edgecolor=_mpl.COAST_COLOUR, lw=0.6), "land, coastline"),
        (Line2D([], [], color=_mpl.BORDER_COLOUR, lw=0.8), "country border"),
    ]
