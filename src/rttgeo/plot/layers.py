"""Layers of a map of one estimate, one function per layer: catalogue landmarks, region, constraint
circles, landmarks of the estimate, point estimate and truth, labels.

:func:`draw_estimate` composes them on matplotlib axes; the layout around the map (inset, colour
bar, legend, titles) is in :mod:`rttgeo.plot.maps`. Lightness, hatching and marker shapes keep every
layer readable in grey-scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rttgeo.geo.sphere import distance_km
from rttgeo.models import Estimate, Landmark, LandmarkDiagnostic
from rttgeo.plot import _mpl
from rttgeo.plot._text import fmt_area, fmt_km
from rttgeo.plot.basemap import draw_basemap, drop_artificial_edges
from rttgeo.plot.geometry import HALF_CIRCUMFERENCE_KM, circle_lonlat, lon_offsets
from rttgeo.plot.view import map_window, region_rings, shift_near

__all__ = ["MapLayers", "draw_estimate", "rtt_colorbar", "rtt_norm"]


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


@dataclass
class _Canvas:
    """The axes being drawn on, the view, the RTT colour scale and what was drawn so far."""

    ax: Any
    layers: MapLayers
    norm: Any
    cmap: Any

    def copies(self, lon: np.ndarray, lon_min: float, lon_max: float) -> list[float]:
        """Offsets (multiples of 360) at which a feature spanning [lon_min, lon_max] meets the view."""
        lon0, lon1, _, _ = self.layers.window
        return lon_offsets(lon0, lon1, lon_min, lon_max) if lon.size else []

    def unpack(self) -> tuple[Any, MapLayers, list[tuple[Any, str]], float, float, float, float]:
        return (self.ax, self.layers, self.layers.legend, *self.layers.window)


def rtt_norm(rtts_ms: np.ndarray) -> Any:
    """Logarithmic colour scale spanning the finite positive RTTs (widened when they are close)."""
    from matplotlib.colors import LogNorm

    r = rtts_ms[np.isfinite(rtts_ms) & (rtts_ms > 0)]
    if r.size == 0:
        return LogNorm(1.0, 100.0)
    lo, hi = max(float(r.min()), 0.1), float(r.max())
    if hi <= lo * 1.5:
        lo, hi = lo / 1.5, hi * 1.5
    return LogNorm(lo, hi)


def rtt_colorbar(fig: Any, mappable: Any, cax: Any, *, beyond: bool = False) -> Any:
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
    from matplotlib.lines import Line2D

    _mpl.pyplot()  # Agg backend, MissingExtra without matplotlib
    if window is None:
        window = map_window(estimate, true_lat_deg=true_lat_deg, true_lon_deg=true_lon_deg)
    layers = MapLayers(window=window)
    if basemap:
        draw_basemap(ax, window)
    cv = _Canvas(ax, layers, _view_norm(estimate.landmarks, window, norm), _mpl.rtt_cmap())
    rtts = np.array([d.rtt_ms for d in estimate.landmarks], dtype=float)
    finite = rtts[np.isfinite(rtts)]
    layers.rtt_beyond_scale = bool(finite.size and finite.max() > cv.norm.vmax * 1.0001)
    truth = None if true_lat_deg is None or true_lon_deg is None else (true_lat_deg, true_lon_deg)
    if landmarks:
        _draw_catalogue(cv, estimate, landmarks)
    _draw_region(cv, estimate)
    _draw_circles(cv, estimate, max_circles)
    used = _draw_landmarks(cv, estimate)
    ex = _draw_point_and_truth(cv, estimate, truth, truth_label)
    if max_labels > 0 and used:
        _draw_labels(cv, used, ex, estimate.lat_deg, truth, max_labels)
    layers.legend.insert(
        0,
        (
            Line2D([], [], ls="", marker="*", ms=14, mfc="black", mec="white"),
            f"point estimate ({estimate.method})",
        ),
    )
    return layers


def _view_norm(
    diags: Sequence[LandmarkDiagnostic], window: tuple[float, float, float, float], norm: Any
) -> Any:
    """``norm`` if given, else a colour scale over the landmarks in view (contrast where it is
    read); farther ones take the end colour and the colour bar shows an arrow."""
    if norm is not None:
        return norm
    lon0, lon1, lat0, lat1 = window
    rtts = np.array([d.rtt_ms for d in diags], dtype=float)
    in_view = np.array(
        [lon0 <= lon0 + (d.lon_deg - lon0) % 360.0 <= lon1 and lat0 <= d.lat_deg <= lat1 for d in diags],
        dtype=bool,
    )
    return rtt_norm(rtts[in_view] if np.isfinite(rtts[in_view]).sum() >= 2 else rtts)


def _draw_catalogue(cv: _Canvas, estimate: Estimate, landmarks: Sequence[Landmark]) -> None:
    """Catalogue landmarks not in the estimate: small grey dots."""
    from matplotlib.lines import Line2D

    ax, _layers, legend, *_ = cv.unpack()
    copies = cv.copies
    diags = estimate.landmarks
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


def _draw_region(cv: _Canvas, estimate: Estimate) -> None:
    """The region, hatched, with its outline (without cuts along the antimeridian)."""
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch, PathPatch
    from matplotlib.path import Path as MplPath

    ax, layers, legend, *_ = cv.unpack()
    copies = cv.copies
    polys, runs = region_rings(estimate)
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
                    for piece in drop_artificial_edges(np.vstack([ring, ring[:1]]), True)
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
                f"{kind}, {fmt_area(area)}",
            )
        )


def _draw_circles(cv: _Canvas, estimate: Estimate, max_circles: int) -> None:
    """Constraint circles: half of them of the most binding landmarks (smallest |slack| at the
    point: they shape the region), the rest of the tightest (smallest radius)."""
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    ax, layers, legend, lon0, lon1, lat0, lat1 = cv.unpack()
    copies, cmap, norm = cv.copies, cv.cmap, cv.norm
    diags = estimate.landmarks
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


def _draw_landmarks(cv: _Canvas, estimate: Estimate) -> list[LandmarkDiagnostic]:
    """Landmarks of the estimate: used ones filled by RTT, the others hollow. Returns those used."""
    from matplotlib.lines import Line2D

    ax, layers, legend, *_ = cv.unpack()
    copies, cmap, norm = cv.copies, cv.cmap, cv.norm
    diags = estimate.landmarks
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
    return used


def _draw_point_and_truth(
    cv: _Canvas, estimate: Estimate, truth: tuple[float, float] | None, truth_label: str
) -> float:
    """The point estimate (star) and the truth (X) with a dotted line; returns the star's x."""
    from matplotlib.lines import Line2D

    ax, layers, legend, lon0, *_ = cv.unpack()
    ex = lon0 + (estimate.lon_deg - lon0) % 360.0
    if truth is not None:
        true_lat_deg, true_lon_deg = truth
        tx = shift_near(true_lon_deg, ex)
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
                f"{truth_label} (error {fmt_km(err)}{inside})",
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
    return ex


def _draw_labels(
    cv: _Canvas,
    used: list[LandmarkDiagnostic],
    ex: float,
    ey: float,
    truth: tuple[float, float] | None,
    max_labels: int,
) -> None:
    """Labels ``ID: RTT`` of the nearest landmarks inside the view, where they overlap nothing."""
    ax, _layers, _legend, lon0, lon1, lat0, lat1 = cv.unpack()
    obstacles = [(ex, ey)]
    if truth is not None:
        obstacles.append((shift_near(truth[1], ex), truth[0]))
    items = []
    for d in sorted(used, key=lambda d: d.rtt_ms):
        x = lon0 + (d.lon_deg - lon0) % 360.0
        if lon0 <= x <= lon1 and lat0 <= d.lat_deg <= lat1:
            items.append((x, d.lat_deg, f"{d.id}: {d.rtt_ms:.3g} ms"))
    _place_labels(ax, items, obstacles, max_labels)


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
