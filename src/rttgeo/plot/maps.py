"""Maps of estimates on equirectangular lon/lat axes (matplotlib, Agg; imported lazily).

What a map shows: land and country borders (Natural Earth 1:50m, bundled), the landmarks used
(triangles coloured by RTT on a log colour scale, with a colour bar), the constraint circles of the
most binding and tightest landmarks (radius = ``LandmarkDiagnostic.max_distance_km``, geodesic),
the feasible or probabilistic region (hatched), the point estimate (star) and the true location
when known (X), zoomed to the region with a world inset. Every mark is explained by the legend;
lightness, hatching and marker shapes keep it readable in grey-scale.

Antimeridian: a view is a longitude window that may extend past 180 degrees (see
:mod:`rttgeo.plot.geometry`); every feature is drawn once per 360-degree copy that meets the window,
so a region split at +-180 appears contiguous and no polygon or line spans the world.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rttgeo.errors import InputError
from rttgeo.geo.sphere import distance_km
from rttgeo.models import Estimate, Landmark
from rttgeo.plot import _mpl
from rttgeo.plot.geometry import (
    HALF_CIRCUMFERENCE_KM,
    circle_lonlat,
    clip_polygon,
    clip_polyline,
    geojson_rings,
    lon_offsets,
    lon_window,
    region_cell_runs,
)

__all__ = ["MapLayers", "draw_basemap", "draw_estimate", "eval_grid", "map_estimate", "map_window"]


@dataclass
class MapLayers:
    """What :func:`draw_estimate` drew, for legends and tests.

    ``region_polygons`` holds the (lon, lat) vertex arrays of every region polygon as drawn (after
    antimeridian shifts); ``legend`` is a list of (handle, label) pairs.
    """

    window: tuple[float, float, float, float]
    legend: list[tuple[Any, str]] = field(default_factory=list)
    region_polygons: list[np.ndarray] = field(default_factory=list)
    n_landmarks_drawn: int = 0
    n_circles: int = 0
    n_circles_in_view: int = 0
    mappable: Any = None
    error_km: float = float("nan")
    rtt_beyond_scale: bool = False


# ----------------------------------------------------------------------------------------- basemap


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


def _drop_artificial_edges(ring: np.ndarray, seam_lon: bool) -> list[np.ndarray]:
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
        out.extend(_drop_artificial_edges(np.vstack([r, r[:1]]), seam_lon=False))
    return out


@lru_cache(maxsize=1)
def _land_lon_extent() -> tuple[float, float]:
    """Longitude extent of the land rings (rings crossing 180 are stored continuous, up to ~190)."""
    rings = _mpl.borders()["land"]
    return min(float(r[:, 0].min()) for r in rings), max(float(r[:, 0].max()) for r in rings)


def _lon_label(x: float, _pos: Any = None) -> str:
    w = (x + 180.0) % 360.0 - 180.0
    if abs(abs(w) - 180.0) < 1e-9:
        return "180°"
    if abs(w) < 1e-9:
        return "0°"
    return f"{abs(w):g}°{'E' if w > 0 else 'W'}"


def _lat_label(y: float, _pos: Any = None) -> str:
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
        ax.xaxis.set_major_formatter(FuncFormatter(_lon_label))
        ax.yaxis.set_major_formatter(FuncFormatter(_lat_label))
        ax.tick_params(labelsize=8)
        ax.grid(color="#cccccc", linewidth=0.4, linestyle=":", zorder=0.5)
    else:
        ax.set_xticks([])
        ax.set_yticks([])


# ----------------------------------------------------------------------------------------- layers


def _region_rings(estimate: Estimate) -> tuple[list[list[np.ndarray]], np.ndarray | None]:
    """Region as GeoJSON polygons if rttgeo.geo.polygon exists, else as merged cell rectangles."""
    region = estimate.region
    if region is None or region.empty:
        return [], None
    try:
        return geojson_rings(region.to_geojson()), None
    except ImportError:
        return [], region_cell_runs(region.level, region.rows, region.cols)


def _shift_near(lon: float, ref: float) -> float:
    """``lon`` moved by a multiple of 360 to within 180 degrees of ``ref``."""
    return ref + ((lon - ref + 180.0) % 360.0 - 180.0)


def map_window(
    estimate: Estimate,
    *,
    true_lat_deg: float | None = None,
    true_lon_deg: float | None = None,
    aspect: float = 1.45,
    min_span_deg: float = 6.0,
) -> tuple[float, float, float, float]:
    """View (lon0, lon1, lat0, lat1) holding the region, the point estimate and the truth, padded.

    With no region, the two landmarks with the smallest RTT are included instead. The longitude
    window is the shortest arc holding the points (it may pass 180); the window is widened to
    about ``aspect`` (width / height, in local km) and at least ``min_span_deg`` tall.
    """
    lons: list[float] = [estimate.lon_deg]
    lats: list[float] = [estimate.lat_deg]
    if true_lat_deg is not None and true_lon_deg is not None:
        lons.append(true_lon_deg)
        lats.append(true_lat_deg)
    polys, runs = _region_rings(estimate)
    for poly in polys:
        lons.extend(poly[0][:, 0])
        lats.extend(poly[0][:, 1])
    if runs is not None:
        lons.extend(runs[:, 0])
        lons.extend(runs[:, 1])
        lats.extend(runs[:, 2])
        lats.extend(runs[:, 3])
    if not polys and runs is None:
        near = sorted((d for d in estimate.landmarks if np.isfinite(d.rtt_ms)), key=lambda d: d.rtt_ms)[:2]
        lons.extend(d.lon_deg for d in near)
        lats.extend(d.lat_deg for d in near)
    lon_arr = np.asarray(lons, dtype=float)
    lat_arr = np.asarray(lats, dtype=float)
    ok = np.isfinite(lon_arr) & np.isfinite(lat_arr)
    lon_arr, lat_arr = lon_arr[ok], lat_arr[ok]
    if lon_arr.size == 0:
        return -180.0, 180.0, -90.0, 90.0
    lon0, lon1 = lon_window(lon_arr)
    lat0, lat1 = float(lat_arr.min()), float(lat_arr.max())
    pad_lat = max(0.12 * (lat1 - lat0), 1.0)
    lat0, lat1 = lat0 - pad_lat, lat1 + pad_lat
    if lat1 - lat0 < min_span_deg:
        mid = (lat0 + lat1) / 2.0
        lat0, lat1 = mid - min_span_deg / 2.0, mid + min_span_deg / 2.0
    pad_lon = max(0.12 * (lon1 - lon0), 1.0)
    lon0, lon1 = lon0 - pad_lon, lon1 + pad_lon
    # Widen the narrower dimension towards the wanted aspect (in local km).
    coslat = max(np.cos(np.radians(np.clip((lat0 + lat1) / 2.0, -89.0, 89.0))), 0.25)
    width, height = (lon1 - lon0) * coslat, lat1 - lat0
    if width < aspect * height:
        extra = (aspect * height / coslat - (lon1 - lon0)) / 2.0
        lon0, lon1 = lon0 - extra, lon1 + extra
    elif width > aspect * height:
        extra = (width / aspect - height) / 2.0
        lat0, lat1 = lat0 - extra, lat1 + extra
    if lat0 < -90.0:
        lat1 = min(lat1 + (-90.0 - lat0), 90.0)
        lat0 = -90.0
    if lat1 > 90.0:
        lat0 = max(lat0 - (lat1 - 90.0), -90.0)
        lat1 = 90.0
    if lon1 - lon0 >= 360.0:
        lon0, lon1 = -180.0, 180.0
    else:
        shift = 360.0 * np.floor((lon0 + 180.0) / 360.0)
        lon0, lon1 = lon0 - shift, lon1 - shift
    return float(lon0), float(lon1), float(lat0), float(lat1)


def _rtt_norm(rtts_ms: np.ndarray) -> Any:
    from matplotlib.colors import LogNorm

    r = rtts_ms[np.isfinite(rtts_ms) & (rtts_ms > 0)]
    if r.size == 0:
        return LogNorm(1.0, 100.0)
    lo, hi = max(float(r.min()), 0.1), float(r.max())
    if hi <= lo * 1.5:
        lo, hi = lo / 1.5, hi * 1.5
    return LogNorm(lo, hi)


def draw_estimate(
    ax: Any,
    estimate: Estimate,
    *,
    true_lat_deg: float | None = None,
    true_lon_deg: float | None = None,
    landmarks: Sequence[Landmark] | None = None,
    window: tuple[float, float, float, float] | None = None,
    max_circles: int = 10,
    max_labels: int = 6,
    norm: Any = None,
    basemap: bool = True,
    truth_label: str = "true location",
) -> MapLayers:
    """Draw ``estimate`` on ``ax``; returns the layers drawn and their legend entries.

    ``landmarks``: other landmarks of the catalogue (not in the estimate), drawn as small grey dots.
    ``max_circles``: constraint circles are drawn for used landmarks: half for those with the
    smallest |slack| at the point (binding), the rest with the smallest radius (tightest).
    ``max_labels``: landmark ids are written next to the landmarks with the smallest RTT inside
    the view (0: none). ``norm``: colour scale of RTTs (shared by subplots). ``truth_label``:
    legend name of the (true_lat_deg, true_lon_deg) mark, e.g. "listed location (suspect)".
    """
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch
    from matplotlib.path import Path as MplPath

    _mpl.pyplot()  # Agg backend, MissingExtra without matplotlib
    if window is None:
        window = map_window(estimate, true_lat_deg=true_lat_deg, true_lon_deg=true_lon_deg)
    lon0, lon1, lat0, lat1 = window
    layers = MapLayers(window=window)
    if basemap:
        draw_basemap(ax, window)
    legend = layers.legend

    diags = list(estimate.landmarks)
    rtts = np.array([d.rtt_ms for d in diags], dtype=float)
    if norm is None:
        # Colour scale over the landmarks in view (contrast where it is read); farther ones
        # take the end colour and the colour bar shows an arrow.
        in_view = np.array(
            [lon0 <= lon0 + (d.lon_deg - lon0) % 360.0 <= lon1 and lat0 <= d.lat_deg <= lat1 for d in diags],
            dtype=bool,
        )
        norm = _rtt_norm(rtts[in_view] if np.isfinite(rtts[in_view]).sum() >= 2 else rtts)
    finite = rtts[np.isfinite(rtts)]
    layers.rtt_beyond_scale = bool(finite.size and finite.max() > norm.vmax * 1.0001)
    cmap = _mpl.rtt_cmap()

    def copies(lon: np.ndarray, lon_min: float, lon_max: float) -> list[float]:
        return lon_offsets(lon0, lon1, lon_min, lon_max) if lon.size else []

    # Catalogue landmarks not in the estimate.
    if landmarks:
        in_est = {d.id for d in diags}
        others = [lm for lm in landmarks if lm.id not in in_est]
        if others:
            olon = np.array([lm.lon_deg for lm in others])
            olat = np.array([lm.lat_deg for lm in others])
            for off in copies(olon, -180.0, 180.0):
                ax.scatter(olon + off, olat, s=6, c="#8a8a8a", marker="o", lw=0, zorder=3)
            legend.append(
                (
                    Line2D([], [], ls="", marker="o", ms=3, color="#8a8a8a"),
                    f"other catalogue landmarks ({len(others)})",
                )
            )

    # Region.
    polys, runs = _region_rings(estimate)
    face = to_rgba(_mpl.REGION_FACE, 0.45)
    if polys:
        for poly in polys:
            plo, phi = float(poly[0][:, 0].min()), float(poly[0][:, 0].max())
            for off in copies(poly[0][:, 0], plo, phi):
                verts = []
                codes = []
                for ring in poly:
                    c = np.full(len(ring) + 1, MplPath.LINETO, dtype=np.uint8)
                    c[0] = MplPath.MOVETO
                    c[-1] = MplPath.CLOSEPOLY
                    verts.append(np.vstack([ring, ring[:1]]) + np.array([off, 0.0]))
                    codes.append(c)
                v = np.concatenate(verts)
                layers.region_polygons.append(v)
                # Hatch colour follows the edge colour; the edge itself is drawn apart, without
                # the cut along the antimeridian, so a split region looks whole.
                ax.add_artist(
                    PathPatch(
                        MplPath(v, np.concatenate(codes)),
                        facecolor=face,
                        edgecolor=_mpl.REGION_EDGE,
                        hatch="///",
                        linewidth=0.0,
                        zorder=2,
                    )
                )
                outline = [
                    piece + np.array([off, 0.0])
                    for ring in poly
                    for piece in _drop_artificial_edges(np.vstack([ring, ring[:1]]), True)
                ]
                ax.add_collection(
                    LineCollection(outline, colors=_mpl.REGION_EDGE, linewidths=1.4, zorder=2.1),
                    autolim=False,
                )
    elif runs is not None and len(runs):
        for off in copies(runs[:, 0], -180.0, 180.0):
            rects = [
                np.array([[a + off, c], [b + off, c], [b + off, d], [a + off, d]]) for a, b, c, d in runs
            ]
            layers.region_polygons.extend(rects)
            ax.add_collection(
                PolyCollection(
                    rects,
                    facecolors=face,
                    edgecolors=_mpl.REGION_EDGE,
                    hatch="///",
                    linewidths=0.0,
                    zorder=2,
                )
            )
    if estimate.region is not None and not estimate.region.empty:
        area = estimate.region.area_km2
        if estimate.level is not None:
            kind = f"{estimate.level:.0%} most probable region"
        elif estimate.consistent:
            kind = "feasible region (all constraints met)"
        else:
            kind = "region after relaxing inconsistent constraints (see note)"
        legend.append(
            (
                Patch(facecolor=face, edgecolor=_mpl.REGION_EDGE, hatch="///", lw=1.2),
                f"{kind}, {_fmt_area(area)}",
            )
        )

    # Constraint circles: half of them of the most binding landmarks (smallest |slack| at the
    # point: they shape the region), the rest of the tightest (smallest radius).
    with_radius = [
        d
        for d in diags
        if d.used and np.isfinite(d.max_distance_km) and 0 < d.max_distance_km < HALF_CIRCUMFERENCE_KM
    ]
    binding = sorted((d for d in with_radius if np.isfinite(d.slack_km)), key=lambda d: abs(d.slack_km))[
        : max_circles // 2
    ]
    chosen = {d.id for d in binding}
    tightest = [d for d in sorted(with_radius, key=lambda d: d.max_distance_km) if d.id not in chosen]
    segs = []
    colours = []
    for d in (binding + tightest)[:max_circles]:
        clon, clat = circle_lonlat(d.lat_deg, d.lon_deg, d.max_distance_km)
        if clon.size == 0:
            continue
        seen = False
        for off in copies(clon, float(clon.min()), float(clon.max())):
            segs.append(np.column_stack([clon + off, clat]))
            colours.append(cmap(norm(d.rtt_ms)) if np.isfinite(d.rtt_ms) else "#555555")
            x = clon + off
            seen |= bool(np.any((x >= lon0) & (x <= lon1) & (clat >= lat0) & (clat <= lat1)))
        layers.n_circles += 1
        layers.n_circles_in_view += int(seen)
    if segs:  # drawn even when outside the view, so a caller widening the limits sees them
        ax.add_collection(
            LineCollection(
                segs,
                colors=colours,
                linewidths=1.2,
                linestyles=(0, (5, 2.5)),
                zorder=4,
                # A thin dark halo keeps the light (long-RTT) colours visible on grey land.
                path_effects=[
                    patheffects.Stroke(linewidth=2.0, foreground="#3a3a3a"),
                    patheffects.Normal(),
                ],
            ),
            autolim=False,
        )
    if layers.n_circles_in_view:  # the legend explains marks that can be seen
        legend.append(
            (
                Line2D(
                    [],
                    [],
                    color=cmap(0.45),
                    lw=1.2,
                    ls=(0, (5, 2.5)),
                    path_effects=[
                        patheffects.Stroke(linewidth=2.0, foreground="#3a3a3a"),
                        patheffects.Normal(),
                    ],
                ),
                f"constraint circle: max distance allowed by the RTT "
                f"({layers.n_circles_in_view} in view, of the most binding or tightest; "
                "colour = RTT)",
            )
        )

    # Landmarks of the estimate.
    used = [d for d in diags if d.used and np.isfinite(d.rtt_ms)]
    unused = [d for d in diags if not (d.used and np.isfinite(d.rtt_ms))]
    mappable = None
    if used:
        ulon = np.array([d.lon_deg for d in used])
        ulat = np.array([d.lat_deg for d in used])
        urtt = np.array([d.rtt_ms for d in used])
        order = np.argsort(-urtt)  # nearest (smallest RTT) drawn last, on top
        for off in copies(ulon, -180.0, 180.0):
            mappable = ax.scatter(
                ulon[order] + off,
                ulat[order],
                c=urtt[order],
                cmap=cmap,
                norm=norm,
                s=55,
                marker="^",
                edgecolors="black",
                linewidths=0.7,
                zorder=6,
                gid="landmarks-used",
            )
        layers.n_landmarks_drawn += len(used)
        legend.append(
            (
                Line2D([], [], ls="", marker="^", ms=8, mfc=cmap(0.6), mec="black", mew=0.7),
                f"landmark used ({len(used)}); fill = RTT (colour bar)",
            )
        )
    if unused:
        nlon = np.array([d.lon_deg for d in unused])
        nlat = np.array([d.lat_deg for d in unused])
        for off in copies(nlon, -180.0, 180.0):
            ax.scatter(
                nlon + off,
                nlat,
                s=40,
                marker="^",
                facecolors="white",
                edgecolors="#555555",
                linewidths=0.9,
                zorder=5,
                gid="landmarks-unused",
            )
        layers.n_landmarks_drawn += len(unused)
        legend.append(
            (
                Line2D([], [], ls="", marker="^", ms=7, mfc="white", mec="#555555", mew=0.9),
                f"landmark not used / no RTT ({len(unused)})",
            )
        )
    if mappable is None:
        from matplotlib.cm import ScalarMappable

        mappable = ScalarMappable(norm=norm, cmap=cmap)
    layers.mappable = mappable

    # Point estimate and truth.
    ex = lon0 + (estimate.lon_deg - lon0) % 360.0
    if true_lat_deg is not None and true_lon_deg is not None:
        tx = _shift_near(true_lon_deg, ex)
        err = float(distance_km(estimate.lat_deg, estimate.lon_deg, true_lat_deg, true_lon_deg))
        layers.error_km = err
        ax.plot([ex, tx], [estimate.lat_deg, true_lat_deg], color="black", lw=1.0, ls=":", zorder=8)
        ax.scatter(
            [tx],
            [true_lat_deg],
            s=110,
            marker="X",
            c=_mpl.TRUTH_COLOUR,
            edgecolors="black",
            linewidths=0.9,
            zorder=9,
            gid="truth",
        )
        inside = ""
        if estimate.region is not None and not estimate.region.empty:
            hit = bool(estimate.region.contains(true_lat_deg, true_lon_deg))
            inside = ", inside region" if hit else ", outside region"
        legend.append(
            (
                Line2D(
                    [],
                    [],
                    ls=":",
                    color="black",
                    marker="X",
                    ms=9,
                    mfc=_mpl.TRUTH_COLOUR,
                    mec="black",
                ),
                f"{truth_label} (error {_fmt_km(err)}{inside})",
            )
        )
    ax.scatter(
        [ex],
        [estimate.lat_deg],
        s=260,
        marker="*",
        c=_mpl.ESTIMATE_COLOUR,
        edgecolors="white",
        linewidths=1.2,
        zorder=10,
        gid="estimate",
    )
    # Labels of the nearest landmarks inside the view, placed where they overlap nothing.
    if max_labels > 0 and used:
        obstacles = [(ex, estimate.lat_deg)]
        if true_lat_deg is not None and true_lon_deg is not None:
            obstacles.append((_shift_near(true_lon_deg, ex), true_lat_deg))
        items = []
        for d in sorted(used, key=lambda d: d.rtt_ms):
            x = lon0 + (d.lon_deg - lon0) % 360.0
            if lon0 <= x <= lon1 and lat0 <= d.lat_deg <= lat1:
                items.append((x, d.lat_deg, f"{d.id}: {d.rtt_ms:.3g} ms"))
        _place_labels(ax, items, obstacles, max_labels)

    legend.insert(
        0,
        (
            Line2D([], [], ls="", marker="*", ms=14, mfc="black", mec="white"),
            f"point estimate ({estimate.method})",
        ),
    )
    return layers


def _place_labels(
    ax: Any,
    items: list[tuple[float, float, str]],
    obstacles: list[tuple[float, float]],
    max_labels: int,
) -> int:
    """Annotate up to ``max_labels`` points (x, y, text), trying four positions around each and
    keeping a label only where it lies inside the axes and overlaps no other label, nor the
    markers at ``obstacles`` (data coordinates). Returns how many were placed."""
    from matplotlib import patheffects
    from matplotlib.transforms import Bbox

    fig = ax.figure
    ax.apply_aspect()
    renderer = fig.canvas.get_renderer()
    axbox = ax.get_window_extent(renderer)
    pad = 9.0 * fig.dpi / 72.0
    boxes = []
    for ox, oy in obstacles:
        px, py = ax.transData.transform((ox, oy))
        boxes.append(Bbox.from_bounds(px - pad, py - pad, 2 * pad, 2 * pad))
    stroke = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    placed = 0
    for x, y, text in items:
        if placed >= max_labels:
            break
        for dx, dy, ha, va in (
            (5, 4, "left", "bottom"),
            (-5, 4, "right", "bottom"),
            (5, -4, "left", "top"),
            (-5, -4, "right", "top"),
        ):
            ann = ax.annotate(
                text,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=7.5,
                zorder=7,
                path_effects=stroke,
                annotation_clip=True,
            )
            bb = ann.get_window_extent(renderer)
            inside = bb.x0 >= axbox.x0 and bb.x1 <= axbox.x1 and bb.y0 >= axbox.y0 and bb.y1 <= axbox.y1
            if inside and not any(bb.overlaps(b) for b in boxes):
                boxes.append(bb)
                placed += 1
                break
            ann.remove()
    return placed


def _fmt_km(d: float) -> str:
    return "n/a" if not np.isfinite(d) else f"{d:,.0f} km" if d >= 10 else f"{d:.1f} km"


def _fmt_area(a: float) -> str:
    return "area n/a" if not np.isfinite(a) else f"{a:,.0f} km²"


def _basemap_legend() -> list[tuple[Any, str]]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [
        (Patch(facecolor=_mpl.LAND_COLOUR, edgecolor=_mpl.COAST_COLOUR, lw=0.6), "land, coastline"),
        (Line2D([], [], color=_mpl.BORDER_COLOUR, lw=0.8), "country border"),
    ]


def _draw_inset(ax: Any, estimate: Estimate, window: tuple[float, float, float, float]) -> None:
    """World overview with the zoom window as a rectangle."""
    from matplotlib.patches import Rectangle

    lon0, lon1, lat0, lat1 = window
    # Centre the world on the map extent, so a window across 180 shows as one box.
    centre = 0.0 if lon1 - lon0 >= 359.0 else round((lon0 + lon1) / 2.0 / 10.0) * 10.0
    world = (centre - 180.0, centre + 180.0, -90.0, 90.0)
    draw_basemap(ax, world, ticks=False, coarse=True)
    ax.set_aspect("equal")
    ax.add_patch(
        Rectangle((lon0, lat0), lon1 - lon0, lat1 - lat0, fill=False, edgecolor="black", lw=1.3, zorder=5)
    )
    used = [d for d in estimate.landmarks if d.used]
    if used:
        ax.scatter(
            [world[0] + (d.lon_deg - world[0]) % 360.0 for d in used],
            [d.lat_deg for d in used],
            s=5,
            marker="^",
            c="#333333",
            lw=0,
            zorder=4,
        )
    ax.scatter(
        [world[0] + (estimate.lon_deg - world[0]) % 360.0],
        [estimate.lat_deg],
        s=70,
        marker="*",
        c="black",
        edgecolors="white",
        linewidths=0.8,
        zorder=6,
    )
    ax.set_title("world (box: map extent)", fontsize=8)


def _summary_line(estimate: Estimate, layers: MapLayers) -> str:
    n_used = sum(1 for d in estimate.landmarks if d.used)
    lat, lon = estimate.lat_deg, estimate.lon_deg
    parts = [
        f"estimate {_lat_label(round(lat, 2))} {_lon_label(round(lon, 2))}",
        f"{n_used} of {len(estimate.landmarks)} landmarks used",
    ]
    if np.isfinite(estimate.area_km2):
        parts.append(f"region {_fmt_area(estimate.area_km2)}")
    if np.isfinite(layers.error_km):
        parts.append(f"error {_fmt_km(layers.error_km)}")
    if not estimate.consistent:
        parts.append("constraints inconsistent")
    return "  ·  ".join(parts)


def map_estimate(
    estimate: Estimate,
    path: str | Path | None = None,
    *,
    true_lat_deg: float | None = None,
    true_lon_deg: float | None = None,
    landmarks: Sequence[Landmark] | None = None,
    title: str | None = None,
    dpi: int = 150,
    truth_label: str = "true location",
) -> Any:
    """A map of ``estimate`` saved to ``path`` (PNG or SVG by suffix); returns the path.

    With ``path`` None returns the matplotlib Figure instead (for notebooks). ``true_lat_deg`` /
    ``true_lon_deg``: the true location when known (drawn with the error distance). ``landmarks``:
    the whole catalogue, to show the landmarks the estimate did not include. ``truth_label``:
    legend name of the true-location mark. Raises
    :class:`rttgeo.errors.MissingExtra` without matplotlib and InputError for another suffix.
    """
    if (true_lat_deg is None) != (true_lon_deg is None):
        raise InputError("give both true_lat_deg and true_lon_deg, or neither")
    plt = _mpl.pyplot()
    window = map_window(estimate, true_lat_deg=true_lat_deg, true_lon_deg=true_lon_deg)
    # Figure height from the map's shape: the map column is about 7.2 in wide and the axes span
    # 81 % of the height; clamp so the legend column always fits.
    lon0, lon1, lat0, lat1 = window
    stretch = 1.0 / max(np.cos(np.radians((lat0 + lat1) / 2.0)), 0.25)
    map_h_in = 7.2 * (lat1 - lat0) * stretch / (lon1 - lon0)
    fig = plt.figure(figsize=(11.0, float(np.clip(map_h_in / 0.81, 6.2, 9.5))))
    gs = fig.add_gridspec(
        3,
        2,
        width_ratios=[3.1, 1.0],
        height_ratios=[1.0, 0.09, 2.0],
        left=0.06,
        right=0.98,
        bottom=0.07,
        top=0.88,
        wspace=0.12,
        hspace=0.45,
    )
    ax = fig.add_subplot(gs[:, 0])
    layers = draw_estimate(
        ax,
        estimate,
        true_lat_deg=true_lat_deg,
        true_lon_deg=true_lon_deg,
        landmarks=landmarks,
        truth_label=truth_label,
        window=window,
    )
    _draw_inset(fig.add_subplot(gs[0, 1]), estimate, layers.window)
    cax = fig.add_subplot(gs[1, 1])
    _rtt_colorbar(fig, layers.mappable, cax, beyond=layers.rtt_beyond_scale)
    lax = fig.add_subplot(gs[2, 1])
    lax.axis("off")
    entries = layers.legend + _basemap_legend()
    lax.legend(
        [h for h, _ in entries],
        [_wrap(lbl, 34) for _, lbl in entries],
        loc="upper left",
        fontsize=8,
        frameon=False,
        borderaxespad=0.0,
        handlelength=2.4,
        labelspacing=0.9,
        title="Legend",
        title_fontproperties={"weight": "bold", "size": 9},
        alignment="left",
    )
    fig.suptitle(title or f"Where is the host? ({estimate.method})", fontsize=13, x=0.06, ha="left", y=0.975)
    fig.text(0.06, 0.915, _summary_line(estimate, layers), fontsize=9, ha="left", color="#222222")
    if estimate.note:
        fig.text(0.06, 0.015, _wrap(f"note: {estimate.note}", 160), fontsize=8, ha="left")
    if path is None:
        return fig
    return _mpl.save(fig, path, dpi=dpi)


def _rtt_colorbar(fig: Any, mappable: Any, cax: Any, *, beyond: bool = False) -> Any:
    """Horizontal colour bar of RTTs with plain-number ticks (1, 2, 5, 10, ... ms); an arrow at
    the end when some landmarks (outside the view) have larger RTTs than the scale."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    cb = fig.colorbar(mappable, cax=cax, orientation="horizontal", extend="max" if beyond else "neither")
    lo, hi = mappable.norm.vmin, mappable.norm.vmax
    ratio = hi / lo
    steps = (1, 2, 5) if ratio > 30 else (1, 2, 3, 5) if ratio > 4 else (1, 1.5, 2, 3, 4, 5, 7)
    nice = [m * 10.0**e for e in range(-1, 4) for m in steps]
    ticks = [t for t in nice if lo <= t <= hi]
    if len(ticks) < 3:  # add the ends, rounded inwards so they stay on the bar
        ticks = sorted({math.ceil(lo * 10) / 10, *ticks, math.floor(hi * 10) / 10})
    cb.ax.xaxis.set_major_locator(FixedLocator(ticks))
    cb.ax.xaxis.set_minor_locator(NullLocator())
    cb.ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.3g}"))
    cb.set_label("landmark RTT (ms, log scale)", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return cb


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def eval_grid(
    estimates: Sequence[Estimate],
    true_lat_deg: Sequence[float] | np.ndarray,
    true_lon_deg: Sequence[float] | np.ndarray,
    path: str | Path | None = None,
    *,
    names: Sequence[str] | None = None,
    n_worst: int = 3,
    n_best: int = 3,
    title: str | None = None,
    dpi: int = 130,
) -> Any:
    """Grid of small maps: the ``n_worst`` targets with the largest error (top row) and the
    ``n_best`` with the smallest (bottom row). ``names``: target ids for the panel titles.

    Saves to ``path`` (PNG or SVG) and returns it, or returns the Figure when ``path`` is None.
    Errors are great-circle distances between point estimate and truth (km).
    """
    plt = _mpl.pyplot()
    n = len(estimates)
    tlat = np.asarray(true_lat_deg, dtype=float)
    tlon = np.asarray(true_lon_deg, dtype=float)
    if tlat.shape != (n,) or tlon.shape != (n,):
        raise InputError(f"eval_grid: need {n} true latitudes and longitudes")
    if names is not None and len(names) != n:
        raise InputError(f"eval_grid: need {n} names, got {len(names)}")
    if n == 0:
        raise InputError("eval_grid: no estimates to draw")
    names = list(names) if names is not None else [f"target {i}" for i in range(n)]
    elat = np.array([e.lat_deg for e in estimates])
    elon = np.array([e.lon_deg for e in estimates])
    err = np.asarray(distance_km(elat, elon, tlat, tlon), dtype=float)
    order = np.argsort(np.where(np.isfinite(err), err, np.inf))
    worst = [int(i) for i in order[::-1][: min(n_worst, n)]]
    best = [int(i) for i in order[: min(n_best, n)]]
    rows = [("worst", worst), ("best", best)]
    rows = [(k, idx) for k, idx in rows if idx]
    ncols = max(len(idx) for _, idx in rows)
    all_rtt = np.array([d.rtt_ms for i in worst + best for d in estimates[i].landmarks])
    norm = _rtt_norm(all_rtt)
    fig = plt.figure(figsize=(4.2 * ncols, 3.6 * len(rows) + 1.6))
    gs = fig.add_gridspec(
        len(rows) + 1,
        ncols,
        height_ratios=[1.0] * len(rows) + [0.42],
        left=0.05,
        right=0.98,
        top=0.9,
        bottom=0.04,
        hspace=0.35,
        wspace=0.18,
    )
    legend: dict[str, Any] = {}
    mappable = None
    for r, (kind, idx) in enumerate(rows):
        for c, i in enumerate(idx):
            ax = fig.add_subplot(gs[r, c])
            layers = draw_estimate(
                ax,
                estimates[i],
                true_lat_deg=float(tlat[i]),
                true_lon_deg=float(tlon[i]),
                max_circles=6,
                max_labels=0,
                norm=norm,
            )
            mappable = layers.mappable
            for h, lbl in layers.legend:
                key = lbl.split(" (")[0].split(",")[0]
                legend.setdefault(key, h)
            ax.set_title(f"{kind} {c + 1}: {names[i]}\nerror {_fmt_km(float(err[i]))}", fontsize=9)
    bottom = gs[len(rows), :].subgridspec(1, 2, width_ratios=[2.2, 1.0], wspace=0.15)
    lax = fig.add_subplot(bottom[0, 0])
    lax.axis("off")
    entries = list(legend.items()) + [(lbl, h) for h, lbl in _basemap_legend()]
    lax.legend(
        [h for _, h in entries],
        [k for k, _ in entries],
        loc="center left",
        ncol=2,
        fontsize=8,
        frameon=False,
    )
    cax = fig.add_subplot(bottom[0, 1])
    pos = cax.get_position()
    cax.set_position([pos.x0, pos.y0 + pos.height * 0.45, pos.width, pos.height * 0.2])
    _rtt_colorbar(fig, mappable, cax, beyond=bool(np.nanmax(all_rtt) > norm.vmax * 1.0001))
    method = estimates[0].method
    med = float(np.nanmedian(err))
    fig.suptitle(
        title or f"{method}: worst and best targets (median error {_fmt_km(med)}, {n} targets)",
        fontsize=12,
    )
    if path is None:
        return fig
    return _mpl.save(fig, path, dpi=dpi)
