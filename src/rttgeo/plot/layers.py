"""Layers of a map of one estimate, one function per layer: catalogue landmarks, region, constraint
circles, landmarks of the estimate, point estimate and truth, labels, scale bar.

:func:`draw_estimate` composes them on matplotlib axes in the projected km of a
:class:`~rttgeo.plot.view.MapView`; the layout around the map (inset, colour bar, legend, titles) is
in :mod:`rttgeo.plot.maps`. Lightness, hatching, dash patterns and marker shapes keep every layer
readable in grey-scale; the colours (viridis for RTTs, an orange ramp for the region) are
colour-blind safe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rttgeo.geo.sphere import distance_km, from_unit_vectors, to_unit_vectors
from rttgeo.models import Estimate, Landmark, LandmarkDiagnostic
from rttgeo.plot import _mpl
from rttgeo.plot._text import fmt_area, fmt_km
from rttgeo.plot.basemap import draw_basemap
from rttgeo.plot.geometry import HALF_CIRCUMFERENCE_KM, circle_lonlat
from rttgeo.plot.regions import (
    RegionShape,
    credible_contours,
    disc_intersection_outline,
    smoothed_region,
)
from rttgeo.plot.scalebar import scale_bar
from rttgeo.plot.view import MapView, map_view, view_of_points

__all__ = [
    "MapLayers",
    "draw_estimate",
    "draw_scale_bar",
    "great_circle_lonlat",
    "rtt_colorbar",
    "rtt_norm",
]


@dataclass
class MapLayers:
    """What :func:`draw_estimate` drew, for legends and tests (coordinates in projected km).

    ``region_outlines``: the closed rings of the region's main outline as drawn (the highest level
    of a posterior's contours, the exact disc intersection of a feasible region, or a smoothed
    outline); ``contours``: every level's rings; ``region_kind``: "posterior", "discs",
    "smoothed" or ""; ``scale_bar``: (x0_km, x1_km, y_km, length_km) or None; ``legend``: (handle,
    label) pairs.
    """

    view: MapView
    legend: list[tuple[Any, str]] = field(default_factory=list)
    region_outlines: list[np.ndarray] = field(default_factory=list)
    contours: dict[float, list[np.ndarray]] = field(default_factory=dict)
    region_kind: str = ""
    region_area_km2: dict[float, float] = field(default_factory=dict)
    scale_bar: tuple[float, float, float, float] | None = None
    n_landmarks_drawn: int = 0
    n_circles: int = 0
    n_circles_in_view: int = 0
    mappable: Any = None
    error_km: float = float("nan")
    rtt_beyond_scale: bool = False

    @property
    def window(self) -> tuple[float, float, float, float]:
        """The (lon0, lon1, lat0, lat1) window around the view (see MapView.lonlat_window)."""
        return self.view.lonlat_window()


@dataclass
class _Canvas:
    """The axes being drawn on, the view, the RTT colour scale and what was drawn so far."""

    ax: Any
    layers: MapLayers
    norm: Any
    cmap: Any

    @property
    def view(self) -> MapView:
        return self.layers.view

    @property
    def legend(self) -> list[tuple[Any, str]]:
        return self.layers.legend


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


def great_circle_lonlat(
    lat0_deg: float, lon0_deg: float, lat1_deg: float, lon1_deg: float, n: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """(lat_deg, lon_deg) of ``n`` points along the shortest great-circle arc between two points."""
    a = to_unit_vectors(lat0_deg, lon0_deg).ravel()
    b = to_unit_vectors(lat1_deg, lon1_deg).ravel()
    omega = math.acos(float(np.clip(a @ b, -1.0, 1.0)))
    t = np.linspace(0.0, 1.0, n)
    if omega < 1e-12:
        pts = np.repeat(a[None, :], n, axis=0)
    else:
        pts = (np.sin((1 - t) * omega)[:, None] * a + np.sin(t * omega)[:, None] * b) / math.sin(omega)
    lat, lon = from_unit_vectors(pts)
    return np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)


def draw_estimate(
    ax: Any,
    estimate: Estimate,
    *,
    true_lat_deg: float | None = None,
    true_lon_deg: float | None = None,
    landmarks: Sequence[Landmark] | None = None,
    view: MapView | None = None,
    window: tuple[float, float, float, float] | None = None,
    max_circles: int = 10,
    max_labels: int = 6,
    norm: Any = None,
    basemap: bool = True,
    truth_label: str = "true location",
    levels: Sequence[float] = (0.5, 0.9),
    scale: bool = True,
    projection: str = "aeqd",
) -> MapLayers:
    """Draw ``estimate`` on ``ax``; returns the layers drawn and their legend entries.

    ``view``: what to show (default :func:`~rttgeo.plot.view.map_view` of the estimate, azimuthal
    ``projection`` "aeqd" or "laea"); ``window`` (lon0, lon1, lat0, lat1) is accepted instead, for
    the view holding that window. ``landmarks``: other landmarks of the catalogue (not in the
    estimate), drawn as small grey dots. ``max_circles``: constraint circles are drawn for used
    landmarks: half for those with the smallest |slack| at the point (binding), the rest with the
    smallest radius (tightest). ``max_labels``: landmark ids are written next to the landmarks with
    the smallest RTT inside the view (0: none). ``norm``: colour scale of RTTs (shared by
    subplots). ``truth_label``: legend name of the (true_lat_deg, true_lon_deg) mark, e.g. "listed
    location (suspect)". ``levels``: the credible levels contoured for a posterior. ``scale``: a
    scale bar in km (regional views only: on a world map the scale varies too much for one).
    """
    from matplotlib.lines import Line2D

    _mpl.pyplot()  # Agg backend, MissingExtra without matplotlib
    if view is None:
        if window is not None:
            lon0, lon1, lat0, lat1 = window
            corners = ([lat0, lat1, lat0, lat1], [lon0, lon0, lon1, lon1])
            view = view_of_points(*corners, pad=0.0, kind=projection)
        else:
            view = map_view(
                estimate, true_lat_deg=true_lat_deg, true_lon_deg=true_lon_deg, kind=projection
            )
    layers = MapLayers(view=view)
    if basemap:
        draw_basemap(ax, view)
    cv = _Canvas(ax, layers, _view_norm(estimate.landmarks, view, norm), _mpl.rtt_cmap())
    rtts = np.array([d.rtt_ms for d in estimate.landmarks], dtype=float)
    finite = rtts[np.isfinite(rtts)]
    layers.rtt_beyond_scale = bool(finite.size and finite.max() > cv.norm.vmax * 1.0001)
    truth = None if true_lat_deg is None or true_lon_deg is None else (true_lat_deg, true_lon_deg)
    if landmarks:
        _draw_catalogue(cv, estimate, landmarks)
    _draw_region(cv, estimate, levels)
    _draw_circles(cv, estimate, max_circles)
    used = _draw_landmarks(cv, estimate)
    star = _draw_point_and_truth(cv, estimate, truth, truth_label)
    if max_labels > 0 and used:
        _draw_labels(cv, used, star, truth, max_labels)
    if scale and not view.world:
        _draw_scale_bar(cv)
    ax.set_xlim(view.x0_km, view.x1_km)
    ax.set_ylim(view.y0_km, view.y1_km)
    ax.set_aspect("equal")  # km are km both ways
    layers.legend.insert(
        0,
        (
            Line2D([], [], ls="", marker="*", ms=14, mfc="black", mec="white"),
            f"point estimate ({estimate.method})",
        ),
    )
    return layers


def _view_norm(diags: Sequence[LandmarkDiagnostic], view: MapView, norm: Any) -> Any:
    """``norm`` if given, else a colour scale over the landmarks in view (contrast where it is
    read); farther ones take the end colour and the colour bar shows an arrow."""
    if norm is not None:
        return norm
    rtts = np.array([d.rtt_ms for d in diags], dtype=float)
    x, y = view.project_points([d.lat_deg for d in diags], [d.lon_deg for d in diags])
    in_view = np.isfinite(x) & view.contains_xy(np.nan_to_num(x, nan=np.inf), np.nan_to_num(y))
    return rtt_norm(rtts[in_view] if np.isfinite(rtts[in_view]).sum() >= 2 else rtts)


def _on_map(view: MapView, points: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Projected x, y of the points (anything with lat_deg, lon_deg) that fall on the map (with a
    margin of 2 %: markers on the edge are drawn whole), and the mask of those points."""
    x, y = view.project_points([p.lat_deg for p in points], [p.lon_deg for p in points])
    mx, my = 0.02 * view.width_km, 0.02 * view.height_km
    ok = np.isfinite(x) & np.isfinite(y)
    xs, ys = np.where(ok, x, np.inf), np.where(ok, y, np.inf)
    shown = ok & (np.abs(xs - (view.x0_km + view.x1_km) / 2.0) <= view.width_km / 2.0 + mx)
    shown &= np.abs(ys - (view.y0_km + view.y1_km) / 2.0) <= view.height_km / 2.0 + my
    return x[shown], y[shown], shown


def _draw_catalogue(cv: _Canvas, estimate: Estimate, landmarks: Sequence[Landmark]) -> None:
    """Catalogue landmarks not in the estimate: small grey dots."""
    from matplotlib.lines import Line2D

    in_est = {d.id for d in estimate.landmarks}
    others = [lm for lm in landmarks if lm.id not in in_est]
    if not others:
        return
    x, y, _ = _on_map(cv.view, others)
    cv.ax.scatter(x, y, s=6, c="#8a8a8a", marker="o", lw=0, zorder=3, gid="landmarks-catalogue")
    cv.legend.append(
        (
            Line2D([], [], ls="", marker="o", ms=3, color="#8a8a8a"),
            f"other catalogue landmarks ({len(others)})",
        )
    )


def _path(pieces: Sequence[tuple[np.ndarray, np.ndarray]]) -> Any:
    from matplotlib.path import Path as MplPath

    return MplPath(
        np.concatenate([p for p, _ in pieces]), np.concatenate([c for _, c in pieces])
    )


def _ring_path(rings: Sequence[np.ndarray]) -> Any:
    """One compound path of closed rings (non-zero rule: holes must turn the other way)."""
    from matplotlib.path import Path as MplPath

    pieces = []
    for r in rings:
        codes = np.full(len(r) + 1, MplPath.LINETO, dtype=np.uint8)
        codes[0] = MplPath.MOVETO
        codes[-1] = MplPath.CLOSEPOLY
        pieces.append((np.vstack([r, r[:1]]), codes))
    return _path(pieces)


def _region_kind(estimate: Estimate) -> str:
    if estimate.level is not None:
        return f"{estimate.level:.0%} most probable region of the method"
    if estimate.consistent:
        return "feasible region (all constraints met)"
    return "region after relaxing inconsistent constraints (see note)"


def _draw_region(cv: _Canvas, estimate: Estimate, levels: Sequence[float]) -> None:
    """The region as smooth closed shapes: a posterior as shaded density with credible contours,
    a feasible region as its exact disc intersection, anything else as a smoothed outline."""
    if estimate.posterior is not None:
        _draw_posterior(cv, estimate, levels)
        return
    if estimate.region is None or estimate.region.empty:
        return
    ring = None
    if estimate.level is None:
        scale = float(estimate.params.get("radius_scale", 1.0) or 1.0)
        used = [d for d in estimate.landmarks if d.used and np.isfinite(d.max_distance_km)]
        if used:
            ring = disc_intersection_outline(
                [d.lat_deg for d in used],
                [d.lon_deg for d in used],
                [d.max_distance_km * scale for d in used],
            )
    if ring is not None:
        from rttgeo.geo.polygon import ring_signed_area_km2

        rings = cv.view.project_polygon([ring[:-1]])
        area = abs(ring_signed_area_km2(ring))
        cv.layers.region_kind = "discs"
        what = "exact intersection of the discs"
    else:
        shape = smoothed_region(cv.view, estimate.region)
        rings = [o[:-1] for o in shape.outlines.get(1.0, [])]
        area = estimate.region.area_km2
        cv.layers.region_kind = "smoothed"
        what = f"outline smoothed at {shape.smoothing_km:.0f} km"
    _fill_hatched(cv, rings)
    cv.layers.region_outlines = [np.vstack([r, r[:1]]) for r in rings]
    cv.layers.contours[1.0] = cv.layers.region_outlines
    cv.layers.region_area_km2[1.0] = area
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    cv.legend.append(
        (
            Patch(facecolor=to_rgba(_mpl.REGION_FACE, 0.45), edgecolor=_mpl.REGION_EDGE, hatch="///", lw=1.2),
            f"{_region_kind(estimate)}, {fmt_area(area)} ({what})",
        )
    )


def _fill_hatched(cv: _Canvas, rings: Sequence[np.ndarray]) -> None:
    from matplotlib.colors import to_rgba
    from matplotlib.patches import PathPatch

    if not rings:
        return
    cv.ax.add_artist(
        PathPatch(
            _ring_path(rings),
            facecolor=to_rgba(_mpl.REGION_FACE, 0.45),
            edgecolor=_mpl.REGION_EDGE,
            hatch="///",
            linewidth=1.4,
            zorder=2,
            gid="region",
        )
    )


def _draw_posterior(cv: _Canvas, estimate: Estimate, levels: Sequence[float]) -> None:
    """Shaded density (bands of the highest-density 25, 50, 75, 90 %) and labelled contours."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch

    assert estimate.posterior is not None
    shape: RegionShape = credible_contours(cv.view, estimate.posterior, levels)
    ramp = _mpl.density_colours(len(shape.bands))
    for (p, _t, pieces), colour in zip(shape.bands, ramp, strict=True):
        if pieces:
            cv.ax.add_artist(
                PathPatch(_path(pieces), facecolor=colour, edgecolor="none", zorder=2, gid=f"density-{p:.2f}")
            )
    styles = _mpl.contour_styles(levels)
    halo = [patheffects.Stroke(linewidth=3.2, foreground="white"), patheffects.Normal()]
    from matplotlib.collections import LineCollection

    for level in sorted(levels):
        rings = shape.outlines.get(level, [])
        cv.layers.contours[level] = rings
        cv.layers.region_area_km2[level] = shape.area_km2.get(level, float("nan"))
        if not rings:
            continue
        ls, lw = styles[level]
        cv.ax.add_collection(
            LineCollection(
                rings, colors=_mpl.REGION_EDGE, linewidths=lw, linestyles=ls, zorder=2.2,
                path_effects=halo, gid=f"contour-{level:.2f}",
            ),
            autolim=False,
        )
        # Label the level where its outline reaches furthest right (inside the view).
        pts = np.vstack(rings)
        pts = pts[cv.view.contains_xy(pts[:, 0], pts[:, 1])]
        if len(pts):
            k = int(np.argmax(pts[:, 0]))
            cv.ax.annotate(
                f"{level:.0%}", pts[k], xytext=(3, 0), textcoords="offset points", fontsize=7.5,
                color=_mpl.REGION_EDGE, va="center", zorder=7, bbox=_mpl.LABEL_BOX,
            )
    top = max(levels)
    cv.layers.region_outlines = cv.layers.contours.get(top, [])
    cv.layers.region_kind = "posterior"
    cv.legend.append(
        (
            Patch(facecolor=ramp[0] if ramp else _mpl.REGION_FACE, edgecolor="none"),
            f"posterior density, darker = more probable (smoothed at {shape.smoothing_km:.0f} km)",
        )
    )
    region = estimate.region
    for level in sorted(levels):
        ls, lw = styles[level]
        area = cv.layers.region_area_km2.get(level, float("nan"))
        text = (
            f"{level:.0%} credible region, {fmt_area(area)}"
            if cv.layers.contours.get(level)
            else f"{level:.0%} credible region: larger than the map"
        )
        if region is not None and not region.empty and estimate.level == level:
            text += f" (the method's, in grid cells: {fmt_area(region.area_km2)})"
        cv.legend.append((Line2D([], [], color=_mpl.REGION_EDGE, lw=lw, ls=ls), text))


def _draw_circles(cv: _Canvas, estimate: Estimate, max_circles: int) -> None:
    """Constraint circles (true geodesic circles): half of them of the most binding landmarks
    (smallest |slack| at the point: they shape the region), the rest of the tightest (smallest
    radius)."""
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

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
    layers = cv.layers
    for d in (binding + tightest)[:max_circles]:
        clon, clat = circle_lonlat(d.lat_deg, d.lon_deg, d.max_distance_km, n=721)
        if clon.size == 0:
            continue
        pieces = cv.view.project_lines(clat, clon)
        colour = cv.cmap(cv.norm(d.rtt_ms)) if np.isfinite(d.rtt_ms) else "#555555"
        seen = False
        for pc in pieces:
            segs.append(pc)
            colours.append(colour)
            seen |= bool(cv.view.contains_xy(pc[:, 0], pc[:, 1]).any())
        layers.n_circles += 1
        layers.n_circles_in_view += int(seen)
    halo = [patheffects.Stroke(linewidth=2.0, foreground="#3a3a3a"), patheffects.Normal()]
    if segs:
        cv.ax.add_collection(
            LineCollection(
                segs, colors=colours, linewidths=1.2, linestyles=(0, (5, 2.5)), zorder=4,
                # A thin dark halo keeps the light (long-RTT) colours visible on grey land.
                path_effects=halo, gid="circles",
            ),
            autolim=False,
        )
    if layers.n_circles_in_view:  # the legend explains marks that can be seen
        cv.legend.append(
            (
                Line2D([], [], color=cv.cmap(0.45), lw=1.2, ls=(0, (5, 2.5)), path_effects=halo),
                f"constraint circle: max distance allowed by the RTT "
                f"({layers.n_circles_in_view} in view, of the most binding or tightest; "
                "colour = RTT)",
            )
        )


def _draw_landmarks(cv: _Canvas, estimate: Estimate) -> list[LandmarkDiagnostic]:
    """Landmarks of the estimate: used ones filled by RTT, the others hollow. Returns those used."""
    from matplotlib.lines import Line2D

    diags = estimate.landmarks
    used = [d for d in diags if d.used and np.isfinite(d.rtt_ms)]
    unused = [d for d in diags if not (d.used and np.isfinite(d.rtt_ms))]
    mappable = None
    cmap, norm = cv.cmap, cv.norm
    if used:
        x, y, shown = _on_map(cv.view, used)
        urtt = np.array([d.rtt_ms for d in used])[shown]
        order = np.argsort(-urtt)  # nearest (smallest RTT) drawn last, on top
        mappable = cv.ax.scatter(
            x[order], y[order], c=urtt[order], cmap=cmap, norm=norm, s=55, marker="^",
            edgecolors="black", linewidths=0.7, zorder=6, gid="landmarks-used",
        )
        cv.layers.n_landmarks_drawn += len(x)
        cv.legend.append(
            (
                Line2D([], [], ls="", marker="^", ms=8, mfc=cmap(0.6), mec="black", mew=0.7),
                f"landmark used ({len(used)}, {len(x)} on the map); fill = RTT (colour bar)",
            )
        )
    if unused:
        x, y, _ = _on_map(cv.view, unused)
        many = len(x) > 40  # hundreds unused (rttgeo keeps the nearest 3 to 30): draw them smaller
        cv.ax.scatter(
            x, y, s=18 if many else 40, marker="^", facecolors="white",
            edgecolors="#777777" if many else "#555555", linewidths=0.6 if many else 0.9, zorder=5,
            gid="landmarks-unused",
        )
        cv.layers.n_landmarks_drawn += len(x)
        cv.legend.append(
            (
                Line2D([], [], ls="", marker="^", ms=7, mfc="white", mec="#555555", mew=0.9),
                f"landmark not used / no RTT ({len(unused)}, {len(x)} on the map)",
            )
        )
    if mappable is None:
        from matplotlib.cm import ScalarMappable

        mappable = ScalarMappable(norm=norm, cmap=cmap)
    cv.layers.mappable = mappable
    return used


def _draw_point_and_truth(
    cv: _Canvas, estimate: Estimate, truth: tuple[float, float] | None, truth_label: str
) -> tuple[float, float]:
    """The point estimate (star) and the truth (X) joined by the great circle between them;
    returns the star's projected position."""
    from matplotlib.lines import Line2D

    ex, ey = (float(v) for v in cv.view.project_points(estimate.lat_deg, estimate.lon_deg))
    if truth is not None:
        tlat, tlon = truth
        tx, ty = (float(v) for v in cv.view.project_points(tlat, tlon))
        err = float(distance_km(estimate.lat_deg, estimate.lon_deg, tlat, tlon))
        cv.layers.error_km = err
        glat, glon = great_circle_lonlat(estimate.lat_deg, estimate.lon_deg, tlat, tlon)
        for pc in cv.view.project_lines(glat, glon):
            cv.ax.plot(pc[:, 0], pc[:, 1], color="black", lw=1.0, ls=":", zorder=8)
        cv.ax.scatter(
            [tx], [ty], s=110, marker="X", c=_mpl.TRUTH_COLOUR, edgecolors="black", linewidths=0.9,
            zorder=9, gid="truth",
        )
        inside = ""
        if estimate.region is not None and not estimate.region.empty:
            hit = bool(estimate.region.contains(tlat, tlon))
            inside = ", inside region" if hit else ", outside region"
        cv.legend.append(
            (
                Line2D([], [], ls=":", color="black", marker="X", ms=9, mfc=_mpl.TRUTH_COLOUR, mec="black"),
                f"{truth_label} (error {fmt_km(err)}{inside})",
            )
        )
    cv.ax.scatter(
        [ex], [ey], s=260, marker="*", c=_mpl.ESTIMATE_COLOUR, edgecolors="white", linewidths=1.2,
        zorder=10, gid="estimate",
    )
    return ex, ey


def _draw_labels(
    cv: _Canvas,
    used: list[LandmarkDiagnostic],
    star: tuple[float, float],
    truth: tuple[float, float] | None,
    max_labels: int,
) -> None:
    """Labels ``ID: RTT`` of the nearest landmarks inside the view, where they overlap nothing."""
    obstacles = [star]
    if truth is not None:
        tx, ty = cv.view.project_points(*truth)
        obstacles.append((float(tx), float(ty)))
    items = []
    x, y = cv.view.project_points([d.lat_deg for d in used], [d.lon_deg for d in used])
    for k in np.argsort([d.rtt_ms for d in used], kind="stable"):
        if np.isfinite(x[k]) and bool(cv.view.contains_xy(x[k], y[k])):
            d = used[k]
            items.append((float(x[k]), float(y[k]), f"{d.id}: {d.rtt_ms:.3g} ms"))
    _place_labels(cv.ax, items, obstacles, max_labels)


def _draw_scale_bar(cv: _Canvas) -> None:
    cv.layers.scale_bar = draw_scale_bar(cv.ax, cv.view)


def draw_scale_bar(ax: Any, view: MapView) -> tuple[float, float, float, float] | None:
    """A scale bar in km at the lower left of ``view`` on ``ax``: black and white halves (each
    half the length), its length written above; true where it is drawn
    (:func:`~rttgeo.plot.scalebar.scale_bar`). Returns (x0_km, x1_km, y_km, length_km), or None
    on a world view (none drawn)."""
    from matplotlib.patches import Rectangle

    bar = scale_bar(view)
    if bar is None:
        return None
    x0, x1, y, length_km = bar
    h = 0.012 * view.height_km
    mid = (x0 + x1) / 2.0
    pad = 0.012 * view.width_km
    ax.add_patch(  # a light backing, so that lines under the bar do not cross it
        Rectangle(
            (x0 - pad, y - 1.5 * h), (x1 - x0) + 2 * pad, 5.6 * h,
            facecolor="white", edgecolor="none", alpha=0.85, zorder=10.5,
        )
    )
    for a, b, colour in ((x0, mid, "black"), (mid, x1, "white")):
        ax.add_patch(
            Rectangle((a, y), b - a, h, facecolor=colour, edgecolor="black", lw=0.8, zorder=11)
        )
    ax.text(
        mid, y + 1.8 * h, f"{length_km:g} km", ha="center", va="bottom", fontsize=7.5, zorder=11,
        gid="scale-bar-label",
    )
    return bar


def _place_labels(
    ax: Any,
    items: list[tuple[float, float, str]],
    obstacles: list[tuple[float, float]],
    max_labels: int,
) -> int:
    """Annotate up to ``max_labels`` points (x, y, text), trying four positions around each and
    keeping a label only where it lies inside the axes and overlaps no other label, nor the
    markers at ``obstacles`` (data coordinates). Returns how many were placed."""
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
                bbox=_mpl.LABEL_BOX,
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
