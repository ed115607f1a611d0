"""The basemap: land, coastlines and country borders from the bundled Natural Earth data.

Drawn on equirectangular lon/lat axes for a window (lon0, lon1, lat0, lat1) that may extend past 180
degrees; every feature is drawn once per 360-degree copy that meets the window (see
:mod:`rttgeo.plot.geometry`). Nothing is fetched: the data ship with the package (``_mpl.borders``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from rttgeo.plot import _mpl
from rttgeo.plot.geometry import clip_polygon, clip_polyline, lon_offsets

__all__ = ["basemap_legend", "draw_basemap", "drop_artificial_edges", "lat_label", "lon_label"]


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


def _land_path(rings: list[np.ndarray], off: float) -> Any:
    """One compound path of ``rings`` shifted by ``off`` (filled by the non-zero winding rule)."""
    from matplotlib.path import Path as MplPath

    verts = np.concatenate(rings) + np.array([off, 0.0])
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


def draw_basemap(
    ax: Any, window: tuple[float, float, float, float], *, ticks: bool = True, coarse: bool = False
) -> None:
    """Land, coastlines and country borders on ``ax`` for ``window`` = (lon0, lon1, lat0, lat1).

    Only features whose bounding box meets the window are drawn (SVG size); ``coarse`` draws a
    decimated world for overviews.
    Sets the limits, an aspect of 1/cos(mid-latitude) (clipped near the poles) and degree ticks.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.patches import PathPatch
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    lon0, lon1, lat0, lat1 = window
    ax.set_facecolor(_mpl.SEA_COLOUR)
    layers = _basemap_layers(coarse)
    # Features are clipped to the window plus a margin: smaller files, faster drawing.
    mx, my = 0.1 * (lon1 - lon0) + 0.5, 0.1 * (lat1 - lat0) + 0.5
    for off in lon_offsets(lon0, lon1, *_land_lon_extent()):
        box = (lon0 - off - mx, lon1 - off + mx, lat0 - my, lat1 + my)
        hit = _in_window(layers["land_bbox"], off, window)
        land = [r for r, k in zip(layers["land"], hit, strict=True) if k]
        if not coarse:
            land = [c for c in (clip_polygon(r, box) for r in land) if len(c) >= 3]
        if land:
            # add_artist, not add_patch: the limits are set below, and updating them from the
            # vertices of a long Bezier-checked path costs seconds.
            ax.add_artist(
                PathPatch(
                    _land_path(land, off),
                    facecolor=_mpl.LAND_COLOUR,
                    edgecolor="none",
                    zorder=0,
                    rasterized=coarse,  # the overview is an image in SVG: small files
                )
            )
        for name, colour, lw in (
            ("coast", _mpl.COAST_COLOUR, 0.5),
            ("borders", _mpl.BORDER_COLOUR, 0.45),
        ):
            keep = _in_window(layers[f"{name}_bbox"], off, window)
            lines = [r for r, k in zip(layers[name], keep, strict=True) if k]
            if not coarse:
                lines = [piece for r in lines for piece in clip_polyline(r, box)]
            if lines:
                ax.add_collection(
                    LineCollection(
                        [r + np.array([off, 0.0]) for r in lines],
                        colors=colour,
                        linewidths=lw,
                        zorder=1,
                        rasterized=coarse,
                    ),
                    autolim=False,
                )
    ax.set_xlim(lon0, lon1)
    ax.set_ylim(lat0, lat1)
    mid = np.radians((lat0 + lat1) / 2.0)
    ax.set_aspect(1.0 / max(np.cos(mid), 0.25))
    if ticks:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        ax.xaxis.set_major_formatter(FuncFormatter(lon_label))
        ax.yaxis.set_major_formatter(FuncFormatter(lat_label))
        ax.tick_params(labelsize=8)
        ax.grid(color="#cccccc", linewidth=0.4, linestyle=":", zorder=0.5)
    else:
        ax.set_xticks([])
        ax.set_yticks([])


def basemap_legend() -> list[tuple[Any, str]]:
    """Legend entries (handle, label) of the basemap's land and borders."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [
        (Patch(facecolor=_mpl.LAND_COLOUR, edgecolor=_mpl.COAST_COLOUR, lw=0.6), "land, coastline"),
        (Line2D([], [], color=_mpl.BORDER_COLOUR, lw=0.8), "country border"),
    ]
